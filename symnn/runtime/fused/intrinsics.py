"""The fused loop's three intrinsics: views of its flat arrays (`view1`, `view2`) and `gemm`.

Slicing and `.reshape` cost the first fit most of a second (measured: benchmarks/README.md): each
slice is typed and lowered with its bounds arithmetic, each reshape calls a compiled size check, and
LLVM optimizes all of it. These views are made directly instead; the blocks are in bounds by
construction (the layout of symnn.runtime.fused.session), so nothing is checked here.

`gemm` calls NumPy's bundled OpenBLAS (symnn.runtime.blas) as an external function under a fixed
symbol, bound when this module is imported, so the compiled loop names only the symbol and Numba's
cache of it stays valid from process to process. An intrinsic emits the call itself: an `@overload`
calling the external function costs a compiled function of its own (~0.4 s more of a cold fit).

With NUMBA_DISABLE_JIT=1 each has a pure-Python stand-in with the same results, so a fused fit runs
as plain Python (pdb steps through it).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import config, types
from numba.core import cgutils
from numba.core.funcdesc import ExternalFunctionDescriptor
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from symnn.runtime import blas

#: The symbols the direct products are linked against (bound to NumPy's gemm by `_externals`).
GEMM_SYMBOLS = ("symnn_cblas_sgemm", "symnn_cblas_dgemm")
NO_TRANS, ROW_MAJOR, TRANS = np.int32(blas.NO_TRANS), np.int32(blas.ROW_MAJOR), np.int32(blas.TRANS)


@functools.cache
def link_gemm() -> tuple:
    """(sgemm, dgemm) as Numba external functions, their symbols bound to NumPy's gemm (a loop using
    `gemm` calls this when it is imported, before Numba loads it from its cache); ImportError where
    NumPy has no OpenBLAS of its own."""
    return blas.external_gemm(*GEMM_SYMBOLS)


def _view(context, builder, sig, args):
    """The view of a 1-D C-contiguous array from item args[1] on, in the shape args[2:] (C order)."""
    src = cgutils.create_struct_proxy(sig.args[0])(context, builder, value=args[0])
    out = cgutils.create_struct_proxy(sig.return_type)(context, builder)
    shape = [context.cast(builder, v, t, types.intp) for v, t in zip(args[2:], sig.args[2:])]
    strides = [src.itemsize]
    for n in shape[:0:-1]:
        strides.insert(0, builder.mul(strides[0], n))
    nitems = shape[0]
    for n in shape[1:]:
        nitems = builder.mul(nitems, n)
    out.data = builder.gep(src.data, [context.cast(builder, args[1], sig.args[1], types.intp)])
    out.shape = cgutils.pack_array(builder, shape)
    out.strides = cgutils.pack_array(builder, strides)
    out.nitems = nitems
    out.itemsize = src.itemsize
    out.meminfo = src.meminfo
    out.parent = src.parent
    return impl_ret_borrowed(context, builder, sig.return_type, out._getvalue())


@intrinsic
def view1(typingctx, a, start, n):
    """a[start:start + n] of a 1-D C-contiguous array (unchecked)."""
    return types.Array(a.dtype, 1, "C")(a, start, n), _view


@intrinsic
def view2(typingctx, a, start, m, n):
    """a[start:start + m * n].reshape((m, n)) of a 1-D C-contiguous array (unchecked)."""
    return types.Array(a.dtype, 2, "C")(a, start, m, n), _view


@intrinsic
def gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c):
    """c (m, n) = op(a) op(b), all C-contiguous (row major); op: NO_TRANS or TRANS."""
    sgemm, dgemm = link_gemm()
    fn = sgemm if c.dtype == types.float32 else dgemm

    def codegen(context, builder, sig, args):
        fndesc = ExternalFunctionDescriptor(fn.symbol, fn.sig.return_type, fn.sig.args)
        func = context.declare_external_function(builder.module, fndesc)
        real = fn.sig.args[6]

        def value(i, j):  # argument i, as the BLAS function's argument j
            return context.cast(builder, args[i], sig.args[i], fn.sig.args[j])

        def address(i):
            data = cgutils.create_struct_proxy(sig.args[i])(context, builder, value=args[i]).data
            return builder.ptrtoint(data, context.get_value_type(types.intp))

        values = [context.get_constant(types.int32, int(ROW_MAJOR)), value(0, 1), value(1, 2), value(2, 3),
                  value(3, 4), value(4, 5), context.get_constant(real, 1), address(5), value(6, 8),
                  address(7), value(8, 10), context.get_constant(real, 0), address(9), value(3, 13)]
        context.call_external_function(builder, func, fn.sig.args, values)
        return context.get_dummy_value()
    return types.void(trans_a, trans_b, m, n, k, a, lda, b, ldb, c), codegen


if config.DISABLE_JIT:
    def view1(a, start, n):  # noqa: F811 - the intrinsic's pure-Python stand-in
        return a[start:start + n]

    def view2(a, start, m, n):  # noqa: F811
        return a[start:start + m * n].reshape(m, n)

    def gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c):  # noqa: F811
        c[...] = (a.T if trans_a == TRANS else a) @ (b.T if trans_b == TRANS else b)


__all__ = ["GEMM_SYMBOLS", "NO_TRANS", "TRANS", "gemm", "link_gemm", "view1", "view2"]
