/*
 * The vector layer of the hand-written kernels: vectors of one element type
 * for one target, as GCC/Clang vector extensions, and the few operations the
 * kernels use on them.  Included by simd_kernels.h once per (target, element
 * type); everything defined here is named through VG_FN, so the copies for
 * different targets and types live side by side in one translation unit.
 *
 * Set by the includer (simd_dispatch.h):
 *   VG_T, VG_U    element type and the unsigned integer of its width
 *   VG_IS_DOUBLE  1 for double, 0 for float
 *   VG_ISA, VG_TS name parts: vg_<name>_<VG_ISA>_<VG_TS>, e.g. vg_fwd_avx2_d
 *   VG_TARGET     the function attribute selecting the target (or nothing)
 *   VG_VBYTES     bytes per vector (64, 32, 16)
 *   VG_FMA(a,b,c) a*b + c, fused where the target has FMA (one rounding),
 *                 else a multiply then an add (two roundings)
 *
 * There are no masked loads or stores: rows are padded to a multiple of the
 * vector width (the callers' P), and the kernels treat ragged ends of
 * unpadded arrays (rows of X, b, Y) element by element.  Loads and stores are
 * unaligned (memcpy, which compiles to one vector move).
 */

#define VG_CAT3_(a, b, c) a##_##b##_##c
#define VG_CAT3(a, b, c) VG_CAT3_(a, b, c)
#define VG_FN(name) VG_CAT3(vg_##name, VG_ISA, VG_TS)

#define T VG_T
#define V VG_FN(v)      /* VL elements */
#define VI VG_FN(vi)    /* VL signed integers of T's width: comparison results */
#define VU VG_FN(vu)    /* VL unsigned integers of T's width: bit patterns */
#define VL ((int)(VG_VBYTES / sizeof(T)))

typedef T V __attribute__((vector_size(VG_VBYTES)));
#if VG_IS_DOUBLE
typedef int64_t VI __attribute__((vector_size(VG_VBYTES)));
#else
typedef int32_t VI __attribute__((vector_size(VG_VBYTES)));
#endif
typedef VG_U VU __attribute__((vector_size(VG_VBYTES)));

/* The monitor's double accumulators: one vector of doubles (DL lanes). */
#define VD VG_FN(vd)
#define VDI VG_FN(vdi)
#define DL ((int)(VG_VBYTES / sizeof(double)))
typedef double VD __attribute__((vector_size(VG_VBYTES)));
typedef int64_t VDI __attribute__((vector_size(VG_VBYTES)));

#define VG_FUNC VG_TARGET static inline __attribute__((always_inline))

VG_FUNC V VG_FN(load)(const T *p)
{
    V v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

VG_FUNC void VG_FN(store)(T *p, V v)
{
    __builtin_memcpy(p, &v, sizeof v);
}

/* Every lane x (x - 0 is x exactly, -0 and NaN included). */
VG_FUNC V VG_FN(set1)(T x)
{
    return x - (V){0};
}

/* Lane q holds q. */
VG_FUNC VI VG_FN(lane_index)(void)
{
    VI v;
    int q;
    for (q = 0; q < VL; q++)
        v[q] = q;
    return v;
}

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros). */
VG_FUNC V VG_FN(select)(VI mask, V a, V b)
{
    return (V)(((VI)a & mask) | ((VI)b & ~mask));
}

/* a where mask, 0 elsewhere. */
VG_FUNC V VG_FN(keep)(VI mask, V a)
{
    return (V)((VI)a & mask);
}

VG_FUNC V VG_FN(abs)(V a)
{
    return (V)((VU)a & ~((VU)VG_FN(set1)((T)-0.0)));
}

/* DL consecutive elements from p, as doubles (exact). */
VG_FUNC VD VG_FN(load_d)(const T *p)
{
#if VG_IS_DOUBLE
    return VG_FN(load)(p);
#else
    typedef float VH __attribute__((vector_size(VG_VBYTES / 2)));
    VH h;
    __builtin_memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, VD);
#endif
}

#undef VG_FUNC
