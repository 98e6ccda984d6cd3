"""`symnn.optviz`: optimizers racing on the generated test surfaces, the summary, PNG and GIF output."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from symnn import optviz
from symnn.errors import UserInputError
from symnn.runtime.optimizers import OPTIMIZER_NAMES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _distance(surface: str, point) -> float:
    return min(math.dist(point, m) for m in optviz.load_surface(surface).minima)


def test_tables_cover_every_surface_and_optimizer():
    names = optviz.surface_names()
    assert set(optviz.TUNED_LR) == set(names) == set(optviz.DEFAULT_STEPS) == set(optviz.SHARED_LR)
    for surface in names:
        assert set(optviz.TUNED_LR[surface]) == set(OPTIMIZER_NAMES)
        assert optviz.learning_rates(surface, list(OPTIMIZER_NAMES), tuned=True) == optviz.TUNED_LR[surface]
    assert optviz.DEFAULT_SURFACE in names
    assert set(optviz.DEFAULT_OPTIMIZERS) <= set(OPTIMIZER_NAMES)


def test_the_race_is_fair_by_default_one_shared_rate_nesterov_included():
    assert "nesterov" in optviz.DEFAULT_OPTIMIZERS
    for surface in optviz.surface_names():
        rates = optviz.learning_rates(surface)
        assert list(rates) == list(optviz.DEFAULT_OPTIMIZERS)
        assert set(rates.values()) == {optviz.SHARED_LR[surface]}
        # The shared rate is one at which no default optimizer diverges.
        rows = optviz.summary(optviz.run_race(surface), surface, rates)
        assert all(r.x is not None for r in rows), (surface, rows)
    mixed = optviz.learning_rates("beale", lr=0.01, lr_for={"adagrad": 0.5})
    assert mixed["adagrad"] == 0.5 and {v for k, v in mixed.items() if k != "adagrad"} == {0.01}
    with pytest.raises(UserInputError, match="not in the race"):
        optviz.learning_rates("beale", "sgd", lr_for={"adam": 0.1})


def test_the_docstring_table_is_the_table():
    rows = {line.split()[0]: line.split()[1:] for line in optviz.__doc__.splitlines()
            if line.split() and line.split()[0] in optviz.TUNED_LR}
    assert set(rows) == set(optviz.TUNED_LR)
    for surface, cells in rows.items():
        assert int(cells[0]) == optviz.DEFAULT_STEPS[surface]
        assert float(cells[1]) == optviz.SHARED_LR[surface]
        assert [float(c) for c in cells[2:]] == list(optviz.TUNED_LR[surface].values())


def test_trajectories_have_steps_plus_one_rows_from_the_start():
    race = optviz.run_race("beale", list(OPTIMIZER_NAMES), steps=7)
    assert list(race) == list(OPTIMIZER_NAMES)
    start = optviz.load_surface("beale").start
    for path in race.values():
        assert path.shape == (8, 2) and path.dtype == np.float64
        assert tuple(path[0]) == start
        assert not np.array_equal(path[1], path[0])
    assert [p.shape for p in optviz.run_race("booth", steps=3).values()] == [(4, 2)] * len(optviz.DEFAULT_OPTIMIZERS)
    custom = optviz.run_race("booth", "sgd", steps=2, start=(0.5, -1))["sgd"]
    assert tuple(custom[0]) == (0.5, -1.0)


def test_default_steps_and_comma_separated_optimizers():
    race = optviz.run_race("saddle", "sgd, adam,sgd")
    assert list(race) == ["sgd", "adam"]
    assert race["sgd"].shape == (optviz.DEFAULT_STEPS["saddle"] + 1, 2)


@pytest.mark.parametrize("surface", ["rosenbrock", "booth"])
def test_optimizers_get_closer_to_the_minimum(surface):
    race = optviz.run_race(surface, ["sgd", "momentum", "adam"], tuned=True)
    start = _distance(surface, race["adam"][0])
    for name, path in race.items():
        assert _distance(surface, path[-1]) < (start if name == "sgd" else start / 2), name  # sgd crawls
    assert _distance(surface, race["adam"][-1]) < 0.05


def test_matches_torch_optim_on_booth():
    torch = pytest.importorskip("torch")
    for name, cls, kw in [("momentum", torch.optim.SGD, {"momentum": 0.9}), ("adam", torch.optim.Adam, {})]:
        ours = optviz.run_race("booth", [name], steps=25, lr=0.05)[name]
        p = torch.tensor(optviz.load_surface("booth").start, dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=0.05, **kw)
        expected = [p.detach().clone().numpy()]
        for _ in range(25):
            opt.zero_grad()
            x, y = p[0], p[1]
            ((x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2).backward()
            opt.step()
            expected.append(p.detach().clone().numpy())
        np.testing.assert_allclose(ours, np.array(expected), rtol=1e-10, atol=1e-12)


def test_sgd_escapes_the_saddle_along_y_but_stalls_exactly_on_the_ridge():
    path = optviz.run_race("saddle", ["sgd"], steps=60, lr=0.05)["sgd"]
    (x0, y0), (x1, y1) = path[0], path[-1]
    assert abs(x1) < 1e-2 * abs(x0)  # x, the downhill-to-the-saddle direction, decays
    assert abs(y1) > 100 * abs(y0) and np.sign(y1) == np.sign(y0)  # y, the way down, grows
    rows = optviz.summary({"sgd": path}, "saddle")
    assert rows[0].f < -1 and rows[0].distance is None  # no minimum to measure against
    stuck = optviz.run_race("saddle", ["sgd"], steps=200, lr=0.05, start=(1.5, 0.0))["sgd"][-1]
    assert abs(stuck[0]) < 1e-6 and stuck[1] == 0.0  # zero gradient along y: converges to the saddle point


def test_summary_rows_and_json():
    lrs = optviz.learning_rates("booth", "sgd,adam")
    race = optviz.run_race("booth", "sgd,adam", steps=200)
    rows = optviz.summary(race, "booth", lrs)
    assert [r.optimizer for r in rows] == ["sgd", "adam"]
    for r, path in zip(rows, race.values()):
        assert (r.x, r.y) == tuple(path[-1])
        assert r.distance == pytest.approx(_distance("booth", path[-1]))
        assert r.f == pytest.approx((r.x + 2 * r.y - 7) ** 2 + (2 * r.x + r.y - 5) ** 2, abs=1e-12)
        assert r.lr == lrs[r.optimizer]
    json.dumps([r._asdict() for r in rows], allow_nan=False)
    text = optviz.table(rows, "booth")
    assert "sgd" in text and "adam" in text and "(1, 3)" in text


def test_a_diverging_run_is_reported_not_raised():
    race = optviz.run_race("rosenbrock", ["sgd"], steps=50, lr=0.1)
    rows = optviz.summary(race, "rosenbrock")
    assert rows[0].x is None and rows[0].f is None and rows[0].distance is None
    json.dumps([r._asdict() for r in rows], allow_nan=False)
    assert "diverged" in optviz.table(rows)


def test_png_is_written_atomically(tmp_path):
    race = optviz.run_race("rosenbrock", ["sgd", "adam"], steps=50)
    out = tmp_path / "sub" / "race.png"
    optviz.draw(out, "rosenbrock", race, optviz.learning_rates("rosenbrock", ["sgd", "adam"]))
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in out.parent.iterdir()] == ["race.png"]
    # The saddle (f < 0: linear levels) and a diverged run draw too.
    optviz.draw(tmp_path / "saddle.PNG", "saddle", optviz.run_race("saddle", ["sgd"], steps=500, lr=0.5))
    assert (tmp_path / "saddle.PNG").read_bytes()[:8] == PNG_MAGIC


def test_each_frame_shows_the_values_of_that_frame():
    race = optviz.run_race("beale", ["sgd", "adam"], steps=20)
    s = optviz.load_surface("beale")
    f0 = float(s.value(np.ascontiguousarray(race["sgd"][0])))
    assert all(f"f = {f0:.3g}" in label for label in optviz.labels_at("beale", race, None, 0))
    for k in (5, 20):
        for label, path in zip(optviz.labels_at("beale", race, None, k), race.values()):
            assert f"f = {float(s.value(np.ascontiguousarray(path[k]))):.3g}" in label


def test_draw_and_race_return_figures(tmp_path):
    from matplotlib.figure import Figure

    race = optviz.run_race("booth", ["sgd", "adam"], steps=10)
    fig = optviz.draw(None, "booth", race)
    assert isinstance(fig, Figure) and list(tmp_path.iterdir()) == []
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[-2:] == optviz.labels_at("booth", race, None, 10)
    gif = optviz.race("booth", "sgd,adam", steps=10, out=tmp_path / "r.gif")
    assert isinstance(gif, Figure) and (tmp_path / "r.gif").read_bytes()[:6] == b"GIF89a"


def test_gif_is_written(tmp_path):
    from PIL import Image

    race = optviz.run_race("beale", ["sgd", "adam"], steps=8)
    out = tmp_path / "race.gif"
    optviz.draw(out, "beale", race)
    assert out.read_bytes()[:6] == b"GIF89a"
    with Image.open(out) as im:
        assert im.n_frames == 9
    assert [p.name for p in tmp_path.iterdir()] == ["race.gif"]


@pytest.mark.parametrize("call, message", [
    (lambda: optviz.run_race("nosuch", ["sgd"], 5), "unknown surface 'nosuch'; choose one of beale"),
    (lambda: optviz.run_race("beale", ["sgd", "nosuch"], 5), "unknown optimizer 'nosuch'"),
    (lambda: optviz.run_race("beale", " , ", 5), "name at least one optimizer"),
    (lambda: optviz.run_race("beale", [], 5), "name at least one optimizer"),
    (lambda: optviz.run_race("beale", ["sgd"], 0), "steps must be a whole number from 1 to 100000, got 0"),
    (lambda: optviz.run_race("beale", ["sgd"], -3), "steps must be"),
    (lambda: optviz.run_race("beale", ["sgd"], 2.5), "steps must be"),
    (lambda: optviz.run_race("beale", ["sgd"], True), "steps must be"),
    (lambda: optviz.run_race("beale", ["sgd"], optviz.MAX_STEPS + 1), "steps must be"),
    (lambda: optviz.run_race("beale", ["sgd"], 5, lr=-0.1), "lr must be a finite number > 0"),
    (lambda: optviz.run_race("beale", ["sgd"], 5, lr=float("nan")), "lr must be"),
    (lambda: optviz.run_race("beale", ["sgd"], 5, start=(1.0,)), "start must be two finite numbers"),
    (lambda: optviz.summary({}, "nosuch"), "unknown surface"),
    (lambda: optviz.draw("out.jpg", "beale", {}), "give a .png or .gif file name"),
    (lambda: optviz.draw("out", "beale", {}), "give a .png or .gif file name"),
    (lambda: optviz.draw("out.png", "nosuch", {}), "unknown surface"),
    (lambda: optviz.draw("out.png", "beale", {"sgd": np.zeros((3, 3))}), "must have shape"),
])
def test_bad_input_is_a_one_line_user_input_error(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserInputError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_is_a_user_input_error(tmp_path, monkeypatch):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UserInputError, match=r"optviz needs matplotlib: pip install 'symnn\[plot\]'"):
        optviz.draw(tmp_path / "x.png", "beale", {})
    assert list(tmp_path.iterdir()) == []


def test_runtime_does_not_import_sympy():
    code = ("import sys, symnn.optviz as o; o.summary(o.run_race('booth', steps=3), 'booth'); "
            "assert 'sympy' not in sys.modules, 'sympy imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_cli_race_shares_one_rate_unless_told_otherwise(capsys):
    from symnn.cli import main

    assert main(["optviz", "--surface", "booth", "--steps", "5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["optimizer"] for r in rows] == list(optviz.DEFAULT_OPTIMIZERS)
    assert {r["lr"] for r in rows} == {optviz.SHARED_LR["booth"]}
    assert main(["optviz", "--surface", "booth", "--steps", "5", "--lr", "0.02", "--lr-for", "adagrad=0.5", "--json"]) == 0
    rates = {r["optimizer"]: r["lr"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert rates.pop("adagrad") == 0.5 and set(rates.values()) == {0.02}
    assert main(["optviz", "--surface", "booth", "--steps", "5", "--tuned-lr", "--json"]) == 0
    rates = {r["optimizer"]: r["lr"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert rates == {n: optviz.TUNED_LR["booth"][n] for n in optviz.DEFAULT_OPTIMIZERS}
    assert main(["optviz", "--lr-for", "adagrad"]) == 2
    assert "NAME=LR" in capsys.readouterr().err
