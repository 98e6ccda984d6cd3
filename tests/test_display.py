"""What a person sees: a model's and a history's HTML, progress on a terminal (a real pty) and the
`train` header printed before training starts."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from html.parser import HTMLParser

import numpy as np
import pytest

import symnn
from symnn.display import history_html, model_html, r2_score, svg_curves
from symnn.runtime.progress import CLEAR_TO_END, Progress, status


class _Cells(HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self._in_cell = tag in ("td", "th") or self._in_cell

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell and self.rows:
            self.rows[-1].append(data)


def _cells(html: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(html)
    return parser.rows


def _model():
    return symnn.Sequential([symnn.Dense(2, 16), symnn.Activation("relu"), symnn.Dense(16, 3)], loss="cross_entropy")


def test_model_html_lists_layers_shapes_and_parameter_counts() -> None:
    model = _model()
    html = model._repr_html_()
    assert html == model_html(model)
    rows = _cells(html)
    assert rows[0] == ["#", "layer", "output shape", "parameters"]
    assert rows[1][1:] == ["Dense(2, 16, init='auto')", "(batch, 16)", "48"]
    assert rows[2][1:] == ["Activation('relu')", "(batch, 16)", "0"]
    assert rows[3][1:] == ["Dense(16, 3, init='auto')", "(batch, 3)", "51"]
    assert rows[4][-1] == "99 in total" and sum(p.size for p in model.parameters()) == 99


def test_history_is_a_mapping_that_shows_a_table_and_a_curve() -> None:
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("tanh"), symnn.Dense(4, 1)],
                             loss="binary_cross_entropy")
    history = model.fit(X, y, optimizer="adam", epochs=25, verbose=False, validation=(X, y))
    assert isinstance(history, dict) and len(history["loss"]) == 25 and set(history) >= {"loss", "val_loss"}
    json.dumps(history)  # still plain data
    html = history._repr_html_()
    assert html == history_html(history)
    assert "<svg" in html and "<polyline" in html and "25 epochs" in html
    rows = _cells(html)
    assert rows[0] == ["epoch", "loss", "val_loss", "val_accuracy"]
    assert rows[1][0] == "1" and rows[-1][0] == "25" and float(rows[-1][1]) == pytest.approx(history["loss"][-1], 1e-4)
    assert svg_curves({"loss": []}) == ""


def test_predict_proba_score_and_call() -> None:
    model = _model()
    X = np.random.default_rng(1).normal(size=(10, 2))
    np.testing.assert_array_equal(model(X), model.forward(X))
    p = model.predict_proba(X)
    assert p.shape == (10, 3) and np.allclose(p.sum(axis=1), 1)
    np.testing.assert_array_equal(p.argmax(axis=1), model.predict(X))
    y = model.predict(X)
    assert model.score(X, y) == 1.0
    binary = symnn.Sequential([symnn.Dense(2, 1)], loss="binary_cross_entropy")
    pb = binary.predict_proba(X)
    np.testing.assert_allclose(pb[:, 1], 1 / (1 + np.exp(-binary(X)[:, 0])))
    regression = symnn.Sequential([symnn.Dense(2, 1)], loss="mse")
    assert regression.score(X, regression(X)) == 1.0
    assert r2_score(np.array([1.0, 2.0, 3.0]), np.array([[2.0], [2.0], [2.0]])) == 0.0
    with pytest.raises(ValueError, match="predict_proba needs a probabilistic loss"):
        regression.predict_proba(X)


def test_progress_status_has_the_eta_and_the_terminal_line_is_cleared() -> None:
    assert status(5, 10, 0.25, 2.0) == "epoch 5/10  loss 0.25  2.0s  ETA 2.0s"
    assert "ETA" not in status(10, 10, 0.25, 4.0)
    assert status(1, 100, 1.0, 90.0).endswith("ETA 2h28m")

    class Terminal:
        """A stream that says it is a terminal, recording what is written."""

        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    term = Terminal()
    bar = Progress(3, stream=term)
    for epoch in (1, 2, 3):
        bar._last = 0.0  # no rate limit between these updates
        bar.update(epoch, 1.0 / epoch)
    bar.close()
    lines = term.text.split("\r")[1:]
    assert len(lines) == 3 and all(CLEAR_TO_END in line for line in lines)
    assert "ETA" in lines[0] and "epoch 3/3" in lines[-1] and term.text.endswith("\n")


def test_progress_is_silent_where_nobody_watches(capsys) -> None:
    bar = Progress(3)
    bar.update(3, 0.1)
    bar.close()
    assert capsys.readouterr().err == "" and bar.mode is None


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_train_in_a_terminal_prints_the_header_before_the_bar() -> None:
    """`symnn train` in a real pty: the data and model lines come first, then a bar with an ETA, each
    redraw clearing the line."""
    main, follower = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "symnn", "train", "--epochs", "300", "--data", "moons"],
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(main)
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert text.index("data     moons") < text.index("model    2-16-16-1") < text.index("epoch ")
    assert text.index("epoch ") < text.index("training adam")
    redraws = [part for part in text.split("\r") if "epoch " in part and "loss" in part]
    assert redraws and all(CLEAR_TO_END in part for part in redraws)
    assert "epoch 300/300" in text
    assert re.search(r"ETA \d", text) or len(redraws) == 1  # a fit shorter than one redraw interval shows no ETA
