"""The signal's variance layer by layer in a deep tanh and ReLU network, under three initialisations.

N(0, 1) weights saturate tanh and blow ReLU's signal up; Xavier suits tanh; He keeps ReLU's at ~1.

Run:  python examples/init_variance.py
"""

from __future__ import annotations

import numpy as np

import symnn

DEPTH, WIDTH, ROWS = 10, 256, 1000


def variances(activation: str, init: str, seed: int = 0) -> list[float]:
    """The variance of each activation layer's output for N(0, 1) inputs."""
    layers: list = []
    for _ in range(DEPTH):
        layers += [symnn.Dense(WIDTH, WIDTH, init=init), symnn.Activation(activation)]
    model = symnn.Sequential(layers, loss="mse", seed=seed)
    out = np.random.default_rng(seed).normal(size=(ROWS, WIDTH))
    result = []
    for layer in model.layers:
        nxt = np.empty((ROWS, layer.output_width(out.shape[1])))
        layer.forward(np.ascontiguousarray(out), nxt)
        out = nxt
        if isinstance(layer, symnn.Activation):
            result.append(float(out.var()))
    return result


def main() -> None:
    print(f"{'activation':<11}{'init':<8}" + "".join(f"{'layer ' + str(i):>10}" for i in (1, 2, 5, DEPTH)))
    for activation in ("tanh", "relu"):
        for init in ("normal", "xavier", "he"):
            v = variances(activation, init)
            print(f"{activation:<11}{init:<8}" + "".join(f"{v[i - 1]:>10.3g}" for i in (1, 2, 5, DEPTH)))


if __name__ == "__main__":
    main()
