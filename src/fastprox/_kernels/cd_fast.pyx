"""Coordinate-descent kernels for the quadratic datafit with an elastic-net penalty.

The problem solved (unscaled, as in scikit-learn's ``_cd_fast.pyx``) is

    min_w  1/2 ||R||^2 + l1 ||w||_1 + l2/2 ||w||^2,   R = y - X w

so the estimators pass ``l1 = n * alpha * l1_ratio`` and
``l2 = n * alpha * (1 - l1_ratio)``. Each kernel runs *one* epoch over a
working set ``ws`` of column indices; the orchestration (working-set growth,
Anderson extrapolation, duality gap) lives in ``linear_model/_cd_solver.py``, in
the style of lightning's ``solver.py`` + ``solver_fast.pyx`` pairs.

Dense working-set columns are held Fortran-ordered (contiguous columns,
gathered from ``X`` in whatever order it came); their dots are our own
vectorised loops (``cd_kernels.h``), called sequentially -- a coordinate
update depends on the previous one, and BLAS level-1 threads cost more than
the product (see docs/design/kernels-no-blas-level1.md).

Sparse ``X`` is CSC (``data``, ``indices``, ``indptr``). An intercept is fitted
by *implicit* centering, never densifying ``X``: with column means ``mu`` the
kernels keep ``R = yc - X w`` (``yc`` the centred target, ``X`` uncentred) and
``sum_R = sum(R)``; the residual of the centred problem is then
``R + mu @ w`` and the gradient of column ``j`` is
``X_j @ R - mu_j * sum_R`` (the constant shift cancels because the centred
column sums to zero). ``sum_R`` moves by ``n * mu_j * dw`` per update, O(1).

All inputs are validated in Python (shapes, dtypes, index ranges); the
kernels never raise.
"""
import numpy as np
from cython.parallel cimport prange
from libc.math cimport fabs, INFINITY
from libc.stdint cimport int32_t, int64_t

from fastprox._kernels._shared cimport (
    floating, index_t, team_size, n_parts, thread_policy, fpk_team_size, fpk_team_report,
    fpk_now, fpk_part_start, fpk_part_end,
)

cdef extern from "cd_kernels.h" nogil:
    double fpc_ddot(Py_ssize_t n, const double* x, const double* y, const double* nx)
    float fpc_sdot(Py_ssize_t n, const float* x, const float* y, const float* nx)
    void fpc_daxpy(Py_ssize_t n, double a, const double* x, double* y, const double* nx)
    void fpc_saxpy(Py_ssize_t n, float a, const float* x, float* y, const float* nx)
    double fpc_ddotaxpy(Py_ssize_t n, double a, const double* p, double* R, const double* x,
                        const double* nx)
    float fpc_sdotaxpy(Py_ssize_t n, float a, const float* p, float* R, const float* x,
                       const float* nx)
    void fpc_dstats4(Py_ssize_t m, Py_ssize_t ld, const double* xi, const double* x0,
                     int center, double* so, double* qo)
    void fpc_sstats4(Py_ssize_t m, Py_ssize_t ld, const float* xi, const float* x0,
                     int center, double* so, double* qo)
    void fpc_dxtv4(Py_ssize_t m, Py_ssize_t ld, const double* xi, double v0, double v1,
                   double v2, double v3, double* to)
    void fpc_sxtv4(Py_ssize_t m, Py_ssize_t ld, const float* xi, double v0, double v1,
                   double v2, double v3, double* to)
    void fpc_sgather(Py_ssize_t n, const float* X, Py_ssize_t ld, const Py_ssize_t* cols,
                     const Py_ssize_t* dest, Py_ssize_t k0, Py_ssize_t k1, const float* mu,
                     float* out, Py_ssize_t ldo, double* sq)
    void fpc_dgather(Py_ssize_t n, const double* X, Py_ssize_t ld, const Py_ssize_t* cols,
                     const Py_ssize_t* dest, Py_ssize_t k0, Py_ssize_t k1, const double* mu,
                     double* out, Py_ssize_t ldo, double* sq)


cdef inline floating _vdot(Py_ssize_t n, const floating* x, const floating* y,
                           const floating* nx) noexcept nogil:
    """Vectorised dot product (``cd_kernels.h``): the CD epochs' hot half.

    Prefetches ``nx[:n]`` (a column read soon, or ``x`` itself) as it goes.
    """
    if floating is float:
        return fpc_sdot(n, x, y, nx)
    else:
        return fpc_ddot(n, x, y, nx)


cdef inline void _vaxpy(Py_ssize_t n, floating a, const floating* x, floating* y,
                        const floating* nx) noexcept nogil:
    """``y += a * x``, vectorised (``cd_kernels.h``); prefetches ``nx[:n]``."""
    if floating is float:
        fpc_saxpy(n, a, x, y, nx)
    else:
        fpc_daxpy(n, a, x, y, nx)


cdef inline floating _vdotaxpy(Py_ssize_t n, floating a, const floating* p, floating* R,
                               const floating* x, const floating* nx) noexcept nogil:
    """``R += a * p``, then ``x @ R`` in the same pass: the bits of ``_vaxpy`` then ``_vdot``."""
    if floating is float:
        return fpc_sdotaxpy(n, a, p, R, x, nx)
    else:
        return fpc_ddotaxpy(n, a, p, R, x, nx)


cdef inline const floating* _ahead(const floating[::1, :] X, const Py_ssize_t[::1] ws,
                                   Py_ssize_t k) noexcept nogil:
    """The column two working-set entries after ``k`` (the last one past the end)."""
    return &X[0, ws[min(k + 2, ws.shape[0] - 1)]]


cdef inline floating _cd_update(floating w_j, floating tmp, floating norm2, floating l1,
                                floating l2, bint positive) noexcept nogil:
    """Exact minimiser along one coordinate; ``tmp = X_j @ (R + w_j X_j)``."""
    # compare-and-select form: no copysign/fmax calls in the hot path
    if positive and tmp < 0:
        return 0
    if tmp > l1:
        return (tmp - l1) / (norm2 + l2)
    if tmp < -l1:
        return (tmp + l1) / (norm2 + l2)
    return 0


def cd_epoch_dense(const floating[::1, :] X, floating[::1] w, floating[::1] R,
                   const floating[::1] norms2, const Py_ssize_t[::1] ws,
                   floating l1, floating l2, bint positive, floating[::1] scores=None):
    """One cyclic CD epoch over columns ``ws`` of Fortran-ordered ``X``.

    Updates ``w`` and ``R = y - X w`` in place; returns the largest ``|dw|``.
    With ``scores`` (length ``len(ws)``): where column ``j = ws[k]``'s new
    weight is zero, ``|X_j @ (R + w_j X_j)|`` as it was visited (its KKT
    margin is ``l1`` minus that; 0 for a zero-norm column), else ``inf``:
    the solver's shrinking (see docs/design/solver-dense-f32.md).
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t k, j
    cdef floating w_j, new, tmp, dw = 0, dw_max = 0
    cdef const floating* col
    cdef const floating* pending = NULL  # a column whose axpy (by dw) is still to come
    cdef floating* sc = NULL
    if scores is not None:
        if scores.shape[0] != ws.shape[0]:
            raise ValueError("scores must have one entry per working-set column")
        if ws.shape[0]:
            sc = &scores[0]
    with nogil:
        for k in range(ws.shape[0]):
            j = ws[k]
            if norms2[j] == 0:
                if sc != NULL:
                    sc[k] = 0
                continue
            w_j = w[j]
            col = &X[0, j]
            # own loops rather than BLAS: no call overhead on short columns, no
            # threading on long ones (see _vdot). A moved column's axpy is
            # fused with the next column's dot: one pass over R, same bits
            if pending != NULL:
                tmp = _vdotaxpy(n, dw, pending, &R[0], col, _ahead(X, ws, k)) + w_j * norms2[j]
                pending = NULL
            else:
                tmp = _vdot(n, col, &R[0], _ahead(X, ws, k)) + w_j * norms2[j]
            new = _cd_update(w_j, tmp, norms2[j], l1, l2, positive)
            if sc != NULL:
                sc[k] = fabs(tmp) if new == 0 else INFINITY
            if new != w_j:
                dw = w_j - new
                pending = col
                w[j] = new
                dw_max = max(dw_max, fabs(new - w_j))
        if pending != NULL:
            _vaxpy(n, dw, pending, &R[0], pending)
    return dw_max


def cd_solve_gram(const double[:, ::1] G, const double[::1] Xty, double y_norm2,
                  double[::1] w, double l1, double l2, bint positive, Py_ssize_t max_epochs,
                  double tol_abs, double tol_step):
    """Cyclic CD on the Gram form until the duality gap is ``<= tol_abs``.

    For problems with a few dozen features: ``G = Xc.T @ Xc`` and
    ``Xty = Xc.T @ yc`` (float64), so an epoch costs ``O(p^2)`` instead of
    ``O(n p)``; the whole solve is one call, as in scikit-learn: on such
    problems Python orchestration costs more than the arithmetic (see
    docs/design/kernels-cd-gram-solve.md).
    Keeps ``H = G w``; the residual enters only through
    ``Xc.T R = Xty - H``, ``||R||^2 = ||yc||^2 - 2 w.Xty + w.H`` and
    ``yc.R = ||yc||^2 - w.Xty``. The gap is scikit-learn's, checked after an
    epoch whose largest step is ``<= tol_step`` times the largest weight, and
    every 10 epochs. Needs ``l1 > 0``. Returns ``(epochs, gap)``.
    """
    cdef Py_ssize_t p = G.shape[0], j, k, epoch = 0
    cdef double w_j, new, tmp, dw, dw_max, w_max, g, dual_norm, scale
    cdef double w_xty, w_h, w_norm2, w_l1, r_norm2, gap = INFINITY
    cdef double[::1] H = np.zeros(p)
    for j in range(p):
        for k in range(p):
            H[k] += G[k, j] * w[j]
    with nogil:
        while epoch < max_epochs:
            epoch += 1
            dw_max = 0
            w_max = 0
            for j in range(p):
                if G[j, j] == 0:
                    continue
                w_j = w[j]
                tmp = Xty[j] - H[j] + w_j * G[j, j]
                new = _cd_update(w_j, tmp, G[j, j], l1, l2, positive)
                if new != w_j:
                    dw = new - w_j
                    for k in range(p):  # G symmetric: row j is column j
                        H[k] += dw * G[j, k]
                    w[j] = new
                    dw_max = max(dw_max, fabs(dw))
                w_max = max(w_max, fabs(new))
            if dw_max > tol_step * w_max and epoch % 10 and epoch < max_epochs:
                continue
            w_xty = 0
            w_h = 0
            w_norm2 = 0
            w_l1 = 0
            dual_norm = 0
            for j in range(p):
                w_xty += w[j] * Xty[j]
                w_h += w[j] * H[j]
                w_norm2 += w[j] * w[j]
                w_l1 += fabs(w[j])
                g = Xty[j] - H[j] - l2 * w[j]
                if not positive:
                    g = fabs(g)
                dual_norm = max(dual_norm, g)
            r_norm2 = max(y_norm2 - 2 * w_xty + w_h, 0.0)
            scale = l1 / dual_norm if dual_norm > l1 else 1.0
            gap = (0.5 * (r_norm2 + l2 * w_norm2) * (1 + scale * scale) + l1 * w_l1
                   - scale * (y_norm2 - w_xty))
            if gap <= tol_abs:
                break
    return epoch, gap


def cd_epoch_sparse(const floating[::1] data, const index_t[::1] indices,
                    const index_t[::1] indptr, const floating[::1] mu, bint center,
                    floating[::1] w, floating[::1] R, floating[::1] sum_R,
                    const floating[::1] norms2, const Py_ssize_t[::1] ws,
                    floating l1, floating l2, bint positive):
    """One cyclic CD epoch over columns ``ws`` of a CSC matrix.

    ``norms2`` are the squared norms of the (implicitly centred) columns and
    ``sum_R`` a length-1 array holding ``sum(R)``; both ``R`` and ``sum_R``
    are updated in place. Returns the largest ``|dw|``.
    """
    cdef Py_ssize_t n = R.shape[0]
    cdef Py_ssize_t k, j, i, start, end
    cdef floating w_j, new, tmp, dw, dw_max = 0, s = sum_R[0]
    with nogil:
        for k in range(ws.shape[0]):
            j = ws[k]
            if norms2[j] == 0:
                continue
            start = indptr[j]
            end = indptr[j + 1]
            w_j = w[j]
            tmp = 0
            for i in range(start, end):
                tmp = tmp + data[i] * R[indices[i]]
            if center:
                tmp = tmp - mu[j] * s
            tmp = tmp + w_j * norms2[j]
            new = _cd_update(w_j, tmp, norms2[j], l1, l2, positive)
            if new != w_j:
                dw = w_j - new
                for i in range(start, end):
                    R[indices[i]] += dw * data[i]
                if center:
                    s = s + dw * n * mu[j]
                w[j] = new
                dw_max = max(dw_max, fabs(dw))
        sum_R[0] = s
    return dw_max


def axpy_cols_dense(const floating[::1, :] X, const Py_ssize_t[::1] ws,
                    const floating[::1] coef, floating[::1] R):
    """``R += X[:, ws] @ coef`` without copying the columns out."""
    cdef Py_ssize_t n = X.shape[0], k
    cdef floating c
    with nogil:
        for k in range(ws.shape[0]):
            c = coef[k]
            if c != 0:
                # own loop, not BLAS: see _vdot
                _vaxpy(n, c, &X[0, ws[k]], &R[0], _ahead(X, ws, k))


def axpy_cols_sparse(const floating[::1] data, const index_t[::1] indices,
                     const index_t[::1] indptr, const Py_ssize_t[::1] ws,
                     const floating[::1] coef, floating[::1] R):
    """``R += X[:, ws] @ coef`` for CSC ``X`` (uncentred)."""
    cdef Py_ssize_t k, i, j
    cdef floating c
    with nogil:
        for k in range(ws.shape[0]):
            c = coef[k]
            if c == 0:
                continue
            j = ws[k]
            for i in range(indptr[j], indptr[j + 1]):
                R[indices[i]] += c * data[i]


def dot_cols_dense(const floating[::1, :] X, const Py_ssize_t[::1] ws,
                   const floating[::1] R, floating[::1] out):
    """``out = X[:, ws].T @ R`` (sequential vectorised dots; ``ws`` is small)."""
    cdef int n = X.shape[0]
    cdef Py_ssize_t k
    with nogil:
        for k in range(ws.shape[0]):
            out[k] = _vdot(n, &X[0, ws[k]], &R[0], _ahead(X, ws, k))


def col_stats_sparse(const floating[::1] data, const index_t[::1] indptr,
                     double[::1] sums, double[::1] sq):
    """Column sums and sums of squares of a CSC matrix (float64 accumulators).

    One pass over ``data``, no temporary matrix (see
    docs/design/kernels-sparse-col-stats.md).
    """
    cdef Py_ssize_t p = indptr.shape[0] - 1, j, i
    cdef double s, q, v
    if sums.shape[0] != p or sq.shape[0] != p:
        raise ValueError("sums and sq must have one entry per column")
    if p >= 0 and (indptr[0] != 0 or indptr[p] > data.shape[0]):
        raise ValueError("indptr does not match data")
    with nogil:
        for j in range(p):
            s = 0
            q = 0
            for i in range(indptr[j], indptr[j + 1]):
                v = data[i]
                s += v
                q += v * v
            sums[j] = s
            sq[j] = q


def dot_cols_sparse(const floating[::1] data, const index_t[::1] indices,
                    const index_t[::1] indptr, const Py_ssize_t[::1] ws,
                    const floating[::1] R, floating[::1] out, int n_threads):
    """``out = X[:, ws].T @ R`` for CSC ``X`` (uncentred), columns split over threads.

    ``ws`` is cut into parts handed out dynamically to an adaptive team (see
    docs/design/kernels-threads.md); each output is summed by one thread in
    index order, so results do not depend on the thread count or the split.
    """
    cdef Py_ssize_t m = ws.shape[0], k, c, i, j, work = m
    cdef floating acc
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if m == 0:
        return
    for k in range(m):  # the nonzeros the call reads
        work += indptr[ws[k] + 1] - indptr[ws[k]]
    nt = team_size(work, n_threads)
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            for k in range(m * c // nc, m * (c + 1) // nc):
                j = ws[k]
                acc = 0
                for i in range(indptr[j], indptr[j + 1]):
                    acc = acc + data[i] * R[indices[i]]
                out[k] = acc
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


# Dense passes over all of X: below this many elements one thread (waking the
# team costs more than an 8 MB pass). Their parts cut the columns at
# multiples of _GRANULE, streamed in blocks of at most _BLOCK columns (C order).
cdef enum:
    _DENSE_SERIAL = 1048576
    _BLOCK = 1024
    _GRANULE = 16


cdef inline Py_ssize_t _col_cut(Py_ssize_t p, Py_ssize_t c, Py_ssize_t nc) noexcept nogil:
    """First column of part ``c`` of ``nc``: a multiple of _GRANULE (or ``p``)."""
    cdef Py_ssize_t g = (p + _GRANULE - 1) // _GRANULE
    return min(p, _GRANULE * (g * c // nc))


cdef inline void _xt_r_c(const floating* X, Py_ssize_t ld, Py_ssize_t n, const floating* R,
                         floating* out, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """``out[c0:c1] = X[:, c0:c1].T @ R`` for C-ordered ``X`` (row stride ``ld``)."""
    cdef Py_ssize_t i, j, lo, m
    cdef floating r_i, a0, a1, a2, a3
    cdef const floating* x0
    cdef floating* o
    lo = c0
    while lo < c1:
        m = min(lo + _BLOCK, c1) - lo
        o = &out[lo]
        for j in range(m):
            o[j] = 0
        # four rows per sweep: a quarter of the loads/stores of ``out``
        for i in range(0, n - 3, 4):
            a0 = R[i]
            a1 = R[i + 1]
            a2 = R[i + 2]
            a3 = R[i + 3]
            x0 = X + i * ld + lo
            for j in range(m):
                o[j] += (a0 * x0[j] + a1 * x0[ld + j]) + (a2 * x0[2 * ld + j]
                                                        + a3 * x0[3 * ld + j])
        for i in range(n - n % 4, n):
            r_i = R[i]
            x0 = X + i * ld + lo
            for j in range(m):
                o[j] += r_i * x0[j]
        lo += _BLOCK


def xt_r_dense(const floating[:, :] X, const floating[::1] R, floating[::1] out,
               int n_threads):
    """``out = X.T @ R`` for a C- or Fortran-ordered dense ``X``.

    Written here rather than left to BLAS gemv, whose threads cost more
    than they give (see docs/design/kernels-no-blas-level1.md). C order: a
    part streams the rows through its columns (an axpy the compiler
    vectorises); Fortran order: one dot product per column with four
    accumulators. Parts of columns are handed out dynamically to an adaptive
    team (docs/design/kernels-threads.md); each output is summed by one
    thread in a fixed order, so the result does not depend on the thread
    count or the split.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef Py_ssize_t i, j, c
    cdef floating a0
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if n == 0 or p == 0:
        out[:] = 0
        return
    nt = fpk_team_size(n * p, n_threads, _DENSE_SERIAL)
    nc = n_parts(nt)
    tmark[0] = 0
    # raw pointers with unit inner stride: through the generic 2-D view the
    # compiler does not vectorise (see docs/design/kernels-cd-vector-loops.md)
    cdef Py_ssize_t ld = X.strides[0] // sizeof(floating)
    with nogil:
        if X.strides[1] == sizeof(floating):  # C order
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                _xt_r_c(&X[0, 0], ld, n, &R[0], &out[0], _col_cut(p, c, nc),
                        _col_cut(p, c + 1, nc))
                fpk_part_end(tmark, tp)
        elif X.strides[0] == sizeof(floating):  # Fortran order
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                for j in range(p * c // nc, p * (c + 1) // nc):
                    out[j] = _vdot(n, &X[0, j], &R[0], &X[0, min(j + 2, p - 1)])
                fpk_part_end(tmark, tp)
        else:  # any other strides: plain loops
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                for j in range(p * c // nc, p * (c + 1) // nc):
                    a0 = 0
                    for i in range(n):
                        a0 = a0 + X[i, j] * R[i]
                    out[j] = a0
                fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


cdef inline void _stats_c(const floating* X, Py_ssize_t ld, Py_ssize_t n, bint center,
                          double* sums, double* sq, const double* v, double* xtv,
                          Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Columns ``c0:c1`` of ``col_stats_dense`` for C-ordered ``X`` (``v`` may be NULL)."""
    cdef Py_ssize_t i, j, lo, m
    cdef double d
    cdef const floating* x0
    cdef const floating* xi
    cdef double* so
    cdef double* qo
    cdef double* to
    cdef bint with_v = v != NULL
    lo = c0
    while lo < c1:
        m = min(lo + _BLOCK, c1) - lo
        so = sums + lo
        qo = sq + lo
        to = xtv + lo if with_v else NULL
        x0 = X + lo
        for j in range(m):
            so[j] = 0
            qo[j] = 0
            if with_v:
                to[j] = 0
        # four rows per sweep, as in xt_r_dense: a quarter of the
        # accumulator loads and stores (docs/design/kernels-cd-vector-loops.md)
        for i in range(0, n - 3, 4):
            xi = X + i * ld + lo
            if floating is double:
                fpc_dstats4(m, ld, xi, x0, center, so, qo)
                if with_v:  # the rows are in L1 now
                    fpc_dxtv4(m, ld, xi, v[i], v[i + 1], v[i + 2], v[i + 3], to)
            else:
                fpc_sstats4(m, ld, xi, x0, center, so, qo)
                if with_v:
                    fpc_sxtv4(m, ld, xi, v[i], v[i + 1], v[i + 2], v[i + 3], to)
        for i in range(n - n % 4, n):
            xi = X + i * ld + lo
            for j in range(m):
                d = (<double> xi[j] - x0[j]) if center else xi[j]
                so[j] += d
                qo[j] += d * d
                if with_v:
                    to[j] += xi[j] * v[i]
        lo += _BLOCK


cdef inline void _stats_col(const floating* x, Py_ssize_t stride, Py_ssize_t n, bint center,
                            const double* v, double* s_out, double* q_out,
                            double* t_out) noexcept nogil:
    """One column of ``col_stats_dense`` (``stride`` in bytes; ``v`` may be NULL)."""
    cdef Py_ssize_t i
    cdef double d, s = 0, q = 0, t = 0
    cdef floating x0 = x[0], xi
    for i in range(n):
        xi = (<const floating*> (<const char*> x + i * stride))[0]
        d = xi - x0 if center else xi
        s = s + d
        q = q + d * d
        if v != NULL:
            t = t + xi * v[i]
    s_out[0] = s
    q_out[0] = q
    if t_out != NULL:
        t_out[0] = t


def col_stats_dense(const floating[:, :] X, bint center, double[::1] sums,
                    double[::1] sq, int n_threads, const double[::1] v=None,
                    double[::1] xtv=None):
    """Column sums and sums of squares of a C- or Fortran-ordered ``X``, in float64.

    With ``center``, both are of ``X - X[0]`` (every column shifted by its
    first entry): then ``mean = X[0] + sums / n`` and the centred squared
    norm ``sq - sums**2 / n`` keep their precision when a column's mean is
    large against its spread, and are exactly zero for a constant column.
    Without ``center``, ``sq`` is the plain squared norm (``sums`` unused).
    With ``v`` (length ``n``), also ``xtv = X.T @ v`` (float64; the solver's
    first gradient, which would otherwise cost a pass of its own). One pass
    over ``X``, in its own memory order, in parts of columns handed out to an
    adaptive team (each column summed by one thread: any thread count and
    split give the same bits).
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef Py_ssize_t j, c
    cdef Py_ssize_t ld = X.strides[0] // sizeof(floating)
    cdef bint with_v = v is not None
    cdef const double* vp = NULL
    cdef double* tp_out = NULL
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if with_v and (xtv is None or v.shape[0] != n or xtv.shape[0] != p):
        raise ValueError("v must have n_samples entries and xtv n_features")
    if n == 0 or p == 0:
        sums[:] = 0
        sq[:] = 0
        if with_v:
            xtv[:] = 0
        return
    if with_v:
        vp = &v[0]
        tp_out = &xtv[0]
    nt = fpk_team_size(n * p, n_threads, _DENSE_SERIAL)
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        if X.strides[1] == sizeof(floating) and p > 1:  # C order: stream the rows
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                _stats_c(&X[0, 0], ld, n, center, &sums[0], &sq[0], vp, tp_out,
                         _col_cut(p, c, nc), _col_cut(p, c + 1, nc))
                fpk_part_end(tmark, tp)
        else:  # Fortran order or any other strides: one column at a time
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                for j in range(p * c // nc, p * (c + 1) // nc):
                    _stats_col(&X[0, j], X.strides[0], n, center, vp,
                               &sums[j], &sq[j], &tp_out[j] if with_v else NULL)
                fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


cdef inline void _gather_c(const floating[:, :] X, const Py_ssize_t[::1] cols,
                           const floating[::1] mu, floating[::1, :] out,
                           const Py_ssize_t[::1] dest, double[::1] norms2,
                           Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """Columns ``cols[k0:k1]`` of C-ordered ``X`` (``fpc_*gather``)."""
    cdef Py_ssize_t ld = X.strides[0] // sizeof(floating)
    if floating is float:
        fpc_sgather(X.shape[0], &X[0, 0], ld, &cols[0], &dest[0], k0, k1, &mu[0], &out[0, 0],
                    out.shape[0], &norms2[0])
    else:
        fpc_dgather(X.shape[0], &X[0, 0], ld, &cols[0], &dest[0], k0, k1, &mu[0], &out[0, 0],
                    out.shape[0], &norms2[0])


def gather_cols_dense(const floating[:, :] X, const Py_ssize_t[::1] cols,
                      const floating[::1] mu, floating[::1, :] out,
                      const Py_ssize_t[::1] dest, double[::1] norms2,
                      Py_ssize_t n_threads=1):
    """``out[:, dest[k]] = X[:, cols[k]] - mu[cols[k]]`` and their squared norms.

    Copies a few working-set columns of a C- or Fortran-ordered ``X`` into
    the solver's contiguous column pool (centred if ``mu`` is nonzero), so
    that ``X`` itself is never copied whole. ``norms2[k]`` is summed in
    float64 from the stored (rounded) values the CD epochs will use. With
    C-ordered ``X``, parts of ``cols`` are handed out to an adaptive team of
    up to ``n_threads`` (``dest`` must not repeat a column).
    """
    cdef Py_ssize_t n = X.shape[0], m = cols.shape[0], i, k, j, d, t
    cdef floating v
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if dest.shape[0] != m or norms2.shape[0] != m or out.shape[0] != n \
            or mu.shape[0] != X.shape[1]:
        raise ValueError("shapes of X, cols, mu, out, dest and norms2 do not match")
    for k in range(m):
        if not (0 <= cols[k] < X.shape[1] and 0 <= dest[k] < out.shape[1]):
            raise IndexError("column index out of range")
    # a team only from 128 columns (64 a thread at least); parts of cols handed
    # out dynamically (a column's values and norm do not depend on its part)
    nt = team_size(m * n, n_threads) if m >= 128 else 1
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        for k in range(m):
            norms2[k] = 0
        if X.strides[1] == sizeof(floating) and X.strides[0] % sizeof(floating) == 0 \
                and m > 0 and n > 0:  # C order (_cd_kernels.h)
            for t in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                _gather_c(X, cols, mu, out, dest, norms2, t * m // nc, (t + 1) * m // nc)
                fpk_part_end(tmark, tp)
            fpk_team_report(nt, t0, tmark[0])
        else:
            for k in range(m):
                j = cols[k]
                d = dest[k]
                for i in range(n):
                    v = X[i, j] - mu[j]
                    out[i, d] = v
                    norms2[k] += (<double> v) * v


def _thread_policy(int parts_per_thread, bint adaptive):
    """Set this module's parts per thread and adaptive team; return the old pair."""
    return thread_policy(parts_per_thread, adaptive)
