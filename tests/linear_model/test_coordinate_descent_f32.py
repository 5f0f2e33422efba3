"""Float32 elastic nets: the solver's own arithmetic stays float64 (docs/design/solver-dense-f32.md)."""
import numpy as np
import pytest
from sklearn.datasets import make_regression

from fastprox.linear_model import ElasticNet, Lasso


def _problem(dtype, n=300, p=1500):
    X, y = make_regression(n, p, n_informative=30, noise=1.0, random_state=0)
    X, y = X.astype(dtype), y.astype(dtype)
    Xc = X - X.mean(0)
    # alpha_max computed from the data: a NumPy scalar of the data's dtype
    return X, y, np.abs(Xc.T @ (y - y.mean())).max() / len(y)


@pytest.mark.parametrize("est, l1_ratio", [(ElasticNet, 0.5), (Lasso, 1.0)])
@pytest.mark.parametrize("div", [10, 100])
def test_float32_alpha_is_a_python_float(est, l1_ratio, div):
    # a float32 alpha made the objectives and gaps float32 sums (2.3e7 with a
    # resolution of 2): Anderson points were compared at that resolution and
    # rejected, 31 epochs instead of 26 on bench_lasso's 1000 x 5000 row
    X, y, amax = _problem(np.float32)
    alpha = amax / l1_ratio / div
    assert isinstance(alpha, np.float32)
    kw = dict(tol=1e-6, max_iter=10_000)
    if est is ElasticNet:
        kw["l1_ratio"] = l1_ratio
    a = est(alpha=alpha, **kw).fit(X, y)
    b = est(alpha=float(alpha), **kw).fit(X, y)
    # the same path; l1 = n * alpha itself is rounded to float32 by the
    # estimator, so the two problems differ in the 7th digit
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-6 * np.abs(b.coef_).max())
    np.testing.assert_allclose(a.dual_gap_, b.dual_gap_, rtol=1e-2)
