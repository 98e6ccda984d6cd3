"""Bad input, a matrix: every case is refused clearly and leaves nothing behind.

Command line: exit 2, exactly one line `symnn: error: ...` on stderr, no traceback, no file left in
the working folder or beside the inputs. Python: a ValueError (symnn.UserInputError) saying what is
wrong, and the model unchanged.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import symnn
from symnn.cli import main
from symnn.errors import TrainingDiverged, UserInputError

# --- inputs shared by the cases (made once) -------------------------------------------------------


def _npz(path: Path, description: object, arrays: dict[str, np.ndarray] | None = None) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array(json.dumps(description)))
        zf.writestr("description.npy", buf.getvalue())
        for name, array in (arrays or {}).items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, array)
            zf.writestr(f"{name}.npy", buf.getvalue())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(int)
    np.savetxt(d / "good.csv", np.c_[X, y], delimiter=",", header="a,b,label", comments="", fmt="%.5g")
    np.savetxt(d / "points.csv", X, delimiter=",", header="a,b", comments="", fmt="%.5g")
    (d / "ragged.csv").write_text("a,b,label\n1,2,0\n3,4\n")
    (d / "nan.csv").write_text("a,b,label\n1,2,0\nnan,4,1\n")
    (d / "words.csv").write_text("a,b,label\n1,2,0\n3,four,1\n")
    (d / "empty_cell.csv").write_text("a,b,label\n1,,0\n3,4,1\n")
    (d / "one_column.csv").write_text("1\n2\n")
    (d / "semicolons.csv").write_text("1;2;0\n3;4;1\n")
    (d / "header_only.csv").write_text("a,b,label\n")
    (d / "empty.csv").write_text("")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (d / "folder").mkdir()
    (d / "folder.npz").mkdir()
    (d / "afile").write_text("a regular file\n")
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("tanh"), symnn.Dense(4, 1)],
                             loss="binary_cross_entropy")
    model.save(str(d / "model.npz"))
    good = (d / "model.npz").read_bytes()
    (d / "empty.npz").write_bytes(b"")
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    desc = model.describe()
    params = {f"param_{i}": p for i, p in enumerate(model.parameters())}
    _npz(d / "list.npz", [1, 2, 3])
    _npz(d / "number.npz", 7)
    _npz(d / "no_layers.npz", {k: v for k, v in desc.items() if k != "layers"}, params)
    _npz(d / "no_loss.npz", {k: v for k, v in desc.items() if k != "loss"}, params)
    _npz(d / "unknown_layer.npz", desc | {"layers": [{"type": "conv2d", "n_in": 2}]}, params)
    _npz(d / "huge_layers.npz", desc | {"layers": [{"type": "dense", "n_in": 2, "n_out": 10**6},
                                                   {"type": "dense", "n_in": 10**6, "n_out": 10**6}]}, params)
    _npz(d / "bad_scaling.npz", desc | {"standardize": {"mean": [0.0], "std": [1.0, 0.0]}}, params)
    _npz(d / "bad_classes.npz", desc | {"class_names": ["a", "b", "c"]}, params)
    _npz(d / "wrong_shapes.npz", desc, params | {"param_0": np.zeros((9, 9))})
    with zipfile.ZipFile(d / "deep.npz", "w") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array("[" * 100_000 + "]" * 100_000))
        zf.writestr("description.npy", buf.getvalue())
    return d


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def workdir(tmp_path, monkeypatch, inputs):
    """An empty working folder; afterwards nothing may be left in it or among the inputs."""
    before = _listing(inputs)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert _listing(tmp_path) == [], "files were left behind in the working folder"
    assert _listing(inputs) == before, "files were left behind beside the inputs"


def _assert_one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("symnn: warning:")]
    assert len(lines) == 1 and lines[0].startswith("symnn: error: "), err
    return lines[0]


# --- the command line ------------------------------------------------------------------------------

TRAIN = ["train", "--epochs", "2"]
CLI_CASES = {
    # options
    "seed -1": TRAIN + ["--seed", "-1"],
    "seed not a number": TRAIN + ["--seed", "one"],
    "epochs 0": ["train", "--epochs", "0"],
    "epochs not whole": ["train", "--epochs", "2.5"],
    "epochs inf": ["train", "--epochs", "inf"],
    "batch size 0": TRAIN + ["--batch-size", "0"],
    "lr nan": TRAIN + ["--lr", "nan"],
    "lr inf": TRAIN + ["--lr", "inf"],
    "lr negative": TRAIN + ["--lr", "-1"],
    "test fraction 1": TRAIN + ["--test-fraction", "1"],
    "layers with a zero": TRAIN + ["--layers", "2,0,1"],
    "layers not numbers": TRAIN + ["--layers", "two,one"],
    "layers wrong inputs": TRAIN + ["--layers", "3,8,1"],
    "unknown activation": TRAIN + ["--activation", "nosuch"],
    "activation formula that runs code": TRAIN + ["--activation", "__import__('os').getcwd()"],
    "unknown loss": TRAIN + ["--loss", "nosuch"],
    "unknown schedule": TRAIN + ["--schedule", "nosuch"],
    "unknown init": TRAIN + ["--init", "nosuch"],
    "dtype float16": TRAIN + ["--dtype", "float16"],
    "unknown data set": TRAIN + ["--data", "nosuch"],
    "unknown option": TRAIN + ["--nosuch"],
    "no subcommand": [],
    "unknown subcommand": ["nosuch"],
    # training that cannot go on
    "diverging lr": TRAIN + ["--optimizer", "sgd", "--lr", "1e6"],
    "activation NaN on half the line": TRAIN + ["--activation", "log(x)"],
    "activation x**x**x": TRAIN + ["--activation", "x**x**x"],
    # CSV files
    "csv missing": TRAIN + ["--data", "csv:{inputs}/missing.csv"],
    "csv is a folder": TRAIN + ["--data", "csv:{inputs}/folder"],
    "csv empty": TRAIN + ["--data", "csv:{inputs}/empty.csv"],
    "csv header only": TRAIN + ["--data", "csv:{inputs}/header_only.csv"],
    "csv ragged": TRAIN + ["--data", "csv:{inputs}/ragged.csv"],
    "csv NaN cell": TRAIN + ["--data", "csv:{inputs}/nan.csv"],
    "csv word cell": TRAIN + ["--data", "csv:{inputs}/words.csv"],
    "csv empty cell": TRAIN + ["--data", "csv:{inputs}/empty_cell.csv"],
    "csv one column": TRAIN + ["--data", "csv:{inputs}/one_column.csv"],
    "csv semicolons": TRAIN + ["--data", "csv:{inputs}/semicolons.csv"],
    "csv binary": TRAIN + ["--data", "csv:{inputs}/binary.csv"],
    "csv /dev/zero": TRAIN + ["--data", "csv:/dev/zero"],
    "csv unknown target": TRAIN + ["--data", "csv:{inputs}/good.csv", "--target", "nosuch"],
    "target without csv": TRAIN + ["--target", "label"],
    # writing files
    "save under a regular file": TRAIN + ["--save", "{inputs}/afile/m.npz"],
    "save onto a folder": TRAIN + ["--save", "{inputs}/folder"],
    "save onto a folder named .npz": TRAIN + ["--save", "{inputs}/folder.npz"],
    "save without .npz": TRAIN + ["--save", "model.txt"],
    "plot under a regular file": TRAIN + ["--plot", "{inputs}/afile/p.png"],
    "plot onto a folder": TRAIN + ["--plot", "{inputs}/folder"],
    "plot bad suffix": TRAIN + ["--plot", "p.bmp"],
    "optviz out under a regular file": ["optviz", "--steps", "3", "--out", "{inputs}/afile/r.png"],
    "optviz out onto a folder": ["optviz", "--steps", "3", "--out", "{inputs}/folder"],
    "optviz unknown surface": ["optviz", "--surface", "nosuch"],
    "optviz steps 0": ["optviz", "--steps", "0"],
    "generate out under a regular file": ["generate", "--out", "{inputs}/afile/gen"],
    "generate out onto a file": ["generate", "--out", "{inputs}/afile"],
    # model files
    "predict model missing": ["predict", "--model", "{inputs}/missing.npz", "--data", "csv:{inputs}/points.csv"],
    "predict model is a folder": ["predict", "--model", "{inputs}/folder", "--data", "csv:{inputs}/points.csv"],
    "predict data not csv": ["predict", "--model", "{inputs}/model.npz", "--data", "moons"],
    "predict too many columns": ["predict", "--model", "{inputs}/model.npz", "--data", "csv:{inputs}/good.csv"],
    **{f"predict model {name}": ["predict", "--model", f"{{inputs}}/{name}.npz", "--data", "csv:{inputs}/points.csv"]
       for name in ("empty", "truncated", "list", "number", "no_layers", "no_loss", "unknown_layer", "huge_layers",
                    "bad_scaling", "bad_classes", "wrong_shapes", "deep")},
    # derive
    "derive unknown name": ["derive", "nosuch"],
    "derive expression that does not parse": ["derive", "--expr", "x**"],
}


@pytest.mark.parametrize("argv", list(CLI_CASES.values()), ids=list(CLI_CASES))
def test_bad_command_line_input_is_one_line_exit_2_and_leaves_nothing(argv, inputs, workdir, capsys):
    argv = [a.format(inputs=inputs, work=workdir) for a in argv]
    code = main(argv)
    captured = capsys.readouterr()
    _assert_one_line_error(code, captured.err)
    assert captured.out == "" or "error" not in captured.out


def _mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def full_disk(tmp_path_factory):
    """A 64 KiB file system, filled (needs root to mount; skipped elsewhere)."""
    folder = tmp_path_factory.mktemp("mounts") / "full"
    if not _mount_tmpfs(folder, "size=64k"):
        pytest.skip("mounting a small tmpfs needs root")
    with open(folder / "filler", "wb") as f:
        try:
            f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def read_only(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mounts") / "ro"
    if not _mount_tmpfs(folder, "ro,size=64k"):
        pytest.skip("mounting a read-only tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


WRITES = {
    "save": ["train", "--epochs", "2", "--save", "{out}/m.npz"],
    "save in a new folder": ["train", "--epochs", "2", "--save", "{out}/new/m.npz"],
    "plot": ["train", "--epochs", "2", "--plot", "{out}/p.png"],
    "optviz": ["optviz", "--steps", "20", "--out", "{out}/race.png"],
    "generate": ["generate", "--out", "{out}/gen"],
}


@pytest.mark.parametrize("argv", list(WRITES.values()), ids=list(WRITES))
def test_writing_onto_a_full_disk_is_one_line_and_leaves_nothing(argv, full_disk, workdir, capsys):
    if "--plot" in argv or "optviz" in argv:
        pytest.importorskip("matplotlib")
    before = _listing(full_disk)
    code = main([a.format(out=full_disk) for a in argv])
    message = _assert_one_line_error(code, capsys.readouterr().err)
    assert "no space left" in message
    if argv[0] != "generate":  # generate writes many files: the ones written before the disk filled stay
        assert _listing(full_disk) == before


@pytest.mark.parametrize("argv", list(WRITES.values()), ids=list(WRITES))
def test_writing_into_a_read_only_folder_is_one_line(argv, read_only, workdir, capsys):
    if "--plot" in argv or "optviz" in argv:
        pytest.importorskip("matplotlib")
    code = main([a.format(out=read_only) for a in argv])
    message = _assert_one_line_error(code, capsys.readouterr().err)
    assert "read-only" in message
    assert _listing(read_only) == []


def test_json_on_a_full_stdout_is_one_line_exit_2(tmp_path):
    env = dict(os.environ, SYMNN_CACHE_DIR=os.environ["SYMNN_CACHE_DIR"])
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "symnn", "train", "--epochs", "2", "--json"], stdout=full,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=300)
    _assert_one_line_error(done.returncode, done.stderr)
    assert "No space left" in done.stderr


def test_a_diverging_run_keeps_json_valid_and_saves_nothing(workdir, capsys):
    code = main(["train", "--epochs", "30", "--optimizer", "sgd", "--lr", "1e6", "--json", "--save", "m.npz"])
    captured = capsys.readouterr()
    message = _assert_one_line_error(code, captured.err)
    assert "lower the learning rate" in message
    assert captured.out == ""
    assert not Path("m.npz").exists()


def test_json_turns_non_finite_numbers_into_null():
    from symnn.cli import _json

    assert json.loads(_json({"loss": float("nan"), "history": [1.0, float("inf")]})) == {"loss": None,
                                                                                           "history": [1.0, None]}


def test_a_step_activation_warns_that_the_layers_before_it_do_not_learn(capsys):
    assert main(["train", "--epochs", "2", "--activation", "step"]) == 0
    err = capsys.readouterr().err
    assert "symnn: warning:" in err and "symnn.Perceptron" in err and "gradient is 0" in err


def test_an_integer_csv_target_with_a_regression_loss_is_regression(inputs, capsys):
    assert main(["train", "--epochs", "2", "--data", f"csv:{inputs}/good.csv", "--loss", "mse", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "train_accuracy" not in summary  # regression: no accuracy


# --- Python --------------------------------------------------------------------------------------


def _model(dtype: str = "float64", activation: str = "tanh", loss: str = "mse") -> symnn.Sequential:
    return symnn.Sequential([symnn.Dense(2, 4), symnn.Activation(activation), symnn.Dense(4, 1)],
                            loss=loss, dtype=dtype, seed=1)


_rng = np.random.default_rng(3)
X = _rng.standard_normal((30, 2))
Y = X[:, 0] - X[:, 1]


def _with(value, at=(4, 1), base=X):
    out = base.astype(type(value) if isinstance(value, complex) else base.dtype).copy()
    out[at] = value
    return out


def _objects_with_none():
    out = X.astype(object)
    out[2, 0] = None
    return out


PY_CASES = {
    "X NaN": (lambda m: m.fit(_with(np.nan), Y, epochs=1, verbose=False), r"X\[4, 1\] is NaN"),
    "X inf": (lambda m: m.fit(_with(np.inf), Y, epochs=1, verbose=False), r"X\[4, 1\] is inf"),
    "X -inf in loss": (lambda m: m.loss(_with(-np.inf), Y), r"X\[4, 1\] is -inf"),
    "X NaN in gradients": (lambda m: m.gradients(_with(np.nan), Y), r"X\[4, 1\] is NaN"),
    "X NaN in predict": (lambda m: m.predict(_with(np.nan)), r"X\[4, 1\] is NaN"),
    "y NaN": (lambda m: m.fit(X, _with(np.nan, 3, Y), epochs=1, verbose=False), r"y\[3, 0\] is NaN"),
    "y inf in loss": (lambda m: m.loss(X, _with(np.inf, 3, Y)), r"y\[3, 0\] is inf"),
    "X complex": (lambda m: m.fit(X.astype(complex), Y, epochs=1, verbose=False), "complex"),
    "X objects holding None": (lambda m: m.fit(_objects_with_none(), Y, epochs=1, verbose=False),
                               r"X\[2, 0\] is None"),
    "X strings": (lambda m: m.fit(X.astype(str), Y, epochs=1, verbose=False), "strings"),
    "X ragged rows": (lambda m: m.fit([[1.0, 2.0], [3.0]], [1.0, 2.0], epochs=1, verbose=False), "rectangular"),
    "X empty": (lambda m: m.fit(np.zeros((0, 2)), np.zeros(0), epochs=1, verbose=False), "no rows"),
    "X empty in loss": (lambda m: m.loss(np.zeros((0, 2)), np.zeros(0)), "no rows"),
    "X wrong width": (lambda m: m.fit(np.zeros((3, 5)), np.zeros(3), epochs=1, verbose=False), r"\(batch, 2\)"),
    "y too short": (lambda m: m.fit(X, Y[:5], epochs=1, verbose=False), "5 targets"),
    "X beyond float32": (lambda m: _model("float32").fit(_with(1e39), Y, epochs=1, verbose=False),
                         r"X\[4, 1\] = 1e\+39 is beyond float32's range"),
    "y beyond float32": (lambda m: _model("float32").loss(X, _with(-1e39, 3, Y)), "beyond float32's range"),
    "epochs inf": (lambda m: m.fit(X, Y, epochs=float("inf"), verbose=False), "epochs must be a whole number"),
    "epochs negative": (lambda m: m.fit(X, Y, epochs=-1, verbose=False), "epochs must be a whole number"),
    "epochs 2.5": (lambda m: m.fit(X, Y, epochs=2.5, verbose=False), "epochs must be a whole number"),
    "batch_size 0": (lambda m: m.fit(X, Y, batch_size=0, verbose=False), "batch_size must be a whole number"),
    "batch_size nan": (lambda m: m.fit(X, Y, batch_size=float("nan"), verbose=False), "batch_size must be"),
    "seed -1": (lambda m: m.fit(X, Y, seed=-1, verbose=False), "seed must be"),
    "seed 0.5": (lambda m: m.fit(X, Y, seed=0.5, verbose=False), "seed must be"),
    "Sequential with a string": (lambda m: symnn.Sequential([symnn.Dense(2, 3), "relu"]),
                                 r"symnn.Activation\('relu'\)"),
    "Sequential with None": (lambda m: symnn.Sequential([symnn.Dense(2, 3), None]), "not a layer"),
    "Sequential of a string": (lambda m: symnn.Sequential("relu"), "list of layers"),
    "Sequential empty": (lambda m: symnn.Sequential([]), "starts with a Dense layer"),
    "Sequential starting with an activation": (lambda m: symnn.Sequential([symnn.Activation("relu")]),
                                               "starts with a Dense layer"),
    "Dense not whole": (lambda m: symnn.Dense(2.5, 3), "whole numbers"),
    "Dense zero": (lambda m: symnn.Dense(0, 3), "whole numbers"),
    "Activation not a name": (lambda m: symnn.Activation(3), "give a name"),
    "load missing": (lambda m: symnn.load("/nonexistent/m.npz"), "not found"),
}


@pytest.mark.parametrize("case", list(PY_CASES.values()), ids=list(PY_CASES))
def test_bad_python_input_raises_a_value_error_and_changes_nothing(case):
    call, message = case
    model = _model()
    before = [p.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=message) as info:
        call(model)
    assert "\n" not in str(info.value)
    for p, q in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("fused", [None, False], ids=["fused loop", "per-layer loop"])
def test_a_diverging_fit_stops_keeps_finite_weights_and_says_lower_the_learning_rate(fused):
    model = _model(activation="relu")
    model.fit(X, Y, epochs=2, verbose=False, fused=fused)  # some finite training first
    with pytest.raises(TrainingDiverged, match="lower the learning rate") as info:
        model.fit(X, Y, optimizer=symnn.SGD(lr=1e6), epochs=50, verbose=False, fused=fused)
    assert all(np.isfinite(p).all() for p in model.parameters())
    assert all(np.isfinite(v) for v in info.value.history.get("loss", []))
    assert isinstance(info.value, UserInputError)


def test_an_activation_that_is_nan_on_half_the_line_is_named():
    model = _model(activation="log(x)")
    with pytest.raises(TrainingDiverged, match=r"the activation 'log\(x\)' gives nan at x = -"):
        model.fit(X, Y, epochs=3, verbose=False)
    assert all(np.isfinite(p).all() for p in model.parameters())


def test_a_huge_batch_size_is_sized_by_the_data_in_both_loops():
    model = _model()
    for fused in (None, False):  # compiled first: tracing the compiler's allocations would be slow
        model.fit(X, Y, epochs=1, verbose=False, fused=fused)
    tracemalloc.start()
    try:
        for fused in (None, False):
            model.fit(X, Y, epochs=2, batch_size=10**9, verbose=False, fused=fused)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # 10**9 rows of workspace would be gigabytes


def test_a_huge_batch_size_gives_the_same_numbers_as_one_batch_of_all_rows():
    a, b = _model(), _model()
    a.fit(X, Y, epochs=3, batch_size=10**9, verbose=False, seed=2)
    b.fit(X, Y, epochs=3, batch_size=len(X), verbose=False, seed=2)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p, q)
