"""Activation functions, each written once as its forward form in the real symbol `x`.

Their gradients are not written here: `derivation.derive_elementwise` obtains them with `sympy.diff`.
"""

from __future__ import annotations

import sympy as sp

from symnn.symbolic.derivation import RANGES, WITH, Parameter

x = sp.Symbol("x", real=True)

#: name -> its parameters, torch's keywords and defaults (symbols in the forward form below: every
#: value is one compiled kernel, the parameter its argument). Exported as generated/activations
#: PARAMETERS and RANGES, read by `Activation(name, **values)`, the CLI's `name:k=v` and `derive`.
PARAMETERS: dict[str, tuple[Parameter, ...]] = {
    "leaky_relu": (Parameter("slope", 0.01, "finite", "the slope for x <= 0, torch's negative_slope"),),
    "elu": (Parameter("alpha", 1.0, "positive", "the value approached as x -> -inf is -alpha"),),
    "softplus": (Parameter("beta", 1.0, "positive", "log(1 + exp(beta*x))/beta"),
                 Parameter("threshold", 20.0, "finite", "x itself where beta*x > threshold, as torch")),
}
_slope, = (p.symbol for p in PARAMETERS["leaky_relu"])
_alpha, = (p.symbol for p in PARAMETERS["elu"])
_beta, _threshold = (p.symbol for p in PARAMETERS["softplus"])

#: torch.nn.SELU's constants, to the digits PyTorch writes them with.
SELU_ALPHA = sp.Float("1.6732632423543772848170429916717", 32)
SELU_SCALE = sp.Float("1.0507009873554804934193349852946", 32)

#: name -> (forward expression in x, one-line description). PyTorch's definitions and defaults.
#: The ones in HE_INIT are listed with their initialisation family beside them.
ACTIVATIONS: dict[str, tuple[sp.Expr, str]] = {
    "identity": (x, "the identity, for a linear output layer"),
    "step": (sp.Heaviside(x, 0), "Heaviside step: the perceptron's activation, 1 where x > 0"),
    "sigmoid": (1 / (1 + sp.exp(-x)), "logistic sigmoid"),
    "tanh": (sp.tanh(x), "hyperbolic tangent"),
    "relu": (sp.Max(0, x), "rectified linear unit; gradient 0 at x = 0, as in PyTorch"),
    "leaky_relu": (sp.Piecewise((x, x > 0), (_slope * x, True)), "leaky ReLU, negative slope 0.01 by default"),
    # NaN takes the branch `otherwise`, as in torch's kernels: ELU's gradient at NaN is g.
    "elu": (sp.Piecewise((_alpha * (sp.exp(x) - 1), x <= 0), (x, True)), "exponential linear unit, alpha 1 by default"),
    "softplus": (sp.Piecewise((x, _beta * x > _threshold), (sp.log(1 + sp.exp(_beta * x)) / _beta, True)),
                 "softplus, beta 1 and threshold 20 by default (torch's): a smooth ReLU"),
    "silu": (x / (1 + sp.exp(-x)), "SiLU (swish): x * sigmoid(x)"),
    "gelu": (x * (1 + sp.erf(x / sp.sqrt(2))) / 2, "GELU, exact erf form"),
    # A discrete choice, so a kernel of its own (Activation("gelu", approximate="tanh") picks it), not
    # a parameter: torch's constants, sqrt(2/pi) and 0.044715.
    "gelu_tanh": (x * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + sp.Rational(44715, 10**6) * x**3))) / 2,
                  "GELU, tanh approximation (torch approximate='tanh')"),
    # tanh(log(1 + e)) = (e*e + 2*e)/(e*e + 2*e + 2) with e = exp(x): the same function with one exp,
    # whose stable form (exp_sign_split: e = 1/u above 0, u below, u = exp(-|x|)) cannot overflow
    "mish": (x * (sp.exp(2 * x) + 2 * sp.exp(x)) / (sp.exp(2 * x) + 2 * sp.exp(x) + 2),
             "Mish: x * tanh(softplus(x)), written with one exp"),
    "selu": (sp.Piecewise((SELU_SCALE * SELU_ALPHA * (sp.exp(x) - 1), x <= 0), (SELU_SCALE * x, True)),
             "scaled ELU with PyTorch's constants (alpha 1.6733, scale 1.0507)"),
}

#: Activations after which `init="auto"` draws Kaiming (He) weights, the ReLU family; Xavier
#: (Glorot) after every other one, and after a formula. Exported as generated/activations INIT.
HE_INIT = ("relu", "leaky_relu", "elu", "silu", "gelu", "gelu_tanh")

#: The name `Activation(name, approximate=...)` stands for: (name, approximate) -> kernel (torch's
#: F.gelu(x, approximate='tanh')). Exported as generated/activations APPROXIMATE.
APPROXIMATE: dict[tuple[str, str], str] = {("gelu", "none"): "gelu", ("gelu", "tanh"): "gelu_tanh"}


def init_families() -> dict[str, str]:
    """name -> "he" or "xavier": the initialisation `auto` picks before each activation."""
    return {name: "he" if name in HE_INIT else "xavier" for name in ACTIVATIONS}


def parameter_exports(table: dict[str, tuple[Parameter, ...]]) -> dict[str, dict]:
    """WITH (the parameterised kernels' suffix), PARAMETERS (name -> ((parameter, default), ...)) and
    RANGES (name -> {parameter: (range key, its text)}), as a generated index holds them."""
    return {"WITH": WITH, "PARAMETERS": {name: tuple((p.name, p.default) for p in ps) for name, ps in table.items()},
            "RANGES": {name: {p.name: (p.range, RANGES[p.range][0]) for p in ps} for name, ps in table.items()}}


def zero_gradient() -> tuple[str, ...]:
    """The activations whose derivative, as the kernels compute it, is 0 everywhere (the step's Dirac
    delta): no layer before one gets a gradient, so both training paths end their backward pass there."""
    from symnn.symbolic.rules import apply_conventions, kernel_form

    return tuple(name for name, (f, _) in ACTIVATIONS.items()
                 if kernel_form(apply_conventions(sp.diff(f, x)))[0] == 0)


def exports() -> dict[str, object]:
    """The facts as `generated/activations/__init__.py` holds them (read by the runtime and the CLI)."""
    return {"NAMES": tuple(ACTIVATIONS), "INIT": init_families(), **parameter_exports(PARAMETERS),
            "APPROXIMATE": {f"{name}:{how}": kernel for (name, how), kernel in APPROXIMATE.items()},
            "ZERO_GRADIENT": zero_gradient()}
