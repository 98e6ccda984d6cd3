"""Atomic file writes: a temporary file beside the target, renamed onto it only when complete.

Readers see the old file or the new one, never half of one. A write that fails (a read-only or
full disk, a file where a folder should be) raises `FileWriteError` saying what to do, and leaves
nothing behind: its temporary file is removed, and so are the folders it created. A writer that
is killed (`kill -9`) cannot clean up; its temporary file is named after the target, the host and
its process id, so the next write of the same target removes it once that process is gone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from symnn.errors import FileWriteError

#: What to do about each reason a write fails (by errno); the rest show the system's message.
_FIXES = {
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "permission denied; choose a folder you can write to",
    errno.EROFS: "the folder is on a read-only file system; choose another folder",
    errno.ENOSPC: "no space left on the device; free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is exhausted; free some space or write somewhere else",
    errno.EFBIG: "the file is too large for this file system; write somewhere else",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter one",
}


def _host_tag() -> str:
    """A short tag of this machine, so that a shared folder's temporaries of other hosts are left alone."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


def _is_dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive (another user's), or unknown: leave its file alone
    return False


def remove_stale_temporaries(target: str | Path) -> int:
    """Remove the temporaries of `target` left by writers on this host that no longer run; how many."""
    target = Path(target)
    prefix = _temp_prefix(target)
    pattern = re.compile(re.escape(prefix) + r"(\d+)-([0-9a-f]{8})-")
    host, removed = _host_tag(), 0
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return 0
    for entry in entries:
        m = pattern.match(entry.name)
        if m and m.group(2) == host and int(m.group(1)) != os.getpid() and _is_dead(int(m.group(1))):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def write_error(path: str | Path, exc: OSError) -> FileWriteError:
    """The one-line FileWriteError for an OSError met while writing `path`."""
    fix = _FIXES.get(exc.errno or 0)
    if fix is None:
        fix = f"{exc.strerror or exc}; choose another place to write it"
    error = FileWriteError(f"cannot write {str(path)!r}: {fix}")
    error.errno, error.strerror, error.filename = exc.errno, exc.strerror, str(path)
    return error


def _make_parents(folder: Path, path: Path) -> list[Path]:
    """Create `folder` and its missing ancestors; the folders created, deepest first."""
    missing = []
    probe = folder
    while not probe.exists():
        if probe.is_symlink():  # a dangling link: its target folder is missing
            raise FileWriteError(f"cannot write {str(path)!r}: {str(probe)!r} is a broken symbolic link")
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise FileWriteError(f"cannot write {str(path)!r}: {str(probe)!r} is a file, not a folder; "
                             "choose a path inside a folder")
    created: list[Path] = []
    try:
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                if d.is_dir():  # another writer made it just now: it is there, and not ours to remove
                    continue
                raise
            created.insert(0, d)
    except OSError as exc:
        _remove_folders(created)
        raise write_error(path, exc) from None
    return created


def _remove_folders(folders: list[Path]) -> None:
    for d in folders:  # deepest first; only if still empty
        try:
            d.rmdir()
        except OSError:
            pass


def check_writable(path: str | Path) -> None:
    """Fail now, before any long work, if `path` cannot be written; creates nothing.

    Refuses a path that is a folder, lies under a regular file, or whose nearest existing folder
    cannot be written to (found by creating and removing a temporary file there).
    """
    target = Path(path)
    if target.is_dir():
        raise FileWriteError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    probe = target.parent
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise FileWriteError(f"cannot write {str(path)!r}: {str(probe)!r} is a file, not a folder; "
                             "choose a path inside a folder")
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=_temp_prefix(target)):
            pass
    except OSError as exc:
        raise write_error(path, exc) from None


@contextmanager
def atomic_target(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path in the target's folder: renamed onto `path` if the block succeeds, else removed.

    An OSError in the block or in the rename becomes a FileWriteError (still an OSError).
    """
    target = Path(path)
    if target.is_dir():
        raise FileWriteError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    created = _make_parents(target.parent, target)
    remove_stale_temporaries(target)
    tmp: str | None = None

    def abandon() -> None:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        _remove_folders(created)

    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=suffix,
                                   prefix=f"{_temp_prefix(target)}{os.getpid()}-{_host_tag()}-")
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; a saved file gets the usual mode
        yield Path(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        abandon()
        if isinstance(exc, FileWriteError):
            raise
        raise write_error(path, exc) from None
    except BaseException:
        abandon()
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically: readers see the old file or the new one, never half of it."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes atomically (see write_text)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)
