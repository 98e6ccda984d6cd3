"""Model files: they carry their preprocessing, are checked before they are read, and are written
without leaving temporaries behind, even by a writer that is killed."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import symnn
from symnn.atomic import remove_stale_temporaries
from symnn.cli import main
from symnn.errors import FileWriteError


def _model() -> symnn.Sequential:
    return symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("tanh"), symnn.Dense(4, 1)], loss="mse")


def test_a_loaded_model_applies_the_scaling_symnn_train_stored(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1000, (200, 2))
    y = X @ [300.0, 200.0] + 5
    np.savetxt(tmp_path / "houses.csv", np.c_[X, y], delimiter=",", header="area,rooms,price", comments="")
    np.savetxt(tmp_path / "points.csv", X[:5], delimiter=",", header="area,rooms", comments="")
    model_path = str(tmp_path / "h.npz")
    assert main(["train", "--data", f"csv:{tmp_path}/houses.csv", "--loss", "mse", "--epochs", "20",
                 "--save", model_path, "--json"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", model_path, "--data", f"csv:{tmp_path}/points.csv"]) == 0
    from_cli = np.array([float(v) for v in capsys.readouterr().out.split()])
    from_python = symnn.load(model_path).predict(X[:5])[:, 0]
    np.testing.assert_allclose(from_python, from_cli, rtol=1e-5)


def test_the_scaling_survives_a_second_save(tmp_path):
    model = _model()
    from symnn.runtime.model import InputScaling

    model.input_scaling = InputScaling(np.array([10.0, -3.0]), np.array([2.0, 5.0]))
    model.save(str(tmp_path / "a.npz"))
    again = symnn.load(str(tmp_path / "a.npz"))
    again.save(str(tmp_path / "b.npz"))
    X = np.array([[10.0, -3.0], [12.0, 2.0]])
    np.testing.assert_array_equal(symnn.load(str(tmp_path / "b.npz")).predict(X), model.predict(X))
    np.testing.assert_allclose(model.predict(X[:1]), _model().forward(np.zeros((1, 2))))


def _bomb(path: Path, gigabytes: float) -> None:
    """A small file whose first member inflates to `gigabytes` of zeros, then a valid description."""
    n = int(gigabytes * 1e9) // 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("param_0.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
            block = b"\0" * (1 << 24)
            for _ in range(n * 8 // len(block)):
                f.write(block)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array(json.dumps(_model().describe())))
        zf.writestr("description.npy", buf.getvalue())


def test_a_zip_bomb_is_refused_before_anything_is_decompressed(tmp_path):
    path = tmp_path / "bomb.npz"
    _bomb(path, 0.3)
    assert path.stat().st_size < 1e6
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=r"has shape \(37500000,\) where the description needs \(4, 2\)"):
            symnn.load(str(path))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10e6 and seconds < 5  # reading the member would cost 300 MB and a second


def test_only_the_arrays_the_description_names_are_read(tmp_path):
    model = _model()
    model.save(str(tmp_path / "m.npz"))
    with zipfile.ZipFile(tmp_path / "m.npz", "a") as zf:
        zf.writestr("unrelated.npy", b"not even an array")
    np.testing.assert_array_equal(symnn.load(str(tmp_path / "m.npz")).parameters()[0], model.parameters()[0])


def test_a_description_claiming_80_gb_is_refused_without_allocating(tmp_path):
    desc = _model().describe() | {"layers": [{"type": "dense", "n_in": 2, "n_out": 100_000},
                                             {"type": "dense", "n_in": 100_000, "n_out": 100_000}]}
    with zipfile.ZipFile(tmp_path / "big.npz", "w") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array(json.dumps(desc)))
        zf.writestr("description.npy", buf.getvalue())
    with pytest.raises(ValueError, match="GB, more than this machine"):
        symnn.load(str(tmp_path / "big.npz"))


def test_saving_non_finite_weights_says_so(tmp_path):
    model = _model()
    model.parameters()[0][0, 0] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN or inf"):
        model.save(str(tmp_path / "m.npz"))


def test_a_failed_write_leaves_no_temporary_and_no_new_folder(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileWriteError) as info:
        _model().save(str(tmp_path / "afile" / "sub" / "m.npz"))
    assert isinstance(info.value, OSError) and isinstance(info.value, ValueError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_failing_writer_removes_its_temporary_and_the_folders_it_made(tmp_path):
    from symnn.atomic import atomic_target

    with pytest.raises(RuntimeError):
        with atomic_target(tmp_path / "new" / "deeper" / "f.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


SAVER = """
import sys, symnn
model = symnn.Sequential([symnn.Dense(1500, 1500), symnn.Dense(1500, 1500)], loss="mse")
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""


def test_writers_killed_mid_save_leave_temporaries_that_the_next_save_removes(tmp_path):
    target = tmp_path / "m.npz"
    for delay in (0.15, 0.3, 0.45, 0.6):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # every kill left at most its own temporary; the target is always a whole file
    temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".m.npz.tmp-")]
    assert len(temporaries) <= 1
    if target.exists():
        symnn.load(str(target))
    # a temporary of a dead writer is removed by the next save of the same target
    dead = tmp_path / f".m.npz.tmp-{_dead_pid()}-{_host()}-abcdefgh.tmp"
    dead.write_bytes(b"\0" * 1000)
    _model().save(str(target))
    assert not dead.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _host() -> str:
    from symnn.atomic import _host_tag

    return _host_tag()


def test_a_living_writers_temporary_is_left_alone(tmp_path):
    alive = tmp_path / f".m.npz.tmp-{os.getppid()}-{_host()}-abcdefgh.tmp"
    alive.write_text("in progress")
    assert remove_stale_temporaries(tmp_path / "m.npz") == 0
    assert alive.exists()


def test_a_folder_another_writer_makes_at_the_same_moment_is_used(tmp_path, monkeypatch):
    """Two processes writing into a new folder at once: the one whose mkdir finds it made goes on."""
    from pathlib import Path

    from symnn.atomic import write_text

    real_mkdir = Path.mkdir

    def racing_mkdir(self, *args, **kwargs):
        real_mkdir(self, *args, **kwargs)  # the other writer's
        raise FileExistsError(17, "File exists", str(self))

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    target = tmp_path / "new-folder" / "module.py"
    write_text(target, "x = 1\n")
    monkeypatch.undo()
    assert target.read_text() == "x = 1\n"
