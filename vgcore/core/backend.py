"""The two implementations behind :mod:`vgcore.network2`, chosen in one place.

:func:`for_cost` picks, for a network's cost, the object that does its
mathematics:

- :class:`KernelBackend`, the compiled kernels (:mod:`vgcore.core.kernels`,
  and :mod:`vgcore.core.small` for calls on a few examples), for
  ``CrossEntropyCost`` and ``QuadraticCost`` (or plain instances of them):
  the costs the kernels compute;
- :class:`ReferenceBackend`, the numpy reference (:mod:`vgcore.core.reference`),
  for a cost class of your own, whose ``fn`` and ``delta`` it calls one
  example at a time as network2 does (checked: :class:`~._checks.CheckedCost`).

Both compute with the hidden layers' ``activation`` they were made for
(the output layer is always sigmoid).  Both offer the same methods, on
checked parameters ``W``, ``B`` (lists of C-contiguous arrays of the
network's dtype) and a :class:`~.datasets.Dataset`, in the row-major terms
of :mod:`vgcore.core.kernels`.  Floating-point warnings are silenced inside:
the callers check every result and say what overflowed.
"""
import numpy as np

from . import kernels, reference, small
from ._checks import CheckedCost, builtin_cost

__all__ = ["for_cost", "KernelBackend", "ReferenceBackend"]


class _Backend:
    """What both backends do alike: call ``self.math`` (the kernels' module or
    the reference's, which offer the same functions) with ``self.cost``."""

    math = None
    activation = "sigmoid"

    def feedforward(self, W, B, X):
        """Outputs ``(N, n_L)`` for the rows of ``X``."""
        with np.errstate(all="ignore"):
            return self.math.feedforward(W, B, X, activation=self.activation)

    def backprop(self, W, B, X, Y):
        """``(nabla_b, nabla_w)`` summed over the rows of ``(X, Y)``."""
        with np.errstate(all="ignore"):
            return self.math.backprop(W, B, X, Y, self.cost, activation=self.activation)

    def mean_nabla_b(self, W, B, X, Y):
        """Per-layer ``dC/db`` averaged over the rows."""
        with np.errstate(all="ignore"):
            return self.math.mean_nabla_b(W, B, X, Y, self.cost, activation=self.activation)

    def evaluate(self, W, B, data, lmbda):
        """``(n_correct, total_cost)`` of a Dataset."""
        with np.errstate(all="ignore"):
            return self.math.evaluate(W, B, data.X, data.Y, lmbda, self.cost,
                                      activation=self.activation)

    # One example or a few, parameters as the network holds them
    # (``params``: weights, biases, sizes, dtype); None: take the general path.

    def small_backprop(self, params, x, y):
        return None

    def small_update(self, params, mini_batch, eta, lmbda, n):
        return None

    def small_total_cost(self, params, data, lmbda):
        return None


class KernelBackend(_Backend):
    """The compiled kernels, for a built-in cost class ``cost``."""

    math = kernels
    #: ``train`` can record each mini-batch's learning speeds (``speeds``).
    records_speeds = True

    def __init__(self, cost, activation="sigmoid"):
        self.cost, self.activation = cost, activation

    def train(self, W, B, data, idx, mini_batch_size, eta, lmbda, n, speeds=None):
        """SGD on the examples ``idx`` of ``data``, in place; returns ``(W, B)``."""
        kernels.sgd_epoch(W, B, data.X, self._targets(data), idx, mini_batch_size, eta,
                          lmbda, n, self.cost, speeds=speeds, activation=self.activation)
        return W, B

    def train_monitored(self, W, B, data, idx, mini_batch_size, eta, lmbda, n, every,
                        act_hist=None, delta_hist=None, speeds=None):
        """:meth:`train` with the monitor (records every ``every`` mini-batches
        and at the end; ``act_hist``/``delta_hist`` None or ``(lo, hi,
        bins)``): ``(W, B, records, act_counts, delta_counts)`` as
        :func:`vgcore.core.reference.sgd_epoch_monitored` returns them."""
        shape = kernels.monitor_shape(len(idx), mini_batch_size, len(W), every)
        records = np.empty(shape)
        counts, hists = [], {}
        for kind, h in (("act", act_hist), ("delta", delta_hist)):
            counts.append(None if h is None else np.zeros(shape[:2] + (h[2],), np.int64))
            if h is not None:
                hists[f"{kind}_hist"], hists[f"{kind}_range"] = counts[-1], h[:2]
        kernels.sgd_epoch(W, B, data.X, self._targets(data), idx, mini_batch_size, eta,
                          lmbda, n, self.cost, speeds=speeds, activation=self.activation,
                          monitor=records, monitor_every=every, **hists)
        return W, B, records, counts[0], counts[1]

    @staticmethod
    def _targets(data):
        # exactly one-hot targets go in as their labels: the same numbers,
        # without a cache miss on a random row of Y per example
        return data.labels if data.exact_labels else data.Y

    def snapshot(self, W, B):
        """A copy of ``(W, B)`` that later training cannot touch (it works in place)."""
        return [w.copy() for w in W], [b.copy() for b in B]

    def small_backprop(self, params, x, y):
        return small.backprop(*params, x, y, self.cost, self.activation)

    def small_update(self, params, mini_batch, eta, lmbda, n):
        return small.update(*params, mini_batch, eta, lmbda, n, self.cost, self.activation)

    def small_total_cost(self, params, data, lmbda):
        return small.total_cost(*params, data, lmbda, self.cost, self.activation)


class ReferenceBackend(_Backend):
    """The numpy reference, for a cost of one's own (``cost`` as the user gave it)."""

    math = reference
    records_speeds = False

    def __init__(self, cost, activation="sigmoid"):
        self.cost, self.activation = CheckedCost(cost), activation

    def train(self, W, B, data, idx, mini_batch_size, eta, lmbda, n, speeds=None):
        """SGD on the examples ``idx`` of ``data``; returns new ``(W, B)``."""
        with np.errstate(all="ignore"):
            return reference.sgd_epoch(W, B, data.X, data.Y, idx, mini_batch_size, eta,
                                       lmbda, self.cost, n, self.activation)

    def train_monitored(self, W, B, data, idx, mini_batch_size, eta, lmbda, n, every,
                        act_hist=None, delta_hist=None, speeds=None):
        """:meth:`train` with the monitor, by its reference definition
        (:func:`vgcore.core.reference.sgd_epoch_monitored`)."""
        with np.errstate(all="ignore"):
            return reference.sgd_epoch_monitored(
                W, B, data.X, data.Y, idx, mini_batch_size, eta, lmbda, self.cost, n,
                self.activation, every, act_hist, delta_hist)

    def snapshot(self, W, B):
        return list(W), list(B)      # the reference returns new arrays


_KERNELS = {(cost, act): KernelBackend(cost, act)
            for cost in (reference.CrossEntropyCost, reference.QuadraticCost)
            for act in reference.ACTIVATIONS}


def for_cost(cost, activation="sigmoid"):
    """The backend for the (checked) ``cost`` and hidden-layer ``activation``
    (a checked name): the kernels for a built-in cost class or a plain
    instance of one, the reference otherwise."""
    builtin = builtin_cost(cost)
    if builtin is not None:
        return _KERNELS[builtin, activation]
    return ReferenceBackend(cost, activation)
