"""Every registered definition by name: what `symnn derive`, `symnn generate` and `--list` read."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from symnn.errors import UserInputError
from symnn.symbolic import losses
from symnn.symbolic.activations import ACTIVATIONS, x
from symnn.symbolic.activations import PARAMETERS as ACTIVATION_PARAMETERS
from symnn.symbolic.dense import derive_dense
from symnn.symbolic.derivation import Derivation, derive_elementwise
from symnn.symbolic.optimizers import OPTIMIZERS, derive_optimizer
from symnn.symbolic.surfaces import SURFACES, derive_surface


def _activation(name: str) -> Callable[[], Derivation]:
    return lambda: derive_elementwise(name, ACTIVATIONS[name][0], x, ACTIVATIONS[name][1],
                                      parameters=ACTIVATION_PARAMETERS.get(name, ()))


def _loss(name: str) -> Callable[[], Derivation]:
    if name == "cross_entropy":
        return losses.derive_cross_entropy
    return lambda: losses.derive_elementwise_loss(losses.ELEMENTWISE_LOSSES[name])


#: kind -> name -> a function building its Derivation.
DEFINITIONS: dict[str, dict[str, Callable[[], Derivation]]] = {
    "activation": {name: _activation(name) for name in ACTIVATIONS},
    "loss": {**{name: _loss(name) for name in losses.LOSS_NAMES},
             "multi_margin": losses.derive_multi_margin},
    "layer": {"dense": derive_dense},
    "optimizer": {name: (lambda name=name: derive_optimizer(name)) for name in OPTIMIZERS},
    "surface": {name: (lambda name=name: derive_surface(name)) for name in SURFACES},
}


#: name -> its parameters (activations' and losses'), declared beside their definitions.
PARAMETERS = {**{name: ps for name, ps in ACTIVATION_PARAMETERS.items()},
              **{name: loss.parameters for name, loss in losses.ELEMENTWISE_LOSSES.items() if loss.parameters}}


def listed(name: str) -> str:
    """A name as `derive --list` shows it: with its parameters' defaults, `leaky_relu(slope=0.01)`."""
    ps = PARAMETERS.get(name, ())
    return f"{name}({', '.join(f'{p.name}={p.default:g}' for p in ps)})" if ps else name


def names(kind: str | None = None) -> list[str]:
    """Registered names, in registry order, of one kind or of all."""
    kinds = [kind] if kind else list(DEFINITIONS)
    return [n for k in kinds for n in DEFINITIONS[k]]


def kind_of(name: str) -> str:
    for kind, table in DEFINITIONS.items():
        if name in table:
            return kind
    raise UserInputError(
        f"unknown name {name!r}; run 'symnn derive --list' to see the names ({', '.join(names())})")


@cache
def derivation(name: str) -> Derivation:
    """The Derivation of a registered name."""
    return DEFINITIONS[kind_of(name)][name]()
