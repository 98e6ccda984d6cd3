"""The fused loop's matrix product: the small kernel against NumPy, `gemm`'s choice, and a fit through it.

`symnn.runtime.fused.intrinsics.small_product` computes c = op(a) op(b) (row major; X W^T, G^T X, G W)
in tiles of vector FMAs, each element's terms summed in order from zero; `gemm` runs it where
`kernel_takes` says, else NumPy's OpenBLAS (`blas_gemm`). Each must be a dot product to rounding, on
every shape class, odd sizes and empty ones, and carry NaN, inf and the sign of zero as NumPy does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

import symnn
from symnn.runtime.fused.intrinsics import (
    NO_TRANS,
    ROWS,
    SCRATCH,
    TRANS,
    WEIGHTS,
    blas_gemm,
    gemm,
    kernel_takes,
    lanes,
    small_product,
)

#: (trans_a, trans_b): the loop's three products, by what they compute.
PATTERNS = {"X W^T": (False, True), "G^T X": (True, False), "G W": (False, False)}
DTYPES = ["float64", "float32"]
#: Odd sizes around the kernel's tiles (ROWS rows; vectors of 8 or 16), and empty ones.
SIZES = [0, 1, 2, 3, 5, 8, 9, 13, 16, 17, 31, 33]


def _run(product):
    @njit(error_model="numpy")
    def run(trans_a, trans_b, a, b, c):
        m, n = c.shape
        k = a.shape[0] if trans_a == TRANS else a.shape[1]
        product(trans_a, trans_b, m, n, k, a, a.shape[1], b, b.shape[1], c)
    return run


RUNS = {"kernel": _run(small_product), "blas": _run(blas_gemm), "gemm": _run(gemm)}


def product(how: str, pattern: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """op(a) op(b) computed `how` ("kernel", "blas" or "gemm"), into an array first filled with NaN."""
    trans_a, trans_b = PATTERNS[pattern]
    c = np.full((a.shape[1] if trans_a else a.shape[0], b.shape[0] if trans_b else b.shape[1]), np.nan, a.dtype)
    RUNS[how](np.int32(TRANS if trans_a else NO_TRANS), np.int32(TRANS if trans_b else NO_TRANS), a, b, c)
    return c


def operands(pattern: str, m: int, n: int, k: int, dtype: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """a and b of c (m, n), inner dimension k, in the loop's layouts (X (m, k) and W (n, k) for X W^T)."""
    trans_a, trans_b = PATTERNS[pattern]
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def assert_dot_products(c: np.ndarray, pattern: str, a: np.ndarray, b: np.ndarray) -> None:
    """Each c[i, j] within the error bound of a k-term dot product summed in any order:
    |c - exact| <= k * eps * sum |a_ip| |b_pj| (exact: in float64 from float32, or long double)."""
    trans_a, trans_b = PATTERNS[pattern]
    wide = np.longdouble if a.dtype == np.float64 else np.float64
    x, y = (a.T if trans_a else a).astype(wide), (b.T if trans_b else b).astype(wide)
    exact, size = x @ y, np.abs(x) @ np.abs(y)
    k, eps = x.shape[1], np.finfo(a.dtype).eps
    assert c.shape == exact.shape
    assert np.all(np.abs(c.astype(wide) - exact) <= k * eps * size), (pattern, c.shape, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_kernel_computes_dot_products_on_odd_and_empty_sizes(pattern, dtype):
    rng = np.random.default_rng(1)
    for m in SIZES:
        for n in SIZES:
            for k in (0, 1, 2, 7, 16, 33):
                a, b = operands(pattern, m, n, k, dtype, rng)
                assert_dot_products(product("kernel", pattern, a, b), pattern, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_gemm_computes_dot_products_by_whichever_it_picks(pattern, dtype):
    rng = np.random.default_rng(2)
    for m, n, k in [(32, 16, 2), (16, 2, 32), (32, 16, 16), (16, 16, 32), (32, 1, 16), (1, 16, 32), (32, 16, 1),
                    (5, 7, 3), (256, 10, 128), (64, 128, 64), (0, 4, 3), (4, 0, 3), (4, 3, 0)]:
        a, b = operands(pattern, m, n, k, dtype, rng)
        assert_dot_products(product("gemm", pattern, a, b), pattern, a, b)


def test_long_sums_stay_within_the_bound():
    """The weight gradient at batch 4096 sums 4096 terms per element, in order."""
    rng = np.random.default_rng(3)
    for dtype in DTYPES:
        a, b = operands("G^T X", 16, 16, 4096, dtype, rng)
        assert_dot_products(product("kernel", "G^T X", a, b), "G^T X", a, b)


@pytest.mark.parametrize("how", ["kernel", "gemm"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_nan_inf_and_signed_zeros_are_numpys(pattern, dtype, how):
    """A NaN or inf term makes its elements NaN or inf (inf * 0 is NaN), nothing is skipped, and zero
    products sum to NumPy's zero (the same sign)."""
    rng = np.random.default_rng(4)
    m, n, k = 13, 17, 9
    a, b = operands(pattern, m, n, k, dtype, rng)
    trans_a, trans_b = PATTERNS[pattern]
    x, y = (a.T if trans_a else a), (b.T if trans_b else b)  # views: writing them writes a and b
    x[2, 3], x[5, 0], x[7, :] = np.nan, np.inf, 0.0
    y[0, 4], y[3, 6] = 0.0, -np.inf
    y[:, 9] = 0.0
    x[11, :] = -0.0
    with np.errstate(invalid="ignore"):
        expected, numpys = x.astype(np.float64) @ y.astype(np.float64), x @ y
    c = product(how, pattern, a, b)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(c), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(c), np.isneginf(expected))
    np.testing.assert_allclose(c[finite], expected[finite], rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)
    zeros = expected == 0
    assert zeros.any()
    np.testing.assert_array_equal(np.signbit(c[zeros]), np.signbit(numpys[zeros]))


def test_the_rule_sends_the_base_networks_products_to_the_kernel_and_big_ones_to_openblas():
    """`kernel_takes` (measured: benchmarks/README.md, "Small products") on the matrix's base network
    2-16-16-1 at batch 32 (float64 unless said), and on larger products."""
    assert kernel_takes(False, True, 32, 16, 2, 8)  # X W1^T
    assert kernel_takes(False, True, 32, 16, 16, 8)  # H W2^T
    assert kernel_takes(False, True, 32, 1, 16, 8) and not kernel_takes(False, True, 32, 1, 16, 4)  # H W3^T
    assert kernel_takes(True, False, 16, 16, 32, 8) and kernel_takes(True, False, 16, 16, 32, 4)  # G2^T H
    assert not kernel_takes(True, False, 16, 2, 32, 8)  # G1^T X: two columns
    assert not kernel_takes(True, False, 1, 16, 32, 8)  # G3^T H: one row
    assert not kernel_takes(True, False, 16, 8, 32, 4)  # half a float32 vector wide
    assert kernel_takes(False, False, 32, 16, 16, 8)  # G2 W2
    assert not kernel_takes(False, False, 32, 16, 1, 8)  # G3 W3: an outer product
    assert not kernel_takes(False, True, 256, 512, 784, 8)  # W3's X W1^T: W does not fit the buffer
    assert not kernel_takes(False, True, 32, 10, 128, 8)  # too few rows to pay for the copy of W
    assert kernel_takes(False, False, 4096, 512, 10, 8)  # W3's G W3: W3 is 10 x 512
    assert not kernel_takes(False, False, 256, 512, 512, 8)  # W3's G W2: W2 is 512 x 512, OpenBLAS's
    assert not kernel_takes(True, False, 512, 512, 256, 4)  # and its gradient
    assert kernel_takes(True, False, 128, 64, 256, 4)  # W2's first weight gradient, 128 x 64
    assert not kernel_takes(False, False, 32, 129, 128, 8) and 129 * 128 > WEIGHTS  # a W just too large
    assert all(not kernel_takes(False, True, m, n, k, size) for m in (32, 4096) for n in range(1, 70)
               for k in range(1, 70) for size in (4, 8) if n * k > SCRATCH)
    assert not kernel_takes(True, True, 8, 8, 8, 8)  # not a pattern of the loop's
    assert ROWS == 8 and lanes(4) == 16 and lanes(8) == 8


#: Shapes (pattern, m, n, k) on which the kernel's and OpenBLAS's bits differ (a long inner dimension,
#: which OpenBLAS splits into blocks), on both sides of the rule.
TELLING = [("G^T X", 16, 16, 4096), ("G^T X", 10, 128, 4096), ("X W^T", 256, 10, 128), ("X W^T", 32, 10, 128),
           ("G W", 64, 16, 300), ("G^T X", 16, 2, 4096)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_takes_the_path_the_rule_says(dtype):
    """gemm's bits are the kernel's where kernel_takes, OpenBLAS's elsewhere (compiled, the rule is IR)."""
    rng = np.random.default_rng(6)
    told = 0
    for pattern, m, n, k in TELLING:
        a, b = operands(pattern, m, n, k, dtype, rng)
        kernel, blas, chosen = (product(how, pattern, a, b) for how in ("kernel", "blas", "gemm"))
        told += not np.array_equal(kernel, blas)
        expected = kernel if kernel_takes(*PATTERNS[pattern], m, n, k, np.dtype(dtype).itemsize) else blas
        np.testing.assert_array_equal(chosen, expected, err_msg=f"{pattern} {m}x{n}, k={k}")
    assert told >= 3, "too few shapes tell the two apart: the test shows nothing"


def test_without_the_jit_each_product_is_numpys():
    """NUMBA_DISABLE_JIT's stand-ins (a fused fit runs as plain Python) compute op(a) op(b) by NumPy."""
    code = textwrap.dedent("""
        import numpy as np
        from symnn.runtime.fused.intrinsics import NO_TRANS, TRANS, blas_gemm, gemm, small_product
        a, b = np.arange(6.0).reshape(3, 2), np.arange(8.0).reshape(4, 2)
        for f in (gemm, small_product, blas_gemm):
            c = np.empty((3, 4))
            f(NO_TRANS, TRANS, 3, 4, 2, a, 2, b, 2, c)
            assert np.array_equal(c, a @ b.T), f
        print("ok")
    """)
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


#: (widths, batch size, dtype) of fits whose products go through the kernel: the matrix's base network in
#: float64; in float32 a narrower one (on 16 wide layers, SciPy's OpenBLAS behind the per-layer path's
#: np.dot and NumPy's round some products differently, and Adam's steps compound that past 4 ulps with
#: or without the kernel).
FITS = [((2, 16, 16, 1), 32, "float64"), ((3, 6, 5, 1), 16, "float32")]


@pytest.mark.parametrize("sizes, batch, dtype", FITS)
def test_a_fused_fit_through_the_kernel_gives_the_per_layer_numbers(sizes, batch, dtype):
    """Every X W^T and G W of these fits goes through the kernel (the rule says so); the fused fit equals
    the per-layer one (float64 rtol 1e-12, float32 4 ulps)."""
    size = np.dtype(dtype).itemsize
    layers = list(zip(sizes[:-1], sizes[1:]))
    assert all(kernel_takes(False, True, batch, n_out, n_in, size) for n_in, n_out in layers[:-1])
    assert all(kernel_takes(False, False, batch, n_in, n_out, size) for n_in, n_out in layers[1:-1])
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3 * batch - 3, sizes[0]))  # the last batch partial
    y = (X[:, 0] > 0).astype(float)
    results = []
    for fused in (True, False):
        stack = [symnn.Dense(*layers[0])]
        for (n_in, n_out), act in zip(layers[1:], ("relu", "tanh")):
            stack += [symnn.Activation(act), symnn.Dense(n_in, n_out)]
        model = symnn.Sequential(stack, loss="binary_cross_entropy", dtype=dtype, seed=1)
        history = model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=3, batch_size=batch, seed=3,
                            verbose=False, fused=fused)
        assert (getattr(model, "_fused_session", None) is not None) == fused
        results.append((np.array(history["loss"]), [p.copy() for p in model.parameters()]))
    (loss_f, params_f), (loss_p, params_p) = results
    for fused_values, per_layer in [(loss_f, loss_p), *zip(params_f, params_p)]:
        if dtype == "float64":
            np.testing.assert_allclose(fused_values, per_layer, rtol=1e-12, atol=0)
        else:
            ulp = np.spacing(np.maximum(np.abs(fused_values), np.abs(per_layer)).astype(np.float32))
            assert np.all(np.abs(fused_values.astype(np.float64) - per_layer) <= 4 * ulp)
