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
the network as one matrix, in compiled kernels (:mod:`vgcore.core.kernels`)
that run a whole stretch of mini-batches without returning to Python.
Calls on one example or a few (``backprop(x, y)``, ``feedforward(x)``,
``accuracy``/``total_cost`` of a handful of pairs) go to small compiled
kernels that read the parameters in place (:mod:`vgcore.core.small`).  This
module holds no numerical code itself: it converts the data
(:mod:`vgcore.core.datasets`; a list of pairs once, reused while the list
holds the same pairs) and delegates the mathematics to the backend that
:func:`vgcore.core.backend.for_cost` picks for the network's cost: the
kernels, or, for a cost class of your own, the numpy reference
(:mod:`vgcore.core.reference`), which calls your ``fn`` and ``delta`` one
example at a time as network2 does.  The compiled kernels, and SciPy's BLAS with them, are loaded at the
first call that needs them, so ``import vgcore.network2`` stays quick.

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
  to arrays you handed it.  Like network2 it shuffles your training
  *list* in place (``random.shuffle``, once per epoch), so a second
  ``SGD`` on the same list starts from the order the first one left; a
  ``zip`` or other iterable is copied into a list first, as the Python 3
  ports do.

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
networks; ``activation`` (sigmoid, tanh, softsign, ReLU hidden layers) and
``init`` (network2's two initialisers, Glorot and Bengio's two, He's) of
``Network``; ``speed_probe``, ``record_minibatch_speeds``, ``monitor`` (the
per-layer health monitor, :class:`Monitor`) and ``on_divergence`` in
``SGD``; ``on_divergence`` in ``update_mini_batch``; the methods
``mean_nabla_b`` and ``learning_speeds``.  With their defaults everything
is network2's, to the byte of the saved files.

Validation
----------
Wrong kinds of objects raise ``TypeError``, wrong values ``ValueError``;
NaN or infinity raise :class:`~vgcore.errors.NonFiniteError` (a
``ValueError``).  The rules, beyond "the shapes must fit ``sizes``":

- ``sizes``: at least two layers, each a positive ``int`` (numpy ints
  too; not ``bool``, not ``float`` even if whole, like ``3.0``) below
  2**31 (the BLAS index limit).
- ``cost``: a class with callable ``fn`` and ``delta``, or an instance of
  one (network2's are static methods, so ``CrossEntropyCost()`` works
  there too); it is kept as given, and saved under its class's name.
- ``epochs >= 0``, ``mini_batch_size >= 1``, ``early_stopping_n >= 0``,
  ``n >= 1``: ints.  ``eta >= 0`` and ``lmbda >= 0``: finite real numbers
  (a negative learning rate or regularisation is refused: it would climb
  the cost).  A huge ``eta`` or ``lmbda`` is allowed; if it makes training
  diverge, ``on_divergence`` says so.
- Data: see :mod:`vgcore.core.datasets` -- inputs and targets finite, labels
  ints in ``[0, sizes[-1])``, at least one example; where labels are needed
  (accuracy) target vectors must be exactly one-hot.
- Parameters: ``net.weights`` and ``net.biases`` lists (or tuples) of
  ``sizes``-shaped arrays of real numbers, finite.  Any memory layout,
  dtype, writeability is fine: they are converted (copied) to
  C-contiguous arrays of the network's dtype when needed, and training
  works on copies.  Nothing about them is remembered between calls: a
  call on one example or a few checks the arrays' kind and shapes and
  finds a NaN or infinity through the weighted inputs ``z`` it computes
  (any non-finite weight, bias or input makes some ``z`` non-finite), and
  only then checks everything to say which array it was; so a value
  changed in place (``net.weights[0][3, 5] = np.nan``) is caught by the
  very next call.
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
see a consistent network.  The lock is fair to training: once ``SGD``
waits, new readers wait for it (threads that keep calling ``accuracy``
cannot hold it off), and readers that were waiting when training ends go
in before the next training call.  (Assigning ``net.weights`` from another
thread while it trains is not protected: don't.)
"""
import random

import numpy as np

from ._support import files as _files, locks as _locks
from .core import backend as _backend, divergence as _divergence, netfile, small
from .core import reference as _ref
from .core._checks import (as_columns, check_activation, check_cost, check_dtype, check_init,
                           check_n, check_on_divergence, check_parameters, check_path,
                           check_real, check_result, check_sgd_args, check_sizes, cost_name,
                           nonfinite_layers)
from .core.monitor import Monitor, check_monitor
from .core.datasets import as_dataset, cached_dataset, one_hot, require_labels
from .errors import (DivergenceError, DivergenceWarning, MonitorWarning, NetworkFileError,
                     NonFiniteError)
from .core.costs import CrossEntropyCost, QuadraticCost
from .core.reference import sigmoid, sigmoid_prime

__all__ = ["Network", "QuadraticCost", "CrossEntropyCost", "load",
           "vectorized_result", "sigmoid", "sigmoid_prime",
           "DivergenceWarning", "DivergenceError", "NonFiniteError", "NetworkFileError",
           "Monitor", "MonitorWarning", "ACTIVATIONS", "INITIALISERS"]

#: The hidden layers' activations ``Network(..., activation=)`` accepts.
ACTIVATIONS = tuple(_ref.ACTIVATIONS)

#: The initialisers ``Network(..., init=)`` accepts, with what they draw.
INITIALISERS = dict(_ref.INITIALISERS)

#: Examples per call into the kernels during SGD (rounded to whole
#: mini-batches).  Between calls Python runs, so Ctrl-C is seen within a
#: few milliseconds and leaves the network after a completed mini-batch,
#: and the parameters are checked for NaN/infinity.
_CHUNK_EXAMPLES = 2048


class Network:
    """A feedforward network of sigmoid neurons, trained by SGD.

    ``sizes`` lists the number of neurons in each layer: ``[784, 30, 10]``
    is a network with 784 inputs, one hidden layer of 30 neurons and 10
    outputs.  ``cost`` is ``CrossEntropyCost`` (default), ``QuadraticCost``
    or a class of your own with static methods ``fn(a, y)`` and
    ``delta(z, a, y)`` -- or an instance of one, as network2 allows.
    ``dtype`` (keyword-only) is ``np.float64`` (as network2) or
    ``np.float32`` (faster, less precise).

    Beyond network2 (keyword-only; the defaults are network2's):

    - ``activation``: the hidden layers' activation, ``"sigmoid"``
      (default), ``"tanh"``, ``"softsign"`` or ``"relu"``
      (:data:`ACTIVATIONS`).  The output layer stays sigmoid, which the
      costs' ``delta`` assume.  Every method uses it: ``delta^l =
      ((w^{l+1})^T delta^{l+1}) * f'(z^l)`` with ``f`` the activation.
    - ``init``: the initial weights and biases (:data:`INITIALISERS`),
      drawn from numpy's global generator: ``"default"`` (network2's
      ``default_weight_initializer``, ``N(0, 1/n_in)`` weights),
      ``"large"`` (``large_weight_initializer``, ``N(0, 1)``), Glorot and
      Bengio's ``"standard"`` ``U[-1/sqrt(n_in), 1/sqrt(n_in)]`` and
      ``"normalized"`` ``U[-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out))]``,
      and He's ``"he"`` ``N(0, 2/n_in)``; the last three start the biases
      at 0.  ``net.init`` names the initialiser last applied.
    """

    def __init__(self, sizes, cost=CrossEntropyCost, *, dtype=np.float64,
                 activation="sigmoid", init="default"):
        sizes = check_sizes(sizes)
        dtype = check_dtype(dtype)
        cost = check_cost(cost)
        activation = check_activation(activation)
        init = check_init(init)
        self.dtype = dtype
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.activation = activation
        if init == "default":
            self.default_weight_initializer()
        elif init == "large":
            self.large_weight_initializer()
        else:
            self._initialize(init)
        self.cost = cost

    # The lock is created on first use and is not copied or pickled
    # (``copy.deepcopy(net)`` and ``pickle`` work as for network2's nets).
    def _lock(self):
        return _locks.network_lock(self)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop(_locks.LOCK_ATTRIBUTE, None)
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
            sizes = check_sizes(self.sizes, "net.sizes")
            self.weights, self.biases = _ref.initial_parameters(sizes)
            self._cast_parameters()
            self.init = "default"

    def large_weight_initializer(self):
        """Standard Gaussian weights and biases (the book's chapter 1 choice)."""
        self._initialize("large", "large_weight_initializer")

    def _initialize(self, init, what="Network"):
        """New parameters drawn by the initialiser ``init`` (a checked name)."""
        with self._lock().writing(what):
            sizes = check_sizes(self.sizes, "net.sizes")
            self.weights, self.biases = _ref.initial_parameters(sizes, init)
            self._cast_parameters()
            self.init = init

    def _cast_parameters(self):
        dtype = check_dtype(getattr(self, "dtype", np.float64), "net.dtype")
        if dtype != np.float64:
            self.biases = [b.astype(dtype) for b in self.biases]
            self.weights = [w.astype(dtype) for w in self.weights]

    # ------------------------------------------------------------------
    # Forward pass and gradients of one example (network2's API)
    # ------------------------------------------------------------------
    #
    # Every public method first tries the small-call kernels on the
    # parameters as they are held (vgcore.core.small); they answer None for
    # anything not in their plain form, or a non-finite number, and the
    # general path then checks everything (and so explains what is wrong).

    def feedforward(self, a):
        """Output of the network for the input column ``a`` (``(784, 1)``).

        ``a`` may also hold several inputs as columns (``(784, k)``); the
        result then has one output column per input.  A 1-D ``a`` of
        ``784`` values gives a 1-D output.

        One column is computed without taking the network's lock while no
        training runs or waits (the compiled pass keeps the GIL, and the
        answer is kept only if no training came in meanwhile; else it is
        computed again under the lock): a reader of the book calls this in
        loops, and the lock would cost a fifth of the call.
        """
        lock = self.__dict__.get(_locks.LOCK_ATTRIBUTE) or self._lock()
        seen = lock.quiet
        if seen is not None:
            # Without the lock, when no training runs: small.feedforward
            # holds the GIL while it reads the parameters, so the output is
            # that of a consistent network unless a writer came in meanwhile.
            try:                # an activation set by hand is checked below
                code = small.ACT_CODES.get(self.__dict__.get("activation", "sigmoid"), -1)
            except TypeError:
                code = -1
            out = small.feedforward(self.weights, self.biases, self.sizes,
                                    self.__dict__.get("dtype", np.float64), a, code)
            if out is not None and lock.quiet == seen:
                return out
        with lock.reading:
            out = small.feedforward(*self._held(), a, small.ACT_CODES[self._activation()])
            if out is not None:
                return out
            W, B = self._parameters()
            A, column = as_columns(a, self.sizes[0], self._dtype())
            if A.shape[0] == 0:
                out = np.empty((0, self.sizes[-1]), dtype=self._dtype())
            else:
                out = self._backend().feedforward(W, B, A)
            check_result(out, "feedforward", "the output")
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
            backend = self._backend()
            grads = backend.small_backprop(self._held(), x, y)
            if grads is not None:
                return grads
            self._cost()
            W, B = self._parameters()
            data = as_dataset([(x, y)], self.sizes[0], self.sizes[-1], self._dtype(),
                              "backprop(x, y)")
            nabla_b, nabla_w = backend.backprop(W, B, data.X, data.Y)
            for name, arrays in (("nabla_b", nabla_b), ("nabla_w", nabla_w)):
                for l, g in enumerate(arrays):
                    check_result(g, "backprop", f"{name}[{l}]")
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
            on_divergence="warn", monitor=None):
        """Train the network by mini-batch stochastic gradient descent.

        ``training_data`` is a list (or zip) of pairs ``(x, y)``, or the
        fast path ``(X, labels)``.  Each epoch shuffles the examples with
        Python's ``random.shuffle`` (as network2 does, so ``random.seed``
        fixes the mini-batches), cuts them into mini-batches of
        ``mini_batch_size`` (the last may be shorter) and takes one
        gradient step per mini-batch with learning rate ``eta`` and L2
        regularisation ``lmbda``.

        As in network2, a *list* is shuffled in place: after the call it is
        in the order of the last epoch, and a second ``SGD`` on it starts
        from there.  A ``zip`` or any other iterable is first copied into
        a list (as the Python 3 ports do), and that copy is shuffled; for
        ``(X, labels)`` an order of the rows is.  A list is converted to
        arrays once and reused by later calls while it holds the same
        ``(x, y)`` tuples, in any order, with the same numbers (see
        :mod:`vgcore.datasets`).

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

        ``monitor`` (keyword-only): the per-layer health monitor.  ``True``
        records with the defaults, or pass a :class:`Monitor` for its
        settings (how often, histograms, a folder for ``monitor.csv`` and
        ``monitor.json``).  Every ``every`` mini-batches (default 100) and
        at the end of each epoch it records, per layer, the learning speed
        ``||mean dC/db||``, ``||mean dC/dw||``, the activations' mean and
        spread, the fraction saturated (ReLU: dead), and the update/weight
        ratio, computed inside the training kernels (~2% of an epoch); it
        warns (:class:`MonitorWarning`) when the gradient vanishes or
        explodes across the hidden layers or a layer saturates.  The
        monitor is then ``self.monitor``; see :class:`Monitor` for reading
        the records.  Training itself is the same, to the last bit.
        """
        with self._lock().writing("SGD"):
            run = self._start_sgd(training_data, epochs, mini_batch_size, eta, lmbda,
                                  evaluation_data, early_stopping_n, speed_probe,
                                  record_minibatch_speeds, on_divergence,
                                  (monitor_evaluation_cost, monitor_evaluation_accuracy,
                                   monitor_training_cost, monitor_training_accuracy),
                                  monitor)
            for j in range(run.epochs):
                if run.probe is not None:
                    self.speed_history.append(self._learning_speeds(run.probe, checked=False))
                self._train_epoch(run, j)
                if run.health is not None:
                    run.health._end_epoch()
                print("Epoch %s training complete" % j)
                self._monitor(run, j)
                if run.early_stopping_n > 0 and run.no_improvement(
                        self._accuracy_now(run)):
                    break
            return run.results

    def _start_sgd(self, training_data, epochs, mini_batch_size, eta, lmbda,
                   evaluation_data, early_stopping_n, speed_probe, record_minibatch_speeds,
                   on_divergence, monitor, health):
        """Check every argument and convert the data: a :class:`_Run`."""
        epochs, mini_batch_size, eta, lmbda, early_stopping_n = check_sgd_args(
            epochs, mini_batch_size, eta, lmbda, early_stopping_n)
        on_divergence = check_on_divergence(on_divergence)
        health = check_monitor(health)
        self._cost()
        backend = self._backend()
        W, B = self._parameters()
        run = _Run(backend, epochs, eta, lmbda, early_stopping_n, on_divergence, monitor)
        run.train, run.rows, run.converted, run.shuffled = self._training_set(training_data)
        if run.monitor_training_accuracy:
            require_labels(run.train, "training_data")
        run.n = len(run.train)
        # a mini-batch larger than the data is the whole data: the same
        # steps, without asking the kernels for a workspace of that size
        run.mini_batch_size = min(mini_batch_size, run.n)
        if monitor[0] or monitor[1] or early_stopping_n:
            if evaluation_data is None:
                raise ValueError("evaluation_data is required to monitor evaluation "
                                 "cost or accuracy, or for early stopping")
            run.evaluation = self._dataset(evaluation_data, "evaluation_data")
            if run.monitor_evaluation_accuracy or early_stopping_n:
                require_labels(run.evaluation, "evaluation_data")
        if speed_probe is not None:
            run.probe = self._dataset(speed_probe, "speed_probe")
        if record_minibatch_speeds and not backend.records_speeds:
            raise ValueError("record_minibatch_speeds needs a built-in cost "
                             "(CrossEntropyCost or QuadraticCost)")
        run.W, run.B = self._working_copies(W, B)
        run.batches_per_epoch = -(-run.n // run.mini_batch_size)
        self.speed_history = []
        if record_minibatch_speeds:
            run.speeds = np.zeros((epochs * run.batches_per_epoch, len(W)))
            self.minibatch_speeds = run.speeds[:, :-1]
        run.health = health
        if health is not None:
            health._start(self.sizes, self._activation(), run.mini_batch_size, eta, lmbda,
                          run.n, epochs)
            self.monitor = health
        return run

    def _train_epoch(self, run, j):
        """Epoch ``j``: network2's shuffle, then the kernels a stretch at a time."""
        # network2's random.shuffle(training_data): the same random numbers
        # and the same permutation, applied to the caller's list (in place)
        # and to the rows of the converted arrays
        idx = list(range(run.n))
        random.shuffle(idx)
        run.rows = run.rows[np.array(idx, dtype=np.int64)]
        if run.shuffled is not None:
            run.shuffled[:] = [run.shuffled[i] for i in idx]
            if run.converted is not None:
                run.converted.reordered(run.rows)
        # One mini-batch holding every example (full-batch descent) sums the
        # same gradients in any order: take them in storage order, which
        # spares the kernels a gather of the whole data set.
        mbs = run.mini_batch_size
        perm = np.arange(run.n, dtype=np.int64) if mbs >= run.n else run.rows
        batches, health = max(1, _CHUNK_EXAMPLES // mbs), run.health
        # with the monitor, whole stretches: a record every `every` mini-batches
        chunk = batches * mbs if health is None else health._chunks(batches, mbs)
        for start in range(0, run.n, chunk):
            idx = perm[start:start + chunk]
            first = j * run.batches_per_epoch + start // mbs
            speeds = None if run.speeds is None else run.speeds[
                first:first + -(-len(idx) // mbs)]
            before = run.backend.snapshot(run.W, run.B) if run.watch else None
            if health is None:
                run.W, run.B = run.backend.train(run.W, run.B, run.train, idx, mbs, run.eta,
                                                 run.lmbda, run.n, speeds)
            else:
                run.W, run.B, *records = run.backend.train_monitored(
                    run.W, run.B, run.train, idx, mbs, run.eta, run.lmbda, run.n,
                    health.every, *health._histogram_args(), speeds=speeds)
                health._add(_ref.monitor_records(len(idx), mbs, health.every), *records)
            self.weights, self.biases = run.W, run.B
            if run.watch and nonfinite_layers(run.W, run.B):
                _divergence.report_parameters(
                    self, run.backend, before, run.train, idx, mbs, run.eta, run.lmbda,
                    run.n, j, start // mbs, run.on_divergence, run.results)
                run.watch = False

    def _monitor(self, run, j):
        """Print and record what the ``monitor_*`` flags ask for, after epoch ``j``."""
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = run.results
        monitored = (
            ("training", run.train, run.monitor_training_cost, training_cost,
             run.monitor_training_accuracy, training_accuracy),
            ("evaluation", run.evaluation, run.monitor_evaluation_cost, evaluation_cost,
             run.monitor_evaluation_accuracy, evaluation_accuracy))
        for what, data, want_cost, costs, want_accuracy, accuracies in monitored:
            if want_cost:
                cost = self._evaluate(data, run.lmbda, checked=False)[1]
                costs.append(cost)
                print("Cost on {} data: {}".format(what, cost))
            if want_accuracy:
                accuracy = self._evaluate(data, 0.0, checked=False)[0]
                accuracies.append(accuracy)
                print("Accuracy on {} data: {} / {}".format(what, accuracy, len(data)))
        print()
        for what, _, want_cost, costs, _, _ in monitored:
            if run.watch_cost and want_cost and not np.isfinite(costs[-1]):
                _divergence.report_cost(what, costs[-1], j, run.eta, run.lmbda, run.n,
                                        run.on_divergence, run.results)
                run.watch_cost = False

    def _accuracy_now(self, run):
        """The evaluation accuracy of this epoch, for early stopping."""
        if run.monitor_evaluation_accuracy:
            return run.results[1][-1]
        return self._evaluate(run.evaluation, 0.0, checked=False)[0]

    def _training_set(self, training_data):
        """``(Dataset, rows, converted, shuffled)`` for SGD.

        ``rows[k]`` is the Dataset row of the k-th example in network2's
        order; ``shuffled`` is the list that network2 would shuffle in place
        (the caller's list, else None: a copy, whose order ``rows`` is);
        ``converted`` the cache entry of the caller's list, if any.
        """
        sizes = check_sizes(self.sizes, "net.sizes")
        if isinstance(training_data, list):
            train, rows, converted = cached_dataset(
                training_data, sizes[0], sizes[-1], self._dtype(), "training_data")
            return train, rows, converted, training_data
        train = as_dataset(training_data, sizes[0], sizes[-1], self._dtype(),
                           "training_data")
        return train, np.arange(len(train), dtype=np.int64), None, None

    def update_mini_batch(self, mini_batch, eta, lmbda, n, *, on_divergence="warn"):
        """One gradient-descent step on ``mini_batch`` (a list of ``(x, y)``).

        With the gradients summed over the ``m`` examples,
        ``w <- (1 - eta*lmbda/n) w - (eta/m) sum dC_x/dw`` and
        ``b <- b - (eta/m) sum dC_x/db``; ``n`` is the size of the whole
        training set (it scales the regularisation).  ``on_divergence`` as
        in :meth:`SGD` (the report has ``epoch=None``, ``mini_batch=0``).
        """
        with self._lock().writing("update_mini_batch"):
            _, _, eta, lmbda, _ = check_sgd_args(1, 1, eta, lmbda, 0)
            n = check_n(n)
            on_divergence = check_on_divergence(on_divergence)
            self._cost()
            backend = self._backend()
            new = backend.small_update(self._held(), mini_batch, eta, lmbda, n)
            if new is not None:                # the given arrays were only read
                before = (self.weights, self.biases)
                W, B = self.weights, self.biases = new
                data = None
            else:
                W0, B0 = self._parameters()
                data = self._dataset(mini_batch, "mini_batch")
                W, B = self._working_copies(W0, B0)
                # training updates the copies: the checked arrays are the parameters before
                before = (W0, B0)
                m = len(data)
                W, B = backend.train(W, B, data, np.arange(m, dtype=np.int64), m, eta, lmbda, n)
                self.weights, self.biases = W, B
            if on_divergence != "ignore" and nonfinite_layers(W, B):
                if data is None:
                    data = self._dataset(mini_batch, "mini_batch")
                m = len(data)
                _divergence.report_parameters(self, backend, before, data,
                                              np.arange(m, dtype=np.int64), m, eta, lmbda,
                                              n, None, 0, on_divergence, None)

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
            correct = small.accuracy(*self._held(), data, self._activation())
            if correct is not None:
                return correct
            self._parameters()
            d = self._dataset(data, "data")
            require_labels(d, "data")
            return self._evaluate(d, 0.0)[0]

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the L2 term ``0.5 (lmbda/n) sum ||w||^2``.

        ``convert=True`` says the labels are ints to be turned into one-hot
        vectors (validation and test data) -- the opposite sense to
        ``accuracy``'s flag, as in network2; the labels' form is also
        recognised from the data itself.  Computed stably from ``z``.  A
        numpy float64, as network2's.
        """
        with self._lock().reading:
            lmbda = check_real(lmbda, "lmbda")
            self._cost()
            cost = self._backend().small_total_cost(self._held(), data, lmbda)
            if cost is not None:
                return cost
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
        out = [np.asarray(g, dtype=np.float64)
               for g in self._backend().mean_nabla_b(W, B, d.X, d.Y)]
        if checked:
            for l, g in enumerate(out):
                check_result(g, "mean_nabla_b", f"entry {l}")
        return out

    def _learning_speeds(self, d, checked):
        return _ref.speed_norms(self._mean_nabla_b(d, checked)[:-1])

    # ------------------------------------------------------------------
    # Saving
    # ------------------------------------------------------------------

    def save(self, filename):
        """Save the network to ``filename`` as network2's JSON.

        ``{"sizes", "weights", "biases", "cost"}``; files load in network2
        and vice versa.  A network with another activation or one of the
        Glorot-Bengio or He initialisers also gets ``"activation"`` and
        ``"init"`` (network2 would ignore them: load such a file with
        vgcore); with network2's settings the file is byte for byte what
        network2 writes.  The save is atomic: the JSON goes to an unnamed
        temporary file in the same directory (Linux ``O_TMPFILE``; a named
        ``.vgcore-*.tmp`` elsewhere), which is flushed to disk and then
        renamed over ``filename``.  A save that fails or is killed leaves
        the previous ``filename`` intact and, on Linux, nothing else.  A
        symbolic link is followed (its target is replaced), and an existing
        file keeps its permission bits.  Non-finite parameters are refused
        (:class:`~vgcore.errors.NonFiniteError`): JSON cannot hold them.
        """
        with self._lock().reading:
            path = check_path(filename, "filename")
            cost = self._cost()
            W, B = self._parameters()
            data = {"sizes": list(self.sizes),
                    "weights": [np.asarray(w, dtype=np.float64).tolist() for w in W],
                    "biases": [np.asarray(b, dtype=np.float64).tolist() for b in B],
                    "cost": cost_name(cost),
                    **netfile.extra_keys(self._activation(),
                                         check_init(self.__dict__.get("init", "default"),
                                                    "net.init"))}
            _files.atomic_write_json(path, data)

    # ------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------

    def _backend(self):
        """Who does the mathematics for this network's cost and activation
        (vgcore.core.backend)."""
        return _backend.for_cost(self.cost, self._activation())

    def _activation(self):
        # networks pickled before activations existed have none: sigmoid
        return check_activation(self.__dict__.get("activation", "sigmoid"), "net.activation")

    def _held(self):
        """The parameters as held, unchecked, for the small-call kernels."""
        return self.weights, self.biases, self.sizes, self.__dict__.get("dtype", np.float64)

    def _cost(self):
        return check_cost(self.cost, "net.cost")

    def _dtype(self):
        return check_dtype(getattr(self, "dtype", np.float64), "net.dtype")

    def _dataset(self, data, name):
        """``data`` as a Dataset (a list of pairs converted once: see datasets)."""
        sizes = check_sizes(self.sizes, "net.sizes")
        return cached_dataset(data, sizes[0], sizes[-1], self._dtype(), name)[0]

    def _parameters(self, finite=True):
        """Parameters as contiguous arrays of the network's dtype (checked)."""
        return check_parameters(self.weights, self.biases,
                                check_sizes(self.sizes, "net.sizes"),
                                self._dtype(), finite=finite)

    def _working_copies(self, W, B):
        """Fresh copies of the checked ``W``, ``B`` for in-place training,
        installed as the parameters."""
        W = [np.array(w, order="C", copy=True) for w in W]
        B = [np.array(b, order="C", copy=True) for b in B]
        self.weights, self.biases = W, B
        return W, B

    def _evaluate(self, data, lmbda, checked=True):
        """``(n_correct, total_cost)`` of a :class:`~vgcore.core.datasets.Dataset`:
        an int and a numpy float64, network2's types."""
        W, B = self._parameters(finite=checked)
        correct, cost = self._backend().evaluate(W, B, data, lmbda)
        return int(correct), np.float64(cost)


class _Run:
    """One ``SGD`` call: its checked settings, data and bookkeeping."""

    def __init__(self, backend, epochs, eta, lmbda, early_stopping_n, on_divergence,
                 monitor):
        self.backend, self.epochs, self.eta, self.lmbda = backend, epochs, eta, lmbda
        self.early_stopping_n, self.on_divergence = early_stopping_n, on_divergence
        (self.monitor_evaluation_cost, self.monitor_evaluation_accuracy,
         self.monitor_training_cost, self.monitor_training_accuracy) = monitor
        self.evaluation = self.probe = self.speeds = None
        # evaluation_cost, evaluation_accuracy, training_cost, training_accuracy
        self.results = ([], [], [], [])
        self.watch = on_divergence != "ignore"      # parameters: report once
        self.watch_cost = self.watch                # monitored costs: report once
        self.best_accuracy, self.no_accuracy_change = 0, 0

    def no_improvement(self, accuracy):
        """Early stopping: True once ``early_stopping_n`` epochs in a row did
        not beat the best evaluation accuracy."""
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.no_accuracy_change = accuracy, 0
        else:
            self.no_accuracy_change += 1
        return self.no_accuracy_change == self.early_stopping_n


# ----------------------------------------------------------------------
# Loading a network
# ----------------------------------------------------------------------

def load(filename):
    """Load a network saved by ``Network.save`` (vgcore's or network2's).

    As in network2 the network is first constructed (which draws its
    initial weights from numpy's generator) and then given the saved
    parameters.  The cost must be one of the built-in cost names (no name
    is ever looked up in a module); vgcore's ``"activation"`` and
    ``"init"``, when present, one of :data:`ACTIVATIONS` and
    :data:`INITIALISERS`.  The whole file is checked before the
    network is built -- structure, shapes against ``sizes``, numbers
    (finite, not booleans or strings) -- and anything wrong raises
    :class:`~vgcore.errors.NetworkFileError` (a ``ValueError``) saying what.
    A missing or unreadable file raises ``OSError`` as ``open`` does.
    """
    path = check_path(filename, "filename")
    sizes, cost, weights, biases, extras = netfile.read_network(path, filename)
    net = Network(sizes, cost=cost, **extras)
    net.weights, net.biases = weights, biases
    return net


def vectorized_result(j):
    """A ``(10, 1)`` column with 1.0 in position ``j`` and zeros elsewhere."""
    return one_hot([j], 10).reshape(10, 1)

