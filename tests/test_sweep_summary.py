"""Reading a sweep: mean and spread per configuration, best first; JSON, HTML, pandas and a plot."""

from __future__ import annotations

import math

import pytest

from symnn.errors import UserInputError
from symnn.sweeps.summary import SweepResult


def _record(lr, activation, seed, accuracy, loss=0.5, error=None):
    metrics = None if error else {"loss": loss, "train_accuracy": accuracy, "test_accuracy": accuracy,
                                  "test_loss": loss}
    return {"id": f"{lr}-{activation}-{seed}", "config": {"lr": lr, "activation": activation}, "seed": seed,
            "fold": None, "metrics": metrics, "history": None if error else [1.0, loss], "seconds": 0.1,
            "host": "h", "pid": 1, "error": error}


RECORDS = [_record(0.1, "relu", 0, 0.90), _record(0.1, "relu", 1, 0.80),
           _record(0.01, "relu", 0, 0.95), _record(0.01, "relu", 1, 0.97, loss=0.2),
           _record(0.1, "tanh", 0, 0.5, error="UserInputError: bad"), _record(0.1, "tanh", 1, 0.6),
           _record(0.01, "tanh", 0, 0.0, error="ValueError: nan"), _record(0.01, "tanh", 1, 0.0, error="x")]


def result(**kw) -> SweepResult:
    return SweepResult(RECORDS, ["lr", "activation"], planned=len(RECORDS), **kw)


def test_configurations_are_ranked_by_mean_best_first_failures_last():
    rows = result().rows
    assert [r.config for r in rows] == [{"lr": 0.01, "activation": "relu"}, {"lr": 0.1, "activation": "relu"},
                                        {"lr": 0.1, "activation": "tanh"}, {"lr": 0.01, "activation": "tanh"}]
    assert rows[0].mean == pytest.approx(0.96) and rows[0].std == pytest.approx(math.sqrt(2) * 0.01)
    assert (rows[1].low, rows[1].high) == (0.8, 0.9)
    assert (rows[2].runs, rows[2].failed, rows[2].std) == (2, 1, 0.0)
    assert rows[3].mean is None and rows[3].failed == 2


def test_the_metric_defaults_to_test_accuracy_and_losses_rank_lowest_first():
    assert result().metric == "test_accuracy" and result().best == {"lr": 0.01, "activation": "relu"}
    by_loss = result(metric="test_loss")
    assert by_loss.rows[0].config == {"lr": 0.01, "activation": "relu"} and by_loss.rows[0].mean == pytest.approx(0.35)
    with pytest.raises(UserInputError, match="--metric"):
        result(metric="accuracy")


def test_table_json_and_html_say_the_same():
    r = result()
    lines = r.table().splitlines()
    assert lines[0].split() == ["lr", "activation", "test_accuracy", "runs", "s/run"]
    assert lines[1].split()[:3] == ["0.01", "relu", "0.96"] and "failed" in lines[-1]
    js = r.to_json()
    assert js["failed"] == 3 and js["runs"] == 8 and js["higher_is_better"] is True
    assert [c["config"] for c in js["configs"]] == [row.config for row in r.rows]
    html = r._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == 5 and "0.96 ± 0.014" in html
    assert not r.ok and "3 failed" in repr(r)


def test_to_pandas_has_one_row_per_run():
    pytest.importorskip("pandas")
    frame = result().to_pandas()
    assert len(frame) == 8 and {"lr", "activation", "seed", "fold", "test_accuracy", "error", "host"} <= set(frame)
    assert frame["error"].notna().sum() == 3


def test_the_plot_has_a_panel_per_parameter_and_the_best_loss_curves(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    fig = result().plot(str(path))
    assert path.stat().st_size > 1000
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["test_accuracy against lr", "test_accuracy against activation", "loss of the best 3"]
    assert fig.axes[0].get_xscale() == "linear" and len(fig.axes[2].get_lines()) == 3
    with pytest.raises(UserInputError, match=".png"):
        result().plot(str(tmp_path / "sweep.txt"))
