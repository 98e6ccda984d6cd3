"""The three benchmark workloads: data, starting weights, batch order and the matrix products.

Everything here is NumPy (plus symnn's and scikit-learn's data sets), with fixed seeds, so every
peer process builds the same float32 data and the same starting weights, and shuffles the rows in
the same order each epoch: epoch e takes the rows in `permutation(e, n)`, which is what symnn's
`fit(..., epochs=1, seed=EPOCH_SEED + e)` draws itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Epoch e is shuffled by np.random.default_rng(EPOCH_SEED + e).permutation(n).
EPOCH_SEED = 1000
#: The seed of the starting weights.
WEIGHT_SEED = 42


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    sizes: tuple[int, ...]  # layer widths, input first
    loss: str  # "bce" (binary cross-entropy on one logit) or "ce" (softmax cross-entropy)
    optimizer: str  # "adam" or "sgd" (SGD with momentum)
    lr: float
    batch: int
    momentum: float = 0.0

    @property
    def layers(self) -> list[tuple[int, int]]:
        """(n_in, n_out) of each dense layer."""
        return list(zip(self.sizes[:-1], self.sizes[1:]))

    def describe(self) -> str:
        arch = "-".join(str(s) for s in self.sizes)
        opt = f"Adam lr {self.lr:g}" if self.optimizer == "adam" else \
            f"SGD momentum {self.momentum:g} lr {self.lr:g}"
        loss = "binary cross-entropy on logits" if self.loss == "bce" else "softmax cross-entropy"
        return f"MLP {arch}, ReLU, {loss}; {opt}; batch {self.batch}"


WORKLOADS: dict[str, Workload] = {
    "w1": Workload("w1", "tiny (two moons, 4096 rows)", (2, 16, 16, 1), "bce", "adam", 0.01, 32),
    "w2": Workload("w2", "digits (1797 x 64)", (64, 128, 10), "ce", "adam", 0.001, 64),
    "w3": Workload("w3", "wide (16384 x 784, 10 classes)", (784, 512, 512, 10), "ce", "sgd", 0.01, 256,
                   momentum=0.9),
}


def data(key: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 C-contiguous, y int64 class labels) of a workload."""
    if key == "w1":
        from symnn import datasets

        ds = datasets.load("moons", n_samples=4096, seed=0)
        X, y = ds.X, ds.y
    elif key == "w2":
        from sklearn.datasets import load_digits

        d = load_digits()
        X, y = d.data / 16.0, d.target
    elif key == "w3":
        rng = np.random.default_rng(3)
        X = rng.standard_normal((16384, 784), dtype=np.float32)
        M = np.random.default_rng(4).standard_normal((784, 10)).astype(np.float32)
        y = np.argmax(X @ M, axis=1)
    else:
        raise KeyError(f"unknown workload {key!r}; choose one of {', '.join(WORKLOADS)}")
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)


def initial_weights(key: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (n_out, n_in), b (n_out,)), ...] float32: torch.nn.Linear's default init, drawn by NumPy."""
    return linear_init(WORKLOADS[key].sizes, WEIGHT_SEED)


def linear_init(sizes: tuple[int, ...], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """torch.nn.Linear's default init (uniform in +-1/sqrt(n_in)) of an MLP of these widths, float32,
    drawn by default_rng(seed): the workloads' weights, and benchmarks/matrix.py's."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(n_in)
        W = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, n_out).astype(np.float32)
        out.append((W, b))
    return out


def permutation(epoch: int, n: int) -> np.ndarray:
    """The row order of epoch `epoch` (0 is the warm-up epoch)."""
    return np.random.default_rng(EPOCH_SEED + epoch).permutation(n)


def evaluate(key: str, params: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray, y: np.ndarray
             ) -> tuple[float, float]:
    """(mean training loss, training accuracy) of final weights, computed the same way for every peer."""
    h = X.astype(np.float64)
    for i, (W, b) in enumerate(params):
        h = h @ np.asarray(W, np.float64).T + np.asarray(b, np.float64)
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
    if WORKLOADS[key].loss == "bce":
        z = h[:, 0]
        loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
        acc = np.mean((z > 0) == (y == 1))
    else:
        m = h.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(h - m).sum(axis=1))
        loss = np.mean(lse - h[np.arange(len(y)), y])
        acc = np.mean(np.argmax(h, axis=1) == y)
    return float(loss), float(acc)


def matmuls(key: str, n: int) -> list[tuple[str, tuple[int, int], tuple[int, int], int]]:
    """The matrix products of one epoch: (what, shape of A, shape of B, how many times), A @ B.

    Per batch of m rows and layer (n_in, n_out): forward X W^T (m x n_in @ n_in x n_out), the weights'
    gradient G^T X (n_out x m @ m x n_in), and, except for the first layer, the inputs' gradient
    G W (m x n_out @ n_out x n_in). The last batch may be partial.
    """
    wl = WORKLOADS[key]
    full, rest = divmod(n, wl.batch)
    batches = [(wl.batch, full)] + ([(rest, 1)] if rest else [])
    out = []
    for m, count in batches:
        for li, (n_in, n_out) in enumerate(wl.layers):
            out.append((f"fwd{li}", (m, n_in), (n_in, n_out), count))
            out.append((f"dW{li}", (n_out, m), (m, n_in), count))
            if li > 0:
                out.append((f"dX{li}", (m, n_out), (n_out, n_in), count))
    return out


def flops_per_epoch(key: str, n: int) -> float:
    """2 m k n per product, summed over an epoch's products."""
    return float(sum(2 * a[0] * a[1] * b[1] * c for _, a, b, c in matmuls(key, n)))
