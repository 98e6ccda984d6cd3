"""What one model's fused fits keep from call to call: the layout of the network as data, the flat
arrays, the optimizer's state in place, and the per-step scalars of a block of steps ahead.

The network is passed to the loop as data: the parameters are copied into one flat array P for the run
(each W then b, in `Sequential.parameters()` order) and back at the end, their gradients are D, the
layers' inputs and their gradients blocks of the flat workspaces AV and GV (batch_size rows per layer
input, or the validation batch's where larger; one block shared by the dense outputs no backward
kernel reads; the batch's targets in a last block of AV), and the
optimizer's state the rows of S. The optimizer's state arrays are left as views of S, so a later
per-layer `optimizer.step` continues exactly where the fused run stopped and the next fused fit finds
the state in place.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable
from types import ModuleType

import numpy as np

from symnn.runtime.fused.loader import load_module
from symnn.runtime.fused.spec import spec_key
from symnn.runtime.layers import Dense


class Layout:
    """The network as data: the layer program, and offsets into the flat arrays."""

    def __init__(self, model, spec: dict, mod: ModuleType, block_rows: int, n_targets: int) -> None:
        ops = {name: i + 1 for i, name in enumerate(mod.ACTIVATIONS)}
        rows, self.offsets = [], []
        self.shapes: list[tuple[int, ...]] = []  # of the parameters, in parameters() order
        p_off = n_values = 0
        # A dense layer's output that only an activation of BACKWARD_FROM_OUTPUT reads is dead once that
        # activation has run (forward) and once the dense layer has read its gradient (backward): all such
        # values share one scratch block, in AV and in GV, so the loop touches less memory.
        from_output = set(getattr(mod, "BACKWARD_FROM_OUTPUT", ()))
        scratch = {i for i in range(1, len(model.layers)) if isinstance(model.layers[i - 1], Dense)
                   and not isinstance(model.layers[i], Dense) and spec["layers"][i][1] in from_output}
        a_off, off = [], 0
        for i, w in enumerate(model.widths[:-1]):
            a_off.append(off)
            off += 0 if i in scratch else block_rows * w
        for i in scratch:
            a_off[i] = off
        off += block_rows * max((model.widths[i] for i in scratch), default=0)
        a_off.append(off)  # the outputs, then the targets
        for i, layer in enumerate(model.layers):
            n_in, n_out = model.widths[i], model.widths[i + 1]
            w_off = b_off = 0
            if isinstance(layer, Dense):
                w_off, b_off = p_off, p_off + n_in * n_out
                self.offsets += [w_off, b_off]
                self.shapes += [(n_out, n_in), (n_out,)]
                p_off = b_off + n_out
            rows.append((0 if isinstance(layer, Dense) else ops[spec["layers"][i][1]], n_in, n_out, a_off[i],
                         a_off[i + 1], w_off, b_off, n_values))
            n_values += len(getattr(layer, "values", ()))
        self.prog = np.array(rows, dtype=np.int64).reshape(-1, len(mod.PROG_COLUMNS))
        self.grad_from = model._first_with_gradient()  # the loop's backward pass ends there
        self.n_params = p_off
        self.workspace = a_off[-1] + block_rows * (model.widths[-1] + n_targets)


class Session:
    """What one model's fused fits keep from call to call: the module, layout and flat arrays.

    Kept on the model, so that fitting one epoch at a time (evaluating between epochs) does not pay
    for them again. The optimizer's state stays in the rows of S between fits: its state arrays are
    views of S (written back that way), so the next fit finds them in place and copies nothing, and
    a per-layer `optimizer.step` in between updates S itself.
    """

    def __init__(self, key: tuple, spec: dict, mod: ModuleType, model, rows: int, n_targets: int) -> None:
        self.key, self.mod = key, mod
        self.layout = layout = Layout(model, spec, mod, rows, n_targets)
        dtype = model.dtype
        self.P = np.empty(layout.n_params, dtype)
        self.param_views = [self.P[off:off + int(np.prod(shape))].reshape(shape)
                            for off, shape in zip(layout.offsets, layout.shapes)]
        self.D = np.zeros_like(self.P)
        self.AV = np.zeros(layout.workspace, dtype)
        self.GV = np.zeros_like(self.AV)
        self.S = np.empty((len(mod.ROLES["state"]), layout.n_params), dtype)
        self.P_before = np.empty_like(self.P)  # P and S before the current call: what a divergence keeps
        self.S_before = np.empty_like(self.S)
        self.owner: Callable[[], object] = lambda: None  # the optimizer whose state is in S (weakly)
        self.views: list[np.ndarray] = []  # the views of S handed to the owner's state, flat
        self.spec_inputs: tuple = ()  # what spec_of found the spec from (see _spec_inputs)
        self.spec: dict | None = None
        self.scalars = StepScalars()
        self._constants: tuple = ((), ())  # (what they were made from, (hyper, AP, LP))

    def serves(self, rows: int, n_targets: int, validation: bool) -> bool:
        """Whether this session's loop and workspace serve a fit of this shape: its own, or (a loop
        with validation code, which runs fits without validation data too) any with fewer rows, so
        fits with and without validation data take turns on one session."""
        _, own_rows, own_targets, own_validation = self.key
        return own_targets == n_targets and (own_rows == rows or own_validation and own_rows >= rows) and (
            own_validation or not validation)

    def constants(self, plan, model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The loop's fixed scalars: `hyper` (the plan's, in ROLES order), AP (the activations'
        parameters, in layer order) and LP (the loss's), made again when the plan or a value changed."""
        made_from = (plan, *(getattr(layer, "values", ()) for layer in model.layers),
                     getattr(model.loss_fn, "values", ()))
        if made_from != self._constants[0]:  # (the plan by identity first, then as a frozen dataclass)
            dtype = self.P.dtype
            values = plan.hyper_values()
            hyper = np.array([values[k] for k in self.mod.ROLES["hyper"]], dtype)
            AP = np.array([v for values in made_from[1:-1] for v in values], dtype)
            self._constants = made_from, (hyper, AP, np.array(made_from[-1], dtype))
        return self._constants[1]

    def state_in(self, optimizer, params: list[np.ndarray]) -> tuple[int, bool, bool] | None:
        """Put the optimizer's state into S: (its step count, whether it was created now, whether it
        was there already as views of S), or None if the state is not uniform over the parameters
        (the fused loop cannot continue it)."""
        names = self.mod.ROLES["state"]
        state = optimizer.state
        if self.owner() is optimizer and len(state) == len(params) and self.in_place(state):
            step = state[0]["step"]
            if all(s["step"] == step for s in state):
                return step, False, True  # the common case, fitting again
        initial = optimizer.plan().initial
        if self.owner() is not optimizer:
            self.S = np.empty_like(self.S)  # S may back another optimizer's state: never overwrite it
            self.owner, self.views = weakref.ref(optimizer), []
        if not state:
            for k, name in enumerate(names):
                self.S[k] = initial[name]
            return 0, True, False
        if len(state) != len(params):
            return None
        steps = {s["step"] for s in state}
        have = {all(name in s for name in names) for s in state}
        if len(steps) != 1 or len(have) != 1:
            return None
        created = not have.pop()
        if not created and self.in_place(state):
            return steps.pop(), False, True  # already in S, as the last fit left it
        for off, p, s in zip(self.layout.offsets, params, state):
            if s["size"] is not None and (s["size"], s["dtype"]) != (p.size, p.dtype):
                return None
            for k, name in enumerate(names):
                self.S[k, off:off + p.size] = s[name] if name in s else initial[name]
        return steps.pop(), created, False

    def in_place(self, state: list[dict]) -> bool:
        """Whether each state array is still the view of S that the last fit handed out."""
        names = self.mod.ROLES["state"]
        arrays = [s.get(name) for s in state for name in names]
        return len(arrays) == len(self.views) and all(map(operator.is_, arrays, self.views))

    def state_out(self, optimizer, params: list[np.ndarray], step: int, in_place: bool) -> None:
        """Leave the optimizer's state as its own `step` would have: views of S's rows
        (`in_place`: they are already, as state_in found them)."""
        if in_place:
            for s in optimizer.state:
                s["step"] = step
            return
        names = self.mod.ROLES["state"]
        while len(optimizer.state) < len(params):
            optimizer.state.append({"step": 0, "size": None, "dtype": None})
        self.views = []
        for off, p, s in zip(self.layout.offsets, params, optimizer.state):
            s.update(step=step, size=p.size, dtype=p.dtype)
            row = [self.S[k, off:off + p.size] for k in range(len(names))]
            s.update(zip(names, row))
            self.views += row


def session_for(model, spec: dict, rows: int, n_targets: int, validation: bool = False) -> Session:
    """The model's fused session for this spec, workspace shape (`rows` per layer block: the batch
    size, or the validation batch where larger) and loop (with the validation code or without),
    made anew when the one it has does not serve them (Session.serves)."""
    sess = getattr(model, "_fused_session", None)
    if sess is not None and sess.spec is spec and sess.serves(rows, n_targets, validation):
        return sess  # the spec it was made for (spec_of found the same inputs)
    key = (spec_key(spec), rows, n_targets, validation)
    if sess is None or sess.key[0] != key[0] or not sess.serves(rows, n_targets, validation):
        sess = Session(key, spec, load_module(spec | {"validation": True} if validation else spec), model, rows,
                       n_targets)
        model._fused_session = sess
    return sess


class StepScalars:
    """The per-step scalar rows at a constant learning rate, computed a block of steps ahead and
    kept: fitting one epoch per call then takes a slice instead of NumPy calls every time. Each
    row depends only on its step count and the options, so a row is the same from any block."""

    BLOCK = 4096

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.t0 = 0  # self.table[i] is step t0 + 1 + i
        self.table = np.empty((0, 0))

    def rows(self, plan, lrs: np.ndarray, n_batches: int, t0: int, created: bool, dtype: np.dtype) -> np.ndarray:
        """The rows of the next `lrs.shape[0]` epochs (lrs: per epoch) of n_batches steps each, for an
        optimizer's plan (symnn.runtime.optimizers.OptimizerPlan.step_table)."""
        steps = lrs.shape[0] * n_batches
        lr = lrs[0]
        if (created and "first" in plan.per_step) or (lrs.shape[0] > 1 and not (lrs == lr).all()):
            return plan.step_table(np.repeat(lrs, n_batches), t0, created).astype(dtype)
        key = (plan, dtype, float(lr))
        if key != self.key or not self.t0 <= t0 <= t0 + steps <= self.t0 + self.table.shape[0]:
            block = max(steps, self.BLOCK)
            self.table = plan.step_table(np.full(block, lr), t0, False).astype(dtype)
            self.key, self.t0 = key, t0
        return self.table[t0 - self.t0:t0 - self.t0 + steps]


__all__ = ["Layout", "Session", "StepScalars", "session_for"]
