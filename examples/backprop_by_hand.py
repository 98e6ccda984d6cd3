"""Backpropagation written by hand in NumPy, against symnn's generated kernels (model.gradients).

The network dense(2,3) tanh dense(3,1) mse; `symnn.derive("dense(2,3) tanh dense(3,1) mse")` prints
the chain rule these lines follow.

Run:  python examples/backprop_by_hand.py
"""

from __future__ import annotations

import numpy as np

import symnn


def by_hand(model: symnn.Sequential, X: np.ndarray, t: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """The loss and [dW1, db1, dW2, db2] of a dense-tanh-dense network under the mean squared error."""
    W1, b1, W2, b2 = model.parameters()
    z1 = X @ W1.T + b1                      # dense: Y = X W^T + b
    a1 = np.tanh(z1)
    z2 = a1 @ W2.T + b2
    loss = float(np.mean((z2 - t) ** 2))
    G2 = 2 * (z2 - t) / z2.size             # dL/dz2 of the mean
    dW2, db2 = G2.T @ a1, G2.sum(axis=0)    # dL/dW = G^T X, dL/db = column sums of G
    G1 = (G2 @ W2) * (1 - a1 ** 2)          # dL/dX = G W, times tanh' = 1 - y^2
    dW1, db1 = G1.T @ X, G1.sum(axis=0)
    return loss, [dW1, db1, dW2, db2]


def main() -> None:
    print(symnn.derive("dense(2,3) tanh dense(3,1) mse"))
    print()
    rng = np.random.default_rng(0)
    X, t = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    model = symnn.Sequential([symnn.Dense(2, 3), symnn.Activation("tanh"), symnn.Dense(3, 1)], loss="mse",
                             dtype="float64", seed=0)
    loss, grads = by_hand(model, X, t)
    print(f"loss by hand {loss:.12f}, symnn {model.loss(X, t):.12f}")
    for name, ours, theirs in zip(["W1", "b1", "W2", "b2"], model.gradients(X, t), grads):
        print(f"dL/d{name}: largest difference {np.abs(ours - theirs).max():.1e}")
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    print("every gradient matches")


if __name__ == "__main__":
    main()
