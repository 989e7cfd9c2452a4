# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels of vgcore: network2's mathematics, fused and GIL-free.

Design note
-----------
Modelled on scikit-learn's ``sklearn/_loss/_loss.pyx``:

* The mathematics lives in small ``cdef inline ... noexcept nogil``
  functions (``_sigmoid``, ``_softplus``, ...), the loops over them in
  ``cdef ... noexcept nogil`` functions working on raw C pointers, and the
  ``def`` functions at the bottom only turn validated Python objects into
  pointers, allocate one workspace per call and release the GIL.  They
  **assume already-validated input** (shapes, dtypes, C-contiguity,
  writeability, index ranges): ``vgcore.kernels`` checks all of it before
  calling here, and nothing here checks again.
* One source for float64 and float32 through the fused type ``floating``;
  matrix products go to SciPy's BLAS (``dgemm``/``sgemm`` from
  ``scipy.linalg.cython_blas``, dispatched on the fused type as in
  ``sklearn/utils/_cython_blas.pyx``).
* Layout: examples are ROWS.  A mini-batch of ``m`` activations of layer
  ``l`` is a row-major ``(m, n_l)`` block; ``W[l]`` is network2's row-major
  ``(n_{l+1}, n_l)``.  BLAS is column-major, so a row-major ``(r, c)``
  array is the column-major ``(c, r)`` matrix, i.e. its transpose:

  - forward ``Z = A W^T``          is column-major ``Z^T = W A^T``
    -> ``gemm('T', 'N')`` on (W, A);
  - back-propagation ``D_prev = D W`` is column-major ``D_prev^T = W^T D^T``
    -> ``gemm('N', 'N')`` on (W, D);
  - weight update ``W = beta W + alpha D^T A`` is column-major
    ``W^T = beta W^T + alpha A^T D`` -> ``gemm('N', 'T')`` on (A, D),
    with ``alpha = -eta/m`` and ``beta = 1 - eta*lmbda/n``: the gradient
    and the L2-decayed update are ONE GEMM straight into ``W``.
* ``sgd_epoch`` does a whole epoch without returning to Python: for each
  mini-batch it gathers the rows ``X[order[k:k+m]]`` into the workspace,
  runs the forward pass, the output error, and the backward pass in which
  ``delta_l`` is computed from ``W_{l+1}`` BEFORE ``W_{l+1}`` is updated.
  The bias gradient (row sums of ``delta``) is computed once and used for
  the bias update and for the optional learning-speed output.
* Nothing is allocated per mini-batch: one 64-byte aligned workspace per
  call (``posix_memalign``), freed in a ``finally`` block.  No global
  state, so two threads may train two networks at once.
* Whole data sets (``feedforward``, ``evaluate``, ``backprop``,
  ``mean_nabla_b``) are processed in blocks of ``BLOCK_ROWS`` rows so
  memory stays bounded whatever the number of examples.
* Numerics: the sigmoid evaluates ``exp(-|z|)`` only (the formula of
  ``vgcore.reference.sigmoid``); the cross-entropy is computed from ``z``
  with ``softplus`` so saturated units give a finite, correct cost.  Cost
  sums and learning speeds are accumulated in double even for float32.
"""
from cython cimport floating
from libc.math cimport exp, expf, fabs, fabsf, log1p, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef extern from "stdlib.h" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)


#: Rows per block when a whole data set is processed.
cdef Py_ssize_t BLOCK_ROWS = 256

#: Cost codes (``vgcore.kernels`` maps the cost classes to these).
COST_CROSS_ENTROPY = 0
COST_QUADRATIC = 1


# ---------------------------------------------------------------------------
# Element-wise mathematics
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


cdef inline double _softplus(double t) noexcept nogil:
    """``log(1 + exp(t)) = max(t, 0) + log1p(exp(-|t|))``, never overflows."""
    cdef double pos = t if t > 0 else 0.0
    return pos + log1p(exp(-fabs(t)))


cdef inline double _cross_entropy_from_z(double z, double y) noexcept nogil:
    """``-y ln(sigma(z)) - (1-y) ln(1-sigma(z))``, stably from ``z``."""
    return y * _softplus(-z) + (1.0 - y) * _softplus(z)


cdef inline floating _output_delta(int cost, floating a, floating y) noexcept nogil:
    """``delta^L`` of one unit: ``a - y`` (cross-entropy) or ``(a-y) a(1-a)``."""
    if cost == 0:
        return a - y
    return (a - y) * (a * (1 - a))


# ---------------------------------------------------------------------------
# BLAS, dispatched on the fused type
# ---------------------------------------------------------------------------

cdef enum:
    NO_TRANS = 78    # ord('N')
    TRANS = 84       # ord('T')


cdef inline void _gemm(char ta, char tb, int m, int n, int k, floating alpha,
                       const floating *A, int lda, const floating *B, int ldb,
                       floating beta, floating *C, int ldc) noexcept nogil:
    """Column-major ``C = alpha op(A) op(B) + beta C``."""
    if floating is double:
        dgemm(&ta, &tb, &m, &n, &k, &alpha, <double *> A, &lda,
              <double *> B, &ldb, &beta, C, &ldc)
    else:
        sgemm(&ta, &tb, &m, &n, &k, &alpha, <float *> A, &lda,
              <float *> B, &ldb, &beta, C, &ldc)


# ---------------------------------------------------------------------------
# Loops (raw pointers, no GIL)
# ---------------------------------------------------------------------------

cdef void _forward(int L, const Py_ssize_t *sizes, floating **W, floating **B,
                   floating **A, Py_ssize_t m, floating *z_last) noexcept nogil:
    """Forward pass of ``m`` rows: ``A[l+1] = sigma(A[l] W[l]^T + b[l]^T)``.

    ``A[0]`` must hold the input rows; ``A[1..L]`` receive the activations.
    When ``z_last`` is not NULL it receives the output layer's ``z``.
    """
    cdef int l
    cdef Py_ssize_t i, j, nin, nout
    cdef floating *a
    cdef const floating *b
    cdef floating z
    for l in range(L):
        nin = sizes[l]
        nout = sizes[l + 1]
        a = A[l + 1]
        b = B[l]
        _gemm(TRANS, NO_TRANS, <int> nout, <int> m, <int> nin, <floating> 1.0,
              W[l], <int> nin, A[l], <int> nin, <floating> 0.0, a, <int> nout)
        if z_last != NULL and l == L - 1:
            for i in range(m):
                for j in range(nout):
                    z = a[i * nout + j] + b[j]
                    z_last[i * nout + j] = z
                    a[i * nout + j] = _sigmoid(z)
        else:
            for i in range(m):
                for j in range(nout):
                    a[i * nout + j] = _sigmoid(a[i * nout + j] + b[j])


cdef void _delta_out(int cost, Py_ssize_t m, Py_ssize_t nL, const floating *a,
                     const floating *Y, const int64_t *idx, Py_ssize_t r0,
                     floating *delta) noexcept nogil:
    """Output error of ``m`` rows; target row i is ``Y[idx[i]]`` (or ``Y[r0+i]``)."""
    cdef Py_ssize_t i, j, r
    cdef const floating *y
    for i in range(m):
        r = idx[i] if idx != NULL else r0 + i
        y = Y + r * nL
        for j in range(nL):
            delta[i * nL + j] = _output_delta(cost, a[i * nL + j], y[j])


cdef void _delta_back(Py_ssize_t m, Py_ssize_t nin, Py_ssize_t nout,
                      const floating *Wl, const floating *delta,
                      const floating *a, floating *delta_prev) noexcept nogil:
    """``delta_prev = (delta W) * a (1 - a)`` for ``m`` rows."""
    cdef Py_ssize_t t
    cdef floating s
    _gemm(NO_TRANS, NO_TRANS, <int> nin, <int> m, <int> nout, <floating> 1.0,
          Wl, <int> nin, delta, <int> nout, <floating> 0.0, delta_prev, <int> nin)
    for t in range(m * nin):
        s = a[t]
        delta_prev[t] = delta_prev[t] * (s * (1 - s))


cdef void _row_sums(Py_ssize_t m, Py_ssize_t n, const floating *delta,
                    floating *out) noexcept nogil:
    """``out[j] = sum_i delta[i, j]`` (rows added in order, as numpy does)."""
    cdef Py_ssize_t i, j
    for j in range(n):
        out[j] = delta[j]
    for i in range(1, m):
        for j in range(n):
            out[j] += delta[i * n + j]


cdef void _sgd_epoch_impl(int L, const Py_ssize_t *sizes, floating **W,
                          floating **B, const floating *X, const floating *Y,
                          const int64_t *order, Py_ssize_t n_order,
                          Py_ssize_t mbs, double eta, double lmbda, double n,
                          int cost, double *speeds, floating **A,
                          floating *work) noexcept nogil:
    """The epoch: see ``sgd_epoch``.  ``work`` is sized by ``_sgd_work_size``."""
    cdef Py_ssize_t maxw = 0, off = 0, k, i, j, m, nin, nout, batch = 0
    cdef int l
    cdef floating *D
    cdef floating *Dp
    cdef floating *tmp
    cdef floating *sums
    cdef floating step, decay
    cdef double nrm, g
    for l in range(L + 1):
        A[l] = work + off
        off += mbs * sizes[l]
        if l > 0 and sizes[l] > maxw:
            maxw = sizes[l]
    D = work + off
    Dp = D + mbs * maxw
    sums = Dp + mbs * maxw
    decay = <floating> (1.0 - eta * (lmbda / n))
    k = 0
    while k < n_order:
        m = mbs if n_order - k >= mbs else n_order - k
        step = <floating> (eta / m)
        # gather the mini-batch rows
        for i in range(m):
            memcpy(A[0] + i * sizes[0], X + order[k + i] * sizes[0],
                   sizes[0] * sizeof(floating))
        _forward(L, sizes, W, B, A, m, <floating *> NULL)
        _delta_out(cost, m, sizes[L], A[L], Y, order + k, 0, D)
        for l in range(L - 1, -1, -1):
            nin = sizes[l]
            nout = sizes[l + 1]
            _row_sums(m, nout, D, sums)
            if speeds != NULL:
                nrm = 0.0
                for j in range(nout):
                    g = sums[j]
                    nrm += g * g
                speeds[batch * L + l] = sqrt(nrm) / m
            if l > 0:   # delta of the layer below, with W[l] not yet updated
                _delta_back(m, nin, nout, W[l], D, A[l], Dp)
            # W <- (1 - eta lmbda/n) W - (eta/m) delta^T a_prev, one GEMM
            _gemm(NO_TRANS, TRANS, <int> nin, <int> nout, <int> m, -step,
                  A[l], <int> nin, D, <int> nout, decay, W[l], <int> nin)
            for j in range(nout):
                B[l][j] = B[l][j] - step * sums[j]
            tmp = D
            D = Dp
            Dp = tmp
        k += m
        batch += 1


cdef Py_ssize_t _sgd_work_size(int L, const Py_ssize_t *sizes, Py_ssize_t mbs) noexcept nogil:
    cdef Py_ssize_t total = 0, maxw = 0
    cdef int l
    for l in range(L + 1):
        total += mbs * sizes[l]
        if l > 0 and sizes[l] > maxw:
            maxw = sizes[l]
    return total + 2 * mbs * maxw + maxw


cdef Py_ssize_t _block_work_size(int L, const Py_ssize_t *sizes, Py_ssize_t rows) noexcept nogil:
    """Activations of layers 1..L, two delta buffers, z of the output, sums."""
    cdef Py_ssize_t total = 0, maxw = 0
    cdef int l
    for l in range(1, L + 1):
        total += rows * sizes[l]
        if sizes[l] > maxw:
            maxw = sizes[l]
    return total + 2 * rows * maxw + rows * sizes[L] + maxw


cdef void _block_layout(int L, const Py_ssize_t *sizes, Py_ssize_t rows,
                        floating *work, floating **A, floating **D,
                        floating **Dp, floating **Z, floating **sums) noexcept nogil:
    cdef Py_ssize_t off = 0, maxw = 0
    cdef int l
    for l in range(1, L + 1):
        A[l] = work + off
        off += rows * sizes[l]
        if sizes[l] > maxw:
            maxw = sizes[l]
    D[0] = work + off
    off += rows * maxw
    Dp[0] = work + off
    off += rows * maxw
    Z[0] = work + off
    off += rows * sizes[L]
    sums[0] = work + off


cdef void _backprop_impl(int L, const Py_ssize_t *sizes, floating **W,
                         floating **B, const floating *X, const floating *Y,
                         Py_ssize_t N, int cost, floating **NW, floating **NB,
                         double **MB, floating **A,
                         floating *work) noexcept nogil:
    """Summed gradients over ``N`` rows, in blocks.

    If ``NW`` is not NULL, ``NW[l]`` += sum dC/dw and ``NB[l]`` += sum dC/db
    (arrays of the parameters' dtype, zeroed by the caller).  If ``MB`` is not
    NULL, ``MB[l]`` += sum dC/db accumulated in double (no weight gradients).
    """
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *sums
    cdef floating *tmp
    cdef Py_ssize_t r0, m, nin, nout, j
    cdef int l
    _block_layout(L, sizes, BLOCK_ROWS, work, A, &D, &Dp, &Z, &sums)
    r0 = 0
    while r0 < N:
        m = BLOCK_ROWS if N - r0 >= BLOCK_ROWS else N - r0
        A[0] = <floating *> (X + r0 * sizes[0])
        _forward(L, sizes, W, B, A, m, <floating *> NULL)
        _delta_out(cost, m, sizes[L], A[L], Y, <const int64_t *> NULL, r0, D)
        for l in range(L - 1, -1, -1):
            nin = sizes[l]
            nout = sizes[l + 1]
            _row_sums(m, nout, D, sums)
            if NB != NULL:
                for j in range(nout):
                    NB[l][j] += sums[j]
            if MB != NULL:
                for j in range(nout):
                    MB[l][j] += sums[j]
            if NW != NULL:
                _gemm(NO_TRANS, TRANS, <int> nin, <int> nout, <int> m, <floating> 1.0,
                      A[l], <int> nin, D, <int> nout, <floating> 1.0, NW[l], <int> nin)
            if l > 0:
                _delta_back(m, nin, nout, W[l], D, A[l], Dp)
                tmp = D
                D = Dp
                Dp = tmp
        r0 += m


cdef void _feedforward_impl(int L, const Py_ssize_t *sizes, floating **W,
                            floating **B, const floating *X, Py_ssize_t N,
                            floating *out, floating **A,
                            floating *work) noexcept nogil:
    """Outputs of ``N`` rows into ``out`` (``(N, n_L)``), in blocks."""
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *sums
    cdef Py_ssize_t r0, m
    _block_layout(L, sizes, BLOCK_ROWS, work, A, &D, &Dp, &Z, &sums)
    r0 = 0
    while r0 < N:
        m = BLOCK_ROWS if N - r0 >= BLOCK_ROWS else N - r0
        A[0] = <floating *> (X + r0 * sizes[0])
        A[L] = out + r0 * sizes[L]     # the last layer writes straight to out
        _forward(L, sizes, W, B, A, m, <floating *> NULL)
        r0 += m


cdef void _evaluate_impl(int L, const Py_ssize_t *sizes, floating **W,
                         floating **B, const floating *X, const floating *Y,
                         Py_ssize_t N, int cost, Py_ssize_t *n_correct,
                         double *cost_sum, floating **A,
                         floating *work) noexcept nogil:
    """Accuracy count and summed cost (no L2 term) over ``N`` rows."""
    cdef floating *D
    cdef floating *Dp
    cdef floating *Z
    cdef floating *sums
    cdef const floating *a
    cdef const floating *y
    cdef const floating *z
    cdef Py_ssize_t r0, m, i, j, nL = sizes[L], ka, ky, correct = 0
    cdef double c = 0.0, d
    cdef floating va, vy
    _block_layout(L, sizes, BLOCK_ROWS, work, A, &D, &Dp, &Z, &sums)
    r0 = 0
    while r0 < N:
        m = BLOCK_ROWS if N - r0 >= BLOCK_ROWS else N - r0
        A[0] = <floating *> (X + r0 * sizes[0])
        _forward(L, sizes, W, B, A, m, Z)
        for i in range(m):
            a = A[L] + i * nL
            z = Z + i * nL
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
            if cost == 0:
                for j in range(nL):
                    c += _cross_entropy_from_z(z[j], y[j])
            else:
                for j in range(nL):
                    d = <double> a[j] - <double> y[j]
                    c += d * d
        r0 += m
    if cost != 0:
        c *= 0.5
    n_correct[0] = correct
    cost_sum[0] = c


# ---------------------------------------------------------------------------
# Python-facing functions (input already validated by vgcore.kernels)
# ---------------------------------------------------------------------------

cdef class _Net:
    """Raw pointers to a network's parameters, layer buffers and a workspace.

    Everything it allocates is freed when it is collected, even when the
    call that made it raises.
    """
    cdef int L
    cdef Py_ssize_t *sizes
    cdef void **W
    cdef void **B
    cdef void **A
    cdef void *work

    def __cinit__(self, int L):
        self.L = L
        self.sizes = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
        self.W = <void **> malloc(L * sizeof(void *))
        self.B = <void **> malloc(L * sizeof(void *))
        self.A = <void **> malloc((L + 1) * sizeof(void *))
        self.work = NULL
        if (self.sizes == NULL or self.W == NULL or self.B == NULL
                or self.A == NULL):
            raise MemoryError()

    cdef int alloc_work(self, Py_ssize_t n_elems, size_t itemsize) except -1:
        if posix_memalign(&self.work, 64, max(n_elems, 1) * itemsize) != 0:
            self.work = NULL
            raise MemoryError()
        return 0

    def __dealloc__(self):
        free(self.sizes)
        free(self.W)
        free(self.B)
        free(self.A)
        free(self.work)


cdef _Net _make_net(list weights, list biases, Py_ssize_t n_in, floating dummy):
    """Collect data pointers of validated, C-contiguous parameter arrays."""
    cdef int L = len(weights), l
    cdef _Net net = _Net(L)
    cdef const floating[:, ::1] w
    cdef const floating[::1] b
    net.sizes[0] = n_in
    for l in range(L):
        w = weights[l]
        b = biases[l]
        net.sizes[l + 1] = w.shape[0]
        net.W[l] = <void *> &w[0, 0]
        net.B[l] = <void *> &b[0]
    return net


def sgd_epoch(list weights, list biases, const floating[:, ::1] X,
              const floating[:, ::1] Y, const int64_t[::1] order,
              Py_ssize_t mini_batch_size, double eta, double lmbda, double n,
              int cost, double[:, ::1] speeds=None):
    """One epoch of mini-batch SGD, in place (validated input; see kernels.py)."""
    cdef Py_ssize_t n_order = order.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0)
    cdef double *sp = NULL
    cdef const floating *xp = &X[0, 0]
    cdef const floating *yp = &Y[0, 0]
    if n_order == 0:
        return
    if speeds is not None:
        sp = &speeds[0, 0]
    net.alloc_work(_sgd_work_size(net.L, net.sizes, mini_batch_size), sizeof(floating))
    with nogil:
        _sgd_epoch_impl(net.L, net.sizes, <floating **> net.W, <floating **> net.B,
                        xp, yp, &order[0], n_order, mini_batch_size,
                        eta, lmbda, n, cost, sp, <floating **> net.A, <floating *> net.work)


def backprop(list weights, list biases, const floating[:, ::1] X,
             const floating[:, ::1] Y, int cost, list nabla_w, list nabla_b):
    """Add the summed gradients over the rows of X to nabla_w / nabla_b."""
    cdef Py_ssize_t N = X.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0)
    cdef _Net grad = _make_net(nabla_w, nabla_b, X.shape[1], <floating> 0)
    if N == 0:
        return
    net.alloc_work(_block_work_size(net.L, net.sizes, BLOCK_ROWS), sizeof(floating))
    with nogil:
        _backprop_impl(net.L, net.sizes, <floating **> net.W, <floating **> net.B,
                       &X[0, 0], &Y[0, 0], N, cost, <floating **> grad.W,
                       <floating **> grad.B, <double **> NULL, <floating **> net.A, <floating *> net.work)


def mean_nabla_b(list weights, list biases, const floating[:, ::1] X,
                 const floating[:, ::1] Y, int cost, list sums):
    """Add sum over the rows of X of dC/db to the float64 arrays in ``sums``."""
    cdef Py_ssize_t N = X.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0)
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
        net.alloc_work(_block_work_size(L, net.sizes, BLOCK_ROWS), sizeof(floating))
        with nogil:
            _backprop_impl(L, net.sizes, <floating **> net.W, <floating **> net.B,
                           &X[0, 0], &Y[0, 0], N, cost, <floating **> NULL,
                           <floating **> NULL, MB, <floating **> net.A, <floating *> net.work)
    finally:
        free(MB)


def feedforward(list weights, list biases, const floating[:, ::1] X,
                floating[:, ::1] out):
    """Network outputs for every row of X into ``out`` (N, n_L)."""
    cdef Py_ssize_t N = X.shape[0]
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0)
    if N == 0:
        return
    net.alloc_work(_block_work_size(net.L, net.sizes, BLOCK_ROWS), sizeof(floating))
    with nogil:
        _feedforward_impl(net.L, net.sizes, <floating **> net.W, <floating **> net.B,
                          &X[0, 0], N, &out[0, 0], <floating **> net.A, <floating *> net.work)


def evaluate(list weights, list biases, const floating[:, ::1] X,
             const floating[:, ::1] Y, int cost):
    """``(n_correct, summed cost without the L2 term)`` over the rows of X."""
    cdef Py_ssize_t N = X.shape[0], correct = 0
    cdef double c = 0.0
    cdef _Net net = _make_net(weights, biases, X.shape[1], <floating> 0)
    if N == 0:
        return 0, 0.0
    net.alloc_work(_block_work_size(net.L, net.sizes, BLOCK_ROWS), sizeof(floating))
    with nogil:
        _evaluate_impl(net.L, net.sizes, <floating **> net.W, <floating **> net.B,
                       &X[0, 0], &Y[0, 0], N, cost, &correct, &c,
                       <floating **> net.A, <floating *> net.work)
    return correct, c
