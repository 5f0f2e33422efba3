"""OpenMP and CPU facts, compiled once for the baseline target.

This module must run on any CPU the package was built for, so it holds nothing
but queries: whether OpenMP was compiled in, how many threads OpenMP would use,
and which instruction-set extensions the CPU (and OS) support.
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FP_OPENMP 1
    #else
    #define FP_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int FP_OPENMP
    int omp_get_max_threads() noexcept nogil

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #define FP_HAS_CPU_BUILTIN 1
    static int fp_cpu_supports(const char *name) {
        __builtin_cpu_init();
        #define FP_CHECK(s) if (__builtin_strcmp(name, s) == 0) return __builtin_cpu_supports(s) != 0;
        FP_CHECK("sse2") FP_CHECK("avx") FP_CHECK("avx2") FP_CHECK("fma") FP_CHECK("bmi")
        FP_CHECK("bmi2") FP_CHECK("popcnt") FP_CHECK("avx512f") FP_CHECK("avx512bw")
        FP_CHECK("avx512dq") FP_CHECK("avx512vl") FP_CHECK("avx512cd")
        #undef FP_CHECK
        return -1;
    }
    #else
    #define FP_HAS_CPU_BUILTIN 0
    static int fp_cpu_supports(const char *name) { (void)name; return -1; }
    #endif
    """
    int FP_HAS_CPU_BUILTIN
    int fp_cpu_supports(const char *name) noexcept nogil


def openmp_enabled():
    """Return True if the kernels were compiled with OpenMP."""
    return FP_OPENMP == 1


def omp_max_threads():
    """Return ``omp_get_max_threads()``: OMP_NUM_THREADS or a threadpoolctl limit, else the cores."""
    return omp_get_max_threads()


def cpu_supports(str feature):
    """Return True/False if the CPU supports ``feature`` (gcc names), None if unknown."""
    cdef bytes name = feature.encode("ascii")
    cdef int res = fp_cpu_supports(name)
    return None if res < 0 else bool(res)
