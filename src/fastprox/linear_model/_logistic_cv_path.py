"""The cross-validation path of ``LogisticRegressionCV``: one fold, the whole ``C`` grid.

For one training fold and one ``l1_ratio``, :func:`fold_path` fits
:class:`~fastprox.linear_model.LogisticRegression` along the ``C`` grid from
the smallest ``C`` (strongest penalty, sparsest model) up, each fit
warm-started from the previous solution, and scores every fit on the held-out
fold with :func:`fold_scorer`, which builds the score function exactly as
scikit-learn's ``_log_reg_scoring_path`` does (accuracy by default, class
labels passed to the scorers that take them). The results come back in
scikit-learn's layout: coefficients with the intercept as last column.

Warm starts are the point: along a grid of increasing ``C`` the solution
moves little from one ``C`` to the next, and the working-set solver starts
from the previous support (Friedman, Hastie & Tibshirani, "Regularization
paths for generalized linear models via coordinate descent", JSS 2010).
"""
import inspect

import numpy as np
from sklearn.metrics import get_scorer, make_scorer
from sklearn.utils.validation import _check_method_params

from ._logistic import LogisticRegression

__all__ = ["fold_path", "fold_scorer", "penalty_share", "stacked", "refit_best"]


def penalty_share(penalty, l1_ratio):
    """Share of the L1 term for scikit-learn's resolved ``penalty`` and a grid ``l1_ratio``."""
    return {"l1": 1.0, "l2": 0.0}.get(penalty, l1_ratio)


def stacked(clf):
    """``coef_`` with ``intercept_`` as last column, 1-D for two classes (scikit-learn's ``w``)."""
    w = np.hstack([clf.coef_, clf.intercept_.reshape(-1, 1)]) if clf.fit_intercept \
        else np.array(clf.coef_)
    return w[0] if w.shape[0] == 1 else w


def fold_scorer(scoring, classes, X, y, test, sample_weight):
    """The score function of one fold, as scikit-learn's ``_log_reg_scoring_path`` builds it.

    Parameters
    ----------
    scoring : str, callable or None
        None: the estimator's ``score`` (accuracy, weighted by the test
        weights); otherwise ``get_scorer(scoring)``, rebuilt with
        ``labels=classes`` (and ``pos_label=classes[-1]`` for two classes)
        when its metric takes ``labels``, since a test fold may miss a class.
    classes : ndarray, all the classes of ``y``
    X, y : the whole validated data; ``test`` indexes the held-out fold
    sample_weight : ndarray or None
        Passed to the scorer, restricted to the fold.

    Returns
    -------
    score : callable ``score(estimator) -> float``
    """
    X_test, y_test = X[test], y[test]
    params = {} if sample_weight is None else {"sample_weight": sample_weight}
    params = _check_method_params(X, params=params, indices=test)
    scorer = get_scorer(scoring)
    if scorer is None:
        return lambda est: est.score(X_test, y_test, sample_weight=params.get("sample_weight"))
    sig = (inspect.signature(scorer._score_func).parameters
           if hasattr(scorer, "_score_func") else [])
    if "labels" in sig:
        pos_label = ({"pos_label": classes[-1]}
                     if len(classes) <= 2 and "pos_label" in sig else {})
        scorer = make_scorer(scorer._score_func, greater_is_better=scorer._sign == 1,
                             response_method=scorer._response_method, labels=classes,
                             **pos_label, **getattr(scorer, "_kwargs", {}))
    return lambda est: scorer(est, X_test, y_test, **params)


def _solver_for(rho, C, *, fit_intercept, tol, max_iter, class_weight):
    """fastprox's ``LogisticRegression`` fitting ``rho`` at ``C`` (no warning of its own)."""
    # at C = inf there is no penalty: l1_ratio=0 keeps the estimator from
    # warning that an l1_ratio in (0, 1) is unused
    return LogisticRegression(C=C, l1_ratio=rho if np.isfinite(C) else 0.0, tol=tol,
                              max_iter=max_iter, fit_intercept=fit_intercept,
                              class_weight=class_weight, warm_start=True)


def fold_path(X_train, y_train, sample_weight, score, Cs, rho, *, fit_intercept, tol,
              max_iter, class_weight):
    """Fits along ``Cs`` (increasing ``C``, warm-started) on one fold, scored by ``score``.

    Parameters
    ----------
    X_train : ndarray (Fortran-ordered) or CSC matrix, float64
    y_train : ndarray, every class of the whole data present
    sample_weight : ndarray or None
    score : callable from :func:`fold_scorer`
    Cs : ndarray of shape (n_cs,)
        In the user's order; fitted in increasing order, returned in the user's.
    rho : float
        Share of the L1 term.
    fit_intercept, tol, max_iter : the estimator's
    class_weight : dict or None
        Weights of the whole data's classes (``'balanced'`` resolved by the caller).

    Returns
    -------
    coefs : ndarray of shape (n_cs, n_dof) or (n_cs, n_classes, n_dof)
        ``n_dof = n_features + fit_intercept``, intercept last.
    scores : ndarray of shape (n_cs,)
    n_iter : ndarray of shape (n_cs,), int32
    """
    coefs, scores = [None] * len(Cs), np.empty(len(Cs))
    n_iter = np.zeros(len(Cs), dtype=np.int32)
    clf = None
    for j in np.argsort(Cs, kind="stable"):
        C = float(Cs[j])
        if clf is None:
            clf = _solver_for(rho, C, fit_intercept=fit_intercept, tol=tol,
                              max_iter=max_iter, class_weight=class_weight)
        else:  # warm start: coef_ / intercept_ of the previous C are the start
            clf.set_params(C=C, l1_ratio=rho if np.isfinite(C) else 0.0)
        clf.fit(X_train, y_train, sample_weight=sample_weight)
        coefs[j] = stacked(clf)
        n_iter[j] = clf.n_iter_[0]
        scores[j] = score(clf)
    return np.array(coefs), scores, n_iter


def refit_best(X, y, sample_weight, C, rho, coef_init, *, fit_intercept, tol, max_iter,
               class_weight):
    """Fit on all the data at the chosen ``C`` and ``rho``, starting from ``coef_init``.

    ``coef_init`` is scikit-learn's start: the mean over the folds of the
    coefficients at the best grid point, intercept last (1-D for two classes).
    Returns ``w`` in the same layout.
    """
    clf = _solver_for(rho, C, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                      class_weight=class_weight)
    w0 = np.atleast_2d(coef_init)
    p = X.shape[1]
    clf.coef_ = np.ascontiguousarray(w0[:, :p])
    clf.intercept_ = w0[:, p] if fit_intercept else np.zeros(w0.shape[0])
    clf.fit(X, y, sample_weight=sample_weight)
    return stacked(clf)
