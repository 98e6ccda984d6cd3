"""The fused loop's cold compile: the first fit of a new architecture, with an empty cache.

    python benchmarks/compile_time.py [w1 w2 w3] [--runs 5] [--core 0] [--against REV] [--all-rows]

Every run is a fresh process with an empty cache folder of its own (SYMNN_CACHE_DIR, a new
temporary folder), pinned to one core with OPENBLAS_NUM_THREADS=1: it builds the workload's model
(W3 on its first 512 rows, so that its one epoch is short, unless --all-rows) and times its first
`fit(epochs=1)`, which writes the loop's module, imports it and has Numba compile it; printed with
it, the part of that spent inside Numba's compile events and the process's CPU seconds (steadier than
the wall clock where other processes share the core). Issue 4's target: at most 3 s.

`--against REV` also runs a git revision's whole `symnn` (checked out into a temporary worktree and
put first on the child's PYTHONPATH, its `generated/` with it), alternated with the working tree
run by run (A B, B A, ...): the machine's speed drifts by up to 1.5x over tens of seconds, so only
the ratios of such neighbouring pairs compare the two (reported: their median and range). Not run
by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import peer as peer_module  # noqa: E402  (benchmarks/peer.py: the symnn peer, as run.py runs it)


def child(key: str, all_rows: bool) -> None:
    """One cold first fit, in this (fresh) process; prints one JSON line."""
    workloads = peer_module.workloads = peer_module.load_workloads()
    from numba.core import event

    wl = workloads.WORKLOADS[key]
    X, y = workloads.data(key)
    if key == "w3" and not all_rows:
        X, y = X[:512], y[:512]
    run_epoch, _ = peer_module.peer_symnn(wl, X, y, workloads.initial_weights(key), 1)
    inside = []

    class Compiles(event.Listener):  # the outermost compile events only (the loop's callees nest)
        depth = 0

        def on_start(self, ev):
            self.depth += 1
            if self.depth == 1:
                self.t = time.perf_counter()

        def on_end(self, ev):
            self.depth -= 1
            if self.depth == 0:
                inside.append(time.perf_counter() - self.t)

    event.register("numba:compile", Compiles())
    t, cpu = time.perf_counter(), time.process_time()
    run_epoch(0)
    first_fit, cpu = time.perf_counter() - t, time.process_time() - cpu
    mod = run_epoch.model._fused_session.mod
    print(json.dumps({"workload": key, "first_fit": first_fit, "cpu": cpu, "compile": sum(inside),
                      "matrix_products": mod.MATRIX_PRODUCTS}))


def run(key: str, core: int, tree: str | None, all_rows: bool) -> dict:
    """One cold first fit in a fresh pinned process, of the working tree's symnn or of `tree`'s."""
    with tempfile.TemporaryDirectory(prefix="symnn-cold-") as cache:
        env = dict(os.environ, SYMNN_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1")
        if tree:
            env["PYTHONPATH"] = tree + os.pathsep + env.get("PYTHONPATH", "")
        cmd = ["taskset", "-c", str(core), sys.executable, os.path.abspath(__file__), "--child", key]
        cmd += ["--all-rows"] if all_rows else []
        out = subprocess.run(cmd, env=env, check=True,
                             capture_output=True, text=True, timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workloads", nargs="*", default=list(peer_module.WORKLOAD_KEYS),
                    help=f"of {', '.join(peer_module.WORKLOAD_KEYS)} (default: all)")
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per workload (and per revision)")
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--against", metavar="REV", help="also run this git revision's symnn, alternated")
    ap.add_argument("--all-rows", action="store_true", help="W3 on all its rows (its epoch takes ~0.8 s)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.all_rows)
        return 0
    unknown = set(args.workloads) - set(peer_module.WORKLOAD_KEYS)
    if unknown:
        ap.error(f"unknown workload {', '.join(sorted(unknown))}")
    other = None
    if args.against:  # the revision's tree, with symnn.generated inside its symnn as an install has it
        other = tempfile.mkdtemp(prefix="symnn-rev-")
        subprocess.run(["git", "worktree", "add", "--detach", "-q", other, args.against], cwd=HERE, check=True)
        os.symlink(os.path.join(other, "generated"), os.path.join(other, "symnn", "generated"))
    try:
        for key in args.workloads:
            res: dict[str, list[dict]] = {"here": [], "other": []}
            for i in range(args.runs):
                order = ["here", "other"] if other else ["here"]
                for which in order if i % 2 == 0 else order[::-1]:
                    res[which].append(run(key, args.core, other if which == "other" else None, args.all_rows))
            for which, label in (("here", "working tree"), ("other", args.against)):
                if res[which]:
                    fit = [r["first_fit"] for r in res[which]]
                    comp = [r["compile"] for r in res[which]]
                    cpu = [r["cpu"] for r in res[which] if "cpu" in r]
                    print(f"{key} {label}: first fit median {statistics.median(fit):.2f} s "
                          f"(min {min(fit):.2f}, max {max(fit):.2f}), in Numba's compile {statistics.median(comp):.2f} s, "
                          f"CPU {statistics.median(cpu):.3f} s; {args.runs} runs, {res[which][0]['matrix_products']}")
            if other:
                for what in ("first_fit", "cpu"):  # CPU seconds: steadier where other processes share the core
                    ratios = [a[what] / b[what] for a, b in zip(res["here"], res["other"])]
                    print(f"{key} working tree / {args.against}: {what} paired ratio median "
                          f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, {len(ratios)} pairs)")
    finally:
        if other:
            subprocess.run(["git", "worktree", "remove", "--force", other], cwd=HERE, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
