"""MAE, MSE and Huber fitting a line through data with outliers; cross-entropy against hinge.

Run:  python examples/losses_outliers.py
"""

from __future__ import annotations

import numpy as np

import symnn


def line_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y = 2 x + 1 with Gaussian noise, and 10% of the points moved up by 25."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(200, 1))
    y = 2 * x[:, 0] + 1 + rng.normal(0, 0.3, size=200)
    y[rng.choice(200, size=20, replace=False)] += 25
    return x, y


def main() -> None:
    x, y = line_data()
    print("the true line: y = 2 x + 1; 10% of the points are outliers")
    for loss in ("mse", "mae", "huber"):
        model = symnn.Sequential([symnn.Dense(1, 1)], loss=loss, seed=0)
        model.fit(x, y, optimizer=symnn.Adam(lr=0.05), epochs=300, batch_size=32, verbose=False)
        W, b = model.parameters()
        print(f"{loss:<6} y = {W[0, 0]:.3f} x + {b[0]:.3f}")
    data = symnn.datasets.load("spiral", seed=0, noise=0.6)
    for loss in ("cross_entropy", "hinge"):
        model = symnn.Sequential([symnn.Dense(2, 32), symnn.Activation("relu"), symnn.Dense(32, 32),
                                  symnn.Activation("relu"), symnn.Dense(32, data.n_classes)], loss=loss, seed=0)
        model.fit(data.X, data.y, optimizer=symnn.Adam(lr=0.01), epochs=60, verbose=False)
        print(f"spiral {loss:<14} accuracy {100 * model.score(data.X, data.y):.1f}%")


if __name__ == "__main__":
    main()
