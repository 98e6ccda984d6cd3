"""`Sequential.fit` as one compiled loop: whole epochs in one call, no Python per batch.

`fused_fit` finds the fit's spec (symnn.runtime.fused.spec), the model's session (its module, layout
and flat arrays: symnn.runtime.fused.session) and runs the loop in chunks of epochs, one compiled
call per chunk, keeping the weights of the last finite chunk if training diverges.

Numbers: the same as the per-layer loop, which this reproduces (the matrix products may run in
NumPy's OpenBLAS where the per-layer kernels' np.dot runs SciPy's, which can round a product
differently in the last bit; measured on the tests' cases: at most 2.2e-16 in float64, one float32
ulp, often exactly equal): the same permutations (per epoch those of `default_rng(seed)`, drawn
bit for bit as NumPy draws them: symnn.runtime.fused.orders),
batches, kernels and per-step scalars; the epoch loss is the batch means weighted by batch size.
One difference, in the last bit: the per-step scalars are computed here on arrays of step counts,
where NumPy takes Adam's `bias_correction2 ** 0.5` as a square root, and per step in Python floats,
where it is C's `pow` (as in torch); the two differ in the last bit for about 0.5% of step counts
past ~1000, so long float64 runs of the two paths differ by ~1e-15 (measured: 1.8e-15 after 2800 steps).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from numba.core.errors import NumbaError

from symnn.errors import TrainingDiverged, UserInputError
from symnn.runtime.fused import loader, template
from symnn.runtime.fused.orders import Orders
from symnn.runtime.fused.session import Session, session_for
from symnn.runtime.fused.spec import spec_and_inputs, spec_key, unsupported
from symnn.runtime.monitor import EpochEnd
from symnn.runtime.validation import all_finite

#: At most this many permutation entries per call (8 MB of int64): epochs are run in chunks.
_CHUNK_ENTRIES = 1 << 20
#: Chunks are sized to take about this long (the first call runs one epoch, and compiles).
_CALL_SECONDS = 0.25


def fused_fit(model, X: np.ndarray, T: np.ndarray, optimizer, epochs: int, batch_size: int,
              shuffle: bool, seed: int | None, schedule=None, verbose: bool = False,
              required: bool = False, end: EpochEnd | None = None) -> list[float] | None:
    """Train `model` in place on prepared X, T (model dtype, C order); the loss per epoch.

    None when the fused loop does not cover the fit (then nothing was changed), and the caller
    runs its per-layer loop; with `required` (fit's fused=True), a UserInputError saying why.
    Empty data or zero epochs also return None: there is nothing worth compiling for.
    `end`: the fit's end-of-epoch work (validation, callback, early stopping; symnn.runtime.monitor):
    the loop evaluates the validation data itself after each epoch; where a callback or early stopping
    must run, it returns after every epoch, the model's parameters current. The epoch losses (and
    validation metrics) go into its history as they are made.
    """
    n = X.shape[0]
    if n == 0 or epochs == 0:
        return None
    batch_size = min(batch_size, n)  # the workspace is sized by the batch: never by more rows than there are
    n_val = end.validation[0].shape[0] if end is not None and end.validation is not None else 0
    val_batch = min(n_val, max(batch_size, template.VALIDATION_BATCH)) or 1
    spec, inputs = spec_and_inputs(model, optimizer)
    params = model.parameters()
    why = unsupported(model, optimizer, spec, params)
    if why is None and loader.unbuildable:
        why = loader.unbuildable.get(spec_key(spec))
    if why is None:
        try:
            sess = session_for(model, spec, max(batch_size, val_batch), T.shape[1], validation=n_val > 0)
        except OSError as exc:
            why = f"the fused loop cannot be written to the cache folder ({exc})"
        except (ImportError, NumbaError) as exc:
            why = loader.not_built(spec, exc)
    if why is None:
        sess.spec_inputs, sess.spec = inputs, spec
        state = None
        if [p.shape for p in params] != sess.layout.shapes:
            why = "a parameter array's shape is not its layer's; assign arrays of the layer's shape"
        else:
            state = sess.state_in(optimizer, params)
            why = None if state is not None else "the optimizer's state is not uniform over the parameters"
    if why is not None:
        if required:
            raise UserInputError(f"fused=True, but {why}; pass fused=None to fall back")
        if not why.startswith(loader.NOT_BUILT):  # (that one has warned once already)
            warnings.warn(f"symnn: fit trains with the per-layer kernels (slower), because {why}", RuntimeWarning,
                          stacklevel=3)
        return None
    try:
        return _run(sess, model, X, T, params, optimizer, inputs[-1], state, epochs, batch_size, shuffle, seed,
                    schedule, verbose, end, val_batch)
    except NumbaError as exc:  # raised only by compiling (before any step): nothing was changed
        why = loader.not_built(spec, exc)
        if required:
            raise UserInputError(f"fused=True, but {why}; pass fused=None to fall back") from None
        return None


def _diagnosis(model, X: np.ndarray, params: list[np.ndarray], sess: Session) -> str | None:
    """Which layer made the outputs non-finite, found as the per-layer loop finds it: a forward pass
    over the data with the weights kept (those before the chunk that diverged); None if it is finite."""
    for p, view in zip(params, sess.param_views):
        np.copyto(p, view)
    ws = model._forward(X)
    return None if all_finite(ws.values[-1]) else model._non_finite_cause(ws)


def _progress(epochs: int):
    """A progress bar over the epochs (its module is imported only when one is asked for)."""
    from symnn.runtime.progress import Progress

    return Progress(epochs)


def _validation_arrays(mod, end: EpochEnd | None, X: np.ndarray, T: np.ndarray, val_batch: int,
                       most: int) -> dict[str, np.ndarray]:
    """The arguments of a loop with validation code (`mod.VALIDATION`; none for one without): the
    validation rows (none where the fit has none), their labels where val_accuracy is kept, and room
    for `most` epochs' losses and right predictions."""
    if not getattr(mod, "VALIDATION", False):
        return {}
    labels = np.empty(0, np.int64)
    if end is None or end.validation is None:
        vx, vt, most = X[:0], T[:0], 0
    else:
        vx, vt = (np.ascontiguousarray(a, X.dtype) for a in end.validation)
        if end.labels is not None:  # as int64, -1 where no prediction (a class index) can equal the label
            values = np.asarray(end.labels, np.float64)
            whole = (values == np.round(values)) & (np.abs(values) < 2.0 ** 62)
            labels = np.where(whole, values, -1).astype(np.int64)
    return {"XV": vx, "YV": vt, "VL": labels, "val_batch": val_batch, "val_losses": np.empty(most, X.dtype),
            "val_hits": np.zeros(most, np.int64)}


def _run(sess: Session, model, X: np.ndarray, T: np.ndarray, params: list[np.ndarray], optimizer, plan,
         state: tuple[int, bool, bool], epochs: int, batch_size: int, shuffle: bool, seed: int | None,
         schedule, verbose: bool, end: EpochEnd | None, val_batch: int) -> list[float]:
    """The fit itself, in chunks of epochs: one compiled call per chunk (of one epoch where `end`
    has work after each); `plan`: the optimizer's (spec.plan_of), as the spec was found from it."""
    t0, created, in_place = state
    n = X.shape[0]
    mod, layout, P, S = sess.mod, sess.layout, sess.P, sess.S
    roles = mod.ROLES
    dtype = model.dtype
    np.concatenate([p.reshape(-1) for p in params], out=P)  # the layout's order, back to back
    hyper, AP, LP = sess.constants(plan, model)
    n_batches = -(-n // batch_size)
    most = max(1, min(epochs, _CHUNK_ENTRIES // max(n, n_batches * max(1, len(roles["per_step"])))))
    perms = np.empty((most if shuffle else 1, n), np.int64)
    if not shuffle:
        perms[0] = np.arange(n)
    orders = Orders(seed, n) if shuffle else None  # default_rng(seed)'s permutations
    losses = np.empty(most, dtype)
    history: list[float] = end.history["loss"] if end is not None else []
    every_epoch = end is not None and end.active
    validation = _validation_arrays(mod, end, X, T, val_batch, most)
    progress = _progress(epochs) if verbose else None
    step, done, chunk = t0, 0, 1
    try:
        while done < epochs:
            k = min(chunk, epochs - done)
            lrs = np.empty(k, np.float64)
            for i in range(k):
                if schedule is not None:
                    optimizer.lr = schedule.lr(done + i)
                lrs[i] = optimizer.lr
            if orders is not None:
                orders.fill(perms[:k])
            scalars = sess.scalars.rows(plan, lrs, n_batches, step, created and step == t0, dtype)
            if S.shape != sess.S_before.shape:  # state_in gave S a fresh array of its shape
                sess.S_before = np.empty_like(S)
            np.copyto(sess.P_before, P)
            np.copyto(sess.S_before, S)
            start = time.perf_counter()
            args = {"X": X, "Y": T, "perms": perms[:k] if shuffle else perms, "lrs": lrs.astype(dtype),
                    "scalars": scalars, "hyper": hyper, "batch_size": batch_size, "losses": losses[:k],
                    "prog": layout.prog, "P": P, "D": sess.D, "S": S, "AV": sess.AV, "GV": sess.GV, "AP": AP, "LP": LP,
                    "grad_from": layout.grad_from,
                    **validation}
            args = [args[name] for name in mod.PARAMETERS]  # the template's, those the loop reads
            if loader.compiled(mod.train_epochs):
                mod.train_epochs(*args)
            else:  # the first call compiles or loads it
                with loader.collector_paused():
                    mod.train_epochs(*args)
            seconds = time.perf_counter() - start
            epoch_losses = losses[:k].tolist()  # (Python floats: float32's exactly)
            if not (all(map(math.isfinite, epoch_losses)) and all_finite(P)):
                np.copyto(P, sess.P_before)  # back to the weights (and state) before this call
                np.copyto(S, sess.S_before)
                bad = next((i for i, v in enumerate(epoch_losses) if not np.isfinite(v)), k - 1)
                value = epoch_losses[bad] if not np.isfinite(epoch_losses[bad]) else float("nan")
                cause = _diagnosis(model, X, params, sess) or (
                    "the weights became non-finite" if np.isfinite(epoch_losses[bad]) else
                    "the outputs grew until the loss overflowed")
                so_far = dict(end.history) if end is not None else {"loss": history}
                raise TrainingDiverged.at(done + bad + 1, value, float(lrs[bad]), {k: list(v) for k, v in so_far.items()},
                                          cause, kept_epoch=done)
            step, done = step + k * n_batches, done + k
            history += epoch_losses
            if end is not None and end.validation is not None:
                end.record_validation(validation["val_losses"][:k].astype(np.float64).tolist(),
                                      validation["val_hits"][:k].tolist())
            if progress is not None:
                progress.update(done, history[-1])
            if every_epoch:
                for p, view in zip(params, sess.param_views):
                    np.copyto(p, view)
                if end.after_epoch(done - 1, params, validated=True):
                    break
                continue
            # About _CALL_SECONDS per call: progress and Ctrl-C stay responsive, calls stay few.
            chunk = max(1, min(most, int(k * _CALL_SECONDS / max(seconds, 1e-9))))
    finally:
        if progress is not None:
            progress.close()
        for p, view in zip(params, sess.param_views):
            np.copyto(p, view)
        if step > t0:
            sess.state_out(optimizer, params, step, in_place)
    return history


__all__ = ["fused_fit"]
