"""The lecture's XOR network: 2-2-1, tanh, mean squared error, gradient descent with momentum.

Run:  python examples/xor_mlp.py
"""

from __future__ import annotations

import numpy as np

import symnn

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = np.array([0.0, 1.0, 1.0, 0.0])


def main() -> None:
    model = symnn.Sequential([symnn.Dense(2, 2), symnn.Activation("tanh"), symnn.Dense(2, 1)], loss="mse", seed=3)
    print(model)
    history = model.fit(X, y, optimizer=symnn.SGD(lr=0.5, momentum=0.9), epochs=500, batch_size=4, verbose=False)
    out = model(X).ravel()
    for row, value, target in zip(X, out, y):
        print(f"xor{tuple(int(v) for v in row)} = {value:+.3f}  (target {int(target)})")
    print(f"final loss {history['loss'][-1]:.2e}")
    print(f"accuracy {100 * np.mean((out > 0.5) == (y > 0.5)):.0f}%")


if __name__ == "__main__":
    main()
