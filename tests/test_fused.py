"""The fused training loop's assembly: its module, its matrix products, the kernels inlined into it, its
fall-backs. That it gives the per-layer path's numbers, seen through the public API, is test_fused_numbers.py's."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import symnn
from symnn import ir, vecmath
from symnn.runtime import blas, fused, kernels
from symnn.runtime.fused import assemble, loader, session, template


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    """A kernel cache folder of this test module's own (not ~/.cache)."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("symnn-cache")
        mp.setenv("SYMNN_CACHE_DIR", str(path))
        yield path


def _model(acts: tuple[str, ...], loss: str, n_out: int, dtype: str) -> symnn.Sequential:
    layers: list = [symnn.Dense(3, 7)]
    for i, act in enumerate(acts):
        layers += [symnn.Activation(act), symnn.Dense(7, 7 if i < len(acts) - 1 else n_out)]
    return symnn.Sequential(layers, loss=loss, dtype=dtype, seed=1)


def _data(n: int, n_out: int, loss: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((n, 3))
    if loss == "cross_entropy":
        return X, rng.integers(0, n_out, n)
    if loss == "binary_cross_entropy":
        return X, (X[:, 0] * X[:, 1] > 0).astype(float)
    return X, np.sin(X[:, :n_out])


def _train(fused_flag: bool, case: dict) -> tuple[list[float], list[np.ndarray], symnn.Sequential]:
    model = _model(case["acts"], case["loss"], case["n_out"], case["dtype"])
    X, y = _data(case["n"], case["n_out"], case["loss"])
    schedule = symnn.StepLR(None, step_size=2, gamma=0.5) if case.get("schedule") else None
    history = model.fit(X, y, optimizer=case["opt"](), epochs=4, batch_size=case["batch"],
                        shuffle=case["shuffle"], seed=3, schedule=schedule, verbose=False, fused=fused_flag)
    return history["loss"], [p.copy() for p in model.parameters()], model


CASES = {
    "relu-tanh-bce-momentum-f64": dict(acts=("relu", "tanh"), loss="binary_cross_entropy", n_out=1,
                                       opt=lambda: symnn.SGD(lr=0.1, momentum=0.9), dtype="float64",
                                       shuffle=True, n=203, batch=32),
    "relu-ce-adam-f64": dict(acts=("relu",), loss="cross_entropy", n_out=3,
                             opt=lambda: symnn.Adam(lr=0.01), dtype="float64", shuffle=True, n=150, batch=16),
    "relu-ce-adam-f32": dict(acts=("relu",), loss="cross_entropy", n_out=3,
                             opt=lambda: symnn.Adam(lr=0.01), dtype="float32", shuffle=True, n=150, batch=16),
}


def _ce_data() -> tuple[np.ndarray, np.ndarray]:
    """The data of the "relu-ce-adam-f64" case, which the stateful tests below share."""
    case = CASES["relu-ce-adam-f64"]
    return _data(case["n"], case["n_out"], case["loss"])


def _ce_model() -> symnn.Sequential:
    """A fresh float64 model of the "relu-ce-adam-f64" case."""
    case = CASES["relu-ce-adam-f64"]
    return _model(case["acts"], case["loss"], case["n_out"], "float64")


@pytest.mark.parametrize("name", ["relu-tanh-bce-momentum-f64", "relu-ce-adam-f64"])
def test_updating_each_layer_after_its_gradients_gives_the_numbers_of_one_update(name, monkeypatch):
    """Large models update each dense layer's parameters as soon as its gradients are made; the
    update is elementwise, so the numbers are exactly those of one update after the backward pass."""
    case = CASES[name]
    loss_once, params_once, _ = _train(True, case)
    monkeypatch.setattr(template, "UPDATE_PER_LAYER_FROM", 1)  # every model counts as large
    monkeypatch.setattr(loader, "_by_spec", {})
    loss_each, params_each, model = _train(True, case)
    assert model._fused_session.mod.UPDATE_PER_LAYER_FROM == 1
    assert loss_each == loss_once
    for p, q in zip(params_each, params_once, strict=True):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("acts", [("tanh", "tanh"), ("tanh", "relu", "identity"), ("sigmoid", "tanh")])
def test_dense_outputs_no_backward_reads_share_one_block_and_train_as_the_per_layer_path(acts):
    """A dense output read only by an activation whose backward kernel reads its output (tanh's
    1 - y**2, identity) is dead after the forward pass makes y: such values share one workspace block,
    and the fit (with validation, which runs the same forward pass) agrees with the per-layer kernels."""
    case = dict(acts=acts, loss="mse", n_out=2, dtype="float64", n=90, batch=32)
    X, y = _data(case["n"], case["n_out"], case["loss"])
    runs = []
    for fused_flag in (True, False):
        model = _model(acts, "mse", 2, "float64")
        history = model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=3, batch_size=32, seed=3, verbose=False,
                            validation=(X[:20], y[:20]), fused=fused_flag)
        runs.append((history, model))
    (fused_history, fused_model), (per_layer, reference) = runs
    np.testing.assert_allclose(fused_history["loss"], per_layer["loss"], rtol=1e-12)
    np.testing.assert_allclose(fused_history["val_loss"], per_layer["val_loss"], rtol=1e-12)
    for p, q in zip(fused_model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)
    sess = fused_model._fused_session
    shared = [i for i, a in enumerate(acts, start=1) if a in sess.mod.BACKWARD_FROM_OUTPUT]
    blocks = sess.layout.prog[:, 3]  # each layer's input block
    assert set(sess.mod.BACKWARD_FROM_OUTPUT) == {"tanh", "identity"} & set(acts)
    assert len({blocks[2 * i - 1] for i in shared}) == (1 if shared else 0)
    hidden_blocks = 2 * len(acts) - len(shared) + (1 if shared else 0)  # (each value its own block before)
    assert sess.layout.workspace == 32 * (3 + 7 * hidden_blocks + 2 + 2)  # 32 rows: X, hidden, outputs, targets


@pytest.mark.parametrize("block", [7, 4096])
def test_one_epoch_fits_take_per_step_scalars_from_any_block_as_computed_afresh(block, monkeypatch):
    """The per-step scalars kept between fits (a block of steps ahead) are the ones each step needs,
    across block ends and learning-rate changes: the per-layer path, fitting the same way, agrees."""
    monkeypatch.setattr(session.StepScalars, "BLOCK", block)
    X, y = _ce_data()
    results = []
    for fused_flag in (True, False):
        model = _ce_model()
        opt = symnn.Adam(lr=0.01)
        losses = []
        for e in range(5):
            opt.lr = 0.01 if e < 3 else 0.003
            losses += model.fit(X, y, optimizer=opt, epochs=1, batch_size=16, seed=e, verbose=False,
                                fused=fused_flag)["loss"]
        results.append((losses, model.parameters()))
    (la, pa), (lb, pb) = results
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    for p, q in zip(pa, pb, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


def test_a_loop_this_numba_cannot_compile_falls_back_to_the_per_layer_kernels(monkeypatch):
    """The fused loop uses some of Numba's internal API; where a Numba cannot compile it, fit warns
    and trains with the per-layer kernels (the same numbers), and fused=True says why."""
    from numba.core.errors import TypingError

    X, y = _ce_data()
    model = _ce_model()
    mod = fused.load_module(fused.spec_of(model, symnn.Adam()))

    def not_compiled(*args):
        raise TypingError("simulated: no such internal API")

    monkeypatch.setattr(mod, "train_epochs", not_compiled)
    monkeypatch.setattr(loader, "unbuildable", {})
    with pytest.warns(RuntimeWarning, match="does not build with Numba .*TypingError.*per-layer"):
        loss = model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=2, verbose=False)["loss"]
    reference = _ce_model()
    assert loss == reference.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=2, verbose=False,
                                 fused=False)["loss"]
    with pytest.raises(symnn.UserInputError, match="fused=True, but the fused loop does not build"):
        model.fit(X, y, optimizer=symnn.Adam(lr=0.01), epochs=1, verbose=False, fused=True)


def test_the_garbage_collector_pauses_only_while_a_loop_compiles_and_is_on_again_after(monkeypatch):
    """Compiling the loop makes and drops many objects, and full collections among them slowed the
    cold first fit: the collector is paused for a loop's first call in a process (its compile), not
    for later calls, and is on again after, even when that call raises."""
    import gc

    from numba.core.errors import TypingError

    X, y = _ce_data()
    model = _ce_model()
    mod = fused.load_module(fused.spec_of(model, symnn.Adam()))
    compiled = mod.train_epochs
    collecting: list[bool] = []

    class Loop:
        """A stand-in for the loop's Numba dispatcher: `overloads` is what it has compiled."""

        def __init__(self, overloads: dict, fails: bool) -> None:
            self.overloads, self.fails = overloads, fails

        def __call__(self, *args):
            collecting.append(gc.isenabled())
            if self.fails:
                raise TypingError("simulated")
            return compiled(*args)

    monkeypatch.setattr(loader, "unbuildable", {})
    monkeypatch.setattr(mod, "train_epochs", Loop({}, fails=True))
    with pytest.warns(RuntimeWarning, match="does not build"):
        model.fit(X, y, optimizer=symnn.Adam(), epochs=1, verbose=False)
    assert collecting == [False] and gc.isenabled()
    monkeypatch.setattr(loader, "unbuildable", {})
    monkeypatch.setattr(mod, "train_epochs", Loop({"compiled": True}, fails=False))
    model.fit(X, y, optimizer=symnn.Adam(), epochs=1, verbose=False)
    assert collecting == [False, True] and gc.isenabled()


def test_float32_loop_has_no_float64_arithmetic():
    case = CASES["relu-ce-adam-f32"]
    _, _, model = _train(True, case)
    mod = fused.load_module(fused.spec_of(model, symnn.Adam()))
    (sig,) = [s for s in mod.train_epochs.signatures if str(s[0].dtype) == "float32"]
    assert all(str(getattr(t, "dtype", "float32")) in ("float32", "int64") for t in sig)
    ir = mod.train_epochs.inspect_llvm(sig)
    assert "fpext" not in ir
    # Constant data (pickled exception info, whose hashes may spell "f64") is not arithmetic.
    float64_type = re.compile(r"\bdouble\b|\.f64\b")
    code = [line.strip() for line in ir.splitlines() if not line.startswith("@")]
    assert [line for line in code if float64_type.search(line) and "picklebuf" not in line] == []


def test_one_module_per_activation_set_loss_and_optimizer(cache_dir):
    case = CASES["relu-tanh-bce-momentum-f64"]
    _train(True, case)
    files = sorted((cache_dir / "fused").glob("fused_*.py"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    # Another fit, another depth and width, the other dtype: the same module, not rewritten.
    wide = symnn.Sequential([symnn.Dense(3, 20), symnn.Activation("tanh"), symnn.Dense(20, 5),
                             symnn.Activation("relu"), symnn.Dense(5, 5), symnn.Activation("relu"),
                             symnn.Dense(5, 1)], loss="binary_cross_entropy", dtype="float32")
    X, y = _data(40, 1, "binary_cross_entropy")
    wide.fit(X, y, optimizer=symnn.SGD(lr=0.1, momentum=0.9), epochs=2, verbose=False, fused=True)
    _train(True, case)
    assert sorted((cache_dir / "fused").glob("fused_*.py")) == files
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def test_only_an_optimizer_with_a_step_of_its_own_falls_back():
    X, y = _data(30, 1, "binary_cross_entropy")
    model = _model(("relu",), "binary_cross_entropy", 1, "float64")
    assert fused.spec_of(model, symnn.Adam()) is not None and fused.unsupported(model, symnn.Adam()) is None

    class MyAdam(symnn.Adam):  # the built-in's steps, under another name: fused
        pass

    class MyStep(symnn.Adam):  # a step of its own: never replaced by the built-in kernel
        def step(self, params, grads):
            super().step(params, grads)

    assert fused.spec_of(model, MyAdam()) is not None and fused.spec_of(model, MyStep()) is None
    formula = symnn.Sequential([symnn.Dense(3, 4), symnn.Activation("x*tanh(x)"), symnn.Dense(4, 1)],
                               loss="binary_cross_entropy")
    assert fused.spec_of(formula, symnn.Adam()) is not None
    with pytest.raises(symnn.UserInputError, match="fused=True, but .*a step of its own"):
        model.fit(X, y, optimizer=MyStep(), epochs=1, verbose=False, fused=True)
    history = model.fit(X, y, optimizer=MyStep(), epochs=2, verbose=False)  # the per-layer path
    assert len(history["loss"]) == 2


# --- matrix products: NumPy's OpenBLAS called directly, or np.dot --------------------------------

needs_numpy_openblas = pytest.mark.skipif(blas.numpy_openblas() is None,
                                          reason="this NumPy has no bundled ILP64 OpenBLAS")


@needs_numpy_openblas
def test_fused_loop_calls_numpy_openblas_directly_where_numpy_bundles_it():
    model = _model(("relu",), "cross_entropy", 3, "float32")
    mod = fused.load_module(fused.spec_of(model, symnn.Adam()))
    assert mod.MATRIX_PRODUCTS == "NumPy OpenBLAS, direct"


@needs_numpy_openblas
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_direct_blas_and_np_dot_loops_give_the_same_numbers(dtype, monkeypatch):
    case = CASES["relu-tanh-bce-momentum-f64"]
    the_spec = fused.spec_of(_model(case["acts"], case["loss"], case["n_out"], dtype), symnn.Adam())
    results = []
    for direct in (True, False):
        mod = loader._load_source(assemble.fused_module(the_spec, direct_gemm=direct))
        assert ("gemm(" in inspect.getsource(mod)) == direct and ("np.dot(" in inspect.getsource(mod)) != direct
        monkeypatch.setattr(session, "load_module", lambda spec, mod=mod: mod)
        results.append(_train(True, dict(case, dtype=dtype, opt=lambda: symnn.Adam(lr=0.01))))
    (la, pa, _), (lb, pb, _) = results
    tol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(la, lb, rtol=tol, atol=tol)
    for p, q in zip(pa, pb, strict=True):
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)


def test_SYMNN_BLAS_numba_keeps_np_dot(monkeypatch):
    monkeypatch.setenv("SYMNN_BLAS", "numba")
    monkeypatch.setattr(loader, "_by_spec", {})
    blas.numpy_openblas.cache_clear()
    try:
        mod = fused.load_module(fused.spec_of(_model(("relu",), "mse", 2, "float64"), symnn.SGD(lr=0.1)))
        assert mod.MATRIX_PRODUCTS == "np.dot"
        assert "np.dot(" in inspect.getsource(mod) and "gemm(" not in inspect.getsource(mod)
    finally:
        blas.numpy_openblas.cache_clear()


def test_every_matrix_product_of_the_dense_kernels_prints_as_one_gemm_call():
    dense = ir.read_functions(assemble.installed_source("layers.dense"))
    for name in ("dense_forward", "dense_grad_input", "dense_grad_params"):
        body = dense[name].body
        assert sum(isinstance(s, ir.Product) for s in ir.walk(body)) == 1
        text = "\n".join(ir.print_block(body, "", products="gemm"))
        assert "np.dot" not in text and text.count("gemm(") == 1


# --- the kernels inlined into the loop ------------------------------------------------------------

def _kernel_cases():
    """(generated module, kernel, its arguments) for every kernel the fused loop can inline."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(9)
    for name in kernels.builtin_names("activations"):
        yield f"activations.{name}", f"{name}_forward", [x, np.zeros(9)]
        yield f"activations.{name}", f"{name}_backward", [x, np.tanh(x), rng.standard_normal(9), np.zeros(9)]
    xb, w, gy = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((4, 5))
    yield "layers.dense", "dense_forward", [xb, w, rng.standard_normal(5), np.zeros((4, 5))]
    yield "layers.dense", "dense_grad_input", [w, gy, np.zeros((4, 3))]
    yield "layers.dense", "dense_grad_params", [xb, gy, np.zeros((5, 3)), np.zeros(5)]
    facts = kernels.generated("losses")
    for kernel, module in facts.MODULES.items():
        rows = facts.LAYOUT[kernel] == "rows"
        z = rng.standard_normal((4, 3) if rows else 7)
        t = np.eye(3)[[0, 2, 1, 2]] if rows else (rng.standard_normal(7) > 0).astype(float)
        yield f"losses.{module}", f"{kernel}_value_and_grad", [z, t, np.zeros_like(z)]
    for module in kernels.builtin_names("optimizers"):
        for kernel, (state, scalars) in kernels.generated(f"optimizers.{module}").KERNELS.items():
            # state: the first (a sum of squares where there is one) above the others squared
            arrays = [rng.standard_normal(6), rng.standard_normal(6), *(rng.random(6) + (i == 0) for i in range(len(state)))]
            yield f"optimizers.{module}", kernel, arrays + [0.9 - 0.1 * i for i in range(len(scalars))]


@pytest.mark.parametrize("module, kernel, args", list(_kernel_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_a_kernel_inlined_does_what_calling_it_does(module, kernel, args):
    """Run as Python: the kernel called, and its statements inlined into a host whose own variables
    are named like every name of the kernel (some arguments passed as expressions)."""
    source = assemble.installed_source(module)
    k = ir.read_functions(source)[kernel]
    called, inlined = [np.copy(a) for a in args], [np.copy(a) for a in args]
    namespace = {"math": __import__("math"), "np": np, "T": np.float64,
                 **{f.__name__: f for f in vecmath.FUNCTIONS.values()}}
    exec(ir.print_function(ir.Kernel(k.name, k.params, k.doc, k.body)), namespace)  # without its decorator
    expected = namespace[kernel](*called)
    names = [f"arg{i}" if i % 2 else f"args[{i}]" for i in range(len(args))]
    mine = set(k.params) | set().union(*ir.bound_names(k.body)) - {"T"}
    host = ir.Kernel("host", tuple(n for n in names if n.isidentifier()), (),
                     tuple(ir.Assign(name, repr(f"the caller's {name}")) for name in sorted(mine)))
    stmts = ir.Inliner(host).inline(k, names, None if expected is None else "result")
    namespace.update({"args": inlined, **{n: a for n, a in zip(names, inlined) if n.isidentifier()}})
    namespace.update({name: f"the caller's {name}" for name in mine})
    lines = ir.print_block(stmts, "")
    exec("\n".join(lines), namespace)
    assert {name: namespace[name] for name in mine} == {name: f"the caller's {name}" for name in mine}
    assert all(namespace[n] is a for n, a in zip(names, inlined) if n.isidentifier())
    assert not any(f"{kernel}(" in line for line in lines)
    assert namespace.get("result") == expected
    for a, b in zip(called, inlined, strict=True):
        assert np.array_equal(a, b)
