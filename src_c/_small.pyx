# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels for SMALL calls: one example, or a few.

Design note
-----------
``vgcore._kernels`` is built for throughput: every call copies the weights
into a transposed, padded workspace, which pays off over thousands of
examples but costs ~20 us per call -- more than network2 spends on a whole
``backprop`` of one example.  The calls that the book's scripts make one
example at a time (``net.backprop(x, y)`` in a Python loop,
``net.feedforward(x)``, ``accuracy``/``total_cost`` of a few examples) come
here instead:

* network2's own layout, read in place: ``w`` is row-major
  ``(n_out, n_in)``; one example's ``z = w a + b`` is one BLAS ``gemv``
  (``gemm`` for several rows), ``delta_prev = w^T delta`` another, and
  ``nabla_w = delta a^T`` a plain loop.  Nothing is copied or transposed,
  so nothing can go stale when a script changes ``net.weights`` in place.
* The ``def`` functions check every array they are given (exact
  ``ndarray``, dtype, C-contiguity, shapes chained through the layers,
  writeable outputs) before any pointer is taken, in a few nanoseconds
  each; anything else returns ``NOT_NATIVE`` and the caller
  (``vgcore.network2``) takes its general path, which converts and
  explains.  The callers allocate the outputs fresh (they never share
  memory with the inputs).
* Every weighted input ``z`` is checked for finiteness as it is made.
  With finite inputs, a NaN or infinite weight or bias always makes some
  ``z`` non-finite (``inf * 0`` is NaN; the BLAS computes every product),
  so ``NONFINITE`` is the cheap, complete trigger for the caller's full
  check of data and parameters -- no cache of what was checked before is
  needed, and none can go stale.  ``backprop`` also reports a non-finite
  output error, and an example whose ``nabla_w`` could overflow.
* The element-wise formulas are the compiled kernels' own (``_sigmoid``,
  ``_output_delta`` in ``_kernels.pyx``, same operations in the same
  order, so the same bits as their scalar path); they are tested against
  the numpy reference to the last few ulps.
* No global state, one small ``malloc`` per call, the GIL released around
  the arithmetic.
"""
from cython cimport floating
from libc.math cimport exp, expf, fabs, fabsf, isfinite
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv
cimport numpy as cnp

cnp.import_array()

#: Return codes of the ``def`` functions.
OK = 0
NONFINITE = 1
NOT_NATIVE = -1

#: Cost codes (those of ``vgcore._kernels``).
COST_CROSS_ENTROPY = 0
COST_QUADRATIC = 1

#: Largest magnitude whose square is still finite: |delta| and |x| both
#: below it keep every product delta_i * x_j finite.
cdef double _SQRT_MAX = 1.3407807929942596e154
cdef float _SQRT_MAX_F = 1.8446742e19


# ---------------------------------------------------------------------------
# Element-wise mathematics (the formulas of _kernels.pyx)
# ---------------------------------------------------------------------------

cdef inline floating _sigmoid(floating z) noexcept nogil:
    """``1/(1+exp(-z))`` for z >= 0, ``e/(1+e)`` with ``e = exp(z)`` else."""
    cdef floating e, num
    if floating is double:
        e = exp(-fabs(z))
    else:
        e = expf(-fabsf(z))
    num = e
    if z >= 0:
        num = 1
    return num / (1 + e)


cdef inline floating _output_delta(int cost, floating a, floating y) noexcept nogil:
    """``delta^L`` of one unit: ``a - y`` (cross-entropy) or ``(a-y) a(1-a)``."""
    if cost == 0:
        return a - y
    return (a - y) * (a * (1 - a))


# ---------------------------------------------------------------------------
# BLAS on network2's row-major layout
# ---------------------------------------------------------------------------

cdef enum:
    NO_TRANS = 78    # ord('N')
    TRANS = 84       # ord('T')


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
    ``Z^T = w A^T``: ``gemm('T', 'N')``.
    """
    cdef char t = TRANS, nt = NO_TRANS
    cdef int kk = <int> k
    cdef floating one = 1
    if k == 1:
        _gemv(t, n_in, n_out, W, A, one, Z)
    elif floating is double:
        dgemm(&t, &nt, &n_out, &kk, &n_in, &one, <double *> W, &n_in,
              <double *> A, &n_in, &one, Z, &n_out)
    else:
        sgemm(&t, &nt, &n_out, &kk, &n_in, &one, <float *> W, &n_in,
              <float *> A, &n_in, &one, Z, &n_out)


# ---------------------------------------------------------------------------
# The passes (validated input: see the def functions)
# ---------------------------------------------------------------------------

cdef int _forward(int L, const Py_ssize_t *n, const floating * const *W,
                  const floating * const *B, Py_ssize_t k, const floating *X,
                  floating *acts, floating *z_out) noexcept nogil:
    """Forward pass of ``k`` rows ``X``; 1 if some ``z`` is not finite.

    Layer ``l``'s activations go to ``acts`` at offset ``k * (n[1] + ...
    + n[l])``, rows of ``n[l+1]``; the output layer's ``z`` to ``z_out``
    when it is not NULL.
    """
    cdef int l, bad = 0
    cdef Py_ssize_t i, j, m
    cdef const floating *a = X
    cdef floating *Z = acts
    cdef floating z
    for l in range(L):
        m = n[l + 1]
        for i in range(k):
            for j in range(m):
                Z[i * m + j] = B[l][j]
        _layer(k, <int> n[l], <int> m, W[l], a, Z)
        for i in range(k * m):
            z = Z[i]
            if not isfinite(z):
                bad = 1
            if l == L - 1 and z_out != NULL:
                z_out[i] = z
            Z[i] = _sigmoid(z)
        a = Z
        Z += k * m
    return bad


cdef int _backprop(int L, const Py_ssize_t *n, const floating * const *W,
                   const floating * const *B, const floating *x, const floating *y,
                   int64_t label, int cost, floating **NB, floating **NW,
                   floating *work) noexcept nogil:
    """Gradients of one example into ``NB``/``NW``; 1 if something is not finite.

    ``y`` is the target vector, or NULL and ``label`` its one-hot column.
    ``work`` holds the activations (sum of n[1..L]) and two ``delta``
    vectors of the widest layer.
    """
    cdef int l
    cdef Py_ssize_t i, j, off = 0, width = 0
    cdef floating *acts = work
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
    if _forward(L, n, W, B, 1, x, acts, <floating *> NULL):
        return 1
    off -= n[L]                          # the output layer's activations
    a = acts + off
    for i in range(n[L]):
        t = (1 if i == label else 0) if y == NULL else y[i]
        d[i] = _output_delta(cost, a[i], t)
    for l in range(L - 1, -1, -1):
        prev = x if l == 0 else acts + off - n[l]
        for i in range(n[l + 1]):
            s = d[i]
            if not isfinite(s):
                return 1
            NB[l][i] = s
            if l == 0 and fabs(s) > dmax:
                dmax = fabs(s)
        if l == 0:                       # |x| is not bounded by 1 as a is
            for j in range(n[0]):
                if fabs(x[j]) > xmax:
                    xmax = fabs(x[j])
            if dmax >= lim and xmax > 0 or xmax >= lim and dmax > 0:
                return 1                 # some delta_i x_j may overflow: caller checks
        for i in range(n[l + 1]):
            s = d[i]
            for j in range(n[l]):
                NW[l][i * n[l] + j] = s * prev[j]
        if l == 0:
            break
        # delta_prev = (w^T delta) * a (1 - a): column-major w^T is (n_in, n_out)
        _gemv(NO_TRANS, <int> n[l], <int> n[l + 1], W[l], d, <floating> 0, dprev)
        off -= n[l]
        a = acts + off
        for j in range(n[l]):
            dprev[j] = dprev[j] * (a[j] * (1 - a[j]))
        tmp = d
        d = dprev
        dprev = tmp
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


cdef inline bint _writeable(cnp.ndarray a) noexcept:
    return cnp.PyArray_ISWRITEABLE(a)


cdef inline bint _output(object a, int typenum, Py_ssize_t rows, Py_ssize_t cols) noexcept:
    """A writeable native ``(rows, cols)`` array."""
    return (_native(a, typenum, 2) and _writeable(<cnp.ndarray> a)
            and (<cnp.ndarray> a).shape[0] == rows and (<cnp.ndarray> a).shape[1] == cols)


cdef class _Layers:
    """The parameter lists as pointers, once checked; owns its memory."""
    cdef int L
    cdef Py_ssize_t *n
    cdef void **W
    cdef void **B

    def __dealloc__(self):
        free(self.n)
        free(self.W)
        free(self.B)


cdef _Layers _layers(object weights, object biases, Py_ssize_t n_in, int typenum,
                     object sizes):
    """The checked layers, or None if the lists are not what the kernels read
    (with ``sizes`` a list: not the layer widths it lists)."""
    cdef Py_ssize_t L, l
    cdef object w, b
    cdef _Layers net
    if type(weights) is not list or type(biases) is not list:
        return None
    L = len(<list> weights)
    if L == 0 or len(<list> biases) != L:
        return None
    if sizes is not None and (type(sizes) is not list or len(<list> sizes) != L + 1):
        return None
    net = _Layers.__new__(_Layers)
    net.L = <int> L
    net.n = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
    net.W = <void **> malloc(L * sizeof(void *))
    net.B = <void **> malloc(L * sizeof(void *))
    if net.n == NULL or net.W == NULL or net.B == NULL:
        raise MemoryError()
    net.n[0] = n_in
    for l in range(L):
        w = (<list> weights)[l]
        b = (<list> biases)[l]
        if not _native(w, typenum, 2) or (<cnp.ndarray> w).shape[1] != net.n[l]:
            return None
        net.n[l + 1] = (<cnp.ndarray> w).shape[0]
        if (net.n[l + 1] < 1 or net.n[l + 1] > 2**31 - 1 or not _native(b, typenum, 2)
                or (<cnp.ndarray> b).shape[0] != net.n[l + 1] or (<cnp.ndarray> b).shape[1] != 1):
            return None
        net.W[l] = cnp.PyArray_DATA(<cnp.ndarray> w)
        net.B[l] = cnp.PyArray_DATA(<cnp.ndarray> b)
    if sizes is not None:
        for l in range(L + 1):
            if (<list> sizes)[l] != net.n[l]:
                return None
    return net


def forward(weights, biases, X, out, z_out=None, sizes=None):
    """Outputs of the ``k`` rows of ``X`` (k, n_in) into ``out`` (k, n_L).

    With ``z_out`` (k, n_L), the output layer's weighted inputs too; with
    ``sizes`` (a list), the layers must have those widths.
    Returns ``OK``, ``NONFINITE`` (some ``z`` is NaN or infinite: ``out``
    is then meaningless) or ``NOT_NATIVE`` (the arrays are not float64 or
    float32 C-contiguous ndarrays of one dtype and matching shapes).
    """
    cdef int typenum, status
    cdef _Layers net
    cdef Py_ssize_t k, total = 0, l
    cdef void *work
    cdef void *zp = NULL
    if not (cnp.PyArray_CheckExact(X) and cnp.PyArray_NDIM(<cnp.ndarray> X) == 2):
        return NOT_NATIVE
    typenum = cnp.PyArray_TYPE(<cnp.ndarray> X)
    if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) or not _native(X, typenum, 2):
        return NOT_NATIVE
    k = (<cnp.ndarray> X).shape[0]
    net = _layers(weights, biases, (<cnp.ndarray> X).shape[1], typenum, sizes)
    if net is None or k < 1:
        return NOT_NATIVE
    if not _output(out, typenum, k, net.n[net.L]) or not (
            z_out is None or _output(z_out, typenum, k, net.n[net.L])):
        return NOT_NATIVE
    for l in range(1, net.L + 1):
        total += net.n[l]
    if z_out is not None:
        zp = cnp.PyArray_DATA(<cnp.ndarray> z_out)
    if typenum == cnp.NPY_DOUBLE:
        work = malloc(k * total * sizeof(double))
    else:
        work = malloc(k * total * sizeof(float))
    if work == NULL:
        raise MemoryError()
    try:
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                status = _forward(net.L, net.n, <const double **> net.W, <const double **> net.B,
                                  k, <double *> cnp.PyArray_DATA(<cnp.ndarray> X),
                                  <double *> work, <double *> zp)
                _copy_d(<double *> work + k * (total - net.n[net.L]),
                        <double *> cnp.PyArray_DATA(<cnp.ndarray> out), k * net.n[net.L])
            else:
                status = _forward(net.L, net.n, <const float **> net.W, <const float **> net.B,
                                  k, <float *> cnp.PyArray_DATA(<cnp.ndarray> X),
                                  <float *> work, <float *> zp)
                _copy_s(<float *> work + k * (total - net.n[net.L]),
                        <float *> cnp.PyArray_DATA(<cnp.ndarray> out), k * net.n[net.L])
    finally:
        free(work)
    return status


cdef inline void _copy_d(const double *src, double *dst, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        dst[i] = src[i]


cdef inline void _copy_s(const float *src, float *dst, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(m):
        dst[i] = src[i]


def backprop(weights, biases, x, y, Py_ssize_t label, int cost, list nabla_b,
             list nabla_w, sizes=None):
    """The gradients of one example ``(x, y)`` into ``nabla_b``/``nabla_w``.

    ``x`` is ``(n_in,)`` or ``(n_in, 1)``; the target is the vector ``y``
    (``(n_out,)`` or ``(n_out, 1)``), or, with ``y`` None, the one-hot
    vector of ``label``.  ``nabla_b[l]``/``nabla_w[l]`` are fresh arrays
    shaped like the biases and weights; ``sizes`` as in :func:`forward`.  Returns ``OK``, ``NONFINITE`` (a
    ``z`` or ``delta`` is not finite, or a ``delta_i x_j`` might overflow:
    the outputs are then incomplete) or ``NOT_NATIVE``.
    """
    cdef int typenum, status, l
    cdef _Layers net, grad
    cdef Py_ssize_t total = 0, width = 0
    cdef void *work
    cdef void *yp = NULL
    if not cnp.PyArray_CheckExact(x):
        return NOT_NATIVE
    typenum = cnp.PyArray_TYPE(<cnp.ndarray> x)
    if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
        return NOT_NATIVE
    if not _vector(x, typenum, (<cnp.ndarray> x).shape[0]):
        return NOT_NATIVE
    net = _layers(weights, biases, (<cnp.ndarray> x).shape[0], typenum, sizes)
    grad = _layers(nabla_w, nabla_b, (<cnp.ndarray> x).shape[0], typenum, None)
    if net is None or grad is None or grad.L != net.L or cost not in (0, 1):
        return NOT_NATIVE
    for l in range(net.L):
        if (grad.n[l + 1] != net.n[l + 1] or not _writeable(<cnp.ndarray> nabla_w[l])
                or not _writeable(<cnp.ndarray> nabla_b[l])):
            return NOT_NATIVE
    if y is None:
        if label < 0 or label >= net.n[net.L]:
            return NOT_NATIVE
    elif _vector(y, typenum, net.n[net.L]):
        yp = cnp.PyArray_DATA(<cnp.ndarray> y)
    else:
        return NOT_NATIVE
    for l in range(1, net.L + 1):
        total += net.n[l]
        width = net.n[l] if net.n[l] > width else width
    if typenum == cnp.NPY_DOUBLE:
        work = malloc((total + 2 * width) * sizeof(double))
    else:
        work = malloc((total + 2 * width) * sizeof(float))
    if work == NULL:
        raise MemoryError()
    try:
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                status = _backprop(net.L, net.n, <const double **> net.W,
                                   <const double **> net.B,
                                   <double *> cnp.PyArray_DATA(<cnp.ndarray> x),
                                   <double *> yp, label, cost, <double **> grad.B,
                                   <double **> grad.W, <double *> work)
            else:
                status = _backprop(net.L, net.n, <const float **> net.W,
                                   <const float **> net.B,
                                   <float *> cnp.PyArray_DATA(<cnp.ndarray> x),
                                   <float *> yp, label, cost, <float **> grad.B,
                                   <float **> grad.W, <float *> work)
    finally:
        free(work)
    return status
