"""Compiled caches: in the user cache folder (never in the installed package), shared safely by
processes compiling at once, and rebuilt, with one warning, when a file in them is damaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from symnn.runtime import cache

RUN = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    from numba.core.dispatcher import Dispatcher
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import symnn
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 2)).astype(np.float32)
        y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)
        fused = symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("tanh"), symnn.Dense(8, 1)],
                                 loss="binary_cross_entropy", dtype="float32", seed=1)
        a = fused.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=3, verbose=False)["loss"]
        a += fused.predict(X).tolist()  # the per-layer kernels (built-in activation) too
        formula = symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("x*tanh(x)"), symnn.Dense(8, 1)],
                                   loss="binary_cross_entropy", dtype="float32", seed=1)
        b = formula.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=3, verbose=False)["loss"]
        b += formula.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=1, verbose=False, fused=False)["loss"]
    compiled = sum(sum(obj._cache_misses.values()) for name, mod in list(sys.modules.items())
                   if name.startswith(("symnn.generated", "symnn_")) for obj in vars(mod).values()
                   if isinstance(obj, Dispatcher))
    print(json.dumps({"loss": a + b, "compiled": compiled,
                      "warnings": [str(w.message) for w in caught if "symnn" in str(w.message)]}))
""")


def _run(cache_dir: Path, **env) -> dict:
    full_env = dict(os.environ, SYMNN_CACHE_DIR=str(cache_dir), **env)
    done = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, env=full_env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _numba_files(folders) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for d in folders for p in Path(d).rglob("*.nb[ic]")}


@pytest.fixture(scope="module")
def warm(tmp_path_factory) -> tuple[Path, dict]:
    """A cache folder filled by two processes compiling at the same time (nothing cached before)."""
    folder = tmp_path_factory.mktemp("shared-cache")
    package = cache._package_dirs()
    before = _numba_files(package)
    env = dict(os.environ, SYMNN_CACHE_DIR=str(folder))
    procs = [subprocess.Popen([sys.executable, "-c", RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    after = _numba_files(package)
    return folder, {"results": results, "package_before": before, "package_after": after}


def test_training_writes_no_file_into_the_package_and_caches_under_symnn_cache_dir(warm):
    folder, info = warm
    assert info["package_after"] == info["package_before"], "Numba cache files were written into the package"
    cached = {p.parent.name.split("_")[0] for p in (folder / "numba").rglob("*.nbi")}
    assert {"layers", "activations", "losses", "optimizers"} <= cached
    assert list((folder / "fused").glob("fused_*.py")) and list((folder / "activations").glob("act_*.py"))


def test_processes_compiling_at_once_share_the_cache_without_damaging_it(warm):
    folder, info = warm
    losses = [r["loss"] for r in info["results"]]
    assert losses[0] == losses[1]
    assert not any(r["warnings"] for r in info["results"])
    again = _run(folder)
    assert again["compiled"] == 0 and again["warnings"] == [] and again["loss"] == losses[0]


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    else:  # garbled: bytes flipped in the middle
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 16]) + data[middle + 16:])


FILES = {
    "kernel index": lambda d: next((d / "numba").glob("layers_*/dense.dense_forward-*.nbi")),
    "kernel data": lambda d: next((d / "numba").glob("layers_*/dense.dense_forward-*.nbc")),
    "fused loop index": lambda d: next((d / "fused" / "__pycache__").glob("*.nbi")),
    "fused loop module": lambda d: next((d / "fused").glob("fused_*.py")),
    "formula module": lambda d: next((d / "activations").glob("act_*.py")),
}


@pytest.mark.parametrize("how", ["truncated", "emptied", "garbled"])
@pytest.mark.parametrize("which", list(FILES), ids=list(FILES))
def test_a_damaged_cache_file_is_rebuilt_once_with_the_same_numbers(warm, tmp_path, which, how):
    folder, info = warm
    copy = tmp_path / "cache"
    shutil.copytree(folder, copy)
    _damage(FILES[which](copy), how)
    first = _run(copy)
    assert first["loss"] == info["results"][0]["loss"]
    assert len(first["warnings"]) <= 1
    if which.endswith(("index", "data")):  # recompiled (a module is written again, and its cache still fits)
        assert first["compiled"] >= 1
    if which == "formula module":
        assert len(first["warnings"]) == 1 and "recompiling" in first["warnings"][0]
    if how == "garbled" and which == "kernel data":  # and the next run finds a whole cache again
        second = _run(copy)
        assert second["compiled"] == 0 and second["warnings"] == [] and second["loss"] == first["loss"]


def test_an_unwritable_cache_folder_falls_back_to_a_temporary_one_said_once(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SYMNN_CACHE_DIR", str(blocker / "cache"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = cache.cache_dir(), cache.cache_dir()
    assert first == second and first.is_dir() and not str(first).startswith(str(blocker))
    assert len([w for w in caught if "SYMNN_CACHE_DIR" in str(w.message)]) == 1
    assert str(cache.numba_cache_dir(__file__)).startswith(str(first))


def test_a_home_that_cannot_be_created_falls_back_to_a_temporary_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.delenv("SYMNN_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(blocker / "home"))
    with pytest.warns(RuntimeWarning, match="cannot write the kernel cache folder"):
        folder = cache.cache_dir()
    assert folder.is_dir() and os.access(folder, os.W_OK)


def test_the_numba_caches_of_symnns_kernels_are_under_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNN_CACHE_DIR", str(tmp_path))
    from symnn.runtime import kernels

    dense = kernels.dense().dense_forward
    assert cache.in_package(dense.py_func.__code__.co_filename)
    assert not cache.in_package(str(tmp_path / "x.py"))
    assert type(dense._cache._impl.locator).__name__ == "SymnnCacheLocator"
