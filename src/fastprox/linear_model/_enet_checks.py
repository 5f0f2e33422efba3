"""Checks and messages the elastic-net estimators and paths share with scikit-learn.

The installed scikit-learn's version decides the deprecations followed
(``n_alphas`` → ``alphas=int``), and its messages are reused verbatim so a
drop-in raises and warns as scikit-learn does: non-finite results, ``alpha=0``,
a user Gram matrix, the entries of an explicit ``alphas`` grid.
"""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.utils import check_scalar
from sklearn.utils.fixes import parse_version

__all__ = ["SKLEARN_VERSION", "CV_N_ALPHAS_DEPRECATED", "PATH_N_ALPHAS_DEPRECATED",
           "warn_alpha_zero", "check_finite_fit", "check_alphas", "check_coef_init",
           "warm_start_coef", "user_gram_needs_sklearn", "cv_n_alphas_warning", "grid_size"]

SKLEARN_VERSION = parse_version(parse_version(sklearn.__version__).base_version)
#: LassoCV / ElasticNetCV: ``alphas`` takes the grid size, ``n_alphas`` deprecated (1.7)
CV_N_ALPHAS_DEPRECATED = SKLEARN_VERSION >= parse_version("1.7")
#: lasso_path / enet_path: the same deprecation, and ``alphas=None`` deprecated (1.9)
PATH_N_ALPHAS_DEPRECATED = SKLEARN_VERSION >= parse_version("1.9")

_DTYPE_MAX = {np.dtype(t): float(np.finfo(t).max) for t in (np.float32, np.float64)}
_NONFINITE = ("Coordinate descent iterations resulted in non-finite parameter values. The "
              "input data may contain large values and need to be preprocessed.")


def warn_alpha_zero():
    """scikit-learn's ``UserWarning`` for ``alpha=0`` (ordinary least squares)."""
    warnings.warn("With alpha=0, this algorithm does not converge well. You are advised to "
                  "use the LinearRegression estimator", UserWarning, stacklevel=3)


def check_finite_fit(coef, intercept, col_sum=0.0, dtype=np.float64):
    """Raise scikit-learn's ``ValueError`` when a fitted parameter is not finite.

    Parameters
    ----------
    coef, intercept : ndarray
    col_sum : float, default=0.0
        The largest absolute column sum of ``X`` when it is centred:
        scikit-learn's centring sums the columns in ``dtype``, and a sum that
        overflows leaves it with non-finite coefficients.
    dtype : dtype, default=float64

    Raises
    ------
    ValueError
        "Coordinate descent iterations resulted in non-finite parameter values..."
    """
    if not (col_sum <= _DTYPE_MAX.get(dtype, np.inf) and np.isfinite(coef).all()
            and np.isfinite(intercept).all()):
        raise ValueError(_NONFINITE)


def check_alphas(alphas):
    """Entries of an explicit grid: real, ``>= 0`` (scikit-learn's ``LassoCV`` check), not NaN.

    Raises
    ------
    TypeError
        "alphas[i] must be an instance of float, not str" (``check_scalar``).
    ValueError
        "alphas[i] == -1.0, must be >= 0.0." (``check_scalar``), or a NaN entry.
    """
    for i, a in enumerate(np.ravel(alphas) if isinstance(alphas, np.ndarray) else alphas):
        check_scalar(a, f"alphas[{i}]", target_type=Real, min_val=0.0,
                     include_boundaries="left")
        if np.isnan(a):
            raise ValueError(f"alphas[{i}] == nan, must be >= 0.0.")


def check_coef_init(coef_init, shape, dtype):
    """``coef_init`` as a contiguous array of ``shape``, or ``ValueError`` naming both shapes."""
    coef = np.array(coef_init, dtype=dtype)
    if coef.shape != tuple(shape):
        raise ValueError(f"coef_init has shape {coef.shape}; the path needs {tuple(shape)} "
                         "(one coefficient per feature of X)")
    return np.ascontiguousarray(coef)


def warm_start_coef(coef, n_targets, n_features, dtype):
    """The previous ``coef_`` as ``(n_targets, n_features)`` for a warm start.

    As scikit-learn: a previous fit with more targets seeds the first ones.

    Raises
    ------
    ValueError
        When the number of features changed, or the targets grew.
    """
    W = np.atleast_2d(np.asarray(coef))
    if W.shape[1] != n_features:
        raise ValueError(f"warm_start=True: the previous fit had {W.shape[1]} features, X has "
                         f"{n_features}; refit with warm_start=False")
    if W.shape[0] < n_targets:
        raise ValueError(f"warm_start=True: the previous fit had {W.shape[0]} target(s), y has "
                         f"{n_targets}; refit with warm_start=False")
    return np.array(W[:n_targets], dtype=dtype)


def user_gram_needs_sklearn(precompute, X, fit_intercept, sample_weight=None):
    """Whether a user Gram matrix is used by scikit-learn's fit (then its fit runs).

    As ``sklearn.linear_model._base._pre_fit``: sparse ``X`` ignores it; a Gram
    of uncentred ``X`` with ``fit_intercept`` is recomputed, with its
    ``UserWarning`` (fastprox's solver then runs: it needs no Gram);
    otherwise scikit-learn checks the Gram against ``X`` and solves with it.
    """
    if not hasattr(precompute, "__array__") or sp.issparse(X):
        return False
    if fit_intercept:
        sw = None if np.ndim(sample_weight) == 0 else sample_weight
        if not np.allclose(np.average(X, axis=0, weights=sw), 0.0):
            warnings.warn("Gram matrix was provided but X was centered to fit intercept: "
                          "recomputing Gram matrix.", UserWarning, stacklevel=3)
            return False
    return True


def cv_n_alphas_warning(n_alphas):
    """The installed scikit-learn's ``FutureWarning`` for ``LassoCV(n_alphas=...)``."""
    if CV_N_ALPHAS_DEPRECATED and not isinstance(n_alphas, str):
        warnings.warn("'n_alphas' was deprecated in scikit-learn 1.7 (removed in 1.9). "
                      "'alphas' now accepts an integer value which removes the need to pass "
                      "'n_alphas'. Pass the number of alphas as 'alphas' to silence this "
                      "warning.", FutureWarning, stacklevel=3)


def grid_size(n_alphas, alphas, default=100):
    """The automatic grid's size from ``n_alphas`` / ``alphas``, or None for an explicit grid."""
    if isinstance(alphas, Integral) and not isinstance(alphas, bool):
        return int(alphas)
    if alphas is None or isinstance(alphas, str):
        return default if isinstance(n_alphas, str) else int(n_alphas)
    return None
