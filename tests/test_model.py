"""Sequential: whole-network gradients, live parameters, dtypes, batching, files."""

from __future__ import annotations

import numpy as np
import pytest
from finite_differences import central_difference

import symnn


def _mlp(loss="mse", dtype="float64", act="tanh", n_out=2):
    return symnn.Sequential([symnn.Dense(3, 5), symnn.Activation(act), symnn.Dense(5, 4),
                             symnn.Activation("sigmoid"), symnn.Dense(4, n_out)], loss=loss, dtype=dtype)


def _numeric(model, X, y):
    """Finite differences of the loss for each parameter array, changed in place (they are live)."""
    return [central_difference(lambda _: model.loss(X, y), p) for p in model.parameters()]


@pytest.mark.parametrize("loss,labels", [("mse", False), ("cross_entropy", True), ("huber", False)])
def test_network_gradients_match_finite_differences(loss, labels):
    rng = np.random.default_rng(0)
    model = _mlp(loss)
    X = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, 6) if labels else rng.normal(size=(6, 2))
    for analytic, numeric in zip(model.gradients(X, y), _numeric(model, X, y)):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_gradients_have_the_order_and_shapes_of_parameters():
    model = _mlp()
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(5, 3), (5,), (4, 5), (4,), (2, 4), (2,)]
    grads = model.gradients(np.zeros((2, 3)), np.zeros((2, 2)))
    assert [g.shape for g in grads] == shapes


def test_writing_into_parameters_takes_effect():
    model = symnn.Sequential([symnn.Dense(2, 1)], loss="mse")
    W, b = model.parameters()
    W[...] = [[2.0, -1.0]]
    b[...] = [0.5]
    np.testing.assert_allclose(model.forward(np.array([[1.0, 3.0]])), [[-0.5]])


def test_gradients_are_fresh_arrays_each_call():
    model = _mlp()
    X, y = np.ones((2, 3)), np.ones((2, 2))
    first = model.gradients(X, y)
    second = model.gradients(X, y)
    assert all(a is not b for a, b in zip(first, second))


def test_float32_model_keeps_float32_everywhere():
    model = _mlp(dtype="float32")
    X = np.random.default_rng(0).normal(size=(4, 3))
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.forward(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.gradients(X, np.zeros((4, 2))))


def test_float32_and_float64_models_agree():
    X = np.random.default_rng(0).normal(size=(4, 3))
    a, b = _mlp(dtype="float32"), _mlp(dtype="float64")
    np.testing.assert_allclose(a.forward(X), b.forward(X), rtol=1e-5, atol=1e-6)


class _RecordingSGD:
    """Plain SGD that records the batches' sizes, to observe batching."""

    def __init__(self, lr):
        self.lr, self.calls = lr, 0

    def step(self, params, grads):
        self.calls += 1
        for p, g in zip(params, grads):
            p -= self.lr * g


def test_fit_uses_the_last_partial_batch():
    model = _mlp()
    opt = _RecordingSGD(0.0)
    model.fit(np.zeros((10, 3)), np.zeros((10, 2)), optimizer=opt, epochs=2, batch_size=4, verbose=False,
              fused=False)
    assert opt.calls == 6


def test_fit_without_shuffle_equals_hand_rolled_minibatch_sgd():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    model, reference = _mlp(), _mlp()
    model.fit(X, y, optimizer=_RecordingSGD(0.1), epochs=1, batch_size=4, shuffle=False, verbose=False,
              fused=False)
    for lo in range(0, 10, 4):
        grads = reference.gradients(X[lo:lo + 4], y[lo:lo + 4])
        for p, g in zip(reference.parameters(), grads):
            p -= 0.1 * g
    for a, b in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fit_reduces_the_loss_on_xor():
    from symnn.datasets import load

    d = load("xor")
    model = symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("tanh"), symnn.Dense(8, 1)],
                             loss="binary_cross_entropy")
    history = model.fit(d.X, d.y, optimizer=_RecordingSGD(0.5), epochs=60, verbose=False, fused=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.accuracy(d.X, d.y) > 0.95


def test_predict_gives_labels_for_classification_losses():
    model = _mlp("cross_entropy")
    labels = model.predict(np.random.default_rng(0).normal(size=(5, 3)))
    assert labels.dtype == np.int64 and set(labels) <= {0, 1}


def test_save_and_load_round_trip(tmp_path):
    model = _mlp("cross_entropy", dtype="float32")
    X = np.random.default_rng(0).normal(size=(5, 3))
    model.save(str(tmp_path / "m.npz"))
    loaded = symnn.load(str(tmp_path / "m.npz"))
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))


def test_loading_a_file_that_is_not_a_model_is_bad_input(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(symnn.UserInputError):
        symnn.load(str(bad))


def test_a_users_formula_activation_trains(tmp_path):
    model = symnn.Sequential([symnn.Dense(3, 4), symnn.Activation("x*tanh(softplus(x))"), symnn.Dense(4, 1)],
                             loss="mse")
    X, y = np.random.default_rng(0).normal(size=(8, 3)), np.zeros((8, 1))
    for analytic, numeric in zip(model.gradients(X, y), _numeric(model, X, y)):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_unknown_activation_is_bad_input():
    with pytest.raises(symnn.UserInputError, match="unknown activation 'nosuch'"):
        symnn.Activation("nosuch")


@pytest.mark.parametrize("labels", [[0, 1, 3], [0, -1, 2], [0.0, 1.5, 2.0]], ids=["too-large", "negative", "fractional"])
def test_cross_entropy_refuses_labels_that_are_not_class_indices(labels):
    model = symnn.Sequential([symnn.Dense(2, 3)], loss="cross_entropy")
    X = np.zeros((3, 2))
    with pytest.raises(symnn.UserInputError, match=r"class indices 0\.\.2 for 3 outputs"):
        model.fit(X, np.array(labels), epochs=1, verbose=False)


def test_cross_entropy_takes_integer_and_whole_float_labels_alike():
    X = np.random.default_rng(0).standard_normal((6, 2))
    a = symnn.Sequential([symnn.Dense(2, 3)], loss="cross_entropy", seed=1)
    b = symnn.Sequential([symnn.Dense(2, 3)], loss="cross_entropy", seed=1)
    assert a.loss(X, np.array([0, 1, 2, 2, 1, 0])) == b.loss(X, np.array([0.0, 1.0, 2.0, 2.0, 1.0, 0.0]))


@pytest.mark.parametrize(("loss", "targets", "message"), [
    ("binary_cross_entropy", [0.0, 2.0], r"needs targets in \[0, 1\]"),
    ("binary_cross_entropy", [-0.5, 1.0], r"needs targets in \[0, 1\]"),
    ("binary_cross_entropy", [np.nan, 1.0], r"needs targets in \[0, 1\]"),
    ("hinge", [0.0, 0.5], "needs 0/1 targets"),
])
def test_binary_losses_refuse_targets_outside_their_range(loss, targets, message):
    model = symnn.Sequential([symnn.Dense(2, 1)], loss=loss)
    with pytest.raises(symnn.UserInputError, match=f"{loss} {message}"):
        model.fit(np.zeros((2, 2)), np.array(targets), epochs=1, verbose=False)


def test_binary_cross_entropy_takes_probabilities_as_targets():
    model = symnn.Sequential([symnn.Dense(2, 1)], loss="binary_cross_entropy")
    assert np.isfinite(model.loss(np.zeros((2, 2)), np.array([0.25, 1.0])))


def test_a_trained_model_deep_copies_into_an_independent_model():
    import copy

    X = np.random.default_rng(0).standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(float)
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("relu"), symnn.Dense(4, 1)],
                             loss="binary_cross_entropy")
    model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=2, verbose=False)
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    twin.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=2, verbose=False)
    assert not np.array_equal(twin.layers[0].W, model.layers[0].W)


def test_a_trained_model_pickles_and_predicts_the_same():
    import pickle

    X = np.random.default_rng(1).standard_normal((30, 3))
    model = symnn.Sequential([symnn.Dense(3, 5), symnn.Activation("tanh"), symnn.Dense(5, 2)], loss="mse")
    model.fit(X, X[:, :2], epochs=2, verbose=False)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))


@pytest.mark.parametrize("loss,y", [("binary_cross_entropy", np.zeros(0, dtype=int)), ("mse", np.zeros((0, 1)))])
def test_fit_on_no_rows_is_refused_and_changes_nothing(loss, y):
    model = symnn.Sequential([symnn.Dense(2, 1)], loss=loss)
    before = [p.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="X has no rows"):
        model.fit(np.zeros((0, 2)), y, epochs=2, verbose=False)
    for p, q in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


def test_scalar_targets_are_refused_by_name():
    model = symnn.Sequential([symnn.Dense(2, 1)], loss="mse")
    with pytest.raises(symnn.UserInputError, match="not a scalar"):
        model.fit(np.zeros((1, 2)), np.float64(1.0), verbose=False)


def test_no_layer_before_a_step_gets_a_gradient_not_even_nan_from_overflowing_values():
    """The step's derivative is 0 wherever it has a value: every gradient before it is exactly 0 (the
    backward pass ends there), also where a layer's outputs overflowed (0 * inf would be NaN)."""
    model = symnn.Sequential([symnn.Dense(2, 3), symnn.Dense(3, 3), symnn.Activation("step"), symnn.Dense(3, 1)],
                             loss="mse", dtype="float64", seed=0)
    model.layers[0].W[...] = 1e300
    X = np.array([[1e10, 1.0], [-1.0, 2.0]])
    with np.errstate(over="ignore"):
        assert np.isinf(model.layers[0].W @ X[0]).all()
    grads = model.gradients(X, np.array([1.0, 0.0]))
    assert all(np.array_equal(g, np.zeros_like(g)) for g in grads[:4])
    assert np.isfinite(grads[4]).all() and np.any(grads[4] != 0)


@pytest.mark.parametrize("fused", [True, False])
def test_below_a_step_weights_move_only_by_weight_decay(fused):
    X = np.random.default_rng(0).standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(float)
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("step"), symnn.Dense(4, 1)], loss="mse", seed=1)
    W0 = model.layers[0].W.copy()
    with pytest.warns(RuntimeWarning, match="step activation"):
        model.fit(X, y, optimizer=symnn.SGD(lr=0.1, weight_decay=0.5), epochs=1, batch_size=40, verbose=False,
                  fused=fused)
    np.testing.assert_array_equal(model.layers[0].W, W0 - 0.1 * (0.5 * W0))
