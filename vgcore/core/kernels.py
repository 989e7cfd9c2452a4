"""Thin Python layer over the compiled kernels (``vgcore._kernels``).

This is the interface that ``vgcore.network2`` calls.  Every function takes
network2-shaped parameters and row-major data:

* ``weights[l]`` is ``w^{l+2}``, an ``(n_{l+1}, n_l)`` array (``n_0`` is the
  input width), and ``biases[l]`` is ``b^{l+2}``, ``(n_{l+1}, 1)`` as in
  network2 or ``(n_{l+1},)``;
* ``X`` is ``(N, n_0)``: one example per ROW; ``Y`` is ``(N, n_L)``: the
  desired outputs (one-hot rows for MNIST);
* ``cost`` is the class ``CrossEntropyCost`` or ``QuadraticCost`` from
  :mod:`vgcore.reference` (other costs never reach this module: network2
  sends them to the reference, and passing one here raises ``TypeError``).

In these row-major terms the book's equations read, for a batch of rows::

    z^l = a^{l-1} (w^l)^T + (b^l)^T,        a^l = sigma(z^l)
    delta^L = a^L - y                        (cross-entropy)
    delta^L = (a^L - y) * a^L (1 - a^L)      (quadratic)
    delta^l = (delta^{l+1} w^{l+1}) * a^l (1 - a^l)
    nabla_b^l = sum over rows of delta^l,    nabla_w^l = (delta^l)^T a^{l-1}

Activations: ``activation=`` (``"sigmoid"``, network2's and the default,
``"tanh"``, ``"softsign"`` or ``"relu"``; :data:`ACTIVATIONS`) is the
hidden layers' activation, in every function; the output layer is always
sigmoid, which the costs' ``delta`` assumes.  Then ``delta^l = (delta^{l+1}
w^{l+1}) * f'(z^l)``, with ``f'`` computed from ``a^l``.

The monitor: :func:`sgd_epoch` can record, every few mini-batches, per
layer, learning speeds, activation statistics, saturation and the
update/weight ratio, computed inside the compiled epoch (see its
``monitor`` argument).

Data types: the dtype of ``X`` decides: float64 (the default, network2's
precision) or float32 (half the memory; an epoch ~1.6x faster here).
``weights``, ``biases`` and ``Y`` must have that same dtype; nothing is
converted silently.

Paths: the hand-written kernels are compiled for AVX-512F, AVX2+FMA and
the architecture's baseline (SSE2, NEON), and the fastest one the CPU runs
is chosen at import; ``blas`` does every product with SciPy's BLAS instead.
``$VGCORE_CPU`` (``avx512``, ``avx2``, ``baseline`` or ``blas``), read at
import, picks one (an unknown name, or one this CPU cannot run, raises
``ValueError``); :func:`cpu_path` tells which is in use and
:func:`cpu_paths` which this machine can run.  All compute the same
mathematics; results differ only by rounding.

BLAS threads: the kernels are single-core by design; during calls with
large products they limit BLAS to :func:`set_blas_threads` threads
(default 1; see the comment below).

Validation happens HERE, before any compiled code touches memory.  Wrong
shapes, dtypes, out-of-range indices and so on raise ``ValueError`` or
``TypeError`` naming the argument.  Arrays that a function writes in place
(``weights`` and ``biases`` in :func:`sgd_epoch`, ``speeds``) must be
C-contiguous and writeable: they are never copied, because the update
would then be lost.  Arrays that are only read (``X``, ``Y``, and the
parameters in the other functions) are made C-contiguous with
``np.ascontiguousarray`` if they are not (a copy, in the same dtype).
"""
import contextlib
import numbers
import threading

import numpy as np

from . import reference as ref
from ._checks import builtin_cost, check_int, check_labels, check_range, check_real
from .._support.lazy import LazyModule

# the extension loads SciPy's BLAS: imported at the first compiled call
_kernels = LazyModule("vgcore._kernels", globals(), "_kernels")

__all__ = ["sgd_epoch", "backprop", "feedforward", "evaluate", "mean_nabla_b",
           "set_blas_threads", "cpu_path", "cpu_paths", "update_route", "ACTIVATIONS",
           "MONITOR_METRICS", "MONITOR_EVERY", "monitor_shape"]

#: The hidden layers' activations (``activation=``); the output is sigmoid.
ACTIVATIONS = tuple(ref.ACTIVATIONS)

#: The monitor's metrics, the last axis of its buffer (see :func:`sgd_epoch`).
MONITOR_METRICS = ref.MONITOR_METRICS

#: The monitor's default frequency: a record every this many mini-batches
#: (and at the end of the epoch).
MONITOR_EVERY = 100

_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def cpu_path():
    """The kernels in use: ``"avx512"``, ``"avx2"``, ``"baseline"`` or ``"blas"``."""
    return _kernels.path()


def cpu_paths():
    """The paths this CPU and this build can run, fastest first."""
    return _kernels.available_paths()


def update_route():
    """Which code updates the weights after a mini-batch, in words: on the
    hand-written paths, BLAS for mini-batches of at most a few rows or none
    (it depends on the path and on the BLAS: ``_kernels.set_path``)."""
    rows = _kernels.small_update_rows()
    if _kernels.path() == "blas":
        return "BLAS"
    if rows == 0:
        return "hand-written"
    return f"BLAS up to {rows} rows, hand-written above"


# ---------------------------------------------------------------------------
# BLAS threads
# ---------------------------------------------------------------------------
#
# The kernels are single-core by design (train several networks in several
# threads to use several cores).  A multi-threaded BLAS splits the larger of
# their matrix products, and on a small or busy machine that is much slower:
# on the 2-CPU development machine, shared with other processes, an epoch of
# [784,100,10] with mini-batches of 100 took 1.55 s with OpenBLAS's default
# 2 threads against 0.08 s with 1, and epochs of mini-batches of 10 whose
# updates go to BLAS became 20-100x slower whenever another process held a
# core.  So, during every call that will run a BLAS product of more than
# ``_ONE_THREAD_MACS`` multiply-adds, the BLAS libraries are limited to
# ``set_blas_threads(n)`` threads (default 1), through threadpoolctl when it
# is installed (without it BLAS is left alone).  Smaller products are left
# alone: OpenBLAS runs a GEMM of at most 4 x 65,536 multiply-adds on one
# thread anyway (the bound here is 4x lower, for builds and other BLAS
# libraries that split sooner), and setting the limit costs ~10 us a call.
# Which products a call runs depends on the path (_largest_blas_product).
# The limit is process-wide while any such call runs (a counter restores the
# previous setting when the last one returns).

_ONE_THREAD_MACS = 65_536
_blas_threads = 1
_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved = None
_controller = None          # threadpoolctl.ThreadpoolController, False if unavailable


def set_blas_threads(n):
    """Limit BLAS to ``n`` threads during the kernels' larger calls (None: never).

    Returns the previous setting.  The default, 1, is right for the
    single-core kernels; ``None`` leaves the BLAS thread count alone.
    """
    global _blas_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
        raise ValueError(f"n must be None or an int >= 1, got {n!r}")
    old, _blas_threads = _blas_threads, (None if n is None else int(n))
    return old


def _get_controller():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController().select(user_api="blas")
        except Exception:           # not installed, or no BLAS it knows
            _controller = False
    return _controller


def _largest_blas_product(ws, rows, call):
    """Multiply-adds of the largest BLAS product that a call will run (0: none).

    ``call`` is ``"sgd"`` (``rows``: the mini-batch size), ``"backprop"``
    (its ``nabla_w`` is BLAS on every path) or ``"forward"``
    (``feedforward``, ``evaluate``, ``mean_nabla_b``); whole data sets go
    in blocks of at most ``_kernels.ROWS_PER_BLOCK`` rows.  On the blas path
    every product is BLAS; with the hand-written kernels only the weight
    update of small mini-batches and ``backprop``'s ``nabla_w``.
    """
    on_blas = _kernels.path() == "blas"
    if call == "sgd":
        if not on_blas and rows > _kernels.small_update_rows():
            return 0
    else:
        if call == "forward" and not on_blas:
            return 0
        rows = min(rows, _kernels.ROWS_PER_BLOCK)
    # outputs padded to at most 16 more columns (the vector width)
    return rows * max(w.shape[1] * (w.shape[0] + 16) for w in ws)


@contextlib.contextmanager
def _blas_limit(macs):
    """Within the block, BLAS uses ``_blas_threads`` threads, if the call's
    largest BLAS product (``macs`` multiply-adds) is large enough for a BLAS
    to split it."""
    global _blas_users, _blas_saved
    n = _blas_threads
    ctl = _get_controller() if (macs > _ONE_THREAD_MACS and n is not None) else False
    if not ctl:
        yield
        return
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = [lib.num_threads for lib in ctl.lib_controllers]
            for lib in ctl.lib_controllers:
                lib.set_num_threads(n)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, saved in zip(ctl.lib_controllers, _blas_saved):
                    lib.set_num_threads(saved)
                _blas_saved = None


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------

def _cost_code(cost):
    cost = builtin_cost(cost) or cost
    if cost is ref.CrossEntropyCost:
        return _kernels.COST_CROSS_ENTROPY
    if cost is ref.QuadraticCost:
        return _kernels.COST_QUADRATIC
    raise TypeError(
        "cost must be vgcore.reference.CrossEntropyCost or QuadraticCost "
        f"(got {cost!r}); other costs are handled by vgcore.reference")


def _activation_code(activation):
    """The kernels' code of the activation named ``activation``."""
    return _kernels.ACTIVATIONS.index(ref._activation(activation).name)


def _as_array(name, a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    return a


def _check_data(name, a, ncols, dtype, nrows=None):
    """A 2-D read-only data array: dtype, width, C-contiguity (copy if needed)."""
    a = _as_array(name, a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (one example per row), got shape {a.shape}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {dtype} (the dtype of X)")
    if a.dtype not in _DTYPES:
        raise TypeError(f"{name} must be float64 or float32, got {a.dtype}")
    if ncols is not None and a.shape[1] != ncols:
        raise ValueError(f"{name} has {a.shape[1]} columns, expected {ncols}")
    if nrows is not None and a.shape[0] != nrows:
        raise ValueError(f"{name} has {a.shape[0]} rows, expected {nrows} (the rows of X)")
    return np.ascontiguousarray(a)


def _check_params(weights, biases, X, write):
    """Check the parameter lists against X; return (flat weights, flat biases).

    ``write`` is True when the kernel updates the parameters in place: then
    they must be C-contiguous and writeable (never copied).  Otherwise a
    non-contiguous parameter is copied.
    """
    if not isinstance(weights, (list, tuple)) or not isinstance(biases, (list, tuple)):
        raise TypeError("weights and biases must be lists of numpy arrays")
    if len(weights) != len(biases):
        raise ValueError(f"weights has {len(weights)} layers but biases has {len(biases)}")
    if len(weights) == 0:
        raise ValueError("weights and biases must describe at least one layer")
    dtype = X.dtype
    n_prev = X.shape[1]
    ws, bs = [], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        w = _as_array(f"weights[{l}]", w)
        b = _as_array(f"biases[{l}]", b)
        if w.ndim != 2:
            raise ValueError(f"weights[{l}] must be 2-D (n_out, n_in), got shape {w.shape}")
        if w.shape[1] != n_prev:
            raise ValueError(f"weights[{l}] has shape {w.shape}: expected {n_prev} columns "
                             f"(the width of the previous layer)")
        n_out = w.shape[0]
        if n_out < 1:
            raise ValueError(f"weights[{l}] has shape {w.shape}: a layer needs >= 1 neuron")
        if b.shape not in ((n_out, 1), (n_out,)):
            raise ValueError(f"biases[{l}] has shape {b.shape}, expected ({n_out}, 1) "
                             f"or ({n_out},)")
        for name, a in ((f"weights[{l}]", w), (f"biases[{l}]", b)):
            if a.dtype != dtype:
                raise TypeError(f"{name} has dtype {a.dtype}, expected {dtype} (the dtype of X)")
            if write:
                if not a.flags.c_contiguous:
                    raise ValueError(f"{name} must be C-contiguous: it is updated in place "
                                     f"(use np.ascontiguousarray before training)")
                if not a.flags.writeable:
                    raise ValueError(f"{name} must be writeable: it is updated in place")
        if not write:
            w = np.ascontiguousarray(w)
            b = np.ascontiguousarray(b)
        ws.append(w)
        bs.append(b.reshape(-1))       # a view: b is C-contiguous
        n_prev = n_out
    if write:   # all C-contiguous here (X too: _prepare made it so)
        where = _kernels.overlap(ws + bs, X)
        if where == 1:
            raise ValueError("weights and biases must not share memory "
                             "(each is updated in place)")
        if where == 2:
            raise ValueError("weights/biases must not share memory with X")
    return ws, bs


def _prepare(weights, biases, X, Y, write=False, need_y=True):
    X = _as_array("X", X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (one example per row), got shape {X.shape}")
    if X.dtype not in _DTYPES:
        raise TypeError(f"X must be float64 or float32, got {X.dtype}")
    if X.shape[1] < 1:
        raise ValueError("X must have at least one column")
    X = np.ascontiguousarray(X)
    ws, bs = _check_params(weights, biases, X, write)
    if need_y:
        Y = _check_data("Y", Y, ws[-1].shape[0], X.dtype, X.shape[0])
    return ws, bs, X, Y


def monitor_shape(n_examples, mini_batch_size, n_layers, every=MONITOR_EVERY):
    """The shape ``(n_records, n_layers, len(MONITOR_METRICS))`` of the
    monitor's buffer for an epoch of ``n_examples`` examples in mini-batches
    of ``mini_batch_size`` (records every ``every`` mini-batches and at the
    end: :func:`vgcore.reference.monitor_records` gives when)."""
    n_records = len(ref.monitor_records(n_examples, mini_batch_size, every))
    return (n_records, n_layers, len(MONITOR_METRICS))


def _check_out(name, a, dtype, shape):
    """An output buffer: ndarray of ``dtype``, C-contiguous, writeable; its
    shape ``shape``, ``None`` standing for any length >= 1."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be None or a numpy array")
    if a.dtype != dtype:
        raise TypeError(f"{name} must be {np.dtype(dtype)}, got {a.dtype}")
    if a.ndim != len(shape) or any(want is not None and got != want
                                   for got, want in zip(a.shape, shape)):
        want = tuple("bins" if w is None else w for w in shape)
        raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if any(want is None and got < 1 for got, want in zip(a.shape, shape)):
        raise ValueError(f"{name} has shape {a.shape}: it needs at least one bin")
    if not (a.flags.c_contiguous and a.flags.writeable):
        raise ValueError(f"{name} must be C-contiguous and writeable")
    return a


def _check_monitor(monitor, every, act_hist, act_range, delta_hist, delta_range,
                   n_examples, mbs, n_layers, arrays):
    """The monitor's arguments of :func:`sgd_epoch`, checked: the keyword
    arguments of ``_kernels.sgd_epoch`` (none if ``monitor`` is None).
    ``arrays`` are the other arrays the epoch reads or writes."""
    if monitor is None:
        for name, v in (("monitor_every", every), ("act_hist", act_hist),
                        ("act_range", act_range), ("delta_hist", delta_hist),
                        ("delta_range", delta_range)):
            if v is not None:
                raise ValueError(f"{name} is given without monitor (the buffer of "
                                 f"the records)")
        return {}
    if every is None:
        every = MONITOR_EVERY
    if isinstance(every, bool) or not isinstance(every, numbers.Integral):
        raise TypeError(f"monitor_every must be an int, got {type(every).__name__}")
    if every < 1:
        raise ValueError(f"monitor_every must be >= 1, got {every}")
    every = int(min(every, max(n_examples, 1)))
    shape = monitor_shape(n_examples, mbs, n_layers, every)
    out = {"monitor": _check_out("monitor", monitor, np.float64, shape),
           "monitor_every": every}
    for kind, hist, rng in (("act", act_hist, act_range), ("delta", delta_hist, delta_range)):
        if hist is None:
            if rng is not None:
                raise ValueError(f"{kind}_range is given without {kind}_hist")
            continue
        if rng is None:
            raise ValueError(f"{kind}_hist needs {kind}_range=(lo, hi), the range of its bins")
        out[f"{kind}_hist"] = _check_out(f"{kind}_hist", hist, np.int64, shape[:2] + (None,))
        out[f"{kind}_lo"], out[f"{kind}_hi"] = check_range(rng, f"{kind}_range")
    buffers = [out[k] for k in ("monitor", "act_hist", "delta_hist") if k in out]
    for i, b in enumerate(buffers):
        if any(np.may_share_memory(b, a) for a in buffers[i + 1:] + arrays):
            raise ValueError("monitor, act_hist, delta_hist must not share memory with each "
                             "other, speeds, the weights and biases, X, Y or order")
    for k in ("act_hist", "delta_hist"):
        if k in out:
            out[k][...] = 0
    return out


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------

def sgd_epoch(weights, biases, X, Y, order, mini_batch_size, eta, lmbda, n,
              cost=ref.CrossEntropyCost, speeds=None, activation="sigmoid",
              monitor=None, monitor_every=None, act_hist=None, act_range=None,
              delta_hist=None, delta_range=None):
    """One epoch of mini-batch stochastic gradient descent, IN PLACE.

    The training examples ``X[order]`` (targets ``Y[order]``) are cut into
    consecutive mini-batches of ``mini_batch_size`` rows (the last one may
    be shorter).  For each mini-batch of ``m`` rows the gradients are summed
    by back-propagation and the parameters updated as network2's
    ``update_mini_batch`` does::

        w <- (1 - eta*lmbda/n) w - (eta/m) sum_x dC_x/dw
        b <- b - (eta/m) sum_x dC_x/db

    Parameters
    ----------
    weights, biases : lists of arrays, updated in place
        C-contiguous, writeable, of ``X``'s dtype (see the module docstring).
    X, Y : (N, n_in) and (N, n_out) arrays
        Training inputs and desired outputs, one example per row.  ``Y``
        may instead be a 1-D integer array of ``N`` labels in
        ``[0, n_out)``, meaning the one-hot targets ``Y[r, labels[r]] = 1``
        (as :func:`vgcore.datasets.one_hot` builds them): the same numbers,
        faster, because the kernel then reads the labels, gathered into
        the epoch's order, in sequence instead of a randomly placed row of
        ``Y`` per example (a cache miss).
    order : 1-D integer array
        Row indices into ``X`` (converted to int64), each in ``[0, N)``; an
        epoch of network2 uses a random permutation of ``range(N)``.
    mini_batch_size : int >= 1
    eta, lmbda : float
        Learning rate and L2 regularisation parameter (finite).
    n : float > 0
        Size of the whole training set in the L2 term ``eta*lmbda/n``.
    cost : CrossEntropyCost or QuadraticCost
    speeds : None or float64 array ``(n_mini_batches, L)``, written
        ``speeds[k, l] = ||nabla_b^l / m||`` for mini-batch ``k``: the
        chapter's learning speed of layer ``l`` (the length of the mean
        ``dC/db``), at the weights the mini-batch's gradient was taken at.
        ``n_mini_batches = ceil(len(order) / mini_batch_size)``.
    activation : str
        The hidden layers' activation (:data:`ACTIVATIONS`).
    monitor : None or float64 array ``monitor_shape(len(order), mini_batch_size, L, monitor_every)``
        The monitor: record ``r`` is written into ``monitor[r]``, ``(L,
        len(MONITOR_METRICS))``, after the update of mini-batch
        ``vgcore.reference.monitor_records(...)[r] - 1``, and describes the
        stretch of ``K`` mini-batches since the previous record (the
        parameters there are the stretch's).  Per weight layer ``l`` and
        metric (:data:`MONITOR_METRICS`):

        - ``grad_b``: ``||(1/K) sum_k mean_k dC/db^l||``, the mean over
          mini-batch ``k``'s examples: the chapter's learning speed;
        - ``grad_w``: ``||(1/K) sum_k d^(K-1-k) mean_k dC/dw^l||``, ``d = 1 -
          eta lmbda / n`` (1 without L2): computed from the weights at the
          stretch's ends, ``||d^K w_start - w_end|| / (eta K)`` (NaN if
          ``eta`` is 0; in float32 it sees the updates' rounding);
        - ``act_mean``, ``act_std``: of all of layer ``l``'s activations in
          the stretch (population std);
        - ``saturated``: the fraction of those activations within 0.01 of
          an asymptote (sigmoid: ``a <= 0.01`` or ``a >= 0.99``; tanh,
          softsign: ``|a| >= 0.99``), for ReLU the fraction of units dead
          (never positive in the stretch); the output layer is sigmoid;
        - ``update_ratio``: ``||w_after - w_before|| / ||w_before||`` of
          the stretch's last update (a sample: a mean over every update
          would need a pass over the weights per mini-batch).

        Sums in float64, from the quantities the pass has anyway (no
        second pass over the data); the reference definition is
        :func:`vgcore.reference.sgd_epoch_monitored`.
    monitor_every : int >= 1, default :data:`MONITOR_EVERY`
    act_hist, delta_hist : None or int64 arrays ``(n_records, L, bins)``
        With ``monitor``: histograms of the stretch's activations and
        ``delta`` (``dC/dz``) per layer, in ``bins`` equal bins over
        ``act_range`` / ``delta_range`` ``(lo, hi)`` (required with them),
        values outside counted in the first/last bin, NaN not counted.
        Overwritten.  They cost a scalar pass over those values per
        mini-batch (see docs/kernels.md).
    """
    code = _cost_code(cost)
    act = _activation_code(activation)
    labels = None
    if isinstance(Y, np.ndarray) and Y.ndim == 1:
        labels, Y = Y, None
    ws, bs, X, Y = _prepare(weights, biases, X, Y, write=True, need_y=labels is None)
    if labels is not None:
        labels = check_labels(labels, ws[-1].shape[0], "Y", rows=X.shape[0])
    order = np.asarray(order)
    if order.ndim != 1:
        raise ValueError(f"order must be 1-D, got shape {order.shape}")
    if order.size and not np.issubdtype(order.dtype, np.integer):
        raise TypeError(f"order must hold integers, got dtype {order.dtype}")
    order = np.ascontiguousarray(order, dtype=np.int64)
    N = X.shape[0]
    if order.size and (order.min() < 0 or order.max() >= N):
        raise ValueError(f"order holds indices outside [0, {N}) (the rows of X)")
    if labels is not None:
        labels = labels[order]          # in the epoch's order: read in sequence
    mini_batch_size = check_int(mini_batch_size, "mini_batch_size", 1)
    eta = check_real(eta, "eta", minimum=None)
    lmbda = check_real(lmbda, "lmbda", minimum=None)
    n = check_real(n, "n", minimum=None, positive=True)
    if speeds is not None:
        L = len(ws)
        n_batches = -(-order.size // mini_batch_size)
        if not isinstance(speeds, np.ndarray):
            raise TypeError("speeds must be None or a numpy array")
        if speeds.dtype != np.float64:
            raise TypeError(f"speeds must be float64, got {speeds.dtype}")
        if speeds.shape != (n_batches, L):
            raise ValueError(f"speeds has shape {speeds.shape}, expected "
                             f"({n_batches}, {L}) (mini-batches, layers)")
        if not (speeds.flags.c_contiguous and speeds.flags.writeable):
            raise ValueError("speeds must be C-contiguous and writeable")
        if any(np.may_share_memory(speeds, p) for p in ws + bs):
            raise ValueError("speeds must not share memory with weights/biases")
    # a mini-batch cannot hold more rows than there are: the same steps, and
    # the workspace is sized for rows that exist (any int is accepted)
    mini_batch_size = min(mini_batch_size, max(order.size, 1))
    others = [a for a in [X, Y, labels, order, speeds] if a is not None] + ws + bs
    mon = _check_monitor(monitor, monitor_every, act_hist, act_range, delta_hist,
                         delta_range, order.size, mini_batch_size, len(ws), others)
    with _blas_limit(_largest_blas_product(ws, mini_batch_size, "sgd")):
        _kernels.sgd_epoch(ws, bs, X, Y, labels, order, mini_batch_size, eta,
                           lmbda, n, code, speeds, act, **mon)


def backprop(weights, biases, X, Y, cost=ref.CrossEntropyCost, activation="sigmoid"):
    """Gradients of the cost summed over the rows of ``(X, Y)``; no update.

    Returns ``(nabla_b, nabla_w)`` in network2's shapes: ``nabla_b[l]`` is
    ``(n_l, 1)`` and ``nabla_w[l]`` is ``(n_l, n_{l-1})``, each the sum over
    the examples of ``dC_x/db`` and ``dC_x/dw``, in ``X``'s dtype.
    """
    code = _cost_code(cost)
    act = _activation_code(activation)
    ws, bs, X, Y = _prepare(weights, biases, X, Y)
    nabla_w = [np.zeros(w.shape, dtype=X.dtype) for w in ws]
    nabla_b = [np.zeros((w.shape[0], 1), dtype=X.dtype) for w in ws]
    with _blas_limit(_largest_blas_product(ws, X.shape[0], "backprop")):
        _kernels.backprop(ws, bs, X, Y, code, nabla_w, [nb.reshape(-1) for nb in nabla_b],
                          act)
    return nabla_b, nabla_w


def feedforward(weights, biases, X, activation="sigmoid"):
    """Network outputs ``a^L`` for every row of ``X``: an ``(N, n_L)`` array."""
    act = _activation_code(activation)
    ws, bs, X, _ = _prepare(weights, biases, X, None, need_y=False)
    out = np.empty((X.shape[0], ws[-1].shape[0]), dtype=X.dtype)
    with _blas_limit(_largest_blas_product(ws, X.shape[0], "forward")):
        _kernels.feedforward(ws, bs, X, out, act)
    return out


def evaluate(weights, biases, X, Y, lmbda=0.0, cost=ref.CrossEntropyCost,
             activation="sigmoid"):
    """``(n_correct, total_cost)`` over the rows of ``(X, Y)``.

    ``n_correct`` (an int) counts rows where ``argmax(output) == argmax(Y)``
    (first maximum, as ``np.argmax``); ``total_cost`` (a float) is network2's
    ``total_cost``: the mean cost over the rows plus
    ``0.5 * lmbda / N * sum ||w||^2``.  The cross-entropy is evaluated
    stably from ``z`` (finite for saturated units).  Empty ``X`` gives
    ``(0, nan)``.
    """
    code = _cost_code(cost)
    act = _activation_code(activation)
    ws, bs, X, Y = _prepare(weights, biases, X, Y)
    lmbda = check_real(lmbda, "lmbda", minimum=None)
    N = X.shape[0]
    with _blas_limit(_largest_blas_product(ws, N, "forward")):
        correct, c = _kernels.evaluate(ws, bs, X, Y, code, act)
    if N == 0:
        return 0, float("nan")
    cost = c / N
    if lmbda:     # only when it contributes: 0 * (an overflowed sum) would be NaN
        cost += 0.5 * (lmbda / N) * sum(float(np.sum(w * w)) for w in ws)
    return int(correct), float(cost)


def mean_nabla_b(weights, biases, X, Y, cost=ref.CrossEntropyCost, activation="sigmoid"):
    """Per-layer ``dC/db`` averaged over the rows of ``X``: float64 ``(n_l,)`` arrays.

    The cost's per-example gradient only (no regularisation term), as
    chapter 5 measures the learning speed ``||mean_nabla_b[l]||``.
    """
    code = _cost_code(cost)
    act = _activation_code(activation)
    ws, bs, X, Y = _prepare(weights, biases, X, Y)
    N = X.shape[0]
    if N == 0:
        raise ValueError("X must have at least one row to average over")
    sums = [np.zeros(w.shape[0], dtype=np.float64) for w in ws]
    with _blas_limit(_largest_blas_product(ws, N, "forward")):
        _kernels.mean_nabla_b(ws, bs, X, Y, code, sums, act)
    return [s / N for s in sums]
