"""Principal component analysis, written on NumPy's LAPACK bindings.

:class:`PCA` projects rows onto the directions of largest variance of the training rows.
Before a k-nearest-neighbours search it shrinks 784 pixels to a few dozen numbers, which
makes every distance cheaper and lets the tree backends work.

Three routes give the same components (to float tolerance):

``"full"``
    SVD of the centred data. The most accurate; cost grows with ``n_samples * n_features**2``
    and it needs a second ``n_samples x n_features`` array.
``"covariance_eigh"``
    Eigen-decomposition of the ``n_features x n_features`` covariance matrix, accumulated
    over blocks of rows. One matrix product over the data, then a small ``eigh``; it squares
    the condition number, so the smallest components are less accurate than with ``"full"``.
``"randomized"``
    A randomized range finder with power iterations (Halko, Martinsson and Tropp, 2011) for
    a few leading components of a large matrix. Approximate, but close for the leading ones.

``"auto"`` (the default) picks by measurements on MNIST training images (uint8 pixels, two
cores shared with other jobs, best of 2; ``python benchmarks/pca.py``, whose last run is
``benchmarks/pca.md``):

=============  =============  ================  ============  ========
rows x pixels  n_components   covariance_eigh   randomized    full
=============  =============  ================  ============  ========
60,000 x 784   10             3.50 s            5.84 s        13.2 s
60,000 x 784   50             1.70 s            6.73 s        7.85 s
60,000 x 784   all (784)      2.18 s            --            11.8 s
6,000 x 784    10             0.27 s            0.26 s        0.80 s
6,000 x 784    50             0.29 s            0.63 s        0.79 s
800 x 784      10             0.07 s            0.02 s        0.19 s
800 x 784      50             0.08 s            0.04 s        0.19 s
=============  =============  ================  ============  ========

The load of other jobs makes single figures noisy (over the last two runs the covariance
route took 0.56 to 3.5 s on all 60,000 images, the full SVD 7.4 to 13 s), but the order held:
on tall data the covariance route is the fastest (or ties), several times faster than the full
SVD; near one row per column the randomized route wins for a few components. So ``"auto"`` uses
the covariance route for at least 5 rows per column (and at most 1,000 columns, as the
eigen-decomposition is cubic in the columns); else the randomized route when a small
integer ``n_components`` (below 10% of the smaller dimension) is asked of more than 500,000
values; else the covariance route if there are at least as many rows as columns, and the full
SVD for wide data.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from ..io import register_saveable

SVD_SOLVERS = ("auto", "full", "covariance_eigh", "randomized")
_INPUT_DTYPES = [np.float64, np.float32, np.uint8]

# Rows per block when accumulating the covariance matrix: bounds the centred copy to
# about 8,192 x n_features float64 values (50 MB for MNIST's 784 pixels).
_COVARIANCE_BLOCK_ROWS = 8192


@register_saveable
class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis: project rows onto the directions of largest variance.

    Parameters
    ----------
    n_components : int, float or None, default=None
        How many components to keep. An integer keeps that many (at most
        ``min(n_samples, n_features)``); a float strictly between 0 and 1 keeps the fewest
        components whose explained variance ratio adds up to more than that fraction;
        ``None`` keeps ``min(n_samples, n_features)``.
    whiten : bool, default=False
        Divide each projected component by its standard deviation, so every output column
        has unit variance on the training data.
    svd_solver : {"auto", "full", "covariance_eigh", "randomized"}, default="auto"
        How to compute the components; see the module notes for the measured trade-offs.
        ``"auto"`` uses the covariance route for tall data (at least 5 rows per column, at
        most 1,000 columns), the randomized route for a few components of other large data,
        the covariance route again for the rest with at least as many rows as columns, and
        the full SVD for wide data.
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized route: ``"auto"`` is 7 when fewer than 10% of
        the components are kept, else 4.
    n_oversamples : int, default=10
        Extra random directions the randomized route samples beyond ``n_components``.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the randomized route; the other routes are deterministic.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Unit directions of largest variance, largest first. The sign of each is fixed so
        that its entry of largest absolute value is positive (scikit-learn's convention).
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the training data along each component (with ``n_samples - 1``).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Each component's share of the total variance.
    singular_values_ : ndarray of shape (n_components_,)
        Singular values of the centred training data.
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data, subtracted before projecting.
    n_components_ : int
        Number of components kept.
    noise_variance_ : float
        Mean variance of the discarded directions (0 when none are discarded).
    n_samples_ : int
        Number of training rows.
    n_features_in_ : int
        Number of features seen at ``fit``.
    svd_solver_ : str
        The route actually used.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from knnvision import PCA, KNNClassifier
    >>> model = make_pipeline(PCA(n_components=0.9), KNNClassifier(n_neighbors=5))
    """

    def __init__(
        self,
        n_components=None,
        *,
        whiten=False,
        svd_solver="auto",
        iterated_power="auto",
        n_oversamples=10,
        random_state=None,
    ):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.random_state = random_state

    # --- fitting -------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Find the principal components of ``X`` (n_samples, n_features); ``y`` is ignored."""
        # uint8 and float32 rows are converted to float64 only where needed (block by block
        # on the covariance route), never kept as a second full copy.
        X = validate_data(self, X, dtype=_INPUT_DTYPES, ensure_min_samples=2)
        n_samples, n_features = X.shape
        solver = self._choose_solver(n_samples, n_features)
        mean = X.mean(axis=0, dtype=np.float64)
        if solver != "covariance_eigh":
            X = X.astype(np.float64, copy=False)
        if solver == "full":
            singular_values, components = _full_svd(X, mean)
            total_variance = None
        elif solver == "covariance_eigh":
            singular_values, components = _covariance_eigh(X, mean)
            total_variance = None
        else:
            n_kept = self._check_n_components(n_samples, n_features)
            singular_values, components = _randomized_svd(
                X,
                mean,
                n_kept,
                self._power_iterations(n_kept, n_samples, n_features),
                self.n_oversamples,
                self.random_state,
            )
            total_variance = float(X.var(axis=0, ddof=1).sum())
        self._store(singular_values, _fix_signs(components), mean, n_samples, total_variance)
        self.svd_solver_ = solver
        return self

    def _choose_solver(self, n_samples: int, n_features: int) -> str:
        if self.svd_solver not in SVD_SOLVERS:
            raise ValueError(
                f"svd_solver must be one of {', '.join(SVD_SOLVERS)}; got {self.svd_solver!r}."
            )
        n_kept = self._check_n_components(n_samples, n_features)
        if self.svd_solver == "randomized" and not _is_count(self.n_components):
            raise ValueError(
                "svd_solver='randomized' needs an integer n_components (a variance fraction "
                "or None needs every component); use svd_solver='full' or 'auto'."
            )
        if self.svd_solver != "auto":
            return self.svd_solver
        # Thresholds from the measurements in the module notes.
        small_covariance = n_features <= 1000
        if small_covariance and n_samples >= 5 * n_features:
            return "covariance_eigh"
        few = _is_count(self.n_components) and n_kept < 0.1 * min(n_samples, n_features)
        if few and n_samples * n_features > 500_000:
            return "randomized"
        return "covariance_eigh" if small_covariance and n_samples >= n_features else "full"

    def _check_n_components(self, n_samples: int, n_features: int) -> int:
        """The number of components asked for, or the most possible for a fraction."""
        most = min(n_samples, n_features)
        value = self.n_components
        if value is None:
            return most
        if _is_count(value):
            if not 1 <= value <= most:
                raise ValueError(
                    f"n_components={value} must be between 1 and min(n_samples, n_features)"
                    f" = {most}; ask for fewer components or pass more data."
                )
            return int(value)
        # numbers.Real promises __float__ and __lt__, not the reflected __gt__ of "0 < value".
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < float(value) < 1:
            return most
        raise ValueError(
            f"n_components must be None, a positive integer, or a fraction of variance "
            f"strictly between 0 and 1; got {value!r}."
        )

    def _power_iterations(self, n_kept: int, n_samples: int, n_features: int) -> int:
        if self.iterated_power == "auto":
            return 7 if n_kept < 0.1 * min(n_samples, n_features) else 4
        if not _is_count(self.iterated_power) or self.iterated_power < 0:
            raise ValueError(
                f"iterated_power must be 'auto' or a non-negative integer; "
                f"got {self.iterated_power!r}."
            )
        return int(self.iterated_power)

    def _store(self, singular_values, components, mean, n_samples, total_variance) -> None:
        """Keep the components asked for and the variances that describe them."""
        variances = singular_values**2 / (n_samples - 1)
        if total_variance is None:  # every direction was computed
            total_variance = float(variances.sum())
        ratios = variances / total_variance if total_variance > 0 else np.zeros_like(variances)
        n_kept = self._n_kept(ratios, n_samples, components.shape[1])
        most = min(n_samples, components.shape[1])
        discarded = total_variance - float(variances[:n_kept].sum())
        self.noise_variance_ = max(discarded, 0.0) / (most - n_kept) if n_kept < most else 0.0
        self.components_ = components[:n_kept]
        self.explained_variance_ = variances[:n_kept]
        self.explained_variance_ratio_ = ratios[:n_kept]
        self.singular_values_ = singular_values[:n_kept]
        self.mean_ = mean
        self.n_components_ = int(n_kept)
        self.n_samples_ = int(n_samples)

    def _n_kept(self, ratios: np.ndarray, n_samples: int, n_features: int) -> int:
        value = self.n_components
        if value is None or _is_count(value):
            return min(n_samples, n_features) if value is None else int(value)
        # The fewest components whose cumulated ratio exceeds the fraction (as scikit-learn).
        cumulated = np.cumsum(ratios)
        return int(min(np.searchsorted(cumulated, value, side="right") + 1, len(ratios)))

    # --- using ---------------------------------------------------------------------------

    def transform(self, X):
        """Project ``X`` onto the components: shape (n_samples, n_components_)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_INPUT_DTYPES, reset=False)
        projected = (X - self.mean_) @ self.components_.T
        if self.whiten:
            projected /= self._whitening_scale()
        return projected

    def inverse_transform(self, X):
        """Map projected rows back to the original feature space (the nearest point of the
        component subspace to each original row)."""
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_components_:
            raise ValueError(
                f"inverse_transform expects rows of {self.n_components_} components; "
                f"got an array of shape {X.shape}."
            )
        if self.whiten:
            X = X * self._whitening_scale()
        return X @ self.components_ + self.mean_

    def _whitening_scale(self) -> np.ndarray:
        # A direction with no variance is left unscaled rather than divided by zero.
        scale = np.sqrt(self.explained_variance_)
        return np.maximum(scale, np.finfo(np.float64).eps)

    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


def _is_count(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def _one_lapack_thread():
    """Run LAPACK factorisations (SVD, eigh, QR) on one thread.

    OpenBLAS splits them into many short parallel steps; on a busy two-core machine each step
    waits for a time slice, and the factorisation gets 4x (10,000 x 784 SVD: 10.4 s against
    2.4 s) to 700x (266 x 64 SVD: 820 ms against 1.2 ms) slower than on one thread (measured
    with other jobs running). Matrix products keep every thread: they parallelise in a few
    long steps.
    """
    return _threadpools().limit(limits=1, user_api="blas")


def _full_svd(X: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and right singular vectors of the centred data."""
    with _one_lapack_thread():
        _, singular_values, components = np.linalg.svd(X - mean, full_matrices=False)
    return singular_values, components


def _covariance_eigh(X: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same from the scatter matrix ``Xc.T @ Xc``, accumulated block by block so the
    centred copy never exceeds one block."""
    n_features = X.shape[1]
    scatter = np.zeros((n_features, n_features))
    for start in range(0, len(X), _COVARIANCE_BLOCK_ROWS):
        block = X[start : start + _COVARIANCE_BLOCK_ROWS] - mean  # float64 from here
        scatter += block.T @ block
    with _one_lapack_thread():
        eigenvalues, eigenvectors = np.linalg.eigh(scatter)
    order = np.argsort(eigenvalues)[::-1][: min(len(X), n_features)]
    # Rounding can leave tiny negative eigenvalues where the true value is 0.
    singular_values = np.sqrt(np.clip(eigenvalues[order], 0.0, None))
    return singular_values, eigenvectors[:, order].T


def _randomized_svd(X, mean, n_components, n_iterations, n_oversamples, random_state):
    """Leading singular values and right vectors of ``X - mean`` by a randomized range
    finder; the centring is applied implicitly, so no centred copy of ``X`` is made."""
    if not _is_count(n_oversamples) or n_oversamples < 0:
        raise ValueError(f"n_oversamples must be a non-negative integer; got {n_oversamples!r}.")
    rng = np.random.default_rng(random_state)
    n_samples, n_features = X.shape
    width = min(n_components + n_oversamples, n_samples, n_features)

    def times(matrix):  # (X - mean) @ matrix
        return X @ matrix - np.outer(np.ones(n_samples), mean @ matrix)

    def transposed_times(matrix):  # (X - mean).T @ matrix
        return X.T @ matrix - np.outer(mean, matrix.sum(axis=0))

    def orthonormal(matrix):
        with _one_lapack_thread():
            return np.linalg.qr(matrix)[0]

    basis = orthonormal(times(rng.standard_normal((n_features, width))))
    for _ in range(n_iterations):
        # Re-orthonormalise after each pass so the basis keeps its small directions.
        basis = orthonormal(times(orthonormal(transposed_times(basis))))
    small = transposed_times(basis).T
    with _one_lapack_thread():
        _, singular_values, small_components = np.linalg.svd(small, full_matrices=False)
    return singular_values[:n_components], small_components[:n_components]


def _fix_signs(components: np.ndarray) -> np.ndarray:
    """Flip each component so its entry of largest absolute value is positive."""
    largest = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), largest])
    signs[signs == 0] = 1.0
    return components * signs[:, None]
