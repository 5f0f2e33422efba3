"""logistic_fast's parallel passes never change a result: 1 vs 2 threads, any number
of parts per thread, adaptive team on or off give the same bits (each output is
summed by one thread with the same code whatever the split), and so do
LogisticRegression fits. See docs/design/kernels-threads.md.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastprox._kernels import logistic_fast as lf
from fastprox.linear_model import LogisticRegression

from _policies import layouts as _layouts
from _policies import policy_runs
from _policies import same as _same


@pytest.fixture
def runs():
    """Call ``fn(n_threads)`` under every policy x 1, 2 threads; restore the policy after."""
    with policy_runs(lf) as run_all:
        yield run_all


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 3])
def test_dense_gradient_bit_identical_across_policies(rng, runs, dtype, K):
    # n * p above the dense serial threshold (2**20) even for K = 1; p not a
    # multiple of the 16-column granule nor of the 512-column block
    n, p = 403, 2611
    X0 = (rng.standard_normal((n, p)) + 2.0).astype(dtype)
    R = rng.standard_normal((K, n))
    for X in _layouts(X0):
        def grad(n_threads):
            out = np.empty((K, p))
            lf.xt_r_dense(X, R, out, n_threads)
            return (out,)

        res = runs(grad)
        _same(res)
        np.testing.assert_allclose(res[0][0], R @ X.astype(np.float64), rtol=1e-12,
                                   atol=1e-12 * float(np.abs(X).max() * np.abs(R).sum()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_fortran_and_hdiag_bit_identical_across_policies(rng, runs, dtype):
    n, p, K = 1100, 1001, 3  # a partial 64-column tile and 64-row tile
    X = rng.standard_normal((n, p)).astype(dtype)
    Xws = np.ascontiguousarray(X.T)  # (m, n): the working-set layout
    Hw = rng.random((K, n))

    def passes(n_threads):
        F = np.empty((n, p), dtype=dtype, order="F")
        lf.to_fortran(X, F, n_threads)
        hd = np.empty((K, p))
        lf.ws_hdiag_multi(Xws, Hw, hd, n_threads)
        return F, hd

    res = runs(passes)
    _same(res)
    np.testing.assert_array_equal(res[0][0], X)
    assert res[0][0].flags.f_contiguous
    np.testing.assert_allclose(res[0][1], Hw @ (X.astype(np.float64) ** 2), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
def test_sparse_passes_bit_identical_across_policies(rng, runs, dtype, idx_dtype):
    A = sp.random(3000, 800, density=0.03, format="csc", random_state=0, dtype=dtype)
    A = sp.hstack([sp.random(3000, 10, density=0.9, format="csc", random_state=1,
                             dtype=dtype), A]).tocsc()  # a few long columns first
    data, indices, indptr = A.data, A.indices.astype(idx_dtype), A.indptr.astype(idx_dtype)
    K = 3
    R = rng.standard_normal((K, 3000))
    Hw = rng.random((K, 3000))

    def passes(n_threads):
        g = np.empty((K, A.shape[1]))
        lf.xt_r_sparse(data, indices, indptr, R, g, n_threads)
        hd = np.empty((K, A.shape[1]))
        lf.ws_hdiag_multi_sparse(data, indices, indptr, Hw, hd, n_threads)
        return g, hd

    res = runs(passes)
    _same(res)
    A64 = A.astype(np.float64)
    np.testing.assert_allclose(res[0][0], (A64.T @ R.T).T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res[0][1], (A64.multiply(A64).T @ Hw.T).T, rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", ["dense", "dense32", "sparse"])
def test_logistic_fit_bit_identical_across_policies(runs, n_classes, kind):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, 2200))
    w = np.zeros((2200, n_classes))
    w[:15] = rng.standard_normal((15, n_classes))
    y = np.argmax(X @ w + 0.5 * rng.standard_normal((500, n_classes)), axis=1)
    if kind == "sparse":
        X[rng.random(X.shape) < 0.8] = 0.0
        X = sp.csr_matrix(X)
    elif kind == "dense32":
        X = X.astype(np.float32)

    def fit(n_threads):
        m = LogisticRegression(C=0.2, l1_ratio=1.0, tol=1e-6).fit(X, y)
        return m.coef_, m.intercept_

    res = runs(fit)
    _same(res)
    assert 0 < np.count_nonzero(res[0][0]) < res[0][0].size  # L1: a sparse, nonzero model


def test_logistic_thread_policy_setter_restores():
    old = lf._thread_policy(4, False)
    assert lf._thread_policy(*old) == (4, False)
