"""Optimizers: generated kernels against NumPy transcriptions of torch's documented rules, and torch."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

from symnn.errors import UserInputError
from symnn.runtime.optimizers import (
    OPTIMIZER_NAMES,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    OptimizerPlan,
    RMSprop,
    make_optimizer,
)

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]
STEPS = 10
CLASSES = {"SGD": SGD, "Adagrad": Adagrad, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW}

# (class name, keywords): the same keywords go to symnn, the reference and torch.optim.
CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5,
                 "eps": 1e-6}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.5,
                 "centered": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "betas": (0.85, 0.95), "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]


def _problem(seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial parameters and STEPS lists of fixed pseudo-random gradients."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


def _trajectory(opt: Optimizer, params0, grads_seq, dtype=np.float64, lrs=None):
    params = [np.array(p, dtype=dtype) for p in params0]
    out = []
    for step, grads in enumerate(grads_seq):
        if lrs is not None:
            opt.lr = lrs[step]
        opt.step(params, [np.asarray(g, dtype=dtype) for g in grads])
        out.append([p.copy() for p in params])
    return out


# NumPy transcriptions of the algorithms in torch.optim's documentation, one parameter at a time.
def _ref_sgd(p, g, st, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    g = g + weight_decay * p
    if momentum != 0:
        st["b"] = g.copy() if t == 1 else momentum * st["b"] + (1 - dampening) * g
        g = g + momentum * st["b"] if nesterov else st["b"]
    return p - lr * g


def _ref_adagrad(p, g, st, t, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):
    clr = lr / (1 + (t - 1) * lr_decay)
    g = g + weight_decay * p
    st["sum"] = st.get("sum", np.full_like(p, initial_accumulator_value)) + g * g
    return p - clr * g / (np.sqrt(st["sum"]) + eps)


def _ref_rmsprop(p, g, st, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
    g = g + weight_decay * p
    st["v"] = alpha * st.get("v", 0.0) + (1 - alpha) * g * g
    v_tilde = st["v"]
    if centered:
        st["g_ave"] = alpha * st.get("g_ave", 0.0) + (1 - alpha) * g
        v_tilde = v_tilde - st["g_ave"] ** 2
    if momentum > 0:
        st["b"] = momentum * st.get("b", 0.0) + g / (np.sqrt(v_tilde) + eps)
        return p - lr * st["b"]
    return p - lr * g / (np.sqrt(v_tilde) + eps)


def _ref_adam(p, g, st, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
              decoupled=False):
    """torch.optim's `_single_tensor_adam`, operation for operation, in p's dtype (no fused multiply-adds).

    The scalars are Python floats, cast to the dtype where torch hands them to a tensor op: ATen's
    lerp with a scalar weight w is m + w*(g - m) when |w| < 0.5, else g - (g - m)*(1 - w).
    """
    T = p.dtype.type
    beta1, beta2 = betas
    if decoupled:
        p = p * (T(1) - T(lr) * T(weight_decay))  # symnn's form; torch's factor is T(1 - lr*weight_decay)
    else:
        g = g + p * T(weight_decay)
    w = T(1 - beta1)
    m = st.get("m", np.zeros_like(p))
    st["m"] = m + w * (g - m) if w < 0.5 else g - (g - m) * (T(1) - w)
    st["v"] = st.get("v", np.zeros_like(p)) * T(beta2) + (T(1 - beta2) * g) * g
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    v = st["v"]
    if amsgrad:
        st["v_max"] = v = np.maximum(st.get("v_max", np.zeros_like(p)), v)
    denom = np.sqrt(v) / T(bias_correction2_sqrt) + T(eps)
    return p + (T(-step_size) * st["m"]) / denom


def _ref_adamw(p, g, st, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    return _ref_adam(p, g, st, t, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


REFERENCES = {"SGD": _ref_sgd, "Adagrad": _ref_adagrad, "RMSprop": _ref_rmsprop, "Adam": _ref_adam,
              "AdamW": _ref_adamw}


def _reference_trajectory(name, kwargs, params0, grads_seq, lrs=None):
    kwargs = dict(kwargs)
    if name == "SGD":
        kwargs.setdefault("lr", 1e-3)
    params = [p.copy() for p in params0]
    states: list[dict] = [{} for _ in params]
    out = []
    for step, grads in enumerate(grads_seq):
        if lrs is not None:
            kwargs["lr"] = lrs[step]
        params = [REFERENCES[name](p, g, st, step + 1, **kwargs)
                  for p, g, st in zip(params, grads, states, strict=True)]
        out.append([p.copy() for p in params])
    return out


def _torch_trajectory(torch, name, kwargs, params0, grads_seq, lrs=None, dtype=np.float64):
    dtype = getattr(torch, np.dtype(dtype).name)
    tensors = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in params0]
    opt = getattr(torch.optim, name)(tensors, **kwargs)
    out = []
    for step, grads in enumerate(grads_seq):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[step]
        for p, g in zip(tensors, grads, strict=True):
            p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
        out.append([p.detach().numpy().copy() for p in tensors])
    return out


def _assert_trajectories(actual, expected, atol, rtol=0.0):
    assert len(actual) == len(expected)
    for step, (a_step, e_step) in enumerate(zip(actual, expected, strict=True)):
        for i, (a, e) in enumerate(zip(a_step, e_step, strict=True)):
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"step {step + 1}, parameter {i}")


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_trajectory_equals_numpy_transcription_of_torch_rule(name, kwargs):
    params0, grads = _problem()
    actual = _trajectory(CLASSES[name](**kwargs), params0, grads)
    _assert_trajectories(actual, _reference_trajectory(name, kwargs, params0, grads), atol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_trajectory_equals_torch_optim(name, kwargs):
    torch = pytest.importorskip("torch")
    params0, grads = _problem(1)
    actual = _trajectory(CLASSES[name](**kwargs), params0, grads)
    _assert_trajectories(actual, _torch_trajectory(torch, name, kwargs, params0, grads), atol=1e-10)


NON_DEFAULT = [i for i, (_, kw) in enumerate(CASES) if kw]


@pytest.mark.parametrize(("name", "kwargs"), [CASES[i] for i in NON_DEFAULT],
                         ids=[IDS[i] for i in NON_DEFAULT])
def test_changing_lr_between_steps_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    params0, grads = _problem(2)
    lrs = [0.05 * 0.7**(step // 3) for step in range(STEPS)]
    actual = _trajectory(CLASSES[name](**kwargs), params0, grads, lrs=lrs)
    _assert_trajectories(actual, _reference_trajectory(name, kwargs, params0, grads, lrs), atol=1e-12)
    _assert_trajectories(actual, _torch_trajectory(torch, name, kwargs, params0, grads, lrs), atol=1e-10)


ADAM = [i for i, (name, _) in enumerate(CASES) if name.startswith("Adam")]
ADAM_CASES = [CASES[i] for i in ADAM] + [("Adam", {"lr": 0.01, "betas": (0.3, 0.999)}),
                                         ("AdamW", {"lr": 0.01, "betas": (0.4, 0.9), "amsgrad": True})]
ADAM_IDS = [IDS[i] for i in ADAM] + ["Adam-betas=(0.3, 0.999)", "AdamW-betas=(0.4, 0.9)-amsgrad"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), ADAM_CASES, ids=ADAM_IDS)
def test_adam_is_torchs_rule_operation_for_operation(name, kwargs, dtype):
    """Bit for bit the NumPy transcription of torch's rule, in both dtypes (beta1 < 0.5: lerp's other form)."""
    params0, grads = _problem(4)
    params0 = [p.astype(dtype) for p in params0]
    grads = [[g.astype(dtype) for g in step] for step in grads]
    actual = _trajectory(CLASSES[name](**kwargs), params0, grads, dtype=dtype)
    _assert_trajectories(actual, _reference_trajectory(name, kwargs, params0, grads), atol=0)


@pytest.mark.parametrize(("name", "kwargs"), ADAM_CASES, ids=ADAM_IDS)
def test_adam_float32_matches_torch_float32(name, kwargs):
    """Within 2 float32 epsilons of |p| (plus one epsilon) of torch's float32 Adam over STEPS steps.

    Not bit for bit: torch's CPU kernels fuse the multiply-adds (lerp, addcmul, add with alpha,
    addcdiv) and ATen's float32 sqrt is not always correctly rounded; the kernels round each
    operation. (The textbook form symnn used before, m/bc1 over sqrt(v/bc2) + eps, was up to
    about 9 times this bound away.)
    """
    torch = pytest.importorskip("torch")
    params0, grads = _problem(5)
    params0 = [p.astype(np.float32) for p in params0]
    grads = [[g.astype(np.float32) for g in step] for step in grads]
    actual = _trajectory(CLASSES[name](**kwargs), params0, grads, dtype=np.float32)
    expected = _torch_trajectory(torch, name, kwargs, params0, grads, dtype=np.float32)
    _assert_trajectories(actual, expected, atol=2.0**-23, rtol=2.0**-22)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_float32_stays_float32_and_matches_float64(name, kwargs):
    params0, grads = _problem(3)
    opt32 = CLASSES[name](**kwargs)
    single = _trajectory(opt32, params0, grads, dtype=np.float32)
    double = _trajectory(CLASSES[name](**kwargs), params0, grads)
    assert all(p.dtype == np.float32 for step in single for p in step)
    assert all(a.dtype == np.float32 for st in opt32.state for a in st.values() if isinstance(a, np.ndarray))
    _assert_trajectories(single, double, atol=1e-5, rtol=1e-5)


def test_step_updates_the_arrays_in_place_and_leaves_gradients_alone():
    params0, grads = _problem()
    params = [p.copy() for p in params0]
    ids = [id(p) for p in params]
    before = [g.copy() for g in grads[0]]
    Adam(lr=0.1, weight_decay=0.1).step(params, grads[0])
    assert [id(p) for p in params] == ids
    assert all(not np.array_equal(p, q) for p, q in zip(params, params0, strict=True))
    assert all(np.array_equal(g, b) for g, b in zip(grads[0], before, strict=True))


def test_reset_makes_the_next_step_a_first_step():
    params0, grads = _problem()
    opt = SGD(lr=0.1, momentum=0.9)
    params = [p.copy() for p in params0]
    opt.step(params, grads[0])
    opt.step(params, grads[1])
    opt.reset()
    assert opt.state == []
    again = [p.copy() for p in params0]
    opt.step(again, grads[0])
    fresh = [p.copy() for p in params0]
    SGD(lr=0.1, momentum=0.9).step(fresh, grads[0])
    _assert_trajectories([again], [fresh], atol=0)


def test_state_is_kept_per_position_with_torch_names_and_step_counts():
    params0, grads = _problem()
    opt = Adam()
    params = [p.copy() for p in params0]
    for g in grads[:3]:
        opt.step(params, g)
    assert len(opt.state) == len(SHAPES)
    for st, p in zip(opt.state, params, strict=True):
        assert st["step"] == 3 and st["exp_avg"].shape == (p.size,) and st["exp_avg_sq"].dtype == p.dtype
    assert "max_exp_avg_sq" not in opt.state[0]


def test_lr_is_settable_and_validated():
    opt = Adam()
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(UserInputError, match="lr"):
        opt.lr = -1.0


def test_defaults_are_torch_defaults():
    torch = pytest.importorskip("torch")
    for name, cls in CLASSES.items():
        ours = {k: v.default for k, v in inspect.signature(cls).parameters.items()}
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for key, default in ours.items():
            assert key in theirs, f"{name}: torch has no keyword {key}"
            assert default == theirs[key].default, f"{name}.{key}: {default} vs {theirs[key].default}"


def test_repr_is_short_and_names_the_hyperparameters():
    assert repr(SGD(lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)")
    assert repr(AdamW()) == "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=False)"


@pytest.mark.parametrize(("name", "cls", "settings"), [
    ("sgd", SGD, {"lr": 1e-3, "momentum": 0.0, "nesterov": False}),
    ("momentum", SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": False}),
    ("nesterov", SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    ("adagrad", Adagrad, {"lr": 1e-2}),
    ("rmsprop", RMSprop, {"lr": 1e-2, "alpha": 0.99}),
    ("adam", Adam, {"lr": 1e-3, "weight_decay": 0.0}),
    ("adamw", AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
])
def test_make_optimizer_names(name, cls, settings):
    opt = make_optimizer(name, None)
    assert type(opt) is cls
    for key, value in settings.items():
        assert getattr(opt, key) == value
    assert make_optimizer(name, 0.25).lr == 0.25


def test_make_optimizer_names_are_the_cli_names():
    assert OPTIMIZER_NAMES == ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam")


def test_unknown_optimizer_name_lists_the_names():
    with pytest.raises(UserInputError) as err:
        make_optimizer("adamax", None)
    assert all(name in str(err.value) for name in OPTIMIZER_NAMES)


@pytest.mark.parametrize("make", [
    lambda: SGD(lr=-0.1),
    lambda: SGD(lr=float("nan")),
    lambda: SGD(lr="0.1"),
    lambda: SGD(lr=True),
    lambda: SGD(momentum=-0.5),
    lambda: SGD(weight_decay=-1),
    lambda: SGD(nesterov=True),
    lambda: SGD(momentum=0.9, dampening=0.1, nesterov=True),
    lambda: SGD(momentum=0.9, nesterov="yes"),
    lambda: Adagrad(lr_decay=-1),
    lambda: Adagrad(initial_accumulator_value=-0.1),
    lambda: Adagrad(eps=-1e-10),
    lambda: RMSprop(alpha=-0.1),
    lambda: RMSprop(momentum=-1),
    lambda: RMSprop(eps=float("inf")),
    lambda: RMSprop(centered=1),
    lambda: Adam(betas=(1.0, 0.999)),
    lambda: Adam(betas=(0.9, -0.1)),
    lambda: Adam(betas=0.9),
    lambda: Adam(betas=(0.9, 0.99, 0.9)),
    lambda: Adam(eps=-1e-8),
    lambda: Adam(amsgrad=None),
    lambda: AdamW(weight_decay=-0.01),
    lambda: AdamW(lr=-1e-3),
])
def test_bad_hyperparameters_are_user_input_errors(make):
    with pytest.raises(UserInputError) as err:
        make()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("params", "grads", "match"), [
    ([np.zeros(3)], [np.zeros(3), np.zeros(3)], "1 parameter arrays but 2 gradients"),
    ([np.zeros(3)], [np.zeros(4)], "shape"),
    ([np.zeros((3, 4))[:, 1]], [np.zeros(3)], "C-contiguous"),
    ([np.zeros(3, dtype=np.int64)], [np.zeros(3)], "float32 or float64"),
    ([[0.0, 1.0]], [[0.0, 1.0]], "float32 or float64"),
])
def test_bad_arrays_are_user_input_errors(params, grads, match):
    with pytest.raises(UserInputError, match=match):
        SGD(lr=0.1).step(params, grads)


def test_other_parameters_at_the_same_position_need_a_reset():
    opt = Adam()
    opt.step([np.zeros(3)], [np.ones(3)])
    with pytest.raises(UserInputError, match="reset"):
        opt.step([np.zeros(4)], [np.ones(4)])
    opt.reset()
    opt.step([np.zeros(4)], [np.ones(4)])


def test_training_path_never_imports_sympy():
    code = ("import sys, numpy as np\n"
            "from symnn.runtime.optimizers import make_optimizer, OPTIMIZER_NAMES\n"
            "for name in OPTIMIZER_NAMES:\n"
            "    p = [np.ones((2, 2)), np.ones(2, np.float32)]\n"
            "    make_optimizer(name, 0.1).step(p, [np.ones((2, 2)), np.ones(2, np.float32)])\n"
            "assert 'sympy' not in sys.modules, 'sympy was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr


def test_plan_names_the_kernel_its_state_and_where_each_scalar_comes_from():
    plan = Adam(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True).plan()
    assert isinstance(plan, OptimizerPlan)
    assert (plan.module, plan.kernel) == ("adam", "adam_amsgrad_step")
    assert plan.state == ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    assert set(plan.scalars) == set(plan.hyper) | set(plan.per_step)
    assert plan.hyper_values() == {"beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1}
    assert "step_size" in plan.per_step and "lr" not in plan.scalars
    assert plan.initial == {"exp_avg": 0.0, "exp_avg_sq": 0.0, "max_exp_avg_sq": 0.0}
    assert Adagrad(initial_accumulator_value=0.5).plan().initial == {"state_sum": 0.5}
    assert SGD(momentum=0.9, nesterov=True).plan().kernel == "sgd_nesterov_step"
    assert RMSprop(momentum=0.5, centered=True).plan().kernel == "rmsprop_centered_momentum_step"


def test_step_scalars_are_the_rows_of_consecutive_steps_and_first_marks_a_created_state():
    plan = Adam().plan()
    rows = plan.step_scalars(np.array([0.1, 0.2, 0.3]), 4, False)
    assert rows.shape == (3, len(plan.per_step)) and rows.dtype == np.float64
    one_at_a_time = [plan.step_scalars(np.array([lr]), 4 + k, False)[0] for k, lr in enumerate([0.1, 0.2, 0.3])]
    assert np.array_equal(rows, np.array(one_at_a_time))
    step_size = rows[:, plan.per_step.index("step_size")]
    assert step_size.tolist() == [lr / (1 - 0.9 ** t) for lr, t in [(0.1, 5), (0.2, 6), (0.3, 7)]]
    sgd = SGD(lr=0.1, momentum=0.9).plan()
    assert sgd.per_step == ("first",)
    assert sgd.step_scalars(np.full(3, 0.1), 0, True)[:, 0].tolist() == [1, 0, 0]
    assert sgd.step_scalars(np.full(3, 0.1), 0, False)[:, 0].tolist() == [0, 0, 0]


def test_a_subclass_that_overrides_step_has_no_plan():
    class Clipped(Adam):
        def step(self, params, grads):
            super().step(params, [np.clip(g, -1, 1) for g in grads])

    class Renamed(Adam):
        pass

    assert Clipped().plan() is None  # the fused loop must not run Adam's kernel in its place
    assert Renamed().plan() == Adam().plan()
    p = np.zeros(3)
    Clipped(lr=0.1).step([p], [np.full(3, 100.0)])  # its own step still runs the kernel
    assert np.allclose(p, -0.1)
