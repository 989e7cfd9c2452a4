/*
 * The kernels of simd_kernels.h compiled for every target this compiler
 * can build, in one translation unit, and the choice among them at run time.
 *
 *   avx512    AVX-512F, 64-byte vectors, 32 registers
 *   avx2      AVX2 + FMA (x86-64-v3), 32-byte vectors, 16 registers
 *   baseline  what every CPU of the architecture runs: SSE2 on x86-64,
 *             NEON on aarch64 (16-byte vectors), no FMA
 *   blas      no hand-written kernel: SciPy's BLAS and scalar loops in
 *             _kernels.pyx (also the only path without GCC/Clang)
 *
 * No -march flag: each x86 target is selected per function with the
 * target attribute, so the extension runs on any x86-64 CPU and uses what
 * it has.  vg_path_supported() asks CPUID (__builtin_cpu_supports, which
 * also checks that the OS saves the registers).
 */
#ifndef VG_SIMD_DISPATCH_H
#define VG_SIMD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "vg_codes.h"

enum vg_path {
    VG_PATH_BLAS = 0,
    VG_PATH_BASELINE = 1,
    VG_PATH_AVX2 = 2,
    VG_PATH_AVX512 = 3,
    VG_N_PATHS = 4
};


#define VG_OPS_FIELDS(T, S)                                                    \
    void (*fwd_##S)(int m, int nin, int P, const T *const *rows, int m_ahead,  \
                    const T *WT, T *Z, T *copy);                               \
    void (*grad_##S)(int m, int nin, int P, const T *A, int lda, const T *D,   \
                     T beta, T alpha, T *WT);                                  \
    void (*act_bias_##S)(int act, int m, int n, int P, const T *b, T *a,       \
                         T *zout);                                             \
    void (*delta_out_##S)(int cost, int m, int nL, int P, const T *a,          \
                          const T *Y, const int64_t *labels,                   \
                          const int64_t *idx, ptrdiff_t r0, T *delta);         \
    void (*dact_##S)(int act, int m, int n, int P, const T *a, T *dp);         \
    void (*row_sums_##S)(int m, int P, const T *d, T *out);                    \
    void (*stats_##S)(int act, int m, int n, int P, const T *a, double *sums,  \
                      int64_t *count, double *alive);                          \
    void (*wnorms_##S)(ptrdiff_t N, const T *w, const T *prev, T *snap,        \
                       double dK, double *out);

/* The kernels of one path, for double (_d) and float (_s). */
typedef struct {
    int vector_bytes;       /* rows of activations are padded to this */
    int small_update_rows;  /* mini-batches of at most this many rows update
                               the weights with BLAS, larger ones with grad */
    VG_OPS_FIELDS(double, d)
    VG_OPS_FIELDS(float, s)
} vg_ops;

#if defined(__GNUC__) || defined(__clang__)
#define VG_HAVE_SIMD 1
#else
#define VG_HAVE_SIMD 0
#endif

#if VG_HAVE_SIMD

#if defined(__x86_64__)
#include <immintrin.h>
#define VG_HAVE_X86 1
#else
#define VG_HAVE_X86 0
#endif

/* ---- 16 vector registers: the blocking of baseline and avx2 ---- */
#define VG_FWD_SMALL_RB 5
#define VG_FWD_LARGE_RB 6
#define VG_FWD_LARGE_M 12
#define VG_FWD_JMAX 2
#define VG_FWD_NARROW_RB 5
#define VG_FWD_NARROW_JV 2
#define VG_GRAD_KB 6
#define VG_GRAD_JMAX 2

/* ---- baseline: 16-byte vectors, no FMA ---- */
#define VG_ISA baseline
#define VG_TARGET
#define VG_VBYTES 16
#define VG_FMA_D(a, b, c) ((a) * (b) + (c))
#define VG_FMA_S(a, b, c) ((a) * (b) + (c))
#if VG_HAVE_X86
#define VG_FWD_SEGMENT 64   /* SSE2 has no broadcast from memory (NEON has) */
#endif
#define VG_KEEP_BLOCKING
#include "simd_target.h"

#if VG_HAVE_X86
/* ---- AVX2 + FMA: 32-byte vectors, 16 ymm registers ---- */
#define VG_ISA avx2
#define VG_TARGET __attribute__((target("avx2,fma")))
#define VG_VBYTES 32
#define VG_FMA_D(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VG_FMA_S(a, b, c) _mm256_fmadd_ps(a, b, c)
#include "simd_target.h"

/* ---- AVX-512F: 64-byte vectors, 32 zmm registers ---- */
#define VG_ISA avx512
#define VG_TARGET __attribute__((target("avx512f")))
#define VG_VBYTES 64
#define VG_FMA_D(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VG_FMA_S(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VG_MAX_D(a, b) _mm512_max_pd(a, b)
#define VG_MAX_S(a, b) _mm512_max_ps(a, b)
#define VG_ROUND_D(a) _mm512_roundscale_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VG_ROUND_S(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VG_SCALE_D(p, n) _mm512_scalef_pd(p, n)
#define VG_SCALE_S(p, n) _mm512_scalef_ps(p, n)
#define VG_FWD_SMALL_RB 5
#define VG_FWD_LARGE_RB 6
#define VG_FWD_LARGE_M 12
#define VG_FWD_JMAX 4
#define VG_FWD_NARROW_RB 10
#define VG_FWD_NARROW_JV 2
#define VG_GRAD_KB 6
#define VG_GRAD_JMAX 4
#include "simd_target.h"
#endif  /* VG_HAVE_X86 */

#define VG_OPS_ENTRIES(isa, S)                                                 \
    vg_fwd_##isa##_##S, vg_grad_##isa##_##S, vg_act_bias_##isa##_##S,          \
    vg_delta_out_##isa##_##S, vg_dact_##isa##_##S, vg_row_sums_##isa##_##S,     \
    vg_stats_##isa##_##S, vg_wnorms_##isa##_##S
#define VG_OPS(isa, vbytes, small_rows)                                        \
    {vbytes, small_rows, VG_OPS_ENTRIES(isa, d), VG_OPS_ENTRIES(isa, s)}

#if VG_HAVE_X86
static const vg_ops vg_ops_avx512 = VG_OPS(avx512, 64, 32);
static const vg_ops vg_ops_avx2 = VG_OPS(avx2, 32, 0);
#endif
static const vg_ops vg_ops_baseline = VG_OPS(baseline, 16, 32);

#endif  /* VG_HAVE_SIMD */

/* 1 when this build and this CPU can run the path. */
static int vg_path_supported(int path)
{
    switch (path) {
    case VG_PATH_BLAS:
        return 1;
#if VG_HAVE_SIMD
    case VG_PATH_BASELINE:
        return 1;
#endif
#if VG_HAVE_SIMD && VG_HAVE_X86
    case VG_PATH_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case VG_PATH_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return 0;
    }
}

/* The kernels of a supported path; NULL for blas (and unsupported ones). */
static const vg_ops *vg_path_ops(int path)
{
    if (!vg_path_supported(path))
        return NULL;
    switch (path) {
#if VG_HAVE_SIMD
    case VG_PATH_BASELINE:
        return &vg_ops_baseline;
#endif
#if VG_HAVE_SIMD && VG_HAVE_X86
    case VG_PATH_AVX2:
        return &vg_ops_avx2;
    case VG_PATH_AVX512:
        return &vg_ops_avx512;
#endif
    default:
        return NULL;
    }
}

#endif  /* VG_SIMD_DISPATCH_H */
