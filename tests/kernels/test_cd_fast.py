"""Dense coordinate-descent kernels of ``_cd_fast`` against NumPy references."""
import numpy as np
import scipy.sparse as sp
import pytest

from fastprox._kernels import cd_fast as _cd



def _layouts(dtype, n=37, p=1100):
    X = np.random.default_rng(0).standard_normal((n, p)).astype(dtype) + 5
    return {"C": X, "F": np.asfortranarray(X), "strided": np.repeat(X, 2, axis=1)[:, ::2]}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_xt_r_and_col_stats(dtype, layout, n_threads):
    X = _layouts(dtype)[layout]
    R = np.random.default_rng(1).standard_normal(X.shape[0]).astype(dtype)
    out = np.empty(X.shape[1], dtype=dtype)
    _cd.xt_r_dense(X, R, out, n_threads)
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(out, X64.T @ R, rtol=rtol, atol=rtol * 10)
    sums, sq = np.empty(X.shape[1]), np.empty(X.shape[1])
    _cd.col_stats_dense(X, True, sums, sq, n_threads)
    n = X.shape[0]
    tight = 1e-12 if dtype == np.float64 else 1e-6  # float32 differences round
    np.testing.assert_allclose(X64[0] + sums / n, X64.mean(0), rtol=tight)
    np.testing.assert_allclose(sq - sums ** 2 / n, ((X64 - X64.mean(0)) ** 2).sum(0),
                               rtol=100 * tight)
    _cd.col_stats_dense(X, False, sums, sq, n_threads)
    np.testing.assert_allclose(sq, (X64 ** 2).sum(0), rtol=1e-12)
    # the same pass with X.T @ v: the statistics do not change
    v = np.random.default_rng(2).standard_normal(n)
    sums_v, sq_v, xtv = np.empty_like(sums), np.empty_like(sq), np.empty(X.shape[1])
    for center in (True, False):
        _cd.col_stats_dense(X, center, sums, sq, n_threads)
        _cd.col_stats_dense(X, center, sums_v, sq_v, n_threads, v, xtv)
        np.testing.assert_allclose(sq_v, sq, rtol=1e-14)
        if center:
            np.testing.assert_allclose(sums_v, sums, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(xtv, X64.T @ v, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        _cd.col_stats_dense(X, True, sums, sq, n_threads, v[:-1], xtv)


def test_col_stats_constant_column_is_exactly_zero():
    X = np.full((50, 3), 1e8)
    X[:, 1] = np.arange(50)
    sums, sq = np.empty(3), np.empty(3)
    _cd.col_stats_dense(X, True, sums, sq, 1)
    norms2 = sq - sums ** 2 / 50
    assert norms2[0] == 0 and norms2[2] == 0 and norms2[1] > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_gather_cols(dtype, layout):
    X = _layouts(dtype)[layout]
    mu = X.mean(0).astype(dtype)
    cols = np.array([0, 3, 4, 700, X.shape[1] - 1], dtype=np.intp)
    out = np.zeros((X.shape[0], 8), dtype=dtype, order="F")
    norms2 = np.empty(len(cols))
    dest = np.array([2, 3, 4, 6, 7], dtype=np.intp)  # not one run: the pool's gaps
    _cd.gather_cols_dense(X, cols, mu, out, dest, norms2)
    ref = X[:, cols] - mu[cols]
    np.testing.assert_array_equal(out[:, dest], ref)
    assert not out[:, [0, 1, 5]].any()
    np.testing.assert_allclose(norms2, (ref.astype(np.float64) ** 2).sum(0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [0, 1, 200])
def test_gather_cols_threads(dtype, m):
    """Threads gather disjoint shares of the columns: the same bits as one thread."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((37, 301)).astype(dtype)  # odd sizes: partial row blocks
    mu = X.mean(0).astype(dtype)
    cols = np.sort(rng.choice(301, m, replace=False)).astype(np.intp)
    dest = rng.permutation(m + 5)[:m].astype(np.intp)
    ref = X[:, cols] - mu[cols]
    outs = []
    for threads in (1, 2):
        out = np.zeros((37, m + 5), dtype=dtype, order="F")
        norms2 = np.empty(m)
        _cd.gather_cols_dense(X, cols, mu, out, dest, norms2, threads)
        np.testing.assert_array_equal(out[:, dest], ref)
        np.testing.assert_allclose(norms2, (ref.astype(np.float64) ** 2).sum(0), rtol=1e-12)
        outs.append((out, norms2))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [0, 1, 7, 37, 64])
@pytest.mark.parametrize("view", ["C", "reversed rows", "wider rows"])
def test_gather_cols_runs_match_single_columns(dtype, n, view):
    """Consecutive features go through the vector (transposing) path, single
    ones one element at a time: the same values and the same norms, bit for
    bit, on odd row counts, reversed rows and rows wider than the view."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((n, 61)).astype(dtype) * 3 + 1
    X = {"C": base[:, :50], "reversed rows": base[::-1, :50],
         "wider rows": base[:, 3:53]}[view]
    mu = X.mean(0).astype(dtype) if n else np.zeros(50, dtype=dtype)
    cols = np.r_[0, 2:19, 23, 30:47].astype(np.intp)  # runs of 8 / 4 and stragglers
    dest = rng.permutation(len(cols)).astype(np.intp)
    out = np.zeros((n, len(cols)), dtype=dtype, order="F")
    norms2 = np.empty(len(cols))
    _cd.gather_cols_dense(X, cols, mu, out, dest, norms2)
    one = np.zeros_like(out)
    one_norms2 = np.empty(len(cols))
    for k in range(len(cols)):
        _cd.gather_cols_dense(X, cols[k:k + 1], mu, one, dest[k:k + 1], one_norms2[k:k + 1])
    ref = X[:, cols] - mu[cols]
    np.testing.assert_array_equal(out[:, dest], ref)
    np.testing.assert_array_equal(out, one)
    np.testing.assert_array_equal(norms2, one_norms2)
    np.testing.assert_allclose(norms2, (ref.astype(np.float64) ** 2).sum(0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(0, 0), (5, 0), (0, 4), (37, 61)])
def test_col_stats_sparse(dtype, shape):
    X = sp.random(*shape, density=0.3, format="csc", random_state=0, dtype=dtype)
    X[:, ::7] = 0  # empty columns
    X.eliminate_zeros()
    sums, sq = np.empty(shape[1]), np.empty(shape[1])
    _cd.col_stats_sparse(X.data, X.indptr, sums, sq)
    D = X.toarray().astype(np.float64)
    np.testing.assert_allclose(sums, D.sum(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sq, (D ** 2).sum(0), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        _cd.col_stats_sparse(X.data, X.indptr, np.empty(shape[1] + 1), sq)
    if X.nnz:
        with pytest.raises(ValueError):
            _cd.col_stats_sparse(X.data[:-1], X.indptr, sums, sq)


def test_gather_cols_rejects_bad_indices():
    X = np.ones((4, 5))
    out = np.zeros((4, 3), order="F")
    mu = np.zeros(5)
    with pytest.raises(IndexError):
        _cd.gather_cols_dense(X, np.array([5], dtype=np.intp), mu, out,
                              np.array([0], dtype=np.intp), np.empty(1))
    with pytest.raises(IndexError):
        _cd.gather_cols_dense(X, np.array([1], dtype=np.intp), mu, out,
                              np.array([3], dtype=np.intp), np.empty(1))
    with pytest.raises(ValueError):
        _cd.gather_cols_dense(X, np.array([1, 2], dtype=np.intp), mu, out,
                              np.array([0], dtype=np.intp), np.empty(2))


@pytest.mark.parametrize("positive", [False, True])
def test_cd_solve_gram_reaches_the_gap(positive):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 12))
    X -= X.mean(0)
    y = X[:, :4] @ np.array([3.0, -2.0, 1.0, 0.5]) + rng.standard_normal(200)
    y -= y.mean()
    l1, l2 = 20.0, 5.0
    w = np.zeros(12)
    tol_abs = 1e-10 * float(y @ y)
    epochs, gap = _cd.cd_solve_gram(X.T @ X, X.T @ y, float(y @ y), w, l1, l2, positive,
                                    10_000, tol_abs, 1e-10)
    assert gap <= tol_abs and epochs < 10_000
    r = y - X @ w
    g = X.T @ r - l2 * w  # KKT of 1/2||r||^2 + l1|w|_1 + l2/2 |w|^2
    nz = w != 0
    np.testing.assert_allclose(g[nz], l1 * np.sign(w[nz]), rtol=1e-4)
    assert (g[~nz] <= l1 * (1 + 1e-6)).all()
    if positive:
        assert (w >= 0).all()
    else:
        assert (np.abs(g[~nz]) <= l1 * (1 + 1e-6)).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cd_epoch_dense_scores(dtype):
    # scores: |X_j @ (R + w_j X_j)| as column j was visited where it ends at zero, else inf
    rng = np.random.default_rng(4)
    n, p = 60, 40
    X = np.asfortranarray(rng.standard_normal((n, p)).astype(dtype))
    X[:, 5] = 0  # a zero-norm column: score 0
    norms2 = (X.astype(np.float64) ** 2).sum(0).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    w0 = np.where(rng.random(p) < 0.5, rng.standard_normal(p), 0).astype(dtype)
    w0[5] = 0
    ws = rng.permutation(p).astype(np.intp)
    l1, l2 = dtype(0.8 * np.abs(X.T @ y).max()), dtype(0.5)
    w, R = w0.copy(), (y - X @ w0).astype(dtype)
    w_ref, R_ref = w0.copy(), R.copy()
    scores = np.full(p, -1.0, dtype=dtype)
    dw = _cd.cd_epoch_dense(X, w, R, norms2, ws, l1, l2, False, scores)
    # the same epoch without scores: the same bits
    assert _cd.cd_epoch_dense(X, w_ref, R_ref, norms2, ws, l1, l2, False) == dw
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(R, R_ref)
    # replay the epoch in float64 to get each column's dot as it was visited
    w64, R64 = w0.astype(np.float64), (y - X @ w0).astype(np.float64)
    for k, j in enumerate(ws):
        tmp = X[:, j] @ R64 + w64[j] * norms2[j]
        if norms2[j] == 0:
            assert scores[k] == 0
            continue
        if w[j] == 0:
            np.testing.assert_allclose(scores[k], abs(tmp), rtol=1e-3 if dtype == np.float32
                                       else 1e-10)
            assert scores[k] <= l1 * (1 + 1e-5)
        else:
            assert scores[k] == np.inf
        R64 += (w64[j] - w[j]) * X[:, j]
        w64[j] = w[j]
    assert np.isfinite(scores).sum() > 0 and np.isinf(scores).sum() > 0
    with pytest.raises(ValueError):
        _cd.cd_epoch_dense(X, w, R, norms2, ws, l1, l2, False, scores[:-1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 5, 16, 33, 67, 130, 1000])
@pytest.mark.parametrize("positive", [False, True])
def test_cd_epoch_dense_fused_axpy_same_bits(dtype, n, positive):
    # the epoch fuses a moved column's axpy with the next column's dot (one
    # pass over R): the same bits as one column per call, where every axpy
    # runs on its own before the next dot (tails of every vector width)
    rng = np.random.default_rng(n)
    p = 40
    X = np.asfortranarray(rng.standard_normal((n, p)).astype(dtype))
    X[:, 7] = 0  # zero-norm column: skipped, the pending axpy waits past it
    norms2 = (X.astype(np.float64) ** 2).sum(0).astype(dtype)
    ws = np.r_[rng.permutation(p)[:30], 7, 7].astype(np.intp)
    l1, l2 = dtype(0.2 * np.sqrt(n)), dtype(0.3)
    w = np.zeros(p, dtype=dtype)
    R = (3 * rng.standard_normal(n)).astype(dtype)
    w1, R1 = w.copy(), R.copy()
    for _ in range(3):
        sc = np.empty(len(ws), dtype=dtype)
        dw = _cd.cd_epoch_dense(X, w, R, norms2, ws, l1, l2, positive, sc)
        sc1 = np.empty(len(ws), dtype=dtype)
        dw1 = dtype(0)
        for k in range(len(ws)):
            dw1 = max(dw1, _cd.cd_epoch_dense(X, w1, R1, norms2, ws[k:k + 1], l1, l2, positive,
                                              sc1[k:k + 1]))
        assert dw == dw1 and dw > 0
        np.testing.assert_array_equal(w, w1)
        np.testing.assert_array_equal(R, R1)
        np.testing.assert_array_equal(sc, sc1)
