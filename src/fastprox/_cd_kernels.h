/* Dense dot product for the coordinate-descent kernels (used by _cd_fast.pyx).
 *
 * The CD epoch is one dot product and one axpy per column, and the dot is the
 * half the compiler does not vectorise by itself (reassociating a sum needs
 * -ffast-math): with four scalar accumulators it ran 7x slower than OpenBLAS's
 * gemv over the same 1000 x 925 column block. Four vector accumulators of the
 * build's width (GCC/Clang vector extensions; SSE2 / AVX2 / AVX-512 after
 * -march) keep two FMA units busy. The summation order depends only on n.
 */
#ifndef FASTPROX_CD_KERNELS_H
#define FASTPROX_CD_KERNELS_H
#include <stddef.h>

#if defined(__GNUC__)
#if defined(__AVX512F__)
#define FPC_VBYTES 64
#elif defined(__AVX__)
#define FPC_VBYTES 32
#else
#define FPC_VBYTES 16
#endif

#define FPC_DOT(NAME, T, ALIGN)                                                           \
    typedef T NAME##_v __attribute__((vector_size(FPC_VBYTES), aligned(ALIGN), may_alias)); \
    static inline T NAME(ptrdiff_t n, const T *x, const T *y)                             \
    {                                                                                     \
        enum { W = FPC_VBYTES / sizeof(T) };                                              \
        NAME##_v a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                  \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 4 * W <= n; i += 4 * W) {                                              \
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
    static inline T NAME(ptrdiff_t n, const T *x, const T *y)                             \
    {                                                                                     \
        T a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                                 \
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

#endif
