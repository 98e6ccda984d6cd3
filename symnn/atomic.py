"""Atomic file writes: a temporary file beside the target, renamed onto it only when complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_target(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path in the target's folder: renamed onto `path` if the block succeeds, else removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; a saved file gets the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically: readers see the old file or the new one, never half of it."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
