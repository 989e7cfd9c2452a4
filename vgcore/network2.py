"""network2, fast: a drop-in replacement for Nielsen's ``network2.py``.

Use it exactly as the book does::

    import vgcore.mnist_loader as mnist_loader
    import vgcore.network2 as network2

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0,
            evaluation_data=validation_data, monitor_evaluation_accuracy=True)

Same names, signatures, printed lines, return values and JSON files as
network2, and, after ``np.random.seed(s); random.seed(s)``, the same
initial weights and the same mini-batches, so the same training
trajectory up to floating-point summation order.

What happens underneath is different: the whole mini-batch goes through
the network as one matrix, in compiled kernels (:mod:`vgcore.kernels`)
that run a whole stretch of mini-batches without returning to Python.
This module holds no numerical code itself: it converts the data once
(:mod:`vgcore.datasets`) and delegates the mathematics to the kernels, or,
for a cost class of your own, to the numpy reference
(:mod:`vgcore.reference`), which calls your ``fn`` and ``delta`` one
example at a time as network2 does.

Deliberate differences from network2
------------------------------------
- The network's own cost (``total_cost`` and the monitored costs) is
  evaluated from the output layer's weighted input ``z``, stably: a
  saturated output unit gives the correct finite cross-entropy, where
  network2 gives 0 (``nan_to_num`` of ``0*log 0``) or 1.8e308 (of
  ``log 0``).  ``CrossEntropyCost.fn(a, y)`` itself keeps network2's
  formula for scripts that call it directly.
- ``sigmoid`` never overflows (network2 warns for ``z < -709``).
- ``SGD`` also accepts a tuple ``(X, labels)`` of arrays (the fast path).
- ``SGD`` updates copies of the parameter arrays in place and puts them
  in ``self.weights`` and ``self.biases``; like network2 it never writes
  to arrays you handed it, and never reorders your training list.

- Bad input raises instead of producing garbage: every public method
  checks its arguments and the network's parameters (which scripts may
  replace) and raises ``TypeError`` or ``ValueError`` naming the argument
  and what was expected (see "Validation" below).
- Training that produces NaN or infinity is reported (``on_divergence``,
  below) instead of silently going on with NaN.
- ``save`` is atomic, and ``load`` only reads network files: a hostile or
  damaged file raises :class:`~vgcore.errors.NetworkFileError`.
- One network may be used from several threads (see "Threads" below).

Additions (keyword-only, documented below): ``dtype`` for float32
networks; ``speed_probe``, ``record_minibatch_speeds`` and
``on_divergence`` in ``SGD``; ``on_divergence`` in ``update_mini_batch``;
the methods ``mean_nabla_b`` and ``learning_speeds``.

Validation
----------
Wrong kinds of objects raise ``TypeError``, wrong values ``ValueError``;
NaN or infinity raise :class:`~vgcore.errors.NonFiniteError` (a
``ValueError``).  The rules, beyond "the shapes must fit ``sizes``":

- ``sizes``: at least two layers, each a positive ``int`` (numpy ints
  too; not ``bool``, not ``float`` even if whole, like ``3.0``) below
  2**31 (the BLAS index limit).
- ``cost``: a class with callable ``fn`` and ``delta`` (not an instance).
- ``epochs >= 0``, ``mini_batch_size >= 1``, ``early_stopping_n >= 0``,
  ``n >= 1``: ints.  ``eta >= 0`` and ``lmbda >= 0``: finite real numbers
  (a negative learning rate or regularisation is refused: it would climb
  the cost).  A huge ``eta`` or ``lmbda`` is allowed; if it makes training
  diverge, ``on_divergence`` says so.
- Data: see :mod:`vgcore.datasets` -- inputs and targets finite, labels
  ints in ``[0, sizes[-1])``, at least one example; where labels are needed
  (accuracy) target vectors must be exactly one-hot.
- Parameters: ``net.weights`` and ``net.biases`` lists (or tuples) of
  ``sizes``-shaped arrays of real numbers, finite.  Any memory layout,
  dtype, writeability is fine: they are converted (copied) to
  C-contiguous arrays of the network's dtype when needed, and training
  works on copies.
- Results: a public method never returns NaN or infinity.  When finite
  inputs and weights are so large that the computation overflows float64,
  it raises :class:`~vgcore.errors.NonFiniteError` instead.

Divergence
----------
``SGD(..., on_divergence="warn")`` (the default) checks, after every
stretch of about 2,048 examples, that every parameter array is finite (a
cost of one pass over the parameters per stretch), and after every epoch
that the monitored costs are finite.  On the first failure it replays the
stretch one mini-batch at a time from a copy to find the exact mini-batch
and layer, and issues a :class:`~vgcore.errors.DivergenceWarning` naming
the epoch, the mini-batch and the layer (at most once per call, and once
more for a non-finite monitored cost); training then goes on as in
network2.  ``on_divergence="raise"`` raises
:class:`~vgcore.errors.DivergenceError` (a ``FloatingPointError``) instead
and leaves the network with its last finite parameters (those from before
the offending mini-batch); ``on_divergence="ignore"`` does no checking at
all, as network2.

Threads
-------
A network may be shared by threads.  Reading methods (``feedforward``,
``backprop``, ``accuracy``, ``total_cost``, ``mean_nabla_b``,
``learning_speeds``, ``save``) run concurrently with each other; training
(``SGD``, ``update_mini_batch``) and the initialisers take the network
exclusively: a second ``SGD`` on the same network waits until the first
one has finished (the two runs happen one after the other, never
interleaved), and readers wait for the end of training, so they always
see a consistent network.  (Assigning ``net.weights`` from another thread
while it trains is not protected: don't.)
"""
import contextlib
import errno
import json
import os
import random
import tempfile
import threading
import warnings

import numpy as np

from . import kernels
from . import reference as _ref
from .datasets import as_dataset, require_labels
from .errors import (DivergenceError, DivergenceWarning, NetworkFileError,
                     NonFiniteError)
from .reference import CrossEntropyCost, QuadraticCost, sigmoid, sigmoid_prime

__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "load",
           "vectorized_result", "sigmoid", "sigmoid_prime",
           "DivergenceWarning", "DivergenceError", "NonFiniteError", "NetworkFileError"]

#: Examples per call into the kernels during SGD (rounded to whole
#: mini-batches).  Between calls Python runs, so Ctrl-C is seen within a
#: few milliseconds and leaves the network after a completed mini-batch,
#: and the parameters are checked for NaN/infinity.
_CHUNK_EXAMPLES = 2048

#: Largest layer size: BLAS indexes with 32-bit ints.
_MAX_LAYER = 2**31 - 1

_ON_DIVERGENCE = ("warn", "raise", "ignore")


# ----------------------------------------------------------------------
# A per-network readers/writer lock
# ----------------------------------------------------------------------

class _NetworkLock:
    """Many readers or one writer; re-entrant for the writing thread.

    A thread that holds the write lock may read and write again (a cost
    class of your own may call ``net.feedforward`` during training).  A
    thread that is reading may not start writing (it would wait for
    itself): that raises ``RuntimeError``.  ``with lock.reading:`` and
    ``with lock.writing(what):``.
    """

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._writer = None
        self._depth = 0
        self._readers = {}
        self.reading = _Reading(self)

    def acquire_read(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                while self._writer is not None:
                    self._cond.wait()
            self._readers[me] = self._readers.get(me, 0) + 1

    def release_read(self):
        me = threading.get_ident()
        with self._cond:
            k = self._readers[me] - 1
            if k:
                self._readers[me] = k
            else:
                del self._readers[me]
                self._cond.notify_all()

    def acquire_write(self, what):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
                return
            if me in self._readers:
                raise RuntimeError(f"{what} was called while this thread is evaluating "
                                   f"the same network (from inside a cost's fn or "
                                   f"delta?); it would wait for itself")
            while self._writer is not None or self._readers:
                self._cond.wait()
            self._writer, self._depth = me, 1

    def release_write(self):
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._writer = None
                self._cond.notify_all()

    def writing(self, what):
        return _Writing(self, what)


class _Reading:
    __slots__ = ("lock",)

    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        self.lock.acquire_read()

    def __exit__(self, *exc):
        self.lock.release_read()


class _Writing:
    __slots__ = ("lock", "what")

    def __init__(self, lock, what):
        self.lock, self.what = lock, what

    def __enter__(self):
        self.lock.acquire_write(self.what)

    def __exit__(self, *exc):
        self.lock.release_write()


_LOCK_CREATION = threading.Lock()


class Network:
    """A feedforward network of sigmoid neurons, trained by SGD.

    ``sizes`` lists the number of neurons in each layer: ``[784, 30, 10]``
    is a network with 784 inputs, one hidden layer of 30 neurons and 10
    outputs.  ``cost`` is ``CrossEntropyCost`` (default), ``QuadraticCost``
    or a class of your own with static methods ``fn(a, y)`` and
    ``delta(z, a, y)``.  ``dtype`` (keyword-only) is ``np.float64`` (as
    network2) or ``np.float32`` (faster, less precise).
    """

    def __init__(self, sizes, cost=CrossEntropyCost, *, dtype=np.float64):
        sizes = _check_sizes(sizes)
        dtype = _check_dtype(dtype)
        cost = _check_cost(cost)
        self.dtype = dtype
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.default_weight_initializer()
        self.cost = cost

    # The lock is created on first use and is not copied or pickled
    # (``copy.deepcopy(net)`` and ``pickle`` work as for network2's nets).
    def _lock(self):
        lock = self.__dict__.get("_vgcore_lock")
        if lock is None:
            with _LOCK_CREATION:
                lock = self.__dict__.setdefault("_vgcore_lock", _NetworkLock())
        return lock

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_vgcore_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def default_weight_initializer(self):
        """Gaussian weights of mean 0 and standard deviation ``1/sqrt(n_in)``.

        Biases are standard Gaussians.  The random numbers come from numpy's
        global generator in network2's order (all biases, then all weights),
        so ``np.random.seed(s)`` gives network2's initial network exactly.
        """
        with self._lock().writing("default_weight_initializer"):
            sizes = _check_sizes(self.sizes, "net.sizes")
            self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
            self.weights = [np.random.randn(y, x) / np.sqrt(x)
                            for x, y in zip(sizes[:-1], sizes[1:])]
            self._cast_parameters()

    def large_weight_initializer(self):
        """Standard Gaussian weights and biases (the book's chapter 1 choice)."""
        with self._lock().writing("large_weight_initializer"):
            sizes = _check_sizes(self.sizes, "net.sizes")
            self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
            self.weights = [np.random.randn(y, x)
                            for x, y in zip(sizes[:-1], sizes[1:])]
            self._cast_parameters()

    def _cast_parameters(self):
        dtype = _check_dtype(getattr(self, "dtype", np.float64), "net.dtype")
        if dtype != np.float64:
            self.biases = [b.astype(dtype) for b in self.biases]
            self.weights = [w.astype(dtype) for w in self.weights]

    # ------------------------------------------------------------------
    # Forward pass and gradients of one example (network2's API)
    # ------------------------------------------------------------------

    def feedforward(self, a):
        """Output of the network for the input column ``a`` (``(784, 1)``).

        ``a`` may also hold several inputs as columns (``(784, k)``); the
        result then has one output column per input.  A 1-D ``a`` of
        ``784`` values gives a 1-D output.
        """
        with self._lock().reading:
            W, B = self._parameters()
            A, column = _as_columns(a, self.sizes[0], self._dtype())
            if A.shape[0] == 0:
                out = np.empty((0, self.sizes[-1]), dtype=self._dtype())
            elif self._fast():
                out = kernels.feedforward(W, B, A)
            else:
                with np.errstate(all="ignore"):
                    out = _ref.feedforward(W, B, A)
            _check_result(out, "feedforward", "the output")
            return out[0] if column else np.ascontiguousarray(out.T)

    def backprop(self, x, y):
        """Gradient of the cost for the single example ``(x, y)``.

        Returns ``(nabla_b, nabla_w)``, lists of arrays shaped like
        ``self.biases`` and ``self.weights``: ``nabla_b[l] = delta^l`` and
        ``nabla_w[l] = delta^l (a^{l-1})^T``, where the output error is
        ``delta^L = cost.delta(z^L, a^L, y)`` and earlier layers get
        ``delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)``.  ``y`` is a
        ``(n_out, 1)`` target vector or an int label.
        """
        with self._lock().reading:
            self._cost()
            W, B = self._parameters()
            data = self._dataset([(x, y)], "backprop(x, y)")
            grad = kernels.backprop if self._fast() else _ref.backprop
            with np.errstate(all="ignore"):
                nabla_b, nabla_w = grad(W, B, data.X, data.Y, self._math_cost())
            for name, arrays in (("nabla_b", nabla_b), ("nabla_w", nabla_w)):
                for l, g in enumerate(arrays):
                    _check_result(g, "backprop", f"{name}[{l}]")
            return nabla_b, nabla_w

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            lmbda=0.0,
            evaluation_data=None,
            monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False,
            monitor_training_cost=False,
            monitor_training_accuracy=False,
            early_stopping_n=0,
            *, speed_probe=None, record_minibatch_speeds=False,
            on_divergence="warn"):
        """Train the network by mini-batch stochastic gradient descent.

        ``training_data`` is a list (or zip) of pairs ``(x, y)``, or the
        fast path ``(X, labels)``.  Each epoch shuffles the order of the
        examples with Python's ``random.shuffle`` (as network2 does, so
        ``random.seed`` fixes the mini-batches), cuts it into mini-batches
        of ``mini_batch_size`` (the last may be shorter) and takes one
        gradient step per mini-batch with learning rate ``eta`` and L2
        regularisation ``lmbda``.

        After each epoch it prints ``Epoch j training complete`` and the
        quantities whose ``monitor_*`` flag is set, computed on the
        training data or on ``evaluation_data``.  With
        ``early_stopping_n > 0`` training stops once the evaluation
        accuracy has not improved for that many epochs.

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``: per-epoch lists, empty where not monitored.

        All arguments are checked before training starts (see the module
        docstring, "Validation"): a bad argument never costs an epoch.

        Learning-speed instruments (keyword-only):

        - ``speed_probe=data``: at the start of every epoch, the learning
          speed of every hidden layer (``||mean dC/db^l||`` over the probe,
          the chapter's measure) is appended to ``self.speed_history``,
          one list per epoch.
        - ``record_minibatch_speeds=True``: ``self.minibatch_speeds``
          becomes an ``(n_mini_batches, n_hidden)`` array of the same norm
          taken over each mini-batch alone, from the training pass itself
          (no extra work, but each value is a noisy estimate from ``m``
          examples rather than from the probe set).

        ``on_divergence`` (keyword-only): ``"warn"`` (default), ``"raise"``
        or ``"ignore"``: what to do when the parameters or a monitored cost
        become NaN or infinite (module docstring, "Divergence").
        """
        with self._lock().writing("SGD"):
            return self._sgd(training_data, epochs, mini_batch_size, eta, lmbda,
                             evaluation_data, monitor_evaluation_cost,
                             monitor_evaluation_accuracy, monitor_training_cost,
                             monitor_training_accuracy, early_stopping_n,
                             speed_probe, record_minibatch_speeds, on_divergence)

    def _sgd(self, training_data, epochs, mini_batch_size, eta, lmbda,
             evaluation_data, monitor_evaluation_cost, monitor_evaluation_accuracy,
             monitor_training_cost, monitor_training_accuracy, early_stopping_n,
             speed_probe, record_minibatch_speeds, on_divergence):
        epochs, mini_batch_size, eta, lmbda, early_stopping_n = _check_sgd_args(
            epochs, mini_batch_size, eta, lmbda, early_stopping_n)
        on_divergence = _check_on_divergence(on_divergence)
        self._cost()
        self._parameters()
        train = self._dataset(training_data, "training_data")
        if monitor_training_accuracy:
            require_labels(train, "training_data")
        n = len(train)
        # a mini-batch larger than the data is the whole data: the same
        # steps, without asking the kernels for a workspace of that size
        mini_batch_size = min(mini_batch_size, n)
        needs_eval = bool(monitor_evaluation_cost or monitor_evaluation_accuracy
                          or early_stopping_n)
        evaluation = None
        if needs_eval:
            if evaluation_data is None:
                raise ValueError("evaluation_data is required to monitor evaluation "
                                 "cost or accuracy, or for early stopping")
            evaluation = self._dataset(evaluation_data, "evaluation_data")
            if monitor_evaluation_accuracy or early_stopping_n:
                require_labels(evaluation, "evaluation_data")
        probe = None if speed_probe is None else self._dataset(speed_probe, "speed_probe")
        if record_minibatch_speeds and not self._fast():
            raise ValueError("record_minibatch_speeds needs a built-in cost "
                             "(CrossEntropyCost or QuadraticCost)")

        W, B = self._working_copies()
        order = list(range(n))
        batches_per_epoch = -(-n // mini_batch_size)
        chunk = max(1, _CHUNK_EXAMPLES // mini_batch_size) * mini_batch_size
        speeds = (np.zeros((epochs * batches_per_epoch, len(W)))
                  if record_minibatch_speeds else None)
        self.speed_history = []
        if record_minibatch_speeds:
            self.minibatch_speeds = speeds[:, :-1]

        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        results = (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy)
        watch = on_divergence != "ignore"          # parameters: report once
        watch_cost = watch                         # monitored costs: report once
        best_accuracy, no_accuracy_change = 0, 0
        for j in range(epochs):
            if probe is not None:
                self.speed_history.append(self._learning_speeds(probe, checked=False))
            random.shuffle(order)
            perm = np.array(order, dtype=np.int64)
            for start in range(0, n, chunk):
                idx = perm[start:start + chunk]
                first = j * batches_per_epoch + start // mini_batch_size
                out = None if speeds is None else speeds[
                    first:first + -(-len(idx) // mini_batch_size)]
                before = self._snapshot(W, B) if watch else None
                W, B = self._run(W, B, train, idx, mini_batch_size, eta, lmbda, n, out)
                self.weights, self.biases = W, B
                if watch and _nonfinite_layers(W, B):
                    self._diverged(before, train, idx, mini_batch_size, eta, lmbda, n,
                                   j, start // mini_batch_size, on_divergence, results)
                    watch = False
            print("Epoch %s training complete" % j)
            if monitor_training_cost:
                cost = self._evaluate(train, lmbda, checked=False)[1]
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = self._evaluate(train, 0.0, checked=False)[0]
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = self._evaluate(evaluation, lmbda, checked=False)[1]
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            if monitor_evaluation_accuracy:
                accuracy = self._evaluate(evaluation, 0.0, checked=False)[0]
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(
                    accuracy, len(evaluation)))
            print()
            if watch_cost:
                for what, costs in (("training", training_cost if monitor_training_cost
                                     else None),
                                    ("evaluation", evaluation_cost if monitor_evaluation_cost
                                     else None)):
                    if costs is not None and not np.isfinite(costs[-1]):
                        self._cost_diverged(what, costs[-1], j, eta, lmbda, n,
                                            on_divergence, results)
                        watch_cost = False
                        break
            if early_stopping_n > 0:
                accuracy = (evaluation_accuracy[-1] if monitor_evaluation_accuracy
                            else self._evaluate(evaluation, 0.0, checked=False)[0])
                if accuracy > best_accuracy:
                    best_accuracy, no_accuracy_change = accuracy, 0
                else:
                    no_accuracy_change += 1
                if no_accuracy_change == early_stopping_n:
                    break
        return results

    def update_mini_batch(self, mini_batch, eta, lmbda, n, *, on_divergence="warn"):
        """One gradient-descent step on ``mini_batch`` (a list of ``(x, y)``).

        With the gradients summed over the ``m`` examples,
        ``w <- (1 - eta*lmbda/n) w - (eta/m) sum dC_x/dw`` and
        ``b <- b - (eta/m) sum dC_x/db``; ``n`` is the size of the whole
        training set (it scales the regularisation).  ``on_divergence`` as
        in :meth:`SGD` (the report has ``epoch=None``, ``mini_batch=0``).
        """
        with self._lock().writing("update_mini_batch"):
            _, _, eta, lmbda, _ = _check_sgd_args(1, 1, eta, lmbda, 0)
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
                raise TypeError(f"n must be an int (the training-set size), got {n!r}")
            if n <= 0:
                raise ValueError(f"n must be >= 1 (the training-set size), got {n!r}")
            on_divergence = _check_on_divergence(on_divergence)
            self._cost()
            self._parameters()
            data = self._dataset(mini_batch, "mini_batch")
            m = len(data)
            W, B = self._working_copies()
            before = self._snapshot(W, B) if on_divergence != "ignore" else None
            W, B = self._run(W, B, data, np.arange(m, dtype=np.int64), m, eta, lmbda, int(n))
            self.weights, self.biases = W, B
            if before is not None and _nonfinite_layers(W, B):
                self._diverged(before, data, np.arange(m, dtype=np.int64), m, eta, lmbda,
                               int(n), None, 0, on_divergence, None)

    # ------------------------------------------------------------------
    # Evaluation
    # ------------------------------------------------------------------

    def accuracy(self, data, convert=False):
        """Number of examples in ``data`` that the network classifies right.

        The network's answer is the index of its most active output neuron.
        ``convert=True`` says the labels are one-hot vectors (training
        data), ``False`` that they are ints (validation and test data); the
        labels' form is also recognised from the data itself.  One-hot
        vectors must be exactly one-hot.
        """
        with self._lock().reading:
            self._cost()
            self._parameters()
            d = self._dataset(data, "data")
            require_labels(d, "data")
            return self._evaluate(d, 0.0)[0]

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the L2 term ``0.5 (lmbda/n) sum ||w||^2``.

        ``convert=True`` says the labels are ints to be turned into one-hot
        vectors (validation and test data) -- the opposite sense to
        ``accuracy``'s flag, as in network2; the labels' form is also
        recognised from the data itself.  Computed stably from ``z``.
        """
        with self._lock().reading:
            lmbda = _check_real(lmbda, "lmbda")
            self._cost()
            self._parameters()
            cost = self._evaluate(self._dataset(data, "data"), lmbda)[1]
            if not np.isfinite(cost):
                raise NonFiniteError(
                    f"total_cost: the cost is {cost}: it overflowed float64 (inputs or "
                    f"weights too large), or the cost class's fn returned it")
            return cost

    # ------------------------------------------------------------------
    # Learning speed (chapter 5)
    # ------------------------------------------------------------------

    def mean_nabla_b(self, data):
        """``dC/db`` of every layer averaged over ``data``: list of ``(n_l,)``.

        The cost's gradient only (no regularisation term), as chapter 5
        measures it.  Entry ``l`` belongs to layer ``l + 2`` (the first
        hidden layer is entry 0, the output layer the last entry).
        """
        with self._lock().reading:
            self._cost()
            self._parameters()
            return self._mean_nabla_b(self._dataset(data, "data"), checked=True)

    def learning_speeds(self, data):
        """The chapter's speed of learning of every hidden layer.

        ``||mean over data of dC/db^l||`` for each hidden layer ``l``, in
        order from the first hidden layer: a list of floats.
        """
        with self._lock().reading:
            self._cost()
            self._parameters()
            return self._learning_speeds(self._dataset(data, "data"), checked=True)

    def _mean_nabla_b(self, d, checked):
        W, B = self._parameters(finite=checked)
        fn = kernels.mean_nabla_b if self._fast() else _ref.mean_nabla_b
        with np.errstate(all="ignore"):
            out = [np.asarray(g, dtype=np.float64) for g in fn(W, B, d.X, d.Y, self._math_cost())]
        if checked:
            for l, g in enumerate(out):
                _check_result(g, "mean_nabla_b", f"entry {l}")
        return out

    def _learning_speeds(self, d, checked):
        return [float(np.linalg.norm(g)) for g in self._mean_nabla_b(d, checked)[:-1]]

    # ------------------------------------------------------------------
    # Saving
    # ------------------------------------------------------------------

    def save(self, filename):
        """Save the network to ``filename`` as network2's JSON.

        ``{"sizes", "weights", "biases", "cost"}``; files load in network2
        and vice versa.  The save is atomic: the JSON goes to an unnamed
        temporary file in the same directory (Linux ``O_TMPFILE``; a named
        ``.vgcore-*.json.tmp`` elsewhere), which is flushed to disk and then
        renamed over ``filename``.  A save that fails or is killed leaves
        the previous ``filename`` intact and, on Linux, nothing else.  A
        symbolic link is followed (its target is replaced), and an existing
        file keeps its permission bits.  Non-finite parameters are refused
        (:class:`~vgcore.errors.NonFiniteError`): JSON cannot hold them.
        """
        with self._lock().reading:
            path = _check_path(filename, "filename")
            cost = self._cost()
            W, B = self._parameters()
            data = {"sizes": list(self.sizes),
                    "weights": [np.asarray(w, dtype=np.float64).tolist() for w in W],
                    "biases": [np.asarray(b, dtype=np.float64).tolist() for b in B],
                    "cost": str(cost.__name__)}
            _atomic_write_json(path, data)

    # ------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------

    def _fast(self):
        return self.cost is CrossEntropyCost or self.cost is QuadraticCost

    def _cost(self):
        return _check_cost(self.cost, "net.cost")

    def _math_cost(self):
        """The cost to hand to the kernels or the reference.

        A cost class of one's own is wrapped so that an ``fn`` or ``delta``
        returning the wrong kind of value is reported naming it, instead of
        surfacing as a numpy broadcasting error deep in the reference.
        """
        return self.cost if self._fast() else _CheckedCost(self.cost)

    def _dtype(self):
        return _check_dtype(getattr(self, "dtype", np.float64), "net.dtype")

    def _dataset(self, data, name):
        sizes = _check_sizes(self.sizes, "net.sizes")
        return as_dataset(data, sizes[0], sizes[-1], self._dtype(), name)

    def _parameters(self, finite=True):
        """Parameters as contiguous arrays of the network's dtype (checked)."""
        return _check_parameters(self.weights, self.biases,
                                 _check_sizes(self.sizes, "net.sizes"),
                                 self._dtype(), finite=finite)

    def _working_copies(self):
        """Fresh copies for in-place training, installed as the parameters."""
        W, B = self._parameters()
        W = [np.array(w, order="C", copy=True) for w in W]
        B = [np.array(b, order="C", copy=True) for b in B]
        self.weights, self.biases = W, B
        return W, B

    def _snapshot(self, W, B):
        """A copy of the parameters that later training cannot touch."""
        if self._fast():       # the kernels update in place
            return [w.copy() for w in W], [b.copy() for b in B]
        return list(W), list(B)  # the reference returns new arrays

    def _run(self, W, B, data, idx, mini_batch_size, eta, lmbda, n, speeds=None):
        """Train on the examples ``idx`` of ``data``; return the parameters.

        The kernels update ``W`` and ``B`` in place and return them; the
        reference returns new lists.  The caller installs them.
        """
        if self._fast():
            kernels.sgd_epoch(W, B, data.X, data.Y, idx, mini_batch_size,
                              eta, lmbda, n, self.cost, speeds=speeds)
            return W, B
        with np.errstate(all="ignore"):
            return _ref.sgd_epoch(W, B, data.X, data.Y, idx, mini_batch_size,
                                  eta, lmbda, self._math_cost(), n)

    def _diverged(self, before, data, idx, mini_batch_size, eta, lmbda, n,
                  epoch, first_batch, on_divergence, results):
        """Find where the parameters first became non-finite; warn or raise.

        Replays the examples ``idx`` one mini-batch at a time from the
        snapshot ``before`` (on copies) to find the mini-batch and layer.
        """
        W, B = self._snapshot(*before)
        last_good = before
        where = None
        for k, s in enumerate(range(0, len(idx), mini_batch_size)):
            prev = self._snapshot(W, B)
            W, B = self._run(W, B, data, idx[s:s + mini_batch_size], mini_batch_size,
                             eta, lmbda, n)
            bad = _nonfinite_layers(W, B)
            if bad:
                where, last_good = (first_batch + k, bad), prev
                break
        if where is None:     # not reproduced (non-deterministic BLAS?)
            bad = _nonfinite_layers(self.weights, self.biases)
            where = (None, bad)
        mini_batch, bad = where
        layer, parameter = bad[0]
        layers = sorted({l for l, _ in bad})
        decay = 1 - eta * lmbda / n
        msg = (f"training diverged: the {parameter} of layer {layer + 2} "
               f"(net.{parameter}[{layer}]) became NaN or infinite")
        if epoch is not None:
            msg += f" in epoch {epoch}"
        if mini_batch is not None:
            msg += f", mini-batch {mini_batch}" if epoch is not None else " in this mini-batch"
        if len(layers) > 1:
            msg += f" (non-finite layers: {[l + 2 for l in layers]})"
        msg += f"; eta={eta!r}, lmbda={lmbda!r}, n={n!r}"
        if abs(decay) > 1:
            msg += (f"; the weight-decay factor 1 - eta*lmbda/n = {decay:.6g} has magnitude "
                    f"> 1, so every step multiplies the weights by it")
        msg += "; try a smaller eta" + (" or lmbda" if lmbda else "")
        if on_divergence == "raise":
            self.weights, self.biases = [np.array(w) for w in last_good[0]], \
                                        [np.array(b) for b in last_good[1]]
            raise DivergenceError(msg + "; the network keeps its last finite parameters",
                                  epoch, mini_batch, layer, parameter, layers, results)
        warnings.warn(DivergenceWarning(msg, epoch, mini_batch, layer, parameter, layers),
                      stacklevel=4)

    def _cost_diverged(self, what, value, epoch, eta, lmbda, n, on_divergence, results):
        msg = (f"training diverged: the cost on {what} data is {value} after epoch "
               f"{epoch} although the parameters are finite (they are so large that the "
               f"computation overflowed, or the cost's fn returned it); eta={eta!r}, "
               f"lmbda={lmbda!r}, n={n!r}; try a smaller eta")
        if on_divergence == "raise":
            raise DivergenceError(msg, epoch, None, None, "cost", (), results)
        warnings.warn(DivergenceWarning(msg, epoch, None, None, "cost", ()), stacklevel=4)

    def _evaluate(self, data, lmbda, checked=True):
        """``(n_correct, total_cost)`` of a :class:`~vgcore.datasets.Dataset`."""
        W, B = self._parameters(finite=checked)
        with np.errstate(all="ignore"):
            if self._fast():
                return kernels.evaluate(W, B, data.X, data.Y, lmbda, self.cost)
            return (_ref.accuracy(W, B, data.X, data.labels),
                    _ref.total_cost(W, B, data.X, data.Y, lmbda, self._math_cost()))


class _CheckedCost:
    """A user's cost class, with the results of ``fn`` and ``delta`` checked."""

    __slots__ = ("cost",)

    def __init__(self, cost):
        self.cost = cost

    def fn(self, a, y):
        v = self.cost.fn(a, y)
        if isinstance(v, (bool, np.bool_)) or not isinstance(
                v, (int, float, np.integer, np.floating, np.ndarray)) or np.size(v) != 1:
            raise TypeError(f"cost {self.cost.__name__}.fn(a, y) must return a number, got "
                            f"{type(v).__name__}")
        return float(np.asarray(v).reshape(()))

    def delta(self, z, a, y):
        d = self.cost.delta(z, a, y)
        try:
            d = np.asarray(d, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"cost {self.cost.__name__}.delta(z, a, y) must return an array "
                            f"of numbers shaped like a {a.shape}, got "
                            f"{type(d).__name__}") from None
        if d.size != a.size:
            raise ValueError(f"cost {self.cost.__name__}.delta(z, a, y) must return an array "
                             f"shaped like a {a.shape}, got shape {d.shape}")
        return d.reshape(a.shape)


# ----------------------------------------------------------------------
# Loading a network
# ----------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"the literal {name} (parameters must be finite numbers)")


def load(filename):
    """Load a network saved by ``Network.save`` (vgcore's or network2's).

    As in network2 the network is first constructed (which draws its
    initial weights from numpy's generator) and then given the saved
    parameters.  The cost must be one of the built-in cost names (no name
    is ever looked up in a module).  The whole file is checked before the
    network is built -- structure, shapes against ``sizes``, numbers
    (finite, not booleans or strings) -- and anything wrong raises
    :class:`~vgcore.errors.NetworkFileError` (a ``ValueError``) saying what.
    A missing or unreadable file raises ``OSError`` as ``open`` does.
    """
    path = _check_path(filename, "filename")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise NetworkFileError(filename, "not a network2 JSON file (nested too "
                                         "deeply)") from None
    except ValueError as e:        # JSONDecodeError, UnicodeDecodeError, our NaN check
        raise NetworkFileError(filename, f"not a network2 JSON file ({e})") from None
    if not isinstance(data, dict):
        raise NetworkFileError(filename, f"expected a JSON object, got {type(data).__name__}")
    missing = {"sizes", "weights", "biases", "cost"} - set(data)
    if missing:
        raise NetworkFileError(filename, f"missing keys {sorted(missing)}")
    cost = _ref.BUILTIN_COSTS.get(data["cost"]) if isinstance(data["cost"], str) else None
    if cost is None:
        shown = repr(data["cost"])
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise NetworkFileError(filename, f"unknown cost {shown}; expected one of "
                                         f"{sorted(_ref.BUILTIN_COSTS)}")
    try:
        sizes = _check_sizes(data["sizes"])
    except (TypeError, ValueError) as e:
        raise NetworkFileError(filename, f"bad sizes: {e}") from None
    try:
        L = len(sizes) - 1
        weights = _json_matrices(data["weights"], "weights",
                                 [(sizes[l + 1], sizes[l]) for l in range(L)])
        biases = _json_matrices(data["biases"], "biases", [(sizes[l + 1], 1) for l in range(L)])
    except (TypeError, ValueError) as e:
        raise NetworkFileError(filename, f"bad parameters: {e}") from None
    net = Network(sizes, cost=cost)
    net.weights, net.biases = weights, biases
    return net


def _json_matrices(value, name, shapes):
    """float64 arrays of ``shapes`` from JSON lists, checked strictly."""
    if type(value) is not list:
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices, got "
                         f"{type(value).__name__}")
    if len(value) != len(shapes):
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices (one per layer "
                         f"after the first, for sizes), got {len(value)}")
    out = []
    for l, (m, (rows, cols)) in enumerate(zip(value, shapes)):
        where = f"{name}[{l}]"
        if type(m) is not list or len(m) != rows:
            got = f"{len(m)} rows" if type(m) is list else type(m).__name__
            raise ValueError(f"{where} must have shape {(rows, cols)}: a list of {rows} rows, "
                             f"got {got}")
        for i, row in enumerate(m):
            if type(row) is not list or len(row) != cols:
                got = f"{len(row)} values" if type(row) is list else type(row).__name__
                raise ValueError(f"{where} must have shape {(rows, cols)}: row {i} must be "
                                 f"a list of {cols} numbers, got {got}")
        flat = [v for row in m for v in row]
        kinds = set(map(type, flat))
        if not kinds <= {int, float}:
            bad = sorted(k.__name__ for k in kinds - {int, float})
            raise ValueError(f"{where} must hold numbers only, found {', '.join(bad)}")
        try:
            a = np.array(flat, dtype=np.float64)
        except OverflowError:
            raise ValueError(f"{where} holds an integer too large for float64") from None
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where} holds a number too large for float64 (it reads "
                             f"as infinity)")
        out.append(a.reshape(rows, cols))
    return out


def vectorized_result(j):
    """A ``(10, 1)`` column with 1.0 in position ``j`` and zeros elsewhere."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


# ----------------------------------------------------------------------
# Saving atomically
# ----------------------------------------------------------------------

def _umask():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _open_unnamed(directory):
    """An O_TMPFILE descriptor in ``directory``, or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None      # filesystem or kernel without O_TMPFILE
        raise


def _link_unnamed(fd, directory):
    """Give the O_TMPFILE ``fd`` a fresh name in ``directory``; return it."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(100):
            name = os.path.join(directory, f".vgcore-{os.urandom(6).hex()}.json.tmp")
            try:
                os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
                return name
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name", directory)
    finally:
        os.close(proc)


def _atomic_write_json(path, data):
    target = os.path.realpath(path)     # write through a symbolic link, as open() does
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"cannot save the network: the directory "
                                f"{directory!r} does not exist", path)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "cannot save the network: it is a directory",
                                path)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd = _open_unnamed(directory)
    tmp = None
    try:
        if fd is None:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".vgcore-", suffix=".json.tmp")
            if mode is None:
                mode = 0o666 & ~_umask()
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, allow_nan=False)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
            if tmp is None:
                tmp = _link_unnamed(f.fileno(), directory)
        os.replace(tmp, target)
        tmp = None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):   # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# ----------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------

def _check_path(filename, name):
    if isinstance(filename, bool) or not isinstance(filename, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got "
                        f"{type(filename).__name__}")
    path = os.fsdecode(os.fspath(filename))
    if not path or "\0" in path:
        raise ValueError(f"{name} must be a non-empty path without NUL characters, "
                         f"got {filename!r}")
    return path


def _check_sizes(sizes, name="sizes"):
    if (type(sizes) is list and len(sizes) >= 2
            and all(type(s) is int and 0 < s <= _MAX_LAYER for s in sizes)):
        return sizes                       # the common case, quickly
    if isinstance(sizes, (str, bytes, dict)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a list of layer sizes (ints), got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"{name} must list at least two layers (input and output), "
                         f"got {sizes!r}")
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{name} must hold ints; {name}[{i}] is {s!r} "
                            f"({type(s).__name__})")
        if s <= 0:
            raise ValueError(f"every layer size must be >= 1; {name}[{i}] is {s}")
        if s > _MAX_LAYER:
            raise ValueError(f"every layer size must be < 2**31 (BLAS's index limit); "
                             f"{name}[{i}] is {s}")
    return [int(s) for s in sizes]


def _check_dtype(dtype, name="dtype"):
    if dtype is np.float64 or dtype is np.float32:
        return dtype
    try:
        d = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be np.float64 or np.float32, got {dtype!r}") from None
    if d not in (np.float64, np.float32):
        raise TypeError(f"{name} must be np.float64 or np.float32, got {d}")
    return d.type


def _check_cost(cost, name="cost"):
    if not isinstance(cost, type):
        if callable(getattr(cost, "fn", None)) and callable(getattr(cost, "delta", None)):
            raise TypeError(f"{name} must be the cost class itself, not an instance: pass "
                            f"{type(cost).__name__}, not {type(cost).__name__}()")
        raise TypeError(f"{name} must be a class with static methods fn(a, y) and "
                        f"delta(z, a, y) such as CrossEntropyCost, got {cost!r}")
    missing = [m for m in ("fn", "delta") if not callable(getattr(cost, m, None))]
    if missing:
        raise TypeError(f"{name} {cost.__name__} lacks the static method(s) "
                        f"{' and '.join(missing)}: a cost needs fn(a, y) and delta(z, a, y)")
    return cost


def _check_real(value, name, minimum=0.0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    return v


def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_sgd_args(epochs, mini_batch_size, eta, lmbda, early_stopping_n):
    return (_check_int(epochs, "epochs", 0),
            _check_int(mini_batch_size, "mini_batch_size", 1),
            _check_real(eta, "eta"),
            _check_real(lmbda, "lmbda"),
            _check_int(early_stopping_n, "early_stopping_n", 0))


def _check_on_divergence(value):
    if not isinstance(value, str):
        raise TypeError(f"on_divergence must be one of {list(_ON_DIVERGENCE)}, got {value!r}")
    if value not in _ON_DIVERGENCE:
        raise ValueError(f"on_divergence must be one of {list(_ON_DIVERGENCE)}, got {value!r}")
    return value


def _as_columns(a, n_in, dtype):
    """``feedforward``'s input as rows ``(k, n_in)``; and whether it was 1-D."""
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError):
        raise ValueError(f"feedforward: a must be a ({n_in}, 1) column of numbers") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"feedforward: a must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == n_in:
        column = True
    elif arr.ndim == 2 and arr.shape[0] == n_in:
        column = False
    else:
        raise ValueError(f"feedforward: a must be a ({n_in}, 1) column (the network's "
                         f"sizes[0] = {n_in} inputs), ({n_in}, k) for k inputs, or "
                         f"({n_in},); got shape {arr.shape}")
    with np.errstate(over="ignore"):
        A = np.ascontiguousarray(arr.reshape(n_in, -1).T, dtype=dtype)
    if not np.all(np.isfinite(A)):
        raise NonFiniteError("feedforward: a contains NaN or infinity"
                             + (f" (after conversion to {np.dtype(dtype).name})"
                                if dtype != np.float64 else ""))
    return A, column


def _check_result(a, where, what):
    if not np.all(np.isfinite(a)):
        raise NonFiniteError(f"{where}: {what} is NaN or infinite although inputs and "
                             f"parameters are finite: the computation overflowed "
                             f"(inputs or weights too large)")


def _nonfinite_layers(W, B):
    """``[(layer, "weights" or "biases"), ...]`` for every non-finite array."""
    bad = []
    for l, (w, b) in enumerate(zip(W, B)):
        if not np.isfinite(w).all():
            bad.append((l, "weights"))
        elif not np.isfinite(b).all():
            bad.append((l, "biases"))
    return bad


def _check_parameters(weights, biases, sizes, dtype, finite=True, prefix="net."):
    """Check shapes and values of the parameter lists; return contiguous copies/views."""
    L = len(sizes) - 1
    for name, params in (("weights", weights), ("biases", biases)):
        if not isinstance(params, (list, tuple)):
            raise TypeError(f"{prefix}{name} must be a list of {L} arrays, got "
                            f"{type(params).__name__}")
        if len(params) != L:
            raise ValueError(f"{prefix}{name} must be a list of {L} arrays for sizes "
                             f"{sizes}, got {len(params)}")
    dt = np.dtype(dtype)
    W, B = [], []
    for l in range(L):
        for name, a, shape, out in (("weights", weights[l], (sizes[l + 1], sizes[l]), W),
                                    ("biases", biases[l], (sizes[l + 1], 1), B)):
            if not (type(a) is np.ndarray and a.dtype == dt and a.shape == shape
                    and a.flags.c_contiguous):
                a = _convert_parameter(a, shape, dt, f"{prefix}{name}[{l}]")
            if finite and not np.isfinite(a).all():
                raise NonFiniteError(f"{prefix}{name}[{l}] contains NaN or infinity (did "
                                     f"training diverge?)")
            out.append(a)
    return W, B


def _convert_parameter(a, shape, dtype, where):
    try:
        a = np.asarray(a)
    except (ValueError, TypeError):
        raise ValueError(f"{where} must be an array of shape {shape}") from None
    if a.shape != shape:
        raise ValueError(f"{where} must have shape {shape}, got {a.shape}")
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{where} must hold real numbers, got dtype {a.dtype}")
    with np.errstate(over="ignore"):    # float64 -> float32 overflow: caught as inf
        return np.ascontiguousarray(a, dtype=dtype)
