# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of vgcore: network2's mathematics, fused and GIL-free.

Design note (invariants; the measurements behind them: ``docs/kernels.md``)
-----------
* Modelled on ``sklearn/_loss``: small ``cdef inline ... nogil`` formulas,
  ``cdef`` loops on raw pointers, and ``def`` functions that only turn
  objects validated by ``vgcore.kernels`` into pointers (nothing here checks
  shapes, dtypes, contiguity or index ranges again).  One source for
  float64 and float32 (fused type ``floating``).
* Layout: examples are ROWS.  Activations of layer ``l`` are row-major
  ``(m, n_l)`` with rows padded to ``P_l``, a multiple of the path's vector
  width (``P_0 = n_0``).  Each call copies every ``w`` TRANSPOSED and
  zero-padded into ``WT[l]`` ``(n_l, P_{l+1})`` and ``sgd_epoch`` copies it
  back at the end: in this layout every product is a sum of outer products
  (broadcast one element, multiply whole vectors of outputs).  Padding
  columns of ``delta``, ``WT`` and the weight gradients are 0; those of the
  activations and ``z`` hold harmless values and are never read as results.
* Paths (``simd_dispatch.h``), chosen once at import by CPUID or by
  ``$VGCORE_CPU``, fixed per call (``NetDims.ops``): ``avx512``, ``avx2``,
  ``baseline`` run the hand-written kernels of ``simd_kernels.h`` (forward
  and back-propagation products, the update of mini-batches of more than
  ``small_update_rows()`` rows, activation, output error, ``f'(z)``, row
  sums, the monitor's sums), one source compiled per target; ``blas`` runs
  every product with
  SciPy's BLAS (column-major: a row-major ``(r, c)`` array is BLAS's
  ``(c, r)``) and the scalar loops below.  Smaller updates (none on avx2,
  none on baseline over an SSE-only BLAS: ``set_path``) go to BLAS:
  ``WT = (1 - eta lmbda/n) WT - (eta/m) A^T D`` in one GEMM.
* ``sgd_epoch`` runs a whole epoch without returning to Python; ``delta_l``
  is computed from ``w_{l+1}`` before ``w_{l+1}`` is updated.  The forward
  kernel gathers the mini-batch's rows ``X[order[k:k+m]]`` into the
  workspace while it computes and prefetches the next ones; consecutive
  rows are used in place.  One-hot targets may come as labels in the
  epoch's order.  Whole data sets go in blocks of ``BLOCK_ROWS`` rows.
* Memory: one 64-byte aligned workspace per call, cut by ``_layout``;
  it is taken from (and given back to) a cache of one per thread, so a
  thread never shares it and nothing is allocated per mini-batch.  No
  global state is written during a call: threads may train networks at once.
* Activations: the hidden layers apply ``NetDims.act`` (sigmoid, tanh,
  softsign or ReLU), the output layer always the sigmoid (the costs'
  ``delta^L`` assume it).  Each formula is written once as a scalar in
  ``_elementwise.pxd`` (this file's blas path and ``_small`` cimport it)
  and once vectorised in ``simd_kernels.h``, the same operations in the
  same order; ``f'(z)`` is taken from ``a = f(z)``, which the pass keeps.
  With the default sigmoid every result is the same, bit for bit, as
  before the other activations existed.
* Numerics: each product output is a sum in increasing order (``k``, or
  the rows), with FMA on avx2/avx512 and multiply-then-add on baseline;
  BLAS sums in its own order.  The sigmoid is ``reference.sigmoid``'s
  formula (``exp(-|z|)`` only) and tanh ``reference.tanh``'s
  (``expm1(-2|z|)``); the SIMD paths use their own ``exp``/``expm1``
  (1-2 ulp), blas the C library's.  The other element-wise steps do the
  same operations in the same order on every path (the same bits).  The
  cross-entropy is computed from ``z`` (finite when saturated); cost sums
  and learning speeds accumulate in double.
* The monitor (``sgd_epoch(monitor=...)``, NULL ``Monitor`` otherwise)
  only reads what the pass computes anyway -- each mini-batch's
  activations after the forward pass, each layer's ``delta`` and its row
  sums -- into float64 sums, and at a record (every ``every`` mini-batches
  and after the last) the weights, once: it never changes the training's
  arithmetic (the same bits with it as without).  Its state
  (``_MonitorState``) is per call; a stretch never spans two calls.
  ``grad_w`` comes from the weights at the stretch's ends (``d^K w_0 -
  w_K``), so the training loop is not touched per mini-batch for it.
"""
import os
import threading

from cython cimport floating
from libc.math cimport exp, fabs, log1p, pow, sqrt
from libc.stdint cimport int64_t
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport dgemm, sgemm
cimport numpy as cnp
import numpy as np

from _elementwise cimport (
    VG_ACT_RELU, VG_ACT_SIGMOID, VG_ACT_SOFTSIGN, VG_ACT_TANH, VG_COST_CROSS_ENTROPY,
    VG_COST_QUADRATIC, VG_MON_ACT_MEAN, VG_MON_ACT_STD, VG_MON_GRAD_B, VG_MON_GRAD_W,
    VG_MON_SATURATED, VG_MON_UPDATE_RATIO, VG_N_ACTS, VG_N_METRICS, VG_SATURATION_MARGIN,
    VG_STATS_LANES, activation, output_delta, times_prime)

cnp.import_array()


cdef extern from "stdlib.h" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)


cdef extern from "simd_dispatch.h" nogil:
    cdef enum vg_path:
        VG_PATH_BLAS
        VG_PATH_BASELINE
        VG_PATH_AVX2
        VG_PATH_AVX512
        VG_N_PATHS
    ctypedef struct vg_ops:
        int vector_bytes
        int small_update_rows
        void (*fwd_d)(int m, int nin, int P, const double * const *rows,
                   int m_ahead, const double *WT, double *Z, double *copy) noexcept nogil
        void (*fwd_s)(int m, int nin, int P, const float * const *rows,
                   int m_ahead, const float *WT, float *Z, float *copy) noexcept nogil
        void (*grad_d)(int m, int nin, int P, const double *A, int lda,
                    const double *D, double beta, double alpha, double *WT) noexcept nogil
        void (*grad_s)(int m, int nin, int P, const float *A, int lda,
                    const float *D, float beta, float alpha, float *WT) noexcept nogil
        void (*act_bias_d)(int act, int m, int n, int P, const double *b, double *a,
                           double *zout) noexcept nogil
        void (*act_bias_s)(int act, int m, int n, int P, const float *b, float *a,
                           float *zout) noexcept nogil
        void (*delta_out_d)(int cost, int m, int nL, int P, const double *a,
                         const double *Y, const int64_t *labels,
                         const int64_t *idx, Py_ssize_t r0, double *delta) noexcept nogil
        void (*delta_out_s)(int cost, int m, int nL, int P, const float *a,
                         const float *Y, const int64_t *labels,
                         const int64_t *idx, Py_ssize_t r0, float *delta) noexcept nogil
        void (*dact_d)(int act, int m, int n, int P, const double *a,
                       double *dp) noexcept nogil
        void (*dact_s)(int act, int m, int n, int P, const float *a,
                       float *dp) noexcept nogil
        void (*row_sums_d)(int m, int P, const double *d, double *out) noexcept nogil
        void (*row_sums_s)(int m, int P, const float *d, float *out) noexcept nogil
        void (*stats_d)(int act, int m, int n, int P, const double *a, double *sums,
                        int64_t *count, double *alive) noexcept nogil
        void (*stats_s)(int act, int m, int n, int P, const float *a, double *sums,
                        int64_t *count, double *alive) noexcept nogil
        void (*wnorms_d)(Py_ssize_t N, const double *w, const double *prev, double *snap,
                         double dK, double *out) noexcept nogil
        void (*wnorms_s)(Py_ssize_t N, const float *w, const float *prev, float *snap,
                         double dK, double *out) noexcept nogil
    int vg_path_supported(int path)
    const vg_ops *vg_path_ops(int path)


#: Rows per block when a whole data set is processed.
cdef Py_ssize_t BLOCK_ROWS = 256
ROWS_PER_BLOCK = BLOCK_ROWS

#: On the blas path, mini-batches of at most this many rows update the
#: transposed weights with one GEMM; larger ones form the gradient in
#: network2's layout first (BLAS packs the long operand faster so).
cdef Py_ssize_t BLAS_SMALL_UPDATE_ROWS = 32

#: On the blas path rows of activations are padded to this many bytes (a
#: cache line; BLAS handles such widths fastest).
cdef Py_ssize_t BLAS_ROW_BYTES = 64

#: Cost codes (``vgcore.kernels`` maps the cost classes to these).
COST_CROSS_ENTROPY = VG_COST_CROSS_ENTROPY
COST_QUADRATIC = VG_COST_QUADRATIC

#: The hidden layers' activations, by name, in the order of their codes
#: (``vg_activation`` in ``vg_codes.h``; the output layer is sigmoid).
ACTIVATIONS = ("sigmoid", "tanh", "softsign", "relu")
assert (VG_ACT_SIGMOID, VG_ACT_TANH, VG_ACT_SOFTSIGN, VG_ACT_RELU) == (0, 1, 2, 3) == tuple(range(VG_N_ACTS))

#: The monitor's metrics, in the order of the last axis of its buffer
#: (``vg_metric``; see ``sgd_epoch``).
METRICS = ("grad_b", "grad_w", "act_mean", "act_std", "saturated", "update_ratio")
assert (VG_MON_GRAD_B, VG_MON_GRAD_W, VG_MON_ACT_MEAN, VG_MON_ACT_STD, VG_MON_SATURATED,
        VG_MON_UPDATE_RATIO) == tuple(range(VG_N_METRICS))

#: An activation within this distance of an asymptote counts as saturated.
SATURATION_MARGIN = VG_SATURATION_MARGIN


# ---------------------------------------------------------------------------
# Paths: which kernels run (see simd_dispatch.h)
# ---------------------------------------------------------------------------

#: Every path, fastest first, as ``$VGCORE_CPU`` names them.
PATHS = ("avx512", "avx2", "baseline", "blas")
cdef int[4] _PATH_CODES = [VG_PATH_AVX512, VG_PATH_AVX2, VG_PATH_BASELINE, VG_PATH_BLAS]

cdef int _path = VG_PATH_BLAS
cdef const vg_ops *_ops = NULL
cdef Py_ssize_t _small_rows = PY_SSIZE_T_MAX

#: OpenBLAS's names of the x86 cores whose kernels are SSE at most (no
#: AVX): where its kernel is one of these, the baseline path's own update
#: is faster than BLAS for mini-batches of any size.
SSE_BLAS_CORES = frozenset({
    "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2",
    "penryn", "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3",
    "barcelona", "bobcat", "nano"})
_sse_blas = None


def available_paths():
    """The paths this build can run on this CPU, fastest first."""
    return tuple(name for name, code in zip(PATHS, _PATH_CODES)
                 if vg_path_supported(code))


def path():
    """The name of the path in use."""
    return PATHS[list(_PATH_CODES).index(_path)]


def small_update_rows():
    """Mini-batches of at most this many rows update the weights with BLAS
    (every one on the blas path; see ``set_path``)."""
    return _small_rows


def blas_is_sse_only():
    """Whether the BLAS that the kernels call (SciPy's) has no kernels wider
    than SSE.

    OpenBLAS names its kernel (threadpoolctl's ``architecture``, which
    follows ``$OPENBLAS_CORETYPE``): SSE-only if every OpenBLAS loaded is
    one of ``SSE_BLAS_CORES``.  For another BLAS, or without threadpoolctl,
    the CPU decides: SSE-only if it cannot run the avx2 path (a BLAS may
    still use AVX there, on the few CPUs with AVX but not AVX2).  Asked
    once per process.
    """
    global _sse_blas
    if _sse_blas is None:
        cores = []
        try:
            from threadpoolctl import threadpool_info
            cores = [str(lib.get("architecture")).lower() for lib in threadpool_info()
                     if lib.get("internal_api") == "openblas"]
        except Exception:           # threadpoolctl missing or failing: the CPU decides
            pass
        if cores:
            _sse_blas = all(core in SSE_BLAS_CORES for core in cores)
        else:
            _sse_blas = "avx2" not in available_paths()
    return _sse_blas


def choose_path(value, available, what="VGCORE_CPU"):
    """The path named ``value`` (None or blank: the first of ``available``);
    ValueError naming the choices if it is unknown or not in ``available``.
    ``what`` names where ``value`` came from, for the message."""
    if value is None or value.strip() == "":
        return available[0]
    name = value.strip().lower()
    if name not in PATHS:
        raise ValueError(f"{what}={value!r} is not a path of vgcore's kernels; "
                         f"choose one of {', '.join(PATHS)} (unset: the fastest this "
                         f"CPU runs)")
    if name not in available:
        raise ValueError(f"{what}={value!r}: this CPU (or this build) cannot run "
                         f"the {name} kernels; it can run: {', '.join(available)}")
    return name


def set_path(name, what="path"):
    """Use the kernels of path ``name`` from the next call on; returns the
    old name.  For tests and benchmarks (every path computes the same
    mathematics); ``$VGCORE_CPU`` is the way to choose one otherwise.

    The path also decides which mini-batches update the weights with one
    BLAS GEMM (``small_update_rows``): those of at most 32 rows on avx512
    and on baseline, none on avx2 (its own update is faster there); but on
    baseline none either when the BLAS is SSE-only (``blas_is_sse_only``),
    as it is on the CPUs that run baseline by default (measured:
    ``docs/kernels.md``, "Baseline (SSE2) tuning").
    """
    global _path, _ops, _small_rows
    name = choose_path(name, available_paths(), what)
    old = path()
    _path = _PATH_CODES[PATHS.index(name)]
    _ops = vg_path_ops(_path)
    if _ops == NULL:
        _small_rows = PY_SSIZE_T_MAX
    elif _path == VG_PATH_BASELINE and blas_is_sse_only():
        _small_rows = 0
    else:
        _small_rows = _ops.small_update_rows
    return old


set_path(os.environ.get("VGCORE_CPU"), "VGCORE_CPU")


# ---------------------------------------------------------------------------
# Element-wise mathematics (the activations, their derivatives and the output
# error are _elementwise.pxd's, shared with _small)
# ---------------------------------------------------------------------------

cdef inline double _cross_entropy_from_z(double z, double y) noexcept nogil:
    """``-y ln(sigma(z)) - (1-y) ln(1-sigma(z))``, stably from ``z``.

    That is ``y softplus(-z) + (1-y) softplus(z)`` with ``softplus(t) =
    log(1 + exp(t)) = max(t, 0) + log1p(exp(-|t|))`` (never overflows); the
    two share ``log1p(exp(-|z|))``, computed once (C compilers do not merge
    libm calls: half the cost of two softplus calls, the same bits).
    """
    cdef double tail = log1p(exp(-fabs(z)))
    return (y * ((-z if z < 0 else 0.0) + tail)
            + (1.0 - y) * ((z if z > 0 else 0.0) + tail))


# ---------------------------------------------------------------------------
# BLAS, dispatched on the fused type
# ---------------------------------------------------------------------------

cdef enum:
    NO_TRANS = 78    # ord('N')
    TRANS = 84       # ord('T')


cdef inline void _gemm(char ta, char tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                       floating alpha, const floating *A, Py_ssize_t lda,
                       const floating *B, Py_ssize_t ldb, floating beta,
                       floating *C, Py_ssize_t ldc) noexcept nogil:
    """Column-major ``C = alpha op(A) op(B) + beta C``."""
    cdef int m_ = <int> m, n_ = <int> n, k_ = <int> k
    cdef int lda_ = <int> lda, ldb_ = <int> ldb, ldc_ = <int> ldc
    if floating is double:
        dgemm(&ta, &tb, &m_, &n_, &k_, &alpha, <double *> A, &lda_,
              <double *> B, &ldb_, &beta, C, &ldc_)
    else:
        sgemm(&ta, &tb, &m_, &n_, &k_, &alpha, <float *> A, &lda_,
              <float *> B, &ldb_, &beta, C, &ldc_)


# ---------------------------------------------------------------------------
# Network description and workspace layout
# ---------------------------------------------------------------------------

cdef struct NetDims:
    int L                       # number of weight layers
    const Py_ssize_t *n         # widths n[0..L]
    const Py_ssize_t *P         # padded row strides P[0..L] (P[0] = n[0])
    const vg_ops *ops           # the hand-written kernels, NULL on the blas path
    Py_ssize_t small_rows       # updates of at most this many rows go to BLAS
    int act                     # the hidden layers' activation (VG_ACT_*)


cdef inline int _layer_act(NetDims d, int l) noexcept nogil:
    """The activation of weight layer ``l``: ``d.act``, sigmoid for the output."""
    return d.act if l < d.L - 1 else VG_ACT_SIGMOID


cdef inline Py_ssize_t _round16(Py_ssize_t x) noexcept nogil:
    return (x + 15) // 16 * 16


cdef Py_ssize_t _layout(NetDims d, Py_ssize_t rows, bint gather, floating *work,
                        floating **WT, floating **A, floating **D,
                        floating **Dp, floating **Z, floating **sums,
                        floating **G) noexcept nogil:
    """Cut ``work`` into the buffers of one call; returns the element count.

    ``WT[l]`` (n_l x P_{l+1}), ``A[0]`` (rows x n_0, only if ``gather``),
    ``A[l]`` (rows x P_l), two delta buffers and ``Z`` (rows x max P),
    ``sums`` (max P), and ``G`` (the largest n_{l+1} x P_l: the weights of
    back-propagation, or the gradient of a large mini-batch on the blas
    path).  With ``work == NULL``
    only the size is computed.  Every buffer starts on a 64-byte boundary.
    """
    cdef Py_ssize_t off = 0, maxP = 0, maxW = 0
    cdef int l
    for l in range(1, d.L + 1):
        if d.P[l] > maxP:
            maxP = d.P[l]
        if d.n[l] * d.P[l - 1] > maxW:
            maxW = d.n[l] * d.P[l - 1]
    if work != NULL:
        G[0] = work + off
    off += _round16(maxW)
    for l in range(d.L):
        if work != NULL:
            WT[l] = work + off
        off += _round16(d.n[l] * d.P[l + 1])
    if gather:
        if work != NULL:
            A[0] = work + off
        off += _round16(rows * d.n[0])
    for l in range(1, d.L + 1):
        if work != NULL:
            A[l] = work + off
        off += _round16(rows * d.P[l])
    if work != NULL:
        D[0] = work + off
        Dp[0] = work + off + _round16(rows * maxP)
        Z[0] = work + off + 2 * _round16(rows * maxP)
        sums[0] = work + off + 3 * _round16(rows * maxP)
    off += 3 * _round16(rows * maxP) + _round16(maxP)
    return off


cdef void _transpose(Py_ssize_t r, Py_ssize_t c, const floating *src, Py_ssize_t lds,
                     floating *dst, Py_ssize_t ldd) noexcept nogil:
    """``dst[j, i] = src[i, j]`` for ``i < r``, ``j < c`` (row strides ``lds``,
    ``ldd``); the padding ``dst[j, r:ldd]`` is set to zero."""
    cdef Py_ssize_t i, j
    for j in range(c):
        for i in range(r):
            dst[j * ldd + i] = src[i * lds + j]
        for i in range(r, ldd):
            dst[j * ldd + i] = 0


cdef void _transpose_in(NetDims d, floating **W, floating **WT) noexcept nogil:
    """``WT[l][k, j] = W[l][j, k]``, padding columns set to zero."""
    cdef int l
    for l in range(d.L):
        _transpose(d.n[l + 1], d.n[l], W[l], d.n[l], WT[l], d.P[l + 1])


cdef void _transpose_out(NetDims d, floating **WT, floating **W) noexcept nogil:
    """``W[l][j, k] = WT[l][k, j]`` (the weights back into network2's layout)."""
    cdef int l
    for l in range(d.L):
        _transpose(d.n[l], d.n[l + 1], WT[l], d.P[l + 1], W[l], d.n[l])


# ---------------------------------------------------------------------------
# Loops (raw pointers, no GIL)
# ---------------------------------------------------------------------------

cdef void _forward(NetDims d, floating **WT, floating **B, floating **A,
                   Py_ssize_t m, floating *z_last, const floating **rows,
                   const floating *X, const int64_t *idx,
                   Py_ssize_t m_ahead) noexcept nogil:
    """Forward pass of ``m`` rows: ``A[l+1] = f(A[l] WT[l] + b[l]^T)``, f the
    activation of the layer (``_layer_act``).

    The input rows are ``X[idx[i]]`` when ``idx`` is not NULL (they are then
    also copied into ``A[0]``, which the weight update needs, and the rows
    ``X[idx[m .. m+m_ahead-1]]`` of the next mini-batch are prefetched),
    else ``A[0]`` (row stride ``n[0]``).  ``A[1..L]`` receive the
    activations (row stride ``P[l]``).  When ``z_last`` is not NULL it
    receives the output layer's ``z`` (row stride ``P[L]``).  ``rows`` is
    room for ``2 m`` pointers.
    """
    cdef int l, f
    cdef Py_ssize_t i, nin, nout, lda, P, n0 = d.n[0], ahead
    cdef floating *a
    cdef floating *copy
    cdef const floating *b
    cdef const vg_ops *ops = d.ops
    if idx != NULL and ops == NULL:    # BLAS needs the rows gathered
        for i in range(m):
            memcpy(A[0] + i * n0, X + idx[i] * n0, n0 * sizeof(floating))
    for l in range(d.L):
        nin = d.n[l]
        nout = d.n[l + 1]
        lda = d.P[l]
        P = d.P[l + 1]
        a = A[l + 1]
        b = B[l]
        f = _layer_act(d, l)
        if ops != NULL:
            copy = NULL
            ahead = 0
            if l == 0 and idx != NULL:
                ahead = m_ahead
                for i in range(m + ahead):
                    rows[i] = X + idx[i] * n0
                copy = A[0]
            else:
                for i in range(m):
                    rows[i] = A[l] + i * lda
            if floating is double:
                ops.fwd_d(<int> m, <int> nin, <int> P, rows, <int> ahead, WT[l], a, copy)
            else:
                ops.fwd_s(<int> m, <int> nin, <int> P, rows, <int> ahead, WT[l], a, copy)
        else:
            _gemm(NO_TRANS, NO_TRANS, nout, m, nin, <floating> 1.0,
                  WT[l], P, A[l], lda, <floating> 0.0, a, P)
        _act_bias(ops, f, m, nout, P, b, a, z_last if l == d.L - 1 else NULL)


cdef void _act_bias(const vg_ops *ops, int f, Py_ssize_t m, Py_ssize_t n, Py_ssize_t P,
                    const floating *b, floating *a, floating *zout) noexcept nogil:
    """``a[i, j] = f(a[i, j] + b[j])`` over ``m`` rows (stride ``P``), ``f``
    the activation ``f``; ``zout`` (if not NULL) receives ``z``.  On the
    SIMD paths the padding columns get ``f(a)`` too (harmless values)."""
    cdef Py_ssize_t i, j
    cdef floating z
    if ops != NULL:
        if floating is double:
            ops.act_bias_d(f, <int> m, <int> n, <int> P, b, a, zout)
        else:
            ops.act_bias_s(f, <int> m, <int> n, <int> P, b, a, zout)
        return
    for i in range(m):
        for j in range(n):
            z = a[i * P + j] + b[j]
            if zout != NULL:
                zout[i * P + j] = z
            a[i * P + j] = activation(f, z)


cdef void _delta_out(const vg_ops *ops, int cost, Py_ssize_t m, Py_ssize_t nL,
                     Py_ssize_t P,
                     const floating *a, const floating *Y, const int64_t *labels,
                     const int64_t *idx, Py_ssize_t r0,
                     floating *delta) noexcept nogil:
    """Output error of ``m`` rows (stride ``P``, padding set to 0); target
    row i is ``Y[idx[i]]`` (``Y[r0 + i]`` when ``idx`` is NULL), or, when
    ``labels`` is not NULL, the one-hot row with its 1 in column
    ``labels[i]`` (``Y`` is then not read)."""
    cdef Py_ssize_t i, j, r
    cdef const floating *y
    if ops != NULL:
        if floating is double:
            ops.delta_out_d(cost, <int> m, <int> nL, <int> P, a, Y, labels, idx, r0, delta)
        else:
            ops.delta_out_s(cost, <int> m, <int> nL, <int> P, a, Y, labels, idx, r0, delta)
        return
    for i in range(m):
        if labels != NULL:
            for j in range(nL):
                delta[i * P + j] = output_delta(cost, a[i * P + j],
                                                1 if j == labels[i] else 0)
        else:
            r = idx[i] if idx != NULL else r0 + i
            y = Y + r * nL
            for j in range(nL):
                delta[i * P + j] = output_delta(cost, a[i * P + j], y[j])
        for j in range(nL, P):
            delta[i * P + j] = 0


cdef void _delta_back(const vg_ops *ops, int act, Py_ssize_t m, Py_ssize_t nin,
                      Py_ssize_t nout, Py_ssize_t Pin, Py_ssize_t Pout,
                      const floating *WTl, const floating *delta, const floating *a,
                      floating *delta_prev, floating *Wb,
                      const floating **rows) noexcept nogil:
    """``delta_prev = (delta w) * f'(z)`` for ``m`` rows (padding set to 0),
    ``f'(z)`` from the activations ``a = f(z)`` of the activation ``act``.

    With the hand-written kernels the product is the forward kernel's, on ``w`` itself
    (copied from ``WTl`` into ``Wb``, ``nout x Pin`` with zero padding):
    ``delta_prev = delta w`` is a sum of outer products of ``delta``'s
    elements with the rows of ``w``.  ``rows`` is room for ``m`` pointers.
    """
    cdef Py_ssize_t i
    if ops != NULL:
        _transpose(nin, nout, WTl, Pout, Wb, Pin)
        for i in range(m):
            rows[i] = delta + i * Pout
        if floating is double:
            ops.fwd_d(<int> m, <int> nout, <int> Pin, rows, 0, Wb, delta_prev, NULL)
        else:
            ops.fwd_s(<int> m, <int> nout, <int> Pin, rows, 0, Wb, delta_prev, NULL)
    else:
        _gemm(TRANS, NO_TRANS, nin, m, nout, <floating> 1.0, WTl, Pout,
              delta, Pout, <floating> 0.0, delta_prev, Pin)
    _times_prime(ops, act, m, nin, Pin, a, delta_prev)


cdef void _times_prime(const vg_ops *ops, int act, Py_ssize_t m, Py_ssize_t n,
                       Py_ssize_t P, const floating *a, floating *d) noexcept nogil:
    """``d *= f'(z)`` over ``m`` rows (stride ``P``, padding set to 0), with
    ``f'(z)`` from the activations ``a = f(z)`` of the activation ``act``."""
    cdef Py_ssize_t i, j
    if ops != NULL:
        if floating is double:
            ops.dact_d(act, <int> m, <int> n, <int> P, a, d)
        else:
            ops.dact_s(act, <int> m, <int> n, <int> P, a, d)
        return
    for i in range(m):
        for j in range(n):
            d[i * P + j] = times_prime(act, d[i * P + j], a[i * P + j])
        for j in range(n, P):
            d[i * P + j] = 0


cdef void _row_sums(const vg_ops *ops, Py_ssize_t m, Py_ssize_t n, Py_ssize_t P,
                    const floating *delta, floating *out) noexcept nogil:
    """``out[j] = sum_i delta[i, j]`` (rows added in order, as numpy does)."""
    cdef Py_ssize_t i, j
    if ops != NULL:     # all P columns (the padding of delta is 0)
        if floating is double:
            ops.row_sums_d(<int> m, <int> P, delta, out)
        else:
            ops.row_sums_s(<int> m, <int> P, delta, out)
        return
    for j in range(n):
        out[j] = delta[j]
    for i in range(1, m):
        for j in range(n):
            out[j] += delta[i * P + j]


cdef void _add_transposed(Py_ssize_t nout, Py_ssize_t nin, Py_ssize_t P,
                          floating beta, floating alpha, const floating *G,
                          floating *WT) noexcept nogil:
    """``WT[k, j] = beta WT[k, j] + alpha G[j, k]`` (G is ``nout x nin``)."""
    cdef Py_ssize_t j, k
    for k in range(nin):
        for j in range(nout):
            WT[k * P + j] = beta * WT[k * P + j] + alpha * G[j * nin + k]


# ---------------------------------------------------------------------------
# The monitor: sums kept during the epoch, a record every few mini-batches
# ---------------------------------------------------------------------------

cdef struct Monitor:
    # where the records go (validated by vgcore.kernels); NULL: not kept
    double *out                 # (n_records, L, VG_N_METRICS)
    int64_t *act_hist           # (n_records, L, act_bins)
    int64_t *delta_hist         # (n_records, L, delta_bins)
    Py_ssize_t every            # a record every this many mini-batches
    Py_ssize_t act_bins, delta_bins
    double act_lo, act_scale    # bin of x: floor((x - lo) scale), clamped
    double delta_lo, delta_scale
    # the sums over the stretch so far (float64), per weight layer l
    double **grad_b             # [l][j]: sum over mini-batches of mean dC/db_j
    double **alive              # [l][j] (P[l+1] of them): 1 once a ReLU unit was > 0
    double *sums                # [l][0..LANES-1]: sum a, [l][LANES..2 LANES-1]: a^2
    int64_t *count              # [l][0..LANES-1]: activations saturated
    void **snap                 # [l]: WT[l] at the stretch's start (floating)
    void *prev                  # WT[l] before the record mini-batch's update
    Py_ssize_t batches, rows    # mini-batches and rows in the stretch so far
    Py_ssize_t record           # the record being filled


cdef void _stats(NetDims d, int act, Py_ssize_t m, Py_ssize_t n, Py_ssize_t P,
                 const floating *a, double *sums, int64_t *count,
                 double *alive) noexcept nogil:
    """The monitor's sums over ``m`` rows of ``n`` activations, kept in
    ``VG_STATS_LANES`` = 8 lanes (column ``j`` in lane ``j % 8``:
    independent sums; ``vg_stats`` on the SIMD paths): ``sums[q]`` += sum,
    ``sums[VG_STATS_LANES + q]`` += sum of squares, ``count[q]`` +=
    saturated; ReLU: ``alive[j] = 1`` where some ``a[i, j] > 0``."""
    cdef Py_ssize_t i, j, q, k
    cdef double x, hi = 1.0 - VG_SATURATION_MARGIN
    cdef double s[VG_STATS_LANES]
    cdef double s2[VG_STATS_LANES]
    cdef int64_t c[VG_STATS_LANES]
    cdef const floating *row
    if d.ops != NULL:
        if floating is double:
            d.ops.stats_d(act, <int> m, <int> n, <int> P, a, sums, count, alive)
        else:
            d.ops.stats_s(act, <int> m, <int> n, <int> P, a, sums, count, alive)
        return
    for q in range(VG_STATS_LANES):
        s[q] = s2[q] = c[q] = 0
    for i in range(m):
        row = a + i * P
        j = 0
        while j < n:
            k = n - j if n - j < VG_STATS_LANES else VG_STATS_LANES
            for q in range(k):
                x = row[j + q]
                s[q] += x
                s2[q] += x * x
                if act == VG_ACT_RELU:
                    if x > 0:
                        alive[j + q] = 1
                elif act == VG_ACT_SIGMOID:
                    c[q] += (x <= VG_SATURATION_MARGIN) | (x >= hi)
                else:
                    c[q] += fabs(x) >= hi
            j += VG_STATS_LANES
    for q in range(VG_STATS_LANES):
        sums[q] += s[q]
        sums[VG_STATS_LANES + q] += s2[q]
        count[q] += c[q]


cdef void _wnorms(const vg_ops *ops, Py_ssize_t N, const floating *w,
                  const floating *prev, floating *snap, double dK,
                  double *out) noexcept nogil:
    """The record's sums over the ``N`` weights of a layer (its padding
    zero): ``out[0..2] +=`` sum ``(dK snap - w)^2``, ``(w - prev)^2``,
    ``prev^2``; then ``snap = w`` (``vg_wnorms`` on the SIMD paths).  Here
    in ``VG_STATS_LANES`` independent sums (element ``i`` in lane ``i % 8``;
    ``N`` is a multiple of 8: rows padded to 64 bytes)."""
    cdef Py_ssize_t i, q
    cdef double x, y, t
    cdef double g[VG_STATS_LANES]
    cdef double u[VG_STATS_LANES]
    cdef double p[VG_STATS_LANES]
    if ops != NULL:
        if floating is double:
            ops.wnorms_d(N, w, prev, snap, dK, out)
        else:
            ops.wnorms_s(N, w, prev, snap, dK, out)
        return
    for q in range(VG_STATS_LANES):
        g[q] = u[q] = p[q] = 0
    i = 0
    while i < N:                        # N is a multiple of the lanes
        for q in range(VG_STATS_LANES):
            x = w[i + q]
            y = prev[i + q]
            t = dK * snap[i + q] - x
            g[q] += t * t
            u[q] += (x - y) * (x - y)
            p[q] += y * y
        i += VG_STATS_LANES
    memcpy(snap, w, N * sizeof(floating))
    for q in range(VG_STATS_LANES):
        out[0] += g[q]
        out[1] += u[q]
        out[2] += p[q]


cdef void _histogram(Py_ssize_t m, Py_ssize_t n, Py_ssize_t P, const floating *v,
                     double lo, double scale, Py_ssize_t bins,
                     int64_t *counts) noexcept nogil:
    """Count the ``m x n`` values ``v`` (row stride ``P``) into ``bins``
    equal bins: bin ``floor((x - lo) scale)``, values below the first bin
    counted in it and above the last in the last; NaN not counted."""
    cdef Py_ssize_t i, j
    cdef double t, top = bins - 1
    for i in range(m):
        for j in range(n):
            t = (<double> v[i * P + j] - lo) * scale
            if t != t:
                continue
            t = t if t > 0 else 0           # max and min: no branch to mispredict
            t = t if t < top else top
            counts[<Py_ssize_t> t] += 1


cdef void _monitor_forward(NetDims d, Monitor *mon, floating **A,
                           Py_ssize_t m) noexcept nogil:
    """After a mini-batch's forward pass: the activations into the sums
    (and the histograms)."""
    cdef int l
    for l in range(d.L):
        _stats(d, _layer_act(d, l), m, d.n[l + 1], d.P[l + 1], A[l + 1],
               mon.sums + 2 * VG_STATS_LANES * l, mon.count + VG_STATS_LANES * l,
               mon.alive[l])
        if mon.act_hist != NULL:
            _histogram(m, d.n[l + 1], d.P[l + 1], A[l + 1], mon.act_lo, mon.act_scale,
                       mon.act_bins,
                       mon.act_hist + (mon.record * d.L + l) * mon.act_bins)


cdef void _monitor_delta(NetDims d, Monitor *mon, int l, Py_ssize_t m,
                         const floating *delta, const floating *sums) noexcept nogil:
    """Layer ``l``'s ``delta`` and its row sums (``m nabla_b``, the mean
    dC/db of the mini-batch times ``m``) into the sums (and the histogram)."""
    cdef Py_ssize_t j
    cdef double *gb = mon.grad_b[l]
    cdef double scale = 1.0 / m
    for j in range(d.n[l + 1]):
        gb[j] += sums[j] * scale
    if mon.delta_hist != NULL:
        _histogram(m, d.n[l + 1], d.P[l + 1], delta, mon.delta_lo, mon.delta_scale,
                   mon.delta_bins,
                   mon.delta_hist + (mon.record * d.L + l) * mon.delta_bins)


cdef void _monitor_record(NetDims d, Monitor *mon, int l, const floating *WTl,
                          floating decay, double eta) noexcept nogil:
    """Layer ``l``'s record, after the update of the stretch's last
    mini-batch, and its sums started again.

    With ``K`` mini-batches in the stretch, weights ``w_0`` at its start
    (``snap``) and ``w_K`` now: ``w_K = d^K w_0 - sum_k eta d^(K-1-k)
    mean_k dC/dw``, so ``||d^K w_0 - w_K|| / (eta K)`` is the norm of the
    mean dC/dw over the stretch (each mini-batch's weighted by the weight
    decay ``d^(K-1-k)`` since it was applied; all weights 1 without L2).
    ``prev`` holds the weights before the last update: ``||w_K - prev|| /
    ||prev||`` is that update's ratio.
    """
    cdef Py_ssize_t j, q, nout = d.n[l + 1], sat = 0
    cdef Py_ssize_t K = mon.batches, count = mon.rows * nout
    cdef double gb = 0, s = 0, s2 = 0, mean, var, alive = 0
    cdef double w3[3]               # sum (d^K w_0 - w_K)^2, (w_K - prev)^2, prev^2
    cdef double *out = mon.out + (mon.record * d.L + l) * VG_N_METRICS
    cdef double *sums = mon.sums + 2 * VG_STATS_LANES * l
    cdef int64_t *sat_lanes = mon.count + VG_STATS_LANES * l
    w3[0] = w3[1] = w3[2] = 0
    _wnorms(d.ops, d.n[l] * d.P[l + 1], WTl, <const floating *> mon.prev,
            <floating *> mon.snap[l], pow(<double> decay, <double> K), w3)
    for j in range(nout):
        gb += mon.grad_b[l][j] * mon.grad_b[l][j]
        mon.grad_b[l][j] = 0
        if mon.alive[l][j] != 0:
            alive += 1
            mon.alive[l][j] = 0
    for q in range(VG_STATS_LANES):
        s += sums[q]
        s2 += sums[VG_STATS_LANES + q]
        sat += sat_lanes[q]
        sums[q] = sums[VG_STATS_LANES + q] = 0
        sat_lanes[q] = 0
    mean = s / count
    var = s2 / count - mean * mean
    out[VG_MON_GRAD_B] = sqrt(gb) / K
    out[VG_MON_GRAD_W] = sqrt(w3[0]) / (eta * K)
    out[VG_MON_ACT_MEAN] = mean
    if var < 0:         # rounding (a NaN stays NaN)
        var = 0
    out[VG_MON_ACT_STD] = sqrt(var)
    if _layer_act(d, l) == VG_ACT_RELU:
        out[VG_MON_SATURATED] = (nout - alive) / nout
    else:
        out[VG_MON_SATURATED] = <double> sat / count
    out[VG_MON_UPDATE_RATIO] = sqrt(w3[1]) / sqrt(w3[2])


cdef void _sgd_epoch_impl(NetDims d, floating **W, floating **B,
                          const floating *X, const floating *Y,
                          const int64_t *labels, const int64_t *order,
                          Py_ssize_t n_order,
                          Py_ssize_t mbs, double eta, double lmbda, double n,
                          int cost, double *speeds, Monitor *mon, floating **WT,
                          floating **A, const floating **rows,
                          floating *work) noexcept nogil:
    """The epoch: see ``sgd_epoch``.  ``work`` is laid out by ``_layout``;
    ``mon`` is NULL or the monitor, its sums zero."""
    cdef Py_ssize_t k, i, j, m, nin, nout, ahead, batch = 0
    cdef bint consecutive, record = False
    cdef floating *gathered
    cdef int l, L = d.L
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *G = NULL
    cdef floating *tmp
    cdef floating *sums
    cdef floating step, decay
    cdef double nrm, g
    cdef Py_ssize_t small_rows = d.small_rows if d.ops != NULL else BLAS_SMALL_UPDATE_ROWS
    _layout(d, mbs, True, work, WT, A, &D, &Dp, &Z, &sums, &G)
    gathered = A[0]
    _transpose_in(d, W, WT)
    if mon != NULL:
        for l in range(L):
            memcpy(mon.snap[l], WT[l], d.n[l] * d.P[l + 1] * sizeof(floating))
    decay = <floating> (1.0 - eta * (lmbda / n))
    k = 0
    while k < n_order:
        m = mbs if n_order - k >= mbs else n_order - k
        step = <floating> (eta / m)
        if mon != NULL:
            mon.batches += 1
            mon.rows += m
            record = mon.batches == mon.every or k + m >= n_order
        # consecutive rows (e.g. full-batch gradient descent) are used in
        # place; otherwise the forward pass also gathers X[order[k:k+m]]
        # into the workspace (and prefetches the next mini-batch's rows)
        consecutive = True
        for i in range(1, m):
            if order[k + i] != order[k] + i:
                consecutive = False
                break
        if consecutive:
            A[0] = <floating *> (X + order[k] * d.n[0])
            _forward(d, WT, B, A, m, <floating *> NULL, rows,
                     <const floating *> NULL, <const int64_t *> NULL, 0)
        else:
            A[0] = gathered
            ahead = n_order - k - m
            if ahead > mbs:
                ahead = mbs
            _forward(d, WT, B, A, m, <floating *> NULL, rows, X, order + k, ahead)
        if mon != NULL:
            _monitor_forward(d, mon, A, m)
        _delta_out(d.ops, cost, m, d.n[L], d.P[L], A[L], Y,
                   labels + k if labels != NULL else labels, order + k, 0, D)
        for l in range(L - 1, -1, -1):
            nin = d.n[l]
            nout = d.n[l + 1]
            _row_sums(d.ops, m, nout, d.P[l + 1], D, sums)
            if speeds != NULL:
                nrm = 0.0
                for j in range(nout):
                    g = sums[j]
                    nrm += g * g
                speeds[batch * L + l] = sqrt(nrm) / m
            if mon != NULL:
                _monitor_delta(d, mon, l, m, D, sums)
            if l > 0:   # delta of the layer below, with w[l] not yet updated
                _delta_back(d.ops, d.act, m, nin, nout, d.P[l], d.P[l + 1], WT[l], D,
                            A[l], Dp, G, rows)
            if record:
                memcpy(mon.prev, WT[l], nin * d.P[l + 1] * sizeof(floating))
            # w <- (1 - eta lmbda/n) w - (eta/m) delta^T a_prev
            if m <= small_rows:
                # one GEMM straight into WT, over the padded width P (a
                # multiple of the vector width, which BLAS handles faster;
                # the padding of delta is zero, so WT's stays zero)
                _gemm(NO_TRANS, TRANS, d.P[l + 1], nin, m, -step, D, d.P[l + 1],
                      A[l], d.P[l], decay, WT[l], d.P[l + 1])
            elif d.ops != NULL:
                # large m: hand-written, A read in place (no packing copy)
                if floating is double:
                    d.ops.grad_d(<int> m, <int> nin, <int> d.P[l + 1], A[l], <int> d.P[l],
                                 D, decay, -step, WT[l])
                else:
                    d.ops.grad_s(<int> m, <int> nin, <int> d.P[l + 1], A[l], <int> d.P[l],
                                 D, decay, -step, WT[l])
            else:
                # large m: the gradient in network2's layout (BLAS packs
                # the long operand A faster untransposed), then one pass
                # WT = decay WT - step G^T
                _gemm(NO_TRANS, TRANS, nin, nout, m, <floating> 1.0,
                      A[l], d.P[l], D, d.P[l + 1], <floating> 0.0, G, nin)
                _add_transposed(nout, nin, d.P[l + 1], decay, -step, G, WT[l])
            for j in range(nout):
                B[l][j] = B[l][j] - step * sums[j]
            if record:
                _monitor_record(d, mon, l, WT[l], decay, eta)
            tmp = D
            D = Dp
            Dp = tmp
        if record:
            mon.batches = 0
            mon.rows = 0
            mon.record += 1
        k += m
        batch += 1
    _transpose_out(d, WT, W)


cdef void _backprop_impl(NetDims d, floating **W, floating **B,
                         const floating *X, const floating *Y, Py_ssize_t N,
                         int cost, floating **NW, floating **NB, double **MB,
                         floating **WT, floating **A, const floating **rows,
                         floating *work) noexcept nogil:
    """Summed gradients over ``N`` rows, in blocks.

    If ``NW`` is not NULL, ``NW[l]`` += sum dC/dw and ``NB[l]`` += sum dC/db
    (arrays of the parameters' dtype and network2's layout, zeroed by the
    caller).  If ``MB`` is not NULL, ``MB[l]`` += sum dC/db accumulated in
    double (no weight gradients).
    """
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *G = NULL
    cdef floating *sums
    cdef floating *tmp
    cdef Py_ssize_t r0, m, nin, nout, j
    cdef int l, L = d.L
    _layout(d, BLOCK_ROWS, False, work, WT, A, &D, &Dp, &Z, &sums, &G)
    _transpose_in(d, W, WT)
    r0 = 0
    while r0 < N:
        m = BLOCK_ROWS if N - r0 >= BLOCK_ROWS else N - r0
        A[0] = <floating *> (X + r0 * d.n[0])
        _forward(d, WT, B, A, m, <floating *> NULL, rows,
                 <const floating *> NULL, <const int64_t *> NULL, 0)
        _delta_out(d.ops, cost, m, d.n[L], d.P[L], A[L], Y, <const int64_t *> NULL,
                   <const int64_t *> NULL, r0, D)
        for l in range(L - 1, -1, -1):
            nin = d.n[l]
            nout = d.n[l + 1]
            _row_sums(d.ops, m, nout, d.P[l + 1], D, sums)
            if NB != NULL:
                for j in range(nout):
                    NB[l][j] += sums[j]
            if MB != NULL:
                for j in range(nout):
                    MB[l][j] += sums[j]
            if NW != NULL:
                # nabla_w (nout x nin, row-major) += delta^T a_prev
                _gemm(NO_TRANS, TRANS, nin, nout, m, <floating> 1.0,
                      A[l], d.P[l], D, d.P[l + 1], <floating> 1.0, NW[l], nin)
            if l > 0:
                _delta_back(d.ops, d.act, m, nin, nout, d.P[l], d.P[l + 1], WT[l], D,
                            A[l], Dp, G, rows)
                tmp = D
                D = Dp
                Dp = tmp
        r0 += m


cdef void _feedforward_impl(NetDims d, floating **W, floating **B,
                            const floating *X, Py_ssize_t N, floating *out,
                            floating **WT, floating **A, const floating **rows,
                            floating *work) noexcept nogil:
    """Outputs of ``N`` rows into ``out`` (``(N, n_L)``), in blocks."""
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *G = NULL
    cdef floating *sums
    cdef Py_ssize_t r0, m, i, nL = d.n[d.L], P = d.P[d.L]
    _layout(d, BLOCK_ROWS, False, work, WT, A, &D, &Dp, &Z, &sums, &G)
    _transpose_in(d, W, WT)
    r0 = 0
    while r0 < N:
        m = BLOCK_ROWS if N - r0 >= BLOCK_ROWS else N - r0
        A[0] = <floating *> (X + r0 * d.n[0])
        _forward(d, WT, B, A, m, <floating *> NULL, rows,
                 <const floating *> NULL, <const int64_t *> NULL, 0)
        for i in range(m):
            memcpy(out + (r0 + i) * nL, A[d.L] + i * P, nL * sizeof(floating))
        r0 += m


cdef void _evaluate_impl(NetDims d, floating **W, floating **B,
                         const floating *X, const floating *Y, Py_ssize_t N,
                         int cost, Py_ssize_t *n_correct, double *cost_sum,
                         floating **WT, floating **A, const floating **rows,
                         floating *work) noexcept nogil:
    """Accuracy count and summed cost (no L2 term) over ``N`` rows."""
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *G = NULL
    cdef floating *sums
    cdef const floating *a
    cdef const floating *y
    cdef const floating *z
    cdef Py_ssize_t r0, m, i, j, nL = d.n[d.L], P = d.P[d.L], ka, ky, correct = 0
    cdef double c = 0.0, dd
    cdef floating va, vy
    _layout(d, BLOCK_ROWS, False, work, WT, A, &D, &Dp, &Z, &sums, &G)
    _transpose_in(d, W, WT)
    r0 = 0
    while r0 < N:
        m = BLOCK_ROWS if N - r0 >= BLOCK_ROWS else N - r0
        A[0] = <floating *> (X + r0 * d.n[0])
        _forward(d, WT, B, A, m, Z, rows, <const floating *> NULL,
                 <const int64_t *> NULL, 0)
        for i in range(m):
            a = A[d.L] + i * P
            z = Z + i * P
            y = Y + (r0 + i) * nL
            # argmax as numpy: first maximum, a NaN wins
            ka = 0
            ky = 0
            va = a[0]
            vy = y[0]
            for j in range(1, nL):
                if va == va and (a[j] > va or a[j] != a[j]):
                    va = a[j]
                    ka = j
                if vy == vy and (y[j] > vy or y[j] != y[j]):
                    vy = y[j]
                    ky = j
            if ka == ky:
                correct += 1
            if cost == VG_COST_CROSS_ENTROPY:
                for j in range(nL):
                    c += _cross_entropy_from_z(z[j], y[j])
            else:
                for j in range(nL):
                    dd = <double> a[j] - <double> y[j]
                    c += dd * dd
        r0 += m
    if cost != VG_COST_CROSS_ENTROPY:
        c *= 0.5
    n_correct[0] = correct
    cost_sum[0] = c


# ---------------------------------------------------------------------------
# Python-facing functions (input already validated by vgcore.kernels)
# ---------------------------------------------------------------------------

#: Workspaces of at most this many bytes are kept for the thread's next
#: call; larger ones (full-batch training on many rows) are freed after it.
cdef size_t KEEP_WORKSPACE_BYTES = 64 << 20

cdef Py_ssize_t _n_allocations = 0      # workspace buffers allocated, ever
cdef Py_ssize_t _n_live = 0             # workspaces not yet freed
_cache = threading.local()              # .ws: this thread's idle workspace


cdef class _Workspace:
    """A 64-byte aligned buffer and room for row pointers, grown on demand.

    Used by one call at a time: a call takes its thread's cached workspace
    (``_take_workspace``), so another thread or a nested call never sees it,
    and gives it back when it returns (``_give_back``).
    """
    cdef void *buf
    cdef size_t nbytes
    cdef void **rows
    cdef size_t nrows

    def __cinit__(self):
        global _n_live
        self.buf = NULL
        self.rows = NULL
        self.nbytes = 0
        self.nrows = 0
        _n_live += 1

    cdef int reserve(self, Py_ssize_t n_elems, size_t itemsize,
                     Py_ssize_t rows) except -1:
        """Room for ``n_elems`` elements and ``2 rows`` row pointers."""
        global _n_allocations
        cdef size_t nb, nr
        if (n_elems < 0 or rows < 0
                or <size_t> n_elems > PY_SSIZE_T_MAX // itemsize
                or <size_t> rows > PY_SSIZE_T_MAX // (2 * sizeof(void *))):
            raise MemoryError("workspace size overflows")
        nb = max(n_elems, 1) * itemsize
        nr = 2 * max(rows, 1)
        if nb > self.nbytes:
            free(self.buf)
            self.buf = NULL
            self.nbytes = 0
            if posix_memalign(&self.buf, 64, nb) != 0:
                self.buf = NULL
                raise MemoryError()
            self.nbytes = nb
            _n_allocations += 1
        if nr > self.nrows:
            free(self.rows)
            self.nrows = 0
            self.rows = <void **> malloc(nr * sizeof(void *))
            if self.rows == NULL:
                raise MemoryError()
            self.nrows = nr
        return 0

    def __dealloc__(self):
        global _n_live
        free(self.buf)
        free(self.rows)
        _n_live -= 1


cdef _Workspace _take_workspace():
    ws = getattr(_cache, "ws", None)
    if ws is None:
        return _Workspace()
    _cache.ws = None
    return ws


cdef _give_back(_Workspace ws):
    if ws.nbytes <= KEEP_WORKSPACE_BYTES:
        _cache.ws = ws


def workspace_stats():
    """``(buffers allocated so far, workspaces alive)``, for the tests."""
    return _n_allocations, _n_live


cdef class _Net:
    """Raw pointers to a network's parameters and layer buffers, and the
    workspace of one call (taken from the thread's cache by ``_alloc``).

    Everything it allocates is freed when it is collected, even when the
    call that made it raises.
    """
    cdef int L
    cdef Py_ssize_t *n
    cdef Py_ssize_t *P
    cdef void **W
    cdef void **B
    cdef void **WT
    cdef void **A
    cdef const vg_ops *ops
    cdef Py_ssize_t small_rows
    cdef int act
    cdef _Workspace ws

    def __cinit__(self, int L):
        self.L = L
        self.act = VG_ACT_SIGMOID
        self.n = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
        self.P = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
        self.W = <void **> malloc(L * sizeof(void *))
        self.B = <void **> malloc(L * sizeof(void *))
        self.WT = <void **> malloc(L * sizeof(void *))
        self.A = <void **> malloc((L + 1) * sizeof(void *))
        self.ops = _ops
        self.small_rows = _small_rows
        self.ws = None
        if (self.n == NULL or self.P == NULL or self.W == NULL or self.B == NULL
                or self.WT == NULL or self.A == NULL):
            raise MemoryError()

    cdef NetDims dims(self) noexcept nogil:
        cdef NetDims d
        d.L = self.L
        d.n = self.n
        d.P = self.P
        d.ops = self.ops
        d.small_rows = self.small_rows
        d.act = self.act
        return d

    def __dealloc__(self):
        free(self.n)
        free(self.P)
        free(self.W)
        free(self.B)
        free(self.WT)
        free(self.A)


cdef _Net _make_net(list weights, list biases, Py_ssize_t n_in, floating dummy,
                    int act=VG_ACT_SIGMOID):
    """Collect data pointers of validated, C-contiguous parameter arrays;
    ``act`` is the hidden layers' activation (a valid ``VG_ACT_*`` code).

    Rows of activations are padded to the path's vector width
    (``BLAS_ROW_BYTES`` on the blas path).
    """
    cdef int L = len(weights), l
    cdef _Net net = _Net(L)
    net.act = act
    cdef const floating[:, ::1] w
    cdef const floating[::1] b
    cdef Py_ssize_t lanes = ((net.ops.vector_bytes if net.ops != NULL else BLAS_ROW_BYTES)
                             // sizeof(floating))
    net.n[0] = n_in
    net.P[0] = n_in
    for l in range(L):
        w = weights[l]
        b = biases[l]
        net.n[l + 1] = w.shape[0]
        net.P[l + 1] = (w.shape[0] + lanes - 1) // lanes * lanes
        net.W[l] = <void *> &w[0, 0]
        net.B[l] = <void *> &b[0]
    return net


cdef int _alloc(_Net net, Py_ssize_t rows, bint gather, floating dummy) except -1:
    """Give ``net`` a workspace for ``rows`` rows (the thread's cached one)."""
    net.ws = _take_workspace()
    return net.ws.reserve(
        _layout(net.dims(), rows, gather, <floating *> NULL, <floating **> NULL,
                <floating **> NULL, <floating **> NULL, <floating **> NULL,
                <floating **> NULL, <floating **> NULL, <floating **> NULL),
        sizeof(floating), rows)


cdef class _MonitorState:
    """The monitor of one ``sgd_epoch`` call: its ``Monitor``, and the sums
    and weight copies it points to (zeroed; freed with the object)."""
    cdef Monitor mon
    cdef double *block
    cdef int64_t *counts
    cdef void *weights
    cdef void **ptrs

    def __cinit__(self, _Net net, size_t itemsize):
        cdef int L = net.L, l
        cdef Py_ssize_t nd = 2 * VG_STATS_LANES * L, nw = 0, big = 0, size
        cdef double *dp
        cdef char *wp
        for l in range(L):
            nd += net.n[l + 1] + net.P[l + 1]
            size = net.n[l] * net.P[l + 1]
            nw += size
            big = size if size > big else big
        self.block = <double *> calloc(nd, sizeof(double))
        self.counts = <int64_t *> calloc(VG_STATS_LANES * L, sizeof(int64_t))
        self.weights = malloc((nw + big) * itemsize)
        self.ptrs = <void **> malloc(3 * L * sizeof(void *))
        if (self.block == NULL or self.counts == NULL or self.weights == NULL
                or self.ptrs == NULL):
            raise MemoryError()
        self.mon.grad_b = <double **> self.ptrs
        self.mon.alive = <double **> (self.ptrs + L)
        self.mon.snap = self.ptrs + 2 * L
        self.mon.sums = self.block
        self.mon.count = self.counts
        dp = self.block + 2 * VG_STATS_LANES * L
        wp = <char *> self.weights
        for l in range(L):
            self.mon.grad_b[l] = dp
            dp += net.n[l + 1]
            self.mon.alive[l] = dp
            dp += net.P[l + 1]
            self.mon.snap[l] = wp
            wp += net.n[l] * net.P[l + 1] * itemsize
        self.mon.prev = wp
        self.mon.out = NULL
        self.mon.act_hist = NULL
        self.mon.delta_hist = NULL
        self.mon.batches = 0
        self.mon.rows = 0
        self.mon.record = 0

    def __dealloc__(self):
        free(self.block)
        free(self.counts)
        free(self.weights)
        free(self.ptrs)


def sgd_epoch(list weights, list biases, const floating[:, ::1] X,
              const floating[:, ::1] Y, const int64_t[::1] labels,
              const int64_t[::1] order,
              Py_ssize_t mini_batch_size, double eta, double lmbda, double n,
              int cost, double[:, ::1] speeds=None, int act=VG_ACT_SIGMOID,
              double[:, :, ::1] monitor=None, Py_ssize_t monitor_every=1,
              int64_t[:, :, ::1] act_hist=None, double act_lo=0.0, double act_hi=1.0,
              int64_t[:, :, ::1] delta_hist=None, double delta_lo=-1.0,
              double delta_hi=1.0):
    """One epoch of mini-batch SGD, in place (validated input; see kernels.py).

    Exactly one of ``Y`` (targets) and ``labels`` (one-hot targets given by
    their 1's column) is not None; ``labels[j]`` is the label of example
    ``order[j]`` (the labels gathered into the epoch's order).  ``act`` is
    the hidden layers' activation.  With ``monitor`` (``(n_records, L,
    VG_N_METRICS)``), a record every ``monitor_every`` mini-batches and at
    the end; ``act_hist``/``delta_hist`` (``(n_records, L, bins)``, or
    None) count the activations/deltas into equal bins over ``[lo, hi]``.
    """
    cdef Py_ssize_t n_order = order.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0, act)
    cdef _MonitorState state = None
    cdef Monitor *mon = NULL
    cdef double *sp = NULL
    cdef const floating *xp = &X[0, 0]
    cdef const floating *yp = NULL
    cdef const int64_t *lp = NULL
    if labels is not None:
        lp = &labels[0]
    else:
        yp = &Y[0, 0]
    if n_order == 0:
        return
    if mini_batch_size > n_order:   # the same steps; no rows that do not exist
        mini_batch_size = n_order
    if speeds is not None:
        sp = &speeds[0, 0]
    if monitor is not None:
        state = _MonitorState(net, sizeof(floating))
        mon = &state.mon
        mon.out = &monitor[0, 0, 0]
        mon.every = monitor_every
        if act_hist is not None:
            mon.act_hist = &act_hist[0, 0, 0]
            mon.act_bins = act_hist.shape[2]
            mon.act_lo = act_lo
            mon.act_scale = mon.act_bins / (act_hi - act_lo)
        if delta_hist is not None:
            mon.delta_hist = &delta_hist[0, 0, 0]
            mon.delta_bins = delta_hist.shape[2]
            mon.delta_lo = delta_lo
            mon.delta_scale = mon.delta_bins / (delta_hi - delta_lo)
    _alloc(net, mini_batch_size, True, <floating> 0)
    with nogil:
        _sgd_epoch_impl(net.dims(), <floating **> net.W, <floating **> net.B,
                        xp, yp, lp, &order[0], n_order, mini_batch_size,
                        eta, lmbda, n, cost, sp, mon, <floating **> net.WT,
                        <floating **> net.A, <const floating **> net.ws.rows,
                        <floating *> net.ws.buf)
    _give_back(net.ws)


def backprop(list weights, list biases, const floating[:, ::1] X,
             const floating[:, ::1] Y, int cost, list nabla_w, list nabla_b,
             int act=VG_ACT_SIGMOID):
    """Add the summed gradients over the rows of X to nabla_w / nabla_b."""
    cdef Py_ssize_t N = X.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0, act)
    cdef _Net grad = _make_net(nabla_w, nabla_b, X.shape[1], <floating> 0)
    if N == 0:
        return
    _alloc(net, BLOCK_ROWS, False, <floating> 0)
    with nogil:
        _backprop_impl(net.dims(), <floating **> net.W, <floating **> net.B,
                       &X[0, 0], &Y[0, 0], N, cost, <floating **> grad.W,
                       <floating **> grad.B, <double **> NULL,
                       <floating **> net.WT, <floating **> net.A,
                       <const floating **> net.ws.rows, <floating *> net.ws.buf)
    _give_back(net.ws)


def mean_nabla_b(list weights, list biases, const floating[:, ::1] X,
                 const floating[:, ::1] Y, int cost, list sums, int act=VG_ACT_SIGMOID):
    """Add sum over the rows of X of dC/db to the float64 arrays in ``sums``."""
    cdef Py_ssize_t N = X.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0, act)
    cdef int L = net.L, l
    cdef double **MB = <double **> malloc(L * sizeof(double *))
    cdef double[::1] s
    if MB == NULL:
        raise MemoryError()
    try:
        for l in range(L):
            s = sums[l]
            MB[l] = &s[0]
        if N == 0:
            return
        _alloc(net, BLOCK_ROWS, False, <floating> 0)
        with nogil:
            _backprop_impl(net.dims(), <floating **> net.W, <floating **> net.B,
                           &X[0, 0], &Y[0, 0], N, cost, <floating **> NULL,
                           <floating **> NULL, MB, <floating **> net.WT,
                           <floating **> net.A, <const floating **> net.ws.rows,
                           <floating *> net.ws.buf)
        _give_back(net.ws)
    finally:
        free(MB)


def feedforward(list weights, list biases, const floating[:, ::1] X,
                floating[:, ::1] out, int act=VG_ACT_SIGMOID):
    """Network outputs for every row of X into ``out`` (N, n_L)."""
    cdef Py_ssize_t N = X.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0, act)
    if N == 0:
        return
    _alloc(net, BLOCK_ROWS, False, <floating> 0)
    with nogil:
        _feedforward_impl(net.dims(), <floating **> net.W, <floating **> net.B,
                          &X[0, 0], N, &out[0, 0], <floating **> net.WT,
                          <floating **> net.A, <const floating **> net.ws.rows,
                          <floating *> net.ws.buf)
    _give_back(net.ws)


def evaluate(list weights, list biases, const floating[:, ::1] X,
             const floating[:, ::1] Y, int cost, int act=VG_ACT_SIGMOID):
    """``(n_correct, summed cost without the L2 term)`` over the rows of X."""
    cdef Py_ssize_t N = X.shape[0], correct = 0
    cdef double c = 0.0
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0, act)
    if N == 0:
        return 0, 0.0
    _alloc(net, BLOCK_ROWS, False, <floating> 0)
    with nogil:
        _evaluate_impl(net.dims(), <floating **> net.W, <floating **> net.B,
                       &X[0, 0], &Y[0, 0], N, cost, &correct, &c,
                       <floating **> net.WT, <floating **> net.A,
                       <const floating **> net.ws.rows, <floating *> net.ws.buf)
    _give_back(net.ws)
    return correct, c


def elementwise(int act, floating[:, ::1] z, floating[:, ::1] d):
    """For the tests: ``a = f(z)`` and ``d f'(z)`` (``f'`` from ``a``), with
    ``f`` the activation ``act`` (a valid code), by the element-wise kernels
    of the path in use; ``z`` and ``d`` of one shape, and the same for ``a``
    and ``d f'(z)``, written in place of ``z`` and ``d``."""
    cdef Py_ssize_t m = z.shape[0], n = z.shape[1], i
    cdef Py_ssize_t lanes = ((_ops.vector_bytes if _ops != NULL else BLAS_ROW_BYTES)
                             // sizeof(floating))
    cdef Py_ssize_t P = max((n + lanes - 1) // lanes * lanes, lanes)
    dtype = np.float64 if floating is double else np.float32
    cdef floating[:, ::1] a = np.zeros((max(m, 1), P), dtype=dtype)
    cdef floating[:, ::1] dp = np.zeros((max(m, 1), P), dtype=dtype)
    cdef floating[::1] b = np.zeros(P, dtype=dtype)
    if m == 0 or n == 0:
        return
    a[:m, :n] = z
    dp[:m, :n] = d
    with nogil:
        _act_bias(_ops, act, m, n, P, &b[0], &a[0, 0], <floating *> NULL)
        _times_prime(_ops, act, m, n, P, &a[0, 0], &dp[0, 0])
    z[:, :] = a[:m, :n]
    d[:, :] = dp[:m, :n]


def overlap(list arrays, cnp.ndarray X):
    """Where C-contiguous ``arrays`` and ``X`` share memory: 0 nowhere, 1 two
    of ``arrays`` (found first, as in a loop over the pairs), 2 one of them
    and ``X``.

    The bounds test of ``np.may_share_memory`` (empty arrays share nothing),
    on every pair, without a Python call per pair: ~55 us per ``sgd_epoch``
    for a 5-layer network before, 3% of a full-batch epoch on 1,000 images.
    """
    cdef Py_ssize_t n = len(arrays), i, j
    cdef cnp.ndarray a
    cdef char *xs = <char *> cnp.PyArray_DATA(X)
    cdef char *xe = xs + cnp.PyArray_NBYTES(X)
    cdef char **s = <char **> malloc(2 * max(n, 1) * sizeof(char *))
    cdef char **e
    if s == NULL:
        raise MemoryError()
    e = s + n
    try:
        for i in range(n):
            a = arrays[i]
            s[i] = <char *> cnp.PyArray_DATA(a)
            e[i] = s[i] + cnp.PyArray_NBYTES(a)
        for i in range(n):
            if s[i] == e[i]:
                continue
            for j in range(i + 1, n):
                if s[j] != e[j] and s[j] < e[i] and s[i] < e[j]:
                    return 1
            if xs != xe and s[i] < xe and xs < e[i]:
                return 2
        return 0
    finally:
        free(s)
