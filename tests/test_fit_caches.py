"""What a model keeps between fused fits must not outlive a change: a fit after any change trains the
numbers of a fit that kept nothing (its session made anew), exactly.

Every fit here runs twice over: once on a model that keeps its fused session from fit to fit, once
on a twin whose session is thrown away before every fit (it keeps only what the public objects hold:
parameters and the optimizer's state).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import symnn


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(45, 3))
    return X, (X[:, 0] - X[:, 2] > 0).astype(np.int64)


def _model(dtype: str = "float64") -> symnn.Sequential:
    return symnn.Sequential([symnn.Dense(3, 5), symnn.Activation("leaky_relu", slope=0.1), symnn.Dense(5, 1)],
                            loss="binary_cross_entropy", dtype=dtype, seed=2)


Change = Callable[[symnn.Sequential, object], object]


def _train(changes: list[Change], keep_session: bool, optimizer: Callable[[], object]) -> list[np.ndarray]:
    """One-epoch fits, each after its change (which may return a new optimizer); losses and parameters."""
    X, y = _data()
    model, opt = _model(), optimizer()
    out = []
    for i, change in enumerate(changes):
        opt = change(model, opt) or opt
        if not keep_session:
            model.__dict__.pop("_fused_session", None)
        h = model.fit(X, y, optimizer=opt, epochs=1, batch_size=8, seed=i, verbose=False, fused=True)
        out.append(np.array(h["loss"]))
    return out + [p.copy() for p in model.parameters()]


def _same(changes: list[Change], optimizer: Callable[[], object] = lambda: symnn.Adam(lr=0.01)) -> None:
    kept, fresh = _train(changes, True, optimizer), _train(changes, False, optimizer)
    for a, b in zip(kept, fresh, strict=True):
        np.testing.assert_array_equal(a, b)


def nothing(model, opt):
    return None


def set_attr(name: str, value: object) -> Change:
    def change(model, opt):
        setattr(opt, name, value)
    return change


def test_fitting_again_unchanged_keeps_the_numbers():
    _same([nothing] * 4)


@pytest.mark.parametrize("name, value", [("lr", 0.003), ("eps", 1e-3), ("weight_decay", 0.1),
                                         ("betas", (0.5, 0.9)), ("amsgrad", True)])
def test_an_optimizer_option_changed_between_fits_is_seen(name, value):
    _same([nothing, nothing, set_attr(name, value), nothing])


def test_an_sgd_option_changed_between_fits_is_seen():
    _same([nothing, set_attr("momentum", 0.5), set_attr("nesterov", True), set_attr("dampening", 0.0)],
          optimizer=lambda: symnn.SGD(lr=0.05, momentum=0.9))


def test_another_optimizer_between_fits_is_seen():
    _same([nothing, lambda model, opt: symnn.Adam(lr=0.02), lambda model, opt: symnn.RMSprop(lr=0.01), nothing])


def test_an_activation_parameter_changed_between_fits_is_seen():
    def steeper(model, opt):
        model.layers[1].values = (0.3,)
    _same([nothing, steeper, nothing])


def test_parameters_written_or_replaced_between_fits_are_seen():
    def write(model, opt):
        model.parameters()[0][...] = 0.05

    def replace(model, opt):
        model.layers[2].W = np.full_like(model.layers[2].W, -0.1)
    _same([nothing, write, nothing, replace, nothing])


def test_the_step_count_carries_across_fits_after_a_reset():
    def reset(model, opt):
        opt.reset()
    _same([nothing, nothing, reset, nothing])
