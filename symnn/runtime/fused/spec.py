"""What the fused loop covers, and a fit's spec: the layers, the loss and the optimizer kernel.

The spec is data a fit is found to be (`spec_of`); `canonical` is the part of it the loop's text
depends on (the activations used, the loss kernel, the optimizer kernel), so one compiled loop per
dtype serves every depth and width.
"""

from __future__ import annotations

from collections.abc import Callable

from symnn.runtime import kernels
from symnn.runtime.layers import Activation, Dense

#: A generated module's names by dotted name ("optimizers.adam" -> its KERNELS, ...): the installed
#: package's by default; `symnn generate` reads them from the texts it is writing.
Generated = Callable[[str], object]

def optimizer_module(kernel: str, generated: Generated = kernels.generated) -> str:
    """The generated optimizer module holding a kernel ("adam_step" -> "adam")."""
    for module in generated("optimizers").NAMES:
        if kernel.startswith(f"{module}_") and kernel in generated(f"optimizers.{module}").KERNELS:
            return module
    raise ValueError(f"the fused loop has no optimizer kernel {kernel!r}")


def roles(kernel: str, generated: Generated = kernels.generated) -> dict[str, tuple[str, ...]]:
    """The optimizer kernel's arguments after param and grad, by where the loop takes them from
    (symnn.runtime.optimizers.kernel_roles): state, the rows of S; hyper, the entries of `hyper`;
    per_step, the columns of `scalars`, one row per step; lr, from `lrs`."""
    from symnn.runtime.optimizers import kernel_roles

    return kernel_roles(generated(f"optimizers.{optimizer_module(kernel, generated)}"), kernel)


def canonical(spec: dict, generated: Generated = kernels.generated) -> dict:
    """What the loop's text depends on: the activations used (sorted), loss, optimizer kernel.

    `spec`: {"layers": [("dense", n_in, n_out) | ("activation", name), ...], "loss": name,
    "optimizer": kernel name ("adam_step"), "formulas": {kernel name: formula} of the formula
    activations and loss (named `act_<hash>`, `loss_<hash>`: symnn.runtime.custom), "validation":
    whether the loop evaluates validation data (default False)}; other keys (dtype) are ignored. The loss is named by its
    kernel (hinge with several outputs is `multi_margin`: symnn.runtime.kernels.loss_kernel).
    """
    layers = list(spec["layers"])
    if not layers or layers[0][0] != "dense":
        raise ValueError("a fused network starts with a dense layer")
    formulas = dict(spec.get("formulas", {}))
    from symnn.runtime import custom

    for name, formula in formulas.items():  # a formula's kernels are named by its hash, nothing else
        if name not in (custom.activation_name(formula), custom.loss_name(formula)):
            raise ValueError(f"the fused loop has no formula kernel {name!r}")
    known = set(generated("activations").NAMES) | set(formulas)
    for layer in layers:
        if not (layer[0] == "dense" or layer[0] == "activation" and layer[1] in known):
            raise ValueError(f"the fused loop has no layer {layer!r}")
    n_out = [int(layer[2]) for layer in layers if layer[0] == "dense"][-1]
    if spec["loss"] in formulas:  # a formula loss: elementwise, its kernels named by its hash
        loss = spec["loss"]
    else:
        _, loss, _ = kernels.loss_kernel(spec["loss"], n_out, generated)
    optimizer_module(spec["optimizer"], generated)
    acts = sorted({str(layer[1]) for layer in layers if layer[0] == "activation"})
    return {"activations": tuple(acts), "loss": loss, "optimizer": spec["optimizer"],
            "formulas": {name: formulas[name] for name in (*acts, loss) if name in formulas},
            "validation": bool(spec.get("validation", False))}


def plan_of(optimizer: object):
    """The optimizer's public plan (symnn.runtime.optimizers.OptimizerPlan), or None where the fused
    loop must not run it: not one of symnn's optimizers, or a subclass with a `step` of its own."""
    import symnn.runtime.optimizers as optimizers  # (`import` skips a `from` import's look-up of __path__)

    return optimizer.plan() if isinstance(optimizer, optimizers.Optimizer) else None


def spec_of(model, optimizer) -> dict | None:
    """The fused spec of a model and optimizer: {"layers", "loss", "optimizer", "dtype"}, or None."""
    return spec_and_inputs(model, optimizer)[0]


def spec_and_inputs(model, optimizer) -> tuple[dict | None, tuple]:
    """The spec, and what it was found from (the session's, when those are the same)."""
    sess = getattr(model, "_fused_session", None)
    inputs = _spec_inputs(model, optimizer)
    if sess is not None and _same(sess.spec_inputs, inputs):
        return sess.spec, inputs
    return _spec(model, optimizer), inputs


def _spec_inputs(model, optimizer) -> tuple:
    """What a model's spec is made of, compared by identity and value: when these are the same
    objects with the same options, so is the spec (layers keep their sizes and names)."""
    return (*model.layers, model.loss_fn, model.dtype, plan_of(optimizer))


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))


def _spec(model, optimizer) -> dict | None:
    from symnn.runtime import custom

    layers: list[tuple] = []
    formulas: dict[str, str] = {}
    builtin = kernels.builtin_names("activations")
    for layer in model.layers:
        if type(layer) is Dense:
            layers.append(("dense", layer.n_in, layer.n_out))
        elif type(layer) is Activation and layer.name in builtin:
            layers.append(("activation", layer.name))
        elif type(layer) is Activation and custom.is_formula(layer.name):
            name = custom.activation_name(layer.name)
            formulas[name] = layer.name
            layers.append(("activation", name))
        else:
            return None
    plan = plan_of(optimizer)
    kernel = None if plan is None else plan.kernel
    loss = model.loss_fn.name
    if loss not in kernels.builtin_names("losses") and custom.is_loss_formula(loss):
        formulas[custom.loss_name(loss)] = loss
        loss = custom.loss_name(loss)
    elif loss not in kernels.builtin_names("losses"):
        return None
    if kernel is None or not layers or layers[0][0] != "dense":
        return None
    spec = {"layers": layers, "loss": loss, "optimizer": kernel, "dtype": model.dtype.name}
    return spec | ({"formulas": formulas} if formulas else {})


def spec_key(spec: dict) -> tuple:
    """A spec as a hashable key."""
    return (tuple(tuple(layer) for layer in spec["layers"]), spec["loss"], spec["optimizer"], spec["dtype"],
            bool(spec.get("validation", False)))


def unsupported(model, optimizer, spec: dict | None = None, params: list | None = None) -> str | None:
    """Why the fused loop cannot run this fit, or None if it can (`spec`: spec_of, and `params`:
    the model's parameters, if known)."""
    if (spec or spec_of(model, optimizer)) is None:
        return ("the fused loop covers Dense layers, built-in and formula activations, the built-in "
                "losses, and symnn's optimizers (not a subclass with a step of its own)")
    dtype = model.dtype
    for p in model.parameters() if params is None else params:
        flags = p.flags
        if p.dtype != dtype or not (flags.c_contiguous and flags.writeable):
            return "a parameter array is not a writeable C-contiguous array of the model's dtype"
    return None


__all__ = ["Generated", "canonical", "optimizer_module", "plan_of", "roles", "spec_key", "spec_of",
           "unsupported"]
