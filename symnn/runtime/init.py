"""Weight initialisers, with the definitions of PyTorch's ``torch.nn.init``.

A weight matrix has shape ``(n_out, n_in)`` as in ``torch.nn.Linear``, so
``fan_in = n_in`` and ``fan_out = n_out``. Values are drawn in float64 from the caller's
generator and then cast, so a float32 and a float64 model built from one seed hold the
same weights up to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from symnn.errors import UserInputError

# Activation -> the family `auto` picks before it ("he" for the ReLU family), declared with the
# activations (symnn.symbolic.activations.HE_INIT) and read from the generated index.
from symnn.generated.activations import INIT as _FAMILY

INITIALIZERS: tuple[str, ...] = (
    "auto",
    "normal",
    "xavier",
    "xavier_normal",
    "he",
    "he_uniform",
)


# ReLU's gain, torch.nn.init.calculate_gain("relu").
_RELU_GAIN = math.sqrt(2.0)


def resolve_auto(next_activation: str | None) -> str:
    """What ``auto`` stands for: ``he`` before a ReLU-like activation, else xavier (a formula too)."""
    if next_activation is None:
        return "xavier"
    return _FAMILY.get(next_activation.strip().lower(), "xavier")


def _sample(name: str, n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Draw an ``(n_out, n_in)`` float64 matrix for a concrete (non-``auto``) name."""
    shape = (n_out, n_in)
    fan_in, fan_out = n_in, n_out
    if name == "normal":
        return rng.standard_normal(shape)
    if name == "xavier":  # xavier_uniform_, gain 1
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if name == "xavier_normal":  # xavier_normal_, gain 1
        std = math.sqrt(2.0 / (fan_in + fan_out))
        return rng.normal(0.0, std, shape)
    if name == "he":  # kaiming_normal_(mode="fan_in", nonlinearity="relu")
        std = _RELU_GAIN / math.sqrt(fan_in)
        return rng.normal(0.0, std, shape)
    if name == "he_uniform":  # kaiming_uniform_(mode="fan_in", nonlinearity="relu")
        bound = _RELU_GAIN * math.sqrt(3.0 / fan_in)
        return rng.uniform(-bound, bound, shape)
    raise UserInputError(
        f"unknown initializer {name!r}; choose one of: {', '.join(INITIALIZERS)}"
    )


def _check_size(label: str, value: int) -> int:
    """A layer width must be a positive integer (bools are refused: not sizes)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UserInputError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


def init_weights(
    name: str,
    n_in: int,
    n_out: int,
    rng: np.random.Generator,
    dtype: np.dtype | type | str = np.float64,
    next_activation: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Initial ``(W, b)`` of a dense layer: W (n_out, n_in) drawn by ``name``, b zeros.

    ``name="auto"`` resolves through :func:`resolve_auto` using ``next_activation``.
    """
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise UserInputError(
            f"unknown initializer {name!r}; choose one of: {', '.join(INITIALIZERS)}"
        )
    n_in = _check_size("n_in", n_in)
    n_out = _check_size("n_out", n_out)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise UserInputError(
            f"dtype must be float32 or float64, got {dtype!r}"
        ) from exc
    if dt.kind != "f":
        raise UserInputError(f"dtype must be float32 or float64, got {dt.name}")
    concrete = resolve_auto(next_activation) if name == "auto" else name
    weights = _sample(concrete, n_in, n_out, rng).astype(dt, copy=False)
    bias = np.zeros(n_out, dtype=dt)
    return weights, bias
