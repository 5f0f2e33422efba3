/* Dense loops of the coordinate-descent kernels (used by cd_fast.pyx).
 *
 * The CD epoch is one dot product and one axpy per column, and the dot is the
 * half the compiler does not vectorise by itself (reassociating a sum needs
 * -ffast-math). Four vector accumulators of the build's width (GCC/Clang
 * vector extensions; SSE2 / AVX2 / AVX-512 after -march) keep two FMA units
 * busy (see docs/design/kernels-cd-vector-loops.md). The summation order
 * depends only on n.
 *
 * Both also prefetch `next` (the column the loop will read two columns from
 * now) as they go, a line per 64 bytes read: memory stalls between columns,
 * not arithmetic, bound the epochs (see docs/design/kernels-cd-prefetch.md).
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
 * GCC does not vectorise the plain loop Cython emits (see
 * docs/design/kernels-cd-vector-loops.md). Elementwise, so the result does
 * not depend on the vector width. */
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

/* R += a * p, then return x . R: the CD epoch's axpy of one column fused with
 * the dot of the next, one pass over R instead of two (the column p is still
 * in L1 from its own dot). Each element of R is the axpy's `R + a * p` and the
 * sum is the dot's, in the dot's vector lanes and order: the same bits as
 * AXPY then DOT (see docs/design/solver-dense-f32.md). */
#if defined(__GNUC__)
#define FPC_DOTAXPY(NAME, T, ALIGN)                                                       \
    typedef T NAME##_v __attribute__((vector_size(FPC_VBYTES), aligned(ALIGN), may_alias)); \
    static inline T NAME(ptrdiff_t n, T a, const T *p, T *R, const T *x, const T *next)   \
    {                                                                                     \
        enum { W = FPC_VBYTES / sizeof(T) };                                              \
        NAME##_v a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, r0, r1, r2, r3;                  \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 4 * W <= n; i += 4 * W) {                                              \
            FPC_PREFETCH(next + i, 4 * W * sizeof(T));                                    \
            r0 = *(NAME##_v *)(R + i);                                                    \
            r1 = *(NAME##_v *)(R + i + W);                                                \
            r2 = *(NAME##_v *)(R + i + 2 * W);                                            \
            r3 = *(NAME##_v *)(R + i + 3 * W);                                            \
            r0 += a * *(const NAME##_v *)(p + i);                                         \
            r1 += a * *(const NAME##_v *)(p + i + W);                                     \
            r2 += a * *(const NAME##_v *)(p + i + 2 * W);                                 \
            r3 += a * *(const NAME##_v *)(p + i + 3 * W);                                 \
            *(NAME##_v *)(R + i) = r0;                                                    \
            *(NAME##_v *)(R + i + W) = r1;                                                \
            *(NAME##_v *)(R + i + 2 * W) = r2;                                            \
            *(NAME##_v *)(R + i + 3 * W) = r3;                                            \
            a0 += *(const NAME##_v *)(x + i) * r0;                                        \
            a1 += *(const NAME##_v *)(x + i + W) * r1;                                    \
            a2 += *(const NAME##_v *)(x + i + 2 * W) * r2;                                \
            a3 += *(const NAME##_v *)(x + i + 3 * W) * r3;                                \
        }                                                                                 \
        for (; i + W <= n; i += W) {                                                      \
            r0 = *(NAME##_v *)(R + i);                                                    \
            r0 += a * *(const NAME##_v *)(p + i);                                         \
            *(NAME##_v *)(R + i) = r0;                                                    \
            a0 += *(const NAME##_v *)(x + i) * r0;                                        \
        }                                                                                 \
        a0 = (a0 + a1) + (a2 + a3);                                                       \
        T s = 0;                                                                          \
        for (int k = 0; k < (int)W; ++k) s += a0[k];                                      \
        for (; i < n; ++i) {                                                              \
            R[i] += a * p[i];                                                             \
            s += x[i] * R[i];                                                             \
        }                                                                                 \
        return s;                                                                         \
    }
#else
#define FPC_DOTAXPY(NAME, T, ALIGN)                                                       \
    static inline T NAME(ptrdiff_t n, T a, const T *p, T *R, const T *x, const T *next)   \
    {                                                                                     \
        for (ptrdiff_t i = 0; i < n; ++i) R[i] += a * p[i];                               \
        return NAME##_dot(n, x, R, next);                                                 \
    }
#endif

#define fpc_ddotaxpy_dot fpc_ddot
#define fpc_sdotaxpy_dot fpc_sdot
FPC_DOTAXPY(fpc_ddotaxpy, double, 8)
FPC_DOTAXPY(fpc_sdotaxpy, float, 4)

/* Column sums and sums of squares, four rows of a C-ordered matrix at a time
 * (rows xi, xi + ld, xi + 2 ld, xi + 3 ld, shifted by x0 when center), into
 * float64 accumulators. restrict: otherwise GCC cannot rule out that the
 * accumulators alias the rows and leaves the float64 loop scalar (see
 * docs/design/kernels-cd-vector-loops.md). */
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

/* Gather for the CD column pool: out[:, dest[k]] = X[:, cols[k]] - mu[cols[k]]
 * for k in [k0, k1), X C-ordered (row stride ld), out Fortran-ordered (column
 * stride ldo, n rows), and sq[k] += the squares of the stored values, summed
 * in double.
 *
 * Where 8 (float32) or 4 (float64) consecutive features are gathered, their
 * rows are loaded as vectors and transposed in registers, down the whole
 * height of the block (each pool column then written in order; the other half
 * of each line read is still in L2 for the next block); elsewhere, one element
 * at a time (see docs/design/kernels-cd-gather.md). Either way a column's
 * squares go into four accumulators by row mod 4 (one chain was bound by the
 * add latency), combined as (a0 + a1) + (a2 + a3): a column's norm does not
 * depend on the path it took, nor on the thread count.
 */
#include <math.h>
#if defined(__FMA__)
#define FPC_SQACC(A, V) fma((double)(V), (double)(V), (A))
#else
#define FPC_SQACC(A, V) ((A) + (double)(V) * (double)(V))
#endif

#define FPC_GATHER_COL(T)                                                                 \
    do {                                                                                  \
        const T *xc = X + cols[k];                                                        \
        T *oc = out + dest[k] * ldo;                                                      \
        T m = mu[cols[k]], v0, v1, v2, v3;                                                \
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                            \
        ptrdiff_t i = i0;                                                                 \
        for (; i + 4 <= i1; i += 4) {                                                     \
            v0 = xc[i * ld] - m; v1 = xc[(i + 1) * ld] - m;                               \
            v2 = xc[(i + 2) * ld] - m; v3 = xc[(i + 3) * ld] - m;                         \
            oc[i] = v0; oc[i + 1] = v1; oc[i + 2] = v2; oc[i + 3] = v3;                   \
            a0 = FPC_SQACC(a0, v0); a1 = FPC_SQACC(a1, v1);                               \
            a2 = FPC_SQACC(a2, v2); a3 = FPC_SQACC(a3, v3);                               \
        }                                                                                 \
        for (; i < i1; ++i) {                                                             \
            v0 = xc[i * ld] - m;                                                          \
            oc[i] = v0;                                                                   \
            a0 = FPC_SQACC(a0, v0);                                                       \
        }                                                                                 \
        sq[k] += (a0 + a1) + (a2 + a3);                                                   \
    } while (0)

/* rows [i, i1) of the NB columns of a vector block, continuing each column's
 * accumulators acc[0..3][q] exactly as FPC_GATHER_COL would */
#define FPC_GATHER_TAIL(T, NB)                                                            \
    for (int q = 0; q < NB; ++q) {                                                        \
        const T *xc = X + cols[k] + q;                                                    \
        T *oc = out + dest[k + q] * ldo;                                                  \
        T m = mu[cols[k] + q], v;                                                         \
        ptrdiff_t ii = i;                                                                 \
        for (; ii + 4 <= i1; ii += 4)                                                     \
            for (int s = 0; s < 4; ++s) {                                                 \
                v = xc[(ii + s) * ld] - m;                                                \
                oc[ii + s] = v;                                                           \
                acc[s][q] = FPC_SQACC(acc[s][q], v);                                      \
            }                                                                             \
        for (; ii < i1; ++ii) {                                                           \
            v = xc[ii * ld] - m;                                                          \
            oc[ii] = v;                                                                   \
            acc[0][q] = FPC_SQACC(acc[0][q], v);                                          \
        }                                                                                 \
        sq[k + q] += (acc[0][q] + acc[1][q]) + (acc[2][q] + acc[3][q]);                   \
    }

static inline int fpc_consecutive(const ptrdiff_t *cols, ptrdiff_t k, int nb)
{
    for (int q = 1; q < nb; ++q)
        if (cols[k + q] != cols[k] + q) return 0;
    return 1;
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FPC_GATHER_VEC 1
/* rows prefetched ahead of the vector path's loads; both ends of each row's
 * 32 bytes: rows 20000 bytes apart alternate alignment, and the loads that
 * crossed a line waited for the unprefetched second line (2.5x slower); past
 * the end of X is harmless (prefetches do not fault). 32 rows, not 16: more
 * lines in flight, float32 1000 x 5000 3.03 -> 2.65 ms (Zen 4,
 * docs/design/solver-dense-f32.md) */
#define FPC_GATHER_AHEAD 32
#define FPC_PREFETCH_SPAN(P, N)                                                           \
    do {                                                                                  \
        __builtin_prefetch((P), 0, 3);                                                    \
        __builtin_prefetch((P) + (N) - 1, 0, 3);                                          \
    } while (0)
#else
#define FPC_GATHER_VEC 0
#endif

static void fpc_sgather(ptrdiff_t n, const float *X, ptrdiff_t ld, const ptrdiff_t *cols,
                        const ptrdiff_t *dest, ptrdiff_t k0, ptrdiff_t k1, const float *mu,
                        float *out, ptrdiff_t ldo, double *sq)
{
    const ptrdiff_t i0 = 0, i1 = n;
    ptrdiff_t k = k0;
    while (k < k1) {
#if FPC_GATHER_VEC
        if (k + 8 <= k1 && fpc_consecutive(cols, k, 8)) {
            const float *xb = X + cols[k];
            __m256 m8 = _mm256_loadu_ps(mu + cols[k]);
            __m256d A[4][2];
            for (int s = 0; s < 4; ++s) A[s][0] = A[s][1] = _mm256_setzero_pd();
            ptrdiff_t i = i0;
            for (; i + 8 <= i1; i += 8) {
                __m256 r[8], t[8], u[8];
                for (int c = 0; c < 8; ++c) {
                    FPC_PREFETCH_SPAN(xb + (i + FPC_GATHER_AHEAD + c) * ld, 8);
                    r[c] = _mm256_sub_ps(_mm256_loadu_ps(xb + (i + c) * ld), m8);
                    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(r[c]));
                    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(r[c], 1));
                    A[c & 3][0] = _mm256_fmadd_pd(lo, lo, A[c & 3][0]);
                    A[c & 3][1] = _mm256_fmadd_pd(hi, hi, A[c & 3][1]);
                }
                /* 8 x 8 transpose: r[c] holds row c, the stores column q */
                for (int c = 0; c < 8; c += 2) {
                    t[c] = _mm256_unpacklo_ps(r[c], r[c + 1]);
                    t[c + 1] = _mm256_unpackhi_ps(r[c], r[c + 1]);
                }
                for (int c = 0; c < 8; c += 4) {
                    u[c] = _mm256_shuffle_ps(t[c], t[c + 2], 0x44);
                    u[c + 1] = _mm256_shuffle_ps(t[c], t[c + 2], 0xEE);
                    u[c + 2] = _mm256_shuffle_ps(t[c + 1], t[c + 3], 0x44);
                    u[c + 3] = _mm256_shuffle_ps(t[c + 1], t[c + 3], 0xEE);
                }
                for (int q = 0; q < 4; ++q) {
                    _mm256_storeu_ps(out + dest[k + q] * ldo + i,
                                     _mm256_permute2f128_ps(u[q], u[q + 4], 0x20));
                    _mm256_storeu_ps(out + dest[k + q + 4] * ldo + i,
                                     _mm256_permute2f128_ps(u[q], u[q + 4], 0x31));
                }
            }
            double acc[4][8];
            for (int s = 0; s < 4; ++s) {
                _mm256_storeu_pd(acc[s], A[s][0]);
                _mm256_storeu_pd(acc[s] + 4, A[s][1]);
            }
            FPC_GATHER_TAIL(float, 8)
            k += 8;
            continue;
        }
#endif
        FPC_GATHER_COL(float);
        ++k;
    }
}

static void fpc_dgather(ptrdiff_t n, const double *X, ptrdiff_t ld, const ptrdiff_t *cols,
                        const ptrdiff_t *dest, ptrdiff_t k0, ptrdiff_t k1, const double *mu,
                        double *out, ptrdiff_t ldo, double *sq)
{
    const ptrdiff_t i0 = 0, i1 = n;
    ptrdiff_t k = k0;
    while (k < k1) {
#if FPC_GATHER_VEC
        if (k + 4 <= k1 && fpc_consecutive(cols, k, 4)) {
            const double *xb = X + cols[k];
            __m256d m4 = _mm256_loadu_pd(mu + cols[k]);
            __m256d A[4], r[4], t[4];
            for (int s = 0; s < 4; ++s) A[s] = _mm256_setzero_pd();
            ptrdiff_t i = i0;
            for (; i + 4 <= i1; i += 4) {
                for (int c = 0; c < 4; ++c) {
                    FPC_PREFETCH_SPAN(xb + (i + FPC_GATHER_AHEAD + c) * ld, 4);
                    r[c] = _mm256_sub_pd(_mm256_loadu_pd(xb + (i + c) * ld), m4);
                    A[c] = _mm256_fmadd_pd(r[c], r[c], A[c]);
                }
                /* 4 x 4 transpose */
                t[0] = _mm256_unpacklo_pd(r[0], r[1]);
                t[1] = _mm256_unpackhi_pd(r[0], r[1]);
                t[2] = _mm256_unpacklo_pd(r[2], r[3]);
                t[3] = _mm256_unpackhi_pd(r[2], r[3]);
                for (int q = 0; q < 2; ++q) {
                    _mm256_storeu_pd(out + dest[k + q] * ldo + i,
                                     _mm256_permute2f128_pd(t[q], t[q + 2], 0x20));
                    _mm256_storeu_pd(out + dest[k + q + 2] * ldo + i,
                                     _mm256_permute2f128_pd(t[q], t[q + 2], 0x31));
                }
            }
            double acc[4][4];
            for (int s = 0; s < 4; ++s) _mm256_storeu_pd(acc[s], A[s]);
            FPC_GATHER_TAIL(double, 4)
            k += 4;
            continue;
        }
#endif
        FPC_GATHER_COL(double);
        ++k;
    }
}

#endif
