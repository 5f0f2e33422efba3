"""Weak regularisation (large C): the proximal Newton solver against scikit-learn's objective.

See docs/design/logistic-newton.md ("Large C"): at C >= 100 on
make_classification(300, 30) the CD sweeps of each Newton step barely move an
ill-conditioned model; a stalled working-set solve then takes exact Newton
steps on the support (``_newton_support.py``).
"""
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from fastprox.linear_model import LogisticRegression
from fastprox.linear_model._logistic import L1_RATIO_SELECTS_PENALTY

# written in scikit-learn 1.8+'s spelling (``l1_ratio`` selects the penalty, here
# and in the scikit-learn references); the version is parsed once, in _logistic
pytestmark = pytest.mark.skipif(not L1_RATIO_SELECTS_PENALTY,
                                reason="scikit-learn < 1.8 spells the penalty with penalty=")


def _objective(clf, X, y, C, rho):
    Z = X @ clf.coef_.T + clf.intercept_
    if clf.coef_.shape[0] == 1:
        s = np.where(y == clf.classes_[1], 1.0, -1.0)
        loss = np.logaddexp(0.0, -s * Z[:, 0]).sum()
    else:
        codes = np.searchsorted(clf.classes_, y)
        loss = (logsumexp(Z, axis=1) - Z[np.arange(y.size), codes]).sum()
    W = clf.coef_
    return C * loss + rho * np.abs(W).sum() + 0.5 * (1.0 - rho) * (W * W).sum()


@pytest.mark.parametrize("n_classes, rho", [(2, 0.0), (3, 0.0), (2, 1.0), (2, 0.5), (3, 0.5)])
def test_large_C_reaches_sklearn_objective_quickly(n_classes, rho):
    X, y = make_classification(300, 30, n_informative=10, n_classes=n_classes,
                               random_state=0)
    C = 1e4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # saga reaches no tol here (100,000 epochs, 13-30 s, still 2e-8 .. 7e-7
        # above our objective, relative): 10,000 epochs keep the test short
        ref = SkLogisticRegression(C=C, l1_ratio=rho, tol=1e-10,
                                   max_iter=100000 if rho == 0 else 10000,
                                   solver="lbfgs" if rho == 0 else "saga").fit(X, y)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = LogisticRegression(C=C, l1_ratio=rho, tol=1e-8).fit(X, y)
    assert time.perf_counter() - start < 1.0
    f, f_ref = _objective(clf, X, y, C, rho), _objective(ref, X, y, C, rho)
    # tol is on the objective divided by C n
    assert f - f_ref <= 1e-8 * C * X.shape[0]


@pytest.mark.parametrize("n_classes, rho, fit_intercept",
                         [(2, 0.0, True), (2, 1.0, False), (3, 0.5, True), (3, 1.0, False)])
def test_large_C_sparse_and_weighted_agree(n_classes, rho, fit_intercept):
    # the exact step on a CSC working set (sparse Hessian products) and with
    # sample weights: same optimum as dense input and as repeated rows
    X, y = make_classification(120, 12, n_informative=6, n_classes=n_classes,
                               random_state=1)
    X[np.abs(X) < 0.5] = 0.0
    k = np.random.default_rng(0).integers(0, 3, y.size)
    kw = dict(C=1e4, l1_ratio=rho, tol=1e-8, fit_intercept=fit_intercept, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        dense = LogisticRegression(**kw).fit(X, y)
        sparse = LogisticRegression(**kw).fit(sp.csr_matrix(X), y)
        weighted = LogisticRegression(**kw).fit(X, y, sample_weight=k)
        repeated = LogisticRegression(**kw).fit(np.repeat(X, k, axis=0), np.repeat(y, k))
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), atol=1e-7)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               atol=1e-7)


def test_budget_spent_warns_promptly():
    X, y = make_classification(300, 30, n_informative=10, random_state=0)
    start = time.perf_counter()
    with pytest.warns(ConvergenceWarning):
        LogisticRegression(C=1e4, tol=1e-8, max_iter=3).fit(X, y)
    assert time.perf_counter() - start < 2.0
