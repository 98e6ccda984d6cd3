"""`symnn sweep --plot`: the metric against each swept parameter, and the best configurations' loss curves.

Each parameter's panel shows every configuration's mean (one point per configuration, its error bar
the spread over seeds and folds) at that parameter's value, the best per value joined by a line;
numeric parameters spanning a factor of 20 or more get a log axis (learning rates). Drawn on a bare
matplotlib Figure (no pyplot state), so it works the same in a terminal and in a notebook.
"""

from __future__ import annotations

from pathlib import Path

from symnn.atomic import atomic_target
from symnn.errors import UserInputError

#: How many configurations' loss curves the last panel shows.
BEST_CURVES = 5


def plot_sweep(result, path: str | None = None):
    """A matplotlib Figure of a SweepResult; written to `path` (.png, .pdf, .svg) when given."""
    if path is not None:
        check_path(path)
    from matplotlib.figure import Figure

    from symnn.sweeps.summary import METRICS, _fmt

    params = list(result.grid)
    n = len(params) + 1
    fig = Figure(figsize=(4.2 * n, 3.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    higher = METRICS[result.metric]
    rows = [r for r in result.rows if r.mean is not None]
    for ax, name in zip(axes, params):
        values = _distinct(r.config.get(name) for r in result.rows)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        position = {_fmt(v): (v if numeric else i) for i, v in enumerate(values)}
        xs = [position[_fmt(r.config.get(name))] for r in rows]
        ax.errorbar(xs, [r.mean for r in rows], yerr=[r.std for r in rows], fmt="o", color="C0", alpha=0.5,
                    ecolor="0.6", capsize=2)
        best = {}
        for x, r in zip(xs, rows):
            if x not in best or (r.mean > best[x] if higher else r.mean < best[x]):
                best[x] = r.mean
        ax.plot(sorted(best), [best[x] for x in sorted(best)], color="C1", label="best")
        if numeric and min(values) > 0 and max(values) / min(values) >= 20:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(list(position.values()), list(position), rotation=20, ha="right")
        ax.set(xlabel=name, ylabel=result.metric, title=f"{result.metric} against {name}")
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for i, row in enumerate(rows[:BEST_CURVES]):
        curves = [r["history"] for r in result.records if r["config"] == row.config and r.get("history")]
        if curves:
            length = min(len(c) for c in curves)
            mean = [sum(c[e] or 0.0 for c in curves) / len(curves) for e in range(length)]
            label = ", ".join(f"{k}={_fmt(v)}" for k, v in row.config.items()) or "base"
            ax.plot(range(1, length + 1), mean, color=f"C{i}", label=label)
    ax.set(xlabel="epoch", ylabel="training loss", title=f"loss of the best {min(len(rows), BEST_CURVES)}")
    ax.set_yscale("log" if all(v > 0 for line in ax.get_lines() for v in line.get_ydata()) and ax.get_lines()
                  else "linear")
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize="small")
    if path is not None:
        with atomic_target(path, suffix=Path(path).suffix) as tmp:
            fig.savefig(tmp)
    return fig


def check_path(path: str) -> None:
    """A plot's file name (.png, .pdf, .svg), and matplotlib installed to draw it."""
    if Path(path).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UserInputError(f"--plot {path!r}: give a .png, .pdf or .svg file name")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserInputError("--plot needs matplotlib: pip install 'symnn[plot]'") from None


def _distinct(values) -> list:
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    try:
        return sorted(out)
    except TypeError:
        return out
