"""Every scikit-learn option is accepted: fastprox's solver, or scikit-learn's own fit.

A combination fastprox does not accelerate runs scikit-learn's estimator with
the same parameters, copies its fitted attributes and logs the path on the
``fastprox`` logger at DEBUG (``linear_model/_fallback.py``).
"""
import logging
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import make_classification, make_regression
from sklearn.utils.class_weight import compute_sample_weight

from fastprox.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV, LogisticRegression

Xc, yc = make_classification(300, 20, n_informative=5, n_redundant=0, flip_y=0.1,
                             random_state=0)
Xr, yr = make_regression(120, 30, n_informative=5, noise=2.0, random_state=0)
Xr_sp = sp.csr_matrix(np.where(np.abs(Xr) > 0.6, Xr, 0.0))
W = np.random.default_rng(0).uniform(0.2, 3.0, len(yr))


def _fallback_records(caplog):
    return [r for r in caplog.records if r.name == "fastprox" and "scikit-learn" in r.message]


@pytest.mark.parametrize("kw", [dict(solver="liblinear", l1_ratio=1.0, C=0.5, random_state=0),
                                dict(solver="lbfgs"), dict(solver="newton-cholesky", C=0.3),
                                dict(solver="saga", l1_ratio=0.5, random_state=0),
                                dict(max_iter=0)])
def test_logistic_explicit_solver_runs_sklearn(kw, caplog):
    with caplog.at_level(logging.DEBUG, logger="fastprox"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = LogisticRegression(**kw).fit(Xc, yc)
        ref = sk.LogisticRegression(**{"solver": "lbfgs", **kw}).fit(Xc, yc)
    assert len(_fallback_records(caplog)) == 1
    np.testing.assert_array_equal(ours.coef_, ref.coef_)
    np.testing.assert_array_equal(ours.intercept_, ref.intercept_)
    np.testing.assert_array_equal(ours.predict_proba(Xc), ref.predict_proba(Xc))
    assert ours.n_iter_ == ref.n_iter_ and ours.n_features_in_ == 20


def test_logistic_sklearn_errors_kept():
    with pytest.raises(ValueError, match="Solver lbfgs supports only 'l2' or None"):
        LogisticRegression(solver="lbfgs", l1_ratio=1.0).fit(Xc, yc)
    with pytest.raises(ValueError, match="dual=True needs solver='liblinear'"):
        LogisticRegression(dual=True).fit(Xc, yc)
    LogisticRegression(dual=True, solver="liblinear").fit(Xc, yc)


def test_logistic_native_options_accepted(caplog):
    """random_state, verbose, intercept_scaling: accepted, native path, same model."""
    base = LogisticRegression(l1_ratio=1.0, C=0.2, tol=1e-10).fit(Xc, yc)
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        m = LogisticRegression(l1_ratio=1.0, C=0.2, tol=1e-10, random_state=3, verbose=1,
                               intercept_scaling=2.0).fit(Xc, yc)
    assert not _fallback_records(caplog)
    np.testing.assert_array_equal(m.coef_, base.coef_)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0}])
def test_logistic_class_weight_native(class_weight, caplog):
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        ours = LogisticRegression(l1_ratio=1.0, C=0.2, tol=1e-9,
                                  class_weight=class_weight).fit(Xc, yc)
    assert not _fallback_records(caplog)
    sw = compute_sample_weight(class_weight, yc)
    same = LogisticRegression(l1_ratio=1.0, C=0.2, tol=1e-9).fit(Xc, yc, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, same.coef_, atol=1e-12)
    ref = sk.LogisticRegression(l1_ratio=1.0, C=0.2, solver="saga", tol=1e-12,
                                max_iter=100_000, random_state=0,
                                class_weight=class_weight).fit(Xc, yc)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    assert np.count_nonzero(ours.coef_) == np.count_nonzero(np.abs(ref.coef_) > 1e-8)


def test_logistic_negative_weights_run_sklearn(caplog):
    sw = np.ones(len(yc))
    sw[:3] = -0.1
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        ours = LogisticRegression(C=0.5).fit(Xc, yc, sample_weight=sw)
    ref = sk.LogisticRegression(C=0.5).fit(Xc, yc, sample_weight=sw)
    assert len(_fallback_records(caplog)) == 1
    np.testing.assert_array_equal(ours.coef_, ref.coef_)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("est, sk_est", [(Lasso(alpha=0.3), sk.Lasso(alpha=0.3)),
                                         (ElasticNet(alpha=0.3), sk.ElasticNet(alpha=0.3))])
def test_negative_sample_weight_runs_sklearn(est, sk_est, fmt, caplog):
    """Negative weights (no sqrt(sw) scaling): scikit-learn's fit, its exact result."""
    X = Xr if fmt == "dense" else Xr_sp
    w = W.copy()
    w[:2] = -0.05
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        ours = est.set_params(tol=1e-10).fit(X, yr, sample_weight=w)
    ref = sk_est.set_params(tol=1e-10).fit(X, yr, sample_weight=w)
    assert len(_fallback_records(caplog)) == 1
    np.testing.assert_array_equal(ours.coef_, ref.coef_)
    assert ours.intercept_ == ref.intercept_
    np.testing.assert_equal(ours.dual_gap_, ref.dual_gap_)  # NaN for dense X, as there


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_sparse_and_cv_sample_weight_native(fmt, caplog):
    """Non-negative weights, dense or sparse: fastprox's solver, no fallback record."""
    X = Xr if fmt == "dense" else Xr_sp
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        Lasso(alpha=0.3).fit(X, yr, sample_weight=W)
        LassoCV(cv=3, alphas=10).fit(X, yr, sample_weight=W)
    assert not _fallback_records(caplog)


def test_cv_negative_sample_weight_runs_sklearn(caplog):
    """scikit-learn's fit; for dense X its error (NaN from sqrt(sw)), sparse X its result."""
    X = Xr_sp
    w = W.copy()
    w[:2] = -0.05
    with pytest.raises(ValueError, match="Input contains NaN"):
        sk.LassoCV(cv=3, alphas=20).fit(Xr, yr, sample_weight=w)
    with pytest.raises(ValueError, match="Input contains NaN"):
        LassoCV(cv=3, alphas=20).fit(Xr, yr, sample_weight=w)
    with caplog.at_level(logging.DEBUG, logger="fastprox"):
        a = LassoCV(cv=3, n_alphas=20).fit(X, yr, sample_weight=w)
        b = ElasticNetCV(cv=3, l1_ratio=[0.5, 0.9], n_alphas=20).fit(X, yr, sample_weight=w)
    assert len(_fallback_records(caplog)) == 2
    ra = sk.LassoCV(cv=3, alphas=20).fit(X, yr, sample_weight=w)
    rb = sk.ElasticNetCV(cv=3, l1_ratio=[0.5, 0.9], alphas=20).fit(X, yr, sample_weight=w)
    for ours, ref in ((a, ra), (b, rb)):
        assert ours.alpha_ == ref.alpha_
        np.testing.assert_array_equal(ours.alphas_, ref.alphas_)
        np.testing.assert_array_equal(ours.mse_path_, ref.mse_path_)
        np.testing.assert_array_equal(ours.coef_, ref.coef_)
    assert a.get_params()["n_alphas"] == 20  # fastprox's parameters untouched


def test_refit_native_after_fallback_drops_foreign_attributes():
    m = LogisticRegression(solver="lbfgs").fit(Xc, yc)
    m.set_params(solver=None).fit(Xc, yc)
    assert set(k for k in vars(m) if k.endswith("_")) <= {
        "classes_", "coef_", "intercept_", "n_iter_", "n_features_in_", "feature_names_in_"}
