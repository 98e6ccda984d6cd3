"""The estimator route: GridSearchCV over SymnnClassifier gives one set of numbers on every joblib engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import symnn  # noqa: E402
from symnn import datasets  # noqa: E402

GRID = {"learning_rate_init": [0.01, 0.05], "hidden_layer_sizes": [(8,), (16,)]}
#: cv_results_ columns that measure the machine rather than the models.
TIMINGS = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def _search(n_jobs: int) -> dict:
    ds = datasets.load("moons", n_samples=200, seed=1)
    search = GridSearchCV(symnn.SymnnClassifier(max_iter=15, random_state=0), GRID, cv=3, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 15 epochs: on purpose
        search.fit(ds.X, ds.y)
    return {k: v for k, v in search.cv_results_.items() if k not in TIMINGS}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(np.asarray(a[key], dtype=object), np.asarray(b[key], dtype=object)), key


@pytest.fixture(scope="module")
def serial() -> dict:
    return _search(n_jobs=1)


def test_grid_search_with_two_processes_matches_the_serial_search(serial):
    _same(_search(n_jobs=2), serial)


def test_grid_search_on_a_local_dask_cluster_matches_the_serial_search(serial):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with parallel_config(backend="dask"), distributed.get_task_stream(client) as tasks:
            result = _search(n_jobs=2)
    ran_on = {task["worker"] for task in tasks.data}  # the fits ran on the cluster's workers
    assert ran_on and all(address.startswith("tcp://127.0.0.1:") for address in ran_on)
    _same(result, serial)
