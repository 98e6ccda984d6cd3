"""Tests for symnn.datasets: generated sets, scikit-learn's bundled sets, CSV files, split, scaling."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from symnn import datasets
from symnn.datasets import (
    GENERATED,
    REAL,
    SPIRAL_CLASSES,
    Dataset,
    load,
    read_csv,
    read_features_csv,
    standardize,
    train_test_split,
)
from symnn.errors import UserInputError

EXPECTED_LABELS = {
    "xor": {0, 1},
    "blobs": {0, 1},
    "moons": {0, 1},
    "circles": {0, 1},
    "spiral": set(range(SPIRAL_CLASSES)),
}
DEFAULT_SIZES = {"xor": 400, "blobs": 400, "moons": 1000, "circles": 1000, "spiral": 300 * SPIRAL_CLASSES}


def linear_accuracy(X: np.ndarray, y: np.ndarray) -> float:
    """Training accuracy of a least-squares linear classifier (targets +-1, with a bias column)."""
    A = np.column_stack([X, np.ones(len(X))])
    w, *_ = np.linalg.lstsq(A, np.where(y == 1, 1.0, -1.0), rcond=None)
    return float(np.mean((A @ w > 0) == (y == 1)))


def user_error(call, *args, **kwargs) -> str:
    """Run `call`, expecting a one-line UserInputError; return its message."""
    with pytest.raises(UserInputError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- generated sets


@pytest.mark.parametrize("name", GENERATED)
def test_generated_set_has_2d_float64_features_and_int64_labels(name):
    ds = load(name)
    assert isinstance(ds, Dataset)
    assert ds.X.shape == (DEFAULT_SIZES[name], 2)
    assert ds.X.dtype == np.float64
    assert ds.y.shape == (DEFAULT_SIZES[name],)
    assert ds.y.dtype == np.int64
    assert ds.task == "classification"
    assert ds.name == name
    assert ds.feature_names == ("x1", "x2")
    assert np.isfinite(ds.X).all()


@pytest.mark.parametrize("name", GENERATED)
def test_generated_set_has_the_expected_label_set(name):
    ds = load(name)
    assert set(np.unique(ds.y).tolist()) == EXPECTED_LABELS[name]
    assert ds.n_classes == len(EXPECTED_LABELS[name])


@pytest.mark.parametrize("name", GENERATED)
def test_generated_set_has_balanced_classes(name):
    counts = np.bincount(load(name, n_samples=301).y)
    assert counts.sum() == 301
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("name", GENERATED)
def test_n_samples_sets_the_number_of_rows(name):
    assert load(name, n_samples=37).X.shape == (37, 2)


@pytest.mark.parametrize("name", GENERATED)
def test_same_seed_gives_identical_data(name):
    a, b = load(name, seed=7), load(name, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)


@pytest.mark.parametrize("name", GENERATED)
def test_different_seed_gives_different_data(name):
    assert not np.array_equal(load(name, seed=0).X, load(name, seed=1).X)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_rows_come_shuffled(name):
    y = load(name).y
    assert (np.diff(y) != 0).sum() > 10


def test_blobs_are_linearly_separable():
    ds = load("blobs")
    assert linear_accuracy(ds.X, ds.y) == 1.0


def test_xor_is_not_linearly_separable():
    ds = load("xor")
    assert linear_accuracy(ds.X, ds.y) < 0.75


def test_xor_label_is_whether_the_signs_differ_without_noise():
    ds = load("xor", noise=0.0)
    assert np.all(np.abs(ds.X) <= 1.0)
    np.testing.assert_array_equal(ds.y, (ds.X[:, 0] > 0) != (ds.X[:, 1] > 0))


def test_circles_without_noise_lie_on_two_radii():
    ds = load("circles", noise=0.0)
    radius = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(radius[ds.y == 0], 1.0)
    np.testing.assert_allclose(radius[ds.y == 1], datasets.CIRCLES_FACTOR)


def test_moons_without_noise_match_sklearn_make_moons():
    sk = pytest.importorskip("sklearn.datasets")
    ours = load("moons", n_samples=101, noise=0.0)
    X, y = sk.make_moons(n_samples=101, noise=0.0, shuffle=False)
    for label in (0, 1):
        mine = ours.X[ours.y == label]
        theirs = X[y == label]
        np.testing.assert_allclose(mine[np.lexsort(mine.T)], theirs[np.lexsort(theirs.T)], atol=1e-12)


def test_spiral_classes_wind_around_the_origin():
    ds = load("spiral", noise=0.0)
    radius = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert radius.min() > 0.05 and radius.max() <= 1.0 + 1e-12
    assert linear_accuracy(ds.X, (ds.y == 0).astype(np.int64)) < 0.95


def test_too_few_samples_is_a_user_error():
    assert "spiral" in user_error(load, "spiral", n_samples=SPIRAL_CLASSES - 1)
    user_error(load, "xor", n_samples=0)


def test_negative_noise_is_a_user_error():
    assert "noise" in user_error(load, "moons", noise=-0.1)


def test_target_with_a_generated_set_is_a_user_error():
    assert "target" in user_error(load, "xor", target="y")


def test_names_ignore_case_and_dashes():
    assert load("XOR").name == "xor"
    assert load(" Moons ").name == "moons"


def test_unknown_name_lists_the_valid_names():
    message = user_error(load, "foo")
    assert message == (
        "unknown data set 'foo'; choose one of xor, blobs, moons, circles, spiral, "
        "digits, iris, breast_cancer, wine, or csv:PATH"
    )


def test_unknown_name_that_looks_like_a_file_suggests_csv_prefix():
    assert "csv:data.csv" in user_error(load, "data.csv")


def test_module_imports_only_numpy_at_import_time():
    tree = ast.parse(Path(datasets.__file__).read_text())
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            top_level.add(node.module.split(".")[0])
    assert not top_level & {"sklearn", "sympy", "numba", "pandas", "scipy"}
    assert "numpy" in top_level


# ----------------------------------------------------------------------------- real sets

REAL_SHAPES = {
    "digits": ((1797, 64), 10),
    "iris": ((150, 4), 3),
    "breast_cancer": ((569, 30), 2),
    "wine": ((178, 13), 3),
}


@pytest.mark.parametrize("name", REAL)
def test_real_set_has_its_known_shape_and_classes(name):
    pytest.importorskip("sklearn")
    ds = load(name)
    shape, n_classes = REAL_SHAPES[name]
    assert ds.X.shape == shape
    assert ds.X.dtype == np.float64
    assert ds.y.dtype == np.int64
    assert ds.n_classes == n_classes
    assert set(np.unique(ds.y).tolist()) == set(range(n_classes))
    assert len(ds.feature_names) == shape[1]


def test_real_set_without_sklearn_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    message = user_error(load, "digits")
    assert message == "data set 'digits' needs scikit-learn: pip install 'symnn[data]'"


def test_real_set_refuses_generator_options():
    assert "n_samples" in user_error(load, "iris", n_samples=10)


# ----------------------------------------------------------------------------- CSV files


def test_csv_without_header_uses_the_last_column_as_target(tmp_path):
    ds = read_csv(write(tmp_path, "0.5,1,0\n1.5,2,1\n2.5,3,1\n"))
    np.testing.assert_array_equal(ds.X, [[0.5, 1], [1.5, 2], [2.5, 3]])
    np.testing.assert_array_equal(ds.y, [0, 1, 1])
    assert ds.feature_names == ("x1", "x2")
    assert ds.target_name == "y"


def test_csv_with_header_names_the_columns(tmp_path):
    ds = read_csv(write(tmp_path, "height,weight,label\n1.7,60,0\n1.8,80,1\n"))
    assert ds.feature_names == ("height", "weight")
    assert ds.target_name == "label"
    np.testing.assert_array_equal(ds.X, [[1.7, 60], [1.8, 80]])


def test_csv_target_option_selects_another_column(tmp_path):
    ds = read_csv(write(tmp_path, "label,a,b\n1,0.1,0.2\n0,0.3,0.4\n"), target="label")
    assert ds.feature_names == ("a", "b")
    np.testing.assert_array_equal(ds.X, [[0.1, 0.2], [0.3, 0.4]])
    np.testing.assert_array_equal(ds.y, [1, 0])


def test_csv_integer_target_is_classification_remapped_in_sorted_order(tmp_path):
    ds = read_csv(write(tmp_path, "1,5\n2,-3\n3,7\n4,5\n"))
    assert ds.task == "classification"
    assert ds.n_classes == 3
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, [1, 0, 2, 1])
    assert ds.class_names == ("-3", "5", "7")


def test_csv_fractional_target_is_regression(tmp_path):
    ds = read_csv(write(tmp_path, "1,0.5\n2,1.0\n3,1.5\n"))
    assert ds.task == "regression"
    assert ds.n_classes == 0
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, [0.5, 1.0, 1.5])


def test_csv_integer_target_with_many_values_is_regression(tmp_path):
    text = "".join(f"{i},{i * 3}\n" for i in range(datasets.MAX_CSV_CLASSES + 1))
    assert read_csv(write(tmp_path, text)).task == "regression"


def test_csv_blank_lines_and_spaces_are_ignored(tmp_path):
    ds = read_csv(write(tmp_path, "a, b\n\n 1, 0\n2 ,1\n\n"))
    assert ds.feature_names == ("a",)
    np.testing.assert_array_equal(ds.X, [[1], [2]])


def test_load_reads_a_csv_prefix(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,0\n3,4,1\n")
    ds = load(f"csv:{path}", target="c")
    assert ds.name == f"csv:{path}"
    assert ds.X.shape == (2, 2)


def test_csv_missing_file_is_a_user_error(tmp_path):
    message = user_error(read_csv, tmp_path / "nope.csv")
    assert "nope.csv" in message and "no such file" in message


def test_csv_empty_file_is_a_user_error(tmp_path):
    assert "empty" in user_error(read_csv, write(tmp_path, "\n\n"))


def test_csv_header_without_rows_is_a_user_error(tmp_path):
    assert "no data rows" in user_error(read_csv, write(tmp_path, "a,b\n"))


def test_csv_ragged_rows_name_the_line(tmp_path):
    message = user_error(read_csv, write(tmp_path, "1,2,3\n4,5,6\n7,8\n"))
    assert "data.csv, line 3" in message and "2 fields" in message


def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    message = user_error(read_csv, write(tmp_path, "a,b,c\n1,2,0\n3,oops,1\n"))
    assert "data.csv, line 3, column 2 ('b')" in message and "'oops'" in message


def test_csv_empty_cell_names_line_and_column(tmp_path):
    message = user_error(read_csv, write(tmp_path, "1,2,0\n3,,1\n"))
    assert "line 2, column 2" in message and "empty cell" in message


def test_csv_non_finite_cell_is_a_user_error(tmp_path):
    assert "line 2, column 1" in user_error(read_csv, write(tmp_path, "1,0\nnan,1\n"))


def test_csv_unknown_target_lists_the_columns(tmp_path):
    message = user_error(read_csv, write(tmp_path, "a,b,c\n1,2,3\n"), target="d")
    assert "'d'" in message and "a, b, c" in message


def test_csv_target_without_header_is_a_user_error(tmp_path):
    assert "header" in user_error(read_csv, write(tmp_path, "1,2\n3,4\n"), target="b")


def test_csv_with_one_column_is_a_user_error(tmp_path):
    message = user_error(read_csv, write(tmp_path, "1\n2\n"))
    assert "at least one feature column and a target column" in message


def test_csv_with_semicolons_hints_at_commas(tmp_path):
    assert "commas" in user_error(read_csv, write(tmp_path, "1;2\n3;4\n"))


def test_features_csv_drops_the_target_column(tmp_path):
    path = write(tmp_path, "a,label,b\n1,0,2\n3,1,4\n")
    np.testing.assert_array_equal(read_features_csv(path, target="label"), [[1, 2], [3, 4]])


def test_features_csv_without_target_keeps_every_column(tmp_path):
    path = write(tmp_path, "1,2\n3,4\n")
    np.testing.assert_array_equal(read_features_csv(path), [[1, 2], [3, 4]])


def test_features_csv_ignores_a_target_name_that_is_absent(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    np.testing.assert_array_equal(read_features_csv(path, target="label"), [[1, 2]])


def test_features_csv_selects_named_features_in_model_order(tmp_path):
    path = write(tmp_path, "b,label,a\n2,x,1\n4,y,3\n")
    X = read_features_csv(path, target="label", feature_names=("a", "b"))
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


def test_features_csv_with_wrong_column_count_is_a_user_error(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    message = user_error(read_features_csv, path, feature_names=("x1", "x2"))
    assert "3 feature columns" in message and "--target" in message


# ----------------------------------------------------------------------------- split


def rows(n: int = 400, n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose first column is their index, so rows can be traced through a split."""
    X = np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
    return X, (np.arange(n) % n_classes).astype(np.int64)


def test_split_sizes_follow_the_test_fraction():
    X_train, X_test, y_train, y_test = train_test_split(*rows(400), test_fraction=0.25, seed=0)
    assert X_train.shape == (300, 2) and y_train.shape == (300,)
    assert X_test.shape == (100, 2) and y_test.shape == (100,)


def test_split_is_deterministic_for_a_seed():
    a = train_test_split(*rows(), test_fraction=0.2, seed=3)
    b = train_test_split(*rows(), test_fraction=0.2, seed=3)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)


def test_split_differs_under_another_seed():
    a = train_test_split(*rows(), test_fraction=0.2, seed=3)
    b = train_test_split(*rows(), test_fraction=0.2, seed=4)
    assert not np.array_equal(a[1], b[1])


def test_split_has_no_overlap_and_loses_no_row():
    X_train, X_test, y_train, y_test = train_test_split(*rows(401), test_fraction=0.3, seed=1)
    train_ids, test_ids = set(X_train[:, 0]), set(X_test[:, 0])
    assert not train_ids & test_ids
    assert train_ids | test_ids == set(range(401))
    assert len(train_ids) + len(test_ids) == 401


def test_split_keeps_rows_and_labels_together():
    X_train, X_test, y_train, y_test = train_test_split(*rows(n_classes=3), test_fraction=0.3, seed=2)
    np.testing.assert_array_equal(X_train[:, 0].astype(np.int64) % 3, y_train)
    np.testing.assert_array_equal(X_test[:, 0].astype(np.int64) % 3, y_test)


def test_split_is_stratified_for_class_labels():
    X = np.arange(100, dtype=np.float64)[:, None]
    y = np.array([0] * 90 + [1] * 10, dtype=np.int64)
    _, _, y_train, y_test = train_test_split(X, y, test_fraction=0.2, seed=0)
    assert np.bincount(y_test).tolist() == [18, 2]
    assert np.bincount(y_train).tolist() == [72, 8]


def test_split_accepts_regression_targets():
    X, _ = rows(50)
    y = np.linspace(0.0, 1.0, 50).reshape(50, 1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.2, seed=0)
    assert y_test.shape == (10, 1) and y_train.shape == (40, 1)
    np.testing.assert_allclose(y_train[:, 0], X_train[:, 0] / 49)


def test_zero_test_fraction_gives_an_empty_test_set():
    X_train, X_test, y_train, y_test = train_test_split(*rows(10), test_fraction=0.0, seed=0)
    assert X_train.shape == (10, 2)
    assert X_test.shape == (0, 2) and y_test.shape == (0,)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_test_fraction_outside_zero_to_one_is_a_user_error(fraction):
    user_error(train_test_split, *rows(10), test_fraction=fraction, seed=0)


# ----------------------------------------------------------------------------- standardize


def test_standardize_uses_training_statistics_only():
    X_train = np.array([[1.0, 10.0], [3.0, 30.0]])
    X_test = np.array([[5.0, 100.0]])
    train_std, test_std, mean, std = standardize(X_train, X_test)
    np.testing.assert_allclose(mean, [2.0, 20.0])
    np.testing.assert_allclose(std, [1.0, 10.0])
    np.testing.assert_allclose(train_std, [[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(test_std, [[3.0, 8.0]])


def test_standardize_leaves_constant_columns_at_std_one():
    X_train = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 3.0]])
    X_test = np.array([[0.3, 2.0]])
    train_std, test_std, mean, std = standardize(X_train, X_test)
    assert std[0] == 1.0
    assert np.isfinite(train_std).all() and np.isfinite(test_std).all()
    np.testing.assert_allclose(train_std[:, 0], 0.0, atol=1e-15)
    np.testing.assert_allclose(test_std[0, 0], 0.2)


def test_standardize_does_not_modify_its_inputs():
    X_train, X_test = np.array([[1.0], [3.0]]), np.array([[2.0]])
    standardize(X_train, X_test)
    np.testing.assert_array_equal(X_train, [[1.0], [3.0]])
    np.testing.assert_array_equal(X_test, [[2.0]])


def test_standardize_accepts_an_empty_test_set():
    train_std, test_std, _, _ = standardize(np.array([[1.0], [3.0]]), np.empty((0, 1)))
    assert test_std.shape == (0, 1)
    np.testing.assert_allclose(train_std[:, 0], [-1.0, 1.0])
