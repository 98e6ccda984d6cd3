"""Where a fused loop's module lives and how it is loaded: `<cache>/fused/fused_<hash of its text>.py`.

The module is written once (atomically) into symnn's cache folder and compiled by Numba, whose own
cache sits beside it; a damaged file is written again. Remembered per spec for the process, so a fit
of one epoch at a time pays no assembly. A loop this Numba will not build is remembered too (the
intrinsics use some of Numba's internal API, which a later Numba may change): its fits run per layer.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import warnings
from pathlib import Path
from types import ModuleType

from symnn.atomic import write_text
from symnn.runtime import blas
from symnn.runtime.cache import CorruptCacheModule, cache_dir, import_file
from symnn.runtime.fused import assemble
from symnn.runtime.fused.spec import spec_key

_modules: dict[str, ModuleType] = {}
_by_spec: dict[tuple, ModuleType] = {}
#: How the reason a loop was not built begins (its fits warn once, when it is found).
NOT_BUILT = "the fused loop does not build with Numba"
#: Specs whose loop this Numba would not build (spec key -> why): fits of them run per layer.
unbuildable: dict[tuple, str] = {}


def module_path(source: str) -> Path:
    """Where a fused module's text lives in the cache folder: named by its hash."""
    key = hashlib.sha256(source.encode()).hexdigest()[:24]
    return cache_dir() / "fused" / f"fused_{key}.py"


def load_module(spec: dict) -> ModuleType:
    """The fused module of a spec, written into the cache folder if it is not there yet.

    Remembered per spec for the process: a fit of one epoch at a time pays no text generation.
    The matrix products call NumPy's OpenBLAS directly where it is there (symnn.runtime.blas),
    `np.dot` (SciPy's OpenBLAS) otherwise.
    """
    key = spec_key(spec)
    if key not in _by_spec:
        mod = None
        with collector_paused():
            if blas.numpy_openblas() is not None:
                try:
                    mod = _load_source(assemble.fused_module(spec, direct_gemm=True))
                except ImportError:
                    mod = None
            _by_spec[key] = mod or _load_source(assemble.fused_module(spec))
    return _by_spec[key]


def _load_source(source: str) -> ModuleType:
    path = module_path(source)
    if path.stem not in _modules:
        if not path.is_file() or path.read_bytes() != source.encode("utf-8"):  # missing, or damaged
            write_text(path, source)
        try:
            _modules[path.stem] = import_file(path, f"symnn_{path.stem}")
        except CorruptCacheModule:  # changed under us after the check: removed, written again
            write_text(path, source)
            _modules[path.stem] = import_file(path, f"symnn_{path.stem}")
    return _modules[path.stem]


@contextlib.contextmanager
def collector_paused(first: bool = True):
    """Python's cyclic garbage collector paused (when `first`) while a loop is assembled, imported and
    compiled or loaded by Numba, and resumed after. That work makes and drops hundreds of thousands of
    objects, and the full collections among them took up to 8% of a cold first fit (benchmarks/README.md,
    "Compile time"); its garbage is collected after. Calls of a compiled loop make no objects."""
    if not (first and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def compiled(loop) -> bool:
    """Whether Numba has compiled (or loaded) the loop in this process (a plain function, with
    NUMBA_DISABLE_JIT=1, counts as compiled)."""
    return bool(getattr(loop, "overloads", True))


def not_built(spec: dict, exc: Exception) -> str:
    """Remember that this Numba does not build the spec's loop (it uses some of Numba's internal
    API, which a later Numba may change), warn once, and say why."""
    import numba

    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    why = f"{NOT_BUILT} {numba.__version__} ({type(exc).__name__}: {detail})"
    unbuildable[spec_key(spec)] = why
    warnings.warn(f"symnn: {why}; training with the per-layer kernels instead (slower)", RuntimeWarning,
                  stacklevel=4)
    return why


__all__ = ["NOT_BUILT", "collector_paused", "compiled", "load_module", "module_path", "not_built", "unbuildable"]
