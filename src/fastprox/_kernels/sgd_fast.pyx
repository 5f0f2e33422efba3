"""Compiled SGD epochs for ``linear_model.SGDRegressor`` / ``SGDClassifier``.

Two entry points: :func:`sgd_epoch` runs the updates for the rows
``order[0], order[1], ...`` of a dense (C-ordered) or CSR ``X`` in
mini-batches of ``batch_size``; :func:`loss_grad` evaluates a loss and its
derivative with the very function the epoch uses (for the estimators' step
size and for tests). The orchestration (shuffling, epochs, stopping, state)
lives in ``linear_model/_sgd_training.py``. Each
update, with ``d_i = sw_i * dL(y_i, x_i @ w + b) / m`` over the ``m`` rows
of the batch and the step ``eta`` of the schedule at the update count ``t``::

    w <- max(0, 1 - eta*l2) * w - eta * sum_i d_i x_i
    b <- b - eta * intercept_decay * sum_i d_i
    then the L1 part, either
      'prox'       w <- soft_threshold(w, eta*l1)                      (every feature)
      'cumulative' u <- u + eta*l1; each feature j the batch touches is
                   pulled toward zero by its pending penalty u - q_j (u + q_j
                   on the other side), never across zero, and q_j records
                   what was applied (Tsuruoka, Tsujii & Ananiadou, 2009)

with ``l1 = alpha * l1_ratio`` and ``l2 = alpha * (1 - l1_ratio)``. Dense
rows touch every feature. At the end of the call (``finish``) the cumulative
penalty still pending is applied to every feature.

Why the lazy bookkeeping: a CSR row must cost O(nnz of the row), not
O(n_features). The weights are stored as ``w = wscale * v``, so the L2 decay
is one multiplication of ``wscale``; soft-thresholds compose additively
(``S(S(v, a), b) = S(v, a + b)``), so the prox owed to a feature the rows
have not touched is kept as one running sum (in units of ``v``) and paid when
the feature is next read -- exactly the eager result, up to rounding. The
cumulative penalty is lazy by definition (it only visits touched features).

Kernels never raise: every index is checked in Python first; a non-finite
prediction stops the call and is reported as a NaN loss.
"""
cimport numpy as cnp
import numpy as np
from libc.math cimport exp, log1p, pow, fabs, isfinite, NAN
from libc.stdint cimport int32_t, int64_t

from fastprox._kernels._shared cimport floating, index_t

cnp.import_array()

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define FP_PREFETCH(p) __builtin_prefetch((const void*) (p), 0, 3)
    #else
    #define FP_PREFETCH(p) ((void) 0)
    #endif
    """
    void FP_PREFETCH(const void* p) nogil

# Shuffled CSR rows miss the cache twice (the row, then the weights its indices
# point at): request the row PF_ROW updates ahead and its weights PF_W updates
# ahead; dense rows are left to the hardware prefetcher. See docs/design/sgd-prefetch.md
cdef enum:
    PF_ROW = 8
    PF_W = 4


# loss codes (the Python side maps names to these)
cdef enum:
    SQUARED_ERROR = 0
    HUBER = 1
    EPSILON_INSENSITIVE = 2
    SQUARED_EPSILON_INSENSITIVE = 3
    LOG_LOSS = 4
    HINGE = 5
    MODIFIED_HUBER = 6
    SQUARED_HINGE = 7
    PERCEPTRON = 8

# learning-rate schedules
cdef enum:
    CONSTANT = 0
    OPTIMAL = 1
    INVSCALING = 2

# L1 methods
cdef enum:
    L1_PROX = 0
    L1_CUMULATIVE = 1

LOSSES = {"squared_error": SQUARED_ERROR, "huber": HUBER,
          "epsilon_insensitive": EPSILON_INSENSITIVE,
          "squared_epsilon_insensitive": SQUARED_EPSILON_INSENSITIVE,
          "log_loss": LOG_LOSS, "hinge": HINGE, "modified_huber": MODIFIED_HUBER,
          "squared_hinge": SQUARED_HINGE, "perceptron": PERCEPTRON}
# which estimator takes which loss: losses of the residual p - y for regression;
# losses of the margin y * p (y in {-1, +1}), and squared_error, for classification
REGRESSION_LOSSES = ("squared_error", "huber", "epsilon_insensitive",
                     "squared_epsilon_insensitive")
CLASSIFICATION_LOSSES = ("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron",
                         "squared_error")
SCHEDULES = {"constant": CONSTANT, "optimal": OPTIMAL, "invscaling": INVSCALING}
L1_METHODS = {"prox": L1_PROX, "cumulative": L1_CUMULATIVE}

# below this wscale is multiplied into the weights (v keeps its precision)
cdef double MIN_WSCALE = 1e-9


cdef struct Params:
    int loss
    double epsilon
    int schedule
    double eta0
    double power_t
    double alpha
    double optimal_init
    double l1
    double l2
    int l1_method
    bint fit_intercept
    double intercept_decay
    Py_ssize_t batch_size


cdef inline double _loss_grad(int loss, double p, double y, double eps,
                              double* dloss) noexcept nogil:
    """Loss ``L(y, p)``; its derivative in ``p`` goes to ``dloss``."""
    cdef double r, z, e
    if loss == SQUARED_ERROR:
        r = p - y
        dloss[0] = r
        return 0.5 * r * r
    if loss == HUBER:
        r = p - y
        if fabs(r) <= eps:
            dloss[0] = r
            return 0.5 * r * r
        dloss[0] = eps if r > 0 else -eps
        return eps * fabs(r) - 0.5 * eps * eps
    if loss == EPSILON_INSENSITIVE:
        r = p - y
        if r > eps:
            dloss[0] = 1.0
            return r - eps
        if r < -eps:
            dloss[0] = -1.0
            return -r - eps
        dloss[0] = 0.0
        return 0.0
    if loss == SQUARED_EPSILON_INSENSITIVE:
        r = p - y
        if r > eps:
            dloss[0] = 2.0 * (r - eps)
            return (r - eps) * (r - eps)
        if r < -eps:
            dloss[0] = 2.0 * (r + eps)
            return (r + eps) * (r + eps)
        dloss[0] = 0.0
        return 0.0
    z = y * p
    if loss == LOG_LOSS:
        # log(1 + exp(-z)) without overflow; exp(-z) alone is exact to rounding past 18
        if z > 18.0:
            e = exp(-z)
            dloss[0] = -y * e
            return e
        if z < -18.0:
            dloss[0] = -y
            return -z
        dloss[0] = -y / (exp(z) + 1.0)
        return log1p(exp(-z))
    # hinge and perceptron step at the margin too (z <= threshold), as
    # scikit-learn does: from w = 0 the perceptron would otherwise never move
    if loss == HINGE:
        if z <= 1.0:
            dloss[0] = -y
            return 1.0 - z
        dloss[0] = 0.0
        return 0.0
    if loss == MODIFIED_HUBER:
        if z >= 1.0:
            dloss[0] = 0.0
            return 0.0
        if z >= -1.0:
            dloss[0] = -2.0 * (1.0 - z) * y
            return (1.0 - z) * (1.0 - z)
        dloss[0] = -4.0 * y
        return -4.0 * z
    if loss == SQUARED_HINGE:
        if z < 1.0:
            dloss[0] = -2.0 * y * (1.0 - z)
            return (1.0 - z) * (1.0 - z)
        dloss[0] = 0.0
        return 0.0
    # PERCEPTRON
    if z <= 0.0:
        dloss[0] = -y
        return -z
    dloss[0] = 0.0
    return 0.0


cdef inline double _eta(const Params* P, double t) noexcept nogil:
    if P.schedule == CONSTANT:
        return P.eta0
    if P.schedule == INVSCALING:
        return P.eta0 / pow(t, P.power_t)
    return 1.0 / (P.alpha * (P.optimal_init + t - 1.0))


cdef inline floating _shrink(floating v, double thr) noexcept nogil:
    # compare-and-select: vectorises (as the prox of _prox_updates.pxd)
    if v > thr:
        return <floating> (v - thr)
    if v < -thr:
        return <floating> (v + thr)
    return 0


cdef inline void _clip(floating* v, double* q, Py_ssize_t n, double u, double wscale,
                       double inv_wscale) noexcept nogil:
    """Cumulative penalty on ``n`` stored weights ``v`` (true weights ``wscale * v``).

    A positive weight moves down by its pending penalty ``u + q_j``, a negative
    one up by ``u - q_j``, neither past zero; ``q_j`` records the change. Written
    as compare-and-select so that the dense loop vectorises.
    """
    cdef Py_ssize_t j
    cdef double z, qj, pos, neg, new
    cdef floating nf
    for j in range(n):
        z = v[j]
        qj = q[j]
        pos = z - (u + qj) * inv_wscale
        pos = pos if pos > 0 else 0.0
        neg = z + (u - qj) * inv_wscale
        neg = neg if neg < 0 else 0.0
        new = pos if z > 0 else (neg if z < 0 else z)
        nf = <floating> new
        v[j] = nf
        q[j] = qj + wscale * (<double> nf - z)


cdef inline double _dot(const floating* w, const floating* x, const index_t* idx,
                        Py_ssize_t nnz, bint sparse) noexcept nogil:
    cdef Py_ssize_t jj, l
    cdef double acc[8]
    cdef double a0 = 0
    if not sparse:
        # eight independent accumulators, one per lane, so that gcc emits one
        # vector FMA per 8 entries; see docs/design/sgd-dense-dot.md
        for l in range(8):
            acc[l] = 0
        for jj in range(0, nnz - 7, 8):
            for l in range(8):
                acc[l] += <double> w[jj + l] * <double> x[jj + l]
        for jj in range(nnz - nnz % 8, nnz):
            a0 += <double> w[jj] * x[jj]
        return a0 + (((acc[0] + acc[4]) + (acc[1] + acc[5]))
                     + ((acc[2] + acc[6]) + (acc[3] + acc[7])))
    for jj in range(nnz):
        a0 += <double> w[idx[jj]] * x[jj]
    return a0


cdef inline void _axpy(floating* w, floating a, const floating* x, const index_t* idx,
                       Py_ssize_t nnz, bint sparse) noexcept nogil:
    cdef Py_ssize_t jj
    if not sparse:
        for jj in range(nnz):
            w[jj] += a * x[jj]
    else:
        for jj in range(nnz):
            w[idx[jj]] += a * x[jj]


cdef inline Py_ssize_t _row(const floating* data, const index_t* indices,
                            const index_t* indptr, bint sparse, Py_ssize_t n_features,
                            Py_ssize_t i, const floating** x, const index_t** idx) noexcept nogil:
    """Point ``x`` (and, for CSR, ``idx``) at row ``i`` of ``X``; return its length."""
    if sparse:
        x[0] = &data[indptr[i]]
        idx[0] = &indices[indptr[i]]
        return indptr[i + 1] - indptr[i]
    x[0] = &data[i * n_features]
    idx[0] = NULL
    return n_features


cdef void _catch_up_prox(floating* W, Py_ssize_t n_features, int n_out, double* last,
                         double acc, const index_t* idx, Py_ssize_t nnz,
                         bint all_features) noexcept nogil:
    """Pay the soft-threshold owed since each listed feature (or all) was last visited."""
    cdef Py_ssize_t jj, j
    cdef int k
    cdef double pend
    for jj in range(nnz):
        j = jj if all_features else idx[jj]
        pend = acc - last[j]
        if pend > 0:
            for k in range(n_out):
                W[k * n_features + j] = _shrink(W[k * n_features + j], pend)
        last[j] = acc


cdef inline void _prefetch_row(const floating* data, const index_t* indices,
                               const index_t* indptr, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t a = indptr[i], z = indptr[i + 1], jj
    if z > a + 128:
        z = a + 128
    jj = a
    while jj < z:
        FP_PREFETCH(&data[jj])
        FP_PREFETCH(&indices[jj])
        jj += 8


cdef inline void _prefetch_weights(const floating* W, const double* q, Py_ssize_t n_features,
                                   int n_out, const index_t* indices, const index_t* indptr,
                                   Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t jj, z = indptr[i + 1]
    if z > indptr[i] + 128:
        z = indptr[i] + 128
    for jj in range(indptr[i], z):
        FP_PREFETCH(&W[indices[jj]])
        if q != NULL:
            FP_PREFETCH(&q[indices[jj]])


cdef void _finish_scale(floating* W, Py_ssize_t size, double wscale) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating s = <floating> wscale
    if wscale != 1.0:
        for j in range(size):
            W[j] *= s


cdef double _epoch(const floating* data, const index_t* indices, const index_t* indptr,
                   bint sparse, Py_ssize_t n_features, int n_out,
                   const floating* Y, const double* sw, const Py_ssize_t* order,
                   Py_ssize_t n_order, floating* W, floating* b, double* q, double* u,
                   double* last, double* dbuf, double* dsum, const Params* P,
                   double* t_io, bint finish) noexcept nogil:
    cdef Py_ssize_t size = n_features * n_out
    cdef Py_ssize_t start, stop, r, i, j, jj, nnz, m
    cdef int k
    cdef double t = t_io[0], eta, c, p, dl, loss_sum = 0, wscale = 1.0, acc = 0, thr
    cdef const floating* x
    cdef const index_t* idx
    cdef floating* wk
    cdef bint prox = P.l1 > 0 and P.l1_method == L1_PROX
    cdef bint cumul = P.l1 > 0 and P.l1_method == L1_CUMULATIVE
    start = 0
    while start < n_order:
        stop = start + P.batch_size
        if stop > n_order:
            stop = n_order
        m = stop - start
        eta = _eta(P, t)
        if sparse and P.batch_size == 1:
            if start + PF_ROW < n_order:
                _prefetch_row(data, indices, indptr, order[start + PF_ROW])
            if start + PF_W < n_order:
                _prefetch_weights(W, q, n_features, n_out, indices, indptr, order[start + PF_W])
        # 1. the prox owed by the features these rows read (sparse only:
        #    dense rows are all caught up after every update)
        if prox and sparse:
            for r in range(start, stop):
                i = order[r]
                _catch_up_prox(W, n_features, n_out, last, acc, &indices[indptr[i]],
                               indptr[i + 1] - indptr[i], False)
        # 2. predictions at the current weights, loss and its derivative
        for k in range(n_out):
            dsum[k] = 0
        for r in range(start, stop):
            i = order[r]
            nnz = _row(data, indices, indptr, sparse, n_features, i, &x, &idx)
            for k in range(n_out):
                p = wscale * _dot(&W[k * n_features], x, idx, nnz, sparse) + b[k]
                if not isfinite(p):
                    # diverged: stop here rather than run on over infinities
                    # (scikit-learn clips dloss at 1e12 instead, which hides it)
                    t_io[0] = t
                    return NAN
                loss_sum += sw[i] * _loss_grad(P.loss, p, Y[i * n_out + k], P.epsilon, &dl)
                dl = sw[i] * dl / m
                dbuf[(r - start) * n_out + k] = dl
                dsum[k] += dl
        # 3. L2 decay, as a scale factor
        if P.l2 > 0:
            c = 1.0 - eta * P.l2
            if c <= 0:  # a step that overshoots zero: the decayed weights are zero
                for j in range(size):
                    W[j] = 0
                wscale = 1.0
                if prox and sparse:
                    acc = 0
                    for j in range(n_features):
                        last[j] = 0
            else:
                wscale *= c
        # 4. gradient step
        for r in range(start, stop):
            i = order[r]
            nnz = _row(data, indices, indptr, sparse, n_features, i, &x, &idx)
            for k in range(n_out):
                dl = dbuf[(r - start) * n_out + k]
                if dl != 0:
                    _axpy(&W[k * n_features], <floating> (-eta * dl / wscale), x, idx, nnz, sparse)
        if P.fit_intercept:
            for k in range(n_out):
                b[k] = <floating> (b[k] - eta * P.intercept_decay * dsum[k])
        # 5. L1
        if prox:
            thr = eta * P.l1 / wscale
            if sparse:
                acc += thr
                for r in range(start, stop):
                    i = order[r]
                    _catch_up_prox(W, n_features, n_out, last, acc, &indices[indptr[i]],
                                   indptr[i + 1] - indptr[i], False)
            else:
                for j in range(size):
                    W[j] = _shrink(W[j], thr)
        elif cumul:
            u[0] += eta * P.l1
            if sparse:
                for r in range(start, stop):
                    i = order[r]
                    for jj in range(indptr[i], indptr[i + 1]):
                        j = indices[jj]
                        for k in range(n_out):
                            _clip(&W[k * n_features + j], &q[k * n_features + j], 1, u[0],
                                  wscale, 1.0 / wscale)
            else:
                _clip(W, q, size, u[0], wscale, 1.0 / wscale)
        # 6. keep wscale away from underflow
        if wscale < MIN_WSCALE:
            if prox and sparse:
                _catch_up_prox(W, n_features, n_out, last, acc, indices, n_features, True)
                acc = 0
                for j in range(n_features):
                    last[j] = 0
            _finish_scale(W, size, wscale)
            wscale = 1.0
        t += 1.0
        start = stop
    if prox and sparse:
        _catch_up_prox(W, n_features, n_out, last, acc, indices, n_features, True)
    if cumul and finish and sparse:
        _clip(W, q, size, u[0], wscale, 1.0 / wscale)
    _finish_scale(W, size, wscale)
    t_io[0] = t
    return loss_sum


def sgd_epoch(X_data, const index_t[::1] indices, const index_t[::1] indptr,
              Py_ssize_t n_features, const floating[:, ::1] Y, const double[::1] sw,
              const Py_ssize_t[::1] order, floating[:, ::1] W, floating[::1] b,
              double[:, ::1] q, double[::1] u, double t, *, int loss, double epsilon,
              int schedule, double eta0, double power_t, double alpha, double optimal_init,
              double l1, double l2, int l1_method, bint fit_intercept,
              double intercept_decay, Py_ssize_t batch_size, bint finish):
    """Run SGD updates over ``X[order]`` in mini-batches; weights updated in place.

    Parameters
    ----------
    X_data : ndarray
        Dense ``X`` (2-D, C-contiguous, same dtype as ``W``) when ``indices``
        is empty (length 0 and ``indptr`` of length 0), else the CSR ``data``.
    indices, indptr : ndarray of int32 or int64
        CSR structure (validated by the caller), or empty for dense ``X``.
    n_features : int
    Y : ndarray of shape (n_samples, n_outputs)
        Targets (in {-1, +1} for classification losses).
    sw : ndarray of float64, shape (n_samples,)
    order : ndarray of intp
        Row indices to visit, in order; every one in ``[0, n_samples)``.
    W : ndarray of shape (n_outputs, n_features)
    b : ndarray of shape (n_outputs,)
    q : ndarray of float64, shape (n_outputs, n_features)
        Cumulative-penalty record (the penalty applied to each weight so far);
        any shape when unused.
    u : ndarray of float64, shape (1,)
        Cumulative L1 penalty per weight so far, updated in place.
    t : float
        Update count (plus one) at the first update.
    loss, schedule, l1_method : int
        Codes from ``LOSSES``, ``SCHEDULES``, ``L1_METHODS``.
    finish : bool
        Apply the pending cumulative penalty to every feature at the end.

    Returns
    -------
    loss_sum : float
        ``sum_i sw_i * L_i`` over the visited rows (at the weights before their
        update); NaN if a prediction was not finite, the weights then left as
        they were at that point.
    t : float
        Update count after the last update.
    """
    cdef const floating[:, ::1] Xd
    cdef const floating[::1] Xs
    cdef const floating* data = NULL
    cdef const index_t* ind = NULL
    cdef const index_t* ptr = NULL
    cdef bint sparse = indptr.shape[0] > 0
    cdef int n_out = W.shape[0]
    cdef Params P
    cdef double t_io = t, loss_sum
    cdef double[::1] last, dbuf, dsum
    cdef double* qp = NULL
    cdef Py_ssize_t n_samples = Y.shape[0], r
    # shapes here, O(1) (and the row indices, O(len(order))); the CSR structure
    # itself (indptr monotone, indices in range) is the caller's to check, once
    # per fit, with _validation.check_csr
    if sparse:
        if indptr.shape[0] != n_samples + 1 or np.asarray(X_data).ndim != 1 \
                or np.asarray(X_data).shape[0] != indices.shape[0] \
                or indptr[n_samples] != indices.shape[0] or indptr[0] != 0:
            raise ValueError("CSR arrays do not match n_samples or each other")
    elif np.asarray(X_data).shape != (n_samples, n_features):
        raise ValueError("X and Y have different numbers of rows or X the wrong width")
    if W.shape[1] != n_features or b.shape[0] != n_out or Y.shape[1] != n_out \
            or sw.shape[0] != n_samples or u.shape[0] < 1:
        raise ValueError("W, b, Y, sw or u have inconsistent shapes")
    if l1_method == L1_CUMULATIVE and l1 > 0 and (q.shape[0] != n_out
                                                   or q.shape[1] != n_features):
        raise ValueError("q must have the shape of W")
    if loss not in LOSSES.values() or schedule not in SCHEDULES.values() \
            or l1_method not in L1_METHODS.values():
        raise ValueError("unknown loss, schedule or l1_method code")
    for r in range(order.shape[0]):
        if order[r] < 0 or order[r] >= n_samples:
            raise ValueError(f"order[{r}] = {order[r]} is not a row of X")
    if order.shape[0] == 0 or n_features == 0:
        return 0.0, t
    if sparse:
        Xs = X_data
        ptr = &indptr[0]
        if Xs.shape[0] > 0:  # else every row is empty and neither is read
            data = &Xs[0]
            ind = &indices[0]
    else:
        Xd = X_data
        data = &Xd[0, 0]
    P.loss = loss
    P.epsilon = epsilon
    P.schedule = schedule
    P.eta0 = eta0
    P.power_t = power_t
    P.alpha = alpha
    P.optimal_init = optimal_init
    P.l1 = l1
    P.l2 = l2
    P.l1_method = l1_method
    P.fit_intercept = fit_intercept
    P.intercept_decay = intercept_decay
    P.batch_size = batch_size if batch_size > 0 else 1
    last = np.zeros(n_features if sparse else 1, dtype=np.float64)
    dbuf = np.zeros(P.batch_size * n_out, dtype=np.float64)
    dsum = np.zeros(n_out, dtype=np.float64)
    if l1_method == L1_CUMULATIVE and l1 > 0:
        qp = &q[0, 0]
    with nogil:
        loss_sum = _epoch(data, ind, ptr, sparse, n_features, n_out, &Y[0, 0], &sw[0], &order[0],
                          order.shape[0], &W[0, 0], &b[0], qp, &u[0],
                          &last[0], &dbuf[0], &dsum[0], &P, &t_io,
                          finish)
    return loss_sum, t_io


def loss_grad(int loss, p, y, double epsilon=0.1):
    """Loss ``L(y, p)`` and its derivative ``dL/dp``, computed as :func:`sgd_epoch` does.

    Parameters
    ----------
    loss : int
        A code from ``LOSSES``.
    p, y : float or array-like
        Predictions and targets (in {-1, +1} for the classification losses),
        broadcast against each other; computed in float64.
    epsilon : float, default=0.1
        Threshold of 'huber', 'epsilon_insensitive' and
        'squared_epsilon_insensitive' (ignored by the other losses).

    Returns
    -------
    loss, dloss : float or ndarray of float64
        Floats when ``p`` and ``y`` are scalars, else arrays of their
        broadcast shape.
    """
    if loss not in LOSSES.values():
        raise ValueError(f"unknown loss code {loss!r}")
    pa, ya = np.broadcast_arrays(np.asarray(p, dtype=np.float64),
                                 np.asarray(y, dtype=np.float64))
    out = np.empty((2,) + pa.shape, dtype=np.float64)
    cdef const double[::1] pf = np.ascontiguousarray(pa).reshape(-1)
    cdef const double[::1] yf = np.ascontiguousarray(ya).reshape(-1)
    cdef double[:, ::1] o = out.reshape(2, -1)
    cdef Py_ssize_t i
    with nogil:
        for i in range(pf.shape[0]):
            o[0, i] = _loss_grad(loss, pf[i], yf[i], epsilon, &o[1, i])
    if pa.ndim == 0:
        return float(out[0]), float(out[1])
    return out[0], out[1]
