"""What interleaving the peers' epochs costs each of them: one matrix cell, run back to back and interleaved.

    python benchmarks/interleave_cost.py [--row base] [--batch 4096] [--dtype float64] [--epochs 40] [--rounds 3]

matrix.py interleaves the peers epoch by epoch (symnn, JAX, JAX, symnn, ...) so that drift in the
core's speed cancels in the per-pair ratios. Each epoch then starts with caches the other peer has just
filled with its own arrays, where a fit's epochs (or JAX's, in a training loop) follow each other.
This script times one cell's symnn fit and JAX's `lax.scan` epoch both ways in one process, pinned to
core 0 with one thread as matrix.py is: `alone` (each peer's epochs back to back), `interleaved`
(alternating, as matrix.py times them); per round the medians of each and JAX / symnn. Not run by
the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peer as peer_module  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--row", default="base", help="a matrix.py row key (default: base)")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--epochs", type=int, default=40, help="timed epochs per peer, per way, per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    for name, value in peer_module.thread_env(1).items():
        os.environ.setdefault(name, value)
    os.sched_setaffinity(0, {0})
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(name, None)
    import matrix
    import numpy as np

    peer_module.workloads = peer_module.load_workloads()
    rows = [r for r in matrix.matrix_rows() if args.row in (r.key, r.group, *r.aliases)]
    if not rows:
        raise SystemExit(f"interleave_cost.py: no row {args.row!r}")
    row = rows[0]
    X, t_symnn, t_jax = matrix.make_data(row, args.dtype)
    weights = [(W.astype(args.dtype), b.astype(args.dtype)) for W, b in
               peer_module.workloads.linear_init(matrix.sizes_of(row), peer_module.workloads.WEIGHT_SEED)]
    peers = {"symnn": matrix.symnn_peer(row, X, t_symnn, weights, args.batch, args.dtype),
             "jax_scan": matrix.jax_peers(row, X, t_jax, weights, args.batch, args.dtype)["jax_scan"]}
    for run in peers.values():
        run(0)  # compile
    peer_module.limit_blas(1)
    epoch = 1

    def timed(name: str) -> float:
        nonlocal epoch
        start = time.perf_counter()
        peers[name](epoch)
        epoch += 1
        return time.perf_counter() - start

    print(f"row {row.describe()} | batch {args.batch} | {args.dtype} | {args.epochs} epochs per peer and way | "
          "median ms per epoch")
    print("| round | way | symnn ms | jax scan ms | JAX / symnn |\n|---|---|---|---|---|")
    for r in range(1, args.rounds + 1):
        alone = {name: [timed(name) for _ in range(args.epochs)] for name in peers}
        mixed = {name: [] for name in peers}
        for _ in range(args.epochs):
            for name in peers:
                mixed[name].append(timed(name))
        for way, times in (("alone", alone), ("interleaved", mixed)):
            s, j = (float(np.median(times[k])) * 1e3 for k in ("symnn", "jax_scan"))
            print(f"| {r} | {way} | {s:.3f} | {j:.3f} | {j / s:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
