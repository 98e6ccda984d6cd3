"""The fused training loop, seen from outside: `fit(fused=True)` gives the numbers of `fit(fused=False)`.

`fused=True` makes a fit run the whole-epoch compiled loop (or refuse), `fused=False` the per-layer
kernels; the two must agree, loss per epoch and every parameter, for every built-in activation, loss
(multi_margin and probability targets included) and optimizer variant, with schedules, a partial
last batch, with and without shuffling, in float64 and float32, and across fits: the optimizer's
state, parameters written between fits, one-epoch fits. Only the public API is used; how the loop is
assembled is tests/test_fused.py's.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from symnn.generated import ACTIVATIONS, LOSSES
from torch_reference import loss_cases, targets

import symnn


def assert_same_numbers(what: str, fused, per_layer, dtype: str) -> None:
    """Equal to rounding. Both paths run the same kernels on the same batches; the matrix products
    may run in another BLAS, which can round a product differently in its last bit. float64: rtol
    1e-12 (measured: at most 4e-14, on small weights after Adam's steps); float32: 4 ulps (measured
    on these cases: parameters equal, losses within one ulp)."""
    fused, per_layer = np.asarray(fused, np.float64), np.asarray(per_layer, np.float64)
    if dtype == "float64":
        np.testing.assert_allclose(fused, per_layer, rtol=1e-12, atol=0, err_msg=what)
        return
    ulp = np.spacing(np.maximum(np.abs(fused), np.abs(per_layer)).astype(np.float32)).astype(np.float64)
    bad = np.abs(fused - per_layer) > 4 * ulp
    assert not bad.any(), (f"{what} (float32): fused differs from per-layer by more than 4 ulps at "
                           f"{np.argwhere(bad).tolist()[:6]}: fused {fused[bad][:6]}, per-layer {per_layer[bad][:6]}")


def assert_same_fits(a: tuple[list[float], list[np.ndarray]], b: tuple[list[float], list[np.ndarray]],
                     dtype: str) -> None:
    """Two fits' losses per epoch and final parameters are the same numbers."""
    (loss_a, params_a), (loss_b, params_b) = a, b
    assert len(loss_a) == len(loss_b)
    assert_same_numbers("loss per epoch", loss_a, loss_b, dtype)
    for i, (p, q) in enumerate(zip(params_a, params_b, strict=True)):
        assert p.dtype == q.dtype == np.dtype(dtype)
        assert_same_numbers(f"parameter {i}", p, q, dtype)


N_ROWS, BATCH = 45, 16  # three batches an epoch, the last of 13 rows


def _model(acts: tuple[str, str], k: int, loss: str, dtype: str) -> symnn.Sequential:
    return symnn.Sequential([symnn.Dense(3, 6), symnn.Activation(acts[0]), symnn.Dense(6, 5),
                             symnn.Activation(acts[1]), symnn.Dense(5, k)], loss=loss, dtype=dtype, seed=1)


def _data(case: str, n: int = N_ROWS) -> tuple[str, int, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    loss, k, y = targets(case, rng, n)
    return loss, k, rng.normal(size=(n, 3)) * 1.5, y


def _fit(fused: bool, acts=("relu", "tanh"), case="cross_entropy", optimizer=lambda: symnn.Adam(lr=0.01),
         dtype="float64", schedule=None, shuffle=True, batch_size=BATCH) -> tuple[list[float], list[np.ndarray]]:
    loss, k, X, y = _data(case)
    model = _model(acts, k, loss, dtype)
    start = [p.copy() for p in model.parameters()]
    history = model.fit(X, y, optimizer=optimizer(), epochs=3, batch_size=batch_size, shuffle=shuffle, seed=3,
                        schedule=schedule() if schedule else None, verbose=False, fused=fused)
    params = [p.copy() for p in model.parameters()]
    assert any(not np.array_equal(p, q) for p, q in zip(params, start)), "the fit changed nothing"
    return history["loss"], params


OPTIMIZERS = {
    "sgd": lambda: symnn.SGD(lr=0.05),
    "sgd momentum": lambda: symnn.SGD(lr=0.05, momentum=0.9),
    "sgd momentum dampening weight_decay": lambda: symnn.SGD(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd nesterov": lambda: symnn.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: symnn.RMSprop(lr=0.01),
    "rmsprop centered": lambda: symnn.RMSprop(lr=0.01, centered=True),
    "rmsprop momentum": lambda: symnn.RMSprop(lr=0.01, momentum=0.5),
    "rmsprop centered momentum": lambda: symnn.RMSprop(lr=0.01, centered=True, momentum=0.5),
    "adam": lambda: symnn.Adam(lr=0.01),
    "adam amsgrad weight_decay": lambda: symnn.Adam(lr=0.01, amsgrad=True, weight_decay=0.01),
    "adamw": lambda: symnn.AdamW(lr=0.01),
    "adamw amsgrad": lambda: symnn.AdamW(lr=0.01, amsgrad=True),
    "nadam": lambda: symnn.NAdam(lr=0.01),
    "nadam decoupled weight_decay": lambda: symnn.NAdam(lr=0.01, weight_decay=0.01, decoupled_weight_decay=True),
    "adagrad": lambda: symnn.Adagrad(lr=0.1),
    "adagrad lr_decay initial_accumulator_value": lambda: symnn.Adagrad(lr=0.1, lr_decay=0.01,
                                                                         initial_accumulator_value=0.1),
}
#: Known bugs, by optimizer: each such case is an xfail(strict) naming it (delete the entry once fixed).
NOT_FUSED: dict[str, str] = {}  # optimizer -> why it is not on the fused loop (none today)


def _optimizer_cases() -> list:
    """Every entry of OPTIMIZERS, those of NOT_FUSED expected to fail as it says."""
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=symnn.UserInputError,
                                                       reason=NOT_FUSED[name.split()[0]]))
            if name.split()[0] in NOT_FUSED else name for name in OPTIMIZERS]


SCHEDULES = {
    "step": lambda: symnn.StepLR(step_size=1, gamma=0.5),
    "exponential": lambda: symnn.ExponentialLR(gamma=0.7),
    "cosine": lambda: symnn.CosineAnnealingLR(T_max=2),
}
DTYPES = ["float64", "float32"]


@pytest.mark.filterwarnings("ignore:the step activation's gradient is 0")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_fits_to_the_same_numbers(activation, dtype):
    kwargs = dict(acts=(activation, activation), case="mse", optimizer=OPTIMIZERS["sgd momentum"], dtype=dtype)
    assert_same_fits(_fit(True, **kwargs), _fit(False, **kwargs), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", loss_cases(LOSSES))
def test_every_loss_fits_to_the_same_numbers(case, dtype):
    kwargs = dict(acts=("tanh", "relu"), case=case, dtype=dtype)
    assert_same_fits(_fit(True, **kwargs), _fit(False, **kwargs), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", _optimizer_cases())
def test_every_optimizer_fits_to_the_same_numbers(optimizer, dtype):
    kwargs = dict(optimizer=OPTIMIZERS[optimizer], dtype=dtype)
    assert_same_fits(_fit(True, **kwargs), _fit(False, **kwargs), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_a_schedule_sets_the_same_rates(schedule, dtype):
    kwargs = dict(optimizer=OPTIMIZERS["sgd momentum"], schedule=SCHEDULES[schedule], dtype=dtype)
    assert_same_fits(_fit(True, **kwargs), _fit(False, **kwargs), dtype)


#: Single rows: float64 only. There the fused loop's direct OpenBLAS product of a 1-row matrix rounds
#: differently from np.dot's (one ulp; with SYMNN_BLAS=numba the two are bit-identical), and 135
#: steps compound that in float32 to 61 ulps (Adam) or 4e-5 of the weights' scale (SGD momentum;
#: 1e-14 in float64): rounding, but not a few ulps.
BATCHES = [(False, BATCH, "float64"), (False, BATCH, "float32"), (True, N_ROWS, "float64"),
           (True, N_ROWS, "float32"), (False, 1000, "float64"), (False, 1000, "float32"), (True, 1, "float64")]


@pytest.mark.parametrize("shuffle, batch_size, dtype", BATCHES)
def test_batches_in_row_order_single_rows_and_the_whole_set_give_the_same_numbers(shuffle, batch_size, dtype):
    kwargs = dict(shuffle=shuffle, batch_size=batch_size, dtype=dtype)
    assert_same_fits(_fit(True, **kwargs), _fit(False, **kwargs), dtype)


# --- across fits: what the fused loop keeps between calls is the per-layer path's ------------------

def _ce() -> tuple[symnn.Sequential, np.ndarray, np.ndarray]:
    """A fresh float64 classifier and its data."""
    loss, k, X, y = _data("cross_entropy")
    return _model(("relu", "tanh"), k, loss, "float64"), X, y


def _fits(model, X, y, optimizer, fused_flags, seeds=None) -> list[float]:
    """One fit of one epoch per flag, with the same optimizer object; the losses."""
    seeds = seeds or range(len(fused_flags))
    return [model.fit(X, y, optimizer=optimizer, epochs=1, batch_size=BATCH, seed=s, verbose=False,
                      fused=f)["loss"][0] for f, s in zip(fused_flags, seeds, strict=True)]


@pytest.mark.parametrize("optimizer", _optimizer_cases())
def test_optimizer_state_continues_after_a_fused_fit(optimizer):
    """Fused epochs then per-layer epochs equal per-layer epochs throughout (moments, sums, step counts)."""
    results = []
    for first in (True, False):
        model, X, y = _ce()
        opt = OPTIMIZERS[optimizer]()
        losses = _fits(model, X, y, opt, [first, first, False])
        results.append((losses, model.parameters()))
        assert [s["step"] for s in opt.state] == [9] * len(model.parameters())
    assert_same_fits(*results, "float64")


@pytest.mark.parametrize("optimizer", _optimizer_cases())
def test_one_epoch_fits_continue_as_one_fit_does(optimizer):
    """Fitting one epoch per call, the optimizer kept between calls (and its rate changed between
    them), equals the per-layer path doing the same."""
    results = []
    for fused_flag in (True, False):
        model, X, y = _ce()
        opt = OPTIMIZERS[optimizer]()
        losses = []
        for e in range(4):
            if e == 2:
                opt.lr /= 2  # a new rate between fits
            losses += _fits(model, X, y, opt, [fused_flag], [e])
        results.append((losses, model.parameters()))
    assert_same_fits(*results, "float64")


def test_two_optimizers_taking_turns_on_one_model_keep_their_own_state():
    results = []
    for fused_flag in (True, False):
        model, X, y = _ce()
        first, second = symnn.Adam(lr=0.01), symnn.Adam(lr=0.003, betas=(0.8, 0.99))
        losses = [_fits(model, X, y, opt, [fused_flag], [e])[0] for e, opt in enumerate((first, second, first, second, first))]
        results.append((losses, model.parameters()))
    assert_same_fits(*results, "float64")


def test_parameters_assigned_between_fits_are_used():
    """The fused loop reads the model's arrays on every fit: values written into them in between count,
    and so does a new array of the same shape."""
    results = []
    for fused_flag in (True, False):
        model, X, y = _ce()
        opt = symnn.SGD(lr=0.05)
        losses = _fits(model, X, y, opt, [fused_flag])
        model.parameters()[0][...] = 0.1
        model.layers[0].b = np.full_like(model.layers[0].b, 0.2)
        losses += _fits(model, X, y, opt, [fused_flag], [1])
        results.append((losses, model.parameters()))
    assert_same_fits(*results, "float64")


def test_a_parameter_of_another_shape_is_refused_by_name():
    model, X, y = _ce()
    model.fit(X, y, optimizer=symnn.SGD(lr=0.05), epochs=1, verbose=False, fused=True)
    model.layers[0].W = np.zeros((6, 2))
    with pytest.raises(symnn.UserInputError, match="shape is not its layer's"):
        model.fit(X, y, optimizer=symnn.SGD(lr=0.05), epochs=1, verbose=False, fused=True)


def test_a_warm_cache_trains_without_sympy():
    """Training imports no SymPy: a new process fits on the fused loop from the kernel cache."""
    model, X, y = _ce()
    model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=1, verbose=False, fused=True)  # compiled and cached
    code = ("import sys, numpy as np, symnn\n"
            "m = symnn.Sequential([symnn.Dense(3, 6), symnn.Activation('relu'), symnn.Dense(6, 5),\n"
            "                      symnn.Activation('tanh'), symnn.Dense(5, 3)], loss='cross_entropy')\n"
            "X = np.random.default_rng(0).standard_normal((20, 3))\n"
            "m.fit(X, np.arange(20) % 3, optimizer=symnn.Adam(lr=0.01), epochs=1, verbose=False, fused=True)\n"
            "assert 'sympy' not in sys.modules, 'sympy imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=120)
