"""Binary logistic regression with L1, L2 or elastic-net penalty.

The objective is scikit-learn's (``sklearn.linear_model.LogisticRegression``,
solvers other than liblinear: the intercept is not penalised)::

    C * sum_i log(1 + exp(-y_i (x_i w + b))) + l1_ratio ||w||_1
        + (1 - l1_ratio) / 2 ||w||^2

with ``l1_ratio`` 1 for ``penalty='l1'``, 0 for ``'l2'`` and the given value
for ``'elasticnet'``; ``penalty=None`` drops the penalty. Solved by working-set
proximal Newton (``_logistic_solver.py``).
"""
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._logistic_solver import LogisticDesign, logistic_ws_newton

__all__ = ["LogisticRegression"]


class BinaryOnlyError(NotImplementedError, ValueError):
    """Raised by ``fit`` on more than two classes.

    A ``NotImplementedError`` (multinomial is not implemented) that is also the
    ``ValueError`` scikit-learn expects from binary-only classifiers.
    """


class LogisticRegression(LinearClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Binary logistic regression, L1 / L2 / elastic-net penalty, proximal Newton.

    A drop-in for :class:`sklearn.linear_model.LogisticRegression` on binary
    problems, minimising the same objective (see Notes) with a working-set
    proximal Newton solver: it touches only the features that can be nonzero,
    which is what makes L1 fits on wide data fast.

    Parameters
    ----------
    penalty : {'l1', 'l2', 'elasticnet'} or None, default='l2'
    C : float, default=1.0
        Inverse regularisation strength (> 0; ``np.inf`` for no penalty).
    l1_ratio : float, default=None
        Elastic-net mixing in ``[0, 1]``; used (and required) only with
        ``penalty='elasticnet'``.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    tol : float, default=1e-4
        Stop when every coordinate's KKT violation, measured on the objective
        divided by ``C * n_samples`` (mean log-loss scale), is ``<= tol``.
    max_iter : int, default=100
        Maximum number of outer (full-gradient) iterations.
    warm_start : bool, default=False
        Start from the previous ``coef_`` / ``intercept_``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_iter_ : ndarray of shape (1,)
        Outer iterations run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only if ``X`` has string feature names.

    Raises
    ------
    BinaryOnlyError
        At ``fit`` on more than two classes (multinomial is not implemented);
        both a ``NotImplementedError`` and a ``ValueError``.

    Notes
    -----
    Objective: ``C sum_i log(1 + exp(-y_i (x_i w + b))) + rho ||w||_1
    + (1 - rho)/2 ||w||^2`` with ``y_i`` in {-1, +1} (``classes_[1]`` is +1).
    ``X`` is used in float64; dense ``X`` is copied once to Fortran order
    unless it already is, sparse ``X`` is used as CSC and never densified.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from fastprox.linear_model import LogisticRegression
    >>> X, y = make_classification(200, 50, random_state=0)
    >>> clf = LogisticRegression(penalty="l1", C=0.1).fit(X, y)
    >>> clf.coef_.shape
    (1, 50)
    """

    def __init__(self, penalty="l2", *, C=1.0, l1_ratio=None, fit_intercept=True, tol=1e-4,
                 max_iter=100, warm_start=False):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    def _rho(self):
        if self.penalty not in ("l1", "l2", "elasticnet", None):
            raise ValueError(f"penalty must be 'l1', 'l2', 'elasticnet' or None, "
                             f"got {self.penalty!r}")
        C = self.C
        if isinstance(C, bool) or not isinstance(C, numbers.Real) or not C > 0:
            raise ValueError(f"C must be a positive real number, got {C!r}")
        if self.penalty == "elasticnet":
            r = self.l1_ratio
            if isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0 <= r <= 1:
                raise ValueError("penalty='elasticnet' needs l1_ratio in [0, 1], "
                                 f"got {r!r}")
            return float(r)
        return {"l1": 1.0, "l2": 0.0, None: 0.0}[self.penalty]

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the log-loss (scikit-learn's meaning).

        Returns
        -------
        self : LogisticRegression
        """
        rho = self._rho()
        for name in ("max_iter",):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) \
                or not self.tol >= 0:
            raise ValueError(f"tol must be a real number >= 0, got {self.tol!r}")
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"],
                             dtype=[np.float64, np.float32])
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}")
        if classes.size > 2 or y_type != "binary":
            raise BinaryOnlyError(
                f"Only binary classification is supported. The type of the target is "
                f"{y_type} ({classes.size} classes): fastprox LogisticRegression is binary "
                "only; use sklearn.linear_model.LogisticRegression for multinomial problems.")
        self.classes_ = classes
        ys = np.where(y == classes[1], 1.0, -1.0)
        n, p = X.shape
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                      ensure_non_negative=True)
            if np.unique(y[sw > 0]).size < 2:
                raise ValueError("sample_weight leaves samples of only one class with a "
                                 "positive weight; two classes are needed")
            sw_sum = float(sw.sum())
            if not sw_sum > 0:
                raise ValueError("sample_weight must have a positive sum")
            # weights rescaled to mean 1 and the penalty by n / sum(sw): the
            # objective divided by C * sum(sw), same minimiser
            sw = sw * (n / sw_sum)
        total = n if sw is None else sw_sum
        scale = 1.0 / (self.C * total) if self.penalty is not None else 0.0
        if not np.isfinite(self.C):
            scale = 0.0
        l1, l2 = rho * scale, (1.0 - rho) * scale
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (1, p):
            w = self.coef_.ravel().astype(np.float64)
            b = float(self.intercept_[0]) if self.fit_intercept else 0.0
        else:
            w = np.zeros(p)
            if self.fit_intercept:
                frac = float(np.average(ys > 0, weights=sw))
                b = float(np.log(frac / (1.0 - frac)))
            else:
                b = 0.0
        design = LogisticDesign(X)
        b, n_iter, converged, _ = logistic_ws_newton(
            design, ys, w, b, l1, l2, fit_intercept=bool(self.fit_intercept), tol=self.tol,
            max_iter=self.max_iter, sample_weight=sw)
        if not converged:
            warnings.warn(f"LogisticRegression did not converge in {n_iter} iterations; "
                          "increase max_iter or tol.", ConvergenceWarning)
        self.coef_ = w.reshape(1, -1)
        self.intercept_ = np.array([b if self.fit_intercept else 0.0])
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        return self

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, 2), columns in ``classes_`` order."""
        d = self.decision_function(X)
        p1 = expit(d)
        return np.column_stack([1.0 - p1, p1])

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        d = self.decision_function(X)
        return np.column_stack([-np.logaddexp(0.0, d), -np.logaddexp(0.0, -d)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = False
        return tags
