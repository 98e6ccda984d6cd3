"""Load compiled kernels from Numba's on-disk cache without Numba's set-up of its compiler.

On the first compile or cache load in a process, Numba imports and installs every typing and
lowering registry it has (`BaseContext.refresh`): 0.2-0.4 s here, including `import scipy.linalg`,
which `numba.np.arraymath` does to look for a BLAS. A cache load needs none of that: the cached
machine code is linked against symbols that exist as soon as the CPU context does (Numba's C
helpers, libm, the NRT once `rtsys.initialize` has run, and the BLAS symbols `symnn.runtime.blas`
binds when a fused module is imported). So symnn's own kernels, once cached, load without it; the
first compilation of anything in the process still refreshes the registries (`compile_extra` does),
and other code's Numba functions are left as they are.

This reaches into Numba's dispatcher and cache (`Dispatcher.compile` finds the cache at `_cache`
and calls its `load_overload`; `_load_overload` is that load minus the refresh). Any surprise
means: let Numba load it its own way.
"""

from __future__ import annotations

from types import ModuleType

from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher
from numba.core.runtime import rtsys


class CacheWithoutRefresh:
    """A dispatcher's on-disk cache whose loads skip Numba's registry refresh; all else delegated."""

    def __init__(self, cache: FunctionCache, uses_nrt: bool) -> None:
        self._numba_cache = cache
        self._uses_nrt = uses_nrt

    def load_overload(self, sig, target_context):
        """The cached compilation for `sig`, or None (then the dispatcher compiles)."""
        try:
            if self._uses_nrt:  # compiled with `_nrt=False`, the code calls none of the NRT
                rtsys.initialize(target_context)
            return self._numba_cache._load_overload(sig, target_context)
        except Exception:  # noqa: BLE001 - an internal API changed: Numba's own load still works
            return self._numba_cache.load_overload(sig, target_context)

    def __getattr__(self, name: str):
        return getattr(self._numba_cache, name)


def skip_registry_refresh(module: ModuleType) -> ModuleType:
    """Make the cache loads of a module's cached Numba functions skip the registry refresh.

    Applies to the `@njit(cache=True)` functions defined in the module (symnn's generated kernels);
    returns the module.
    """
    for obj in vars(module).values():
        cache = getattr(obj, "_cache", None)
        if isinstance(obj, Dispatcher) and type(cache) is FunctionCache:
            obj._cache = CacheWithoutRefresh(cache, obj.targetoptions.get("_nrt", True))
    return module


__all__ = ["CacheWithoutRefresh", "skip_registry_refresh"]
