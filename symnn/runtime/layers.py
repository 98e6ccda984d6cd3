"""Layers: a dense layer and an elementwise activation, each calling its generated kernels."""

from __future__ import annotations

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime import kernels
from symnn.runtime import parameters as params
from symnn.runtime.init import INITIALIZERS, init_weights


class Dense:
    """Y = X W^T + b on rows (torch.nn.Linear); W is (n_out, n_in), b is (n_out,)."""

    def __init__(self, n_in: int, n_out: int, init: str = "auto") -> None:
        from symnn.runtime.validation import whole_number

        try:
            n_in, n_out = whole_number("n_in", n_in, 1), whole_number("n_out", n_out, 1)
        except UserInputError:
            raise UserInputError(f"Dense({n_in!r}, {n_out!r}): sizes must be whole numbers >= 1") from None
        if init not in INITIALIZERS:
            raise UserInputError(f"unknown init {init!r}; choose one of {', '.join(INITIALIZERS)}")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        self.W: np.ndarray | None = None
        self.b: np.ndarray | None = None

    def build(self, rng: np.random.Generator, dtype: np.dtype, next_activation: str | None) -> None:
        """Allocate and initialise the parameters (called by Sequential)."""
        self.W, self.b = init_weights(self.init, self.n_in, self.n_out, rng, dtype, next_activation)

    @property
    def _k(self):
        """The generated kernels (looked up, not stored: a layer stays copyable and picklable)."""
        return kernels.dense()

    def parameters(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        self._k.dense_forward(x, self.W, self.b, out)

    def backward(self, x: np.ndarray, y: np.ndarray, grad_y: np.ndarray, grad_x: np.ndarray | None,
                 grads: list[np.ndarray]) -> None:
        """Fill grads [dW, db] and, unless grad_x is None (first layer), dL/dX."""
        self._k.dense_grad_params(x, grad_y, grads[0], grads[1])
        if grad_x is not None:
            self._k.dense_grad_input(self.W, grad_y, grad_x)

    def output_width(self, n_in: int) -> int:
        if n_in != self.n_in:
            raise UserInputError(f"Dense({self.n_in}, {self.n_out}) receives {n_in} inputs; "
                                 f"make its first size {n_in}")
        return self.n_out

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, init={self.init!r})"


class Activation:
    """An elementwise activation: a registered name, or a formula in x such as 'x*tanh(x)'.

    A parameterised one takes its parameters by keyword, torch's defaults otherwise
    (`Activation("leaky_relu", slope=0.2)`, also spelled "leaky_relu:slope=0.2"), and GELU its
    approximation (`Activation("gelu", approximate="tanh")`, the kernel gelu_tanh). Every value of a
    parameter runs the same compiled kernel: the value is its argument.
    """

    def __init__(self, name: str, approximate: str | None = None, **parameters: float) -> None:
        if not isinstance(name, str):
            raise UserInputError(f"Activation({name!r}): give a name such as 'relu', or a formula in x")
        name, spelled = params.split(name) if ":" in name else (name.strip(), {})
        if approximate is not None:
            name = _approximated(name, approximate)
        self.name = name
        self.values = params.resolve("activations", name, {**spelled, **parameters}) \
            if name in kernels.builtin_names("activations") else _no_parameters(name, {**spelled, **parameters})
        #: The parameters that differ from torch's defaults (repr, model files; the fused loop runs none).
        self.options = params.options("activations", name, self.values)
        self._forward, self._backward = kernels.activation(self.name, parameterised=True)

    def parameters(self) -> list[np.ndarray]:
        return []

    def build(self, rng: np.random.Generator, dtype: np.dtype, next_activation: str | None) -> None:
        pass

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        self._forward(x.reshape(-1), out.reshape(-1), *self.values)

    def backward(self, x: np.ndarray, y: np.ndarray, grad_y: np.ndarray, grad_x: np.ndarray | None,
                 grads: list[np.ndarray]) -> None:
        if grad_x is not None:
            self._backward(x.reshape(-1), y.reshape(-1), grad_y.reshape(-1), grad_x.reshape(-1), *self.values)

    def output_width(self, n_in: int) -> int:
        return n_in

    def spelling(self) -> str:
        """The name as the CLI and model files write it: `leaky_relu:slope=0.2`, `gelu_tanh`."""
        return params.spelling(self.name, self.options)

    def __repr__(self) -> str:
        base, how = _APPROXIMATED_AS.get(self.name, (self.name, None))
        extra = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"Activation({base!r}{extra}" + (f", approximate={how!r})" if how else ")")


def _approximations() -> dict[str, str]:
    """"gelu:tanh" -> "gelu_tanh": (name, approximate) -> kernel, from the generated index."""
    return kernels.generated("activations").APPROXIMATE


#: kernel -> (name, approximate) for the kernels that are an approximation ("gelu_tanh" -> gelu, tanh).
_APPROXIMATED_AS = {kernel: tuple(key.split(":")) for key, kernel in _approximations().items()
                    if not key.endswith(":none")}


def _approximated(name: str, how: object) -> str:
    """The kernel of `name` computed with approximation `how` (torch's F.gelu approximate=)."""
    table = _approximations()
    choices = sorted(key.split(":")[1] for key in table if key.startswith(f"{name}:"))
    if not choices:
        raise UserInputError(f"{name} has no approximate= option; only "
                             f"{', '.join(sorted({k.split(':')[0] for k in table}))} takes one")
    if f"{name}:{how}" not in table:
        raise UserInputError(f"{name} approximate={how!r} is not one of {', '.join(map(repr, choices))}")
    return table[f"{name}:{how}"]


def _no_parameters(name: str, given: dict) -> tuple[float, ...]:
    """A formula takes no parameters (its numbers are written in it)."""
    if given:
        raise UserInputError(f"{name!r} takes no parameters ({', '.join(given)}); write the numbers into "
                             "the formula, or use a built-in activation that has them")
    return ()
