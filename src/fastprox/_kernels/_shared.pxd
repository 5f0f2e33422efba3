# Declarations shared by the kernel modules of this package: the fused types,
# the C CSR kernels of csr_kernels.h, the serial threshold and the row split of
# the row-parallel CSR kernels. Everything here is a type, an extern
# declaration or an inline function, so cimporting it adds no runtime import.
from libc.stdint cimport int32_t, int64_t

ctypedef fused floating:
    float
    double

# CSR index arrays come as scipy makes them: int32, or int64 past 2**31.
ctypedef fused index_t:
    int32_t
    int64_t

cdef extern from "csr_kernels.h" nogil:
    void fpk_spmv_d_i32(const double*, const int32_t*, const int32_t*, const double*, double*,
                        Py_ssize_t, Py_ssize_t)
    void fpk_spmv_d_i64(const double*, const int64_t*, const int64_t*, const double*, double*,
                        Py_ssize_t, Py_ssize_t)
    void fpk_spmv_f_i32(const float*, const int32_t*, const int32_t*, const float*, float*,
                        Py_ssize_t, Py_ssize_t)
    void fpk_spmv_f_i64(const float*, const int64_t*, const int64_t*, const float*, float*,
                        Py_ssize_t, Py_ssize_t)
    void fpk_spmm_d_i32(const double*, const int32_t*, const int32_t*, const double*, double*,
                        Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*, int)
    void fpk_spmm_d_i64(const double*, const int64_t*, const int64_t*, const double*, double*,
                        Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*, int)
    void fpk_spmm_f_i32(const float*, const int32_t*, const int32_t*, const float*, float*,
                        Py_ssize_t, Py_ssize_t, Py_ssize_t, const float*, int)
    void fpk_spmm_f_i64(const float*, const int64_t*, const int64_t*, const float*, float*,
                        Py_ssize_t, Py_ssize_t, Py_ssize_t, const float*, int)
    void fpk_sddmm_d_i32(const int32_t*, const int32_t*, const double*, const double*,
                         Py_ssize_t, double*, Py_ssize_t, Py_ssize_t)
    void fpk_sddmm_d_i64(const int64_t*, const int64_t*, const double*, const double*,
                         Py_ssize_t, double*, Py_ssize_t, Py_ssize_t)
    void fpk_sddmm_f_i32(const int32_t*, const int32_t*, const float*, const float*,
                         Py_ssize_t, float*, Py_ssize_t, Py_ssize_t)
    void fpk_sddmm_f_i64(const int64_t*, const int64_t*, const float*, const float*,
                         Py_ssize_t, float*, Py_ssize_t, Py_ssize_t)


# Below this much work (elements, or nonzeros plus rows) a kernel runs on the
# calling thread: waking the OpenMP team costs more than the loop.
cdef enum:
    SERIAL_WORK = 32768


cdef inline int n_chunks(Py_ssize_t work, int n_threads) noexcept nogil:
    """Number of contiguous chunks (one per thread) to split ``work`` into."""
    if work < SERIAL_WORK or n_threads < 2:
        return 1
    return n_threads


cdef inline Py_ssize_t row_split(const index_t* indptr, Py_ssize_t n_rows, Py_ssize_t c,
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
