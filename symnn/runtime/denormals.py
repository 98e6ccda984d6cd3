"""`set_flush_denormal`: subnormal floats flushed to zero in the calling thread, as `torch.set_flush_denormal`.

By default symnn keeps IEEE subnormals, as PyTorch does (JAX's CPU backend flushes them). A long float32
training can fill the optimizer's state with them (Adam's moments of weights whose gradients are tiny
decay through the subnormal range over thousands of steps), and every operation on a subnormal costs the
CPU a slow assist, so such a fit slows down as it goes (benchmarks/README.md, "Subnormal numbers").
Flushing sets the SSE control register's flush-to-zero and denormals-are-zero bits, for everything the
thread computes afterwards (NumPy's arithmetic too, as with torch's), until it is turned off again;
threads it starts later inherit the setting (as POSIX threads inherit their creator's floating-point
environment), running ones keep theirs.
"""

from __future__ import annotations

import platform

import numpy as np

from symnn.errors import UserInputError

#: MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits.
FTZ_DAZ = 0x8040
#: Machines whose SSE control register this module sets (elsewhere set_flush_denormal returns False).
X86 = ("x86_64", "amd64", "i386", "i686", "x86")


def _swap_function():
    """The compiled `swap(on, off) -> old`: MXCSR |= on, MXCSR &= ~off (made on first use: it imports Numba)."""
    from llvmlite import ir
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    from symnn.runtime.cache import route_numba_cache

    route_numba_cache()

    @intrinsic
    def swap_mxcsr(typingctx, on, off):
        def codegen(context, builder, sig, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            address = builder.bitcast(slot, ir.IntType(8).as_pointer())
            fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.stmxcsr"), [address])
            old = builder.load(slot)
            builder.store(builder.and_(builder.or_(old, args[0]), builder.not_(args[1])), slot)
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.ldmxcsr"), [address])
            return old

        return types.int32(types.int32, types.int32), codegen

    @njit(cache=True, nogil=True, _nrt=False)
    def swap(on, off):
        return swap_mxcsr(on, off)

    return swap


_swap = None


def _control(on: int, off: int) -> int | None:
    """The thread's MXCSR before setting the bits `on` and clearing `off`; None on a CPU without one, or
    with NUMBA_DISABLE_JIT=1 (Python cannot reach the register)."""
    global _swap
    from numba import config

    if platform.machine().lower() not in X86 or config.DISABLE_JIT:
        return None
    if _swap is None:
        _swap = _swap_function()
    return int(_swap(np.int32(on), np.int32(off)))


def set_flush_denormal(mode: bool) -> bool:
    """Flush subnormal numbers to zero (mode True) or keep them (False, the default) in the calling
    thread and the threads it starts afterwards, as `torch.set_flush_denormal(mode)`: True where the
    CPU supports it (x86 with SSE; not with NUMBA_DISABLE_JIT=1), else False and nothing changes. Results then differ from
    PyTorch's defaults wherever a value is subnormal."""
    if not isinstance(mode, (bool, np.bool_)):
        raise UserInputError(f"set_flush_denormal takes True or False, not {mode!r}")
    return _control(FTZ_DAZ if mode else 0, 0 if mode else FTZ_DAZ) is not None


def flushing_denormals() -> bool:
    """Whether the calling thread flushes subnormal numbers to zero (set_flush_denormal(True))."""
    old = _control(0, 0)
    return old is not None and old & FTZ_DAZ == FTZ_DAZ


__all__ = ["FTZ_DAZ", "flushing_denormals", "set_flush_denormal"]
