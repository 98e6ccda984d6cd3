"""Load a compiled loop from Numba's on-disk cache without Numba's set-up of its compiler.

On the first compile or cache load in a process, Numba imports and installs every typing and
lowering registry it has (`BaseContext.refresh`): 0.2-0.4 s here, including `import scipy.linalg`,
which `numba.np.arraymath` does to look for a BLAS. A cache load needs none of that: the cached
machine code is linked against symbols that exist as soon as the CPU context does (Numba's C
helpers, libm, the NRT once `rtsys.initialize` has run, and the BLAS symbols `symnn.runtime.blas`
binds when the fused module is imported). So a process whose fused loop is in the cache starts
training without paying for the registries; the first compilation of anything later in the process
refreshes them as usual (`compile_extra` does).

This reaches into Numba's dispatcher and cache (the steps of `Dispatcher.compile`'s cache hit,
minus the refresh). Any failure means: let Numba load it its own way.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.core.compiler_lock import global_compiler_lock
from numba.core.runtime import rtsys
from numba.core.typing.typeof import Purpose, typeof
from numba.np import numpy_support


def argument_type(value: object) -> types.Type:
    """Numba's type for an argument, as the dispatcher would find it. A plain ndarray is typed
    directly: Numba's `typeof` first checks for `numpy.ma.MaskedArray`, whose import alone takes
    ~20 ms in a new process."""
    if type(value) is np.ndarray:
        return types.Array(numpy_support.from_dtype(value.dtype), value.ndim,
                           numpy_support.map_layout(value), readonly=not value.flags.writeable)
    return typeof(value, Purpose.argument)


def load_cached(dispatcher: numba.core.dispatcher.Dispatcher, args: tuple) -> bool:
    """Put the cached compilation of `dispatcher` for these arguments in place; True if it was.

    False (nothing changed) when the cache has no entry for the arguments' types, or anything in
    Numba's internals is not as expected: the call then compiles or loads as usual.
    """
    try:
        sig = tuple(argument_type(a) for a in args)
        if sig in dispatcher.overloads:
            return True
        with global_compiler_lock:
            ctx = dispatcher.targetctx
            if dispatcher.targetoptions.get("_nrt", True):
                rtsys.initialize(ctx)  # compiled without the NRT (`_nrt=False`), the code calls none of it
            cres = dispatcher._cache._load_overload(sig, ctx)
            if cres is None or cres.objectmode:
                return False
            ctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
            dispatcher.add_overload(cres)
            dispatcher._cache_hits[sig] += 1
        return True
    except Exception:  # noqa: BLE001 - an internal API changed: Numba's own path still works
        return False


__all__ = ["load_cached"]
