"""Sequential: a stack of layers and a loss, trained with the generated kernels."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime.layers import Activation, Dense
from symnn.runtime.losses import Loss

DTYPES = {"float32": np.float32, "float64": np.float64}


def as_dtype(dtype: str | type | np.dtype) -> np.dtype:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise UserInputError(f"unsupported dtype {dtype!r}; use float32 or float64")
    return np.dtype(DTYPES[name])


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

    def __init__(self, layers: list, loss: str = "mse", dtype: str = "float64", seed: int = 0) -> None:
        if not layers or not isinstance(layers[0], Dense):
            raise UserInputError("a Sequential model starts with a Dense layer, e.g. symnn.Dense(2, 16)")
        self.layers = list(layers)
        self.dtype = as_dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.widths = [self.layers[0].n_in]
        for i, layer in enumerate(self.layers):
            self.widths.append(layer.output_width(self.widths[-1]))
            nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
            layer.build(rng, self.dtype, nxt.name if isinstance(nxt, Activation) else None)
        self.loss_fn = Loss(loss, self.widths[-1])
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

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise UserInputError(f"inputs have shape {X.shape}; the model expects (batch, {self.n_in})")
        return np.ascontiguousarray(X, dtype=self.dtype)

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
        for i in range(len(self.layers) - 1, -1, -1):
            grad_x = ws.grads[i] if i > 0 else None
            self.layers[i].backward(ws.values[i], ws.values[i + 1], ws.grads[i + 1], grad_x, grads[i])

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Outputs for a batch of rows (logits for the cross-entropy losses); a fresh array."""
        return self._forward(self._inputs(X)).values[-1].copy()

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        X = self._inputs(X)
        ws = self._forward(X)
        return self.loss_fn.value(ws.values[-1], self.loss_fn.targets(y, self.dtype))

    def gradients(self, X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """dL/dp for every parameter, in the order of parameters(); fresh arrays."""
        X = self._inputs(X)
        grads = self._new_grads()
        ws = self._forward(X)
        self._backward(ws, self.loss_fn.targets(y, self.dtype), grads)
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
            callback: Callable[[int, dict], None] | None = None, fused: bool | None = None) -> History:
        """Mini-batch training; returns the history: loss per epoch (and validation loss/accuracy).

        Batches follow row order when shuffle is False; the last, partial batch is used.
        `fused`: use the whole-epoch compiled loop (None: wherever it covers the model).
        `optimizer`: an optimizer, or its name or class with its defaults (`"adam"`, `symnn.Adam`);
        `schedule`: a schedule, or its name (`"cosine"`); a StepLR made without base_lr uses the optimizer's lr.
        """
        from symnn.runtime.optimizers import SGD, resolve_optimizer
        from symnn.runtime.schedules import resolve_schedule

        optimizer = SGD(lr=0.01) if optimizer is None else resolve_optimizer(optimizer)
        schedule = resolve_schedule(schedule, epochs)
        if int(epochs) < 0 or int(batch_size) < 1:
            raise UserInputError("epochs must be >= 0 and batch_size >= 1")
        X = self._inputs(X)
        T = self.loss_fn.targets(y, self.dtype)
        if T.shape[0] != X.shape[0]:
            raise UserInputError(f"{X.shape[0]} input rows but {T.shape[0]} targets")
        if schedule is not None and hasattr(schedule, "with_base_lr"):
            schedule = schedule.with_base_lr(optimizer.lr)
        if fused is not False:  # the compiled whole-epoch loop, wherever it covers this fit
            from symnn.runtime.fused import fused_fit

            start = time.perf_counter()
            losses = fused_fit(self, X, T, optimizer, int(epochs), int(batch_size), shuffle, seed, schedule,
                               verbose=verbose, required=bool(fused), validation=validation, callback=callback)
            if losses is not None:
                return History({"loss": losses, "seconds": time.perf_counter() - start})
        from symnn.runtime.progress import Progress

        n = X.shape[0]
        rng = np.random.default_rng(seed)
        params = self.parameters()
        grads = self._new_grads()
        flat_grads = [g for per_layer in grads for g in per_layer]
        history: dict[str, list[float]] = {"loss": []}
        if validation is not None:
            history["val_loss"] = []
            if self.loss_fn.classification:
                history["val_accuracy"] = []
        batch_x = {}
        batch_t = {}
        progress = Progress(int(epochs), enabled=verbose)
        start = time.perf_counter()
        for epoch in range(int(epochs)):
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
                total += self.loss_fn.value_and_gradient(ws.values[-1], batch_t[m], ws.grads[-1]) * m
                self._backward(ws, None, grads)
                optimizer.step(params, flat_grads)
            history["loss"].append(total / n if n else float("nan"))
            if validation is not None:
                vx, vy = validation
                history["val_loss"].append(self.loss(vx, vy))
                if self.loss_fn.classification:
                    history["val_accuracy"].append(self.accuracy(vx, vy))
            progress.update(epoch + 1, history["loss"][-1])
            if callback is not None:
                callback(epoch, history)
        progress.close()
        history["seconds"] = time.perf_counter() - start
        return History(history)

    # --- files -------------------------------------------------------------------------------
    def describe(self) -> dict:
        """The architecture as JSON-serialisable data (what a model file records)."""
        layers = []
        for layer in self.layers:
            if isinstance(layer, Dense):
                layers.append({"type": "dense", "n_in": layer.n_in, "n_out": layer.n_out, "init": layer.init})
            else:
                layers.append({"type": "activation", "name": layer.name})
        return {"format": "symnn-model", "version": 1, "layers": layers, "loss": self.loss_fn.name,
                "dtype": self.dtype.name}

    def save(self, path: str, extra: dict | None = None) -> None:
        """An .npz with the parameters and a JSON description; written atomically."""
        from symnn.runtime.files import save_model

        save_model(path, self.describe() | (extra or {}), self.parameters())

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], loss={self.loss_fn.name!r}, dtype={self.dtype.name!r})"


class History(dict):
    """What fit returns: a dict (`history["loss"]`, one value per epoch; `"seconds"`; validation
    keys), which a notebook shows as a table and a loss curve."""

    def _repr_html_(self) -> str:
        from symnn.display import history_html

        return history_html(self)


def from_description(desc: dict, arrays: list[np.ndarray]) -> Sequential:
    """Rebuild a model from describe() data and its parameter arrays."""
    layers = [Dense(d["n_in"], d["n_out"], d.get("init", "auto")) if d["type"] == "dense"
              else Activation(d["name"]) for d in desc["layers"]]
    model = Sequential(layers, loss=desc["loss"], dtype=desc["dtype"])
    params = model.parameters()
    if len(params) != len(arrays) or any(p.shape != a.shape for p, a in zip(params, arrays)):
        raise UserInputError("model file's arrays do not match its description; re-save the model")
    for p, a in zip(params, arrays):
        p[...] = a
    return model

