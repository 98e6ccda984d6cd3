"""Optimizer update rules as SymPy expressions: torch.optim's algorithms, one element at a time.

Each rule is a list of assignments over scalars: the parameter p, its gradient g, the optimizer's
state (momentum buffer, moment estimates) and the hyper-parameters, all symbols. The lines run in
order, each reading what the previous ones left (`g <- g + weight_decay*p` rebinds g), and become
one fused, in-place kernel pass over flat arrays (`symnn.codegen.emit_optimizers`). Scalars that
depend on the step count t or the learning rate (Adam's step size, Adagrad's decayed learning rate),
or that torch computes from the hyper-parameters in Python floats (Adam's 1 - beta1), are computed
once per step, in Python floats, and passed to the kernel as arguments.

Options that change the algorithm (momentum, nesterov, centered, amsgrad) select lines; each
combination a runtime may ask for is one kernel (a "variant"), so no kernel tests an option per
element. The one flag tested in a kernel is SGD's `first` (torch starts the momentum buffer at g).
An option is on when its hyper-parameter (same keyword) is nonzero or True.

A per-step line may read its own previous value (NAdam's running product of mu): it declares the
value before the first step (`start`); the runtime runs those lines in order, step after step.

Everything the runtime, the CLI and gradcheck need (defaults, constraints, variants, kernel names,
presets) is declared here and exported by `symnn generate` into `generated/optimizers/`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.printer import Printer

from symnn.errors import UserInputError
from symnn.symbolic.derivation import Derivation


class Update(sp.Basic):
    """`target <- value`: one assignment, printed as such by str, pretty and LaTeX."""

    def __new__(cls, target: sp.Symbol, value: sp.Expr) -> Update:
        return super().__new__(cls, target, sp.sympify(value))

    @property
    def target(self) -> sp.Symbol:
        return self.args[0]

    @property
    def value(self) -> sp.Expr:
        return self.args[1]

    def _sympystr(self, printer: Printer) -> str:
        return f"{printer._print(self.target)} <- {printer._print(self.value)}"

    def _latex(self, printer: Printer) -> str:
        return rf"{printer._print(self.target)} \leftarrow {printer._print(self.value)}"

    def _pretty(self, printer: Printer) -> prettyForm:
        target = printer._print(self.target)
        return prettyForm(*target.right(" ← ", printer._print(self.value)))


def _real(names: str) -> tuple[sp.Symbol, ...]:
    return sp.symbols(names, real=True)


# Per element: the parameter, its gradient, and locals of the rules.
p, g = _real("p g")
buf, s, v, g_avg, avg, m, v_max, denom = _real("buf s v g_avg avg m v_max denom")
# Hyper-parameters (torch's keywords; betas=(beta1, beta2)) and the step-dependent scalars.
lr, weight_decay, momentum, dampening, lr_decay, eps, alpha, beta1, beta2 = _real(
    "lr weight_decay momentum dampening lr_decay eps alpha beta1 beta2")
clr, bias_correction1, bias_correction2 = _real("clr bias_correction1 bias_correction2")
step_size, bias_correction2_sqrt, one_minus_beta1, one_minus_beta2 = _real(
    "step_size bias_correction2_sqrt one_minus_beta1 one_minus_beta2")
momentum_decay, mu, mu_next, mu_product, grad_coef, exp_avg_coef, decay = _real(
    "momentum_decay mu mu_next mu_product grad_coef exp_avg_coef decay")
mu_power, mu_next_power = _real("mu_power mu_next_power")
#: The parameter's step count, 1 on its first step.
t = sp.Symbol("t", integer=True, positive=True)
#: 1 on a parameter's first step, else 0 (an integer kernel argument, not cast to the dtype).
first = sp.Symbol("first", integer=True)

#: How the condition of a line reads in `derive`: option -> text ("!option": option off).
OPTION_TEXT = {
    "momentum": "momentum > 0", "nesterov": "nesterov=True", "!nesterov": "nesterov=False",
    "centered": "centered=True", "!centered": "centered=False", "!momentum": "momentum = 0",
    "amsgrad": "amsgrad=True", "!amsgrad": "amsgrad=False",
    "decoupled_weight_decay": "decoupled_weight_decay=True",
    "!decoupled_weight_decay": "decoupled_weight_decay=False",
}

#: What each hyper-parameter keyword accepts (one table, one message format in the runtime):
#: "nonneg" a finite real >= 0, "real" any finite real, "flag" True or False, "betas" a pair in [0, 1).
HYPERPARAMETERS = {
    "lr": "nonneg", "momentum": "nonneg", "dampening": "real", "weight_decay": "nonneg",
    "nesterov": "flag", "lr_decay": "nonneg", "initial_accumulator_value": "nonneg", "eps": "nonneg",
    "alpha": "nonneg", "centered": "flag", "betas": "betas", "amsgrad": "flag",
    "momentum_decay": "nonneg", "decoupled_weight_decay": "flag",
}
#: A keyword holding several kernel scalars, in order.
SPLIT = {"betas": ("beta1", "beta2")}


class float32(sp.Function):  # noqa: N801 (named as NumPy's type it rounds to)
    """x rounded to float32: a per-step value torch keeps in a float32 tensor (its default scalar
    dtype), such as NAdam's mu_product. Printed as float(numpy.float32(x))."""

    nargs = 1

    def _pythoncode(self, printer: Printer) -> str:
        return f"float(numpy.float32({printer._print(self.args[0])}))"


@dataclass(frozen=True)
class Line:
    """`target <- value`, in effect when every option in `when` holds ("!x": x is off)."""

    label: str
    target: sp.Symbol
    value: sp.Expr
    when: tuple[str, ...] = ()
    #: A hyper-parameter whose value 0 skips the line (torch's `if weight_decay != 0:`).
    unless_zero: sp.Symbol | None = None
    #: A per-step line reading its own previous value (a recurrence): that value before step 1.
    start: float | None = None

    def _replace_when(self, when: tuple[str, ...]) -> Line:
        return Line(self.label, self.target, self.value, when, self.unless_zero, self.start)

    def active(self, options: tuple[str, ...]) -> bool:
        return all((w[1:] not in options) if w.startswith("!") else (w in options) for w in self.when)

    def update(self) -> Update:
        return Update(self.target, self.value)

    def conditions(self) -> list[str]:
        """What the line holds under, as text: its options, and its nonzero hyper-parameter."""
        return [OPTION_TEXT[w] for w in self.when] + ([f"{self.unless_zero} != 0"] if self.unless_zero else [])

    def title(self) -> str:
        """The label, with the condition it holds under."""
        conditions = self.conditions()
        return f"{self.label}, if {' and '.join(conditions)}" if conditions else self.label


@dataclass(frozen=True)
class Array:
    """A flat array a kernel reads per element as `symbol`: named as torch names it (state keys)."""

    arg: str
    symbol: sp.Symbol
    init: str = ""
    when: tuple[str, ...] = ()
    #: The value it starts at: a number, or the hyper-parameter keyword holding it.
    start: float | str = 0.0


PARAM = Array("param", p)
GRAD = Array("grad", g)


@dataclass(frozen=True)
class Kernel:
    """One variant of a rule: the fused kernel's name, arguments in call order, and lines."""

    name: str
    options: tuple[str, ...]
    arrays: tuple[Array, ...]
    scalars: tuple[sp.Symbol, ...]
    lines: tuple[Line, ...]

    def written(self) -> tuple[Array, ...]:
        """Arrays stored back: the parameter and the state (the gradient is only read)."""
        targets = {line.target for line in self.lines}
        return tuple(a for a in self.arrays if a.symbol in targets and a is not GRAD)

    def signature(self) -> str:
        args = [a.arg for a in self.arrays] + [sym.name for sym in self.scalars]
        return f"{self.name}({', '.join(args)})"


@dataclass(frozen=True)
class OptimizerDefinition:
    """A torch.optim algorithm: per-step scalars, per-element lines, and its kernel variants.

    `scalars` orders every scalar a kernel or the per-step function may take; each takes, in that
    order, the ones its lines read. `variants` maps a kernel-name suffix to the options it has on.
    """

    name: str
    torch_class: str
    description: str
    defaults: tuple[tuple[str, object], ...]
    state: tuple[Array, ...]
    scalars: tuple[sp.Symbol, ...]
    per_step: tuple[Line, ...]
    lines: tuple[Line, ...]
    variants: tuple[tuple[str, tuple[str, ...]], ...] = (("", ()),)
    notes: tuple[str, ...] = ()
    #: (option, keyword, "<" | ">" | "==", value): the option needs keyword op value.
    requires: tuple[tuple[str, str, str, float], ...] = ()

    def __post_init__(self) -> None:
        for line in self.carried():
            if lr in line.value.free_symbols:  # it is recomputed from t alone, whatever lr was
                raise ValueError(f"{self.name}: the recurrence {line.target} must not read lr")

    @property
    def class_name(self) -> str:
        """The runtime class: torch's ("torch.optim.NAdam" -> "NAdam")."""
        return self.torch_class.rsplit(".", 1)[-1]

    def options(self) -> tuple[str, ...]:
        """The keywords that select a variant, in the order the variants first name them."""
        return tuple(dict.fromkeys(o for _, opts in self.variants for o in opts))

    def carried(self) -> tuple[Line, ...]:
        """The per-step lines that read their own previous value."""
        return tuple(line for line in self.per_step if line.start is not None)

    def kernel_name(self, suffix: str) -> str:
        return f"{self.name}_{suffix}_step" if suffix else f"{self.name}_step"

    def kernels(self) -> list[Kernel]:
        out = []
        for suffix, options in self.variants:
            lines = tuple(line for line in self.lines if line.active(options))
            read = set().union(*(line.value.free_symbols | {line.unless_zero} - {None} for line in lines))
            used = read | {line.target for line in lines}
            state = tuple(a for a in self.state if a.symbol in used)
            scalars = tuple(sym for sym in self.scalars if sym in read)
            out.append(Kernel(self.kernel_name(suffix), options, (PARAM, GRAD, *state), scalars, lines))
        return out

    @property
    def step_function(self) -> str:
        """The name of the Python function computing the per-step scalars (if there are any)."""
        return f"{self.name}_scalars"

    def step_inputs(self) -> tuple[sp.Symbol, ...]:
        """Arguments of the per-step function: the hyper-parameters it reads, then t, then the
        previous values of the recurrences."""
        read = set().union(*(line.value.free_symbols for line in self.per_step))
        read -= {line.target for line in self.per_step}  # computed by an earlier per-step line
        return (tuple(sym for sym in self.scalars if sym in read) + ((t,) if t in read else ())
                + tuple(line.target for line in self.carried()))

    def final_parameter(self, options: tuple[str, ...] = ()) -> sp.Expr:
        """The new p as one expression of the old values: the variant's lines substituted in."""
        env: dict[sp.Symbol, sp.Expr] = {}
        for line in self.lines:
            if line.active(options):
                env[line.target] = line.value.xreplace(env)
        return env[p]


def _weight_decay_l2() -> Line:
    """g + weight_decay*p, skipped where weight_decay is 0 as torch skips it (an inf p stays out of g:
    inf*0 would be NaN)."""
    return Line("weight decay (L2, added to the gradient)", g, g + weight_decay * p, unless_zero=weight_decay)


SGD = OptimizerDefinition(
    "sgd", "torch.optim.SGD", "stochastic gradient descent, with momentum and Nesterov momentum",
    (("lr", 1e-3), ("momentum", 0), ("dampening", 0), ("weight_decay", 0), ("nesterov", False)),
    state=(Array("momentum_buffer", buf, "g, on the first step", ("momentum",)),),
    scalars=(lr, momentum, dampening, weight_decay, first),
    per_step=(),
    lines=(
        _weight_decay_l2(),
        Line("momentum buffer (first = 1 on the parameter's first step)", buf,
             sp.Piecewise((g, sp.Eq(first, 1)), (momentum * buf + (1 - dampening) * g, True)),
             ("momentum",)),
        Line("Nesterov momentum", g, g + momentum * buf, ("nesterov",)),
        Line("heavy-ball momentum", g, buf, ("momentum", "!nesterov")),
        Line("update", p, p - lr * g),
    ),
    variants=(("", ()), ("momentum", ("momentum",)), ("nesterov", ("momentum", "nesterov"))),
    notes=("torch starts the buffer at g itself on the first step, undamped; the runtime passes "
           "first = 1 then and 0 after", "nesterov needs momentum > 0 and dampening = 0"),
    requires=(("nesterov", "momentum", ">", 0.0), ("nesterov", "dampening", "==", 0.0)),
)

ADAGRAD = OptimizerDefinition(
    "adagrad", "torch.optim.Adagrad", "adaptive learning rates from the sum of squared gradients",
    (("lr", 1e-2), ("lr_decay", 0), ("weight_decay", 0), ("initial_accumulator_value", 0),
     ("eps", 1e-10)),
    state=(Array("state_sum", s, "initial_accumulator_value", start="initial_accumulator_value"),),
    scalars=(lr, lr_decay, clr, eps, weight_decay),
    per_step=(Line("decayed learning rate", clr, lr / (1 + (t - 1) * lr_decay)),),
    lines=(
        _weight_decay_l2(),
        Line("sum of squared gradients", s, s + g**2),
        Line("update", p, p - clr * g / (sp.sqrt(s) + eps)),
    ),
)

RMSPROP = OptimizerDefinition(
    "rmsprop", "torch.optim.RMSprop", "gradients scaled by a running root mean square",
    (("lr", 1e-2), ("alpha", 0.99), ("eps", 1e-8), ("weight_decay", 0), ("momentum", 0),
     ("centered", False)),
    state=(Array("square_avg", v, "0"), Array("grad_avg", g_avg, "0", ("centered",)),
           Array("momentum_buffer", buf, "0", ("momentum",))),
    scalars=(lr, alpha, eps, weight_decay, momentum),
    per_step=(),
    lines=(
        _weight_decay_l2(),
        # torch: square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha): ((1 - alpha)*g)*g, which
        # does not overflow where g*g would.
        Line("running mean of g^2", v, alpha * v + g * sp.UnevaluatedExpr((1 - alpha) * g)),
        Line("running mean of g", g_avg, alpha * g_avg + (1 - alpha) * g, ("centered",)),
        Line("denominator", avg, sp.sqrt(v - g_avg**2) + eps, ("centered",)),
        Line("denominator", avg, sp.sqrt(v) + eps, ("!centered",)),
        Line("momentum buffer", buf, momentum * buf + g / avg, ("momentum",)),
        Line("update", p, p - lr * buf, ("momentum",)),
        Line("update", p, p - lr * g / avg, ("!momentum",)),
    ),
    variants=(("", ()), ("momentum", ("momentum",)), ("centered", ("centered",)),
              ("centered_momentum", ("centered", "momentum"))),
)

_ADAM_STATE = (Array("exp_avg", m, "0"), Array("exp_avg_sq", v, "0"),
               Array("max_exp_avg_sq", v_max, "0", ("amsgrad",)))
_ADAM_SCALARS = (lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2, step_size,
                 bias_correction2_sqrt, one_minus_beta1, one_minus_beta2)
# torch's _single_tensor_adam computes these in Python floats: lr enters only through step_size.
_ADAM_PER_STEP = (
    Line("bias correction of m", bias_correction1, 1 - beta1**t),
    Line("bias correction of v", bias_correction2, 1 - beta2**t),
    Line("step size", step_size, lr / bias_correction1),
    # torch's `bias_correction2**0.5`: C's pow for a Python float, which can differ from sqrt in the
    # last bit (NumPy takes sqrt for an array of them, as the fused loop passes).
    Line("root of the bias correction of v", bias_correction2_sqrt, bias_correction2**sp.Float(0.5)),
    Line("weight of m's lerp towards g", one_minus_beta1, 1 - beta1),
    Line("weight of g*g in v", one_minus_beta2, 1 - beta2),
)


def _adam_lines(decay: Line) -> tuple[Line, ...]:
    """Adam's moments and update, after `decay` (L2 into g for Adam, decoupled for AdamW).

    Written as torch's `_single_tensor_adam` computes them, operation for operation, so the
    rounding follows torch's: `exp_avg.lerp_(grad, 1 - beta1)` (ATen's lerp with a scalar weight w:
    m + w*(g - m) when w < 0.5, else g - (g - m)*(1 - w)), `exp_avg_sq.mul_(beta2).addcmul_(grad,
    grad, value=1 - beta2)`, `denom = sqrt(v)/bias_correction2_sqrt + eps` and
    `param.addcdiv_(exp_avg, denom, value=-step_size)`: two divisions per element. torch's CPU
    kernels fuse these multiply-adds (FMA) and its float32 sqrt is not always correctly rounded;
    the kernels round every operation, so they can differ from torch in the last bit.
    """
    w1 = one_minus_beta1
    return (
        decay,
        Line("first moment: lerp(m, g, 1 - beta1)", m,
             sp.Piecewise((m + w1 * (g - m), w1 < sp.S.Half), (g - (g - m) * (1 - w1), True))),
        Line("second moment: beta2*v, plus ((1 - beta2)*g)*g", v,
             beta2 * v + g * sp.UnevaluatedExpr(one_minus_beta2 * g)),
        Line("running maximum of v", v_max, sp.Max(v_max, v), ("amsgrad",)),
        Line("denominator", denom, sp.sqrt(v) / bias_correction2_sqrt + eps, ("!amsgrad",)),
        Line("denominator", denom, sp.sqrt(v_max) / bias_correction2_sqrt + eps, ("amsgrad",)),
        Line("update", p, p - step_size * m / denom),
    )


ADAM = OptimizerDefinition(
    "adam", "torch.optim.Adam", "adaptive moment estimation",
    (("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0), ("amsgrad", False)),
    state=_ADAM_STATE, scalars=_ADAM_SCALARS, per_step=_ADAM_PER_STEP,
    lines=_adam_lines(_weight_decay_l2()),
    variants=(("", ()), ("amsgrad", ("amsgrad",))),
    notes=("betas = (beta1, beta2)",),
)

ADAMW = OptimizerDefinition(
    "adamw", "torch.optim.AdamW", "Adam with decoupled weight decay",
    (("lr", 1e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 1e-2),
     ("amsgrad", False)),
    state=_ADAM_STATE, scalars=_ADAM_SCALARS, per_step=_ADAM_PER_STEP,
    lines=_adam_lines(Line("decoupled weight decay", p, p * (1 - lr * weight_decay))),
    variants=(("", ()), ("amsgrad", ("amsgrad",))),
    notes=("betas = (beta1, beta2)", "the decay scales p itself; it never enters m or v"),
)

# torch's _single_tensor_nadam, in its order. mu_product lives in a float32 tensor under torch's
# default dtype: each product is rounded to float32, as torch's `mu_product *= mu` is.
_NADAM_PER_STEP = (
    Line("bias correction of v", bias_correction2, 1 - beta2**t),
    # The powers' exponents are lines of their own: 0.96**(t*momentum_decay), as torch computes it.
    Line("exponent of mu_t's decay", mu_power, t * momentum_decay),
    Line("momentum cache mu_t", mu, beta1 * (1 - sp.Float(0.5) * sp.Float(0.96) ** mu_power)),
    Line("exponent of mu_(t+1)'s decay", mu_next_power, (t + 1) * momentum_decay),
    Line("momentum cache mu_(t+1)", mu_next, beta1 * (1 - sp.Float(0.5) * sp.Float(0.96) ** mu_next_power)),
    Line("running product of mu (torch's float32 mu_product)", mu_product,
         float32(float32(mu_product) * float32(mu)), start=1.0),
    Line("weight of g in the update", grad_coef, -lr * (1 - mu) / (1 - mu_product)),
    Line("weight of m in the update", exp_avg_coef,
         -lr * mu_next / (1 - sp.UnevaluatedExpr(mu_product * mu_next))),
    Line("weight of m's lerp towards g", one_minus_beta1, 1 - beta1),
    Line("weight of g*g in v", one_minus_beta2, 1 - beta2),
    Line("decoupled decay factor", decay, 1 - lr * weight_decay),
)

NADAM = OptimizerDefinition(
    "nadam", "torch.optim.NAdam", "Adam with Nesterov momentum",
    (("lr", 2e-3), ("betas", (0.9, 0.999)), ("eps", 1e-8), ("weight_decay", 0),
     ("momentum_decay", 4e-3), ("decoupled_weight_decay", False)),
    state=(Array("exp_avg", m, "0"), Array("exp_avg_sq", v, "0")),
    scalars=(lr, beta1, beta2, eps, weight_decay, momentum_decay, bias_correction2, mu_power, mu,
             mu_next_power, mu_next, mu_product,
             grad_coef, exp_avg_coef, one_minus_beta1, one_minus_beta2, decay),
    per_step=_NADAM_PER_STEP,
    lines=(
        _weight_decay_l2()._replace_when(("!decoupled_weight_decay",)),
        Line("decoupled weight decay", p, p * decay, ("decoupled_weight_decay",), unless_zero=weight_decay),
        *_adam_lines(None)[1:3],
        Line("denominator: sqrt(v/bias_correction2) + eps", denom, sp.sqrt(v / bias_correction2) + eps),
        Line("update, by g", p, p + grad_coef * sp.UnevaluatedExpr(g / denom)),
        Line("update, by m", p, p + exp_avg_coef * sp.UnevaluatedExpr(m / denom)),
    ),
    variants=(("", ()), ("decoupled", ("decoupled_weight_decay",))),
    notes=("betas = (beta1, beta2)", "mu_product is the product of mu over the parameter's steps; "
           "kept in float32, as torch keeps it under its default dtype (float32)"),
)

#: name -> definition, for `symnn derive` and `symnn generate`.
OPTIMIZERS: dict[str, OptimizerDefinition] = {d.name: d for d in (SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, NADAM)}

#: Command-line names that stand for an optimizer with some keywords set: name -> (optimizer,
#: keywords, what it is).
PRESETS: dict[str, tuple[str, dict[str, object], str]] = {
    "momentum": ("sgd", {"momentum": 0.9}, "SGD, momentum 0.9"),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, "SGD, Nesterov momentum 0.9"),
}


def _defaults_text(d: OptimizerDefinition) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in d.defaults)


def _state_text(d: OptimizerDefinition) -> str:
    parts = []
    for a in d.state:
        cond = f", if {' and '.join(OPTION_TEXT[w] for w in a.when)}" if a.when else ""
        parts.append(f"{a.symbol.name} ({a.arg}): {a.init}{cond}")
    return "; ".join(parts)


def _in_exact_arithmetic(expr: sp.Expr) -> sp.Expr:
    """`expr` without what only fixes the rounding: unevaluated groupings, and Piecewise whose
    branches are one expression in exact arithmetic (torch's two lerp formulas), as its first."""
    expr = expr.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0])
    return expr.replace(
        lambda e: isinstance(e, sp.Piecewise)
        and all(sp.expand(b.expr - e.args[0].expr) == 0 for b in e.args[1:]),
        lambda e: e.args[0].expr)


def derive_optimizer(name: str) -> Derivation:
    """The update rule of a registered optimizer, line by line, as `symnn derive` shows it."""
    if name not in OPTIMIZERS:
        raise UserInputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    d = OPTIMIZERS[name]
    steps: list[tuple[str, object]] = [
        (f"{d.torch_class} defaults", _defaults_text(d)),
        ("state per parameter, created on its first step", _state_text(d)),
    ]
    steps += [(f"once per step, in Python floats: {line.title()}", line.update())
              for line in d.per_step]
    steps += [(f"per element: {line.title()}", line.update()) for line in d.lines]
    final = _in_exact_arithmetic(d.final_parameter())
    steps.append(("the new p with the default options, in one expression (in exact arithmetic)",
                  Update(p, final)))
    steps.append(("kernels (one fused pass over flat arrays each)",
                  "\n".join(k.signature() for k in d.kernels())))
    description = f"{d.description} ({d.torch_class}); every line runs per element, in order"
    return Derivation(name, "optimizer", description, final, {}, None, steps,
                      list(d.notes))


__all__ = ["HYPERPARAMETERS", "OPTIMIZERS", "PRESETS", "SPLIT",
           "Array", "Kernel", "Line", "OptimizerDefinition", "Update", "derive_optimizer"]
