"""The scripts in examples/ run to completion and tell the story they promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, timeout: float = 120) -> str:
    """Run examples/<name> with this interpreter; its stdout (fails the test on a non-zero exit)."""
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          timeout=timeout, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_perceptron_vs_mlp() -> None:
    out = run_example("perceptron_vs_mlp.py")
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(.+?)\s{2,}(perceptron|MLP 2-8-1 tanh)\s+([\d.]+)%\s+(.*)$", line)
        if m:
            rows[m[1], m[2]] = (float(m[3]), m[4])
    assert len(rows) == 5, out
    acc, note = rows["blobs (cats and dogs, 400)", "perceptron"]
    assert acc == 100.0 and note.startswith("yes")
    for data in ("xor truth table (4)", "xor data set (400)"):
        acc, note = rows[data, "perceptron"]
        assert acc <= 75.0 and note.startswith("no")
    assert rows["xor truth table (4)", "MLP 2-8-1 tanh"][0] == 100.0
    assert rows["xor data set (400)", "MLP 2-8-1 tanh"][0] >= 95.0
