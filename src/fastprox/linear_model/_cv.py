"""LassoCV / ElasticNetCV: K-fold cross-validation along warm-started paths."""
from numbers import Integral, Number, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import _fit_context
from sklearn.linear_model import _coordinate_descent as _sk_cd
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import validate_data

from .._validation import check_sparse_structure
from ._alpha_grid import alpha_grid
from ._coordinate_descent import ElasticNet, normalized_sample_weight, \
    sample_weight_fallback
from ._enet_checks import CV_N_ALPHAS_DEPRECATED, check_alphas, cv_n_alphas_warning
from ._path import enet_path, lasso_path
from ._fallback import fit_with_sklearn
from ._quadratic_design import QuadraticDesign, weighted_problem


def _fold_mse(X, y, sw, train, test, l1_ratio, alphas, fit_intercept, params):
    """Test MSE along the path fitted on ``train`` (weighted as scikit-learn's
    ``_path_residuals``: training weights rescaled to sum to the fold's size,
    test errors averaged with the test weights)."""
    X_tr, y_tr = X[train], y[train]
    if sw is None:
        sw_tr = sw_te = None
    else:
        sw_tr, sw_te = sw[train], sw[test]
        sw_tr = sw_tr * (len(train) / sw_tr.sum())
        params = {**params, "sample_weight": sw_tr}
    _, coefs, _ = enet_path(X_tr, y_tr, l1_ratio=l1_ratio, alphas=alphas,
                            fit_intercept=fit_intercept, **params)
    if fit_intercept:
        if sw is None:
            X_mean = np.asarray(X_tr.mean(axis=0), dtype=np.float64).ravel()
            y_mean = y_tr.mean()
        else:
            X_mean = np.asarray(sw_tr @ X_tr, dtype=np.float64).ravel() / sw_tr.sum()
            y_mean = np.average(y_tr, weights=sw_tr)
        intercepts = y_mean - X_mean @ coefs
    else:
        intercepts = np.zeros(coefs.shape[1])
    pred = X[test] @ coefs + intercepts
    return np.average((np.asarray(pred) - y[test][:, None]) ** 2, axis=0, weights=sw_te)


class ElasticNetCV(ElasticNet):
    """Elastic net with the penalty chosen by K-fold cross-validation.

    Same role and main parameters as :class:`sklearn.linear_model.ElasticNetCV`:
    for each ``l1_ratio`` a grid of ``alphas`` values from ``alpha_max``
    down to ``eps * alpha_max`` is fitted along a warm-started path on every
    fold (folds in parallel with ``n_jobs``), the pair with the lowest mean
    squared error is kept, and the model is refitted on all the data.

    Parameters
    ----------
    l1_ratio : float or list of float, default=0.5
    eps : float, default=1e-3
    n_alphas : int
        Deprecated (scikit-learn 1.7 deprecated it, 1.9 removed it; a
        ``FutureWarning`` with scikit-learn >= 1.7): pass ``alphas=int``.
    alphas : int or array-like, default=100
        Size of the automatic grid per ``l1_ratio``, or an explicit grid
        (entries ``>= 0``). ``None``: the automatic grid of 100.
    fit_intercept, max_iter, tol, positive, copy_X, precompute : see :class:`ElasticNet`
    cv : int, cross-validation generator or iterable, default=None (5-fold)
    n_jobs : int, default=None
    verbose : int, default=0
    random_state, selection : accepted for compatibility

    Notes
    -----
    ``fit`` with ``sample_weight`` follows scikit-learn: the grid starts at
    the weighted problem's ``alpha_max``, each fold's path is fitted with
    its training weights (rescaled to sum to the fold's size) and scored by
    the test-weighted mean squared error, and the refit is weighted. With
    a negative weight or routed metadata (``groups``...) scikit-learn's
    ``ElasticNetCV`` / ``LassoCV`` runs (``_fallback.py``).

    Attributes
    ----------
    alpha_, l1_ratio_ : float
        The chosen penalty (``LassoCV``: ``alpha_`` only, as scikit-learn).
    alphas_ : ndarray of shape (n_l1_ratio, n_alphas) or (n_alphas,)
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds) or (n_alphas, n_folds)
    coef_, intercept_, dual_gap_, n_iter_ : from the final refit

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastprox.linear_model import LassoCV
    >>> X, y = make_regression(60, 20, n_informative=3, noise=1.0, random_state=0)
    >>> LassoCV(cv=3, alphas=10).fit(X, y).alpha_ > 0
    True
    """

    # scikit-learn's (LinearModelCV, ElasticNetCV), with its former n_alphas kept, deprecated
    _parameter_constraints: dict = {
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "n_alphas": [Interval(Integral, 1, None, closed="left"),
                     Hidden(StrOptions({"deprecated"}))],
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "fit_intercept": ["boolean"],
        "precompute": [StrOptions({"auto"}), "array-like", "boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "copy_X": ["boolean"],
        "cv": ["cv_object"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
    }
    _sklearn_class = _sk_cd.ElasticNetCV  # run where fastprox does not accelerate
    path = staticmethod(enet_path)

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, n_alphas="deprecated", alphas=100,
                 fit_intercept=True, precompute="auto", max_iter=1000, tol=1e-4, cv=None,
                 copy_X=True, verbose=0, n_jobs=None, positive=False, random_state=None,
                 selection="cyclic"):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _l1_ratios(self):
        return np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))

    def _grid(self):
        """The grid's size (int) or the explicit grid, as given."""
        if not isinstance(self.n_alphas, str) and (self.alphas is None
                                                   or isinstance(self.alphas, Integral)):
            return int(self.n_alphas)  # the deprecated spelling, given explicitly
        return 100 if self.alphas is None else self.alphas

    def _sklearn_params(self):
        """This estimator's grid in the installed scikit-learn's spelling."""
        grid = self._grid()
        if not CV_N_ALPHAS_DEPRECATED:  # scikit-learn < 1.7: n_alphas and alphas=None
            return ({"n_alphas": grid, "alphas": None} if isinstance(grid, Integral)
                    else {"n_alphas": 100, "alphas": grid})
        out = {"alphas": grid}
        if "n_alphas" in _sk_cd.LassoCV._get_param_names():  # 1.7, 1.8
            out["n_alphas"] = "deprecated"
        return out

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Select the penalty by cross-validation, then refit on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weighted grid, folds and refit (scikit-learn's semantics; see
            Notes). A scalar is ignored, as by scikit-learn; a negative
            weight runs scikit-learn's fit.
        **params : dict
            Metadata routed to the CV splitter (scikit-learn's); runs
            scikit-learn's fit.

        Returns
        -------
        self : object
        """
        cv_n_alphas_warning(self.n_alphas)
        if isinstance(sample_weight, Number):
            sample_weight = None
        reason = "routed metadata" if params else sample_weight_fallback(sample_weight)
        if reason is not None:
            return fit_with_sklearn(self, self._sklearn_class, reason, X, y,
                                    params=self._sklearn_params(),
                                    sample_weight=sample_weight, **params)
        if len(getattr(y, "shape", ())) > 1 and y.shape[1] > 1:  # scikit-learn's message
            raise ValueError(f"For multi-task outputs, use MultiTask{type(self).__name__}")
        check_sparse_structure(X)  # before any conversion reads it
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=[np.float64, np.float32], y_numeric=True)
        if sp.issparse(X):
            X = sp.csr_matrix(X)  # row slicing for the folds
        y = np.asarray(y, dtype=X.dtype)
        sw = normalized_sample_weight(X, sample_weight)
        l1_ratios = self._l1_ratios()
        grid = self._grid()
        if isinstance(grid, Integral):
            if sw is None:
                yc = y - y.mean() if self.fit_intercept else y
                design = QuadraticDesign(X, self.fit_intercept)
            else:
                design, Yc, _, _ = weighted_problem(X, y[:, None], sw, self.fit_intercept)
                yc = Yc[:, 0]
            grids = np.array([alpha_grid(design, yc, r, self.eps, grid, self.positive)
                              for r in l1_ratios])
        else:
            check_alphas(grid)  # scikit-learn's messages, before sorting
            grids = np.tile(np.sort(np.asarray(grid, dtype=np.float64))[::-1],
                            (len(l1_ratios), 1))
        folds = list(check_cv(self.cv).split(X, y))
        params = dict(max_iter=self.max_iter, tol=self.tol, positive=self.positive)
        jobs = [(i, delayed(_fold_mse)(X, y, sw, tr, te, r, grids[i], self.fit_intercept,
                                       params))
                for i, r in enumerate(l1_ratios) for tr, te in folds]
        mses = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(j for _, j in jobs)
        mse_path = np.array(mses).reshape(len(l1_ratios), len(folds), -1).transpose(0, 2, 1)
        mean = mse_path.mean(axis=2)
        i, k = np.unravel_index(np.argmin(mean), mean.shape)
        self.l1_ratio_ = float(l1_ratios[i])
        self.alpha_ = float(grids[i, k])
        single = np.ndim(self.l1_ratio) == 0
        self.alphas_ = grids[0] if single else grids
        self.mse_path_ = mse_path[0] if single else mse_path
        model = ElasticNet(alpha=self.alpha_, l1_ratio=self.l1_ratio_,
                           fit_intercept=self.fit_intercept, max_iter=self.max_iter,
                           tol=self.tol, positive=self.positive).fit(X, y, sample_weight=sw)
        for name in ("coef_", "intercept_", "dual_gap_", "n_iter_"):
            setattr(self, name, getattr(model, name))
        if "l1_ratio" not in self._get_param_names():  # LassoCV: as scikit-learn's
            del self.l1_ratio_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags


class LassoCV(ElasticNetCV):
    """Lasso with ``alpha`` chosen by K-fold cross-validation.

    See :class:`ElasticNetCV`; the penalty is pure L1 (``l1_ratio=1``).
    """

    _parameter_constraints: dict = {**ElasticNetCV._parameter_constraints}
    _parameter_constraints.pop("l1_ratio")
    _sklearn_class = _sk_cd.LassoCV
    path = staticmethod(lasso_path)

    def __init__(self, *, eps=1e-3, n_alphas="deprecated", alphas=100, fit_intercept=True,
                 precompute="auto", max_iter=1000, tol=1e-4, copy_X=True, cv=None,
                 verbose=False, n_jobs=None, positive=False, random_state=None,
                 selection="cyclic"):
        super().__init__(l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas,
                         fit_intercept=fit_intercept, precompute=precompute,
                         max_iter=max_iter, tol=tol, cv=cv, copy_X=copy_X, verbose=verbose,
                         n_jobs=n_jobs, positive=positive, random_state=random_state,
                         selection=selection)
