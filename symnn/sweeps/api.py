"""`symnn.sweep(...)`: plan the runs, compile their kernels once, fan them out, record each as it ends."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields

from symnn.errors import UserInputError
from symnn.runtime.training import TrainConfig
from symnn.sweeps import engines, precompile, worker
from symnn.sweeps.plan import SWEEPABLE, normalise_grid, plan
from symnn.sweeps.results import ResultsFile
from symnn.sweeps.summary import SweepResult, check_metric


def sweep(grid: Mapping[str, Sequence] | None = None, *, seeds: int = 1, cv: int | None = None,
          out: str | None = None, jobs: int | None = None, scheduler: str | None = None,
          local_cluster: int | None = None, resume: bool = False, metric: str | None = None,
          progress: bool = True, base: TrainConfig | None = None, **options) -> SweepResult:
    """Train every combination of `grid` x `seeds` (x `cv` folds) and return the runs, summarised.

    `grid`: option name -> values, the names of `symnn train`'s options (`lr`, `batch_size` or
    `batch-size`, `activation`, `optimizer`, `layers`, ...); `options` (or `base`): the options
    every run shares (`data="digits"`, `epochs=20`, ...). Seeds are `seed`, `seed + 1`, ...; with
    `cv=K` each run holds out one of K folds (stratified for classes, drawn with the base seed) as
    its test set. Engines: `jobs` joblib processes (default: all cores), a `local_cluster` of N
    Dask workers on 127.0.0.1, or the Dask cluster whose `scheduler` address is given. `out`: a
    results file (one JSON line per run, written as each run ends); `resume=True` runs only the runs
    it is missing. A run that fails is recorded with its error; the others go on.
    """
    from symnn.cli import train_options_parser

    base = _base(base, options)
    parser = train_options_parser()
    grid = normalise_grid(grid or {}, parser)
    runs = plan(base, grid, seeds=seeds, cv=cv)
    engines.check_choice(jobs, scheduler, local_cluster)
    if metric is not None:
        check_metric(metric)
    start = time.perf_counter()
    data = _load_data(base, runs, data_swept="data" in grid or "target" in grid)
    results = ResultsFile(out, resume, {r.id for r in runs}) if out else None
    done = dict(results.done) if results else {}
    resumed = len(done)
    pending = [r for r in runs if r.id not in done]
    shown = _Progress(len(runs), len(done), enabled=progress)
    description = ""
    try:
        with engines.engine(jobs, scheduler, local_cluster) as eng:
            description = eng.describe()
            if pending and eng.name != "serial":
                configs = precompile.representatives(base, pending)
                with engines.warming(eng, worker.warm_up):  # the workers start while the parent compiles
                    precompile.precompile(configs)
                engines.precompile_on_other_hosts(eng, precompile.precompile, configs)
            from joblib import delayed

            base_dict = asdict(base)
            tasks = [delayed(worker.run)(base_dict, r, cv, data.get(worker.data_key(r.train_config(base))))
                     for r in pending]
            shared = [d for d in data.values() if d is not None]
            for record in engines.run_all(eng, tasks, shared) if tasks else ():
                done[record["id"]] = record
                if results:
                    results.append(record)
                shown.update(record)
    except KeyboardInterrupt:
        shown.close()
        where = f" in {out}; run it again with --resume for the rest" if out else ""
        print(f"symnn: interrupted: {len(done)} of {len(runs)} runs finished{where}", file=sys.stderr)
        raise
    finally:
        shown.close()
        if results:
            results.close()
    records = [done[r.id] for r in runs if r.id in done]
    return SweepResult(records, list(grid), metric=metric, out=out, seconds=time.perf_counter() - start,
                       engine=description, planned=len(runs), resumed=resumed)


def _base(base: TrainConfig | None, options: dict) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    options = {k.replace("-", "_"): v for k, v in options.items()}
    unknown = sorted(set(options) - names)
    if unknown:
        raise UserInputError(f"sweep: unknown option(s) {', '.join(unknown)}; the train options are "
                             f"{', '.join(sorted(SWEEPABLE))} and seed")
    values = asdict(base) if base is not None else {}
    values.update(options)
    return TrainConfig(**values)


def _load_data(base: TrainConfig, runs: list, data_swept: bool) -> dict:
    """The runs' data sets, loaded once here and shipped with the runs: workers need neither the
    loaders' imports nor the files (a csv:PATH exists on this machine, not necessarily on a cluster's).

    A bad --data is bad usage (exit 2); a bad value in the grid is left for its runs to record.
    """
    data = {}
    for run in runs:
        config = run.train_config(base)
        key = worker.data_key(config)
        if key not in data:
            try:
                data[key] = worker.load_data(config)
            except Exception:
                if not data_swept:
                    raise
                data[key] = None
    return data


class _Progress:
    """`sweep 12/64 runs  1 failed  3.2 s` on stderr, where a person watches (a terminal)."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.total, self.done, self.failed = total, done, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self._open = False

    def update(self, record: dict) -> None:
        self.done += 1
        self.failed += record.get("error") is not None
        if self.enabled:
            failed = f"  {self.failed} failed" if self.failed else ""
            sys.stderr.write(f"\rsweep {self.done}/{self.total} runs{failed}  {time.perf_counter() - self.start:.1f} s")
            sys.stderr.flush()
            self._open = True

    def close(self) -> None:
        if self._open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._open = False
