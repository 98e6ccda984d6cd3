"""`symnn train --plot`: the loss curve, and the decision boundary over 2-D data (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from symnn.atomic import atomic_target
from symnn.errors import UserInputError


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserInputError("--plot needs matplotlib: pip install 'symnn[plot]'") from None
    return plt


def plot_training(path: str, result) -> None:
    """Loss per epoch; for 2 input features also the model's decision regions and the data."""
    target = Path(path)
    if target.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UserInputError(f"--plot {path!r}: give a .png, .pdf or .svg file name")
    plt = _pyplot()
    two_d = result.dataset.X.shape[1] == 2 and result.model.loss_fn.classification
    fig, axes = plt.subplots(1, 2 if two_d else 1, figsize=(11 if two_d else 6, 4.5), squeeze=False)
    ax = axes[0, 0]
    ax.plot(np.arange(1, len(result.history["loss"]) + 1), result.history["loss"], color="C0")
    ax.set(xlabel="epoch", ylabel=f"training loss ({result.model.loss_fn.name})", title="loss")
    ax.set_yscale("log" if min(result.history["loss"]) > 0 else "linear")
    ax.grid(alpha=0.3)
    if two_d:
        ax = axes[0, 1]
        X, y = result.dataset.X, result.dataset.y
        pad = 0.5
        xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 300)
        ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 300)
        gx, gy = np.meshgrid(xs, ys)
        grid = np.c_[gx.ravel(), gy.ravel()]
        labels = result.model.predict((grid - result.mean) / result.std).reshape(gx.shape)
        ax.contourf(gx, gy, labels, levels=np.arange(labels.max() + 2) - 0.5, alpha=0.25, cmap="coolwarm")
        ax.scatter(X[:, 0], X[:, 1], c=y, s=8, cmap="coolwarm", edgecolors="none")
        acc = result.test_accuracy if result.test_accuracy is not None else result.train_accuracy
        ax.set(title=f"decision boundary ({result.dataset.name}, accuracy {100 * acc:.1f}%)",
               xlabel="x1", ylabel="x2")
    fig.tight_layout()
    try:
        with atomic_target(target, suffix=target.suffix) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
