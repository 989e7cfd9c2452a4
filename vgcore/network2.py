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

Additions (keyword-only, documented below): ``dtype`` for float32
networks; ``speed_probe`` and ``record_minibatch_speeds`` in ``SGD``;
the methods ``mean_nabla_b`` and ``learning_speeds``.
"""
import json
import os
import random
import tempfile

import numpy as np

from . import kernels
from . import reference as _ref
from .datasets import as_dataset
from .reference import CrossEntropyCost, QuadraticCost, sigmoid, sigmoid_prime

__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "load",
           "vectorized_result", "sigmoid", "sigmoid_prime"]

#: Examples per call into the kernels during SGD (rounded to whole
#: mini-batches).  Between calls Python runs, so Ctrl-C is seen within a
#: few milliseconds and leaves the network after a completed mini-batch.
_CHUNK_EXAMPLES = 2048


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
        self.dtype = _check_dtype(dtype)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.default_weight_initializer()
        self.cost = cost

    def default_weight_initializer(self):
        """Gaussian weights of mean 0 and standard deviation ``1/sqrt(n_in)``.

        Biases are standard Gaussians.  The random numbers come from numpy's
        global generator in network2's order (all biases, then all weights),
        so ``np.random.seed(s)`` gives network2's initial network exactly.
        """
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]
        self._cast_parameters()

    def large_weight_initializer(self):
        """Standard Gaussian weights and biases (the book's chapter 1 choice)."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]
        self._cast_parameters()

    def _cast_parameters(self):
        if self.dtype != np.float64:
            self.biases = [b.astype(self.dtype) for b in self.biases]
            self.weights = [w.astype(self.dtype) for w in self.weights]

    # ------------------------------------------------------------------
    # Forward pass and gradients of one example (network2's API)
    # ------------------------------------------------------------------

    def feedforward(self, a):
        """Output of the network for the input column ``a`` (``(784, 1)``).

        ``a`` may also hold several inputs as columns (``(784, k)``); the
        result then has one output column per input.
        """
        a = np.asarray(a)
        column = a.ndim == 1
        A = np.ascontiguousarray(a.reshape(a.shape[0], -1).T, dtype=self.dtype)
        W, B = self._parameters()
        out = kernels.feedforward(W, B, A) if self._fast() else _ref.feedforward(W, B, A)
        return out[0] if column else np.ascontiguousarray(out.T)

    def backprop(self, x, y):
        """Gradient of the cost for the single example ``(x, y)``.

        Returns ``(nabla_b, nabla_w)``, lists of arrays shaped like
        ``self.biases`` and ``self.weights``: ``nabla_b[l] = delta^l`` and
        ``nabla_w[l] = delta^l (a^{l-1})^T``, where the output error is
        ``delta^L = cost.delta(z^L, a^L, y)`` and earlier layers get
        ``delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)``.
        """
        data = as_dataset([(x, y)], self.sizes[0], self.sizes[-1], self.dtype, "backprop")
        W, B = self._parameters()
        grad = kernels.backprop if self._fast() else _ref.backprop
        return grad(W, B, data.X, data.Y, self.cost)

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
            *, speed_probe=None, record_minibatch_speeds=False):
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
        """
        epochs, mini_batch_size, eta, lmbda, early_stopping_n = _check_sgd_args(
            epochs, mini_batch_size, eta, lmbda, early_stopping_n)
        train = self._dataset(training_data, "training_data")
        n = len(train)
        evaluation = None
        if evaluation_data is not None and (_is_arrays(evaluation_data) or evaluation_data):
            evaluation = self._dataset(evaluation_data, "evaluation_data")
        needs_eval = monitor_evaluation_cost or monitor_evaluation_accuracy or early_stopping_n
        if needs_eval and evaluation is None:
            raise ValueError("evaluation_data is required to monitor evaluation "
                             "cost or accuracy, or for early stopping")
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
        best_accuracy, no_accuracy_change = 0, 0
        for j in range(epochs):
            if probe is not None:
                self.speed_history.append(self.learning_speeds(probe))
            random.shuffle(order)
            perm = np.array(order, dtype=np.int64)
            for start in range(0, n, chunk):
                idx = perm[start:start + chunk]
                if self._fast():
                    first = (j * batches_per_epoch + start // mini_batch_size)
                    out = None if speeds is None else speeds[
                        first:first + -(-len(idx) // mini_batch_size)]
                    kernels.sgd_epoch(W, B, train.X, train.Y, idx, mini_batch_size,
                                      eta, lmbda, n, self.cost, speeds=out)
                else:
                    W, B = _ref.sgd_epoch(W, B, train.X, train.Y, idx, mini_batch_size,
                                          eta, lmbda, self.cost, n)
                    self.weights, self.biases = W, B
            print("Epoch %s training complete" % j)
            if monitor_training_cost:
                cost = self._evaluate(train, lmbda)[1]
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = self._evaluate(train, 0.0)[0]
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = self._evaluate(evaluation, lmbda)[1]
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            if monitor_evaluation_accuracy:
                accuracy = self._evaluate(evaluation, 0.0)[0]
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(
                    accuracy, len(evaluation)))
            print()
            if early_stopping_n > 0:
                accuracy = (evaluation_accuracy[-1] if monitor_evaluation_accuracy
                            else self._evaluate(evaluation, 0.0)[0])
                if accuracy > best_accuracy:
                    best_accuracy, no_accuracy_change = accuracy, 0
                else:
                    no_accuracy_change += 1
                if no_accuracy_change == early_stopping_n:
                    break
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One gradient-descent step on ``mini_batch`` (a list of ``(x, y)``).

        With the gradients summed over the ``m`` examples,
        ``w <- (1 - eta*lmbda/n) w - (eta/m) sum dC_x/dw`` and
        ``b <- b - (eta/m) sum dC_x/db``; ``n`` is the size of the whole
        training set (it scales the regularisation).
        """
        _, _, eta, lmbda, _ = _check_sgd_args(1, 1, eta, lmbda, 0)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"n must be a positive int (the training-set size), got {n!r}")
        data = self._dataset(mini_batch, "mini_batch")
        m = len(data)
        W, B = self._working_copies()
        if self._fast():
            kernels.sgd_epoch(W, B, data.X, data.Y, np.arange(m, dtype=np.int64), m,
                              eta, lmbda, n, self.cost)
        else:
            self.weights, self.biases = _ref.update_mini_batch(
                W, B, data.X, data.Y, eta, lmbda, n, self.cost)

    # ------------------------------------------------------------------
    # Evaluation
    # ------------------------------------------------------------------

    def accuracy(self, data, convert=False):
        """Number of examples in ``data`` that the network classifies right.

        The network's answer is the index of its most active output neuron.
        ``convert=True`` says the labels are one-hot vectors (training
        data), ``False`` that they are ints (validation and test data); the
        labels' form is also recognised from the data itself.
        """
        return self._evaluate(self._dataset(data, "data"), 0.0)[0]

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the L2 term ``0.5 (lmbda/n) sum ||w||^2``.

        ``convert=True`` says the labels are ints to be turned into one-hot
        vectors (validation and test data) -- the opposite sense to
        ``accuracy``'s flag, as in network2; the labels' form is also
        recognised from the data itself.  Computed stably from ``z``.
        """
        lmbda = _check_finite(lmbda, "lmbda")
        return self._evaluate(self._dataset(data, "data"), lmbda)[1]

    # ------------------------------------------------------------------
    # Learning speed (chapter 5)
    # ------------------------------------------------------------------

    def mean_nabla_b(self, data):
        """``dC/db`` of every layer averaged over ``data``: list of ``(n_l,)``.

        The cost's gradient only (no regularisation term), as chapter 5
        measures it.  Entry ``l`` belongs to layer ``l + 2`` (the first
        hidden layer is entry 0, the output layer the last entry).
        """
        d = self._dataset(data, "data")
        W, B = self._parameters()
        fn = kernels.mean_nabla_b if self._fast() else _ref.mean_nabla_b
        return [np.asarray(g, dtype=np.float64) for g in fn(W, B, d.X, d.Y, self.cost)]

    def learning_speeds(self, data):
        """The chapter's speed of learning of every hidden layer.

        ``||mean over data of dC/db^l||`` for each hidden layer ``l``, in
        order from the first hidden layer: a list of floats.
        """
        return [float(np.linalg.norm(g)) for g in self.mean_nabla_b(data)[:-1]]

    # ------------------------------------------------------------------
    # Saving
    # ------------------------------------------------------------------

    def save(self, filename):
        """Save the network to ``filename`` as network2's JSON.

        ``{"sizes", "weights", "biases", "cost"}``; files load in network2
        and vice versa.  The file is written to a temporary name and then
        renamed, so an interrupted save never leaves a half-written file.
        """
        self._parameters()
        data = {"sizes": self.sizes,
                "weights": [np.asarray(w, dtype=np.float64).tolist() for w in self.weights],
                "biases": [np.asarray(b, dtype=np.float64).tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        directory = os.path.dirname(os.path.abspath(filename))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".vgcore-", suffix=".json.tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filename)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    # ------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------

    def _fast(self):
        return self.cost is CrossEntropyCost or self.cost is QuadraticCost

    def _dataset(self, data, name):
        return as_dataset(data, self.sizes[0], self.sizes[-1], self.dtype, name)

    def _parameters(self):
        """Parameters as contiguous arrays of the network's dtype (checked)."""
        return _check_parameters(self.weights, self.biases, self.sizes, self.dtype)

    def _working_copies(self):
        """Fresh copies for in-place training, installed as the parameters."""
        W, B = self._parameters()
        W = [np.array(w, order="C", copy=True) for w in W]
        B = [np.array(b, order="C", copy=True) for b in B]
        self.weights, self.biases = W, B
        return W, B

    def _evaluate(self, data, lmbda):
        """``(n_correct, total_cost)`` of a :class:`~vgcore.datasets.Dataset`."""
        W, B = self._parameters()
        if self._fast():
            return kernels.evaluate(W, B, data.X, data.Y, lmbda, self.cost)
        return (_ref.accuracy(W, B, data.X, data.labels),
                _ref.total_cost(W, B, data.X, data.Y, lmbda, self.cost))


# ----------------------------------------------------------------------
# Loading a network
# ----------------------------------------------------------------------

def load(filename):
    """Load a network saved by ``Network.save`` (vgcore's or network2's).

    As in network2 the network is first constructed (which draws its
    initial weights from numpy's generator) and then given the saved
    parameters.  The cost must be one of the built-in cost names.
    """
    with open(filename, "r") as f:
        try:
            data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{filename}: not a network2 JSON file ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{filename}: expected a JSON object, got {type(data).__name__}")
    missing = {"sizes", "weights", "biases", "cost"} - set(data)
    if missing:
        raise ValueError(f"{filename}: missing keys {sorted(missing)}")
    cost = _ref.BUILTIN_COSTS.get(data["cost"]) if isinstance(data["cost"], str) else None
    if cost is None:
        raise ValueError(f"{filename}: unknown cost {data['cost']!r}; expected one of "
                         f"{sorted(_ref.BUILTIN_COSTS)}")
    try:
        net = Network(data["sizes"], cost=cost)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{filename}: bad sizes: {e}") from None
    try:
        weights = [np.array(w, dtype=np.float64) for w in _as_list(data["weights"], "weights")]
        biases = [np.array(b, dtype=np.float64) for b in _as_list(data["biases"], "biases")]
        _check_parameters(weights, biases, net.sizes, np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{filename}: bad parameters: {e}") from None
    net.weights, net.biases = weights, biases
    return net


def vectorized_result(j):
    """A ``(10, 1)`` column with 1.0 in position ``j`` and zeros elsewhere."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


# ----------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------

def _as_list(value, name):
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list")
    return value


def _is_arrays(data):
    return isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray)


def _check_sizes(sizes):
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a list of layer sizes, got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least two layers (input and output), got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"sizes must be ints, got {sizes!r}")
        if s <= 0:
            raise ValueError(f"every layer size must be positive, got {sizes!r}")
    return [int(s) for s in sizes]


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise TypeError(f"dtype must be float64 or float32, got {dtype}")
    return dtype.type


def _check_finite(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _check_sgd_args(epochs, mini_batch_size, eta, lmbda, early_stopping_n):
    for name, v in (("epochs", epochs), ("mini_batch_size", mini_batch_size),
                    ("early_stopping_n", early_stopping_n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {v!r}")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if mini_batch_size <= 0:
        raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")
    if early_stopping_n < 0:
        raise ValueError(f"early_stopping_n must be >= 0, got {early_stopping_n}")
    return (int(epochs), int(mini_batch_size), _check_finite(eta, "eta"),
            _check_finite(lmbda, "lmbda"), int(early_stopping_n))


def _check_parameters(weights, biases, sizes, dtype):
    """Check shapes and values of the parameter lists; return contiguous copies/views."""
    L = len(sizes) - 1
    if not isinstance(weights, (list, tuple)) or len(weights) != L:
        raise ValueError(f"weights must be a list of {L} arrays for sizes {sizes}")
    if not isinstance(biases, (list, tuple)) or len(biases) != L:
        raise ValueError(f"biases must be a list of {L} arrays for sizes {sizes}")
    W, B = [], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        w, b = np.asarray(w), np.asarray(b)
        if w.shape != (sizes[l + 1], sizes[l]):
            raise ValueError(f"weights[{l}] must have shape {(sizes[l + 1], sizes[l])}, "
                             f"got {w.shape}")
        if b.shape != (sizes[l + 1], 1):
            raise ValueError(f"biases[{l}] must have shape {(sizes[l + 1], 1)}, got {b.shape}")
        for name, a in (("weights", w), ("biases", b)):
            if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
                raise TypeError(f"{name}[{l}] must hold real numbers, got dtype {a.dtype}")
        W.append(np.ascontiguousarray(w, dtype=dtype))
        B.append(np.ascontiguousarray(b, dtype=dtype))
    return W, B
