"""A whole network's chain rule, printed: `symnn derive --model 'dense(2,3) tanh dense(3,1) mse'`.

Every local factor comes from a registered derivation (the activation's dy/dx, the loss's dL/dz, the
dense layer's rules, all from `sympy.diff`); this module names the intermediate values x_0, x_1, ...
and multiplies the factors in the order the chain rule gives them.
"""

from __future__ import annotations

import difflib
import re

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence_traditional
from sympy.printing.pretty.pretty_symbology import pretty_symbol
from sympy.printing.pretty.stringpict import prettyForm

from symnn.errors import UserInputError
from symnn.symbolic import dense, losses, registry
from symnn.symbolic.activations import x as _x
from symnn.symbolic.derivation import Derivation
from symnn.symbolic.derivation import y as _y

EXAMPLE = "dense(2,3) tanh dense(3,1) mse"

#: A name with an optional parenthesised argument list, or anything else that is not whitespace.
_TOKEN = re.compile(r"(?P<name>[^\s()]+)(?:\s*\((?P<args>[^()]*)\))?|(?P<stray>\S+)")
_SIZES = re.compile(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*")

_DENSE_HELP = "dense(n_in,n_out)"


def _activations() -> list[str]:
    return registry.names("activation")


def _losses() -> list[str]:
    """The losses a model can end with: multi_margin is what hinge becomes with several outputs."""
    return [name for name in registry.names("loss") if name in losses.LOSS_NAMES]


def _show(layer: tuple) -> str:
    return f"dense({layer[1]},{layer[2]})" if layer[0] == "dense" else layer[1]


def _parse_token(match: re.Match) -> tuple:
    text = re.sub(r"\s+", "", match.group(0))
    name, args = match.group("name"), match.group("args")
    if name is None:
        raise UserInputError(f"unexpected {text!r} in model spec; write {_DENSE_HELP} with its "
                             f"parentheses closed, as in '{EXAMPLE}'")
    rest = match.string[match.end():].lstrip()
    if args is None and rest.startswith("("):
        fragment = name + re.match(r"\S*", rest)[0]
        fix = f"{_DENSE_HELP}, e.g. dense(2,3)" if name == "dense" else f"{name} without parentheses"
        raise UserInputError(f"{fragment!r} in model spec: unbalanced parentheses; write {fix}")
    if name == "dense":
        if args is None:
            raise UserInputError(f"'dense' in model spec needs its sizes; write {_DENSE_HELP}, "
                                 "e.g. dense(2,3)")
        sizes = _SIZES.fullmatch(args)
        if sizes is None or 0 in (int(sizes[1]), int(sizes[2])):
            raise UserInputError(f"{text!r} in model spec: a dense layer takes two positive integers; "
                                 f"write {_DENSE_HELP}, e.g. dense(2,3)")
        return ("dense", int(sizes[1]), int(sizes[2]))
    if name == "multi_margin":
        raise UserInputError("'multi_margin' in model spec: end with 'hinge' instead, which is "
                             "multi_margin when the network has more than one output")
    kind = "activation" if name in _activations() else "loss" if name in _losses() else None
    if kind is None:
        close = difflib.get_close_matches(name.lower(), ["dense", *_activations(), *_losses()], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserInputError(
            f"unknown layer {text!r} in model spec{hint}; use {_DENSE_HELP}, an activation "
            f"({', '.join(_activations())}) or end with a loss ({', '.join(_losses())})")
    if args is not None:
        raise UserInputError(f"{text!r} in model spec: the {kind} {name!r} takes no arguments; write {name}")
    return (kind, name)


def parse_model_spec(spec: str) -> list[tuple]:
    """'dense(2,3) tanh dense(3,1) mse' -> [("dense", 2, 3), ("activation", "tanh"), ..., ("loss", "mse")].

    Tokens are matched by a regular expression and looked up by name; nothing is evaluated.
    Raises UserInputError, naming the offending token and the fix, for any problem.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UserInputError(f"model spec is empty; write layers and a loss, e.g. '{EXAMPLE}'")
    layers = [_parse_token(m) for m in _TOKEN.finditer(spec)]
    if layers[0][0] == "activation":
        raise UserInputError(f"model spec cannot start with the activation {layers[0][1]!r}, which needs "
                             f"a layer's output; start with {_DENSE_HELP}, as in '{EXAMPLE}'")
    for layer in layers[:-1]:
        if layer[0] == "loss":
            raise UserInputError(f"the loss {layer[1]!r} is in the middle of the model spec; a loss ends "
                                 "the network: move it to the end (one loss per model)")
    if layers[-1][0] != "loss":
        raise UserInputError(f"model spec must end with a loss ({', '.join(_losses())}), not "
                             f"{_show(layers[-1])!r}; append one, e.g. '{' '.join(map(_show, layers))} mse'")
    if len(layers) == 1:
        raise UserInputError(f"model spec has no layer before the loss {layers[0][1]!r}; start with "
                             f"{_DENSE_HELP}, e.g. 'dense(2,1) {layers[0][1]}'")
    width = None
    for layer in layers:
        if layer[0] == "dense":
            if width is not None and layer[1] != width:
                raise UserInputError(f"model spec: {_show(layer)} follows a layer with {width} outputs; "
                                     f"write dense({width},{layer[2]})")
            width = layer[2]
    return layers


class Partial(sp.Symbol):
    """The symbol named 'dA/dB', printed as ∂A/∂B (Unicode) and as a fraction of partials (LaTeX)."""

    def _parts(self) -> tuple[str, str]:
        top, bottom = self.name[1:].split("/d", 1)
        return top, bottom

    def _latex(self, printer) -> str:
        top, bottom = (printer._print(sp.Symbol(s)) for s in self._parts())
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    def _pretty(self, printer) -> prettyForm:
        if not printer._use_unicode:
            return prettyForm(self.name)
        top, bottom = (pretty_symbol(s) for s in self._parts())
        return prettyForm(f"∂{top}/∂{bottom}")


class Chain(sp.Expr):
    """Factors multiplied in the order given and printed as written (a Mul would reorder them)."""

    def _factors(self, printer, paren) -> list:
        return [paren(printer._print(a)) if precedence_traditional(a) < PRECEDENCE["Mul"]
                else printer._print(a) for a in self.args]

    def _sympystr(self, printer) -> str:
        return " * ".join(self._factors(printer, lambda s: f"({s})"))

    def _latex(self, printer) -> str:
        return r" \cdot ".join(self._factors(printer, lambda s: rf"\left({s}\right)"))

    def _pretty(self, printer) -> prettyForm:
        parts = self._factors(printer, lambda p: prettyForm(*p.parens()))
        dot = " ⋅ " if printer._use_unicode else " * "
        out = parts[0]
        for part in parts[1:]:
            out = prettyForm(*out.right(dot, part))
        return out


def _after(product: sp.MatrixExpr, lead: sp.MatrixExpr) -> sp.MatrixExpr:
    """The factors right of `lead` in a registry rule such as dense's dL/dX = G W (so: W)."""
    if not isinstance(product, sp.MatMul) or product.args[0] != lead:
        raise RuntimeError(f"dense rule {product} does not start with {lead}")
    rest = product.args[1:]
    return rest[0] if len(rest) == 1 else sp.MatMul(*rest)


def _elementwise(grad: sp.Expr, forward: sp.Expr, inp: sp.MatrixExpr, out: sp.MatrixExpr) -> sp.MatrixExpr:
    """dy/dx applied to every element: of the output where it is written in y, else of the input."""
    if _y not in grad.free_symbols:
        return inp.applyfunc(sp.Lambda(_x, grad))
    if _x not in grad.free_symbols:
        return out.applyfunc(sp.Lambda(_y, grad))
    return inp.applyfunc(sp.Lambda(_x, sp.simplify(sp.piecewise_fold(grad.xreplace({_y: forward})))))


def derive_model(spec: str) -> Derivation:
    """The chain rule for every dense layer's weights: symbolic, with the derived factors, in batch form."""
    layers = parse_model_spec(spec)
    body, (_, loss_name) = layers[:-1], layers[-1]
    depth = len(body)  # x_0 is the input, x_depth the network's output
    sizes = [body[0][1]] + [0] * depth
    dense_no: dict[int, int] = {}  # position k of a dense layer -> its number i (W_i, b_i)
    for k, layer in enumerate(body, start=1):
        sizes[k] = layer[2] if layer[0] == "dense" else sizes[k - 1]
        if layer[0] == "dense":
            dense_no[k] = len(dense_no) + 1

    N, m = dense.N, sizes[depth]
    xs = [sp.Symbol(f"x_{k}", real=True) for k in range(depth + 1)]  # elementwise
    xv = [sp.MatrixSymbol(f"x_{k}", sizes[k], 1) for k in range(depth + 1)]  # column vectors
    Xs = [sp.MatrixSymbol(f"X_{k}", N, sizes[k]) for k in range(depth + 1)]  # batch: rows are samples
    Gs = [sp.MatrixSymbol(f"G_{k}", N, sizes[k]) for k in range(depth + 1)]
    Ws = {k: sp.MatrixSymbol(f"W_{i}", sizes[k], sizes[k - 1]) for k, i in dense_no.items()}
    bs = {k: sp.MatrixSymbol(f"b_{i}", sizes[k], 1) for k, i in dense_no.items()}
    dense_rules = registry.derivation("dense").gradients
    loss = registry.derivation(loss_name)
    notes: list[str] = []

    # Forward: one sample as column vectors, then the batch as the runtime computes it.
    steps: list[tuple[str, object]] = [("one sample, as column vectors (x_0 the input, t the target)", "")]
    batch_forward: list[tuple[str, object]] = [
        ("a batch, as the runtime computes it: the N samples are the rows of X_0; G_k = dL/dX_k", "")]
    composed: sp.MatrixExpr = Xs[0]
    for k, layer in enumerate(body, start=1):
        if layer[0] == "dense":
            i = dense_no[k]
            steps.append((f"x_{k}: layer {k}, {_show(layer)}", sp.Eq(xv[k], Ws[k] * xv[k - 1] + bs[k])))
            rule = {dense.W: Ws[k], dense.b: bs[k]}
            batch_forward.append((f"X_{k}: layer {k}, dense, on rows as torch.nn.Linear",
                                  sp.Eq(Xs[k], dense.FORWARD.xreplace({dense.X: Xs[k - 1], **rule}))))
            composed = dense.FORWARD.xreplace({dense.X: composed, **rule})
        else:
            act = registry.derivation(layer[1])
            steps.append((f"x_{k}: layer {k}, {layer[1]}, elementwise",
                          sp.Eq(xs[k], act.forward.xreplace({_x: xs[k - 1]}))))
            batch_forward.append((f"X_{k}: layer {k}, {layer[1]} on every element",
                                  sp.Eq(Xs[k], Xs[k - 1].applyfunc(sp.Lambda(_x, act.forward)))))
            composed = composed.applyfunc(sp.Lambda(_x, act.forward))
            notes.extend(f"{layer[1]}: {note}" for note in act.notes)
    if loss_name in losses.ELEMENTWISE_LOSSES:
        per_element = losses.ELEMENTWISE_LOSSES[loss_name].forward.xreplace({losses.z: xs[depth]})
        steps.append((f"L = {loss_name}(x_{depth}, t): the mean over the n output elements of",
                      sp.Eq(sp.Symbol("l"), per_element)))
    else:
        steps.append((f"L = {loss_name}(x_{depth}, t) (symnn derive {loss_name})",
                      sp.Eq(sp.Symbol("L"), sp.Function(loss_name)(xs[depth], losses.t))))

    # The local factors, each from its registered derivation.
    dloss = loss.gradients["z"]
    dloss_x = dloss.xreplace({losses.z: xs[depth]})
    top = Partial(f"dL/dx_{depth}")
    factors: dict[int, sp.Basic] = {}  # k -> dx_k/dx_{k-1}
    weight_factors: dict[int, sp.Basic] = {}  # k -> dx_k/dW_i
    steps.append(("the local factors, each from its definition's derivation", ""))
    steps.append((f"dL/dx_{depth}: {loss_name}'s dL/dz at z = x_{depth}, for each output element",
                  sp.Eq(top, dloss_x)))
    for k in range(depth, 0, -1):
        if k in dense_no:
            i = dense_no[k]
            if k > 1:
                factors[k] = _after(dense_rules["X"], dense.G).xreplace({dense.W: Ws[k]})
                steps.append((f"dx_{k}/dx_{k - 1}: dense layer {i}, from dense's dL/dX = G W",
                              sp.Eq(Partial(f"dx_{k}/dx_{k - 1}"), factors[k], evaluate=False)))
            weight_factors[k] = _after(dense_rules["W"], dense.G.T).xreplace({dense.X: xv[k - 1].T})
            steps.append((f"dx_{k}/dW_{i}: dense layer {i}, from dense's dL/dW = G.T X, a row of X "
                          f"being x_{k - 1}.T", sp.Eq(Partial(f"dx_{k}/dW_{i}"), weight_factors[k],
                                                      evaluate=False)))
        else:
            name = body[k - 1][1]
            grad = registry.derivation(name).gradients["x"].xreplace({_x: xs[k - 1], _y: xs[k]})
            factors[k] = sp.Function("diag")(grad)
            steps.append((f"dx_{k}/dx_{k - 1}: {name}'s dy/dx at x = x_{k - 1}, y = x_{k}; elementwise, "
                          "so a diagonal matrix", sp.Eq(Partial(f"dx_{k}/dx_{k - 1}"), factors[k])))

    # dL/dW_i: the chain written out, then with every factor substituted.
    steps.append(("the chain rule for each dense layer's weights, from the loss back", ""))
    for k in sorted(dense_no, reverse=True):
        i = dense_no[k]
        lhs = Partial(f"dL/dW_{i}")
        names = [top, *(Partial(f"dx_{j}/dx_{j - 1}") for j in range(depth, k, -1)),
                 Partial(f"dx_{k}/dW_{i}")]
        derived = [dloss_x, *(factors[j] for j in range(depth, k, -1)), weight_factors[k]]
        steps.append((f"dL/dW_{i} by the chain rule", sp.Eq(lhs, Chain(*names), evaluate=False)))
        steps.append((f"dL/dW_{i} with the derived factors", sp.Eq(lhs, Chain(*derived), evaluate=False)))
    notes.append("the last factor, dx_k/dW_i = x_(k-1).T, makes an outer product: dL/dW_i = "
                 "(dL/dx_k).T x_(k-1).T, shaped like W_i (n_out x n_in); dL/db_i is the same chain "
                 "without it, since dx_k/db_i = I")

    # Batch form: G_k = dL/dX_k, from the output back, exactly the runtime's rules.
    steps.extend(batch_forward)
    i_, j_ = sp.symbols("i j", integer=True, nonnegative=True)
    per_row = loss_name == "cross_entropy"
    at = {losses.z: Xs[depth][i_, j_], losses.t: sp.MatrixSymbol("T", N, m)[i_, j_],
          losses.lse: sp.MatrixSymbol("lse", N, 1)[i_, 0], losses.n: N if per_row else N * m}
    steps.append((f"G_{depth} = dL/dX_{depth}: {loss_name}'s dL/dz at every element (i, j), with n = "
                  f"{'N rows' if per_row else f'N*{m} elements'} and the targets T",
                  sp.Eq(Gs[depth][i_, j_], dloss.xreplace(at))))
    expanded: dict[int, sp.MatrixExpr] = {depth: Gs[depth]}  # G_k in terms of G_depth
    gradients: dict[str, sp.MatrixExpr] = {}
    for k in range(depth, 0, -1):
        if k in dense_no:
            i = dense_no[k]
            for p, rule, operand, what in (("W", dense_rules["W"], {dense.X: Xs[k - 1]}, "G.T X"),
                                           ("b", dense_rules["b"], {}, "G.T 1, the column sums of G")):
                steps.append((f"dL/d{p}_{i}: dense's dL/d{p} = {what}, with G = G_{k}",
                              sp.Eq(Partial(f"dL/d{p}_{i}"), rule.xreplace({dense.G: Gs[k], **operand}),
                                    evaluate=False)))
                gradients[f"{p}{i}"] = rule.xreplace({dense.G: expanded[k], **operand})
            if k > 1:
                back = {dense.W: Ws[k]}
                steps.append((f"G_{k - 1} = dL/dX_{k - 1}: back through dense layer {i}, dense's dL/dX = G W",
                              sp.Eq(Gs[k - 1], dense_rules["X"].xreplace({dense.G: Gs[k], **back}))))
                expanded[k - 1] = dense_rules["X"].xreplace({dense.G: expanded[k], **back})
        else:
            act = registry.derivation(body[k - 1][1])
            grad = act.gradients["x"]
            local = _elementwise(grad, act.forward, Xs[k - 1], Xs[k])
            steps.append((f"G_{k - 1} = dL/dX_{k - 1}: back through {act.name}, G_{k} times "
                          f"{act.name}'(X_{k - 1}) elementwise", sp.Eq(
                              Gs[k - 1], sp.HadamardProduct(Gs[k], local))))
            expanded[k - 1] = sp.HadamardProduct(expanded[k], local)
    gradients = {f"{p}{i}": gradients[f"{p}{i}"] for i in range(1, len(dense_no) + 1) for p in "Wb"}

    if per_row:
        notes.append("cross_entropy: lse_i is the log-sum-exp of row i of the logits, and T holds the "
                     "targets as probabilities (one-hot for class indices)")
    if loss_name == "hinge" and m > 1:
        notes.append("hinge with more than one output is multi_margin: symnn derive multi_margin")
    own = dict.fromkeys([*(layer[1] for layer in body if layer[0] != "dense"), loss_name, "dense"])
    notes.append(f"n is the number of elements the loss averages over (N*{m} for a batch of N samples"
                 f"{', N rows for cross_entropy' if per_row else ''}); 'symnn derive {' '.join(own)}' "
                 "shows each factor's own derivation")
    return Derivation(
        " ".join(map(_show, layers)), "model",
        f"L = {loss_name}(x_{depth}, t), x_0 the input; each layer's weight gradient as the product of "
        "the local factors", composed, gradients, None, steps, notes)
