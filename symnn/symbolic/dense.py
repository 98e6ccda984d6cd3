"""The dense layer Y = X W^T + 1 b^T on a batch of rows, and its backpropagation rules.

With G = dL/dY, the loss's first-order change is trace(G^T dY); differentiating trace(G^T Y)
with respect to each matrix gives the three rules the runtime uses.
"""

from __future__ import annotations

import sympy as sp

from symnn.symbolic.derivation import Derivation

N, n_in, n_out = sp.symbols("N n_in n_out", integer=True, positive=True)
X = sp.MatrixSymbol("X", N, n_in)
W = sp.MatrixSymbol("W", n_out, n_in)
b = sp.MatrixSymbol("b", n_out, 1)
ones = sp.MatrixSymbol("1", N, 1)
G = sp.MatrixSymbol("G", N, n_out)  # dL/dY

#: Y, as PyTorch's nn.Linear computes it.
FORWARD = X * W.T + ones * b.T


def derive_dense() -> Derivation:
    """dL/dX, dL/dW and dL/db from d trace(G^T Y), by `sympy.diff`."""
    linearised = sp.Trace(G.T * FORWARD)
    gradients = {name: sp.diff(linearised, m) for name, m in (("X", X), ("W", W), ("b", b))}
    steps: list[tuple[str, object]] = [
        ("forward (batch of N rows; W is n_out x n_in, as torch.nn.Linear)", sp.Eq(sp.MatrixSymbol("Y", N, n_out), FORWARD)),
        ("with G = dL/dY, the loss changes by trace(G^T dY); differentiate", sp.Trace(G.T * FORWARD)),
        ("dL/dX = dL/dY . W", gradients["X"]),
        ("dL/dW = (dL/dY)^T X", gradients["W"]),
        ("dL/db = column sums of dL/dY", gradients["b"]),
    ]
    return Derivation("dense", "layer", "fully connected layer F(x, W) = W x + b, on rows",
                      FORWARD, gradients, None, steps)
