"""Shrinking in a dense solution's working set (docs/design/solver-dense-f32.md).

Columns at zero well inside their KKT condition sit out a few epochs; the
gap checks still see every column, so the fit reaches scikit-learn's
objective with fewer column visits.
"""
import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.datasets import make_regression

from fastprox._kernels import cd_fast
from fastprox.linear_model import ElasticNet
from fastprox.linear_model import _quadratic_design as qd


def _objective(X, y, coef, intercept, alpha, l1_ratio):
    r = y - X.astype(np.float64) @ coef - intercept
    return (0.5 * float(r @ r) / len(y) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1 - l1_ratio) * float(coef @ coef))


class _Counting:
    """cd_fast with ``cd_epoch_dense`` counting the columns it visits."""

    def __init__(self):
        self.visits = 0

    def __getattr__(self, name):
        return getattr(cd_fast, name)

    def cd_epoch_dense(self, X, w, R, norms2, ws, *args):
        self.visits += len(ws)
        return cd_fast.cd_epoch_dense(X, w, R, norms2, ws, *args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("div", [30, 100])
def test_shrinking_reaches_sklearn_objective_with_fewer_visits(monkeypatch, dtype, div):
    X, y = make_regression(300, 1500, n_informative=30, noise=1.0, random_state=0)
    X, y = X.astype(dtype), y.astype(dtype)
    Xc = X.astype(np.float64) - X.mean(0)
    alpha = np.abs(Xc.T @ (y - y.mean())).max() / (len(y) * 0.5) / div
    ref = sk.ElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-6).fit(X, y)
    f_ref = _objective(X, y, ref.coef_, ref.intercept_, alpha, 0.5)
    fits = {}
    for shrink in (0.0, qd._SHRINK):
        counting = _Counting()
        monkeypatch.setattr(qd, "cd_fast", counting)
        monkeypatch.setattr(qd, "_SHRINK", shrink)
        m = ElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-6).fit(X, y)
        fits[shrink] = m, counting.visits
        f = _objective(X, y, m.coef_, m.intercept_, alpha, 0.5)
        assert f <= f_ref * (1 + (1e-5 if dtype == np.float32 else 1e-8))
    (m_off, v_off), (m_on, v_on) = fits[0.0], fits[qd._SHRINK]
    # a dense solution (the shrinking mode), reached with fewer column visits
    assert np.count_nonzero(m_on.coef_) > 0.2 * X.shape[1]
    assert v_on < (0.9 if div == 100 else 1.0) * v_off
    np.testing.assert_allclose(m_on.coef_, ref.coef_, rtol=0,
                               atol=1e-2 * np.abs(ref.coef_).max())
