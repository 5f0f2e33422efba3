/* Dense dot product for the coordinate-descent kernels (used by _cd_fast.pyx).
 *
 * The CD epoch is one dot product and one axpy per column, and the dot is the
 * half the compiler does not vectorise by itself (reassociating a sum needs
 * -ffast-math): with four scalar accumulators it ran 7x slower than OpenBLAS's
 * gemv over the same 1000 x 925 column block. Four vector accumulators of the
 * build's width (GCC/Clang vector extensions; SSE2 / AVX2 / AVX-512 after
 * -march) keep two FMA units busy. The summation order depends only on n.
 *
 * Both also prefetch `next` (the column the loop will read two columns from
 * now) as they go, a line per 64 bytes read: memory stalls between columns,
 * not arithmetic, bounded the epochs. A float32 epoch over a 1000 x 4900
 * column pool where most coordinates move went from 1.4-1.6 to 1.0-1.2 ms on
 * a 2-core Zen3 (float64, from DRAM: 3.1-3.3 to 2.7-3.1 ms); streaming the
 * same pool with no coordinate moving takes 1.0 ms, so that is the floor.
 */
#ifndef FASTPROX_CD_KERNELS_H
#define FASTPROX_CD_KERNELS_H
#include <stddef.h>

#if defined(__GNUC__)
/* every 64-byte line of the BYTES bytes from P (a compile-time constant loop) */
#define FPC_PREFETCH(P, BYTES)                                                            \
    for (int fpc_b_ = 0; fpc_b_ < (int)(BYTES); fpc_b_ += 64)                             \
        __builtin_prefetch((const char *)(P) + fpc_b_, 0, 3)
#if defined(__AVX512F__)
#define FPC_VBYTES 64
#elif defined(__AVX__)
#define FPC_VBYTES 32
#else
#define FPC_VBYTES 16
#endif

#define FPC_DOT(NAME, T, ALIGN)                                                           \
    typedef T NAME##_v __attribute__((vector_size(FPC_VBYTES), aligned(ALIGN), may_alias)); \
    static inline T NAME(ptrdiff_t n, const T *x, const T *y, const T *next)              \
    {                                                                                     \
        enum { W = FPC_VBYTES / sizeof(T) };                                              \
        NAME##_v a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                  \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 4 * W <= n; i += 4 * W) {                                              \
            FPC_PREFETCH(next + i, 4 * W * sizeof(T));                                    \
            a0 += *(const NAME##_v *)(x + i) * *(const NAME##_v *)(y + i);                \
            a1 += *(const NAME##_v *)(x + i + W) * *(const NAME##_v *)(y + i + W);        \
            a2 += *(const NAME##_v *)(x + i + 2 * W) * *(const NAME##_v *)(y + i + 2 * W); \
            a3 += *(const NAME##_v *)(x + i + 3 * W) * *(const NAME##_v *)(y + i + 3 * W); \
        }                                                                                 \
        for (; i + W <= n; i += W)                                                        \
            a0 += *(const NAME##_v *)(x + i) * *(const NAME##_v *)(y + i);                \
        a0 = (a0 + a1) + (a2 + a3);                                                       \
        T s = 0;                                                                          \
        for (int k = 0; k < (int)W; ++k) s += a0[k];                                      \
        for (; i < n; ++i) s += x[i] * y[i];                                              \
        return s;                                                                         \
    }
#else
#define FPC_DOT(NAME, T, ALIGN)                                                           \
    static inline T NAME(ptrdiff_t n, const T *x, const T *y, const T *next)              \
    {                                                                                     \
        T a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                                 \
        (void)next;                                                                       \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 4 <= n; i += 4) {                                                      \
            a0 += x[i] * y[i]; a1 += x[i + 1] * y[i + 1];                                 \
            a2 += x[i + 2] * y[i + 2]; a3 += x[i + 3] * y[i + 3];                         \
        }                                                                                 \
        for (; i < n; ++i) a0 += x[i] * y[i];                                             \
        return (a0 + a1) + (a2 + a3);                                                     \
    }
#endif

FPC_DOT(fpc_ddot, double, 8)
FPC_DOT(fpc_sdot, float, 4)

/* y += a * x, the CD epoch's other half. Written with the same vector types:
 * the plain loop Cython emits was not vectorised by GCC (an all-moving float32
 * epoch over 1000 x 5000 spent 0.75 ms in its axpys, against 0.44 ms for the
 * dots; scikit-learn's BLAS epoch took 0.9 ms in all). Elementwise, so the
 * result does not depend on the vector width. */
#if defined(__GNUC__)
#define FPC_AXPY(NAME, T, ALIGN)                                                          \
    typedef T NAME##_v __attribute__((vector_size(FPC_VBYTES), aligned(ALIGN), may_alias)); \
    static inline void NAME(ptrdiff_t n, T a, const T *x, T *y, const T *next)          \
    {                                                                                     \
        enum { W = FPC_VBYTES / sizeof(T) };                                              \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 2 * W <= n; i += 2 * W) {                                              \
            FPC_PREFETCH(next + i, 2 * W * sizeof(T));                                    \
            NAME##_v y0 = *(NAME##_v *)(y + i), y1 = *(NAME##_v *)(y + i + W);            \
            y0 += a * *(const NAME##_v *)(x + i);                                         \
            y1 += a * *(const NAME##_v *)(x + i + W);                                     \
            *(NAME##_v *)(y + i) = y0;                                                    \
            *(NAME##_v *)(y + i + W) = y1;                                                \
        }                                                                                 \
        for (; i < n; ++i) y[i] += a * x[i];                                              \
    }
#else
#define FPC_AXPY(NAME, T, ALIGN)                                                          \
    static inline void NAME(ptrdiff_t n, T a, const T *x, T *y, const T *next)          \
    {                                                                                     \
        (void)next;                                                                       \
        for (ptrdiff_t i = 0; i < n; ++i) y[i] += a * x[i];                               \
    }
#endif

FPC_AXPY(fpc_daxpy, double, 8)
FPC_AXPY(fpc_saxpy, float, 4)

/* Column sums and sums of squares, four rows of a C-ordered matrix at a time
 * (rows xi, xi + ld, xi + 2 ld, xi + 3 ld, shifted by x0 when center), into
 * float64 accumulators. restrict: in the float64 build Cython's loop could
 * not rule out that the accumulators alias the rows, and GCC left it scalar
 * (1000 x 5000: 4.3 ms, against 1.6 ms for float32). */
#define FPC_STATS4(NAME, T)                                                               \
    static inline void NAME(ptrdiff_t m, ptrdiff_t ld, const T *__restrict__ xi,          \
                            const T *__restrict__ x0, int center,                         \
                            double *__restrict__ so, double *__restrict__ qo)             \
    {                                                                                     \
        if (center) {                                                                     \
            for (ptrdiff_t j = 0; j < m; ++j) {                                           \
                double c = x0[j];                                                         \
                double d0 = (double)xi[j] - c, d1 = (double)xi[ld + j] - c;               \
                double d2 = (double)xi[2 * ld + j] - c, d3 = (double)xi[3 * ld + j] - c;  \
                so[j] += (d0 + d1) + (d2 + d3);                                           \
                qo[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);                       \
            }                                                                             \
        } else {                                                                          \
            for (ptrdiff_t j = 0; j < m; ++j) {                                           \
                double d0 = xi[j], d1 = xi[ld + j], d2 = xi[2 * ld + j], d3 = xi[3 * ld + j]; \
                qo[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);                       \
            }                                                                             \
        }                                                                                 \
    }

FPC_STATS4(fpc_dstats4, double)
FPC_STATS4(fpc_sstats4, float)

/* The same four rows' contribution to X.T @ v (v0..v3: their entries of v),
 * for the pass that also gives the solver its first gradient. */
#define FPC_XTV4(NAME, T)                                                                 \
    static inline void NAME(ptrdiff_t m, ptrdiff_t ld, const T *__restrict__ xi,          \
                            double v0, double v1, double v2, double v3,                   \
                            double *__restrict__ to)                                      \
    {                                                                                     \
        for (ptrdiff_t j = 0; j < m; ++j)                                                 \
            to[j] += ((double)xi[j] * v0 + (double)xi[ld + j] * v1)                       \
                     + ((double)xi[2 * ld + j] * v2 + (double)xi[3 * ld + j] * v3);       \
    }

FPC_XTV4(fpc_dxtv4, double)
FPC_XTV4(fpc_sxtv4, float)

#endif
