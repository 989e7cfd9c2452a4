# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels for SMALL calls: one example, or a few.

Design note
-----------
``vgcore._kernels`` is built for throughput: every call copies the weights
into a transposed, padded workspace, which pays off over thousands of
examples but costs ~20 us per call -- more than network2 spends on a whole
``backprop`` of one example.  The calls that the book's scripts make one
example at a time (``net.backprop(x, y)`` in a Python loop,
``net.feedforward(x)``, ``update_mini_batch`` of a mini-batch,
``accuracy``/``total_cost`` of a few examples) come here instead:

* network2's own layout, read in place: ``w`` is row-major
  ``(n_out, n_in)``; one example's ``z = w a + b`` is one BLAS ``gemv``
  (``gemm`` for several rows), ``delta_prev = w^T delta`` another, and
  ``nabla_w = delta a^T`` a ``gemm`` with k = 1.  ``update`` makes network2's
  step into new arrays (copies of the parameters), the decayed weights and
  the gradient in one ``gemm`` per layer, ``delta`` taken through the old
  weights.  Nothing is transposed or kept, so nothing can go stale when a
  script changes ``net.weights`` in place.
* The ``def`` functions check every object they are given (exact
  ``ndarray``, dtype, C-contiguity, shapes against the list of ints
  ``sizes``) before any pointer is taken, in a few nanoseconds each, and
  allocate their results themselves.  Anything else returns None, and the
  caller (``vgcore.network2``) takes its general path, which converts and
  explains.
* Every weighted input ``z`` is checked for finiteness as it is made.
  With finite inputs, a NaN or infinite weight or bias always makes some
  ``z`` non-finite (``inf * 0`` is NaN; the BLAS computes every product),
  so that None is the cheap, complete trigger for the caller's full check
  of data and parameters -- no cache of what was checked before is
  needed, and none can go stale.  ``backprop`` also gives None for a
  non-finite output error, and for an example whose ``nabla_w`` could
  overflow.
* The element-wise formulas (activations, their derivatives, the output
  error) are ``_elementwise.pxd``'s, which ``_kernels``' blas path uses
  too: the same bits as that path.  The hidden layers' activation is an
  argument (``act``, a code of ``vg_codes.h``); the output layer is sigmoid.
* No global state, one small ``malloc`` per call, the GIL released around
  the arithmetic -- except ``feedforward`` of one column, which keeps the
  GIL (a few microseconds) and its workspace on the stack:
  ``vgcore.network2``'s ``feedforward`` reads without the network's lock
  when no training runs and relies on no Python thread changing the
  parameters while the compiled code reads them (see
  ``_support/locks.py``, ``quiet``).
* BLAS threads: the policy of ``vgcore.core.kernels`` around calls whose
  largest BLAS product exceeds ``ONE_THREAD_MACS`` (below it, nothing to
  enter: setting the limit would cost as much as the call).
* network2's cost functions (the last sections) are the static methods of
  the drop-in's cost classes: network2's numbers to the bit, by doing its
  operations in its order with numpy's own ``log``/``exp`` loops and
  pairwise sum; anything unusual goes back to the numpy reference.
"""
from cython cimport floating
from libc.math cimport fabs, isfinite, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv
cimport numpy as cnp
import numpy as np

from _elementwise cimport (VG_ACT_RELU, VG_ACT_SIGMOID, VG_COST_CROSS_ENTROPY,
                           VG_COST_QUADRATIC, VG_N_ACTS, activation, output_delta,
                           sigmoid_from_e, times_prime)

cnp.import_array()

#: Cost codes (those of ``vgcore._kernels``: ``vg_codes.h``).
COST_CROSS_ENTROPY = VG_COST_CROSS_ENTROPY
COST_QUADRATIC = VG_COST_QUADRATIC

#: Largest magnitude whose square is still finite: |delta| and |x| both
#: below it keep every product delta_i * x_j finite.
cdef double _SQRT_MAX = 1.3407807929942596e154
cdef float _SQRT_MAX_F = 1.8446742e19


# ---------------------------------------------------------------------------
# BLAS on network2's row-major layout
# ---------------------------------------------------------------------------

cdef enum:
    NO_TRANS = 78    # ord('N')
    TRANS = 84       # ord('T')


cdef inline void _gemm(char ta, char tb, int m, int n, int k, floating alpha,
                       const floating *A, int lda, const floating *B, int ldb,
                       floating beta, floating *C, int ldc) noexcept nogil:
    """Column-major ``C = alpha op(A) op(B) + beta C``."""
    if floating is double:
        dgemm(&ta, &tb, &m, &n, &k, &alpha, <double *> A, &lda, <double *> B, &ldb,
              &beta, C, &ldc)
    else:
        sgemm(&ta, &tb, &m, &n, &k, &alpha, <float *> A, &lda, <float *> B, &ldb,
              &beta, C, &ldc)


cdef inline void _gemv(char trans, int m, int n, const floating *A,
                       const floating *x, floating beta, floating *y) noexcept nogil:
    """Column-major ``y = op(A) x + beta y``, ``A`` (m, n) with lda = m."""
    cdef int inc = 1
    cdef floating one = 1
    if floating is double:
        dgemv(&trans, &m, &n, &one, <double *> A, &m, <double *> x, &inc, &beta, y, &inc)
    else:
        sgemv(&trans, &m, &n, &one, <float *> A, &m, <float *> x, &inc, &beta, y, &inc)


cdef inline void _layer(Py_ssize_t k, int n_in, int n_out, const floating *W,
                        const floating *A, floating *Z) noexcept nogil:
    """``Z += A w^T`` for ``k`` rows ``A`` (k, n_in) and row-major ``w``.

    Row-major ``w`` (n_out, n_in) is the column-major (n_in, n_out) matrix
    ``w^T``, so one row is ``gemv('T')`` and ``k`` rows are column-major
    ``Z^T = w A^T``: ``gemm('T', 'N')``.  (A C loop of four rows of ``w`` at
    a time in 64-byte vectors was tried for one example of [784,30,30,10]:
    slightly slower than OpenBLAS's gemv for one row (3.6 against 3.3 us
    for the whole pass), 1.5x slower for five.  The
    first layer streams 188 KB of weights from L2 and that, not the call,
    is the time: ~2.5 us here for BLAS and the loop alike, 1.6 us in
    float32.)
    """
    if k == 1:
        _gemv(TRANS, n_in, n_out, W, A, <floating> 1, Z)
    else:
        _gemm(TRANS, NO_TRANS, n_out, <int> k, n_in, <floating> 1, W, n_in, A, n_in,
              <floating> 1, Z, n_out)


cdef inline void _outer(Py_ssize_t n_in, Py_ssize_t n_out, const floating *a,
                        const floating *d, floating *nw) noexcept nogil:
    """Row-major ``nw (n_out, n_in) = d a^T``: column-major ``nw^T = a d^T``.

    A BLAS ``gemm`` with k = 1: its stores beat a C loop's (measured, one
    example of [784,30,30,10]: 11 us against 15 us for the whole backprop;
    the loop, kept in the def function, GCC even left scalar).
    """
    _gemm(NO_TRANS, TRANS, <int> n_in, <int> n_out, 1, <floating> 1, a, <int> n_in,
          d, <int> n_out, <floating> 0, nw, <int> n_in)


# ---------------------------------------------------------------------------
# The passes (validated input: see the def functions)
# ---------------------------------------------------------------------------

cdef int _forward(int L, const Py_ssize_t *n, const floating * const *W,
                  const floating * const *B, Py_ssize_t k, const floating *X,
                  int act, floating *acts, floating *z_out) noexcept nogil:
    """Forward pass of ``k`` rows ``X``; 1 if some ``z`` is not finite.

    Hidden layers apply the activation ``act``, the output layer the
    sigmoid.  Layer ``l``'s activations go to ``acts`` at offset ``k *
    (n[1] + ... + n[l])``, rows of ``n[l+1]``; the output layer's ``z`` to
    ``z_out`` when it is not NULL.
    """
    cdef int l, bad = 0, f
    cdef Py_ssize_t i, j, m
    cdef const floating *a = X
    cdef const floating *b
    cdef floating *Z = acts
    cdef floating z
    for l in range(L):
        m = n[l + 1]
        b = B[l]
        f = act if l < L - 1 else VG_ACT_SIGMOID
        for i in range(k):
            for j in range(m):
                Z[i * m + j] = b[j]
        _layer(k, <int> n[l], <int> m, W[l], a, Z)
        for i in range(k * m):
            z = Z[i]
            if not isfinite(z):
                bad = 1
            if l == L - 1 and z_out != NULL:
                z_out[i] = z
            Z[i] = activation(f, z)
        a = Z
        Z += k * m
    return bad


cdef int _backprop(int L, const Py_ssize_t *n, const floating * const *W,
                   const floating * const *B, const floating *x, const floating *y,
                   int64_t label, int cost, int act, floating **NB, floating **NW,
                   floating *work) noexcept nogil:
    """Gradients of one example into ``NB``/``NW``; 1 if something is not finite.

    ``y`` is the target vector, or NULL and ``label`` its one-hot column.
    ``work`` holds the activations (sum of n[1..L]) and two ``delta``
    vectors of the widest layer.
    """
    cdef int l
    cdef Py_ssize_t i, j, off = 0, width = 0, n_in, n_out
    cdef floating *acts = work
    cdef floating *nb
    cdef floating *nw
    cdef floating *d
    cdef floating *dprev
    cdef floating *tmp
    cdef const floating *a
    cdef const floating *prev
    cdef floating s, t, dmax = 0, xmax = 0
    cdef floating lim = <floating> (_SQRT_MAX if floating is double else _SQRT_MAX_F)
    for l in range(1, L + 1):
        off += n[l]
        width = n[l] if n[l] > width else width
    d = work + off
    dprev = d + width
    if _forward(L, n, W, B, 1, x, act, acts, <floating *> NULL):
        return 1
    off -= n[L]                          # the output layer's activations
    a = acts + off
    for i in range(n[L]):
        t = (1 if i == label else 0) if y == NULL else y[i]
        d[i] = output_delta(cost, a[i], t)
    for l in range(L - 1, -1, -1):
        n_in, n_out, nb, nw = n[l], n[l + 1], NB[l], NW[l]
        prev = x if l == 0 else acts + off - n_in
        dmax = 0
        for i in range(n_out):
            s = d[i]
            if not isfinite(s):
                return 1
            nb[i] = s
            if fabs(s) > dmax:
                dmax = fabs(s)
        if l == 0 or act == VG_ACT_RELU:  # |x|, and ReLU's a, are not bounded by 1
            xmax = 0
            for j in range(n_in):
                if fabs(prev[j]) > xmax:
                    xmax = fabs(prev[j])
            if dmax >= lim and xmax > 0 or xmax >= lim and dmax > 0:
                return 1                 # some delta_i a_j may overflow: caller checks
        _outer(n_in, n_out, prev, d, nw)
        if l == 0:
            break
        # delta_prev = (w^T delta) * f'(z): column-major w^T is (n_in, n_out)
        _gemv(NO_TRANS, <int> n_in, <int> n_out, W[l], d, <floating> 0, dprev)
        off -= n_in
        a = acts + off
        for j in range(n_in):
            dprev[j] = times_prime(act, dprev[j], a[j])
        tmp = d
        d = dprev
        dprev = tmp
    return 0


cdef int _update(int L, const Py_ssize_t *n, const floating * const *W,
                 const floating * const *B, Py_ssize_t k, const floating *X,
                 const floating *Y, const int64_t *labels, int cost, int act,
                 floating eta, floating decay, floating **NW, floating **NB,
                 floating *work) noexcept nogil:
    """network2's ``update_mini_batch`` on the ``k`` rows ``X``: ``NW``/``NB``
    (copies of ``W``/``B``) become ``decay w - (eta/k) sum dC/dw`` and
    ``b - (eta/k) sum dC/db``.  1 if a ``z`` or ``delta`` is not finite.

    ``work``: the activations (``k`` times the sum of n[1..L]) and two
    ``delta`` blocks of ``k`` rows of the widest layer.  ``delta_{l-1}`` is
    made from the old ``w_l`` (``W``), as network2's gradients are.
    """
    cdef int l, ni, no, kk = <int> k
    cdef Py_ssize_t i, j, off = 0, width = 0
    cdef floating *acts = work
    cdef floating *D
    cdef floating *Dp
    cdef floating *tmp
    cdef floating *a
    cdef const floating *prev
    cdef floating s, t, step = eta / k
    for l in range(1, L + 1):
        off += n[l]
        width = n[l] if n[l] > width else width
    D = work + k * off
    Dp = D + k * width
    if _forward(L, n, W, B, k, X, act, acts, <floating *> NULL):
        return 1
    off -= n[L]                              # the output layer's activations
    a = acts + k * off
    for i in range(k):
        for j in range(n[L]):
            t = (1 if j == labels[i] else 0) if Y == NULL else Y[i * n[L] + j]
            D[i * n[L] + j] = output_delta(cost, a[i * n[L] + j], t)
    for l in range(L - 1, -1, -1):
        ni, no = <int> n[l], <int> n[l + 1]
        prev = X if l == 0 else acts + k * (off - ni)
        for j in range(no):                  # the biases: the column sums of delta
            s = 0
            for i in range(k):
                s = s + D[i * no + j]
            if not isfinite(s):
                return 1
            NB[l][j] = NB[l][j] - step * s
        if l > 0:                            # delta_{l-1} = (delta w_l) * f'(z_{l-1})
            _gemm(NO_TRANS, NO_TRANS, ni, kk, no, <floating> 1, W[l], ni, D, no,
                  <floating> 0, Dp, ni)
        # w_l <- decay w_l - (eta/k) delta^T a_{l-1}: one gemm into the copy
        _gemm(NO_TRANS, TRANS, ni, no, kk, -step, prev, ni, D, no, decay, NW[l], ni)
        if l == 0:
            break
        off -= ni
        a = acts + k * off
        for i in range(k * ni):
            Dp[i] = times_prime(act, Dp[i], a[i])
        tmp = D
        D = Dp
        Dp = tmp
    return 0


# ---------------------------------------------------------------------------
# Python entry points: check every array, then compute
# ---------------------------------------------------------------------------

cdef inline bint _native(object a, int typenum, int ndim) noexcept:
    """An exact, C-contiguous ndarray of ``typenum`` with ``ndim`` dimensions."""
    return (cnp.PyArray_CheckExact(a) and cnp.PyArray_TYPE(<cnp.ndarray> a) == typenum
            and cnp.PyArray_NDIM(<cnp.ndarray> a) == ndim
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a))


cdef inline bint _vector(object a, int typenum, Py_ssize_t size) noexcept:
    """A ``(size,)`` or ``(size, 1)`` native array."""
    cdef cnp.ndarray v
    if not (cnp.PyArray_CheckExact(a) and cnp.PyArray_TYPE(<cnp.ndarray> a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a)):
        return False
    v = <cnp.ndarray> a
    if cnp.PyArray_NDIM(v) == 1:
        return v.shape[0] == size
    return cnp.PyArray_NDIM(v) == 2 and v.shape[0] == size and v.shape[1] == 1


cdef class _Layers:
    """Checked parameter lists as pointers; owns the pointer arrays."""
    cdef int L
    cdef Py_ssize_t *n
    cdef void **W
    cdef void **B

    def __dealloc__(self):
        free(self.n)
        free(self.W)
        free(self.B)


cdef int _check_layers(object weights, object biases, object sizes, int typenum,
                       Py_ssize_t max_layers, Py_ssize_t *n, void **W, void **B):
    """The number of layers ``L``, with ``n`` (L + 1 widths) and the data of
    ``W``/``B`` filled in, if ``weights`` and ``biases`` are lists of native
    arrays of ``typenum`` shaped as the list of ints ``sizes`` says (``w``
    (n_{l+1}, n_l), ``b`` (n_{l+1}, 1)); else 0 (-1: more than
    ``max_layers`` layers, which ``n``, ``W``, ``B`` have room for)."""
    cdef Py_ssize_t L, l
    cdef object w, b, s
    if type(weights) is not list or type(biases) is not list or type(sizes) is not list:
        return 0
    L = len(<list> weights)
    if L == 0 or len(<list> biases) != L or len(<list> sizes) != L + 1:
        return 0
    if L > max_layers:
        return -1
    for l in range(L + 1):
        s = (<list> sizes)[l]
        if type(s) is not int or not 0 < s <= 2**31 - 1:
            return 0
        n[l] = s
    for l in range(L):
        w = (<list> weights)[l]
        b = (<list> biases)[l]
        if (not _native(w, typenum, 2) or (<cnp.ndarray> w).shape[0] != n[l + 1]
                or (<cnp.ndarray> w).shape[1] != n[l] or not _native(b, typenum, 2)
                or (<cnp.ndarray> b).shape[0] != n[l + 1]
                or (<cnp.ndarray> b).shape[1] != 1):
            return 0
        W[l] = cnp.PyArray_DATA(<cnp.ndarray> w)
        B[l] = cnp.PyArray_DATA(<cnp.ndarray> b)
    return <int> L


cdef _Layers _layers(object weights, object biases, object sizes, int typenum):
    """The layers (see ``_check_layers``) in memory of their own, or None."""
    cdef Py_ssize_t L
    cdef _Layers net
    if type(weights) is not list:
        return None
    L = len(<list> weights)
    if L == 0:
        return None
    net = _Layers.__new__(_Layers)
    net.n = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
    net.W = <void **> malloc(L * sizeof(void *))
    net.B = <void **> malloc(L * sizeof(void *))
    if net.n == NULL or net.W == NULL or net.B == NULL:
        raise MemoryError()
    net.L = _check_layers(weights, biases, sizes, typenum, L, net.n, net.W, net.B)
    return net if net.L > 0 else None


# The BLAS thread policy of vgcore.core.kernels (see its "BLAS threads"):
# around a call whose largest BLAS product exceeds ONE_THREAD_MACS
# multiply-adds, BLAS is held to set_blas_threads(n) threads (default 1).
# The bound is 4x the kernels' (65,536): OpenBLAS's own (it runs a GEMM of
# at most 4 x 65,536 multiply-adds on one thread), because setting the
# limit costs ~10 us, as much as a whole small call.  Measured with SciPy's
# OpenBLAS here (process against thread CPU time): no second thread in
# backprop of [784,100,10] (78,400) or update_mini_batch of 10 on
# [784,30,30,10] (235,200), which stay below; update_mini_batch of 10 on
# [784,100,10] (784,000) is limited.
from vgcore.core.kernels import _ONE_THREAD_MACS, _blas_limit
cdef Py_ssize_t _ONE_THREAD = 4 * _ONE_THREAD_MACS
ONE_THREAD_MACS = _ONE_THREAD


cdef Py_ssize_t _largest_product(_Layers net, Py_ssize_t k) noexcept:
    """Multiply-adds of the largest BLAS product of a call on ``k`` rows."""
    cdef Py_ssize_t l, p = 0
    for l in range(net.L):
        if net.n[l] * net.n[l + 1] > p:
            p = net.n[l] * net.n[l + 1]
    return k * p


cdef object _enter_limit(Py_ssize_t macs):
    """Enter the BLAS limit for a call whose largest BLAS product is ``macs``;
    returns what ``_leave_limit`` takes (None below the bound: nothing to
    enter, not even a null context, ~0.1 us)."""
    if macs <= _ONE_THREAD:
        return None
    limit = _blas_limit(macs)
    limit.__enter__()
    return limit


cdef inline void _leave_limit(object limit) except *:
    if limit is not None:
        limit.__exit__(None, None, None)


cdef inline int _typenum(object dtype) noexcept:
    """The network's dtype (``np.float64`` or ``np.float32``) as a type number, else -1."""
    if dtype is np.float64:
        return cnp.NPY_DOUBLE
    if dtype is np.float32:
        return cnp.NPY_FLOAT
    return -1


cdef inline bint _float_input(object a) noexcept:
    """A C-contiguous float64 or float32 ndarray (inputs may be of either)."""
    return (cnp.PyArray_CheckExact(a) and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a)
            and (cnp.PyArray_TYPE(<cnp.ndarray> a) == cnp.NPY_DOUBLE
                 or cnp.PyArray_TYPE(<cnp.ndarray> a) == cnp.NPY_FLOAT))


cdef void *_input(cnp.ndarray a, int typenum, void *buf, bint copy=False) noexcept:
    """The data of the float input ``a`` in ``typenum``: in place, or copied
    (converted when its dtype is the other one: a float32 overflow gives
    inf, which the passes report) into ``buf``, room for its values, when
    ``copy`` or the dtypes differ.  Returns where the values are."""
    cdef Py_ssize_t i, m = cnp.PyArray_SIZE(a)
    cdef double *d
    cdef float *f
    cdef int t = cnp.PyArray_TYPE(a)
    if t == typenum and not copy:
        return cnp.PyArray_DATA(a)
    if t == typenum:
        memcpy(buf, cnp.PyArray_DATA(a), m * (sizeof(double) if t == cnp.NPY_DOUBLE
                                              else sizeof(float)))
    elif typenum == cnp.NPY_DOUBLE:
        f, d = <float *> cnp.PyArray_DATA(a), <double *> buf
        for i in range(m):
            d[i] = f[i]
    else:
        d, f = <double *> cnp.PyArray_DATA(a), <float *> buf
        for i in range(m):
            f[i] = <float> d[i]
    return buf


cdef Py_ssize_t _row_count(object X, Py_ssize_t n_in, bint column_too):
    """How many examples ``X`` holds -- a list of float ``(n_in,)`` or
    ``(n_in, 1)`` columns, a float ``(k, n_in)`` array, or (with
    ``column_too``) one such column -- or -1 for anything else."""
    if type(X) is list:
        for col in <list> X:
            if not (_float_input(col) and _vector(col, cnp.PyArray_TYPE(<cnp.ndarray> col),
                                                  n_in)):
                return -1
        return len(<list> X)
    if not _float_input(X):
        return -1
    if column_too and _vector(X, cnp.PyArray_TYPE(<cnp.ndarray> X), n_in):
        return 1
    if cnp.PyArray_NDIM(<cnp.ndarray> X) == 2 and (<cnp.ndarray> X).shape[1] == n_in:
        return (<cnp.ndarray> X).shape[0]
    return -1


cdef void *_rows(object X, int typenum, Py_ssize_t n_in, size_t item, char *buf):
    """The rows of ``X`` (checked by ``_row_count``) in ``typenum``: in place
    when they already are, else gathered or converted into ``buf``."""
    cdef Py_ssize_t i
    if type(X) is not list:
        return _input(<cnp.ndarray> X, typenum, buf)
    for i in range(len(<list> X)):
        _input(<cnp.ndarray> (<list> X)[i], typenum, buf + i * n_in * item, True)
    return buf


cdef inline cnp.ndarray _empty(Py_ssize_t rows, Py_ssize_t cols, int typenum):
    cdef cnp.npy_intp dims[2]
    dims[0] = rows
    dims[1] = cols
    return cnp.PyArray_EMPTY(2, dims, typenum, 0)


def forward(weights, biases, sizes, dtype, X, bint with_z=False, int act=VG_ACT_SIGMOID):
    """The outputs ``a^L`` of the ``k`` rows of ``X``: a new ``(k, n_L)`` array.

    ``weights``/``biases`` are network2's lists of arrays of ``dtype``
    (``np.float64`` or ``np.float32``) and ``sizes`` the list of layer
    widths they must have.  ``X`` holds float64 or float32 inputs
    (converted to ``dtype`` if they are the other), C-contiguous: a
    ``(k, sizes[0])`` array, one ``(sizes[0],)`` or ``(sizes[0], 1)``
    column, or a list of ``k`` such columns (network2's ``x``).  With
    ``with_z``, ``(a^L, z^L)``.  ``act`` is the hidden layers' activation
    (a ``VG_ACT_*`` code of ``vg_codes.h``; the output layer is sigmoid).
    None when the arguments are not exactly that, or when some ``z`` is NaN
    or infinite.
    """
    cdef int typenum = _typenum(dtype), status
    cdef _Layers net
    cdef Py_ssize_t k, total = 0, l, m, n_in
    cdef size_t item
    cdef void *work
    cdef void *x
    cdef void *zp = NULL
    cdef cnp.ndarray out, z = None
    if typenum < 0 or not 0 <= act < VG_N_ACTS:
        return None
    net = _layers(weights, biases, sizes, typenum)
    if net is None:
        return None
    n_in = net.n[0]
    k = _row_count(X, n_in, True)
    if k < 1:
        return None
    m = net.n[net.L]
    for l in range(1, net.L + 1):
        total += net.n[l]
    out = _empty(k, m, typenum)
    if with_z:
        z = _empty(k, m, typenum)
        zp = cnp.PyArray_DATA(z)
    item = sizeof(double) if typenum == cnp.NPY_DOUBLE else sizeof(float)
    work = malloc(k * (total + n_in) * item)
    if work == NULL:
        raise MemoryError()
    lim = None
    try:
        x = _rows(X, typenum, n_in, item, <char *> work + k * total * item)
        lim = _enter_limit(_largest_product(net, k))
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                status = _forward(net.L, net.n, <const double **> net.W, <const double **> net.B,
                                  k, <double *> x, act, <double *> work, <double *> zp)
                memcpy(cnp.PyArray_DATA(out), <double *> work + k * (total - m),
                       k * m * sizeof(double))
            else:
                status = _forward(net.L, net.n, <const float **> net.W, <const float **> net.B,
                                  k, <float *> x, act, <float *> work, <float *> zp)
                memcpy(cnp.PyArray_DATA(out), <float *> work + k * (total - m),
                       k * m * sizeof(float))
    finally:
        free(work)
        _leave_limit(lim)
    if status:
        return None
    return (out, z) if with_z else out


cdef enum:
    _COLUMN_LAYERS = 16          # feedforward's stack arrays: deeper nets take forward()
    _COLUMN_STACK = 4096         # values of its stack workspace (more: malloc)


cdef inline int _forward_one(int typenum, int L, const Py_ssize_t *n, void **W, void **B,
                             void *x, int act, void *work) noexcept:
    if typenum == cnp.NPY_DOUBLE:
        return _forward(L, n, <const double **> W, <const double **> B, 1, <double *> x,
                        act, <double *> work, <double *> NULL)
    return _forward(L, n, <const float **> W, <const float **> B, 1, <float *> x, act,
                    <float *> work, <float *> NULL)


def feedforward(weights, biases, sizes, dtype, a, int act=VG_ACT_SIGMOID):
    """network2's ``feedforward(a)`` for one column: the output, shaped like ``a``.

    The parameters as in :func:`forward`; ``a`` is one ``(n_in, 1)`` or
    ``(n_in,)`` C-contiguous float64 or float32 column (converted to
    ``dtype`` if it is the other); the result is a new ``(n_L, 1)`` or
    ``(n_L,)`` array of ``dtype``.  None when the arguments are not exactly
    that, or a ``z`` is not finite.  :func:`forward` without its
    allocations (the layer pointers and a workspace of up to 4096 values
    on the stack) and WITHOUT RELEASING THE GIL (a few microseconds): no
    other Python thread runs while it reads the parameters, which the
    optimistic read of ``vgcore.network2.Network.feedforward`` relies on.
    """
    cdef int typenum = _typenum(dtype), status, L
    cdef Py_ssize_t n[_COLUMN_LAYERS + 1]
    cdef void *W[_COLUMN_LAYERS]
    cdef void *B[_COLUMN_LAYERS]
    cdef double stack[_COLUMN_STACK]
    cdef Py_ssize_t total = 0, largest = 0, l, m
    cdef size_t item
    cdef void *work
    cdef void *x
    cdef cnp.ndarray out
    if typenum < 0 or not 0 <= act < VG_N_ACTS or not _float_input(a):
        return None
    L = _check_layers(weights, biases, sizes, typenum, _COLUMN_LAYERS, n, W, B)
    if L <= 0 or not _vector(a, cnp.PyArray_TYPE(<cnp.ndarray> a), n[0]):
        return None
    m = n[L]
    for l in range(1, L + 1):
        total += n[l]
        largest = n[l - 1] * n[l] if n[l - 1] * n[l] > largest else largest
    item = sizeof(double) if typenum == cnp.NPY_DOUBLE else sizeof(float)
    if cnp.PyArray_NDIM(<cnp.ndarray> a) == 2:
        out = _empty(m, 1, typenum)
    else:
        out = cnp.PyArray_EMPTY(1, <cnp.npy_intp *> &n[L], typenum, 0)
    work = <void *> stack
    if (total + n[0]) * item > sizeof(stack):
        work = malloc((total + n[0]) * item)
        if work == NULL:
            raise MemoryError()
    try:
        x = _input(<cnp.ndarray> a, typenum, <char *> work + total * item)
        if largest > _ONE_THREAD:              # (no context to enter otherwise)
            with _blas_limit(largest):
                status = _forward_one(typenum, L, n, W, B, x, act, work)
        else:
            status = _forward_one(typenum, L, n, W, B, x, act, work)
        memcpy(cnp.PyArray_DATA(out), <char *> work + (total - m) * item, m * item)
    finally:
        if work != <void *> stack:
            free(work)
    if status:
        return None
    return out


def backprop(weights, biases, sizes, dtype, x, y, Py_ssize_t label, int cost,
             int act=VG_ACT_SIGMOID):
    """network2's ``backprop(x, y)``: ``(nabla_b, nabla_w)``, new arrays.

    The parameters as in :func:`forward`; ``x`` is ``(n_in,)`` or
    ``(n_in, 1)``, C-contiguous, float64 or float32 (converted to ``dtype``
    if it is the other one); the target
    is such a vector ``y`` (``(n_out,)`` or ``(n_out, 1)``), or, with ``y``
    None, the one-hot vector of ``label``; ``cost`` is
    ``COST_CROSS_ENTROPY`` or ``COST_QUADRATIC``; ``act`` as in
    :func:`forward`.  None when the arguments are not exactly that, or when
    a ``z`` or ``delta`` is not finite or a ``delta_i x_j`` might overflow.
    """
    cdef int typenum = _typenum(dtype), status, l
    cdef _Layers net
    cdef Py_ssize_t total = 0, width = 0
    cdef size_t item
    cdef void *work
    cdef void *xp
    cdef void *yp = NULL
    cdef void **NB
    cdef void **NW
    cdef list nabla_b, nabla_w
    cdef cnp.ndarray a
    if (typenum < 0 or (cost != VG_COST_CROSS_ENTROPY and cost != VG_COST_QUADRATIC)
            or not 0 <= act < VG_N_ACTS or not _float_input(x)):
        return None
    net = _layers(weights, biases, sizes, typenum)
    if net is None or not _vector(x, cnp.PyArray_TYPE(<cnp.ndarray> x), net.n[0]):
        return None
    if y is None:
        if label < 0 or label >= net.n[net.L]:
            return None
    elif not (_float_input(y) and _vector(y, cnp.PyArray_TYPE(<cnp.ndarray> y),
                                          net.n[net.L])):
        return None
    nabla_b, nabla_w = [], []
    NB = <void **> malloc(net.L * sizeof(void *))
    NW = <void **> malloc(net.L * sizeof(void *))
    for l in range(net.L):
        total += net.n[l + 1]
        width = net.n[l + 1] if net.n[l + 1] > width else width
    item = sizeof(double) if typenum == cnp.NPY_DOUBLE else sizeof(float)
    work = malloc((total + 2 * width + net.n[0] + net.n[net.L]) * item)
    lim = None
    try:
        if NB == NULL or NW == NULL or work == NULL:
            raise MemoryError()
        xp = _input(<cnp.ndarray> x, typenum, <char *> work + (total + 2 * width) * item)
        if y is not None:
            yp = _input(<cnp.ndarray> y, typenum,
                        <char *> work + (total + 2 * width + net.n[0]) * item)
        for l in range(net.L):
            a = _empty(net.n[l + 1], 1, typenum)
            nabla_b.append(a)
            NB[l] = cnp.PyArray_DATA(a)
            a = _empty(net.n[l + 1], net.n[l], typenum)
            nabla_w.append(a)
            NW[l] = cnp.PyArray_DATA(a)
        lim = _enter_limit(_largest_product(net, 1))
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                status = _backprop(net.L, net.n, <const double **> net.W,
                                   <const double **> net.B, <double *> xp,
                                   <double *> yp, label, cost, act, <double **> NB,
                                   <double **> NW, <double *> work)
            else:
                status = _backprop(net.L, net.n, <const float **> net.W,
                                   <const float **> net.B, <float *> xp,
                                   <float *> yp, label, cost, act, <float **> NB,
                                   <float **> NW, <float *> work)
    finally:
        free(work)
        free(NB)
        free(NW)
        _leave_limit(lim)
    if status:
        return None
    return nabla_b, nabla_w


def sum_squares(weights, dtype):
    """``sum ||w||_F^2`` over the list ``weights`` of C-contiguous arrays of
    ``dtype`` (in double, in blocks of eight partial sums), or None."""
    cdef int typenum = _typenum(dtype)
    cdef double total = 0
    cdef Py_ssize_t m
    if typenum < 0 or type(weights) is not list:
        return None
    for w in <list> weights:
        if not (cnp.PyArray_CheckExact(w) and cnp.PyArray_TYPE(<cnp.ndarray> w) == typenum
                and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> w)):
            return None
    for w in <list> weights:
        m = cnp.PyArray_SIZE(<cnp.ndarray> w)
        if typenum == cnp.NPY_DOUBLE:
            total += _sum_squares(m, <double *> cnp.PyArray_DATA(<cnp.ndarray> w))
        else:
            total += _sum_squares(m, <float *> cnp.PyArray_DATA(<cnp.ndarray> w))
    return total


cdef double _sum_squares(Py_ssize_t m, const floating *v) noexcept nogil:
    """``sum v_i^2`` in double with eight running sums (no reassociation
    needed to keep the units busy)."""
    cdef double s[8]
    cdef double t
    cdef Py_ssize_t i, j
    for j in range(8):
        s[j] = 0
    i = 0
    while i + 8 <= m:
        for j in range(8):
            t = v[i + j]
            s[j] += t * t
        i += 8
    while i < m:
        t = v[i]
        s[0] += t * t
        i += 1
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))


def update(weights, biases, sizes, dtype, X, Y, labels, int cost, double eta,
           double lmbda, double n, int act=VG_ACT_SIGMOID):
    """network2's ``update_mini_batch`` on a few examples: the new ``(weights,
    biases)``, new arrays (those given are not changed).

    The parameters and ``X`` as in :func:`forward` (one row per example);
    the targets are the rows of ``Y`` (``(k, n_out)``, either float dtype)
    or, with ``Y`` None, the one-hot vectors of the int64 ``labels``
    (``(k,)``, each in ``[0, n_out)``).  ``eta``, ``lmbda`` and ``n``
    (checked by the caller) as in network2, ``act`` as in :func:`forward`.
    None when the arguments are not exactly that, or a ``z`` or ``delta``
    is not finite.  (New
    parameters that overflowed are the caller's to find: that is
    divergence, as network2 would train into it.)
    """
    cdef int typenum = _typenum(dtype), status = 1, l
    cdef _Layers net
    cdef Py_ssize_t k, total = 0, width = 0, n_in, i
    cdef size_t item
    cdef void *work
    cdef void *x
    cdef void *yp = NULL
    cdef const int64_t *lp = NULL
    cdef void **NW
    cdef void **NB
    cdef list new_w, new_b
    cdef cnp.ndarray a, src
    if (typenum < 0 or (cost != VG_COST_CROSS_ENTROPY and cost != VG_COST_QUADRATIC)
            or not 0 <= act < VG_N_ACTS):
        return None
    net = _layers(weights, biases, sizes, typenum)
    if net is None:
        return None
    n_in = net.n[0]
    k = _row_count(X, n_in, False)
    if k < 1:
        return None
    if Y is None:
        if not (cnp.PyArray_CheckExact(labels) and cnp.PyArray_TYPE(<cnp.ndarray> labels)
                == cnp.NPY_INT64 and _vector(labels, cnp.NPY_INT64, k)):
            return None
        lp = <const int64_t *> cnp.PyArray_DATA(<cnp.ndarray> labels)
        for i in range(k):
            if lp[i] < 0 or lp[i] >= net.n[net.L]:
                return None
    elif not (_float_input(Y) and cnp.PyArray_NDIM(<cnp.ndarray> Y) == 2
              and (<cnp.ndarray> Y).shape[0] == k and (<cnp.ndarray> Y).shape[1] == net.n[net.L]):
        return None
    for l in range(1, net.L + 1):
        total += net.n[l]
        width = net.n[l] if net.n[l] > width else width
    item = sizeof(double) if typenum == cnp.NPY_DOUBLE else sizeof(float)
    new_w, new_b = [], []
    NW = <void **> malloc(net.L * sizeof(void *))
    NB = <void **> malloc(net.L * sizeof(void *))
    work = malloc(k * (total + 2 * width + n_in + net.n[net.L]) * item)
    lim = None
    try:
        if NW == NULL or NB == NULL or work == NULL:
            raise MemoryError()
        for l in range(net.L):               # the copies that become the parameters
            src = <cnp.ndarray> (<list> weights)[l]
            a = _empty(net.n[l + 1], net.n[l], typenum)
            memcpy(cnp.PyArray_DATA(a), cnp.PyArray_DATA(src), cnp.PyArray_NBYTES(src))
            new_w.append(a)
            NW[l] = cnp.PyArray_DATA(a)
            src = <cnp.ndarray> (<list> biases)[l]
            a = _empty(net.n[l + 1], 1, typenum)
            memcpy(cnp.PyArray_DATA(a), cnp.PyArray_DATA(src), cnp.PyArray_NBYTES(src))
            new_b.append(a)
            NB[l] = cnp.PyArray_DATA(a)
        x = _rows(X, typenum, n_in, item, <char *> work + k * (total + 2 * width) * item)
        if Y is not None:
            yp = _input(<cnp.ndarray> Y, typenum,
                        <char *> work + k * (total + 2 * width + n_in) * item)
        lim = _enter_limit(_largest_product(net, k))
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                status = _update(net.L, net.n, <const double **> net.W,
                                 <const double **> net.B, k, <double *> x, <double *> yp,
                                 lp, cost, act, eta, 1 - eta * (lmbda / n), <double **> NW,
                                 <double **> NB, <double *> work)
            else:
                status = _update(net.L, net.n, <const float **> net.W,
                                 <const float **> net.B, k, <float *> x, <float *> yp,
                                 lp, cost, act, <float> eta, <float> (1 - eta * (lmbda / n)),
                                 <float **> NW, <float **> NB, <float *> work)
    finally:
        free(work)
        free(NW)
        free(NB)
        _leave_limit(lim)
    if status:
        return None
    return new_w, new_b


# ---------------------------------------------------------------------------
# Checking that a converted list still holds the converted numbers
# ---------------------------------------------------------------------------

cdef bint _same(cnp.ndarray a, const double *d, const float *f, Py_ssize_t m) noexcept:
    """The C-contiguous float ``a`` (m values) equals ``d`` (or ``f``) after
    the conversion to that dtype (exact, as numpy's cast)."""
    cdef Py_ssize_t j
    cdef int t = cnp.PyArray_TYPE(a)
    cdef const double *ad
    cdef const float *af
    if t == cnp.NPY_DOUBLE:
        ad = <const double *> cnp.PyArray_DATA(a)
        if d != NULL:
            return memcmp(ad, d, m * sizeof(double)) == 0 or _equal_dd(ad, d, m)
        for j in range(m):
            if <float> ad[j] != f[j]:
                return False
        return True
    af = <const float *> cnp.PyArray_DATA(a)
    if f != NULL:
        for j in range(m):
            if af[j] != f[j]:
                return False
        return True
    for j in range(m):
        if <double> af[j] != d[j]:
            return False
    return True


cdef bint _equal_dd(const double *a, const double *b, Py_ssize_t m) noexcept:
    cdef Py_ssize_t j
    for j in range(m):
        if a[j] != b[j]:
            return False
    return True


def same_rows(list pairs, X, T, rows):
    """True when each pair ``(x, y)`` of ``pairs`` still holds the numbers of
    row ``rows[k]`` of the arrays it was converted to: ``x`` equal to that
    row of ``X``, ``y`` to that row of ``T`` -- target rows, or int64 labels
    for int ``y`` -- after conversion to their dtype.

    One pass over the data (~50 ms for 50,000 MNIST pairs here), against a
    new conversion's ~0.8 s: what makes reusing a converted list safe when
    a script changes the numbers inside its arrays in place.  False also for
    anything but float64/float32 C-contiguous ``x`` and ``y`` arrays (the
    caller then converts again).
    """
    cdef Py_ssize_t k, n = len(pairs), r, n_in, n_out, N
    cdef const int64_t *rp
    cdef const int64_t *lab = NULL
    cdef const double *Xd = NULL
    cdef const float *Xf = NULL
    cdef const double *Td = NULL
    cdef const float *Tf = NULL
    cdef object p, x, y
    if not (_float_input(X) and cnp.PyArray_NDIM(<cnp.ndarray> X) == 2
            and cnp.PyArray_CheckExact(rows) and cnp.PyArray_TYPE(<cnp.ndarray> rows)
            == cnp.NPY_INT64 and _vector(rows, cnp.NPY_INT64, n)):
        return False
    N, n_in = (<cnp.ndarray> X).shape[0], (<cnp.ndarray> X).shape[1]
    rp = <const int64_t *> cnp.PyArray_DATA(<cnp.ndarray> rows)
    if cnp.PyArray_TYPE(<cnp.ndarray> X) == cnp.NPY_DOUBLE:
        Xd = <const double *> cnp.PyArray_DATA(<cnp.ndarray> X)
    else:
        Xf = <const float *> cnp.PyArray_DATA(<cnp.ndarray> X)
    if (cnp.PyArray_CheckExact(T) and cnp.PyArray_TYPE(<cnp.ndarray> T) == cnp.NPY_INT64
            and _vector(T, cnp.NPY_INT64, N)):
        lab, n_out = <const int64_t *> cnp.PyArray_DATA(<cnp.ndarray> T), 0
    elif (_float_input(T) and cnp.PyArray_NDIM(<cnp.ndarray> T) == 2
          and (<cnp.ndarray> T).shape[0] == N):
        n_out = (<cnp.ndarray> T).shape[1]
        if cnp.PyArray_TYPE(<cnp.ndarray> T) == cnp.NPY_DOUBLE:
            Td = <const double *> cnp.PyArray_DATA(<cnp.ndarray> T)
        else:
            Tf = <const float *> cnp.PyArray_DATA(<cnp.ndarray> T)
    else:
        return False
    for k in range(n):
        r = rp[k]
        if r < 0 or r >= N:
            return False
        p = pairs[k]
        if type(p) is not tuple or len(<tuple> p) != 2:
            return False
        x, y = (<tuple> p)[0], (<tuple> p)[1]
        if not (_float_input(x) and _vector(x, cnp.PyArray_TYPE(<cnp.ndarray> x), n_in)):
            return False
        if not _same(<cnp.ndarray> x, Xd + r * n_in if Xd != NULL else NULL,
                     Xf + r * n_in if Xf != NULL else NULL, n_in):
            return False
        if lab != NULL:
            if isinstance(y, bool) or not isinstance(y, (int, np.integer)) or y != lab[r]:
                return False
        elif not (_float_input(y) and _vector(y, cnp.PyArray_TYPE(<cnp.ndarray> y), n_out)
                  and _same(<cnp.ndarray> y, Td + r * n_out if Td != NULL else NULL,
                            Tf + r * n_out if Tf != NULL else NULL, n_out)):
            return False
    return True


# ---------------------------------------------------------------------------
# network2's cost functions, drop-in exact (vgcore.core.costs)
# ---------------------------------------------------------------------------
#
# ``fn``/``delta`` of network2's two cost classes, as the static methods of
# the drop-in's classes: these def functions are the methods themselves (no
# Python frame in between).  The fast path takes only the common case --
# exact, C-contiguous float64 ndarrays of one shape -- and gives numpy's
# bits: the element-wise steps are network2's in its order, ``log`` and
# ``exp`` are numpy's own loops (its SIMD ``log``/``exp`` round differently
# from the C library's in ~0.3% / ~5% of arguments), sums are numpy's
# pairwise sum, ``norm``'s dot product numpy's own (its BLAS ``ddot``) and
# ``** 2`` the C library's ``pow`` as numpy's scalar power.  Whenever a step
# raises a floating-point flag other than "inexact" (``log 0``, an
# overflow, an underflow, a NaN compared) the fast path hands over to the
# numpy expression of ``vgcore.core.reference``, so that numpy warns (or
# raises, under ``np.errstate``) exactly as in network2; anything that is
# not the common case goes there too.

cdef extern from "fenv.h" nogil:
    int feclearexcept(int)
    int fetestexcept(int)
    enum:
        FE_DIVBYZERO
        FE_INVALID
        FE_OVERFLOW
        FE_UNDERFLOW

ctypedef void (*_DotFunc)(void *, cnp.npy_intp, void *, cnp.npy_intp, void *,
                          cnp.npy_intp, void *) noexcept nogil

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyArray_ArrFuncs:
        _DotFunc dotfunc
    PyArray_ArrFuncs *PyDataType_GetArrFuncs(cnp.dtype)
    object PyArray_Scalar(void *, cnp.dtype, object)


cdef extern from *:
    """
    /* numpy's scalar ``x ** 2``: the C library's pow(x, 2), which is not
       always x * x (the compiler would make it that for a constant 2). */
    static double vg_pow2(double x) { volatile double two = 2.0; return pow(x, two); }
    """
    double vg_pow2(double) nogil

cdef int _FLAGS = FE_DIVBYZERO | FE_INVALID | FE_OVERFLOW | FE_UNDERFLOW

cdef enum:
    _STACK = 64    # elements whose work buffers live on the stack (more: malloc)


cdef cnp.PyUFuncGenericFunction _double_loop(cnp.ufunc u, void **data) except NULL:
    """The float64 -> float64 inner loop of the unary ufunc ``u``."""
    cdef int i
    for i in range(u.ntypes):
        if u.types[2 * i] == cnp.NPY_DOUBLE and u.types[2 * i + 1] == cnp.NPY_DOUBLE:
            data[0] = u.data[i]
            return u.functions[i]
    raise ImportError(f"numpy's {u.__name__} has no float64 loop")


cdef void *_log_data
cdef void *_exp_data
cdef cnp.PyUFuncGenericFunction _log_loop = _double_loop(np.log, &_log_data)
cdef cnp.PyUFuncGenericFunction _exp_loop = _double_loop(np.exp, &_exp_data)
cdef _DotFunc _ddot = PyDataType_GetArrFuncs(cnp.PyArray_DescrFromType(cnp.NPY_DOUBLE)).dotfunc
cdef cnp.dtype _FLOAT64 = cnp.PyArray_DescrFromType(cnp.NPY_DOUBLE)

from vgcore.core import reference as _ref


cdef inline void _npy_unary(cnp.PyUFuncGenericFunction loop, void *data, Py_ssize_t n,
                            double *x, double *out) noexcept:
    """numpy's loop on ``n`` contiguous doubles (``out`` may be ``x``)."""
    cdef char *args[2]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[2]
    args[0], args[1] = <char *> x, <char *> out
    dims[0] = n
    steps[0] = steps[1] = sizeof(double)
    loop(args, dims, steps, data)


cdef double _pairwise(const double *a, Py_ssize_t n) noexcept nogil:
    """numpy's pairwise sum of ``n`` contiguous doubles (``pairwise_sum_DOUBLE``)."""
    cdef double r[8]
    cdef double res
    cdef Py_ssize_t i, j, n2
    if n < 8:
        res = 0.
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        for j in range(8):
            r[j] = a[j]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, n2) + _pairwise(a + n2, n - n2)


cdef inline bint _same_doubles(object a, object b) noexcept:
    """Exact, C-contiguous float64 ndarrays of one shape, not empty, not 0-d
    (numpy's arithmetic on 0-d arrays gives scalars)."""
    cdef cnp.ndarray u, v
    cdef int d
    if not (cnp.PyArray_CheckExact(a) and cnp.PyArray_CheckExact(b)):
        return False
    u, v = <cnp.ndarray> a, <cnp.ndarray> b
    if not (cnp.PyArray_TYPE(u) == cnp.NPY_DOUBLE and cnp.PyArray_TYPE(v) == cnp.NPY_DOUBLE
            and cnp.PyArray_IS_C_CONTIGUOUS(u) and cnp.PyArray_IS_C_CONTIGUOUS(v)
            and cnp.PyArray_NDIM(u) == cnp.PyArray_NDIM(v) and cnp.PyArray_NDIM(u) > 0
            and cnp.PyArray_SIZE(u) > 0):
        return False
    for d in range(cnp.PyArray_NDIM(u)):
        if cnp.PyArray_DIMS(u)[d] != cnp.PyArray_DIMS(v)[d]:
            return False
    return True


cdef inline Py_ssize_t _pair(object a, object y, const double **A, const double **Y):
    """The number of values of ``a`` and ``y``, with their data in ``A`` and
    ``Y``, if they are the common case (``_same_doubles``); else 0."""
    if not _same_doubles(a, y):
        return 0
    A[0] = <const double *> cnp.PyArray_DATA(<cnp.ndarray> a)
    Y[0] = <const double *> cnp.PyArray_DATA(<cnp.ndarray> y)
    return cnp.PyArray_SIZE(<cnp.ndarray> a)


cdef inline object _float64(double v):
    """A numpy float64 scalar, network2's type for a cost."""
    return PyArray_Scalar(&v, _FLOAT64, None)


cdef inline double *_buffer(double *stack, Py_ssize_t n) except NULL:
    if n <= _STACK:
        return stack
    cdef double *p = <double *> malloc(n * sizeof(double))
    if p == NULL:
        raise MemoryError()
    return p


def cross_entropy_fn(a, y):
    """network2's ``CrossEntropyCost.fn(a, y)``:
    ``np.sum(np.nan_to_num(-y*np.log(a) - (1-y)*np.log(1-a)))``, the same
    bits and type (a numpy float64), warnings and all."""
    cdef Py_ssize_t i, n
    cdef const double *A
    cdef const double *Y
    cdef double s1[_STACK]
    cdef double s2[_STACK]
    cdef double *l1
    cdef double *l2
    cdef double total
    cdef int flags
    n = _pair(a, y, &A, &Y)
    if n == 0:
        return _ref.CrossEntropyCost.fn(a, y)
    l1 = _buffer(s1, n)
    try:
        l2 = _buffer(s2, n)
        try:
            feclearexcept(_FLAGS)
            for i in range(n):
                l2[i] = 1 - A[i]
            _npy_unary(_log_loop, _log_data, n, <double *> A, l1)
            _npy_unary(_log_loop, _log_data, n, l2, l2)
            for i in range(n):
                l1[i] = -Y[i] * l1[i] - (1 - Y[i]) * l2[i]
            total = 0. + _pairwise(l1, n)
            flags = fetestexcept(_FLAGS)
        finally:
            if l2 != s2:
                free(l2)
    finally:
        if l1 != s1:
            free(l1)
    if flags or not isfinite(total):      # nan_to_num has terms to change
        return _ref.CrossEntropyCost.fn(a, y)
    return _float64(total)


def cross_entropy_delta(z, a, y):
    """network2's ``CrossEntropyCost.delta(z, a, y)``: ``a - y``, a new array."""
    cdef Py_ssize_t i, n
    cdef bint bad
    cdef const double *A
    cdef const double *Y
    cdef double *D
    cdef cnp.ndarray out
    n = _pair(a, y, &A, &Y)
    if n == 0:
        return _ref.CrossEntropyCost.delta(z, a, y)
    out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray> a),
                            cnp.PyArray_DIMS(<cnp.ndarray> a), cnp.NPY_DOUBLE, 0)
    D = <double *> cnp.PyArray_DATA(out)
    bad = 0
    for i in range(n):
        D[i] = output_delta(VG_COST_CROSS_ENTROPY, A[i], Y[i])      # a - y
        bad |= not isfinite(D[i])        # (cheaper than the flags, at this size)
    if bad:         # numpy's own a - y: an overflow warns, NaN and inf pass
        return _ref.CrossEntropyCost.delta(z, a, y)
    return out


def quadratic_fn(a, y):
    """network2's ``QuadraticCost.fn(a, y)``: ``0.5*np.linalg.norm(a-y)**2``,
    the same bits and type (a numpy float64)."""
    cdef Py_ssize_t i, n
    cdef const double *A
    cdef const double *Y
    cdef double s[_STACK]
    cdef double *d
    cdef double dot, total
    cdef int flags
    n = _pair(a, y, &A, &Y)
    if n == 0:
        return _ref.QuadraticCost.fn(a, y)
    d = _buffer(s, n)
    try:
        feclearexcept(_FLAGS)
        for i in range(n):
            d[i] = A[i] - Y[i]
        _ddot(d, sizeof(double), d, sizeof(double), &dot, n, NULL)
        total = 0.5 * vg_pow2(sqrt(dot))
        flags = fetestexcept(_FLAGS)
    finally:
        if d != s:
            free(d)
    if flags:
        return _ref.QuadraticCost.fn(a, y)
    return _float64(total)


def quadratic_delta(z, a, y):
    """``QuadraticCost.delta(z, a, y)``: ``(a - y) * sigmoid_prime(z)``, a new
    array, with the reference's overflow-free sigmoid (the bits of
    ``vgcore.core.reference.QuadraticCost.delta``)."""
    cdef Py_ssize_t i, n
    cdef const double *A
    cdef const double *Y
    cdef const double *Z
    cdef double *D
    cdef cnp.ndarray out
    n = _pair(a, y, &A, &Y)
    if n == 0 or not _same_doubles(z, a):
        return _ref.QuadraticCost.delta(z, a, y)
    out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray> a),
                            cnp.PyArray_DIMS(<cnp.ndarray> a), cnp.NPY_DOUBLE, 0)
    Z = <const double *> cnp.PyArray_DATA(<cnp.ndarray> z)
    D = <double *> cnp.PyArray_DATA(out)
    feclearexcept(_FLAGS)
    for i in range(n):
        D[i] = -fabs(Z[i])
    _npy_unary(_exp_loop, _exp_data, n, D, D)           # e = exp(-|z|)
    for i in range(n):                  # (a - y) * (s (1 - s)), s = sigmoid(z)
        D[i] = times_prime(VG_ACT_SIGMOID, A[i] - Y[i], sigmoid_from_e(Z[i], D[i]))
    if fetestexcept(_FLAGS):
        return _ref.QuadraticCost.delta(z, a, y)
    return out
