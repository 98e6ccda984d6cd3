"""symnn.Perceptron: the step neuron and Rosenblatt's learning rule."""

from __future__ import annotations

import numpy as np
import pytest

import symnn
from symnn import datasets
from symnn.errors import UserInputError

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def test_separates_blobs() -> None:
    d = datasets.load("blobs")
    p = symnn.Perceptron(2, seed=0)
    history = p.fit(d.X, d.y, epochs=100)
    assert history["converged"] is True and p.converged is True
    assert history["errors"][-1] == 0 and history["epochs_run"] == len(history["errors"]) < 100
    assert p.accuracy(d.X, d.y) == 1.0


def test_cannot_separate_xor_data_set() -> None:
    d = datasets.load("xor")
    p = symnn.Perceptron(2, seed=0)
    history = p.fit(d.X, d.y, epochs=100)
    assert history["converged"] is False and history["epochs_run"] == 100
    assert p.accuracy(d.X, d.y) <= 0.75


def test_cannot_separate_xor_truth_table() -> None:
    p = symnn.Perceptron(2, seed=0)
    history = p.fit(XOR_X, XOR_Y, epochs=100)
    assert history["converged"] is False and min(history["errors"]) > 0
    assert p.accuracy(XOR_X, XOR_Y) <= 0.75


def test_learning_rule_by_hand() -> None:
    # w = 0, b = 0, lr = 0.5.  x=(1,2), t=1: step(0) = 0, so w = (0.5, 1), b = 0.5.
    # x=(2,1), t=0: w.x + b = 2.5 > 0, y = 1, so w = (0.5, 1) - 0.5*(2, 1) = (-0.5, 0.5), b = 0.
    p = symnn.Perceptron(2, lr=0.5)
    history = p.fit(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([1, 0]), epochs=1, shuffle=False)
    assert p.w.tolist() == [-0.5, 0.5]
    assert p.b == 0.0
    assert history == {"errors": [2], "converged": False, "epochs_run": 1}


def test_fit_equals_the_sample_by_sample_rule() -> None:
    d = datasets.load("moons", n_samples=700)
    lr, epochs = 0.3, 5
    rng = np.random.default_rng(4)
    w, b, errors = np.zeros(2), 0.0, []
    for _ in range(epochs):
        mistakes = 0
        for i in rng.permutation(len(d.y)):
            delta = d.y[i] - (1.0 if d.X[i] @ w + b > 0 else 0.0)
            if delta:
                w, b, mistakes = w + lr * delta * d.X[i], b + lr * delta, mistakes + 1
        errors.append(mistakes)
    p = symnn.Perceptron(2, lr=lr, seed=4)
    history = p.fit(d.X, d.y, epochs=epochs)
    assert history["errors"] == errors
    np.testing.assert_allclose(p.w, w, rtol=1e-12)
    assert p.b == pytest.approx(b, rel=1e-12)


def test_predict_returns_int64_zero_one_labels() -> None:
    d = datasets.load("blobs")
    p = symnn.Perceptron(2)
    p.fit(d.X, d.y)
    labels = p.predict(d.X)
    assert labels.dtype == np.int64 and labels.shape == (len(d.y),)
    assert set(np.unique(labels).tolist()) == {0, 1}
    np.testing.assert_array_equal(labels, (p.decision_function(d.X) > 0).astype(np.int64))


@pytest.mark.parametrize("labels", [[0, 2, 1, 0], [-1, 1, 1, -1], [0.5, 1, 0, 1]])
def test_bad_labels_raise(labels: list) -> None:
    with pytest.raises(UserInputError, match="0 or 1") as err:
        symnn.Perceptron(2).fit(XOR_X, np.array(labels))
    assert "\n" not in str(err.value)


def test_shape_mismatch_raises() -> None:
    p = symnn.Perceptron(3)
    with pytest.raises(UserInputError, match=r"expects \(n, 3\)"):
        p.fit(XOR_X, XOR_Y)
    with pytest.raises(UserInputError, match="one 0/1 label per row"):
        symnn.Perceptron(2).fit(XOR_X, XOR_Y[:3])
