"""Fused training loop: activations tanh; loss mse; adam_step.

Assembled by symnn.runtime.fused.assemble from its template and the kernels of symnn.generated,
into symnn's cache folder under a hash of this text: do not edit by hand.
"""

import math

import numpy as np
from numba import njit

from symnn.runtime.fused.intrinsics import view1, view2, wide_vectors
from symnn.vecmath import vtanh

ACTIVATIONS = ('tanh',)
LOSS = 'mse'
OPTIMIZER = 'adam_step'
ROLES = {'state': ('exp_avg', 'exp_avg_sq'),
         'hyper': ('beta2', 'eps', 'weight_decay'),
         'per_step': ('step_size', 'bias_correction2_sqrt', 'one_minus_beta1', 'one_minus_beta2')}
VALIDATION = False
BACKWARD_FROM_OUTPUT = ('tanh',)
PROG_COLUMNS = ('op', 'n_in', 'n_out', 'in_offset', 'out_offset', 'w_offset', 'b_offset', 'a_offset')
PARAMETERS = ('X', 'Y', 'perms', 'lrs', 'scalars', 'hyper', 'batch_size', 'losses', 'prog', 'P', 'D', 'S', 'AV', 'GV',
              'grad_from')
UPDATE_PER_LAYER_FROM = 65536
MATRIX_PRODUCTS = 'np.dot'
INTRINSICS = 'eb182c8ee63b385e'  # symnn.runtime.fused.intrinsics, by its hash
VECMATH = '812ed9985082e2d5'  # symnn.vecmath, by its hash


@njit(cache=True, nogil=True, error_model="numpy")
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
    beta2 = hyper[0]
    eps = hyper[1]
    weight_decay = hyper[2]
    # update each layer as its gradients are made (UPDATE_PER_LAYER_FROM)
    per_layer = P.shape[0] >= UPDATE_PER_LAYER_FROM
    step = 0
    for e in range(lrs.shape[0]):
        perm = perms[e % perms.shape[0]]
        epoch_total = T(0)
        # the epoch's batches (then, with VALIDATION, the validation batches: forward and loss only)
        for bi in range(n_batches + n_val_batches):
            lo = bi * batch_size
            # not min(): a compiled call
            mb = batch_size if lo + batch_size <= n_rows else n_rows - lo
            step_size = scalars[step, 0]
            bias_correction2_sqrt = scalars[step, 1]
            one_minus_beta1 = scalars[step, 2]
            one_minus_beta2 = scalars[step, 3]
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
                    np.dot(x, w.T, y)
                    # 1*b.T
                    for r in range(y.shape[0]):
                        for j in range(y.shape[1]):
                            y[r, j] += b[j]
                elif op == 1:
                    # tanh_forward, inlined
                    x_in = view1(AV, in_offset, mb * n_in)
                    y_out = view1(AV, out_offset, mb * n_out)
                    for i in range(x_in.shape[0]):
                        tanh_forward__x = x_in[i]
                        y_out[i] = vtanh(tanh_forward__x)
            # the loss: the batch's mean, and the gradient of the outputs
            # mse_value_and_grad, inlined: the batch's mean loss (elements) and its gradient
            z_in = view1(AV, z_offset, mb * n_last)
            t_in = view1(AV, t_offset, mb * n_t)
            grad_z = view1(GV, z_offset, mb * n_last)
            n = T(z_in.shape[0])
            total = T(0)
            for i in range(z_in.shape[0]):
                z = z_in[i]
                t = t_in[i]
                total += (-t + z)*(-t + z)
                grad_z[i] = (-T(2)*t + T(2)*z)/n
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
                            np.dot(gy2.T, dense_grad_params__x, grad_w)
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
                                np.dot(gy2, dense_grad_input__w, grad_x)
                        if per_layer:
                            u_offset = w_offset
                            u_size = b_offset + n_out - w_offset
                    elif li > grad_from:
                        if op == 1:
                            # tanh_backward, inlined
                            tanh_backward__x_in = view1(AV, in_offset, mb * n_in)
                            y_in = view1(AV, out_offset, mb * n_out)
                            grad_y = view1(GV, out_offset, mb * n_out)
                            tanh_backward__grad_x = view1(GV, in_offset, mb * n_in)
                            for i in range(tanh_backward__x_in.shape[0]):
                                tanh_backward__y = y_in[i]
                                g = grad_y[i]
                                tanh_backward__grad_x[i] = g*(T(1) - tanh_backward__y*tanh_backward__y)
                if u_size > 0:
                    # adam_step, inlined: elementwise
                    param = view1(P, u_offset, u_size)
                    grad = view1(D, u_offset, u_size)
                    exp_avg = view1(S[0], u_offset, u_size)
                    exp_avg_sq = view1(S[1], u_offset, u_size)
                    adam_step__beta2 = beta2
                    adam_step__eps = eps
                    adam_step__weight_decay = weight_decay
                    adam_step__step_size = step_size
                    adam_step__bias_correction2_sqrt = bias_correction2_sqrt
                    adam_step__one_minus_beta1 = one_minus_beta1
                    adam_step__one_minus_beta2 = one_minus_beta2
                    adam_step__beta2 = T(adam_step__beta2)
                    adam_step__eps = T(adam_step__eps)
                    adam_step__weight_decay = T(adam_step__weight_decay)
                    adam_step__step_size = T(adam_step__step_size)
                    adam_step__bias_correction2_sqrt = T(adam_step__bias_correction2_sqrt)
                    adam_step__one_minus_beta1 = T(adam_step__one_minus_beta1)
                    adam_step__one_minus_beta2 = T(adam_step__one_minus_beta2)
                    for i in range(param.shape[0]):
                        p = param[i]
                        adam_step__g = grad[i]
                        m = exp_avg[i]
                        v = exp_avg_sq[i]
                        # weight decay (L2, added to the gradient)
                        if adam_step__weight_decay != T(0):
                            adam_step__g = adam_step__g + p*adam_step__weight_decay
                        # first moment: lerp(m, g, 1 - beta1)
                        if adam_step__one_minus_beta1 < T(0.5):
                            m = m + adam_step__one_minus_beta1*(adam_step__g - m)
                        else:
                            m = adam_step__g - (T(1) - adam_step__one_minus_beta1)*(adam_step__g - m)
                        # second moment: beta2*v, plus ((1 - beta2)*g)*g
                        v = adam_step__beta2*v + adam_step__g*(adam_step__g*adam_step__one_minus_beta2)
                        # denominator
                        denom = adam_step__eps + math.sqrt(v)/adam_step__bias_correction2_sqrt
                        # update
                        p = p - m*adam_step__step_size/denom
                        param[i] = p
                        exp_avg[i] = m
                        exp_avg_sq[i] = v
            step += 1
        losses[e] = epoch_total / T(n_rows)
