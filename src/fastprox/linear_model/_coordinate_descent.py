"""Lasso and ElasticNet: thin scikit-learn-compatible shells over ``_cd_solver``.

The objective and parameters are scikit-learn's
(``sklearn.linear_model.ElasticNet``), so swapping the import is all a user
changes::

    1/(2 n) ||y - X w - b||^2 + alpha * l1_ratio * ||w||_1
                               + alpha * (1 - l1_ratio) / 2 * ||w||^2
"""
import warnings
from numbers import Integral, Number, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.linear_model import _coordinate_descent as _sk_cd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearModel
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._validation import check_sparse_structure
from .._threads import blas_single_threaded
from ._cd_solver import enet_ws_cd
from ._enet_checks import check_finite_fit, user_gram_needs_sklearn, warm_start_coef, \
    warn_alpha_zero
from ._fallback import fit_with_sklearn
from ._path import enet_path, lasso_path
from ._quadratic_design import QuadraticDesign, weighted_problem

__all__ = ["ElasticNet", "Lasso", "enet_path", "lasso_path"]


def _validate_X_y(estimator, X, y, reset=True):
    """Validated ``X`` (float32 / float64, dense or CSR / CSC) and ``y``.

    NaN / inf in dense ``X`` are *not* checked here: ``QuadraticDesign``
    checks them in its pass over ``X`` (``check_finite``), which saves a
    pass of its own.
    """
    check_sparse_structure(X)  # before any conversion reads it
    X, y = validate_data(estimator, X, y, accept_sparse=["csr", "csc", "coo"],
                         dtype=[np.float64, np.float32], multi_output=True, y_numeric=True,
                         reset=reset, ensure_all_finite=False)
    if sp.issparse(X):
        assert_all_finite(X.data, input_name="X")
        if X.format == "coo":
            X = X.tocsc()
    y = np.asarray(y, dtype=X.dtype)
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError("y has no target columns")
    return X, y


def normalized_sample_weight(X, sample_weight):
    """``sample_weight`` as float64 summing to ``n_samples`` (scikit-learn's convention).

    None for ``None`` or a scalar (scikit-learn ignores a scalar weight: the
    objective is invariant under rescaling the weights).
    """
    if sample_weight is None or isinstance(sample_weight, Number):
        return None
    sw = None
    if (isinstance(sample_weight, np.ndarray) and sample_weight.shape == (X.shape[0],)
            and sample_weight.dtype.kind in "fiu"):
        # the common case without check_array's cost (a third of a millisecond)
        sw = sample_weight.astype(np.float64)
        if not (np.isfinite(sw).all() and sw.any()):
            sw = None  # scikit-learn's error below
    if sw is None:
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
    sw *= X.shape[0] / sw.sum()
    return sw


def sample_weight_fallback(sample_weight):
    """Why a weighted fit runs scikit-learn's path (None: fastprox's runs it).

    Negative weights: the rows are scaled by ``sqrt(sw)``.
    """
    if sample_weight is None or isinstance(sample_weight, Number):
        return None
    if np.any(np.asarray(sample_weight) < 0):
        return "negative sample weights"
    return None


class ElasticNet(MultiOutputMixin, RegressorMixin, LinearModel):
    """Linear regression with combined L1 and L2 priors, solved by working-set CD.

    Minimises ``1/(2 n) ||y - X w - b||^2 + alpha * l1_ratio * ||w||_1
    + alpha * (1 - l1_ratio) / 2 * ||w||^2``, the objective of
    :class:`sklearn.linear_model.ElasticNet`, with the same parameters and
    fitted attributes.

    Parameters
    ----------
    alpha : float, default=1.0
        Overall penalty strength (>= 0).
    l1_ratio : float, default=0.5
        Share of the L1 term, in [0, 1].
    fit_intercept : bool, default=True
        Fit an unpenalised intercept. ``X`` is centred implicitly, never in a
        copy of the whole matrix; sparse ``X`` (CSR/CSC) is never densified.
    precompute : bool or array-like, default=False
        ``True`` / ``False``: the same fit (the solver needs no Gram matrix).
        A user Gram matrix of ``X`` is checked and used by scikit-learn's fit
        (``_fallback.py``); with ``fit_intercept`` and uncentred ``X`` it is
        recomputed, with scikit-learn's ``UserWarning``, and fastprox's solver runs.
    max_iter : int, default=1000
        Bounds the total number of CD epochs. They run on working sets, so
        each is cheaper than one of scikit-learn's full epochs.
    copy_X : bool, default=True
        Accepted for compatibility; ``X`` is never modified in place.
    tol : float, default=1e-4
        Stop when the duality gap is ``<= tol * ||y - mean(y)||^2`` (unscaled,
        scikit-learn's rule); ``dual_gap_`` reports it divided by ``n``.
    warm_start : bool, default=False
        Start from the previous ``coef_``.
    positive : bool, default=False
        Constrain the coefficients to be >= 0.
    random_state : None, accepted for compatibility
    selection : {'cyclic', 'random'}, default='cyclic'
        Accepted for compatibility; the working-set solver is always cyclic.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int or list of int
        CD epochs run (on working sets, so each is cheaper than a full epoch).
    dual_gap_ : float or ndarray of shape (n_targets,)
        Final duality gap divided by ``n_samples``.
    sparse_coef_ : scipy.sparse matrix
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    The solver grows a working set of features by KKT violation, solves the
    restricted problem with cyclic coordinate descent and Anderson
    extrapolation, and stops on the duality gap of the *full* problem
    (celer / skglm style). Multi-output ``y`` is fitted one target at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.linear_model import ElasticNet
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]); y = np.array([0.0, 1.0, 2.0])
    >>> reg = ElasticNet(alpha=0.1, l1_ratio=0.7).fit(X, y)
    >>> round(float(reg.coef_.sum()), 2)  # the two equal columns share the weight
    0.88
    """

    # scikit-learn's constraints, except: alpha finite, max_iter not None
    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, np.inf, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "precompute": ["boolean", "array-like"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
    }
    _sklearn_class = _sk_cd.ElasticNet  # run where fastprox does not accelerate
    path = staticmethod(enet_path)  # as scikit-learn (Lasso inherits it, as there)

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute=False,
                 max_iter=1000, copy_X=True, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic"):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 data stay float32.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
            As in scikit-learn, weights are rescaled to sum to ``n_samples``
            and the weighted problem is solved on ``sqrt(sw)``-scaled rows
            (dense ``X``: a centred, scaled copy; sparse ``X``: its data
            scaled, centred implicitly, never densified). A scalar is
            ignored, as by scikit-learn. With a negative weight,
            scikit-learn's fit runs (``_fallback.py``; see the README's table).
        check_input : bool, default=True
            Accepted for compatibility; input is always validated.

        Returns
        -------
        self : object
        """
        reason = sample_weight_fallback(sample_weight)
        if reason is not None:
            return fit_with_sklearn(self, self._sklearn_class, reason, X, y,
                                    sample_weight=sample_weight, check_input=check_input)
        if self.alpha == 0:
            warn_alpha_zero()
        X, y = _validate_X_y(self, X, y)
        if user_gram_needs_sklearn(self.precompute, X, self.fit_intercept, sample_weight):
            return fit_with_sklearn(self, self._sklearn_class, "a user Gram matrix", X, y,
                                    sample_weight=sample_weight, check_input=check_input)
        n_samples, n_features = X.shape
        single = y.ndim == 1
        Y = y[:, None] if single else y  # y of shape (n, 1): 1-D coef_, as scikit-learn
        n_targets = Y.shape[1]
        sw = normalized_sample_weight(X, sample_weight)
        # BLAS on one thread for the whole solve: see fastprox._threads
        with blas_single_threaded(X.shape[0] * X.shape[1]):
            if sw is not None:
                design, Yc, X_mean_w, y_mean = weighted_problem(X, Y, sw, self.fit_intercept,
                                                                check_finite=True)
            else:
                center = self.fit_intercept
                y_mean = Y.mean(axis=0, dtype=np.float64) if center else np.zeros(n_targets)
                # each target contiguous, converted once
                Yc = np.asfortranarray(Y - y_mean, dtype=X.dtype)
                # the first target rides along the design's pass over X (first gradient)
                design = QuadraticDesign(X, center, y=Yc[:, 0] if n_targets else None,
                                         check_finite=True)
                X_mean_w = design.X_mean.astype(np.float64)
            if self.warm_start and hasattr(self, "coef_"):
                W = warm_start_coef(self.coef_, n_targets, n_features, X.dtype)
            else:
                W = np.zeros((n_targets, n_features), dtype=X.dtype)
            l1 = n_samples * float(self.alpha) * float(self.l1_ratio)
            l2 = n_samples * float(self.alpha) * (1.0 - float(self.l1_ratio))
            gaps = np.empty(n_targets)
            n_iters = []
            for k in range(n_targets):
                yc = Yc[:, k]
                w = np.ascontiguousarray(W[k])
                gap, n_ep, conv, _ = enet_ws_cd(design, yc, w, l1, l2, positive=self.positive,
                                                max_iter=self.max_iter, tol=self.tol)
                if not conv:
                    warnings.warn(
                        f"Objective did not converge. You might want to increase the number of "
                        f"iterations. Duality gap: {gap:.3e}, tolerance: "
                        f"{self.tol * float(yc.astype(np.float64) @ yc):.3e}", ConvergenceWarning,
                        stacklevel=2)
                W[k] = w
                gaps[k] = gap / n_samples
                n_iters.append(n_ep)
            intercept = y_mean - W.astype(np.float64) @ X_mean_w if self.fit_intercept \
                else np.zeros(n_targets)
        # column sums that overflow scikit-learn's centring: its error, as non-finite results
        col_sum = n_samples * float(np.abs(X_mean_w).max()) if self.fit_intercept else 0.0
        check_finite_fit(W, intercept, col_sum, X.dtype)
        if n_targets == 1:
            self.coef_ = W[0]
            self.dual_gap_ = float(gaps[0])
            self.n_iter_ = n_iters[0]
        else:
            self.coef_ = W
            self.dual_gap_ = gaps
            self.n_iter_ = n_iters
        self.intercept_ = float(intercept[0]) if single else intercept.astype(X.dtype)
        return self

    @property
    def sparse_coef_(self):
        """Fitted ``coef_`` as a scipy CSR matrix."""
        check_is_fitted(self)
        return sp.csr_matrix(np.atleast_2d(self.coef_)) if np.ndim(self.coef_) > 1 \
            else sp.csr_matrix(self.coef_)

    def _decision_function(self, X):
        check_is_fitted(self)
        check_sparse_structure(X)  # before any conversion reads it
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], reset=False)
        return X @ np.asarray(self.coef_).T + self.intercept_

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        out = self._decision_function(X)
        return np.asarray(out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


class Lasso(ElasticNet):
    """Linear model trained with an L1 prior, solved by working-set CD.

    Minimises ``1/(2 n) ||y - X w - b||^2 + alpha * ||w||_1``, the objective
    of :class:`sklearn.linear_model.Lasso`; see :class:`ElasticNet` for the
    parameters, attributes and solver.

    Examples
    --------
    >>> import numpy as np
    >>> from fastprox.linear_model import Lasso
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]); y = np.array([0.0, 1.0, 2.0])
    >>> Lasso(alpha=0.1).fit(X, y).coef_.round(3)
    array([0.85, 0.  ])
    """

    _parameter_constraints: dict = {**ElasticNet._parameter_constraints}
    _parameter_constraints.pop("l1_ratio")
    _sklearn_class = _sk_cd.Lasso

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, copy_X=True,
                 max_iter=1000, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic"):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
                         precompute=precompute, max_iter=max_iter, copy_X=copy_X, tol=tol,
                         warm_start=warm_start, positive=positive, random_state=random_state,
                         selection=selection)
