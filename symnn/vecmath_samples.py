"""The float64 inputs symnn.vecmath's error bound is checked on: dense samples over the whole range
and the special values (benchmarks/vecmath_accuracy.py checks 84 million of them; tests/test_vecmath.py
fewer). Not imported by training."""

from __future__ import annotations

import numpy as np

#: float64 inputs where libm's result is exact or at a boundary: zeros, infinities, NaN, the smallest and
#: largest numbers, exp's overflow and underflow thresholds, log's poles, the forms' interval ends.
SPECIAL64 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
                      -2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
                      -1.7976931348623157e308, 709.782712893384, 709.7827128933841, 710.0, -708.3964185322641,
                      -745.1332191019411, -745.1332191019412, -746.0, -37.5, -40.0, 36.7, 37.5, 1.0, -1.0,
                      -0.9999999999999999, -1.0000000000000002, 0.5, 2.0 ** -28, 2.0 ** -54, 0.625, 22.0,
                      0.84375, 0.8437499999999999, 1.25, 2.857142857142857, 5.92, 6.0, 0.34657359027997264, 1.0397207708399179,
                      0.41421356237309503, -0.2928932188134524])


def samples64(points: int, seed: int = 0) -> np.ndarray:
    """`points` bit patterns evenly over all 2**64 (random low bits), points/4 over 2**-30 <= |x| <= 64
    (both signs), and SPECIAL64."""
    rng = np.random.default_rng(seed)
    step = (1 << 64) // points
    whole = (np.arange(points, dtype=np.uint64) * np.uint64(step)
             + rng.integers(0, step, points, dtype=np.uint64)).view(np.float64)
    lo, hi = np.float64(2.0 ** -30).view(np.int64), np.float64(64.0).view(np.int64)
    dense = rng.integers(lo, hi, points // 4, dtype=np.int64).view(np.float64)
    dense[1::2] *= -1
    return np.concatenate([whole, dense, SPECIAL64])
