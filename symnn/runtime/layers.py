"""Layers: a dense layer and an elementwise activation, each calling its generated kernels."""

from __future__ import annotations

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime import kernels
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
    """An elementwise activation: a registered name, or a formula in x such as 'x*tanh(x)'."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise UserInputError(f"Activation({name!r}): give a name such as 'relu', or a formula in x")
        self.name = name.strip()
        self._forward, self._backward = kernels.activation(self.name)

    def parameters(self) -> list[np.ndarray]:
        return []

    def build(self, rng: np.random.Generator, dtype: np.dtype, next_activation: str | None) -> None:
        pass

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        self._forward(x.reshape(-1), out.reshape(-1))

    def backward(self, x: np.ndarray, y: np.ndarray, grad_y: np.ndarray, grad_x: np.ndarray | None,
                 grads: list[np.ndarray]) -> None:
        if grad_x is not None:
            self._backward(x.reshape(-1), y.reshape(-1), grad_y.reshape(-1), grad_x.reshape(-1))

    def output_width(self, n_in: int) -> int:
        return n_in

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"
