"""Fused training loop: activations relu; loss cross_entropy; sgd_momentum_step.

Assembled by symnn.runtime.fused.assemble from its template and the kernels of symnn.generated,
into symnn's cache folder under a hash of this text: do not edit by hand.
"""

import math

from numba import njit

from symnn.runtime.fused.intrinsics import NO_TRANS, TRANS, gemm, link_gemm, view1, view2, wide_vectors

ACTIVATIONS = ('relu',)
LOSS = 'cross_entropy'
OPTIMIZER = 'sgd_momentum_step'
ROLES = {'state': ('momentum_buffer',), 'hyper': ('momentum', 'dampening', 'weight_decay'), 'per_step': ('first',)}
VALIDATION = False
BACKWARD_FROM_OUTPUT = ()
PROG_COLUMNS = ('op', 'n_in', 'n_out', 'in_offset', 'out_offset', 'w_offset', 'b_offset', 'a_offset')
PARAMETERS = ('X', 'Y', 'perms', 'lrs', 'scalars', 'hyper', 'batch_size', 'losses', 'prog', 'P', 'D', 'S', 'AV', 'GV',
              'grad_from')
UPDATE_PER_LAYER_FROM = 65536
MATRIX_PRODUCTS = 'NumPy OpenBLAS, direct'
INTRINSICS = 'eb182c8ee63b385e'  # symnn.runtime.fused.intrinsics, by its hash
VECMATH = '812ed9985082e2d5'  # symnn.vecmath, by its hash

link_gemm()  # binds the BLAS symbols before Numba loads the loop from its cache


@njit(cache=True, nogil=True, error_model='numpy', _nrt=False)
def train_epochs(X, Y, perms, lrs, scalars, hyper, batch_size, losses, prog, P, D, S, AV, GV,
                 grad_from):
    """lrs.shape[0] epochs of mini-batch training, in place; each epoch's mean loss into losses."""
    # the arrays' scalar type: every constant is T(...)
    T = P.dtype.type
    # vectors as wide as the CPU's (intrinsics.PREFERRED_VECTOR_BITS)
    wide_vectors()
    n_rows, n_x = X.shape
    n_t = Y.shape[1]
    n_layers = prog.shape[0]
    n_last = prog[n_layers - 1, 2]
    z_offset = prog[n_layers - 1, 4]
    t_offset = AV.shape[0] - batch_size * n_t
    n_batches = (n_rows + batch_size - 1) // batch_size
    n_val_batches = 0
    momentum = hyper[0]
    dampening = hyper[1]
    weight_decay = hyper[2]
    # update each layer as its gradients are made (UPDATE_PER_LAYER_FROM)
    per_layer = P.shape[0] >= UPDATE_PER_LAYER_FROM
    step = 0
    for e in range(lrs.shape[0]):
        perm = perms[e % perms.shape[0]]
        lr = lrs[e]
        epoch_total = T(0)
        # the epoch's batches (then, with VALIDATION, the validation batches: forward and loss only)
        for bi in range(n_batches + n_val_batches):
            lo = bi * batch_size
            # not min(): a compiled call
            mb = batch_size if lo + batch_size <= n_rows else n_rows - lo
            first = scalars[step, 0]
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
                if op == 0:
                    # dense_forward, inlined
                    x = view2(AV, in_offset, mb, n_in)
                    w = view2(P, w_offset, n_out, n_in)
                    b = view1(P, b_offset, n_out)
                    y = view2(AV, out_offset, mb, n_out)
                    # X*W.T
                    gemm(NO_TRANS, TRANS, y.shape[0], y.shape[1], x.shape[1], x, x.shape[1], w, w.shape[1], y)
                    # 1*b.T
                    for r in range(y.shape[0]):
                        for j in range(y.shape[1]):
                            y[r, j] += b[j]
                elif op == 1:
                    # relu_forward, inlined
                    x_in = view1(AV, in_offset, mb * n_in)
                    y_out = view1(AV, out_offset, mb * n_out)
                    for i in range(x_in.shape[0]):
                        relu_forward__x = x_in[i]
                        y_out[i] = T(0) if T(0) > relu_forward__x else relu_forward__x
            # the loss: the batch's mean, and the gradient of the outputs
            # cross_entropy_value_and_grad, inlined: the batch's mean loss (rows) and its gradient
            z_in = view2(AV, z_offset, mb, n_last)
            grad_z = view2(GV, z_offset, mb, n_last)
            n = T(z_in.shape[0])
            total = T(0)
            for r in range(z_in.shape[0]):
                m = z_in[r, 0]
                for j in range(1, z_in.shape[1]):
                    m = max(m, z_in[r, j])
                s = T(0)
                cross_entropy_value_and_grad__S = T(0)
                for j in range(z_in.shape[1]):
                    cross_entropy_value_and_grad__e = math.exp(z_in[r, j] - m)
                    grad_z[r, j] = cross_entropy_value_and_grad__e
                    s += cross_entropy_value_and_grad__e
                    cross_entropy_value_and_grad__S += t2[r, j]
                for j in range(z_in.shape[1]):
                    cross_entropy_value_and_grad__w = z_in[r, j] - m
                    t = t2[r, j]
                    cross_entropy_value_and_grad__e = grad_z[r, j]
                    if t == T(0):
                        pass
                    else:
                        total += t*(-cross_entropy_value_and_grad__w + math.log(s))
                    grad_z[r, j] = (cross_entropy_value_and_grad__S*cross_entropy_value_and_grad__e/s - t)/n
            batch_loss = total / T(z_in.shape[0])
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
                    if op == 0:
                        if li >= grad_from:
                            gy2 = view2(GV, out_offset, mb, n_out)
                            # dense_grad_params, inlined
                            dense_grad_params__x = view2(AV, in_offset, mb, n_in)
                            grad_w = view2(D, w_offset, n_out, n_in)
                            grad_b = view1(D, b_offset, n_out)
                            # G.T*X
                            gemm(TRANS, NO_TRANS, grad_w.shape[0], grad_w.shape[1], gy2.shape[0], gy2, gy2.shape[1],
                                 dense_grad_params__x, dense_grad_params__x.shape[1], grad_w)
                            # G.T*1
                            grad_b[:] = 0
                            for r in range(gy2.T.shape[1]):
                                for j in range(gy2.T.shape[0]):
                                    grad_b[j] += gy2.T[j, r]
                            if li > grad_from:
                                # dense_grad_input, inlined
                                dense_grad_input__w = view2(P, w_offset, n_out, n_in)
                                grad_x = view2(GV, in_offset, mb, n_in)
                                # G*W
                                gemm(NO_TRANS, NO_TRANS, grad_x.shape[0], grad_x.shape[1], gy2.shape[1], gy2, gy2.shape[1],
                                     dense_grad_input__w, dense_grad_input__w.shape[1], grad_x)
                        if per_layer:
                            u_offset = w_offset
                            u_size = b_offset + n_out - w_offset
                    elif li > grad_from:
                        if op == 1:
                            # relu_backward, inlined
                            relu_backward__x_in = view1(AV, in_offset, mb * n_in)
                            grad_y = view1(GV, out_offset, mb * n_out)
                            relu_backward__grad_x = view1(GV, in_offset, mb * n_in)
                            for i in range(relu_backward__x_in.shape[0]):
                                relu_backward__x = relu_backward__x_in[i]
                                g = grad_y[i]
                                if relu_backward__x <= T(0):
                                    relu_backward__grad_x[i] = T(0)
                                else:
                                    relu_backward__grad_x[i] = g
                if u_size > 0:
                    # sgd_momentum_step, inlined: elementwise
                    param = view1(P, u_offset, u_size)
                    grad = view1(D, u_offset, u_size)
                    momentum_buffer = view1(S[0], u_offset, u_size)
                    sgd_momentum_step__lr = lr
                    sgd_momentum_step__momentum = momentum
                    sgd_momentum_step__dampening = dampening
                    sgd_momentum_step__weight_decay = weight_decay
                    sgd_momentum_step__lr = T(sgd_momentum_step__lr)
                    sgd_momentum_step__momentum = T(sgd_momentum_step__momentum)
                    sgd_momentum_step__dampening = T(sgd_momentum_step__dampening)
                    sgd_momentum_step__weight_decay = T(sgd_momentum_step__weight_decay)
                    for i in range(param.shape[0]):
                        p = param[i]
                        sgd_momentum_step__g = grad[i]
                        buf = momentum_buffer[i]
                        # weight decay (L2, added to the gradient)
                        if sgd_momentum_step__weight_decay != T(0):
                            sgd_momentum_step__g = sgd_momentum_step__g + p*sgd_momentum_step__weight_decay
                        # momentum buffer (first = 1 on the parameter's first step)
                        if first == T(1):
                            buf = sgd_momentum_step__g
                        else:
                            buf = buf*sgd_momentum_step__momentum + sgd_momentum_step__g*(T(1) - sgd_momentum_step__dampening)
                        # heavy-ball momentum
                        sgd_momentum_step__g = buf
                        # update
                        p = -sgd_momentum_step__g*sgd_momentum_step__lr + p
                        param[i] = p
                        momentum_buffer[i] = buf
            step += 1
        losses[e] = epoch_total / T(n_rows)
