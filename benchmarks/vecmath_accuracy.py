"""The float32 error of symnn.vecmath over every one of the 2**32 float32 inputs, in compiled code.

The reference is libm's float64 result rounded to float32 (correctly rounded but for the rare double
rounding). The error is the distance in units in the last place between the result and the reference
(adjacent float32 values are 1 apart, +0 and -0 are 0 apart); a result of the wrong class (NaN for a
number or the reverse, inf for a finite reference or the reverse, a zero of the wrong sign) is counted
apart and must not occur. Prints, per function, the largest error and the first input where it is.

    .venv/bin/python benchmarks/vecmath_accuracy.py [exp log1p ...] [--libm]

--libm also measures Numba's own float32 `math.*` (libm's expf etc.) against the same reference.
About 20-40 s per function on one core.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"of {list(vecmath.FUNCTIONS)} (default: all)")
    parser.add_argument("--libm", action="store_true", help="also measure Numba's float32 math.* (libm)")
    args = parser.parse_args(argv)
    print(f"float32, all 2**32 inputs, ulp distance to libm float64 rounded to float32 (bound: {vecmath.MAX_ULP})")
    failed = False
    for name in args.names or list(vecmath.FUNCTIONS):
        if name not in vecmath.FUNCTIONS:
            parser.error(f"unknown function {name!r}; choose from {', '.join(vecmath.FUNCTIONS)}")
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
