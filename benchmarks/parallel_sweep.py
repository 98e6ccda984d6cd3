"""Whether the fused loop's elementwise sweeps gain from threads: an SGD-momentum update on the sizes of
W3's layers (784x512+512, 512x512+512, 512x10+10 values), serial against two `prange` forms, alone and
right after a matrix product on NumPy's OpenBLAS with two threads (as in the fused loop, where every
sweep follows a product).

    python benchmarks/parallel_sweep.py [--after none,gemm] [--calls 200]   # on 2 cores: taskset -c 0,1

Forms:
- `serial`: the loop, as the fused loop has it inlined;
- `prange-loop`: `prange` over chunks with the loop inside the parallel body. Numba compiles that body
  without vectorising it (scalar loads and stores), so it is several times slower even on one thread;
- `prange-call`: `prange` over two halves, each calling the serial function on its slices (vectorised).

`--after gemm`: before every timed sweep, one W3 forward product (256x784 by 784x512) on NumPy's
OpenBLAS with 2 threads, untimed. OpenBLAS's worker thread spins for a while after each product, so
Numba's worker must take the second core from it.

Prints the median (and minimum) microseconds per sweep of 7 rounds, the forms alternated, and Numba's
threading layer. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time

import numba
import numpy as np
from numba import njit, prange

from symnn.runtime import blas
from symnn.runtime.fused.intrinsics import NO_TRANS, TRANS, blas_gemm


@njit(nogil=True, error_model="numpy")
def serial(p, g, b, lr, mom):
    for i in range(p.shape[0]):
        v = mom * b[i] + g[i]
        b[i] = v
        p[i] = p[i] - lr * v


@njit(nogil=True, error_model="numpy", parallel=True)
def prange_loop(p, g, b, lr, mom):
    n = p.shape[0]
    chunk = 16384
    for c in prange((n + chunk - 1) // chunk):
        lo = c * chunk
        hi = min(lo + chunk, n)
        for i in range(lo, hi):
            v = mom * b[i] + g[i]
            b[i] = v
            p[i] = p[i] - lr * v


@njit(nogil=True, error_model="numpy", parallel=True)
def prange_call(p, g, b, lr, mom):
    n = p.shape[0]
    half = (n + 1) // 2
    for c in prange(2):
        lo = c * half
        hi = min(lo + half, n)
        serial(p[lo:hi], g[lo:hi], b[lo:hi], lr, mom)


@njit(nogil=True)
def product(x, w, y):
    """y = x w^T on NumPy's OpenBLAS (the fused loop's call of it)."""
    blas_gemm(NO_TRANS, TRANS, y.shape[0], y.shape[1], x.shape[1], x, x.shape[1], w, w.shape[1], y)


FORMS = {"serial": serial, "prange-loop": prange_loop, "prange-call": prange_call}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--after", default="none,gemm", help="none, gemm, or both (comma-separated)")
    ap.add_argument("--calls", type=int, default=200, help="sweeps per form per round")
    args = ap.parse_args(argv)
    lib = blas.numpy_openblas()
    if lib is not None:
        ctypes.CFUNCTYPE(None, ctypes.c_int)(("scipy_openblas_set_num_threads64_", lib))(2)
    rng = np.random.default_rng(0)
    x = rng.random((256, 784), dtype=np.float32)
    w = rng.random((512, 784), dtype=np.float32)
    y = np.empty((256, 512), np.float32)
    lr, mom = np.float32(0.01), np.float32(0.9)
    for after in args.after.split(","):
        print(f"after each sweep's product: {after}")
        for n in (401920, 262656, 131072, 5130):
            p, g, b = (rng.random(n, dtype=np.float32) for _ in range(3))
            for f in FORMS.values():
                f(p, g, b, lr, mom)
            product(x, w, y)
            times: dict[str, list[float]] = {name: [] for name in FORMS}
            for r in range(7):
                for name, f in list(FORMS.items())[:: 1 if r % 2 == 0 else -1]:
                    total = 0.0
                    for _ in range(args.calls):
                        if after == "gemm":
                            product(x, w, y)
                        t = time.perf_counter()
                        f(p, g, b, lr, mom)
                        total += time.perf_counter() - t
                    times[name].append(total / args.calls * 1e6)
            print(f"  {n:7d} float32 values: " + ", ".join(
                f"{k} {statistics.median(v):.1f} us (min {min(v):.1f})" for k, v in times.items()), flush=True)
    print(f"threading layer {numba.threading_layer()}, {numba.get_num_threads()} threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
