"""The compiled SGD kernel ``fastprox._kernels.sgd_fast`` against plain NumPy references.

``loss_grad`` against each loss and its derivative written in NumPy;
``sgd_epoch`` against an eager NumPy reference of the update its docstring
states (every feature decayed / thresholded at every update; no ``wscale``,
no lazy bookkeeping), over every loss, schedule, L1 method, batch size,
dtype (float32 / float64) and storage (dense rows, CSR with int32 or int64
indices), odd shapes and edge cases. The kernel is sequential (no thread
count): the OpenMP setting must not change its result.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastprox._kernels import sgd_fast

# per-dtype tolerance of a whole epoch (float32 rounds every stored weight)
EPOCH_TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}


# ------------------------------------------------------------------ losses
# (loss, dloss/dp) for predictions p and targets y (in {-1, +1} for the
# classification losses), broadcast NumPy arrays.

def _squared_error(p, y, eps):
    r = p - y
    return 0.5 * r * r, r


def _huber(p, y, eps):
    r = p - y
    small = np.abs(r) <= eps
    return (np.where(small, 0.5 * r * r, eps * np.abs(r) - 0.5 * eps * eps),
            np.where(small, r, eps * np.sign(r)))


def _epsilon_insensitive(p, y, eps):
    r = p - y
    return np.maximum(np.abs(r) - eps, 0), np.where(np.abs(r) > eps, np.sign(r), 0.0)


def _squared_epsilon_insensitive(p, y, eps):
    r = p - y
    e = np.maximum(np.abs(r) - eps, 0)
    return e * e, 2 * np.sign(r) * e


def _log_loss(p, y, eps):
    z = y * p
    return np.logaddexp(0, -z), -y / (np.exp(z) + 1)


def _hinge(p, y, eps):  # steps at the margin too (z <= 1), as scikit-learn
    z = y * p
    return np.maximum(1 - z, 0), np.where(z <= 1, -y, 0.0)


def _modified_huber(p, y, eps):
    z = y * p
    return (np.where(z >= 1, 0.0, np.where(z >= -1, (1 - z) ** 2, -4 * z)),
            np.where(z >= 1, 0.0, np.where(z >= -1, -2 * (1 - z) * y, -4 * y)))


def _squared_hinge(p, y, eps):
    z = np.maximum(1 - y * p, 0)
    return z * z, -2 * y * z


def _perceptron(p, y, eps):  # steps at z == 0 too, as scikit-learn
    z = y * p
    return np.maximum(-z, 0), np.where(z <= 0, -y, 0.0)


REF_LOSSES = {"squared_error": _squared_error, "huber": _huber,
              "epsilon_insensitive": _epsilon_insensitive,
              "squared_epsilon_insensitive": _squared_epsilon_insensitive,
              "log_loss": _log_loss, "hinge": _hinge, "modified_huber": _modified_huber,
              "squared_hinge": _squared_hinge, "perceptron": _perceptron}
CLF_LOSSES = ("log_loss", "hinge", "modified_huber", "squared_hinge", "perceptron")


def test_loss_tables():
    assert set(sgd_fast.LOSSES) == set(REF_LOSSES)
    assert set(sgd_fast.REGRESSION_LOSSES) | set(sgd_fast.CLASSIFICATION_LOSSES) \
        == set(sgd_fast.LOSSES)
    assert set(sgd_fast.CLASSIFICATION_LOSSES) == set(CLF_LOSSES) | {"squared_error"}


@pytest.mark.parametrize("loss", sorted(REF_LOSSES))
def test_loss_grad_matches_reference(loss):
    eps = 0.3
    rng = np.random.default_rng(0)
    if loss in CLF_LOSSES:
        y = np.where(rng.random(64) < 0.5, -1.0, 1.0)
        # the kinks (z = -1, 0, 1), the log-loss branch points (|z| = 18) and far tails
        z = np.concatenate([rng.uniform(-3, 3, 40), [-1, 0, 1, -18, 18, -18.5, 18.5, -60, 60,
                                                      1 - 1e-12, 1 + 1e-12, -40, 40, 2, -2,
                                                      0.5, -0.5, 30, -30, 0.999, -1.001, 5,
                                                      -5, 3]])
        p = y * z
    else:
        y = rng.standard_normal(64)
        r = np.concatenate([rng.uniform(-2, 2, 56), [eps, -eps, 0.0, 2 * eps, -2 * eps,
                                                     eps * (1 + 1e-9), -eps * (1 + 1e-9), 50]])
        p = y + r
    want_l, want_d = REF_LOSSES[loss](p, y, eps)
    # past |z| = 18 the kernel drops terms below exp(-18) = 1.5e-8 (relative)
    tol = dict(rtol=2e-8, atol=0) if loss == "log_loss" else dict(rtol=1e-13, atol=1e-15)
    got_l, got_d = sgd_fast.loss_grad(sgd_fast.LOSSES[loss], p, y, eps)
    assert got_l.dtype == np.float64 and got_l.shape == p.shape
    np.testing.assert_allclose(got_l, want_l, **tol)
    np.testing.assert_allclose(got_d, want_d, **tol)
    # scalars give floats, the same values
    for i in (0, len(p) - 1):
        sl, sd = sgd_fast.loss_grad(sgd_fast.LOSSES[loss], float(p[i]), float(y[i]), eps)
        assert type(sl) is float and type(sd) is float
        assert (sl, sd) == (got_l[i], got_d[i])


def test_loss_grad_broadcasts_and_casts():
    code = sgd_fast.LOSSES["squared_error"]
    P = np.arange(6, dtype=np.float32).reshape(2, 3)
    l, d = sgd_fast.loss_grad(code, P, [1.0, 2.0, 3.0])
    assert l.shape == d.shape == (2, 3) and l.dtype == np.float64
    np.testing.assert_array_equal(d, P - np.array([1.0, 2.0, 3.0]))
    l, d = sgd_fast.loss_grad(code, np.empty(0), 1.0)
    assert l.shape == d.shape == (0,)
    # read-only and non-contiguous inputs
    Q = np.arange(10.0)[::2]
    Q.setflags(write=False)
    np.testing.assert_array_equal(sgd_fast.loss_grad(code, Q, 0.0)[1], Q)
    with pytest.raises(ValueError, match="loss code"):
        sgd_fast.loss_grad(99, 1.0, 1.0)


# ----------------------------------------------------------- epoch reference

def _ref_eta(schedule, t, eta0, power_t, alpha, optimal_init):
    if schedule == "constant":
        return eta0
    if schedule == "invscaling":
        return eta0 / t ** power_t
    return 1.0 / (alpha * (optimal_init + t - 1.0))


def _ref_clip(W, q, u, cols):
    """Cumulative penalty (Tsuruoka et al. 2009) on the columns ``cols`` of W."""
    z = W[:, cols]
    qc = q[:, cols]
    new = np.where(z > 0, np.maximum(z - (u + qc), 0),
                   np.where(z < 0, np.minimum(z + (u - qc), 0), z))
    W[:, cols] = new
    q[:, cols] = qc + new - z


def _ref_epoch(X, Y, sw, order, W, b, q, u, t, *, loss, epsilon, schedule, eta0, power_t,
               alpha, optimal_init, l1, l2, l1_method, fit_intercept, batch_size, finish,
               intercept_decay=1.0):
    """Eager NumPy reference of ``sgd_fast.sgd_epoch`` (float64 throughout)."""
    W, b, q = W.astype(float).copy(), b.astype(float).copy(), q.copy()
    sparse = sp.issparse(X)
    fn = REF_LOSSES[loss]
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        Xb = X[rows].toarray() if sparse else X[rows]
        Xb = Xb.astype(float)
        eta = _ref_eta(schedule, t, eta0, power_t, alpha, optimal_init)
        P = Xb @ W.T + b
        L, D = fn(P, Y[rows].astype(float), epsilon)
        total += float(sw[rows] @ L.sum(axis=1))
        D = D * (sw[rows] / len(rows))[:, None]
        W = max(0.0, 1.0 - eta * l2) * W - eta * (D.T @ Xb)
        if fit_intercept:
            b = b - eta * intercept_decay * D.sum(axis=0)
        if l1 > 0 and l1_method == "prox":
            W = np.sign(W) * np.maximum(np.abs(W) - eta * l1, 0)
        elif l1 > 0:
            u += eta * l1
            cols = np.unique(X[rows].indices) if sparse else np.arange(W.shape[1])
            _ref_clip(W, q, u, cols)
        t += 1.0
    if l1 > 0 and l1_method == "cumulative" and finish and sparse:
        _ref_clip(W, q, u, np.arange(W.shape[1]))
    return W, b, q, u, t, total


def _kernel_args(X):
    if sp.issparse(X):
        return X.data, X.indices, X.indptr
    return X, np.empty(0, np.int32), np.empty(0, np.int32)


def _kernel_epoch(X, Y, sw, order, W, b, q, u, t, **kw):
    W, b, q, ua = W.copy(), b.copy(), q.copy(), np.array([u])
    codes = dict(kw, loss=sgd_fast.LOSSES[kw["loss"]],
                 schedule=sgd_fast.SCHEDULES[kw["schedule"]],
                 l1_method=sgd_fast.L1_METHODS[kw["l1_method"]])
    codes.setdefault("intercept_decay", 1.0)
    total, t = sgd_fast.sgd_epoch(*_kernel_args(X), X.shape[1], Y, sw, order, W, b, q, ua, t,
                                  **codes)
    return W, b, q, float(ua[0]), t, total


def _options(**kw):
    base = dict(loss="squared_error", epsilon=0.1, schedule="constant", eta0=0.05, power_t=0.3,
                alpha=0.05, optimal_init=400.0, l1=0.03, l2=0.02, l1_method="cumulative",
                fit_intercept=True, batch_size=1, finish=True)
    base.update(kw)
    return base


def _epoch_problem(fmt, dtype, loss, n=40, n_features=12, n_out=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    X[rng.random(X.shape) < 0.6] = 0.0  # sparse rows: features left untouched for a while
    if n_out is None:
        n_out = 3 if loss in CLF_LOSSES else 2
    if loss in CLF_LOSSES:
        Y = np.where(rng.random((n, n_out)) < 0.5, -1.0, 1.0)
    else:
        Y = X @ rng.standard_normal((n_features, n_out)) + 0.1 * rng.standard_normal((n, n_out))
    X = X.astype(dtype)
    if fmt.startswith("csr"):
        X = sp.csr_matrix(X)
        idx = np.int64 if fmt == "csr64" else np.int32
        X.indices, X.indptr = X.indices.astype(idx), X.indptr.astype(idx)
    sw = rng.uniform(0.5, 2.0, n)
    order = rng.permutation(n).astype(np.intp)
    W = (0.3 * rng.standard_normal((n_out, n_features))).astype(dtype)
    W[:, ::3] = 0.0
    b = (0.1 * rng.standard_normal(n_out)).astype(dtype)
    q = 0.01 * rng.standard_normal((n_out, n_features))
    return X, Y.astype(dtype), sw, order, W, b, q


def _assert_matches(got, want, dtype, *, skip_q=False, names=("W", "b", "q", "u", "t", "loss"),
                    msg=""):
    tol = EPOCH_TOL[dtype]
    for g, w, name in zip(got, want, names):
        if name == "q" and skip_q:
            continue
        scale = max(1.0, float(np.max(np.abs(w)))) if np.size(w) else 1.0
        np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=tol["rtol"],
                                   atol=tol["atol"] * scale, err_msg=f"{name} {msg}")


# ---------------------------------------------------------------- the epoch

@pytest.mark.parametrize("fmt", ["dense", "csr32", "csr64"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("l1_method", ["cumulative", "prox"])
@pytest.mark.parametrize("schedule", ["constant", "optimal", "invscaling"])
def test_epoch_matches_numpy_reference(fmt, dtype, batch_size, l1_method, schedule):
    for loss in REF_LOSSES:
        X, Y, sw, order, W, b, q = _epoch_problem(fmt, dtype, loss)
        kw = _options(loss=loss, schedule=schedule, l1_method=l1_method, batch_size=batch_size)
        got = _kernel_epoch(X, Y, sw, order, W, b, q, 0.05, 3.0, **kw)
        want = _ref_epoch(X, Y, sw, order, W, b, q, 0.05, 3.0, **kw)
        _assert_matches(got, want, dtype, skip_q=l1_method == "prox", msg=f"({loss})")
        assert got[0].dtype == dtype and got[1].dtype == dtype
        if l1_method == "prox" or fmt == "dense":
            assert np.sum(got[0] == 0) == np.sum(want[0] == 0)


@pytest.mark.parametrize("fmt", ["dense", "csr32"])
@pytest.mark.parametrize("l1_method", ["cumulative", "prox"])
def test_epoch_edge_cases(fmt, l1_method):
    # a long run that drives wscale below its renormalisation threshold, a
    # step with eta * l2 >= 1 (weights reset to zero), no intercept, no L1,
    # empty rows and an unfinished cumulative penalty
    X, Y, sw, order, W, b, q = _epoch_problem(fmt, np.float64, "squared_error", n=150)
    if fmt == "csr32":
        X = X.tolil()
        X[5] = 0.0
        X = X.tocsr()
    order = np.concatenate([order, order]).astype(np.intp)
    for l1, l2, eta0, fit_intercept, finish in [(0.1, 0.6, 0.2, True, True),
                                                (0.05, 12.0, 0.1, True, True),
                                                (0.0, 0.3, 0.02, False, True),
                                                (0.2, 0.0, 0.05, True, False)]:
        kw = _options(schedule="constant", eta0=eta0, power_t=0.5, alpha=1.0, optimal_init=1.0,
                      l1=l1, l2=l2, l1_method=l1_method, fit_intercept=fit_intercept,
                      batch_size=3, finish=finish)
        got = _kernel_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
        want = _ref_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
        for g, w in zip(got[:2], want[:2]):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
        if not fit_intercept:
            np.testing.assert_array_equal(got[1], b)


@pytest.mark.parametrize("fmt", ["dense", "csr32", "csr64"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,n_features,n_out,batch_size", [
    (1, 1, 1, 1),      # one row, one feature
    (5, 1, 2, 2),      # one feature, a last batch of one row
    (3, 17, 1, 10),    # a batch larger than the data
    (9, 13, 4, 4),     # odd widths: the dense dot's 8-wide remainder
    (23, 8, 1, 23),    # one batch, the whole data
])
@pytest.mark.parametrize("l1_method", ["cumulative", "prox"])
def test_epoch_odd_shapes(fmt, dtype, n, n_features, n_out, batch_size, l1_method):
    X, Y, sw, order, W, b, q = _epoch_problem(fmt, dtype, "huber", n=n, n_features=n_features,
                                              n_out=n_out, seed=n + n_features)
    kw = _options(loss="huber", schedule="invscaling", l1_method=l1_method,
                  batch_size=batch_size)
    got = _kernel_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    want = _ref_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    _assert_matches(got, want, dtype, skip_q=l1_method == "prox")


@pytest.mark.parametrize("fmt", ["dense", "csr32", "csr64"])
def test_epoch_order_subset_with_repeats_and_sparse_intercept_decay(fmt):
    # rows visited in any order, some twice, some never; the CSR intercept damping
    X, Y, sw, _, W, b, q = _epoch_problem(fmt, np.float64, "log_loss", n=30)
    order = np.array([4, 4, 29, 0, 7, 7, 7, 13], dtype=np.intp)
    kw = _options(loss="log_loss", schedule="optimal", batch_size=3, intercept_decay=0.01)
    got = _kernel_epoch(X, Y, sw, order, W, b, q, 0.0, 5.0, **kw)
    want = _ref_epoch(X, Y, sw, order, W, b, q, 0.0, 5.0, **kw)
    _assert_matches(got, want, np.float64)
    assert got[4] == 5.0 + 3  # three updates


@pytest.mark.parametrize("fmt", ["dense", "csr32"])
def test_epoch_on_nothing_changes_nothing(fmt):
    X, Y, sw, order, W, b, q = _epoch_problem(fmt, np.float64, "squared_error", n=6)
    got = _kernel_epoch(X, Y, sw, np.empty(0, np.intp), W, b, q, 0.25, 4.0, **_options())
    np.testing.assert_array_equal(got[0], W)
    np.testing.assert_array_equal(got[1], b)
    np.testing.assert_array_equal(got[2], q)
    assert got[3:] == (0.25, 4.0, 0.0)
    # no features: nothing to update, the count of updates does not move either
    X0 = np.empty((6, 0)) if fmt == "dense" else sp.csr_matrix((6, 0))
    got = _kernel_epoch(X0, Y, sw, order, np.empty((2, 0)), b, np.empty((2, 0)), 0.0, 4.0,
                        **_options())
    np.testing.assert_array_equal(got[1], b)
    assert got[4:] == (4.0, 0.0)


@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_epoch_all_rows_empty(idx):
    # a CSR X with no stored value: only the intercept and the decay move
    X = sp.csr_matrix((7, 5))
    X.indices, X.indptr = X.indices.astype(idx), X.indptr.astype(idx)
    rng = np.random.default_rng(3)
    Y, sw, order = rng.standard_normal((7, 1)), np.ones(7), rng.permutation(7).astype(np.intp)
    W, b, q = rng.standard_normal((1, 5)), np.zeros(1), np.zeros((1, 5))
    kw = _options(batch_size=2)
    got = _kernel_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    want = _ref_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    _assert_matches(got, want, np.float64)


def test_epoch_stops_on_a_non_finite_prediction():
    X, Y, sw, order, W, b, q = _epoch_problem("dense", np.float64, "squared_error", n=8)
    X[3, 0] = np.inf
    W[:, 0] = 1.0
    got = _kernel_epoch(X, Y, sw, np.arange(8, dtype=np.intp), W, b, q, 0.0, 1.0, **_options())
    assert np.isnan(got[5])
    assert got[4] == 4.0  # three updates, then the fourth row's prediction is infinite


def test_epoch_result_does_not_depend_on_the_thread_setting(n_threads):
    # the epoch is sequential: capping OpenMP at 1 or 2 threads gives the same bits
    X, Y, sw, order, W, b, q = _epoch_problem("csr64", np.float32, "modified_huber", n=60)
    kw = _options(loss="modified_huber", schedule="optimal", batch_size=4)
    got = _kernel_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    want = _ref_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    _assert_matches(got, want, np.float32)
    again = _kernel_epoch(X, Y, sw, order, W, b, q, 0.0, 1.0, **kw)
    np.testing.assert_array_equal(again[0], got[0])


def test_epoch_rejects_inconsistent_inputs():
    X, Y, sw, order, W, b, q = _epoch_problem("csr32", np.float64, "squared_error", n=10)
    codes = dict(loss=0, epsilon=0.1, schedule=0, eta0=0.1, power_t=0.5, alpha=0.1,
                 optimal_init=1.0, l1=0.01, l2=0.01, l1_method=sgd_fast.L1_METHODS["cumulative"],
                 fit_intercept=True, intercept_decay=1.0, batch_size=1, finish=True)
    args = [X.data, X.indices, X.indptr, X.shape[1], Y, sw, order, W.copy(), b.copy(), q.copy(),
            np.zeros(1), 1.0]

    def call(i=None, value=None, **over):
        a = list(args)
        if i is not None:
            a[i] = value
        return sgd_fast.sgd_epoch(*a, **dict(codes, **over))

    with pytest.raises(ValueError, match="CSR"):
        call(2, X.indptr[:-1])
    with pytest.raises(ValueError, match="CSR"):
        call(0, X.data[:-1])
    with pytest.raises(ValueError, match="not a row"):
        call(6, np.array([0, 10], dtype=np.intp))
    with pytest.raises(ValueError, match="not a row"):
        call(6, np.array([-1], dtype=np.intp))
    with pytest.raises(ValueError, match="inconsistent"):
        call(5, sw[:-1])
    with pytest.raises(ValueError, match="inconsistent"):
        call(8, np.zeros(3))
    with pytest.raises(ValueError, match="q must"):
        call(9, np.zeros((1, 1)))
    for name in ("loss", "schedule", "l1_method"):
        with pytest.raises(ValueError, match="unknown"):
            call(**{name: 42})
    Xd = X.toarray()
    with pytest.raises(ValueError, match="rows"):
        sgd_fast.sgd_epoch(Xd[:-1], np.empty(0, np.int32), np.empty(0, np.int32), Xd.shape[1],
                           *args[4:], **codes)
    # q is not read without the cumulative penalty: any shape will do
    call(9, np.zeros((1, 1)), l1_method=sgd_fast.L1_METHODS["prox"])
