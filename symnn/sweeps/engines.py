"""Where the runs go: joblib's processes (loky) on this machine, or joblib's Dask backend on a cluster.

No pool of our own: `joblib.Parallel` fans the runs out and batches tiny ones into one task
(`batch_size="auto"` grows a batch until a task takes long enough to amortise its scheduling);
with `--local-cluster N` or `--scheduler ADDRESS` the same `Parallel` runs on `dask.distributed`
workers through `joblib.parallel_config(backend="dask")`. A local cluster listens on 127.0.0.1
only (scheduler and workers) and has no dashboard.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from symnn.errors import UserInputError

#: How long to wait for a Dask scheduler given by address.
CONNECT_SECONDS = 10


@dataclass
class Engine:
    """An engine the runs are fanned out on: its name, joblib's n_jobs, and (Dask) its client."""

    name: str  # "serial", "loky" or "dask"
    n_jobs: int
    client: object | None = None
    info: dict = field(default_factory=dict)

    def describe(self) -> str:
        if self.name == "dask":
            return f"Dask at {self.info['scheduler']} ({self.info['workers']} workers)"
        return "one process" if self.name == "serial" else f"{self.n_jobs} joblib (loky) processes"


def check_choice(jobs: int | None, scheduler: str | None, local_cluster: int | None) -> None:
    """At most one engine, and sensible numbers."""
    given = [flag for flag, v in (("--jobs", jobs), ("--scheduler", scheduler), ("--local-cluster", local_cluster))
             if v is not None]
    if len(given) > 1:
        raise UserInputError(f"{' and '.join(given)} choose different engines; give one of them")
    if jobs is not None and (jobs == 0 or jobs < -1):
        raise UserInputError("--jobs must be a number of processes (at least 1), or -1 for all cores")
    if local_cluster is not None and local_cluster < 1:
        raise UserInputError("--local-cluster needs at least 1 worker")
    if scheduler is not None and "://" not in scheduler:
        raise UserInputError(f"--scheduler {scheduler!r}: give the scheduler's address, e.g. tcp://127.0.0.1:8786")


def _distributed(flag: str):
    try:
        import distributed
    except ImportError:
        raise UserInputError(f"{flag} needs dask.distributed, which is not installed; "
                             "pip install 'symnn[dask]'") from None
    return distributed


@contextmanager
def engine(jobs: int | None = None, scheduler: str | None = None, local_cluster: int | None = None) -> Iterator[Engine]:
    """The chosen engine, running for the block (a local cluster is started and stopped with it)."""
    check_choice(jobs, scheduler, local_cluster)
    if scheduler is None and local_cluster is None:
        n_jobs = -1 if jobs is None else jobs
        yield Engine("serial" if n_jobs == 1 else "loky", n_jobs)
        return
    import joblib

    distributed = _distributed("--scheduler" if scheduler else "--local-cluster")
    if local_cluster is not None:
        with distributed.LocalCluster(n_workers=local_cluster, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
            with joblib.parallel_config(backend="dask"):
                yield _dask_engine(client)
        return
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as e:
        raise UserInputError(f"--scheduler {scheduler}: no Dask scheduler answered ({e}); start one with "
                             "'dask scheduler' and give its tcp://HOST:PORT") from None
    with client, joblib.parallel_config(backend="dask"):
        yield _dask_engine(client)


def _dask_engine(client) -> Engine:
    workers = client.scheduler_info()["workers"]
    if not workers:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        workers = client.scheduler_info()["workers"]
    return Engine("dask", -1, client, {"scheduler": client.scheduler.address, "workers": len(workers),
                                        "worker_addresses": sorted(workers)})


def precompile_on_other_hosts(eng: Engine, precompile, configs: list) -> list[str]:
    """On a Dask cluster spanning machines, one worker on each other machine compiles for it first
    (its cache folder is not this one), all of them at once. Returns those workers' addresses."""
    addresses = workers_on_other_hosts(eng)
    if addresses:
        futures = [eng.client.submit(precompile, configs, workers=[a], allow_other_workers=False, pure=False)
                   for a in addresses]
        eng.client.gather(futures)
    return addresses


def workers_on_other_hosts(eng: Engine) -> list[str]:
    """One worker address per machine of a Dask cluster other than this one (they compile for it)."""
    if eng.name != "dask":
        return []
    hostnames = eng.client.run(socket.gethostname)
    here, chosen = this_host(), {}
    for address, host in sorted(hostnames.items()):
        if host != here:
            chosen.setdefault(host, address)
    return list(chosen.values())


@contextmanager
def warming(eng: Engine, warm_up) -> Iterator[None]:
    """Start the workers and run `warm_up` in each while the block runs (the parent's precompile),
    so their start-up and imports overlap it; the block's end waits for them.

    loky: a Parallel of one `warm_up` per worker in a thread (joblib keeps the same workers for the
    sweep's Parallel); Dask: `warm_up` on every worker (`Client.run`).
    """
    if eng.name == "serial":
        yield
        return
    import threading

    from joblib import Parallel, cpu_count, delayed

    def start() -> None:
        if eng.name == "dask":
            eng.client.run(warm_up)
        else:
            n = cpu_count() if eng.n_jobs < 0 else eng.n_jobs
            Parallel(n_jobs=eng.n_jobs)(delayed(warm_up)() for _ in range(n))

    thread = threading.Thread(target=start, name="symnn-sweep-warm-up", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def this_host() -> str:
    return socket.gethostname()


def run_all(eng: Engine, tasks: list, shared: list = ()) -> Iterator:
    """The results of joblib-delayed `tasks`, each as soon as it is done (in any order).

    `shared`: objects many tasks take (the data sets); on Dask they are sent to the workers once
    (joblib's `scatter`) instead of with every batch.
    """
    from joblib import Parallel, parallel_config

    with parallel_config(backend="dask", scatter=list(shared)) if eng.name == "dask" and shared else nullcontext():
        yield from Parallel(n_jobs=eng.n_jobs, batch_size="auto", return_as="generator_unordered")(tasks)
