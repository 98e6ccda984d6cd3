"""The fused loop's matrix products, one by one: OpenBLAS, the small kernel, `gemm`'s choice, and XLA.

    OPENBLAS_NUM_THREADS=1 taskset -c 1 python benchmarks/small_products.py [--nets base,w2,w3]
        [--batches 32,256,4096] [--dtypes float32,float64] [--rounds 9] [--ms 3] [--no-jax]

For each network (the matrix's base network 2-16-16-1, which is also W1's; W2 64-128-10; W3
784-512-512-10), batch size and dtype, every product the fused loop runs per step: per dense layer
(n_in, n_out) the forward X W^T (NO_TRANS, TRANS), the weight gradient G^T X (TRANS, NO_TRANS) and,
from the second layer on, the input gradient G W (NO_TRANS, NO_TRANS). Each is timed four ways, in
ns per call: `blas` (the `blas_gemm` intrinsic: NumPy's OpenBLAS, as the loop called it before),
`kernel` (the `small_product` intrinsic; "-" where X W^T's W does not fit its buffer), `gemm` (the
loop's intrinsic, which picks one of the two by `kernel_takes`: the `uses` column) each called from
an njit function in a loop, so a call costs what it costs in the loop, and `xla`
(`jax.jit` of the same product, called from Python: its dispatch, ~5 us, included; for reference).
Each round times every method once (the order reversed every other round) for about `--ms`
milliseconds; printed are the medians over the rounds and blas/kernel, the median of the rounds'
paired ratios (> 1: the kernel is faster). Under each block, the sums over the step (the kernel's
counted at OpenBLAS's time where it does not apply).
Not run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from symnn.runtime.fused.intrinsics import NO_TRANS, SCRATCH, TRANS, blas_gemm, gemm, kernel_takes, small_product  # noqa: E402

NETS = {"base": (2, 16, 16, 1), "w2": (64, 128, 10), "w3": (784, 512, 512, 10)}
METHODS = ("blas", "kernel", "gemm", "xla")


def _timer(product):
    @njit(error_model="numpy")
    def run(trans_a, trans_b, a, b, c, reps):
        m, n = c.shape
        k = a.shape[0] if trans_a == TRANS else a.shape[1]
        for _ in range(reps):
            product(trans_a, trans_b, m, n, k, a, a.shape[1], b, b.shape[1], c)
    return run


TIMERS = {"blas": _timer(blas_gemm), "kernel": _timer(small_product), "gemm": _timer(gemm)}


def products(sizes: tuple[int, ...], m: int) -> list[tuple[str, bool, bool, tuple, tuple]]:
    """(name, trans_a, trans_b, a's shape, b's shape) of one step's products, in the loop's layouts."""
    out = []
    for li, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append((f"L{li} X W^T", False, True, (m, n_in), (n_out, n_in)))
        out.append((f"L{li} G^T X", True, False, (m, n_out), (m, n_in)))
        if li > 0:
            out.append((f"L{li} G W", False, False, (m, n_out), (n_out, n_in)))
    return out


def _jax_product(trans_a: bool, trans_b: bool, a: np.ndarray, b: np.ndarray):
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x, y: jnp.dot(x.T if trans_a else x, y.T if trans_b else y))
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    f(ja, jb).block_until_ready()

    def run(reps: int) -> None:
        for _ in range(reps):
            r = f(ja, jb)
        r.block_until_ready()
    return run


def time_product(trans_a: bool, trans_b: bool, a: np.ndarray, b: np.ndarray, rounds: int, ms: float,
                 with_jax: bool) -> dict[str, float | None]:
    """Median ns per call of each method (None where it does not apply), and the paired blas/kernel ratio."""
    ta, tb = (np.int32(TRANS if t else NO_TRANS) for t in (trans_a, trans_b))
    shape = (a.shape[1] if trans_a else a.shape[0], b.shape[0] if trans_b else b.shape[1])
    k = a.shape[0] if trans_a else a.shape[1]
    runs = {}
    for name, timer in TIMERS.items():
        if name == "kernel" and trans_b and shape[1] * k > SCRATCH:
            continue
        c = np.empty(shape, a.dtype)
        runs[name] = (lambda timer, c: lambda reps: timer(ta, tb, a, b, c, reps))(timer, c)
    if with_jax:
        runs["xla"] = _jax_product(trans_a, trans_b, a, b)
    reps = {}
    for name, run in runs.items():
        run(1)
        t, r = time.perf_counter(), 1
        while time.perf_counter() - t < ms / 4e3:
            run(r)
            r *= 2
        reps[name] = max(1, int(r * ms / 1e3 / max(time.perf_counter() - t, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            runs[name](reps[name])
            times[name].append((time.perf_counter() - t) / reps[name] * 1e9)
    out: dict[str, float | None] = {name: float(np.median(times[name])) if name in times else None for name in METHODS}
    out["ratio"] = (float(np.median(np.array(times["blas"]) / np.array(times["kernel"])))
                    if "kernel" in times else None)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nets", default="base,w2,w3")
    ap.add_argument("--batches", default="32,256,4096")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--ms", type=float, default=3.0, help="milliseconds per method and round")
    ap.add_argument("--no-jax", action="store_true")
    args = ap.parse_args(argv)
    if not args.no_jax:
        import jax

        jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.0f}"

    print("| net | batch | dtype | product | c | k | blas ns | kernel ns | gemm ns | uses | xla ns | blas/kernel |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for dtype in args.dtypes.split(","):
        for net in args.nets.split(","):
            for m in map(int, args.batches.split(",")):
                sums = dict.fromkeys(METHODS, 0.0)
                for name, trans_a, trans_b, sa, sb in products(NETS[net], m):
                    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
                    cm, cn = (sa[1] if trans_a else sa[0]), (sb[0] if trans_b else sb[1])
                    k = sa[0] if trans_a else sa[1]
                    r = time_product(trans_a, trans_b, a, b, args.rounds, args.ms, not args.no_jax)
                    uses = "kernel" if kernel_takes(trans_a, trans_b, cm, cn, k, np.dtype(dtype).itemsize) \
                        else "blas"
                    for method in METHODS:
                        sums[method] += r[method] if r[method] is not None else r["blas"] if method == "kernel" else 0
                    ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
                    print(f"| {net} | {m} | {dtype} | {name} | {cm}x{cn} | {k} | {fmt(r['blas'])} | {fmt(r['kernel'])} "
                          f"| {fmt(r['gemm'])} | {uses} | {fmt(r['xla'])} | {ratio} |", flush=True)
                print(f"| {net} | {m} | {dtype} | **the step's sum** | | | {fmt(sums['blas'])} | "
                      f"{fmt(sums['kernel'])} | {fmt(sums['gemm'])} | | {fmt(sums['xla']) if not args.no_jax else '-'} "
                      f"| {sums['blas'] / sums['gemm']:.2f}x (blas/gemm) |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
