"""A user's activation formula: derived, generated into the cache folder and compiled on first use.

A formula seen before is loaded from its cached module without importing SymPy.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from symnn import __version__
from symnn.atomic import write_text
from symnn.runtime.cache import cache_dir, import_file


def _key(formula: str) -> str:
    return hashlib.sha256(f"{__version__}\n{formula}".encode()).hexdigest()[:16]


def activation_name(formula: str) -> str:
    """The kernel prefix of a formula activation (`act_<hash>`): its module and kernels are named by it."""
    return f"act_{_key(formula)}"


def activation_module_path(formula: str) -> Path:
    """The formula's generated module in the cache folder, derived and written first if it is not there."""
    name = activation_name(formula)
    path = cache_dir() / "activations" / f"{name}.py"
    if not path.is_file():
        write_text(path, activation_source(formula))
    return path


def activation_source(formula: str) -> str:
    """The text of a formula's generated module (derived by SymPy: imported only here)."""
    from symnn.codegen.emit import activation_module
    from symnn.symbolic.api import derive_formula

    derivation = derive_formula(formula)
    derivation.name = activation_name(formula)
    # The header names the parsed expression (the printer's output), never the typed text.
    return activation_module(derivation, f"a user's formula, parsed as y = {derivation.forward}")


def activation_kernels(formula: str):
    """(forward, backward) kernels of an elementwise formula in x."""
    key = _key(formula)
    path = cache_dir() / "activations" / f"act_{key}.py"
    if not path.is_file():
        write_text(path, activation_source(formula))
    module = import_file(path, f"symnn_user_act_{key}")
    return getattr(module, f"act_{key}_forward"), getattr(module, f"act_{key}_backward")


def is_formula(name: str) -> bool:
    """Whether a name looks like a formula rather than a registered name."""
    return bool(re.search(r"[^A-Za-z0-9_]", name)) or name == "x"
