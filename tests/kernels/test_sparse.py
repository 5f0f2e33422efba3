"""fastprox.sparse against SciPy / NumPy references, and malformed-input handling."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastprox
from fastprox import sparse
from fastprox.sparse import check_csr

from conftest import TOL


def make_csr(rng, shape, density, dtype, index_dtype=np.int32, kind="array", skewed=False):
    """Random CSR; ``skewed`` puts most nonzeros in one row."""
    m, n = shape
    A = sp.random_array(shape, density=density, format="csr", dtype=np.float64, rng=rng)
    if skewed and m > 1 and n > 0:
        dense = A.toarray()
        dense[m // 2, :] = rng.standard_normal(n)
        A = sp.csr_array(dense)
    A = sp.csr_array(A.astype(dtype)) if kind == "array" else sp.csr_matrix(A.astype(dtype))
    A.indices = A.indices.astype(index_dtype)
    A.indptr = A.indptr.astype(index_dtype)
    return A


CASES = [
    ((0, 0), 0.0), ((0, 5), 0.0), ((5, 0), 0.0), ((1, 1), 1.0), ((7, 13), 0.3),
    ((200, 300), 0.0), ((1000, 301), 0.05), ((20_011, 57), 0.1),
]
CASE_IDS = [f"{m}x{n}" for (m, n), _ in CASES]


def tol(dtype, scale=1.0):
    t = TOL[dtype]
    return dict(rtol=t["rtol"] * 100, atol=t["atol"] * 100 * scale)


@pytest.mark.parametrize("transpose", [False, True], ids=["spmv", "spmv_t"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("shape,density", CASES, ids=CASE_IDS)
def test_spmv(rng, dtype, n_threads, index_dtype, shape, density, transpose):
    """``spmv`` is ``A @ x`` and ``spmv_t`` is ``A.T @ x``."""
    A = make_csr(rng, shape, density, dtype, index_dtype)
    n_in, n_out = shape[::-1] if not transpose else shape
    x = rng.standard_normal(n_in).astype(dtype)
    y = (sparse.spmv_t if transpose else sparse.spmv)(A, x)
    assert y.dtype == dtype and y.shape == (n_out,)
    expected = (A.T if transpose else A) @ x
    # spmv_t sums up to n_rows partial products per output
    np.testing.assert_allclose(y, expected, **tol(dtype, np.sqrt(max(n_in, 1)) if transpose
                                                  else 1.0))


@pytest.mark.parametrize("batch", [0, 1, 5, 33, 70])
@pytest.mark.parametrize("shape,density", CASES, ids=CASE_IDS)
def test_spmm(rng, dtype, n_threads, shape, density, batch):
    A = make_csr(rng, shape, density, dtype, np.int64 if batch == 5 else np.int32)
    X = rng.standard_normal((shape[1], batch)).astype(dtype)
    Y = sparse.spmm(A, X)
    assert Y.dtype == dtype and Y.shape == (shape[0], batch)
    np.testing.assert_allclose(Y, A @ X, **tol(dtype))


def ref_sddmm(P, U, V):
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    return np.einsum("kd,kd->k", U[rows].astype(np.float64), V[P.indices].astype(np.float64))


@pytest.mark.parametrize("d", [0, 1, 7, 8, 37, 256])
@pytest.mark.parametrize("shape,density", CASES, ids=CASE_IDS)
def test_sddmm(rng, dtype, n_threads, shape, density, d):
    if shape[0] * shape[1] > 1e6 and d > 64:
        pytest.skip("large case covered at smaller d")
    P = make_csr(rng, shape, density, dtype, np.int64 if d == 7 else np.int32)
    U = rng.standard_normal((shape[0], d)).astype(dtype)
    V = rng.standard_normal((shape[1], d)).astype(dtype)
    vals = sparse.sddmm(P, U, V)
    assert vals.dtype == dtype and vals.shape == (P.nnz,)
    np.testing.assert_allclose(vals, ref_sddmm(P, U, V), **tol(dtype, scale=np.sqrt(max(d, 1))))


@pytest.mark.parametrize("kind", ["array", "matrix"])
def test_csr_matrix_and_skewed_rows(rng, n_threads, kind):
    A = make_csr(rng, (5001, 400), 0.01, np.float64, kind=kind, skewed=True)
    x = rng.standard_normal(400)
    np.testing.assert_allclose(sparse.spmv(A, x), A @ x, rtol=1e-12, atol=1e-12)
    X = rng.standard_normal((400, 9))
    np.testing.assert_allclose(sparse.spmm(A, X), A @ X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sparse.spmv_t(A, np.ones(5001)), A.T @ np.ones(5001),
                               rtol=1e-11, atol=1e-11)


def test_results_bit_identical_across_thread_counts(rng):
    A = make_csr(rng, (30_000, 500), 0.02, np.float64, skewed=True)
    x, z = rng.standard_normal(500), rng.standard_normal(30_000)
    X = rng.standard_normal((500, 40))
    U, V = rng.standard_normal((30_000, 16)), rng.standard_normal((500, 16))
    runs = []
    for nt in (1, 2, 3):
        old = fastprox.set_num_threads(nt)
        try:
            runs.append((sparse.spmv(A, x), sparse.spmv_t(A, z), sparse.spmm(A, X),
                         sparse.sddmm(A, U, V)))
        finally:
            fastprox.set_num_threads(old)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_mixed_precision_promotes(rng):
    A = make_csr(rng, (50, 40), 0.2, np.float32)
    x = rng.standard_normal(40)  # float64
    y = sparse.spmv(A, x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, A.astype(np.float64) @ x, rtol=1e-12, atol=1e-12)
    assert sparse.spmv(A, x.astype(np.float32)).dtype == np.float32
    assert sparse.spmv(A, np.arange(40)).dtype == np.float64  # integers count as float64


def test_integer_values_and_noncontiguous_x(rng):
    A = sp.csr_array(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.int64))
    x = np.arange(6.0)[::2]  # strided: copied
    np.testing.assert_array_equal(sparse.spmv(A, x), [8.0, 6.0])
    X = np.asfortranarray(rng.standard_normal((3, 4)))
    np.testing.assert_allclose(sparse.spmm(A, X), A @ X)


def test_out_argument(rng):
    A = make_csr(rng, (30, 20), 0.3, np.float64)
    x = rng.standard_normal(20)
    out = np.empty(30)
    assert sparse.spmv(A, x, out=out) is out
    np.testing.assert_allclose(out, A @ x)
    with pytest.raises(TypeError, match="dtype"):
        sparse.spmv(A, x, out=np.empty(30, np.float32))
    with pytest.raises(ValueError, match="shape"):
        sparse.spmv(A, x, out=np.empty(31))
    with pytest.raises(ValueError, match="C-contiguous"):
        sparse.spmm(A, np.ones((20, 4)), out=np.empty((30, 4), order="F"))


def test_prevalidated_fast_path(rng):
    A = make_csr(rng, (100, 50), 0.1, np.float64)
    Av = check_csr(A)
    x = rng.standard_normal(50)
    np.testing.assert_array_equal(sparse.spmv(Av, x, check_input=False), sparse.spmv(A, x))
    # the trusted path (CSR from check_csr + out= + check_input=False) skips every check
    y = np.empty(100)
    assert sparse.spmv(Av, x, out=y, check_input=False) is y
    np.testing.assert_array_equal(y, sparse.spmv(A, x))
    X, Y = rng.standard_normal((50, 6)), np.empty((100, 6))
    np.testing.assert_array_equal(sparse.spmm(Av, X, out=Y, check_input=False), sparse.spmm(A, X))
    U, V, g = rng.standard_normal((100, 3)), rng.standard_normal((50, 3)), np.empty(A.nnz)
    np.testing.assert_array_equal(sparse.sddmm(Av, U, V, out=g, check_input=False),
                                  sparse.sddmm(A, U, V))
    # even there, a wrong dtype is a Python error, not a crash
    with pytest.raises(ValueError):
        sparse.spmv(Av, x.astype(np.float32), out=y, check_input=False)


# ------------------------------------------------------------ malformed CSR


def malformed(kind):
    A = sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0], [4, 0, 5]]))
    if kind == "indptr_length":
        A.indptr = A.indptr[:-1]
    elif kind == "indptr_not_monotone":
        A.indptr = np.array([0, 3, 1, 5], dtype=A.indptr.dtype)
    elif kind == "indptr_start":
        A.indptr = np.array([1, 2, 3, 5], dtype=A.indptr.dtype)
    elif kind == "indptr_end":
        A.indptr = np.array([0, 2, 3, 4], dtype=A.indptr.dtype)
    elif kind == "index_too_large":
        A.indices[2] = 3
    elif kind == "index_negative":
        A.indices[4] = -1
    elif kind == "index_huge_int64":
        A.indices = A.indices.astype(np.int64)
        A.indptr = A.indptr.astype(np.int32)
        A.indices[0] = 2**40
    elif kind == "indices_length":
        A.indices = A.indices[:-1]
    return A


MALFORMED = ["indptr_length", "indptr_not_monotone", "indptr_start", "indptr_end",
             "index_too_large", "index_negative", "index_huge_int64", "indices_length"]


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_csr_raises(kind):
    A = malformed(kind)
    with pytest.raises(ValueError, match="malformed"):
        check_csr(A)
    with pytest.raises(ValueError, match="malformed"):
        sparse.spmv(A, np.ones(3))
    with pytest.raises(ValueError, match="malformed"):
        sparse.spmv_t(A, np.ones(3))
    with pytest.raises(ValueError, match="malformed"):
        sparse.spmm(A, np.ones((3, 2)))
    with pytest.raises(ValueError, match="malformed"):
        sparse.sddmm(A, np.ones((3, 2)), np.ones((3, 2)))


def test_check_csr_is_public(rng):
    assert "check_csr" in sparse.__all__
    A = make_csr(rng, (6, 5), 0.5, np.float32, np.int64, kind="matrix")
    Av = check_csr(A)
    assert Av.shape == (6, 5) and Av.nnz == A.nnz and Av.data.dtype == np.float32
    assert check_csr(A, dtype=np.float64).data.dtype == np.float64
    with pytest.raises(TypeError, match="X must be in CSR format"):
        check_csr(A.tocsc(), name="X")


@pytest.mark.parametrize("kind", ["array", "matrix"])
def test_check_csr_narrows_int64_indices(rng, dtype, n_threads, kind):
    """index_dtype="smallest" (the default) copies int64 indices to int32; every product on
    that view has the same bits as on the int64 arrays (index_dtype="keep")."""
    for shape, density in [((300, 40), 0.3), ((64, 900), 0.5), ((0, 5), 0.0), ((7, 0), 0.0)]:
        A = make_csr(rng, shape, density, dtype, np.int64, kind=kind)
        small, kept = check_csr(A), check_csr(A, index_dtype="keep")
        assert small.indices.dtype == small.indptr.dtype == np.int32
        assert kept.indices.dtype == kept.indptr.dtype == np.int64
        assert kept.indices is A.indices  # no copy
        np.testing.assert_array_equal(small.indices, A.indices)
        np.testing.assert_array_equal(small.indptr, A.indptr)
        x = rng.standard_normal(shape[1]).astype(dtype)
        xt = rng.standard_normal(shape[0]).astype(dtype)
        X = rng.standard_normal((shape[1], 19)).astype(dtype)
        U = rng.standard_normal((shape[0], 5)).astype(dtype)
        V = rng.standard_normal((shape[1], 5)).astype(dtype)
        for f, args in [(sparse.spmv, (x,)), (sparse.spmv_t, (xt,)), (sparse.spmm, (X,)),
                        (sparse.sddmm, (U, V))]:
            got = f(small, *args, check_input=False)
            np.testing.assert_array_equal(got, f(kept, *args, check_input=False))
            np.testing.assert_array_equal(got, f(A, *args))
        np.testing.assert_allclose(sparse.spmv(small, x), A @ x, **tol(dtype))


def test_check_csr_index_dtype_keeps_what_it_must(rng):
    A = make_csr(rng, (30, 20), 0.3, np.float64, np.int32)
    Av = check_csr(A)  # int32 arrays are used as they are, whatever index_dtype
    assert np.shares_memory(Av.indices, A.indices) and np.shares_memory(Av.indptr, A.indptr)
    wide = sp.csr_array((np.ones(2), np.array([0, 2**31 + 5], np.int64),
                         np.array([0, 1, 2], np.int64)), shape=(2, 2**31 + 6))
    assert check_csr(wide).indices.dtype == np.int64  # too many columns for int32
    for bad in ["int32", None, np.int32, "Smallest"]:
        with pytest.raises(ValueError, match="index_dtype must be 'smallest' or 'keep'"):
            check_csr(A, index_dtype=bad)


def test_check_csr_narrowing_never_wraps_a_bad_index():
    """An int64 index past int32 must be reported, not wrapped into a valid column."""
    A = sp.csr_array((np.ones(1), np.array([2**32 + 1], np.int64), np.array([0, 1], np.int64)),
                     shape=(1, 3))
    with pytest.raises(ValueError, match=r"indices\[0\] = 4294967297 is out of range"):
        check_csr(A)
    with pytest.raises(ValueError, match="outside the int32 range"):
        check_csr(A, check_structure=False)
    assert check_csr(A, check_structure=False, index_dtype="keep").indices[0] == 2**32 + 1


def test_wrong_types_and_shapes(rng):
    A = make_csr(rng, (4, 3), 0.5, np.float64)
    with pytest.raises(TypeError, match="CSR format"):
        sparse.spmv(A.tocsc(), np.ones(3))
    with pytest.raises(TypeError, match="scipy.sparse CSR"):
        sparse.spmv(A.toarray(), np.ones(3))
    with pytest.raises(ValueError, match="length 4"):
        sparse.spmv(A, np.ones(4))
    with pytest.raises(ValueError, match="1-D"):
        sparse.spmv(A, np.ones((3, 1)))
    with pytest.raises(ValueError, match="length 3"):
        sparse.spmv_t(A, np.ones(3))
    with pytest.raises(ValueError, match="rows"):
        sparse.spmm(A, np.ones((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        sparse.spmm(A, np.ones(3))
    with pytest.raises(ValueError, match="U must be"):
        sparse.sddmm(A, np.ones((4, 2)), np.ones((3, 3)))
    with pytest.raises(TypeError, match="real"):
        sparse.spmv(A.astype(np.complex128), np.ones(3))
    with pytest.raises(TypeError, match="dense"):
        sparse.spmv(A, sp.csr_array(np.ones((1, 3))))


# ------------------------------------------------------------- prune_to_csr


def test_prune_by_threshold(rng, dtype, n_threads):
    W = rng.standard_normal((300, 257)).astype(dtype)
    A = sparse.prune_to_csr(W, threshold=0.5)
    expected = np.where(np.abs(W) >= dtype(0.5), W, 0)
    assert A.dtype == dtype and A.has_sorted_indices
    np.testing.assert_array_equal(A.toarray(), expected)
    assert A.nnz == np.count_nonzero(expected)


@pytest.mark.parametrize("s", [0.0, 0.5, 0.9, 0.95, 0.999, 1.0])
def test_prune_exact_sparsity(rng, dtype, n_threads, s):
    W = rng.standard_normal((301, 129)).astype(dtype)
    A = sparse.prune_to_csr(W, sparsity=s)
    n_keep = W.size - int(np.floor(s * W.size + 0.5))
    assert A.nnz == n_keep
    kept = np.abs(A.data)
    if 0 < n_keep < W.size:
        dropped = np.abs(W)[A.toarray() == 0]
        assert kept.min() >= dropped.max()


def test_prune_ties_are_deterministic():
    W = np.array([[1.0, -1.0, 1.0], [1.0, 2.0, -1.0]])
    A = sparse.prune_to_csr(W, sparsity=0.5)  # prune 3 of the five |w| == 1
    # ties: the lowest flat indices go first -> (0,0), (0,1), (0,2) pruned
    np.testing.assert_array_equal(A.toarray(), [[0, 0, 0], [1.0, 2.0, -1.0]])
    np.testing.assert_array_equal(sparse.prune_to_csr(W, sparsity=0.5).toarray(), A.toarray())


def test_prune_never_stores_zeros():
    W = np.zeros((3, 4))
    W[0, 0] = 1.0
    A = sparse.prune_to_csr(W, sparsity=0.1)
    assert A.nnz == 1
    assert sparse.prune_to_csr(W, threshold=0.0).nnz == 1


def test_prune_bad_input():
    with pytest.raises(ValueError, match="exactly one"):
        sparse.prune_to_csr(np.ones((2, 2)))
    with pytest.raises(ValueError, match="exactly one"):
        sparse.prune_to_csr(np.ones((2, 2)), threshold=0.1, sparsity=0.5)
    with pytest.raises(ValueError, match="sparsity must be <= 1"):
        sparse.prune_to_csr(np.ones((2, 2)), sparsity=1.5)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        sparse.prune_to_csr(np.ones((2, 2)), threshold=-1)
    with pytest.raises(ValueError, match="NaN"):
        sparse.prune_to_csr(np.array([[np.nan, 1.0]]), sparsity=0.5)
    with pytest.raises(ValueError, match="2-D"):
        sparse.prune_to_csr(np.ones(3), sparsity=0.5)


@pytest.mark.parametrize("batch", [1, 5, 70])
@pytest.mark.parametrize("relu", [False, True])
def test_spmm_fused_bias_relu(rng, dtype, n_threads, batch, relu):
    A = make_csr(rng, (20_011, 57) if batch == 70 else (301, 57), 0.1, dtype)
    X = rng.standard_normal((57, batch)).astype(dtype)
    b = rng.standard_normal(A.shape[0]).astype(dtype)
    expected = A @ X + b[:, None]
    if relu:
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(sparse.spmm(A, X, bias=b, relu=relu), expected, **tol(dtype))
    if relu:
        np.testing.assert_allclose(sparse.spmm(A, X, relu=True), np.maximum(A @ X, 0),
                                   **tol(dtype))
    with pytest.raises(ValueError, match="bias"):
        sparse.spmm(A, X, bias=b[:-1])


def test_spmm_relu_keeps_nan():
    A = sp.csr_array(np.array([[1.0, 0.0], [0.0, -1.0]]))
    Y = sparse.spmm(A, np.array([[np.nan] * 40, [1.0] * 40]), relu=True)
    assert np.isnan(Y[0]).all() and (Y[1] == 0).all()


def test_spmm_unaligned_operand_is_realigned(rng):
    from fastprox._validation import empty_aligned

    A = make_csr(rng, (64, 40), 0.5, np.float64)
    buf = rng.standard_normal(40 * 128 + 1)
    X = buf[1:].reshape(40, 128)  # 8-byte offset: not vector aligned
    assert X.ctypes.data % 64 != 0
    np.testing.assert_allclose(sparse.spmm(A, X), A @ X, rtol=1e-12, atol=1e-12)
    Z = empty_aligned((3, 5), np.float32)
    assert Z.ctypes.data % 64 == 0 and Z.shape == (3, 5) and Z.dtype == np.float32


def _short_rows_csr(rng, dtype, index_dtype, n_rows=4003, n_cols=1000):
    """Rows of 0-40 nonzeros (groups of 8 under and over the kernel's 256-entry span)
    with a few of 100-300, values whose products round differently in any other order."""
    lengths = rng.integers(0, 41, n_rows)
    lengths[rng.integers(0, n_rows, 12)] = rng.integers(100, 301, 12)
    lengths[:16] = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 0, 0, 0, 40, 1]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate([np.sort(rng.choice(n_cols, n, replace=False)) for n in lengths])
    data = rng.standard_normal(indptr[-1]) * 10.0 ** rng.integers(-3, 4, indptr[-1])
    return sp.csr_array((data.astype(dtype), indices.astype(index_dtype),
                         indptr.astype(index_dtype)), shape=(n_rows, n_cols))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spmv_short_rows_bit_identical_across_splits(rng, dtype, index_dtype):
    """Each row's sum depends on the row only: the same bits for the whole matrix, for
    row slices starting anywhere (other groups of 8, the range-end tail path), and for
    1 and 2 threads; close to a float64 reference."""
    from fastprox._kernels import sparse_fast

    A = _short_rows_csr(rng, dtype, index_dtype)
    x = rng.standard_normal(A.shape[1]).astype(dtype)
    old_policy = sparse_fast._thread_policy(16, False)
    old = fastprox.set_num_threads(1)
    try:
        y = sparse.spmv(A, x)
        fastprox.set_num_threads(2)
        np.testing.assert_array_equal(sparse.spmv(A, x), y)
    finally:
        fastprox.set_num_threads(old)
        sparse_fast._thread_policy(*old_policy)
    ref = A.astype(np.float64) @ x.astype(np.float64)
    scale = abs(A).astype(np.float64) @ np.abs(x.astype(np.float64))
    assert np.all(np.abs(y - ref) <= 64 * np.finfo(dtype).eps * scale + 1e-30)
    for r0, r1 in [(0, 5), (3, 4003), (5, 13), (7, 9), (1, 2000), (9, 4003), (2001, 4003)]:
        np.testing.assert_array_equal(sparse.spmv(A[r0:r1], x), y[r0:r1])


def _bits(a):
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spmv_row_alone_has_the_same_bits(rng, dtype, index_dtype):
    """A row's sum has the same bits whether its group of 8 goes through the short-row
    product buffer (whole matrix) or the row runs alone (one-row matrix: the per-row path);
    rows of 0-40 nonzeros (past the buffered first step(s) of both dtypes) and 100-300."""
    A = _short_rows_csr(rng, dtype, index_dtype, n_rows=803)
    x = rng.standard_normal(A.shape[1]).astype(dtype)
    y = sparse.spmv(A, x)
    alone = np.concatenate([sparse.spmv(A[r:r + 1], x) for r in range(A.shape[0])])
    np.testing.assert_array_equal(_bits(alone), _bits(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spmv_short_rows_keep_the_sign_of_zero_products(dtype):
    """Products that are -0 exactly (-1 * 0) or underflow to -0 (-tiny * tiny): the
    short-row path gives the bits of the per-row path, zero signs included."""
    tiny = np.sqrt(np.finfo(dtype).smallest_subnormal) / 4
    x = np.zeros(64, dtype)
    x[:32] = tiny
    kinds = [(np.arange(32), -tiny), (np.arange(16), -tiny), (np.arange(32, 48), -1.0),
             (np.arange(33), -tiny), (np.arange(1), -tiny), (np.arange(32, 64), -1.0),
             (np.arange(24, 41), -tiny)]
    cols, vals, indptr = [], [], [0]
    for r in range(40):
        c, v = kinds[r % len(kinds)]
        cols.append(c)
        vals.append(np.full(len(c), v, dtype))
        indptr.append(indptr[-1] + len(c))
    A = sp.csr_array((np.concatenate(vals), np.concatenate(cols), indptr), shape=(40, 64))
    y = sparse.spmv(A, x)
    assert np.all(y == 0)
    alone = np.concatenate([sparse.spmv(A[r:r + 1], x) for r in range(A.shape[0])])
    np.testing.assert_array_equal(_bits(alone), _bits(y))
