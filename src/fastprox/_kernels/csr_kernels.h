/* Row-range micro-kernels for fastprox's CSR products (used by sparse_fast.pyx).
 *
 * Each function computes the outputs of rows [r0, r1) and nothing else, so the
 * caller can split rows across threads; every output is summed in an order
 * that depends only on the matrix, never on the thread count.
 *
 * spmm and sddmm use GCC/Clang vector extensions so that register allocation
 * is explicit: auto-vectorising the same loops kept the accumulator tile on
 * the stack (see docs/design/kernels-csr-vector-extensions.md). The vector
 * width follows the -march of the
 * build (SSE2 / AVX2 / AVX-512). spmv uses AVX-512 masked loads and gathers
 * where available (fault-suppressing, so nothing past a row is ever read).
 * Compilers without these extensions get plain loops.
 */
#ifndef FASTPROX_CSR_KERNELS_H
#define FASTPROX_CSR_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define FPK_VEXT 1
#define FPK_INLINE static inline __attribute__((always_inline))
#define FPK_NOINLINE static __attribute__((noinline))
#define FPK_PREFETCH(p) __builtin_prefetch(p)
#else
#define FPK_VEXT 0
#define FPK_INLINE static inline
#define FPK_PREFETCH(p) ((void)0)
#endif

#if FPK_VEXT && defined(__AVX512F__) && defined(__BMI2__)
#define FPK_AVX512 1
#include <immintrin.h>
#else
#define FPK_AVX512 0
#endif

#if FPK_VEXT
#if defined(__AVX512F__)
#define FPK_VBYTES 64
#elif defined(__AVX__)
#define FPK_VBYTES 32
#else
#define FPK_VBYTES 16
#endif
/* aligned(element) + may_alias: rows of X/U/V start at arbitrary offsets. */
typedef double fpk_vd __attribute__((vector_size(FPK_VBYTES), aligned(8), may_alias));
typedef float fpk_vf __attribute__((vector_size(FPK_VBYTES), aligned(4), may_alias));
/* Integer vectors of the same shape, for bit masks (ReLU in spmm). */
typedef int64_t fpk_vdi __attribute__((vector_size(FPK_VBYTES)));
typedef int32_t fpk_vfi __attribute__((vector_size(FPK_VBYTES)));
#endif

/* Scalar row dot product: 4 independent chains hide the FMA latency. */
#define FPK_ROW_DOT(T, IDX, data, ind, lo, hi, x, res)                                     \
    do {                                                                                   \
        T s0_ = 0, s1_ = 0, s2_ = 0, s3_ = 0;                                              \
        ptrdiff_t k_ = (lo);                                                               \
        for (; k_ + 4 <= (hi); k_ += 4) {                                                  \
            s0_ += (data)[k_] * (x)[(ind)[k_]];                                            \
            s1_ += (data)[k_ + 1] * (x)[(ind)[k_ + 1]];                                    \
            s2_ += (data)[k_ + 2] * (x)[(ind)[k_ + 2]];                                    \
            s3_ += (data)[k_ + 3] * (x)[(ind)[k_ + 3]];                                    \
        }                                                                                  \
        for (; k_ < (hi); ++k_) s0_ += (data)[k_] * (x)[(ind)[k_]];                        \
        (res) = (s0_ + s1_) + (s2_ + s3_);                                                 \
    } while (0)

/* ------------------------------------------------------------------------ */
/* spmv: y[r] = A[r] . x                                                     */
/* ------------------------------------------------------------------------ */
#if FPK_AVX512
/* 16 nonzeros per step: a typical short row is one branch-free step, so the
 * row-length branch of a scalar loop (mispredicted about once per row) goes
 * away. While 16 entries fit before ptr[r1] the loads are plain (indices past
 * the row are still valid columns) and the row mask is applied in the FMA, so
 * inf/NaN outside the row cannot leak in; near the end of the range masked
 * loads/gathers (fault-suppressing) read nothing past it.
 *
 * Costs cut (see docs/design/kernels-csr-vector-extensions.md, 'spmv', and
 * docs/design/kernels-spmv-avx512.md):
 *  - Gathers: x[ind[k]] of a long row is fetched by scalar loads assembled
 *    in registers (vmovsd/vmovhpd/vinsert, vinsertps for float), which beat
 *    vgatherdpd/vgatherdps where the matrix sits in cache. int32 indices are
 *    read two per 64-bit load and split by shifts (half the index loads;
 *    sign-extending loads had made gcc spill the 16 indices of a float step
 *    to vector registers): 0.85x the time on 4096x1024 float32 layers.
 *    Masked gathers remain only near the end of the range, where nothing
 *    past it may be read.
 *  - Short rows: a block of up to FPK_SPMV_NG groups of 8 rows (the first
 *    spanning at most FPK_SPMV_SPAN nonzeros, the block at most
 *    FPK_SPMV_BUF) first makes the products fma(data[k], x[ind[k]], +0) for
 *    its whole span into a stack buffer in full vectors (16 per step,
 *    whatever the row boundaries); then each row's first step (float: two)
 *    is one masked load of its products, which is exactly what its first
 *    FMA into a zero accumulator gives, so the sums are the same bits. A
 *    longer row goes on with the FMAs of fpk_rowacc_* (out of line, rare).
 *    A 10-nonzero row thus fetches about 10 x values instead of 16 and its
 *    values are read once. One product pass per block (not per group) costs
 *    one mispredicted loop exit per 32 rows instead of 8. The float64 pass
 *    also prefetches FPK_SPMV_FAR entries ahead into L2 (T2 hint; T0 that far
 *    ahead fills the L1 miss buffers: 1.2x the time), which keeps more of the
 *    stream's misses in flight than the L1 prefetch alone (float32 gains
 *    nothing from it with huge pages and loses with 4 KiB pages). Together
 *    0.82-0.92x the time on 1e6 x 1e3 1 % (docs/design/kernels-spmv-avx512.md,
 *    'Session 10'). x is fetched 8 values of a step by a gather and 8 by
 *    scalar loads (float64/int32, float32/int64; the gather unit and the
 *    load ports work side by side), by two gathers for float64/int64 (16
 *    scalar index loads a step cost more there) and by scalar loads for
 *    float32/int32. The block code is a function of its own: inlined, it
 *    changed the register allocation of the long-row loop (float32/int32
 *    layers 4-6 % slower).
 *  - Per-row fixed costs: rows are processed in groups of 8 aligned to
 *    absolute row numbers; each row keeps its own accumulator and the 8 are
 *    reduced together by a transposed tree (fpk_red8_pd / fpk_red8_ps) into
 *    one vector of 8 row sums, written with one store. Rows of a group outside
 *    [r0, r1) get a zero accumulator and are masked off the store.
 *  - Long rows (hundreds of nonzeros, pruned layers): two accumulators per
 *    row halve the FMA dependency chain, and the values and indices
 *    FPK_SPMV_AHEAD entries ahead are prefetched (software prefetch in SpMV:
 *    Williams et al., "Optimization of sparse matrix-vector multiplication on
 *    emerging multicore platforms", SC 2007); measured 1.2-2x on 4096^2 at
 *    90 % sparsity, 1.1-1.3x on rows of 10 nonzeros; 256 entries ahead
 *    rather than 128 since the short-row copy (0.91-0.94x the time with
 *    int64 indices or float, same for float64/int32).
 * Row r's sum depends on the row only: double lane i of accumulator 0 sums
 * entries ptr[r]+i, +16, +32, ... and accumulator 1 entries ptr[r]+8+i, +16,
 * ... (FMA, in order), then acc0 + acc1 and the fixed tree over lanes; float:
 * steps of 16 alternate between the two accumulators. Neither depends on r0/r1
 * nor on the path taken (a short-row block or fpk_rowacc_*), so results are
 * identical for any thread split. */
#define FPK_MASK16(n) ((__mmask16)_bzhi_u32(0xffffu, (unsigned)((n) < 16 ? (n) : 16)))
#ifndef FPK_SPMV_AHEAD
#define FPK_SPMV_AHEAD 256
#endif
#define FPK_SPMV_PREFETCH(data, ind, k)                                                    \
    do {                                                                                   \
        _mm_prefetch((const char *)((data) + (k) + FPK_SPMV_AHEAD), _MM_HINT_T0);          \
        if (sizeof(*(data)) == 8)                                                          \
            _mm_prefetch((const char *)((data) + (k) + FPK_SPMV_AHEAD + 8), _MM_HINT_T0);  \
        _mm_prefetch((const char *)((ind) + (k) + FPK_SPMV_AHEAD), _MM_HINT_T0);           \
        if (sizeof(*(ind)) == 8)                                                           \
            _mm_prefetch((const char *)((ind) + (k) + FPK_SPMV_AHEAD + 8), _MM_HINT_T0);   \
    } while (0)

FPK_INLINE __m512d fpk_red8_pd(__m512d a0, __m512d a1, __m512d a2, __m512d a3,
                               __m512d a4, __m512d a5, __m512d a6, __m512d a7)
{
    __m512d t01 = _mm512_add_pd(_mm512_unpacklo_pd(a0, a1), _mm512_unpackhi_pd(a0, a1));
    __m512d t23 = _mm512_add_pd(_mm512_unpacklo_pd(a2, a3), _mm512_unpackhi_pd(a2, a3));
    __m512d t45 = _mm512_add_pd(_mm512_unpacklo_pd(a4, a5), _mm512_unpackhi_pd(a4, a5));
    __m512d t67 = _mm512_add_pd(_mm512_unpacklo_pd(a6, a7), _mm512_unpackhi_pd(a6, a7));
    __m512d u0 = _mm512_add_pd(_mm512_shuffle_f64x2(t01, t23, 0x88), _mm512_shuffle_f64x2(t01, t23, 0xdd));
    __m512d u1 = _mm512_add_pd(_mm512_shuffle_f64x2(t45, t67, 0x88), _mm512_shuffle_f64x2(t45, t67, 0xdd));
    return _mm512_add_pd(_mm512_shuffle_f64x2(u0, u1, 0x88), _mm512_shuffle_f64x2(u0, u1, 0xdd));
}

/* float: fold each 16-lane accumulator to 8 (low + high half), then the
 * classic hadd transpose-reduction of eight 8-lane vectors into 8 sums. */
FPK_INLINE __m256 fpk_fold8_ps(__m512 a)
{
    return _mm256_add_ps(_mm512_castps512_ps256(a),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}
FPK_INLINE __m256 fpk_red8_ps(__m512 a0, __m512 a1, __m512 a2, __m512 a3,
                              __m512 a4, __m512 a5, __m512 a6, __m512 a7)
{
    __m256 s01 = _mm256_hadd_ps(fpk_fold8_ps(a0), fpk_fold8_ps(a1));
    __m256 s23 = _mm256_hadd_ps(fpk_fold8_ps(a2), fpk_fold8_ps(a3));
    __m256 s45 = _mm256_hadd_ps(fpk_fold8_ps(a4), fpk_fold8_ps(a5));
    __m256 s67 = _mm256_hadd_ps(fpk_fold8_ps(a6), fpk_fold8_ps(a7));
    __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                         _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

#define FPK_XLOAD8(x, i)                                                                   \
    _mm512_set_pd((x)[(i)[7]], (x)[(i)[6]], (x)[(i)[5]], (x)[(i)[4]],                      \
                  (x)[(i)[3]], (x)[(i)[2]], (x)[(i)[1]], (x)[(i)[0]])
/* int32 indices (validated non-negative) two per 64-bit load, see 'Gathers' above. */
FPK_INLINE uint64_t fpk_ld64(const int32_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
#define FPK_X2(x, q) (x)[(uint32_t)(q)], (x)[(q) >> 32]
FPK_INLINE __m512 fpk_xload16f_u(const float *x, const int32_t *i)
{
    uint64_t q0 = fpk_ld64(i), q1 = fpk_ld64(i + 2), q2 = fpk_ld64(i + 4), q3 = fpk_ld64(i + 6);
    __m128 v0 = _mm_setr_ps(FPK_X2(x, q0), FPK_X2(x, q1));
    __m128 v1 = _mm_setr_ps(FPK_X2(x, q2), FPK_X2(x, q3));
    uint64_t q4 = fpk_ld64(i + 8), q5 = fpk_ld64(i + 10);
    uint64_t q6 = fpk_ld64(i + 12), q7 = fpk_ld64(i + 14);
    __m128 v2 = _mm_setr_ps(FPK_X2(x, q4), FPK_X2(x, q5));
    __m128 v3 = _mm_setr_ps(FPK_X2(x, q6), FPK_X2(x, q7));
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set_m128(v1, v0)),
                              _mm256_set_m128(v3, v2), 1);
}
FPK_INLINE __m512d fpk_xload8_u(const double *x, const int32_t *i)
{
    uint64_t q0 = fpk_ld64(i), q1 = fpk_ld64(i + 2), q2 = fpk_ld64(i + 4), q3 = fpk_ld64(i + 6);
    return _mm512_set_pd(x[q3 >> 32], x[(uint32_t)q3], x[q2 >> 32], x[(uint32_t)q2],
                         x[q1 >> 32], x[(uint32_t)q1], x[q0 >> 32], x[(uint32_t)q0]);
}
#define FPK_XLOAD8_I(x, i)                                                                 \
    (sizeof(*(i)) == 4 ? fpk_xload8_u(x, (const int32_t *)(i)) : FPK_XLOAD8(x, i))
#define FPK_XLOAD16F_U(x, i) fpk_xload16f_u(x, (const int32_t *)(i))
#define FPK_XLOAD16F_I(x, i) (sizeof(*(i)) == 4 ? FPK_XLOAD16F_U(x, i) : FPK_XLOAD16F(x, i))
#define FPK_XLOAD16F(x, i)                                                                 \
    _mm512_set_ps((x)[(i)[15]], (x)[(i)[14]], (x)[(i)[13]], (x)[(i)[12]], (x)[(i)[11]],    \
                  (x)[(i)[10]], (x)[(i)[9]], (x)[(i)[8]], (x)[(i)[7]], (x)[(i)[6]],        \
                  (x)[(i)[5]], (x)[(i)[4]], (x)[(i)[3]], (x)[(i)[2]], (x)[(i)[1]], (x)[(i)[0]])

/* Masked (fault-suppressing) index loads + gathers for the last steps of a range. */
FPK_INLINE void fpk_tail_gather_i32(const int32_t *ind, const double *x, __mmask16 m,
                                    __m512d *x0, __m512d *x1)
{
    __m512i iv = _mm512_maskz_loadu_epi32(m, ind);
    *x0 = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), (__mmask8)m, _mm512_castsi512_si256(iv), x, 8);
    *x1 = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), (__mmask8)(m >> 8),
                                   _mm512_extracti64x4_epi64(iv, 1), x, 8);
}
FPK_INLINE void fpk_tail_gather_i64(const int64_t *ind, const double *x, __mmask16 m,
                                    __m512d *x0, __m512d *x1)
{
    __m512i i0 = _mm512_maskz_loadu_epi64((__mmask8)m, ind);
    __m512i i1 = _mm512_maskz_loadu_epi64((__mmask8)(m >> 8), ind + 8);
    *x0 = _mm512_mask_i64gather_pd(_mm512_setzero_pd(), (__mmask8)m, i0, x, 8);
    *x1 = _mm512_mask_i64gather_pd(_mm512_setzero_pd(), (__mmask8)(m >> 8), i1, x, 8);
}
FPK_INLINE __m512 fpk_tail_gather_f_i32(const int32_t *ind, const float *x, __mmask16 m)
{
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, ind),
                                    x, 4);
}
FPK_INLINE __m512 fpk_tail_gather_f_i64(const int64_t *ind, const float *x, __mmask16 m)
{
    __m512i i0 = _mm512_maskz_loadu_epi64((__mmask8)m, ind);
    __m512i i1 = _mm512_maskz_loadu_epi64((__mmask8)(m >> 8), ind + 8);
    __m256 x0 = _mm512_mask_i64gather_ps(_mm256_setzero_ps(), (__mmask8)m, i0, x, 4);
    __m256 x1 = _mm512_mask_i64gather_ps(_mm256_setzero_ps(), (__mmask8)(m >> 8), i1, x, 4);
    return _mm512_insertf32x8(_mm512_castps256_ps512(x0), x1, 1);
}

/* One row's accumulator (the sum of two), 16 entries per branch-free step;
 * NAME##_cont continues a row from entry k with the accumulators given. */
#define FPK_DEFINE_ROWACC_D(NAME, IDX, TAIL)                                               \
FPK_INLINE __m512d NAME##_cont(const double *data, const IDX *ind, ptrdiff_t k,           \
                               ptrdiff_t hi, ptrdiff_t end, const double *x,               \
                               __m512d acc0, __m512d acc1)                                 \
{                                                                                          \
    do {                                                                                   \
        __mmask16 m = FPK_MASK16(hi - k);                                                  \
        __m512d d0, d1, x0, x1;                                                            \
        FPK_SPMV_PREFETCH(data, ind, k);                                                   \
        if (__builtin_expect(k + 16 <= end, 1)) {                                          \
            d0 = _mm512_loadu_pd(data + k);                                                \
            d1 = _mm512_loadu_pd(data + k + 8);                                            \
            x0 = FPK_XLOAD8_I(x, ind + k);                                                 \
            x1 = FPK_XLOAD8_I(x, ind + k + 8);                                             \
        } else {                                                                           \
            d0 = _mm512_maskz_loadu_pd((__mmask8)m, data + k);                             \
            d1 = _mm512_maskz_loadu_pd((__mmask8)(m >> 8), data + k + 8);                  \
            TAIL(ind + k, x, m, &x0, &x1);                                                 \
        }                                                                                  \
        acc0 = _mm512_mask3_fmadd_pd(d0, x0, acc0, (__mmask8)m);                           \
        acc1 = _mm512_mask3_fmadd_pd(d1, x1, acc1, (__mmask8)(m >> 8));                    \
        k += 16;                                                                           \
    } while (k < hi);                                                                      \
    return _mm512_add_pd(acc0, acc1);                                                      \
}                                                                                          \
FPK_NOINLINE __m512d NAME##_more(const double *data, const IDX *ind,                       \
    ptrdiff_t k, ptrdiff_t hi, ptrdiff_t end, const double *x, __m512d acc0, __m512d acc1) \
{                                                                                          \
    return NAME##_cont(data, ind, k, hi, end, x, acc0, acc1);                              \
}                                                                                          \
FPK_INLINE __m512d NAME(const double *data, const IDX *ind, ptrdiff_t k, ptrdiff_t hi,    \
                        ptrdiff_t end, const double *x)                                    \
{                                                                                          \
    return NAME##_cont(data, ind, k, hi, end, x, _mm512_setzero_pd(), _mm512_setzero_pd()); \
}
FPK_DEFINE_ROWACC_D(fpk_rowacc_d_i32, int32_t, fpk_tail_gather_i32)
FPK_DEFINE_ROWACC_D(fpk_rowacc_d_i64, int64_t, fpk_tail_gather_i64)

/* float: one step of 16 fills one vector; steps alternate accumulators. */
#define FPK_ROWACC_F_STEP(acc, TAIL)                                                       \
    do {                                                                                   \
        __mmask16 m = FPK_MASK16(hi - k);                                                  \
        __m512 d, xv;                                                                      \
        FPK_SPMV_PREFETCH(data, ind, k);                                                   \
        if (__builtin_expect(k + 16 <= end, 1)) {                                          \
            d = _mm512_loadu_ps(data + k);                                                 \
            xv = FPK_XLOAD16F_I(x, ind + k);                                               \
        } else {                                                                           \
            d = _mm512_maskz_loadu_ps(m, data + k);                                        \
            xv = TAIL(ind + k, x, m);                                                      \
        }                                                                                  \
        acc = _mm512_mask3_fmadd_ps(d, xv, acc, m);                                        \
        k += 16;                                                                           \
    } while (0)
#define FPK_DEFINE_ROWACC_F(NAME, IDX, TAIL)                                               \
FPK_INLINE __m512 NAME##_cont(const float *data, const IDX *ind, ptrdiff_t k,             \
                              ptrdiff_t hi, ptrdiff_t end, const float *x,                 \
                              __m512 acc0, __m512 acc1)                                    \
{                                                                                          \
    for (;;) {                                                                             \
        FPK_ROWACC_F_STEP(acc0, TAIL);                                                     \
        if (k >= hi) break;                                                                \
        FPK_ROWACC_F_STEP(acc1, TAIL);                                                     \
        if (k >= hi) break;                                                                \
    }                                                                                      \
    return _mm512_add_ps(acc0, acc1);                                                      \
}                                                                                          \
FPK_NOINLINE __m512 NAME##_more(const float *data, const IDX *ind,                         \
    ptrdiff_t k, ptrdiff_t hi, ptrdiff_t end, const float *x, __m512 acc0, __m512 acc1)    \
{                                                                                          \
    return NAME##_cont(data, ind, k, hi, end, x, acc0, acc1);                              \
}                                                                                          \
FPK_INLINE __m512 NAME(const float *data, const IDX *ind, ptrdiff_t k, ptrdiff_t hi,      \
                       ptrdiff_t end, const float *x)                                      \
{                                                                                          \
    return NAME##_cont(data, ind, k, hi, end, x, _mm512_setzero_ps(), _mm512_setzero_ps()); \
}
FPK_DEFINE_ROWACC_F(fpk_rowacc_f_i32, int32_t, fpk_tail_gather_f_i32)
FPK_DEFINE_ROWACC_F(fpk_rowacc_f_i64, int64_t, fpk_tail_gather_f_i64)

/* Short-row blocks (see 'Short rows' above): pb[i] = fma(data[lo + i],
 * x[ind[lo + i]], +0) for the span [lo, hi) of a block, in steps of 16 (the
 * last step may run past hi, never past end). Each product is exactly what
 * the first FMA of a row's lane computes from a zero accumulator (the
 * rounding, and the sign of a zero), so the sums are the same bits as
 * fpk_rowacc_*. */
#ifndef FPK_SPMV_SPAN
#define FPK_SPMV_SPAN 256 /* a block starts at a group of 8 rows of at most this span */
#endif
#ifndef FPK_SPMV_BUF
#define FPK_SPMV_BUF 512 /* and takes up to FPK_SPMV_NG groups whose span fits this */
#endif
#ifndef FPK_SPMV_NG
#define FPK_SPMV_NG 4
#endif
#ifndef FPK_SPMV_FAR
#define FPK_SPMV_FAR 2048 /* entries ahead of the float64 product pass, into L2 */
#endif
#define FPK_SPMV_PREFETCH_FAR(data, ind, k)                                                \
    do {                                                                                   \
        _mm_prefetch((const char *)((data) + (k) + FPK_SPMV_FAR), _MM_HINT_T2);            \
        if (sizeof(*(data)) == 8)                                                          \
            _mm_prefetch((const char *)((data) + (k) + FPK_SPMV_FAR + 8), _MM_HINT_T2);    \
        _mm_prefetch((const char *)((ind) + (k) + FPK_SPMV_FAR), _MM_HINT_T2);             \
        if (sizeof(*(ind)) == 8)                                                           \
            _mm_prefetch((const char *)((ind) + (k) + FPK_SPMV_FAR + 8), _MM_HINT_T2);     \
    } while (0)
/* Half by a gather, half by scalar loads: the gather unit and the load ports
 * work side by side (float64/int32, float32/int64: 0.84-0.92x the time of
 * two gathers on 1e6 x 1e3 1 %, see docs/design/kernels-spmv-avx512.md,
 * 'Session 9'). */
FPK_INLINE void fpk_gather_d_i32(const int32_t *ind, const double *x, __m512d *x0, __m512d *x1)
{
    *x0 = _mm512_i32gather_pd(_mm256_loadu_si256((const __m256i *)ind), x, 8);
    *x1 = fpk_xload8_u(x, ind + 8);
}
FPK_INLINE void fpk_gather_d_i64(const int64_t *ind, const double *x, __m512d *x0, __m512d *x1)
{
    *x0 = _mm512_i64gather_pd(_mm512_loadu_si512(ind), x, 8);
    *x1 = _mm512_i64gather_pd(_mm512_loadu_si512(ind + 8), x, 8);
}
FPK_INLINE __m512 fpk_gather_f_i64(const int64_t *ind, const float *x)
{
    const int64_t *i = ind + 8;
    __m256 x0 = _mm512_i64gather_ps(_mm512_loadu_si512(ind), x, 4);
    __m256 x1 = _mm256_set_ps(x[i[7]], x[i[6]], x[i[5]], x[i[4]],
                              x[i[3]], x[i[2]], x[i[1]], x[i[0]]);
    return _mm512_insertf32x8(_mm512_castps256_ps512(x0), x1, 1);
}
FPK_INLINE __m512 fpk_xload_f_i32(const int32_t *ind, const float *x)
{
    return FPK_XLOAD16F_U(x, ind);
}
#define FPK_DEFINE_FILL_D(NAME, IDX, FULL, TAIL)                                           \
FPK_INLINE void NAME(const double *data, const IDX *ind, ptrdiff_t k, ptrdiff_t hi,        \
                     ptrdiff_t end, const double *x, double *pb)                           \
{                                                                                          \
    const __m512d z = _mm512_setzero_pd();                                                 \
    for (; k < hi; k += 16, pb += 16) {                                                    \
        __m512d d0, d1, x0, x1;                                                            \
        FPK_SPMV_PREFETCH(data, ind, k);                                                   \
        FPK_SPMV_PREFETCH_FAR(data, ind, k);                                               \
        if (__builtin_expect(k + 16 <= end, 1)) {                                          \
            d0 = _mm512_loadu_pd(data + k);                                                \
            d1 = _mm512_loadu_pd(data + k + 8);                                            \
            FULL(ind + k, x, &x0, &x1);                                                    \
        } else {                                                                           \
            __mmask16 m = FPK_MASK16(end - k);                                             \
            d0 = _mm512_maskz_loadu_pd((__mmask8)m, data + k);                             \
            d1 = _mm512_maskz_loadu_pd((__mmask8)(m >> 8), data + k + 8);                  \
            TAIL(ind + k, x, m, &x0, &x1);                                                 \
        }                                                                                  \
        _mm512_storeu_pd(pb, _mm512_fmadd_pd(d0, x0, z));                                  \
        _mm512_storeu_pd(pb + 8, _mm512_fmadd_pd(d1, x1, z));                              \
    }                                                                                      \
}
FPK_DEFINE_FILL_D(fpk_fill_d_i32, int32_t, fpk_gather_d_i32, fpk_tail_gather_i32)
FPK_DEFINE_FILL_D(fpk_fill_d_i64, int64_t, fpk_gather_d_i64, fpk_tail_gather_i64)
#define FPK_DEFINE_FILL_F(NAME, IDX, FULL, TAIL)                                           \
FPK_INLINE void NAME(const float *data, const IDX *ind, ptrdiff_t k, ptrdiff_t hi,         \
                     ptrdiff_t end, const float *x, float *pb)                             \
{                                                                                          \
    const __m512 z = _mm512_setzero_ps();                                                  \
    for (; k < hi; k += 16, pb += 16) {                                                    \
        __m512 d, xv;                                                                      \
        FPK_SPMV_PREFETCH(data, ind, k);                                                   \
        if (__builtin_expect(k + 16 <= end, 1)) {                                          \
            d = _mm512_loadu_ps(data + k);                                                 \
            xv = FULL(ind + k, x);                                                         \
        } else {                                                                           \
            __mmask16 m = FPK_MASK16(end - k);                                             \
            d = _mm512_maskz_loadu_ps(m, data + k);                                        \
            xv = TAIL(ind + k, x, m);                                                      \
        }                                                                                  \
        _mm512_storeu_ps(pb, _mm512_fmadd_ps(d, xv, z));                                   \
    }                                                                                      \
}
FPK_DEFINE_FILL_F(fpk_fill_f_i32, int32_t, fpk_xload_f_i32, fpk_tail_gather_f_i32)
FPK_DEFINE_FILL_F(fpk_fill_f_i64, int64_t, fpk_gather_f_i64, fpk_tail_gather_f_i64)

/* fpk_rowacc_* of a row whose products start at pb: the first step (float:
 * two) is a masked load of the products, the rest of a longer row continues
 * with FMAs as fpk_rowacc_* (the same lanes, the same order). */
#define FPK_DEFINE_ROWBUF_D(NAME, IDX, ROWACC)                                             \
FPK_INLINE __m512d NAME(const double *data, const IDX *ind, const double *pb, ptrdiff_t k, \
                        ptrdiff_t hi, ptrdiff_t end, const double *x)                      \
{                                                                                          \
    const __mmask16 m = FPK_MASK16(hi - k);                                                \
    __m512d acc0 = _mm512_maskz_loadu_pd((__mmask8)m, pb);                                 \
    __m512d acc1 = _mm512_maskz_loadu_pd((__mmask8)(m >> 8), pb + 8);                      \
    if (__builtin_expect(hi - k > 16, 0))                                                  \
        return ROWACC##_more(data, ind, k + 16, hi, end, x, acc0, acc1);                   \
    return _mm512_add_pd(acc0, acc1);                                                      \
}
FPK_DEFINE_ROWBUF_D(fpk_rowbuf_d_i32, int32_t, fpk_rowacc_d_i32)
FPK_DEFINE_ROWBUF_D(fpk_rowbuf_d_i64, int64_t, fpk_rowacc_d_i64)
#define FPK_DEFINE_ROWBUF_F(NAME, IDX, ROWACC)                                             \
FPK_INLINE __m512 NAME(const float *data, const IDX *ind, const float *pb, ptrdiff_t k,    \
                       ptrdiff_t hi, ptrdiff_t end, const float *x)                        \
{                                                                                          \
    const ptrdiff_t n = hi - k;                                                            \
    __m512 acc0 = _mm512_maskz_loadu_ps(FPK_MASK16(n), pb);                                \
    __m512 acc1 = _mm512_maskz_loadu_ps(FPK_MASK16(n > 16 ? n - 16 : 0), pb + 16);         \
    if (__builtin_expect(n > 32, 0))                                                       \
        return ROWACC##_more(data, ind, k + 32, hi, end, x, acc0, acc1);                   \
    return _mm512_add_ps(acc0, acc1);                                                      \
}
FPK_DEFINE_ROWBUF_F(fpk_rowbuf_f_i32, int32_t, fpk_rowacc_f_i32)
FPK_DEFINE_ROWBUF_F(fpk_rowbuf_f_i64, int64_t, fpk_rowacc_f_i64)

/* Rows [r0, r1) in groups of 8 aligned to absolute row numbers. A block
 * starts at a full group of span <= FPK_SPMV_SPAN and takes the next full
 * groups (up to FPK_SPMV_NG in all) while its span fits FPK_SPMV_BUF; its
 * products are made in one pass, then its rows are summed from them. Other
 * groups run fpk_rowacc_*, rows outside [r0, r1) masked off the store. */
#define FPK_DEFINE_SPMV(NAME, T, IDX, VACC, ROWACC, ZERO, RED8, STORE, FILL, ROWBUF)       \
FPK_NOINLINE void NAME##_block(const T *data, const IDX *ind, const IDX *ptr, const T *x,  \
                               T *y, ptrdiff_t g, ptrdiff_t e, ptrdiff_t end)              \
{                                                                                          \
    /* + 32: the last row's two float steps (lanes past the span, masked off) */           \
    T pb[FPK_SPMV_BUF + 32] __attribute__((aligned(64)));                                  \
    const ptrdiff_t base = ptr[g];                                                         \
    FILL(data, ind, base, ptr[e], end, x, pb);                                             \
    for (; g < e; g += 8) {                                                                \
        VACC a[8];                                                                         \
        _Pragma("GCC unroll 8")                                                            \
        for (int j = 0; j < 8; ++j)                                                        \
            a[j] = ROWBUF(data, ind, pb + (ptr[g + j] - base), ptr[g + j], ptr[g + j + 1], \
                          end, x);                                                         \
        STORE(y + g, 0xff, RED8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));          \
    }                                                                                      \
}                                                                                          \
static void NAME(const T *data, const IDX *ind, const IDX *ptr, const T *x,                \
                 T *y, ptrdiff_t r0, ptrdiff_t r1)                                         \
{                                                                                          \
    if (r1 <= r0) return;                                                                  \
    const ptrdiff_t end = ptr[r1];                                                         \
    for (ptrdiff_t g = r0 & ~(ptrdiff_t)7; g < r1; g += 8) {                               \
        VACC a[8];                                                                         \
        __mmask8 sm = 0xff;                                                                \
        if (__builtin_expect(g >= r0 && g + 8 <= r1, 1)) {                                 \
            const ptrdiff_t lo = ptr[g];                                                   \
            if (__builtin_expect(ptr[g + 8] - lo <= FPK_SPMV_SPAN, 1)) {                   \
                ptrdiff_t e = g + 8;                                                       \
                while (e < g + 8 * FPK_SPMV_NG && e + 8 <= r1 &&                           \
                       ptr[e + 8] - lo <= FPK_SPMV_BUF)                                    \
                    e += 8;                                                                \
                NAME##_block(data, ind, ptr, x, y, g, e, end);                             \
                g = e - 8;                                                                 \
                continue;                                                                  \
            }                                                                              \
            _Pragma("GCC unroll 8")                                                        \
            for (int j = 0; j < 8; ++j)                                                    \
                a[j] = ROWACC(data, ind, ptr[g + j], ptr[g + j + 1], end, x);              \
        } else {                                                                           \
            sm = 0;                                                                        \
            for (int j = 0; j < 8; ++j) {                                                  \
                ptrdiff_t r = g + j;                                                       \
                if (r >= r0 && r < r1) {                                                   \
                    a[j] = ROWACC(data, ind, ptr[r], ptr[r + 1], end, x);                  \
                    sm |= (__mmask8)(1u << j);                                             \
                } else {                                                                   \
                    a[j] = ZERO();                                                         \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        STORE(y + g, sm, RED8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));            \
    }                                                                                      \
}
FPK_DEFINE_SPMV(fpk_spmv_d_i32, double, int32_t, __m512d, fpk_rowacc_d_i32, _mm512_setzero_pd,
                fpk_red8_pd, _mm512_mask_storeu_pd, fpk_fill_d_i32, fpk_rowbuf_d_i32)
FPK_DEFINE_SPMV(fpk_spmv_d_i64, double, int64_t, __m512d, fpk_rowacc_d_i64, _mm512_setzero_pd,
                fpk_red8_pd, _mm512_mask_storeu_pd, fpk_fill_d_i64, fpk_rowbuf_d_i64)
FPK_DEFINE_SPMV(fpk_spmv_f_i32, float, int32_t, __m512, fpk_rowacc_f_i32, _mm512_setzero_ps,
                fpk_red8_ps, _mm256_mask_storeu_ps, fpk_fill_f_i32, fpk_rowbuf_f_i32)
FPK_DEFINE_SPMV(fpk_spmv_f_i64, float, int64_t, __m512, fpk_rowacc_f_i64, _mm512_setzero_ps,
                fpk_red8_ps, _mm256_mask_storeu_ps, fpk_fill_f_i64, fpk_rowbuf_f_i64)
#else
#define FPK_DEFINE_SPMV_SCALAR(NAME, T, IDX)                                               \
static void NAME(const T *data, const IDX *ind, const IDX *ptr, const T *x, T *y,          \
                 ptrdiff_t r0, ptrdiff_t r1)                                               \
{                                                                                          \
    for (ptrdiff_t r = r0; r < r1; ++r) FPK_ROW_DOT(T, IDX, data, ind, ptr[r], ptr[r + 1], x, y[r]); \
}
FPK_DEFINE_SPMV_SCALAR(fpk_spmv_d_i32, double, int32_t)
FPK_DEFINE_SPMV_SCALAR(fpk_spmv_d_i64, double, int64_t)
FPK_DEFINE_SPMV_SCALAR(fpk_spmv_f_i32, float, int32_t)
FPK_DEFINE_SPMV_SCALAR(fpk_spmv_f_i64, float, int64_t)
#endif

/* ------------------------------------------------------------------------ */
/* spmm: Y[r, :] = sum_k A[r, ind[k]] * X[ind[k], :]                         */
/* A tile of NV accumulator vectors of Y[r] stays in registers across the    */
/* nonzeros of row r; tiles are the outer loop so the (n x tile) strip of X  */
/* stays in L2 across rows. The X row FPK_PF nonzeros ahead is prefetched    */
/* (random rows defeat the hardware prefetcher).                             */
/* ------------------------------------------------------------------------ */
#ifndef FPK_PF
#define FPK_PF 4
#endif
#define FPK_NACC 8

#if FPK_VEXT
#define FPK_DEFINE_SPMM(NAME, T, V, IV, IDX)                                               \
FPK_INLINE void NAME##_tile(const T *data, const IDX *ind, ptrdiff_t lo, ptrdiff_t hi,     \
                            const T *X, ptrdiff_t ldx, T *y, const int nv, T b0,           \
                            int relu)                                                      \
{                                                                                          \
    V acc[FPK_NACC];                                                                       \
    for (int q = 0; q < nv; ++q) acc[q] = (V){0} + b0;                                     \
    for (ptrdiff_t k = lo; k < hi; ++k) {                                                  \
        const V *xr = (const V *)(X + (ptrdiff_t)ind[k] * ldx);                            \
        if (k + FPK_PF < hi) {                                                             \
            const char *p = (const char *)(X + (ptrdiff_t)ind[k + FPK_PF] * ldx);          \
            for (int c = 0; c < nv * (int)sizeof(V); c += 64) FPK_PREFETCH(p + c);         \
        }                                                                                  \
        V a = (V){0} + data[k];                                                            \
        for (int q = 0; q < nv; ++q) acc[q] += a * xr[q];                                  \
    }                                                                                      \
    if (relu) /* zero the negative lanes; NaN is not < 0, so it stays visible */          \
        for (int q = 0; q < nv; ++q) acc[q] = (V)((IV)acc[q] & ~(IV)(acc[q] < (V){0}));   \
    for (int q = 0; q < nv; ++q) ((V *)y)[q] = acc[q];                                     \
}                                                                                          \
static void NAME(const T *data, const IDX *ind, const IDX *ptr, const T *X, T *Y,          \
                 ptrdiff_t b, ptrdiff_t r0, ptrdiff_t r1, const T *bias, int relu)        \
{                                                                                          \
    const ptrdiff_t vl = (ptrdiff_t)(sizeof(V) / sizeof(T));                               \
    ptrdiff_t t0 = 0, r;                                                                   \
    for (; t0 + FPK_NACC * vl <= b; t0 += FPK_NACC * vl)                                   \
        for (r = r0; r < r1; ++r)                                                          \
            NAME##_tile(data, ind, ptr[r], ptr[r + 1], X + t0, b, Y + r * b + t0, FPK_NACC, FPK_B(r), relu); \
    if (t0 + 4 * vl <= b) {                                                                \
        for (r = r0; r < r1; ++r)                                                          \
            NAME##_tile(data, ind, ptr[r], ptr[r + 1], X + t0, b, Y + r * b + t0, 4, FPK_B(r), relu);      \
        t0 += 4 * vl;                                                                      \
    }                                                                                      \
    if (t0 + 2 * vl <= b) {                                                                \
        for (r = r0; r < r1; ++r)                                                          \
            NAME##_tile(data, ind, ptr[r], ptr[r + 1], X + t0, b, Y + r * b + t0, 2, FPK_B(r), relu);      \
        t0 += 2 * vl;                                                                      \
    }                                                                                      \
    if (t0 + vl <= b) {                                                                    \
        for (r = r0; r < r1; ++r)                                                          \
            NAME##_tile(data, ind, ptr[r], ptr[r + 1], X + t0, b, Y + r * b + t0, 1, FPK_B(r), relu);      \
        t0 += vl;                                                                          \
    }                                                                                      \
    if (t0 < b) FPK_SPMM_SCALAR(T, IDX, data, ind, ptr, X, Y, b, t0, r0, r1, bias, relu);  \
}
#else
#define FPK_DEFINE_SPMM(NAME, T, V, IV, IDX)                                               \
static void NAME(const T *data, const IDX *ind, const IDX *ptr, const T *X, T *Y,          \
                 ptrdiff_t b, ptrdiff_t r0, ptrdiff_t r1, const T *bias, int relu)        \
{                                                                                          \
    FPK_SPMM_SCALAR(T, IDX, data, ind, ptr, X, Y, b, 0, r0, r1, bias, relu);               \
}
#endif

/* Columns [t0, b) one row at a time, summed in the same nonzero order. */
#define FPK_SPMM_SCALAR(T, IDX, data, ind, ptr, X, Y, b, t0, r0, r1, bias, relu)          \
    do {                                                                                   \
        for (ptrdiff_t r_ = (r0); r_ < (r1); ++r_) {                                       \
            T *y_ = (Y) + r_ * (b);                                                        \
            const T b_ = (bias) ? (bias)[r_] : (T)0;                                       \
            for (ptrdiff_t j_ = (t0); j_ < (b); ++j_) y_[j_] = b_;                         \
            for (ptrdiff_t k_ = (ptr)[r_]; k_ < (ptr)[r_ + 1]; ++k_) {                     \
                const T a_ = (data)[k_];                                                   \
                const T *x_ = (X) + (ptrdiff_t)(ind)[k_] * (b);                            \
                for (ptrdiff_t j_ = (t0); j_ < (b); ++j_) y_[j_] += a_ * x_[j_];           \
            }                                                                              \
            if (relu)                                                                      \
                for (ptrdiff_t j_ = (t0); j_ < (b); ++j_) if (y_[j_] < 0) y_[j_] = 0;      \
        }                                                                                  \
    } while (0)

/* Bias of row r, or 0 without one (each output starts from its bias). */
#define FPK_B(r) (bias ? bias[(r)] : 0)

#if FPK_VEXT
FPK_DEFINE_SPMM(fpk_spmm_d_i32, double, fpk_vd, fpk_vdi, int32_t)
FPK_DEFINE_SPMM(fpk_spmm_d_i64, double, fpk_vd, fpk_vdi, int64_t)
FPK_DEFINE_SPMM(fpk_spmm_f_i32, float, fpk_vf, fpk_vfi, int32_t)
FPK_DEFINE_SPMM(fpk_spmm_f_i64, float, fpk_vf, fpk_vfi, int64_t)
#else
FPK_DEFINE_SPMM(fpk_spmm_d_i32, double, void, void, int32_t)
FPK_DEFINE_SPMM(fpk_spmm_d_i64, double, void, void, int64_t)
FPK_DEFINE_SPMM(fpk_spmm_f_i32, float, void, void, int32_t)
FPK_DEFINE_SPMM(fpk_spmm_f_i64, float, void, void, int64_t)
#endif

/* ------------------------------------------------------------------------ */
/* sddmm: out[k] = U[r] . V[ind[k]] for the nonzeros k of row r              */
/* Four nonzeros share each load of U[r]; each dot keeps two accumulator     */
/* vectors (8 chains in all hide the FMA latency). Horizontal sums and the   */
/* scalar tail are combined in a fixed order.                                */
/* ------------------------------------------------------------------------ */
#if FPK_VEXT
/* Four horizontal sums at once (c[q] -> res[q]), each a fixed pairwise tree. */
#if FPK_AVX512
FPK_INLINE void fpk_hsum4_d(const fpk_vd *c, double *res)
{
    __m512d c0 = (__m512d)c[0], c1 = (__m512d)c[1], c2 = (__m512d)c[2], c3 = (__m512d)c[3];
    __m512d x01 = _mm512_add_pd(_mm512_shuffle_f64x2(c0, c1, 0x44), _mm512_shuffle_f64x2(c0, c1, 0xEE));
    __m512d x23 = _mm512_add_pd(_mm512_shuffle_f64x2(c2, c3, 0x44), _mm512_shuffle_f64x2(c2, c3, 0xEE));
    __m512d y = _mm512_add_pd(_mm512_shuffle_f64x2(x01, x23, 0x88),
                              _mm512_shuffle_f64x2(x01, x23, 0xDD));
    __m512d z = _mm512_add_pd(y, _mm512_permute_pd(y, 0x55));
    __m512d w = _mm512_permutexvar_pd(_mm512_set_epi64(6, 4, 2, 0, 6, 4, 2, 0), z);
    _mm256_storeu_pd(res, _mm512_castpd512_pd256(w));
}
FPK_INLINE void fpk_hsum4_f(const fpk_vf *c, float *res)
{
    __m512 c0 = (__m512)c[0], c1 = (__m512)c[1], c2 = (__m512)c[2], c3 = (__m512)c[3];
    __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(c0, c1, 0x44), _mm512_shuffle_f32x4(c0, c1, 0xEE));
    __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(c2, c3, 0x44), _mm512_shuffle_f32x4(c2, c3, 0xEE));
    __m512 y = _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, 0x88),
                             _mm512_shuffle_f32x4(x01, x23, 0xDD));
    __m512 z = _mm512_add_ps(y, _mm512_permute_ps(y, 0xB1));
    __m512 w = _mm512_add_ps(z, _mm512_permute_ps(z, 0x4E));
    __m512 v = _mm512_permutexvar_ps(_mm512_set_epi32(12, 8, 4, 0, 12, 8, 4, 0, 12, 8, 4, 0,
                                                      12, 8, 4, 0), w);
    _mm_storeu_ps(res, _mm512_castps512_ps128(v));
}
#else
#define FPK_DEFINE_HSUM4(NAME, T, V)                                                       \
FPK_INLINE void NAME(const V *c, T *res)                                                   \
{                                                                                          \
    /* pairwise tree over the lanes; memcpy keeps gcc from lane inserts */                 \
    T buf[sizeof(V) / sizeof(T)];                                                          \
    for (int i = 0; i < 4; ++i) {                                                          \
        memcpy(buf, &c[i], sizeof(V));                                                     \
        for (int w = (int)(sizeof(V) / sizeof(T)) / 2; w >= 1; w /= 2)                     \
            for (int q = 0; q < w; ++q) buf[q] = buf[q] + buf[q + w];                      \
        res[i] = buf[0];                                                                   \
    }                                                                                      \
}
FPK_DEFINE_HSUM4(fpk_hsum4_d, double, fpk_vd)
FPK_DEFINE_HSUM4(fpk_hsum4_f, float, fpk_vf)
#endif
#endif

#if FPK_VEXT
#define FPK_DEFINE_SDDMM(NAME, T, V, IDX, HSUM4)                                           \
FPK_INLINE T NAME##_hsum(V v)                                                              \
{                                                                                          \
    /* pairwise tree over the lanes; memcpy keeps gcc from lane inserts */                 \
    T buf[sizeof(V) / sizeof(T)];                                                          \
    memcpy(buf, &v, sizeof(V));                                                            \
    for (int w = (int)(sizeof(V) / sizeof(T)) / 2; w >= 1; w /= 2)                         \
        for (int q = 0; q < w; ++q) buf[q] = buf[q] + buf[q + w];                          \
    return buf[0];                                                                         \
}                                                                                          \
FPK_INLINE void NAME##_dots(const T *u, const T *const *vr, const T *const *pf, ptrdiff_t d, \
                            T *res, const int nd)                                          \
{                                                                                          \
    const ptrdiff_t vl = (ptrdiff_t)(sizeof(V) / sizeof(T));                               \
    V a[4], b[4];                                                                          \
    T s[4];                                                                                \
    ptrdiff_t p = 0;                                                                       \
    for (int q = 0; q < nd; ++q) { a[q] = (V){0}; b[q] = (V){0}; s[q] = 0; }               \
    for (; p + 2 * vl <= d; p += 2 * vl) {                                                 \
        V u0 = *(const V *)(u + p), u1 = *(const V *)(u + p + vl);                         \
        for (int q = 0; q < 4; ++q)                                                        \
            for (int c = 0; c < 2 * (int)sizeof(V); c += 64)                               \
                FPK_PREFETCH((const char *)(pf[q] + p) + c);                               \
        for (int q = 0; q < nd; ++q) {                                                     \
            a[q] += u0 * *(const V *)(vr[q] + p);                                          \
            b[q] += u1 * *(const V *)(vr[q] + p + vl);                                     \
        }                                                                                  \
    }                                                                                      \
    if (p + vl <= d) {                                                                     \
        V u0 = *(const V *)(u + p);                                                        \
        for (int q = 0; q < nd; ++q) a[q] += u0 * *(const V *)(vr[q] + p);                 \
        p += vl;                                                                           \
    }                                                                                      \
    for (; p < d; ++p)                                                                     \
        for (int q = 0; q < nd; ++q) s[q] += u[p] * vr[q][p];                              \
    if (nd == 4) {                                                                         \
        T h[4];                                                                            \
        for (int q = 0; q < 4; ++q) a[q] += b[q];                                          \
        HSUM4(a, h);                                                                       \
        for (int q = 0; q < 4; ++q) res[q] = h[q] + s[q];                                  \
    } else {                                                                               \
        for (int q = 0; q < nd; ++q) res[q] = NAME##_hsum(a[q] + b[q]) + s[q];             \
    }                                                                                      \
}                                                                                          \
static void NAME(const IDX *ind, const IDX *ptr, const T *U, const T *Vm, ptrdiff_t d,     \
                 T *out, ptrdiff_t r0, ptrdiff_t r1)                                       \
{                                                                                          \
    const T *vr[4], *pf[4];                                                                \
    const ptrdiff_t end = ptr[r1];                                                         \
    for (ptrdiff_t r = r0; r < r1; ++r) {                                                  \
        const T *u = U + r * d;                                                            \
        ptrdiff_t k = ptr[r], hi = ptr[r + 1];                                             \
        for (; k + 4 <= hi; k += 4) {                                                      \
            for (int q = 0; q < 4; ++q) {                                                  \
                vr[q] = Vm + (ptrdiff_t)ind[k + q] * d;                                    \
                /* V rows of the next four nonzeros (random rows: no HW prefetch) */       \
                pf[q] = k + 4 + q < end ? Vm + (ptrdiff_t)ind[k + 4 + q] * d : vr[q];      \
            }                                                                              \
            NAME##_dots(u, vr, pf, d, out + k, 4);                                         \
        }                                                                                  \
        for (; k < hi; ++k) {                                                              \
            vr[0] = pf[0] = pf[1] = pf[2] = pf[3] = Vm + (ptrdiff_t)ind[k] * d;            \
            NAME##_dots(u, vr, pf, d, out + k, 1);                                         \
        }                                                                                  \
    }                                                                                      \
}
FPK_DEFINE_SDDMM(fpk_sddmm_d_i32, double, fpk_vd, int32_t, fpk_hsum4_d)
FPK_DEFINE_SDDMM(fpk_sddmm_d_i64, double, fpk_vd, int64_t, fpk_hsum4_d)
FPK_DEFINE_SDDMM(fpk_sddmm_f_i32, float, fpk_vf, int32_t, fpk_hsum4_f)
FPK_DEFINE_SDDMM(fpk_sddmm_f_i64, float, fpk_vf, int64_t, fpk_hsum4_f)
#else
#define FPK_DEFINE_SDDMM(NAME, T, IDX)                                                     \
static void NAME(const IDX *ind, const IDX *ptr, const T *U, const T *Vm, ptrdiff_t d,     \
                 T *out, ptrdiff_t r0, ptrdiff_t r1)                                       \
{                                                                                          \
    for (ptrdiff_t r = r0; r < r1; ++r)                                                    \
        for (ptrdiff_t k = ptr[r]; k < ptr[r + 1]; ++k) {                                  \
            const T *u = U + r * d, *v = Vm + (ptrdiff_t)ind[k] * d;                       \
            T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                              \
            ptrdiff_t p = 0;                                                               \
            for (; p + 4 <= d; p += 4) {                                                   \
                s0 += u[p] * v[p]; s1 += u[p + 1] * v[p + 1];                              \
                s2 += u[p + 2] * v[p + 2]; s3 += u[p + 3] * v[p + 3];                      \
            }                                                                              \
            for (; p < d; ++p) s0 += u[p] * v[p];                                          \
            out[k] = (s0 + s1) + (s2 + s3);                                                \
        }                                                                                  \
}
FPK_DEFINE_SDDMM(fpk_sddmm_d_i32, double, int32_t)
FPK_DEFINE_SDDMM(fpk_sddmm_d_i64, double, int64_t)
FPK_DEFINE_SDDMM(fpk_sddmm_f_i32, float, int32_t)
FPK_DEFINE_SDDMM(fpk_sddmm_f_i64, float, int64_t)
#endif

#endif /* FASTPROX_CSR_KERNELS_H */
