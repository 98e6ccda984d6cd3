"""A warm cache: compiled kernels load without Numba's per-process set-up, with the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symnn.runtime.cache import import_file
from symnn.runtime.warm_start import CacheWithoutRefresh

FIT_IN_A_NEW_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import symnn
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)
    model = symnn.Sequential([symnn.Dense(3, 6), symnn.Activation("relu"), symnn.Dense(6, 1)],
                             loss="binary_cross_entropy", dtype="float32", seed=2)
    history = model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=3, batch_size=16, seed=4,
                        verbose=False, fused=True)
    loop = model._fused_session.mod.train_epochs
    predicted = model.predict(X)  # the per-layer kernels
    print(json.dumps({"loss": history["loss"], "params": [p.tolist() for p in model.parameters()],
                      "predicted": predicted.tolist(),
                      "numba_registries_loaded": "numba.np.arraymath" in sys.modules,
                      "cache_hits": sum(loop._cache_hits.values()),
                      "compiled": sum(loop._cache_misses.values())}))
""")


def _fit_in_a_new_process(cache: str, blas: str) -> dict:
    env = dict(os.environ, SYMNN_CACHE_DIR=cache, SYMNN_BLAS=blas)
    proc = subprocess.run([sys.executable, "-c", FIT_IN_A_NEW_PROCESS], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("blas", ["", "numba"], ids=["numpy-openblas", "np.dot"])
def test_a_new_process_with_a_warm_cache_trains_without_numba_set_up_and_the_same_numbers(blas, tmp_path):
    cold = _fit_in_a_new_process(str(tmp_path), blas)
    warm = _fit_in_a_new_process(str(tmp_path), blas)
    assert cold["compiled"] == 1 and cold["numba_registries_loaded"]
    assert warm["cache_hits"] == 1 and warm["compiled"] == 0
    assert not warm["numba_registries_loaded"]
    assert warm["loss"] == cold["loss"]
    assert warm["params"] == cold["params"]
    assert warm["predicted"] == cold["predicted"]


def _write_module(tmp_path) -> None:
    (tmp_path / "kernels_module.py").write_text(
        "from numba import njit\n\n"
        "@njit(cache=True)\ndef double(x):\n    return 2 * x\n\n"
        "@njit\ndef triple(x):\n    return 3 * x\n\n"
        "def plain(x):\n    return x\n")


def test_only_the_cached_numba_functions_load_without_refresh(tmp_path):
    _write_module(tmp_path)
    mod = import_file(tmp_path / "kernels_module.py", "symnn_test_kernels_a")
    assert isinstance(mod.double._cache, CacheWithoutRefresh)
    assert not isinstance(mod.triple._cache, CacheWithoutRefresh)
    assert mod.plain(1) == 1


def test_a_kernel_loaded_without_refresh_gives_its_results_and_compiles_nothing(tmp_path):
    _write_module(tmp_path)
    first = import_file(tmp_path / "kernels_module.py", "symnn_test_kernels_b").double
    first(np.ones(3))  # compiled, and written to the cache
    again = import_file(tmp_path / "kernels_module.py", "symnn_test_kernels_c").double
    np.testing.assert_array_equal(again(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert sum(again._cache_hits.values()) == 1 and not again._cache_misses


def test_a_load_that_numbas_internals_refuse_falls_back_to_numbas_own_load():
    class Cache:
        def _load_overload(self, sig, ctx):
            raise AttributeError("an internal API that changed")

        def load_overload(self, sig, ctx):
            return ("numba's own load", sig)

    assert CacheWithoutRefresh(Cache(), uses_nrt=False).load_overload("sig", None) == ("numba's own load", "sig")


def test_everything_else_is_numbas_cache():
    class Cache:
        def flush(self):
            return "flushed"

    assert CacheWithoutRefresh(Cache(), uses_nrt=False).flush() == "flushed"
