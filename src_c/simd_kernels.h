/*
 * The hand-written kernels, written once over the vector layer
 * (simd_vectors.h) and compiled by simd_dispatch.h for each target and
 * element type.  Layout and invariants: see the design note of
 * _kernels.pyx; measurements: docs/kernels.md.
 *
 * Besides the macros of simd_vectors.h the includer sets the register
 * blocking of the target (blocks of rows x vectors of accumulators):
 *   VG_FWD_SMALL_RB, VG_FWD_LARGE_RB   rows per block of the forward
 *       product below / from VG_FWD_LARGE_M rows, at most VG_FWD_JMAX vectors
 *   VG_FWD_NARROW_RB, VG_FWD_NARROW_JV the block for layers at most
 *       VG_FWD_NARROW_JV vectors wide, once m >= VG_FWD_NARROW_RB
 *   VG_GRAD_KB, VG_GRAD_JMAX           the block of the weight update
 *   VG_FWD_SEGMENT (optional)          for targets whose set1 of an element
 *       in memory costs a shuffle (SSE2): the products broadcast the
 *       elements of their left operand once into a buffer, the forward
 *       product in segments of this many k (fwd_rows_seg, grad)
 *
 * Arithmetic is the same on every target: each output of a product is a
 * sum over k (or i) in increasing order, accumulated with VG_FMA; the
 * element-wise steps are the scalar formulas of _elementwise.pxd, lane by
 * lane.  So results differ between targets only where VG_FMA rounds once
 * or twice (the baseline has no FMA), and the AVX2 and AVX-512 ones are
 * equal.  The monitor's sums (stats, wnorms) are in double, kept lane by
 * lane: their order of summation depends on the vector width.
 */
#include "simd_vectors.h"

#define VG_LINE ((int)(64 / sizeof(T)))     /* elements per cache line */
_Static_assert(VG_VBYTES / sizeof(double) <= VG_STATS_LANES, "the monitor's lanes");
#define VG_RB_MAX 10
#define VG_JV_MAX 4
#define VG_INLINE VG_TARGET static inline __attribute__((always_inline))
#define VG_KERNEL VG_TARGET static

/* BLOCK(RB, JV, ...) with JV = jv as a constant, jv <= JMAX <= 4. */
#define VG_BY_WIDTH(JMAX, jv, BLOCK, RB, ...)                                  \
    do {                                                                       \
        if ((JMAX) >= 4 && (jv) == 4)                                          \
            BLOCK(RB, 4, __VA_ARGS__);                                         \
        else if ((JMAX) >= 3 && (jv) == 3)                                     \
            BLOCK(RB, 3, __VA_ARGS__);                                         \
        else if ((JMAX) >= 2 && (jv) == 2)                                     \
            BLOCK(RB, 2, __VA_ARGS__);                                         \
        else                                                                   \
            BLOCK(RB, 1, __VA_ARGS__);                                         \
    } while (0)

/*
 * Width, in vectors, of column block b (of nb) when v0 of the nv vectors
 * are already done: the vectors are shared as evenly as possible, at most
 * JMAX per block (13 -> 4, 3, 3, 3 rather than 4, 4, 4, 1).
 */
VG_INLINE int VG_FN(block_vectors)(int nv, int nb, int b, int v0)
{
    return (nv - v0 + (nb - b) - 1) / (nb - b);
}

/* ------------------------------------------------------------------------
 * Forward product  Z (m x P) = rows . WT (nin x P)
 * ---------------------------------------------------------------------- */

/*
 * One block: rows a[0..RB-1] (the last real row repeated past rn) times JV
 * vectors of WT from column j0; rn rows are stored.  On the first column
 * block the rows are also copied into copy (when not NULL), one cache line
 * of each row per line's worth of k, and the next rows p[0..pn-1]
 * prefetched, so that their loads overlap the arithmetic.
 */
VG_INLINE void VG_FN(fwd_block)(const int RB, const int JV, int rn, int pn,
                                int nin, int P, int i0, int j0,
                                const T *const *a, const T *const *p,
                                const T *WT, T *Z, T *copy)
{
    V c[VG_RB_MAX][VG_JV_MAX];
    int r, q, k = 0, kk;
    const T *w = WT + j0;
    for (r = 0; r < RB; r++)
        for (q = 0; q < JV; q++)
            c[r][q] = (V){0};
#define VG_FWD_STEP(KK)                                                        \
    {                                                                          \
        V wv[VG_JV_MAX];                                                       \
        for (q = 0; q < JV; q++)                                               \
            wv[q] = VG_FN(load)(w + q * VL);                                   \
        for (r = 0; r < RB; r++) {                                             \
            V b_ = VG_FN(set1)(a[r][KK]);                                      \
            for (q = 0; q < JV; q++)                                           \
                c[r][q] = VG_FMA(b_, wv[q], c[r][q]);                          \
        }                                                                      \
    }
    if (copy != NULL && j0 == 0) {
        for (; k + VG_LINE <= nin; k += VG_LINE) {
            for (r = 0; r < pn; r++)
                __builtin_prefetch(p[r] + k, 0, 3);
            for (r = 0; r < rn; r++)
                for (q = 0; q < VG_LINE; q += VL)
                    VG_FN(store)(copy + (size_t)(i0 + r) * nin + k + q,
                                 VG_FN(load)(a[r] + k + q));
            for (kk = 0; kk < VG_LINE; kk++, w += P)
                VG_FWD_STEP(k + kk)
        }
        if (k < nin) {
            for (r = 0; r < pn; r++)
                __builtin_prefetch(p[r] + k, 0, 3);
            for (r = 0; r < rn; r++)
                for (kk = k; kk < nin; kk++)
                    copy[(size_t)(i0 + r) * nin + kk] = a[r][kk];
        }
    }
    for (; k < nin; k++, w += P)
        VG_FWD_STEP(k)
#undef VG_FWD_STEP
    for (r = 0; r < rn; r++)
        for (q = 0; q < JV; q++)
            VG_FN(store)(Z + (size_t)(i0 + r) * P + j0 + q * VL, c[r][q]);
}

/* The forward product in blocks of RB rows x at most JMAX vectors. */
VG_INLINE void VG_FN(fwd_rows)(const int RB, const int JMAX, int m, int nin,
                               int P, const T *const *rows, int m_ahead,
                               const T *WT, T *Z, T *copy)
{
    int i0, r, cb, v0, jv, nv = P / VL, nb = (nv + JMAX - 1) / JMAX;
    for (i0 = 0; i0 < m; i0 += RB) {
        int rn = m - i0 < RB ? m - i0 : RB;
        int pn = m + m_ahead - (i0 + rn);
        const T *a[VG_RB_MAX];
        const T *p[VG_RB_MAX];
        pn = pn < 0 ? 0 : (pn > RB ? RB : pn);
        for (r = 0; r < pn; r++)
            p[r] = rows[i0 + rn + r];
        for (r = 0; r < RB; r++)
            a[r] = rows[i0 + (r < rn ? r : rn - 1)];
        for (cb = 0, v0 = 0; cb < nb; cb++, v0 += jv) {
            int j0;
            jv = VG_FN(block_vectors)(nv, nb, cb, v0);
            j0 = v0 * VL;
            VG_BY_WIDTH(JMAX, jv, VG_FN(fwd_block), RB, rn, pn, nin, P, i0, j0, a, p, WT,
                        Z, copy);
        }
    }
}

#ifdef VG_FWD_SEGMENT
/*
 * The forward product for targets without a broadcast from memory (SSE2:
 * each set1 of an element of a row is a load and a shuffle, and the
 * shuffles compete with the multiplies and adds for the same pipes):
 * the rows are taken VG_FWD_SEGMENT values of k at a time, each value
 * broadcast once into bc (a whole vector per value, in L1), and every
 * column block then loads its broadcasts as whole vectors.  Between
 * segments the partial sums wait in Z, so each output is still the sum
 * over k in increasing order (the same bits as fwd_rows).  The segment of
 * WT stays in L1 for the block's column blocks and the next row block.
 */
VG_INLINE void VG_FN(fwd_seg_block)(const int RB, const int JV, int rn, int pn,
                                    int k0, int ks, int P, int i0, int j0,
                                    const V *bc, const T *const *p, const T *WT,
                                    T *Z)
{
    V c[VG_RB_MAX][VG_JV_MAX];
    const V *b[VG_RB_MAX];
    int r, q, k;
    const T *w = WT + (size_t)k0 * P + j0;
    for (r = 0; r < RB; r++) {
        b[r] = bc + (size_t)(r < rn ? r : rn - 1) * VG_FWD_SEGMENT;
        for (q = 0; q < JV; q++)
            c[r][q] = k0 == 0 || r >= rn ? (V){0}
                      : VG_FN(load)(Z + (size_t)(i0 + r) * P + j0 + q * VL);
    }
    for (k = 0; k < ks; k++, w += P) {
        V wv[VG_JV_MAX];
        if (k % VG_LINE == 0)           /* pn is 0 but on the first column block */
            for (r = 0; r < pn; r++)
                __builtin_prefetch(p[r] + k0 + k, 0, 3);
        for (q = 0; q < JV; q++)
            wv[q] = VG_FN(load)(w + q * VL);
        for (r = 0; r < RB; r++)
            for (q = 0; q < JV; q++)
                c[r][q] = VG_FMA(b[r][k], wv[q], c[r][q]);
    }
    for (r = 0; r < rn; r++)
        for (q = 0; q < JV; q++)
            VG_FN(store)(Z + (size_t)(i0 + r) * P + j0 + q * VL, c[r][q]);
}

VG_INLINE void VG_FN(fwd_rows_seg)(const int RB, const int JMAX, int m, int nin,
                                   int P, const T *const *rows, int m_ahead,
                                   const T *WT, T *Z, T *copy)
{
    V bc[VG_RB_MAX * VG_FWD_SEGMENT];
    int i0, r, q, k, k0, cb, v0, jv, nv = P / VL, nb = (nv + JMAX - 1) / JMAX;
    for (i0 = 0; i0 < m; i0 += RB) {
        int rn = m - i0 < RB ? m - i0 : RB;
        int pn = m + m_ahead - (i0 + rn);
        const T *p[VG_RB_MAX];
        pn = pn < 0 ? 0 : (pn > RB ? RB : pn);
        for (r = 0; r < pn; r++)
            p[r] = rows[i0 + rn + r];
        for (k0 = 0; k0 < nin; k0 += VG_FWD_SEGMENT) {
            int ks = nin - k0 < VG_FWD_SEGMENT ? nin - k0 : VG_FWD_SEGMENT;
            for (r = 0; r < rn; r++) {
                const T *a = rows[i0 + r] + k0;
                T *cp = copy != NULL ? copy + (size_t)(i0 + r) * nin + k0 : NULL;
                V *d = bc + (size_t)r * VG_FWD_SEGMENT;
                for (k = 0; k + VL <= ks; k += VL) {
                    V x = VG_FN(load)(a + k);
                    if (cp != NULL)
                        VG_FN(store)(cp + k, x);
                    for (q = 0; q < VL; q++)
                        d[k + q] = VG_FN(set1)(x[q]);
                }
                for (; k < ks; k++) {
                    if (cp != NULL)
                        cp[k] = a[k];
                    d[k] = VG_FN(set1)(a[k]);
                }
            }
            for (cb = 0, v0 = 0; cb < nb; cb++, v0 += jv) {
                int j0, pc = cb == 0 ? pn : 0;
                jv = VG_FN(block_vectors)(nv, nb, cb, v0);
                j0 = v0 * VL;
                VG_BY_WIDTH(JMAX, jv, VG_FN(fwd_seg_block), RB, rn, pc, k0, ks, P, i0, j0,
                            bc, p, WT, Z);
            }
        }
    }
}
#define VG_FWD_ROWS VG_FN(fwd_rows_seg)
#else
#define VG_FWD_ROWS VG_FN(fwd_rows)
#endif

VG_KERNEL void VG_FN(fwd_small)(int m, int nin, int P, const T *const *rows,
                                int m_ahead, const T *WT, T *Z, T *copy)
{
    VG_FWD_ROWS(VG_FWD_SMALL_RB, VG_FWD_JMAX, m, nin, P, rows, m_ahead, WT, Z, copy);
}

VG_KERNEL void VG_FN(fwd_large)(int m, int nin, int P, const T *const *rows,
                                int m_ahead, const T *WT, T *Z, T *copy)
{
    VG_FWD_ROWS(VG_FWD_LARGE_RB, VG_FWD_JMAX, m, nin, P, rows, m_ahead, WT, Z, copy);
}

VG_KERNEL void VG_FN(fwd_narrow)(int m, int nin, int P, const T *const *rows,
                                 int m_ahead, const T *WT, T *Z, T *copy)
{
    VG_FWD_ROWS(VG_FWD_NARROW_RB, VG_FWD_NARROW_JV, m, nin, P, rows, m_ahead, WT, Z,
                copy);
}
#undef VG_FWD_ROWS

/*
 * Z (m x P) = rows . WT, row i of the left operand at rows[i] (scattered
 * rows need no gather).  When copy is not NULL the rows are also copied
 * into it (m x nin, contiguous), and the m_ahead rows after them (the next
 * mini-batch's) are prefetched on the way.
 */
VG_KERNEL void VG_FN(fwd)(int m, int nin, int P, const T *const *rows,
                          int m_ahead, const T *WT, T *Z, T *copy)
{
    if (m >= VG_FWD_NARROW_RB && P <= VG_FWD_NARROW_JV * VL)
        VG_FN(fwd_narrow)(m, nin, P, rows, m_ahead, WT, Z, copy);
    else if (m >= VG_FWD_LARGE_M)
        VG_FN(fwd_large)(m, nin, P, rows, m_ahead, WT, Z, copy);
    else
        VG_FN(fwd_small)(m, nin, P, rows, m_ahead, WT, Z, copy);
}

/* ------------------------------------------------------------------------
 * Weight update  WT (nin x P) = beta WT + alpha A^T D
 * ---------------------------------------------------------------------- */

/*
 * One block: KB rows of WT from k0 (the last real one repeated past kn)
 * times JV vectors from column j0, summed over the rows i0..i1-1 of A and
 * D in increasing order; then WT = alpha sum + vbeta WT.  The elements of
 * A are broadcast here, or, when bc is not NULL, taken from bc (KB vectors
 * per row of A, A[i, k0 + r] in every lane of bc[(i - i0) KB + r]).
 */
VG_INLINE void VG_FN(grad_block)(const int KB, const int JV, int kn, int i0,
                                 int i1, int P, int k0, int j0, const T *A,
                                 int lda, const T *D, V valpha, V vbeta, T *WT,
                                 const V *bc)
{
    V c[VG_RB_MAX][VG_JV_MAX];
    int r, q, i, ko[VG_RB_MAX];
    const T *d = D + (size_t)i0 * P + j0;
    const T *a = A + (size_t)i0 * lda + k0;
    const V *e = bc;
    for (r = 0; r < KB; r++) {
        ko[r] = r < kn ? r : kn - 1;
        for (q = 0; q < JV; q++)
            c[r][q] = (V){0};
    }
    for (i = i0; i < i1; i++, d += P, a += lda) {
        V dv[VG_JV_MAX];
        if (bc == NULL)
            __builtin_prefetch(a + 8, 0, 3);
        for (q = 0; q < JV; q++)
            dv[q] = VG_FN(load)(d + q * VL);
        for (r = 0; r < KB; r++) {
            V b = bc != NULL ? e[r] : VG_FN(set1)(a[ko[r]]);
            for (q = 0; q < JV; q++)
                c[r][q] = VG_FMA(b, dv[q], c[r][q]);
        }
        if (bc != NULL)      /* no arithmetic on NULL */
            e += KB;
    }
    for (r = 0; r < kn; r++)
        for (q = 0; q < JV; q++) {
            T *w = WT + (size_t)(k0 + r) * P + j0 + q * VL;
            VG_FN(store)(w, VG_FMA(valpha, c[r][q], vbeta * VG_FN(load)(w)));
        }
}

/* grad_block for a column block of jv <= VG_GRAD_JMAX vectors. */
VG_INLINE void VG_FN(grad_col)(int jv, int kn, int i0, int i1, int P, int k0, int j0,
                               const T *A, int lda, const T *D, V valpha, V vbeta,
                               T *WT, const V *bc)
{
    VG_BY_WIDTH(VG_GRAD_JMAX, jv, VG_FN(grad_block), VG_GRAD_KB, kn, i0, i1, P, k0, j0,
                A, lda, D, valpha, vbeta, WT, bc);
}

/*
 * A is m x nin (row stride lda), D m x P with its padding zero (so WT's
 * stays zero).  The rows go in equal blocks of at most 64, so that a
 * column block of D stays in L1 while A's rows stream past it.  On targets
 * without a broadcast from memory (VG_FWD_SEGMENT, as fwd_rows_seg) the
 * KB elements of each row of A are broadcast once into bc and the column
 * blocks run inside the loop over k0 (the block's rows of D then stream
 * from L2, not one column block of them from L1); the same sums in the
 * same order.
 */
VG_KERNEL void VG_FN(grad)(int m, int nin, int P, const T *A, int lda,
                           const T *D, T beta, T alpha, T *WT)
{
    const int KB = VG_GRAD_KB, JMAX = VG_GRAD_JMAX;
    int i0, i1, k0, kn, cb, v0, jv, nv = P / VL, nb = (nv + JMAX - 1) / JMAX;
    int nib = (m + 63) / 64, ib = (m + nib - 1) / nib;
    const V valpha = VG_FN(set1)(alpha);
#ifdef VG_FWD_SEGMENT
    V bc[64 * VG_GRAD_KB];
    int i, r;
#endif
    for (i0 = 0; i0 < m; i0 += ib) {
        const V vbeta = VG_FN(set1)(i0 == 0 ? beta : (T)1);   /* beta once */
        i1 = m - i0 < ib ? m : i0 + ib;
#ifdef VG_FWD_SEGMENT
        for (k0 = 0; k0 < nin; k0 += KB) {
            kn = nin - k0 < KB ? nin - k0 : KB;
            for (i = i0; i < i1; i++)
                for (r = 0; r < KB; r++)
                    bc[(size_t)(i - i0) * KB + r] =
                        VG_FN(set1)(A[(size_t)i * lda + k0 + (r < kn ? r : kn - 1)]);
            for (cb = 0, v0 = 0; cb < nb; cb++, v0 += jv) {
                jv = VG_FN(block_vectors)(nv, nb, cb, v0);
                VG_FN(grad_col)(jv, kn, i0, i1, P, k0, v0 * VL, A, lda, D, valpha, vbeta,
                                WT, bc);
            }
        }
#else
        for (cb = 0, v0 = 0; cb < nb; cb++, v0 += jv) {
            jv = VG_FN(block_vectors)(nv, nb, cb, v0);
            for (k0 = 0; k0 < nin; k0 += KB) {
                kn = nin - k0 < KB ? nin - k0 : KB;
                VG_FN(grad_col)(jv, kn, i0, i1, P, k0, v0 * VL, A, lda, D, valpha, vbeta,
                                WT, NULL);
            }
        }
#endif
    }
}

/* ------------------------------------------------------------------------
 * Element-wise steps
 * ---------------------------------------------------------------------- */

#define VG_C(c) VG_FN(set1)(c)

#if VG_IS_DOUBLE
#define VG_MANT 52              /* bits of the mantissa, exponent bias */
#define VG_BIAS 1023
#else
#define VG_MANT 23
#define VG_BIAS 127
#endif

/*
 * The core of exp_neg and expm1_neg, for x <= 0, first clamped below at
 * lo (NaN passes through): x = n ln2 + r with |r| <= ln2/2 (n rounded to
 * nearest by adding and subtracting 1.5 2^52, resp. 2^23, or by VG_ROUND;
 * Cody-Waite split of ln2), and p1(r) = (exp(r) - 1)/r = 1/1! + r/2! +
 * r^2/3! + ... by its Taylor polynomial (to r^12/13! in double, r^6/7! in
 * float: truncation below the rounding unit).  Returns p1; *pn receives n,
 * *pk n as an integer (targets without VG_ROUND), *pr r.
 */
VG_INLINE V VG_FN(exp_core)(V x, T lo, V *pn, VI *pk, V *pr)
{
#if VG_IS_DOUBLE
    const T log2e = 1.4426950408889634, shifter = 6755399441055744.0;
    const T ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
#else
    const T log2e = 1.44269504f, shifter = 12582912.0f;
    const T ln2hi = 0.693359375f, ln2lo = -2.12194440e-4f;
#endif
/* Horner's step with the next coefficient 1/k!, rounded to T */
#define VG_TAYLOR_STEP(kfact) p = VG_FMA(p, r, VG_C((T)1 / (T)(kfact)));
    V n, r, p;
#ifdef VG_ROUND
    (void)shifter;
    x = VG_MAX(VG_C(lo), x);                         /* NaN stays NaN */
    n = VG_ROUND(x * log2e);
    *pk = (VI){0};
#else
    V t;
    x = VG_FN(select)(x < VG_C(lo), VG_C(lo), x);     /* NaN stays NaN */
    t = x * log2e;              /* rounded, then rounded to an integer: */
    t = t + shifter;            /* two roundings, never one fused */
    n = t - shifter;
    *pk = (VI)t - (VI)VG_C(shifter);
#endif
    r = VG_FMA(-n, VG_C(ln2hi), x);
    r = VG_FMA(-n, VG_C(ln2lo), r);
#if VG_IS_DOUBLE                /* 1/k!, k = 13 .. 1 */
    p = VG_C((T)1 / (T)6227020800.0);
    VG_TAYLOR_STEP(479001600.0) VG_TAYLOR_STEP(39916800.0) VG_TAYLOR_STEP(3628800.0)
    VG_TAYLOR_STEP(362880.0) VG_TAYLOR_STEP(40320.0) VG_TAYLOR_STEP(5040.0)
#else                           /* 1/k!, k = 7 .. 1 */
    p = VG_C((T)1 / (T)5040.0);
#endif
    VG_TAYLOR_STEP(720.0) VG_TAYLOR_STEP(120.0) VG_TAYLOR_STEP(24.0) VG_TAYLOR_STEP(6.0)
    VG_TAYLOR_STEP(2.0) VG_TAYLOR_STEP(1.0)
#undef VG_TAYLOR_STEP
    *pn = n;
    *pr = r;
    return p;
}

/*
 * exp(x) for x <= 0 (the sigmoid needs exp(-|z|) only), or NaN for NaN:
 * x clamped at -746 (-104 in float), exp(r) = 1 + r p1(r) (exp_core), times
 * 2^n in two exact steps 2^floor(n/2) 2^(n - floor(n/2)), so that the
 * final product rounds once into the subnormals (correct gradual
 * underflow).  Error 1-2 ulp (glibc's exp: < 1 ulp).  Where the target
 * has instructions for both steps (VG_ROUND, VG_SCALE: AVX-512's
 * roundscale and scalef) they are used instead: the same bits in fewer
 * instructions.
 */
VG_INLINE V VG_FN(exp_neg)(V x)
{
    V n, r, p;
    VI k;
    p = VG_FN(exp_core)(x, VG_IS_DOUBLE ? (T)-746.0 : (T)-104.0, &n, &k, &r);
    p = VG_FMA(p, r, VG_C((T)1));
#ifdef VG_ROUND
    (void)k;
    return VG_SCALE(p, n);
#else
    {
        VI k1 = k >> 1;
        p = p * (V)((VU)(k1 + VG_BIAS) << VG_MANT);
        return p * (V)((VU)(k - k1 + VG_BIAS) << VG_MANT);
    }
#endif
}

/*
 * exp(x) - 1 for x <= 0 (tanh needs expm1(-2|z|)), or NaN for NaN,
 * without the cancellation of exp(x) - 1 near 0: 2^n (expm1(r) + 1) - 1 =
 * 2^n expm1(r) + (2^n - 1), with expm1(r) = r p1(r) (exp_core).  x is
 * clamped at -40 (-18 in float), where expm1 is -1 to the last bit, so
 * 2^n is a normal number and 2^n expm1(r) exact: the fused and the unfused
 * sum round alike (the same bits with and without FMA).  Error ~2 ulp.
 */
VG_INLINE V VG_FN(expm1_neg)(V x)
{
    V n, r, em, s;
    VI k;
    em = VG_FN(exp_core)(x, VG_IS_DOUBLE ? (T)-40.0 : (T)-18.0, &n, &k, &r) * r;
#ifdef VG_ROUND
    (void)k;
    s = VG_SCALE(VG_C((T)1), n);
#else
    s = (V)((VU)(k + VG_BIAS) << VG_MANT);
#endif
    return VG_FMA(s, em, s - VG_C((T)1));
}

/*
 * The activations and the derivatives of _elementwise.pxd (the formulas
 * and the reasons for them are there), lane by lane, the same operations
 * in the same order.  act is a VG_ACT_* code, constant where they are
 * inlined (the kernels below branch once per call, not per vector).
 */
VG_INLINE V VG_FN(sigmoid)(V z)
{
    const V one = VG_C((T)1), zero = (V){0};
    V e = VG_FN(exp_neg)(zero - VG_FN(abs)(z));
    return VG_FN(select)(z >= zero, one, e) / (one + e);
}

VG_INLINE V VG_FN(activation)(const int act, V z)
{
    const V one = VG_C((T)1), zero = (V){0};
    V e, t;
    switch (act) {
    case VG_ACT_TANH:           /* copysign(-e / (2 + e), z), e = expm1(-2|z|) */
        e = VG_FN(expm1_neg)(VG_C((T)-2) * VG_FN(abs)(z));
        t = VG_FN(abs)(-e / (VG_C((T)2) + e));
        return (V)((VU)t | ((VU)z & (VU)VG_C((T)-0.0)));
    case VG_ACT_SOFTSIGN:
        return z / (one + VG_FN(abs)(z));
    case VG_ACT_RELU:
        return VG_FN(select)(z < zero, zero, z);
    default:
        return VG_FN(sigmoid)(z);
    }
}

/* d f'(z), with f'(z) from a = f(z) */
VG_INLINE V VG_FN(times_prime)(const int act, V d, V a)
{
    const V one = VG_C((T)1);
    V t;
    switch (act) {
    case VG_ACT_TANH:
        return d * ((one - a) * (one + a));
    case VG_ACT_SOFTSIGN:
        t = one - VG_FN(abs)(a);
        return d * (t * t);
    case VG_ACT_RELU:
        return d * VG_FN(keep)(a > (V){0}, one);
    default:
        return d * (a * (one - a));
    }
}

/* One kernel per activation: case A runs NAME's body with act = A. */
#define VG_PER_ACTIVATION(act, NAME, ...)                                       \
    switch (act) {                                                             \
    case VG_ACT_TANH: VG_FN(NAME)(VG_ACT_TANH, __VA_ARGS__); break;            \
    case VG_ACT_SOFTSIGN: VG_FN(NAME)(VG_ACT_SOFTSIGN, __VA_ARGS__); break;    \
    case VG_ACT_RELU: VG_FN(NAME)(VG_ACT_RELU, __VA_ARGS__); break;            \
    default: VG_FN(NAME)(VG_ACT_SIGMOID, __VA_ARGS__); break;                  \
    }

VG_INLINE void VG_FN(act_bias_rows)(const int act, int m, int n, int P,
                                    const T *b, T *a, T *zout)
{
    T tail[VL];                     /* b's last, partial vector, 0-padded */
    int i, j, q, nfull = n / VL * VL;
    for (q = 0; q < VL; q++)
        tail[q] = nfull + q < n ? b[nfull + q] : (T)0;
    for (i = 0; i < m; i++) {
        T *row = a + (size_t)i * P;
        for (j = 0; j < n; j += VL) {
            V z = VG_FN(load)(row + j) + VG_FN(load)(j < nfull ? b + j : tail);
            if (zout != NULL)
                VG_FN(store)(zout + (size_t)i * P + j, z);
            VG_FN(store)(row + j, VG_FN(activation)(act, z));
        }
    }
}

/*
 * a[i, j] = f(a[i, j] + b[j]) for the m rows (stride P) of a, f the
 * activation act (VG_ACT_*).  Whole vectors: the padding columns get f(a)
 * as well (b counts as 0 there; b itself has n elements only).  If zout is
 * not NULL it receives z (same layout).
 */
VG_KERNEL void VG_FN(act_bias)(int act, int m, int n, int P, const T *b, T *a,
                               T *zout)
{
    VG_PER_ACTIVATION(act, act_bias_rows, m, n, P, b, a, zout)
}

/*
 * Output error of m rows (stride P; the lanes past the nL real columns are
 * written as 0): delta = a - y (cross-entropy) or (a - y) a (1 - a)
 * (quadratic).  y row i is Y[idx[i]] (Y[r0 + i] when idx is NULL), nL
 * wide, or, when labels is not NULL, the one-hot row with its 1 in column
 * labels[i] (labels in the rows' order: read in sequence, where a random
 * row of Y is a cache miss): a - 1 in that lane, a - 0 elsewhere.
 */
VG_KERNEL void VG_FN(delta_out)(int cost, int m, int nL, int P, const T *a,
                                const T *Y, const int64_t *labels,
                                const int64_t *idx, ptrdiff_t r0, T *delta)
{
    const V one = VG_FN(set1)((T)1);
    const VI lane = VG_FN(lane_index)();
    T tail[VL];
    int i, j, q;
    for (i = 0; i < m; i++) {
        const T *y = labels != NULL ? NULL
                     : Y + (size_t)(idx != NULL ? idx[i] : r0 + i) * nL;
        for (j = 0; j < P; j += VL) {
            V av = VG_FN(load)(a + (size_t)i * P + j), dv;
            if (y != NULL) {
                const T *yj = y + j;
                if (j + VL > nL) {      /* past Y's row: 0 */
                    for (q = 0; q < VL; q++)
                        tail[q] = j + q < nL ? y[j + q] : (T)0;
                    yj = tail;
                }
                dv = av - VG_FN(load)(yj);
            } else {
                int64_t t = labels[i] - j;
                VI hot = t >= 0 && t < VL ? lane == (VI){0} + (int)t : (VI){0};
                dv = av - VG_FN(keep)(hot, one);
            }
            if (cost != VG_COST_CROSS_ENTROPY)
                dv = dv * (av * (one - av));
            VG_FN(store)(delta + (size_t)i * P + j,
                         VG_FN(keep)(lane < (VI){0} + (nL - j), dv));
        }
    }
}

VG_INLINE void VG_FN(dact_rows)(const int act, int m, int n, int P, const T *a,
                                T *dp)
{
    const VI lane = VG_FN(lane_index)();
    int i, j;
    for (i = 0; i < m; i++)
        for (j = 0; j < P; j += VL) {
            V s = VG_FN(load)(a + (size_t)i * P + j);
            V d = VG_FN(load)(dp + (size_t)i * P + j);
            VG_FN(store)(dp + (size_t)i * P + j,
                         VG_FN(keep)(lane < (VI){0} + (n - j),
                                     VG_FN(times_prime)(act, d, s)));
        }
}

/*
 * dp *= f'(z) over m rows of stride P, f'(z) from the activations a = f(z)
 * of the activation act; lanes past n written as 0.
 */
VG_KERNEL void VG_FN(dact)(int act, int m, int n, int P, const T *a, T *dp)
{
    VG_PER_ACTIVATION(act, dact_rows, m, n, P, a, dp)
}

/* The monitor's sums of one vector x of activations; `real` marks its
   lanes inside the row (x is 0 in the others).  sat counts down (-1 per
   saturated value: a comparison's true is -1). */
VG_INLINE void VG_FN(stats_step)(const int act, VD x, VDI real, VD *s, VD *s2,
                                 VDI *sat, double *alive)
{
    const VD zero = (VD){0}, one = zero + 1.0;
    const VD lo = zero + VG_SATURATION_MARGIN, hi = zero + (1.0 - VG_SATURATION_MARGIN);
    VDI hit;
    *s = *s + x;
    *s2 = *s2 + x * x;
    if (act == VG_ACT_RELU) {                       /* alive[j] |= x > 0 */
        VD al;
        __builtin_memcpy(&al, alive, sizeof al);
        hit = x > zero;
        al = (VD)(((VDI)one & hit) | ((VDI)al & ~hit));
        __builtin_memcpy(alive, &al, sizeof al);
    } else {
        if (act == VG_ACT_SIGMOID)
            hit = (x <= lo) | (x >= hi);
        else
            hit = (VD)((VDI)x & ((VDI){0} + INT64_MAX)) >= hi;   /* |x| >= hi */
        *sat = *sat + (hit & real);
    }
}

VG_INLINE void VG_FN(stats_rows)(const int act, int m, int n, int P, const T *a,
                                 double *sums, int64_t *count, double *alive)
{
    VD s[2] = {{0}}, s2[2] = {{0}}, v;
    VDI sat[2] = {{0}}, all = (VDI){0} - 1, tail, c;
    int i, j, q, nfull = n / DL * DL;
    for (q = 0; q < DL; q++)
        tail[q] = q < n - nfull ? -1 : 0;
    for (i = 0; i < m; i++) {
        const T *row = a + (size_t)i * P;
        for (j = 0; j + 2 * DL <= nfull; j += 2 * DL) {   /* two sets of sums */
            VG_FN(stats_step)(act, VG_FN(load_d)(row + j), all, &s[0], &s2[0], &sat[0],
                              alive + j);
            VG_FN(stats_step)(act, VG_FN(load_d)(row + j + DL), all, &s[1], &s2[1],
                              &sat[1], alive + j + DL);
        }
        if (j < nfull) {
            VG_FN(stats_step)(act, VG_FN(load_d)(row + j), all, &s[0], &s2[0], &sat[0],
                              alive + j);
            j += DL;
        }
        if (j < n)                                      /* 0 past the row */
            VG_FN(stats_step)(act, (VD)((VDI)VG_FN(load_d)(row + j) & tail), tail,
                              &s[1], &s2[1], &sat[1], alive + j);
    }
    /* added lane by lane: the lanes are summed once per record */
    __builtin_memcpy(&v, sums, sizeof v);
    v = v + (s[0] + s[1]);
    __builtin_memcpy(sums, &v, sizeof v);
    __builtin_memcpy(&v, sums + VG_STATS_LANES, sizeof v);
    v = v + (s2[0] + s2[1]);
    __builtin_memcpy(sums + VG_STATS_LANES, &v, sizeof v);
    __builtin_memcpy(&c, count, sizeof c);
    c = c - (sat[0] + sat[1]);
    __builtin_memcpy(count, &c, sizeof c);
}

/*
 * The monitor's sums over m rows (stride P) of n activations a of the
 * activation act, kept lane by lane (DL <= VG_STATS_LANES lanes; the
 * caller adds the lanes up): sums[q] += the sum of a, sums[VG_STATS_LANES
 * + q] += of a^2, in double; count[q] += how many are saturated (sigmoid:
 * a <= 0.01 or a >= 0.99; tanh and softsign: |a| >= 0.99; ReLU: none
 * counted here); for ReLU alive[j] = 1 where some a[i, j] > 0 (alive: P
 * doubles, each 0 or 1).  The rows are read to n rounded up to DL lanes
 * (within the padding P).
 */
VG_KERNEL void VG_FN(stats)(int act, int m, int n, int P, const T *a, double *sums,
                            int64_t *count, double *alive)
{
    switch (act) {
    case VG_ACT_RELU:
        VG_FN(stats_rows)(VG_ACT_RELU, m, n, P, a, sums, count, alive);
        break;
    case VG_ACT_SIGMOID:
        VG_FN(stats_rows)(VG_ACT_SIGMOID, m, n, P, a, sums, count, alive);
        break;
    default:
        VG_FN(stats_rows)(VG_ACT_TANH, m, n, P, a, sums, count, alive);
        break;
    }
}

/*
 * The monitor's record of a layer's weights, N elements each of w (now),
 * prev (before the last update) and snap (at the stretch's start), zero
 * where w is padding: out[0] += sum (dK snap - w)^2, out[1] += sum (w -
 * prev)^2, out[2] += sum prev^2, in double; then snap = w.  N is a
 * multiple of DL.
 */
VG_KERNEL void VG_FN(wnorms)(ptrdiff_t N, const T *w, const T *prev, T *snap,
                             double dK, double *out)
{
    const VD vdK = (VD){0} + dK;
    VD g[2] = {{0}}, u[2] = {{0}}, p[2] = {{0}};
    ptrdiff_t i;
    int q, h;
    for (i = 0; i < N; i += 2 * DL)       /* two sets of sums: half the latency */
        for (h = 0; h < 2 && i + h * DL < N; h++) {
            VD x = VG_FN(load_d)(w + i + h * DL), y = VG_FN(load_d)(prev + i + h * DL);
            VD t = vdK * VG_FN(load_d)(snap + i + h * DL) - x;
            g[h] = g[h] + t * t;
            u[h] = u[h] + (x - y) * (x - y);
            p[h] = p[h] + y * y;
        }
    __builtin_memcpy(snap, w, (size_t)N * sizeof(T));
    for (q = 0; q < DL; q++) {
        out[0] += g[0][q] + g[1][q];
        out[1] += u[0][q] + u[1][q];
        out[2] += p[0][q] + p[1][q];
    }
}

#undef VG_PER_ACTIVATION
#undef VG_C
#undef VG_MANT
#undef VG_BIAS

/* out[j] = sum over i, in order, of d[i, j], for all j < P. */
VG_KERNEL void VG_FN(row_sums)(int m, int P, const T *d, T *out)
{
    int i, j;
    for (j = 0; j < P; j += VL) {
        V s = VG_FN(load)(d + j);
        for (i = 1; i < m; i++)
            s = s + VG_FN(load)(d + (size_t)i * P + j);
        VG_FN(store)(out + j, s);
    }
}

#undef VG_BY_WIDTH
#undef VG_LINE
#undef VG_RB_MAX
#undef VG_JV_MAX
#undef VG_INLINE
#undef VG_KERNEL
#undef T
#undef V
#undef VI
#undef VU
#undef VL
#undef VG_T
#undef VG_U
#undef VG_IS_DOUBLE
#undef VG_TS
#undef VG_FMA
#undef VG_MAX
#undef VG_ROUND
#undef VG_SCALE
#undef VD
#undef VDI
#undef DL
