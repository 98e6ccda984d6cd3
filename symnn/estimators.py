"""scikit-learn estimators: symnn's networks behind MLPClassifier's and MLPRegressor's parameter names.

`SymnnClassifier` and `SymnnRegressor` build a `Sequential` of Dense layers (the hidden sizes, then
the outputs) with one activation between them, and train it with `Sequential.fit`, so the compiled
training loop does the work. They pass scikit-learn's own `check_estimator`, fit in a `Pipeline`,
search in `GridSearchCV`, pickle, and give the same model for the same `random_state`.

Where MLPClassifier's parameters mean the same thing they keep its names and defaults:
`hidden_layer_sizes`, `activation` ('identity', 'logistic', 'tanh', 'relu', or any symnn activation
or formula in x), `solver` (a symnn optimizer: 'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop',
'adam', 'adamw'; 'sgd' uses `momentum` and `nesterovs_momentum` as MLPClassifier's does),
`learning_rate_init`, `batch_size` ('auto' = min(200, n_samples)), `max_iter` (epochs), `shuffle`,
`random_state`, `tol` and `n_iter_no_change` (stop when the training loss has not improved by `tol`
for that many epochs), `beta_1`, `beta_2`, `epsilon`, `momentum`, `nesterovs_momentum`, `verbose`.
Two differ, and say so: `alpha` is the optimizer's `weight_decay` (PyTorch's L2 term added to every
parameter's gradient, biases included), not MLPClassifier's penalty divided by the number of samples;
`learning_rate` is a symnn schedule ('constant', 'step', 'exponential', 'cosine'), not
MLPClassifier's 'invscaling'/'adaptive'. symnn's own: `loss` (None: cross-entropy for classes,
MSE for regression; a parameterised one as 'huber:delta=2'), `init` and `dtype`. A parameterised
activation is spelled the same way: `activation='leaky_relu:slope=0.2'`, 'gelu_tanh'. 'lbfgs' is
not offered: symnn trains by mini-batch gradients.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(est, X="no_validation", y="no_validation", reset=True, **kw):
        return est._validate_data(X, y, reset=reset, **kw)

#: scikit-learn's activation names that symnn spells differently.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}
#: The optimizers `solver` may name (symnn's command-line names).
SOLVERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
#: The schedules `learning_rate` may name.
LEARNING_RATES = ("constant", "step", "exponential", "cosine")


class _SymnnMLP(BaseEstimator):
    """The parameters, validation and training shared by the classifier and the regressor."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, momentum=0.9,
                 nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 loss=None, init="auto", dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.loss = loss
        self.init = init
        self.dtype = dtype

    # --- what the subclasses say -------------------------------------------------------------
    def _default_loss(self, n_targets: int) -> str:
        raise NotImplementedError

    # --- building ------------------------------------------------------------------------------
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else sizes
        if isinstance(sizes, str) or not hasattr(sizes, "__iter__") or any(
                isinstance(s, bool) or not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be a tuple of positive integers, got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _optimizer(self):
        from symnn.runtime import optimizers as o

        lr, wd = self.learning_rate_init, self.alpha
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not offered: symnn trains by mini-batch gradients; "
                             f"choose one of {', '.join(SOLVERS)}")
        if self.solver == "sgd":
            m = self.momentum
            return o.SGD(lr=lr, momentum=m, nesterov=bool(self.nesterovs_momentum and m > 0), weight_decay=wd)
        betas = (self.beta_1, self.beta_2)
        makers = {"momentum": lambda: o.SGD(lr=lr, momentum=0.9, weight_decay=wd),
                  "nesterov": lambda: o.SGD(lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
                  "adagrad": lambda: o.Adagrad(lr=lr, weight_decay=wd, eps=self.epsilon),
                  "rmsprop": lambda: o.RMSprop(lr=lr, weight_decay=wd, eps=self.epsilon),
                  "adam": lambda: o.Adam(lr=lr, betas=betas, eps=self.epsilon, weight_decay=wd),
                  "adamw": lambda: o.AdamW(lr=lr, betas=betas, eps=self.epsilon, weight_decay=wd)}
        if self.solver not in makers:
            raise ValueError(f"unknown solver {self.solver!r}; choose one of {', '.join(SOLVERS)}")
        return makers[self.solver]()

    def _build(self, n_in: int, n_out: int, loss: str, seed: int):
        from symnn.runtime.layers import Activation, Dense
        from symnn.runtime.model import Sequential

        activation = ACTIVATION_ALIASES.get(self.activation, self.activation)
        if not isinstance(activation, str):
            raise ValueError(f"activation must be a name or a formula in x, got {activation!r}")
        sizes = [n_in, *self._hidden_sizes(), n_out]
        layers: list = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers.append(Dense(a, b, init=self.init))
            if i < len(sizes) - 2:
                layers.append(Activation(activation))
        return Sequential(layers, loss=loss, dtype=self.dtype, seed=seed)

    def _batch_size(self, n: int) -> int:
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return max(1, min(200, n))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, Integral) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
        return int(min(self.batch_size, n))

    def _check_iterations(self) -> None:
        for name in ("max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(f"learning_rate must be one of {', '.join(LEARNING_RATES)} (a symnn schedule), "
                             f"got {self.learning_rate!r}")

    # --- training --------------------------------------------------------------------------------
    def _train(self, X: np.ndarray, T: np.ndarray, n_out: int, loss: str):
        """Fit a fresh network on validated X and prepared targets T; sets the fitted attributes."""
        from symnn.errors import UserInputError
        from symnn.runtime.schedules import make_schedule

        self._check_iterations()
        rng = check_random_state(self.random_state)
        init_seed, shuffle_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        try:
            model = self._build(X.shape[1], n_out, loss, init_seed)
            optimizer = self._optimizer()
            schedule = make_schedule(self.learning_rate, optimizer.lr, int(self.max_iter))
        except UserInputError as exc:
            raise ValueError(str(exc)) from None
        batch = self._batch_size(X.shape[0])
        best, stale, curve = np.inf, 0, []
        for epoch in range(int(self.max_iter)):
            optimizer.lr = schedule.lr(epoch)
            history = model.fit(X, T, optimizer=optimizer, epochs=1, batch_size=batch, shuffle=bool(self.shuffle),
                                seed=shuffle_seed + epoch, verbose=False)
            value = float(history["loss"][-1])
            curve.append(value)
            if self.verbose:
                print(f"Iteration {epoch + 1}, loss = {value:.8f}")
            if not np.isfinite(value):
                raise ValueError(f"the training loss became {value} at epoch {epoch + 1}; lower "
                                 "learning_rate_init or standardise the inputs (StandardScaler)")
            stale = 0 if value < best - self.tol else stale + 1
            best = min(best, value)
            if stale >= self.n_iter_no_change:
                break
        else:
            warnings.warn(f"{type(self).__name__}: max_iter={self.max_iter} epochs reached and the training "
                          "loss has not stopped improving; raise max_iter", ConvergenceWarning, stacklevel=3)
        self.model_ = model
        self.loss_ = curve[-1]
        self.best_loss_ = best
        self.loss_curve_ = curve
        self.n_iter_ = len(curve)
        self.n_layers_ = len(self._hidden_sizes()) + 2
        self.n_outputs_ = n_out
        self.out_activation_ = {"binary_cross_entropy": "logistic", "cross_entropy": "softmax"}.get(
            model.loss_fn.name, "identity")
        self.coefs_ = [layer.W.T.copy() for layer in model.layers if hasattr(layer, "W")]
        self.intercepts_ = [layer.b.copy() for layer in model.layers if hasattr(layer, "b")]
        return self

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = _validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.model_.forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": self.random_state is None}


class SymnnClassifier(ClassifierMixin, _SymnnMLP):
    """A symnn network as a scikit-learn classifier (MLPClassifier's parameter names).

    Two classes: one output and binary cross-entropy on its logit; more: one output per class and
    cross-entropy (softmax). `predict_proba` gives the probabilities, `classes_` the labels.
    """

    def fit(self, X, y):
        """Train a fresh network on X (n_samples, n_features) and labels y (n_samples,)."""
        X, y = _validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=False)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                             f"but the data contain only one class: {self.classes_[0]!r}")
        loss = self.loss or ("binary_cross_entropy" if k == 2 else "cross_entropy")
        n_out = 1 if k == 2 and loss in ("binary_cross_entropy", "hinge") else k
        return self._train(X, codes.astype(np.int64), n_out, loss)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes), columns in the order of `classes_`."""
        z = self._outputs(X)
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -500, 500)))
            return np.column_stack([1.0 - p, p])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as labels from `classes_`."""
        z = self._outputs(X)
        codes = (z[:, 0] > 0).astype(np.int64) if z.shape[1] == 1 else np.argmax(z, axis=1)
        return self.classes_[codes]


class SymnnRegressor(RegressorMixin, _SymnnMLP):
    """A symnn network as a scikit-learn regressor (MLPRegressor's parameter names); loss MSE by default.

    y may be (n_samples,) or (n_samples, n_targets): one output per target.
    """

    def fit(self, X, y):
        """Train a fresh network on X (n_samples, n_features) and targets y."""
        X, y = _validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True)
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        return self._train(X, np.ascontiguousarray(Y, dtype=np.float64), Y.shape[1], self.loss or "mse")

    def predict(self, X) -> np.ndarray:
        """Predictions, (n_samples,) for a 1-D y, else (n_samples, n_targets)."""
        z = self._outputs(X).astype(np.float64, copy=False)
        return z[:, 0] if self._y_1d else z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multioutput": True}


__all__ = ["SymnnClassifier", "SymnnRegressor"]
