"""Packaging: every package folder is installed, so a non-editable install has every kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symnn").rglob("__init__.py")}
    found |= {".".join(("symnn", "generated", *p.parent.relative_to(ROOT / "generated").parts))
              for p in (ROOT / "generated").rglob("__init__.py")}
    assert found == listed
