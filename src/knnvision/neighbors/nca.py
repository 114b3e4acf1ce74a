"""Neighbourhood components analysis: a linear map learned so that a stochastic nearest
neighbour rule classifies the training samples well."""

from __future__ import annotations

import numbers
import sys
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..io import register_saveable
from ..transforms.pca import PCA

INITS = ("auto", "pca", "lda", "identity", "random")


@register_saveable
class NeighborhoodComponentsAnalysis(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Learn a linear transformation that maximises leave-one-out stochastic k-NN accuracy.

    Each training sample ``i`` picks a neighbour ``j`` with probability proportional to
    ``exp(-||L x_i - L x_j||^2)`` (never itself); the transformation ``L`` maximises the
    expected number of samples whose pick has their own class (Goldberger et al., 2004). The
    objective and its gradient are optimised by L-BFGS-B (``scipy.optimize.minimize``), as in
    scikit-learn, whose estimator this one matches to the optimiser's tolerance from the same
    initialisation. Memory and time grow with ``n_samples ** 2`` per iteration.

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the projected space; ``None`` keeps ``n_features``.
    init : {"auto", "pca", "lda", "identity", "random"} or ndarray of shape \
(n_components, n_features), default="auto"
        Starting transformation. ``"auto"``: ``"lda"`` when ``n_components`` is at most
        ``min(n_features, n_classes - 1)``, else ``"pca"`` when it is below
        ``min(n_features, n_samples)``, else ``"identity"``. ``"pca"`` uses knnvision's
        :class:`~knnvision.transforms.pca.PCA` (full SVD); ``"lda"`` scikit-learn's
        ``LinearDiscriminantAnalysis``; ``"random"`` a standard normal matrix.
    warm_start : bool, default=False
        Start a new ``fit`` from the transformation of the previous one.
    max_iter : int, default=50
        Most optimiser iterations.
    tol : float, default=1e-5
        Convergence tolerance of the optimiser.
    callback : callable, default=None
        Called after each iteration as ``callback(transformation, n_iter)``, with the
        flattened transformation.
    verbose : int, default=0
        0: silent. 1 or more: print the objective at each evaluation and the training time,
        and warn when the optimiser did not converge.
    random_state : int, RandomState instance or None, default=None
        Seed of the ``"random"`` initialisation.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned linear transformation.
    n_iter_ : int
        Iterations run, counted as scikit-learn counts them (one more than the optimiser's
        iterations).
    random_state_ : numpy.random.RandomState
        The random generator used, in its state after ``fit`` (a fresh generator in that
        state at each access, so that it is kept as plain data in model files).
    n_features_in_ : int
        Number of features seen at ``fit``.
    """

    def __init__(
        self,
        n_components=None,
        *,
        init="auto",
        warm_start=False,
        max_iter=50,
        tol=1e-5,
        callback=None,
        verbose=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.init = init
        self.warm_start = warm_start
        self.max_iter = max_iter
        self.tol = tol
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    # --- fitting -------------------------------------------------------------------------

    def fit(self, X, y):
        """Learn the transformation from samples ``X`` (n_samples, n_features) and labels ``y``.

        Returns
        -------
        self : NeighborhoodComponentsAnalysis
        """
        self._check_parameters()
        X, y = validate_data(self, X, y, ensure_min_samples=2, dtype=np.float64)
        check_classification_targets(y)
        _, labels = np.unique(y, return_inverse=True)
        self._check_dimensions(X)
        rng = check_random_state(self.random_state)
        started = time.time()
        same_class = labels[:, np.newaxis] == labels[np.newaxis, :]
        start = self._initial_transformation(X, labels, rng)
        self.n_iter_ = 0
        result = minimize(
            self._negative_objective,
            np.ravel(start),
            args=(X, same_class),
            method="L-BFGS-B",
            jac=True,
            tol=self.tol,
            options={"maxiter": self.max_iter},
            callback=self._after_iteration,
        )
        self.components_ = result.x.reshape(-1, X.shape[1])
        self._keep_random_state(rng)
        if self.verbose:
            if not result.success:
                warnings.warn(
                    f"[{type(self).__name__}] NCA did not converge: {result.message}",
                    ConvergenceWarning,
                    stacklevel=2,
                )
            print(f"[{type(self).__name__}] Training took {time.time() - started:8.2f}s.")
        return self

    def transform(self, X):
        """Project ``X`` with the learned transformation, shape (n_samples, n_components)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.components_.T

    # --- the objective -------------------------------------------------------------------

    def _negative_objective(self, flat_transformation, X, same_class):
        """Minus the expected number of correctly classified samples, and its gradient."""
        if self.n_iter_ == 0:  # counted as scikit-learn counts: the first evaluation is one
            self.n_iter_ = 1
            if self.verbose:
                print(f"[{type(self).__name__}] {'Iteration':>10} {'Objective Value':>20}")
        transformation = flat_transformation.reshape(-1, X.shape[1])
        embedded = X @ transformation.T
        neighbour_probabilities = _neighbour_probabilities(embedded)
        same_class_probabilities = neighbour_probabilities * same_class
        correct = same_class_probabilities.sum(axis=1, keepdims=True)  # p_i for each i
        objective = float(correct.sum())
        # d objective / d transformation = 2 L sum_ij w_ij (x_i - x_j)(x_i - x_j)^T with
        # w_ij = p_ij (1[same class] - p_i); the pair sum is X^T (W + W^T - diag) X, a
        # graph Laplacian of the symmetrised weights (rows of p_ij sum to 1, so w's do to 0).
        weights = same_class_probabilities - neighbour_probabilities * correct
        pair_weights = weights + weights.T
        np.fill_diagonal(pair_weights, -weights.sum(axis=0))
        gradient = 2.0 * (embedded.T @ pair_weights) @ X
        if self.verbose:
            print(f"[{type(self).__name__}] {self.n_iter_:>10} {objective:>20.6e}")
            sys.stdout.flush()
        return -objective, -gradient.ravel()

    def _after_iteration(self, flat_transformation):
        if self.callback is not None:
            self.callback(flat_transformation, self.n_iter_)
        self.n_iter_ += 1

    # --- initialisation ------------------------------------------------------------------

    def _initial_transformation(self, X, labels, rng) -> np.ndarray:
        if self.warm_start and hasattr(self, "components_"):
            return self.components_
        if isinstance(self.init, np.ndarray):
            return check_array(self.init)
        n_samples, n_features = X.shape
        n_components = self.n_components or n_features
        init = self.init
        if init == "auto":
            n_classes = labels.max() + 1
            if n_components <= min(n_features, n_classes - 1):
                init = "lda"
            elif n_components < min(n_features, n_samples):
                init = "pca"
            else:
                init = "identity"
        if init == "identity":
            return np.eye(n_components, n_features)
        if init == "random":
            return rng.standard_normal(size=(n_components, n_features))
        if init == "pca":
            return PCA(n_components=n_components, svd_solver="full").fit(X).components_
        # LDA's discriminant directions: the scalings, best first.
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: PLC0415

        lda = LinearDiscriminantAnalysis(n_components=n_components).fit(X, labels)
        return lda.scalings_.T[:n_components]

    # --- checks --------------------------------------------------------------------------

    def _check_parameters(self) -> None:
        _check_integer("n_components", self.n_components, allow_none=True)
        _check_integer("max_iter", self.max_iter)
        if (
            isinstance(self.tol, bool)
            or not isinstance(self.tol, numbers.Real)
            or not float(self.tol) >= 0  # numbers.Real promises __float__, not >=
        ):
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}.")
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be a callable or None, got {self.callback!r}.")
        if not isinstance(self.init, np.ndarray) and (
            not isinstance(self.init, str) or self.init not in INITS
        ):
            raise ValueError(
                f"init must be one of {', '.join(INITS)} or an array of shape "
                f"(n_components, n_features), got {self.init!r}."
            )

    def _check_dimensions(self, X) -> None:
        n_features = X.shape[1]
        if self.n_components is not None and self.n_components > n_features:
            raise ValueError(
                f"n_components ({self.n_components}) cannot be greater than the number of "
                f"features of X ({n_features})."
            )
        if (
            self.warm_start
            and hasattr(self, "components_")
            and self.components_.shape[1] != n_features
        ):
            raise ValueError(
                f"warm_start: X has {n_features} features but the previous transformation "
                f"takes {self.components_.shape[1]}; fit with warm_start=False."
            )
        if isinstance(self.init, np.ndarray):
            init = check_array(self.init)
            if init.shape[1] != n_features:
                raise ValueError(
                    f"init has {init.shape[1]} columns but X has {n_features} features; "
                    f"they must match."
                )
            if init.shape[0] > init.shape[1]:
                raise ValueError(
                    f"init has more rows ({init.shape[0]}) than columns ({init.shape[1]}); a "
                    f"transformation cannot raise the dimension."
                )
            if self.n_components is not None and self.n_components != init.shape[0]:
                raise ValueError(
                    f"n_components ({self.n_components}) does not match the {init.shape[0]} "
                    f"rows of init."
                )

    # --- the random generator as plain data ----------------------------------------------

    def _keep_random_state(self, rng: np.random.RandomState) -> None:
        _, keys, position, has_gauss, cached_gaussian = rng.get_state(legacy=True)
        self._random_keys = np.asarray(keys, dtype=np.uint32)
        self._random_position = int(position)
        self._random_gauss = (int(has_gauss), float(cached_gaussian))

    @property
    def random_state_(self) -> np.random.RandomState:
        if not hasattr(self, "_random_keys"):
            raise AttributeError("random_state_ is set by fit.")
        generator = np.random.RandomState()
        has_gauss, cached_gaussian = self._random_gauss
        generator.set_state(
            ("MT19937", self._random_keys, self._random_position, has_gauss, cached_gaussian)
        )
        return generator

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _neighbour_probabilities(embedded: np.ndarray) -> np.ndarray:
    """``p_ij``: softmax over ``j != i`` of minus the squared distances of embedded rows."""
    squared_norms = np.einsum("ij,ij->i", embedded, embedded)
    # The norm expansion: an (n_samples, n_samples) product rather than pairwise differences
    # of shape (n_samples, n_samples, n_components); clipped, as rounding can go below 0.
    squared = squared_norms[:, None] - 2.0 * (embedded @ embedded.T) + squared_norms[None, :]
    np.maximum(squared, 0.0, out=squared)
    np.fill_diagonal(squared, np.inf)  # a sample never picks itself
    logits = -squared
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _check_integer(name: str, value, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        allowed = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"{name} must be {allowed}, got {value!r}.")
