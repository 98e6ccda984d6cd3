"""The fused training loop, as the function it is: the template `symnn.runtime.fused.assemble` fills in.

`train_epochs` runs `lrs.shape[0]` epochs in place. Epoch e takes the rows in the order
`perms[e % perms.shape[0]]`, in batches of `batch_size` (the last one partial); each batch runs
forward, the loss and its gradient in one pass, backward through every layer from layer `grad_from`
on (before it, below a step, every gradient is 0: symnn.runtime.model.Sequential._first_with_gradient)
and the optimizer's update, and the epoch's loss (the batch means weighted by batch size, summed in order, as the
per-layer loop sums them) goes to `losses[e]`. In a loop assembled with VALIDATION, the validation
rows XV, YV then go forward in order, `val_batch` at a time, through the same forward pass and loss,
without a backward pass: their mean loss goes to `val_losses[e]`, and where there are labels VL
(classification) the number of rows predicted right to `val_hits[e]` (symnn.runtime.losses.Loss.predict's
prediction: z > 0 for one output, else the first largest). The network is data, not code (see
symnn.runtime.fused.session): `prog` has one row per layer (`PROG_COLUMNS`), the parameters are one
flat array P, their gradients D, the optimizer's state the rows of S, the layers' inputs and their
gradients blocks of the flat workspaces AV and GV, the activations' parameters AP and the loss's LP
(kernel arguments: one compiled loop serves every value); each block of AV and GV holds the larger
of `batch_size` and `val_batch` rows.

The calls of the placeholders below are replaced by statements, tangent-style: each kernel call by
the generated kernel's statements (symnn.ir.Inliner), `activation_forward(op, ...)` and
`activation_backward(op, AP, a_offset, ...)` by one branch per activation the network uses (op k > 0
is the k-th; a parameterised one's kernel takes AP[a_offset], AP[a_offset + 1], ... after the arrays),
`bind_hyper` and `bind_per_step` by the optimizer's scalars, and the branches on the assembly's flags
(`if LOSS_ROWS:`, `if VALIDATION and ...:`) by the code they choose: a loop without validation data
has none of its code (a larger loop takes longer to compile). Run as it is, a placeholder raises.
"""

from __future__ import annotations

from symnn.runtime.fused.intrinsics import view1, view2

#: The arrays' scalar type, which the assembler binds first (`T = P.dtype.type`): every constant is T(...).
T = float

#: The columns of `prog`, one row per layer; op 0 is dense, op k > 0 the k-th activation; an activation's
#: parameters (leaky_relu's slope) are AP[a_offset:], the loss's LP.
PROG_COLUMNS = ("op", "n_in", "n_out", "in_offset", "out_offset", "w_offset", "b_offset", "a_offset")
#: From this many parameters on, each dense layer's parameters are updated right after their gradients
#: are made, while those are in cache, instead of all at once after the backward pass: the same numbers
#: (the update is elementwise), and faster on wide networks (measured: benchmarks/README.md).
UPDATE_PER_LAYER_FROM = 1 << 16
#: The validation rows go forward this many at a time (or batch_size, if larger): fewer, larger products
#: than at a small batch size, in a workspace still sized by the training batch (benchmarks/README.md).
VALIDATION_BATCH = 256
#: Whether the loss takes (N, C) rows (cross-entropy, multi-margin) or flat elements: set by the assembler.
LOSS_ROWS = False
#: Whether the loop evaluates validation data after each epoch: set by the assembler.
VALIDATION = False


def _placeholder(*args: object) -> None:
    raise NotImplementedError("a placeholder of the fused loop's template: symnn.runtime.fused.assemble replaces it")


bind_hyper = bind_per_step = dense_forward = dense_grad_params = dense_grad_input = _placeholder
activation_forward = activation_backward = loss_value_and_grad = optimizer_step = _placeholder


def train_epochs(X, Y, perms, lrs, scalars, hyper, batch_size, losses, prog, P, D, S, AV, GV, AP, LP,
                 XV, YV, VL, val_batch, val_losses, val_hits, grad_from):
    """lrs.shape[0] epochs of mini-batch training, in place; each epoch's mean loss into losses."""
    n_rows, n_x = X.shape
    n_t = Y.shape[1]
    n_layers = prog.shape[0]
    n_last = prog[n_layers - 1, 2]
    z_offset = prog[n_layers - 1, 4]
    t_offset = AV.shape[0] - batch_size * n_t
    n_batches = (n_rows + batch_size - 1) // batch_size
    n_val_batches = 0
    if VALIDATION:
        n_val = XV.shape[0]
        n_val_batches = (n_val + val_batch - 1) // val_batch
        if val_batch > batch_size:  # the workspace's blocks have val_batch rows
            t_offset = AV.shape[0] - val_batch * n_t
    bind_hyper(hyper)
    # update each layer as its gradients are made (UPDATE_PER_LAYER_FROM)
    per_layer = P.shape[0] >= UPDATE_PER_LAYER_FROM
    step = 0
    for e in range(lrs.shape[0]):
        perm = perms[e % perms.shape[0]]
        lr = lrs[e]
        epoch_total = T(0)
        if VALIDATION:
            val_total = T(0)
            hits = 0
        # the epoch's batches (then, with VALIDATION, the validation batches: forward and loss only)
        for bi in range(n_batches + n_val_batches):
            if VALIDATION and bi >= n_batches:
                lo = (bi - n_batches) * val_batch
                mb = val_batch if lo + val_batch <= n_val else n_val - lo
                # the next validation rows, in order
                x0 = view2(AV, 0, mb, n_x)
                t2 = view2(AV, t_offset, mb, n_t)
                for r in range(mb):
                    for j in range(n_x):
                        x0[r, j] = XV[lo + r, j]
                    for j in range(n_t):
                        t2[r, j] = YV[lo + r, j]
            else:
                lo = bi * batch_size
                # not min(): a compiled call
                mb = batch_size if lo + batch_size <= n_rows else n_rows - lo
                bind_per_step(scalars, step)
                # the batch: its rows of X and Y, in the epoch's order
                x0 = view2(AV, 0, mb, n_x)
                t2 = view2(AV, t_offset, mb, n_t)
                for r in range(mb):
                    row = perm[lo + r]
                    for j in range(n_x):
                        x0[r, j] = X[row, j]
                    for j in range(n_t):
                        t2[r, j] = Y[row, j]
            # forward, layer by layer
            for li in range(n_layers):
                op = prog[li, 0]
                n_in = prog[li, 1]
                n_out = prog[li, 2]
                in_offset = prog[li, 3]
                out_offset = prog[li, 4]
                w_offset = prog[li, 5]
                b_offset = prog[li, 6]
                a_offset = prog[li, 7]
                if op == 0:
                    dense_forward(view2(AV, in_offset, mb, n_in), view2(P, w_offset, n_out, n_in),
                                  view1(P, b_offset, n_out), view2(AV, out_offset, mb, n_out))
                else:
                    activation_forward(op, AP, a_offset, view1(AV, in_offset, mb * n_in), view1(AV, out_offset, mb * n_out))
            # the loss: the batch's mean, and the gradient of the outputs
            if LOSS_ROWS:
                batch_loss = loss_value_and_grad(LP, view2(AV, z_offset, mb, n_last), t2, view2(GV, z_offset, mb, n_last))
            else:
                batch_loss = loss_value_and_grad(LP, view1(AV, z_offset, mb * n_last), view1(AV, t_offset, mb * n_t),
                                                 view1(GV, z_offset, mb * n_last))
            if VALIDATION and bi >= n_batches:
                val_total += batch_loss * T(mb)
                if VL.shape[0] > 0:
                    z2 = view2(AV, z_offset, mb, n_last)
                    for r in range(mb):
                        guess = 0
                        if n_last == 1:
                            if z2[r, 0] > 0:
                                guess = 1
                        else:
                            # np.argmax's: the first largest, or the first NaN
                            best = z2[r, 0]
                            for j in range(1, n_last):
                                if best != best:
                                    break
                                if z2[r, j] > best or z2[r, j] != z2[r, j]:
                                    best = z2[r, j]
                                    guess = j
                        if guess == VL[lo + r]:
                            hits += 1
                continue
            epoch_total += batch_loss * T(mb)
            # backward, layer by layer down to layer grad_from (before it every gradient is 0: D's blocks
            # stay 0; the first layer's input needs no gradient), and the update: of a dense layer's
            # parameters right after its gradients (per_layer: they are still in cache), else of all
            # parameters after the last layer
            for li in range(n_layers - 1, -2, -1):
                u_offset = 0
                u_size = 0
                if li < 0:
                    if not per_layer:
                        u_size = P.shape[0]
                else:
                    op = prog[li, 0]
                    n_in = prog[li, 1]
                    n_out = prog[li, 2]
                    in_offset = prog[li, 3]
                    out_offset = prog[li, 4]
                    w_offset = prog[li, 5]
                    b_offset = prog[li, 6]
                    a_offset = prog[li, 7]
                    if op == 0:
                        if li >= grad_from:
                            gy2 = view2(GV, out_offset, mb, n_out)
                            dense_grad_params(view2(AV, in_offset, mb, n_in), gy2, view2(D, w_offset, n_out, n_in),
                                              view1(D, b_offset, n_out))
                            if li > grad_from:
                                dense_grad_input(view2(P, w_offset, n_out, n_in), gy2, view2(GV, in_offset, mb, n_in))
                        if per_layer:
                            u_offset = w_offset
                            u_size = b_offset + n_out - w_offset
                    elif li > grad_from:
                        activation_backward(op, AP, a_offset, view1(AV, in_offset, mb * n_in),
                                            view1(AV, out_offset, mb * n_out), view1(GV, out_offset, mb * n_out),
                                            view1(GV, in_offset, mb * n_in))
                if u_size > 0:
                    optimizer_step(view1(P, u_offset, u_size), view1(D, u_offset, u_size), S, u_offset, u_size, lr)
            step += 1
        losses[e] = epoch_total / T(n_rows)
        if VALIDATION and n_val > 0:
            val_losses[e] = val_total / T(n_val)
            val_hits[e] = hits
