/*
 * The forward product of a mini-batch, hand-written (vgcore._kernels), and
 * (vg_grad, below) the weight update of a large one.
 *
 *     Z (m x P) = A (m x nin) . WT (nin x P)
 *
 * where WT is the layer's weight matrix TRANSPOSED and its columns padded
 * to P, a multiple of the vector width (sgd_epoch keeps WT in its
 * workspace for the whole epoch).  In this layout the product is a sum of
 * outer products: for every k, one element of each A row is broadcast and
 * multiplied into whole vectors of the WT row k, so the accumulators are
 * full vectors of outputs and no horizontal sums are needed.  A block of
 * 5 (or 6) rows x up to 4 vectors keeps 20 (24) accumulators in AVX-512
 * registers; per k it does 4 loads and 5 (6) broadcasts for 20 (24) FMAs.
 *
 * The rows of A are given as pointers, so sgd_epoch passes the rows of X
 * of the mini-batch directly and the kernel copies them into the
 * workspace (needed by the weight update) while it computes: the copy of
 * randomly ordered rows from memory then overlaps with the arithmetic
 * instead of being a separate memory-bound gather (~20% of an epoch).
 *
 * Measured on the development machine (Sapphire Rapids, one core,
 * 10 x 784 x 30): ~55 GFLOP/s, against ~32 GFLOP/s for SciPy's OpenBLAS
 * on the same product in W's own layout (its small-matrix TN kernel).
 *
 * Portability: no -march flag.  The kernels carry the GCC/Clang attribute
 * target("avx512f") and are only called when vg_have_avx512() (run-time
 * CPUID) is 1; with other compilers or CPUs it is 0 and _kernels.pyx uses
 * BLAS instead, so the extension runs on any x86-64 and elsewhere.
 *
 * Arithmetic: each output is the sum over k in increasing order of
 * A[i,k] * WT[k,j], fused multiply-adds in the element type: the same
 * products as BLAS, summed in another order (results agree to rounding).
 */
#ifndef VG_FWD_AVX512_H
#define VG_FWD_AVX512_H

#include <stddef.h>
#include <stdint.h>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define VG_HAVE_AVX512_CODE 1
#include <immintrin.h>
#else
#define VG_HAVE_AVX512_CODE 0
#endif

/* 1 when the AVX-512 kernels may run on this CPU. */
static int vg_have_avx512(void)
{
#if VG_HAVE_AVX512_CODE
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

#if VG_HAVE_AVX512_CODE


/*
 * One block: rows a[0..RB-1] (some may repeat the last real row) times
 * JV vectors of WT starting at column j0; rn rows are stored.
 */
#define VG_FWD_BLOCK(T, V, L, SFX, MT, RB, JV)                                 \
    {                                                                          \
        V c[RB][4];                                                            \
        int r_, q_, kk_;                                                       \
        for (r_ = 0; r_ < RB; r_++)                                            \
            for (q_ = 0; q_ < JV; q_++)                                        \
                c[r_][q_] = _mm512_setzero_##SFX();                            \
        const T *w_ = WT + j0;                                                 \
        k = 0;                                                                 \
        if (copy != NULL && j0 == 0) {                                         \
            /* first pass over these rows: also copy them, one vector of  */ \
            /* each row per L values of k, while their loads are in flight */ \
            /* (whole groups of L unrolled, the tail apart: ~8% faster     */ \
            /* than one loop with a variable group length)                 */ \
            for (; k + L <= nin; k += L) {                                     \
                for (r_ = 0; r_ < pn; r_++)                                    \
                    _mm_prefetch((const char *)(p[r_] + k), _MM_HINT_T0);      \
                for (r_ = 0; r_ < rn; r_++)                                    \
                    _mm512_storeu_##SFX(copy + (size_t)(i0 + r_) * nin + k,    \
                                        _mm512_loadu_##SFX(a[r_] + k));        \
                for (kk_ = 0; kk_ < L; kk_++, w_ += P)                         \
                    VG_FWD_STEP(T, V, L, SFX, RB, JV, k + kk_)                 \
            }                                                                  \
            if (k < nin) {                                                     \
                MT mk_ = (MT)((1u << (nin - k)) - 1u);                         \
                for (r_ = 0; r_ < pn; r_++)                                    \
                    _mm_prefetch((const char *)(p[r_] + k), _MM_HINT_T0);      \
                for (r_ = 0; r_ < rn; r_++)                                    \
                    _mm512_mask_storeu_##SFX(                                  \
                        copy + (size_t)(i0 + r_) * nin + k, mk_,               \
                        _mm512_maskz_loadu_##SFX(mk_, a[r_] + k));             \
            }                                                                  \
        }                                                                      \
        for (; k < nin; k++, w_ += P)                                          \
            VG_FWD_STEP(T, V, L, SFX, RB, JV, k)                               \
        for (r_ = 0; r_ < rn; r_++)                                            \
            for (q_ = 0; q_ < JV; q_++)                                        \
                _mm512_storeu_##SFX(Z + (size_t)(i0 + r_) * P + j0 + q_ * L,   \
                                    c[r_][q_]);                                \
    }

/* One k: JV vectors of WT row k times the broadcast A[r][k] of each row. */
#define VG_FWD_STEP(T, V, L, SFX, RB, JV, KK)                                 \
    {                                                                          \
        V wv[4];                                                               \
        for (q_ = 0; q_ < JV; q_++)                                            \
            wv[q_] = _mm512_loadu_##SFX(w_ + q_ * L);                          \
        for (r_ = 0; r_ < RB; r_++) {                                           \
            V b_ = _mm512_set1_##SFX(a[r_][KK]);                               \
            for (q_ = 0; q_ < JV; q_++)                                        \
                c[r_][q_] = _mm512_fmadd_##SFX(b_, wv[q_], c[r_][q_]);         \
        }                                                                      \
    }

/*
 * Width, in vectors, of column block b (of nb) when v0 of the nv vectors
 * are already done: the vectors are shared as evenly as possible, at most
 * 4 per block (13 -> 4, 3, 3, 3 rather than 4, 4, 4, 1, whose last block
 * has too few accumulators to hide the FMA latency; measured ~10% faster
 * on 784 -> 100, both in the forward product and in the update).
 */
static inline int vg_block_vectors(int nv, int nb, int b, int v0)
{
    return (nv - v0 + (nb - b) - 1) / (nb - b);
}

/*
 * Z (m x P) = rows . WT, where row i of the left operand starts at rows[i]
 * (so scattered rows need no gather).  When copy is not NULL, the rows are
 * also copied into copy (m x nin, contiguous) on the way, and the next
 * RB rows (rows[m .. m + m_ahead - 1] after the last block: the next
 * mini-batch's) are prefetched, one cache line per row per vector step,
 * so their loads are spread over the arithmetic of the current block.
 * Blocks of RB rows x at most JMAX vectors (RB x JMAX accumulators).
 */
#define VG_DEFINE_FWD_R(T, V, L, SFX, MT, NAME, RB, JMAX)                      \
__attribute__((target("avx512f")))                                             \
static void vg_fwd_##NAME##_r##RB(int m, int nin, int P, const T *const *rows, \
                                  int m_ahead, const T *WT, T *Z, T *copy)     \
{                                                                              \
    int i0, j0, k, r, cb_, v0_, jv_, nv_ = P / L, nb_ = (nv_ + JMAX - 1) / JMAX; \
    for (i0 = 0; i0 < m; i0 += RB) {                                           \
        int rn = m - i0 < RB ? m - i0 : RB;                                    \
        const T *a[RB];                                                        \
        const T *p[RB];                                                        \
        int pn = m + m_ahead - (i0 + rn);                                      \
        pn = pn < 0 ? 0 : (pn > RB ? RB : pn);                                 \
        for (r = 0; r < pn; r++)                                               \
            p[r] = rows[i0 + rn + r];                                          \
        for (r = 0; r < RB; r++)                                               \
            a[r] = rows[i0 + (r < rn ? r : rn - 1)];                           \
        for (cb_ = 0, v0_ = 0; cb_ < nb_; cb_++, v0_ += jv_) {                    \
            jv_ = vg_block_vectors(nv_, nb_, cb_, v0_);                         \
            j0 = v0_ * L;                                                      \
            if (JMAX >= 4 && jv_ == 4)                                         \
                VG_FWD_BLOCK(T, V, L, SFX, MT, RB, 4)                          \
            else if (JMAX >= 3 && jv_ == 3)                                    \
                VG_FWD_BLOCK(T, V, L, SFX, MT, RB, 3)                          \
            else if (jv_ == 2)                                                 \
                VG_FWD_BLOCK(T, V, L, SFX, MT, RB, 2)                          \
            else                                                               \
                VG_FWD_BLOCK(T, V, L, SFX, MT, RB, 1)                          \
        }                                                                      \
    }                                                                          \
}

/*
 * The block shape: 5 rows x 4 vectors (20 accumulators) suits mini-batches
 * of 10; 12 rows or more use 6 x 4 (24 accumulators, fewer WT loads per
 * FMA; WT streams from L2, the rows stay in L1).  Measured, one core,
 * GFLOP/s of r5 / r6: m=10, 784->30: 52 / 47; m=100, 784->30: 56 / 70;
 * m=100, 784->100: 47 / 51; m=256, 784->30: 73 / 79 (8 x 3 was slower).
 * Layers at most 2 vectors wide (float32 784->30, float64 outputs of 10)
 * take 10 rows at a time when m >= 10: 20 accumulators where 5 x 2 had 10,
 * and WT read once per 10 rows.  Epochs of [784,30,10] in float32, A/B
 * interleaved, median of 21: mb10 0.063 -> 0.056 s and 0.061 -> 0.055 s,
 * mb100 0.064 -> 0.058 s; float64 unchanged.
 * Since then (A/B in one process, 50,000 gathered MNIST-sized rows, best
 * of 21): the even column blocks and the unrolled first pass took
 * m=100, 784->100 from 62 to 70 GFLOP/s and m=10, 784->30 from 44 to 47.
 * Rejected: 10 rows x 2 vectors for 4-vector layers at m=10 (half the
 * reads of WT, but slower with gathered rows: 9% on the forward product,
 * 17% with the next rows' prefetches spread over both column blocks),
 * segments of k with the rows outside (WT in L1; slower: the rows then
 * stream from L2), and prefetching the next mini-batch from further
 * ahead, into L2 only, every other line or only each row's first lines
 * (no gain).  Also the second block of rows run over k in descending
 * order, so that it starts on the WT rows the first block left in L1 and
 * ends where the update starts (or the first block descending, after the
 * update): epochs at m=10, medians of 21-41 pairs, 0.97-0.99 of the time,
 * within the noise: not worth a second copy of the block loop.
 */
#define VG_DEFINE_FWD(T, V, L, SFX, MT, NAME)                                  \
VG_DEFINE_FWD_R(T, V, L, SFX, MT, NAME, 5, 4)                                  \
VG_DEFINE_FWD_R(T, V, L, SFX, MT, NAME, 6, 4)                                  \
VG_DEFINE_FWD_R(T, V, L, SFX, MT, NAME, 10, 2)                                 \
static void vg_fwd_##NAME(int m, int nin, int P, const T *const *rows,         \
                          int m_ahead, const T *WT, T *Z, T *copy)             \
{                                                                              \
    if (m >= 10 && P <= 2 * L)                                                 \
        vg_fwd_##NAME##_r10(m, nin, P, rows, m_ahead, WT, Z, copy);            \
    else if (m >= 12)                                                          \
        vg_fwd_##NAME##_r6(m, nin, P, rows, m_ahead, WT, Z, copy);             \
    else                                                                       \
        vg_fwd_##NAME##_r5(m, nin, P, rows, m_ahead, WT, Z, copy);             \
}


/*
 * exp(x) for x <= 0 (the sigmoid only needs exp(-|z|)), vectorised:
 * x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), exp(r) by its
 * Taylor polynomial (degree 13 in double, 7 in float: truncation error
 * below the rounding unit), then p * 2^n by scalef, which also gives the
 * correct gradual underflow to 0.  Error: 1-2 ulp (glibc's exp: < 1 ulp).
 */
__attribute__((target("avx512f")))
static inline __m512d vg_exp_neg_pd(__m512d x)
{
    const __m512d log2e = _mm512_set1_pd(1.4426950408889634);
    const __m512d ln2hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2lo = _mm512_set1_pd(1.90821492927058770002e-10);
    x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);   /* NaN stays NaN */
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, log2e),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, ln2hi, x);
    r = _mm512_fnmadd_pd(n, ln2lo, r);
    __m512d p = _mm512_set1_pd(1.0 / 6227020800.0);             /* 1/13! */
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 479001600.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 39916800.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 3628800.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 362880.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 40320.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 5040.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    return _mm512_scalef_pd(p, n);
}

__attribute__((target("avx512f")))
static inline __m512 vg_exp_neg_ps(__m512 x)
{
    const __m512 log2e = _mm512_set1_ps(1.44269504f);
    const __m512 ln2hi = _mm512_set1_ps(0.693359375f);
    const __m512 ln2lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2hi, x);
    r = _mm512_fnmadd_ps(n, ln2lo, r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/*
 * a[i, j] = sigmoid(a[i, j] + b[j]) for the n real columns of m rows of
 * stride P, with the formula of vgcore.reference.sigmoid:
 * e = exp(-|z|); (z >= 0 ? 1 : e) / (1 + e).  If zout is not NULL it
 * receives z (same layout).
 */
#define VG_DEFINE_SIGMOID(T, V, L, SFX, MT, NAME)                              \
__attribute__((target("avx512f")))                                             \
static void vg_sigmoid_bias_##NAME(int m, int n, int P, const T *b, T *a,      \
                                   T *zout)                                    \
{                                                                              \
    int i, j;                                                                  \
    const V one = _mm512_set1_##SFX((T)1);                                     \
    const V zero = _mm512_setzero_##SFX();                                     \
    for (i = 0; i < m; i++) {                                                  \
        T *row = a + (size_t)i * P;                                            \
        for (j = 0; j < n; j += L) {                                           \
            int kl = n - j < L ? n - j : L;                                    \
            MT mk = kl == L ? (MT)~(MT)0 : (MT)((1u << kl) - 1u);              \
            V z = _mm512_add_##SFX(_mm512_maskz_loadu_##SFX(mk, row + j),      \
                                   _mm512_maskz_loadu_##SFX(mk, b + j));       \
            if (zout != NULL)                                                  \
                _mm512_mask_storeu_##SFX(zout + (size_t)i * P + j, mk, z);     \
            V e = vg_exp_neg_##SFX(_mm512_sub_##SFX(zero, _mm512_abs_##SFX(z))); \
            MT ge = _mm512_cmp_##SFX##_mask(z, zero, _CMP_GE_OQ);              \
            V num = _mm512_mask_blend_##SFX(ge, e, one);                       \
            _mm512_mask_storeu_##SFX(row + j, mk,                              \
                                     _mm512_div_##SFX(num, _mm512_add_##SFX(one, e))); \
        }                                                                      \
    }                                                                          \
}

VG_DEFINE_SIGMOID(double, __m512d, 8, pd, __mmask8, d)
VG_DEFINE_SIGMOID(float, __m512, 16, ps, __mmask16, s)

VG_DEFINE_FWD(double, __m512d, 8, pd, __mmask8, d)
VG_DEFINE_FWD(float, __m512, 16, ps, __mmask16, s)

/*
 * The element-wise steps of back-propagation, vectorised: the same
 * operations in the same order as the scalar loops of _kernels.pyx (the
 * fallback without AVX-512), so the same bits.  Rows have stride P; the
 * lanes past the n (or nL) real columns are written as 0.
 *   vg_delta_out: delta = a - y (cross-entropy, cost 0) or
 *                 (a - y) a (1 - a) (quadratic); y row i is Y[idx[i]]
 *                 (Y[r0 + i] when idx is NULL), nL wide, or, when labels
 *                 is not NULL, the one-hot row with its 1 in column
 *                 labels[i] (labels in the rows' order: read in sequence,
 *                 where a random row of Y is a cache miss);
 *   vg_dsig:      dp *= a (1 - a);
 *   vg_row_sums:  out[j] = sum over i, in order, of d[i, j], for j < P.
 */
#define VG_LANES(MT, L, n, j)                                                  \
    ((n) - (j) >= (L) ? (MT)~(MT)0                                             \
     : (n) - (j) <= 0 ? (MT)0 : (MT)((1u << ((n) - (j))) - 1u))

#define VG_DEFINE_ELEMENTWISE(T, V, L, SFX, MT, NAME)                          \
__attribute__((target("avx512f")))                                             \
static void vg_delta_out_##NAME(int cost, int m, int nL, int P, const T *a,    \
                                const T *Y, const int64_t *labels,             \
                                const int64_t *idx, ptrdiff_t r0, T *delta)    \
{                                                                              \
    const V one = _mm512_set1_##SFX((T)1);                                     \
    int i, j;                                                                  \
    for (i = 0; i < m; i++) {                                                  \
        const T *y = labels != NULL ? NULL                                     \
                     : Y + (size_t)(idx != NULL ? idx[i] : r0 + i) * nL;       \
        for (j = 0; j < P; j += L) {                                           \
            MT mk = VG_LANES(MT, L, nL, j);                                    \
            V av = _mm512_maskz_loadu_##SFX(mk, a + (size_t)i * P + j);        \
            V dv;                                                              \
            if (y != NULL) {                                                   \
                dv = _mm512_sub_##SFX(av, _mm512_maskz_loadu_##SFX(mk, y + j));\
            } else {        /* a - 1 in the label's lane, a (= a - 0) else */  \
                int64_t t = labels[i] - j;                                     \
                MT hot = t >= 0 && t < L ? (MT)((MT)1 << t) : (MT)0;           \
                dv = _mm512_mask_sub_##SFX(av, hot, av, one);                  \
            }                                                                  \
            if (cost != 0)                                                     \
                dv = _mm512_mul_##SFX(dv, _mm512_mul_##SFX(                    \
                    av, _mm512_sub_##SFX(one, av)));                           \
            _mm512_storeu_##SFX(delta + (size_t)i * P + j,                     \
                                _mm512_maskz_mov_##SFX(mk, dv));               \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
__attribute__((target("avx512f")))                                             \
static void vg_dsig_##NAME(int m, int n, int P, const T *a, T *dp)             \
{                                                                              \
    const V one = _mm512_set1_##SFX((T)1);                                     \
    int i, j;                                                                  \
    for (i = 0; i < m; i++)                                                    \
        for (j = 0; j < P; j += L) {                                           \
            V s = _mm512_loadu_##SFX(a + (size_t)i * P + j);                   \
            V d = _mm512_loadu_##SFX(dp + (size_t)i * P + j);                  \
            _mm512_storeu_##SFX(dp + (size_t)i * P + j, _mm512_maskz_mul_##SFX( \
                VG_LANES(MT, L, n, j), d,                                      \
                _mm512_mul_##SFX(s, _mm512_sub_##SFX(one, s))));               \
        }                                                                      \
}                                                                              \
                                                                               \
__attribute__((target("avx512f")))                                             \
static void vg_row_sums_##NAME(int m, int P, const T *d, T *out)               \
{                                                                              \
    int i, j;                                                                  \
    for (j = 0; j < P; j += L) {                                               \
        V s = _mm512_loadu_##SFX(d + j);                                       \
        for (i = 1; i < m; i++)                                                \
            s = _mm512_add_##SFX(s, _mm512_loadu_##SFX(d + (size_t)i * P + j)); \
        _mm512_storeu_##SFX(out + j, s);                                       \
    }                                                                          \
}

VG_DEFINE_ELEMENTWISE(double, __m512d, 8, pd, __mmask8, d)
VG_DEFINE_ELEMENTWISE(float, __m512, 16, ps, __mmask16, s)

/*
 * The weight update of a large mini-batch, in the transposed layout:
 *
 *     WT (nin x P) = beta WT + alpha A^T D
 *
 * with A (m x nin, row stride lda) and D (m x P, its padding zero, so the
 * padding of WT stays zero).  Again a sum of outer products, over the m
 * rows: for each row i, KB consecutive elements A[i, k0..k0+KB-1] are
 * broadcast and multiplied into JV vectors of D's row i; the KB x JV
 * accumulators are added into WT once, at the end.  BLAS (dgemm into a
 * gradient in network2's layout, then a transposed add) first packs all
 * of A -- 1000 x 784 doubles at full batch, a 6 MB copy -- which this
 * kernel does not need (A's rows are read in place, D's stay in L2).
 * Sums over i in increasing order (BLAS: another order; results agree to
 * rounding).  Used for mini-batches of more than SMALL_UPDATE_ROWS rows.
 * The rows go in equal blocks of at most 64, so that a column block of D
 * (16 KB) stays in L1: m=100 at 784->100 as 2 x 50 rather than the
 * 29 + 29 + 29 + 13 of blocks sized by the whole width P; with the even
 * column blocks that took this update from 64 to 74 GFLOP/s.
 */
#define VG_GRAD_BLOCK(T, V, L, SFX, KB, JV)                                    \
    {                                                                          \
        V c[KB][4];                                                            \
        int r_, q_, ko_[KB];                                                   \
        for (r_ = 0; r_ < KB; r_++) {                                          \
            ko_[r_] = r_ < kn ? r_ : kn - 1;                                   \
            for (q_ = 0; q_ < JV; q_++)                                        \
                c[r_][q_] = _mm512_setzero_##SFX();                            \
        }                                                                      \
        const T *d_ = D + (size_t)i0 * P + j0;                                 \
        const T *a_ = A + (size_t)i0 * lda + k0;                               \
        for (i = i0; i < i1; i++, d_ += P, a_ += lda) {                        \
            V dv[4];                                                           \
            _mm_prefetch((const char *)(a_ + 8), _MM_HINT_T0);                 \
            for (q_ = 0; q_ < JV; q_++)                                        \
                dv[q_] = _mm512_loadu_##SFX(d_ + q_ * L);                      \
            for (r_ = 0; r_ < KB; r_++) {                                      \
                V b_ = _mm512_set1_##SFX(a_[ko_[r_]]);                         \
                for (q_ = 0; q_ < JV; q_++)                                    \
                    c[r_][q_] = _mm512_fmadd_##SFX(b_, dv[q_], c[r_][q_]);     \
            }                                                                  \
        }                                                                      \
        for (r_ = 0; r_ < kn; r_++)                                            \
            for (q_ = 0; q_ < JV; q_++) {                                      \
                T *w_ = WT + (size_t)(k0 + r_) * P + j0 + q_ * L;              \
                _mm512_storeu_##SFX(w_, _mm512_fmadd_##SFX(                    \
                    va, c[r_][q_], _mm512_mul_##SFX(vbi, _mm512_loadu_##SFX(w_)))); \
            }                                                                  \
    }

#define VG_DEFINE_GRAD(T, V, L, SFX, NAME)                                     \
__attribute__((target("avx512f")))                                             \
static void vg_grad_##NAME(int m, int nin, int P, const T *A, int lda,         \
                           const T *D, T beta, T alpha, T *WT)                 \
{                                                                              \
    int i, i0, i1, j0, k0, cb_, v0_, jv_, nv_ = P / L, nb_ = (nv_ + 3) / 4;     \
    /* rows in equal blocks of at most 64 (16 KB of a 4-vector column    */ \
    /* block of D, which stays in L1 while A's rows stream past it)      */ \
    int nib = (m + 63) / 64, ib = (m + nib - 1) / nib;                         \
    const V va = _mm512_set1_##SFX(alpha);                                     \
    for (i0 = 0; i0 < m; i0 += ib) {                                           \
        /* beta once, on the first block of rows */                            \
        const V vbi = _mm512_set1_##SFX(i0 == 0 ? beta : (T)1);                \
        i1 = m - i0 < ib ? m : i0 + ib;                                        \
        for (cb_ = 0, v0_ = 0; cb_ < nb_; cb_++, v0_ += jv_) {                    \
            jv_ = vg_block_vectors(nv_, nb_, cb_, v0_);                         \
            j0 = v0_ * L;                                                      \
            for (k0 = 0; k0 < nin; k0 += 6) {                                  \
                int kn = nin - k0 < 6 ? nin - k0 : 6;                          \
                switch (jv_) {                                                 \
                case 4: VG_GRAD_BLOCK(T, V, L, SFX, 6, 4) break;               \
                case 3: VG_GRAD_BLOCK(T, V, L, SFX, 6, 3) break;               \
                case 2: VG_GRAD_BLOCK(T, V, L, SFX, 6, 2) break;               \
                default: VG_GRAD_BLOCK(T, V, L, SFX, 6, 1) break;              \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}

VG_DEFINE_GRAD(double, __m512d, 8, pd, d)
VG_DEFINE_GRAD(float, __m512, 16, ps, s)

#else  /* never called: vg_have_avx512() is 0 */

static void vg_fwd_d(int m, int nin, int P, const double *const *rows, int m_ahead,
                     const double *WT, double *Z, double *copy)
{ (void)m; (void)nin; (void)P; (void)rows; (void)m_ahead; (void)WT; (void)Z; (void)copy; }
static void vg_fwd_s(int m, int nin, int P, const float *const *rows, int m_ahead,
                     const float *WT, float *Z, float *copy)
{ (void)m; (void)nin; (void)P; (void)rows; (void)m_ahead; (void)WT; (void)Z; (void)copy; }
static void vg_sigmoid_bias_d(int m, int n, int P, const double *b, double *a, double *zout)
{ (void)m; (void)n; (void)P; (void)b; (void)a; (void)zout; }
static void vg_sigmoid_bias_s(int m, int n, int P, const float *b, float *a, float *zout)
{ (void)m; (void)n; (void)P; (void)b; (void)a; (void)zout; }

static void vg_delta_out_d(int cost, int m, int nL, int P, const double *a, const double *Y,
                           const int64_t *labels, const int64_t *idx, ptrdiff_t r0,
                           double *delta)
{ (void)cost; (void)m; (void)nL; (void)P; (void)a; (void)Y; (void)labels; (void)idx; (void)r0;
  (void)delta; }
static void vg_delta_out_s(int cost, int m, int nL, int P, const float *a, const float *Y,
                           const int64_t *labels, const int64_t *idx, ptrdiff_t r0,
                           float *delta)
{ (void)cost; (void)m; (void)nL; (void)P; (void)a; (void)Y; (void)labels; (void)idx; (void)r0;
  (void)delta; }
static void vg_dsig_d(int m, int n, int P, const double *a, double *dp)
{ (void)m; (void)n; (void)P; (void)a; (void)dp; }
static void vg_dsig_s(int m, int n, int P, const float *a, float *dp)
{ (void)m; (void)n; (void)P; (void)a; (void)dp; }
static void vg_row_sums_d(int m, int P, const double *d, double *out)
{ (void)m; (void)P; (void)d; (void)out; }
static void vg_row_sums_s(int m, int P, const float *d, float *out)
{ (void)m; (void)P; (void)d; (void)out; }

static void vg_grad_d(int m, int nin, int P, const double *A, int lda, const double *D,
                      double beta, double alpha, double *WT)
{ (void)m; (void)nin; (void)P; (void)A; (void)lda; (void)D; (void)beta; (void)alpha; (void)WT; }
static void vg_grad_s(int m, int nin, int P, const float *A, int lda, const float *D,
                      float beta, float alpha, float *WT)
{ (void)m; (void)nin; (void)P; (void)A; (void)lda; (void)D; (void)beta; (void)alpha; (void)WT; }

#endif
#endif  /* VG_FWD_AVX512_H */
