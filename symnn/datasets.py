"""Data sets for `symnn train --data`: generated 2-D problems, scikit-learn's bundled sets, CSV files.

Only NumPy is imported here. scikit-learn is imported lazily, and only to read the real data sets it
ships inside its package (no network); the generated sets are built with NumPy alone, so the default
`symnn train` works without it.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserInputError

__all__ = [
    "GENERATED",
    "MAX_CSV_CLASSES",
    "REAL",
    "SPIRAL_CLASSES",
    "Dataset",
    "load",
    "read_csv",
    "read_features_csv",
    "standardize",
    "train_test_split",
]

GENERATED = ("xor", "blobs", "moons", "circles", "spiral")
REAL = ("digits", "iris", "breast_cancer", "wine")

SPIRAL_CLASSES = 3
"""How many arms (classes) the `spiral` set has."""

MAX_CSV_CLASSES = 20
"""A CSV target with integer values only and at most this many distinct values is a class label."""

DEFAULT_SAMPLES = {"xor": 400, "blobs": 400, "moons": 1000, "circles": 1000, "spiral": 300 * SPIRAL_CLASSES}
"""Total number of points of each generated set when `n_samples` is not given."""

DEFAULT_NOISE = {"xor": 0.05, "blobs": 0.5, "moons": 0.1, "circles": 0.05, "spiral": 0.2}
"""Standard deviation of the Gaussian noise of each generated set (radians of angle for `spiral`)."""

BLOBS_CENTERS = ((-2.0, -1.5), (2.0, 1.5))
"""The two cluster centres of `blobs`: 5 standard deviations from the midline at the default noise."""

CIRCLES_FACTOR = 0.5
"""Radius of the inner circle of `circles`, relative to the outer one (sklearn's `factor`)."""

_REAL_LOADERS = {
    "digits": "load_digits",
    "iris": "load_iris",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A table of examples: features `X`, targets `y`, and what the columns mean.

    `y` holds int64 class labels 0..n_classes-1 for classification, float64 targets for regression.
    `class_names` (optional) names each label: the original CSV values, or scikit-learn's names.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int
    name: str
    feature_names: tuple[str, ...]
    target_name: str
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', not {self.task!r}")
        if self.X.ndim != 2 or len(self.y) != len(self.X):
            raise ValueError(
                f"X must be (n, n_features) and y have n rows; got {self.X.shape}, {self.y.shape}"
            )

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.X.shape[1]

    def __len__(self) -> int:
        return len(self.X)


def load(
    spec: str,
    *,
    n_samples: int | None = None,
    seed: int = 0,
    noise: float | None = None,
    target: str | None = None,
) -> Dataset:
    """Load a data set by its `--data` name: a generated set, a real set, or `csv:PATH`.

    `n_samples`, `seed` and `noise` shape the generated sets; `target` names a CSV's target column.
    Bad input raises `UserInputError` with a one-line message saying how to fix it.
    """
    text = str(spec).strip()
    if text[:4].lower() == "csv:":
        path = text[4:]
        if not path:
            raise UserInputError("csv: needs a file path after the colon, e.g. --data csv:data.csv")
        _only_for("generated data sets", n_samples=n_samples, noise=noise)
        return read_csv(path, target=target)
    name = text.lower().replace("-", "_")
    if name in GENERATED:
        _only_for("csv:PATH data", **{"--target": target})
        return _generate(name, n_samples=n_samples, seed=seed, noise=noise)
    if name in REAL:
        _only_for("generated data sets", n_samples=n_samples, noise=noise)
        _only_for("csv:PATH data", **{"--target": target})
        return _load_real(name)
    message = f"unknown data set {text!r}; choose one of {', '.join(GENERATED + REAL)}, or csv:PATH"
    if text.lower().endswith(".csv") or Path(text).is_file():
        message += f" (for this file: csv:{text})"
    raise UserInputError(message)


def _only_for(what: str, **options: object) -> None:
    """Refuse options that do not apply to the chosen kind of data set, rather than ignore them."""
    for option, value in options.items():
        if value is not None:
            raise UserInputError(f"{option} applies only to {what}; leave it out for this data set")


# --------------------------------------------------------------------------------------------------
# Generated 2-D sets
# --------------------------------------------------------------------------------------------------


def _generate(name: str, *, n_samples: int | None, seed: int, noise: float | None) -> Dataset:
    """Build a generated set with `np.random.default_rng(seed)`; rows come shuffled."""
    n_classes = SPIRAL_CLASSES if name == "spiral" else 2
    n = DEFAULT_SAMPLES[name] if n_samples is None else n_samples
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < n_classes:
        raise UserInputError(
            f"data set {name!r} needs an integer number of samples >= {n_classes}, not {n!r}"
        )
    sigma = DEFAULT_NOISE[name] if noise is None else float(noise)
    if not (sigma >= 0 and math.isfinite(sigma)):
        raise UserInputError(f"noise must be a finite number >= 0, not {noise!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserInputError(f"seed must be an integer >= 0, not {seed!r}")
    rng = np.random.default_rng(seed)
    X, y = _GENERATORS[name](int(n), sigma, rng)
    order = rng.permutation(len(y))
    return Dataset(
        X=np.ascontiguousarray(X[order], dtype=np.float64),
        y=np.ascontiguousarray(y[order], dtype=np.int64),
        task="classification",
        n_classes=n_classes,
        name=name,
        feature_names=("x1", "x2"),
        target_name="label",
        class_names=tuple(str(k) for k in range(n_classes)),
    )


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


#: How far (before jitter) xor's points stay from the axes.
XOR_GAP = 0.2


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2, label 1 where the coordinates' signs differ; jittered, never mislabelled.

    Half the points are drawn in each pair of quadrants, so the two classes are equally large. The
    jitter is reflected where it would carry a point across an axis, and a gap of XOR_GAP keeps the
    points off the axes, so the labels are exact XOR: a model that learns XOR gets 100%.
    """
    y = np.repeat(np.arange(2, dtype=np.int64), _halves(n))
    sign = rng.choice([-1.0, 1.0], size=n)
    quadrant = np.column_stack([sign, np.where(y == 1, -sign, sign)])
    magnitude = np.abs(rng.uniform(XOR_GAP, 1.0, size=(n, 2)) + rng.normal(0.0, noise, size=(n, 2)))
    return np.maximum(magnitude, XOR_GAP / 2) * quadrant, y


def _blobs(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two isotropic Gaussian clusters far apart: linearly separable at the default noise."""
    y = np.repeat(np.arange(2, dtype=np.int64), _halves(n))
    return np.asarray(BLOBS_CENTERS)[y] + rng.normal(0.0, noise, size=(n, 2)), y


def _moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, built as sklearn's `make_moons`."""
    n_out, n_in = _halves(n)
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.vstack(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5]),
        ]
    )
    y = np.repeat(np.arange(2, dtype=np.int64), (n_out, n_in))
    return X + rng.normal(0.0, noise, size=X.shape), y


def _circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (label 1) inside a large one (label 0), built as sklearn's `make_circles`."""
    n_out, n_in = _halves(n)
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    X = np.vstack(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            CIRCLES_FACTOR * np.column_stack([np.cos(t_in), np.sin(t_in)]),
        ]
    )
    y = np.repeat(np.arange(2, dtype=np.int64), (n_out, n_in))
    return X + rng.normal(0.0, noise, size=X.shape), y


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SPIRAL_CLASSES interleaved arms (CS231n's spiral): each turns 4 radians as the radius grows.

    The noise jitters the angle, so it is in radians; the arms start at radius 0.1, not 0, so that
    the innermost points of different classes do not coincide.
    """
    k = SPIRAL_CLASSES
    sizes = [n // k + (1 if j < n % k else 0) for j in range(k)]
    parts = []
    for j, m in enumerate(sizes):
        r = np.linspace(0.1, 1.0, m)
        t = 2.0 * np.pi * j / k + 4.0 * r + rng.normal(0.0, noise, size=m)
        parts.append(r[:, None] * np.column_stack([np.sin(t), np.cos(t)]))
    return np.vstack(parts), np.repeat(np.arange(k, dtype=np.int64), sizes)


_GENERATORS = {"xor": _xor, "blobs": _blobs, "moons": _moons, "circles": _circles, "spiral": _spiral}


# --------------------------------------------------------------------------------------------------
# Real sets, from the files scikit-learn ships
# --------------------------------------------------------------------------------------------------


def _load_real(name: str) -> Dataset:
    """Read one of scikit-learn's bundled classification sets (imported here, lazily)."""
    try:
        from sklearn import datasets as sk_datasets
    except ImportError:
        raise UserInputError(f"data set {name!r} needs scikit-learn: pip install 'symnn[data]'") from None
    bunch = getattr(sk_datasets, _REAL_LOADERS[name])()
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)
    y = np.ascontiguousarray(bunch.target, dtype=np.int64)
    features = tuple(str(f) for f in getattr(bunch, "feature_names", ()))
    if len(features) != X.shape[1]:
        features = tuple(f"x{j + 1}" for j in range(X.shape[1]))
    classes = tuple(str(c) for c in bunch.target_names)
    return Dataset(
        X=X,
        y=y,
        task="classification",
        n_classes=len(classes),
        name=name,
        feature_names=features,
        target_name="target",
        class_names=classes,
    )


# --------------------------------------------------------------------------------------------------
# CSV files
# --------------------------------------------------------------------------------------------------


#: The longest CSV line read (a file without line breaks, such as /dev/zero, is refused here).
MAX_LINE_CHARS = 1 << 24


@dataclass
class _Table:
    """A CSV file's layout: its optional header row, its width, and where its data rows start.

    The cells are not kept as Python strings: the numbers are parsed straight into a float64 array
    by NumPy's C reader, streaming the file line by line (memory: the array, not 17x the file).
    """

    path: str
    header: tuple[str, ...] | None
    width: int
    first_row: list[str]  # the first non-blank line's cells (the header, if there is one)
    first_line: int

    def name(self, j: int) -> str | None:
        return None if self.header is None else self.header[j]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cells(text: str, shown: str, line: int) -> list[str]:
    try:
        return [cell.strip() for cell in next(csv.reader([text]))]
    except csv.Error as e:
        raise UserInputError(f"{shown}, line {line}: malformed CSV ({e}); fix the quoting") from None
    except StopIteration:
        return []


class _Lines:
    """The non-blank lines of an open text file with their line numbers; each line at most
    MAX_LINE_CHARS long, so an endless line is refused instead of read into memory."""

    def __init__(self, f, shown: str) -> None:
        self.f, self.shown, self.number = f, shown, 0

    def __iter__(self):
        readline, limit = self.f.readline, MAX_LINE_CHARS
        while True:
            text = readline(limit + 1)
            if not text:
                return
            self.number += 1
            if len(text) > limit and not text.endswith("\n"):
                raise UserInputError(f"{self.shown}, line {self.number}: longer than {limit} characters "
                                     "(not a CSV text file?); give a file of comma-separated rows")
            text = text.rstrip("\r\n")
            if text.strip():
                yield self.number, text


def _open_csv(path: str | Path, shown: str):
    try:
        return open(Path(path).expanduser(), newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserInputError(f"{shown}: no such file; check the path given after csv:") from None
    except IsADirectoryError:
        raise UserInputError(f"{shown} is a directory; give the path of a CSV file after csv:") from None
    except PermissionError:
        raise UserInputError(f"{shown}: permission denied; make the file readable") from None
    except OSError as e:
        raise UserInputError(f"{shown}: cannot read the file ({e.strerror or e})") from None


def _read_table(path: str | Path, select) -> tuple[_Table, np.ndarray]:
    """Read a CSV in one pass: detect the header, let `select(table)` choose the columns, and parse
    those into a float64 array (rows, len(cols)); blank lines are skipped, ragged rows refused,
    and a bad cell is reported by line, column and name."""
    shown = str(path)
    try:
        with _open_csv(path, shown) as f:
            lines = iter(_Lines(f, shown))
            first = next(lines, None)
            if first is None:
                raise UserInputError(f"{shown} is empty; it needs rows of comma-separated numbers")
            first_line, first_text = first
            row = _cells(first_text, shown, first_line)
            header = None
            if any(cell and not _is_number(cell) for cell in row):
                header = tuple(cell or f"column{j + 1}" for j, cell in enumerate(row))
            table = _Table(shown, header, len(row), row, first_line)
            cols = select(table)
            rows = lines if header is not None else _chain_first(first, lines)
            return table, _parse(table, rows, cols)
    except UnicodeDecodeError:
        raise UserInputError(f"{shown} is not a UTF-8 text file; give a comma-separated text file") from None
    except OSError as e:
        raise UserInputError(f"{shown}: cannot read the file ({e.strerror or e})") from None


def _chain_first(first, rest):
    yield first
    yield from rest


def _parse(table: _Table, rows, cols: list[int]) -> np.ndarray:
    """The chosen columns of the data rows, parsed by numpy.loadtxt from a stream of lines."""
    checked = _Checked(table, rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked by the callers
            values = np.loadtxt(checked, delimiter=",", quotechar='"', comments=None, dtype=np.float64,
                                usecols=cols, ndmin=2)
    except UserInputError:  # raised by _Checked (a ragged row, an endless line)
        raise
    except ValueError as e:
        raise UserInputError(_bad_cell(table, checked, cols, str(e))) from None
    values = values.reshape(-1, len(cols))
    if not np.isfinite(values).all():
        r = int(np.argwhere(~np.isfinite(values))[0][0])
        line, cells = checked.row(r)
        raise UserInputError(_cell_problem(table, line, cells, cols) or
                             f"{table.path}, line {line}: a value is not a finite number; replace it")
    return values


class _Checked:
    """The data lines as loadtxt reads them, each checked for the table's width on the way (a quick
    count of commas; a line with quotes is split properly), remembering where rows skip lines."""

    def __init__(self, table: _Table, rows) -> None:
        self.table, self.rows = table, rows
        self.count = 0
        self.jumps: list[tuple[int, int]] = []  # (row index, line) where a row is not on the line after the last
        self.last: tuple[int, str] | None = None

    def __iter__(self):
        width, shown, table = self.table.width, self.table.path, self.table
        expected_line = None
        for line, text in self.rows:
            n = text.count(",") + 1 if '"' not in text else len(_cells(text, shown, line))
            if n != width:
                fields = f"{n} field" + ("s" if n != 1 else "")
                raise UserInputError(f"{shown}, line {line}: {fields} where line {table.first_line} has {width}; "
                                     "give every row the same number of comma-separated values")
            if line != expected_line:
                self.jumps.append((self.count, line))
            expected_line = line + 1
            self.count += 1
            self.last = (line, text)
            yield text

    def line_of(self, r: int) -> int:
        """The file line of data row r (0-based)."""
        i = max(k for k, (row, _) in enumerate(self.jumps) if row <= r)
        row, line = self.jumps[i]
        return line + (r - row)

    def row(self, r: int) -> tuple[int, list[str]]:
        """The line and cells of data row r, read again from the file."""
        line = self.line_of(r)
        try:
            with _open_csv(self.table.path, self.table.path) as f:
                for number, text in _Lines(f, self.table.path):
                    if number == line:
                        return line, _cells(text, self.table.path, line)
        except (OSError, UserInputError):
            pass
        return line, []


def _cell_problem(table: _Table, line: int, cells: list[str], cols: list[int]) -> str | None:
    """What is wrong with the first bad cell among `cols` of one row, if any."""
    for j in cols:
        if j >= len(cells):
            return None
        cell = cells[j]
        name = table.name(j)
        where = f"{table.path}, line {line}, column {j + 1}" + (f" ({name!r})" if name else "")
        if not cell:
            return f"{where}: empty cell; fill in the missing value or drop the row"
        if not _is_number(cell):
            shown = cell if len(cell) <= 40 else cell[:37] + "..."
            return f"{where}: {shown!r} is not a number; the CSV must be numeric apart from a header row"
        if not math.isfinite(float(cell)):
            return f"{where}: {cell!r} is not a finite number; replace it"
    return None


def _bad_cell(table: _Table, checked: _Checked, cols: list[int], numpy_message: str) -> str:
    """The one-line message for a row numpy.loadtxt refused (its message gives the row)."""
    match = re.search(r"at row (\d+)", numpy_message)
    if match and checked.jumps:
        r = int(match.group(1))
        line, cells = checked.row(r)
        problem = _cell_problem(table, line, cells, cols)
        if problem:
            return problem
        return f"{table.path}, line {line}: {numpy_message.split(' at row')[0]}; the CSV must be numeric"
    if checked.last is not None:
        line, text = checked.last
        problem = _cell_problem(table, line, _cells(text, table.path, line), cols)
        if problem:
            return problem
    return f"{table.path}: {numpy_message.splitlines()[0][:120]}; the CSV must be numeric apart from a header row"


def _column_list(table: _Table) -> str:
    assert table.header is not None
    return ", ".join(table.header)


def read_csv(path: str | Path, target: str | None = None) -> Dataset:
    """Read a numeric CSV as a Dataset: the last column (or the one named `target`) is the target.

    A header row is optional and detected (its first row has a non-numeric field). A target holding
    only integer values, at most MAX_CSV_CLASSES distinct ones, is a class label and is remapped to
    0..K-1 in sorted order (`class_names` keeps the original values); any other target is regression.
    """
    chosen: dict[str, object] = {}

    def select(table: _Table) -> list[int]:
        shown, width = table.path, table.width
        if width < 2:
            hint = ""
            sample = table.first_row[0] if table.first_row else ""
            if ";" in sample or "\t" in sample:
                hint = " (the values must be separated by commas)"
            raise UserInputError(
                f"{shown} has {width} column{hint}; it needs at least one feature column and a target column"
            )
        if target is None:
            t = width - 1
        elif table.header is None:
            raise UserInputError(
                f"{shown} has no header row, so --target {target!r} cannot name a column; "
                "add a header row or leave out --target to use the last column"
            )
        else:
            matches = [j for j, name in enumerate(table.header) if name == target]
            if not matches:
                raise UserInputError(
                    f"{shown} has no column named {target!r}; choose --target from: {_column_list(table)}"
                )
            if len(matches) > 1:
                raise UserInputError(f"{shown} has {len(matches)} columns named {target!r}; rename all but one")
            t = matches[0]
        chosen["t"], chosen["features"] = t, [j for j in range(width) if j != t]
        return [*chosen["features"], t]

    table, values_all = _read_table(path, select)
    shown = table.path
    if values_all.shape[0] == 0:
        raise UserInputError(f"{shown} has a header row but no data rows; add rows of numbers below it")
    t, feature_cols = chosen["t"], chosen["features"]
    X = np.ascontiguousarray(values_all[:, :-1])
    values = np.ascontiguousarray(values_all[:, -1])
    del values_all
    if table.header is not None:
        feature_names = tuple(table.header[j] for j in feature_cols)
        target_name = table.header[t]
    else:
        feature_names = tuple(f"x{j + 1}" for j in range(len(feature_cols)))
        target_name = "y"
    name = f"csv:{path}"
    classes = np.unique(values)
    if np.all(values == np.round(values)) and len(classes) <= MAX_CSV_CLASSES:
        y = np.searchsorted(classes, values).astype(np.int64)
        return Dataset(
            X,
            y,
            "classification",
            len(classes),
            name,
            feature_names,
            target_name,
            class_names=tuple(str(int(c)) for c in classes),
        )
    return Dataset(X, values, "regression", 0, name, feature_names, target_name)


def read_features_csv(
    path: str | Path,
    target: str | None = None,
    feature_names: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Read the feature columns of a CSV, for prediction, as a float64 array (n, n_features).

    A header column named `target` is dropped if present. Given the model's `feature_names`, a
    header that holds all of them selects those columns in that order; otherwise the columns are
    taken in file order and their count must match.
    """
    expected = None if feature_names is None else tuple(str(f) for f in feature_names)

    def select(table: _Table) -> list[int]:
        shown = table.path
        cols = list(range(table.width))
        if target is not None and table.header is not None:
            cols = [j for j in cols if table.header[j] != target]
        if target is not None and table.header is None and (expected is None or len(cols) != len(expected)):
            raise UserInputError(
                f"{shown} has no header row, so --target {target!r} cannot name a column; "
                "add a header row naming the columns"
            )
        if expected is not None:
            kept = {table.header[j]: j for j in reversed(cols)} if table.header is not None else {}
            if len(set(expected)) == len(expected) and all(f in kept for f in expected):
                cols = [kept[f] for f in expected]
            elif len(cols) != len(expected):
                if len(cols) == len(expected) + 1 and table.header is not None and target is None:
                    fix = "name the target column with --target so that it is dropped"
                else:
                    fix = "give exactly the feature columns the model was trained on, in the same order"
                raise UserInputError(
                    f"{shown} has {len(cols)} feature columns but the model expects {len(expected)} "
                    f"({', '.join(expected)}); {fix}"
                )
        if not cols:
            raise UserInputError(f"{shown} has no feature columns once the target column is dropped")
        return cols

    table, values = _read_table(path, select)
    if values.shape[0] == 0:
        raise UserInputError(f"{table.path} has a header row but no data rows; add rows of numbers below it")
    return values


# --------------------------------------------------------------------------------------------------
# Splitting and scaling
# --------------------------------------------------------------------------------------------------


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows at random (seeded) into train and test sets: `X_train, X_test, y_train, y_test`.

    `round(n * test_fraction)` rows go to the test set; 0 gives an empty test set. Integer labels
    (classification) are split per class, so both sets keep the class proportions.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y need the same number of rows, got {len(X)} and {len(y)}")
    f = float(test_fraction)
    if not 0.0 <= f < 1.0:
        raise UserInputError(f"test fraction must be at least 0 and below 1, not {test_fraction!r}")
    n = len(y)
    n_test = math.floor(n * f + 0.5)
    if n_test >= n:
        raise UserInputError(
            f"a test fraction of {test_fraction!r} leaves no training rows out of {n}; use a smaller one"
        )
    rng = np.random.default_rng(seed)
    if n_test == 0:
        test = np.empty(0, dtype=np.intp)
    elif y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        test = _stratified_test_rows(y, n_test, rng)
    else:
        test = rng.permutation(n)[:n_test]
    in_test = np.zeros(n, dtype=bool)
    in_test[test] = True
    train = rng.permutation(np.flatnonzero(~in_test))
    test = rng.permutation(test)
    return X[train], X[test], y[train], y[test]


def _stratified_test_rows(y: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Pick n_test rows, sharing them among the classes in proportion (largest remainders)."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    ideal = counts * (n_test / len(y))
    take = np.floor(ideal).astype(np.intp)
    extra = n_test - int(take.sum())
    if extra:
        by_remainder = np.argsort(-(ideal - take), kind="stable")
        take[by_remainder[:extra]] += 1
    rows = [rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))]
    return np.concatenate(rows)


def standardize(
    X_train: np.ndarray, X_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scale every column to mean 0, std 1 with the training set's statistics, applied to both sets.

    Only the training rows are used, so nothing about the test set leaks into training. A constant
    column (std 0, up to rounding) keeps std 1: it is centred but not divided by zero.
    Returns `X_train_std, X_test_std, mean, std` (float64).
    """
    train = np.asarray(X_train, dtype=np.float64)
    test = np.asarray(X_test, dtype=np.float64)
    if train.ndim != 2 or len(train) == 0:
        raise ValueError(f"X_train must be a non-empty (n, n_features) array, got shape {train.shape}")
    if test.size == 0:
        test = test.reshape(0, train.shape[1])
    if test.ndim != 2 or test.shape[1] != train.shape[1]:
        raise ValueError(f"X_test must have {train.shape[1]} columns like X_train, got shape {test.shape}")
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std <= 1e-12 * np.abs(mean), 1.0, std)
    return (train - mean) / std, (test - mean) / std, mean, std
