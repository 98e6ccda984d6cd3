"""The results file: one JSON object per line and run, appended and flushed as each run finishes.

Each line is written whole with one write and flushed, so an interrupted sweep (Ctrl-C, a killed
process) leaves every finished run readable; a line cut short by a kill is dropped on reading, and
`--resume` rewrites the file without it (atomically) before appending the runs still missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from symnn.atomic import write_text
from symnn.errors import UserInputError


def read(path: str | Path) -> list[dict]:
    """The complete lines of a results file, in order (a cut-off last line is left out)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # cut short by a kill mid-write
        if isinstance(record, dict) and "id" in record:
            records.append(record)
    return records


class ResultsFile:
    """Appends runs' lines to `path`, one flushed write per line."""

    def __init__(self, path: str | Path, resume: bool, planned_ids: set[str]) -> None:
        self.path = Path(path)
        existing = read(self.path)
        if existing and not resume:
            raise UserInputError(f"{self.path} already holds {len(existing)} runs; pass --resume to run only the "
                                 "missing ones, or choose another --out")
        foreign = [r for r in existing if r["id"] not in planned_ids]
        if foreign:
            raise UserInputError(f"{self.path} holds {len(foreign)} runs of another sweep (other options or grid); "
                                 "resume with the same options, or choose another --out")
        # the newest successful line of each run counts; failed runs are run again
        self.done = {r["id"]: r for r in existing if r.get("error") is None}
        self.failed_before = {r["id"] for r in existing if r.get("error") is not None} - set(self.done)
        if existing or self.path.exists():
            kept = "".join(json.dumps(r) + "\n" for r in self.done.values())
            if self.path.read_text(encoding="utf-8") != kept:
                write_text(self.path, kept)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def append(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
