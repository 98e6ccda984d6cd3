"""Rosenblatt's perceptron: step(w·x + b) with the generated step kernel, and the perceptron rule.

The rule is applied online, sample by sample: w <- w + lr (t - y) x, b <- b + lr (t - y). A sample that
is already classified correctly leaves w and b unchanged, so the epoch is vectorised over windows of
samples: the outputs of a whole window are computed with the current weights, and only the first
mistake in it is applied before looking again from the sample after it. That is exactly the
sample-by-sample rule, at the cost of one matrix-vector product per mistake rather than per sample.
"""

from __future__ import annotations

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime import kernels
from symnn.runtime.model import as_dtype

_step_forward = kernels.activation("step")[0]

_WINDOW = 256
"""How many samples ahead of the current one each vectorised look for the next mistake covers."""


class Perceptron:
    """A single neuron with a step activation, trained with the perceptron learning rule.

    The weights start at zero; `seed` drives the shuffled sample order of every epoch. `fit` continues
    from the current weights (set `w` and `b` to start elsewhere).
    """

    def __init__(self, n_in: int, lr: float = 1.0, seed: int = 0, dtype: str = "float64") -> None:
        if isinstance(n_in, bool) or not isinstance(n_in, (int, np.integer)) or n_in < 1:
            raise UserInputError(f"Perceptron(n_in={n_in!r}): n_in must be a positive integer")
        lr = float(lr)
        if not (np.isfinite(lr) and lr > 0):
            raise UserInputError(f"Perceptron lr must be a finite number > 0, not {lr!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise UserInputError(f"Perceptron seed must be an integer >= 0, not {seed!r}")
        self.n_in = int(n_in)
        self.lr = lr
        self.seed = int(seed)
        self.dtype = as_dtype(dtype)
        self.w: np.ndarray = np.zeros(self.n_in, dtype=self.dtype)
        self.b: float = 0.0
        self.converged = False
        self.epochs_run = 0
        self._rng = np.random.default_rng(self.seed)

    # --- inputs --------------------------------------------------------------------------------
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 1 and X.shape[0] == self.n_in:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise UserInputError(f"inputs have shape {X.shape}; the perceptron expects (n, {self.n_in})")
        if not np.issubdtype(X.dtype, np.number) and X.dtype != np.bool_:
            raise UserInputError(f"inputs have dtype {X.dtype}; give numeric features")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.isfinite(X).all():
            raise UserInputError("inputs contain NaN or infinite values; clean or drop those rows")
        return X

    def _labels(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or y.shape[0] != n:
            raise UserInputError(
                f"labels have shape {y.shape} for {n} input rows; give one 0/1 label per row")
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
            raise UserInputError(f"labels have dtype {y.dtype}; give 0/1 labels")
        bad = ~((y == 0) | (y == 1))
        if bad.any():
            shown = ", ".join(repr(v.item()) for v in np.unique(y[bad])[:3])
            raise UserInputError(f"labels must be 0 or 1, found {shown}; map the two classes to 0 and 1")
        return y.astype(self.dtype)

    def _weights(self) -> np.ndarray:
        w = np.asarray(self.w)
        if w.shape != (self.n_in,):
            raise UserInputError(f"w has shape {w.shape}; it must be ({self.n_in},)")
        if w.dtype != self.dtype or not w.flags.c_contiguous:
            self.w = w = np.ascontiguousarray(w, dtype=self.dtype)
        return w

    # --- inference -----------------------------------------------------------------------------
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """w·x + b for every row of X: shape (n,)."""
        return self._inputs(X) @ self._weights() + self.dtype.type(self.b)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """step(w·x + b) for every row: int64 labels 0/1 (step(0) = 0)."""
        z = np.ascontiguousarray(self.decision_function(X))
        out = np.empty_like(z)
        _step_forward(z, out)
        return out.astype(np.int64)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of rows whose predicted label equals y."""
        X = self._inputs(X)
        t = self._labels(y, X.shape[0])
        return float(np.mean(self.predict(X) == t)) if len(t) else float("nan")

    # --- training ------------------------------------------------------------------------------
    def _epoch(self, X: np.ndarray, T: np.ndarray, order: np.ndarray) -> int:
        """One online pass over X[order]; returns the number of mistakes (updates) made."""
        w = self.w
        lr = self.lr
        n = order.shape[0]
        out = np.empty(min(_WINDOW, n), dtype=self.dtype)
        mistakes = 0
        pos = 0
        while pos < n:
            idx = order[pos:pos + _WINDOW]
            m = idx.shape[0]
            z = np.ascontiguousarray(X[idx] @ w + self.dtype.type(self.b))
            _step_forward(z, out[:m])
            wrong = np.flatnonzero(out[:m] != T[idx])
            if wrong.size == 0:
                pos += m
                continue
            k = int(wrong[0])
            i = int(idx[k])
            err = float(T[i] - out[k])  # +1 or -1
            w += self.dtype.type(lr * err) * X[i]
            self.b += lr * err
            mistakes += 1
            pos += k + 1
        return mistakes

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 100, shuffle: bool = True) -> dict:
        """Apply the perceptron rule online for up to `epochs` passes; stop after a mistake-free one.

        Returns {"errors": mistakes per epoch, "converged": bool, "epochs_run": int}; `converged` and
        `epochs_run` are also kept as attributes.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise UserInputError(f"epochs must be an integer >= 0, not {epochs!r}")
        X = self._inputs(X)
        T = self._labels(y, X.shape[0])
        if X.shape[0] == 0:
            raise UserInputError("no training rows; give at least one (x, label) pair")
        self._weights()
        n = X.shape[0]
        errors: list[int] = []
        converged = False
        for _ in range(int(epochs)):
            order = self._rng.permutation(n) if shuffle else np.arange(n)
            errors.append(self._epoch(X, T, order))
            if errors[-1] == 0:
                converged = True
                break
        self.converged = converged
        self.epochs_run = len(errors)
        return {"errors": errors, "converged": converged, "epochs_run": len(errors)}

    def __repr__(self) -> str:
        return f"Perceptron(n_in={self.n_in}, lr={self.lr:g}, seed={self.seed}, dtype={self.dtype.name!r})"
