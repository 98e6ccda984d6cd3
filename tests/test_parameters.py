"""Parameterised definitions (leaky_relu's slope, elu's alpha, softplus's beta and threshold, huber's
delta, GELU's tanh approximation): torch's values and gradients for several values, one compiled
kernel for every value, the facts declared once, validation, files, the CLI and the fused spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symnn
from symnn.errors import UserInputError
from symnn.runtime import kernels
from tests.torch_reference import TORCH_ACTIVATIONS, TORCH_PARAMETERISED, check_against_torch, torch, torch_loss

DTYPES = [np.float64, np.float32]
#: Values for each parameterised activation, the defaults first, then others torch users pick.
ACTIVATION_VALUES = {
    "leaky_relu": [{}, {"slope": 0.2}, {"slope": -0.5}, {"slope": 3.0}],
    "elu": [{}, {"alpha": 0.5}, {"alpha": 2.5}],
    "softplus": [{}, {"beta": 2.0}, {"beta": 0.5, "threshold": 5.0}, {"threshold": 1.0}],
}
DEFAULTS = {"leaky_relu": {"slope": 0.01}, "elu": {"alpha": 1.0}, "softplus": {"beta": 1.0, "threshold": 20.0}}


def _points(dtype) -> np.ndarray:
    """Both sides of every kink and threshold (softplus's beta*x = threshold), away from them."""
    xs = np.concatenate([np.linspace(-30, 30, 241) + 0.013, [-1e-3, 1e-3, 0.37, 2.6, 10.4, 19.7, 24.3]])
    return xs.astype(dtype)


def _activation(layer):
    def ours(xs):
        ys, gx = np.empty_like(xs), np.empty_like(xs)
        layer.forward(xs, ys)
        layer.backward(xs, ys, np.ones_like(xs), gx, [])
        return ys, [gx]
    return ours


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,given", [(n, v) for n, vs in ACTIVATION_VALUES.items() for v in vs],
                         ids=lambda v: str(v))
def test_parameterised_activation_matches_torch(name, given, dtype):
    values = {**DEFAULTS[name], **given}
    check_against_torch(_activation(symnn.Activation(name, **given)),
                        lambda t: TORCH_PARAMETERISED[name](t, **values), {"x": _points(dtype)}, f"{name} {given}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_tanh_approximation_matches_torch(dtype):
    layer = symnn.Activation("gelu", approximate="tanh")
    assert layer.name == "gelu_tanh" and repr(layer) == "Activation('gelu', approximate='tanh')"
    check_against_torch(_activation(layer), TORCH_ACTIVATIONS["gelu_tanh"], {"x": _points(dtype)}, "gelu tanh")
    assert symnn.Activation("gelu", approximate="none").name == "gelu"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("delta", [None, 0.5, 2.0, 7.0])
def test_huber_delta_matches_torch(delta, dtype):
    given = {} if delta is None else {"delta": delta}
    rng = np.random.default_rng(3)
    z, t = (rng.normal(size=(64, 2)) * 4).astype(dtype), (rng.normal(size=(64, 2)) * 4).astype(dtype)
    model = symnn.Sequential([symnn.Dense(2, 2)], loss=("huber", given), dtype=np.dtype(dtype).name)
    loss = model.loss_fn

    def ours(z, t):
        grad = np.empty_like(z)
        value = loss.value_and_gradient(z, t, grad)
        assert value == pytest.approx(loss.value(z, t), rel=1e-6)
        return np.asarray(value, dtype), [grad, np.zeros_like(t)]

    check_against_torch(ours, lambda z, t: torch_loss("huber", z, t.detach(), **given), {"z": z, "t": t},
                        f"huber {given}")


def test_one_compiled_kernel_serves_every_value():
    text = Path(kernels.generated("activations.leaky_relu").__file__).read_text()
    assert "0.2" not in text and "def leaky_relu_forward_with(x_in, y_out, slope):" in text
    a, b = symnn.Activation("leaky_relu", slope=0.2), symnn.Activation("leaky_relu", slope=0.7)
    assert a._forward is b._forward and a._backward is b._backward
    xs = np.array([-2.0, 3.0])
    for layer, slope in ((a, 0.2), (b, 0.7)):
        ys = np.empty_like(xs)
        layer.forward(xs, ys)
        np.testing.assert_array_equal(ys, [-2.0 * slope, 3.0])
    float64 = [sig for sig in a._forward.signatures if str(sig[0].dtype) == "float64"]
    assert len(float64) == 1  # two values, one compilation (per dtype)
    huber = Path(kernels.generated("losses.huber").__file__).read_text()
    for kernel in ("forward_with(z_in, t_in, delta)", "backward_with(z_in, t_in, grad_z, delta)",
                   "value_and_grad_with(z_in, t_in, grad_z, delta)"):
        assert f"def huber_{kernel}:" in huber


def test_the_facts_are_exported_in_the_generated_indexes():
    from symnn.generated import activations, losses

    assert activations.PARAMETERS == {"leaky_relu": (("slope", 0.01),), "elu": (("alpha", 1.0),),
                                      "softplus": (("beta", 1.0), ("threshold", 20.0))}
    assert losses.PARAMETERS == {"huber": (("delta", 1.0),)}
    assert losses.RANGES["huber"]["delta"][0] == "positive"
    assert activations.APPROXIMATE["gelu:tanh"] == "gelu_tanh"


@pytest.mark.parametrize("make,says", [
    (lambda: symnn.Activation("elu", alpha=-1.0), "alpha must be a finite number > 0"),
    (lambda: symnn.Activation("leaky_relu", slope=float("nan")), "slope must be a finite number"),
    (lambda: symnn.Activation("relu", slope=0.1), "relu has no parameter 'slope'"),
    (lambda: symnn.Activation("leaky_relu", alpha=0.1), "its parameters are slope"),
    (lambda: symnn.Activation("leaky_relu:slope=big"), "is not a number"),
    (lambda: symnn.Activation("tanh", approximate="tanh"), "tanh has no approximate= option"),
    (lambda: symnn.Activation("x*tanh(x)", slope=1.0), "takes no parameters"),
    (lambda: symnn.Sequential([symnn.Dense(2, 1)], loss=("huber", {"delta": 0})), "delta must be a finite number > 0"),
    (lambda: symnn.Sequential([symnn.Dense(2, 1)], loss="mse:delta=1"), "mse has no parameter 'delta'"),
])
def test_bad_values_are_one_line_errors_naming_the_parameter_and_its_range(make, says):
    with pytest.raises(UserInputError, match=says) as caught:
        make()
    assert "\n" not in str(caught.value)


def _model(**loss):
    return symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("leaky_relu", slope=0.2), symnn.Dense(4, 4),
                             symnn.Activation("softplus", beta=2.0), symnn.Dense(4, 1)],
                            loss=("huber", {"delta": 2.0}), **loss)


def test_repr_and_model_files_keep_the_parameters(tmp_path):
    model = _model()
    assert repr(model) == ("Sequential([Dense(2, 4, init='auto'), Activation('leaky_relu', slope=0.2), "
                           "Dense(4, 4, init='auto'), Activation('softplus', beta=2.0), Dense(4, 1, init='auto')], "
                           "loss=('huber', {'delta': 2.0}), dtype='float64')")
    path = str(tmp_path / "m.npz")
    model.save(path)
    loaded = symnn.load(path)
    assert repr(loaded) == repr(model)
    X = np.random.default_rng(0).normal(size=(9, 2))
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    assert loaded.loss(X, X[:, 0] * 3) == model.loss(X, X[:, 0] * 3)
    assert symnn.Sequential([symnn.Dense(2, 1)], loss="huber:delta=2.0").loss_fn.values == (2.0,)


def test_any_parameter_value_is_fused_by_one_loop_with_the_per_layer_numbers():
    """The values are the loop's data (AP, LP), not its text: two slopes, one compiled loop."""
    X = np.random.default_rng(1).normal(size=(40, 2))
    y = X[:, 0] - 2 * X[:, 1]
    a, b = _model(), _model()
    ha = a.fit(X, y, optimizer=symnn.SGD(lr=0.05), epochs=4, verbose=False, fused=True)
    hb = b.fit(X, y, optimizer=symnn.SGD(lr=0.05), epochs=4, verbose=False, fused=False)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-12)
    assert ha["loss"][-1] < ha["loss"][0]
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)
    other = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("leaky_relu", slope=0.3), symnn.Dense(4, 4),
                              symnn.Activation("softplus"), symnn.Dense(4, 1)], loss="huber")
    other.fit(X, y, optimizer=symnn.SGD(lr=0.05), epochs=1, verbose=False, fused=True)
    assert other._fused_session.mod is a._fused_session.mod


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_defaults_give_the_same_numbers_fused_and_per_layer(dtype):
    X = np.random.default_rng(2).normal(size=(64, 2)) * 12  # softplus past its threshold 20
    y = X[:, 0] * 3
    runs = []
    for fuse in (True, False):
        model = symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("softplus"), symnn.Dense(8, 8),
                                  symnn.Activation("elu"), symnn.Dense(8, 1)], loss="huber", dtype=dtype)
        runs.append(model.fit(X, y, optimizer="adam", epochs=3, verbose=False, fused=fuse)["loss"])
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12 if dtype == "float64" else 1e-5)


def _symnn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symnn", *args], capture_output=True, text=True, timeout=300)


def test_cli_takes_parameters_and_derive_shows_them(tmp_path):
    path = tmp_path / "m.npz"
    done = _symnn("train", "--activation", "leaky_relu:slope=0.2", "--loss", "huber:delta=2", "--epochs", "2",
                  "--json", "--save", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["epochs"] == 2
    assert "loss=('huber', {'delta': 2.0})" in repr(symnn.load(str(path)))
    bad = _symnn("train", "--loss", "huber:delta=-1", "--epochs", "1")
    assert bad.returncode == 2 and bad.stderr.startswith("symnn: error: huber parameter delta=-1.0 is out of range")
    shown = _symnn("derive", "leaky_relu", "--format", "text")
    assert "slope*x" in shown.stdout and "slope = 0.01 by default" in shown.stdout
    listed = _symnn("derive", "--list").stdout
    assert "leaky_relu(slope=0.01)" in listed and "huber(delta=1)" in listed
    assert "huber:delta=2" in _symnn("train", "--help").stdout.replace("\n", " ").replace("  ", "")
    assert torch is not None
