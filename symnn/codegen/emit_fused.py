"""A whole training loop as one self-contained Numba module: batches, forward, loss, backward, update.

`fused_module(spec)` returns the source of a module whose function

    train_epochs(X, Y, perms, lrs, scalars, hyper, batch_size, losses, prog, P, D, S, AV, GV)

runs `lrs.shape[0]` epochs in place. Epoch e takes the rows in the order `perms[e % perms.shape[0]]`,
in batches of `batch_size` (the last one partial); each batch runs forward, the loss and its
gradient, backward through every layer and the optimizer's update, and its mean loss goes to
`losses[e, b]`. The network is data, not code: `prog` holds one row per layer (`PROG_COLUMNS`),
the parameters are one flat array `P` (each W then b, in `Sequential.parameters()` order), their
gradients `D`, the optimizer's state arrays the rows of `S`, and the activations and their
gradients are blocks of the flat workspaces `AV`, `GV` (a block of batch_size rows per layer
input, the batch's targets in a last block of `AV`). Matrix products go through `np.dot(..., out)`
(BLAS) on views of these arrays, so a batch allocates nothing.

So the text depends only on the set of activations used, the loss and the optimizer kernel
(`canonical`): one compiled loop, per dtype (`T = X.dtype.type` types every constant), serves every
depth and width. The kernels it calls are those of `generated/`, printed into this module by the
same emitters (activations, dense, the loss gradient, the optimizer step), so the fused and
per-layer paths compute the same numbers; only the loss value is summed in the arrays' dtype here,
not in float64, so a float32 loop has no float64 arithmetic. The module imports no other generated
module, so Numba's cache of it never goes stale.
"""

from __future__ import annotations

from symnn.codegen import emit, emit_optimizers
from symnn.codegen.printer import statements
from symnn.symbolic import losses as loss_defs
from symnn.symbolic import optimizers as opt_defs
from symnn.symbolic import registry
from symnn.symbolic.rules import kernel_form

#: Loss name -> (the generated loss module it comes from, its gradient kernel, on rows or flat).
LOSSES: dict[str, tuple[str, str, bool]] = {
    **{name: (name, f"{name}_backward", False) for name in ("mse", "mae", "huber", "binary_cross_entropy")},
    "hinge": ("hinge", "hinge_backward", False),
    "multi_margin": ("hinge", "multi_margin_backward", True),
    "cross_entropy": ("cross_entropy", "cross_entropy_backward", True),
}

#: The columns of `prog`, one row per layer. op: 0 dense, k > 0 the k-th of ACTIVATIONS.
PROG_COLUMNS = ("op", "n_in", "n_out", "in_offset", "out_offset", "w_offset", "b_offset")


def optimizer_kernel(name: str) -> tuple[opt_defs.OptimizerDefinition, opt_defs.Kernel]:
    """The definition and variant of an optimizer kernel name ("adam_step", "sgd_momentum_step")."""
    for d in opt_defs.OPTIMIZERS.values():
        for k in d.kernels():
            if k.name == name:
                return d, k
    raise ValueError(f"the fused loop has no optimizer kernel {name!r}")


def canonical(spec: dict) -> dict:
    """What the generated text depends on: the activations used (sorted), loss, optimizer kernel.

    `spec`: {"layers": [("dense", n_in, n_out) | ("activation", name), ...], "loss": name,
    "optimizer": kernel name}; other keys (dtype) are ignored. Hinge with several outputs is
    `multi_margin`. The runtime hashes this, with the generator's source, into the cache key.
    """
    acts: set[str] = set()
    n_out = 0
    for layer in spec["layers"]:
        if layer[0] == "dense":
            n_out = int(layer[2])
        elif layer[0] == "activation" and layer[1] in registry.names("activation"):
            acts.add(str(layer[1]))
        else:
            raise ValueError(f"the fused loop has no layer {layer!r}")
    if not spec["layers"] or spec["layers"][0][0] != "dense":
        raise ValueError("a fused network starts with a dense layer")
    loss = "multi_margin" if spec["loss"] == "hinge" and n_out > 1 else spec["loss"]
    if loss not in LOSSES:
        raise ValueError(f"the fused loop has no loss {loss!r}")
    optimizer_kernel(spec["optimizer"])
    return {"activations": tuple(sorted(acts)), "loss": loss, "optimizer": spec["optimizer"]}


def roles(optimizer: str) -> dict[str, tuple[str, ...]]:
    """The optimizer kernel's arguments after lr, by where the loop takes them from.

    state: the rows of S; hyper: the entries of `hyper` (fixed for a fit); per_step: the columns
    of `scalars` (one row per step: the per-step function's outputs, and SGD's `first`).
    """
    d, k = optimizer_kernel(optimizer)
    step_targets = {line.target for line in d.per_step} | {opt_defs.first}
    rest = [s for s in k.scalars if s != opt_defs.lr]
    return {"state": tuple(a.arg for a in k.arrays[2:]),
            "hyper": tuple(s.name for s in rest if s not in step_targets),
            "per_step": tuple(s.name for s in rest if s in step_targets)}


def _functions(module_text: str) -> str:
    """A generated module's functions, without its docstring, imports and metadata."""
    return module_text[module_text.index(emit.NJIT):].rstrip() + "\n"


def _loss_mean(loss: str) -> str:
    """`<loss>_mean(z_in, t_in)`: the batch's mean loss (as the generated forward), summed in T."""
    z, t = loss_defs.z, loss_defs.t
    if loss == "cross_entropy":
        term = loss_defs.CROSS_ENTROPY_STABLE_TERM
        ind = "            "
        body = ("    for r in range(z_in.shape[0]):\n"
                "        m = z_in[r, 0]\n"
                "        for j in range(1, z_in.shape[1]):\n"
                "            m = max(m, z_in[r, j])\n"
                "        s = T(0)\n"
                "        for j in range(z_in.shape[1]):\n"
                "            s += math.exp(z_in[r, j] - m)\n"
                "        lse = m + math.log(s)\n"
                "        for j in range(z_in.shape[1]):\n")
        body += "\n".join(emit._loads(term, {z: "z_in[r, j]", t: "t_in[r, j]"}, ind)
                          + statements("total", term, ind, "+="))
        count = "z_in.shape[0]"
    elif loss == "multi_margin":
        term = loss_defs.MARGIN_TERM
        ind = "            "
        body = ("    for r in range(z_in.shape[0]):\n"
                "        label = 0\n"
                "        for j in range(1, t_in.shape[1]):\n"
                "            if t_in[r, j] > t_in[r, label]:\n"
                "                label = j\n"
                "        for i in range(z_in.shape[1]):\n"
                "            if i == label:\n"
                "                continue\n")
        names = {loss_defs.z_y: "z_in[r, label]", loss_defs.z_i: "z_in[r, i]"}
        body += "\n".join(emit._loads(term, names, ind) + statements("total", term, ind, "+="))
        count = "z_in.shape[0] * z_in.shape[1]"
    else:
        definition = loss_defs.ELEMENTWISE_LOSSES[loss]
        term, _ = kernel_form(definition.stable if definition.stable is not None else definition.forward)
        ind = "        "
        body = "    for i in range(z_in.shape[0]):\n" + "\n".join(
            emit._loads(term, {z: "z_in[i]", t: "t_in[i]"}, ind) + emit._needs_u(term, z, ind)
            + statements("total", term, ind, "+="))
        count = "z_in.shape[0]"
    return (f"{emit.NJIT}\ndef {loss}_mean(z_in, t_in):\n"
            f'    """The mean {loss} loss of a batch, summed in the arrays\' dtype."""\n'
            "    T = z_in.dtype.type\n"
            f"    total = T(0)\n{body}\n"
            f"    return total / T({count})\n")


def _kernels(c: dict) -> list[str]:
    """The per-layer kernels the loop calls, each printed by the emitter of its generated module."""
    out = [_functions(emit.activation_module(registry.derivation(name), name)) for name in c["activations"]]
    out.append(_functions(emit.dense_module(registry.derivation("dense"), "dense")))
    source = LOSSES[c["loss"]][0]
    if source == "cross_entropy":
        text = emit.cross_entropy_module(source)
    elif source == "hinge":
        text = emit.hinge_module(source)
    else:
        text = emit.elementwise_loss_module(loss_defs.ELEMENTWISE_LOSSES[source], source)
    out += [_functions(text), _loss_mean(c["loss"])]
    d, k = optimizer_kernel(c["optimizer"])
    out.append(emit_optimizers._kernel(d, k))
    return out


def _train_epochs(c: dict) -> list[str]:
    """The loop itself, as lines."""
    r = roles(c["optimizer"])
    _, kernel = optimizer_kernel(c["optimizer"])
    loss, (_, backward, rows) = c["loss"], LOSSES[c["loss"]]
    unpack = ", ".join(PROG_COLUMNS[1:])
    state = ", ".join(f"S[{i}]" for i in range(len(r["state"])))
    update_args = ", ".join(["P", "D", *([state] if state else []), *(s.name for s in kernel.scalars)])
    if rows:
        z, t, gz = "z.reshape((mb, n_last))", "t2", "gz.reshape((mb, n_last))"
    else:
        z, t, gz = "z", "tb", "gz"
    lines = [
        emit.NJIT,
        "def train_epochs(X, Y, perms, lrs, scalars, hyper, batch_size, losses, prog, P, D, S, AV, GV):",
        '    """lrs.shape[0] epochs of mini-batch training, in place; batch mean losses into losses."""',
        "    T = X.dtype.type",
        "    n_rows, n_x = X.shape",
        "    n_t = Y.shape[1]",
        "    n_layers = prog.shape[0]",
        "    n_last = prog[n_layers - 1, 2]",
        "    z_offset = prog[n_layers - 1, 4]",
        "    t_offset = AV.shape[0] - batch_size * n_t",
        "    n_batches = (n_rows + batch_size - 1) // batch_size",
        *[f"    {name} = hyper[{i}]" for i, name in enumerate(r["hyper"])],
        "    step = 0",
        "    for e in range(lrs.shape[0]):",
        "        perm = perms[e % perms.shape[0]]",
        "        lr = lrs[e]",
        "        for bi in range(n_batches):",
        "            lo = bi * batch_size",
        "            mb = min(batch_size, n_rows - lo)",
        *[f"            {name} = scalars[step, {i}]" for i, name in enumerate(r["per_step"])],
        "            # the batch's rows and targets",
        "            x0 = AV[:mb * n_x].reshape((mb, n_x))",
        "            tb = AV[t_offset:t_offset + mb * n_t]",
        "            t2 = tb.reshape((mb, n_t))",
        "            for r in range(mb):",
        "                row = perm[lo + r]",
        "                for j in range(n_x):",
        "                    x0[r, j] = X[row, j]",
        "                for j in range(n_t):",
        "                    t2[r, j] = Y[row, j]",
        "            # forward",
        "            for li in range(n_layers):",
        f"                op, {unpack} = prog[li]",
        "                x = AV[in_offset:in_offset + mb * n_in]",
        "                y = AV[out_offset:out_offset + mb * n_out]",
        "                if op == 0:",
        "                    w = P[w_offset:w_offset + n_out * n_in].reshape((n_out, n_in))",
        "                    dense_forward(x.reshape((mb, n_in)), w, P[b_offset:b_offset + n_out],",
        "                                  y.reshape((mb, n_out)))",
        *[f"                elif op == {i + 1}:\n                    {name}_forward(x, y)"
          for i, name in enumerate(c["activations"])],
        f"            # loss {loss}: its mean and its gradient",
        "            z = AV[z_offset:z_offset + mb * n_last]",
        "            gz = GV[z_offset:z_offset + mb * n_last]",
        f"            losses[e, bi] = {loss}_mean({z}, {t})",
        f"            {backward}({z}, {t}, {gz})",
        "            # backward",
        "            for li in range(n_layers - 1, -1, -1):",
        f"                op, {unpack} = prog[li]",
        "                x = AV[in_offset:in_offset + mb * n_in]",
        "                y = AV[out_offset:out_offset + mb * n_out]",
        "                gx = GV[in_offset:in_offset + mb * n_in]",
        "                gy = GV[out_offset:out_offset + mb * n_out]",
        "                if op == 0:",
        "                    gy2 = gy.reshape((mb, n_out))",
        "                    dense_grad_params(x.reshape((mb, n_in)), gy2,",
        "                                      D[w_offset:w_offset + n_out * n_in].reshape((n_out, n_in)),",
        "                                      D[b_offset:b_offset + n_out])",
        "                    if li > 0:",
        "                        w = P[w_offset:w_offset + n_out * n_in].reshape((n_out, n_in))",
        "                        dense_grad_input(w, gy2, gx.reshape((mb, n_in)))",
        *[f"                elif op == {i + 1} and li > 0:\n                    {name}_backward(x, y, gy, gx)"
          for i, name in enumerate(c["activations"])],
        f"            # update: {kernel.name} over all parameters at once (elementwise)",
        f"            {kernel.name}({update_args})",
        "            step += 1",
    ]
    return lines


def fused_module(spec: dict) -> str:
    """The source of the fused training module for `spec` (see the module docstring)."""
    c = canonical(spec)
    head = [f'"""Fused training loop: activations {", ".join(c["activations"]) or "none"}; '
            f'loss {c["loss"]}; {c["optimizer"]}.',
            "",
            "Generated by symnn.codegen.emit_fused from the definitions in symnn.symbolic into symnn's",
            "cache folder, under a key hashing its generator: do not edit by hand.",
            '"""',
            "",
            "import math",
            "",
            "import numpy as np",
            "from numba import njit",
            "",
            f"ACTIVATIONS = {c['activations']!r}",
            f"LOSS = {c['loss']!r}",
            f"OPTIMIZER = {c['optimizer']!r}",
            f"ROLES = {roles(c['optimizer'])!r}",
            f"PROG_COLUMNS = {PROG_COLUMNS!r}",
            "", "", ""]
    return ("\n".join(head) + "\n\n".join(_kernels(c)) + "\n\n" + "\n".join(_train_epochs(c)) + "\n")


__all__ = ["LOSSES", "PROG_COLUMNS", "canonical", "fused_module", "optimizer_kernel", "roles"]
