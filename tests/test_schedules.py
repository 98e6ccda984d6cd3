"""Learning-rate schedules: torch.optim.lr_scheduler's formulas, and torch itself."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from symnn.errors import UserInputError
from symnn.runtime.schedules import (
    SCHEDULES,
    Constant,
    CosineAnnealingLR,
    ExponentialLR,
    Schedule,
    StepLR,
    make_schedule,
)

EPOCHS = np.arange(10)
BASE_LR = 0.1


def _lrs(schedule: Schedule, n: int = 10) -> np.ndarray:
    return np.array([schedule.lr(epoch) for epoch in range(n)])


# Plain NumPy transcriptions of the formulas in torch.optim.lr_scheduler's docs.


def test_constant_keeps_base_lr() -> None:
    np.testing.assert_array_equal(_lrs(Constant(BASE_LR)), np.full(10, BASE_LR))


def test_step_lr_is_base_lr_times_gamma_to_epoch_floordiv_step_size() -> None:
    expected = BASE_LR * 0.5 ** (EPOCHS // 3)
    np.testing.assert_allclose(
        _lrs(StepLR(BASE_LR, step_size=3, gamma=0.5)), expected, rtol=1e-15
    )


def test_step_lr_default_gamma_is_torchs_0_1() -> None:
    expected = BASE_LR * 0.1 ** (EPOCHS // 4)
    np.testing.assert_allclose(_lrs(StepLR(BASE_LR, step_size=4)), expected, rtol=1e-15)


def test_exponential_lr_is_base_lr_times_gamma_to_epoch() -> None:
    expected = BASE_LR * 0.9**EPOCHS
    np.testing.assert_allclose(
        _lrs(ExponentialLR(BASE_LR, gamma=0.9)), expected, rtol=1e-15
    )


def test_cosine_annealing_is_torchs_closed_form() -> None:
    eta_min, t_max = 0.001, 10
    expected = eta_min + (BASE_LR - eta_min) * (1 + np.cos(np.pi * EPOCHS / t_max)) / 2
    schedule = CosineAnnealingLR(BASE_LR, T_max=t_max, eta_min=eta_min)
    np.testing.assert_allclose(_lrs(schedule), expected, rtol=1e-15)


def test_cosine_annealing_reaches_eta_min_at_t_max() -> None:
    assert CosineAnnealingLR(BASE_LR, T_max=6, eta_min=0.01).lr(6) == pytest.approx(
        0.01, rel=1e-15
    )


def test_cosine_annealing_past_t_max_follows_the_cosine_back_up() -> None:
    schedule = CosineAnnealingLR(BASE_LR, T_max=4, eta_min=0.0)
    assert schedule.lr(5) == pytest.approx(schedule.lr(3), rel=1e-14)
    assert schedule.lr(8) == pytest.approx(BASE_LR, rel=1e-15)


def test_epoch_zero_runs_at_base_lr() -> None:
    for schedule in (
        Constant(BASE_LR),
        StepLR(BASE_LR, 2),
        ExponentialLR(BASE_LR, 0.5),
        CosineAnnealingLR(BASE_LR, 5),
    ):
        assert schedule.lr(0) == BASE_LR


# make_schedule: the CLI's names and defaults.


def test_make_schedule_constant() -> None:
    assert make_schedule("constant", BASE_LR, 30) == Constant(BASE_LR)


def test_make_schedule_step_uses_a_third_of_the_epochs() -> None:
    assert make_schedule("step", BASE_LR, 30) == StepLR(
        BASE_LR, step_size=10, gamma=0.1
    )


def test_make_schedule_step_size_is_at_least_one() -> None:
    assert make_schedule("step", BASE_LR, 2) == StepLR(BASE_LR, step_size=1, gamma=0.1)


def test_make_schedule_exponential_gamma_is_0_95() -> None:
    assert make_schedule("exponential", BASE_LR, 30) == ExponentialLR(
        BASE_LR, gamma=0.95
    )


def test_make_schedule_cosine_t_max_is_epochs() -> None:
    assert make_schedule("cosine", BASE_LR, 30) == CosineAnnealingLR(BASE_LR, T_max=30)


def test_make_schedule_knows_every_listed_name() -> None:
    for name in SCHEDULES:
        assert isinstance(make_schedule(name, BASE_LR, 10), Schedule)


def test_unknown_schedule_is_user_input_error_listing_the_names() -> None:
    with pytest.raises(UserInputError) as info:
        make_schedule("linear", BASE_LR, 10)
    message = str(info.value)
    assert "\n" not in message
    assert all(name in message for name in SCHEDULES)


# base_lr=None: "the optimizer's lr".


def test_none_base_lr_takes_the_optimizers_lr() -> None:
    schedule = make_schedule("exponential", None, 10).with_base_lr(0.2)
    assert schedule == ExponentialLR(0.2, gamma=0.95)
    assert schedule.lr(2) == pytest.approx(0.2 * 0.95**2, rel=1e-15)


def test_with_base_lr_keeps_an_explicit_base_lr() -> None:
    schedule = StepLR(BASE_LR, step_size=3)
    assert schedule.with_base_lr(0.5) is schedule


def test_with_base_lr_leaves_the_unbound_schedule_unchanged() -> None:
    schedule = Constant(None)
    schedule.with_base_lr(0.3)
    assert schedule.base_lr is None


def test_lr_without_base_lr_is_user_input_error() -> None:
    with pytest.raises(UserInputError, match="with_base_lr"):
        Constant(None).lr(0)


# Argument checks and repr.


@pytest.mark.parametrize(
    "build",
    [
        lambda: StepLR(BASE_LR, step_size=0),
        lambda: StepLR(BASE_LR, step_size=2.5),
        lambda: StepLR(BASE_LR, step_size=2, gamma=0.0),
        lambda: ExponentialLR(BASE_LR, gamma=-0.5),
        lambda: ExponentialLR(BASE_LR, gamma=float("nan")),
        lambda: CosineAnnealingLR(BASE_LR, T_max=0),
        lambda: CosineAnnealingLR(BASE_LR, T_max=5, eta_min=-1.0),
        lambda: Constant(-0.1),
        lambda: Constant(float("inf")),
        lambda: make_schedule("step", BASE_LR, 0),
    ],
)
def test_invalid_arguments_are_user_input_errors(build: Callable[[], Schedule]) -> None:
    with pytest.raises(UserInputError) as info:
        build()
    assert "\n" not in str(info.value)


def test_negative_epoch_is_user_input_error() -> None:
    with pytest.raises(UserInputError):
        Constant(BASE_LR).lr(-1)


@pytest.mark.parametrize(
    "schedule, text",
    [
        (Constant(0.1), "Constant(base_lr=0.1)"),
        (
            StepLR(0.1, step_size=10, gamma=0.1),
            "StepLR(base_lr=0.1, step_size=10, gamma=0.1)",
        ),
        (ExponentialLR(0.1, gamma=0.95), "ExponentialLR(base_lr=0.1, gamma=0.95)"),
        (
            CosineAnnealingLR(0.1, T_max=20),
            "CosineAnnealingLR(base_lr=0.1, T_max=20, eta_min=0.0)",
        ),
        (Constant(None), "Constant(base_lr=None)"),
    ],
)
def test_repr_names_the_arguments(schedule: Schedule, text: str) -> None:
    assert repr(schedule) == text


# Against torch.optim.lr_scheduler itself, when torch is installed.


def _torch_lrs(make: Callable, n: int = 10, base_lr: float = BASE_LR) -> np.ndarray:
    """torch's lr in each of n epochs: read it, train, step the scheduler once."""
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = make(torch.optim.lr_scheduler, optimizer)
    lrs = []
    for _ in range(n):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(lrs)


def test_constant_matches_torch_constant_lr_factor_one() -> None:
    theirs = _torch_lrs(lambda s, opt: s.ConstantLR(opt, factor=1.0, total_iters=0))
    np.testing.assert_allclose(_lrs(Constant(BASE_LR)), theirs, rtol=1e-12)


def test_step_lr_matches_torch() -> None:
    theirs = _torch_lrs(lambda s, opt: s.StepLR(opt, step_size=3, gamma=0.5))
    np.testing.assert_allclose(
        _lrs(StepLR(BASE_LR, step_size=3, gamma=0.5)), theirs, rtol=1e-12
    )


def test_exponential_lr_matches_torch() -> None:
    theirs = _torch_lrs(lambda s, opt: s.ExponentialLR(opt, gamma=0.9))
    np.testing.assert_allclose(
        _lrs(ExponentialLR(BASE_LR, gamma=0.9)), theirs, rtol=1e-12
    )


def test_cosine_annealing_matches_torch() -> None:
    theirs = _torch_lrs(
        lambda s, opt: s.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    )
    ours = _lrs(CosineAnnealingLR(BASE_LR, T_max=10, eta_min=0.001))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cosine_annealing_matches_torch_past_t_max() -> None:
    n = 40  # ten periods of 2 * T_max: torch's recursive step() follows the cosine
    theirs = _torch_lrs(
        lambda s, opt: s.CosineAnnealingLR(opt, T_max=2, eta_min=0.001), n
    )
    ours = _lrs(CosineAnnealingLR(BASE_LR, T_max=2, eta_min=0.001), n)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", SCHEDULES)
def test_make_schedule_matches_torch_with_the_cli_defaults(name: str) -> None:
    epochs = 10
    builders = {
        "constant": lambda s, opt: s.ConstantLR(opt, factor=1.0, total_iters=0),
        "step": lambda s, opt: s.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1),
        "exponential": lambda s, opt: s.ExponentialLR(opt, gamma=0.95),
        "cosine": lambda s, opt: s.CosineAnnealingLR(opt, T_max=epochs),
    }
    theirs = _torch_lrs(builders[name], epochs)
    ours = _lrs(make_schedule(name, BASE_LR, epochs), epochs)
    # cosine is exactly 0 only at epoch T_max, outside the run; atol: rounding near 0
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15 * BASE_LR)


def test_cosine_annealing_t_max_epoch_is_eta_min_like_torch() -> None:
    theirs = _torch_lrs(lambda s, opt: s.CosineAnnealingLR(opt, T_max=5), 6)
    assert theirs[5] == 0.0
    assert CosineAnnealingLR(BASE_LR, T_max=5).lr(5) == 0.0
    assert math.isclose(
        theirs[4], CosineAnnealingLR(BASE_LR, T_max=5).lr(4), rel_tol=1e-12
    )
