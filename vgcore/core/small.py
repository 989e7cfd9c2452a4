"""Thin Python layer over the small-call kernels (``vgcore._small``).

network2's scripts call ``feedforward(x)``, ``backprop(x, y)``,
``update_mini_batch`` and ``accuracy``/``total_cost`` on one example or a
few.  ``vgcore._small`` computes those in network2's own layout, reading
the parameters in place (BLAS gemv/gemm, nothing copied or transposed),
which below ~30 examples beats :mod:`vgcore.core.kernels` (whose every call
first copies the weights transposed).

Every function takes the parameters as the network holds them --
``(weights, biases, sizes, dtype)``, unchecked -- and returns None
whenever anything is not in the plain form the small kernels read, or the
kernels report a non-finite number: the caller then takes its general
path, which checks everything (and so explains what is wrong).  A NaN or
infinite parameter or input always shows up as a non-finite ``z`` here.
The extension loads SciPy's BLAS, so it is imported at the first call.
``act`` (every function) names the hidden layers' activation.
"""
import numpy as np

from .._support.lazy import LazyModule
from . import reference
from ._checks import builtin_cost
from .datasets import one_hot, small_rows

_small = LazyModule("vgcore._small", globals(), "_small")

__all__ = ["MAX_ROWS", "feedforward", "backprop", "update", "accuracy", "total_cost"]

#: The small kernels' codes of the hidden layers' activations (``act=`` of
#: every function: a name of :data:`vgcore.core.reference.ACTIVATIONS`, whose
#: order is the codes' order, ``vg_codes.h``).
_ACT_CODES = {name: code for code, name in enumerate(reference.ACTIVATIONS)}

#: The compiled layer's code of each activation, by name (for :func:`feedforward`).
ACT_CODES = _ACT_CODES

#: Calls on at most this many examples go to the small-call kernels
#: (measured: below ~30 examples they beat ``vgcore.core.kernels``).
MAX_ROWS = 32


def _cost_code(cost):
    """The small kernels' name for a built-in cost class."""
    if cost is reference.CrossEntropyCost:     # what the backend passes
        return _small.COST_CROSS_ENTROPY
    if cost is reference.QuadraticCost:
        return _small.COST_QUADRATIC
    if builtin_cost(cost) is reference.CrossEntropyCost:
        return _small.COST_CROSS_ENTROPY
    return _small.COST_QUADRATIC


def _plain(sizes, dtype):
    """Whether ``sizes`` and ``dtype`` are in the form the small kernels read."""
    return ((dtype is np.float64 or dtype is np.float32) and type(sizes) is list
            and len(sizes) >= 2 and type(sizes[0]) is int and type(sizes[-1]) is int)


def feedforward(weights, biases, sizes, dtype, a, code=0):
    """The output for one ``(n_in, 1)`` or ``(n_in,)`` column ``a``, shaped like it
    (computed holding the GIL: see ``vgcore._small.feedforward``); ``code``
    the hidden layers' activation as a code of :data:`ACT_CODES`.  None when
    the arguments are not exactly that.

    The first call puts the compiled function itself in this function's
    place (one Python frame less on every later call: ~0.1 us of ~3.5).
    """
    global feedforward
    feedforward = _small.feedforward
    return feedforward(weights, biases, sizes, dtype, a, code)


def backprop(weights, biases, sizes, dtype, x, y, cost, act="sigmoid"):
    """``(nabla_b, nabla_w)`` of one example; ``y`` a target column or an int label."""
    if type(y) is int or isinstance(y, np.integer):
        label, y = y, None
        if not 0 <= label < 2**31:
            return None
    else:
        label = -1
    return _small.backprop(weights, biases, sizes, dtype, x, y, label, _cost_code(cost),
                           _ACT_CODES[act])


def update(weights, biases, sizes, dtype, mini_batch, eta, lmbda, n, cost, act="sigmoid"):
    """New ``(weights, biases)`` after one step on a small mini-batch."""
    if not _plain(sizes, dtype):
        return None
    rows = small_rows(mini_batch, sizes[0], sizes[-1], dtype, MAX_ROWS)
    if rows is None:
        return None
    X, labels, Y = rows
    return _small.update(weights, biases, sizes, dtype, X, Y, labels, _cost_code(cost),
                         eta, lmbda, n, _ACT_CODES[act])


def _outputs(weights, biases, sizes, dtype, data, need_labels, act):
    """``(out, z, labels, Y)`` of a few examples: the outputs, the output
    layer's weighted inputs, and int labels or target rows (the other None)."""
    if not _plain(sizes, dtype):
        return None
    rows = small_rows(data, sizes[0], sizes[-1], dtype, MAX_ROWS, need_labels)
    if rows is None:
        return None
    X, labels, Y = rows
    result = _small.forward(weights, biases, sizes, dtype, X, True, _ACT_CODES[act])
    return None if result is None else (*result, labels, Y)


def accuracy(weights, biases, sizes, dtype, data, act="sigmoid"):
    """How many of a few labelled examples the network classifies right."""
    small = _outputs(weights, biases, sizes, dtype, data, True, act)
    if small is None:
        return None
    out, _, labels, _ = small
    return reference.count_correct(out, labels)


def total_cost(weights, biases, sizes, dtype, data, lmbda, cost, act="sigmoid"):
    """network2's ``total_cost`` of a few examples (a built-in ``cost``), or None
    when it is not finite (the general path then says why)."""
    small = _outputs(weights, biases, sizes, dtype, data, False, act)
    if small is None:
        return None
    out, z, labels, Y = small
    if Y is None:
        Y = one_hot(labels, out.shape[1], out.dtype)
    squares = _small.sum_squares(weights, out.dtype.type) if lmbda else None
    with np.errstate(all="ignore"):     # an overflow: the general path says so
        c = reference.cost_of_outputs(weights, z, out, Y, lmbda, cost, squares)
    return np.float64(c) if np.isfinite(c) else None
