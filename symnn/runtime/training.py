"""`symnn train` and `symnn predict` as functions: data -> model -> fit -> summary."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from symnn import datasets
from symnn.errors import UserInputError
from symnn.runtime import kernels
from symnn.runtime.layers import Activation, Dense
from symnn.runtime.losses import CLASSIFICATION, parse_choice
from symnn.runtime.model import Sequential

REGRESSION_LOSSES = ("mse", "mae", "huber")


def _narrow() -> dict[str, str]:
    """Wide loss -> the loss it is with several outputs (multi_margin -> hinge), from the facts:
    `--loss multi_margin` is derive's name for hinge with one output per class."""
    return {wide: name for name, wide in kernels.generated("losses").WIDE.items()}


@dataclass
class TrainConfig:
    """The options of `symnn train` (see `symnn train --help`)."""

    data: str = "moons"
    target: str | None = None
    layers: list[int] | None = None
    activation: str = "relu"
    loss: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    schedule: str = "constant"
    epochs: int = 100
    batch_size: int = 32
    init: str = "auto"
    dtype: str = "float32"
    seed: int = 0
    test_fraction: float = 0.2
    momentum: float | None = None
    noise: float | None = None
    n_samples: int | None = None
    step_size: int | None = None
    gamma: float | None = None
    eta_min: float = 0.0


@dataclass
class TrainResult:
    config: TrainConfig
    model: Sequential
    dataset: datasets.Dataset
    history: dict
    mean: np.ndarray
    std: np.ndarray
    train_accuracy: float | None
    test_accuracy: float | None
    test_loss: float | None
    seconds: float
    split: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The --json object."""
        out = {"loss": self.history["loss"][-1] if self.history["loss"] else None,
               "epochs": len(self.history["loss"]), "seconds": round(self.seconds, 4),
               "history": self.history["loss"]}
        if self.train_accuracy is not None:
            out["train_accuracy"] = self.train_accuracy
            out["test_accuracy"] = self.test_accuracy
        out["test_loss"] = self.test_loss
        return out

    def report(self) -> str:
        """The header (data, model), then how training went."""
        return self.header() + "\n" + self.outcome()

    def header(self) -> str:
        """What is about to be trained: printed before training starts, so a first compile is not a blank screen."""
        return header(self.config, self.model, self.dataset, self.split)

    def outcome(self) -> str:
        """How training went: time, final loss and accuracy."""
        c = self.config
        lines = [f"training {c.optimizer} lr {self.lr_used:g} ({c.schedule}), {c.epochs} epochs of batch "
                 f"{c.batch_size}: {self.seconds:.2f} s",
                 f"loss     {self.history['loss'][-1]:.5g} (training)" +
                 (f", {self.test_loss:.5g} (test)" if self.test_loss is not None else "")]
        if self.train_accuracy is not None:
            test = f", test {100 * self.test_accuracy:.1f}%" if self.test_accuracy is not None else ""
            lines.append(f"accuracy training {100 * self.train_accuracy:.1f}%{test}")
        return "\n".join(lines)

    @property
    def lr_used(self) -> float:
        return self.history.get("lr", float("nan"))

    def file_info(self) -> dict:
        """What `symnn predict` needs beside the weights: the feature scaling and class names."""
        return {"standardize": {"mean": self.mean.tolist(), "std": self.std.tolist()},
                "feature_names": list(self.dataset.feature_names),
                "class_names": list(getattr(self.dataset, "class_names", ()) or ())}


def as_task_of_loss(ds: datasets.Dataset, loss: str | None) -> datasets.Dataset:
    """The data set as the named loss reads it: a regression loss (mse, mae, ...) on integer labels
    regresses on the label values (a CSV's original numbers), it does not classify them."""
    if loss is None or loss in CLASSIFICATION or ds.task != "classification":
        return ds
    try:
        values = np.asarray([float(c) for c in ds.class_names], np.float64)
    except ValueError:  # named classes (iris' species): their indices are the values
        values = np.arange(ds.n_classes, dtype=np.float64)
    if len(values) != ds.n_classes:
        values = np.arange(ds.n_classes, dtype=np.float64)
    return dataclasses.replace(ds, y=values[ds.y], task="regression", n_classes=0, class_names=())


def _warn_if_diverging(initial: float, history: dict, lr: float | None) -> None:
    """Warn when the training loss ended far above where it started: finite, but diverging."""
    final = history["loss"][-1] if history["loss"] else None
    if final is None or not (math.isfinite(initial) and math.isfinite(final)) or initial <= 0:
        return
    if final > 10 * initial:
        shown = f" (it is {lr:g})" if lr is not None else ""
        warnings.warn(f"the training loss grew from {initial:.4g} to {final:.4g}: training diverged; "
                      f"lower the learning rate with --lr{shown}", RuntimeWarning, stacklevel=3)


def header(config: TrainConfig, m: Sequential, ds: datasets.Dataset, split: dict) -> str:
    """The `data` and `model` lines of the report."""
    sizes = "-".join(str(w) for w in [m.n_in] + [layer.n_out for layer in m.layers if isinstance(layer, Dense)])
    narrow = _narrow()
    loss = f"{config.loss} ({narrow[config.loss]}, one output per class)" if config.loss in narrow \
        else config.loss if config.loss and ":" in config.loss else m.loss_fn.name
    return "\n".join([f"data     {ds.name}: {split['train']} training rows, {split['test']} test rows, "
                      f"{ds.X.shape[1]} features",
                      f"model    {sizes} {config.activation}, {loss}, {m.dtype.name}"])


def accuracy(model: Sequential, X: np.ndarray, y: np.ndarray) -> float:
    """The fraction of rows classified right: the loss's classes, or for a regression loss on class
    labels (mse on xor, as in the lecture) the output rounded at 0.5 (one output) or the largest output."""
    if model.loss_fn.classification:
        return model.accuracy(X, y)
    out = model.forward(X)
    labels = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else np.argmax(out, axis=1)
    return float(np.mean(labels == np.asarray(y)))


def _optimizer(config: TrainConfig, lr: float | None):
    """--optimizer with --lr and --momentum (for sgd, momentum, nesterov and rmsprop)."""
    from symnn.runtime.optimizers import SGD, RMSprop, make_optimizer

    if config.momentum is None:
        return make_optimizer(config.optimizer, lr)
    kw = {} if lr is None else {"lr": lr}
    if config.optimizer in ("sgd", "momentum"):
        return SGD(momentum=config.momentum, **kw)
    if config.optimizer == "nesterov":
        return SGD(momentum=config.momentum, nesterov=True, **kw)
    if config.optimizer == "rmsprop":
        return RMSprop(momentum=config.momentum, **kw)
    raise UserInputError(f"--momentum applies to sgd, momentum, nesterov and rmsprop, not {config.optimizer}")


def build_model(config: TrainConfig, ds: datasets.Dataset) -> Sequential:
    """The Sequential that --layers, --activation, --loss, --init and --dtype describe."""
    n_features = ds.X.shape[1]
    classification = ds.task == "classification"
    named, given = parse_choice(config.loss) if config.loss else (None, {})  # "huber:delta=2"
    loss = named or ("regression" if not classification else
                     "binary_cross_entropy" if ds.n_classes == 2 else "cross_entropy")
    if loss == "regression":
        loss = "mse"
    allowed_out: tuple[int, ...] = ()
    facts, narrow = kernels.generated("losses"), _narrow()
    if loss in narrow:
        if not classification:
            raise UserInputError(f"--loss {loss} needs class labels; {ds.name} is a regression set")
        loss, n_out = narrow[loss], ds.n_classes
    elif classification:  # one output where the loss takes one (bce), or has a wide form (hinge) for 2 classes
        one = facts.OUTPUTS.get(loss, (1, None))[1] == 1 or (loss in facts.WIDE and ds.n_classes == 2)
        n_out = 1 if one else ds.n_classes
        if loss in REGRESSION_LOSSES and ds.n_classes == 2:  # 0/1 targets as numbers (the lecture's mse on xor)
            allowed_out = (1, ds.n_classes)
    else:
        n_out = 1 if ds.y.ndim == 1 else ds.y.shape[1]
    sizes = config.layers or [n_features, 16, 16, n_out]
    if allowed_out and sizes[-1] in allowed_out:
        n_out = sizes[-1]
    if sizes[0] != n_features:
        raise UserInputError(f"--layers starts with {sizes[0]} inputs but {ds.name} has {n_features} "
                             f"features; start it with {n_features}")
    if sizes[-1] != n_out:
        raise UserInputError(f"--layers ends with {sizes[-1]} outputs but {loss} on {ds.name} needs "
                             f"{n_out}; end it with {n_out}")
    layers: list = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Dense(a, b, init=config.init))
        if i < len(sizes) - 2:
            layers.append(Activation(config.activation))
    return Sequential(layers, loss=(loss, given), dtype=config.dtype, seed=config.seed)


def train(config: TrainConfig, progress: bool = True, on_start=None) -> TrainResult:
    """Load the data, split and standardise it, build the model and fit it.

    `on_start(text)`, if given, receives the header (data, model) before training starts.
    """
    ds = datasets.load(config.data, seed=config.seed,
                       **({"target": config.target} if config.target else {}),
                       **({"noise": config.noise} if config.noise is not None else {}),
                       **({"n_samples": config.n_samples} if config.n_samples is not None else {}))
    # multi_margin is hinge with one output per class: still classification
    named = parse_choice(config.loss)[0] if config.loss else None
    ds = as_task_of_loss(ds, _narrow().get(named, named))
    if not 0 <= config.test_fraction < 1:
        raise UserInputError("--test-fraction must be in [0, 1)")
    Xtr, Xte, ytr, yte = datasets.train_test_split(ds.X, ds.y, config.test_fraction, config.seed)
    return fit_split(config, ds, Xtr, Xte, ytr, yte, progress, on_start)


def fit_split(config: TrainConfig, ds: datasets.Dataset, Xtr: np.ndarray, Xte: np.ndarray, ytr: np.ndarray,
              yte: np.ndarray, progress: bool = True, on_start=None) -> TrainResult:
    """Standardise, build, fit and evaluate on given training and test rows (`train`'s split, or a
    cross-validation fold of `symnn sweep --cv`); `on_start` as in `train`."""
    from symnn.runtime.schedules import make_schedule

    Xtr, Xte, mean, std = datasets.standardize(Xtr, Xte)
    model = build_model(config, ds)
    lr = config.lr if config.lr is not None else (0.01 if config.optimizer in ("adam", "adamw") else None)
    optimizer = _optimizer(config, lr)
    schedule = make_schedule(config.schedule, optimizer.lr, config.epochs, step_size=config.step_size,
                             gamma=config.gamma, eta_min=config.eta_min)
    split = {"train": Xtr.shape[0], "test": Xte.shape[0]}
    if on_start is not None:
        on_start(header(config, model, ds, split))
    initial = model.loss(Xtr, ytr)
    start = time.perf_counter()
    history = model.fit(Xtr, ytr, optimizer=optimizer, epochs=config.epochs, batch_size=config.batch_size,
                        shuffle=True, seed=config.seed, schedule=schedule, verbose=progress)
    seconds = time.perf_counter() - start
    history["lr"] = lr if lr is not None else optimizer.lr
    _warn_if_diverging(initial, history, history["lr"])
    classification = ds.task == "classification"
    has_test = Xte.shape[0] > 0
    result = TrainResult(
        config, model, ds, history, mean, std,
        train_accuracy=accuracy(model, Xtr, ytr) if classification else None,
        test_accuracy=(accuracy(model, Xte, yte) if has_test else None) if classification else None,
        test_loss=model.loss(Xte, yte) if has_test else None,
        seconds=seconds, split=split)
    return result


def predict_file(model_path: str, data: str, target: str | None = None) -> list[str]:
    """Predictions for the rows of a CSV, formatted one per line."""
    from symnn.runtime.files import load_model

    if not data.startswith("csv:"):
        raise UserInputError(f"--data {data!r}: predict reads csv:PATH")
    model = load_model(model_path)
    info = getattr(model, "info", {})
    names = tuple(info.get("feature_names") or ()) or None
    X = datasets.read_features_csv(data[4:], target=target, feature_names=names)
    if X.shape[1] != model.n_in:
        raise UserInputError(f"{data[4:]} has {X.shape[1]} feature columns; the model expects {model.n_in}")
    out = model.predict(X)  # the model applies the file's input scaling
    classes = info.get("class_names") or []
    if model.loss_fn.classification:
        return [str(classes[int(v)]) if classes else str(int(v)) for v in out]
    return [" ".join(f"{v:.6g}" for v in np.atleast_1d(row)) for row in out]
