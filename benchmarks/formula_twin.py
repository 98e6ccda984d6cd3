"""A formula activation against its built-in twin, symnn alone: `x/(1 + exp(-x))` against `silu`.

    python benchmarks/formula_twin.py [--batch 32] [--dtype float32] [--epochs 200] [--formula TEXT --builtin NAME]

matrix.py's `formula / built-in` column times the two among JAX's peers, four fits interleaved, and
its cells' quartiles are wide. This script fits only the two: the base workload of matrix.py (4096
moons rows, 2-16-16-1, mse, Adam lr 0.01) with the formula and with the built-in, from the same
weights, one `fit(epochs=1)` per epoch each, alternating (A B, B A, ...); it prints each one's median
ms per epoch after 10 warm-up epochs and the median of the per-pair ratios formula / built-in
(the target: at most 1.15x). Pin it (`taskset -c 0`) and set OPENBLAS_NUM_THREADS=1. Not run by the
test suite.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--epochs", type=int, default=200, help="epochs per model (the first 10 are not counted)")
    ap.add_argument("--formula", default="x/(1 + exp(-x))")
    ap.add_argument("--builtin", default="silu")
    args = ap.parse_args(argv)

    import numpy as np

    import symnn

    ds = symnn.datasets.load("moons", n_samples=4096, seed=0)
    X = np.ascontiguousarray(ds.X, dtype=args.dtype)
    y = (3 * np.sin(2 * ds.X[:, 0]) + ds.X[:, 1]).astype(args.dtype).reshape(-1, 1)

    def model(activation: str) -> symnn.Sequential:
        return symnn.Sequential([symnn.Dense(2, 16), symnn.Activation(activation), symnn.Dense(16, 16),
                                 symnn.Activation(activation), symnn.Dense(16, 1)], loss="mse", dtype=args.dtype,
                                seed=0)

    models = {"formula": model(args.formula), "builtin": model(args.builtin)}
    optimizers = {k: symnn.Adam(lr=0.01) for k in models}
    times: dict[str, list[float]] = {k: [] for k in models}
    for e in range(args.epochs):
        for k in models if e % 2 else list(models)[::-1]:
            start = time.perf_counter()
            models[k].fit(X, y, optimizer=optimizers[k], epochs=1, batch_size=args.batch, verbose=False,
                          seed=1000 + e)
            times[k].append(time.perf_counter() - start)
    f, b = (np.array(times[k][10:]) for k in ("formula", "builtin"))
    print(f"{args.formula!r} against {args.builtin}, batch {args.batch}, {args.dtype}: formula "
          f"{np.median(f) * 1e3:.3f} ms, built-in {np.median(b) * 1e3:.3f} ms per epoch; formula / built-in "
          f"{np.median(f / b):.2f}x (quartiles {np.percentile(f / b, 25):.2f}-{np.percentile(f / b, 75):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
