"""symnn.set_flush_denormal: subnormals kept by default (PyTorch's semantics), flushed to zero on request,
in the calling thread (and threads it starts afterwards), with the control bits torch.set_flush_denormal sets."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading

import numpy as np
import pytest

import symnn
from symnn.runtime.denormals import X86, flushing_denormals

pytestmark = pytest.mark.skipif(platform.machine().lower() not in X86, reason="sets x86's SSE control register")

SUBNORMAL = np.float32(1e-39)


@pytest.fixture(autouse=True)
def _keep_subnormals_after():
    yield
    symnn.set_flush_denormal(False)


def test_subnormals_are_kept_by_default_and_flushed_on_request_then_kept_again():
    assert not flushing_denormals()
    assert SUBNORMAL * np.float32(1) == SUBNORMAL
    assert symnn.set_flush_denormal(True) is True
    assert flushing_denormals()
    assert SUBNORMAL * np.float32(1) == 0  # read as zero
    assert np.float32(1e-30) * np.float32(1e-9) == 0  # a subnormal result is written as zero
    assert symnn.set_flush_denormal(False) is True
    assert not flushing_denormals()
    assert SUBNORMAL * np.float32(1) == SUBNORMAL


def test_the_mode_is_the_calling_threads_own_and_threads_it_starts_later_inherit_it():
    go, seen = threading.Event(), {}

    def look(name, wait=None):
        if wait is not None:
            wait.wait()
        seen[name] = flushing_denormals()

    earlier = threading.Thread(target=look, args=("earlier", go))
    earlier.start()
    symnn.set_flush_denormal(True)
    later = threading.Thread(target=look, args=("later",))
    later.start()
    later.join()
    go.set()
    earlier.join()
    assert seen == {"later": True, "earlier": False} and flushing_denormals()


def _tiny_input_fit() -> np.ndarray:
    """Adam's state after a float32 fit whose second input column is 1e-20: that weight's squared
    gradients, ~1e-40 and below, are subnormal."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal(256), np.full(256, 1e-20)]).astype(np.float32)
    y = X[:, :1] * 2
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("tanh"), symnn.Dense(4, 1)], loss="mse",
                             dtype="float32")
    model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=3, batch_size=32, seed=0, verbose=False, fused=True)
    return model._fused_session.S


def _subnormals(a: np.ndarray) -> int:
    return int(np.sum((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))


def test_a_fit_keeps_subnormal_state_as_torch_does_and_flushing_makes_it_zero():
    assert _subnormals(_tiny_input_fit()) > 0
    symnn.set_flush_denormal(True)
    assert _subnormals(_tiny_input_fit()) == 0


def test_it_sets_the_bits_torch_set_flush_denormal_sets():
    torch = pytest.importorskip("torch")
    assert torch.set_flush_denormal(True)
    assert flushing_denormals()
    assert torch.set_flush_denormal(False)
    assert not flushing_denormals()
    symnn.set_flush_denormal(True)
    assert (torch.tensor([1e-39], dtype=torch.float32) * 1).item() == 0


def test_a_mode_that_is_not_a_bool_is_refused():
    with pytest.raises(symnn.UserInputError, match="True or False"):
        symnn.set_flush_denormal("yes")


def test_without_compiled_code_it_says_it_cannot_and_changes_nothing():
    code = "import symnn; from symnn.runtime.denormals import flushing_denormals as f; print(symnn.set_flush_denormal(True), f())"
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["False", "False"]
