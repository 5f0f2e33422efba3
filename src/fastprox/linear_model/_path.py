"""``enet_path`` / ``lasso_path``: warm-started working-set CD along a grid of alphas.

scikit-learn's signature and return convention
(:func:`sklearn.linear_model.enet_path`), as the installed version defines
them (from 1.9 ``alphas`` takes the grid size and ``n_alphas`` is
deprecated). What fastprox's solver does not run natively runs
scikit-learn's own path (``_fallback.py``, one DEBUG record on the
``fastprox`` logger): a multi-output ``y`` (scikit-learn solves the
multi-task problem, a group penalty across targets), a user Gram matrix in
``precompute`` (checked and used as scikit-learn does), the private
``X_offset`` / ``X_scale`` parameters and negative ``sample_weight``.

``sample_weight`` (scikit-learn's private path parameter, dense or sparse
``X``) minimises ``1/2 sum_i sw_i (y_i - x_i w)^2 + n alpha P(w)``, the
objective of scikit-learn's sparse solver, whose callers rescale ``sw`` to
sum to ``n``: that problem, with ``W = sum(sw)``, is ``W / n`` times the
one of ``sw * n / W`` at ``alpha * n / W``, which the solver runs
(``_quadratic_design.weighted_problem``).
"""
import sys
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import _coordinate_descent as _sk_cd
from sklearn.utils import check_array
from sklearn.utils._param_validation import Hidden, Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_sample_weight

from .._validation import check_sparse_structure
from ._alpha_grid import alpha_grid
from ._cd_solver import enet_ws_cd
from ._enet_checks import PATH_N_ALPHAS_DEPRECATED, check_alphas, check_coef_init, grid_size
from ._fallback import path_with_sklearn
from ._quadratic_design import QuadraticDesign, weighted_problem

__all__ = ["enet_path", "lasso_path"]

_SK_ENET_PATH = _sk_cd.enet_path  # scikit-learn's, bound before any patch_sklearn()
# enet_path's **params in scikit-learn; the first two need its solver
_SK_PARAMS = ("X_offset", "X_scale", "sample_weight", "random_state", "selection",
              "do_screening")


def _grid_request(n_alphas, alphas):
    """Grid size (int) or explicit grid, with the installed scikit-learn's FutureWarnings."""
    if PATH_N_ALPHAS_DEPRECATED and not isinstance(n_alphas, str):
        warnings.warn("'n_alphas' was deprecated in 1.9 and will be removed in 1.11. 'alphas' "
                      "now accepts an integer value which removes the need to pass "
                      "'n_alphas'. The default value of 'alphas' will change from None to 100 "
                      "in 1.11. Pass an explicit value to 'alphas' and leave 'n_alphas' to "
                      "its default value to silence this warning.", FutureWarning,
                      stacklevel=3)
    if PATH_N_ALPHAS_DEPRECATED and alphas is None:
        warnings.warn("'alphas=None' is deprecated and will be removed in 1.11, at which point "
                      "the default value will be set to 100. Set 'alphas=100' to silence this "
                      "warning.", FutureWarning, stacklevel=3)
    n_grid = grid_size(n_alphas, alphas)
    return n_grid if n_grid is not None else alphas


def _sklearn_path(reason, X, y, grid, fit_intercept, kwargs, params):
    """scikit-learn's enet_path on the same problem (centred first for ``fit_intercept``)."""
    if fit_intercept:  # fastprox's extension: scikit-learn's path never centres
        sw = params.get("sample_weight")
        sw = None if sw is None else np.broadcast_to(np.asarray(sw, dtype=np.float64),
                                                     (X.shape[0],))
        y = np.asarray(y, dtype=np.float64)
        y = y - np.average(y, axis=0, weights=sw)
        X_mean = np.asarray(X.mean(axis=0) if sw is None else sw @ X / sw.sum(),
                            dtype=np.float64).ravel()
        if sp.issparse(X):
            params = {**params, "X_offset": X_mean, "X_scale": np.ones_like(X_mean)}
        else:
            X = np.asarray(X) - X_mean
    if isinstance(grid, Integral):
        grid = {"alphas": grid} if PATH_N_ALPHAS_DEPRECATED else {"n_alphas": grid,
                                                                    "alphas": None}
    else:
        grid = {"alphas": grid}
    return path_with_sklearn(_SK_ENET_PATH, reason, X, y, **grid, **kwargs, **params)


def _path_problem(X, y, fit_intercept, sample_weight):
    """``(design, target, scale)`` of the path's problem.

    Unweighted: ``scale = 1``. Weighted: the problem ``1/2 sum sw r^2 + n
    alpha P`` is ``scale = sum(sw) / n`` times the one of ``sw / scale``
    (summing to ``n``) at ``alpha / scale``, the one built here.
    """
    if sample_weight is None:
        design = QuadraticDesign(X, fit_intercept)
        yc = (y - y.mean(dtype=np.float64)).astype(y.dtype) if fit_intercept else y
        return design, yc, 1.0
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
    scale = float(sw.sum()) / X.shape[0]
    if not scale > 0:
        raise ValueError("sample_weight must have a positive sum")
    design, Yc, _, _ = weighted_problem(X, y[:, None], sw / scale, fit_intercept)
    return design, Yc[:, 0], scale


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", "sparse matrix"],
        "l1_ratio": [Interval(Real, 0.0, 1.0, closed="both")],
        "eps": [Interval(Real, 0.0, None, closed="neither")],
        "n_alphas": [Interval(Integral, 1, None, closed="left"),
                     Hidden(StrOptions({"deprecated"}))],
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like", None,
                   Hidden(StrOptions({"warn"}))],
        "precompute": [StrOptions({"auto"}), "boolean", "array-like"],
        "Xy": ["array-like", None],
        "copy_X": ["boolean"],
        "coef_init": ["array-like", None],
        "verbose": ["verbose"],
        "return_n_iter": ["boolean"],
        "positive": ["boolean"],
        "check_input": ["boolean"],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, n_alphas="deprecated", alphas="warn",
              precompute="auto", Xy=None, copy_X=True, coef_init=None, verbose=False,
              return_n_iter=False, positive=False, check_input=True, fit_intercept=False,
              max_iter=1000, tol=1e-4, **params):
    """Compute an elastic-net path with warm-started working-set coordinate descent.

    Same parameters and return convention as :func:`sklearn.linear_model.enet_path`.
    As there, the data are *not* centred unless ``fit_intercept=True`` (an extension).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        A 2-D ``y`` runs scikit-learn's multi-task path (one group penalty
        across the targets, as scikit-learn does).
    l1_ratio : float, default=0.5
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the automatic grid.
    n_alphas : int, default=100
        Deprecated by scikit-learn 1.9 (a ``FutureWarning`` there): pass ``alphas=int``.
    alphas : int or array-like, default=100
        Size of the automatic grid, or an explicit grid (entries ``>= 0``,
        sorted in decreasing order before use).
    precompute : 'auto', bool or array-like of shape (n_features, n_features)
        ``True`` / ``False`` / ``'auto'`` give the same path (fastprox's
        solver needs no Gram matrix); a user Gram runs scikit-learn's path,
        which checks it against ``X`` and solves with it.
    Xy : array-like of shape (n_features,), default=None
        ``X.T @ y`` (of the centred data with ``fit_intercept``), used for
        ``alpha_max``.
    copy_X : bool, default=True
        ``X`` is never modified.
    coef_init : array-like of shape (n_features,), default=None
    verbose : bool or int, default=False
        As scikit-learn: a dot per alpha, ``> 1`` a line per alpha.
    return_n_iter : bool, default=False
    positive : bool, default=False
    check_input : bool, default=True
        Skip the conversion of ``X`` / ``Xy`` (they must then be float arrays).
    fit_intercept : bool, default=False
        Centre ``X`` (implicitly when sparse) and ``y``.
    max_iter, tol : see :class:`ElasticNet`.
    **params : scikit-learn's ``random_state``, ``selection``, ``do_screening``
        (the path is the same); ``sample_weight`` (array-like of shape
        (n_samples,) or float, ``>= 0``): the path of ``1/2 sum_i sw_i
        (y_i - x_i w)^2 + n alpha P(w)`` (scikit-learn's sparse solver's
        objective; weights are *not* rescaled, pass them summing to ``n`` for
        the estimators' convention), with weighted centring under
        ``fit_intercept`` and the automatic grid from this problem's
        ``alpha_max`` (``Xy`` then means ``Xc.T @ (sw * yc)``). scikit-learn's
        own path ignores ``sample_weight`` for dense ``X`` (its callers
        rescale the rows first) and builds its grid unweighted.
        ``X_offset``, ``X_scale`` or a negative weight run scikit-learn's
        path; any other name raises ``ValueError``.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_features, n_alphas) or (n_targets, n_features, n_alphas)
    dual_gaps : ndarray of shape (n_alphas,)
        Duality gaps divided by ``n_samples``.
    n_iters : list of int
        Only if ``return_n_iter``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.linear_model import lasso_path
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]); y = np.array([1.0, 2.0, 3.0])
    >>> alphas, coefs, gaps = lasso_path(X, y, alphas=3)
    >>> coefs.shape
    (2, 3)
    """
    grid = _grid_request(n_alphas, alphas)
    unexpected = {k: v for k, v in params.items() if k not in _SK_PARAMS}
    if unexpected:
        raise ValueError("Unexpected parameters in params", unexpected.keys())
    if params.get("selection", "cyclic") not in ("random", "cyclic"):
        raise ValueError("selection should be either random or cyclic.")
    kwargs = dict(l1_ratio=l1_ratio, eps=eps, precompute=precompute, Xy=Xy, copy_X=copy_X,
                  coef_init=coef_init, verbose=verbose, return_n_iter=return_n_iter,
                  positive=positive, check_input=check_input, max_iter=max_iter, tol=tol)
    reason = ("multi-output y (scikit-learn's multi-task path)" if sp.issparse(y)
              or np.ndim(y) != 1 else
              "a user Gram matrix" if hasattr(precompute, "__array__") else
              "X_offset / X_scale" if set(params) & set(_SK_PARAMS[:2]) else
              "negative sample weights" if params.get("sample_weight") is not None
              and np.any(np.asarray(params["sample_weight"]) < 0) else None)
    if reason is not None:
        return _sklearn_path(reason, X, y, grid, fit_intercept, kwargs, params)
    if check_input:
        check_sparse_structure(X)  # before the conversion reads it
        if sp.issparse(X):
            X = sp.csc_matrix(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
        else:
            X = np.asarray(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
        if Xy is not None:
            Xy = check_array(Xy, dtype=X.dtype.type, ensure_2d=False)
    y = np.asarray(y, dtype=X.dtype)
    n_samples, n_features = X.shape
    design, yc, scale = _path_problem(X, y, fit_intercept, params.get("sample_weight"))
    if isinstance(grid, Integral):
        if Xy is None and scale != 1.0:
            Xy = design.xt_r(yc) * scale  # the grid of the weighted problem (see _path_problem)
        alphas = alpha_grid(design, yc, l1_ratio, eps, grid, positive, Xy)
    else:
        check_alphas(grid)
        alphas = np.sort(np.asarray(grid, dtype=np.float64).ravel())[::-1]
    w = (np.zeros(n_features, dtype=X.dtype) if coef_init is None
         else check_coef_init(coef_init, (n_features,), X.dtype))
    coefs = np.empty((n_features, len(alphas)), dtype=X.dtype)
    gaps = np.empty(len(alphas))
    n_iters = []
    for i, a in enumerate(alphas):
        a_n = a / scale
        gap, n_ep, conv, _ = enet_ws_cd(design, yc, w, n_samples * a_n * l1_ratio,
                                        n_samples * a_n * (1 - l1_ratio), positive=positive,
                                        max_iter=max_iter, tol=tol)
        gap *= scale
        if not conv:
            warnings.warn(f"Objective did not converge for alpha={a:.3e}. You might want to "
                          "increase the number of iterations, check the scale of the features "
                          f"or consider increasing regularisation. Duality gap: {gap:.3e}, "
                          f"tolerance: {tol * scale * float(yc @ yc):.3e}.", ConvergenceWarning,
                          stacklevel=2)
        coefs[:, i] = w
        gaps[i] = gap / n_samples
        n_iters.append(n_ep)
        if verbose:  # scikit-learn's progress report
            if verbose > 1:
                print("Path: %03i out of %03i" % (i, len(alphas)))
            else:
                sys.stderr.write(".")
    if return_n_iter:
        return alphas, coefs, gaps, n_iters
    return alphas, coefs, gaps


def lasso_path(X, y, *, eps=1e-3, n_alphas="deprecated", alphas="warn", **params):
    """Compute a Lasso path (:func:`enet_path` with ``l1_ratio=1``).

    Same parameters and return convention as :func:`sklearn.linear_model.lasso_path`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.linear_model import lasso_path
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]); y = np.array([1.0, 2.0, 3.0])
    >>> alphas, coefs, gaps = lasso_path(X, y, alphas=[0.1, 0.01])
    >>> alphas
    array([0.1 , 0.01])
    """
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas, **params)
