"""The Python cost of one `fit(epochs=1)` call: the whole call against the compiled loop inside it.

    python benchmarks/fit_overhead.py w1 [--calls 200] [--batch N] [--repeat R]

Fits the workload one epoch per call (as `run.py`'s `symnn` peer does), times every call and the
`train_epochs` call inside it, and prints the medians and their difference: what fitting epoch by
epoch costs on top of the compiled loop. `--batch N` overrides the workload's batch size (4096 on
w1: one step per epoch, where the Python around the loop weighs most). `--repeat R` prints R such
lines, each from the same warm model. Pin it (`taskset -c 0`) and set OPENBLAS_NUM_THREADS=1 to
match the one-thread tables. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer as peer_module  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workload", choices=peer_module.WORKLOAD_KEYS)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--batch", type=int, default=None, help="batch size (default: the workload's)")
    ap.add_argument("--repeat", type=int, default=1, help="lines to print, each of --calls calls")
    args = ap.parse_args(argv)
    workloads = peer_module.workloads = peer_module.load_workloads()

    import numpy as np

    wl = workloads.WORKLOADS[args.workload]
    if args.batch is not None:
        wl = dataclasses.replace(wl, batch=args.batch)
    X, y = workloads.data(wl.key)
    run_epoch, _ = peer_module.peer_symnn(wl, X, y, workloads.initial_weights(wl.key), 1)
    run_epoch(0)  # compile or load the loop
    mod = run_epoch.model._fused_session.mod
    inner, loop = mod.train_epochs, []

    def timed(*a):
        t = time.perf_counter()
        inner(*a)
        loop.append(time.perf_counter() - t)

    mod.train_epochs = timed
    e = 0
    try:
        for _ in range(args.repeat):
            whole, loop[:] = [], []
            for _ in range(args.calls):
                e += 1
                t = time.perf_counter()
                run_epoch(e)
                whole.append(time.perf_counter() - t)
            whole_ms, loop_ms = 1e3 * np.array(whole), 1e3 * np.array(loop)
            print(f"{wl.key} batch {wl.batch}: fit(epochs=1) {np.median(whole_ms):.3f} ms, compiled loop "
                  f"{np.median(loop_ms):.3f} ms, Python around it {np.median(whole_ms - loop_ms):.3f} ms "
                  f"(medians of {args.calls} calls; matrix products: {mod.MATRIX_PRODUCTS})", flush=True)
    finally:
        mod.train_epochs = inner
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
