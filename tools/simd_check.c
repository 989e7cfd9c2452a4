/*
 * A small C test of the hand-written kernels (src_c/simd_*.h), without
 * Python: every path this build and CPU can run, double and float, against
 * plain scalar loops written here.  Used by tools/cross_aarch64.sh (built
 * with a cross compiler and run under qemu-user) and runnable natively:
 *
 *   gcc -O2 -ffp-contract=off -Isrc_c tools/simd_check.c -lm -o /tmp/simd_check
 *   /tmp/simd_check
 *
 * Checks: the products (forward, weight update) to a relative 1e-13 /
 * 1e-5 of the scalar sums; the sigmoid and tanh to 4 ulp of the formulas
 * with libm's exp/expm1; softsign, ReLU, the output error, every
 * activation's derivative (d f'(z) from a) and row sums exactly (the same
 * operations in the same order); the row copy of the forward kernel
 * exactly; the monitor's sums (stats, wnorms) to a relative 1e-13; no
 * write past the end of any output (guard elements).  Prints one line per
 * path and a checksum of the baseline path's outputs of the sigmoid
 * network (products, sigmoid, output error, weight update): the baseline
 * has no FMA, so it computes the same bits on every architecture (x86-64
 * SSE2, aarch64 NEON).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd_dispatch.h"

static const char *path_names[VG_N_PATHS] = {"blas", "baseline", "avx2", "avx512"};
static int failures = 0;
static uint64_t checksum = 1469598103934665603ull;     /* FNV-1a */

static uint64_t rng_state = 88172645463325252ull;
static double urand(void)      /* xorshift64, in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void hash_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t i;
    for (i = 0; i < n; i++) {
        checksum ^= c[i];
        checksum *= 1099511628211ull;
    }
}

static void fail(const char *path, const char *what, const char *type, int m, int n,
                 double err)
{
    failures++;
    printf("FAIL %s %s (%s) m=%d n=%d: error %.3g\n", path, what, type, m, n, err);
}

#define GUARD 7.25      /* written past every output; must survive */

#define DEFINE_CHECKS(T, S, TOL)                                               \
static void check_##S(const char *path, const vg_ops *ops, int hash)          \
{                                                                              \
    static const int shapes[][3] = {   /* m, nin, nout */                      \
        {1, 1, 1}, {3, 5, 2}, {10, 784, 30}, {10, 30, 10}, {7, 13, 17},        \
        {12, 40, 33}, {40, 70, 100}, {100, 9, 64}, {5, 3, 130}};               \
    const int lanes = ops->vector_bytes / (int)sizeof(T);                      \
    size_t s;                                                                  \
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {                   \
        int m = shapes[s][0], nin = shapes[s][1], nout = shapes[s][2];         \
        int P = (nout + lanes - 1) / lanes * lanes, Pin = (nin + lanes - 1) / lanes * lanes; \
        int nX = m + 5, i, j, k, ahead = m < 3 ? m : 3;                        \
        T *X = malloc(sizeof(T) * (size_t)nX * nin);                           \
        T *WT = malloc(sizeof(T) * ((size_t)nin * P + 1));                     \
        T *Z = malloc(sizeof(T) * ((size_t)m * P + 1));                        \
        T *Z2 = malloc(sizeof(T) * ((size_t)m * P + 1));                       \
        T *copy = malloc(sizeof(T) * ((size_t)m * nin + 1));                   \
        T *D = malloc(sizeof(T) * ((size_t)m * P + 1));                        \
        T *Y = malloc(sizeof(T) * ((size_t)nX * nout));                        \
        T *b = malloc(sizeof(T) * (size_t)nout);                               \
        T *out = malloc(sizeof(T) * ((size_t)P + 1));                          \
        T *out2 = malloc(sizeof(T) * ((size_t)m * P + 1));                     \
        T *A = malloc(sizeof(T) * ((size_t)m * Pin));                          \
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)nX);                   \
        int64_t *labels = malloc(sizeof(int64_t) * (size_t)m);                 \
        const T **rows = malloc(sizeof(T *) * (size_t)(m + ahead));            \
        double err, nrm;                                                       \
        for (i = 0; i < nX * nin; i++) X[i] = (T)(urand() - 0.5);              \
        for (k = 0; k < nin; k++)                                              \
            for (j = 0; j < P; j++)                                            \
                WT[k * P + j] = j < nout ? (T)(urand() - 0.5) : (T)0;          \
        for (i = 0; i < nX; i++) idx[i] = (int64_t)(urand() * nX);             \
        for (i = 0; i < m + ahead; i++) rows[i] = X + idx[i] * nin;            \
        for (j = 0; j < nout; j++) b[j] = (T)(4 * urand() - 2);                \
        WT[(size_t)nin * P] = Z[(size_t)m * P] = copy[(size_t)m * nin] = (T)GUARD; \
        /* forward product, with the row copy */                              \
        ops->fwd_##S(m, nin, P, rows, ahead, WT, Z, copy);                     \
        err = 0; nrm = 0;                                                      \
        for (i = 0; i < m; i++)                                                \
            for (j = 0; j < P; j++) {                                          \
                double ref = 0;                                                \
                for (k = 0; k < nin; k++)                                      \
                    ref += (double)rows[i][k] * WT[k * P + j];                 \
                err = fmax(err, fabs(Z[i * P + j] - ref));                     \
                nrm = fmax(nrm, fabs(ref));                                    \
            }                                                                  \
        if (err > TOL * (nrm + 1) * nin) fail(path, "fwd", #T, m, nin, err);   \
        for (i = 0; i < m; i++)                                                \
            if (memcmp(copy + (size_t)i * nin, rows[i], sizeof(T) * nin) != 0) \
                fail(path, "fwd copy", #T, m, nin, 1);                         \
        if (Z[(size_t)m * P] != (T)GUARD || copy[(size_t)m * nin] != (T)GUARD) \
            fail(path, "fwd guard", #T, m, nin, 1);                            \
        if (hash) hash_bytes(Z, sizeof(T) * (size_t)m * P);                    \
        /* the other activations + bias, then sigmoid + bias, keeping z */    \
        memcpy(Z2, Z, sizeof(T) * (size_t)m * P);                              \
        for (i = 0; i < m * P; i++) Z[i] = (T)(60 * urand() - 30);             \
        Z[0] = (T)-745.5; if (m * P > 1) Z[1] = (T)1e-300;                     \
        memcpy(Z2, Z, sizeof(T) * (size_t)m * P);                              \
        Z2[(size_t)m * P] = (T)GUARD;                                          \
        for (k = VG_ACT_TANH; k < VG_N_ACTS; k++) {                            \
            memcpy(D, Z2, sizeof(T) * (size_t)m * P);                          \
            D[(size_t)m * P] = (T)GUARD;                                       \
            ops->act_bias_##S(k, m, nout, P, b, D, NULL);                      \
            err = 0;                                                           \
            for (i = 0; i < m; i++)                                            \
                for (j = 0; j < nout; j++) {                                   \
                    T z = Z2[i * P + j] + b[j], want;                          \
                    T got = D[i * P + j];                                      \
                    if (k == VG_ACT_TANH) {                                    \
                        double e = expm1(-2 * fabs((double)z));                \
                        double ref = copysign(-e / (2 + e), (double)z);        \
                        double ulp = sizeof(T) == 8 ? 2.220446049250313e-16 : 1.1920929e-07; \
                        err = fmax(err, fabs(got - ref) / fmax(fabs(ref), 1e-300) / ulp); \
                        continue;                                              \
                    }                                                          \
                    want = k == VG_ACT_SOFTSIGN ? z / (1 + (z < 0 ? -z : z))   \
                                                : (z < 0 ? (T)0 : z);          \
                    if (memcmp(&want, &got, sizeof(T)) != 0)                   \
                        fail(path, k == VG_ACT_SOFTSIGN ? "softsign" : "relu", #T, m, nout, got - want); \
                }                                                              \
            if (err > 4) fail(path, "tanh (ulp)", #T, m, nout, err);           \
            if (D[(size_t)m * P] != (T)GUARD) fail(path, "act_bias guard", #T, m, nout, 1); \
        }                                                                      \
        {                                                                      \
            T *zkeep = D;                                                      \
            ops->act_bias_##S(VG_ACT_SIGMOID, m, nout, P, b, Z, zkeep);        \
            err = 0;                                                           \
            for (i = 0; i < m; i++)                                            \
                for (j = 0; j < nout; j++) {                                   \
                    T z = Z2[i * P + j] + b[j];                                \
                    double e = exp(-fabs((double)z));                          \
                    double ref = (z >= 0 ? 1.0 : e) / (1.0 + e);               \
                    double tiny = sizeof(T) == 8 ? 2.2250738585072014e-308 : 1.1754944e-38; \
                    double ulp = (sizeof(T) == 8 ? 2.220446049250313e-16 : 1.1920929e-07); \
                    err = fmax(err, fabs(Z[i * P + j] - ref) / fmax(fabs(ref), tiny) / ulp); \
                    if (zkeep[i * P + j] != z) fail(path, "sigmoid z", #T, m, nout, 1); \
                }                                                              \
            if (err > 4) fail(path, "sigmoid (ulp)", #T, m, nout, err);        \
            if (hash) hash_bytes(Z, sizeof(T) * (size_t)m * P);                \
        }                                                                      \
        /* output error, both costs, Y rows by idx or by r0, or labels */      \
        for (i = 0; i < m; i++) labels[i] = (int64_t)(urand() * nout);         \
        for (i = 0; i < nX * nout; i++) Y[i] = (T)urand();                     \
        for (k = 0; k < 6; k++) {                                              \
            int cost = k & 1, form = k >> 1;                                   \
            D[(size_t)m * P] = (T)GUARD;                                       \
            ops->delta_out_##S(cost, m, nout, P, Z, Y, form == 2 ? labels : NULL, \
                               form == 0 ? idx : NULL, 2, D);                  \
            for (i = 0; i < m; i++)                                            \
                for (j = 0; j < P; j++) {                                      \
                    T a = Z[i * P + j], y, want;                               \
                    if (form == 2) y = j == labels[i] ? (T)1 : (T)0;           \
                    else y = Y[(form == 0 ? idx[i] : 2 + i) * nout + (j < nout ? j : 0)]; \
                    want = a - y;                                              \
                    if (cost == VG_COST_QUADRATIC) want = want * (a * (1 - a)); \
                    if (j >= nout) want = 0;                                   \
                    if (memcmp(&want, &D[i * P + j], sizeof(T)) != 0)          \
                        fail(path, "delta_out", #T, m, nout, D[i * P + j] - want); \
                }                                                              \
            if (D[(size_t)m * P] != (T)GUARD) fail(path, "delta_out guard", #T, m, nout, 1); \
            if (hash) hash_bytes(D, sizeof(T) * (size_t)m * P);                \
        }                                                                      \
        /* row sums, then a (1 - a) */                                         \
        out[P] = (T)GUARD;                                                     \
        ops->row_sums_##S(m, P, D, out);                                       \
        for (j = 0; j < P; j++) {                                              \
            T want = D[j];                                                     \
            for (i = 1; i < m; i++) want += D[i * P + j];                      \
            if (memcmp(&want, &out[j], sizeof(T)) != 0)                        \
                fail(path, "row_sums", #T, m, P, out[j] - want);               \
        }                                                                      \
        if (out[P] != (T)GUARD) fail(path, "row_sums guard", #T, m, P, 1);     \
        /* d f'(z) from a, every activation (a: the sigmoid's, and 2a - 1) */ \
        memcpy(Z2, D, sizeof(T) * (size_t)m * P);                              \
        for (k = VG_ACT_SIGMOID; k < VG_N_ACTS; k++) {                         \
            memcpy(D, Z2, sizeof(T) * (size_t)m * P);                          \
            for (i = 0; i < m * P; i++)                                        \
                out2[i] = k == VG_ACT_SIGMOID ? Z[i] : 2 * Z[i] - 1;           \
            ops->dact_##S(k, m, nout, P, out2, D);                             \
            for (i = 0; i < m; i++)                                            \
                for (j = 0; j < P; j++) {                                      \
                    T s_ = out2[i * P + j], d_ = Z2[i * P + j], t_, want;      \
                    t_ = 1 - (s_ < 0 ? -s_ : s_);                              \
                    want = k == VG_ACT_TANH ? d_ * ((1 - s_) * (1 + s_))       \
                         : k == VG_ACT_SOFTSIGN ? d_ * (t_ * t_)               \
                         : k == VG_ACT_RELU ? d_ * (s_ > 0 ? (T)1 : (T)0)      \
                         : d_ * (s_ * (1 - s_));                               \
                    if (j >= nout) want = 0;                                   \
                    if (memcmp(&want, &D[i * P + j], sizeof(T)) != 0)          \
                        fail(path, "dact", #T, m, nout, D[i * P + j] - want);  \
                }                                                              \
        }                                                                      \
        memcpy(D, Z2, sizeof(T) * (size_t)m * P);                              \
        ops->dact_##S(VG_ACT_SIGMOID, m, nout, P, Z, D);                       \
        /* the monitor's sums over the activations */                         \
        for (k = VG_ACT_SIGMOID; k < VG_N_ACTS; k++) {                         \
            double sums[2 * VG_STATS_LANES] = {0}, s1 = 0, s2 = 0, ws = 0, ws2 = 0; \
            int64_t cnt[VG_STATS_LANES] = {0}, c = 0, wc = 0;                  \
            double *alive = calloc((size_t)P, sizeof(double));                 \
            for (i = 0; i < m * P; i++)                                        \
                out2[i] = k == VG_ACT_SIGMOID ? Z[i] : (T)(2.2 * Z[i] - 1.1);  \
            ops->stats_##S(k, m, nout, P, out2, sums, cnt, alive);             \
            for (j = 0; j < VG_STATS_LANES; j++) {                             \
                s1 += sums[j]; s2 += sums[VG_STATS_LANES + j]; c += cnt[j];    \
            }                                                                  \
            for (i = 0; i < m; i++)                                            \
                for (j = 0; j < nout; j++) {                                   \
                    double x = out2[i * P + j];                                \
                    ws += x; ws2 += x * x;                                     \
                    if (k == VG_ACT_SIGMOID) wc += x <= 0.01 || x >= 1 - 0.01; \
                    else if (k != VG_ACT_RELU) wc += fabs(x) >= 1 - 0.01;      \
                    if (k == VG_ACT_RELU && x > 0 && alive[j] != 1)            \
                        fail(path, "stats alive", #T, m, nout, j);             \
                }                                                              \
            if (fabs(s1 - ws) > 1e-13 * (fabs(ws) + m * nout)                  \
                    || fabs(s2 - ws2) > 1e-13 * (ws2 + 1e-300) || c != wc)    \
                fail(path, "stats", #T, m, nout, fabs(s1 - ws) + fabs(s2 - ws2) + (c - wc)); \
            free(alive);                                                       \
        }                                                                      \
        /* the monitor's pass over the weights (no draws from urand: the      \
           baseline checksum stays that of the sigmoid network) */            \
        {                                                                      \
            size_t N = (size_t)nin * P;                                        \
            T *prev = malloc(sizeof(T) * N), *snap = malloc(sizeof(T) * N);    \
            double o[3] = {0}, w3[3] = {0}, dK = 0.98;                          \
            for (i = 0; i < (int)N; i++) {                                     \
                prev[i] = (T)(0.5 * sin(i)); snap[i] = (T)(0.5 * cos(i));     \
                w3[0] += (dK * snap[i] - WT[i]) * (dK * snap[i] - WT[i]);      \
                w3[1] += ((double)WT[i] - prev[i]) * ((double)WT[i] - prev[i]); \
                w3[2] += (double)prev[i] * prev[i];                            \
            }                                                                  \
            ops->wnorms_##S((ptrdiff_t)N, WT, prev, snap, dK, o);              \
            for (i = 0; i < 3; i++)                                            \
                if (fabs(o[i] - w3[i]) > 1e-13 * w3[i])                        \
                    fail(path, "wnorms", #T, nin, P, o[i] - w3[i]);            \
            if (memcmp(snap, WT, sizeof(T) * N) != 0) fail(path, "wnorms copy", #T, nin, P, 1); \
            free(prev); free(snap);                                            \
        }                                                                      \
        /* weight update WT = beta WT + alpha A^T D (A: m x nin, stride Pin) */ \
        for (i = 0; i < m * Pin; i++) A[i] = (T)(urand() - 0.5);               \
        {                                                                      \
            T *W0 = malloc(sizeof(T) * (size_t)nin * P);                       \
            T beta = (T)0.999, alpha = (T)-0.05;                               \
            memcpy(W0, WT, sizeof(T) * (size_t)nin * P);                       \
            ops->grad_##S(m, nin, P, A, Pin, D, beta, alpha, WT);              \
            err = 0; nrm = 0;                                                  \
            for (k = 0; k < nin; k++)                                          \
                for (j = 0; j < P; j++) {                                      \
                    double g = 0, ref;                                         \
                    for (i = 0; i < m; i++) g += (double)A[i * Pin + k] * D[i * P + j]; \
                    ref = (double)beta * W0[k * P + j] + (double)alpha * g;    \
                    err = fmax(err, fabs(WT[k * P + j] - ref));                \
                    nrm = fmax(nrm, fabs(ref));                                \
                    if (j >= nout && WT[k * P + j] != 0)                       \
                        fail(path, "grad padding", #T, m, nin, WT[k * P + j]); \
                }                                                              \
            if (err > TOL * (nrm + 1) * m) fail(path, "grad", #T, m, nin, err); \
            if (WT[(size_t)nin * P] != (T)GUARD) fail(path, "grad guard", #T, m, nin, 1); \
            if (hash) hash_bytes(WT, sizeof(T) * (size_t)nin * P);             \
            free(W0);                                                          \
        }                                                                      \
        free(X); free(WT); free(Z); free(Z2); free(copy); free(D); free(Y);   \
        free(b); free(out); free(out2); free(A); free(idx); free(labels); free(rows); \
    }                                                                          \
}

DEFINE_CHECKS(double, d, 1e-15)
DEFINE_CHECKS(float, s, 1e-6)

int main(void)
{
    int path, ran = 0;
    for (path = VG_PATH_BASELINE; path < VG_N_PATHS; path++) {
        const vg_ops *ops = vg_path_ops(path);
        int before = failures;
        if (ops == NULL) {
            printf("%-8s  not available on this build/CPU\n", path_names[path]);
            continue;
        }
        check_d(path_names[path], ops, path == VG_PATH_BASELINE);
        check_s(path_names[path], ops, path == VG_PATH_BASELINE);
        printf("%-8s  %s\n", path_names[path], failures == before ? "ok" : "FAILED");
        ran++;
    }
    printf("baseline checksum %016llx\n", (unsigned long long)checksum);
    printf("%d path(s) checked, %d failure(s)\n", ran, failures);
    return failures != 0 || ran == 0;
}
