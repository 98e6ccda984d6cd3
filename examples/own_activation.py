"""Your own activation as a formula: derived by SymPy, compiled, trained, checked by finite differences.

Run:  python examples/own_activation.py
"""

from __future__ import annotations

import numpy as np

import symnn

FORMULA = "x*tanh(softplus(x))"  # Mish


def main() -> None:
    print(symnn.derive(FORMULA))
    data = symnn.datasets.load("circles", seed=0, noise=0.1)
    model = symnn.Sequential([symnn.Dense(2, 16), symnn.Activation(FORMULA), symnn.Dense(16, 1)],
                             loss="binary_cross_entropy", seed=0)
    model.fit(data.X, data.y, optimizer="adam", epochs=100, verbose=False)
    print(f"circles accuracy {100 * model.score(data.X, data.y):.1f}%")
    rng = np.random.default_rng(1)
    X, t = rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)
    W1 = model.parameters()[0]
    numeric = np.zeros_like(W1)
    for i in np.ndindex(W1.shape):
        old = W1[i]
        W1[i] = old + 1e-6
        up = model.loss(X, t)
        W1[i] = old - 1e-6
        down = model.loss(X, t)
        W1[i] = old
        numeric[i] = (up - down) / 2e-6
    print(f"gradient against finite differences: largest difference {np.abs(numeric - model.gradients(X, t)[0]).max():.1e}")


if __name__ == "__main__":
    main()
