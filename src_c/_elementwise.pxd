# cython: language_level=3, cdivision=True
"""The element-wise mathematics of the compiled layer, one scalar formula each.

Shared by ``_kernels.pyx`` (its blas path) and ``_small.pyx`` (one example
or a few) through ``cimport``.  The hand-written kernels of the other paths
vectorise the same formulas in ``simd_kernels.h``, with the same operations
in the same order (so the same bits, except where their own ``exp``/``expm1``
rounds differently from the C library's).  The numpy reference twins are in
``vgcore.reference``.

Activations of the hidden layers (codes in ``vg_codes.h``); the output layer
is always sigmoid (network2's costs assume it).  Each derivative is written
from the activation ``a`` that the forward pass keeps, not from ``z``:

==========  ==========================================  ======================
name        f(z)                                        f'(z) from a = f(z)
==========  ==========================================  ======================
sigmoid     e = exp(-|z|); (z >= 0 ? 1 : e) / (1 + e)   a (1 - a)
tanh        e = expm1(-2|z|); copysign(-e / (2 + e), z) (1 - a) (1 + a)
softsign    z / (1 + |z|)                               (1 - |a|)^2
relu        z < 0 ? 0 : z                               a > 0 ? 1 : 0
==========  ==========================================  ======================

None overflows.  tanh is ``(1 - e)/(1 + e)`` with ``e = exp(-2|z|)``
written through ``expm1``: ``1 - e`` would cancel for small ``|z|``
(relative error ~eps/|z|).  ``(1 - a)(1 + a)`` is ``1 - a^2`` without its
cancellation near saturation.  A NaN ``z`` gives NaN (ReLU's test is
``z < 0``, false for NaN); softsign of an infinite ``z`` is NaN (inf/inf).
"""
from cython cimport floating
from libc.math cimport copysign, copysignf, exp, expf, expm1, expm1f, fabs, fabsf


cdef extern from "vg_codes.h" nogil:
    cdef enum vg_cost:
        VG_COST_CROSS_ENTROPY
        VG_COST_QUADRATIC
    cdef enum vg_activation:
        VG_ACT_SIGMOID
        VG_ACT_TANH
        VG_ACT_SOFTSIGN
        VG_ACT_RELU
        VG_N_ACTS
    cdef enum:                  # vg_metric (int constants: used as indices)
        VG_MON_GRAD_B
        VG_MON_GRAD_W
        VG_MON_ACT_MEAN
        VG_MON_ACT_STD
        VG_MON_SATURATED
        VG_MON_UPDATE_RATIO
        VG_N_METRICS
    const double VG_SATURATION_MARGIN
    enum: VG_STATS_LANES


cdef inline floating sigmoid_from_e(floating z, floating e) noexcept nogil:
    """The sigmoid of ``z`` given ``e = exp(-|z|)`` (computed by the caller:
    ``_small``'s cost functions take numpy's ``exp``, to give its bits)."""
    cdef floating num = e
    if z >= 0:
        num = 1
    return num / (1 + e)


cdef inline floating sigmoid(floating z) noexcept nogil:
    """``1/(1+exp(-z))`` for z >= 0, ``e/(1+e)`` with ``e = exp(z)`` else."""
    if floating is double:
        return sigmoid_from_e(z, exp(-fabs(z)))
    else:
        return sigmoid_from_e(z, expf(-fabsf(z)))


cdef inline floating activation(int act, floating z) noexcept nogil:
    """The hidden layers' activation ``act`` (a ``VG_ACT_*`` code) of ``z``."""
    cdef floating e
    if act == VG_ACT_TANH:
        if floating is double:
            e = expm1(-2 * fabs(z))
            return copysign(-e / (2 + e), z)
        else:
            e = expm1f(-2 * fabsf(z))
            return copysignf(-e / (2 + e), z)
    if act == VG_ACT_SOFTSIGN:
        if floating is double:
            return z / (1 + fabs(z))
        else:
            return z / (1 + fabsf(z))
    if act == VG_ACT_RELU:
        return 0 if z < 0 else z
    return sigmoid(z)


cdef inline floating times_prime(int act, floating d, floating a) noexcept nogil:
    """``d f'(z)`` for the activation ``act``, with ``f'(z)`` from ``a = f(z)``.

    One expression, so that ``d`` times the derivative rounds as the
    kernels always have (in float32 Cython's literal ``1`` is a double:
    ``a (1 - a)`` is formed in double and rounded once with the product).
    """
    cdef floating t
    if act == VG_ACT_TANH:
        return d * ((1 - a) * (1 + a))
    if act == VG_ACT_SOFTSIGN:
        if floating is double:
            t = 1 - fabs(a)
        else:
            t = 1 - fabsf(a)
        return d * (t * t)
    if act == VG_ACT_RELU:
        return d * (1 if a > 0 else 0)
    return d * (a * (1 - a))


cdef inline floating output_delta(int cost, floating a, floating y) noexcept nogil:
    """``delta^L`` of one (sigmoid) output unit: ``a - y`` (cross-entropy) or
    ``(a-y) a(1-a)`` (quadratic)."""
    if cost == VG_COST_CROSS_ENTROPY:
        return a - y
    return (a - y) * (a * (1 - a))
