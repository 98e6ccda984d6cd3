"""symnn.vecmath: float32 and float64 within MAX_ULP of the correctly rounded result, loops vectorised.

float32 accuracy is checked on 2**20 inputs spread evenly over all float32 bit patterns (every
exponent, both signs, subnormals, inf and NaN) plus the special values, against libm's float64 result;
float64 on 2**18 bit patterns and 2**16 inputs of 2**-30 <= |x| <= 64 against long double (erf: on
2**11 and 2**9, against mpmath); benchmarks/vecmath_accuracy.py checks all 2**32 float32 and 2**26 float64.
Vectorisation is checked in the compiled loop's LLVM IR and assembly.
"""

from __future__ import annotations

import math
import re

import mpmath
import numba
import numpy as np
import pytest
from numba import njit

from symnn import vecmath
from symnn.vecmath import MAX_ULP, verf, vexp, vtanh
from symnn.vecmath_samples import samples64

NAMES = list(vecmath.FUNCTIONS)
LIBM = {"exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p, "tanh": math.tanh,
        "erf": math.erf}

#: Inputs where libm's result is exact or at a boundary: zeros, infinities, NaN, the smallest and
#: largest numbers, exp's overflow and underflow thresholds, log's poles.
SPECIAL = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38,
                      3.4028235e38, -3.4028235e38, 88.72283, 88.72284, 89.0, -87.33654, -103.27893, -103.97208,
                      -104.0, -1.0, -0.99999994, 1.0, -1.0000001, 0.5, 2.0 ** -25, 0.625, 0.875, 4.0, 9.0, 10.0])


def _loop(fn):
    """A kernel-like loop y[i] = fn(x[i]), as the generated kernels are written."""

    @njit(error_model="numpy")
    def loop(x, y):
        for i in range(x.shape[0]):
            y[i] = fn(x[i])

    return loop


_LOOPS = {name: _loop(fn) for name, fn in vecmath.FUNCTIONS.items()}
_REFERENCE = {name: _loop(fn) for name, fn in LIBM.items()}


def _inputs() -> np.ndarray:
    """Every 4096th float32 bit pattern, and the special values."""
    every_4096th = np.arange(0, 1 << 32, 1 << 12, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([every_4096th, SPECIAL])


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in float32 ulps (adjacent floats are 1 apart, +0 and -0 are 0 apart)."""
    def ordered(a):
        b = a.view(np.int32).astype(np.int64)
        return np.where(b < 0, -(b & 0x7FFFFFFF), b)
    return np.abs(ordered(got) - ordered(want))


@pytest.mark.parametrize("name", NAMES)
def test_float32_within_the_bound_of_libm_rounded_from_float64(name):
    x = _inputs()
    got, want = np.empty_like(x), np.empty(x.shape, np.float64)
    _LOOPS[name](x, got)
    with np.errstate(invalid="ignore", over="ignore"):  # signalling NaNs, results beyond float32
        _REFERENCE[name](x.astype(np.float64), want)
        want = want.astype(np.float32)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN exactly where libm gives NaN"
    num = ~np.isnan(want)
    assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)]), "overflow to inf, and inf, as libm"
    assert np.array_equal(np.signbit(got[num]), np.signbit(want[num])), "signs (of zeros too) as libm"
    err = _ulps(got[num], want[num])
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP, f"{name}({x[num][worst]!r}) = {got[num][worst]!r}, want {want[num][worst]!r}"


@pytest.mark.parametrize(("name", "x", "want"), [
    ("exp", np.inf, np.inf), ("exp", -np.inf, 0.0), ("exp", 89.0, np.inf), ("exp", -104.0, 0.0),
    ("exp", -0.0, 1.0), ("exp", -103.0, 1.4e-45),
    ("expm1", -0.0, -0.0), ("expm1", -np.inf, -1.0), ("expm1", np.inf, np.inf), ("expm1", 88.8, np.inf),
    ("log", 0.0, -np.inf), ("log", -0.0, -np.inf), ("log", -1.0, np.nan), ("log", np.inf, np.inf),
    ("log", 1.0, 0.0), ("log", 1e-45, -103.27893),
    ("log1p", -1.0, -np.inf), ("log1p", -2.0, np.nan), ("log1p", -0.0, -0.0), ("log1p", np.inf, np.inf),
    ("log1p", 1e-45, 1e-45),
    ("tanh", -0.0, -0.0), ("tanh", np.inf, 1.0), ("tanh", -np.inf, -1.0), ("tanh", -1e-45, -1e-45),
    ("erf", -0.0, -0.0), ("erf", np.inf, 1.0), ("erf", -np.inf, -1.0), ("erf", 5.0, 1.0),
] + [(name, np.nan, np.nan) for name in NAMES])
def test_special_values_as_libm(name, x, want):
    got = np.empty(1, np.float32)
    _LOOPS[name](np.float32([x]), got)
    assert got[0] == np.float32(want) or (np.isnan(got[0]) and np.isnan(want))
    assert np.signbit(got[0]) == np.signbit(np.float32(want)) or np.isnan(want)


LONG = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh}




def _reference64(name: str, x: np.ndarray) -> np.ndarray:
    """The correctly rounded float64 result (long double's rounded to float64; erf: mpmath's)."""
    if name == "erf":
        mpmath.mp.prec = 80
        return np.array([float(mpmath.erf(v)) if not np.isnan(v) else np.nan for v in x.tolist()])
    with np.errstate(all="ignore"):
        return LONG[name](x.astype(np.longdouble)).astype(np.float64)


def _ulps64(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in float64 ulps (+0 and -0 are 0 apart)."""
    def ordered(a):
        b = a.view(np.int64)
        return np.where(b < 0, -(b & 0x7FFFFFFFFFFFFFFF), b)
    return np.abs(ordered(got) - ordered(want))


@pytest.mark.parametrize("name", NAMES)
def test_float64_within_the_bound_of_the_correctly_rounded_result(name):
    x = samples64(1 << 11 if name == "erf" else 1 << 18)
    got, libm = np.empty_like(x), np.empty_like(x)
    _LOOPS[name](x, got)
    with np.errstate(invalid="ignore"):
        _REFERENCE[name](x, libm)
    want = _reference64(name, x)
    assert np.array_equal(np.isnan(got), np.isnan(libm)), "NaN exactly where libm gives NaN"
    num = ~np.isnan(libm)
    assert np.array_equal(got[np.isinf(libm)], libm[np.isinf(libm)]), "overflow to inf, and inf, as libm"
    assert np.array_equal(np.isinf(got), np.isinf(libm)), "finite where libm is"
    assert np.array_equal(got[libm == 0], libm[libm == 0]), "underflow to 0 as libm"
    assert np.array_equal(np.signbit(got[num]), np.signbit(libm[num])), "signs (of zeros too) as libm"
    fin = np.isfinite(want) & np.isfinite(got)
    err = _ulps64(got[fin], want[fin])
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP, f"{name}({x[fin][worst]!r}) = {got[fin][worst]!r}, want {want[fin][worst]!r}"


@pytest.mark.parametrize(("name", "x", "want"), [
    ("exp", np.inf, np.inf), ("exp", -np.inf, 0.0), ("exp", 710.0, np.inf), ("exp", -746.0, 0.0),
    ("exp", -0.0, 1.0), ("exp", 0.0, 1.0), ("exp", -745.0, 5e-324), ("exp", 1e-300, 1.0),
    ("expm1", -0.0, -0.0), ("expm1", 5e-324, 5e-324), ("expm1", -np.inf, -1.0), ("expm1", np.inf, np.inf),
    ("expm1", 709.79, np.inf), ("expm1", -40.0, -1.0),
    ("log", 0.0, -np.inf), ("log", -0.0, -np.inf), ("log", -1.0, np.nan), ("log", -np.inf, np.nan),
    ("log", np.inf, np.inf), ("log", 1.0, 0.0), ("log", 5e-324, -744.4400719213812),
    ("log1p", -1.0, -np.inf), ("log1p", -2.0, np.nan), ("log1p", -0.0, -0.0), ("log1p", np.inf, np.inf),
    ("log1p", 5e-324, 5e-324), ("log1p", -5e-324, -5e-324),
    ("tanh", -0.0, -0.0), ("tanh", np.inf, 1.0), ("tanh", -np.inf, -1.0), ("tanh", -5e-324, -5e-324),
    ("tanh", 20.0, 1.0),
    ("erf", -0.0, -0.0), ("erf", np.inf, 1.0), ("erf", -np.inf, -1.0), ("erf", 6.0, 1.0), ("erf", -30.0, -1.0),
] + [(name, np.nan, np.nan) for name in NAMES])
def test_float64_special_values_as_libm(name, x, want):
    got = np.empty(1)
    _LOOPS[name](np.array([x]), got)
    assert got[0] == want or (np.isnan(got[0]) and np.isnan(want))
    assert np.signbit(got[0]) == np.signbit(want) or np.isnan(want)


def test_float64_subnormal_results_as_libm():
    """exp's gradual underflow and erf, expm1, log1p, tanh of subnormals: subnormal results, not 0."""
    x = np.array([-708.5, -720.0, -740.0, -745.0])
    got, want = np.empty_like(x), np.empty_like(x)
    _LOOPS["exp"](x, got)
    _REFERENCE["exp"](x, want)
    assert np.all((got > 0) & (got < 2.2250738585072014e-308)) and np.all(_ulps64(got, want) <= MAX_ULP)
    tiny = np.array([5e-324, 1e-310, -3e-320])
    for name in ("erf", "expm1", "log1p", "tanh"):
        _LOOPS[name](tiny, got[:3])
        _REFERENCE[name](tiny, want[:3])
        assert np.all(_ulps64(got[:3], want[:3]) <= 1), name


@pytest.mark.parametrize("name", NAMES)
def test_python_mode_computes_the_same_float64_bits(name):
    """With NUMBA_DISABLE_JIT=1 a kernel calls the Python function: the same float64 formula on NumPy
    scalars (and on a Python float)."""
    x = samples64(1 << 10)
    compiled = np.empty_like(x)
    _LOOPS[name](x, compiled)
    python = np.array([vecmath.FUNCTIONS[name](v) for v in x])
    assert np.array_equal(np.isnan(python), np.isnan(compiled))
    num = ~np.isnan(compiled)
    assert np.array_equal(python[num].view(np.int64), compiled[num].view(np.int64))
    assert all(type(vecmath.FUNCTIONS[name](v)) is np.float64 for v in x[:4])
    assert type(vecmath.FUNCTIONS[name](float(x[-4]))) is float
    assert vecmath.FUNCTIONS[name](float(x[-4])) == compiled[-4]


@pytest.mark.parametrize("name", NAMES)
def test_python_mode_computes_the_same_float32_bits(name):
    """With NUMBA_DISABLE_JIT=1 a kernel calls the Python function: the same formula on NumPy scalars."""
    x = np.concatenate([_inputs()[::1024], SPECIAL])
    compiled = np.empty_like(x)
    _LOOPS[name](x, compiled)
    python = np.array([vecmath.FUNCTIONS[name](v) for v in x], dtype=np.float32)
    assert np.array_equal(np.isnan(python), np.isnan(compiled))
    num = ~np.isnan(compiled)
    assert np.array_equal(python[num].view(np.int32), compiled[num].view(np.int32))
    assert all(type(vecmath.FUNCTIONS[name](v)) is np.float32 for v in x[:4])


# ---- the hot loops vectorise ---------------------------------------------------------------------

_VECTOR = re.compile(r"<(4|8|16) x float>")
_VECTOR64 = re.compile(r"<(2|4|8) x double>")
_MATH_CALL = re.compile(r"call [^\n]*@(llvm\.(exp|log|tanh|erf)|expf|logf|log1pf|expm1f|tanhf|erff)\b")
_MATH_CALL64 = re.compile(r"call [^\n]*@(llvm\.(exp|log|tanh|erf)[.\w]*|exp|log|log1p|expm1|tanh|erf)\b")
_PACKED64 = re.compile(r"\bvmulpd\b[^\n]*%[yz]mm")


def _gelu(exp, erf):
    """The generated gelu forward and backward, calling `exp` and `erf`."""

    @njit(error_model="numpy")
    def gelu(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            x = x_in[i]
            y_out[i] = (T(0.5))*x*(erf(T(0.7071067811865476)*x) + T(1))
            g_out[i] = g_in[i]*(T(0.3989422804014327)*x*exp(-T(0.5)*x*x) + (T(0.5))*erf(T(0.7071067811865476)*x) + T(0.5))

    return gelu


def _silu(exp):
    """The generated silu forward and backward (with their `if` branches), calling `exp`."""

    @njit(error_model="numpy")
    def silu(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            x = x_in[i]
            g = g_in[i]
            u = exp(-abs(x))
            if (x >= T(0)):
                y_out[i] = x/(u + T(1))
                g_out[i] = g*(u*x + u + T(1))/(u*u + T(2)*u + T(1))
            else:
                y_out[i] = u*x/(u + T(1))
                t0 = u*u
                g_out[i] = g*(t0 + u*x + u)/(t0 + T(2)*u + T(1))

    return silu


def _tanh(tanh):
    """The generated tanh forward, and its backward from y, calling `tanh`."""

    @njit(error_model="numpy")
    def tanh_(x_in, y_out, g_in, g_out):
        T = x_in.dtype.type
        for i in range(x_in.shape[0]):
            y = tanh(x_in[i])
            y_out[i] = y
            g_out[i] = g_in[i]*(T(1) - y*y)

    return tanh_


#: Each activation kernel written with vecmath, and as generated today (math.*).
KERNELS = {"gelu": (_gelu(vexp, verf), _gelu(math.exp, math.erf)), "silu": (_silu(vexp), _silu(math.exp)),
           "tanh": (_tanh(vtanh), _tanh(math.tanh))}


def _compiled_ir_and_asm(fn, *args):
    fn(*args)
    sig = tuple(numba.typeof(a) for a in args)
    return fn.inspect_llvm()[sig], fn.inspect_asm()[sig]


def _f32(n=64):
    return np.linspace(-3, 3, n, dtype=np.float32)


def _f64(n=64):
    return np.linspace(-3, 3, n)


@pytest.mark.parametrize("name", NAMES)
def test_float32_loop_vectorises_without_calls(name):
    ir, asm = _compiled_ir_and_asm(_LOOPS[name], _f32(), _f32())
    assert _VECTOR.search(ir), "packed float32 arithmetic in the loop"
    assert re.search(r"\bvmulps\b[^\n]*%[yz]mm", asm), "packed multiplies in the machine code"
    assert not _MATH_CALL.search(ir), "no libm call left"


@pytest.mark.parametrize("name", NAMES)
def test_libm_float32_loop_stays_scalar(name):
    """The baseline: math.* of a float32 is a libm call per element (LLVM's llvm.exp.v8f32, if it
    forms one, is lowered to eight scalar calls), so no packed arithmetic."""
    ir, asm = _compiled_ir_and_asm(_REFERENCE[name], _f32(), _f32())
    assert _MATH_CALL.search(ir) or re.search(r"call [^\n]*@\w*" + name, ir)
    assert not re.search(r"\bvmulps\b[^\n]*%[yz]mm", asm)


@pytest.mark.parametrize("name", list(KERNELS))
def test_activation_kernels_written_with_them_vectorise(name):
    vec, libm = KERNELS[name]
    ir, asm = _compiled_ir_and_asm(vec, _f32(), _f32(), _f32(), _f32())
    assert _VECTOR.search(ir)
    assert re.search(r"\bvmulps\b[^\n]*%[yz]mm", asm)
    assert not _MATH_CALL.search(ir)
    ir, asm = _compiled_ir_and_asm(libm, _f32(), _f32(), _f32(), _f32())
    assert _MATH_CALL.search(ir)


@pytest.mark.parametrize("name", list(KERNELS))
def test_activation_kernels_written_with_them_agree_with_libm(name):
    """Forward and backward as today's float32 kernels give them, to the functions' few ulps (scaled
    by |x|, as both kernels' own float32 arithmetic is)."""
    x = np.concatenate([_f32(1 << 12) * 4, SPECIAL[np.isfinite(SPECIAL)]])
    out = {}
    for which, kernel in zip(("vec", "libm"), KERNELS[name]):
        y, g = np.empty_like(x), np.empty_like(x)
        kernel(x, y, np.ones_like(x), g)
        out[which] = y, g
    tol = 4 * 2.0 ** -23 * (1 + np.abs(x.astype(np.float64)))
    for vec, libm in zip(out["vec"], out["libm"]):
        assert np.all(np.abs(vec.astype(np.float64) - libm) <= tol)


@pytest.mark.parametrize("name", NAMES)
def test_float64_loop_vectorises_without_calls(name):
    ir, asm = _compiled_ir_and_asm(_LOOPS[name], _f64(), _f64())
    assert _VECTOR64.search(ir), "packed float64 arithmetic in the loop"
    assert _PACKED64.search(asm), "packed multiplies in the machine code"
    assert not _MATH_CALL64.search(ir), "no libm call left"


@pytest.mark.parametrize("name", NAMES)
def test_libm_float64_loop_stays_scalar(name):
    """The baseline: math.* of a float64 is a libm call per element, so no packed arithmetic."""
    ir, asm = _compiled_ir_and_asm(_REFERENCE[name], _f64(), _f64())
    assert _MATH_CALL64.search(ir)
    assert not _PACKED64.search(asm)


@pytest.mark.parametrize("name", list(KERNELS))
def test_float64_activation_kernels_written_with_them_vectorise(name):
    vec, libm = KERNELS[name]
    ir, asm = _compiled_ir_and_asm(vec, _f64(), _f64(), _f64(), _f64())
    assert _VECTOR64.search(ir)
    assert _PACKED64.search(asm)
    assert not _MATH_CALL64.search(ir)
    ir, asm = _compiled_ir_and_asm(libm, _f64(), _f64(), _f64(), _f64())
    assert _MATH_CALL64.search(ir)


# ---- the fused loop's vectors are as wide as the CPU's -------------------------------------------

def _tanh_loop(wide: bool):
    from symnn.runtime.fused.intrinsics import wide_vectors

    @njit(error_model="numpy")
    def loop(x_in, y_out):
        if wide:
            wide_vectors()
        for i in range(x_in.shape[0]):
            y_out[i] = vtanh(x_in[i])

    return loop


def _has_avx512() -> bool:
    """Whether Numba compiles for a CPU with AVX-512 (its NUMBA_CPU_FEATURES, else the host's)."""
    import llvmlite.binding as llvm

    features = numba.config.CPU_FEATURES or llvm.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_vectors_makes_the_loop_as_wide_as_the_cpu_with_the_same_numbers(dtype):
    """`wide_vectors()` (the fused loop's first statement) asks LLVM for 512-bit loops: on a CPU with
    AVX-512 the loop is 512 bits wide (LLVM's own choice on Intel's is 256), and its results are the
    same bits as the loop LLVM vectorises by itself."""
    from symnn.runtime.fused.intrinsics import PREFERRED_VECTOR_BITS

    x = np.concatenate([np.linspace(-20, 20, 4099), SPECIAL]).astype(dtype)
    out = {}
    for wide in (False, True):
        y = np.empty_like(x)
        ir, asm = _compiled_ir_and_asm(_tanh_loop(wide), x, y)
        out[wide] = y
        assert (f'"prefer-vector-width"="{PREFERRED_VECTOR_BITS}"' in ir) is wide
        lanes = PREFERRED_VECTOR_BITS // (8 * np.dtype(dtype).itemsize)
        if wide and _has_avx512():
            assert f"<{lanes} x {'float' if dtype == np.float32 else 'double'}>" in ir
            assert re.search(r"\bv\w+p[sd]\s[^\n]*%zmm", asm), "packed arithmetic on 512-bit registers"
    assert np.array_equal(out[False].view(np.uint8), out[True].view(np.uint8))
