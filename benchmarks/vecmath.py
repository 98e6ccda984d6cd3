"""ms per 1M float32 or float64 elements, libm (`math.*`) against symnn.vecmath.

Each function alone (`y[i] = f(x[i])`), and forward+backward-like loops of silu, gelu, tanh and
sigmoid (the generated kernels' formulas, once with math.* and once with the v* functions). Best of
`--repeat` runs after a warm-up call, one thread, inputs normal(0, 3).

    .venv/bin/python benchmarks/vecmath.py [--n 1000000] [--repeat 30] [--dtypes float32,float64]

`--compile` instead times each loop's first compile in fresh processes (the median of `--runs`, the
libm and the vecmath loop alternated; these loops are not cached, so every process compiles all the
functions the loop calls): what a kernel calling them adds to a cold first fit.

    .venv/bin/python benchmarks/vecmath.py --compile [--runs 3] [--dtypes float64] [--only erf,gelu]
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time

import numpy as np
from numba import njit

from symnn import vecmath
from symnn.vecmath import verf, vexp, vtanh


def _elementwise(fn):
    @njit(error_model="numpy")
    def loop(x, y):
        for i in range(x.shape[0]):
            y[i] = fn(x[i])
    return loop


def _silu(exp):
    @njit(error_model="numpy")
    def silu(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            x = x_in[i]
            g = g_in[i]
            u = exp(-abs(x))
            if x >= T(0):
                y_out[i] = x / (u + T(1))
                g_out[i] = g * (u * x + u + T(1)) / (u * u + T(2) * u + T(1))
            else:
                y_out[i] = u * x / (u + T(1))
                g_out[i] = g * (u * u + u * x + u) / (u * u + T(2) * u + T(1))
    return silu


def _gelu(exp, erf):
    @njit(error_model="numpy")
    def gelu(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            x = x_in[i]
            y_out[i] = T(0.5) * x * (erf(T(0.7071067811865476) * x) + T(1))
            g_out[i] = g_in[i] * (T(0.3989422804014327) * x * exp(-T(0.5) * x * x)
                                  + T(0.5) * erf(T(0.7071067811865476) * x) + T(0.5))
    return gelu


def _tanh(tanh):
    @njit(error_model="numpy")
    def tanh_(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            y = tanh(x_in[i])
            y_out[i] = y
            g_out[i] = g_in[i] * (T(1) - y * y)
    return tanh_


def _sigmoid(exp):
    @njit(error_model="numpy")
    def sigmoid(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            y = T(1) / (T(1) + exp(-x_in[i]))
            y_out[i] = y
            g_out[i] = g_in[i] * y * (T(1) - y)
    return sigmoid


LIBM = {"exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p, "tanh": math.tanh,
        "erf": math.erf}


def cases() -> dict[str, tuple]:
    """name -> (libm loop, vecmath loop, number of array arguments)."""
    out = {name: (_elementwise(LIBM[name]), _elementwise(fn), 2) for name, fn in vecmath.FUNCTIONS.items()}
    out["silu fwd+bwd"] = (_silu(math.exp), _silu(vexp), 4)
    out["gelu fwd+bwd"] = (_gelu(math.exp, math.erf), _gelu(vexp, verf), 4)
    out["tanh fwd+bwd"] = (_tanh(math.tanh), _tanh(vtanh), 4)
    out["sigmoid fwd+bwd"] = (_sigmoid(math.exp), _sigmoid(vexp), 4)
    return out


def best_ms(fn, args, repeat: int) -> tuple[float, float]:
    """(compile seconds, best ms of `repeat` calls)."""
    start = time.perf_counter()
    fn(*args)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return compile_s, min(times) * 1e3


def _arrays(name: str, n_arrays: int, x: np.ndarray) -> list[np.ndarray]:
    inp = np.abs(x) + x.dtype.type(1e-3) if name in ("log", "log1p") else x  # in log's and log1p's domain
    if n_arrays == 2:
        return [inp, np.empty_like(inp)]
    return [inp, np.empty_like(inp), np.ones_like(inp), np.empty_like(inp)]


def compile_one(name: str, which: str, dtype: str) -> float:
    """Seconds of the first call (typing, lowering, LLVM) of one loop, in this process."""
    libm, vec, n_arrays = cases()[name]
    arrays = _arrays(name, n_arrays, np.linspace(-3, 3, 64).astype(dtype))
    start = time.perf_counter()
    (libm if which == "libm" else vec)(*arrays)
    return time.perf_counter() - start


def compile_times(names: list[str], dtypes: list[str], runs: int) -> None:
    """Prints each loop's median compile seconds over `runs` fresh processes, libm and vecmath."""
    for dtype in dtypes:
        print(f"{dtype}, s to compile a loop in a fresh process (median of {runs})")
        print(f"{'loop':16s} {'libm':>6s} {'vecmath':>8s}")
        for name in names:
            times: dict[str, list[float]] = {"libm": [], "vecmath": []}
            for run in range(runs):
                for which in (("libm", "vecmath") if run % 2 == 0 else ("vecmath", "libm")):
                    out = subprocess.run([sys.executable, __file__, "--compile-one", name, which, dtype],
                                         capture_output=True, text=True, check=True).stdout
                    times[which].append(float(out.split()[-1]))
            print(f"{name:16s} {statistics.median(times['libm']):6.2f} {statistics.median(times['vecmath']):8.2f}",
                  flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--compile", action="store_true", help="time each loop's compile in fresh processes")
    parser.add_argument("--runs", type=int, default=3, help="--compile: processes per loop and variant")
    parser.add_argument("--only", default="", help="comma-separated loop names (default: all)")
    parser.add_argument("--compile-one", nargs=3, metavar=("NAME", "WHICH", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile_one:
        print(f"{compile_one(*args.compile_one):.4f}")
        return
    loops = cases()
    if args.only:
        loops = {name: loops[name] for name in args.only.split(",")}
    if args.compile:
        compile_times(list(loops), args.dtypes.split(","), args.runs)
        return
    for dtype in args.dtypes.split(","):
        rng = np.random.default_rng(0)
        x = rng.normal(0, 3, args.n).astype(dtype)
        scale = 1e6 / args.n
        print(f"{dtype}, ms per 1M elements (n = {args.n}, best of {args.repeat}); compile s in brackets")
        print(f"{'loop':16s} {'libm':>14s} {'vecmath':>14s} {'speed-up':>8s}")
        for name, (libm, vec, n_arrays) in loops.items():
            arrays = _arrays(name, n_arrays, x)
            c_libm, t_libm = best_ms(libm, arrays, args.repeat)
            c_vec, t_vec = best_ms(vec, arrays, args.repeat)
            print(f"{name:16s} {t_libm * scale:7.3f} [{c_libm:4.2f}] {t_vec * scale:7.3f} [{c_vec:4.2f}] "
                  f"{t_libm / t_vec:7.1f}x", flush=True)


if __name__ == "__main__":
    main()
