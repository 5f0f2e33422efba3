"""Kernel wrappers are safe with any arrays: overlapping ``out=``, odd inputs, Ctrl-C.

An ``out=`` that overlaps an input is computed into a temporary (as NumPy does for
ufuncs) or refused with a ValueError naming the arguments, never silently wrong;
odd inputs get a TypeError / ValueError that says what is wrong; long CSR products
are cut into row blocks so that a KeyboardInterrupt is seen between them, with the
same bits as one call (see docs/design/kernels-aliasing.md).
"""
import _thread
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

from fastprox import prox, sparse

DTYPES = [np.float32, np.float64]


def _csr(m, n, density=0.3, dtype=np.float64, seed=0):
    return sp.random(m, n, density=density, format="csr", random_state=seed, dtype=dtype)


# --------------------------------------------------------------------------
# out= overlapping an input: computed as if the inputs were copied first
# --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_spmv_out_is_x(rng, dtype):
    A = _csr(64, 64, dtype=dtype)
    y = rng.standard_normal(64).astype(dtype)
    expected = sparse.spmv(A, y.copy())
    got = sparse.spmv(A, y, out=y)
    assert got is y
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_spmv_t_out_is_x(rng, dtype):
    A = _csr(64, 64, dtype=dtype)
    y = rng.standard_normal(64).astype(dtype)
    expected = sparse.spmv_t(A, y.copy())
    assert sparse.spmv_t(A, y, out=y) is y
    np.testing.assert_array_equal(y, expected)


def test_spmv_partial_overlap(rng):
    A = _csr(63, 63)
    buf = rng.standard_normal(64)
    expected = sparse.spmv(A, buf[:-1].copy())
    sparse.spmv(A, buf[:-1], out=buf[1:])
    np.testing.assert_array_equal(buf[1:], expected)


@pytest.mark.parametrize("relu", [False, True])
def test_spmm_out_is_x(rng, relu):
    A = _csr(48, 48)
    X = rng.standard_normal((48, 8))
    bias = rng.standard_normal(48)
    expected = sparse.spmm(A, X.copy(), bias=bias, relu=relu)
    assert sparse.spmm(A, X, out=X, bias=bias, relu=relu) is X
    np.testing.assert_array_equal(X, expected)


def test_spmm_out_overlaps_bias(rng):
    A = _csr(16, 16)
    X = rng.standard_normal((16, 1))
    buf = rng.standard_normal(17)
    out, bias = buf[1:].reshape(16, 1), buf[:16]  # row r overwrites bias[r + 1]
    expected = sparse.spmm(A, X, bias=bias.copy())
    sparse.spmm(A, X, out=out, bias=bias)
    np.testing.assert_array_equal(out, expected)


def test_out_overlaps_matrix_values(rng):
    A = _csr(20, 20, density=1.0)
    x = rng.standard_normal(20)
    expected = A @ x
    got = sparse.spmv(A, x, out=A.data[380:400])  # row 19 reads what rows 0-18 wrote
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sddmm_out_overlaps_U(rng):
    P = _csr(16, 16, density=0.25)
    buf = rng.standard_normal(P.nnz + 16 * 4)
    U = buf[:64].reshape(16, 4)
    V = rng.standard_normal((16, 4))
    expected = sparse.sddmm(P, U.copy(), V)
    sparse.sddmm(P, U, V, out=buf[3:3 + P.nnz])
    np.testing.assert_array_equal(buf[3:3 + P.nnz], expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_threshold_partial_overlap(rng, dtype):
    buf = rng.standard_normal(1000).astype(dtype)
    expected = prox.soft_threshold(buf[:-1].copy(), 0.5)
    prox.soft_threshold(buf[:-1], 0.5, out=buf[1:])
    np.testing.assert_array_equal(buf[1:], expected)
    buf = rng.standard_normal(1000).astype(dtype)
    expected = prox.soft_threshold(buf[1:].copy(), 0.5)
    prox.soft_threshold(buf[1:], 0.5, out=buf[:-1])
    np.testing.assert_array_equal(buf[:-1], expected)


def test_soft_threshold_in_place_is_exact(rng):
    x = rng.standard_normal(100_000)
    expected = prox.soft_threshold(x.copy(), 0.5)
    assert prox.soft_threshold(x, 0.5, out=x) is x
    np.testing.assert_array_equal(x, expected)
    y = rng.standard_normal((30, 40))
    expected = prox.soft_threshold(y.copy(), 0.5)
    prox.soft_threshold(y, 0.5, out=y.view())  # the same memory through another view
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("shift", [0, 1, -1])
def test_update_grad_sharing_weights_raises(rng, shift):
    buf = rng.standard_normal(102)
    w = buf[1:101]
    grad = buf[1 + shift:101 + shift]
    before = buf.copy()
    with pytest.raises(ValueError, match="grad.*w"):
        prox.sgd_step(w, grad, 0.1)
    with pytest.raises(ValueError, match="grad.*w"):
        prox.momentum_step(w, grad, np.zeros(100), 0.1)
    with pytest.raises(ValueError, match="grad.*w"):
        prox.adam_step(w, grad, np.zeros(100), np.zeros(100), step=1)
    np.testing.assert_array_equal(buf, before)  # nothing was written


def test_update_grad_sharing_state_raises(rng):
    w = rng.standard_normal(50)
    state = np.zeros(101)
    with pytest.raises(ValueError, match="grad.*velocity"):
        prox.momentum_step(w, state[1:51], state[:50], 0.1)
    with pytest.raises(ValueError, match="grad.*v"):
        prox.adam_step(w, state[51:], np.zeros(50), state[50:100], step=1)
    with pytest.raises(ValueError, match="share memory"):
        prox.adam_step(w, np.ones(50), state[:50], state[1:51], step=1)


def test_update_grad_copied_or_disjoint_is_fine(rng):
    buf = rng.standard_normal(200)
    w, grad = buf[:100], buf[100:]  # one buffer, no overlap
    expected = w.copy()
    prox.sgd_step(expected, grad.copy(), 0.1, l1=0.1)
    prox.sgd_step(w, grad, 0.1, l1=0.1)
    np.testing.assert_array_equal(w, expected)
    w = rng.standard_normal(100)
    prox.sgd_step(w, w.astype(np.float32), 0.1)  # a converted grad is a copy: allowed


# --------------------------------------------------------------------------
# clear errors
# --------------------------------------------------------------------------

def test_adam_step_too_large():
    w, m, v = np.ones(4), np.zeros(4), np.zeros(4)
    with pytest.raises(ValueError, match=r"step.*2\*\*63 - 1"):
        prox.adam_step(w, np.ones(4), m, v, step=2**70)
    prox.adam_step(w, np.ones(4), m, v, step=2**63 - 1)  # the largest valid step


def test_sddmm_trusted_float16_out():
    P = sparse.check_csr(_csr(8, 8))
    U, V = np.ones((8, 2)), np.ones((8, 2))
    with pytest.raises(TypeError, match="float16"):
        sparse.sddmm(P, U, V, out=np.empty(P.nnz, np.float16), check_input=False)


def test_csr_data_list():
    A = _csr(8, 8)
    A.data = list(A.data)
    with pytest.raises(TypeError, match="A.data"):
        sparse.spmv(A, np.ones(8))
    with pytest.raises(TypeError, match="A.data"):
        sparse.check_csr(A)


def test_check_csr_negative_shape():
    A = _csr(8, 8)
    A._shape = (8, -1)
    with pytest.raises(ValueError, match="shape"):
        sparse.check_csr(A)
    with pytest.raises(ValueError, match="shape"):
        sparse.spmv_t(A, np.ones(8))


@pytest.mark.parametrize("axis", [1.0, True, "0", None])
def test_group_soft_threshold_axis_type(axis):
    W = np.ones((3, 4))
    with pytest.raises(TypeError, match="axis"):
        prox.group_soft_threshold(W, 0.1, axis=axis)
    np.testing.assert_array_equal(W, 1.0)


def test_group_soft_threshold_numpy_int_axis():
    W = np.ones((3, 4))
    assert prox.group_soft_threshold(W, 0.1, axis=np.int64(1)).shape == (3,)


def test_memmap_accepted(tmp_path, rng):
    A = _csr(40, 30)
    data = np.memmap(tmp_path / "data", dtype=np.float64, mode="w+", shape=(A.nnz,))
    data[:] = A.data
    M = A.copy()
    M.data = data
    x = np.memmap(tmp_path / "x", dtype=np.float64, mode="w+", shape=(30,))
    x[:] = rng.standard_normal(30)
    out = np.memmap(tmp_path / "out", dtype=np.float64, mode="w+", shape=(40,))
    np.testing.assert_array_equal(sparse.spmv(M, x, out=out), sparse.spmv(A, np.array(x)))
    assert sparse.check_csr(M).nnz == A.nnz
    X = np.memmap(tmp_path / "X", dtype=np.float64, mode="w+", shape=(30, 5))
    X[:] = 1.0
    np.testing.assert_array_equal(sparse.spmm(M, X), sparse.spmm(A, np.ones((30, 5))))
    w = np.memmap(tmp_path / "w", dtype=np.float64, mode="w+", shape=(100,))
    w[:] = rng.standard_normal(100)
    expected = np.array(w)
    prox.sgd_step(expected, np.ones(100), 0.1, l1=0.5)
    prox.sgd_step(w, np.ones(100), 0.1, l1=0.5)
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_array_equal(prox.soft_threshold(w, 0.1, out=w), np.array(w))


# --------------------------------------------------------------------------
# long products in row blocks: the same bits, and Ctrl-C is seen between blocks
# --------------------------------------------------------------------------

@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few thousand units of work, so small products are cut too."""
    for name in ("_SPMV_BLOCK", "_SPMM_BLOCK", "_SDDMM_BLOCK"):
        monkeypatch.setattr(sparse, name, 3000)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_blocks_bit_identical(rng, small_blocks, dtype, idx, n_threads):
    from fastprox import set_num_threads

    A = _csr(997, 301, density=0.05, dtype=dtype, seed=1)
    A.indices = A.indices.astype(idx)
    A.indptr = A.indptr.astype(idx)
    A.data[::7] *= 1e8  # cancellations make any change of summation order visible
    x = rng.standard_normal(301).astype(dtype)
    X = rng.standard_normal((301, 21)).astype(dtype)
    X2 = rng.standard_normal((301, 70)).astype(dtype)
    U = rng.standard_normal((997, 13)).astype(dtype)
    V = rng.standard_normal((301, 13)).astype(dtype)
    bias = rng.standard_normal(997).astype(dtype)
    P = sparse.check_csr(A)
    set_num_threads(n_threads)
    try:
        blocked = [sparse.spmv(A, x), sparse.spmm(A, X, bias=bias, relu=True),
                   sparse.sddmm(A, U, V), sparse.spmm(P, X2, out=np.empty((997, 70), dtype))]
        with pytest.MonkeyPatch.context() as mp:
            for name in ("_SPMV_BLOCK", "_SPMM_BLOCK", "_SDDMM_BLOCK"):
                mp.setattr(sparse, name, 1 << 62)
            whole = [sparse.spmv(A, x), sparse.spmm(A, X, bias=bias, relu=True),
                     sparse.sddmm(A, U, V), sparse.spmm(A, X2)]
    finally:
        set_num_threads(None)
    assert sparse._row_blocks(P.indptr, 997, 21, 3000, 1) is not None
    for got, ref in zip(blocked, whole):
        np.testing.assert_array_equal(got, ref)


def test_row_blocks_balance():
    A = _csr(10_000, 100, density=0.05)
    bounds = sparse._row_blocks(A.indptr, 10_000, 1, 5_000, 1)
    work = np.diff(A.indptr[bounds] + np.asarray(bounds))
    assert len(bounds) > 2 and bounds[0] == 0 and bounds[-1] == 10_000
    assert work.max() <= 1.1 * work.mean() + 200
    assert sparse._row_blocks(A.indptr, 10_000, 1, 1 << 40, 1) is None


@pytest.fixture
def ctrl_c_raises():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_long_spmm_interruptible(ctrl_c_raises, rng):
    """One spmm of ~1.3 s (1 thread, 2-core dev machine) stops soon after Ctrl-C."""
    from fastprox import set_num_threads

    m = n = 4000
    indices = rng.integers(0, n, size=m * 1000).astype(np.int32)
    indptr = np.arange(0, m * 1000 + 1, 1000, dtype=np.int32)
    A = sp.csr_array((np.ones(m * 1000), indices, indptr), shape=(m, n))
    X, out = np.ones((n, 2048)), np.empty((m, 2048))
    sent, done = [], []

    def interrupt():
        sent.append(time.perf_counter())
        _thread.interrupt_main()  # what Ctrl-C does

    set_num_threads(1)
    timer = threading.Timer(0.3, interrupt)  # past the aligned copy of X
    timer.start()
    try:
        sparse.spmm(A, X, out=out)
        done.append(time.perf_counter())
        time.sleep(2.0)  # the interrupt lands here if the product ended first
    except KeyboardInterrupt:
        caught = time.perf_counter()
    finally:
        timer.cancel()
        set_num_threads(None)
    assert not done, "the product ended before the interrupt arrived; make it longer"
    assert caught - sent[0] < 0.3
