"""What a person reads from a sweep: per configuration the mean and spread of a metric, best first.

`SweepResult` holds the runs' JSON lines; it prints as a table, renders as HTML in a notebook,
becomes a pandas DataFrame (one row per run) where pandas is installed, and draws the metric against
each swept parameter beside the loss curves of the best configurations.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

#: Metrics by whether more is better; the default is the first a sweep's runs have.
METRICS = {"test_accuracy": True, "train_accuracy": True, "test_loss": False, "loss": False}


@dataclass
class Row:
    """One configuration's runs: the metric's mean, sample standard deviation, min and max."""

    config: dict
    runs: int
    failed: int
    mean: float | None
    std: float | None
    low: float | None
    high: float | None
    seconds: float


@dataclass
class SweepResult:
    """The runs of a sweep (their JSON lines, in plan order) and how to read them."""

    records: list[dict]
    grid: list[str]
    metric: str | None = None
    out: str | None = None
    seconds: float = 0.0
    engine: str = ""
    planned: int = 0
    resumed: int = 0  # runs taken from the results file, not run again
    rows: list[Row] = field(init=False)

    def __post_init__(self) -> None:
        if self.metric is None:
            self.metric = default_metric(self.records)
        check_metric(self.metric)
        self.rows = summarise(self.records, self.metric)

    @property
    def failed(self) -> list[dict]:
        """The lines of the runs that raised."""
        return [r for r in self.records if r.get("error") is not None]

    @property
    def ok(self) -> bool:
        return not self.failed and len(self.records) == self.planned

    @property
    def best(self) -> dict | None:
        """The best configuration's swept values (by the mean of the metric)."""
        return self.rows[0].config if self.rows and self.rows[0].mean is not None else None

    def to_json(self) -> dict:
        """The `symnn sweep --json` object."""
        return {"metric": self.metric, "higher_is_better": METRICS[self.metric], "runs": len(self.records),
                "planned": self.planned, "resumed": self.resumed, "failed": len(self.failed), "seconds": round(self.seconds, 3),
                "engine": self.engine, "out": self.out,
                "configs": [{"config": r.config, "runs": r.runs, "failed": r.failed, "mean": r.mean, "std": r.std,
                             "min": r.low, "max": r.high, "seconds": r.seconds} for r in self.rows]}

    def table(self) -> str:
        """The summary as aligned text, best configuration first."""
        head = [*self.grid, self.metric, "runs", "s/run"]
        body = [[_fmt(r.config.get(n)) for n in self.grid] +
                [_mean_std(r.mean, r.std), f"{r.runs - r.failed}" + (f" ({r.failed} failed)" if r.failed else ""),
                 f"{r.seconds:.2f}"] for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *body]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        best = f", best {self.best}" if self.best else ""
        return f"SweepResult({len(self.records)} runs, {len(self.failed)} failed, {self.metric}{best})"

    def _repr_html_(self) -> str:
        head = [*self.grid, f"{self.metric} (mean ± std)", "runs", "failed", "s/run"]
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        rows = []
        for r in self.rows:
            values = [_fmt(r.config.get(n)) for n in self.grid] + [_mean_std(r.mean, r.std), r.runs, r.failed,
                                                                  f"{r.seconds:.2f}"]
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in values) + "</tr>")
        caption = html.escape(f"{len(self.records)} runs, {len(self.failed)} failed, {self.seconds:.1f} s on "
                              f"{self.engine}; best first")
        return f"<table><caption>{caption}</caption><tr>{cells}</tr>{''.join(rows)}</table>"

    def to_pandas(self):
        """One row per run: the swept values, seed, fold, metrics, seconds, host, pid and error."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        rows = []
        for r in self.records:
            row = {n: _fmt(r["config"].get(n)) if isinstance(r["config"].get(n), list) else r["config"].get(n)
                   for n in self.grid}
            row.update(seed=r["seed"], fold=r["fold"])
            row.update({m: (r.get("metrics") or {}).get(m) for m in METRICS})
            row.update(seconds=r.get("seconds"), host=r.get("host"), pid=r.get("pid"), error=r.get("error"))
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(self, path: str | None = None):
        """The metric against each swept parameter, and the loss curves of the best configurations."""
        from symnn.sweeps.plot import plot_sweep

        return plot_sweep(self, path)


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        from symnn.errors import UserInputError

        raise UserInputError(f"--metric {metric}: choose one of {', '.join(METRICS)}")


def default_metric(records: list[dict]) -> str:
    for name in METRICS:
        if any((r.get("metrics") or {}).get(name) is not None for r in records):
            return name
    return "loss"


def summarise(records: list[dict], metric: str) -> list[Row]:
    """One Row per configuration, best mean first (configurations with no value last)."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(json.dumps(r["config"], sort_keys=True), []).append(r)
    rows = []
    for runs in groups.values():
        values = [v for r in runs if (v := (r.get("metrics") or {}).get(metric)) is not None]
        mean = sum(values) / len(values) if values else None
        std = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0) \
            if values else None
        seconds = sum(r.get("seconds") or 0.0 for r in runs) / len(runs)
        rows.append(Row(runs[0]["config"], len(runs), sum(r.get("error") is not None for r in runs), mean, std,
                        min(values, default=None), max(values, default=None), seconds))
    sign = -1.0 if METRICS[metric] else 1.0
    return sorted(rows, key=lambda r: (r.mean is None, sign * r.mean if r.mean is not None else 0.0))


def _fmt(value) -> str:
    if isinstance(value, list):
        return "-".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return "default" if value is None else str(value)


def _mean_std(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "failed"
    return f"{mean:.4g} ± {std:.2g}"
