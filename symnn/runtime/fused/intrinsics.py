"""The fused loop's intrinsics: views of its flat arrays (`view1`, `view2`) and its matrix product (`gemm`).

Slicing and `.reshape` cost the first fit most of a second (measured: benchmarks/README.md): each
slice is typed and lowered with its bounds arithmetic, each reshape calls a compiled size check, and
LLVM optimizes all of it. These views are made directly instead; the blocks are in bounds by
construction (the layout of symnn.runtime.fused.session), so nothing is checked here.

`gemm` computes c = op(a) op(b) in one of two ways, chosen at run time by `kernel_takes` (shape and
transposition): a small register-blocked kernel emitted here as LLVM IR (`small_product`, one
internal function per dtype in the loop's module), or NumPy's bundled OpenBLAS (symnn.runtime.blas),
called as an external function under a fixed symbol bound when this module is imported, so the
compiled loop names only the symbol and Numba's cache of it stays valid from process to process
(`blas_gemm` always calls it). Intrinsics emit the code themselves: an `@overload` costs a compiled
function of its own (~0.4 s more of a cold fit). The kernel lives in this file because the loop's
text carries this file's hash (assemble.py): a changed kernel makes a new loop, not a stale cache hit.

The kernel: each tile of ROWS rows of c by one vector of `lanes` columns (64 bytes) is accumulated in
registers over the inner index p in order, one fused multiply-add per term, from zero, and stored
once. NumPy's OpenBLAS sums the same way on the machine measured (the same bits, and the same trained
numbers, except where it splits a long inner dimension into blocks; benchmarks/README.md, "Small
products"). Nothing is skipped: NaN and inf propagate as in a dot product. `X W^T` has its W copied
transposed into a stack buffer first, so that every product reads its second operand along
contiguous rows: `small_product` must not be given an X W^T whose W has more than SCRATCH elements.

With NUMBA_DISABLE_JIT=1 each has a pure-Python stand-in with the same results, so a fused fit runs
as plain Python (pdb steps through it).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import operator

import numpy as np
from llvmlite import ir
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


#: The vector width (bits) LLVM may give the loop's elementwise loops (`wide_vectors`). Its own choice on
#: Intel's AVX-512 CPUs is 256 (a tuning for their clocks), which leaves half of every register unused:
#: there 512-bit loops are faster (benchmarks/README.md, "Vectors as wide as the CPU's"); AMD's Zen 4 gets
#: 512 already, and a CPU with narrower vectors keeps its own.
PREFERRED_VECTOR_BITS = 512


@intrinsic
def wide_vectors(typingctx):
    """Lets LLVM vectorise the calling function's loops PREFERRED_VECTOR_BITS wide where the CPU has such
    vectors (the function attribute "prefer-vector-width"). The loops compute the same numbers: each
    element is computed alone, and no sum is reordered (no fastmath)."""
    def codegen(context, builder, sig, args):
        # llvmlite's attribute set takes only the attributes it knows by name; a "key"="value" attribute
        # is printed into the function's definition as it is given.
        try:
            set.add(builder.function.attributes, f'"prefer-vector-width"="{PREFERRED_VECTOR_BITS}"')
        except TypeError:  # an llvmlite whose attributes are no set: LLVM's own width (a test says so)
            pass
        return context.get_dummy_value()

    return types.none(), codegen


#: The kernel's tile: this many rows of c (then 4, then 1 for the rest) by one 64-byte vector.
ROWS = 8
VECTOR_BYTES = 64
#: The stack buffer that holds the transposed W of `X W^T` (elements): products with a larger W go to OpenBLAS.
SCRATCH = 4096
#: The largest W (G W) or weight gradient (G^T X) the kernel computes with (elements): on larger ones
#: (W3's 512 x 512) OpenBLAS, which blocks its operands for the caches, is as fast or faster.
WEIGHTS = 16384


def lanes(itemsize: int) -> int:
    """The kernel's vector width in elements of this size."""
    return VECTOR_BYTES // itemsize


#: Where `gemm` computes by the kernel, by (trans_a, trans_b): conditions on the product's shape (c is
#: m by n, k the inner dimension; `width` the vector's lanes, `itemsize` the element's bytes) that must
#: all hold; elsewhere OpenBLAS. Measured: benchmarks/README.md, "Small products".
KERNEL_SHAPES = {
    # X W^T: W's copy fits and pays off; one column only in float64 (float32's is OpenBLAS's)
    (False, True): ("n * itemsize >= 8", "n * k <= SCRATCH", "n * k <= 16 * m"),
    (True, False): ("m * n <= WEIGHTS", "m % ROWS == 0", "n % width == 0"),  # G^T X: whole tiles only
    (False, False): ("k * n <= WEIGHTS", "k >= 2"),  # G W (k = 1 is an outer product: OpenBLAS's stores are faster)
}


def kernel_takes(trans_a: bool, trans_b: bool, m: int, n: int, k: int, itemsize: int) -> bool:
    """Whether `gemm` computes c (m, n) = op(a) op(b), of elements of `itemsize` bytes, by the kernel
    (KERNEL_SHAPES)."""
    shape = {"m": m, "n": n, "k": k, "itemsize": itemsize, "width": lanes(itemsize)}
    conditions = KERNEL_SHAPES.get((trans_a, trans_b))
    return conditions is not None and all(_condition(text, shape, _PYTHON) for text in conditions)


#: How a condition's parts are computed: on Python ints (kernel_takes) or as LLVM IR (`_takes_ir`).
_PYTHON = {"const": int, "*": operator.mul, "%": operator.mod, "==": operator.eq, "<=": operator.le,
           ">=": operator.ge}


def _condition(text: str, shape: dict, ops: dict):
    """A condition of KERNEL_SHAPES evaluated with `ops`: names from `shape` or this module (SCRATCH,
    ROWS), integers, `*`, `%` and one comparison."""
    def value(node: ast.expr):
        if isinstance(node, ast.Name):
            return shape[node.id] if node.id in shape else ops["const"](globals()[node.id])
        if isinstance(node, ast.Constant):
            return ops["const"](node.value)
        if isinstance(node, ast.BinOp):
            return ops[{ast.Mult: "*", ast.Mod: "%"}[type(node.op)]](value(node.left), value(node.right))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            symbol = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">="}[type(node.ops[0])]
            return ops[symbol](value(node.left), value(node.comparators[0]))
        raise ValueError(f"not a condition of KERNEL_SHAPES: {ast.unparse(node)}")
    return value(ast.parse(text, mode="eval").body)


def _takes_ir(builder: ir.IRBuilder, trans_a: ir.Value, trans_b: ir.Value, shape: dict) -> ir.Value:
    """kernel_takes as IR (i1): the flags' pattern's conditions, all of them (the flags are constants
    in the loop, so LLVM keeps one pattern's)."""
    i64 = ir.IntType(64)
    ops = {"const": lambda v: ir.Constant(i64, int(v)), "*": builder.mul, "%": builder.srem,
           "==": lambda a, b: builder.icmp_signed("==", a, b), "<=": lambda a, b: builder.icmp_signed("<=", a, b),
           ">=": lambda a, b: builder.icmp_signed(">=", a, b)}
    takes = ir.Constant(ir.IntType(1), 0)
    for (ta, tb), conditions in KERNEL_SHAPES.items():
        this = builder.and_(trans_a if ta else builder.not_(trans_a), trans_b if tb else builder.not_(trans_b))
        for text in conditions:
            this = builder.and_(this, _condition(text, shape, ops))
        takes = builder.or_(takes, this)
    return takes


def _declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    fn = module.globals.get(name)
    return fn if fn is not None else ir.Function(module, fnty, name)


@contextlib.contextmanager
def _loop(b: ir.IRBuilder, count: ir.Value):
    """`for i in range(count)` (yields i), which LLVM is told not to unroll: the kernel's loops are
    unrolled by hand where it pays (its tiles' rows), and unrolled again they only cost compile time."""
    head, body, end = (b.append_basic_block(name) for name in ("loop.head", "loop.body", "loop.end"))
    start = b.basic_block
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(count.type)
    b.cbranch(b.icmp_signed("<", i, count), body, end)
    b.position_at_end(body)
    yield i
    step = b.add(i, ir.Constant(count.type, 1))
    back = b.branch(head)
    back.set_metadata("llvm.loop", _no_unroll(b.module))
    i.add_incoming(ir.Constant(count.type, 0), start)
    i.add_incoming(step, b.basic_block)
    b.position_at_end(end)


class _LoopID(ir.values.MDValue):
    """A loop's metadata node, which names itself first (as LLVM requires); compared and hashed by
    identity (MDValue's compare its operands, which would recurse)."""

    __eq__, __ne__, __hash__ = object.__eq__, object.__ne__, object.__hash__


def _no_unroll(module: ir.Module) -> ir.values.MDValue:
    disable = module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")])
    node = _LoopID(module, [], name=str(len(module.metadata)))  # numbered as add_metadata numbers
    node.operands = (node, disable)
    return node


def _kernel_function(module: ir.Module, real: ir.Type, width: int) -> ir.Function:
    """`void kernel(m, n, k, x, sxi, sxp, y, syp, syj, c)`, internal to `module`: c (m, n), C-contiguous,
    = sum over p of x[i*sxi + p*sxp] * y[p*syp + j*syj] (y copied to SCRATCH first if syj != 1)."""
    tag = "f32" if isinstance(real, ir.FloatType) else "f64"
    name = f"symnn_small_product_{tag}"
    if name in module.globals:
        return module.globals[name]
    i64, i32 = ir.IntType(64), ir.IntType(32)
    ptr = real.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [i64, i64, i64, ptr, i64, i64, ptr, i64, i64, ptr]), name)
    fn.linkage = "internal"
    m, n, k, x, sxi, sxp, y, syp, syj, c = fn.args
    vec, mask_t = ir.VectorType(real, width), ir.VectorType(ir.IntType(1), width)
    vptr = vec.as_pointer()
    suffix = f"v{width}{tag}"
    masked_load = _declare(module, f"llvm.masked.load.{suffix}.p0", ir.FunctionType(vec, [vptr, i32, mask_t, vec]))
    masked_store = _declare(module, f"llvm.masked.store.{suffix}.p0",
                            ir.FunctionType(ir.VoidType(), [vec, vptr, i32, mask_t]))
    fma = _declare(module, f"llvm.fma.{suffix}", ir.FunctionType(vec, [vec, vec, vec]))
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    const = functools.partial(ir.Constant, i64)
    align = 4 if tag == "f32" else 8
    scratch = b.alloca(real, size=const(SCRATCH), name="scratch")
    accs = [b.alloca(vec, name=f"acc{r}") for r in range(ROWS)]
    zero = ir.Constant(vec, None)

    def splat(value: ir.Value, t: ir.VectorType = vec) -> ir.Value:
        one = b.insert_element(ir.Constant(t, ir.Undefined), value, ir.Constant(i32, 0))
        return b.shuffle_vector(one, ir.Constant(t, ir.Undefined), ir.Constant(ir.VectorType(i32, width), [0] * width))

    # y along contiguous rows: as it is, or transposed into the scratch buffer (scratch[p*n + j])
    y_rows, y_step = cgutils.alloca_once_value(b, y), cgutils.alloca_once_value(b, syp)
    with b.if_then(b.icmp_signed("!=", syj, const(1))):
        with _loop(b, n) as j, _loop(b, k) as p:
            value = b.load(b.gep(y, [b.add(b.mul(j, syj), b.mul(p, syp))]))
            b.store(value, b.gep(scratch, [b.add(b.mul(p, n), j)]))
        b.store(scratch, y_rows)
        b.store(n, y_step)
    y, syp = b.load(y_rows), b.load(y_step)

    def tile(i0: ir.Value, rows: int, j0: ir.Value, mask: ir.Value | None) -> None:
        """c[i0:i0 + rows, j0:j0 + width] (the lanes of `mask`, or all)."""
        for r in range(rows):
            b.store(zero, accs[r])
        x_rows = [b.gep(x, [b.mul(b.add(i0, const(r)), sxi)]) for r in range(rows)]
        with _loop(b, k) as p:
            y_ptr = b.bitcast(b.gep(y, [b.add(b.mul(p, syp), j0)]), vptr)
            yv = b.load(y_ptr, align=align) if mask is None else b.call(masked_load, [y_ptr, i32(align), mask, zero])
            xp = b.mul(p, sxp)
            for r in range(rows):
                xv = splat(b.load(b.gep(x_rows[r], [xp])))
                b.store(b.call(fma, [xv, yv, b.load(accs[r])]), accs[r])
        for r in range(rows):
            c_ptr = b.bitcast(b.gep(c, [b.add(b.mul(b.add(i0, const(r)), n), j0)]), vptr)
            if mask is None:
                b.store(b.load(accs[r]), c_ptr, align=align)
            else:
                b.call(masked_store, [b.load(accs[r]), c_ptr, i32(align), mask])

    def row_block(i0: ir.Value, rows: int) -> None:
        full = b.udiv(n, const(width))
        with _loop(b, full) as jv:
            tile(i0, rows, b.mul(jv, const(width)), None)
        j0 = b.mul(full, const(width))
        with b.if_then(b.icmp_signed("<", j0, n)):
            index_t = ir.VectorType(i64, width)
            columns = b.add(splat(j0, index_t), ir.Constant(index_t, list(range(width))))
            tile(i0, rows, j0, b.icmp_unsigned("<", columns, splat(n, index_t)))

    done = const(0)
    for rows in (ROWS, 4, 1):
        blocks = b.udiv(b.sub(m, done), const(rows))
        with _loop(b, blocks) as blk:
            row_block(b.add(done, b.mul(blk, const(rows))), rows)
        done = b.add(done, b.mul(blocks, const(rows)))
    b.ret_void()
    return fn


def _is_trans(builder: ir.IRBuilder, flag: ir.Value) -> ir.Value:
    return builder.icmp_signed("==", flag, ir.Constant(flag.type, int(TRANS)))


def _kernel_codegen(context, builder, sig, args) -> None:
    """The kernel's call for `gemm`'s arguments: a's and b's strides by transposition (row major)."""
    dtype = sig.args[9].dtype
    fn = _kernel_function(builder.module, context.get_value_type(dtype), lanes(dtype.bitwidth // 8))
    m, n, k, lda, ldb = (context.cast(builder, args[i], sig.args[i], types.int64) for i in (2, 3, 4, 6, 8))
    one = ir.Constant(ir.IntType(64), 1)
    ta, tb = _is_trans(builder, args[0]), _is_trans(builder, args[1])
    data = [cgutils.create_struct_proxy(sig.args[i])(context, builder, value=args[i]).data for i in (5, 7, 9)]
    builder.call(fn, [m, n, k, data[0], builder.select(ta, one, lda), builder.select(ta, lda, one),
                      data[1], builder.select(tb, one, ldb), builder.select(tb, ldb, one), data[2]])


def _openblas_codegen(context, builder, sig, args) -> None:
    """NumPy's OpenBLAS's call for `gemm`'s arguments."""
    sgemm, dgemm = link_gemm()
    fn = sgemm if sig.args[9].dtype == types.float32 else dgemm
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


def _product(how: str, *arg_types: types.Type) -> tuple:
    """The signature and codegen of c (m, n) = op(a) op(b) computed `how`: by the kernel ("kernel"), by
    OpenBLAS ("openblas"), or by the one `kernel_takes` picks at run time ("chosen")."""
    if how != "kernel":
        link_gemm()

    def codegen(context, builder, sig, args):
        if how == "chosen":
            shape = {name: context.cast(builder, args[i], sig.args[i], types.int64)
                     for name, i in (("m", 2), ("n", 3), ("k", 4))}
            itemsize = sig.args[9].dtype.bitwidth // 8
            shape |= {"itemsize": ir.Constant(ir.IntType(64), itemsize), "width": ir.Constant(ir.IntType(64), lanes(itemsize))}
            takes = _takes_ir(builder, _is_trans(builder, args[0]), _is_trans(builder, args[1]), shape)
            with builder.if_else(takes) as (kernel, openblas):
                with kernel:
                    _kernel_codegen(context, builder, sig, args)
                with openblas:
                    _openblas_codegen(context, builder, sig, args)
        else:
            (_kernel_codegen if how == "kernel" else _openblas_codegen)(context, builder, sig, args)
        return context.get_dummy_value()
    return types.void(*arg_types), codegen


@intrinsic
def gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c):
    """c (m, n) = op(a) op(b), all C-contiguous (row major); op: NO_TRANS or TRANS; k the inner
    dimension, lda and ldb the rows' lengths of a and b; by the kernel where `kernel_takes`, else by
    NumPy's OpenBLAS."""
    return _product("chosen", trans_a, trans_b, m, n, k, a, lda, b, ldb, c)


@intrinsic
def small_product(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c):
    """`gemm`, always by the kernel (its tests, benchmarks/small_products.py)."""
    return _product("kernel", trans_a, trans_b, m, n, k, a, lda, b, ldb, c)


@intrinsic
def blas_gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c):
    """`gemm`, always by NumPy's OpenBLAS."""
    return _product("openblas", trans_a, trans_b, m, n, k, a, lda, b, ldb, c)


if config.DISABLE_JIT:
    def view1(a, start, n):  # noqa: F811 - the intrinsic's pure-Python stand-in
        return a[start:start + n]

    def view2(a, start, m, n):  # noqa: F811
        return a[start:start + m * n].reshape(m, n)

    def gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c):  # noqa: F811
        c[...] = (a.T if trans_a == TRANS else a) @ (b.T if trans_b == TRANS else b)

    small_product = blas_gemm = gemm

    def wide_vectors():  # noqa: F811
        return None


__all__ = ["GEMM_SYMBOLS", "KERNEL_SHAPES", "NO_TRANS", "PREFERRED_VECTOR_BITS", "ROWS", "SCRATCH", "TRANS", "WEIGHTS",
           "blas_gemm", "gemm", "kernel_takes", "lanes", "link_gemm", "small_product", "view1", "view2", "wide_vectors"]
