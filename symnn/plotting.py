"""Plots as matplotlib Figures (a notebook shows one when it is returned): the loss curve, and the
decision boundary over 2-D data. `symnn train --plot` writes the same figure to a file.

Figures are made on their own Agg canvas, without pyplot: no backend switch (a notebook keeps its
inline backend), no global figure list to close.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from symnn.atomic import atomic_target
from symnn.errors import UserInputError

_SUFFIXES = (".png", ".pdf", ".svg")


@cache
def _figure_class() -> type:
    """matplotlib's Figure with a PNG for IPython's display (made once, when matplotlib is first needed)."""
    from matplotlib.figure import Figure

    class ShownFigure(Figure):
        """A matplotlib Figure that a notebook shows as a PNG, whether or not pyplot was imported there."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return ShownFigure


def new_figure(figsize: tuple[float, float], what: str = "plotting"):
    """A Figure on its own Agg canvas (see the module's docstring); a notebook shows it as a PNG when it
    is a cell's value."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = _figure_class()(figsize=figsize)
    except ImportError:
        raise UserInputError(f"{what} needs matplotlib: pip install 'symnn[plot]'") from None
    FigureCanvasAgg(fig)
    return fig


def draw_loss(ax, history: Mapping | Sequence[float], label: str = "loss") -> None:
    """The loss per epoch on `ax` (and the validation loss, if the history has one); log scale if positive."""
    series = {"training": history["loss"], "validation": history.get("val_loss")} if isinstance(history, Mapping) \
        else {"training": list(history)}
    values = []
    for name, losses in series.items():
        if losses:
            ax.plot(np.arange(1, len(losses) + 1), losses, label=name)
            values += list(losses)
    ax.set(xlabel="epoch", ylabel=label, title="loss")
    if values and min(values) > 0:
        ax.set_yscale("log")
    if len([v for v in series.values() if v]) > 1:
        ax.legend()
    ax.grid(alpha=0.3)


def draw_decision_boundary(ax, predict, X: np.ndarray, y: np.ndarray, title: str = "decision boundary",
                           resolution: int = 300) -> None:
    """The classes `predict` gives over a grid around 2-D data X, and the points coloured by y."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise UserInputError(f"a decision boundary needs 2-D inputs, got shape {X.shape}")
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    labels = np.asarray(predict(np.c_[gx.ravel(), gy.ravel()])).reshape(gx.shape).astype(np.float64)
    top = max(float(labels.max()), float(np.max(y)) if y.size else 0.0)
    ax.contourf(gx, gy, labels, levels=np.arange(top + 2) - 0.5, alpha=0.25, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, s=8, cmap="coolwarm", edgecolors="none", vmin=0, vmax=max(top, 1))
    ax.set(title=title, xlabel="x1", ylabel="x2")


def loss_curve(history: Mapping | Sequence[float]):
    """A Figure of a fit's loss per epoch (`model.fit(...)`'s history, or a list of losses)."""
    fig = new_figure((6, 4))
    draw_loss(fig.subplots(), history)
    fig.tight_layout()
    return fig


def decision_boundary(model, X: np.ndarray, y: np.ndarray, title: str | None = None):
    """A Figure of a classifier's regions over 2-D data (a symnn model or any object with predict)."""
    fig = new_figure((5.5, 4.5))
    if title is None:
        title = f"decision boundary (accuracy {100 * float(np.mean(model.predict(X) == np.asarray(y))):.1f}%)"
    draw_decision_boundary(fig.subplots(), model.predict, X, y, title)
    fig.tight_layout()
    return fig


def save(fig, path: str | Path) -> None:
    """Write a Figure to a .png, .pdf or .svg file, atomically."""
    target = Path(path)
    if target.suffix.lower() not in _SUFFIXES:
        raise UserInputError(f"--plot {str(path)!r}: give a .png, .pdf or .svg file name")
    with atomic_target(target, suffix=target.suffix) as tmp:
        fig.savefig(tmp, dpi=110)


def plot_training(path: str | Path | None, result):
    """The figure of `symnn train --plot`: loss per epoch; for 2 input features and class labels also
    the model's decision regions over the data. Written to `path` unless it is None; returned."""
    if path is not None and Path(path).suffix.lower() not in _SUFFIXES:
        raise UserInputError(f"--plot {str(path)!r}: give a .png, .pdf or .svg file name")
    two_d = result.dataset.X.shape[1] == 2 and result.dataset.task == "classification"
    fig = new_figure((11 if two_d else 6, 4.5))
    axes = fig.subplots(1, 2 if two_d else 1, squeeze=False)
    draw_loss(axes[0, 0], result.history, f"training loss ({result.model.loss_fn.name})")
    if two_d:
        acc = result.test_accuracy if result.test_accuracy is not None else result.train_accuracy
        model = result.model

        def predict(points: np.ndarray) -> np.ndarray:
            Z = (points - result.mean) / result.std
            if model.loss_fn.classification:
                return model.predict(Z)
            out = model.forward(Z)  # a regression loss on class labels: rounded as training.accuracy rounds
            return (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else np.argmax(out, axis=1)

        draw_decision_boundary(axes[0, 1], predict, result.dataset.X, result.dataset.y,
                               f"decision boundary ({result.dataset.name}, accuracy {100 * acc:.1f}%)")
    fig.tight_layout()
    if path is not None:
        save(fig, path)
    return fig


__all__ = ["decision_boundary", "draw_decision_boundary", "draw_loss", "loss_curve", "new_figure", "plot_training",
           "save"]
