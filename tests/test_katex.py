"""Every derivation's LaTeX renders in KaTeX and in MathJax, run under Node as a notebook runs them.

The renderers come from the npm registry (`.ci/run` installs them into .ci/node/node_modules; point
SYMNN_NODE_MODULES elsewhere to use another folder). Without Node or without them the tests skip.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

import symnn
from symnn.symbolic import registry
from symnn.symbolic.api import OPTIMIZER_ALIASES
from symnn.symbolic.derivation import latex_text

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "render_latex.js"
MODULES = Path(os.environ.get("SYMNN_NODE_MODULES", ROOT / ".ci" / "node" / "node_modules"))

FORMULA = "x*tanh(softplus(x))"
MODEL_SPEC = "dense(2,3) tanh dense(3,1) mse"
CROSS_ENTROPY_SPEC = "dense(4,8) relu dense(8,3) cross_entropy"


def _render(latex: list[str], renderer: str) -> list[str | None]:
    """Each string's error from `renderer` (katex or mathjax), or None where it rendered."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    package = {"katex": "katex", "mathjax": "mathjax-full"}[renderer]
    if not (MODULES / package).is_dir():
        pytest.skip(f"{package} is not installed in {MODULES} (npm install --prefix .ci/node katex mathjax-full)")
    proc = subprocess.run(["node", str(SCRIPT), str(MODULES)], input=json.dumps(latex), capture_output=True,
                          text=True, timeout=120, check=True)
    return [r[renderer] for r in json.loads(proc.stdout)]


@cache
def _every_derivation() -> dict[str, str]:
    names = [*registry.names(), *OPTIMIZER_ALIASES, FORMULA, MODEL_SPEC, CROSS_ENTROPY_SPEC]
    return {name: _math(symnn.derive(name)._repr_latex_()) for name in names}


def _math(repr_latex: str) -> str:
    assert repr_latex.startswith("$") and repr_latex.endswith("$"), repr_latex[:40]
    return repr_latex[1:-1]


@pytest.mark.parametrize("renderer", ["katex", "mathjax"])
def test_every_registered_derivation_formula_and_model_spec_renders(renderer) -> None:
    latex = _every_derivation()
    errors = dict(zip(latex, _render(list(latex.values()), renderer)))
    failed = {name: error for name, error in errors.items() if error is not None}
    assert not failed, f"{len(latex) - len(failed)} of {len(latex)} render; {failed}"


def test_text_holds_no_character_mathjax_would_show_literally() -> None:
    """MathJax (without textmacros) prints \\text{} verbatim: `\\_` there would show as a backslash."""
    for name, latex in _every_derivation().items():
        for text in re.findall(r"\\text\{([^{}]*)\}", latex):
            assert not set(text) & set("_^\\{}$%&#~"), (name, text)


def test_the_backward_step_sets_the_incoming_gradient_apart() -> None:
    for name in ("sigmoid", "tanh"):
        backward = _math(symnn.derive(name)._repr_latex_()).split(r"\text{backward} &: ")[1]
        assert backward.startswith(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \cdot "), backward


@pytest.mark.parametrize("renderer", ["katex", "mathjax"])
def test_any_text_renders(renderer) -> None:
    """Labels are free text: every printable ASCII character, in random strings, renders."""
    rng = random.Random(0)
    alphabet = "".join(chr(c) for c in range(32, 127))
    texts = ["G^T dY", "(dL/dY)^T X", "lr_decay=0, weight_decay=0", "a\\b {c} 50% & #1 ~ <x> $y$", "g^2", "^"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(200)]
    errors = _render([latex_text(t) for t in texts], renderer)
    failed = [(t, e) for t, e in zip(texts, errors) if e is not None]
    assert not failed, failed[:5]
