"""Finds the compiled kernels the runtime calls: generated modules only, no SymPy."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

from symnn.errors import UserInputError
from symnn.runtime.cache import CorruptCacheModule, discard_module, route_numba_cache

route_numba_cache()  # before any generated module is imported: Numba caches them in symnn's cache folder


@cache
def generated(path: str) -> ModuleType:
    """The generated module `symnn.generated.<path>`, its cached kernels set to load without
    Numba's per-process set-up (symnn.runtime.warm_start)."""
    from symnn.runtime.warm_start import skip_registry_refresh

    return skip_registry_refresh(importlib.import_module(f"symnn.generated.{path}"))


def builtin_names(kind: str) -> tuple[str, ...]:
    """Names of the built-in kernels of one kind (activations, losses), from the generated index."""
    return tuple(generated(kind).NAMES)


def activation(name: str, parameterised: bool = False):
    """(forward, backward) kernels of a built-in activation, or of a formula in x. `parameterised`:
    a parameterised one's kernels that take its parameters after the arrays
    (`leaky_relu_forward_with(x_in, y_out, slope)`, what layers call), else those at its defaults."""
    if name in builtin_names("activations"):
        mod = generated(f"activations.{name}")
        index = generated("activations")
        suffix = index.WITH if parameterised and name in index.PARAMETERS else ""
        return getattr(mod, f"{name}_forward{suffix}"), getattr(mod, f"{name}_backward{suffix}")
    from symnn.runtime import custom  # a user's formula: derived and compiled on first use

    if not custom.is_formula(name):
        raise UserInputError(f"unknown activation {name!r}; choose one of "
                             f"{', '.join(builtin_names('activations'))}, or write a formula in x")
    return _custom(custom.activation_kernels, name)


def _custom(load: Callable[[str], Any], formula: str):
    """`load(formula)`: a formula's kernels from its cached module, generated again if it was damaged."""
    try:
        return load(formula)
    except CorruptCacheModule:  # it was removed: generated again now
        return load(formula)
    except AttributeError as exc:  # a cached module that imports but lacks its kernels (emptied, cut short)
        module = getattr(exc, "obj", None)
        if not isinstance(module, ModuleType) or not getattr(module, "__name__", "").startswith("symnn_"):
            raise
        discard_module(module, f"it has no {exc.name}")
        return load(formula)


def loss_kernel(name: str, n_outputs: int, index: Callable[[str], Any] | None = None) -> tuple[str, str, bool]:
    """(generated module, kernel name prefix, whether the kernels take (N, C) rows) of a built-in
    loss for a model with n_outputs outputs, from the losses' facts (hinge with several outputs is
    multi_margin, whose kernels live in hinge's module). `index`: where the generated package's
    names are read from (the installed package by default)."""
    facts = (index or generated)("losses")
    if name not in facts.NAMES:
        raise UserInputError(f"unknown loss {name!r}; choose one of {', '.join(facts.NAMES)}, "
                             "or write a formula in z (the output) and t (the target), such as 'log(cosh(z - t))'")
    kernel = facts.WIDE[name] if name in facts.WIDE and n_outputs > 1 else name
    return facts.MODULES[kernel], kernel, facts.LAYOUT[kernel] == "rows"


def loss(name: str, n_outputs: int, parameterised: bool = False):
    """(forward, backward, value_and_grad, rows) kernels of a loss, built-in or a formula in z and t;
    rows: whether they take (N, C) arrays. value_and_grad does forward and backward in one pass,
    returning the mean loss. `parameterised`: a parameterised loss's kernels that take its
    parameters last (`huber_value_and_grad_with(z, t, g, delta)`, what Loss calls), else those at
    its defaults."""
    if name not in builtin_names("losses"):
        from symnn.runtime import custom  # a user's formula: derived and compiled on first use

        if custom.is_loss_formula(name):
            return (*_custom(custom.loss_kernels, name), False)
    module, kernel, rows = loss_kernel(name, n_outputs)
    mod = generated(f"losses.{module}")
    index = generated("losses")
    suffix = index.WITH if parameterised and kernel in index.PARAMETERS else ""
    return (getattr(mod, f"{kernel}_forward{suffix}"), getattr(mod, f"{kernel}_backward{suffix}"),
            getattr(mod, f"{kernel}_value_and_grad{suffix}"), rows)


def dense() -> ModuleType:
    """The dense layer's kernels: dense_forward, dense_grad_input, dense_grad_params."""
    return generated("layers.dense")
