"""With NUMBA_DISABLE_JIT=1 a fused fit runs as plain Python (pdb works) and gives the compiled numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import json, numpy as np, symnn
rng = np.random.default_rng(0)
X = rng.normal(size=(70, 3)); y = rng.integers(0, 3, 70)
out = {}
for dtype in ("float64", "float32"):
    m = symnn.Sequential([symnn.Dense(3, 6), symnn.Activation("tanh"), symnn.Dense(6, 5), symnn.Activation("relu"),
                          symnn.Dense(5, 3)], loss="cross_entropy", dtype=dtype, seed=1)
    h = m.fit(X, y, optimizer=symnn.Adam(lr=1e-2), epochs=3, batch_size=16, verbose=False)
    out[dtype] = {"loss": [float(v) for v in h["loss"]], "params": [p.tolist() for p in m.parameters()],
                  "fused": m._fused_session is not None}
print(json.dumps(out))
"""


def _fit(disable_jit: bool, cache: str) -> dict:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1" if disable_jit else "0", "SYMNN_CACHE_DIR": cache}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_fused_fit_without_the_jit_gives_the_compiled_numbers(tmp_path):
    python, compiled = _fit(True, str(tmp_path / "py")), _fit(False, str(tmp_path / "jit"))
    for dtype, rtol in (("float64", 1e-13), ("float32", 1e-5)):  # float32: Python's math runs in float64
        assert python[dtype]["fused"] and compiled[dtype]["fused"]
        np.testing.assert_allclose(python[dtype]["loss"], compiled[dtype]["loss"], rtol=rtol)
        for a, b in zip(python[dtype]["params"], compiled[dtype]["params"]):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7 if dtype == "float32" else 0)
