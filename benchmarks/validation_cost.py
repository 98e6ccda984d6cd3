"""What validation data adds to a fit, against what it must cost: one forward pass over it per epoch.

    python benchmarks/validation_cost.py [--epochs 20] [--rounds 7] [--batch 32] [--dtype float32]

Issue 12's target: "a fit with validation costs at most the validation forward pass more". The base
workload of benchmarks/matrix.py (moons, 4096 training rows, 2-16-16-1, tanh, mse, Adam lr 0.01)
with 1024 validation rows. In ONE process, interleaved round by round (A B C, C B A, ...):
- `plain`: `fit(X, y, epochs=E)`;
- `validated`: `fit(X, y, epochs=E, validation=(Xv, yv))`;
- `forward`: E times `model.loss(Xv, yv)` (a forward pass over the validation rows and its loss:
  what an epoch's validation computes).
Prints the medians, the extra (`validated - plain`) and the ratio extra / forward (target <= 1.0).
Pin it (`taskset -c 0`, OPENBLAS_NUM_THREADS=1). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = ap.parse_args(argv)

    import symnn
    from symnn import datasets

    ds = datasets.load("moons", n_samples=4096 + 1024, seed=0)
    X, y = ds.X[:4096], ds.y[:4096].astype(float)
    Xv, yv = ds.X[4096:], ds.y[4096:].astype(float)

    def model() -> symnn.Sequential:
        return symnn.Sequential([symnn.Dense(2, 16), symnn.Activation("tanh"), symnn.Dense(16, 16),
                                 symnn.Activation("tanh"), symnn.Dense(16, 1)], loss="mse", dtype=args.dtype, seed=0)

    m = model()
    fit = dict(optimizer=symnn.Adam(lr=0.01), epochs=args.epochs, batch_size=args.batch, verbose=False)
    m.fit(X, y, **fit)
    m.fit(X, y, validation=(Xv, yv), **fit)  # compiled, warm
    m.loss(Xv, yv)

    def plain() -> None:
        m.fit(X, y, **fit)

    def validated() -> None:
        h = m.fit(X, y, validation=(Xv, yv), **fit)
        assert len(h["val_loss"]) == args.epochs and m._fused_session is not None

    def forward() -> None:
        for _ in range(args.epochs):
            m.loss(Xv, yv)

    peers = {"plain": plain, "validated": validated, "forward": forward}
    times: dict[str, list[float]] = {k: [] for k in peers}
    for r in range(args.rounds):
        for name in (list(peers) if r % 2 == 0 else list(peers)[::-1]):
            t = time.perf_counter()
            peers[name]()
            times[name].append((time.perf_counter() - t) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    extra = [v - p for v, p in zip(times["validated"], times["plain"])]
    print(f"{args.epochs} epochs, batch {args.batch}, {args.dtype}, 4096 training rows, 1024 validation rows; "
          f"medians of {args.rounds} rounds, ms per fit:")
    for k in peers:
        print(f"  {k:9s} {med[k]:8.2f} ms")
    print(f"  extra (validated - plain, paired median) {statistics.median(extra):.2f} ms = "
          f"{statistics.median(extra) / med['forward']:.2f}x the validation forward passes "
          f"({med['forward'] / args.epochs:.3f} ms per epoch; target <= 1.0x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
