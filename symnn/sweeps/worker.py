"""One run of a sweep, in whichever process an engine gives it: train, measure, and describe it.

What comes back is the run's JSON line as a dict; a run that raises is described by its error, so
one bad configuration never stops the others. Every run uses one BLAS thread (parallelism comes
from runs side by side, not from threads fighting over the same cores), and counts what Numba
compiled during it: 0 when the parent compiled the sweep's kernels before fanning out.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
import traceback

import numpy as np

from symnn.runtime.training import TrainConfig
from symnn.sweeps.plan import Run


def run(base: dict, run: Run, cv: int | None, dataset=None) -> dict:
    """Train `run` on top of the base options (a TrainConfig as a dict) and return its JSON line.

    `dataset`: the run's data as the parent loaded it (see `data_key`); None: load it here.
    """
    start = time.perf_counter()
    record = {"id": run.id, "config": run.config, "seed": run.seed, "fold": run.fold}
    compiled = _compile_counter()
    before = len(compiled)
    try:
        with _one_blas_thread() as blas_threads:
            config = run.train_config(TrainConfig(**base))
            data = dataset if dataset is not None else load_data(config)
            result = _train(config, data, run.fold, cv, cv_seed=base["seed"])
            summary = result.summary()
            record["metrics"] = {k: _finite(summary[k]) for k in
                                 ("loss", "train_accuracy", "test_accuracy", "test_loss") if k in summary}
            record["history"] = [_finite(v) for v in summary["history"]]
            record["error"] = None
            record["blas_threads"] = blas_threads()
    except Exception as e:  # noqa: BLE001 - a failed run is recorded, and the sweep goes on
        record.update(metrics=None, history=None, error=_describe(e))
    record.update(seconds=round(time.perf_counter() - start, 4), host=socket.gethostname(), pid=os.getpid(),
                  compiled=compiled[before:])
    return record


def warm_up() -> int:
    """What a fresh worker process pays before its first run, paid while the parent precompiles:
    Numba's import (the compile counter), SciPy's BLAS (the evaluation's np.dot) and threadpoolctl's
    scan. Loads no kernel (the parent may still be writing them). Returns the process id."""
    import scipy.linalg  # noqa: F401

    _compile_counter()
    _blas_controller()
    return os.getpid()


def data_key(config: TrainConfig) -> tuple:
    """What a run's data depends on: the name, the target, and the seed for generated sets."""
    from symnn import datasets

    generated = config.data.strip().lower().replace("-", "_") in datasets.GENERATED
    return config.data, config.target, config.seed if generated else None


def load_data(config: TrainConfig):
    """The run's Dataset, as `symnn train` loads it."""
    from symnn import datasets

    return datasets.load(config.data, seed=config.seed, **({"target": config.target} if config.target else {}))


def _train(config: TrainConfig, ds, fold: int | None, cv: int | None, cv_seed: int):
    """`symnn train`'s split and fit (the same numbers as `train(config)`); with --cv, fold `fold`
    held out instead (folds drawn with the base seed, so every configuration and seed meets the
    same folds)."""
    from symnn import datasets
    from symnn.runtime.training import fit_split

    if fold is None:
        Xtr, Xte, ytr, yte = datasets.train_test_split(ds.X, ds.y, config.test_fraction, config.seed)
        return fit_split(config, ds, Xtr, Xte, ytr, yte, progress=False)
    test = fold_rows(ds.y, cv, fold, seed=cv_seed)
    train_rows = np.setdiff1d(np.arange(len(ds.y)), test)
    return fit_split(config, ds, ds.X[train_rows], ds.X[test], ds.y[train_rows], ds.y[test], progress=False)


def fold_rows(y: np.ndarray, k: int, fold: int, seed: int) -> np.ndarray:
    """The test rows of fold `fold` of `k`: seeded, and per class for class labels (stratified)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    if k > n:
        raise ValueError(f"--cv {k} needs at least {k} rows; the data has {n}")
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        # deal each class's shuffled rows round-robin, continuing where the last class stopped
        order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    else:
        order = rng.permutation(n)
    return np.sort(order[np.arange(n) % k == fold])


def _finite(value):
    """JSON has no NaN or infinity: such a value is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _describe(e: BaseException) -> str:
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" (at {os.path.basename(where.filename)}:{where.lineno})" if where and not _is_user_error(e) else ""
    return f"{type(e).__name__}: {e}{at}"


def _is_user_error(e: BaseException) -> bool:
    from symnn.errors import UserInputError

    return isinstance(e, UserInputError)


#: Read by OpenBLAS, MKL and OpenMP when a library loads (SciPy's OpenBLAS loads on a first np.dot).
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


class _one_blas_thread:
    """One BLAS thread for the block: loaded libraries limited by threadpoolctl, libraries loaded
    during the block by the environment variables they read. Yields a probe of the threads in effect."""

    def __enter__(self):
        self._env = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
        self._limits = _blas_controller().limit(limits=1, user_api="blas")
        return _blas_threads

    def __exit__(self, *exc) -> None:
        self._limits.restore_original_limits()
        for name, value in self._env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_CONTROLLER: dict = {}


def _blas_controller():
    """threadpoolctl's view of the loaded libraries, scanned again only when modules were imported
    since the last scan (a scan costs ~7 ms, more than a tiny run)."""
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER.get("modules") != len(sys.modules):
        _CONTROLLER.update(controller=ThreadpoolController(), modules=len(sys.modules))
    return _CONTROLLER["controller"]


def _blas_threads() -> int:
    """The most threads any loaded BLAS library would use now."""
    return max((int(i["num_threads"]) for i in _blas_controller().info() if i.get("user_api") == "blas"),
               default=1)


_COMPILED: list[str] = []


def _compile_counter() -> list[str]:
    """The names of the functions Numba compiled in this process (a listener on its compile event)."""
    if not getattr(_compile_counter, "installed", False):
        from numba.core import event

        class _Listener(event.Listener):
            def on_start(self, ev) -> None:
                dispatcher = ev.data.get("dispatcher")
                func = getattr(dispatcher, "py_func", None)
                _COMPILED.append(f"{func.__module__}.{func.__qualname__}" if func else str(dispatcher))

            def on_end(self, ev) -> None:
                pass

        event.register("numba:compile", _Listener())
        _compile_counter.installed = True
    return _COMPILED


__all__ = ["data_key", "fold_rows", "load_data", "run", "warm_up"]
