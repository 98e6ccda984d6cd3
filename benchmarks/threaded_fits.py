"""Fits in threads run at once: the fused loop releases the GIL (`nogil`), so two fits in two threads
take less than twice one fit's time.

    taskset -c 0,1 python benchmarks/threaded_fits.py [--epochs 30] [--rounds 5]

Digits (1797 x 64), MLP 64-128-10 ReLU, softmax cross-entropy, Adam lr 1e-3, batch 64, float32,
OpenBLAS at one thread. Each round fits two models one after the other, then two other models in a
ThreadPoolExecutor(2); prints the medians and their ratio (2.0x would be perfect scaling on two
cores). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # one core per fit: before NumPy is imported

import numpy as np  # noqa: E402

import symnn  # noqa: E402
from symnn import datasets  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    ds = datasets.load("digits")
    X, y = ds.X.astype(np.float32), ds.y
    models = [symnn.Sequential([symnn.Dense(64, 128), symnn.Activation("relu"), symnn.Dense(128, 10)],
                               loss="cross_entropy", dtype="float32", seed=s) for s in range(4)]

    def fit(model: symnn.Sequential) -> None:
        model.fit(X, y, optimizer=symnn.Adam(lr=1e-3), epochs=args.epochs, batch_size=64, verbose=False, seed=0)

    fit(models[0])  # compile or load the loop
    one_by_one, threaded = [], []
    with ThreadPoolExecutor(2) as pool:
        for _ in range(args.rounds):
            t = time.perf_counter()
            for model in models[:2]:
                fit(model)
            one_by_one.append(time.perf_counter() - t)
            t = time.perf_counter()
            list(pool.map(fit, models[2:]))
            threaded.append(time.perf_counter() - t)
    a, b = statistics.median(one_by_one), statistics.median(threaded)
    print(f"two fits of {args.epochs} epochs: one after the other {a * 1e3:.0f} ms, in two threads {b * 1e3:.0f} ms "
          f"({a / b:.2f}x; medians of {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
