"""The error of symnn.vecmath: every one of the 2**32 float32 inputs, or 2**26 and more float64 ones.

float32 (the default): the reference is libm's float64 result rounded to float32 (correctly rounded
but for the rare double rounding). The error is the distance in units in the last place between the
result and the reference (adjacent float32 values are 1 apart, +0 and -0 are 0 apart); a result of the
wrong class (NaN for a number or the reverse, inf for a finite reference or the reverse, a zero of the
wrong sign) is counted apart and must not occur. Prints, per function, the largest error and the first
input where it is. About 20-40 s per function on one core.

--dtype float64: `--points` inputs (2**26 by default) spread evenly over all float64 bit patterns
(every exponent, both signs, subnormals, inf and NaN; each with random low mantissa bits), a quarter
as many again over 2**-30 <= |x| <= 64 where the functions are not trivially rounded, and the special
and boundary values. The reference is x86's long double (64-bit mantissa: expl, expm1l, logl, log1pl,
tanhl through NumPy; erf by its everywhere-positive series `2/sqrt(pi) exp(-x*x) sum 2**n x**(2n+1) /
(2n+1)!!` below 6, its asymptotic series above, checked against mpmath on 4096 inputs first).
Printed: the largest distance in ulps to the reference rounded to float64 (the bound MAX_ULP applies to
it), the largest error in ulps of the exact value (to about 0.05 ulp), and wrong-class results
against libm (NaN, +-inf, +-0 where libm gives them). About 10-40 s per function.

    .venv/bin/python benchmarks/vecmath_accuracy.py [exp log1p ...] [--libm] [--dtype float64] [--points N]

--libm also measures libm's own `math.*` (for float32 Numba's expf etc.) against the same reference.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from numba import njit

from symnn import vecmath
from symnn.vecmath import _bits, _float  # a float32's bits and back (compiled: bitcasts)
from symnn.vecmath_samples import samples64

REFERENCE = {"exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p,
             "tanh": math.tanh, "erf": math.erf}
CHUNK = 1 << 28  # inputs per compiled call
BLOCK = 4096  # results computed ahead, in one vectorised loop


@njit
def _ordered(b):
    """A float32's bits as an integer that counts ulps (+-0 are both 0)."""
    return np.int64(b) if b >= 0 else -np.int64(b & 0x7FFFFFFF)


def _checker(fn, ref):
    """A compiled loop over the inputs with bits lo..hi-1: (largest ulp error, its bits, wrong-class count)."""

    @njit(error_model="numpy")
    def check(lo, hi):
        worst, where, wrong = np.int64(-1), np.int64(-1), np.int64(0)
        block = np.empty(BLOCK, dtype=np.float32)
        for start in range(lo, hi, BLOCK):
            for j in range(BLOCK):  # vectorised, as in a kernel
                block[j] = fn(_float(start + j))
            for j in range(BLOCK):
                i = start + j
                x = _float(i)
                got = block[j]
                want = np.float32(ref(np.float64(x)))
                if (got != got) or (want != want):
                    if (got != got) != (want != want):
                        wrong += 1
                    continue
                if (math.isinf(got) or math.isinf(want)) and got != want:
                    wrong += 1
                    continue
                if got == 0 and want == 0 and math.copysign(1.0, got) != math.copysign(1.0, want):
                    wrong += 1
                    continue
                d = abs(_ordered(_bits(got)) - _ordered(_bits(want)))
                if d > worst:
                    worst, where = d, i
        return worst, where, wrong

    return check


def measure(name: str, fn) -> tuple[int, int, int, float]:
    """(largest ulp error, the bits of an input where it occurs, wrong-class results, seconds) over
    all 2**32 inputs."""
    check = _checker(fn, REFERENCE[name])
    check(0, 1)
    start = time.perf_counter()
    worst, worst_bits, wrong = -1, -1, 0
    for lo in range(0, 1 << 32, CHUNK):
        d, i, bad = check(lo, lo + CHUNK)
        wrong += bad
        if d > worst:
            worst, worst_bits = int(d), int(i)
    return worst, worst_bits, wrong, time.perf_counter() - start


# ---- float64 ---------------------------------------------------------------------------------------


LONG = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh}
LD = np.longdouble
TWO_OVER_SQRT_PI = LD("1.12837916709551257389615890312154517")  # in long double, not np.pi's float64


def erf_reference(x: np.ndarray) -> np.ndarray:
    """erf(x) in long double, to about 1e-18 relative: below 6 the series of positive terms
    2/sqrt(pi) exp(-x*x) sum 2**n x**(2n+1)/(2n+1)!!, from 6 on 1 - erfc(x) by erfc's asymptotic series."""
    a = np.abs(x.astype(LD))
    out = np.empty_like(a)
    low = a < 6
    v = a[low]
    v2 = v * v
    term = v.copy()
    total = v.copy()
    for n in range(400):
        term = term * (2 * v2) / (2 * n + 3)
        total = total + term
        if not np.any(term > total * LD(2.0 ** -70)):
            break
    else:
        raise RuntimeError("erf's series did not converge")
    out[low] = TWO_OVER_SQRT_PI * np.exp(-v2) * total
    v = a[~low]
    with np.errstate(over="ignore", under="ignore"):
        w = 1 / (2 * v * v)
        tail = TWO_OVER_SQRT_PI / 2 * np.exp(-v * v) / v * (1 - w * (1 - 3 * w * (1 - 5 * w)))
    out[~low] = 1 - tail
    out[np.isnan(a)] = np.nan
    return np.where(x < 0, -out, out)


def erf_reference_error(points: int = 4096) -> float:
    """The largest difference, in float64 ulps, between erf_reference and mpmath's erf (80 bits)."""
    import mpmath

    mpmath.mp.prec = 80
    x = samples64(points, seed=1)
    x = x[np.isfinite(x)]
    ref = erf_reference(x)
    exact = np.array([mpmath.erf(v) for v in x.tolist()])
    diff = np.array([float(abs(mpmath.mpf(str(r)) - e)) for r, e in zip(ref, exact)], dtype=LD)
    return float(np.max(diff / ulp64(ref)))


def reference64(name: str, x: np.ndarray) -> np.ndarray:
    """The long double reference of `name` at the float64 inputs x."""
    with np.errstate(all="ignore"):
        return erf_reference(x) if name == "erf" else LONG[name](x.astype(LD))


def ulp64(ref: np.ndarray) -> np.ndarray:
    """The ulp of the float64 binade that ref (long double) lies in; 2**-1074 below the normals."""
    _, e = np.frexp(ref)
    return np.ldexp(LD(1), np.maximum(e - 53, -1074))


def ordered64(a: np.ndarray) -> np.ndarray:
    """float64 bits as integers that count ulps (+-0 are both 0)."""
    b = a.view(np.int64)
    return np.where(b < 0, -(b & 0x7FFFFFFFFFFFFFFF), b)




def _loop64(fn):
    @njit(error_model="numpy")
    def loop(x, y):
        for i in range(x.shape[0]):
            y[i] = fn(x[i])
    return loop


def measure64(name: str, fn, x: np.ndarray, chunk: int = 1 << 22) -> dict:
    """The float64 errors of fn over x: max ulp distance to the reference rounded to float64 (and an
    input where it is), max error in ulps of the reference, wrong-class results against libm, seconds."""
    loop, libm = _loop64(fn), _loop64(REFERENCE[name])
    start = time.perf_counter()
    worst, worst_x, worst_exact, wrong = -1, np.nan, 0.0, 0
    for lo in range(0, x.size, chunk):
        xs = x[lo:lo + chunk]
        got, lib = np.empty_like(xs), np.empty_like(xs)
        loop(xs, got)
        libm(xs, lib)
        ref = reference64(name, xs)
        with np.errstate(all="ignore"):
            refd = ref.astype(np.float64)
        bad = np.isnan(got) != np.isnan(lib)
        bad |= (np.isinf(got) | np.isinf(lib)) & (got != lib) & ~np.isnan(lib)
        bad |= (got == 0) & (lib == 0) & (np.signbit(got) != np.signbit(lib))
        wrong += int(bad.sum())
        num = np.isfinite(refd) & np.isfinite(got)
        dist = np.abs(ordered64(got[num]) - ordered64(refd[num]))
        if dist.size:
            i = int(np.argmax(dist))
            if dist[i] > worst:
                worst, worst_x = int(dist[i]), float(xs[num][i])
            exact = np.abs(got[num].astype(LD) - ref[num]) / ulp64(ref[num])
            worst_exact = max(worst_exact, float(exact.max()))
    return {"ulp": worst, "x": worst_x, "exact": worst_exact, "wrong": wrong, "seconds": time.perf_counter() - start}


def main64(names: list[str], libm: bool, points: int) -> bool:
    """Prints the float64 table; True when a vecmath function is beyond MAX_ULP or of a wrong class."""
    x = samples64(points)
    print(f"float64, {x.size} inputs, ulp distance to the long double reference rounded to float64 "
          f"(bound: {vecmath.MAX_ULP}), and error in ulps of the exact value")
    failed = False
    if "erf" in names:
        print(f"erf's reference against mpmath: {erf_reference_error():.2g} ulp at most", flush=True)
    for name in names:
        rows = [(f"v{name}", vecmath.FUNCTIONS[name])] + ([(f"math.{name}", REFERENCE[name])] if libm else [])
        for label, fn in rows:
            m = measure64(name, fn, x)
            print(f"{label:11s} max {m['ulp']} ulp at x = {m['x']!r} (exact: {m['exact']:.3f} ulp); "
                  f"wrong class: {m['wrong']}; {m['seconds']:.0f} s", flush=True)
            if label.startswith("v") and (m["ulp"] > vecmath.MAX_ULP or m["wrong"]):
                failed = True
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"of {list(vecmath.FUNCTIONS)} (default: all)")
    parser.add_argument("--libm", action="store_true", help="also measure Numba's float32 math.* (libm)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--points", type=int, default=1 << 26, help="float64: inputs spread over all bit patterns")
    args = parser.parse_args(argv)
    for name in args.names:
        if name not in vecmath.FUNCTIONS:
            parser.error(f"unknown function {name!r}; choose from {', '.join(vecmath.FUNCTIONS)}")
    if args.dtype == "float64":
        return 1 if main64(args.names or list(vecmath.FUNCTIONS), args.libm, args.points) else 0
    print(f"float32, all 2**32 inputs, ulp distance to libm float64 rounded to float32 (bound: {vecmath.MAX_ULP})")
    failed = False
    for name in args.names or list(vecmath.FUNCTIONS):
        rows = [(f"v{name}", vecmath.FUNCTIONS[name])]
        if args.libm:
            rows.append((f"math.{name}", REFERENCE[name]))
        for label, fn in rows:
            worst, bits, wrong, secs = measure(name, fn)
            x = float(np.uint32(bits).view(np.float32))
            print(f"{label:11s} max {worst} ulp at x = {x!r} ({bits:#010x}); "
                  f"wrong class: {wrong}; {secs:.0f} s", flush=True)
            if label.startswith("v") and (worst > vecmath.MAX_ULP or wrong):
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
