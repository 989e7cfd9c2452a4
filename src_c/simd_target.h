/*
 * Compile simd_kernels.h for the target that simd_dispatch.h has just
 * described (VG_ISA, VG_TARGET, VG_VBYTES, VG_FMA_D/S, optionally
 * VG_MAX/ROUND/SCALE_D/S for the exp, the blocking, VG_FWD_SEGMENT for
 * double only), in
 * double and in float, then forget the target so the next can be defined
 * (the blocking too, unless VG_KEEP_BLOCKING: the next target shares it).
 */
#define VG_T double
#define VG_U uint64_t
#define VG_IS_DOUBLE 1
#define VG_TS d
#define VG_FMA VG_FMA_D
#ifdef VG_ROUND_D
#define VG_MAX VG_MAX_D
#define VG_ROUND VG_ROUND_D
#define VG_SCALE VG_SCALE_D
#endif
#include "simd_kernels.h"

/* float: 4 lanes, each broadcast reused by half as many column blocks;
   the buffer made float32 epochs ~8% slower (docs/kernels.md) */
#undef VG_FWD_SEGMENT

#define VG_T float
#define VG_U uint32_t
#define VG_IS_DOUBLE 0
#define VG_TS s
#define VG_FMA VG_FMA_S
#ifdef VG_ROUND_S
#define VG_MAX VG_MAX_S
#define VG_ROUND VG_ROUND_S
#define VG_SCALE VG_SCALE_S
#endif
#include "simd_kernels.h"

#undef VG_ISA
#undef VG_TARGET
#undef VG_VBYTES
#undef VG_FMA_D
#undef VG_FMA_S
#undef VG_MAX_D
#undef VG_MAX_S
#undef VG_ROUND_D
#undef VG_ROUND_S
#undef VG_SCALE_D
#undef VG_SCALE_S
#undef VG_FWD_SEGMENT
#ifndef VG_KEEP_BLOCKING
#undef VG_FWD_SMALL_RB
#undef VG_FWD_LARGE_RB
#undef VG_FWD_LARGE_M
#undef VG_FWD_JMAX
#undef VG_FWD_NARROW_RB
#undef VG_FWD_NARROW_JV
#undef VG_GRAD_KB
#undef VG_GRAD_JMAX
#endif
#undef VG_KEEP_BLOCKING
