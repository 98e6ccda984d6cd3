"""exp, expm1, log, log1p, tanh and erf for @njit loops: float32 and float64 forms that vectorise.

Numba lowers `math.exp(x)` to one call of libm's `exp` (`expf` for a float32) per element, so a loop
around it runs scalar. For a float32 or float64 argument, `vexp(x)` (and the others) computes instead
a branch-free form: range reduction by exact float arithmetic, a polynomial or rational function, a
power of two built from its bits, special values (+-0, subnormals, +-inf, NaN, overflow to inf,
underflow to 0) by selects. There is no call and no branch, so LLVM inlines it and vectorises the loop
(`<8 x float>`, `<4 x double>` on AVX2) without fastmath. Any other argument type calls `math.*`.

Error bound, at most `MAX_ULP` units in the last place of the correctly rounded result, and exactly
libm's class (NaN, +-inf, +-0) wherever libm gives one. float32: over all 2**32 inputs, against libm's
float64 result rounded to float32. float64: on 2**26 inputs spread over all bit patterns plus 2**24
where the functions are not trivially rounded and the boundary values, against a long double reference
(benchmarks/vecmath_accuracy.py --dtype float64; the largest errors are in benchmarks/README.md).
tests/test_vecmath.py checks both on dense samples.

float32: exp's polynomial is Cephes' `expf`, log's and log1p's FreeBSD's `logf` kernel (Lg1-Lg4, with
log1p's correction term c); tanh's small-argument one is Cephes' `tanhf`. erf's two were fitted here
(weighted least squares, coefficients rounded to float32 one by one, lower first, the rest refitted):
`x + x*P(x*x)` below 0.875, `1 - exp(-x*x)*Q(1/x - 0.6964286)` from there to 4 (erf is 1 beyond).
float64: exp and expm1 share FreeBSD's `e_exp.c` kernel (Remez R(r*r) = r*(e**r + 1)/(e**r - 1), r =
hi - lo), expm1 adding 2**n - 1 as FreeBSD's `s_expm1.c` does; log and log1p are FreeBSD's `e_log.c`
and `s_log1p.c` (Lg1-Lg7); tanh is Cephes' `tanh.c` (a rational below 0.625, 1 - 2/(e**2|x| + 1)
above), evaluated with fused multiply-adds (`_fma`, one rounding each) and one division for both forms,
where the others round every product and sum; erf's two were fitted here (benchmarks/erf64_fit.py, minimax, rounded as float32's):
`x + x*P(x*x)` below 0.84375, `1 - exp(-x*x)*N(u)/D(u)` (u = |x| - 0.84375) from there to 6.

With NUMBA_DISABLE_JIT=1 each function runs the same formula on NumPy scalars (a Python float is
taken as a float64).
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.extending import lower_builtin, overload, register_jitable, type_callable

#: The documented error bound, float32 and float64 (ulp of the correctly rounded result), per function.
MAX_ULP = 2

#: The compiled forms' options: 1/0 is inf inside them (no ZeroDivisionError check, which would be a
#: branch and a call in the loop), and they allocate nothing.
_JIT = {"error_model": "numpy", "_nrt": False}

F = np.float32


# ---- bits, and a select ---------------------------------------------------------------------------
# Python functions, typed and lowered straight to one LLVM instruction (a bitcast, a select) where
# compiled code calls them: no function of their own for Numba to compile per signature (an overload
# per helper and signature cost 20 ms each in every cold process).

def _bits(x):
    """The int32 whose bits are those of the float32 x."""
    return np.float32(x).view(np.int32)


def _float(i):
    """The float32 whose bits are those of the int32 i (i is truncated to 32 bits)."""
    return np.int32(i).view(np.float32)


def _bits64(x):
    """The int64 whose bits are those of the float64 x."""
    return np.float64(x).view(np.int64)


def _float64(i):
    """The float64 whose bits are those of the int64 i."""
    return np.int64(i).view(np.float64)


def _where(c, a, b):
    """a if c else b, as one `select` instruction when compiled (a conditional expression is a
    branch that LLVM does not always turn back into a select, and a branch stops vectorisation)."""
    return a if c else b


def _fma(a, b, c):
    """a*b + c rounded once (LLVM's `llvm.fma`: one FMA instruction where the CPU has it, as in a
    vector loop); in Python, the same correctly rounded value by exact rational arithmetic."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if exact == 0:  # a*b and c are zeros: their sum's sign is IEEE's (-0 only from -0 + -0)
        return a * b + c
    try:
        return type(c)(exact)
    except OverflowError:  # beyond the largest float: rounds to inf
        return type(c)(math.inf if exact > 0 else -math.inf)


def _bitcast(fn, source, target):
    """Compiled, fn(x) for an x of type `source` (an integer is first converted to it) is x's bits as a `target`."""

    @type_callable(fn)
    def _type(context):
        def typer(x):
            if x == source or (isinstance(source, types.Integer) and isinstance(x, types.Integer)):
                return target
        return typer

    @lower_builtin(fn, types.Number)
    def _lower(context, builder, sig, args):
        value = context.cast(builder, args[0], sig.args[0], source)
        return builder.bitcast(value, context.get_value_type(target))


_bitcast(_bits, types.float32, types.int32)
_bitcast(_float, types.int32, types.float32)
_bitcast(_bits64, types.float64, types.int64)
_bitcast(_float64, types.int64, types.float64)


@type_callable(_where)
def _type_where(context):
    def typer(c, a, b):
        if isinstance(c, types.Boolean) and a == b:
            return a
    return typer


@lower_builtin(_where, types.Boolean, types.Any, types.Any)
def _lower_where(context, builder, sig, args):
    return builder.select(args[0], args[1], args[2])


@type_callable(_fma)
def _type_fma(context):
    def typer(a, b, c):
        if isinstance(a, types.Float) and a == b == c:
            return a
    return typer


@lower_builtin(_fma, types.Float, types.Float, types.Float)
def _lower_fma(context, builder, sig, args):
    ty = args[0].type
    fn = builder.module.declare_intrinsic("llvm.fma", [ty], llvm_ir.FunctionType(ty, [ty, ty, ty]))
    return builder.call(fn, args)


# ---- constants ------------------------------------------------------------------------------------

ZERO, HALF, ONE, TWO = F(0), F(0.5), F(1), F(2)
INF, NAN = F(np.inf), F(np.nan)

# exp: x = n*ln2 + r, |r| <= ln2/2, ln2 = C1 + C2 with C1 short (n*C1 is exact); n rounded by MAGIC
LOG2E = F(1.4426950408889634)
C1, C2 = F(0.693359375), F(-2.12194440e-4)
MAGIC = F(12582912.0)  # 1.5 * 2**23: t + MAGIC - MAGIC rounds t to an integer
EXP_HI, EXP_LO = F(89.0), F(-104.0)  # e**89 overflows float32, e**-104 is below half its least subnormal
E0, E1, E2 = F(1.9875691500e-4), F(1.3981999507e-3), F(8.3334519073e-3)
E3, E4, E5 = F(4.1665795894e-2), F(1.6666665459e-1), F(5.0000001201e-1)
EXPM1_LO = F(-88.0)  # expm1 is -1 below; keeps 2**n normal

# log: x = 2**k * (1 + f), sqrt(2)/2 <= 1 + f < sqrt(2)
LN2_HI, LN2_LO = F(6.9313812256e-01), F(9.0580006145e-06)
LG1, LG2 = F(float.fromhex("0xaaaaaa.0p-24")), F(float.fromhex("0xccce13.0p-25"))
LG3, LG4 = F(float.fromhex("0x91e9ee.0p-25")), F(float.fromhex("0xf89e26.0p-26"))
SQRT_HALF_BITS = 0x3F3504F3
ONE_BITS = 0x3F800000
MIN_NORMAL = F(2.0 ** -126)
TWO25 = F(2.0 ** 25)
LOG1P_LO, LOG1P_HI = F(-0.29289321881), F(0.41421356237)  # log1p's f = x on this interval

# tanh: Cephes' odd polynomial below 0.625, 1 - 2/(e**2|x| + 1) above; tanh is 1 from 10 on
TANH_SMALL, TANH_HI, TANH_TINY = F(0.625), F(10.0), F(2.0 ** -12)
T0, T1, T2 = F(-5.70498872745e-3), F(2.06390887954e-2), F(-5.37397155531e-2)
T3, T4 = F(1.33314422036e-1), F(-3.33332819422e-1)

# erf: x + x*P(x*x) below 0.875, 1 - exp(-x*x)*Q(1/x - ERF_MID) up to 4, 1 beyond
ERF_SMALL, ERF_HI, ERF_MID = F(0.875), F(4.0), F(0.6964286)
P0, P1, P2, P3 = F(0.12837916612625122), F(-0.37612634897232056), F(0.1128372997045517), F(-0.026861734688282013)
P4, P5, P6 = F(0.005207561422139406), F(-0.0008223903714679182), F(8.742066711420193e-05)
Q0, Q1, Q2 = F(0.33239588141441345), F(0.35835427045822144), F(-0.1624554991722107)
Q3, Q4, Q5 = F(0.04832098260521889), F(0.0094990199431777), F(-0.03094211407005787)
Q6, Q7, Q8 = F(0.03149983286857605), F(-0.022060437127947807), F(0.008868720382452011)


# ---- float32 forms --------------------------------------------------------------------------------

@register_jitable(**_JIT)
def _reduce(x):
    """(n, r, p) with x = n*ln2 + r and e**r = 1 + r + r*r*p, for x clamped to [EXP_LO, EXP_HI]."""
    xc = _where(x < EXP_HI, x, EXP_HI)
    xc = _where(xc > EXP_LO, xc, EXP_LO)
    t = xc * LOG2E + MAGIC
    n = _bits(t) - _bits(MAGIC)
    nf = t - MAGIC
    r = (xc - nf * C1) - nf * C2
    p = ((((E0 * r + E1) * r + E2) * r + E3) * r + E4) * r + E5
    return n, r, p


@register_jitable(**_JIT)
def _exp_core(x):
    """e**x for x not NaN: 2**n as two normal factors, so subnormal results are rounded once."""
    n, r, p = _reduce(x)
    y = r * r * p + r + ONE
    n1 = n >> 1
    return y * _float((n1 + 127) << 23) * _float((n - n1 + 127) << 23)


@register_jitable(**_JIT)
def _exp32(x):
    return _where(x != x, x, _exp_core(x))


@register_jitable(**_JIT)
def _expm132(x):
    xc = _where(x > EXPM1_LO, x, EXPM1_LO)
    n, r, p = _reduce(xc)
    q = r * r * p + r  # e**r - 1
    big = n > 127  # e**x near the top of the range: 2**n is 2 * 2**127
    m = _where(big, n - 1, n)
    s = _float((m + 127) << 23)
    y = _where(big, (s * q + s) * TWO, s * q + (s - ONE))
    return _where(abs(x) > ZERO, y, x)  # x for NaN, +-0


@register_jitable(**_JIT)
def _log_kernel(f, k, c):
    """log(2**k * (1 + f)) + c for sqrt(2)/2 - 1 <= f < sqrt(2) - 1 (FreeBSD's logf)."""
    s = f / (TWO + f)
    z = s * s
    w = z * z
    R = z * (LG1 + w * LG3) + w * (LG2 + w * LG4)
    hfsq = HALF * f * f
    dk = F(k)
    return dk * LN2_HI - ((hfsq - (s * (hfsq + R) + (dk * LN2_LO + c))) - f)


@register_jitable(**_JIT)
def _split(x):
    """(k, f) with x = 2**k * (1 + f), sqrt(2)/2 <= 1 + f < sqrt(2), for a normal positive x."""
    ix = _bits(x) + (ONE_BITS - SQRT_HALF_BITS)
    k = (ix >> 23) - 127
    return k, _float((ix & 0x007FFFFF) + SQRT_HALF_BITS) - ONE


@register_jitable(**_JIT)
def _log32(x):
    sub = x < MIN_NORMAL
    k, f = _split(_where(sub, x * TWO25, x))
    y = _log_kernel(f, _where(sub, k - 25, k), ZERO)
    y = _where(x == INF, INF, y)
    y = _where(x == ZERO, -INF, y)
    y = _where(x < ZERO, NAN, y)
    return _where(x != x, x, y)


@register_jitable(**_JIT)
def _log1p32(x):
    u = ONE + x
    k, f = _split(u)
    # what rounding 1 + x lost, relative to u (FreeBSD's log1pf); nothing left to add from 2**25 on
    c = _where(k > 0, ONE - (u - x), x - (u - ONE)) / u
    c = _where(k < 25, c, ZERO)
    near = (x > LOG1P_LO) & (x < LOG1P_HI)  # 1 + x needs no splitting: f = x exactly
    y = _log_kernel(_where(near, x, f), _where(near, k - k, k), _where(near, ZERO, c))
    y = _where(x == INF, INF, y)
    y = _where(x == -ONE, -INF, y)
    y = _where(x < -ONE, NAN, y)
    return _where(abs(x) > ZERO, y, x)  # x for NaN, +-0


@register_jitable(**_JIT)
def _tanh32(x):
    ax = abs(x)
    z = x * x
    small = ((((T0 * z + T1) * z + T2) * z + T3) * z + T4) * z * x + x
    e = _exp_core(TWO * _where(ax < TANH_HI, ax, TANH_HI))
    large = ONE - TWO / (e + ONE)
    large = _where(x < ZERO, -large, large)
    y = _where(ax < TANH_SMALL, small, large)
    return _where(ax >= TANH_TINY, y, x)  # x for NaN, +-0 and |x| so small that tanh(x) rounds to x


@register_jitable(**_JIT)
def _erf32(x):
    ax = abs(x)
    z = x * x
    small = x + x * ((((((P6 * z + P5) * z + P4) * z + P3) * z + P2) * z + P1) * z + P0)
    a = _where(ax < ERF_HI, ax, ERF_HI)
    w = ONE / a - ERF_MID
    q = (((((((Q8 * w + Q7) * w + Q6) * w + Q5) * w + Q4) * w + Q3) * w + Q2) * w + Q1) * w + Q0
    large = ONE - _exp_core(-(a * a)) * q
    large = _where(x < ZERO, -large, large)
    y = _where(ax < ERF_SMALL, small, large)
    return _where(x != x, x, y)


# ---- float64 constants (D: a float64) --------------------------------------------------------------

D = np.float64
ZERO64, HALF64, ONE64, TWO64 = D(0), D(0.5), D(1), D(2)
INF64, NAN64 = D(np.inf), D(np.nan)

# exp (FreeBSD's e_exp.c): x = n*ln2 + r, |r| <= ln2/2, r = hi - lo; R(r*r) = r*(e**r + 1)/(e**r - 1)
INVLN2 = D(1.44269504088896338700e+00)
LN2HI64, LN2LO64 = D(6.93147180369123816490e-01), D(1.90821492927058770002e-10)  # n*LN2HI64 exact
MAGIC64 = D(6755399441055744.0)  # 1.5 * 2**52: t + MAGIC64 - MAGIC64 rounds t to an integer
EP1, EP2, EP3 = D(1.66666666666666019037e-01), D(-2.77777777770155933842e-03), D(6.61375632143793436117e-05)
EP4, EP5 = D(-1.65339022054652515390e-06), D(4.13813679705723846039e-08)
EXP64_HI, EXP64_LO = D(710.0), D(-746.0)  # e**710 overflows, e**-746 is below half the least subnormal
EXPM164_LO = D(-40.0)  # expm1 rounds to -1 below -37.5; keeps 2**n normal

# log (FreeBSD's e_log.c and s_log1p.c): x = 2**k * (1 + f), sqrt(2)/2 <= 1 + f < sqrt(2)
LG1_64, LG2_64 = D(6.666666666666735130e-01), D(3.999999999940941908e-01)
LG3_64, LG4_64 = D(2.857142874366239149e-01), D(2.222219843214978396e-01)
LG5_64, LG6_64 = D(1.818357216161805012e-01), D(1.531383769920937332e-01)
LG7_64 = D(1.479819860511658591e-01)
SQRT_HALF64_BITS = 0x3FE6A09E00000000  # FreeBSD's split: the high word of sqrt(2)/2
ONE64_BITS = 0x3FF0000000000000
MANTISSA64 = 0x000FFFFFFFFFFFFF
MIN_NORMAL64 = D(2.0 ** -1022)
TWO54 = D(2.0 ** 54)
LOG1P64_LO, LOG1P64_HI = D(-0.2928932188134524), D(0.41421356237309503)  # log1p's f = x on this interval

# tanh (Cephes' tanh.c): x + x*z*P(z)/Q(z) below 0.625, 1 - 2/(e**2|x| + 1) above; 1 from 22 on
TANH64_SMALL, TANH64_HI, TANH64_TINY = D(0.625), D(22.0), D(2.0 ** -28)
TP0, TP1, TP2 = D(-9.64399179425052238628e-1), D(-9.92877231001918586564e1), D(-1.61468768441708447952e3)
TQ0, TQ1, TQ2 = D(1.12811678491632931402e2), D(2.23548839060100448583e3), D(4.84406305325125486048e3)

# erf (fitted here: benchmarks/erf64_fit.py): x + x*P(x*x) below 0.84375; 1 - exp(-x*x)*N(u)/D(u), u =
# |x| - 0.84375, up to 6 (erf rounds to 1 from 5.93 on)
ERF64_SMALL, ERF64_HI = D(0.84375), D(6.0)
ERF64_TINY, TWO_M54 = D(2.0 ** -960), D(2.0 ** -54)
P64_0, P64_1, P64_2 = D(0.12837916709551256), D(-0.37612638903183293), D(0.11283791670931159)
P64_3, P64_4, P64_5 = D(-0.026866170640118727), D(0.00522397757085068), D(-0.0008548323520140943)
P64_6, P64_7, P64_8 = D(0.0001205519173619286), D(-1.4921966292184495e-05), D(1.6399840717099727e-06)
P64_9, P64_10 = D(-1.5702986353836647e-07), D(1.0695157012101707e-08)
N64_0, N64_1, N64_2 = D(0.4743680720269093), D(0.5638636037048058), D(0.3017235953987951)
N64_3, N64_4, N64_5 = D(0.08721792733796566), D(0.013514066011438924), D(0.0008927156644156295)
N64_6 = D(5.5714825160599604e-09)
D64_1, D64_2, D64_3 = D(1.8798622880427058), D(1.5186136204208454), D(0.6763489419548866)
D64_4, D64_5, D64_6 = D(0.1756192823139122), D(0.025284922841139854), D(0.001582554839239892)
ERF_LOW_WORD = -(1 << 32)  # clears a float64's low 32 bits: h*h is exact for the h left


# ---- float64 forms --------------------------------------------------------------------------------

@register_jitable(**_JIT)
def _pow2(m):
    """2.0**m for an int64 m in [-1022, 1023]."""
    return _float64((m + 1023) << 52)


@register_jitable(**_JIT)
def _to_float64(k):
    """float64(k) for |k| < 2**51, by bits (int64 -> double conversion does not vectorise on AVX2)."""
    return _float64(k + _bits64(MAGIC64)) - MAGIC64


@register_jitable(**_JIT)
def _expq64(hi, lo):
    """(n, h, t) with hi + lo = n*ln2 + r, |r| <= ln2/2, e**r - 1 = h - t (FreeBSD's exp kernel; for
    |hi| < 746, |lo| < 1: h = hi - n*ln2_hi is exact, t is small)."""
    t = _fma(hi + lo, INVLN2, MAGIC64)
    n = _bits64(t) - _bits64(MAGIC64)
    nf = t - MAGIC64
    rhi = _fma(-nf, LN2HI64, hi)
    rlo = _fma(nf, LN2LO64, -lo)
    r = rhi - rlo
    z = r * r
    c = _fma(-z, _fma(_fma(_fma(_fma(EP5, z, EP4), z, EP3), z, EP2), z, EP1), r)
    return n, rhi, rlo - (r * c) / (TWO64 - c)


@register_jitable(**_JIT)
def _scale64(y, n):
    """y * 2**n for n in [-1076, 1024]: two normal factors, so a subnormal result is rounded once."""
    n1 = n >> 1
    return y * _pow2(n1) * _pow2(n - n1)


@register_jitable(**_JIT)
def _exp64(x):
    xc = _where(x < EXP64_HI, x, EXP64_HI)
    xc = _where(xc > EXP64_LO, xc, EXP64_LO)
    n, h, t = _expq64(xc, ZERO64)
    return _where(x != x, x, _scale64(ONE64 + (h - t), n))


@register_jitable(**_JIT)
def _expm164(x):
    xc = _where(x < EXP64_HI, x, EXP64_HI)
    xc = _where(xc > EXPM164_LO, xc, EXPM164_LO)
    n, h, t = _expq64(xc, ZERO64)
    q = h - t  # e**r - 1
    big = n > 1023  # e**x near the top of the range: 2**n is 2 * 2**1023
    s = _pow2(_where(big, n - 1, n))
    # 2**n*(h - t) + 2**n - 1: for n > 0, s*h + (s - 1) first (exact up to n = 53), as s*q would
    # multiply q's rounding error by 2**n (FreeBSD's expm1 keeps h and t apart there too)
    y = _where(n > 0, (s * h + (s - ONE64)) - s * t, s * q + (s - ONE64))
    y = _where(big, (s * q + s) * TWO64, y)
    return _where(abs(x) > ZERO64, y, x)  # x for NaN, +-0


@register_jitable(**_JIT)
def _log_kernel64(f, k, c):
    """log(2**k * (1 + f)) + c for sqrt(2)/2 - 1 <= f < sqrt(2) - 1 (FreeBSD's log)."""
    s = f / (TWO64 + f)
    z = s * s
    w = z * z
    R = _fma(z, _fma(w, _fma(w, _fma(w, LG7_64, LG5_64), LG3_64), LG1_64),
             w * _fma(w, _fma(w, LG6_64, LG4_64), LG2_64))
    hfsq = HALF64 * f * f
    dk = _to_float64(k)
    return dk * LN2HI64 - ((hfsq - (s * (hfsq + R) + (dk * LN2LO64 + c))) - f)


@register_jitable(**_JIT)
def _split64(x):
    """(k, f) with x = 2**k * (1 + f), sqrt(2)/2 <= 1 + f < sqrt(2), for a normal positive x."""
    ix = _bits64(x) + (ONE64_BITS - SQRT_HALF64_BITS)
    k = (ix >> 52) - 1023
    return k, _float64((ix & MANTISSA64) + SQRT_HALF64_BITS) - ONE64


@register_jitable(**_JIT)
def _log64(x):
    sub = x < MIN_NORMAL64
    k, f = _split64(_where(sub, x * TWO54, x))
    y = _log_kernel64(f, _where(sub, k - 54, k), ZERO64)
    y = _where(x == INF64, INF64, y)
    y = _where(x == ZERO64, -INF64, y)
    y = _where(x < ZERO64, NAN64, y)
    return _where(x != x, x, y)


@register_jitable(**_JIT, forceinline=True)  # see _dispatch
def _log1p64(x):
    u = ONE64 + x
    k, f = _split64(u)
    # what rounding 1 + x lost, relative to u, exactly (Fast2Sum, the larger of 1 and |x| first; FreeBSD's
    # log1p picks the order by k > 0, inexact for 0.41 < x < 1); nothing left to add from 2**54 on
    c = _where(x < ONE64, x - (u - ONE64), ONE64 - (u - x)) / u
    c = _where(k < 54, c, ZERO64)
    near = (x > LOG1P64_LO) & (x < LOG1P64_HI)  # 1 + x needs no splitting: f = x exactly
    y = _log_kernel64(_where(near, x, f), _where(near, k - k, k), _where(near, ZERO64, c))
    y = _where(x == INF64, INF64, y)
    y = _where(x == -ONE64, -INF64, y)
    y = _where(x < -ONE64, NAN64, y)
    return _where(abs(x) > ZERO64, y, x)  # x for NaN, +-0


@register_jitable(**_JIT)
def _tanh64(x):
    ax = abs(x)
    z = x * x
    # e**a = 2**n * (1 + rhi - rlo + r*c/d) for a = 2|x| (FreeBSD's exp kernel, as _expq64, with FMAs)
    a = TWO64 * _where(ax < TANH64_HI, ax, TANH64_HI)
    t = _fma(a, INVLN2, MAGIC64)
    n = _bits64(t) - _bits64(MAGIC64)
    nf = t - MAGIC64
    rhi = _fma(-nf, LN2HI64, a)
    rlo = nf * LN2LO64
    r = rhi - rlo
    w = r * r
    c = _fma(-w, _fma(_fma(_fma(_fma(EP5, w, EP4), w, EP3), w, EP2), w, EP1), r)
    d = TWO64 - c
    below = ax < TANH64_SMALL
    # one division for both forms: P(z)/Q(z) below 0.625; above, 2/(e**a + 1) = 2d/(2**n*s + d), s =
    # d*(1 + rhi - rlo) + r*c (the exp kernel's quotient r*c/d and the last one made one)
    s = d + _fma(d, rhi, _fma(-d, rlo, r * c))
    q = _where(below, _fma(_fma(TP0, z, TP1), z, TP2), TWO64 * d) / _where(
        below, _fma(_fma(z + TQ0, z, TQ1), z, TQ2), _fma(_pow2(n), s, d))
    large = ONE64 - q
    large = _where(x < ZERO64, -large, large)
    y = _where(below, _fma(x * z, q, x), large)
    return _where(ax >= TANH64_TINY, y, x)  # x for NaN, +-0 and |x| so small that tanh(x) rounds to x


@register_jitable(**_JIT, forceinline=True)  # see _dispatch
def _erf64(x):
    ax = abs(x)
    z = x * x
    tiny = ax < ERF64_TINY  # x + x*p rounded twice where x*p is subnormal: scaled up, rounded once
    xs = _where(tiny, x * TWO54, x)
    p = _fma(_fma(_fma(_fma(_fma(P64_10, z, P64_9), z, P64_8), z, P64_7), z, P64_6), z, P64_5)
    p = _fma(_fma(_fma(_fma(_fma(p, z, P64_4), z, P64_3), z, P64_2), z, P64_1), z, P64_0)
    small = _fma(xs, p, xs)
    small = _where(tiny, small * TWO_M54, small)
    a = _where(ax < ERF64_HI, ax, ERF64_HI)
    a = _where(a > ERF64_SMALL, a, ERF64_SMALL)
    u = a - ERF64_SMALL  # exact; N's and D's terms all positive
    num = _fma(_fma(_fma(_fma(_fma(_fma(N64_6, u, N64_5), u, N64_4), u, N64_3), u, N64_2), u, N64_1), u, N64_0)
    den = _fma(_fma(_fma(_fma(_fma(_fma(D64_6, u, D64_5), u, D64_4), u, D64_3), u, D64_2), u, D64_1), u, ONE64)
    h = _float64(_bits64(a) & ERF_LOW_WORD)  # e**(-a*a) = e**(-h*h) * e**((h - a)*(h + a)), h*h exact
    n, eh, et = _expq64(-h * h, (h - a) * (h + a))
    q = num / den
    tail = ONE64 - (q + q * (eh - et)) * _pow2(n)  # q*e**-(a*a), without rounding 1 + (eh - et) first
    tail = _where(x < ZERO64, -tail, tail)
    y = _where(ax < ERF64_SMALL, small, tail)
    return _where(x != x, x, y)


# ---- the functions kernels call -------------------------------------------------------------------

def _dispatch(name: str, f32, f64, libm):
    """`name(x)`: the float32 form `f32` for a float32 x, the float64 form `f64` for a float64 (or a
    Python float, giving a Python float), `libm(x)` for anything else (compiled and in Python)."""

    def python(x):
        if isinstance(x, np.float32):
            with np.errstate(all="ignore"):
                return f32(x)
        if isinstance(x, np.float64):
            with np.errstate(all="ignore"):
                return f64(x)
        if isinstance(x, float):  # a Python float: and a Python float back, as math.* gives
            with np.errstate(all="ignore"):
                return float(f64(np.float64(x)))
        return libm(x)

    python.__name__ = python.__qualname__ = name
    python.__doc__ = (f"{libm.__name__}(x); for float32 and float64, the vectorisable form within MAX_ULP ulp "
                      f"(symnn.vecmath).")

    # forceinline: LLVM's `alwaysinline`, as its inliner by itself leaves a call to a form as big as
    # erf's or log1p's, which stops the loop from vectorising. Numba's own inline="always" would inline
    # in Numba's IR instead, typing the whole body again at every call site (the compile time was that)
    @overload(python, jit_options={**_JIT, "forceinline": True})
    def _typed(x):
        if x == types.float32:
            return f32  # the form itself the implementation: no wrapper to compile
        if x == types.float64:
            return f64
        return lambda x: libm(x)

    return python


vexp = _dispatch("vexp", _exp32, _exp64, math.exp)
vexpm1 = _dispatch("vexpm1", _expm132, _expm164, math.expm1)
vlog = _dispatch("vlog", _log32, _log64, math.log)
vlog1p = _dispatch("vlog1p", _log1p32, _log1p64, math.log1p)
vtanh = _dispatch("vtanh", _tanh32, _tanh64, math.tanh)
verf = _dispatch("verf", _erf32, _erf64, math.erf)

#: Each function and the `math` function it stands for (what a printer maps `math.<name>` to).
FUNCTIONS = {"exp": vexp, "expm1": vexpm1, "log": vlog, "log1p": vlog1p, "tanh": vtanh, "erf": verf}


def source_hash() -> str:
    """A hash of this file. Numba's cache of a kernel is keyed on the kernel's own file only, so a
    module calling these functions carries this hash in its text: an edit here changes the module,
    which recompiles (and `symnn generate --check` reports it stale)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
