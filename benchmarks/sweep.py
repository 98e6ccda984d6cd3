"""`symnn sweep` on each engine: a 64-run digits sweep's wall time and speed-up, and each engine's cost per run.

Not a test. Every measurement is one `symnn sweep` command in a fresh process, timed from outside
(what a user waits for: start-up, engine start, the parent's precompile, the runs, the summary),
on a warm kernel cache (a first, untimed sweep compiles). The engines take turns (A B C, B C A, ...)
so a drift in the machine's speed is shared among them; before each measurement it waits (up to
--max-wait s) for the machine's other processes to use fewer than --idle cores (run.py's sampler),
and prints how busy it was. Medians and the range are printed.

1. The sweep: digits, 64-32-10, grid lr x activation (4 x 4) x 4 seeds = 64 runs, at `--jobs 1`,
   `--jobs 2` and `--local-cluster 2`; the speed-up is `--jobs 1`'s median over the engine's.
2. The cost per run: the same engines on sweeps of tiny runs (xor, 2-4-1, 1 epoch) of two sizes;
   the difference of the wall times over the difference of run counts is the engine's wall time
   per additional run (start-up cancels), from which the runs' own time (the `seconds` in the
   JSON lines, divided among the workers) is subtracted: what scheduling, shipping and recording
   one run costs.

    .venv/bin/python benchmarks/sweep.py [--repeats 5] [--epochs 20] [--small 16 --large 256]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import wait_idle  # noqa: E402 - the suite's sampler of how busy the machine is

ENGINES = {"jobs 1": ["--jobs", "1"], "jobs 2": ["--jobs", "2"], "local-cluster 2": ["--local-cluster", "2"]}
WORKERS = {"jobs 1": 1, "jobs 2": 2, "local-cluster 2": 2}
DIGITS = ["--data", "digits", "--layers", "64,32,10", "--grid", "lr=0.0003,0.001,0.003,0.01",
          "--grid", "activation=relu,tanh,elu,silu", "--seeds", "4"]


def tiny(n_runs: int) -> list[str]:
    """n_runs one-epoch runs on xor (n_runs a multiple of 4): lr values x 4 seeds."""
    lrs = ",".join(f"{0.001 * (i + 1):g}" for i in range(n_runs // 4))
    return ["--data", "xor", "--layers", "2,4,1", "--epochs", "1", "--grid", f"lr={lrs}", "--seeds", "4"]


def sweep(args: list[str], out_dir: Path) -> tuple[float, list[dict]]:
    """One `symnn sweep` in a fresh process: its wall time and its JSON lines."""
    out = Path(tempfile.mkdtemp(dir=out_dir)) / "runs.jsonl"
    command = [sys.executable, "-m", "symnn", "sweep", *args, "--out", str(out), "--json"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, [json.loads(line) for line in out.read_text().splitlines()]


SPIN = "import time\nt = time.perf_counter()\ns = 0\nfor i in range(5_000_000):\n    s += i * i\nprint(time.perf_counter() - t)"


def parallel_capacity() -> float:
    """The control: how much faster two CPU-bound processes finish together than one after the
    other (2.0 on two free cores; about 1.0 when the machine can give us one core's worth)."""
    def spin(n: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return [float(proc.communicate()[0]) for proc in procs]

    one = spin(1)[0]
    return 2 * one / max(spin(2))


def rotations(names: list[str], repeats: int):
    for i in range(repeats):
        k = i % len(names)
        yield from names[k:] + names[:k]


def _fmt(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    return f"{statistics.median(values) * scale:.3g} {unit} ({min(values) * scale:.3g}-{max(values) * scale:.3g})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--small", type=int, default=16, help="tiny runs in the small overhead sweep")
    p.add_argument("--large", type=int, default=256, help="tiny runs in the large overhead sweep")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--idle", type=float, default=0.3, help="wait for the machine to use fewer cores than this")
    p.add_argument("--max-wait", type=float, default=60.0, help="seconds to wait for --idle at most")
    a = p.parse_args()
    busy: list[float] = []
    capacity: list[float] = []
    names = a.engines.split(",")
    digits = [*DIGITS, "--epochs", str(a.epochs)]
    with tempfile.TemporaryDirectory(prefix="symnn-bench-sweep-") as tmp:
        tmp_dir = Path(tmp)
        sweep([*digits, "--jobs", "1"], tmp_dir)  # compile, untimed
        sweep([*tiny(a.small), "--jobs", "1"], tmp_dir)
        walls: dict[str, list[float]] = {n: [] for n in names}
        run_seconds: dict[str, list[float]] = {n: [] for n in names}
        for name in rotations(names, a.repeats):
            busy.append(wait_idle(a.idle, a.max_wait))
            if name == names[0]:
                capacity.append(parallel_capacity())
            wall, records = sweep([*digits, *ENGINES[name]], tmp_dir)
            assert len(records) == 64 and not any(r["error"] for r in records)
            walls[name].append(wall)
            run_seconds[name].append(statistics.median(r["seconds"] for r in records))
            print(f"  digits {name}: {wall:.2f} s", file=sys.stderr)
        per_run: dict[str, list[float]] = {n: [] for n in names}
        overhead: dict[str, list[float]] = {n: [] for n in names}
        for name in rotations(names, a.repeats):
            busy.append(wait_idle(a.idle, a.max_wait))
            small, _ = sweep([*tiny(a.small), *ENGINES[name]], tmp_dir)
            large, records = sweep([*tiny(a.large), *ENGINES[name]], tmp_dir)
            marginal = (large - small) / (a.large - a.small)
            own = statistics.median(r["seconds"] for r in records)  # the first run of a process also imports
            per_run[name].append(marginal)
            overhead[name].append(marginal * WORKERS[name] - own)
            print(f"  tiny {name}: {small:.2f} s / {large:.2f} s", file=sys.stderr)
    base = statistics.median(walls["jobs 1"]) if "jobs 1" in walls else None
    print(f"\n64-run sweep on digits ({a.epochs} epochs, 64-32-10, lr x activation x 4 seeds), "
          f"{a.repeats} repeats, median (range), warm cache, cpu_count {os.cpu_count()}; other processes kept "
          f"{statistics.median(busy):.2f} cores busy before a measurement (median; max {max(busy):.2f}); "
          f"two CPU-bound processes finished {_fmt(capacity, 'x')} faster together than one after the other "
          "(the control: 2x on two free cores):\n")
    print("| engine | wall time | speed-up over --jobs 1 | median seconds of one run (in the worker) |")
    print("|---|---|---|---|")
    for name in names:
        speed = f"{base / statistics.median(walls[name]):.2f}x" if base else "-"
        print(f"| `--{name.replace(' ', ' ')}` | {_fmt(walls[name])} | {speed} | {_fmt(run_seconds[name], 'ms', 1e3)} |")
    print(f"\nCost per run (tiny runs: {a.small} vs {a.large} one-epoch xor runs):\n")
    print("| engine | wall time per extra run | of which not the run itself (per worker) |")
    print("|---|---|---|")
    for name in names:
        print(f"| `--{name}` | {_fmt(per_run[name], 'ms', 1e3)} | {_fmt(overhead[name], 'ms', 1e3)} |")


if __name__ == "__main__":
    main()
