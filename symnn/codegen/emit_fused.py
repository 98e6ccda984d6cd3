"""A whole training loop as one self-contained Numba module: batches, forward, loss, backward, update.

`fused_module(spec)` returns the source of a module whose function

    train_epochs(X, Y, perms, lrs, scalars, hyper, batch_size, losses, prog, P, D, S, AV, GV)

runs `lrs.shape[0]` epochs in place. Epoch e takes the rows in the order `perms[e % perms.shape[0]]`,
in batches of `batch_size` (the last one partial); each batch runs forward, the loss and its
gradient (in one pass, by the loss's `_value_and_grad` kernel), backward through every layer and
the optimizer's update, and its mean loss goes to `losses[e, b]`. The network is data, not code:
`prog` has one row per layer (`PROG_COLUMNS`), the parameters are one flat array `P` (each W then
b, in `Sequential.parameters()` order), their
gradients `D`, the optimizer's state the rows of `S`; the activations and their gradients are
blocks of the flat workspaces `AV` and `GV` (batch_size rows per layer input; the batch's targets
in a last block of `AV`). Matrix products are BLAS calls writing into views of these arrays, so a
batch allocates nothing: `np.dot(..., out)` (Numba's, into SciPy's OpenBLAS) as in the per-layer
kernels, or, with `direct_gemm`, `gemm` straight into NumPy's bundled OpenBLAS (faster on these
small products; see symnn.runtime.blas), which the `np.dot` lines of the copied kernels are
rewritten to. The views are made by two small intrinsics, `view1` and `view2` (a block of a flat
array, as 1-D or 2-D), not by slicing and `.reshape`, and `gemm` is an intrinsic too: what the loop
asks Numba to type, lower and optimize is most of the first fit's time (see _VIEWS). The text
depends only on the activations used, the loss, the optimizer kernel (`canonical`) and that choice:
one compiled loop per dtype serves every depth and width.

The per-element work is the per-layer kernels themselves: their functions are copied from the
modules of `generated/` (printed there from the symbolic definitions by `symnn generate`, which
checks they are current) into the module, and their bodies are inlined into the loop as text (their
names prefixed; see `_inline`), so Numba compiles one function. So both training paths run the same
code and give the same numbers (up to the last bit where two BLAS builds round a product
differently), and making a fused module needs no SymPy. Changes: the loss value is summed in the
arrays' dtype, not in float64 (a float32 loop has no float64 arithmetic); the products may call
BLAS directly (above); and the compiled code calls nothing from symnn (the direct variant imports
only the function that binds the BLAS symbols), so Numba's cache of it cannot go stale.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from types import ModuleType, SimpleNamespace

#: Loss name -> (its generated module, its value-and-gradient kernel, whether it takes rows).
LOSSES: dict[str, tuple[str, str, bool]] = {
    **{name: (name, f"{name}_value_and_grad", False)
       for name in ("mse", "mae", "huber", "binary_cross_entropy", "hinge")},
    "multi_margin": ("hinge", "multi_margin_value_and_grad", True),
    "cross_entropy": ("cross_entropy", "cross_entropy_value_and_grad", True),
}

#: From this many parameters on, the loop updates each dense layer's parameters right after their
#: gradients are made, while those are in cache, instead of all at once after the backward pass: the
#: same numbers (the update is elementwise), and on W3 (670k parameters) 6% less time per epoch,
#: where on W1 (337) three calls cost 5% more than one (measured: benchmarks/README.md).
UPDATE_PER_LAYER_FROM = 1 << 16

#: The columns of `prog`, one row per layer; op 0 is dense, op k > 0 the k-th of ACTIVATIONS.
PROG_COLUMNS = ("op", "n_in", "n_out", "in_offset", "out_offset", "w_offset", "b_offset")



#: While assembling from rendered text (`from_texts`): relative path -> text of every generated module.
_texts: dict[str, str] | None = None


@contextmanager
def from_texts(files: dict[str, str]) -> Iterator[None]:
    """Assemble from these module texts (`symnn generate`'s rendering) instead of the installed
    `symnn.generated`, so the golden fused modules follow the kernels written beside them."""
    global _texts
    previous, _texts = _texts, files
    try:
        yield
    finally:
        _texts = previous


def _path(module: str) -> str:
    rel = module.replace(".", "/")
    return f"{rel}.py" if _texts is not None and f"{rel}.py" in _texts else f"{rel}/__init__.py"


def generated(module: str) -> ModuleType | SimpleNamespace:
    """A generated module, e.g. "activations.relu" (importing it compiles nothing); from rendered
    text, its module-level literals (NAMES, KERNELS, STEP_SCALARS)."""
    if _texts is None:
        return import_module(f"symnn.generated.{module}")
    tree = ast.parse(_texts[_path(module)])
    return SimpleNamespace(**{node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
                              if isinstance(node, ast.Assign) and len(node.targets) == 1
                              and isinstance(node.targets[0], ast.Name) and _is_literal(node.value)})


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def generated_text(module: str) -> str:
    """The source text of a generated module."""
    if _texts is not None:
        return _texts[_path(module)]
    return Path(generated(module).__file__).read_text(encoding="utf-8")


def functions(text: str) -> dict[str, str]:
    """The @njit functions of a module's text, by name: decorator, signature and body."""
    lines = text.splitlines()
    out: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line.startswith("@njit("):
            continue
        name = re.match(r"def (\w+)\(", lines[i + 1])
        if name is None:
            raise ValueError(f"unexpected generated code after {line!r}: {lines[i + 1]!r}")
        end = i + 2
        while end < len(lines) and (not lines[end] or lines[end][0].isspace()):
            end += 1
        out[name.group(1)] = "\n".join(lines[i:end]).rstrip() + "\n"
    return out


def _inline(function: str, args: list[str], result: str | None = None) -> list[str]:
    """Statements doing what the call `function(*args)` does: the kernel's body, its names prefixed.

    `args` are source text; a parameter the body never assigns takes a plain-name argument as is,
    any other gets a variable of its own (`<kernel>__<parameter>`), as do the body's locals. A
    final `return value` becomes `result = value`. Inlined as text, the loop is one function for
    Numba to type and lower: no callee to compile first, no inlining pass, no argument copies.
    """
    fn = ast.parse(function).body[0]
    if not isinstance(fn, ast.FunctionDef) or fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
        raise ValueError(f"cannot inline:\n{function}")
    body = list(fn.body)
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    value = body.pop().value if isinstance(body[-1], ast.Return) else None
    for node in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(node, (ast.Return, ast.FunctionDef, ast.Lambda, ast.Global, ast.Nonlocal, ast.Yield)):
            raise ValueError(f"cannot inline, {type(node).__name__} in:\n{function}")
    if (value is None) != (result is None):
        raise ValueError(f"cannot inline {fn.name} as {'a statement' if result is None else 'an expression'}")
    params = [a.arg for a in fn.args.args]
    if len(params) != len(args):
        raise ValueError(f"{fn.name} takes {len(params)} arguments, not {len(args)}")
    stored = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names = {name: f"{fn.name}__{name}" for name in stored}
    lines = []
    for param, arg in zip(params, args):
        if param not in stored and arg.isidentifier():
            names[param] = arg
        else:
            names[param] = f"{fn.name}__{param}"
            lines.append(f"{names[param]} = {arg}")

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            node.id = names.get(node.id, node.id)
            return node

    lines += ast.unparse(Rename().visit(ast.Module(body=body, type_ignores=[]))).splitlines()
    if value is not None:
        lines.append(f"{result} = {ast.unparse(Rename().visit(value))}")
    return lines


def _inline_calls(lines: list[str], kernels: dict[str, str]) -> list[str]:
    """The lines with each call of a kernel (a line `f(...)` or `target = f(...)`) inlined."""
    out = []
    for line in "\n".join(lines).split("\n"):
        code = line.lstrip()
        indent = line[:len(line) - len(code)]
        m = re.match(r"(?:[\w\[\], ]+ = )?(\w+)\(", code)
        if m is None or m[1] not in kernels:
            out.append(line)
            continue
        stmt = ast.parse(code).body[0]
        call = stmt.value
        result = ast.unparse(stmt.targets[0]) if isinstance(stmt, ast.Assign) else None
        out.append(f"{indent}# {m[1]}, inlined")
        out += [indent + s for s in _inline(kernels[m[1]], [ast.unparse(a) for a in call.args], result)]
    return out


def _summed_in_dtype(function: str, name: str) -> str:
    """A generated loss kernel returning the mean (`_value_and_grad`), renamed `name`, with its
    float64 sum made a sum in T."""
    out, n = re.subn(r"^    total = 0\.0$", "    total = T(0)", function, flags=re.M)
    out, m = re.subn(r"^    return total / (.+)$", r"    return total / T(\1)", out, flags=re.M)
    if (n, m) != (1, 1):
        raise ValueError(f"unexpected loss kernel, cannot sum it in the arrays' dtype:\n{function}")
    out = out.replace("accumulated in float64", "accumulated in the arrays' dtype")
    return re.sub(r"^def \w+\(", f"def {name}(", out, count=1, flags=re.M)


def optimizer_module(kernel: str) -> str:
    """The generated optimizer module holding a kernel ("adam_step" -> "adam")."""
    for module in generated("optimizers").NAMES:
        if kernel.startswith(f"{module}_") and kernel in generated(f"optimizers.{module}").KERNELS:
            return module
    raise ValueError(f"the fused loop has no optimizer kernel {kernel!r}")


def _optimizer_scalars(kernel: str) -> tuple[str, ...]:
    return generated(f"optimizers.{optimizer_module(kernel)}").KERNELS[kernel][1]


def roles(kernel: str) -> dict[str, tuple[str, ...]]:
    """The optimizer kernel's arguments after param and grad, by where the loop takes them from.

    state: the rows of S; hyper: the entries of `hyper` (fixed for a fit); per_step: the columns of
    `scalars`, one row per step (the module's STEP_SCALARS, and SGD's `first`); lr: from `lrs`.
    """
    module = generated(f"optimizers.{optimizer_module(kernel)}")
    state, scalars = module.KERNELS[kernel]
    per_step = (*module.STEP_SCALARS, "first")
    return {"state": tuple(state),
            "hyper": tuple(s for s in scalars if s != "lr" and s not in per_step),
            "per_step": tuple(s for s in scalars if s in per_step)}


def canonical(spec: dict) -> dict:
    """What the generated text depends on: the activations used (sorted), loss, optimizer kernel.

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
    optimizer_module(spec["optimizer"])
    acts = sorted({str(layer[1]) for layer in layers if layer[0] == "activation"})
    return {"activations": tuple(acts), "loss": loss, "optimizer": spec["optimizer"]}


#: The symbols the direct products are linked against (symnn.runtime.blas binds them at import).
GEMM_SYMBOLS = ("symnn_cblas_sgemm", "symnn_cblas_dgemm")

_NP_DOT = re.compile(r"^(?P<indent>\s*)np\.dot\((?P<a>\w+)(?P<at>\.T)?, (?P<b>\w+)(?P<bt>\.T)?, (?P<c>\w+)\)$",
                     re.M)


def _direct_gemm(function: str) -> str:
    """A kernel's `np.dot(A[.T], B[.T], C)` lines as `gemm` calls (CBLAS, row major).

    Valid where A, B and C are C-contiguous 2-D arrays, as every array of the fused loop is.
    """
    def call(m: re.Match) -> str:
        a, b, c = m["a"], m["b"], m["c"]
        k = f"{a}.shape[0]" if m["at"] else f"{a}.shape[1]"
        flags = ", ".join("TRANS" if t else "NO_TRANS" for t in (m["at"], m["bt"]))
        return (f"{m['indent']}gemm({flags}, {c}.shape[0], {c}.shape[1], {k}, {a}, {a}.shape[1], "
                f"{b}, {b}.shape[1], {c})")

    out, n = _NP_DOT.subn(call, function)
    if n == 0 or "np.dot" in out:
        raise ValueError(f"unexpected matrix products, cannot call BLAS directly:\n{function}")
    return out


def _gemm_kernel() -> str:
    """`gemm`: C = op(A) op(B) in NumPy's OpenBLAS, sgemm or dgemm chosen when the loop is typed.

    An intrinsic, which emits the call itself: an `@overload` calling the external function costs a
    compiled function of its own (measured: ~0.4 s more of a cold W1 fit, or more inlined).
    """
    return '''\
@intrinsic
def gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c):
    """c (m, n) = op(a) op(b), all C-contiguous (row major); op: NO_TRANS or TRANS."""
    blas = sgemm if c.dtype == types.float32 else dgemm

    def codegen(context, builder, sig, args):
        fndesc = ExternalFunctionDescriptor(blas.symbol, blas.sig.return_type, blas.sig.args)
        func = context.declare_external_function(builder.module, fndesc)
        real = blas.sig.args[6]

        def value(i, j):  # argument i, as the BLAS function's argument j
            return context.cast(builder, args[i], sig.args[i], blas.sig.args[j])

        def address(i):
            data = cgutils.create_struct_proxy(sig.args[i])(context, builder, value=args[i]).data
            return builder.ptrtoint(data, context.get_value_type(types.intp))

        values = [context.get_constant(types.int32, int(ROW_MAJOR)), value(0, 1), value(1, 2), value(2, 3),
                  value(3, 4), value(4, 5), context.get_constant(real, 1), address(5), value(6, 8),
                  address(7), value(8, 10), context.get_constant(real, 0), address(9), value(3, 13)]
        context.call_external_function(builder, func, blas.sig.args, values)
        return context.get_dummy_value()
    return types.void(trans_a, trans_b, m, n, k, a, lda, b, ldb, c), codegen
'''


#: The views of the loop's flat arrays. Slicing and `.reshape` cost the first fit most of a second
#: (measured on W1: 4.8 s -> 3.0 s without them): each slice is typed and lowered with its bounds
#: arithmetic, each reshape calls a compiled size check, and LLVM optimizes all of it. The blocks are
#: in bounds by construction (the layout in symnn.runtime.fused), so nothing is checked here.
_VIEWS = '''\
def _view(context, builder, sig, args):
    """The view of a 1-D C-contiguous array from item args[1] on, in the shape args[2:] (C order)."""
    src = cgutils.create_struct_proxy(sig.args[0])(context, builder, value=args[0])
    out = cgutils.create_struct_proxy(sig.return_type)(context, builder)
    shape = [context.cast(builder, v, t, types.intp) for v, t in zip(args[2:], sig.args[2:])]
    strides = [src.itemsize]
    for n in shape[:0:-1]:
        strides.insert(0, builder.mul(strides[0], n))
    nitems = shape[0]
    for n in shape[1:]:
        nitems = builder.mul(nitems, n)
    out.data = builder.gep(src.data, [context.cast(builder, args[1], sig.args[1], types.intp)])
    out.shape = cgutils.pack_array(builder, shape)
    out.strides = cgutils.pack_array(builder, strides)
    out.nitems = nitems
    out.itemsize = src.itemsize
    out.meminfo = src.meminfo
    out.parent = src.parent
    return impl_ret_borrowed(context, builder, sig.return_type, out._getvalue())


@intrinsic
def view1(typingctx, a, start, n):
    """a[start:start + n] of a 1-D C-contiguous array (unchecked)."""
    return types.Array(a.dtype, 1, "C")(a, start, n), _view


@intrinsic
def view2(typingctx, a, start, m, n):
    """a[start:start + m * n].reshape((m, n)) of a 1-D C-contiguous array (unchecked)."""
    return types.Array(a.dtype, 2, "C")(a, start, m, n), _view
'''


#: Pure-Python stand-ins of the intrinsics: with NUMBA_DISABLE_JIT=1 the loop runs as plain Python
#: (pdb steps through it) and computes the same numbers.
_STAND_INS = """\
if config.DISABLE_JIT:
    def view1(a, start, n):  # noqa: F811 - the intrinsic's pure-Python stand-in
        return a[start:start + n]

    def view2(a, start, m, n):  # noqa: F811
        return a[start:start + m * n].reshape(m, n)
"""
_GEMM_STAND_IN = """\

    def gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c):  # noqa: F811
        c[...] = (a.T if trans_a == TRANS else a) @ (b.T if trans_b == TRANS else b)
"""


def _kernels(c: dict, direct_gemm: bool = False) -> list[str]:
    """The per-layer kernels the loop calls, copied from their generated modules."""
    out = []
    for name in c["activations"]:
        fns = functions(generated_text(f"activations.{name}"))
        out += [fns[f"{name}_forward"], fns[f"{name}_backward"]]
    fns = functions(generated_text("layers.dense"))
    dense = [fns[f] for f in ("dense_forward", "dense_grad_input", "dense_grad_params")]
    if direct_gemm:
        dense = [_direct_gemm(f) for f in dense]
    out += dense
    module, value_and_grad, _ = LOSSES[c["loss"]]
    out.append(_summed_in_dtype(functions(generated_text(f"losses.{module}"))[value_and_grad],
                                "loss_value_and_grad"))
    kernel = c["optimizer"]
    out.append(functions(generated_text(f"optimizers.{optimizer_module(kernel)}"))[kernel])
    decorators = {f.split("\n", 1)[0] for f in out}
    if len(decorators) != 1:
        raise ValueError(f"the generated kernels are compiled with different flags: {sorted(decorators)}")
    return out


def _train_epochs(c: dict, decorator: str) -> list[str]:
    """The loop itself, as lines."""
    r = roles(c["optimizer"])
    _, _, rows = LOSSES[c["loss"]]
    state = [f"view1(S[{i}], u_offset, u_size)" for i in range(len(r["state"]))]
    update = ", ".join(["view1(P, u_offset, u_size)", "view1(D, u_offset, u_size)", *state,
                        *_optimizer_scalars(c["optimizer"])])
    unpack = [f"{column} = prog[li, {i}]" for i, column in enumerate(PROG_COLUMNS)]
    if rows:
        loss_args = "view2(AV, z_offset, mb, n_last), t2, view2(GV, z_offset, mb, n_last)"
    else:
        loss_args = "view1(AV, z_offset, mb * n_last), view1(AV, t_offset, mb * n_t), view1(GV, z_offset, mb * n_last)"
    x, y = "view1(AV, in_offset, mb * n_in)", "view1(AV, out_offset, mb * n_out)"
    gx, gy = "view1(GV, in_offset, mb * n_in)", "view1(GV, out_offset, mb * n_out)"
    return [
        decorator,
        "def train_epochs(X, Y, perms, lrs, scalars, hyper, batch_size, losses, prog, P, D, S, AV, GV):",
        '    """lrs.shape[0] epochs of mini-batch training, in place; batch mean losses into losses."""',
        "    n_rows, n_x = X.shape",
        "    n_t = Y.shape[1]",
        "    n_layers = prog.shape[0]",
        "    n_last = prog[n_layers - 1, 2]",
        "    z_offset = prog[n_layers - 1, 4]",
        "    t_offset = AV.shape[0] - batch_size * n_t",
        "    n_batches = (n_rows + batch_size - 1) // batch_size",
        *[f"    {name} = hyper[{i}]" for i, name in enumerate(r["hyper"])],
        f"    per_layer = P.shape[0] >= {UPDATE_PER_LAYER_FROM}  # update each layer as its gradients are made",
        "    step = 0",
        "    for e in range(lrs.shape[0]):",
        "        perm = perms[e % perms.shape[0]]",
        "        lr = lrs[e]",
        "        for bi in range(n_batches):",
        "            lo = bi * batch_size",
        "            mb = batch_size if lo + batch_size <= n_rows else n_rows - lo  # not min(): a compiled call",
        *[f"            {name} = scalars[step, {i}]" for i, name in enumerate(r["per_step"])],
        "            # the batch: its rows of X and Y, in the epoch's order",
        "            x0 = view2(AV, 0, mb, n_x)",
        "            t2 = view2(AV, t_offset, mb, n_t)",
        "            for r in range(mb):",
        "                row = perm[lo + r]",
        "                for j in range(n_x):",
        "                    x0[r, j] = X[row, j]",
        "                for j in range(n_t):",
        "                    t2[r, j] = Y[row, j]",
        "            # forward, layer by layer",
        "            for li in range(n_layers):",
        *[f"                {line}" for line in unpack],
        "                if op == 0:",
        "                    dense_forward(view2(AV, in_offset, mb, n_in), view2(P, w_offset, n_out, n_in), "
        "view1(P, b_offset, n_out), view2(AV, out_offset, mb, n_out))",
        *[f"                elif op == {i + 1}:\n                    {name}_forward({x}, {y})"
          for i, name in enumerate(c["activations"])],
        f"            # loss {c['loss']}: the batch's mean, and the gradient of the outputs",
        f"            losses[e, bi] = loss_value_and_grad({loss_args})",
        "            # backward, layer by layer (the first layer's input needs no gradient), and the update",
        f"            # ({c['optimizer']}, elementwise): of a dense layer's parameters right after its gradients",
        "            # (per_layer: they are still in cache), else of all parameters after the last layer",
        "            for li in range(n_layers - 1, -2, -1):",
        "                u_offset = 0",
        "                u_size = 0",
        "                if li < 0:",
        "                    if not per_layer:",
        "                        u_size = P.shape[0]",
        "                else:",
        *[f"                    {line}" for line in unpack],
        "                    if op == 0:",
        "                        gy2 = view2(GV, out_offset, mb, n_out)",
        "                        dense_grad_params(view2(AV, in_offset, mb, n_in), gy2, "
        "view2(D, w_offset, n_out, n_in), view1(D, b_offset, n_out))",
        "                        if li > 0:",
        "                            dense_grad_input(view2(P, w_offset, n_out, n_in), gy2, "
        "view2(GV, in_offset, mb, n_in))",
        "                        if per_layer:",
        "                            u_offset = w_offset",
        "                            u_size = b_offset + n_out - w_offset",
        *[f"                    elif op == {i + 1} and li > 0:\n                        {name}_backward({x}, {y}, {gy}, {gx})"
          for i, name in enumerate(c["activations"])],
        "                if u_size > 0:",
        f"                    {c['optimizer']}({update})",
        "            step += 1",
    ]


def fused_module(spec: dict, direct_gemm: bool = False) -> str:
    """The source of the fused training module for `spec` (see the module docstring).

    `direct_gemm`: the matrix products call NumPy's OpenBLAS directly (see symnn.runtime.blas)
    instead of `np.dot`, which calls SciPy's; importing the module then raises ImportError where
    that library is missing.
    """
    c = canonical(spec)
    gemm = [] if not direct_gemm else [
        "# The matrix products: NumPy's OpenBLAS, bound to these symbols by symnn.runtime.blas at import",
        "# (the compiled code names only the symbols, so Numba's cache stays valid across processes).",
        "from numba.core.funcdesc import ExternalFunctionDescriptor  # noqa: E402",
        "",
        "from symnn.runtime.blas import NO_TRANS, ROW_MAJOR, TRANS, external_gemm  # noqa: E402",
        "",
        f"sgemm, dgemm = external_gemm{GEMM_SYMBOLS!r}",
        "NO_TRANS, ROW_MAJOR, TRANS = np.int32(NO_TRANS), np.int32(ROW_MAJOR), np.int32(TRANS)",
        "", "", _gemm_kernel()]
    head = [f'"""Fused training loop: activations {", ".join(c["activations"]) or "none"}; '
            f'loss {c["loss"]}; {c["optimizer"]}.',
            "",
            "Generated by symnn.codegen.emit_fused from the kernels of symnn.generated, into symnn's cache",
            "folder under a hash of this text: do not edit by hand.",
            '"""',
            "",
            "import math",
            "",
            "import numpy as np",
            "from numba import config, njit, types",
            "from numba.core import cgutils",
            "from numba.core.imputils import impl_ret_borrowed",
            "from numba.extending import intrinsic",
            "",
            f"ACTIVATIONS = {c['activations']!r}",
            f"LOSS = {c['loss']!r}",
            f"OPTIMIZER = {c['optimizer']!r}",
            f"ROLES = {roles(c['optimizer'])!r}",
            f"PROG_COLUMNS = {PROG_COLUMNS!r}",
            f"MATRIX_PRODUCTS = {'NumPy OpenBLAS, direct' if direct_gemm else 'np.dot'!r}",
            "", *gemm, "", ""]
    kernels = _kernels(c, direct_gemm)
    decorator = kernels[0].split("\n", 1)[0]
    if direct_gemm:
        # No reference counting: the loop allocates nothing and its views borrow from its arguments,
        # so Numba's incref/decref of every array it passes around (a fifth of the IR to optimize) is
        # not needed. (np.dot's implementation allocates, so the np.dot loop keeps it.)
        decorator = decorator[:-1] + ", _nrt=False)"
    loop = _inline_calls(_train_epochs(c, decorator), {re.search(r"^def (\w+)\(", f, re.M)[1]: f for f in kernels})
    stand_ins = _STAND_INS + (_GEMM_STAND_IN if direct_gemm else "")
    body = _VIEWS + "\n\n" + stand_ins + "\n\n" + "\n\n".join(kernels) + "\n\n" + "\n".join(loop) + "\n"
    return "\n".join(head) + body


__all__ = ["GEMM_SYMBOLS", "LOSSES", "PROG_COLUMNS", "canonical", "fused_module", "functions", "roles"]
