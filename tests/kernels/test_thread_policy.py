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
from fastprox._kernels import mlp_fast, prox_fast, sparse_fast

POLICIES = [(1, False), (3, False), (8, True), (16, False), (16, True)]


@pytest.fixture
def policy():
    """Yield a setter of (parts per thread, adaptive) for the modules; restore after."""
    modules = (sparse_fast, prox_fast, mlp_fast)
    old = [m._thread_policy(8, True) for m in modules]
    old_threads = fastprox.set_num_threads(None)

    def set_policy(parts, adaptive, n_threads):
        for m in modules:
            m._thread_policy(parts, adaptive)
        fastprox.set_num_threads(n_threads)

    yield set_policy
    for m, o in zip(modules, old):
        m._thread_policy(*o)
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
    xt = rng.standard_normal(A.shape[0]).astype(dtype)
    for fn in (lambda: sparse.spmv(A, x), lambda: sparse.spmm(A, X),
               lambda: sparse.spmm(A, X, relu=True), lambda: sparse.sddmm(A, U, V),
               lambda: sparse.spmv_t(A, xt)):
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


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_structure_checks_and_prune_same_across_policies(rng, policy, index_dtype):
    # long enough for a team (SERIAL_WORK = 32768); each check finds the first bad position
    A = sp.random(40000, 300, density=0.02, format="csr", random_state=2)
    indptr, indices = A.indptr.astype(index_dtype), A.indices.astype(index_dtype)
    bad_ptr, bad_ind = indptr.copy(), indices.copy()
    bad_ptr[30001] = bad_ptr[30000] - 1
    bad_ind[[20000, 200000]] = [300, -1]

    def checks():
        return (sparse_fast.check_indptr_impl(indptr, A.nnz, fastprox.get_num_threads()),
                sparse_fast.check_indptr_impl(bad_ptr, A.nnz, fastprox.get_num_threads()),
                sparse_fast.check_indices_impl(indices, 300, fastprox.get_num_threads()),
                sparse_fast.check_indices_impl(bad_ind, 300, fastprox.get_num_threads()))

    for r in _runs(policy, checks):
        assert r == (-1, 30001, -1, 20000)
    W = rng.standard_normal((700, 300))
    W[W > 2.0] = 2.0  # ties at the cut
    for kw in ({"sparsity": 0.9}, {"threshold": 1.0}):
        res = _runs(policy, lambda: sparse.prune_to_csr(W, **kw))
        for r in res:
            np.testing.assert_array_equal(r.indptr, res[0].indptr)
            np.testing.assert_array_equal(r.indices, res[0].indices)
            np.testing.assert_array_equal(r.data, res[0].data)
        if "threshold" in kw:  # |w| == threshold is kept
            np.testing.assert_array_equal(res[0].toarray(), np.where(np.abs(W) >= 1.0, W, 0))
        else:
            assert res[0].nnz == W.size - int(np.floor(0.9 * W.size + 0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("adam", [True, False])
def test_mlp_epoch_and_forward_bit_identical_across_policies(rng, policy, dtype, adam):
    from fastprox.neural_network import CSRLayer

    widths, n, bsz = (80, 600, 300, 10), 120, 60  # layers big enough for a team
    layers0 = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        mask = rng.random((n_in, n_out)) < 0.5
        W = (rng.standard_normal((n_in, n_out)) * mask / np.sqrt(n_in)).astype(dtype)
        layers0.append((W, (0.1 * rng.standard_normal(n_out)).astype(dtype), mask))
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    YT = np.ascontiguousarray(np.eye(widths[-1], dtype=dtype)[:, rng.integers(0, 10, n)])
    order = rng.permutation(n).astype(np.int64)

    def epoch():
        layers = [CSRLayer.from_matrix(W, b.copy(), m) for W, b, m in layers0]
        specs = []
        for L in layers:
            st = [np.zeros(L.nnz, dtype) for _ in range(2)]
            stb = [np.zeros(L.b.shape, dtype) for _ in range(2)]
            specs.append(L.kernel_arrays() + (np.empty(L.nnz, dtype), np.empty(L.b.shape, dtype),
                                              st[0], st[1], stb[0], stb[1]))
        loss, step = mlp_fast.train_epoch_impl(
            X, YT, order, bsz, specs, [np.empty(w * bsz, dtype) for w in widths],
            [np.empty(w * bsz, dtype) for w in widths[1:]], np.empty(2 * bsz, dtype),
            mlp_fast.ACTIVATIONS["relu"], mlp_fast.OUTPUTS["softmax"], adam, 0, 0.01, 0.9,
            0.999, 1e-8, 0.9, True, 1e-4, 1e-3, fastprox.get_num_threads())
        net = mlp_fast.CSRNet([L.kernel_arrays()[:4] for L in layers], widths[0],
                              mlp_fast.ACTIVATIONS["tanh"], mlp_fast.OUTPUTS["softmax"])
        H = np.ascontiguousarray(X[:7].T)
        fwd = [net.forward(H[:, :b].copy(), fastprox.get_num_threads()) for b in (1, 7)]
        return [loss, step] + [L.data.copy() for L in layers] + fwd

    res = _runs(policy, epoch)
    for r in res[1:]:
        for a, b in zip(r, res[0]):
            np.testing.assert_array_equal(a, b)


def test_thread_policy_setter_restores(policy):
    old = sparse_fast._thread_policy(4, False)
    assert sparse_fast._thread_policy(*old) == (4, False)
