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


cdef extern from *:
    """
    /* The adaptive team (see docs/design/kernels-threads.md). A parallel call
       splits its work into fpk_cpt parts per thread, handed out dynamically,
       and the calling thread adds up the time it spent in its own parts. If the
       call took longer than that by over a quarter (plus 20 us), it waited for
       the other threads, at the start or at the join: their cores were taken
       (another process, spinning BLAS workers). The module runs serially for
       the next 8 calls, doubling up to 256 while it keeps happening -- calls
       of up to 4x the work of the call that waited: a bigger call hides a
       late thread in its dynamic parts, and a short call that waited (a
       structure check paying a sleeping thread's wake-up) must not keep the
       module's long products serial. One state per module; relaxed atomics,
       a race only costs a retry. */
    #ifdef _OPENMP
    #include <omp.h>
    static double fpk_now(void) { return omp_get_wtime(); }
    /* the calling thread (0) times its own parts: start, then add to *busy */
    static double fpk_part_start(void) { return omp_get_thread_num() == 0 ? omp_get_wtime() : 0.0; }
    static void fpk_part_end(double *busy, double start) {
        if (omp_get_thread_num() == 0) *busy += omp_get_wtime() - start;
    }
    #else
    static double fpk_now(void) { return 0.0; }
    static double fpk_part_start(void) { return 0.0; }
    static void fpk_part_end(double *busy, double start) { (void)busy; (void)start; }
    #endif
    static int fpk_cpt = 8;
    static int fpk_adaptive = 1;
    static int fpk_serial_left = 0;
    static int fpk_backoff = 0;
    static Py_ssize_t fpk_last_work = 0;  /* work of the last parallel call */
    static Py_ssize_t fpk_trip_work = 0;  /* work of the last call that waited */
    static int fpk_team_size(Py_ssize_t work, int n_threads, Py_ssize_t serial_work) {
        if (work < serial_work || n_threads < 2) return 1;
        if (fpk_adaptive && __atomic_load_n(&fpk_serial_left, __ATOMIC_RELAXED) > 0
                && work <= 4 * __atomic_load_n(&fpk_trip_work, __ATOMIC_RELAXED)) {
            __atomic_fetch_sub(&fpk_serial_left, 1, __ATOMIC_RELAXED);
            return 1;
        }
        __atomic_store_n(&fpk_last_work, work, __ATOMIC_RELAXED);
        return n_threads;
    }
    static void fpk_team_report(int team, double t0, double work) {
        int b;
        double wait = fpk_now() - t0 - work;
        if (team < 2 || !fpk_adaptive) return;
        if (wait > 0.25 * work + 20e-6) {
            b = __atomic_load_n(&fpk_backoff, __ATOMIC_RELAXED);
            b = b ? (b < 256 ? 2 * b : 256) : 8;
            __atomic_store_n(&fpk_backoff, b, __ATOMIC_RELAXED);
            __atomic_store_n(&fpk_trip_work, __atomic_load_n(&fpk_last_work, __ATOMIC_RELAXED),
                             __ATOMIC_RELAXED);
            __atomic_store_n(&fpk_serial_left, b, __ATOMIC_RELAXED);
        } else {
            __atomic_store_n(&fpk_backoff, 0, __ATOMIC_RELAXED);
        }
    }
    """
    int fpk_cpt
    int fpk_adaptive
    int fpk_team_size(Py_ssize_t work, int n_threads, Py_ssize_t serial_work) noexcept nogil
    void fpk_team_report(int team, double t0, double work) noexcept nogil
    double fpk_now() noexcept nogil
    double fpk_part_start() noexcept nogil
    void fpk_part_end(double* busy, double start) noexcept nogil


cdef inline tuple thread_policy(int parts_per_thread, bint adaptive):
    """Set the cimporting module's parts per thread and adaptive team; return the old pair.

    The C state above is static, so each extension module has its own copy and
    this sets only the module it is compiled into (tests and benchmarks only:
    results do not depend on either).
    """
    global fpk_cpt, fpk_adaptive
    old = (fpk_cpt, bool(fpk_adaptive))
    fpk_cpt = max(1, parts_per_thread)
    fpk_adaptive = adaptive
    return old


cdef inline int team_size(Py_ssize_t work, int n_threads) noexcept nogil:
    """Threads for a call of ``work``: 1 below SERIAL_WORK or while backing off."""
    return fpk_team_size(work, n_threads, SERIAL_WORK)


cdef inline int n_parts(int team) noexcept nogil:
    """Parts a call of ``team`` threads is split into (handed out dynamically)."""
    return 1 if team < 2 else team * fpk_cpt


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
