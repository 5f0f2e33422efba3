"""cd_fast's parallel passes never change a result: 1 vs 2 threads, any number of
parts per thread, adaptive team on or off give the same bits (each output column
is computed by one thread with the same code whatever the split).
See docs/design/kernels-threads.md.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastprox._kernels import cd_fast
from fastprox.linear_model import Lasso

from _policies import layouts as _layouts
from _policies import policy_runs
from _policies import same as _same


@pytest.fixture
def runs():
    """Call ``fn(n_threads)`` under every policy x 1, 2 threads; restore the policy after."""
    with policy_runs(cd_fast) as run_all:
        yield run_all


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_passes_bit_identical_across_policies(rng, runs, dtype):
    # n * p above the serial threshold (2**20) and p not a multiple of the
    # 16-column granule nor of the 1024-column block
    n, p = 403, 2611
    X0 = (rng.standard_normal((n, p)) + 3.0).astype(dtype)
    R = rng.standard_normal(n).astype(dtype)
    v = rng.standard_normal(n)
    for X in _layouts(X0):
        def passes(n_threads):
            out = np.empty(p, dtype)
            cd_fast.xt_r_dense(X, R, out, n_threads)
            res = [out]
            for center in (True, False):
                sums, sq, xtv = np.empty(p), np.empty(p), np.empty(p)
                cd_fast.col_stats_dense(X, center, sums, sq, n_threads, v, xtv)
                res += [sums, sq, xtv]
            return res

        res = runs(passes)
        _same(res)
        tol = 1e-4 if dtype == np.float32 else 1e-12  # of |X|.T @ |R|
        np.testing.assert_allclose(res[0][0], X.T.astype(np.float64) @ R, rtol=0,
                                   atol=tol * float(np.abs(X).max() * np.abs(R).sum()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_bit_identical_across_policies(rng, runs, dtype):
    n, p = 300, 1200
    X = rng.standard_normal((n, p)).astype(dtype)
    mu = X.mean(axis=0).astype(dtype)
    # runs of consecutive columns (the vector path) and scattered ones
    cols = np.sort(np.concatenate([np.arange(100, 180), rng.choice(np.arange(200, p), 300,
                                                                   replace=False)]))
    cols = cols.astype(np.intp)
    dest = rng.permutation(cols.size).astype(np.intp)

    def gather(n_threads):
        out = np.zeros((n, cols.size), dtype=dtype, order="F")
        norms2 = np.empty(cols.size)
        cd_fast.gather_cols_dense(X, cols, mu, out, dest, norms2, n_threads)
        return out, norms2

    res = runs(gather)
    _same(res)
    np.testing.assert_array_equal(res[0][0][:, dest], X[:, cols] - mu[cols])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_dots_bit_identical_across_policies(rng, runs, dtype):
    A = sp.random(3000, 800, density=0.03, format="csc", random_state=0, dtype=dtype)
    A = sp.hstack([sp.random(3000, 10, density=0.9, format="csc", random_state=1,
                             dtype=dtype), A]).tocsc()  # a few long columns
    R = rng.standard_normal(3000).astype(dtype)
    ws_all = np.arange(A.shape[1], dtype=np.intp)
    ws_some = np.sort(rng.choice(A.shape[1], 300, replace=False)).astype(np.intp)

    def dots(n_threads):
        res = []
        for ws in (ws_all, ws_some):
            out = np.empty(ws.size, dtype)
            cd_fast.dot_cols_sparse(A.data, A.indices, A.indptr, ws, R, out, n_threads)
            res.append(out)
        return res

    res = runs(dots)
    _same(res)
    np.testing.assert_allclose(res[0][0], A.T.astype(np.float64) @ R, rtol=0,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("sparse", [True, False])
def test_lasso_fit_bit_identical_across_policies(runs, sparse):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((600, 2000))
    X[rng.random(X.shape) < 0.9] = 0.0
    y = X[:, :20] @ rng.standard_normal(20) + 0.1 * rng.standard_normal(600)
    Xf = sp.csc_matrix(X) if sparse else X

    res = runs(lambda n_threads: (Lasso(alpha=0.01).fit(Xf, y).coef_,))
    _same(res)


def test_cd_thread_policy_setter_restores():
    old = cd_fast._thread_policy(4, False)
    assert cd_fast._thread_policy(*old) == (4, False)
