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

#: Loss name -> (its generated module, its value-and-gradient kernel, whether it takes rows).
LOSSES: dict[str, tuple[str, str, bool]] = {
    **{name: (name, f"{name}_value_and_grad", False)
       for name in ("mse", "mae", "huber", "binary_cross_entropy", "hinge", "poisson_nll")},
    "multi_margin": ("hinge", "multi_margin_value_and_grad", True),
    "cross_entropy": ("cross_entropy", "cross_entropy_value_and_grad", True),
}


def optimizer_module(kernel: str, generated: Generated = kernels.generated) -> str:
    """The generated optimizer module holding a kernel ("adam_step" -> "adam")."""
    for module in generated("optimizers").NAMES:
        if kernel.startswith(f"{module}_") and kernel in generated(f"optimizers.{module}").KERNELS:
            return module
    raise ValueError(f"the fused loop has no optimizer kernel {kernel!r}")


def roles(kernel: str, generated: Generated = kernels.generated) -> dict[str, tuple[str, ...]]:
    """The optimizer kernel's arguments after param and grad, by where the loop takes them from.

    state: the rows of S; hyper: the entries of `hyper` (fixed for a fit); per_step: the columns of
    `scalars`, one row per step (the module's STEP_SCALARS, and SGD's `first`); lr: from `lrs`.
    """
    module = generated(f"optimizers.{optimizer_module(kernel, generated)}")
    state, scalars = module.KERNELS[kernel]
    per_step = (*module.STEP_SCALARS, "first")
    return {"state": tuple(state),
            "hyper": tuple(s for s in scalars if s != "lr" and s not in per_step),
            "per_step": tuple(s for s in scalars if s in per_step)}


def optimizer_scalars(kernel: str, generated: Generated = kernels.generated) -> tuple[str, ...]:
    """The optimizer kernel's scalar arguments, in call order."""
    return tuple(generated(f"optimizers.{optimizer_module(kernel, generated)}").KERNELS[kernel][1])


def canonical(spec: dict, generated: Generated = kernels.generated) -> dict:
    """What the loop's text depends on: the activations used (sorted), loss, optimizer kernel.

    `spec`: {"layers": [("dense", n_in, n_out) | ("activation", name), ...], "loss": name,
    "optimizer": kernel name ("adam_step")}; other keys (dtype) are ignored. Hinge with several
    outputs is `multi_margin`.
    """
    layers = list(spec["layers"])
    if not layers or layers[0][0] != "dense":
        raise ValueError("a fused network starts with a dense layer")
    known = generated("activations").NAMES
    for layer in layers:
        if not (layer[0] == "dense" or layer[0] == "activation" and layer[1] in known):
            raise ValueError(f"the fused loop has no layer {layer!r}")
    n_out = [int(layer[2]) for layer in layers if layer[0] == "dense"][-1]
    loss = "multi_margin" if spec["loss"] == "hinge" and n_out > 1 else spec["loss"]
    if loss not in LOSSES:
        raise ValueError(f"the fused loop has no loss {loss!r}")
    optimizer_module(spec["optimizer"], generated)
    acts = sorted({str(layer[1]) for layer in layers if layer[0] == "activation"})
    return {"activations": tuple(acts), "loss": loss, "optimizer": spec["optimizer"]}


def _optimizer_kernel(optimizer: object) -> str | None:
    """The optimizer's kernel name ("adam_step"), if it is one of the built-in classes."""
    from symnn.runtime import optimizers as opt

    # One of symnn's own optimizer classes (a user's subclass may change what a step does), for a
    # generated optimizer module: a new optimizer is fused once its module is generated.
    if type(optimizer).__module__ != opt.__name__ or getattr(optimizer, "module", "") not in \
            kernels.builtin_names("optimizers"):
        return None
    variant = optimizer._variant()
    return f"{optimizer.module}_{variant}_step" if variant else f"{optimizer.module}_step"


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
    return (*model.layers, model.loss_fn, model.dtype, type(optimizer), optimizer._variant())


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))


def _spec(model, optimizer) -> dict | None:
    layers: list[tuple] = []
    builtin = kernels.builtin_names("activations")
    for layer in model.layers:
        if type(layer) is Dense:
            layers.append(("dense", layer.n_in, layer.n_out))
        elif type(layer) is Activation and layer.name in builtin:
            layers.append(("activation", layer.name))
        else:
            return None
    kernel = _optimizer_kernel(optimizer)
    if kernel is None or model.loss_fn.name not in kernels.builtin_names("losses") or not layers or layers[0][0] != "dense":
        return None
    return {"layers": layers, "loss": model.loss_fn.name, "optimizer": kernel, "dtype": model.dtype.name}


def spec_key(spec: dict) -> tuple:
    """A spec as a hashable key."""
    return (tuple(tuple(layer) for layer in spec["layers"]), spec["loss"], spec["optimizer"], spec["dtype"])


def unsupported(model, optimizer, validation: object = None, callback: object = None,
                spec: dict | None = None, params: list | None = None) -> str | None:
    """Why the fused loop cannot run this fit, or None if it can (`spec`: spec_of, and `params`:
    the model's parameters, if known)."""
    if validation is not None or callback is not None:
        return "validation data and callbacks need Python between epochs"
    if (spec or spec_of(model, optimizer)) is None:
        return ("the fused loop covers Dense layers, built-in activations and losses, and the "
                "built-in optimizers")
    dtype = model.dtype
    for p in model.parameters() if params is None else params:
        flags = p.flags
        if p.dtype != dtype or not (flags.c_contiguous and flags.writeable):
            return "a parameter array is not a writeable C-contiguous array of the model's dtype"
    return None


__all__ = ["LOSSES", "Generated", "canonical", "optimizer_module", "optimizer_scalars", "roles", "spec_key", "spec_of",
           "unsupported"]
