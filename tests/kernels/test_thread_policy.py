"""The thread policy never changes a result: 1 vs 2 threads, any number of parts
per thread, adaptive team on or off give the same bits (each output row or
element is computed by one thread with the same code whatever the split).
See docs/design/kernels-threads.md.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import fastprox
from fastprox import prox, sparse
from fastprox._kernels import prox_fast, sparse_fast

POLICIES = [(1, False), (3, False), (8, True), (16, False), (16, True)]


@pytest.fixture
def policy():
    """Yield a setter of (parts per thread, adaptive) for both modules; restore after."""
    old = sparse_fast._thread_policy(8, True), prox_fast._thread_policy(8, True)
    old_threads = fastprox.set_num_threads(None)

    def set_policy(parts, adaptive, n_threads):
        sparse_fast._thread_policy(parts, adaptive)
        prox_fast._thread_policy(parts, adaptive)
        fastprox.set_num_threads(n_threads)

    yield set_policy
    sparse_fast._thread_policy(*old[0])
    prox_fast._thread_policy(*old[1])
    fastprox.set_num_threads(old_threads)


def _runs(set_policy, fn):
    out = []
    for parts, adaptive in POLICIES:
        for n_threads in (1, 2):
            set_policy(parts, adaptive, n_threads)
            out.append(fn())
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_kernels_bit_identical_across_policies(rng, policy, dtype):
    # skewed rows (a few very long) so the work split moves row boundaries
    A = sp.random(3000, 500, density=0.03, format="csr", random_state=0, dtype=dtype)
    A = sp.vstack([sp.random(20, 500, density=0.9, format="csr", random_state=1,
                             dtype=dtype), A]).tocsr()
    A = sparse.check_csr(A)
    x = rng.standard_normal(500).astype(dtype)
    X = rng.standard_normal((500, 24)).astype(dtype)
    U = rng.standard_normal((A.shape[0], 16)).astype(dtype)
    V = rng.standard_normal((500, 16)).astype(dtype)
    for fn in (lambda: sparse.spmv(A, x), lambda: sparse.spmm(A, X),
               lambda: sparse.spmm(A, X, relu=True), lambda: sparse.sddmm(A, U, V)):
        res = _runs(policy, fn)
        for r in res[1:]:
            np.testing.assert_array_equal(r, res[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prox_updates_bit_identical_across_policies(rng, policy, dtype):
    n = 200_003  # not a multiple of any part count
    w0 = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)

    def sgd():
        w = w0.copy()
        nnz = prox.sgd_step(w, g, lr=0.1, l1=0.5, l2=0.01)
        return w, nnz

    def adam():
        w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
        for step in (1, 2):
            prox.adam_step(w, g, m, v, step, lr=0.01, l1=0.1)
        return w, m, v

    def soft():
        return prox.soft_threshold(w0, 0.3)

    for fn in (sgd, adam, soft):
        res = _runs(policy, fn)
        for r in res[1:]:
            np.testing.assert_equal(r, res[0])


def test_thread_policy_setter_restores(policy):
    old = sparse_fast._thread_policy(4, False)
    assert sparse_fast._thread_policy(*old) == (4, False)
