"""Whether the fused loop's elementwise sweeps gain from threads: an SGD-momentum update, serial against
Numba `prange` over chunks, on the sizes of W3's layers (784x512+512, 512x512+512, 512x10+10 values).

    OPENBLAS_NUM_THREADS=1 python benchmarks/parallel_sweep.py   # not pinned: the prange form may use every core

Prints the median (and minimum) microseconds per update of 7 x 200 calls, the two forms alternated,
and Numba's threading layer and thread count. Not run by the test suite.
"""

from __future__ import annotations

import statistics
import time

import numba
import numpy as np
from numba import njit, prange


@njit(nogil=True, error_model="numpy")
def serial(p, g, b, lr, mom):
    for i in range(p.shape[0]):
        v = mom * b[i] + g[i]
        b[i] = v
        p[i] = p[i] - lr * v


@njit(nogil=True, error_model="numpy", parallel=True)
def threaded(p, g, b, lr, mom):
    n = p.shape[0]
    chunk = 16384
    for c in prange((n + chunk - 1) // chunk):
        lo = c * chunk
        hi = min(lo + chunk, n)
        for i in range(lo, hi):
            v = mom * b[i] + g[i]
            b[i] = v
            p[i] = p[i] - lr * v


def main() -> int:
    rng = np.random.default_rng(0)
    lr, mom = np.float32(0.01), np.float32(0.9)
    for n in (401920, 262656, 5130, 131072):
        p, g, b = (rng.random(n, dtype=np.float32) for _ in range(3))
        serial(p, g, b, lr, mom)
        threaded(p, g, b, lr, mom)
        times: dict[str, list[float]] = {"serial": [], "prange": []}
        for r in range(7):
            for name, f in (("serial", serial), ("prange", threaded))[:: 1 if r % 2 == 0 else -1]:
                t = time.perf_counter()
                for _ in range(200):
                    f(p, g, b, lr, mom)
                times[name].append((time.perf_counter() - t) / 200 * 1e6)
        print(f"{n:7d} float32 values: " + ", ".join(
            f"{k} {statistics.median(v):.1f} us (min {min(v):.1f})" for k, v in times.items()))
    print(f"threading layer {numba.threading_layer()}, {numba.get_num_threads()} threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
