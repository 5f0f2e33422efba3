"""Property-based tests of the estimators (run in a subprocess by test_hardening.py).

Random small data with the degenerate cases users hit (one row, constant and
duplicated columns, an all-zero target, sparse input with empty columns,
float32) must give a finite answer that reaches scikit-learn's objective, and
random bad input must raise ValueError. Kept out of the default collection so
that a crash in compiled code fails one test in the parent run.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from sklearn import linear_model as sk  # noqa: E402

from fastprox.linear_model import ElasticNet, Lasso, SGDRegressor  # noqa: E402
from fastprox.neural_network import MLPClassifier  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def regression(draw):
    n = draw(st.integers(1, 30))
    p = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, p))
    kind = draw(st.sampled_from(["plain", "constant", "duplicate", "zero_y", "sparse"]))
    y = X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)
    if kind == "constant":
        X[:, 0] = 3.0
    elif kind == "duplicate" and p > 1:
        X[:, 1] = X[:, 0]
    elif kind == "zero_y":
        y[:] = 0.0
    elif kind == "sparse":
        X[rng.random(X.shape) < 0.7] = 0.0
    return X, y, kind == "sparse"


def _objective(X, y, coef, intercept, alpha, l1_ratio):
    r = y - X @ coef - intercept
    return (0.5 * r @ r / len(y) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1 - l1_ratio) * coef @ coef)


@SETTINGS
@given(regression(), st.sampled_from([1.0, 0.5]), st.booleans(),
       st.floats(1e-3, 2.0), st.sampled_from([np.float64, np.float32]))
def test_enet_reaches_sklearn_objective(data, l1_ratio, fit_intercept, frac, dtype):
    X, y, sparse = data
    Xc = X - X.mean(0) if fit_intercept else X
    yc = y - y.mean() if fit_intercept else y
    alpha_max = np.abs(Xc.T @ yc).max() / (len(y) * l1_ratio)
    alpha = max(alpha_max * frac, 1e-3)
    Xin = sp.csr_matrix(X.astype(dtype)) if sparse else X.astype(dtype)
    kw = dict(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-10,
              max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ElasticNet(**kw).fit(Xin, y.astype(dtype))
        ref = sk.ElasticNet(**kw).fit(X, y)
    assert np.all(np.isfinite(ours.coef_)) and np.isfinite(ours.intercept_)
    assert ours.coef_.dtype == dtype
    f_ours = _objective(X, y, ours.coef_.astype(np.float64), float(ours.intercept_), alpha,
                        l1_ratio)
    f_ref = _objective(X, y, ref.coef_, ref.intercept_, alpha, l1_ratio)
    # float32 data rounds X and y themselves: compare at float32's resolution
    rel = 1e-6 if dtype == np.float64 else 1e-4
    assert f_ours <= f_ref + rel * max(abs(f_ref), 1e-8) + 1e-12, (f_ours, f_ref)


@st.composite
def bad_regression(draw):
    n, p = draw(st.integers(2, 10)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X, y = rng.standard_normal((n, p)), rng.standard_normal(n)
    alpha = 0.1
    fault = draw(st.sampled_from(["nan_X", "inf_X", "nan_y", "short_y", "neg_alpha",
                                  "nan_alpha", "3d_X", "empty", "complex"]))
    if fault == "nan_X":
        X[rng.integers(n), rng.integers(p)] = np.nan
    elif fault == "inf_X":
        X[rng.integers(n), rng.integers(p)] = -np.inf
    elif fault == "nan_y":
        y[rng.integers(n)] = np.nan
    elif fault == "short_y":
        y = y[:-1]
    elif fault == "neg_alpha":
        alpha = -draw(st.floats(1e-6, 10))
    elif fault == "nan_alpha":
        alpha = np.nan
    elif fault == "3d_X":
        X = X[:, :, None]
    elif fault == "empty":
        X, y = X[:0], y[:0]
    elif fault == "complex":
        X = X + 1j
    sparse = draw(st.booleans()) and fault not in ("3d_X", "complex")
    return (sp.csr_matrix(X) if sparse else X), y, alpha


@SETTINGS
@given(bad_regression(), st.sampled_from([Lasso, ElasticNet]))
def test_bad_input_raises_value_error(data, Est):
    X, y, alpha = data
    with pytest.raises((ValueError, TypeError)):
        Est(alpha=alpha).fit(X, y)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(2, 40), st.integers(1, 8), st.integers(2, 4),
       st.sampled_from([None, 0.5, 0.9]), st.integers(0, 2**16))
def test_mlp_any_small_problem(n, p, n_classes, target, seed):
    rng = np.random.default_rng(seed)
    n = max(n, n_classes)
    X = rng.standard_normal((n, p))
    y = np.arange(n) % n_classes  # every class present
    rng.shuffle(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=seed,
                          target_sparsity=target, finetune_epochs=1).fit(X, y)
    P = m.predict_proba(X)
    assert P.shape == (n, n_classes) and np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-6)
    if target is not None:
        w = np.concatenate([np.ravel(c.toarray() if sp.issparse(c) else c) for c in m.coefs_])
        assert np.mean(w == 0) >= target - 0.02


@settings(max_examples=20, deadline=None, derandomize=True)
@given(regression(), st.integers(1, 5))
def test_sgd_partial_fit_in_blocks(data, n_blocks):
    X, y, sparse = data
    Xin = sp.csr_matrix(X) if sparse else X
    m = SGDRegressor(penalty="l1", alpha=1e-3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for idx in np.array_split(np.arange(len(y)), n_blocks):
            if idx.size:
                m.partial_fit(Xin[idx], y[idx])
    assert np.all(np.isfinite(m.coef_)) and np.all(np.isfinite(m.predict(Xin)))
