"""What a notebook shows: a model's layer table, a history's table and loss curve, as HTML.

Plain HTML and inline SVG (no matplotlib, no ipywidgets), so they render in Jupyter, VS Code and
exported notebooks alike. Also the small numeric helpers behind `predict_proba` and `score`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np

_TABLE = "border-collapse:collapse;font-family:monospace;font-size:12px"
_CELL = "padding:2px 10px;text-align:right;border-bottom:1px solid #ddd"
_HEAD = "padding:2px 10px;text-align:right;border-bottom:2px solid #888"


def probabilities(loss: str, z: np.ndarray) -> np.ndarray:
    """Rows of class probabilities from a model's outputs under its loss (each row sums to 1)."""
    from symnn.errors import UserInputError

    if loss == "binary_cross_entropy" and z.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0].astype(np.float64), -500, 500)))
        return np.column_stack([1.0 - p, p])
    if loss == "cross_entropy":
        e = np.exp(z.astype(np.float64) - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise UserInputError(f"predict_proba needs a probabilistic loss (cross_entropy or binary_cross_entropy), "
                         f"the model has {loss!r}; use predict")


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """1 - SSE/SST over every output (scikit-learn's `score` for regressors, uniform average)."""
    y = y.reshape(pred.shape) if y.size == pred.size else y
    sse = ((y - pred) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.where(sse == 0, 1.0, 0.0))
    return float(np.mean(scores))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "",
           left: Sequence[int] = ()) -> str:
    """An HTML table; the columns numbered in `left` are left-aligned (text), the others right (numbers)."""
    def style(base: str, i: int) -> str:
        return base.replace("text-align:right", "text-align:left") if i in left else base

    head = "".join(f'<th style="{style(_HEAD, i)}">{html.escape(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td style="{style(_CELL, i)}">{html.escape(str(c))}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    cap = f'<caption style="text-align:left;font-weight:bold">{html.escape(caption)}</caption>' if caption else ""
    return f'<table style="{_TABLE}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def model_rows(model) -> list[tuple[str, str, str, int]]:
    """(index, layer, output shape, parameter count) per layer of a Sequential."""
    rows, width = [], model.n_in
    for i, layer in enumerate(model.layers):
        width = layer.output_width(width)
        count = sum(int(p.size) for p in layer.parameters())
        rows.append((str(i), repr(layer), f"(batch, {width})", count))
    return rows


def model_html(model) -> str:
    """A Sequential as a table: each layer, its output shape and parameters, and the total."""
    rows = model_rows(model)
    total = sum(r[3] for r in rows)
    table_rows = [(*r[:3], f"{r[3]:,}") for r in rows] + [("", f"loss {model.loss_fn.name}", "", f"{total:,} in total")]
    return _table(("#", "layer", "output shape", "parameters"), table_rows,
                  f"Sequential: {model.n_in} inputs -> {model.n_out} outputs, {model.dtype.name}", left=(1,))


def svg_curves(series: Mapping[str, Sequence[float]], width: int = 360, height: int = 180,
               log: bool | None = None) -> str:
    """Line plots of some per-epoch series as an inline SVG (log y-axis when they span decades)."""
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
    finite = {k: [float(v) for v in vs] for k, vs in series.items() if len(vs)}
    values = [v for vs in finite.values() for v in vs if math.isfinite(v)]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if log is None:
        log = lo > 0 and hi / lo > 30
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    flo, fhi = f(lo), f(hi)
    span = (fhi - flo) or 1.0
    pad_l, pad_b, pad_t, pad_r = 52, 28, 10, 10
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max(len(vs) for vs in finite.values())
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'style="font-family:sans-serif;font-size:10px">',
             f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    for label, v in ((f"{hi:.3g}", fhi), (f"{lo:.3g}", flo)):
        y = pad_t + h * (1 - (v - flo) / span)
        parts.append(f'<text x="{pad_l - 4}" y="{y + 3:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 8}">epoch 1</text>')
    parts.append(f'<text x="{pad_l + w}" y="{height - 8}" text-anchor="end">{n}</text>')
    for i, (name, vs) in enumerate(finite.items()):
        pts = []
        for j, v in enumerate(vs):
            if math.isfinite(v) and (v > 0 or not log):
                x = pad_l + (w * j / (n - 1) if n > 1 else w / 2)
                pts.append(f"{x:.1f},{pad_t + h * (1 - (f(v) - flo) / span):.1f}")
        color = colors[i % len(colors)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(pts)}"/>')
        parts.append(f'<text x="{pad_l + w - 4}" y="{pad_t + 12 + 12 * i}" text-anchor="end" fill="{color}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def history_html(history: Mapping, max_rows: int = 10) -> str:
    """A fit's history: its loss curve (and validation curves) beside a table of some epochs."""
    keys = [k for k, v in history.items() if isinstance(v, (list, tuple)) and v]
    n = max((len(history[k]) for k in keys), default=0)
    if n == 0:
        return "<p>History: no epochs</p>"
    shown = sorted(set(np.linspace(0, n - 1, min(n, max_rows)).round().astype(int).tolist()))
    rows = [(i + 1, *(f"{history[k][i]:.5g}" if i < len(history[k]) else "" for k in keys)) for i in shown]
    seconds = history.get("seconds")
    caption = f"{n} epochs" + (f" in {seconds:.2f} s" if isinstance(seconds, (int, float)) else "")
    losses = {k: history[k] for k in keys if "loss" in k}
    chart = svg_curves(losses)
    return (f'<div style="display:flex;gap:16px;align-items:flex-start">'
            f'<div>{chart}</div><div>{_table(("epoch", *keys), rows, caption)}</div></div>')


__all__ = ["history_html", "model_html", "model_rows", "probabilities", "r2_score", "svg_curves"]
