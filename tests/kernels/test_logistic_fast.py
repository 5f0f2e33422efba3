"""Kernels of ``fastprox._kernels.logistic_fast`` against plain-NumPy references.

Every entry point of the proximal Newton kernels is run on random inputs
(float32 and float64 ``X``; int32 and int64 CSC indices; C- and F-ordered
dense ``X``; 1 and 2 threads where the kernel takes ``n_threads``; empty and
odd shapes) and compared with a reference written from the maths in the
kernel module's comments. The kernels read ``X`` in its own dtype but
multiply and sum in float64, so the reference works on ``X.astype(float64)``
(exact for float32 values): the tolerances only cover summation order.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastprox._kernels import logistic_fast as lf

DTYPES = [np.float32, np.float64]
INDEX_DTYPES = [np.int32, np.int64]
# Sums run in float64 for both dtypes; float32 inputs just carry fewer digits
# into the same float64 arithmetic, so only the summation order differs.
TOL = {np.float32: dict(rtol=1e-10, atol=1e-10), np.float64: dict(rtol=1e-12, atol=1e-12)}
# (n, m): samples x working-set columns; odd sizes hit the 8-lane and 4-row tails
SHAPES = [(0, 3), (1, 1), (13, 0), (13, 7), (37, 11)]


def _dense(n, p, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal((n, p)).astype(dtype)


def _csc(n, m, dtype, idx_dtype, density=0.3, seed=0):
    """Random CSC matrix (n, m) as the kernels take it: (data, indices, indptr) + dense copy."""
    A = sp.random(n, m, density=density, format="csc", dtype=np.float64,
                  random_state=np.random.default_rng(seed))
    A.data[:] = np.random.default_rng(seed + 1).standard_normal(A.nnz)
    arrays = (A.data.astype(dtype), A.indices.astype(idx_dtype), A.indptr.astype(idx_dtype))
    return arrays, A.toarray().astype(dtype).astype(np.float64)


def _violation(z, deriv, l1, l2):
    """Distance of ``-(deriv + l2 z)`` to ``l1 * d|z|`` (the coordinate's KKT violation)."""
    g = deriv + l2 * z
    if z > 0:
        return abs(g + l1)
    if z < 0:
        return abs(g - l1)
    return max(abs(g) - l1, 0.0)


def _prox_newton_coord(z, deriv, hkk, l1, l2):
    """argmin_z' deriv (z' - z) + hkk/2 (z' - z)^2 + l1 |z'| + l2/2 z'^2."""
    t = hkk * z - deriv
    return np.sign(t) * max(abs(t) - l1, 0.0) / (hkk + l2)


# -- full gradient, gather, layout --------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n, p, K", [(0, 5, 2), (7, 0, 1), (13, 9, 1), (37, 1100, 3),
                                     (67, 1030, 16)])  # the last one runs threaded
def test_xt_r_dense(dtype, order, n_threads, n, p, K):
    X = np.asarray(_dense(n, p, dtype), order=order)
    R = np.random.default_rng(1).standard_normal((K, n))
    out = np.full((K, p), np.nan)
    lf.xt_r_dense(X, R, out, n_threads)
    np.testing.assert_allclose(out, R @ X.astype(np.float64), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_xt_r_dense_strided_and_thread_independent(dtype):
    X = _dense(67, 2060, dtype)[:, ::2]  # neither C nor F: the row-block path
    R = np.random.default_rng(1).standard_normal((16, 67))
    out1, out2 = np.empty((16, 1030)), np.empty((16, 1030))
    lf.xt_r_dense(X, R, out1, 1)
    lf.xt_r_dense(X, R, out2, 2)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_allclose(out1, R @ X.astype(np.float64), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n, p, K", [(0, 4, 1), (9, 0, 2), (13, 7, 1), (300, 500, 3)])
def test_xt_r_sparse(dtype, idx_dtype, n_threads, n, p, K):
    (data, indices, indptr), X = _csc(n, p, dtype, idx_dtype)
    R = np.random.default_rng(1).standard_normal((K, n))
    out = np.full((K, p), np.nan)
    lf.xt_r_sparse(data, indices, indptr, R, out, n_threads)
    np.testing.assert_allclose(out, R @ X, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n, p", [(0, 4), (1, 3), (130, 17)])  # 130 rows: three row tiles
def test_gather_cols_dense(dtype, order, n, p):
    X = np.asarray(_dense(n, p, dtype), order=order)
    ws = np.array([p - 1, 0, 2, 2][:p], dtype=np.intp)  # any order, repeats allowed
    out = np.empty((ws.size, n), dtype=dtype)
    lf.gather_cols_dense(X, ws, out)
    np.testing.assert_array_equal(out, X[:, ws].T)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n, p", [(0, 5), (3, 0), (1, 1), (65, 129), (1030, 1030)])
def test_to_fortran(dtype, n_threads, n, p):
    X = _dense(n, p, dtype)
    out = np.zeros((n, p), dtype=dtype, order="F")
    lf.to_fortran(X, out, n_threads)
    np.testing.assert_array_equal(out, X)


# -- working-set products -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, m", SHAPES)
def test_ws_products_dense(dtype, n, m):
    Xws = _dense(m, n, dtype)
    X64 = Xws.astype(np.float64)
    rng = np.random.default_rng(1)
    r, h = rng.standard_normal(n), rng.random(n)
    coef = rng.standard_normal(m)
    coef[::2] = 0  # zero coefficients are skipped
    out = np.full(m, np.nan)
    lf.ws_dot(Xws, r, out)
    np.testing.assert_allclose(out, X64 @ r, **TOL[dtype])
    lf.ws_hdiag(Xws, h, out)
    np.testing.assert_allclose(out, (X64 ** 2) @ h, **TOL[dtype])
    acc = rng.standard_normal(n)
    expected = acc + X64.T @ coef
    lf.ws_axpy(Xws, coef, acc)
    np.testing.assert_allclose(acc, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n, m", SHAPES)
def test_ws_products_sparse(dtype, idx_dtype, n, m):
    csc, X = _csc(n, m, dtype, idx_dtype)  # X is the (n, m) working set, Xws.T
    rng = np.random.default_rng(1)
    r, h = rng.standard_normal(n), rng.random(n)
    coef = rng.standard_normal(m)
    coef[::2] = 0
    out = np.full(m, np.nan)
    lf.ws_dot_sparse(*csc, r, out)
    np.testing.assert_allclose(out, X.T @ r, **TOL[dtype])
    lf.ws_hdiag_sparse(*csc, h, out)
    np.testing.assert_allclose(out, (X.T ** 2) @ h, **TOL[dtype])
    acc = rng.standard_normal(n)
    expected = acc + X @ coef
    lf.ws_axpy_sparse(*csc, coef, acc)
    np.testing.assert_allclose(acc, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n, m, K", [(0, 3, 2), (13, 0, 3), (13, 7, 1), (37, 11, 3),
                                     (300, 700, 5)])  # the last one runs threaded
def test_ws_hdiag_multi(dtype, n_threads, n, m, K):
    Xws = _dense(m, n, dtype)
    Hw = np.random.default_rng(1).random((K, n))
    out = np.full((K, m), np.nan)
    lf.ws_hdiag_multi(Xws, Hw, out, n_threads)
    np.testing.assert_allclose(out, Hw @ (Xws.astype(np.float64) ** 2).T, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n, m, K", [(0, 3, 2), (13, 0, 3), (13, 7, 1), (300, 500, 3)])
def test_ws_hdiag_multi_sparse(dtype, idx_dtype, n_threads, n, m, K):
    csc, X = _csc(n, m, dtype, idx_dtype)
    Hw = np.random.default_rng(1).random((K, n))
    out = np.full((K, m), np.nan)
    lf.ws_hdiag_multi_sparse(*csc, Hw, out, n_threads)
    np.testing.assert_allclose(out, Hw @ X ** 2, **TOL[dtype])


# -- binary block: one CD epoch of the proximal Newton model ------------------------


def _block_problem(n, m, seed=0):
    """Inputs of ``block_cd_epoch``; ``_block_state`` makes ``v``, ``s`` consistent with them."""
    rng = np.random.default_rng(seed)
    h = rng.random(n) * 0.25  # p (1 - p) of a logistic model
    H = h.sum()
    return dict(h=h, H=H, w=rng.standard_normal(m) * (rng.random(m) < 0.5),
                delta=rng.standard_normal(m) * 0.1, g=rng.standard_normal(m))


def _block_state(X, prob, active_mu=True):
    """Derived arrays of the model for the (n, m) working set ``X`` (float64)."""
    h, H = prob["h"], prob["H"]
    mu = X.T @ h / H if active_mu and H > 0 else np.zeros(X.shape[1])
    hdiag = ((X - mu) ** 2).T @ h
    hdiag[:1] = 0  # a column without curvature is skipped
    return dict(mu=mu, hmu=H * mu, hdiag=hdiag, v=h * (X @ prob["delta"]),
                s=np.array([mu @ prob["delta"]]))


def _block_epoch_ref(X, active, grad, hdiag, mu, hmu, w, delta, h, v, s, l1, l2):
    """The epoch in plain NumPy: CD on the centred model in the order of ``active``."""
    delta, v, s = delta.copy(), v.copy(), float(s[0])
    crit = 0.0
    for k in active:
        if hdiag[k] <= 0:
            continue
        deriv = grad[k] + X[:, k] @ v - s * hmu[k]
        z = w[k] + delta[k]
        crit = max(crit, _violation(z, deriv, l1, l2))
        new = _prox_newton_coord(z, deriv, hdiag[k], l1, l2)
        if new != z:
            dz = new - z
            delta[k] += dz
            v += dz * h * X[:, k]
            s += dz * mu[k]
    return crit, delta, v, np.array([s])


def _run_block_epoch(sparse, dtype, idx_dtype, n, m, active, l1, l2, intercept=True):
    prob = _block_problem(n, m)
    if sparse:
        csc, X = _csc(n, m, dtype, idx_dtype, density=0.5)
        operand = csc
        kernel = lf.block_cd_epoch_sparse
    else:
        Xws = _dense(m, n, dtype)
        X = Xws.T.astype(np.float64)
        operand = (Xws,)
        kernel = lf.block_cd_epoch
    st = _block_state(X, prob, intercept)
    grad = prob["g"]
    args = (grad, st["hdiag"], st["mu"], st["hmu"], prob["w"])
    delta, v, s = prob["delta"].copy(), st["v"].copy(), st["s"].copy()
    crit = kernel(*operand, active, *args, delta, prob["h"], v, s, l1, l2)
    ref = _block_epoch_ref(X, active, *args, prob["delta"], prob["h"], st["v"], st["s"], l1, l2)
    return (crit, delta, v, s), ref, (X, prob, st)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csc"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n, m", [(1, 1), (13, 7), (37, 11)])
@pytest.mark.parametrize("intercept", [True, False])
def test_block_cd_epoch(sparse, dtype, idx_dtype, n, m, intercept):
    if not sparse and idx_dtype is np.int64:
        pytest.skip("dense working set has no index array")
    active = np.random.default_rng(3).permutation(m).astype(np.intp)  # any order
    for l1, l2 in [(0.0, 0.0), (0.05, 0.1), (10.0, 0.0)]:
        got, ref, _ = _run_block_epoch(sparse, dtype, idx_dtype, n, m, active, l1, l2,
                                       intercept)
        np.testing.assert_allclose(got[0], ref[0], **TOL[dtype])
        for a, b in zip(got[1:], ref[1:]):
            np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csc"])
def test_block_cd_epoch_empty_active(sparse):
    got, ref, _ = _run_block_epoch(sparse, np.float64, np.int32, 13, 5,
                                   np.empty(0, np.intp), 0.1, 0.1)
    assert got[0] == 0.0
    for a, b in zip(got[1:], ref[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csc"])
def test_block_cd_epochs_solve_the_centred_model(sparse):
    """Repeated epochs reach the minimiser of ``g.d + 1/2 d' Xc' diag(h) Xc d + l1|w+d|_1
    + l2/2 |w+d|^2``, with ``Xc`` centred by the h-weighted means (the intercept
    minimised out): the kernel's derivative ``grad + X'v - s H mu`` is this model's."""
    n, m, l1, l2 = 40, 6, 0.02, 0.05
    active = np.arange(1, m, dtype=np.intp)  # column 0 has hdiag = 0: left alone
    (crit, delta, v, s), _, (X, prob, st) = _run_block_epoch(
        sparse, np.float64, np.int32, n, m, active, l1, l2)
    operand = _csc(n, m, np.float64, np.int32, density=0.5)[0] if sparse else \
        (np.ascontiguousarray(X.T),)
    kernel = lf.block_cd_epoch_sparse if sparse else lf.block_cd_epoch
    for _ in range(500):
        crit = kernel(*operand, active, prob["g"], st["hdiag"], st["mu"], st["hmu"], prob["w"],
                      delta, prob["h"], v, s, l1, l2)
    assert crit < 1e-12
    Xc = X - st["mu"]
    deriv = prob["g"] + Xc.T @ (prob["h"] * (Xc @ delta))
    z = prob["w"] + delta
    assert max(_violation(z[k], deriv[k], l1, l2) for k in active) < 1e-10
    np.testing.assert_allclose(v, prob["h"] * (X @ delta), atol=1e-12)
    np.testing.assert_allclose(s, [st["mu"] @ delta], atol=1e-12)


# -- multinomial: one CD epoch over all classes -------------------------------------


def _mn_problem(n, m, K, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.random((K, n)) + 0.1
    P /= P.sum(0)
    Q = rng.random(n) / max(n, 1) * P  # sample_weight / n * P
    D = rng.standard_normal((K, m)) * 0.1
    W = rng.standard_normal((K, m)) * (rng.random((K, m)) < 0.5)
    return dict(P=P, Q=Q, D=D, W=W, G=rng.standard_normal((K, m)) * 0.01)


def _mn_epoch_ref(X, active, G, hdiag, W, D, P, Q, U, a, l1, l2):
    """Multinomial epoch in NumPy: derivative ``G + x_j . Q[k] (U[k] - a)``."""
    D, U, a = D.copy(), U.copy(), a.copy()
    crit = 0.0
    for j in active:
        x = X[:, j]
        for k in range(G.shape[0]):
            if hdiag[k, j] <= 0:
                continue
            deriv = G[k, j] + x @ (Q[k] * (U[k] - a))
            z = W[k, j] + D[k, j]
            crit = max(crit, _violation(z, deriv, l1, l2))
            new = _prox_newton_coord(z, deriv, hdiag[k, j], l1, l2)
            if new != z:
                dz = new - z
                D[k, j] += dz
                U[k] += dz * x
                a += dz * x * P[k]
    return crit, D, U, a


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csc"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n, m, K", [(1, 1, 2), (13, 0, 3), (13, 7, 3), (37, 11, 4)])
def test_mn_cd_epoch(sparse, dtype, idx_dtype, n, m, K):
    if not sparse and idx_dtype is np.int64:
        pytest.skip("dense working set has no index array")
    pr = _mn_problem(n, m, K)
    if sparse:
        operand, X = _csc(n, m, dtype, idx_dtype, density=0.5)
        kernel = lf.mn_cd_epoch_sparse
    else:
        Xws = _dense(m, n, dtype)
        operand, X = (Xws,), Xws.T.astype(np.float64)
        kernel = lf.mn_cd_epoch
    hdiag = pr["Q"] * (1 - pr["P"]) @ X ** 2
    if m:
        hdiag[0, 0] = 0  # skipped coordinate
    U = pr["D"] @ X.T  # consistent state: U = D Xws (no intercept step)
    a = (pr["P"] * U).sum(0)
    active = np.random.default_rng(3).permutation(m).astype(np.intp)
    for l1, l2 in [(0.0, 0.0), (0.001, 0.01), (1.0, 0.0)]:
        D, Uk, ak = pr["D"].copy(), U.copy(), a.copy()
        crit = kernel(*operand, active, pr["G"], hdiag, pr["W"], D, pr["P"], pr["Q"], Uk, ak,
                      l1, l2)
        ref = _mn_epoch_ref(X, active, pr["G"], hdiag, pr["W"], pr["D"], pr["P"], pr["Q"], U,
                            a, l1, l2)
        np.testing.assert_allclose(crit, ref[0], **TOL[dtype])
        for got, want in zip((D, Uk, ak), ref[1:]):
            np.testing.assert_allclose(got, want, **TOL[dtype])
