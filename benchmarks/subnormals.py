"""A long float32 fit, with subnormals kept (the default, PyTorch's) and flushed (`symnn.set_flush_denormal`).

    taskset -c 0 python benchmarks/subnormals.py [--workload w2] [--epochs 3000] [--every 500]

Trains the workload one epoch per `fit` call (as peer.py does) in two models from the same weights, their
epochs alternating, one in this thread as it is and one in a thread that flushes subnormals to zero;
prints, every `--every` epochs, each model's median ms per epoch over the last `--every` epochs and how
many values of the optimizer's state are subnormal. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer as peer_module  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", default="w2", choices=peer_module.WORKLOAD_KEYS)
    ap.add_argument("--epochs", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500)
    args = ap.parse_args(argv)
    for name, value in peer_module.thread_env(1).items():
        os.environ[name] = value
    workloads = peer_module.workloads = peer_module.load_workloads()
    import numpy as np

    import symnn

    wl = workloads.WORKLOADS[args.workload]
    X, y = workloads.data(wl.key)
    peer_module.limit_blas(1)
    fits = {mode: peer_module.peer_symnn(wl, X, y, workloads.initial_weights(wl.key), 1)[0] for mode in ("kept", "flushed")}
    times: dict[str, list[float]] = {mode: [] for mode in fits}
    tiny = np.finfo(np.float32).tiny

    def subnormal(mode: str) -> int:
        S = fits[mode].model._fused_session.S
        return int(np.sum((S != 0) & (np.abs(S) < tiny)))

    def flushed_epochs(start: threading.Event, done: threading.Event, stop: list) -> None:
        symnn.set_flush_denormal(True)  # this thread only
        while True:
            start.wait()
            start.clear()
            if stop:
                return
            e = len(times["flushed"])
            t = time.perf_counter()
            fits["flushed"](e)
            times["flushed"].append(time.perf_counter() - t)
            done.set()

    start, done, stop = threading.Event(), threading.Event(), []
    worker = threading.Thread(target=flushed_epochs, args=(start, done, stop))
    worker.start()
    print(f"{args.workload} ({wl.describe()}), float32, one fit(epochs=1) per epoch, alternating:")
    try:
        for e in range(args.epochs):
            t = time.perf_counter()
            fits["kept"](e)
            times["kept"].append(time.perf_counter() - t)
            start.set()
            done.wait()
            done.clear()
            if (e + 1) % args.every == 0:
                window = {m: statistics.median(ts[-args.every:]) * 1e3 for m, ts in times.items()}
                print(f"  epochs {e + 2 - args.every}-{e + 1}: kept {window['kept']:.2f} ms "
                      f"({subnormal('kept')} subnormal in the state), flushed {window['flushed']:.2f} ms "
                      f"({subnormal('flushed')}); kept / flushed {window['kept'] / window['flushed']:.2f}x", flush=True)
    finally:
        stop.append(True)
        start.set()
        worker.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
