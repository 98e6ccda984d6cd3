"""A user's formula (an activation in x, a loss in z and t): derived, generated into the cache
folder and compiled on first use.

A formula seen before is loaded from its cached module without importing SymPy. Each formula's
module is `<kind folder>/<prefix>_<hash>.py` in the cache folder, its kernels named by that prefix
(`act_<hash>_forward`, `loss_<hash>_value_and_grad`): `activation_module_path` / `activation_name`
and `loss_module_path` / `loss_name` say where, for the fused loop to inline them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

from symnn import __version__
from symnn.atomic import write_text
from symnn.runtime.cache import cache_dir, import_file, warn_once


@functools.cache
def _generator() -> str:
    """A hash of the code that turns a formula into a module (symnn's symbolic definitions, code
    generator and kernel representation): a formula's cached module is named by it too, so a symnn
    that prints kernels differently derives them again instead of loading what an older one wrote."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted([*root.glob("symbolic/*.py"), *root.glob("codegen/*.py"), root / "ir.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _key(formula: str) -> str:
    return hashlib.sha256(f"{_generator()}\n{formula}".encode()).hexdigest()[:16]


def activation_name(formula: str) -> str:
    """The kernel prefix of a formula activation (`act_<hash>`): its module and kernels are named by it."""
    return f"act_{_key(formula)}"


def loss_name(formula: str) -> str:
    """The kernel prefix of a formula loss (`loss_<hash>`): its module and kernels are named by it."""
    return f"loss_{_key(formula)}"


#: The last line of a formula's cached module: a checksum of the text above it, so a damaged file that
#: still imports (bytes flipped inside a docstring) is found and derived again, not run.
_SEAL = "# symnn: sha256 of the text above: "


def _sealed(text: str) -> str:
    return f"{text}{_SEAL}{hashlib.sha256(text.encode()).hexdigest()}\n"


def _intact(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    head, seal, digest = text.rpartition(_SEAL)
    return bool(seal) and digest.strip() == hashlib.sha256(head.encode()).hexdigest()


def _module_path(folder: str, name: str, source: Callable[[], str]) -> Path:
    """A formula's generated module in the cache folder, written from `source()` (which derives:
    SymPy) if it is not there or does not match its checksum (said once)."""
    path = cache_dir() / folder / f"{name}.py"
    if path.is_file() and not _intact(path):
        sys.modules.pop(f"symnn_user_{name}", None)
        path.unlink(missing_ok=True)
        warn_once(f"the cached kernel module {path} was damaged (its checksum does not match); recompiling it")
    if not path.is_file():
        write_text(path, _sealed(source()))
    return path


def activation_module_path(formula: str) -> Path:
    """The formula's generated module in the cache folder, derived and written first if it is not there."""
    return _module_path("activations", activation_name(formula), lambda: activation_source(formula))


def loss_module_path(formula: str) -> Path:
    """A loss formula's generated module in the cache folder (derived and written first if it is not
    there): `<loss_name>_forward`, `_backward` and `_value_and_grad`, as a built-in elementwise loss's."""
    return _module_path("losses", loss_name(formula), lambda: loss_source(formula))


def activation_source(formula: str) -> str:
    """The text of a formula's generated module (derived by SymPy: imported only here)."""
    from symnn.codegen.emit import activation_module
    from symnn.symbolic.api import derive_formula

    derivation = derive_formula(formula)
    derivation.name = activation_name(formula)
    # The header names the parsed expression (the printer's output), never the typed text.
    return activation_module(derivation, f"a user's formula, parsed as y = {derivation.forward}")


def loss_source(formula: str) -> str:
    """The text of a loss formula's generated module (derived by SymPy: imported only here)."""
    from symnn.codegen.emit import elementwise_loss_module
    from symnn.symbolic.loss_formula import as_loss

    loss = as_loss(formula, loss_name(formula))
    # The header names the parsed expression (the printer's output), never the typed text.
    return elementwise_loss_module(loss, f"a user's loss formula, parsed as l(z, t) = {loss.forward}")


def activation_kernels(formula: str):
    """(forward, backward) kernels of an elementwise formula in x."""
    name = activation_name(formula)
    module = import_file(activation_module_path(formula), f"symnn_user_{name}")
    return getattr(module, f"{name}_forward"), getattr(module, f"{name}_backward")


def loss_kernels(formula: str):
    """(forward, backward, value_and_grad) kernels of a loss formula in z and t, over flat arrays."""
    name = loss_name(formula)
    module = import_file(loss_module_path(formula), f"symnn_user_{name}")
    return (getattr(module, f"{name}_forward"), getattr(module, f"{name}_backward"),
            getattr(module, f"{name}_value_and_grad"))


def is_formula(name: str) -> bool:
    """Whether a name looks like a formula rather than a registered name."""
    return bool(re.search(r"[^A-Za-z0-9_]", name)) or name == "x"


def is_loss_formula(name: str) -> bool:
    """Whether a loss name looks like a formula (in z and t) rather than a registered name."""
    return bool(re.search(r"[^A-Za-z0-9_]", name)) or name in ("z", "t")
