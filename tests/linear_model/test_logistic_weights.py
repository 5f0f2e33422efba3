"""LogisticRegression: integer sample weights are repeated rows, at any tol.

scikit-learn's ``check_sample_weight_equivalence`` compares the two fits at the
default ``tol`` to ``rtol=1e-7``; the solver's iterates must therefore be the
same sequence for both, not only converge to the same optimum.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import shuffle

from fastprox.linear_model import LogisticRegression


def _weighted_and_repeated(n_classes, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(40, 12)
    y = rng.randint(0, n_classes, size=40)
    sw = rng.randint(0, 4, size=40)
    sw[:n_classes] = 1  # every class keeps a row
    y[:n_classes] = np.arange(n_classes)
    Xw, yw, sww = shuffle(X, y, sw, random_state=0)
    return X, (Xw, yw, sww), (X.repeat(sw, axis=0), y.repeat(sw))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("C, tol, rtol", [(0.1, 1e-4, 1e-7), (10.0, 1e-4, 1e-7),
                                          (1e3, 1e-10, 1e-6)])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("sparse", [False, True])
def test_weights_are_repeated_rows(n_classes, C, tol, rtol, l1_ratio, sparse):
    # at C=1e3 the exact support step may fire (its cost estimate counts rows,
    # which repetition changes): same optimum, compared at a tight tol
    if sparse and C > 100 and n_classes > 2:
        pytest.skip("sparse multinomial at C=1e3 stops at its rounding floor before "
                    "tol=1e-10 (uncentred CSC columns); covered at C <= 10")
    X, (Xw, yw, sww), (Xr, yr) = _weighted_and_repeated(n_classes)
    if sparse:
        Xw, Xr = sp.csr_array(Xw), sp.csr_array(Xr)
    params = dict(C=C, l1_ratio=l1_ratio, tol=tol, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = LogisticRegression(**params).fit(Xw, yw, sample_weight=sww)
        repeated = LogisticRegression(**params).fit(Xr, yr)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=rtol)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=10 * rtol, atol=1e-9)


def test_multinomial_intercept_step_ignores_the_common_shift():
    # digits, pure L1, C=10: the intercepts' Hessian had a rounding eigenvalue of
    # ~1e-18 along (1, ..., 1); its pseudo-inverse made the step 1e13 and the
    # fit stopped after 8 iterations, 1.4 % above the optimum (ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    train = list(StratifiedKFold(3).split(X, y))[2][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = LogisticRegression(C=10.0, l1_ratio=1.0, tol=1e-9).fit(X[train], y[train])
    Z = X[train] @ m.coef_.T + m.intercept_
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    P[np.arange(train.size), np.searchsorted(m.classes_, y[train])] -= 1.0
    grad = 10.0 * P.T @ X[train]
    # KKT of C sum loss + ||W||_1: |grad| <= 1 at zeros, grad = -sign(w) elsewhere
    nz = m.coef_ != 0
    assert np.all(np.abs(grad[~nz]) <= 1 + 1e-4)
    np.testing.assert_allclose(grad[nz], -np.sign(m.coef_[nz]), atol=1e-4)
