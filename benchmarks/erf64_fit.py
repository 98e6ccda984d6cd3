"""Fits the coefficients of symnn.vecmath's float64 erf (prints them as the constants vecmath.py holds).

Two pieces, as the float32 erf:
- |x| < 0.84375: erf(x) = x + x*P(x*x), P of degree 10, minimax in erf's relative error;
- 0.84375 <= |x| <= 6: erf(x) = 1 - exp(-x*x) * N(u)/D(u), u = |x| - 0.84375 (exact), N and D of
  degree 6 (D(0) = 1), minimax in erfc's absolute error (the error of 1 - erfc, which is at least
  0.77 there), so exp(x*x)*erfc(x) is fitted tightly near 0.84 and loosely near 6. erf is 1 in float64
  from 5.93 on. u starts at 0 where the accuracy is needed: N and D are then sums of terms of one
  sign there (about the middle, their terms cancel: 400 times D's value at 0.85, 50 ulp of erf).

Weighted minimax by Lawson's iteration on weighted least squares (the rational linearised by
Sanathanan and Koerner's iteration, dividing by the last D), in mpmath at 40 digits on Chebyshev
points. The coefficients are then rounded to float64 one by one, the lowest first, the rest refitted
with those already rounded fixed, so the rounding of each is partly made up by the others. Prints the
largest error before and after, in units of 2**-53 (half an ulp of the results just below 1, a
quarter ulp of those below 0.5 for the small piece's relative error). About a minute:

    .venv/bin/python benchmarks/erf64_fit.py
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 40

SMALL = mp.mpf(0.84375)  # below: the odd polynomial; from here: the exp form
HIGH = mp.mpf(6)
DEG_P, DEG_N, DEG_D = 10, 6, 6
UNIT = mp.mpf(2) ** -53


def chebyshev_points(a, b, n: int) -> list:
    return [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(0.5)) / n) for k in range(n)]


def lawson(rows, target, weight, fixed: dict, iters: int = 20):
    """Coefficients c minimising max_i weight[i]*|target[i] - sum_j c[j]*rows[i][j]|, c[j] = fixed[j]
    for j in fixed, by Lawson's iteration. Returns (the largest weighted error, c)."""
    n = len(rows[0])
    free = [j for j in range(n) if j not in fixed]
    lam = [mp.mpf(1)] * len(rows)
    best = None
    for _ in range(iters):
        a, b = mp.matrix(len(rows), len(free)), mp.matrix(len(rows), 1)
        for i, row in enumerate(rows):
            s = mp.sqrt(lam[i]) * weight[i]
            for k, j in enumerate(free):
                a[i, k] = row[j] * s
            b[i] = (target[i] - mp.fsum(fixed[j] * row[j] for j in fixed)) * s
        sol = mp.qr_solve(a, b)[0] if free else []
        c = [fixed[j] if j in fixed else sol[free.index(j)] for j in range(n)]
        err = [weight[i] * abs(target[i] - mp.fsum(cj * rj for cj, rj in zip(c, row))) for i, row in enumerate(rows)]
        if best is None or max(err) < best[0]:
            best = (max(err), c)
        total = mp.fsum(li * ei for li, ei in zip(lam, err))
        lam = [li * ei / total * len(rows) for li, ei in zip(lam, err)]
    return best


def fit_small(fixed: dict):
    """P's coefficients: erf(x)/x - 1 = P(x*x), weighted by x/erf(x) (erf's relative error)."""
    zs = chebyshev_points(mp.mpf(0), SMALL * SMALL, 120)
    xs = [mp.sqrt(z) for z in zs]
    target = [mp.erf(x) / x - 1 for x in xs]
    weight = [x / mp.erf(x) for x in xs]
    rows = [[z ** j for j in range(DEG_P + 1)] for z in zs]
    return lawson(rows, target, weight, fixed)


def fit_tail(fixed: dict, sk_iters: int = 8):
    """N's and D's coefficients (N0..N6, D1..D6): exp(x*x)*erfc(x) = N(u)/D(u), weighted by exp(-x*x)."""
    xs = chebyshev_points(SMALL, HIGH, 160)
    us = [x - SMALL for x in xs]
    f = [mp.erfc(x) * mp.exp(x * x) for x in xs]
    w = [mp.exp(-x * x) for x in xs]
    denominator = [mp.mpf(1)] * len(xs)
    best = None
    for _ in range(sk_iters):
        # N(u) - f*(D(u) - 1) = f, divided by the last D: the weights of the error N/D - f
        rows = [[u ** j / d for j in range(DEG_N + 1)] + [-fi * u ** j / d for j in range(1, DEG_D + 1)]
                for u, fi, d in zip(us, f, denominator)]
        target = [fi / d for fi, d in zip(f, denominator)]
        _, c = lawson(rows, target, w, fixed, iters=12)
        denominator = [1 + mp.fsum(c[DEG_N + j] * u ** j for j in range(1, DEG_D + 1)) for u in us]
        err = max(wi * abs(fi - mp.fsum(c[j] * u ** j for j in range(DEG_N + 1)) / d)
                  for u, fi, wi, d in zip(us, f, w, denominator))
        if min(denominator) <= 0:
            raise RuntimeError("D has a zero in the interval")
        if best is None or err < best[0]:
            best = (err, c)
    return best


def rounded_one_by_one(fit, n: int):
    """Round coefficient 0, refit the others, round 1, ...: (error before, error after, float64 values)."""
    fixed: dict = {}
    first, c = fit(fixed)
    for j in range(n):
        fixed[j] = mp.mpf(float(c[j]))
        if j + 1 < n:
            _, c = fit(fixed)
    last, _ = fit(fixed)
    return first, last, [float(fixed[j]) for j in range(n)]


def main() -> None:
    before, after, p = rounded_one_by_one(fit_small, DEG_P + 1)
    print(f"# P: erf's relative error {mp.nstr(before / UNIT, 3)} * 2**-53 fitted, {mp.nstr(after / UNIT, 3)} rounded")
    for j, v in enumerate(p):
        print(f"P64_{j} = D({v!r})")
    before, after, c = rounded_one_by_one(fit_tail, DEG_N + 1 + DEG_D)
    print(f"# N/D: erfc's absolute error {mp.nstr(before / UNIT, 3)} * 2**-53 fitted, {mp.nstr(after / UNIT, 3)} rounded")
    for j in range(DEG_N + 1):
        print(f"N64_{j} = D({c[j]!r})")
    for j in range(1, DEG_D + 1):
        print(f"D64_{j} = D({c[DEG_N + j]!r})")


if __name__ == "__main__":
    main()
