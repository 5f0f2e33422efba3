"""Property-based tests of every public kernel (run in a subprocess by test_hardening.py).

Kept out of the default collection (no ``test_`` prefix) so that a crash in
compiled code fails one test in the parent run instead of killing it.
"""
import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from fastprox import prox, sparse  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
dtypes = st.sampled_from([np.float32, np.float64])
idx_dtypes = st.sampled_from([np.int32, np.int64])


@st.composite
def csr(draw, max_rows=40, max_cols=40):
    m = draw(st.integers(0, max_rows))
    n = draw(st.integers(0, max_cols))
    counts = draw(st.lists(st.integers(0, n), min_size=m, max_size=m))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # indices may repeat within a row and be unsorted: both are valid CSR
    indices = rng.integers(0, max(n, 1), size=int(indptr[-1]))
    dtype, idx = draw(dtypes), draw(idx_dtypes)
    data = rng.standard_normal(indices.size).astype(dtype)
    A = sp.csr_array((data, indices.astype(idx), indptr.astype(idx)), shape=(m, n))
    return A, rng


@SETTINGS
@given(csr())
def test_products_match_scipy(arg):
    A, rng = arg
    m, n = A.shape
    dt = A.dtype
    tol = dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)
    x = rng.standard_normal(n).astype(dt)
    np.testing.assert_allclose(sparse.spmv(A, x), A @ x, **tol)
    z = rng.standard_normal(m).astype(dt)
    np.testing.assert_allclose(sparse.spmv_t(A, z), A.T @ z, **tol)
    b = int(rng.integers(0, 70))
    X = rng.standard_normal((n, b)).astype(dt)
    np.testing.assert_allclose(sparse.spmm(A, X), A @ X, **tol)
    d = int(rng.integers(0, 20))
    U, V = rng.standard_normal((m, d)).astype(dt), rng.standard_normal((n, d)).astype(dt)
    rows = np.repeat(np.arange(m), np.diff(A.indptr))
    expected = np.einsum("kd,kd->k", U[rows], V[A.indices]) if A.nnz else np.zeros(0)
    np.testing.assert_allclose(sparse.sddmm(A, U, V), expected, **tol)


@st.composite
def broken_csr(draw):
    A, rng = draw(csr(max_rows=10, max_cols=10))
    m, n = A.shape
    indptr, indices = A.indptr.copy(), A.indices.copy()
    kind = draw(st.sampled_from(["indptr_len", "indptr_order", "indptr_end", "index"]))
    if kind == "indptr_len":
        indptr = np.concatenate([indptr, indptr[-1:]]) if draw(st.booleans()) else indptr[:-1]
    elif kind == "indptr_order" and m >= 2 and indptr[-1] > 0:
        i = draw(st.integers(1, m - 1))
        indptr[i] = indptr[-1] + draw(st.integers(1, 5))
    elif kind == "indptr_end":
        indptr[-1] += draw(st.sampled_from([-1, 1, 100]))
    elif indices.size:
        k = draw(st.integers(0, indices.size - 1))
        indices[k] = draw(st.sampled_from([-1, n, n + 7, -(2**30)]))
    else:
        indptr[-1] = 3
    A.indptr, A.indices = indptr, indices
    return A, m, n


def _structure_ok(A, m, n):
    p, i = A.indptr, A.indices
    return (p.size == m + 1 and p[0] == 0 and p[-1] == A.data.size and np.all(np.diff(p) >= 0)
            and (i.size == 0 or (i.min() >= 0 and i.max() < n)))


@SETTINGS
@given(broken_csr())
def test_malformed_csr_raises_valueerror(arg):
    A, m, n = arg
    if _structure_ok(A, m, n):
        return  # the mutation happened to keep the matrix valid
    for call in (lambda: sparse.spmv(A, np.ones(n)), lambda: sparse.spmv_t(A, np.ones(m)),
                 lambda: sparse.spmm(A, np.ones((n, 3))),
                 lambda: sparse.sddmm(A, np.ones((m, 2)), np.ones((n, 2)))):
        with pytest.raises(ValueError, match="malformed"):
            call()


@SETTINGS
@given(st.integers(0, 3000), dtypes, st.floats(0, 2), st.floats(0, 1), st.floats(0, 1),
       st.integers(0, 2**32 - 1))
def test_prox_updates_match_numpy(n, dt, lr, l1, l2, seed):
    rng = np.random.default_rng(seed)
    w, g = rng.standard_normal(n).astype(dt), rng.standard_normal(n).astype(dt)
    w64, g64 = w.astype(np.float64), g.astype(np.float64)
    z = w64 - lr * (g64 + l2 * w64)
    expected = np.sign(z) * np.maximum(np.abs(z) - lr * l1, 0)
    nnz = prox.sgd_step(w, g, lr, l1, l2)
    tol = dict(rtol=1e-5, atol=1e-5) if dt == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w, expected, **tol)
    assert nnz == np.count_nonzero(w)


@SETTINGS
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), dtypes)
def test_bad_shapes_raise(shape, dt):
    w = np.ones(shape, dtype=dt)
    g = np.ones([s + 1 for s in shape], dtype=dt)
    with pytest.raises(ValueError):
        prox.sgd_step(w, g, 0.1)
    with pytest.raises(ValueError):
        prox.adam_step(w, w.copy(), np.zeros(w.size + 1, dt), np.zeros_like(w), 1)
