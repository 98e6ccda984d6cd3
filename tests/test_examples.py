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


def _numbers(pattern: str, text: str) -> list[float]:
    return [float(v) for v in re.findall(pattern, text)]


def test_xor_mlp_is_the_lectures_network_and_learns_xor() -> None:
    out = run_example("xor_mlp.py")
    assert "Dense(2, 2" in out and "loss='mse'" in out
    assert "accuracy 100%" in out


def test_backprop_by_hand_matches_the_generated_kernels() -> None:
    out = run_example("backprop_by_hand.py")
    assert "every gradient matches" in out
    assert all(d < 1e-12 for d in _numbers(r"largest difference ([0-9.e+-]+)", out))


def test_init_variance_shows_why_he_suits_relu() -> None:
    rows = {tuple(line.split()[:2]): [float(v) for v in line.split()[2:]] for line in
            run_example("init_variance.py").splitlines()[1:]}
    assert rows["relu", "normal"][-1] > 1e10 and rows["relu", "xavier"][-1] < 0.01
    assert 0.1 < rows["relu", "he"][-1] < 10 and rows["tanh", "normal"][-1] > 0.9


def test_losses_outliers_mae_and_huber_resist_outliers() -> None:
    out = run_example("losses_outliers.py")
    fits = {m[1]: (float(m[2]), float(m[3])) for m in re.finditer(r"^(\w+)\s+y = ([-\d.]+) x \+ ([-\d.]+)", out, re.M)}
    assert set(fits) == {"mse", "mae", "huber"}
    assert abs(fits["mae"][1] - 1) < 0.3 and abs(fits["huber"][1] - 1) < 0.5 and fits["mse"][1] > 2
    assert all(a > 80 for a in _numbers(r"accuracy ([\d.]+)%", out))


def test_optimizer_race_is_fair_and_draws_a_gif(tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "optimizer_race.py"), str(tmp_path / "race.gif")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for surface in ("beale", "saddle"):
        block = proc.stdout.split(f"{surface}: known minima")[0].rsplit("optimizer", 1)[1]
        rates = {line.split()[1] for line in block.strip().splitlines()[1:]}
        assert len(rates) == 1, (surface, rates)  # one shared learning rate
        assert "nesterov" in block
    assert (tmp_path / "race.gif").read_bytes()[:6] == b"GIF89a"


def test_own_activation_trains_and_its_gradient_is_right() -> None:
    out = run_example("own_activation.py")
    assert _numbers(r"circles accuracy ([\d.]+)%", out)[0] > 95
    assert _numbers(r"largest difference ([0-9.e+-]+)", out)[0] < 1e-6


def test_digits_pipeline_uses_the_estimator() -> None:
    out = run_example("digits_pipeline.py")
    assert _numbers(r"pipeline test accuracy ([\d.]+)%", out)[0] > 93
    assert _numbers(r"grid search test accuracy ([\d.]+)%", out)[0] > 90
