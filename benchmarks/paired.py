"""Ratios that survive a noisy machine: two peers in ONE process, their epochs interleaved.

    python benchmarks/paired.py W1 [--against jax_scan] [--threads 1] [--epochs 200] [--core 0]

`--against floor`: the matrix-multiply floor, as an "epoch" of only the workload's matrix products
(the same BLAS calls as symnn's loop), so symnn's time over the floor is measured side by side too.

`run.py` runs every peer in a fresh process, one after the other; on a shared machine whose speed
drifts by 1.5x over tens of seconds (other tenants of the host), a ratio of two medians taken a
minute apart measures the drift as much as the peers. Here symnn and one peer (JAX's whole-epoch
`lax.scan` by default) train the same workload from the same weights in one pinned process, epoch
by epoch in alternation (A B, then B A, ...), so every symnn epoch has a peer epoch next to it in
time. Reported: each peer's median ms per epoch, and the median and quartiles of the per-pair
ratios (peer time / symnn time: > 1 means symnn is faster). The symnn peer is the same as run.py's
(`model.fit(..., epochs=1)` per epoch, the fused loop).

Same thread caps as peer.py (set here before NumPy, numba or JAX are imported) and the process is
pinned to one core per thread with sched_setaffinity. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer as peer_module  # noqa: E402  (benchmarks/peer.py: the peers themselves)


def floor_peer(wl, X, y, weights, threads):
    """The matrix-multiply floor as a peer: its "epoch" is every matrix product of one of the
    workload's epochs (workloads.matmuls: each shape, as many times as an epoch has it), by NumPy's
    OpenBLAS called from Numba as symnn's loop calls it, and nothing else."""
    import numpy as np

    direct = peer_module.direct_gemm()
    if direct is None:
        raise SystemExit("--against floor needs NumPy's bundled OpenBLAS (symnn.runtime.blas)")
    products = []
    for what, sa, sb, count in peer_module.workloads.matmuls(wl.key, X.shape[0]):
        a, b = peer_module.product_operands(what, sa, sb)
        products.append((a, b, np.empty((sa[0], sb[1]), np.float32), count))

    def run_epoch(e):
        for a, b, out, count in products:
            direct(a, b, out, count)

    return run_epoch, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workload", choices=peer_module.WORKLOAD_KEYS)
    ap.add_argument("--against", default="jax_scan",
                    choices=sorted(set(peer_module.PEER_FUNCTIONS) - {"symnn"} | {"floor"}))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=200, help="timed epochs per peer, after one warm-up epoch each")
    ap.add_argument("--core", type=int, default=0, help="first core to pin to (threads cores from there)")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of the summary")
    args = ap.parse_args(argv)
    os.sched_setaffinity(0, set(range(args.core, args.core + args.threads)))
    for name, value in peer_module.thread_env(args.threads).items():
        os.environ[name] = value
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # the primary table's condition
        os.environ.pop(name, None)
    workloads = peer_module.workloads = peer_module.load_workloads()

    import numpy as np

    wl = workloads.WORKLOADS[args.workload]
    X, y = workloads.data(wl.key)
    names = ("symnn", args.against)
    peer_module.limit_blas(args.threads)
    runs = {}
    for name in names:
        weights = [(W.copy(), b.copy()) for W, b in workloads.initial_weights(wl.key)]
        peer = floor_peer if name == "floor" else peer_module.PEER_FUNCTIONS[name]
        run_epoch, _ = peer(wl, X, y, weights, args.threads)
        run_epoch(0)  # warm-up: compilation, first calls
        runs[name] = run_epoch
    peer_module.limit_blas(args.threads)  # pools a peer loaded itself (torch, jax) are capped too
    times: dict[str, list[float]] = {name: [] for name in names}
    for e in range(1, args.epochs + 1):
        order = names if e % 2 else names[::-1]
        for name in order:
            t = time.perf_counter()
            runs[name](e)
            times[name].append(time.perf_counter() - t)
    a, b = (np.array(times[name]) for name in names)
    ratios = b / a
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    result = {"workload": wl.key, "threads": args.threads, "epochs": args.epochs, "against": args.against,
              "symnn_ms": float(np.median(a) * 1e3), f"{args.against}_ms": float(np.median(b) * 1e3),
              "ratio_median": float(med), "ratio_q1": float(q1), "ratio_q3": float(q3),
              "ratio_of_medians": float(np.median(b) / np.median(a))}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{wl.key} ({wl.describe()}), {args.threads} thread(s), {args.epochs} epochs each, interleaved:")
        print(f"  symnn {result['symnn_ms']:.3f} ms/epoch, {args.against} {result[f'{args.against}_ms']:.3f} ms/epoch"
              f" (medians)")
        print(f"  {args.against} / symnn per adjacent pair: median {med:.2f}x (quartiles {q1:.2f}-{q3:.2f}x);"
              f" ratio of the medians {result['ratio_of_medians']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
