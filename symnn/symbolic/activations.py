"""Activation functions, each written once as its forward form in the real symbol `x`.

Their gradients are not written here: `derivation.derive_elementwise` obtains them with `sympy.diff`.
"""

from __future__ import annotations

import sympy as sp

x = sp.Symbol("x", real=True)

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
    "leaky_relu": (
        sp.Piecewise((x, x > 0), (sp.Rational(1, 100) * x, True)),
        "leaky ReLU, negative slope 0.01",
    ),
    # NaN takes the branch `otherwise`, as in torch's kernels: ELU's gradient at NaN is g.
    "elu": (sp.Piecewise((sp.exp(x) - 1, x <= 0), (x, True)), "exponential linear unit, alpha 1"),
    "softplus": (sp.log(1 + sp.exp(x)), "softplus, beta 1: a smooth ReLU"),
    "silu": (x / (1 + sp.exp(-x)), "SiLU (swish): x * sigmoid(x)"),
    "gelu": (x * (1 + sp.erf(x / sp.sqrt(2))) / 2, "GELU, exact erf form"),
    "mish": (x * sp.tanh(sp.log(1 + sp.exp(x))), "Mish: x * tanh(softplus(x))"),
    "selu": (sp.Piecewise((SELU_SCALE * SELU_ALPHA * (sp.exp(x) - 1), x <= 0), (SELU_SCALE * x, True)),
             "scaled ELU with PyTorch's constants (alpha 1.6733, scale 1.0507)"),
}

#: Activations after which `init="auto"` draws Kaiming (He) weights, the ReLU family; Xavier
#: (Glorot) after every other one, and after a formula. Exported as generated/activations INIT.
HE_INIT = ("relu", "leaky_relu", "elu", "silu", "gelu")


def init_families() -> dict[str, str]:
    """name -> "he" or "xavier": the initialisation `auto` picks before each activation."""
    return {name: "he" if name in HE_INIT else "xavier" for name in ACTIVATIONS}
