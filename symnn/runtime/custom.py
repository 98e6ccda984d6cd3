"""A user's activation formula: derived, generated into the cache folder and compiled on first use.

A formula seen before is loaded from its cached module without importing SymPy.
"""

from __future__ import annotations

import hashlib
import re

from symnn import __version__
from symnn.atomic import write_text
from symnn.runtime.cache import cache_dir, import_file


def _key(formula: str) -> str:
    return hashlib.sha256(f"{__version__}\n{formula}".encode()).hexdigest()[:16]


def activation_kernels(formula: str):
    """(forward, backward) kernels of an elementwise formula in x."""
    key = _key(formula)
    path = cache_dir() / "activations" / f"act_{key}.py"
    if not path.is_file():
        from symnn.codegen.emit import activation_module
        from symnn.symbolic.api import derive_formula

        derivation = derive_formula(formula)
        derivation.name = f"act_{key}"
        # The header names the parsed expression (the printer's output), never the typed text.
        source = activation_module(derivation, f"a user's formula, parsed as y = {derivation.forward}")
        write_text(path, source)
    module = import_file(path, f"symnn_user_act_{key}")
    return getattr(module, f"act_{key}_forward"), getattr(module, f"act_{key}_backward")


def is_formula(name: str) -> bool:
    """Whether a name looks like a formula rather than a registered name."""
    return bool(re.search(r"[^A-Za-z0-9_]", name)) or name == "x"
