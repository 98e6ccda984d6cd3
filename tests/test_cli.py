"""The `symnn` command line: each subcommand, and bad input as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from symnn.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_derive_sigmoid_prints_the_forward_form_and_y_times_one_minus_y(capsys):
    code, out, _ = run(capsys, "derive", "sigmoid", "--format", "text")
    assert code == 0
    assert "Eq(y, 1/(1 + exp(-x)))" in out and "y*(1 - y)" in out


def test_derive_dense_prints_the_three_rules(capsys):
    code, out, _ = run(capsys, "derive", "dense", "--format", "text")
    assert code == 0
    for rule in ("G*W", "G.T*X", "G.T*1"):
        assert rule in out


def test_derive_cross_entropy_prints_softmax_minus_target(capsys):
    code, out, _ = run(capsys, "derive", "cross_entropy", "--format", "text")
    assert code == 0 and "softmax(z) - t" in out and "exp(-lse + z)" in out


def test_derive_latex_format(capsys):
    code, out, _ = run(capsys, "derive", "tanh", "--format", "latex")
    assert code == 0 and "1 - y^{2}" in out


def test_derive_list_names_every_kind(capsys):
    code, out, _ = run(capsys, "derive", "--list")
    assert code == 0 and "relu" in out and "cross_entropy" in out and "dense" in out


def test_derive_a_users_expression(capsys):
    code, out, _ = run(capsys, "derive", "--expr", "x*tanh(softplus(x))", "--format", "text")
    assert code == 0 and "tanh" in out and "dy/dx" in out


@pytest.mark.parametrize("argv", [
    ["derive", "nosuch"],
    ["derive", "--expr", "x**"],
    ["derive", "--expr", "__import__('os').system('echo pwned')"],
    ["derive", "--expr", "(lambda: 1)()"],
    ["train", "--activation", "nosuch"],
    ["train", "--epochs", "zero"],
    ["train", "--data", "nosuch"],
    ["train", "--layers", "3,4,1"],
    ["predict", "--model", "missing.npz", "--data", "csv:missing.csv"],
    ["gradcheck", "nosuch"],
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("symnn: error: ") and err.count("\n") == 1, err
    assert "pwned" not in out


def test_bad_input_in_a_real_process_shows_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "symnn", "derive", "--expr", "x.__class__"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("symnn: error: ")


def test_generate_check_passes_on_the_committed_kernels(capsys):
    code, out, _ = run(capsys, "generate", "--check")
    assert code == 0 and "matches" in out


def test_gradcheck_passes_for_every_kernel(capsys):
    code, out, _ = run(capsys, "gradcheck")
    assert code == 0 and "MISMATCH" not in out


def test_train_default_reaches_95_percent_test_accuracy(capsys):
    code, out, _ = run(capsys, "train", "--json")
    result = json.loads(out)
    assert code == 0 and result["test_accuracy"] >= 0.95
    assert set(result) >= {"loss", "train_accuracy", "test_accuracy", "epochs", "seconds", "history"}
    assert len(result["history"]) == result["epochs"] == 100


def test_train_xor_with_tanh_reaches_100_percent(capsys):
    code, out, _ = run(capsys, "train", "--data", "xor", "--layers", "2,8,1", "--activation", "tanh",
                       "--loss", "binary_cross_entropy", "--json")
    result = json.loads(out)
    assert code == 0 and result["train_accuracy"] == 1.0 and result["test_accuracy"] == 1.0


def test_train_prints_a_report_without_json(capsys):
    code, out, _ = run(capsys, "train", "--data", "blobs", "--epochs", "5")
    assert code == 0 and "accuracy" in out and "blobs" in out


def test_train_saves_and_predict_reads_the_model(capsys, tmp_path):
    model = tmp_path / "m.npz"
    code, _, _ = run(capsys, "train", "--data", "blobs", "--epochs", "5", "--save", str(model))
    assert code == 0 and model.exists()
    csv = tmp_path / "points.csv"
    csv.write_text("x1,x2\n-2,-1.5\n2,1.5\n")
    code, out, _ = run(capsys, "predict", "--model", str(model), "--data", f"csv:{csv}")
    assert code == 0 and out.split() == ["0", "1"]


def test_train_with_a_formula_activation(capsys):
    code, out, _ = run(capsys, "train", "--data", "moons", "--activation", "x*tanh(softplus(x))",
                       "--epochs", "20", "--json")
    assert code == 0 and json.loads(out)["test_accuracy"] > 0.9


def test_train_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "moons.png"
    code, _, _ = run(capsys, "train", "--epochs", "3", "--plot", str(path))
    assert code == 0 and path.read_bytes()[:4] == b"\x89PNG"


def test_the_training_path_imports_no_sympy():
    code = ("import sys, symnn; from symnn.runtime.training import TrainConfig, train; "
            "train(TrainConfig(epochs=2), progress=False); print('sympy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_derive_model_prints_the_chain_rule(capsys):
    code, out, _ = run(capsys, "derive", "--model", "dense(2,3) tanh dense(3,1) mse", "--format", "text")
    assert code == 0 and "dL/dW_1" in out and "1 - x_2**2" in out


def test_derive_model_with_a_bad_spec_is_bad_input(capsys):
    code, _, err = run(capsys, "derive", "--model", "dense(2,3) dense(4,1) mse")
    assert code == 2 and "dense(3,1)" in err


def test_derive_adam_prints_the_update_rule(capsys):
    code, out, _ = run(capsys, "derive", "adam", "--format", "text")
    assert code == 0 and "beta1" in out and "eps" in out


@pytest.mark.parametrize("payload", [
    "__import__('os').system('touch {marker}')",
    "x.__class__.__bases__",
    "(lambda x: x)(x)",
    "[x for _ in ()]",
    "{{x for x in (1,)}}",
    "open('{marker}', 'w')",
])
def test_derive_expr_refuses_code_and_runs_nothing(capsys, tmp_path, payload):
    marker = tmp_path / "ran"
    code, out, err = run(capsys, "derive", "--expr", payload.format(marker=marker))
    assert code == 2 and err.startswith("symnn: error: ") and err.count("\n") == 1
    assert not marker.exists()


def test_derive_expr_refuses_a_10_megabyte_string_quickly(capsys):
    import time

    start = time.perf_counter()
    code, _, err = run(capsys, "derive", "--expr", "x+" * 5_000_000 + "x")
    assert code == 2 and "limit" in err
    assert time.perf_counter() - start < 1.0


def test_train_refuses_a_formula_that_is_not_a_function_of_x(capsys):
    code, _, err = run(capsys, "train", "--activation", "y*tanh(y)", "--epochs", "1")
    assert code == 2 and "'y'" in err


def test_optviz_prints_where_each_optimizer_ends(capsys):
    code, out, _ = run(capsys, "optviz", "--surface", "booth", "--optimizers", "sgd,adam", "--json")
    result = json.loads(out)
    assert code == 0 and [r["optimizer"] for r in result["results"]] == ["sgd", "adam"]


def test_optviz_draws_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "race.png"
    code, _, _ = run(capsys, "optviz", "--surface", "rosenbrock", "--steps", "50", "--out", str(path))
    assert code == 0 and path.read_bytes()[:4] == b"\x89PNG"


def test_optviz_unknown_surface_is_bad_input(capsys):
    code, _, err = run(capsys, "optviz", "--surface", "nosuch")
    assert code == 2 and err.startswith("symnn: error: ")


def test_derive_a_surface_prints_both_partial_derivatives(capsys):
    code, out, _ = run(capsys, "derive", "rosenbrock", "--format", "text")
    assert code == 0 and "rosenbrock" in out
