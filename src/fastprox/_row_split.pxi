# Row ranges of equal work for the CSR kernels of _sparse.pyx and _mlp_fast.pyx
# (included textually; the including module defines the ``index_t`` fused type).


cdef inline Py_ssize_t _row_split(const index_t* indptr, Py_ssize_t n_rows, Py_ssize_t c,
                                  Py_ssize_t n_chunks) noexcept nogil:
    """First row of chunk ``c`` when rows are split by work = indptr[r] + r."""
    cdef Py_ssize_t total = indptr[n_rows] + n_rows
    cdef Py_ssize_t target, lo = 0, hi = n_rows, mid
    if c <= 0:
        return 0
    if c >= n_chunks:
        return n_rows
    target = (total * c) // n_chunks
    while lo < hi:  # smallest r with indptr[r] + r >= target
        mid = (lo + hi) // 2
        if indptr[mid] + mid < target:
            lo = mid + 1
        else:
            hi = mid
    return lo
