"""Binary and multinomial logistic regression with L1, L2 or elastic-net penalty.

The objective is scikit-learn's (``sklearn.linear_model.LogisticRegression``,
solvers other than liblinear: the intercept is not penalised)::

    C * sum_i loss(x_i W.T + b, y_i) + l1_ratio ||W||_1 + (1 - l1_ratio) / 2 ||W||^2

with the binomial log-loss for two classes (one coefficient vector) and the
multinomial (softmax) log-loss for more, ``l1_ratio`` 1 for ``penalty='l1'``,
0 for ``'l2'`` and the given value for ``'elasticnet'``; ``penalty=None`` drops
the penalty. Solved by working-set proximal Newton (``_newton_solver.py``).
"""
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._datafits import Binomial, Multinomial
from ._logistic_design import LogisticDesign
from ._newton_solver import logistic_ws_newton

__all__ = ["LogisticRegression"]


class LogisticRegression(LinearClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Logistic regression (binary or multinomial), L1 / L2 / elastic net, proximal Newton.

    A drop-in for :class:`sklearn.linear_model.LogisticRegression`, minimising
    the same objective (see Notes) with a working-set proximal Newton solver:
    it touches only the features that can be nonzero, which is what makes L1
    fits on wide data fast. Two classes give one coefficient vector (binomial
    loss); three or more give one per class (multinomial / softmax loss, as
    scikit-learn >= 1.5 does for every solver but liblinear).

    Parameters
    ----------
    penalty : {'l1', 'l2', 'elasticnet'} or None, default='l2'
    C : float, default=1.0
        Inverse regularisation strength (> 0; ``np.inf`` for no penalty).
    l1_ratio : float, default=None
        Elastic-net mixing in ``[0, 1]``; used (and required) only with
        ``penalty='elasticnet'``.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (one per class when multinomial).
    tol : float, default=1e-4
        Stop when every coefficient's KKT violation, measured on the objective
        divided by ``C * n_samples`` (mean log-loss scale), is ``<= tol``.
        Not scikit-learn's meaning (which depends on its solver).
    max_iter : int, default=100
        Maximum number of outer (full-gradient) iterations.
    warm_start : bool, default=False
        Start from the previous ``coef_`` / ``intercept_`` when their shape fits.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        ``(1, n_features)`` for two classes; dtype of ``X`` (float32 or float64).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Multinomial intercepts are reported centred (they sum to zero): the
        softmax does not change when all are shifted alike.
    n_iter_ : ndarray of shape (1,)
        Outer iterations run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only if ``X`` has string feature names.

    Raises
    ------
    ValueError
        At ``fit``: one class only, NaN / inf in ``X``, bad parameters.

    Notes
    -----
    Objective: ``C sum_i loss_i + rho ||W||_1 + (1 - rho)/2 ||W||_F^2``;
    binary ``loss_i = log(1 + exp(-y_i (x_i w + b)))`` with ``y_i`` in
    {-1, +1} (``classes_[1]`` is +1); multinomial ``loss_i =
    logsumexp(W x_i + b) - (W x_i + b)_{y_i}``. Without a penalty the
    multinomial parametrisation is over-complete (adding one vector to every
    row of ``W`` changes nothing), so only the objective and the
    probabilities are unique. ``X`` keeps its dtype (computations accumulate
    in float64); dense ``X`` is read in the order given, sparse ``X`` is used as
    CSC and never densified.

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

    # scikit-learn's constraints for these parameters, except max_iter >= 1
    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l1", "l2", "elasticnet"}), None],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
    }

    @_fit_context(prefer_skip_nested_validation=True)
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
        if self.penalty == "elasticnet":
            if self.l1_ratio is None:  # a relation the constraints cannot express
                raise ValueError("penalty='elasticnet' needs l1_ratio in [0, 1], got None")
            rho = float(self.l1_ratio)
        else:
            rho = 1.0 if self.penalty == "l1" else 0.0
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"],
                             dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}")
        self.classes_ = classes
        n, p = X.shape
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                      ensure_non_negative=True)
            if np.unique(y[sw > 0]).size < 2:
                raise ValueError("sample_weight leaves samples of only one class with a "
                                 "positive weight; two classes are needed")
            sw_sum = float(sw.sum())
            # weights rescaled to mean 1 and the penalty by n / sum(sw): the
            # objective divided by C * sum(sw), same minimiser
            sw = sw * (n / sw_sum)
        total = n if sw is None else sw_sum
        scale = 1.0 / (self.C * total) if self.penalty is not None else 0.0
        if not np.isfinite(self.C):
            scale = 0.0
        l1, l2 = rho * scale, (1.0 - rho) * scale
        sw_n = np.full(n, 1.0 / n) if sw is None else sw / n
        codes = np.searchsorted(classes, y)
        if classes.size == 2:
            datafit = Binomial(np.where(codes == 1, 1.0, -1.0), sw_n)
        else:
            datafit = Multinomial(codes, classes.size, sw_n)
        K = datafit.n_blocks
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (K, p):
            W = np.array(self.coef_, dtype=np.float64, order="C")
            b = (np.array(self.intercept_, dtype=np.float64).reshape(K) if self.fit_intercept
                 else np.zeros(K))
        else:
            W = np.zeros((K, p))
            b = np.zeros(K)
            if self.fit_intercept:
                # the optimum at W = 0: log-odds (binary) or log-frequencies
                freq = np.bincount(codes, weights=sw_n, minlength=classes.size)
                freq = np.clip(freq / freq.sum(), 1e-12, None)
                b = (np.log(freq[1:] / freq[0]) if K == 1
                     else np.log(freq) - np.log(freq).mean())
        n_iter, converged, _ = logistic_ws_newton(
            LogisticDesign(X), datafit, W, b, l1, l2, fit_intercept=bool(self.fit_intercept),
            tol=self.tol, max_iter=self.max_iter)
        if not converged:
            warnings.warn(f"LogisticRegression did not converge in {n_iter} iterations; "
                          "increase max_iter or tol.", ConvergenceWarning)
        if K > 1 and self.fit_intercept:
            # softmax is invariant to a common shift of the intercepts: report
            # the centred ones (as scikit-learn's lbfgs does)
            b -= b.mean()
        self.coef_ = W.astype(X.dtype, copy=False)
        self.intercept_ = (b if self.fit_intercept else np.zeros(K)).astype(X.dtype)
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        return self

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order: the logistic function of the score
            (two classes) or the softmax of the scores (more).
        """
        d = self.decision_function(X)
        if d.ndim == 1:
            p1 = expit(d)
            return np.column_stack([1.0 - p1, p1])
        return softmax(d, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed without underflow."""
        d = self.decision_function(X)
        if d.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, d), -np.logaddexp(0.0, -d)])
        return log_softmax(d, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
