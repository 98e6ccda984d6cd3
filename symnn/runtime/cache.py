"""The per-user cache folder for compiled kernels: user formulas, fused loops, and Numba's own cache.

Everything symnn compiles lands here ($SYMNN_CACHE_DIR, default ~/.cache/symnn), never inside the
installed package, which may be read-only or shared by users (and whose leftover `__pycache__`
folders would outlive `pip uninstall` as an empty namespace package). Numba's cache of symnn's
generated kernels is routed here by a cache locator (`SymnnCacheLocator`). A folder that cannot be
written (read-only, a HOME that cannot be created) is replaced, with one warning, by a temporary
folder for the process; a cached module that no longer imports is removed and recompiled.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

#: The usable cache folder of each configured one, found once per process.
_resolved: dict[str, Path] = {}
_warned: set[str] = set()


class CorruptCacheModule(ImportError):
    """A module in the cache folder did not import (truncated, emptied, garbled): it was removed."""


def warn_once(message: str) -> None:
    """A RuntimeWarning shown once per process for each message (cache trouble is said once)."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(f"symnn: {message}", RuntimeWarning, stacklevel=3)


def configured_cache_dir() -> Path:
    """$SYMNN_CACHE_DIR, else the platform's user cache folder (~/.cache/symnn on Linux)."""
    env = os.environ.get("SYMNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        home = Path.home()
    except (RuntimeError, KeyError):  # no HOME and no password entry
        home = Path(tempfile.gettempdir())
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "symnn"


def cache_dir() -> Path:
    """The cache folder: the configured one if it can be created and written, else (said once) a
    temporary folder removed when the process ends."""
    configured = configured_cache_dir()
    key = str(configured)
    found = _resolved.get(key)
    if found is not None and found.is_dir():
        return found
    try:
        configured.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=configured).close()
        found = configured
    except OSError as exc:
        found = Path(tempfile.mkdtemp(prefix="symnn-cache-"))
        atexit.register(shutil.rmtree, found, ignore_errors=True)
        warn_once(f"cannot write the kernel cache folder {configured} ({exc.strerror or exc}); compiling into "
                  f"{found} for this process only; set SYMNN_CACHE_DIR to a writable folder to keep compiled kernels")
    _resolved[key] = found
    return found


@functools.cache
def _package_dirs() -> tuple[str, ...]:
    """The folders of symnn's own source and of its generated kernels (wherever they are installed)."""
    dirs = [str(Path(__file__).resolve().parent.parent)]
    try:
        spec = importlib.util.find_spec("symnn.generated")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs += [str(Path(d).resolve()) for d in spec.submodule_search_locations]
    return tuple(dict.fromkeys(os.path.join(d, "") for d in dirs))


def in_package(path: str | os.PathLike) -> bool:
    """Whether a file lies inside symnn's installed package (its source or its generated kernels)."""
    full = str(Path(path).resolve())
    return any(full.startswith(d) for d in _package_dirs())


def numba_cache_dir(py_file: str) -> Path:
    """Where Numba caches the compiled functions of one of symnn's source files."""
    from numba.core.caching import _CacheLocator

    return cache_dir() / "numba" / _CacheLocator.get_suitable_cache_subpath(py_file)


def route_numba_cache() -> None:
    """Make Numba cache symnn's own kernels in the user cache folder (idempotent)."""
    from numba.core.caching import CacheImpl

    locator = _locator_class()
    if locator not in CacheImpl._locator_classes:
        CacheImpl._locator_classes.insert(0, locator)


_LOCATOR = None


def _locator_class():
    """The Numba cache locator for functions defined in symnn's package (made on first use: it
    subclasses Numba's, which is imported only when something compiles)."""
    global _LOCATOR
    if _LOCATOR is None:
        from numba.core.caching import _CacheLocator, _SourceFileBackedLocatorMixin

        class SymnnCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
            """Numba's cache of a function in symnn's package: in symnn's cache folder, not the package."""

            def __init__(self, py_func, py_file):
                self._py_file = py_file
                self._lineno = py_func.__code__.co_firstlineno
                self._cache_path = str(numba_cache_dir(py_file))

            def get_cache_path(self):
                return self._cache_path

            @classmethod
            def from_function(cls, py_func, py_file):
                if not in_package(py_file):
                    return None
                return super().from_function(py_func, py_file)

        _LOCATOR = SymnnCacheLocator
    return _LOCATOR


def import_file(path: Path, module_name: str) -> ModuleType:
    """Import a generated module from its file, so Numba's cache=True can key on it; its cached
    kernels load without Numba's per-process set-up (symnn.runtime.warm_start).

    A file that does not import (truncated, emptied, garbled) is removed and CorruptCacheModule
    raised: the caller writes it again.
    """
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        del sys.modules[module_name]
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises, it is rebuilt
        discard_module(module, f"{type(exc).__name__}: {str(exc)[:80]}")
        raise CorruptCacheModule(f"the cached module {path} did not import; it was removed") from None
    from symnn.runtime.warm_start import skip_registry_refresh

    return skip_registry_refresh(module)


def discard_module(module: ModuleType, why: str) -> None:
    """Forget a damaged cached module and delete its file, so that it is generated again (said once)."""
    path = getattr(module, "__file__", None)
    sys.modules.pop(module.__name__, None)
    if path:
        Path(path).unlink(missing_ok=True)
    warn_once(f"the cached kernel module {path} was damaged ({why}); recompiling it")
