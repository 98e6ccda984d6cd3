"""NumPy's own OpenBLAS, callable from compiled code: the fused loop's matrix products.

Numba's `np.dot` calls SciPy's OpenBLAS (through `scipy.linalg.cython_blas`). NumPy's wheels
bundle their own build (scipy-openblas64: 64-bit integers, symbols `scipy_cblas_sgemm64_` and
`scipy_cblas_dgemm64_`), which on this project's workloads ran the training loop's products faster:
one fused epoch 15-20% faster on the tiny and digits networks, ~5% on the wide one (the
`(10, 128) = (64, 10)^T (64, 128)` weight gradient, for one, takes half the time). The fused loop
calls it as an external function under a fixed symbol name that `register` binds, in every process,
to the library's address: the compiled code names only the symbol, so Numba's on-disk cache of the
loop stays valid from process to process.

Where NumPy has no such library (other builds, other platforms), or `SYMNN_BLAS=numba` is set, the
fused loop keeps `np.dot`.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

#: The C symbols of NumPy's bundled OpenBLAS (ILP64) that the loop calls, by dtype.
LIBRARY_SYMBOLS = {"float32": "scipy_cblas_sgemm64_", "float64": "scipy_cblas_dgemm64_"}
#: CBLAS constants.
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def _library_files() -> list[Path]:
    import numpy

    root = Path(numpy.__file__).parent
    places = [root.parent / "numpy.libs", root / ".dylibs", root / "_core"]
    return sorted(p for place in places if place.is_dir() for p in place.iterdir()
                  if "openblas64" in p.name and (".so" in p.name or p.suffix in (".dylib", ".dll")))


@functools.cache
def numpy_openblas() -> ctypes.CDLL | None:
    """NumPy's bundled OpenBLAS, if it has the ILP64 CBLAS gemm symbols; None otherwise."""
    if os.environ.get("SYMNN_BLAS", "").lower() == "numba":
        return None
    for path in _library_files():
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        if all(hasattr(lib, name) for name in LIBRARY_SYMBOLS.values()):
            return lib
    return None


def register(symbols: dict[str, str]) -> None:
    """Bind each `symbols[dtype]` name to NumPy's gemm for that dtype, for Numba's linker.

    Raises ImportError when the library is not there (the caller then falls back to np.dot).
    """
    import llvmlite.binding as ll

    lib = numpy_openblas()
    if lib is None:
        raise ImportError("NumPy's bundled OpenBLAS (scipy_cblas_?gemm64_) is not available")
    for dtype, name in symbols.items():
        ll.add_symbol(name, ctypes.cast(getattr(lib, LIBRARY_SYMBOLS[dtype]), ctypes.c_void_p).value)


def external_gemm(sgemm_symbol: str, dgemm_symbol: str) -> tuple:
    """The two gemm functions as Numba external functions, registered under the given symbols.

    Signature (CBLAS, row major): order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
    ldc; arrays as addresses (`arr.ctypes.data`), sizes as int64.
    """
    from numba import types

    register({"float32": sgemm_symbol, "float64": dgemm_symbol})
    i32, i64, ptr = types.int32, types.int64, types.intp
    out = []
    for name, real in ((sgemm_symbol, types.float32), (dgemm_symbol, types.float64)):
        sig = types.void(i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64)
        out.append(types.ExternalFunction(name, sig))
    return tuple(out)


__all__ = ["external_gemm", "numpy_openblas", "register"]
