"""Binary and multinomial logistic regression with L1, L2 or elastic-net penalty.

The objective is scikit-learn's (``sklearn.linear_model.LogisticRegression``,
solvers other than liblinear: the intercept is not penalised)::

    C * sum_i loss(x_i W.T + b, y_i) + rho ||W||_1 + (1 - rho) / 2 ||W||^2

with the binomial log-loss for two classes (one coefficient vector) and the
multinomial (softmax) log-loss for more. Which penalty (``rho``, or none) is
fitted follows the installed scikit-learn exactly (:func:`effective_penalty`):
from 1.8 ``l1_ratio`` selects it (1 is L1, 0 is L2, between is the elastic
net), ``C=np.inf`` means none and ``penalty=`` is deprecated; before 1.8
``penalty`` selects it and ``l1_ratio`` only mixes the elastic net. Solved by
working-set proximal Newton (``_newton_solver.py``), or, for cold fits without
an L1 term, by scikit-learn's own L-BFGS iteration on fastprox's kernels
(``_lbfgs_solver.py``, finished by Newton if it stops above ``tol``); an explicit scikit-learn
``solver`` and the other combinations of the README's table run scikit-learn's
own fit (``_fallback.py``).
"""
import inspect
import warnings

import numpy as np
import sklearn
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as _SkLogisticRegression
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.fixes import parse_version
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from .._validation import check_sparse_structure
from ._datafits import Binomial, Multinomial
from ._fallback import fit_with_sklearn
from ._lbfgs_solver import logistic_lbfgs
from ._logistic_design import LogisticDesign
from ._newton_solver import logistic_ws_newton

__all__ = ["LogisticRegression", "effective_penalty"]

# the installed scikit-learn, read once: its penalty rules (1.8 moved the
# choice of penalty to l1_ratio / C) and its defaults; see docs/design/logistic-penalty.md
SKLEARN_VERSION = parse_version(parse_version(sklearn.__version__).base_version)
L1_RATIO_SELECTS_PENALTY = SKLEARN_VERSION >= parse_version("1.8")
_SK_DEFAULTS = {name: prm.default for name, prm in
                inspect.signature(_SkLogisticRegression.__init__).parameters.items()}
_HAS_MULTI_CLASS = "multi_class" in _SK_DEFAULTS
_CW_TAKES_SW = "sample_weight" in inspect.signature(compute_class_weight).parameters
_SK_SOLVERS = {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}

_PENALTY_DEPRECATION = (
    "'penalty' was deprecated in version 1.8 and will be removed in"
    " 1.10. To avoid this warning, leave 'penalty' set to its default"
    " value and use 'l1_ratio' or 'C' instead."
    " Use l1_ratio=0 instead of penalty='l2',"
    " l1_ratio=1 instead of penalty='l1',"
    " l1_ratio set to a float between 0 and 1 instead of"
    " penalty='elasticnet', and C=np.inf instead of penalty=None.")


def effective_penalty(penalty, C, l1_ratio, n_jobs=None):
    """The penalty the installed scikit-learn fits, with its warnings and errors.

    Mirrors ``sklearn.linear_model.LogisticRegression.fit`` of the installed
    version, before its solver check.

    Parameters
    ----------
    penalty, C, l1_ratio, n_jobs : the estimator's parameters

    Returns
    -------
    rho : float or None
        Share of the L1 term (1 for L1, 0 for L2); None for no penalty.

    Raises
    ------
    ValueError
        ``penalty='elasticnet'`` with ``l1_ratio=None`` (scikit-learn's message).
    """
    if L1_RATIO_SELECTS_PENALTY:
        if penalty == "deprecated":
            if l1_ratio == 0 or l1_ratio is None:
                resolved = "l2"
                if l1_ratio is None:
                    warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will "
                                  "trigger an error in 1.10. Use 0<=l1_ratio<=1 instead.",
                                  FutureWarning)
            elif l1_ratio == 1:
                resolved = "l1"
            else:
                resolved = "elasticnet"
            if C == np.inf:
                resolved = None
        else:
            resolved = penalty
            warnings.warn(_PENALTY_DEPRECATION, FutureWarning)
        if resolved != "elasticnet" and (l1_ratio is not None and 0 < l1_ratio < 1):
            warnings.warn("l1_ratio parameter is only used when penalty is "
                          f"'elasticnet'. Got (penalty={resolved})")
        if (penalty == "l2" and l1_ratio != 0) or (penalty == "l1" and l1_ratio != 1):
            warnings.warn(f"Inconsistent values: penalty={penalty} with "
                          f"l1_ratio={l1_ratio}. penalty is deprecated. Please use "
                          "l1_ratio only.")
    else:
        resolved = penalty
        if penalty != "elasticnet" and l1_ratio is not None:
            warnings.warn("l1_ratio parameter is only used when penalty is "
                          f"'elasticnet'. Got (penalty={penalty})")
    if resolved == "elasticnet" and l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    if penalty is None and C != 1.0:
        warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters")
    if L1_RATIO_SELECTS_PENALTY and n_jobs is not None:
        warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. "
                      f"You provided 'n_jobs={n_jobs}', please leave it unspecified.",
                      FutureWarning)
    if resolved is None or C == np.inf:
        return None
    return {"l1": 1.0, "l2": 0.0}.get(resolved, l1_ratio)


def _class_weights(class_weight, classes, y, sample_weight):
    """scikit-learn's per-class weights (with ``sample_weight`` where it takes them)."""
    kwargs = {"sample_weight": sample_weight} if _CW_TAKES_SW else {}
    return compute_class_weight(class_weight, classes=classes, y=y, **kwargs)


class LogisticRegression(LinearClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Logistic regression (binary or multinomial), L1 / L2 / elastic net, proximal Newton.

    A drop-in for :class:`sklearn.linear_model.LogisticRegression` of the
    installed scikit-learn: the same parameters, defaults, constraints,
    penalty rules and warnings, minimising the same objective (see Notes) with
    a working-set proximal Newton solver that touches only the features that
    can be nonzero, which is what makes L1 fits on wide data fast. Two classes
    give one coefficient vector (binomial loss); three or more give one per
    class (multinomial / softmax loss, as scikit-learn >= 1.5 does for every
    solver but liblinear).

    Parameters
    ----------
    penalty : {'l1', 'l2', 'elasticnet'} or None, default as scikit-learn's
        ``'deprecated'`` from scikit-learn 1.8 (``l1_ratio`` and ``C`` choose
        the penalty; any other value warns as there), ``'l2'`` before.
    C : float, default=1.0
        Inverse regularisation strength (> 0; ``np.inf`` for no penalty).
    l1_ratio : float or None, default as scikit-learn's
        ``0.0`` from 1.8, where it selects the penalty (1: L1, 0: L2, between:
        elastic net); ``None`` before, where it mixes ``penalty='elasticnet'`` only.
    dual, intercept_scaling, random_state : scikit-learn's
        Used by scikit-learn's liblinear / sag / saga solvers only; fastprox's
        primal solver ignores them (``dual=True`` needs ``solver='liblinear'``).
    tol : float, default=1e-4
        fastprox's solver stops when every coefficient's KKT violation,
        measured on the objective divided by ``C * sum(sample_weight)``
        (mean log-loss scale), is ``<= tol``; with an explicit ``solver``,
        scikit-learn's meaning for that solver.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (one per class when multinomial).
    class_weight : dict, 'balanced' or None, default=None
        As in scikit-learn: multiplies ``sample_weight`` by the weight of each
        sample's class (fitted natively).
    solver : {'lbfgs', 'liblinear', 'newton-cg', 'newton-cholesky', 'sag', \
'saga'} or None, default=None
        None: fastprox's working-set proximal Newton; without an L1 term and
        without a warm start, scikit-learn's lbfgs iteration (same iterates and
        ``n_iter_``) on fastprox's loss kernels, finished by Newton where it
        stops above ``tol``. A
        scikit-learn solver name runs scikit-learn's ``LogisticRegression``
        with that solver, exactly as requested (its errors included), and
        copies its fitted attributes here.
    max_iter : int, default=100
        Maximum number of outer (full-gradient) iterations; 0 runs
        scikit-learn's fit (which returns its starting point).
    multi_class : only where the installed scikit-learn still has it
        Its default runs natively; any other value runs scikit-learn's fit.
    verbose : int, default=0
        Used by scikit-learn's solvers only.
    warm_start : bool, default=False
        Start from the previous ``coef_`` / ``intercept_`` when their shape fits.
    n_jobs : int or None, default=None
        Unused (scikit-learn >= 1.8 warns, as it does).

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
    Objective: ``C sum_i sw_i loss_i + rho ||W||_1 + (1 - rho)/2 ||W||_F^2``;
    binary ``loss_i = log(1 + exp(-y_i (x_i w + b)))`` with ``y_i`` in
    {-1, +1} (``classes_[1]`` is +1); multinomial ``loss_i =
    logsumexp(W x_i + b) - (W x_i + b)_{y_i}``. Without a penalty the
    multinomial parametrisation is over-complete (adding one vector to every
    row of ``W`` changes nothing), so only the objective and the
    probabilities are unique. ``X`` keeps its dtype (computations accumulate
    in float64); dense ``X`` is read in the order given, sparse ``X`` is used as
    CSC and never densified. Negative sample weights (a non-convex problem for
    the Newton solver) run scikit-learn's fit.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from fastprox.linear_model import LogisticRegression
    >>> X, y = make_classification(200, 50, random_state=0)
    >>> clf = LogisticRegression(l1_ratio=1.0, C=0.1).fit(X, y)
    >>> clf.coef_.shape
    (1, 50)
    """

    # the installed scikit-learn's constraints; solver may also be None (fastprox's)
    _parameter_constraints: dict = {**_SkLogisticRegression._parameter_constraints,
                                    "solver": [StrOptions(_SK_SOLVERS), None]}

    if _HAS_MULTI_CLASS:  # scikit-learn < 1.8  # pragma: no cover
        def __init__(self, penalty=_SK_DEFAULTS["penalty"], *, C=1.0,
                     l1_ratio=_SK_DEFAULTS["l1_ratio"], dual=False, tol=1e-4,
                     fit_intercept=True, intercept_scaling=1, class_weight=None,
                     random_state=None, solver=None, max_iter=100,
                     multi_class=_SK_DEFAULTS["multi_class"], verbose=0, warm_start=False,
                     n_jobs=None):
            self.multi_class = multi_class
            self._set(locals())
    else:
        def __init__(self, penalty=_SK_DEFAULTS["penalty"], *, C=1.0,
                     l1_ratio=_SK_DEFAULTS["l1_ratio"], dual=False, tol=1e-4,
                     fit_intercept=True, intercept_scaling=1, class_weight=None,
                     random_state=None, solver=None, max_iter=100, verbose=0,
                     warm_start=False, n_jobs=None):
            self._set(locals())

    def _set(self, params):
        for name in ("penalty", "C", "l1_ratio", "dual", "tol", "fit_intercept",
                     "intercept_scaling", "class_weight", "random_state", "solver",
                     "max_iter", "verbose", "warm_start", "n_jobs"):
            setattr(self, name, params[name])

    def _fallback_reason(self):
        """Why this configuration runs scikit-learn's fit (None: it runs fastprox's)."""
        if self.solver is not None:
            return f"solver={self.solver!r} requested"
        if self.max_iter == 0:
            return "max_iter=0"
        if _HAS_MULTI_CLASS and self.multi_class != _SK_DEFAULTS["multi_class"]:
            return f"multi_class={self.multi_class!r}"  # pragma: no cover
        return None

    def _sklearn_fit(self, reason, X, y, sample_weight):
        solver = self.solver
        if solver is None:  # scikit-learn's solver for the penalty fastprox would fit
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rho = effective_penalty(self.penalty, self.C, self.l1_ratio)
            solver = "saga" if rho not in (None, 0.0) else "lbfgs"
        return fit_with_sklearn(self, _SkLogisticRegression, reason, X, y,
                                params={"solver": solver}, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Two classes or more.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the log-loss (scikit-learn's meaning).

        Returns
        -------
        self : LogisticRegression
        """
        reason = self._fallback_reason()
        if reason is not None:
            return self._sklearn_fit(reason, X, y, sample_weight)
        if self.dual:
            raise ValueError("fastprox's solver is primal: dual=True needs "
                             "solver='liblinear' (scikit-learn's, run as requested)")
        rho = effective_penalty(self.penalty, self.C, self.l1_ratio, self.n_jobs)
        X_in, y_in = X, y
        check_sparse_structure(X)  # before any conversion reads it
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"],
                             dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}")
        self.classes_ = classes
        n, p = X.shape
        codes = np.searchsorted(classes, y)
        sw = None
        if sample_weight is not None or self.class_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if self.class_weight is not None:
                sw = sw * _class_weights(self.class_weight, classes, y, sw)[codes]
            if np.any(sw < 0):
                return self._sklearn_fit("negative sample weights", X_in, y_in,
                                         sample_weight)
            if np.unique(y[sw > 0]).size < 2:
                raise ValueError("sample_weight leaves samples of only one class with a "
                                 "positive weight; two classes are needed")
            sw_sum = float(sw.sum())
            # weights rescaled to mean 1 and the penalty by n / sum(sw): the
            # objective divided by C * sum(sw), same minimiser
            sw = sw * (n / sw_sum)
        total = n if sw is None else sw_sum
        scale = 0.0 if rho is None else 1.0 / (self.C * total)
        rho = 0.0 if rho is None else rho
        l1, l2 = rho * scale, (1.0 - rho) * scale
        sw_n = np.full(n, 1.0 / n) if sw is None else sw / n
        if classes.size == 2:
            datafit = Binomial(np.where(codes == 1, 1.0, -1.0), sw_n)
        else:
            datafit = Multinomial(codes, classes.size, sw_n)
        K = datafit.n_blocks
        warm = self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (K, p)
        # cold fits without an L1 term: scikit-learn's own L-BFGS iteration on
        # fastprox's kernels; warm starts (the CV paths) stay with Newton, which
        # needs few steps near the optimum (docs/design/logistic-l2-default.md)
        smooth = l1 == 0 and not warm
        if warm:
            W = np.array(self.coef_, dtype=np.float64, order="C")
            b = (np.array(self.intercept_, dtype=np.float64).reshape(K) if self.fit_intercept
                 else np.zeros(K))
        else:
            W = np.zeros((K, p))
            b = np.zeros(K)
            if self.fit_intercept and not smooth:
                # the optimum at W = 0: log-odds (binary) or log-frequencies
                freq = np.bincount(codes, weights=sw_n, minlength=classes.size)
                freq = np.clip(freq / freq.sum(), 1e-12, None)
                b = (np.log(freq[1:] / freq[0]) if K == 1
                     else np.log(freq) - np.log(freq).mean())
        n_iter, converged = 0, False
        if smooth:
            n_iter, converged = logistic_lbfgs(X, datafit, W, b, l2,
                                               fit_intercept=bool(self.fit_intercept),
                                               tol=self.tol, max_iter=self.max_iter)
        if not converged:
            # L1 terms; or L-BFGS stopped short (max_iter, or a line search at the
            # rounding floor of a tight tol): proximal Newton from where it is
            more, converged, _ = logistic_ws_newton(
                LogisticDesign(X), datafit, W, b, l1, l2,
                fit_intercept=bool(self.fit_intercept), tol=self.tol, max_iter=self.max_iter)
            n_iter += more
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

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``, as scikit-learn's.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
        """
        check_sparse_structure(X)  # SciPy's product would read a malformed X out of bounds
        return super().decision_function(X)

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
