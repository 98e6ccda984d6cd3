"""Digits with symnn's scikit-learn estimator in a Pipeline, and a small grid search.

Run:  python examples/digits_pipeline.py
"""

from __future__ import annotations

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import symnn


def main() -> None:
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # few epochs on purpose
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), symnn.SymnnClassifier(hidden_layer_sizes=(64,), max_iter=40,
                                                                 learning_rate_init=0.005, random_state=0))
    pipe.fit(X_train, y_train)
    print(f"pipeline test accuracy {100 * pipe.score(X_test, y_test):.1f}%")
    grid = GridSearchCV(pipe.set_params(symnnclassifier__max_iter=15),
                        {"symnnclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    grid.fit(X_train, y_train)
    print(f"grid search best {grid.best_params_}, cross-validated accuracy {100 * grid.best_score_:.1f}%")
    print(f"grid search test accuracy {100 * grid.score(X_test, y_test):.1f}%")


if __name__ == "__main__":
    main()
