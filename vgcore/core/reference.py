"""The pure-numpy reference: network2's mathematics, one mini-batch at a time.

This module is the oracle that the compiled kernels are tested against and
the baseline that the benchmarks time them against, so it is kept plain:
one matrix product per layer per mini-batch and no cleverness.

Layout
------
Examples are **rows**: a mini-batch of ``m`` inputs is an ``(m, 784)``
array ``X`` and its targets an ``(m, 10)`` array ``Y``.  Parameters keep
network2's shapes: ``weights[l]`` is ``(n_out, n_in)`` and ``biases[l]`` is
``(n_out, 1)``.  In this layout the book's equations read

    z^l = a^{l-1} (w^l)^T + (b^l)^T            (one row per example)
    a^l = sigma(z^l)
    delta^L = cost.delta(z^L, a^L, y)
    delta^l = (delta^{l+1} w^{l+1}) * sigma'(z^l)
    dC/db^l = sum over rows of delta^l
    dC/dw^l = (delta^l)^T a^{l-1}

Numerics
--------
``sigmoid`` never overflows (it evaluates ``exp`` of ``-|z|`` only), and the
cross-entropy of the network's own outputs is computed from ``z`` with the
softplus identities ``-log(sigma(z)) = softplus(-z)`` and
``-log(1 - sigma(z)) = softplus(z)``, so saturated units give the correct
finite cost instead of network2's ``0`` or ``1.8e308``.

Beyond network2
---------------
The hidden layers may use another activation (``activation=`` of the
passes: ``"sigmoid"``, the default, ``"tanh"``, ``"softsign"`` or
``"relu"``; the output layer stays sigmoid), the twins of the compiled
kernels' formulas (:data:`ACTIVATIONS`).  :func:`initial_parameters` draws
network2's and Glorot & Bengio's initial weights, and
:func:`sgd_epoch_monitored` is the reference of the kernels' monitor.
"""
import math

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "softplus",
    "QuadraticCost", "CrossEntropyCost", "BUILTIN_COSTS", "initial_parameters",
    "forward", "feedforward", "backprop", "backward", "update_mini_batch", "sgd_epoch",
    "evaluate", "accuracy", "count_correct", "total_cost", "cost_of_outputs",
    "mean_nabla_b", "speed_norms", "layer_speeds",
    "tanh", "softsign", "relu", "Sigmoid", "Tanh", "Softsign", "ReLU", "ACTIVATIONS",
    "INITIALISERS",
    "MONITOR_METRICS", "SATURATION_MARGIN", "monitor_records", "histogram_bins",
    "sgd_epoch_monitored",
]


# ---------------------------------------------------------------------------
# Element-wise functions
# ---------------------------------------------------------------------------

def sigmoid(z):
    """The sigmoid function ``1 / (1 + exp(-z))``, evaluated without overflow.

    ``num / (1 + e)`` with ``e = exp(-|z|)`` and ``num = 1`` for ``z >= 0``,
    ``num = e`` otherwise (the compiled kernels' formula).  A number gives
    a numpy scalar, as network2's ``sigmoid`` does.
    """
    z = np.asarray(z, dtype=float) if not isinstance(z, np.ndarray) else z
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def sigmoid_prime(z):
    """Derivative of the sigmoid: ``sigma(z) * (1 - sigma(z))``."""
    s = sigmoid(z)
    return s * (1 - s)


def softplus(t):
    """``log(1 + exp(t))`` without overflow or loss of precision."""
    t = np.asarray(t)
    return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))


# ---------------------------------------------------------------------------
# Activations of the hidden layers (the compiled kernels' formulas:
# src_c/_elementwise.pxd).  Each derivative is written from a = f(z), the
# quantity the passes keep; the output layer is always sigmoid.
# ---------------------------------------------------------------------------

def tanh(z):
    """``tanh z`` from ``e = expm1(-2|z|)``: ``copysign(-e / (2 + e), z)``.

    That is ``(1 - exp(-2|z|)) / (1 + exp(-2|z|))`` without its overflow
    and without the cancellation of ``1 - exp(-2|z|)`` near 0.
    """
    z = np.asarray(z)
    e = np.expm1(-2 * np.abs(z))
    return np.copysign(-e / (2 + e), z)


def softsign(z):
    """Glorot & Bengio's softsign ``z / (1 + |z|)``."""
    z = np.asarray(z)
    return z / (1 + np.abs(z))


def relu(z):
    """``max(z, 0)``, as ``z < 0 ? 0 : z`` (NaN stays NaN)."""
    z = np.asarray(z)
    return np.where(z < 0, z.dtype.type(0), z)


class Sigmoid:
    """network2's activation."""
    name = "sigmoid"
    fn = staticmethod(sigmoid)

    @staticmethod
    def prime(a):
        """``sigma'(z) = a (1 - a)`` from ``a = sigma(z)``."""
        return a * (1 - a)


class Tanh:
    """``tanh``: zero-centred, asymptotes -1 and 1."""
    name = "tanh"
    fn = staticmethod(tanh)

    @staticmethod
    def prime(a):
        """``1 - a^2`` from ``a = tanh z``, as ``(1 - a)(1 + a)`` (no
        cancellation near saturation)."""
        return (1 - a) * (1 + a)


class Softsign:
    """``z / (1 + |z|)``: asymptotes -1 and 1, approached polynomially."""
    name = "softsign"
    fn = staticmethod(softsign)

    @staticmethod
    def prime(a):
        """``1 / (1 + |z|)^2 = (1 - |a|)^2`` from ``a = softsign z``."""
        t = 1 - np.abs(a)
        return t * t


class ReLU:
    """``max(z, 0)``."""
    name = "relu"
    fn = staticmethod(relu)

    @staticmethod
    def prime(a):
        """1 where ``a > 0``, else 0 (the derivative at 0 taken as 0)."""
        return (a > 0).astype(a.dtype)


#: The hidden layers' activations by name, in the order of the kernels' codes.
ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "softsign": Softsign, "relu": ReLU}


def _activation(name):
    """The activation class called ``name`` (ValueError naming the choices)."""
    act = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if act is None:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, "
                         f"got {name!r}")
    return act


# ---------------------------------------------------------------------------
# Initial parameters
# ---------------------------------------------------------------------------

#: The initialisers of :func:`initial_parameters`: name -> (weights, biases).
INITIALISERS = {
    "default": "w ~ N(0, 1/n_in), b ~ N(0, 1) (network2's default_weight_initializer)",
    "large": "w ~ N(0, 1), b ~ N(0, 1) (network2's large_weight_initializer)",
    "standard": "w ~ U[-1/sqrt(n_in), 1/sqrt(n_in)], b = 0 (Glorot & Bengio's "
                "'standard' heuristic)",
    "normalized": "w ~ U[-sqrt(6/(n_in+n_out)), sqrt(6/(n_in+n_out))], b = 0 (Glorot & "
                  "Bengio's normalised initialisation)",
    "he": "w ~ N(0, 2/n_in), b = 0 (He et al. 2015, for ReLU)",
}


def initial_parameters(sizes, init="default", rng=None):
    """Initial ``(weights, biases)`` of a network of layer widths ``sizes``.

    ``init`` names one of :data:`INITIALISERS`.  ``rng`` is a
    ``numpy.random.Generator`` or ``RandomState``; None uses numpy's global
    generator (``np.random``), as network2 does.  ``"default"`` and
    ``"large"`` draw exactly as network2's initialisers (all biases, then
    all weights, by ``standard_normal``), so after ``np.random.seed(s)``
    they give network2's numbers; the others draw the weights only (the
    papers start the biases at 0), layer by layer, by ``uniform`` or
    ``standard_normal``.  Shapes are network2's: ``w`` ``(n_out, n_in)``,
    ``b`` ``(n_out, 1)``, float64.
    """
    if init not in INITIALISERS:
        raise ValueError(f"init must be one of {', '.join(map(repr, INITIALISERS))}, "
                         f"got {init!r}")
    rng = np.random if rng is None else rng
    pairs = list(zip(sizes[:-1], sizes[1:]))
    if init in ("default", "large"):
        biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        weights = [rng.standard_normal((y, x)) for x, y in pairs]
        if init == "default":
            weights = [w / np.sqrt(x) for w, (x, _) in zip(weights, pairs)]
        return weights, biases
    biases = [np.zeros((y, 1)) for y in sizes[1:]]
    if init == "standard":
        weights = [rng.uniform(-1 / np.sqrt(x), 1 / np.sqrt(x), (y, x)) for x, y in pairs]
    elif init == "normalized":
        weights = [rng.uniform(-np.sqrt(6 / (x + y)), np.sqrt(6 / (x + y)), (y, x))
                   for x, y in pairs]
    else:
        weights = [rng.standard_normal((y, x)) * np.sqrt(2 / x) for x, y in pairs]
    return weights, biases


# ---------------------------------------------------------------------------
# Costs (network2's classes: static methods, never instantiated)
# ---------------------------------------------------------------------------

class QuadraticCost:
    """The quadratic cost ``C = 0.5 ||a - y||^2``."""

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` for desired output ``y``.

        network2's ``0.5 * np.linalg.norm(a - y) ** 2``, which numpy computes
        as ``sqrt(d.dot(d))`` of the flattened ``d``: the same operations,
        without ``norm``'s argument handling.
        """
        d = np.ravel(a - y)
        return 0.5 * np.sqrt(d.dot(d)) ** 2

    @staticmethod
    def delta(z, a, y):
        """Output error ``delta^L = (a - y) * sigma'(z)``."""
        return (a - y) * sigmoid_prime(z)

    @staticmethod
    def fn_from_z(z, y):
        """Summed cost of a batch whose output-layer inputs are ``z``."""
        return 0.5 * float(np.sum((sigmoid(z) - y) ** 2))


class CrossEntropyCost:
    """The cross-entropy cost ``C = -sum y ln a + (1 - y) ln(1 - a)``."""

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` for desired output ``y``, as network2 computes it.

        network2's ``np.sum(np.nan_to_num(-y*log(a) - (1-y)*log(1-a)))``:
        ``np.nan_to_num`` turns the ``0 * log(0)`` of a saturated unit into
        0 (and an infinite cost into 1.8e308), and numpy warns about the
        ``log(0)`` as it does in network2.  Computed as minus the sum of
        ``y*log(a) + (1-y)*log(1-a)``, which is the same number to the last
        bit (negation is exact), in fewer steps; only when that sum is not
        finite does ``nan_to_num`` have anything to change, and network2's
        expression is then evaluated as written.  The network's own cost
        evaluation uses :meth:`fn_from_z` instead, which is exact there.
        """
        s = (y * np.log(a) + (1 - y) * np.log(1 - a)).sum()
        if math.isfinite(s):
            return 0.0 - s                  # not -s: network2's sum of nothing is +0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Output error ``delta^L = a - y`` (the sigma' factor cancels)."""
        return a - y

    @staticmethod
    def fn_from_z(z, y):
        """Summed cost of a batch with output-layer inputs ``z``, stably.

        Uses ``-ln(sigma(z)) = softplus(-z)`` and ``-ln(1 - sigma(z)) =
        softplus(z)``, so it is finite and correct for saturated units.
        """
        return float(np.sum(y * softplus(-z) + (1 - y) * softplus(z)))


BUILTIN_COSTS = {"CrossEntropyCost": CrossEntropyCost, "QuadraticCost": QuadraticCost}


def _output_delta(cost, z, a, Y):
    """``delta^L`` of a batch: vectorised for built-in costs, per example otherwise.

    A user's cost class is written for one ``(n, 1)`` column at a time, so
    it is called exactly that way, one example after another.
    """
    if cost is CrossEntropyCost or cost is QuadraticCost:
        return cost.delta(z, a, Y)
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        col = cost.delta(z[i][:, None], a[i][:, None], Y[i][:, None])
        out[i] = np.asarray(col, dtype=a.dtype).reshape(-1)
    return out


def _batch_cost(cost, z, a, Y):
    """Summed cost of a batch (stable from ``z`` for built-in costs)."""
    if cost is CrossEntropyCost or cost is QuadraticCost:
        return cost.fn_from_z(z, Y)
    return float(sum(cost.fn(a[i][:, None], Y[i][:, None]) for i in range(a.shape[0])))


# ---------------------------------------------------------------------------
# Forward and backward passes
# ---------------------------------------------------------------------------

def forward(weights, biases, X, activation="sigmoid"):
    """Forward pass of a batch.

    Returns ``(zs, activations)``: ``zs[l]`` are the weighted inputs of
    layer ``l + 2`` and ``activations[0]`` is ``X`` itself, so
    ``activations[l + 1] = f(zs[l])``: ``f`` the ``activation`` (a name of
    :data:`ACTIVATIONS`) for the hidden layers, the sigmoid for the output.
    """
    f = _activation(activation).fn
    a = X
    zs, activations = [], [X]
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = np.dot(a, w.T)
        z += b.T
        a = sigmoid(z) if l == len(weights) - 1 else f(z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def feedforward(weights, biases, X, activation="sigmoid"):
    """Outputs of the network for every row of ``X``: ``(m, n_L)``."""
    return forward(weights, biases, X, activation)[1][-1]


def backprop(weights, biases, X, Y, cost=CrossEntropyCost, activation="sigmoid"):
    """Gradients of the cost summed over the rows of a batch.

    Returns ``(nabla_b, nabla_w)`` in network2's shapes: ``nabla_b[l]`` is
    ``(n_l, 1)`` and ``nabla_w[l]`` is ``(n_l, n_{l-1})``, each the sum
    over the batch of the per-example ``dC_x/db`` and ``dC_x/dw``.
    """
    zs, activations = forward(weights, biases, X, activation)
    return backward(weights, zs, activations, Y, cost, activation)


def backward(weights, zs, activations, Y, cost=CrossEntropyCost, activation="sigmoid",
             deltas=None):
    """The backward pass of :func:`backprop`, from :func:`forward`'s results.

    ``delta^l = (delta^{l+1} w^{l+1}) * f'(z^l)``, with ``f'`` of the hidden
    layers' ``activation`` taken from their activations.  If ``deltas`` is a
    list, it receives every layer's ``delta`` (``(m, n_l)``, first layer
    first).
    """
    prime = _activation(activation).prime
    delta = _output_delta(cost, zs[-1], activations[-1], Y)
    L = len(weights)
    nabla_b = [None] * L
    nabla_w = [None] * L
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            sp = prime(activations[l + 1])
            delta = np.dot(delta, weights[l + 1]) * sp
        if deltas is not None:
            deltas.insert(0, delta)
        nabla_b[l] = delta.sum(axis=0)[:, None]
        # np.dot, not @: matmul's (n, 1) x (1, m) outer product of a single
        # example takes a slow non-BLAS loop (3x slower here)
        nabla_w[l] = np.dot(delta.T, activations[l])
    return nabla_b, nabla_w


def update_mini_batch(weights, biases, X, Y, eta, lmbda, n, cost=CrossEntropyCost,
                      activation="sigmoid"):
    """One step of gradient descent on the mini-batch ``(X, Y)``.

    ``w <- (1 - eta*lmbda/n) w - (eta/m) sum dC_x/dw`` and
    ``b <- b - (eta/m) sum dC_x/db``.  Returns new lists of arrays.
    """
    nabla_b, nabla_w = backprop(weights, biases, X, Y, cost, activation)
    return _step(weights, biases, nabla_b, nabla_w, eta, lmbda, n, X.shape[0])


def _step(weights, biases, nabla_b, nabla_w, eta, lmbda, n, m):
    """The update of :func:`update_mini_batch` from the summed gradients of
    ``m`` examples: new lists of arrays."""
    weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw
               for w, nw in zip(weights, nabla_w)]
    biases = [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)]
    return weights, biases


def sgd_epoch(weights, biases, X, Y, order, mini_batch_size, eta, lmbda,
              cost=CrossEntropyCost, n=None, activation="sigmoid"):
    """One epoch of SGD: the examples ``X[order]`` in consecutive mini-batches.

    ``n`` (the training-set size in the L2 term) defaults to ``len(order)``.
    Returns the new ``(weights, biases)``.
    """
    order = np.asarray(order)
    if n is None:
        n = len(order)
    for k in range(0, len(order), mini_batch_size):
        idx = order[k:k + mini_batch_size]
        weights, biases = update_mini_batch(weights, biases, X[idx], Y[idx],
                                            eta, lmbda, n, cost, activation)
    return weights, biases


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def evaluate(weights, biases, X, Y, lmbda=0.0, cost=CrossEntropyCost, activation="sigmoid"):
    """``(n_correct, total_cost)`` over the rows of ``(X, Y)``, from one forward pass.

    The twin of :func:`vgcore.core.kernels.evaluate`: ``n_correct`` counts
    the rows whose output argmax equals ``argmax(Y)``; ``total_cost`` is
    :func:`total_cost`.  Empty ``X`` gives ``(0, nan)``.
    """
    if X.shape[0] == 0:
        return 0, float("nan")
    zs, activations = forward(weights, biases, X, activation)
    correct = count_correct(activations[-1], Y.argmax(axis=1))
    return correct, cost_of_outputs(weights, zs[-1], activations[-1], Y, lmbda, cost)


def accuracy(weights, biases, X, labels, activation="sigmoid"):
    """Number of rows of ``X`` whose output argmax equals the int label."""
    return count_correct(feedforward(weights, biases, X, activation), labels)


def count_correct(out, labels):
    """Number of rows of the outputs ``out`` whose argmax equals the label: an int."""
    return int(np.count_nonzero(out.argmax(axis=1) == labels))


def total_cost(weights, biases, X, Y, lmbda, cost=CrossEntropyCost, activation="sigmoid"):
    """Mean cost over the rows of ``(X, Y)`` plus the L2 term.

    ``C = (1/n) sum_x C_x + 0.5 (lmbda/n) sum ||w||_F^2``.
    """
    zs, activations = forward(weights, biases, X, activation)
    return cost_of_outputs(weights, zs[-1], activations[-1], Y, lmbda, cost)


def cost_of_outputs(weights, z, a, Y, lmbda, cost=CrossEntropyCost, squares=None):
    """:func:`total_cost` from the output layer's ``z`` and ``a`` of the rows.

    ``squares``, when given, is ``sum ||w||_F^2`` already computed.
    """
    n = Y.shape[0]
    c = _batch_cost(cost, z, a, Y) / n
    if lmbda:     # only when it contributes: 0 * (an overflowed sum) would be NaN
        if squares is None:
            squares = sum(float(np.sum(w * w)) for w in weights)
        c += 0.5 * (lmbda / n) * squares
    return c


# ---------------------------------------------------------------------------
# Learning speed (chapter 5)
# ---------------------------------------------------------------------------

def mean_nabla_b(weights, biases, X, Y, cost=CrossEntropyCost, activation="sigmoid"):
    """Per-layer ``dC/db`` averaged over the rows of ``X``: list of ``(n_l,)``.

    The cost's per-example gradient only (no regularisation term), as the
    chapter measures it.
    """
    nabla_b, _ = backprop(weights, biases, X, Y, cost, activation)
    return [nb[:, 0] / X.shape[0] for nb in nabla_b]


def speed_norms(gradients):
    """The chapter's learning speed of each layer from its mean ``dC/db``:
    ``||mean dC/db^l||``, the Euclidean norm (floats)."""
    return [float(np.linalg.norm(g)) for g in gradients]


def layer_speeds(weights, biases, X, Y, cost=CrossEntropyCost, activation="sigmoid"):
    """The chapter's learning speed of every layer: ``||mean dC/db^l||``."""
    return speed_norms(mean_nabla_b(weights, biases, X, Y, cost, activation))


# ---------------------------------------------------------------------------
# The monitor (the reference of the kernels' sgd_epoch(monitor=...))
# ---------------------------------------------------------------------------

#: The monitor's metrics, in the order of the last axis of its records.
MONITOR_METRICS = ("grad_b", "grad_w", "act_mean", "act_std", "saturated", "update_ratio")

#: An activation within this distance of an asymptote counts as saturated.
SATURATION_MARGIN = 0.01


def monitor_records(n_examples, mini_batch_size, every):
    """When the monitor records in an epoch of ``n_examples`` examples in
    mini-batches of ``mini_batch_size``: the number of mini-batches done at
    each record (every ``every`` mini-batches, and at the epoch's end), an
    int64 array; its length is the number of records."""
    n_batches = -(-n_examples // mini_batch_size)
    ends = list(range(every, n_batches, every)) + ([n_batches] if n_batches else [])
    return np.array(ends, dtype=np.int64)


def histogram_bins(values, lo, hi, bins):
    """Counts of ``values`` in ``bins`` equal bins over ``[lo, hi]``: bin
    ``floor((x - lo) * bins / (hi - lo))``, values below the first bin
    counted in it and above the last in the last; NaN not counted."""
    t = (np.asarray(values, dtype=np.float64).ravel() - lo) * (bins / (hi - lo))
    t = t[~np.isnan(t)]
    return np.bincount(np.clip(np.floor(t), 0, bins - 1).astype(np.int64), minlength=bins)


def _saturated(activation, a):
    """The monitor's saturation of a layer whose activations over a stretch
    are the rows of ``a``: the fraction of units never positive (ReLU), or
    of activations within :data:`SATURATION_MARGIN` of an asymptote."""
    hi = 1.0 - SATURATION_MARGIN
    if activation is ReLU:
        return float(np.mean(~np.any(a > 0, axis=0)))
    if activation is Sigmoid:
        return float(np.mean((a <= SATURATION_MARGIN) | (a >= hi)))
    return float(np.mean(np.abs(a) >= hi))


def sgd_epoch_monitored(weights, biases, X, Y, order, mini_batch_size, eta, lmbda,
                        cost=CrossEntropyCost, n=None, activation="sigmoid", every=1,
                        act_hist=None, delta_hist=None):
    """:func:`sgd_epoch` with the monitor, every metric from its definition.

    Returns ``(weights, biases, records, act_counts, delta_counts)``:
    ``records[r, l, k]`` is metric ``MONITOR_METRICS[k]`` of weight layer
    ``l`` at record ``r`` (see :func:`monitor_records`), over the stretch
    of ``K`` mini-batches since the previous record:

    * ``grad_b``: ``||(1/K) sum_k mean_k dC/db||``, ``mean_k`` the mean over
      mini-batch ``k``'s examples (the chapter's learning speed);
    * ``grad_w``: ``||(1/K) sum_k d^(K-1-k) mean_k dC/dw||``, with the weight
      decay ``d = 1 - eta lmbda / n`` (1 without L2) as the weights hold it
      at the stretch's end;
    * ``act_mean``, ``act_std``: over all the layer's activations in the
      stretch (``std`` with ``ddof=0``);
    * ``saturated``: see :func:`_saturated` (output layer: sigmoid);
    * ``update_ratio``: ``||w_after - w_before|| / ||w_before||`` of the
      stretch's last update.

    ``act_hist``, ``delta_hist``: None, or ``(lo, hi, bins)``: then the
    counts ``(n_records, L, bins)`` of the layer's activations, resp.
    ``delta``, in the stretch (:func:`histogram_bins`).
    """
    act = _activation(activation)
    order = np.asarray(order)
    if n is None:
        n = len(order)
    L = len(weights)
    ends = monitor_records(len(order), mini_batch_size, every)
    records = np.zeros((len(ends), L, len(MONITOR_METRICS)))
    counts = [None if h is None else np.zeros((len(ends), L, h[2]), dtype=np.int64)
              for h in (act_hist, delta_hist)]
    decay = 1 - eta * (lmbda / n)
    stretch, r, done = [], 0, 0
    for k in range(0, len(order), mini_batch_size):
        idx = order[k:k + mini_batch_size]
        m = len(idx)
        zs, acts = forward(weights, biases, X[idx], activation)
        deltas = []
        nabla_b, nabla_w = backward(weights, zs, acts, Y[idx], cost, activation, deltas)
        stretch.append(([nb[:, 0] / m for nb in nabla_b], [nw / m for nw in nabla_w],
                        acts[1:]))
        for h, c, values in zip((act_hist, delta_hist), counts, (acts[1:], deltas)):
            if h is not None:
                for l in range(L):
                    c[r, l] += histogram_bins(values[l], *h)
        new_w, new_b = _step(weights, biases, nabla_b, nabla_w, eta, lmbda, n, m)
        done += 1
        if done == ends[r]:
            K = len(stretch)
            for l in range(L):
                a = np.concatenate([s[2][l] for s in stretch])
                gb = sum(s[0][l] for s in stretch) / K
                gw = sum(decay ** (K - 1 - j) * s[1][l] for j, s in enumerate(stretch)) / K
                records[r, l] = (
                    np.linalg.norm(gb), np.linalg.norm(gw), a.mean(), a.std(),
                    _saturated(act if l < L - 1 else Sigmoid, a),
                    np.linalg.norm(new_w[l] - weights[l]) / np.linalg.norm(weights[l]))
            stretch, r = [], r + 1
        weights, biases = new_w, new_b
    return weights, biases, records, counts[0], counts[1]
