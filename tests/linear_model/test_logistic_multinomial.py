"""Multinomial fastprox.linear_model.LogisticRegression against scikit-learn."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning

from fastprox.linear_model import LogisticRegression
from fastprox.linear_model._logistic import L1_RATIO_SELECTS_PENALTY

# written in scikit-learn 1.8+'s spelling (``l1_ratio`` selects the penalty, here
# and in the scikit-learn references); the version is parsed once, in _logistic
pytestmark = pytest.mark.skipif(not L1_RATIO_SELECTS_PENALTY,
                                reason="scikit-learn < 1.8 spells the penalty with penalty=")


def _objective(X, y, coef, intercept, C, rho, sample_weight=None):
    """scikit-learn's: C sum_i sw_i (logsumexp(z_i) - z_{i,y_i}) + rho |W|_1 + (1-rho)/2 |W|^2."""
    coef = np.asarray(coef, dtype=np.float64)
    Z = np.asarray(X @ coef.T, dtype=np.float64) + np.asarray(intercept, dtype=np.float64)
    codes = np.searchsorted(np.unique(y), y)
    m = Z.max(axis=1)
    loss = m + np.log(np.exp(Z - m[:, None]).sum(axis=1)) - Z[np.arange(len(y)), codes]
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    pen = 0.0 if C == np.inf else rho * np.abs(coef).sum() + 0.5 * (1 - rho) * (coef ** 2).sum()
    return (C if C != np.inf else 1.0) * float(loss @ sw) + pen


def _kkt(X, y, m, C, rho):
    """Largest KKT violation of the objective divided by C n (the ``tol`` scale)."""
    n = X.shape[0]
    W = m.coef_.astype(np.float64)
    Z = np.asarray(X @ W.T, dtype=np.float64) + m.intercept_.astype(np.float64)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(n), np.searchsorted(m.classes_, y)] -= 1.0
    G = np.asarray((X.T @ P).T, dtype=np.float64) / n + (1 - rho) / (C * n) * W
    l1 = rho / (C * n)
    viol = np.where(W != 0, np.abs(G + l1 * np.sign(W)), np.maximum(np.abs(G) - l1, 0.0))
    vb = np.abs(P.sum(axis=0)) / n if m.fit_intercept else np.zeros(1)
    return max(viol.max(), vb.max())


def _data():
    Xi, yi = load_iris(return_X_y=True)
    Xc, yc = make_classification(300, 30, n_informative=8, n_classes=4, n_clusters_per_class=1,
                                 random_state=0)
    Xd, yd = load_digits(return_X_y=True)
    Xs = sp.csr_matrix(np.where(np.abs(Xc) > 0.8, Xc, 0.0))
    return {"iris": (Xi, yi), "classif4": (Xc, yc), "sparse4": (Xs, yc),
            "digits400": (Xd[:400] / 16.0, yd[:400])}


DATA = _data()


def _reference(X, y, C, rho, fit_intercept):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if rho == 0.0:
            return sk.LogisticRegression(C=C, l1_ratio=0.0, solver="newton-cholesky",
                                         tol=1e-12, max_iter=1000,
                                         fit_intercept=fit_intercept).fit(X, y)
        return sk.LogisticRegression(C=C, l1_ratio=rho, solver="saga", tol=1e-10,
                                     max_iter=50_000, fit_intercept=fit_intercept).fit(X, y)


def _ours(penalty, C, rho, **kw):
    # scikit-learn >= 1.8's spelling: l1_ratio selects the penalty
    return LogisticRegression(C=C, l1_ratio=rho, **kw)


CASES = [("l1", 1.0, 0.5), ("l2", 0.0, 1.0), ("elasticnet", 0.5, 0.5)]


GRID = [(d, c, fi) for d in ("iris", "classif4") for c in CASES for fi in (True, False)]
# saga needs seconds at tol=1e-10 on these: fewer combinations
GRID += [("sparse4", CASES[0], True), ("sparse4", CASES[1], False),
         ("digits400", CASES[0], False), ("digits400", CASES[2], True)]


@pytest.mark.parametrize("data, case, fit_intercept", GRID,
                         ids=[f"{d}-{c[0]}-{fi}" for d, c, fi in GRID])
def test_objective_matches_sklearn(data, case, fit_intercept):
    penalty, rho, C = case
    X, y = DATA[data]
    ours = _ours(penalty, C, rho, fit_intercept=fit_intercept, tol=1e-9,
                 max_iter=1000).fit(X, y)
    ref = _reference(X, y, C, rho, fit_intercept)
    o1 = _objective(X, y, ours.coef_, ours.intercept_, C, rho)
    o2 = _objective(X, y, ref.coef_, ref.intercept_, C, rho)
    assert o1 <= o2 * (1 + 1e-7)
    assert abs(o1 - o2) <= 1e-6 * o2
    assert _kkt(X, y, ours, C, rho) <= 1e-9
    assert ours.coef_.shape == (len(ours.classes_), X.shape[1])
    assert ours.intercept_.shape == (len(ours.classes_),)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-3)
    if fit_intercept:
        assert abs(ours.intercept_.sum()) < 1e-10 * max(1.0, np.abs(ours.intercept_).max())
    else:
        assert np.all(ours.intercept_ == 0)


@pytest.mark.parametrize("data", ["iris", "classif4", "sparse4"])
@pytest.mark.parametrize("penalty, rho, C", CASES)
def test_float32_stays_float32(data, penalty, rho, C):
    X, y = DATA[data]
    X32 = X.astype(np.float32)
    m32 = _ours(penalty, C, rho, tol=1e-9, max_iter=1000).fit(X32, y)
    m64 = _ours(penalty, C, rho, tol=1e-9, max_iter=1000).fit(X, y)
    assert m32.coef_.dtype == np.float32 and m32.intercept_.dtype == np.float32
    assert m64.coef_.dtype == np.float64
    o32 = _objective(X32, y, m32.coef_, m32.intercept_, C, rho)
    o64 = _objective(X32, y, m64.coef_, m64.intercept_, C, rho)
    assert abs(o32 - o64) <= 1e-5 * o64
    np.testing.assert_allclose(m32.predict_proba(X32), m64.predict_proba(X), atol=1e-4)


def test_sparse_matches_dense_and_any_order():
    X, y = DATA["sparse4"]
    kw = dict(l1_ratio=1.0, C=0.3, tol=1e-10, max_iter=1000)
    a = LogisticRegression(**kw).fit(X, y)
    b = LogisticRegression(**kw).fit(X.toarray(), y)
    c = LogisticRegression(**kw).fit(np.asfortranarray(X.toarray()), y)
    d = LogisticRegression(**kw).fit(sp.csc_matrix(X), y)
    o = _objective(X, y, a.coef_, a.intercept_, 0.3, 1.0)
    for m in (b, c, d):
        # with an even number of classes the L1 optimum can be a segment
        # (a per-feature median over the classes), so not the coefficients
        assert abs(_objective(X, y, m.coef_, m.intercept_, 0.3, 1.0) - o) <= 1e-10 * o
        np.testing.assert_allclose(m.predict_proba(X), a.predict_proba(X), atol=1e-6)


def test_no_penalty_objective():
    # over-complete without a penalty: compare objectives, not coefficients
    X, y = DATA["iris"]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xn, yn = X[::2], y[::2]
    # keep it bounded: flip a few labels so the classes overlap
    yn = yn.copy()
    yn[:6] = (yn[:6] + 1) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = LogisticRegression(C=np.inf, tol=1e-9, max_iter=1000).fit(Xn, yn)
        ref = sk.LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12).fit(Xn, yn)
    o1 = _objective(Xn, yn, ours.coef_, ours.intercept_, np.inf, 0.0)
    o2 = _objective(Xn, yn, ref.coef_, ref.intercept_, np.inf, 0.0)
    assert o1 <= o2 + 1e-6 * abs(o2)
    np.testing.assert_allclose(ours.predict_proba(Xn), ref.predict_proba(Xn), atol=1e-3)


def test_predict_proba_and_labels():
    X, y = DATA["classif4"]
    labels = np.array(["a", "b", "c", "d"])[y]
    m = LogisticRegression(l1_ratio=1.0, C=0.5, tol=1e-8).fit(X, labels)
    assert list(m.classes_) == ["a", "b", "c", "d"]
    d = m.decision_function(X)
    assert d.shape == (X.shape[0], 4)
    np.testing.assert_allclose(d, X @ m.coef_.T + m.intercept_)
    proba = m.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    e = np.exp(d - d.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, e / e.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(np.exp(m.predict_log_proba(X)), proba)
    np.testing.assert_array_equal(m.predict(X), m.classes_[d.argmax(axis=1)])
    assert m.score(X, labels) > 0.8


def test_sample_weight_is_repetition():
    X, y = DATA["classif4"]
    k = np.arange(len(y)) % 3
    a = LogisticRegression(l1_ratio=1.0, C=0.3, tol=1e-10).fit(X, y, sample_weight=k)
    b = LogisticRegression(l1_ratio=1.0, C=0.3, tol=1e-10).fit(np.repeat(X, k, axis=0),
                                                               np.repeat(y, k))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-7)
    sw = np.random.default_rng(0).uniform(0, 3, len(y))
    ours = LogisticRegression(l1_ratio=0.0, C=0.3, tol=1e-10).fit(X, y, sample_weight=sw)
    ref = sk.LogisticRegression(C=0.3, solver="newton-cholesky", tol=1e-12).fit(
        X, y, sample_weight=sw)
    o1 = _objective(X, y, ours.coef_, ours.intercept_, 0.3, 0.0, sw)
    o2 = _objective(X, y, ref.coef_, ref.intercept_, 0.3, 0.0, sw)
    assert abs(o1 - o2) <= 1e-7 * o2


def test_warm_start_and_strong_penalty():
    X, y = DATA["classif4"]
    m = LogisticRegression(l1_ratio=1.0, C=1e-4).fit(X, y)
    assert np.all(m.coef_ == 0)
    freq = np.bincount(y) / len(y)
    np.testing.assert_allclose(m.intercept_, np.log(freq) - np.log(freq).mean(), atol=1e-6)
    m = LogisticRegression(l1_ratio=1.0, C=0.5, warm_start=True, tol=1e-9).fit(X, y)
    m.set_params(C=0.6).fit(X, y)
    ref = LogisticRegression(l1_ratio=1.0, C=0.6, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_uncentred_features_converge():
    # features around 100: coordinate descent without the intercept
    # decoupling needed thousands of rounds here
    rng = np.random.default_rng(0)
    X = rng.normal(100.0, 1.0, size=(200, 3))
    y = rng.integers(0, 3, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = LogisticRegression(C=1.0, tol=1e-8).fit(X, y)
    ref = sk.LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    o1 = _objective(X, y, m.coef_, m.intercept_, 1.0, 0.0)
    o2 = _objective(X, y, ref.coef_, ref.intercept_, 1.0, 0.0)
    assert o1 <= o2 * (1 + 1e-9)


def test_bad_input():
    X, y = DATA["iris"]
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression().fit(X, np.zeros(len(y)))
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(Xn, y)
    with pytest.raises(ValueError):
        LogisticRegression().fit(X, y + 0.5)  # continuous target
    with pytest.raises(ValueError, match="features"):
        LogisticRegression().fit(X, y).predict(X[:, :2])


def test_clone_pickle():
    X, y = DATA["iris"]
    m = LogisticRegression(l1_ratio=0.3, C=0.7).fit(X, y)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.predict_proba(X), m2.predict_proba(X))
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "coef_")
