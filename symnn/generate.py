"""`symnn generate`: the kernels of `generated/` and, beside them, the golden fused loops.

The kernels are printed from the symbolic definitions (symnn.codegen.writer, SymPy time); the goldens
are the training loops `fit` would assemble from exactly those kernels (symnn.runtime.fused.goldens),
so `--check` replays both: a changed kernel, template, assembler or intrinsic shows as a changed file.
"""

from __future__ import annotations

from pathlib import Path

from symnn.codegen import writer
from symnn.runtime.fused import assemble, goldens

#: Marks that say a file in the folder was written by `symnn generate` (the only files it removes).
MARKS = (writer.HEADER_MARK, assemble.FUSED_MARK)


def render_all() -> dict[str, str]:
    """Relative path -> text of every generated module: kernels, indexes and golden fused loops."""
    files = writer.render_all()
    files.update(goldens.golden_files(files))
    return dict(sorted(files.items()))


def generate(out: Path, check: bool = False) -> list[str]:
    """Write (or, with check, only compare) every generated module under `out`; the paths that differ(ed)."""
    return writer.write(out, render_all(), check, MARKS)


__all__ = ["MARKS", "generate", "render_all"]
