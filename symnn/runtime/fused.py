"""`Sequential.fit` as one compiled loop: whole epochs in one call, no Python per batch.

The loop's module is put together by `symnn.codegen.emit_fused` from the generated kernels (no
SymPy), written into `<cache>/fused/fused_<hash of its text>.py` and compiled once by Numba, whose
own cache sits beside it. Its text depends only on the activations used, the loss and the optimizer
kernel, so one compiled loop (per dtype) serves every depth and width. The network is passed as
data (see emit_fused): the parameters are copied into one flat array for the run and back at the
end; the optimizer's state lives in the rows of one array, and the optimizer's state arrays are
left as views of them, so a later per-layer `optimizer.step` continues exactly where the fused run
stopped and the next fused fit finds the state in place. What stays the same from fit to fit (module,
layout, arrays, the spec, the per-step scalars of a block of steps ahead) is kept on the model
(`_Session`), so fitting one epoch per call costs little more than the compiled loop. A new process
loads the compiled loop from Numba's cache without Numba's set-up of its compiler (warm_start).

Numbers: the same as the per-layer loop, which this reproduces (the matrix products may run in
NumPy's OpenBLAS where the per-layer kernels' np.dot runs SciPy's, which can round a product
differently in the last bit; measured on the tests' cases: at most 2.2e-16 in float64, one float32
ulp, often exactly equal): the same permutations
(drawn here per epoch from `default_rng(seed)`), batches, kernels and per-step scalars; the epoch
loss is the batch means weighted by batch size. The batch mean loss is summed in the model's dtype
(the per-layer path sums it in float64), which differs only in float32, by rounding. One more
difference, in the last bit: the per-step scalars are computed here on arrays of step counts, where
NumPy takes Adam's `bias_correction2 ** 0.5` as a square root, and per step in Python floats, where
it is C's `pow` (as in torch); the two differ in the last bit for about 0.5% of step counts past
~1000, so long float64 runs of the two paths differ by ~1e-15 (measured: 1.8e-15 after 2800 steps).
"""

from __future__ import annotations

import hashlib
import math
import operator
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from numba.core.errors import NumbaError

from symnn.atomic import write_text
from symnn.codegen.emit_fused import fused_module
from symnn.errors import TrainingDiverged, UserInputError
from symnn.runtime import blas, kernels
from symnn.runtime.cache import CorruptCacheModule, cache_dir, import_file
from symnn.runtime.layers import Activation, Dense
from symnn.runtime.validation import all_finite

#: At most this many permutation entries per call (8 MB of int64): epochs are run in chunks.
_CHUNK_ENTRIES = 1 << 20
#: Chunks are sized to take about this long (the first call runs one epoch, and compiles).
_CALL_SECONDS = 0.25

_modules: dict[str, ModuleType] = {}
_by_spec: dict[str, ModuleType] = {}
#: Specs whose loop this Numba would not build (spec key -> why): fits of them run per layer.
_unbuildable: dict[tuple, str] = {}


def _optimizer_kernel(optimizer: object) -> str | None:
    """The optimizer's kernel name ("adam_step"), if it is one of the built-in classes."""
    from symnn.runtime import optimizers as opt

    # One of symnn's own optimizer classes (a user's subclass may change what a step does), for a
    # generated optimizer module: a new optimizer is fused once its module is generated.
    if type(optimizer).__module__ != opt.__name__ or getattr(optimizer, "module", "") not in \
            kernels.builtin_names("optimizers"):
        return None
    variant = optimizer._variant()
    return f"{optimizer.module}_{variant}_step" if variant else f"{optimizer.module}_step"


def spec_of(model, optimizer) -> dict | None:
    """The fused spec of a model and optimizer: {"layers", "loss", "optimizer", "dtype"}, or None."""
    return _spec_and_inputs(model, optimizer)[0]


def _spec_and_inputs(model, optimizer) -> tuple[dict | None, tuple]:
    """The spec, and what it was found from (the session's, when those are the same)."""
    sess = getattr(model, "_fused_session", None)
    inputs = _spec_inputs(model, optimizer)
    if sess is not None and _same(sess.spec_inputs, inputs):
        return sess.spec, inputs
    return _spec(model, optimizer), inputs


def _spec_inputs(model, optimizer) -> tuple:
    """What a model's spec is made of, compared by identity and value: when these are the same
    objects with the same options, so is the spec (layers keep their sizes and names)."""
    return (*model.layers, model.loss_fn, model.dtype, type(optimizer), optimizer._variant())


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))


def _spec(model, optimizer) -> dict | None:
    layers: list[tuple] = []
    builtin = kernels.builtin_names("activations")
    for layer in model.layers:
        if type(layer) is Dense:
            layers.append(("dense", layer.n_in, layer.n_out))
        elif type(layer) is Activation and layer.name in builtin:
            layers.append(("activation", layer.name))
        else:
            return None
    kernel = _optimizer_kernel(optimizer)
    if kernel is None or model.loss_fn.name not in kernels.builtin_names("losses") or not layers or layers[0][0] != "dense":
        return None
    return {"layers": layers, "loss": model.loss_fn.name, "optimizer": kernel, "dtype": model.dtype.name}


def module_path(source: str) -> Path:
    """Where a fused module's text lives in the cache folder: named by its hash."""
    key = hashlib.sha256(source.encode()).hexdigest()[:24]
    return cache_dir() / "fused" / f"fused_{key}.py"


def load_module(spec: dict) -> ModuleType:
    """The fused module of a spec, written into the cache folder if it is not there yet.

    Remembered per spec for the process: a fit of one epoch at a time pays no text generation.
    The matrix products call NumPy's OpenBLAS directly where it is there (symnn.runtime.blas),
    `np.dot` (SciPy's OpenBLAS) otherwise.
    """
    key = _spec_key(spec)
    if key not in _by_spec:
        mod = None
        if blas.numpy_openblas() is not None:
            try:
                mod = _load_source(fused_module(spec, direct_gemm=True))
            except ImportError:
                mod = None
        _by_spec[key] = mod or _load_source(fused_module(spec))
    return _by_spec[key]


def _spec_key(spec: dict) -> tuple:
    return (tuple(tuple(layer) for layer in spec["layers"]), spec["loss"], spec["optimizer"], spec["dtype"])


def _load_source(source: str) -> ModuleType:
    path = module_path(source)
    if path.stem not in _modules:
        if not path.is_file() or path.read_bytes() != source.encode("utf-8"):  # missing, or damaged
            write_text(path, source)
        try:
            _modules[path.stem] = import_file(path, f"symnn_{path.stem}")
        except CorruptCacheModule:  # changed under us after the check: removed, written again
            write_text(path, source)
            _modules[path.stem] = import_file(path, f"symnn_{path.stem}")
    return _modules[path.stem]


class _Layout:
    """The network as data: the layer program, and offsets into the flat arrays."""

    def __init__(self, model, mod: ModuleType, batch_size: int, n_targets: int) -> None:
        ops = {name: i + 1 for i, name in enumerate(mod.ACTIVATIONS)}
        rows, self.offsets = [], []
        self.shapes: list[tuple[int, ...]] = []  # of the parameters, in parameters() order
        p_off = 0
        a_off = [0]
        for w in model.widths[:-1]:
            a_off.append(a_off[-1] + batch_size * w)
        for i, layer in enumerate(model.layers):
            n_in, n_out = model.widths[i], model.widths[i + 1]
            w_off = b_off = 0
            if isinstance(layer, Dense):
                w_off, b_off = p_off, p_off + n_in * n_out
                self.offsets += [w_off, b_off]
                self.shapes += [(n_out, n_in), (n_out,)]
                p_off = b_off + n_out
            rows.append((0 if isinstance(layer, Dense) else ops[layer.name], n_in, n_out, a_off[i],
                         a_off[i + 1], w_off, b_off))
        self.prog = np.array(rows, dtype=np.int64).reshape(-1, len(mod.PROG_COLUMNS))
        self.n_params = p_off
        self.workspace = a_off[-1] + batch_size * model.widths[-1] + batch_size * n_targets


class _Session:
    """What one model's fused fits keep from call to call: the module, layout and flat arrays.

    Kept on the model, so that fitting one epoch at a time (evaluating between epochs) does not pay
    for them again. The optimizer's state stays in the rows of S between fits: its state arrays are
    views of S (written back that way), so the next fit finds them in place and copies nothing, and
    a per-layer `optimizer.step` in between updates S itself.
    """

    def __init__(self, key: tuple, mod: ModuleType, model, batch_size: int, n_targets: int) -> None:
        self.key, self.mod = key, mod
        self.layout = layout = _Layout(model, mod, batch_size, n_targets)
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
        self.scalars = _StepScalars()
        self.batch_sizes: dict[int, np.ndarray] = {}  # rows -> the size of each batch

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
        if self.owner() is not optimizer:
            self.S = np.empty_like(self.S)  # S may back another optimizer's state: never overwrite it
            self.owner, self.views = weakref.ref(optimizer), []
        if not state:
            for k, name in enumerate(names):
                self.S[k] = optimizer._initial(name)
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
                self.S[k, off:off + p.size] = s[name] if name in s else optimizer._initial(name)
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


def _session(model, spec: dict, batch_size: int, n_targets: int) -> _Session:
    """The model's fused session for this spec and batch shape, made anew when either changed."""
    sess = getattr(model, "_fused_session", None)
    if sess is not None and sess.spec is spec and sess.key[1:] == (batch_size, n_targets):
        return sess  # the spec it was made for (spec_of found the same inputs)
    key = (_spec_key(spec), batch_size, n_targets)
    if sess is None or sess.key != key:
        sess = _Session(key, load_module(spec), model, batch_size, n_targets)
        model._fused_session = sess
    return sess


def _per_step(optimizer, names: tuple[str, ...], lrs: np.ndarray, t0: int, created: bool,
              dtype: np.dtype) -> np.ndarray:
    """One row per step (lrs: its learning rate) of the kernel's step-dependent scalars, computed
    as `optimizer.step` does, for the steps after t0."""
    steps = lrs.shape[0]
    out = np.empty((steps, len(names)), dtype)
    if not names:
        return out
    module = kernels.generated(f"optimizers.{optimizer.module}")
    results: dict[str, object] = {}
    if module.STEP_SCALARS:
        values = optimizer._scalars()
        values["lr"] = lrs
        values["t"] = np.arange(t0 + 1, t0 + steps + 1, dtype=np.float64)
        fn = getattr(module, f"{optimizer.module}_scalars")
        results = dict(zip(module.STEP_SCALARS, fn(*(values[k] for k in module.STEP_INPUTS))))
    for k, name in enumerate(names):
        if name == "first":
            out[:, k] = 0
            out[0, k] = 1 if created else 0
        else:
            out[:, k] = results[name]
    return out


class _StepScalars:
    """The per-step scalar rows at a constant learning rate, computed a block of steps ahead and
    kept: fitting one epoch per call then takes a slice instead of NumPy calls every time. Each
    row depends only on its step count and the options, so a row is the same from any block."""

    BLOCK = 4096

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.t0 = 0  # self.table[i] is step t0 + 1 + i
        self.table = np.empty((0, 0))

    def rows(self, optimizer, names: tuple[str, ...], lrs: np.ndarray, n_batches: int, t0: int,
             created: bool, dtype: np.dtype) -> np.ndarray:
        """The rows of the next `lrs.shape[0]` epochs (lrs: per epoch) of n_batches steps each."""
        steps = lrs.shape[0] * n_batches
        lr = lrs[0]
        if (created and "first" in names) or (lrs.shape[0] > 1 and not (lrs == lr).all()):
            return _per_step(optimizer, names, np.repeat(lrs, n_batches), t0, created, dtype)
        key = (optimizer.module, names, dtype, float(lr), tuple(optimizer._scalars().items()))
        if key != self.key or not self.t0 <= t0 <= t0 + steps <= self.t0 + self.table.shape[0]:
            block = max(steps, self.BLOCK)
            self.table = _per_step(optimizer, names, np.full(block, lr), t0, False, dtype)
            self.key, self.t0 = key, t0
        return self.table[t0 - self.t0:t0 - self.t0 + steps]


def unsupported(model, optimizer, validation: object = None, callback: object = None,
                spec: dict | None = None, params: list[np.ndarray] | None = None) -> str | None:
    """Why the fused loop cannot run this fit, or None if it can (`spec`: spec_of, and `params`:
    the model's parameters, if known)."""
    if validation is not None or callback is not None:
        return "validation data and callbacks need Python between epochs"
    if (spec or spec_of(model, optimizer)) is None:
        return ("the fused loop covers Dense layers, built-in activations and losses, and the "
                "built-in optimizers")
    dtype = model.dtype
    for p in model.parameters() if params is None else params:
        flags = p.flags
        if p.dtype != dtype or not (flags.c_contiguous and flags.writeable):
            return "a parameter array is not a writeable C-contiguous array of the model's dtype"
    return None


def fused_fit(model, X: np.ndarray, T: np.ndarray, optimizer, epochs: int, batch_size: int,
              shuffle: bool, seed: int | None, schedule=None, verbose: bool = False,
              required: bool = False, validation: object = None, callback: object = None
              ) -> list[float] | None:
    """Train `model` in place on prepared X, T (model dtype, C order); the loss per epoch.

    None when the fused loop does not cover the fit (then nothing was changed), and the caller
    runs its per-layer loop; with `required` (fit's fused=True), a UserInputError saying why.
    Empty data or zero epochs also return None: there is nothing worth compiling for.
    """
    n = X.shape[0]
    if n == 0 or epochs == 0:
        return None
    batch_size = min(batch_size, n)  # the workspace is sized by the batch: never by more rows than there are
    spec, inputs = _spec_and_inputs(model, optimizer)
    params = model.parameters()
    why = unsupported(model, optimizer, validation, callback, spec, params)
    if why is None and _unbuildable:
        why = _unbuildable.get(_spec_key(spec))
    if why is None:
        try:
            sess = _session(model, spec, batch_size, T.shape[1])
        except OSError as exc:
            why = f"the fused loop cannot be written to the cache folder ({exc})"
        except (ImportError, NumbaError) as exc:
            why = _not_built(spec, exc)
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
        return None
    try:
        return _run(sess, model, X, T, params, optimizer, state, epochs, batch_size, shuffle, seed,
                    schedule, verbose)
    except NumbaError as exc:  # raised only by compiling (before any step): nothing was changed
        why = _not_built(spec, exc)
        if required:
            raise UserInputError(f"fused=True, but {why}; pass fused=None to fall back") from None
        return None


def _not_built(spec: dict, exc: Exception) -> str:
    """Remember that this Numba does not build the spec's loop (it uses some of Numba's internal
    API, which a later Numba may change), warn once, and say why."""
    import numba

    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    why = f"the fused loop does not build with Numba {numba.__version__} ({type(exc).__name__}: {detail})"
    _unbuildable[_spec_key(spec)] = why
    warnings.warn(f"symnn: {why}; training with the per-layer kernels instead (slower)", RuntimeWarning,
                  stacklevel=4)
    return why


def _progress(epochs: int):
    """A progress bar over the epochs (its module is imported only when one is asked for)."""
    from symnn.runtime.progress import Progress

    return Progress(epochs)


def _run(sess: _Session, model, X: np.ndarray, T: np.ndarray, params: list[np.ndarray], optimizer,
         state: tuple[int, bool, bool], epochs: int, batch_size: int, shuffle: bool, seed: int | None,
         schedule, verbose: bool) -> list[float]:
    """The fit itself, in chunks of epochs: one compiled call per chunk."""
    t0, created, in_place = state
    n = X.shape[0]
    mod, layout, P, S = sess.mod, sess.layout, sess.P, sess.S
    roles = mod.ROLES
    dtype = model.dtype
    np.concatenate([p.reshape(-1) for p in params], out=P)  # the layout's order, back to back
    hyper_values = optimizer._scalars()
    hyper = np.array([hyper_values[k] for k in roles["hyper"]], dtype)
    n_batches = -(-n // batch_size)
    sizes = sess.batch_sizes.get(n)
    if sizes is None:
        sizes = sess.batch_sizes[n] = np.full(n_batches, batch_size, np.float64)
        sizes[-1] = n - batch_size * (n_batches - 1)
    most = max(1, min(epochs, _CHUNK_ENTRIES // max(n, n_batches * max(1, len(roles["per_step"])))))
    perms = np.empty((most if shuffle else 1, n), np.int64)
    if not shuffle:
        perms[0] = np.arange(n)
    rng = np.random.default_rng(seed) if shuffle else None
    losses = np.empty((most, n_batches), dtype)
    history: list[float] = []
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
                if shuffle:
                    perms[i] = rng.permutation(n)
            scalars = sess.scalars.rows(optimizer, roles["per_step"], lrs, n_batches, step,
                                        created and step == t0, dtype)
            if S.shape != sess.S_before.shape:  # state_in gave S a fresh array of its shape
                sess.S_before = np.empty_like(S)
            np.copyto(sess.P_before, P)
            np.copyto(sess.S_before, S)
            start = time.perf_counter()
            mod.train_epochs(X, T, perms[:k] if shuffle else perms, lrs.astype(dtype), scalars, hyper,
                             batch_size, losses[:k], layout.prog, P, sess.D, S, sess.AV, sess.GV)
            seconds = time.perf_counter() - start
            epoch_losses = (np.dot(losses[:k].astype(np.float64), sizes) / n).tolist() if k > 1 else [
                float(np.dot(losses[0].astype(np.float64), sizes)) / n]
            if not (all(map(math.isfinite, epoch_losses)) and all_finite(P)):
                np.copyto(P, sess.P_before)  # back to the weights (and state) before this call
                np.copyto(S, sess.S_before)
                bad = next((i for i, v in enumerate(epoch_losses) if not np.isfinite(v)), k - 1)
                value = epoch_losses[bad] if not np.isfinite(epoch_losses[bad]) else float("nan")
                cause = "the weights became non-finite" if np.isfinite(epoch_losses[bad]) else \
                    "the outputs grew until the loss overflowed"
                raise TrainingDiverged.at(done + bad + 1, value, float(lrs[bad]), {"loss": list(history)}, cause,
                               kept_epoch=done)
            step, done = step + k * n_batches, done + k
            history += epoch_losses
            if progress is not None:
                progress.update(done, history[-1])
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


__all__ = ["fused_fit", "load_module", "module_path", "spec_of", "unsupported"]
