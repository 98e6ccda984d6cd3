"""exp, expm1, log, log1p, tanh and erf for @njit loops: float32 forms that vectorise, float64 as libm.

Numba lowers `math.exp(x)` of a float32 to one call of libm's `expf` per element, so a loop around it
runs scalar. For a float32 argument, `vexp(x)` (and the others) computes instead a branch-free form:
range reduction by exact float arithmetic, a polynomial, a power of two built from its bits, special
values (+-0, subnormals, +-inf, NaN, overflow to inf, underflow to 0) by selects. There is no call and
no branch, so LLVM inlines it and vectorises the loop (`<8 x float>` on AVX2) without fastmath. Any
other argument type calls `math.*` itself: float64 kernels keep libm's results bit for bit.

Error bound, float32, over all 2**32 inputs (benchmarks/vecmath_accuracy.py checks every one against
libm's float64 result rounded to float32; tests/test_vecmath.py on dense samples): at most
`MAX_ULP` units in the last place, and exactly libm's class (NaN, +-inf, +-0) wherever that is exact.

The polynomials: exp's is Cephes' `expf`, log's and log1p's FreeBSD's `logf` kernel (Lg1-Lg4, with
log1p's correction term c); tanh's small-argument one is Cephes' `tanhf`. erf's two were fitted here
(weighted least squares, coefficients rounded to float32 one by one, lower first, the rest refitted):
`x + x*P(x*x)` below 0.875, `1 - exp(-x*x)*Q(1/x - 0.6964286)` from there to 4 (erf is 1 beyond).

With NUMBA_DISABLE_JIT=1 each function runs the same float32 formula on NumPy scalars.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from numba import types
from numba.extending import intrinsic, overload, register_jitable

#: The documented float32 error bound (ulp of the correctly rounded result), per function.
MAX_ULP = 2

#: The compiled forms' options: 1/0 is inf inside them (no ZeroDivisionError check, which would be a
#: branch and a call in the loop), and they allocate nothing.
_JIT = {"error_model": "numpy", "_nrt": False}

F = np.float32


# ---- bits of a float32 ---------------------------------------------------------------------------

def _bits(x):
    """The int32 whose bits are those of the float32 x."""
    return np.float32(x).view(np.int32)


def _float(i):
    """The float32 whose bits are those of the int32 i (i is truncated to 32 bits)."""
    return np.int32(i).view(np.float32)


@intrinsic
def _bits_ir(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))
    return types.int32(types.float32), codegen


@intrinsic
def _float_ir(typingctx, i):
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        i32 = context.cast(builder, args[0], sig.args[0], types.int32)
        return builder.bitcast(i32, context.get_value_type(types.float32))
    return types.float32(i), codegen


@overload(_bits, jit_options=_JIT)
def _bits_jit(x):
    return lambda x: _bits_ir(x)


@overload(_float, jit_options=_JIT)
def _float_jit(i):
    return lambda i: _float_ir(i)


def _where(c, a, b):
    """a if c else b, as one `select` instruction when compiled (a conditional expression is a
    branch that LLVM does not always turn back into a select, and a branch stops vectorisation)."""
    return a if c else b


@intrinsic
def _where_ir(typingctx, c, a, b):
    if a != b:
        return None

    def codegen(context, builder, sig, args):
        return builder.select(context.cast(builder, args[0], sig.args[0], types.boolean), args[1], args[2])
    return a(c, a, b), codegen


@overload(_where, jit_options=_JIT)
def _where_jit(c, a, b):
    return lambda c, a, b: _where_ir(c, a, b)


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


# ---- the functions kernels call -------------------------------------------------------------------

def _dispatch(name: str, f32, libm):
    """`name(x)`: the float32 form `f32` for a float32 x, `libm(x)` for anything else (compiled
    and in Python)."""

    def python(x):
        if isinstance(x, np.float32):
            with np.errstate(all="ignore"):
                return f32(x)
        return libm(x)

    python.__name__ = python.__qualname__ = name
    python.__doc__ = (f"{libm.__name__}(x); for float32, the vectorisable form within MAX_ULP ulp "
                      f"(symnn.vecmath).")

    @overload(python, jit_options=_JIT)
    def _typed(x):
        if x == types.float32:
            return lambda x: f32(x)
        return lambda x: libm(x)

    return python


vexp = _dispatch("vexp", _exp32, math.exp)
vexpm1 = _dispatch("vexpm1", _expm132, math.expm1)
vlog = _dispatch("vlog", _log32, math.log)
vlog1p = _dispatch("vlog1p", _log1p32, math.log1p)
vtanh = _dispatch("vtanh", _tanh32, math.tanh)
verf = _dispatch("verf", _erf32, math.erf)

#: Each function and the `math` function it stands for (what a printer maps `math.<name>` to).
FUNCTIONS = {"exp": vexp, "expm1": vexpm1, "log": vlog, "log1p": vlog1p, "tanh": vtanh, "erf": verf}


def source_hash() -> str:
    """A hash of this file. Numba's cache of a kernel is keyed on the kernel's own file only, so a
    module calling these functions carries this hash in its text: an edit here changes the module,
    which recompiles (and `symnn generate --check` reports it stale)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
