"""Sequential: a stack of layers and a loss, trained with the generated kernels."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symnn.errors import TrainingDiverged, UserInputError
from symnn.runtime import kernels
from symnn.runtime import validation as checks
from symnn.runtime.layers import Activation, Dense
from symnn.runtime.losses import Loss, parse_choice
from symnn.runtime.monitor import EarlyStopping, EpochEnd, resolve_early_stopping

DTYPES = {"float32": np.float32, "float64": np.float64}


def as_dtype(dtype: str | type | np.dtype) -> np.dtype:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise UserInputError(f"unsupported dtype {dtype!r}; use float32 or float64")
    return np.dtype(DTYPES[name])


@dataclass(frozen=True)
class InputScaling:
    """Standardisation applied to every input row before the first layer: (X - mean) / std.

    `symnn train` fits it on the training rows and stores it in the model file; a loaded model
    applies it, so `symnn.load(path).predict(raw_X)` sees the inputs as training did.
    """

    mean: np.ndarray
    std: np.ndarray

    def apply(self, X: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return np.ascontiguousarray((X - self.mean) / self.std, dtype=dtype)

    def describe(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


class _Workspace:
    """Per-batch-size activations and gradients, allocated once and reused every batch."""

    def __init__(self, widths: list[int], n: int, dtype: np.dtype) -> None:
        self.values = [np.empty((n, w), dtype) for w in widths]  # values[0] is the input copy
        self.grads = [np.empty((n, w), dtype) for w in widths]


class Sequential:
    """Layers applied in order, then a loss with PyTorch's reduction='mean'."""

    def __getstate__(self) -> dict:
        """Copies and pickles carry the model, not its caches (workspaces, the fused loop's session)."""
        state = dict(self.__dict__)
        state["_workspaces"] = {}
        state.pop("_fused_session", None)
        return state

    #: Standardisation of the inputs that a loaded model file carries (None: inputs are used as given).
    input_scaling: InputScaling | None = None

    def __init__(self, layers: list, loss: str | tuple[str, dict] = "mse", dtype: str = "float64",
                 seed: int = 0) -> None:
        """`loss`: a name, or a parameterised one with its values, ("huber", {"delta": 2.0}) or
        "huber:delta=2"."""
        _check_layers(layers)
        self.layers = list(layers)
        self.dtype = as_dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.widths = [self.layers[0].n_in]
        for i, layer in enumerate(self.layers):
            self.widths.append(layer.output_width(self.widths[-1]))
            nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
            layer.build(rng, self.dtype, nxt.name if isinstance(nxt, Activation) else None)
        loss, given = parse_choice(loss)
        self.loss_fn = Loss(loss, self.widths[-1], given)
        self._workspaces: dict[int, _Workspace] = {}

    @property
    def n_in(self) -> int:
        return self.widths[0]

    @property
    def n_out(self) -> int:
        return self.widths[-1]

    def parameters(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2, ...]: the live arrays (writing into them changes the model)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def _inputs(self, X: np.ndarray, rows_needed: bool = False) -> np.ndarray:
        """X checked (real, finite, (batch, n_in)), in the model's dtype, scaled if the model carries
        a scaling; `rows_needed`: refuse an empty X (a loss or a fit of no rows means nothing)."""
        a = checks.real_array("X", X)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or a.shape[1] != self.n_in:
            raise UserInputError(f"inputs have shape {a.shape}; the model expects (batch, {self.n_in})")
        if rows_needed and a.shape[0] == 0:
            raise UserInputError("X has no rows; pass at least one example")
        if a.dtype == self.dtype and a.flags.c_contiguous:
            out = a
            checks.require_finite("X", out)
        else:
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported by require_finite
                out = np.ascontiguousarray(a, dtype=self.dtype)
            checks.require_finite("X", out, a)
        if self.input_scaling is not None:
            out = self.input_scaling.apply(out, self.dtype)
        return out

    def _targets(self, y: np.ndarray, n_rows: int) -> np.ndarray:
        """y checked (real, finite, one per input row) as the loss's (N, n_outputs) targets."""
        a = checks.real_array("y", y)
        if a.dtype.kind == "f" and (a.dtype != self.dtype or not checks.all_finite(a)):
            with np.errstate(over="ignore", invalid="ignore"):  # NaN, inf and overflows: reported below
                T = self.loss_fn.targets(a, self.dtype)
            checks.require_finite("y", T, a.reshape(T.shape) if a.size == T.size else None)
        else:  # integers, or finite floats of the model's dtype: targets that are finite
            T = self.loss_fn.targets(a, self.dtype)
        if T.shape[0] != n_rows:
            raise UserInputError(f"{n_rows} input rows but {T.shape[0]} targets; give one target per row")
        return T

    def _workspace(self, n: int) -> _Workspace:
        ws = self._workspaces.get(n)
        if ws is None:
            ws = self._workspaces[n] = _Workspace(self.widths, n, self.dtype)
        return ws

    def _forward(self, X: np.ndarray) -> _Workspace:
        ws = self._workspace(X.shape[0])
        ws.values[0][...] = X
        for i, layer in enumerate(self.layers):
            layer.forward(ws.values[i], ws.values[i + 1])
        return ws

    def _backward(self, ws: _Workspace, T: np.ndarray | None, grads: list[list[np.ndarray]]) -> None:
        """Gradients of every layer; T None: ws.grads[-1] already holds dL/dz (value_and_gradient)."""
        if T is not None:
            self.loss_fn.gradient(ws.values[-1], T, ws.grads[-1])
        first = self._first_with_gradient()  # the layers before it keep their zero gradients
        for i in range(len(self.layers) - 1, first - 1, -1):
            grad_x = ws.grads[i] if i > first else None
            self.layers[i].backward(ws.values[i], ws.values[i + 1], ws.grads[i + 1], grad_x, grads[i])

    def _first_with_gradient(self) -> int:
        """The first layer the backward pass reaches: the one after the last activation whose derivative
        is 0 everywhere (the step; generated ZERO_GRADIENT), as every gradient before it is 0."""
        zero = kernels.generated("activations").ZERO_GRADIENT
        return 1 + max((i for i, layer in enumerate(self.layers) if type(layer) is Activation and layer.name in zero),
                       default=-1)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Outputs for a batch of rows (logits for the cross-entropy losses); a fresh array."""
        return self._forward(self._inputs(X)).values[-1].copy()

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        X = self._inputs(X, rows_needed=True)
        T = self._targets(y, X.shape[0])
        ws = self._forward(X)
        return self.loss_fn.value(ws.values[-1], T)

    def gradients(self, X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """dL/dp for every parameter, in the order of parameters(); fresh arrays."""
        X = self._inputs(X, rows_needed=True)
        T = self._targets(y, X.shape[0])
        grads = self._new_grads()
        ws = self._forward(X)
        self._backward(ws, T, grads)
        return [g for per_layer in grads for g in per_layer]

    def _new_grads(self) -> list[list[np.ndarray]]:
        return [[np.zeros_like(p) for p in layer.parameters()] for layer in self.layers]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels for classification losses; outputs otherwise."""
        return self.loss_fn.predict(self.forward(X))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The same as forward(X), as a torch module is called."""
        return self.forward(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, rows summing to 1: softmax of the logits (cross_entropy), or
        [1 - p, p] with p the sigmoid of the one logit (binary_cross_entropy)."""
        from symnn.display import probabilities

        return probabilities(self.loss_fn.name, self.forward(X))

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy for classification losses, R^2 (1 - SSE/SST) otherwise: scikit-learn's `score`."""
        if self.loss_fn.classification:
            return self.accuracy(X, y)
        from symnn.display import r2_score

        return r2_score(np.asarray(y, dtype=np.float64), self.forward(X).astype(np.float64))

    def _repr_html_(self) -> str:
        """A table of the layers, their output shapes and parameter counts, for notebooks."""
        from symnn.display import model_html

        return model_html(self)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        y = np.asarray(y)
        labels = y if y.ndim == 1 else np.argmax(y, axis=1) if y.shape[1] > 1 else y[:, 0]
        return float(np.mean(self.predict(X) == labels))

    def fit(self, X: np.ndarray, y: np.ndarray, optimizer=None, epochs: int = 10, batch_size: int = 32,
            shuffle: bool = True, seed: int = 0, schedule=None, validation=None, verbose: bool = True,
            callback: Callable[[int, dict], object] | None = None, fused: bool | None = None,
            early_stopping: int | EarlyStopping | None = None) -> History:
        """Mini-batch training; returns the history: loss per epoch (and validation loss/accuracy).

        Batches follow row order when shuffle is False; the last, partial batch is used.
        `fused`: use the whole-epoch compiled loop (None: wherever it covers the model).
        `validation`: (X_val, y_val), evaluated after every epoch (val_loss, and val_accuracy for a
        classification loss). `callback(epoch, history)` runs after every epoch; returning True stops
        training. `early_stopping`: a patience, or symnn.EarlyStopping(patience, monitor, min_delta,
        restore_best): stop when the monitored value (val_loss where validation data is given, else
        loss) has not improved for `patience` epochs, and put the best epoch's weights back.
        `optimizer`: an optimizer, or its name or class with its defaults (`"adam"`, `symnn.Adam`);
        `schedule`: a schedule, or its name (`"cosine"`); a StepLR made without base_lr uses the optimizer's lr.
        """
        import symnn.runtime.optimizers as optimizers  # (imported on first use; `import` skips a
        import symnn.runtime.schedules as schedules  # `from` import's look-up of __path__)

        optimizer = optimizers.SGD(lr=0.01) if optimizer is None else optimizers.resolve_optimizer(optimizer)
        epochs = checks.whole_number("epochs", epochs, 0)
        batch_size = checks.whole_number("batch_size", batch_size, 1)
        seed = checks.seed(seed)
        schedule = schedules.resolve_schedule(schedule, epochs)
        X = self._inputs(X, rows_needed=True)
        T = self._targets(y, X.shape[0])
        n = X.shape[0]
        batch_size = min(batch_size, n)  # a batch never holds more rows than the data: size buffers by it
        self._warn_frozen_layers()
        if schedule is not None and hasattr(schedule, "with_base_lr"):
            schedule = schedule.with_base_lr(optimizer.lr)
        history: dict[str, list[float]] = {"loss": []}
        end = EpochEnd(self, validation, callback, resolve_early_stopping(early_stopping), history)
        if fused is not False:  # the compiled whole-epoch loop, wherever it covers this fit
            import symnn.runtime.fused.run as fused_run

            start = time.perf_counter()
            losses = fused_run.fused_fit(self, X, T, optimizer, epochs, batch_size, shuffle, seed, schedule,
                                         verbose=verbose, required=bool(fused), end=end)
            if losses is not None:
                end.finish(None, len(losses))
                history["seconds"] = time.perf_counter() - start
                return History(history)
        from symnn.runtime.progress import Progress

        rng = np.random.default_rng(seed)
        params = self.parameters()
        grads = self._new_grads()
        flat_grads = [g for per_layer in grads for g in per_layer]
        batch_x = {}
        batch_t = {}
        last_finite = _Snapshot(params, optimizer)
        progress = Progress(epochs, enabled=verbose)
        start = time.perf_counter()
        try:
            for epoch in range(epochs):
                last_finite.take()
                if schedule is not None:
                    optimizer.lr = schedule.lr(epoch)
                order = rng.permutation(n) if shuffle else np.arange(n)
                total = 0.0
                for lo in range(0, n, batch_size):
                    idx = order[lo:lo + batch_size]
                    m = idx.shape[0]
                    if m not in batch_x:
                        batch_x[m] = np.empty((m, self.n_in), self.dtype)
                        batch_t[m] = np.empty((m, T.shape[1]), self.dtype)
                    np.take(X, idx, axis=0, out=batch_x[m])
                    np.take(T, idx, axis=0, out=batch_t[m])
                    ws = self._forward(batch_x[m])
                    value = self.loss_fn.value_and_gradient(ws.values[-1], batch_t[m], ws.grads[-1])
                    if not math.isfinite(value):
                        last_finite.restore()
                        raise TrainingDiverged.at(epoch + 1, value, optimizer.lr, history, self._non_finite_cause(ws))
                    total += value * m
                    self._backward(ws, None, grads)
                    optimizer.step(params, flat_grads)
                if not all(checks.all_finite(p) for p in params):
                    last_finite.restore()
                    raise TrainingDiverged.at(epoch + 1, float("nan"), optimizer.lr, history,
                                              "the weights became non-finite")
                history["loss"].append(total / n)
                progress.update(epoch + 1, history["loss"][-1])
                if end.after_epoch(epoch, params):
                    break
        finally:
            progress.close()
        end.finish(params, len(history["loss"]))
        history["seconds"] = time.perf_counter() - start
        return History(history)

    def _warn_frozen_layers(self) -> None:
        """Warn where a step activation stops the gradient: the layers before it cannot learn."""
        if any(isinstance(layer, Dense) for layer in self.layers[:self._first_with_gradient()]):
            warnings.warn("the step activation's gradient is 0 wherever it is defined, so the layers before it "
                          "get no gradient and keep their initial weights; train a step unit with "
                          "symnn.Perceptron (the perceptron learning rule), or use sigmoid or tanh here",
                          RuntimeWarning, stacklevel=3)

    def _non_finite_cause(self, ws: _Workspace) -> str:
        """Which layer first turned finite values into NaN or inf, in a batch whose loss is not finite."""
        for i, layer in enumerate(self.layers):
            x, out = ws.values[i], ws.values[i + 1]
            if checks.all_finite(out) or not checks.all_finite(x):
                continue
            if isinstance(layer, Activation):
                j = int(np.flatnonzero(~np.isfinite(out.reshape(-1)))[0])
                return (f"activation:the activation {layer.name!r} gives {out.reshape(-1)[j]} at "
                        f"x = {x.reshape(-1)[j]:.4g}")
            return f"layer {i + 1}, {layer!r}, gives non-finite outputs: its weights grew too large"
        return "the loss of the outputs overflowed"

    # --- files -------------------------------------------------------------------------------
    def describe(self) -> dict:
        """The architecture as JSON-serialisable data (what a model file records)."""
        layers = []
        for layer in self.layers:
            if isinstance(layer, Dense):
                layers.append({"type": "dense", "n_in": layer.n_in, "n_out": layer.n_out, "init": layer.init})
            else:
                layers.append({"type": "activation", "name": layer.name}
                              | ({"parameters": dict(layer.options)} if layer.options else {}))
        desc = {"format": "symnn-model", "version": 1, "layers": layers, "loss": self.loss_fn.name,
                "dtype": self.dtype.name}
        if self.loss_fn.options:
            desc["loss_parameters"] = dict(self.loss_fn.options)
        if self.input_scaling is not None:
            desc["standardize"] = self.input_scaling.describe()
        return desc

    def save(self, path: str, extra: dict | None = None) -> None:
        """An .npz with the parameters and a JSON description; written atomically."""
        from symnn.runtime.files import save_model

        kept = {k: v for k, v in getattr(self, "info", {}).items() if k in ("feature_names", "class_names")}
        save_model(path, kept | self.describe() | (extra or {}), self.parameters())

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], loss={self.loss_fn.choice()!r}, dtype={self.dtype.name!r})"


class History(dict):
    """What fit returns: a dict (`history["loss"]`, one value per epoch; `"seconds"`; validation
    keys), which a notebook shows as a table and a loss curve."""

    def _repr_html_(self) -> str:
        from symnn.display import history_html

        return history_html(self)


class _Snapshot:
    """The parameters and the optimizer's state at the start of an epoch, to go back to if it diverges.

    Copied into buffers kept from epoch to epoch (no allocation once the state exists).
    """

    def __init__(self, params: list[np.ndarray], optimizer) -> None:
        self.params, self.optimizer = params, optimizer
        self.saved_params = [p.copy() for p in params]
        self.saved_state: list[dict] = []

    def take(self) -> None:
        for saved, p in zip(self.saved_params, self.params):
            np.copyto(saved, p)
        state = getattr(self.optimizer, "state", None)
        if not isinstance(state, list):
            return
        if len(self.saved_state) != len(state) or any(s.keys() != t.keys() for s, t in zip(self.saved_state, state)):
            self.saved_state = [{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
                                for s in state]
            return
        for saved, s in zip(self.saved_state, state):
            for k, v in s.items():
                if isinstance(v, np.ndarray) and saved[k].shape == v.shape:
                    np.copyto(saved[k], v)
                else:
                    saved[k] = v.copy() if isinstance(v, np.ndarray) else v

    def restore(self) -> None:
        for saved, p in zip(self.saved_params, self.params):
            np.copyto(p, saved)
        state = getattr(self.optimizer, "state", None)
        if not isinstance(state, list):
            return
        del state[len(self.saved_state):]
        for i, saved in enumerate(self.saved_state):
            copy = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in saved.items()}
            if i < len(state):
                state[i].clear()
                state[i].update(copy)
            else:
                state.append(copy)


def _check_layers(layers: object) -> None:
    """Refuse anything but a list of layers starting with a Dense layer, saying what to write instead."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise UserInputError(f"Sequential takes a list of layers, not {type(layers).__name__}; "
                             "e.g. [symnn.Dense(2, 16), symnn.Activation('relu'), symnn.Dense(16, 1)]")
    layers = list(layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, (Dense, Activation)):
            continue
        if isinstance(layer, str):
            raise UserInputError(f"layer {i + 1} is the string {layer!r}; write symnn.Activation({layer!r})")
        raise UserInputError(f"layer {i + 1} is {type(layer).__name__} {layer!r:.60}, not a layer; use "
                             "symnn.Dense(n_in, n_out) and symnn.Activation(name)")
    if not layers or not isinstance(layers[0], Dense):
        raise UserInputError("a Sequential model starts with a Dense layer, e.g. symnn.Dense(2, 16)")


def from_description(desc: dict, arrays: list[np.ndarray]) -> Sequential:
    """Rebuild a model from describe() data and its parameter arrays (and its input scaling)."""
    layers = [Dense(d["n_in"], d["n_out"], d.get("init", "auto")) if d["type"] == "dense"
              else Activation(d["name"], **d.get("parameters", {})) for d in desc["layers"]]
    model = Sequential(layers, loss=(desc["loss"], desc.get("loss_parameters", {})), dtype=desc["dtype"])
    params = model.parameters()
    if len(params) != len(arrays) or any(p.shape != a.shape for p, a in zip(params, arrays)):
        raise UserInputError("model file's arrays do not match its description; re-save the model")
    for p, a in zip(params, arrays):
        p[...] = a
    scale = desc.get("standardize")
    if scale:
        model.input_scaling = InputScaling(np.asarray(scale["mean"], np.float64), np.asarray(scale["std"], np.float64))
    return model
