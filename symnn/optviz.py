"""`symnn optviz`: optimizers racing on a 2-D test surface, the classic picture.

Runtime side only: the surfaces' value, gradient and grid kernels and their data (start point,
plotting window, known minima) come from the generated modules `symnn.generated.surfaces.<name>`,
the updates from the real optimizer classes (`make_optimizer`). SymPy is never imported.

A fair race: every optimizer runs with one shared learning rate, per surface the largest of 0.3, 0.1,
0.03, 0.01, 0.003, 0.001 at which none of the default optimizers diverges over the default number of
steps (`SHARED_LR`); `lr=` sets another shared rate, `lr_for={"adagrad": 0.5}` one optimizer's own.
`tuned=True` uses instead the per-optimizer rates below, chosen so that each optimizer makes visible
progress without diverging (a showcase of each at its best, not a comparison at equal rates):

=============  =====  ======  ========  ========  ========  =======  =====  =====  =====  =====
surface        steps  shared  sgd       momentum  nesterov  adagrad  rms    adam   adamw  nadam
=============  =====  ======  ========  ========  ========  =======  =====  =====  =====  =====
beale          500    0.003   0.01      0.001     0.001     0.5      0.01   0.1    0.1    0.1
rosenbrock     1000   0.001   0.001     0.001     0.001     0.5      0.01   0.1    0.1    0.1
saddle         100    0.003   0.05      0.01      0.01      0.1      0.01   0.05   0.05   0.05
himmelblau     200    0.01    0.005     0.001     0.001     0.3      0.03   0.1    0.1    0.1
booth          200    0.03    0.01      0.01      0.01      1.0      0.1    0.3    0.3    0.3
ravine         150    0.1     0.4       0.03      0.03      0.5      0.03   0.1    0.1    0.1
=============  =====  ======  ========  ========  ========  =======  =====  =====  =====  =====

(rms: rmsprop. AdamW keeps torch's default weight_decay 0.01, which pulls it towards the origin. NAdam
races at Adam's rate, not tuned on its own: at it, it makes progress on every surface without diverging,
though on rosenbrock it is still short of the minimum after the 1000 steps.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from importlib import import_module
from numbers import Integral, Real
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np

from symnn.atomic import atomic_target
from symnn.errors import UserInputError
from symnn.runtime import kernels
from symnn.runtime.optimizers import OPTIMIZER_NAMES, make_optimizer

#: The optimizers raced when none are named.
DEFAULT_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: The surface drawn when none is named.
DEFAULT_SURFACE = "beale"
#: surface -> the number of steps when none is given.
DEFAULT_STEPS: dict[str, int] = {"beale": 500, "rosenbrock": 1000, "saddle": 100, "himmelblau": 200,
                                 "booth": 200, "ravine": 150}
_LR_COLUMNS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam")
#: surface -> the learning rate every optimizer races with by default (the table's "shared" column).
SHARED_LR: dict[str, float] = {"beale": 0.003, "rosenbrock": 0.001, "saddle": 0.003, "himmelblau": 0.01,
                               "booth": 0.03, "ravine": 0.1}
#: surface -> optimizer -> its tuned learning rate there (`tuned=True`; the table in this module's docstring).
TUNED_LR: dict[str, dict[str, float]] = {surface: dict(zip(_LR_COLUMNS, rates)) for surface, rates in {
    "beale": (0.01, 0.001, 0.001, 0.5, 0.01, 0.1, 0.1, 0.1),
    "rosenbrock": (0.001, 0.001, 0.001, 0.5, 0.01, 0.1, 0.1, 0.1),
    "saddle": (0.05, 0.01, 0.01, 0.1, 0.01, 0.05, 0.05, 0.05),
    "himmelblau": (0.005, 0.001, 0.001, 0.3, 0.03, 0.1, 0.1, 0.1),
    "booth": (0.01, 0.01, 0.01, 1.0, 0.1, 0.3, 0.3, 0.3),
    "ravine": (0.4, 0.03, 0.03, 0.5, 0.03, 0.1, 0.1, 0.1),
}.items()}
#: The tuned table under its earlier name (it was the default before the race became fair).
DEFAULT_LR = TUNED_LR
MAX_STEPS = 100_000
#: A GIF shows at most this many frames (evenly spaced steps), then holds the last one.
MAX_GIF_FRAMES = 60
GIF_FPS = 12
GIF_DPI = 80
_SUFFIXES = (".png", ".gif")


class Surface(NamedTuple):
    """A generated test surface: its kernels and its data, as the runtime sees it."""

    name: str
    value: object  # value(xy) -> float
    grad: object  # grad(xy, out)
    grid: object  # grid(xs, ys, out): out[j, i] = f(xs[i], ys[j])
    start: tuple[float, float]
    window: tuple[tuple[float, float], tuple[float, float]]
    minima: tuple[tuple[float, float], ...]
    description: str
    formula: str


class Row(NamedTuple):
    """One optimizer's result; None where a value is not finite (diverged) or there is no minimum."""

    optimizer: str
    x: float | None
    y: float | None
    f: float | None
    distance: float | None  # to the nearest known minimum
    lr: float | None = None


def surface_names() -> tuple[str, ...]:
    """The generated surfaces' names."""
    return tuple(import_module("symnn.generated.surfaces").NAMES)


def load_surface(name: str) -> Surface:
    """The generated surface `name`; an unknown name is bad input."""
    names = surface_names()
    if not isinstance(name, str) or name not in names:
        raise UserInputError(f"unknown surface {name!r}; choose one of {', '.join(names)}")
    mod: ModuleType = kernels.generated(f"surfaces.{name}")
    return Surface(name, getattr(mod, f"{name}_value"), getattr(mod, f"{name}_grad"), getattr(mod, f"{name}_grid"),
                   mod.START, mod.WINDOW, mod.MINIMA, mod.DESCRIPTION, mod.FORMULA)


def optimizer_list(optimizers: Sequence[str] | str | None) -> list[str]:
    """Checked optimizer names, duplicates dropped; a string is split on commas; None: the defaults."""
    if optimizers is None:
        return list(DEFAULT_OPTIMIZERS)
    items = optimizers.split(",") if isinstance(optimizers, str) else list(optimizers)
    names = list(dict.fromkeys(str(n).strip() for n in items if str(n).strip()))
    if not names:
        raise UserInputError(f"name at least one optimizer, e.g. sgd,momentum,adam (from {', '.join(OPTIMIZER_NAMES)})")
    for n in names:
        if n not in OPTIMIZER_NAMES:
            raise UserInputError(f"unknown optimizer {n!r}; choose from {', '.join(OPTIMIZER_NAMES)}")
    return names


def _steps(surface: str, steps: int | None) -> int:
    if steps is None:
        return DEFAULT_STEPS.get(surface, 200)
    if isinstance(steps, bool) or not isinstance(steps, Integral) or not 1 <= steps <= MAX_STEPS:
        raise UserInputError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    return int(steps)


def _rate(label: str, lr: object) -> float:
    if isinstance(lr, bool) or not isinstance(lr, Real) or not (math.isfinite(lr) and lr > 0):
        raise UserInputError(f"{label} must be a finite number > 0, got {lr!r}")
    return float(lr)


def learning_rates(surface: str, optimizers: Sequence[str] | str | None = None, lr: float | None = None,
                   *, lr_for: Mapping[str, float] | None = None, tuned: bool = False) -> dict[str, float]:
    """optimizer -> the learning rate it races with: one shared rate (`lr`, else SHARED_LR[surface]),
    or with `tuned` each optimizer's TUNED_LR; `lr_for` then overrides single optimizers."""
    load_surface(surface)
    names = optimizer_list(optimizers)
    if lr is not None and tuned:
        raise UserInputError("give either one shared lr or tuned=True (per-optimizer rates), not both")
    if tuned:
        table = TUNED_LR.get(surface, {})
        rates = {n: table.get(n, make_optimizer(n).lr) for n in names}
    else:
        shared = _rate("lr", lr) if lr is not None else SHARED_LR.get(surface, 0.01)
        rates = {n: shared for n in names}
    for name, rate in (lr_for or {}).items():
        if name not in rates:
            raise UserInputError(f"lr_for names {name!r}, which is not in the race ({', '.join(rates)})")
        rates[name] = _rate(f"lr_for[{name!r}]", rate)
    return rates


def _start(s: Surface, start: Sequence[float] | None) -> tuple[float, float]:
    if start is None:
        return s.start
    ok = not isinstance(start, str) and isinstance(start, Sequence) and len(start) == 2 and all(
        isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in start)
    if not ok:
        raise UserInputError(f"start must be two finite numbers (x, y), got {start!r}")
    return float(start[0]), float(start[1])


def run_race(surface: str, optimizers: Sequence[str] | str | None = None, steps: int | None = None,
             lr: float | None = None, *, start: Sequence[float] | None = None,
             lr_for: Mapping[str, float] | None = None, tuned: bool = False) -> dict[str, np.ndarray]:
    """optimizer -> its (steps + 1, 2) float64 trajectory, row 0 the start point.

    Each optimizer (a `make_optimizer` instance) updates one float64 array of two parameters (x, y)
    with the gradient from the generated kernel. optimizers None: DEFAULT_OPTIMIZERS; steps None: the
    surface's DEFAULT_STEPS; lr None: the surface's SHARED_LR (see `learning_rates` for `lr_for`,
    `tuned`); start None: the surface's.
    A diverging optimizer's trajectory runs to inf or NaN and is kept as it is.
    """
    s = load_surface(surface)
    n = _steps(surface, steps)
    rates = learning_rates(surface, optimizers, lr, lr_for=lr_for, tuned=tuned)
    origin = _start(s, start)
    out: dict[str, np.ndarray] = {}
    grad = np.empty(2, dtype=np.float64)
    for name, rate in rates.items():
        opt = make_optimizer(name, rate)
        xy = np.array(origin, dtype=np.float64)
        path = np.empty((n + 1, 2), dtype=np.float64)
        path[0] = xy
        for k in range(1, n + 1):
            s.grad(xy, grad)
            opt.step([xy], [grad])
            path[k] = xy
        out[name] = path
    return out


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def summary(trajectories: Mapping[str, np.ndarray], surface: str,
            lrs: Mapping[str, float] | None = None) -> list[Row]:
    """One row per optimizer: its final point, f there, and the distance to the nearest known minimum."""
    s = load_surface(surface)
    rows = []
    for name, path in trajectories.items():
        xy = np.ascontiguousarray(np.asarray(path, dtype=np.float64)[-1])
        f = float(s.value(xy))
        dist = min((math.hypot(xy[0] - a, xy[1] - b) for a, b in s.minima), default=math.nan)
        rows.append(Row(name, _finite(xy[0]), _finite(xy[1]), _finite(f), _finite(dist),
                        None if lrs is None else lrs.get(name)))
    return rows


def table(rows: Sequence[Row], surface: str | None = None) -> str:
    """The rows as a plain-text table (`diverged` where the final point is not finite)."""
    width = max([len("optimizer")] + [len(r.optimizer) for r in rows])
    lines = [f"{'optimizer':{width}}  {'lr':>8}  {'x':>10}  {'y':>10}  {'f(x, y)':>11}  {'to minimum':>10}"]

    def num(v: float | None, w: int, fmt: str) -> str:
        return f"{'-' if v is None else format(v, fmt):>{w}}"

    for r in rows:
        if r.x is None or r.y is None:
            lines.append(f"{r.optimizer:{width}}  {num(r.lr, 8, 'g')}  diverged")
            continue
        lines.append(f"{r.optimizer:{width}}  {num(r.lr, 8, 'g')}  {num(r.x, 10, '.5g')}  {num(r.y, 10, '.5g')}  "
                     f"{num(r.f, 11, '.4g')}  {num(r.distance, 10, '.3g')}")
    if surface is not None:
        s = load_surface(surface)
        where = ", ".join(f"({a:.4g}, {b:.4g})" for a, b in s.minima) or "none (unbounded below)"
        lines.append(f"{surface}: known minima: {where}")
    return "\n".join(lines)


# --- drawing -------------------------------------------------------------------------------------
def new_figure(figsize: tuple[float, float]):
    """A matplotlib Figure on its own canvas, without pyplot (symnn.plotting.new_figure)."""
    from symnn.plotting import new_figure as figure

    return figure(figsize, "optviz")


def _levels(z: np.ndarray) -> tuple[np.ndarray, bool]:
    """Contour levels: log-spaced where f > 0 over the window, else linear; and whether log."""
    finite = z[np.isfinite(z)]
    lo, hi = float(finite.min()), float(finite.max())
    if lo < 0 or hi <= 0:
        return np.linspace(lo, hi, 31), False
    lo = max(float(np.quantile(finite, 0.001)), hi * 1e-9, np.finfo(np.float64).tiny)
    return np.geomspace(lo, hi, 31), True


def _label(name: str, path: np.ndarray, s: Surface, lrs: Mapping[str, float] | None) -> str:
    """`adam (lr 0.01): f = 0.123`, f where `path` ends (a GIF frame passes the path so far)."""
    f = float(s.value(np.ascontiguousarray(path[-1], dtype=np.float64)))
    rate = f" (lr {lrs[name]:g})" if lrs and name in lrs else ""
    return f"{name}{rate}: f = {f:.3g}" + ("" if math.isfinite(f) else " (diverged)")


def labels_at(surface: str, trajectories: Mapping[str, np.ndarray], lrs: Mapping[str, float] | None,
              step: int) -> list[str]:
    """The legend's entries at `step`: each optimizer's f where it is at that step (a GIF frame)."""
    s = load_surface(surface)
    out = []
    for name, raw in trajectories.items():
        path = np.asarray(raw, dtype=np.float64)
        out.append(_label(name, path[: min(step, len(path) - 1) + 1], s, lrs))
    return out


def _figure(s: Surface, trajectories: Mapping[str, np.ndarray], lrs: Mapping[str, float] | None,
            scale: float = 1.0):
    """The contour plot with every trajectory drawn in full; returns (fig, ax, lines, ends, paths)."""
    fig = new_figure((7.5 * scale, 6 * scale))
    from matplotlib.colors import LogNorm

    (x0, x1), (y0, y1) = s.window
    xs, ys = np.linspace(x0, x1, 300), np.linspace(y0, y1, 300)
    z = np.empty((ys.size, xs.size), dtype=np.float64)
    s.grid(xs, ys, z)
    levels, log = _levels(z)
    ax = fig.subplots()
    norm = LogNorm(vmin=levels[0], vmax=levels[-1]) if log else None
    filled = ax.contourf(xs, ys, np.clip(z, levels[0], levels[-1]), levels=levels, norm=norm, cmap="Greys_r",
                         alpha=0.7)
    ax.contour(xs, ys, z, levels=levels, norm=norm, colors="k", linewidths=0.3, alpha=0.35)
    if log:
        from matplotlib.ticker import LogFormatterSciNotation, LogLocator

        bar = fig.colorbar(filled, ax=ax, shrink=0.85, ticks=LogLocator(), format=LogFormatterSciNotation())
    else:
        bar = fig.colorbar(filled, ax=ax, shrink=0.85)
    bar.set_label("f(x, y)" + (" (log scale)" if log else ""))
    if s.minima:
        m = np.array(s.minima)
        ax.plot(m[:, 0], m[:, 1], "*", color="gold", markeredgecolor="k", markersize=15, label="minimum",
                zorder=4)
    first = next((np.asarray(p, dtype=np.float64)[0] for p in trajectories.values()), np.array(s.start))
    ax.plot(*first, "o", color="w", markeredgecolor="k", markersize=9, label=f"start ({first[0]:g}, {first[1]:g})",
            zorder=5)
    # Far-off points (a diverging run) are drawn clipped to a box around the window.
    span = max(x1 - x0, y1 - y0)
    box_lo, box_hi = np.array([x0, y0]) - 10 * span, np.array([x1, y1]) + 10 * span
    lines, ends, paths = [], [], []
    for k, (name, raw) in enumerate(trajectories.items()):
        path = np.clip(np.asarray(raw, dtype=np.float64), box_lo, box_hi)
        color = f"C{k % 10}"
        (line,) = ax.plot(path[:, 0], path[:, 1], "-", color=color, linewidth=1.8, alpha=0.95, zorder=6,
                          label=_label(name, np.asarray(raw, dtype=np.float64), s, lrs))
        (end,) = ax.plot(path[-1:, 0], path[-1:, 1], "o", color=color, markeredgecolor="k", markersize=7, zorder=7)
        lines.append(line)
        ends.append(end)
        paths.append(path)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y")
    ax.set_title(f"{s.name}: f(x, y) = {s.formula}", fontsize=9 if len(s.formula) > 40 else 11)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return fig, ax, lines, ends, paths


def _atomic_save(target: Path, save) -> None:
    """Call save(temporary path) beside the target, then rename it onto the target (symnn.atomic).

    The file gets the permissions a plain open() would give (mkstemp's are owner-only).
    """
    umask = os.umask(0)
    os.umask(umask)
    with atomic_target(target, suffix=target.suffix) as tmp:
        save(tmp)
        os.chmod(tmp, 0o666 & ~umask)


def output_path(path: str | os.PathLike) -> Path:
    """The picture's path, checked: it must end in .png or .gif (any case)."""
    target = Path(path)
    if target.suffix.lower() not in _SUFFIXES:
        raise UserInputError(f"--out {str(path)!r}: give a .png or .gif file name")
    return target


def draw(path: str | os.PathLike | None, surface: str, trajectories: Mapping[str, np.ndarray],
         lrs: Mapping[str, float] | None = None):
    """The race as a matplotlib Figure (a notebook shows it); with a path, also written as a PNG (the
    whole trajectories) or an animated GIF (growing step by step; the Figure is its last frame).

    The surface as filled contours (log-spaced levels where f > 0 over the window), each trajectory a
    coloured line ending in a dot, the start and the known minima marked, the legend giving each
    optimizer's f (and its lr, from `lrs`): in a GIF frame, f where the optimizer is at that frame.
    The GIF holds at most MAX_GIF_FRAMES evenly spaced steps, then the finish for 2 s. Written
    atomically: a temporary file beside the target, renamed onto it. Bad suffix or surface, or no
    matplotlib: UserInputError.
    """
    target = None if path is None else output_path(path)
    s = load_surface(surface)
    for name, p in trajectories.items():
        a = np.asarray(p)
        if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 1:
            raise UserInputError(f"trajectory {name!r} must have shape (steps + 1, 2), got {a.shape}")
    if target is None or target.suffix.lower() == ".png":
        fig = _figure(s, trajectories, lrs)[0]
        if target is not None:
            _atomic_save(target, lambda tmp: fig.savefig(tmp, dpi=120))
        return fig
    return _animate(target, s, trajectories, lrs)


def race(surface: str = DEFAULT_SURFACE, optimizers: Sequence[str] | str | None = None, steps: int | None = None,
         lr: float | None = None, *, out: str | os.PathLike | None = None, lr_for: Mapping[str, float] | None = None,
         tuned: bool = False, start: Sequence[float] | None = None):
    """Run the race and return its Figure (written to `out`, a .png or .gif, if given): one call for a notebook."""
    if out is not None:
        output_path(out)
    lrs = learning_rates(surface, optimizers, lr, lr_for=lr_for, tuned=tuned)
    trajectories = run_race(surface, optimizers, steps, lr, start=start, lr_for=lr_for, tuned=tuned)
    return draw(out, surface, trajectories, lrs)


def _animate(target: Path, s: Surface, trajectories: Mapping[str, np.ndarray], lrs: Mapping[str, float] | None):
    """The GIF: the contours drawn once, the trajectories and the legend (each optimizer's f at that
    frame) drawn over them frame by frame (blitted), saved by Pillow. Returns the Figure."""
    from PIL import Image  # Pillow is a dependency of matplotlib

    fig, ax, lines, ends, paths = _figure(s, trajectories, lrs, scale=0.85)
    n = max((len(p) for p in paths), default=1)
    frames = [int(i) for i in np.unique(np.linspace(0, n - 1, min(n, MAX_GIF_FRAMES)).round())]
    counter = ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=9, zorder=8,
                      bbox={"boxstyle": "round", "facecolor": "w", "alpha": 0.8})
    legend = ax.get_legend()
    # Pin the legend where "best" puts it for the whole race, so it does not jump between frames.
    fig.set_dpi(GIF_DPI)
    fig.canvas.draw()
    corner = ax.transAxes.inverted().transform(legend.get_window_extent().p0)
    legend.set_loc("lower left")
    legend.set_bbox_to_anchor((float(corner[0]), float(corner[1])), transform=ax.transAxes)
    texts = legend.get_texts()[-len(lines):] if lines else []  # the trajectories' entries, in order
    moving = [*lines, *ends, counter, legend]  # animated: left out of the background, drawn once per frame
    for artist in moving:
        artist.set_animated(True)
    fig.set_dpi(GIF_DPI)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    images = []
    for k in frames:
        fig.canvas.restore_region(background)
        for line, end, p, text, label in zip(lines, ends, paths, texts, labels_at(s.name, trajectories, lrs, k)):
            j = min(k, len(p) - 1)
            line.set_data(p[: j + 1, 0], p[: j + 1, 1])
            end.set_data(p[j : j + 1, 0], p[j : j + 1, 1])
            text.set_text(label)
        counter.set_text(f"step {k}/{n - 1}")
        for artist in moving:
            ax.draw_artist(artist)
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()))
    # One palette, from the last frame (every trajectory drawn), so Pillow stores only what changes.
    palette = images[-1].quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [1000 // GIF_FPS] * (len(images) - 1) + [2000]  # hold the finish
    _atomic_save(target, lambda tmp: images[0].save(tmp, format="GIF", save_all=True,
                                                    append_images=images[1:], duration=durations, loop=0))
    for artist in moving:  # shown as a still (a notebook), the Figure is the last frame
        artist.set_animated(False)
    return fig


__all__ = ["DEFAULT_OPTIMIZERS", "DEFAULT_STEPS", "DEFAULT_SURFACE", "MAX_STEPS", "SHARED_LR", "TUNED_LR", "Row", "Surface",
           "draw", "labels_at", "learning_rates", "load_surface", "new_figure", "optimizer_list", "output_path", "race",
           "run_race",
           "summary", "surface_names", "table"]
