"""Weight initialisers: torch.nn.init's definitions, shapes, dtypes, seeds, `auto`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symnn.errors import UserInputError
from symnn.runtime.init import INITIALIZERS, init_weights, resolve_auto

# A 512x512 matrix from a fixed seed: 262144 samples, so the sample std is within about
# 0.15% of the true one and the mean within 0.2% of a std; the tolerances below are
# several times that.
N = 512
SEED = 1234
STD_RTOL = 0.01
MEAN_ATOL_IN_STDS = 0.01


def _weights(
    name: str, n_in: int = N, n_out: int = N, seed: int = SEED, **kwargs
) -> np.ndarray:
    return init_weights(name, n_in, n_out, np.random.default_rng(seed), **kwargs)[0]


def _assert_normal(w: np.ndarray, std: float) -> None:
    assert abs(w.mean()) < MEAN_ATOL_IN_STDS * std
    assert w.std() == pytest.approx(std, rel=STD_RTOL)


def _assert_uniform(w: np.ndarray, bound: float) -> None:
    assert np.abs(w).max() <= bound
    assert (
        np.abs(w).max() > 0.999 * bound
    )  # the samples reach the bound, so it is not smaller
    assert abs(w.mean()) < MEAN_ATOL_IN_STDS * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3.0), rel=STD_RTOL)


def test_normal_is_standard_normal() -> None:
    _assert_normal(_weights("normal"), 1.0)


def test_xavier_is_glorot_uniform() -> None:
    _assert_uniform(_weights("xavier"), math.sqrt(6.0 / (N + N)))


def test_xavier_normal_std_is_sqrt_2_over_fan_sum() -> None:
    _assert_normal(_weights("xavier_normal"), math.sqrt(2.0 / (N + N)))


def test_he_is_kaiming_normal_relu_fan_in() -> None:
    _assert_normal(_weights("he"), math.sqrt(2.0) / math.sqrt(N))


def test_he_uniform_is_kaiming_uniform_relu_fan_in() -> None:
    _assert_uniform(_weights("he_uniform"), math.sqrt(2.0) * math.sqrt(3.0 / N))


def test_he_scales_with_fan_in_not_fan_out() -> None:
    n_in, n_out = 2048, 128
    _assert_normal(_weights("he", n_in, n_out), math.sqrt(2.0 / n_in))
    _assert_uniform(_weights("he_uniform", n_in, n_out), math.sqrt(6.0 / n_in))


def test_xavier_uses_both_fans() -> None:
    n_in, n_out = 2048, 128
    _assert_uniform(_weights("xavier", n_in, n_out), math.sqrt(6.0 / (n_in + n_out)))
    _assert_normal(
        _weights("xavier_normal", n_in, n_out), math.sqrt(2.0 / (n_in + n_out))
    )


@pytest.mark.parametrize("name", INITIALIZERS)
def test_weight_shape_is_n_out_by_n_in(name: str) -> None:
    w, b = init_weights(name, 3, 5, np.random.default_rng(0))
    assert w.shape == (5, 3)
    assert b.shape == (5,)


@pytest.mark.parametrize("name", INITIALIZERS)
def test_biases_are_zero(name: str) -> None:
    _, b = init_weights(name, 4, 7, np.random.default_rng(0))
    assert np.array_equal(b, np.zeros(7))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32", "float64"])
@pytest.mark.parametrize("name", INITIALIZERS)
def test_dtype_is_honoured(name: str, dtype: type | str) -> None:
    w, b = init_weights(name, 4, 3, np.random.default_rng(0), dtype=dtype)
    assert w.dtype == np.dtype(dtype)
    assert b.dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", INITIALIZERS)
def test_same_seed_gives_same_weights(name: str) -> None:
    assert np.array_equal(_weights(name, 8, 6, seed=7), _weights(name, 8, 6, seed=7))


@pytest.mark.parametrize("name", INITIALIZERS)
def test_another_seed_gives_other_weights(name: str) -> None:
    assert not np.array_equal(
        _weights(name, 8, 6, seed=7), _weights(name, 8, 6, seed=8)
    )


@pytest.mark.parametrize("name", INITIALIZERS)
def test_float32_equals_float64_cast(name: str) -> None:
    w32 = _weights(name, 9, 5, seed=3, dtype=np.float32)
    w64 = _weights(name, 9, 5, seed=3, dtype=np.float64)
    assert np.array_equal(w32, w64.astype(np.float32))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "silu", "gelu"])
def test_auto_picks_he_before_relu_like(activation: str) -> None:
    assert resolve_auto(activation) == "he"


@pytest.mark.parametrize(
    "activation", ["tanh", "sigmoid", "identity", "softplus", None]
)
def test_auto_picks_xavier_otherwise(activation: str | None) -> None:
    assert resolve_auto(activation) == "xavier"


def test_auto_draws_what_it_resolves_to() -> None:
    assert np.array_equal(
        _weights("auto", 8, 6, next_activation="relu"), _weights("he", 8, 6)
    )
    assert np.array_equal(
        _weights("auto", 8, 6, next_activation="tanh"), _weights("xavier", 8, 6)
    )
    assert np.array_equal(_weights("auto", 8, 6), _weights("xavier", 8, 6))


def test_unknown_initializer_is_user_input_error_listing_the_names() -> None:
    with pytest.raises(UserInputError) as info:
        init_weights("glorot", 2, 2, np.random.default_rng(0))
    message = str(info.value)
    assert "\n" not in message
    assert all(name in message for name in INITIALIZERS)


@pytest.mark.parametrize("n_in, n_out", [(0, 3), (3, 0), (-1, 2), (2.5, 2)])
def test_non_positive_or_fractional_size_is_user_input_error(
    n_in: int, n_out: int
) -> None:
    with pytest.raises(UserInputError):
        init_weights("he", n_in, n_out, np.random.default_rng(0))


def test_integer_dtype_is_user_input_error() -> None:
    with pytest.raises(UserInputError):
        init_weights("he", 2, 2, np.random.default_rng(0), dtype=np.int64)


# Against PyTorch itself, when it is installed: fill a tensor with torch.nn.init and
# check that our matrix has the same spread, and that the bounds and stds agree with
# torch's own gain formula.

TORCH_CASES = {
    "normal": lambda torch, t: torch.nn.init.normal_(t),
    "xavier": lambda torch, t: torch.nn.init.xavier_uniform_(t),
    "xavier_normal": lambda torch, t: torch.nn.init.xavier_normal_(t),
    "he": lambda torch, t: torch.nn.init.kaiming_normal_(
        t, mode="fan_in", nonlinearity="relu"
    ),
    "he_uniform": lambda torch, t: torch.nn.init.kaiming_uniform_(
        t, mode="fan_in", nonlinearity="relu"
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_distribution_matches_torch_nn_init(name: str) -> None:
    torch = pytest.importorskip("torch")
    n_in, n_out = 1024, 256  # torch.nn.Linear's layout: weight (n_out, n_in)
    torch.manual_seed(SEED)
    theirs = TORCH_CASES[name](
        torch, torch.empty(n_out, n_in, dtype=torch.float64)
    ).numpy()
    ours = _weights(name, n_in, n_out)
    assert ours.std() == pytest.approx(theirs.std(), rel=2 * STD_RTOL)
    assert abs(ours.mean() - theirs.mean()) < 2 * MEAN_ATOL_IN_STDS * theirs.std()
    if name in ("xavier", "he_uniform"):
        assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=1e-3)


def test_he_std_is_torch_relu_gain_over_sqrt_fan_in() -> None:
    torch = pytest.importorskip("torch")
    gain = torch.nn.init.calculate_gain("relu")
    n_in, n_out = 1024, 256
    _assert_normal(_weights("he", n_in, n_out), gain / math.sqrt(n_in))
    _assert_uniform(_weights("he_uniform", n_in, n_out), gain * math.sqrt(3.0 / n_in))


def test_xavier_bound_is_torch_gain_one_formula() -> None:
    torch = pytest.importorskip("torch")
    gain = torch.nn.init.calculate_gain("linear")
    n_in, n_out = 1024, 256
    _assert_uniform(
        _weights("xavier", n_in, n_out), gain * math.sqrt(6.0 / (n_in + n_out))
    )
    _assert_normal(
        _weights("xavier_normal", n_in, n_out), gain * math.sqrt(2.0 / (n_in + n_out))
    )
