"""SymnnClassifier and SymnnRegressor are scikit-learn estimators: check_estimator, Pipeline, GridSearchCV,
pickle, determinism, MLPClassifier's parameter names."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_digits, make_blobs, make_moons, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import symnn  # noqa: E402
from symnn.estimators import SymnnClassifier, SymnnRegressor  # noqa: E402

#: check_estimator's checks that we mark expected-failed, with why (none today).
EXPECTED_FAILED: dict[str, str] = {}


def _small(est):
    """Settings that keep check_estimator's dozens of fits quick."""
    return est.set_params(hidden_layer_sizes=(16,), max_iter=100, random_state=0, learning_rate_init=0.01)


@pytest.mark.parametrize("estimator", [SymnnClassifier(), SymnnRegressor()], ids=lambda e: type(e).__name__)
def test_passes_scikit_learns_check_estimator(estimator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        kwargs = {"expected_failed_checks": EXPECTED_FAILED} if "expected_failed_checks" in \
            check_estimator.__code__.co_varnames else {}
        check_estimator(_small(estimator), **kwargs)


def test_exported_from_symnn() -> None:
    assert symnn.SymnnClassifier is SymnnClassifier and symnn.SymnnRegressor is SymnnRegressor


def test_mlp_parameter_names_and_defaults() -> None:
    from sklearn.neural_network import MLPClassifier

    ours, theirs = SymnnClassifier().get_params(), MLPClassifier().get_params()
    shared = ("hidden_layer_sizes", "activation", "solver", "alpha", "batch_size", "learning_rate_init", "max_iter",
              "shuffle", "random_state", "tol", "momentum", "nesterovs_momentum", "beta_1", "beta_2", "epsilon",
              "n_iter_no_change", "verbose")
    for name in shared:
        assert ours[name] == theirs[name], name


def test_classifier_in_a_pipeline_on_digits() -> None:
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), SymnnClassifier(hidden_layer_sizes=(32,), max_iter=40, learning_rate_init=0.005,
                                                          random_state=0))
    pipe.fit(Xtr, ytr)
    assert pipe.score(Xte, yte) > 0.93
    proba = pipe.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(pipe.classes_, np.arange(10))


def test_binary_labels_of_any_kind_and_probabilities() -> None:
    X, y = make_moons(200, noise=0.1, random_state=0)
    labels = np.array(["cat", "dog"])[y]
    clf = SymnnClassifier(hidden_layer_sizes=(16, 16), max_iter=150, learning_rate_init=0.01, random_state=0)
    clf.fit(X, labels)
    assert set(clf.predict(X)) <= {"cat", "dog"}
    assert clf.score(X, labels) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 2)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_grid_search_over_activation_and_alpha() -> None:
    X, y = make_blobs(150, centers=3, random_state=0)
    grid = GridSearchCV(SymnnClassifier(hidden_layer_sizes=(8,), max_iter=40, batch_size=16, learning_rate_init=0.02,
                                        random_state=0),
                        {"activation": ["relu", "tanh"], "alpha": [1e-4, 1e-2]}, cv=3)
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4 and set(grid.best_params_) == {"activation", "alpha"}
    assert grid.best_score_ > 0.85


def test_same_random_state_same_model_and_pickle_round_trip() -> None:
    X, y = make_regression(120, 4, noise=0.1, random_state=1)
    y = y / y.std()
    a = SymnnRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=3).fit(X, y)
    b = SymnnRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=3).fit(X, y)
    c = SymnnRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(X), c.predict(X))
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(again.predict(X), a.predict(X))
    assert a.predict(X).shape == (120,)
    assert a.n_iter_ == len(a.loss_curve_) <= 30


def test_regressor_multi_output() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5], X[:, 0] * 0.3])
    reg = SymnnRegressor(hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.95


def test_alpha_is_weight_decay_and_solver_names_choose_the_optimizer() -> None:
    X, y = make_blobs(60, centers=2, random_state=0)
    clf = SymnnClassifier(hidden_layer_sizes=(4,), max_iter=2, alpha=0.5, solver="rmsprop", random_state=0)
    assert isinstance(clf._optimizer(), symnn.RMSprop) and clf._optimizer().weight_decay == 0.5
    sgd = SymnnClassifier(solver="sgd", momentum=0.8)._optimizer()
    assert (sgd.momentum, sgd.nesterov) == (0.8, True)
    clf.fit(X, y)
    assert clf.coefs_[0].shape == (2, 4) and clf.intercepts_[1].shape == (1,)


@pytest.mark.parametrize("params, message", [
    ({"solver": "lbfgs"}, "lbfgs"),
    ({"solver": "nosuch"}, "choose one of"),
    ({"activation": "nosuch"}, "nosuch"),
    ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
    ({"max_iter": 0}, "max_iter"),
    ({"learning_rate": "invscaling"}, "learning_rate"),
])
def test_bad_parameters_are_value_errors_that_say_what_to_do(params, message) -> None:
    X, y = make_blobs(30, centers=2, random_state=0)
    with pytest.raises(ValueError, match=message):
        SymnnClassifier(**{"max_iter": 2, **params}).fit(X, y)


def test_stops_early_when_the_loss_stops_improving() -> None:
    X, y = make_blobs(100, centers=2, random_state=0, cluster_std=0.3)
    clf = SymnnClassifier(hidden_layer_sizes=(4,), max_iter=500, tol=1e-2, n_iter_no_change=3,
                          learning_rate_init=0.05, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500


def test_warns_when_max_iter_is_reached_while_improving() -> None:
    X, y = make_blobs(100, centers=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        SymnnClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
