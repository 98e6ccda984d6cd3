"""A warm cache: the compiled loop is loaded without Numba's per-process set-up, same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba.core.typing.typeof import Purpose, typeof

from symnn.runtime.cache import import_file
from symnn.runtime.warm_start import argument_type, load_cached

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
    print(json.dumps({"loss": history["loss"], "params": [p.tolist() for p in model.parameters()],
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


@pytest.mark.parametrize("value", [
    np.ones((3, 4), np.float32),
    np.ones((3, 4), np.float64, order="F"),
    np.ones((6, 4))[::2],
    np.arange(5),
    np.ones((2, 2))[:, :1].T,
    np.zeros(0, np.float32),
    3,
    2.5,
], ids=["c-f32", "f-f64", "strided", "int64", "transposed-column", "empty", "int", "float"])
def test_argument_type_is_numbas_own(value):
    assert argument_type(value) == typeof(value, Purpose.argument)


def test_argument_type_of_a_read_only_array_is_read_only():
    a = np.ones(4)
    a.flags.writeable = False
    assert argument_type(a) == typeof(a, Purpose.argument)
    assert argument_type(a).mutable is False


def _cached_function_module(tmp_path, name: str):
    path = tmp_path / "cached_double.py"
    if not path.exists():
        path.write_text("from numba import njit\n\n@njit(cache=True)\ndef double(x):\n    return 2 * x\n")
    return import_file(path, name)


def test_load_cached_is_false_and_changes_nothing_without_a_cache_entry(tmp_path):
    double = _cached_function_module(tmp_path, "symnn_test_uncached_double").double
    assert load_cached(double, (np.ones(3),)) is False
    assert not double.overloads


def test_load_cached_puts_the_cached_compilation_in_place(tmp_path):
    first = _cached_function_module(tmp_path, "symnn_test_double_a").double
    first(np.ones(3))  # compiled, and written to the cache
    again = _cached_function_module(tmp_path, "symnn_test_double_b").double
    assert load_cached(again, (np.arange(3.0),)) is True
    assert len(again.overloads) == 1
    np.testing.assert_array_equal(again(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert not again._cache_misses  # nothing was compiled


def test_load_cached_is_false_when_numbas_internals_are_not_as_expected():
    class NotADispatcher:
        overloads: dict = {}

    assert load_cached(NotADispatcher(), (np.ones(3),)) is False
