"""Logistic regression with cross-validated ``C`` (and ``l1_ratio``): ``LogisticRegressionCV``.

A drop-in for :class:`sklearn.linear_model.LogisticRegressionCV` of the
installed scikit-learn. Each fold fits fastprox's proximal Newton
``LogisticRegression`` along the ``C`` grid with warm starts
(``_logistic_cv_path.py``); choosing ``C`` / ``l1_ratio``, the refit and the
fitted attributes follow scikit-learn's ``fit`` line by line. An explicit
scikit-learn ``solver`` and the other combinations of the README's table run
scikit-learn's own estimator (``_fallback.py``).
"""
import inspect
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
# the private module: patch_sklearn never replaces it
from sklearn.linear_model._logistic import LogisticRegressionCV as _SkLogisticRegressionCV
from sklearn.model_selection import check_cv
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from .._validation import check_sparse_structure
from ._fallback import fit_with_sklearn
from ._logistic import _SK_SOLVERS, LogisticRegression
from ._logistic_cv_path import fold_path, fold_scorer, penalty_share, refit_best
from ._logistic_cv_attributes import publish

__all__ = ["LogisticRegressionCV"]

_SK_DEFAULTS = {name: prm.default for name, prm in
                inspect.signature(_SkLogisticRegressionCV.__init__).parameters.items()}
# fastprox's fit mirrors scikit-learn >= 1.8 (l1_ratios select the penalty, the
# use_legacy_attributes layouts); older versions run their own fit
_MIRRORED = "use_legacy_attributes" in _SK_DEFAULTS and "multi_class" not in _SK_DEFAULTS

_PENALTY_DEPRECATION = (
    "'penalty' was deprecated in version 1.8 and will be removed in"
    " 1.10. To avoid this warning, leave 'penalty' set to its default"
    " value and use 'l1_ratios' and 'Cs' instead."
    " Use l1_ratios=(0,) instead of penalty='l2',"
    " l1_ratios=(1,) instead of penalty='l1',"
    " l1_ratios set to floats between 0 and 1 instead of"
    " penalty='elasticnet', and Cs=(np.inf,) instead of penalty=None.")


def _resolve_penalty(penalty, l1_ratios):
    """scikit-learn's (>= 1.8) penalty for ``penalty`` / ``l1_ratios``, with its warnings.

    Returns the resolved penalty name and the ``l1_ratios`` grid (None for the default).
    """
    if isinstance(l1_ratios, str) and l1_ratios == "warn":
        l1_ratios = None
        warnings.warn("The default value for l1_ratios will change from None to (0.0,) "
                      "in version 1.10. From version 1.10 onwards, only array-like "
                      "with values in [0, 1] will be allowed, None will be forbidden. "
                      "To avoid this warning, explicitly set a value, "
                      "e.g. l1_ratios=(0,).", FutureWarning)
    elif l1_ratios is None and penalty == "deprecated":
        warnings.warn("'l1_ratios=None' was deprecated in version 1.8 and will "
                      "trigger an error in 1.10. Use an array-like with values"
                      "in [0, 1] instead.", FutureWarning)
    if penalty != "deprecated":
        warnings.warn(_PENALTY_DEPRECATION, FutureWarning)
        return penalty, l1_ratios
    if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
        return "l2", l1_ratios
    if np.all(np.asarray(l1_ratios) == 1):
        return "l1", l1_ratios
    return "elasticnet", l1_ratios


def _l1_ratio_grid(penalty, l1_ratios, penalty_param):
    """The ``l1_ratio`` values searched (``[None]`` without a grid), checked as scikit-learn."""
    if penalty == "elasticnet":
        if (l1_ratios is None or len(l1_ratios) == 0
                or any(not isinstance(r, numbers.Number) or r < 0 or r > 1
                       for r in l1_ratios)):
            raise ValueError("l1_ratios must be an array-like of numbers between "
                             "0 and 1; got (l1_ratios=%r)" % (l1_ratios,))
        return l1_ratios
    if l1_ratios is not None and penalty_param != "deprecated":
        warnings.warn("l1_ratios parameter is only used when penalty "
                      f"is 'elasticnet'. Got (penalty={penalty})")
    return [None] if l1_ratios is None else l1_ratios


class LogisticRegressionCV(LogisticRegression):
    """Logistic regression with built-in cross-validation of ``C`` and ``l1_ratio``.

    A drop-in for :class:`sklearn.linear_model.LogisticRegressionCV` of the
    installed scikit-learn: the same parameters, defaults, constraints,
    penalty rules, warnings, choice of ``C`` / ``l1_ratio`` and fitted
    attributes (with their shapes, ``use_legacy_attributes`` included). Each
    fold's grid is fitted by fastprox's working-set proximal Newton
    :class:`LogisticRegression`, from the smallest ``C`` up, each fit
    warm-started from the previous one.

    Parameters
    ----------
    Cs : int or array-like, default=10
        Grid of ``C``; an int ``n`` means ``np.logspace(-4, 4, n)``.
    l1_ratios : array-like or None, default as scikit-learn's
        Grid of ``l1_ratio`` (0: L2, 1: L1, between: elastic net).
    fit_intercept : bool, default=True
    cv : int, cross-validation generator or iterable, default=None
        scikit-learn's ``check_cv(cv, y, classifier=True)`` (5 stratified folds).
    dual, intercept_scaling, random_state, verbose : scikit-learn's
        Used by scikit-learn's solvers only; ``dual=True`` runs scikit-learn's fit.
    penalty : deprecated as in scikit-learn >= 1.8
    scoring : str, callable or None, default as scikit-learn's
        ``None`` (or the default) scores by accuracy.
    solver : {'lbfgs', 'liblinear', 'newton-cg', 'newton-cholesky', 'sag', \
'saga'} or None, default=None
        None: fastprox's solver. A scikit-learn solver name runs scikit-learn's
        ``LogisticRegressionCV`` with it, exactly as requested.
    tol : float, default=1e-4
        Tolerance of each fit (fastprox's solver: see :class:`LogisticRegression`).
    max_iter : int, default=100
        Per fit; 0 runs scikit-learn's fit.
    class_weight : dict, 'balanced' or None, default=None
        ``'balanced'`` weights are computed once on the whole ``y``, as
        scikit-learn does.
    n_jobs : int or None, default=None
        Unused by fastprox's path (folds run one after the other; each fit
        uses the threads of ``fastprox.set_num_threads``).
    refit : bool, default=True
        True: refit on all the data at the best ``C`` / ``l1_ratio`` (best
        mean score over the folds). False: average the folds' coefficients,
        each at its own best grid point.
    use_legacy_attributes : bool, default as scikit-learn's
        The layout of ``C_``, ``l1_ratio_``, ``coefs_paths_``, ``scores_``, ``n_iter_``.

    Attributes
    ----------
    classes_, coef_, intercept_, Cs_, l1_ratios_, coefs_paths_, scores_, C_, \
l1_ratio_, n_iter_, n_features_in_, feature_names_in_
        As scikit-learn's, same shapes. ``n_iter_`` counts fastprox's outer
        iterations.

    Notes
    -----
    Fitted per fold: ``C sum_i sw_i loss_i + rho ||W||_1 + (1 - rho)/2 ||W||_F^2``
    (:class:`LogisticRegression`). Routed metadata (``groups`` for the
    splitter, scorer parameters), negative ``sample_weight`` and a training
    fold that misses a class run scikit-learn's fit.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastprox.linear_model import LogisticRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegressionCV(Cs=5, l1_ratios=(0.0,), scoring="accuracy",
    ...                            use_legacy_attributes=False).fit(X, y)
    >>> clf.coefs_paths_.shape
    (5, 1, 5, 3, 5)
    """

    _parameter_constraints: dict = {**_SkLogisticRegressionCV._parameter_constraints,
                                    "solver": [StrOptions(_SK_SOLVERS), None]}

    if "multi_class" in _SK_DEFAULTS:  # scikit-learn < 1.8  # pragma: no cover
        def __init__(self, *, Cs=10, fit_intercept=True, cv=None, dual=False,
                     penalty=_SK_DEFAULTS["penalty"], scoring=None, solver=None, tol=1e-4,
                     max_iter=100, class_weight=None, n_jobs=None, verbose=0, refit=True,
                     intercept_scaling=1.0, multi_class=_SK_DEFAULTS["multi_class"],
                     random_state=None, l1_ratios=None):
            self.multi_class = multi_class
            self._set(locals())
    else:
        def __init__(self, *, Cs=10, l1_ratios=_SK_DEFAULTS["l1_ratios"], fit_intercept=True,
                     cv=None, dual=False, penalty=_SK_DEFAULTS["penalty"],
                     scoring=_SK_DEFAULTS["scoring"], solver=None, tol=1e-4, max_iter=100,
                     class_weight=None, n_jobs=None, verbose=0, refit=True,
                     intercept_scaling=1.0, random_state=None,
                     use_legacy_attributes=_SK_DEFAULTS.get("use_legacy_attributes", True)):
            self.use_legacy_attributes = use_legacy_attributes
            self._set(locals())

    def _set(self, params):
        for name in ("Cs", "l1_ratios", "fit_intercept", "cv", "dual", "penalty", "scoring",
                     "solver", "tol", "max_iter", "class_weight", "n_jobs", "verbose", "refit",
                     "intercept_scaling", "random_state"):
            setattr(self, name, params[name])

    # scikit-learn's own scoring, routing and score (same scorer, same messages)
    __metadata_request__score = getattr(_SkLogisticRegressionCV,
                                        "_LogisticRegressionCV__metadata_request__score", {})
    _get_scorer = _SkLogisticRegressionCV._get_scorer
    get_metadata_routing = _SkLogisticRegressionCV.get_metadata_routing
    score = _SkLogisticRegressionCV.score

    def _fallback_reason(self, params, sample_weight):
        """Why this fit runs scikit-learn's (None: fastprox's), before any data is read."""
        if self.solver is not None:
            return f"solver={self.solver!r} requested"
        if not _MIRRORED:  # pragma: no cover
            return "scikit-learn < 1.8 (its own penalty rules and attributes)"
        if params or _routing_enabled():
            return "routed metadata"
        if self.dual:
            return "dual=True"
        if self.max_iter == 0:
            return "max_iter=0"
        if sample_weight is not None and np.any(np.asarray(sample_weight) < 0):
            return "negative sample weights"
        return None

    def _sklearn_fit(self, reason, X, y, sample_weight, params, cv=None):
        solver = self.solver
        if solver is None:  # scikit-learn's solver for the penalty fastprox would fit
            ratios = self.l1_ratios
            l2 = (self.penalty == "l2" if self.penalty != "deprecated" else
                  ratios is None or isinstance(ratios, str) or np.all(np.asarray(ratios) == 0))
            solver = "lbfgs" if l2 else "saga"
        extra = {"solver": solver} if cv is None else {"solver": solver, "cv": cv}
        if sample_weight is not None:
            params = {**params, "sample_weight": sample_weight}
        return fit_with_sklearn(self, _SkLogisticRegressionCV, reason, X, y, params=extra,
                                **params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the model along the grid on every fold; choose ``C`` and ``l1_ratio``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the fits and of the fold scores.
        **params : dict
            Metadata for the splitter and the scorer (scikit-learn's routing):
            runs scikit-learn's fit.

        Returns
        -------
        self : LogisticRegressionCV
        """
        reason = self._fallback_reason(params, sample_weight)
        if reason is not None:
            return self._sklearn_fit(reason, X, y, sample_weight, params)
        X_in, y_in = X, y
        penalty, l1_ratios = _resolve_penalty(self.penalty, self.l1_ratios)
        scoring = None if self.scoring == "warn" else self.scoring
        if self.scoring == "warn":
            warnings.warn("The default value of the parameter 'scoring' will change from "
                          "None, i.e. accuracy, to 'neg_log_loss' in version 1.11. To "
                          "silence this warning, explicitly set the scoring parameter: "
                          "scoring='neg_log_loss' for the new, scoring='accuracy' or "
                          "scoring=None for the old default.", FutureWarning)
        legacy = self.use_legacy_attributes
        if legacy == "warn":
            name = type(self).__name__
            warnings.warn(
                f"The fitted attributes of {name} will be "
                "simplified in scikit-learn 1.10 to remove redundancy. Set"
                "`use_legacy_attributes=False` to enable the new behavior now, or "
                "set it to `True` to silence this warning during the transition period "
                "while keeping the deprecated behavior for the time being. The default "
                "value of use_legacy_attributes will change from True to False in "
                f"scikit-learn 1.10. See the docstring of {name} "
                "for more details.", FutureWarning)
            legacy = True
        l1_ratios_ = _l1_ratio_grid(penalty, l1_ratios, self.penalty)
        check_sparse_structure(X)  # before any conversion reads it
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64, order="C")
        check_classification_targets(y)
        classes = self.classes_ = np.unique(y)
        if classes.size < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]}.")
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        if any(np.unique(y[train]).size < classes.size for train, _ in folds):
            with warnings.catch_warnings():  # already given above
                warnings.simplefilter("ignore", FutureWarning)
                return self._sklearn_fit("a training fold misses a class", X_in, y_in,
                                         sample_weight, params, cv=folds)
        class_weight = self._class_weight_dict(y, sample_weight)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        Cs = np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, numbers.Integral) \
            else np.asarray(self.Cs, dtype=np.float64)
        kw = dict(fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
                  class_weight=class_weight)
        results = []
        for train, test in folds:
            X_train = X[train].tocsc() if sp.issparse(X) else np.asfortranarray(X[train])
            sw_train = None if sw is None else sw[train]
            score = fold_scorer(scoring, classes, X, y, test, sample_weight)
            for l1_ratio in l1_ratios_:
                results.append(fold_path(X_train, y[train], sw_train, score, Cs,
                                         penalty_share(penalty, l1_ratio), **kw))

        def refit(C, l1_ratio, coef_init):
            return refit_best(X, y, sw, C, penalty_share(penalty, l1_ratio), coef_init, **kw)

        publish(self, results, Cs, folds, l1_ratios, l1_ratios_, penalty,
                refit if self.refit else None, legacy)
        return self

    def _class_weight_dict(self, y, sample_weight):
        """``class_weight`` as scikit-learn's CV passes it to each fold (checked, a dict)."""
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            if not set(class_weight.keys()) <= set(self.classes_):
                raise ValueError("The given class_weight dict must have the class labels as "
                                 f"keys; classes={self.classes_} but "
                                 f"key={class_weight.keys()}")
        elif class_weight == "balanced":
            weights = compute_class_weight(class_weight, classes=self.classes_, y=y,
                                           sample_weight=sample_weight)
            class_weight = dict(zip(self.classes_, weights))
        return class_weight
