"""LogisticRegression without an L1 term: scikit-learn's L-BFGS iteration on fastprox's kernels.

Cold fits with ``l1_ratio=0`` (or no penalty) run the iteration of
scikit-learn's ``lbfgs`` solver (same objective scaling, start and options;
``linear_model/_lbfgs_solver.py``), so they stop after as many iterations at
the same coefficients, up to rounding. See docs/design/logistic-l2-default.md.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import make_classification

from fastprox._kernels import logistic_fast
from fastprox.linear_model import LogisticRegression
from fastprox.linear_model import _lbfgs_solver
from fastprox.linear_model._datafits import Binomial, Multinomial
from fastprox.linear_model._logistic import L1_RATIO_SELECTS_PENALTY

pytestmark = pytest.mark.skipif(not L1_RATIO_SELECTS_PENALTY,
                                reason="scikit-learn < 1.8 spells the penalty with penalty=")


def _data(k, n=300, p=30, seed=0):
    return make_classification(n, p, n_informative=10, n_classes=k, random_state=seed)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("layout", ["C", "F", "float32", "csr"])
@pytest.mark.parametrize("params", [{}, {"C": 0.05}, {"C": np.inf}, {"fit_intercept": False},
                                    {"class_weight": "balanced"}])
def test_same_iterates_as_sklearn_lbfgs(k, layout, params):
    X, y = _data(k)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "float32":
        X = X.astype(np.float32)
    elif layout == "csr":
        X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    if layout == "float32" and "class_weight" in params:
        pytest.skip("float32 rows compare the unweighted objective")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # C=inf: scikit-learn's "penalty ignored" notes
        ours = LogisticRegression(**params).fit(X, y)
        ref = sk.LogisticRegression(**params).fit(X, y)
    assert ours.coef_.dtype == X.dtype
    if layout == "float32":
        # scikit-learn rounds its scores to float32 (fastprox sums in float64):
        # the iterates part, both stop within tol; compare the objective
        C = params.get("C", 1.0)
        f_ours, f_ref = (_objective(X, y, m, C) for m in (ours, ref))
        assert f_ours <= f_ref + 1e-6 * abs(f_ref)
        return
    assert ours.n_iter_[0] == ref.n_iter_[0]
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)


def _objective(X, y, model, C):
    """scikit-learn's objective (weights left out: 'balanced' rows compare coefficients)."""
    W = model.coef_.astype(np.float64)
    Z = X.astype(np.float64) @ W.T + model.intercept_
    codes = np.searchsorted(model.classes_, y)
    if W.shape[0] == 1:
        loss = np.logaddexp(0.0, -np.where(codes == 1, 1.0, -1.0) * Z[:, 0])
    else:
        m = Z.max(axis=1)
        loss = m + np.log(np.exp(Z - m[:, None]).sum(axis=1)) - Z[np.arange(y.size), codes]
    pen = 0.0 if not np.isfinite(C) else 0.5 * (W * W).sum()
    return (C if np.isfinite(C) else 1.0) * loss.sum() + pen


def test_sample_weight_matches_sklearn():
    X, y = _data(3)
    sw = np.random.default_rng(0).uniform(0.2, 3.0, y.size)
    ours = LogisticRegression().fit(X, y, sample_weight=sw)
    ref = sk.LogisticRegression().fit(X, y, sample_weight=sw)
    assert ours.n_iter_[0] == ref.n_iter_[0]
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)


def _fused(X, df, W, b, n_blocks, threads):
    """``fused_loss_grad`` called directly (the solver uses it for one class only)."""
    K, p = W.shape
    part, zbuf, lossb = np.empty((n_blocks, K, p + 1)), np.empty((n_blocks, K)), \
        np.empty(n_blocks)
    y = df.y if K == 1 else np.zeros(1)
    labels = df.labels if K > 1 else np.zeros(1, dtype=np.intp)
    logistic_fast.fused_loss_grad(X, W, b, y, labels, df.sw_n, part, zbuf, lossb, threads)
    acc = part.sum(axis=0)
    return float(lossb.sum()), acc[:, :p], acc[:, p]


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_pass_matches_two_passes_and_threads(k, dtype, monkeypatch):
    """The one-pass kernel gives the two-pass loss and gradient, the same bits on 1 or 2
    threads (its row blocks are fixed by n, not by the threads)."""
    # n % 4 != 0: the binary tail rows; n p >= 2**20: the kernel wakes a second thread
    X, y = _data(k, n=5243, p=200)
    X = X.astype(dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, y.size)
    sw /= sw.sum()
    df = Binomial(np.where(y == 1, 1.0, -1.0), sw) if k == 2 else Multinomial(y, k, sw)
    K = df.n_blocks
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((K, 200)) * 0.1, rng.standard_normal(K)
    monkeypatch.setattr(_lbfgs_solver, "_FUSED_MIN_BYTES", 0)
    ev = _lbfgs_solver._Evaluator(X, df, K)
    assert ev.fused == (K == 1)
    one = _fused(X, df, W, b, 21, 1)
    for a, b_ in zip(one, _fused(X, df, W, b, 21, 2)):
        np.testing.assert_array_equal(a, b_)
    monkeypatch.setattr(_lbfgs_solver, "_FUSED", False)
    two = _lbfgs_solver._Evaluator(X, df, K)(W, b)
    # the two products run in X's precision (as scikit-learn's); the fused pass in float64
    rtol, atol = (1e-12, 1e-15) if dtype == np.float64 else (1e-5, 1e-7)
    for a, b_ in zip(one, two):
        np.testing.assert_allclose(a, b_, rtol=rtol, atol=atol)


def test_fused_fit_matches_sklearn(monkeypatch):
    monkeypatch.setattr(_lbfgs_solver, "_FUSED_MIN_BYTES", 0)
    X, y = _data(2)
    ours = LogisticRegression().fit(X, y)
    ref = sk.LogisticRegression().fit(X, y)
    assert ours.n_iter_[0] == ref.n_iter_[0]
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)


def test_tight_tol_is_reached():
    """L-BFGS-B may stop on a stalled objective above a tight tol; Newton then
    finishes, so the gradient (mean-scaled, as scikit-learn's gtol) is below tol."""
    X, y = _data(2)
    C, tol = 1e4, 1e-8
    clf = LogisticRegression(C=C, tol=tol, max_iter=1000).fit(X, y)
    w, b = clf.coef_[0], clf.intercept_[0]
    s = np.where(y == 1, 1.0, -1.0)
    r = -s / (1.0 + np.exp(s * (X @ w + b))) / y.size
    grad = np.append(X.T @ r + w / (C * y.size), r.sum())
    assert np.abs(grad).max() <= tol


def test_warm_start_runs_newton_from_the_previous_fit():
    X, y = _data(2)
    clf = LogisticRegression(warm_start=True, tol=1e-8).fit(X, y)
    first = clf.n_iter_[0]
    clf.fit(X, y)
    assert clf.n_iter_[0] <= 2 < first
