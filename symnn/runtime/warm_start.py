"""Load compiled kernels from Numba's on-disk cache without Numba's set-up of its compiler.

On the first compile or cache load in a process, Numba imports and installs every typing and
lowering registry it has (`BaseContext.refresh`): 0.2-0.4 s here, including `import scipy.linalg`,
which `numba.np.arraymath` does to look for a BLAS. A cache load needs none of that: the cached
machine code is linked against symbols that exist as soon as the CPU context does (Numba's C
helpers, libm, the NRT once `rtsys.initialize` has run, and the BLAS symbols `symnn.runtime.blas`
binds when a fused module is imported). So symnn's own kernels, once cached, load without it; the
first compilation of anything in the process still refreshes the registries (`compile_extra` does),
and other code's Numba functions are left as they are.

The cache files of symnn's kernels carry a length and CRC-32 (`CheckedCacheFile`): a truncated,
emptied or garbled index or data file is found before it is unpickled or linked, removed, and the
kernel recompiled (said once). A cache folder that cannot be written only costs the saving.

This reaches into Numba's dispatcher and cache (`Dispatcher.compile` finds the cache at `_cache`
and calls its `load_overload`; `_load_overload` is that load minus the refresh). Any surprise
means: let Numba load it its own way.
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from pathlib import Path
from types import ModuleType

from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.dispatcher import Dispatcher
from numba.core.runtime import rtsys

from symnn.runtime.cache import in_package, route_numba_cache, warn_once

_SEAL = b"symnn-cache\x01"
_SEAL_HEADER = struct.Struct("<QI")  # payload length, CRC-32


class DamagedCacheFile(Exception):
    """A cache file's length or checksum does not match what was written: it is not used."""


def seal(payload: bytes) -> bytes:
    return _SEAL + _SEAL_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def unseal(raw: bytes, path: str) -> bytes:
    start = len(_SEAL) + _SEAL_HEADER.size
    if not raw.startswith(_SEAL) or len(raw) < start:
        raise DamagedCacheFile(f"{Path(path).name} is not a symnn cache file (an older cache, or damaged)")
    length, crc = _SEAL_HEADER.unpack_from(raw, len(_SEAL))
    payload = raw[start:]
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise DamagedCacheFile(f"{Path(path).name} is truncated or garbled")
    return payload


class CheckedCacheFile(IndexDataCacheFile):
    """Numba's index and data files, each sealed with its length and CRC-32 (checked on load)."""

    def _save_index(self, overloads):
        payload = pickle.dumps(self._version, protocol=-1) + self._dump((self._source_stamp, overloads))
        with self._open_for_write(self._index_path) as f:
            f.write(seal(payload))

    def _load_index(self):
        try:
            with open(self._index_path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return {}
        if not raw.startswith(_SEAL):  # written by Numba itself (a symnn before checked files): a miss
            return {}
        stream = io.BytesIO(unseal(raw, self._index_path))
        if pickle.load(stream) != self._version:
            return {}
        stamp, overloads = pickle.loads(stream.read())
        return overloads if stamp == self._source_stamp else {}

    def _save_data(self, name, data):
        with self._open_for_write(self._data_path(name)) as f:
            f.write(seal(self._dump(data)))

    def _load_data(self, name):
        path = self._data_path(name)
        with open(path, "rb") as f:
            raw = f.read()
        return pickle.loads(unseal(raw, path))

    def remove_all(self) -> None:
        """Delete this function's index and every data file it may have written."""
        folder = Path(self._cache_path)
        base = self._index_name[: -len(".nbi")]
        for p in [folder / self._index_name, *folder.glob(f"{base}.*.nbc")]:
            p.unlink(missing_ok=True)


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
        except DamagedCacheFile as exc:
            return self._discard(exc)
        except Exception:  # noqa: BLE001 - an internal API changed: Numba's own load still works
            try:
                return self._numba_cache.load_overload(sig, target_context)
            except Exception as exc:  # noqa: BLE001 - an unreadable cache entry: compile instead
                return self._discard(exc)

    def _discard(self, exc: Exception) -> None:
        files = getattr(self._numba_cache, "_cache_file", None)
        if isinstance(files, CheckedCacheFile):
            files.remove_all()
        where = getattr(self._numba_cache, "_cache_path", "?")
        detail = str(exc) if isinstance(exc, DamagedCacheFile) else f"{type(exc).__name__}: {str(exc)[:100]}"
        warn_once(f"a compiled-kernel cache file in {where} was unreadable ({detail}); removed it and recompiling")
        return None

    def save_overload(self, sig, data):
        """Save to the cache; a folder that cannot be written costs only the saving (said once)."""
        try:
            return self._numba_cache.save_overload(sig, data)
        except OSError as exc:
            warn_once(f"cannot save compiled kernels in {getattr(self._numba_cache, '_cache_path', '?')} "
                      f"({exc.strerror or exc}); they will be compiled again in the next process")

    def __getattr__(self, name: str):
        return getattr(self._numba_cache, name)


def _symnn_cache(obj: Dispatcher, cache: FunctionCache) -> FunctionCache:
    """The dispatcher's cache, in symnn's cache folder for functions of symnn's package (a module
    imported before the locator was registered is given a new cache), its files checked."""
    if in_package(obj.py_func.__code__.co_filename) and \
            type(cache._impl.locator).__name__ != "SymnnCacheLocator":
        cache = FunctionCache(obj.py_func)
    files = cache._cache_file
    if type(files) is IndexDataCacheFile:
        checked = CheckedCacheFile.__new__(CheckedCacheFile)
        checked.__dict__.update(files.__dict__)
        cache._cache_file = checked
    return cache


def skip_registry_refresh(module: ModuleType) -> ModuleType:
    """Make the cache loads of a module's cached Numba functions skip the registry refresh.

    Applies to the `@njit(cache=True)` functions defined in the module (symnn's generated kernels),
    whose caches also go to symnn's cache folder with checked files; returns the module.
    """
    route_numba_cache()
    for obj in vars(module).values():
        cache = getattr(obj, "_cache", None)
        if isinstance(obj, Dispatcher) and type(cache) is FunctionCache:
            obj._cache = CacheWithoutRefresh(_symnn_cache(obj, cache), obj.targetoptions.get("_nrt", True))
    return module


__all__ = ["CacheWithoutRefresh", "CheckedCacheFile", "skip_registry_refresh"]
