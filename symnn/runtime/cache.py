"""The per-user cache folder for kernels generated on demand (user formulas, fused loops)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType


def cache_dir() -> Path:
    """$SYMNN_CACHE_DIR, else the platform's user cache folder (~/.cache/symnn on Linux)."""
    env = os.environ.get("SYMNN_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "symnn"


def import_file(path: Path, module_name: str) -> ModuleType:
    """Import a generated module from its file, so Numba's cache=True can key on it; its cached
    kernels load without Numba's per-process set-up (symnn.runtime.warm_start)."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    from symnn.runtime.warm_start import skip_registry_refresh

    return skip_registry_refresh(module)
