"""Where W3's time over the matrix-multiply floor goes: its fused loop with one sweep left out at a time.

    taskset -c 0,1 python benchmarks/w3_sweeps.py [--threads 2] [--epochs 16]

Builds W3's fused loop as `fit` does (peer.py's symnn peer, one epoch to compile), takes the arguments
of its compiled call, and compiles variants of the loop's source in which the loops of one inlined
piece run zero times: the batch's rows gathered, the bias added, ReLU forward, the loss, ReLU
backward, the bias gradients, the SGD-momentum update; then `products only` (all of them left out:
the loop's own matrix products, in its order, on its buffers) and `products + update`. The variants'
numbers are wrong by design: this measures time, not training. Each round calls the full fit
(`model.fit(epochs=1)`, Python included), every variant and the floor (paired.py's: the workload's
products, each repeated, on fixed operands), in alternating order; printed: the median ms per epoch
of each and what leaving a piece out saves. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import paired  # noqa: E402
import peer as peer_module  # noqa: E402

#: piece -> how the comment the assembler writes above its loops begins (symnn.runtime.fused.template, assemble)
PIECES = {
    "batch rows": "# the batch: its rows of X and Y",
    "bias": "# 1*b.T",
    "relu forward": "# relu_forward, inlined",
    "loss": "# cross_entropy_value_and_grad, inlined",
    "relu backward": "# relu_backward, inlined",
    "bias gradients": "# G.T*1",
    "sgd-momentum update": "# sgd_momentum_step, inlined",
}
_FOR = re.compile(r"^(\s*for \w+ in )range\(.*\):$")


def without(source: str, markers: list[str]) -> str:
    """`source` with every `for` loop that follows a comment beginning with one of `markers`, at its indentation, up to the next
    comment there or the end of its block, run zero times."""
    lines, out, indent, hits = source.split("\n"), [], None, set()
    for line in lines:
        stripped, depth = line.strip(), len(line) - len(line.lstrip())
        if indent is not None and stripped and (depth < indent or depth == indent and stripped.startswith("#")):
            indent = None  # the marker's block ends with it, or where the next labelled statement begins
        marker = next((m for m in markers if stripped.startswith(m)), None)
        if marker is not None:
            indent = depth
            hits.add(marker)
        elif indent is not None and depth == indent and _FOR.match(line):
            line = _FOR.sub(r"\1range(0):", line)
        out.append(line)
    missing = set(markers) - hits
    if missing:
        raise SystemExit(f"the loop's source has no {sorted(missing)}: update PIECES to the template")
    return "\n".join(out)


def load(source: str, name: str, folder: str):
    path = os.path.join(folder, f"{name}.py")
    with open(path, "w") as f:
        f.write(source.replace("cache=True", "cache=False"))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train_epochs


def _epoch_of(loop, loop_args, pristine):
    import numpy as np

    def epoch(e):
        for a, b in zip(loop_args, pristine):
            if isinstance(a, np.ndarray):
                np.copyto(a, b)
        start = time.perf_counter()
        loop(*loop_args)
        return time.perf_counter() - start

    return epoch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=16, help="timed rounds, after one warm-up each")
    args = ap.parse_args(argv)
    os.sched_setaffinity(0, set(range(args.threads)))
    for name, value in peer_module.thread_env(args.threads).items():
        os.environ[name] = value
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(name, None)
    workloads = peer_module.workloads = peer_module.load_workloads()
    import numpy as np  # after the thread caps above

    wl = workloads.WORKLOADS["w3"]
    X, y = workloads.data("w3")
    peer_module.limit_blas(args.threads)
    fit_epoch, _ = peer_module.peer_symnn(wl, X, y, workloads.initial_weights("w3"), args.threads)
    fit_epoch(0)
    model = fit_epoch.model
    mod = model._fused_session.mod
    compiled, captured = mod.train_epochs, {}

    def capture(*call_args):
        captured["args"] = call_args
        return compiled(*call_args)

    mod.train_epochs = capture
    fit_epoch(1)
    mod.train_epochs = compiled
    # the variants' own arrays, reset before each call (a loop without ReLU, say, diverges), not the model's
    pristine = captured["args"]
    loop_args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in pristine)
    with open(mod.__file__) as f:
        source = f.read()
    variants = {"loop": []} | {f"without {p}": [m] for p, m in PIECES.items()}
    variants["products only"] = list(PIECES.values())
    variants["products + update"] = [m for p, m in PIECES.items() if p != "sgd-momentum update"]
    runs = {"fit": fit_epoch}
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, markers) in enumerate(variants.items()):
            loop = load(without(source, markers) if markers else source, f"w3_variant_{i}", folder)
            loop(*loop_args)  # compile
            runs[name] = _epoch_of(loop, loop_args, pristine)
    floor, _ = paired.floor_peer(wl, X, y, None, args.threads)
    floor(0)
    runs["floor"] = floor
    times = {name: [] for name in runs}
    names = list(runs)
    for e in range(2, args.epochs + 2):
        for name in names if e % 2 else names[::-1]:
            t = time.perf_counter()
            inner = runs[name](e)  # a variant times its own call (not the reset of its arrays)
            times[name].append(inner if name in variants else time.perf_counter() - t)
    med = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    print(f"w3 ({wl.describe()}), {args.threads} thread(s), medians of {args.epochs} interleaved rounds:")
    for name in names:
        extra = f"  saves {med['loop'] - med[name]:6.1f} ms" if name.startswith(("without", "products")) else ""
        print(f"  {name:30s} {med[name]:7.1f} ms{extra}")
    f = med["floor"]
    print(f"  fit / floor {med['fit'] / f:.2f}x; loop / floor {med['loop'] / f:.2f}x; products only / floor "
          f"{med['products only'] / f:.2f}x; 1.15 x floor = {1.15 * f:.1f} ms leaves "
          f"{1.15 * f - med['products only']:.1f} ms for the sweeps, which take {med['loop'] - med['products only']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
