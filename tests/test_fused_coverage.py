"""Every built-in loss, optimizer and option fits on the fused loop: none falls back silently."""

from __future__ import annotations

import numpy as np
import pytest

import symnn
from symnn.runtime import fused, kernels

OPTIMIZERS = [symnn.SGD(lr=0.1), symnn.SGD(lr=0.1, momentum=0.9), symnn.SGD(lr=0.1, momentum=0.9, nesterov=True),
              symnn.Adagrad(), symnn.RMSprop(), symnn.RMSprop(momentum=0.9), symnn.RMSprop(centered=True),
              symnn.RMSprop(centered=True, momentum=0.5), symnn.Adam(), symnn.Adam(amsgrad=True), symnn.AdamW(),
              symnn.AdamW(amsgrad=True), symnn.NAdam(), symnn.NAdam(decoupled_weight_decay=True)]


def test_the_optimizers_below_reach_every_generated_kernel():
    kernels_reached = {o.plan().kernel for o in OPTIMIZERS}
    every = {k for m in kernels.builtin_names("optimizers") for k in kernels.generated(f"optimizers.{m}").KERNELS}
    assert kernels_reached == every


@pytest.mark.parametrize("loss", kernels.builtin_names("losses"))
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
def test_every_builtin_configuration_has_a_fused_spec(loss, optimizer):
    n_out = 1 if loss in ("binary_cross_entropy", "mse") else 3
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("tanh"), symnn.Dense(4, n_out)], loss=loss)
    spec = fused.spec_of(model, optimizer)
    assert spec is not None and spec["loss"] == loss


def test_a_subclass_that_changes_the_step_is_not_fused():
    class Mine(symnn.SGD):
        def step(self, params, grads):  # a user's own rule
            super().step(params, grads)

    model = symnn.Sequential([symnn.Dense(2, 1)], loss="mse")
    assert fused.spec_of(model, Mine(lr=0.1)) is None


# --- every fit is the fast fit: formulas, validation, callbacks, early stopping ------------------

def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def _fit(fused, activation="x/(1 + exp(-x))", **kw):
    X, y = _data()
    model = symnn.Sequential([symnn.Dense(2, 6), symnn.Activation(activation), symnn.Dense(6, 2)],
                             loss="cross_entropy", seed=3)
    history = model.fit(X, y, optimizer=symnn.Adam(lr=0.05), epochs=kw.pop("epochs", 6), batch_size=16,
                        verbose=False, fused=fused, **kw)
    return model, history


def _same(a, b):
    (ma, ha), (mb, hb) = a, b
    assert ha.keys() == hb.keys()
    for key in ha:
        if key != "seconds":
            np.testing.assert_allclose(ha[key], hb[key], rtol=1e-12)
    for p, q in zip(ma.parameters(), mb.parameters(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("formula", ["x/(1 + exp(-x))", "x*tanh(x)", "max(x, 0.1*x) + sin(x)"])
def test_a_formula_activation_is_fused_with_the_per_layer_numbers(formula):
    fused_fit = _fit(True, formula)
    assert fused_fit[0]._fused_session is not None
    _same(fused_fit, _fit(False, formula))


def test_validation_data_is_evaluated_after_each_fused_epoch_as_per_layer():
    X, y = _data(40, seed=1)
    fused_fit = _fit(True, validation=(X, y))
    assert fused_fit[0]._fused_session is not None and len(fused_fit[1]["val_loss"]) == 6
    _same(fused_fit, _fit(False, validation=(X, y)))


def _calls_counted(model):
    """Count the compiled loop's calls on the model's fused session (made by a first fit)."""
    mod = model._fused_session.mod
    inner, calls = mod.train_epochs, []

    def counted(*args):
        calls.append(1)
        return inner(*args)
    mod.train_epochs = counted
    return calls, lambda: setattr(mod, "train_epochs", inner)


def test_validation_is_evaluated_inside_the_compiled_loop_not_one_call_per_epoch():
    X, y = _data(40, seed=1)
    model, _ = _fit(True, validation=(X, y), epochs=1)
    calls, undo = _calls_counted(model)
    try:
        history = model.fit(*_data(), optimizer=symnn.Adam(lr=0.05), epochs=30, batch_size=16, verbose=False,
                            validation=(X, y), fused=True)
    finally:
        undo()
    assert len(history["val_loss"]) == len(history["val_accuracy"]) == 30 and len(calls) <= 3


@pytest.mark.parametrize("n_val, batch_size", [(7, 16), (600, 16), (600, 512), (257, 300)])
@pytest.mark.parametrize("loss, n_out", [("cross_entropy", 3), ("binary_cross_entropy", 1), ("mse", 1)])
def test_validation_metrics_are_the_per_layer_ones_whatever_the_batches(n_val, batch_size, loss, n_out):
    """The loop takes the validation rows in batches of its own (at least VALIDATION_BATCH): any count
    of them, below, above and between the batch sizes, gives the per-layer loop's val_loss and val_accuracy."""
    rng = np.random.default_rng(n_val)
    X, Xv = rng.standard_normal((90, 2)), rng.standard_normal((n_val, 2))
    label = (lambda A: (A[:, 0] > A[:, 1]).astype(np.int64) + (A[:, 0] > 0.5)) if n_out == 3 else (
        lambda A: (A[:, 0] * A[:, 1] > 0).astype(np.int64))
    y, yv = label(X), label(Xv)
    if loss == "mse":
        y, yv = y.astype(float), yv.astype(float)
    fits = []
    for on in (True, False):
        model = symnn.Sequential([symnn.Dense(2, 6), symnn.Activation("tanh"), symnn.Dense(6, n_out)], loss=loss, seed=3)
        fits.append((model, model.fit(X, y, optimizer=symnn.Adam(lr=0.05), epochs=4, batch_size=batch_size,
                                      verbose=False, fused=on, validation=(Xv, yv))))
    assert fits[0][0]._fused_session is not None
    assert ("val_accuracy" in fits[0][1]) == (loss != "mse")
    _same(*fits)


def test_validation_accuracy_takes_float_and_soft_labels_as_the_per_layer_loop_does():
    X, y = _data()
    Xv = X[:30]
    yv = y[:30].astype(float)
    yv[::4] = 0.5  # a soft label: no prediction equals it
    fits = []
    for on in (True, False):
        model = symnn.Sequential([symnn.Dense(2, 6), symnn.Activation("tanh"), symnn.Dense(6, 1)],
                                 loss="binary_cross_entropy", seed=3)
        fits.append((model, model.fit(X, y, optimizer=symnn.Adam(lr=0.05), epochs=3, verbose=False, fused=on,
                                      validation=(Xv, yv))))
    assert fits[0][0]._fused_session is not None and max(fits[0][1]["val_accuracy"]) <= 0.75
    _same(*fits)


def test_validation_accuracy_predicts_as_argmax_does_at_ties_infinities_and_nan():
    """np.argmax's rule: the first largest, a NaN counting as the largest (its first)."""
    big = 1e300
    Xv = np.array([[big, -big], [1.0, 2.0], [-1.0, 0.0], [-big, big]])
    W1 = np.array([[1e10, 0.0], [0.0, 1e10]])  # hidden h: [inf, -inf], [1e10, 2e10], [-1e10, 0], [-inf, inf]
    W2 = np.array([[1.0, -1.0], [1.0, 1.0], [1.0, 1.0]])
    # outputs: [inf, NaN, NaN] -> 1; [-1e10, 3e10, 3e10] -> 1 (a tie: the first); [-1e10] * 3 -> 0; [-inf, NaN, NaN] -> 1
    for labels in ([1, 1, 0, 1], [2, 2, 1, 0], [1, 2, 0, 2]):
        yv = np.array(labels)
        accuracy = []
        for on in (True, False):
            model = symnn.Sequential([symnn.Dense(2, 2), symnn.Dense(2, 3)], loss="cross_entropy", dtype="float64")
            for layer, W in zip(model.layers, (W1, W2)):
                layer.W[...] = W
                layer.b[...] = 0
            # lr so small that no weight moves: the outputs above stay exactly as they are
            h = model.fit(*_data(), optimizer=symnn.SGD(lr=1e-300), epochs=2, verbose=False, fused=on,
                          validation=(Xv, yv))
            assert np.array_equal(model.layers[1].W, W2)
            accuracy.append(h["val_accuracy"])
        expected = float(np.mean(np.array([1, 1, 0, 1]) == yv))
        assert accuracy[0] == accuracy[1] == [expected, expected]


def test_a_callback_sees_every_epoch_and_returning_true_stops_training():
    for on in (True, False):
        seen = []
        _, history = _fit(on, callback=lambda epoch, h: seen.append((epoch, len(h["loss"]))) or epoch == 2)
        assert seen == [(0, 1), (1, 2), (2, 3)] and len(history["loss"]) == 3


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    X, y = _data(40, seed=1)
    stop = symnn.EarlyStopping(patience=1, min_delta=0.5)  # no epoch improves on the first by 0.5
    fused_fit, per_layer = (_fit(f, validation=(X, y), early_stopping=stop, epochs=20) for f in (True, False))
    _same(fused_fit, per_layer)
    model, history = fused_fit
    assert history["best_epoch"] == 0 and history["stopped_epoch"] == 2 and len(history["loss"]) == 3
    # the weights are the first epoch's: a fresh model trained one epoch has them
    first, _ = _fit(True, epochs=1)
    for p, q in zip(model.parameters(), first.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


def test_early_stopping_is_refused_where_it_cannot_watch_anything():
    with pytest.raises(symnn.UserInputError, match="needs validation data"):
        _fit(True, early_stopping=symnn.EarlyStopping(monitor="val_loss"))
    with pytest.raises(symnn.UserInputError, match="patience"):
        _fit(True, early_stopping="soon")


def test_the_compiled_loop_releases_the_gil_so_fits_in_threads_run_at_once():
    from concurrent.futures import ThreadPoolExecutor

    def fit(seed):
        model, history = _fit(True, epochs=3)
        return model._fused_session.mod.train_epochs, history["loss"]

    (dispatcher, alone), = [fit(0)]
    assert dispatcher.targetoptions.get("nogil") is True
    with ThreadPoolExecutor(2) as pool:
        together = [loss for _, loss in pool.map(fit, (0, 1))]
    assert together == [alone, alone]
