"""Kernels of the working-set proximal Newton solver for logistic regression.

Binary and multinomial fits (``linear_model/_newton_solver.py``) share
them: a model has ``K`` blocks of scores (``K = 1`` binary, ``K = n_classes``
multinomial), ``Z = W X.T + b`` of shape ``(K, n)``, and the solver works on
one block at a time.

``X`` stays in the dtype it came in (float32 or float64) and, when dense, in
the order it came in: the full gradient ``R X`` reads it as it is, and the
working set's columns are gathered once per outer iteration into a compact
``(m, n)`` C-ordered array ``Xws`` (row ``k`` = column ``ws[k]``) that the
coordinate-descent epochs stream through. Sparse ``X`` is CSC; its working
set is a CSC sub-matrix. Everything else (scores, residuals, Hessian weights,
coefficients) is float64 and all sums accumulate in float64.

Inputs are validated in Python (shapes, dtypes, index ranges); the kernels
never raise.

The parallel passes (``xt_r_dense``, ``xt_r_sparse``, ``to_fortran``,
``ws_hdiag_multi``, ``ws_hdiag_multi_sparse``) cut their columns into parts
handed out dynamically to an adaptive team (docs/design/kernels-threads.md);
every output is summed by one thread in a fixed order, so results do not
depend on the thread count or the split.
"""
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log, log1p
from libc.stdint cimport int32_t, int64_t

from fastprox._kernels._shared cimport (
    floating, index_t, row_split, team_size, n_parts, thread_policy, fpk_team_size,
    fpk_team_report, fpk_now, fpk_part_start, fpk_part_end,
)

cdef enum:
    ROW_BLOCK = 64   # rows per tile of the working-set gather
    COL_BLOCK = 512  # columns streamed at once by the C-order gradient
    GRANULE = 16     # its parts cut the columns at multiples of this
    DENSE_SERIAL = 1048576  # dense passes: below this much work, one thread


cdef inline Py_ssize_t _cut(Py_ssize_t p, Py_ssize_t c, Py_ssize_t nc,
                            Py_ssize_t g) noexcept nogil:
    """First item of part ``c`` of ``nc`` over ``p`` items: a multiple of ``g`` (or ``p``)."""
    cdef Py_ssize_t units = (p + g - 1) // g
    return min(p, g * (units * c // nc))


cdef inline double _dot(Py_ssize_t n, const floating* x, const double* y) noexcept nogil:
    """Sequential dot product, eight float64 accumulators.

    Own loop rather than BLAS: mixed precision, and no BLAS threads; eight
    independent lanes pack into vector FMAs (see
    docs/design/kernels-no-blas-level1.md). The summation order,
    ``((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)) + tail``, depends
    only on ``n``.
    """
    cdef Py_ssize_t i, m
    cdef double acc[8]
    cdef double tail = 0
    for m in range(8):
        acc[m] = 0
    for i in range(0, n - 7, 8):
        for m in range(8):
            acc[m] = acc[m] + x[i + m] * y[i + m]
    for i in range(n - n % 8, n):
        tail = tail + x[i] * y[i]
    return (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
            + tail)


def xt_r_dense(const floating[:, :] X, const double[:, ::1] R, double[:, ::1] out,
               int n_threads):
    """``out = R @ X`` (shape ``(K, p)``) for a C- or Fortran-ordered dense ``X``.

    C order: a part owns a range of columns (cut at multiples of 16) and
    streams all rows through blocks of at most 512 of them; Fortran order:
    ``K`` dot products per column. Parts are handed out dynamically to an
    adaptive team; every output is summed by one thread in a fixed order, so
    the result does not depend on the thread count or the split.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], K = R.shape[0]
    cdef Py_ssize_t i, j, k, c, lo, hi, end
    cdef double r0, r1, r2, r3
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    # waking threads costs more than a pass of under 2**20 products
    nt = fpk_team_size(n * p * K, n_threads, DENSE_SERIAL)
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        if X.strides[0] != sizeof(floating):  # C order (or any strides)
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                lo = _cut(p, c, nc, GRANULE)
                end = _cut(p, c + 1, nc, GRANULE)
                while lo < end:
                    hi = min(lo + COL_BLOCK, end)
                    for k in range(K):
                        for j in range(lo, hi):
                            out[k, j] = 0
                    # four rows per sweep (a quarter of the loads and stores
                    # of ``out``); the 4 x 512 tile of X stays in L1 for all K
                    for i in range(0, n - 3, 4):
                        for k in range(K):
                            r0 = R[k, i]
                            r1 = R[k, i + 1]
                            r2 = R[k, i + 2]
                            r3 = R[k, i + 3]
                            for j in range(lo, hi):
                                out[k, j] += (r0 * X[i, j] + r1 * X[i + 1, j]) + (
                                    r2 * X[i + 2, j] + r3 * X[i + 3, j])
                    for i in range(n - n % 4, n):
                        for k in range(K):
                            r0 = R[k, i]
                            for j in range(lo, hi):
                                out[k, j] += r0 * X[i, j]
                    lo = hi
                fpk_part_end(tmark, tp)
        else:
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                for j in range(p * c // nc, p * (c + 1) // nc):
                    for k in range(K):
                        out[k, j] = _dot(n, &X[0, j], &R[k, 0])
                fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


cdef void _csc_class_sums(const floating[::1] data, const index_t[::1] indices,
                          const index_t[::1] indptr, const double[:, ::1] M,
                          double[:, ::1] out, int n_threads, bint square) noexcept:
    """``out[k, j] = sum_i x_ij M[k, i]`` (``x_ij^2`` with ``square``) for CSC ``X``.

    Parts of columns (balanced by nonzeros) are handed out to an adaptive
    team; each output is summed by one thread in index order, so results do
    not depend on the thread count or the split.
    """
    cdef Py_ssize_t p = indptr.shape[0] - 1, K = M.shape[0]
    cdef Py_ssize_t j, k, i, c
    cdef double acc, x
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if p <= 0:
        return
    nt = team_size(indptr[p] * K, n_threads)
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            for j in range(row_split(&indptr[0], p, c, nc), row_split(&indptr[0], p, c + 1, nc)):
                for k in range(K):
                    acc = 0
                    if square:
                        for i in range(indptr[j], indptr[j + 1]):
                            x = data[i]
                            acc = acc + M[k, indices[i]] * x * x
                    else:
                        for i in range(indptr[j], indptr[j + 1]):
                            acc = acc + data[i] * M[k, indices[i]]
                    out[k, j] = acc
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


def xt_r_sparse(const floating[::1] data, const index_t[::1] indices,
                const index_t[::1] indptr, const double[:, ::1] R, double[:, ::1] out,
                int n_threads):
    """``out = R @ X`` for CSC ``X`` (columns in parts for the team; split independent)."""
    _csc_class_sums(data, indices, indptr, R, out, n_threads, False)


def gather_cols_dense(const floating[:, :] X, const Py_ssize_t[::1] ws, floating[:, ::1] out):
    """``out[k, :] = X[:, ws[k]]``: the working set's columns, each contiguous.

    For C-ordered ``X`` rows are taken by tiles of ``ROW_BLOCK`` so that the
    rows being read stay in cache while every output row gets a contiguous run.
    """
    cdef Py_ssize_t n = X.shape[0], m = ws.shape[0]
    cdef Py_ssize_t i, i0, i1, k, j
    with nogil:
        if X.strides[0] == sizeof(floating):  # Fortran order: columns contiguous
            for k in range(m):
                j = ws[k]
                for i in range(n):
                    out[k, i] = X[i, j]
        else:
            i0 = 0
            while i0 < n:
                i1 = min(i0 + ROW_BLOCK, n)
                for k in range(m):
                    j = ws[k]
                    for i in range(i0, i1):
                        out[k, i] = X[i, j]
                i0 = i1


def to_fortran(const floating[:, ::1] X, floating[::1, :] out, int n_threads):
    """``out[...] = X`` with ``out`` Fortran-ordered, by square tiles.

    Done once per fit for C-ordered ``X``: afterwards a working-set column is
    one contiguous run (gathering it from C order touches one cache line per
    row per column, every outer iteration). Tiles of ``ROW_BLOCK`` squared
    keep both the reads and the writes in whole cache lines; parts of the
    column tiles go to an adaptive team.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef Py_ssize_t t, n_tiles = (p + ROW_BLOCK - 1) // ROW_BLOCK, i, i0, j, j0, j1, c
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    nt = fpk_team_size(n * p, n_threads, DENSE_SERIAL)
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            for t in range(n_tiles * c // nc, n_tiles * (c + 1) // nc):
                j0 = t * ROW_BLOCK
                j1 = min(j0 + ROW_BLOCK, p)
                i0 = 0
                while i0 < n:
                    for j in range(j0, j1):
                        for i in range(i0, min(i0 + ROW_BLOCK, n)):
                            out[i, j] = X[i, j]
                    i0 = i0 + ROW_BLOCK
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


def ws_dot(const floating[:, ::1] Xws, const double[::1] r, double[::1] out):
    """``out = Xws @ r`` (one dot per working-set column)."""
    cdef Py_ssize_t n = Xws.shape[1], k
    with nogil:
        for k in range(Xws.shape[0]):
            out[k] = _dot(n, &Xws[k, 0], &r[0])


def ws_dot_sparse(const floating[::1] data, const index_t[::1] indices,
                  const index_t[::1] indptr, const double[::1] r, double[::1] out):
    """:func:`ws_dot` for the CSC working-set sub-matrix."""
    cdef Py_ssize_t k, i
    cdef double acc
    with nogil:
        for k in range(indptr.shape[0] - 1):
            acc = 0
            for i in range(indptr[k], indptr[k + 1]):
                acc = acc + data[i] * r[indices[i]]
            out[k] = acc


def ws_axpy(const floating[:, ::1] Xws, const double[::1] coef, double[::1] out):
    """``out += Xws.T @ coef``, skipping zero coefficients."""
    cdef Py_ssize_t n = Xws.shape[1], k, i
    cdef double c
    with nogil:
        for k in range(Xws.shape[0]):
            c = coef[k]
            if c != 0:
                for i in range(n):
                    out[i] = out[i] + c * Xws[k, i]


def ws_axpy_sparse(const floating[::1] data, const index_t[::1] indices,
                   const index_t[::1] indptr, const double[::1] coef, double[::1] out):
    """:func:`ws_axpy` for the CSC working-set sub-matrix."""
    cdef Py_ssize_t k, i
    cdef double c
    with nogil:
        for k in range(indptr.shape[0] - 1):
            c = coef[k]
            if c != 0:
                for i in range(indptr[k], indptr[k + 1]):
                    out[indices[i]] += c * data[i]


def ws_hdiag(const floating[:, ::1] Xws, const double[::1] h, double[::1] out):
    """``out[k] = sum_i h_i Xws[k, i]^2`` (diagonal of the block Hessian)."""
    cdef Py_ssize_t n = Xws.shape[1], k, i
    cdef double acc, x
    with nogil:
        for k in range(Xws.shape[0]):
            acc = 0
            for i in range(n):
                x = Xws[k, i]
                acc = acc + h[i] * x * x
            out[k] = acc


def ws_hdiag_sparse(const floating[::1] data, const index_t[::1] indices,
                    const index_t[::1] indptr, const double[::1] h, double[::1] out):
    """:func:`ws_hdiag` for the CSC working-set sub-matrix."""
    cdef Py_ssize_t k, i
    cdef double acc, x
    with nogil:
        for k in range(indptr.shape[0] - 1):
            acc = 0
            for i in range(indptr[k], indptr[k + 1]):
                x = data[i]
                acc = acc + h[indices[i]] * x * x
            out[k] = acc


# --------------------------------------------------------------------------
# Proximal Newton subproblem of one block
#
# With the block's Hessian weights ``h`` (length n; exact for the block:
# ``p(1 - p)`` per sample) and datafit gradients ``g``, ``g_b`` at ``w``, a
# step minimises over ``(delta, delta_b)``
#
#     g . delta + g_b delta_b + 1/2 sum_i h_i (x_i . delta + delta_b)^2
#         + l1 ||w + delta||_1 + l2/2 ||w + delta||^2
#
# by cyclic CD (glmnet's inner loop; skglm's ProxNewton). The unpenalised
# intercept is minimised out in closed form, which centres the columns by
# their h-weighted means ``mu`` (``H = sum h``): the model in ``delta`` alone
# has gradient ``g - g_b mu`` and curvature ``hdiag_k = sum_i h_i (x_ik -
# mu_k)^2``. Without it CD crawls along the valley between an uncentred
# column and the intercept (features around 100: thousands of rounds).
# The centring stays implicit, so sparse columns stay sparse: the kernels
# keep ``v = h * (X delta)`` and ``s = mu . delta``, and a coordinate's
# derivative is ``grad_k + X_k . v - s H mu_k`` (pass ``hmu = H mu``; zeros
# when there is no intercept). Afterwards ``delta_b = -g_b / H - s``.
# --------------------------------------------------------------------------

cdef inline double _violation(double z, double deriv, double l1, double l2) noexcept nogil:
    """Distance of ``-(deriv + l2 z)`` to ``l1 d|z|``: the coordinate's KKT violation."""
    cdef double g = deriv + l2 * z
    if z > 0:
        return fabs(g + l1)
    if z < 0:
        return fabs(g - l1)
    return max(fabs(g) - l1, 0.0)


cdef inline double _prox_newton_coord(double z, double deriv, double hkk, double l1,
                                      double l2) noexcept nogil:
    """argmin_z' deriv (z'-z) + hkk/2 (z'-z)^2 + l1 |z'| + l2/2 z'^2."""
    cdef double t = hkk * z - deriv
    if t > l1:
        return (t - l1) / (hkk + l2)
    if t < -l1:
        return (t + l1) / (hkk + l2)
    return 0.0


def block_cd_epoch(const floating[:, ::1] Xws, const Py_ssize_t[::1] active,
                   const double[::1] grad, const double[::1] hdiag, const double[::1] mu,
                   const double[::1] hmu, const double[::1] w, double[::1] delta,
                   const double[::1] h, double[::1] v, double[::1] s, double l1, double l2):
    """One CD epoch of a block's proximal Newton subproblem (dense working set).

    Visits the rows ``active`` of ``Xws`` (in range, checked by the caller).
    ``grad`` (already ``g - g_b mu``), ``hdiag``, ``mu``, ``hmu``, ``w``,
    ``delta`` are indexed like the rows of ``Xws``; ``s`` is a length-1 array.
    Updates ``delta``, ``v`` and ``s`` in place; returns the largest KKT
    violation of the model met by the sweep (each coordinate's, just before
    its update).
    """
    cdef Py_ssize_t n = Xws.shape[1], k, i, kk
    cdef double z, new, dz, deriv, crit = 0, s_ = s[0]
    cdef const floating* col
    with nogil:
        for kk in range(active.shape[0]):
            k = active[kk]
            if hdiag[k] <= 0:
                continue
            col = &Xws[k, 0]
            deriv = grad[k] + _dot(n, col, &v[0]) - s_ * hmu[k]
            z = w[k] + delta[k]
            crit = max(crit, _violation(z, deriv, l1, l2))
            new = _prox_newton_coord(z, deriv, hdiag[k], l1, l2)
            if new != z:
                dz = new - z
                delta[k] = delta[k] + dz
                for i in range(n):
                    v[i] = v[i] + dz * h[i] * col[i]
                s_ = s_ + dz * mu[k]
        s[0] = s_
    return crit


def block_cd_epoch_sparse(const floating[::1] data, const index_t[::1] indices,
                          const index_t[::1] indptr, const Py_ssize_t[::1] active,
                          const double[::1] grad,
                          const double[::1] hdiag, const double[::1] mu,
                          const double[::1] hmu, const double[::1] w, double[::1] delta,
                          const double[::1] h, double[::1] v, double[::1] s, double l1,
                          double l2):
    """:func:`block_cd_epoch` for the CSC working-set sub-matrix, ``O(nnz)`` per epoch."""
    cdef Py_ssize_t k, i, start, end, kk
    cdef double z, new, dz, deriv, crit = 0, s_ = s[0]
    with nogil:
        for kk in range(active.shape[0]):
            k = active[kk]
            if hdiag[k] <= 0:
                continue
            start = indptr[k]
            end = indptr[k + 1]
            deriv = grad[k] - s_ * hmu[k]
            for i in range(start, end):
                deriv = deriv + data[i] * v[indices[i]]
            z = w[k] + delta[k]
            crit = max(crit, _violation(z, deriv, l1, l2))
            new = _prox_newton_coord(z, deriv, hdiag[k], l1, l2)
            if new != z:
                dz = new - z
                delta[k] = delta[k] + dz
                for i in range(start, end):
                    v[indices[i]] += dz * h[indices[i]] * data[i]
                s_ = s_ + dz * mu[k]
        s[0] = s_
    return crit


def ws_hdiag_multi(const floating[:, ::1] Xws, const double[:, ::1] Hw, double[:, ::1] out,
                   int n_threads):
    """``out[k, j] = sum_i Hw[k, i] Xws[j, i]^2`` for every class ``k`` in one pass over ``Xws``.

    Parts of the columns go to an adaptive team; each output summed by one thread.
    """
    cdef Py_ssize_t n = Xws.shape[1], m = Xws.shape[0], K = Hw.shape[0], j, k, i, c
    cdef double acc, x
    cdef int nt, nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    nt = fpk_team_size(n * m * K, n_threads, DENSE_SERIAL)
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            for j in range(m * c // nc, m * (c + 1) // nc):
                for k in range(K):
                    acc = 0
                    for i in range(n):
                        x = Xws[j, i]
                        acc = acc + Hw[k, i] * x * x
                    out[k, j] = acc
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


def ws_hdiag_multi_sparse(const floating[::1] data, const index_t[::1] indices,
                          const index_t[::1] indptr, const double[:, ::1] Hw,
                          double[:, ::1] out, int n_threads):
    """:func:`ws_hdiag_multi` for the CSC working-set sub-matrix."""
    _csc_class_sums(data, indices, indptr, Hw, out, n_threads, True)


# --------------------------------------------------------------------------
# Multinomial proximal Newton subproblem, all classes at once
#
# The softmax Hessian of sample i is ``H_i = diag(p_i) - p_i p_i^T``, so with
# ``U = Delta Xws + delta_b`` (shape (K, n), the change of the scores) the
# model's derivative along coefficient (k, j) is
#
#     G[k, j] + sum_i x_ij Q[k, i] (U[k, i] - a_i),   a_i = p_i . U[:, i]
#
# (``Q = sample_weight / n * P``), and a step ``dz`` on it moves ``U[k]`` by
# ``dz x_j`` and ``a`` by ``dz x_j * P[k]``: ``O(nnz(x_j))`` per coefficient
# like the binary case, with the exact cross-class curvature (block-per-class
# Newton converged linearly, hundreds of rounds on 3 classes). Curvature of
# the coordinate: ``hdiag[k, j] = sum_i x_ij^2 Q[k, i] (1 - P[k, i])``. The
# intercepts are one K-dimensional block solved in Python after each epoch.
# --------------------------------------------------------------------------

cdef inline double _mn_deriv(Py_ssize_t n, const floating* x, const double* q,
                             const double* u, const double* a) noexcept nogil:
    """``sum_i x_i q_i (u_i - a_i)``, eight float64 accumulators (see :func:`_dot`)."""
    cdef Py_ssize_t i, m
    cdef double acc[8]
    cdef double tail = 0
    for m in range(8):
        acc[m] = 0
    for i in range(0, n - 7, 8):
        for m in range(8):
            acc[m] = acc[m] + x[i + m] * q[i + m] * (u[i + m] - a[i + m])
    for i in range(n - n % 8, n):
        tail = tail + x[i] * q[i] * (u[i] - a[i])
    return (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
            + tail)


def mn_cd_epoch(const floating[:, ::1] Xws, const Py_ssize_t[::1] active,
                const double[:, ::1] G,
                const double[:, ::1] hdiag, const double[:, ::1] W, double[:, ::1] D,
                const double[:, ::1] P, const double[:, ::1] Q, double[:, ::1] U,
                double[::1] a, double l1, double l2):
    """One CD epoch of the multinomial Newton subproblem (dense working set).

    ``G``, ``hdiag``, ``W``, ``D`` (the step) have shape ``(K, m)``; ``P``,
    ``Q``, ``U`` shape ``(K, n)``. Visits the working-set columns ``active``.
    Updates ``D``, ``U`` and ``a`` in place; returns the largest model KKT
    violation met (see :func:`block_cd_epoch`).
    """
    cdef Py_ssize_t n = Xws.shape[1], K = G.shape[0], j, k, i, jj
    cdef double z, new, dz, deriv, crit = 0
    cdef const floating* col
    with nogil:
        for jj in range(active.shape[0]):
            j = active[jj]
            col = &Xws[j, 0]
            for k in range(K):
                if hdiag[k, j] <= 0:
                    continue
                deriv = G[k, j] + _mn_deriv(n, col, &Q[k, 0], &U[k, 0], &a[0])
                z = W[k, j] + D[k, j]
                crit = max(crit, _violation(z, deriv, l1, l2))
                new = _prox_newton_coord(z, deriv, hdiag[k, j], l1, l2)
                if new != z:
                    dz = new - z
                    D[k, j] = D[k, j] + dz
                    for i in range(n):
                        U[k, i] = U[k, i] + dz * col[i]
                        a[i] = a[i] + dz * col[i] * P[k, i]
    return crit


def mn_cd_epoch_sparse(const floating[::1] data, const index_t[::1] indices,
                       const index_t[::1] indptr, const Py_ssize_t[::1] active,
                       const double[:, ::1] G,
                       const double[:, ::1] hdiag, const double[:, ::1] W, double[:, ::1] D,
                       const double[:, ::1] P, const double[:, ::1] Q, double[:, ::1] U,
                       double[::1] a, double l1, double l2):
    """:func:`mn_cd_epoch` for the CSC working-set sub-matrix."""
    cdef Py_ssize_t K = G.shape[0], j, k, i, r, start, end, jj
    cdef double z, new, dz, deriv, crit = 0, x
    with nogil:
        for jj in range(active.shape[0]):
            j = active[jj]
            start = indptr[j]
            end = indptr[j + 1]
            for k in range(K):
                if hdiag[k, j] <= 0:
                    continue
                deriv = G[k, j]
                for i in range(start, end):
                    r = indices[i]
                    deriv = deriv + data[i] * Q[k, r] * (U[k, r] - a[r])
                z = W[k, j] + D[k, j]
                crit = max(crit, _violation(z, deriv, l1, l2))
                new = _prox_newton_coord(z, deriv, hdiag[k, j], l1, l2)
                if new != z:
                    dz = new - z
                    D[k, j] = D[k, j] + dz
                    for i in range(start, end):
                        r = indices[i]
                        x = dz * data[i]
                        U[k, r] += x
                        a[r] += x * P[k, r]
    return crit


# ---------------------------------------------------------------- smooth (L2) path losses
# The quasi-Newton path of L2 fits (``linear_model/_lbfgs_solver.py``) evaluates
# the loss and its derivative in the scores once per iteration; one pass each.

def binomial_loss_grad(const double[::1] z, const double[::1] y, const double[::1] sw,
                       double[::1] g):
    """``sum_i sw_i log(1 + exp(-y_i z_i))``; ``g_i = sw_i d/dz_i`` (``y`` in {-1, +1})."""
    cdef Py_ssize_t i
    cdef double t, e, loss = 0
    with nogil:
        for i in range(z.shape[0]):
            t = -y[i] * z[i]
            if t > 0:
                e = exp(-t)
                loss = loss + sw[i] * (t + log1p(e))
                g[i] = -y[i] * sw[i] / (1.0 + e)
            else:
                e = exp(t)
                loss = loss + sw[i] * log1p(e)
                g[i] = -y[i] * sw[i] * e / (1.0 + e)
    return loss


def multinomial_loss_grad(const double[:, ::1] Z, const Py_ssize_t[::1] labels,
                          const double[::1] sw, double[:, ::1] G):
    """``sum_i sw_i (logsumexp(Z[i]) - Z[i, y_i])``; ``G[k, i] = sw_i d/dZ[i, k]``.

    ``Z`` is ``(n, K)`` (scores by sample), ``G`` is ``(K, n)`` (the gradient's
    layout for ``xt_r_dense``).
    """
    cdef Py_ssize_t n = Z.shape[0], K = Z.shape[1], i, k
    cdef double m, s, lse, w, loss = 0
    with nogil:
        for i in range(n):
            m = Z[i, 0]
            for k in range(1, K):
                if Z[i, k] > m:
                    m = Z[i, k]
            s = 0
            for k in range(K):
                G[k, i] = exp(Z[i, k] - m)
                s = s + G[k, i]
            lse = m + log(s)
            w = sw[i]
            loss = loss + w * (lse - Z[i, labels[i]])
            s = w / s
            for k in range(K):
                G[k, i] = G[k, i] * s
            G[labels[i], i] = G[labels[i], i] - w
    return loss


cdef inline double _binomial_point(double z, double y, double sw, double* g) noexcept nogil:
    """``sw log(1 + exp(-y z))``; ``g[0] = sw`` times its derivative in ``z``."""
    cdef double t = -y * z, e
    if t > 0:
        e = exp(-t)
        g[0] = -y * sw / (1.0 + e)
        return sw * (t + log1p(e))
    e = exp(t)
    g[0] = -y * sw * e / (1.0 + e)
    return sw * log1p(e)


cdef double _fused_rows(const floating[:, ::1] X, Py_ssize_t i0, Py_ssize_t i1,
                        const double[:, ::1] W, const double[::1] b, const double[::1] y,
                        const Py_ssize_t[::1] labels, const double[::1] sw, double* acc,
                        double* z) noexcept nogil:
    """Rows ``i0:i1``: loss, and ``acc[k, :p] += g_ik x_i``, ``acc[k, p] += g_ik``."""
    cdef Py_ssize_t p = X.shape[1], K = W.shape[0], i, j, k
    cdef const floating* xi
    cdef const floating* x1
    cdef const floating* x2
    cdef const floating* x3
    cdef double* a
    cdef double t, e, m, s, zl, g, g1, g2, g3, loss = 0
    i = i0
    if K == 1:
        # binary: four rows at a time (independent dots and exps in flight, a
        # quarter of the loads and stores of acc), as xt_r_dense's sweeps
        while i + 4 <= i1:
            xi = &X[i, 0]
            x1 = &X[i + 1, 0]
            x2 = &X[i + 2, 0]
            x3 = &X[i + 3, 0]
            g = b[0] + _dot(p, xi, &W[0, 0])
            g1 = b[0] + _dot(p, x1, &W[0, 0])
            g2 = b[0] + _dot(p, x2, &W[0, 0])
            g3 = b[0] + _dot(p, x3, &W[0, 0])
            loss = loss + _binomial_point(g, y[i], sw[i], &g)
            loss = loss + _binomial_point(g1, y[i + 1], sw[i + 1], &g1)
            loss = loss + _binomial_point(g2, y[i + 2], sw[i + 2], &g2)
            loss = loss + _binomial_point(g3, y[i + 3], sw[i + 3], &g3)
            for j in range(p):
                acc[j] = acc[j] + ((g * xi[j] + g1 * x1[j]) + (g2 * x2[j] + g3 * x3[j]))
            acc[p] = acc[p] + ((g + g1) + (g2 + g3))
            i = i + 4
    for i in range(i, i1):
        xi = &X[i, 0]
        for k in range(K):
            z[k] = b[k] + _dot(p, xi, &W[k, 0])
        if K == 1:
            loss = loss + _binomial_point(z[0], y[i], sw[i], &z[0])
        else:
            m = z[0]
            for k in range(1, K):
                if z[k] > m:
                    m = z[k]
            zl = z[labels[i]]
            s = 0
            for k in range(K):
                z[k] = exp(z[k] - m)
                s = s + z[k]
            loss = loss + sw[i] * (m + log(s) - zl)
            s = sw[i] / s
            for k in range(K):
                z[k] = z[k] * s
            z[labels[i]] = z[labels[i]] - sw[i]
        for k in range(K):
            g = z[k]
            a = acc + k * (p + 1)
            for j in range(p):
                a[j] = a[j] + g * xi[j]
            a[p] = a[p] + g
    return loss


def fused_loss_grad(const floating[:, ::1] X, const double[:, ::1] W, const double[::1] b,
                    const double[::1] y, const Py_ssize_t[::1] labels, const double[::1] sw,
                    double[:, :, ::1] part, double[:, ::1] zbuf, double[::1] lossb,
                    int n_threads):
    """Loss and gradient of the log-loss in one pass over C-ordered ``X``.

    Scores ``z_i = W x_i + b``; binary (``K = 1``, ``y`` in {-1, +1}) or
    multinomial (``labels``) loss, weights ``sw``. Rows are cut into
    ``part.shape[0]`` fixed blocks; block ``c`` writes its loss to
    ``lossb[c]`` and ``sum_i g_ik [x_i, 1]`` to ``part[c]`` (``(K, p + 1)``;
    ``zbuf[c]`` is its scratch), so each row is read once, while in cache, for
    its scores and its share of ``R @ X``. The caller sums the blocks in
    order: the result does not depend on the thread count.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], K = W.shape[0]
    cdef Py_ssize_t nb = part.shape[0], c, k, j
    cdef int nt
    cdef double t0 = fpk_now(), tp = 0
    cdef double tmark[1]
    nt = fpk_team_size(n * p * K, n_threads, DENSE_SERIAL)
    tmark[0] = 0
    with nogil:
        for c in prange(nb, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            for k in range(K):
                for j in range(p + 1):
                    part[c, k, j] = 0
            lossb[c] = _fused_rows(X, n * c // nb, n * (c + 1) // nb, W, b, y, labels, sw,
                                   &part[c, 0, 0], &zbuf[c, 0])
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


def _thread_policy(int parts_per_thread, bint adaptive):
    """Set this module's parts per thread and adaptive team; return the old pair."""
    return thread_policy(parts_per_thread, adaptive)
