"""CSR kernels: spmv, spmv_t, spmm, sddmm, dense -> CSR, and structure checks.

Inputs are validated by ``fastprox._validation`` before they get here
(``indptr`` monotone from 0 to nnz, indices in range, shapes and dtypes agree,
dense operands C-contiguous); the kernels never raise. Loop counters over
nonzeros are ``Py_ssize_t`` even when the indices are int32.

Parallel kernels split rows into parts of equal *work* (nonzeros plus one per
row), several per thread, handed out dynamically with an adaptive team (see
docs/design/kernels-threads.md). Each
output row is computed by one thread in a fixed order, so results are
bit-identical whatever the thread count.
"""
from cython.parallel cimport prange, parallel
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from fastprox._kernels._shared cimport (
    floating, index_t, row_split, team_size, n_parts,
    thread_policy, fpk_team_report, fpk_now, fpk_part_start, fpk_part_end,
    fpk_sddmm_d_i32, fpk_sddmm_d_i64, fpk_sddmm_f_i32, fpk_sddmm_f_i64,
    fpk_spmm_d_i32, fpk_spmm_d_i64, fpk_spmm_f_i32, fpk_spmm_f_i64,
    fpk_spmv_d_i32, fpk_spmv_d_i64, fpk_spmv_f_i32, fpk_spmv_f_i64,
)




# --------------------------------------------------------------------------
# structure checks (run before any kernel that trusts the structure)
# --------------------------------------------------------------------------

cdef inline Py_ssize_t _descents(const index_t* indptr, Py_ssize_t lo,
                                 Py_ssize_t hi) noexcept nogil:
    """Number of r in [lo, hi) with indptr[r] < indptr[r - 1] (lo >= 1)."""
    cdef Py_ssize_t r, bad = 0
    for r in range(lo, hi):
        bad += indptr[r] < indptr[r - 1]
    return bad


cdef inline Py_ssize_t _out_of_range(const index_t* indices, Py_ssize_t lo, Py_ssize_t hi,
                                     Py_ssize_t n_cols) noexcept nogil:
    """Number of k in [lo, hi) with indices[k] outside [0, n_cols)."""
    cdef Py_ssize_t k, bad = 0
    for k in range(lo, hi):
        # one unsigned compare catches negative and too-large indices alike
        bad += <size_t>indices[k] >= <size_t>n_cols
    return bad


def check_indptr_impl(const index_t[::1] indptr, Py_ssize_t nnz, int n_threads):
    """Return -1 if indptr is monotone from 0 to nnz, else the first bad position."""
    cdef Py_ssize_t n = indptr.shape[0], r, c, bad = 0
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if n == 0 or indptr[0] != 0:
        return 0
    if indptr[n - 1] != nnz:
        return n - 1
    tmark[0] = 0
    with nogil:
        # parts of positions 1..n-1; the count is an integer, any split gives it
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            bad += _descents(&indptr[0], 1 + (n - 1) * c // nc, 1 + (n - 1) * (c + 1) // nc)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
    if bad == 0:
        return -1
    for r in range(1, n):
        if indptr[r] < indptr[r - 1]:
            return r
    return -1


def check_indices_impl(const index_t[::1] indices, Py_ssize_t n_cols, int n_threads):
    """Return -1 if every index is in [0, n_cols), else the first bad position."""
    cdef Py_ssize_t n = indices.shape[0], k, c, bad = 0
    cdef int nt = team_size(n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if n == 0:
        return -1
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            bad += _out_of_range(&indices[0], n * c // nc, n * (c + 1) // nc, n_cols)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])
    if bad == 0:
        return -1
    for k in range(n):
        if <size_t>indices[k] >= <size_t>n_cols:
            return k
    return -1


# --------------------------------------------------------------------------
# C micro-kernels (see _csr_kernels.h): each computes rows [r0, r1).
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# spmv: y = A @ x
# --------------------------------------------------------------------------

cdef inline void _spmv_rows(const floating* data, const index_t* indices, const index_t* indptr,
                            const floating* x, floating* y, Py_ssize_t r0,
                            Py_ssize_t r1) noexcept nogil:
    if floating is double:
        if index_t is int32_t:
            fpk_spmv_d_i32(data, indices, indptr, x, y, r0, r1)
        else:
            fpk_spmv_d_i64(data, indices, indptr, x, y, r0, r1)
    else:
        if index_t is int32_t:
            fpk_spmv_f_i32(data, indices, indptr, x, y, r0, r1)
        else:
            fpk_spmv_f_i64(data, indices, indptr, x, y, r0, r1)


def spmv_impl(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
              const floating[::1] x, floating[::1] out, int n_threads):
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, c
    cdef int nt = team_size(data.shape[0] + n_rows, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    cdef const floating* xp = &x[0] if x.shape[0] > 0 else NULL
    cdef const floating* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* ip = &indices[0] if indices.shape[0] > 0 else NULL
    if n_rows == 0:
        return
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            _spmv_rows(dp, ip, &indptr[0], xp, &out[0],
                       row_split(&indptr[0], n_rows, c, nc),
                       row_split(&indptr[0], n_rows, c + 1, nc))
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


# --------------------------------------------------------------------------
# spmv_t: y = A.T @ x
# Rows are split into a number of parts that depends on the matrix only (never
# on the thread count); each part scatters into its own buffer, then buffers are
# summed column by column in part order. Same parts, same order => the same
# bits with 1 or 16 threads. Memory cost: (n_parts - 1) * n_cols extra values.
# --------------------------------------------------------------------------

cdef void _spmv_t_rows(const floating* data, const index_t* indices, const index_t* indptr,
                       const floating* x, floating* y, Py_ssize_t n_cols, Py_ssize_t r0,
                       Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t r, k
    cdef floating xr
    memset(y, 0, n_cols * sizeof(floating))
    for r in range(r0, r1):
        xr = x[r]
        for k in range(indptr[r], indptr[r + 1]):
            y[indices[k]] += data[k] * xr


cdef void _spmv_t_sum(floating* out, const floating* bp, Py_ssize_t n_cols, Py_ssize_t n_bufs,
                      Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """out[j] += buffer 0 [j], then buffer 1 [j], ... for j in [j0, j1)."""
    cdef Py_ssize_t j, q
    cdef floating s
    for j in range(j0, j1):
        s = out[j]
        for q in range(n_bufs):
            s = s + bp[q * n_cols + j]
        out[j] = s


def spmv_t_impl(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
                const floating[::1] x, floating[::1] out, floating[:, ::1] buffers,
                int n_threads):
    """``buffers`` has shape (n_parts - 1, n_cols); n_parts = buffers.shape[0] + 1.

    The matrix's parts (their number depends on the matrix only) are handed
    out dynamically to an adaptive team; so are column blocks of the final
    sum, each column added up in part order. Which thread does what never
    changes a bit of the result.
    """
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, n_cols = out.shape[0]
    cdef Py_ssize_t n_parts_ = buffers.shape[0] + 1, p, c
    cdef int nt = team_size(data.shape[0] + n_rows + n_parts_ * n_cols, n_threads)
    cdef int nc
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    cdef floating* dst
    cdef const floating* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const floating* xp = &x[0] if x.shape[0] > 0 else NULL
    cdef floating* bp = &buffers[0, 0] if n_parts_ > 1 and n_cols > 0 else NULL
    if n_cols == 0:
        return
    if n_rows == 0:
        memset(&out[0], 0, n_cols * sizeof(floating))
        return
    if nt > n_parts_:
        nt = <int>n_parts_
    nc = n_parts(nt)
    tmark[0] = 0
    with nogil:
        for p in prange(n_parts_, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            dst = &out[0] if p == 0 else bp + (p - 1) * n_cols
            _spmv_t_rows(dp, ip, &indptr[0], xp, dst, n_cols,
                         row_split(&indptr[0], n_rows, p, n_parts_),
                         row_split(&indptr[0], n_rows, p + 1, n_parts_))
            fpk_part_end(tmark, tp)
        if n_parts_ > 1:
            for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
                tp = fpk_part_start()
                _spmv_t_sum(&out[0], bp, n_cols, n_parts_ - 1, n_cols * c // nc,
                            n_cols * (c + 1) // nc)
                fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


# --------------------------------------------------------------------------
# spmm: Y = A @ X, A CSR (m x k), X dense C-contiguous (k x b), Y (m x b)
# Row j of X is contiguous over the batch, so the kernel streams a tile of
# X[j] through vector registers while the matching partial sums of Y[i] stay
# in registers across the nonzeros of row i (fpk_spmm_* in _csr_kernels.h).
# --------------------------------------------------------------------------

cdef inline void _spmm_rows(const floating* data, const index_t* indices, const index_t* indptr,
                            const floating* X, floating* Y, Py_ssize_t b, Py_ssize_t r0,
                            Py_ssize_t r1, const floating* bias, int relu) noexcept nogil:
    if floating is double:
        if index_t is int32_t:
            fpk_spmm_d_i32(data, indices, indptr, X, Y, b, r0, r1, bias, relu)
        else:
            fpk_spmm_d_i64(data, indices, indptr, X, Y, b, r0, r1, bias, relu)
    else:
        if index_t is int32_t:
            fpk_spmm_f_i32(data, indices, indptr, X, Y, b, r0, r1, bias, relu)
        else:
            fpk_spmm_f_i64(data, indices, indptr, X, Y, b, r0, r1, bias, relu)


def spmm_impl(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
              const floating[:, ::1] X, floating[:, ::1] out, const floating[::1] bias,
              bint relu, int n_threads):
    """``out = relu?(A @ X + bias[:, None])``; an empty ``bias`` means no bias.

    Fusing the bias and the ReLU into the register tile saves two passes over
    ``out``, which for a small pruned layer cost as much as the product itself.
    """
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, b = out.shape[1], c
    cdef int nt = team_size((data.shape[0] + n_rows) * b, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    cdef const floating* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const floating* xp = &X[0, 0] if X.shape[0] > 0 and X.shape[1] > 0 else NULL
    cdef const floating* bp = &bias[0] if bias.shape[0] > 0 else NULL
    if n_rows == 0 or b == 0:
        return
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            _spmm_rows(dp, ip, &indptr[0], xp, &out[0, 0], b,
                       row_split(&indptr[0], n_rows, c, nc),
                       row_split(&indptr[0], n_rows, c + 1, nc), bp, relu)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


# --------------------------------------------------------------------------
# sddmm: out[k] = U[i] . V[j] for each nonzero (i, j) of the pattern
# U (m x d) and V (n x d) C-contiguous, so both dot operands are contiguous.
# Four nonzeros of a row are done together so each load of U[i] feeds four
# dot products (fpk_sddmm_* in _csr_kernels.h).
# --------------------------------------------------------------------------

cdef inline void _sddmm_rows(const index_t* indices, const index_t* indptr, const floating* U,
                             const floating* V, Py_ssize_t d, floating* out, Py_ssize_t r0,
                             Py_ssize_t r1) noexcept nogil:
    if floating is double:
        if index_t is int32_t:
            fpk_sddmm_d_i32(indices, indptr, U, V, d, out, r0, r1)
        else:
            fpk_sddmm_d_i64(indices, indptr, U, V, d, out, r0, r1)
    else:
        if index_t is int32_t:
            fpk_sddmm_f_i32(indices, indptr, U, V, d, out, r0, r1)
        else:
            fpk_sddmm_f_i64(indices, indptr, U, V, d, out, r0, r1)


def sddmm_impl(const index_t[::1] indices, const index_t[::1] indptr, const floating[:, ::1] U,
               const floating[:, ::1] V, floating[::1] out, int n_threads):
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, d = U.shape[1], c, nnz = out.shape[0]
    cdef int nt = team_size((nnz + n_rows) * (d if d > 0 else 1), n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    cdef const index_t* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const floating* up = &U[0, 0] if U.shape[0] > 0 and d > 0 else NULL
    cdef const floating* vp = &V[0, 0] if V.shape[0] > 0 and d > 0 else NULL
    if nnz == 0:
        return
    if d == 0:
        memset(&out[0], 0, nnz * sizeof(floating))
        return
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            _sddmm_rows(ip, &indptr[0], up, vp, d, &out[0],
                        row_split(&indptr[0], n_rows, c, nc),
                        row_split(&indptr[0], n_rows, c + 1, nc))
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


# --------------------------------------------------------------------------
# dense -> CSR by magnitude: keep w != 0 with |w| > thr, or |w| == thr and
# flat index >= tie_start (that is how an exact count breaks ties: among equal
# magnitudes the lowest flat indices are pruned first).
# --------------------------------------------------------------------------

cdef inline bint _keep(floating w, double thr, Py_ssize_t flat, Py_ssize_t tie_start) noexcept nogil:
    cdef double a = w if w >= 0 else -w
    if w == 0:
        return False
    return a > thr or (a == thr and flat >= tie_start)


cdef void _count_rows(const floating* W, Py_ssize_t n, double thr, Py_ssize_t tie_start,
                      int64_t* counts, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t r, j, cnt
    for r in range(r0, r1):
        cnt = 0
        for j in range(n):
            cnt = cnt + _keep(W[r * n + j], thr, r * n + j, tie_start)
        counts[r + 1] = cnt


cdef void _fill_rows(const floating* W, Py_ssize_t n, double thr, Py_ssize_t tie_start,
                     const index_t* indptr, index_t* indices, floating* data, Py_ssize_t r0,
                     Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t r, j, k
    for r in range(r0, r1):
        k = indptr[r]
        for j in range(n):
            if _keep(W[r * n + j], thr, r * n + j, tie_start):
                indices[k] = <index_t>j
                data[k] = W[r * n + j]
                k = k + 1


def count_kept_impl(const floating[:, ::1] W, double thr, Py_ssize_t tie_start,
                    int64_t[::1] counts, int n_threads):
    """counts[r + 1] = number of kept entries of row r."""
    cdef Py_ssize_t m = W.shape[0], n = W.shape[1], c
    cdef int nt = team_size(m * n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if m == 0 or n == 0:
        return
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            _count_rows(&W[0, 0], n, thr, tie_start, &counts[0], m * c // nc,
                        m * (c + 1) // nc)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])


def fill_kept_impl(const floating[:, ::1] W, double thr, Py_ssize_t tie_start,
                   const index_t[::1] indptr, index_t[::1] indices, floating[::1] data,
                   int n_threads):
    cdef Py_ssize_t m = W.shape[0], n = W.shape[1], c
    cdef int nt = team_size(m * n, n_threads), nc = n_parts(nt)
    cdef double t0 = fpk_now(), tp = 0  # start; this thread's part start
    cdef double tmark[1]  # this thread's time in its parts
    if m == 0 or n == 0 or indices.shape[0] == 0:
        return
    tmark[0] = 0
    with nogil:
        for c in prange(nc, num_threads=nt, schedule="dynamic", use_threads_if=nt > 1):
            tp = fpk_part_start()
            _fill_rows(&W[0, 0], n, thr, tie_start, &indptr[0], &indices[0], &data[0],
                       m * c // nc, m * (c + 1) // nc)
            fpk_part_end(tmark, tp)
        fpk_team_report(nt, t0, tmark[0])



def _thread_policy(int parts_per_thread, bint adaptive):
    """Set this module's parts per thread and adaptive team; return the old pair."""
    return thread_policy(parts_per_thread, adaptive)
