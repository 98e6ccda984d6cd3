"""W3's training step at 2 threads, four designs side by side in one process, epochs interleaved:

- `blas-threads` (the fused loop's design): every matrix product on NumPy's OpenBLAS with its own 2 threads,
  the elementwise sweeps (bias and ReLU, ReLU's gradient, the bias gradients, SGD momentum) serial;
- `one-pool`: OpenBLAS single-threaded, and Numba's pool (`prange` over two halves) runs everything:
  each product split in two (by rows or by columns of its output), each sweep split in two;
- `blas-on-pool`: OpenBLAS splits its products as it does for 2 threads, but runs the parts on Numba's
  pool (`openblas_set_threads_callback_function`, OpenBLAS 0.3.27+), where the sweeps run split in two.
  OpenBLAS's own worker then sleeps, so nothing spins against Numba's worker;
- `pool-serial`: as `blas-on-pool` with the sweeps serial: what the callback alone changes.

    taskset -c 0,1 python benchmarks/threads_w3.py [--split mmm] [--epochs 16]

`--split`: for the forward, weight-gradient and input-gradient products, `m` splits the output's rows
between the two threads, `n` its columns. A step here is W3's shapes (784-512-512-10, batch 256, float32)
on fixed rows, without the loss (a stand-in gradient): a design experiment, not symnn's loop. Prints
each design's median ms per 64-step epoch and, for the other three, the median of the per-epoch ratios
(> 1: faster than blas-threads). OpenBLAS has one callback per process: it is set only around the
`blas-on-pool` and `pool-serial` epochs. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import cfunc, njit, prange, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from symnn.runtime import blas  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# the SGD-momentum sweep, serial and in two halves on Numba's pool
from parallel_sweep import prange_call as sgd_momentum_halves  # noqa: E402
from parallel_sweep import serial as sgd_momentum  # noqa: E402

SGEMM, _ = blas.external_gemm("threads_w3_sgemm", "threads_w3_dgemm")
ROW_MAJOR, NT, TR = 101, 111, 112
LAYERS = np.array([784, 512, 512, 10])
BATCH, STEPS = 256, 64


@njit(nogil=True)
def product(ta, tb, m, n, k, a, a_at, lda, b, b_at, ldb, c, c_at, ldc):
    """c[c_at:] (m x n, row stride ldc) = op(a[a_at:]) op(b[b_at:]), on OpenBLAS."""
    SGEMM(ROW_MAJOR, ta, tb, m, n, k, np.float32(1), a.ctypes.data + 4 * a_at, lda,
          b.ctypes.data + 4 * b_at, ldb, np.float32(0), c.ctypes.data + 4 * c_at, ldc)


@njit(nogil=True, parallel=True)
def product_halves(ta, tb, m, n, k, a, lda, b, ldb, c, by_rows):
    for q in prange(2):
        if by_rows:
            h = (m + 1) // 2
            lo, hi = q * h, min(q * h + h, m)
            product(ta, tb, hi - lo, n, k, a, lo * lda if ta == NT else lo, lda, b, 0, ldb, c, lo * n, n)
        else:
            h = (n + 1) // 2
            lo, hi = q * h, min(q * h + h, n)
            product(ta, tb, m, hi - lo, k, a, 0, lda, b, lo if tb == NT else lo * ldb, ldb, c, lo, n)


@intrinsic
def _call_job(typingctx, job, i, data, arg):
    """OpenBLAS's `dojob(i, data, arg)`, job and data as addresses."""
    def codegen(context, builder, sig, args):
        i32, bytes_ptr = ir.IntType(32), ir.IntType(8).as_pointer()
        fn = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), [i32, bytes_ptr, i32]).as_pointer())
        builder.call(fn, [args[1], builder.inttoptr(args[2], bytes_ptr), args[3]])
        return context.get_dummy_value()
    return types.void(types.intp, types.int32, types.intp, types.int32), codegen


@njit(nogil=True, parallel=True)
def _run_jobs(job, n_jobs, size, data, arg):
    for i in prange(n_jobs):  # all at once: OpenBLAS's parts of one product wait for one another
        _call_job(job, np.int32(i), data + i * size, arg)


@cfunc(types.void(types.int32, types.intp, types.int32, types.intp, types.intp, types.int32), nopython=True)
def _blas_on_pool(sync, job, n_jobs, size, data, arg):
    """OpenBLAS's threads callback: its n_jobs parts of a call, on Numba's pool."""
    _run_jobs(job, n_jobs, size, data, arg)


@njit(nogil=True, error_model="numpy")
def bias_relu(z, b, a):
    for r in range(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[r, j] + b[j]
            z[r, j] = v
            a[r, j] = v if v > 0 else np.float32(0)


@njit(nogil=True, error_model="numpy")
def relu_backward(z, g, gz):
    for i in range(z.shape[0]):
        gz[i] = np.float32(0) if z[i] <= 0 else g[i]


@njit(nogil=True, error_model="numpy")
def column_sums(g, out, lo, hi):
    for j in range(lo, hi):
        out[j] = 0
    for r in range(g.shape[0]):
        for j in range(lo, hi):
            out[j] += g[r, j]


@njit(nogil=True, error_model="numpy", parallel=True)
def bias_relu_halves(z, b, a):
    h = (z.shape[0] + 1) // 2
    for q in prange(2):
        bias_relu(z[q * h:q * h + h], b, a[q * h:q * h + h])


@njit(nogil=True, error_model="numpy", parallel=True)
def relu_backward_halves(z, g, gz):
    h = (z.shape[0] + 1) // 2
    for q in prange(2):
        relu_backward(z[q * h:q * h + h], g[q * h:q * h + h], gz[q * h:q * h + h])


@njit(nogil=True, error_model="numpy", parallel=True)
def column_sums_halves(g, out):
    h = (g.shape[1] + 1) // 2
    for q in prange(2):
        column_sums(g, out, q * h, min(q * h + h, g.shape[1]))


@njit(nogil=True, error_model="numpy")
def epoch(X, W, bias, buf, GW, GB, Z, A, GZ, GA, lr, mom, L, B, one_pool, split, split_sweeps):
    """One epoch; `one_pool`: the products split here; `split_sweeps`: the sweeps on Numba's pool."""
    for s in range(STEPS):
        x = X[s * B:(s + 1) * B]
        for i in range(3):
            inp = x if i == 0 else A[i - 1]
            if one_pool:
                product_halves(NT, TR, B, L[i + 1], L[i], inp.ravel(), L[i], W[i].ravel(), L[i], Z[i].ravel(), split[0])
            else:
                product(NT, TR, B, L[i + 1], L[i], inp, 0, L[i], W[i], 0, L[i], Z[i], 0, L[i + 1])
            if i < 2:
                if split_sweeps:
                    bias_relu_halves(Z[i], bias[i], A[i])
                else:
                    bias_relu(Z[i], bias[i], A[i])
        for r in range(B):  # a stand-in for the loss's gradient
            for j in range(L[3]):
                GZ[2][r, j] = Z[2][r, j] * np.float32(1e-3)
        for i in range(2, -1, -1):
            inp = x if i == 0 else A[i - 1]
            if one_pool:
                product_halves(TR, NT, L[i + 1], L[i], B, GZ[i].ravel(), L[i + 1], inp.ravel(), L[i], GW[i].ravel(),
                               split[1])
            else:
                product(TR, NT, L[i + 1], L[i], B, GZ[i], 0, L[i + 1], inp, 0, L[i], GW[i], 0, L[i])
            if split_sweeps:
                column_sums_halves(GZ[i], GB[i])
            else:
                column_sums(GZ[i], GB[i], 0, L[i + 1])
            if i > 0:
                if one_pool:
                    product_halves(NT, NT, B, L[i], L[i + 1], GZ[i].ravel(), L[i + 1], W[i].ravel(), L[i],
                                   GA[i - 1].ravel(), split[2])
                else:
                    product(NT, NT, B, L[i], L[i + 1], GZ[i], 0, L[i + 1], W[i], 0, L[i], GA[i - 1], 0, L[i])
                if split_sweeps:
                    relu_backward_halves(Z[i - 1].ravel(), GA[i - 1].ravel(), GZ[i - 1].ravel())
                else:
                    relu_backward(Z[i - 1].ravel(), GA[i - 1].ravel(), GZ[i - 1].ravel())
            if split_sweeps:
                sgd_momentum_halves(W[i].ravel(), GW[i].ravel(), buf[i].ravel(), lr, mom)
            else:
                sgd_momentum(W[i].ravel(), GW[i].ravel(), buf[i].ravel(), lr, mom)


def network(rng: np.random.Generator) -> tuple:
    L = LAYERS
    W = tuple(rng.standard_normal((L[i + 1], L[i]), dtype=np.float32) * np.float32(0.03) for i in range(3))

    def rows(i: int) -> np.ndarray:
        return np.empty((BATCH, L[i + 1]), np.float32)

    return (W, tuple(np.zeros(L[i + 1], np.float32) for i in range(3)), tuple(np.zeros_like(w) for w in W),
            tuple(np.zeros_like(w) for w in W), tuple(np.zeros(L[i + 1], np.float32) for i in range(3)),
            tuple(rows(i) for i in range(3)), tuple(rows(i) for i in range(2)), tuple(rows(i) for i in range(3)),
            tuple(rows(i) for i in range(2)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="mmm", help="m or n for the forward, weight-gradient and input-gradient products")
    ap.add_argument("--epochs", type=int, default=16, help="timed epochs per design")
    args = ap.parse_args(argv)
    split = tuple(c == "m" for c in args.split)
    lib = blas.numpy_openblas()
    try:
        set_threads = ctypes.CFUNCTYPE(None, ctypes.c_int)(("scipy_openblas_set_num_threads64_", lib))
        set_callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(("scipy_openblas_set_threads_callback_function64_", lib))
    except (AttributeError, TypeError):
        raise SystemExit("threads_w3.py needs NumPy's bundled OpenBLAS, 0.3.27 or later (its threads callback)") from None
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH * STEPS, LAYERS[0]), dtype=np.float32)
    nets = {name: network(rng) for name in ("blas-threads", "one-pool", "blas-on-pool", "pool-serial")}
    lr, mom = np.float32(1e-4), np.float32(0.9)

    def run(name: str) -> float:
        one_pool, on_pool = name == "one-pool", name in ("blas-on-pool", "pool-serial")
        set_threads(1 if one_pool else 2)
        set_callback(_blas_on_pool.address if on_pool else None)
        try:
            t = time.perf_counter()
            epoch(X, *nets[name], lr, mom, LAYERS, BATCH, one_pool, split, name in ("one-pool", "blas-on-pool"))
            return time.perf_counter() - t
        finally:
            set_callback(None)

    for name in nets:
        run(name)  # compile, warm up
    times: dict[str, list[float]] = {name: [] for name in nets}
    for e in range(args.epochs):
        for name in list(nets)[:: 1 if e % 2 else -1]:
            times[name].append(run(name))
    print(f"split {args.split}, medians of {args.epochs} epochs: " + ", ".join(
        f"{name} {statistics.median(t) * 1e3:.1f} ms" for name, t in times.items()))
    for name in ("one-pool", "blas-on-pool", "pool-serial"):
        ratios = [a / b for a, b in zip(times["blas-threads"], times[name])]
        q1, med, q3 = np.percentile(ratios, [25, 50, 75])
        print(f"  blas-threads / {name} per epoch: median {med:.2f}x (quartiles {q1:.2f}-{q3:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
