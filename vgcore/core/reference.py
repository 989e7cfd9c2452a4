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
"""
import math

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "softplus",
    "QuadraticCost", "CrossEntropyCost", "BUILTIN_COSTS", "initial_parameters",
    "forward", "feedforward", "backprop", "backward", "update_mini_batch", "sgd_epoch",
    "evaluate", "accuracy", "count_correct", "total_cost", "cost_of_outputs",
    "mean_nabla_b", "speed_norms", "layer_speeds",
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
            return -s
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
# Initial parameters
# ---------------------------------------------------------------------------

def initial_parameters(sizes, init="default", rng=None):
    """network2's initial ``(weights, biases)`` for ``sizes``, in float64.

    Biases are standard Gaussians ``(n_l, 1)``; weights ``(n_l, n_{l-1})``
    Gaussians of standard deviation ``1/sqrt(n_{l-1})`` (``init="default"``,
    network2's ``default_weight_initializer``) or 1 (``"large"``, its
    ``large_weight_initializer``).  Drawn with ``rng.standard_normal`` in
    network2's order, all biases then all weights: with numpy's global
    generator (``rng=None``) and ``np.random.seed(s)`` these are network2's
    numbers exactly; a ``np.random.Generator`` gives the same distribution
    from its own stream.
    """
    if init not in ("default", "large"):
        raise ValueError(f"init must be 'default' or 'large', got {init!r}")
    rng = np.random if rng is None else rng     # here: numpy.random loads at first use
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
    if init == "default":
        weights = [w / np.sqrt(w.shape[1]) for w in weights]
    return weights, biases


# ---------------------------------------------------------------------------
# Forward and backward passes
# ---------------------------------------------------------------------------

def forward(weights, biases, X):
    """Forward pass of a batch.

    Returns ``(zs, activations)``: ``zs[l]`` are the weighted inputs of
    layer ``l + 2`` and ``activations[0]`` is ``X`` itself, so
    ``activations[l + 1] = sigmoid(zs[l])``.
    """
    a = X
    zs, activations = [], [X]
    for w, b in zip(weights, biases):
        z = np.dot(a, w.T)
        z += b.T
        a = sigmoid(z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def feedforward(weights, biases, X):
    """Outputs of the network for every row of ``X``: ``(m, n_L)``."""
    return forward(weights, biases, X)[1][-1]


def backprop(weights, biases, X, Y, cost=CrossEntropyCost):
    """Gradients of the cost summed over the rows of a batch.

    Returns ``(nabla_b, nabla_w)`` in network2's shapes: ``nabla_b[l]`` is
    ``(n_l, 1)`` and ``nabla_w[l]`` is ``(n_l, n_{l-1})``, each the sum
    over the batch of the per-example ``dC_x/db`` and ``dC_x/dw``.
    """
    zs, activations = forward(weights, biases, X)
    return backward(weights, zs, activations, Y, cost)


def backward(weights, zs, activations, Y, cost=CrossEntropyCost):
    """The backward pass of :func:`backprop`, from :func:`forward`'s results."""
    delta = _output_delta(cost, zs[-1], activations[-1], Y)
    L = len(weights)
    nabla_b = [None] * L
    nabla_w = [None] * L
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            sp = activations[l + 1] * (1 - activations[l + 1])
            delta = np.dot(delta, weights[l + 1]) * sp
        nabla_b[l] = delta.sum(axis=0)[:, None]
        # np.dot, not @: matmul's (n, 1) x (1, m) outer product of a single
        # example takes a slow non-BLAS loop (3x slower here)
        nabla_w[l] = np.dot(delta.T, activations[l])
    return nabla_b, nabla_w


def update_mini_batch(weights, biases, X, Y, eta, lmbda, n, cost=CrossEntropyCost):
    """One step of gradient descent on the mini-batch ``(X, Y)``.

    ``w <- (1 - eta*lmbda/n) w - (eta/m) sum dC_x/dw`` and
    ``b <- b - (eta/m) sum dC_x/db``.  Returns new lists of arrays.
    """
    m = X.shape[0]
    nabla_b, nabla_w = backprop(weights, biases, X, Y, cost)
    weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw
               for w, nw in zip(weights, nabla_w)]
    biases = [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)]
    return weights, biases


def sgd_epoch(weights, biases, X, Y, order, mini_batch_size, eta, lmbda,
              cost=CrossEntropyCost, n=None):
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
                                            eta, lmbda, n, cost)
    return weights, biases


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def evaluate(weights, biases, X, Y, lmbda=0.0, cost=CrossEntropyCost):
    """``(n_correct, total_cost)`` over the rows of ``(X, Y)``, from one forward pass.

    The twin of :func:`vgcore.core.kernels.evaluate`: ``n_correct`` counts
    the rows whose output argmax equals ``argmax(Y)``; ``total_cost`` is
    :func:`total_cost`.  Empty ``X`` gives ``(0, nan)``.
    """
    if X.shape[0] == 0:
        return 0, float("nan")
    zs, activations = forward(weights, biases, X)
    correct = count_correct(activations[-1], Y.argmax(axis=1))
    return correct, cost_of_outputs(weights, zs[-1], activations[-1], Y, lmbda, cost)


def accuracy(weights, biases, X, labels):
    """Number of rows of ``X`` whose output argmax equals the int label."""
    return count_correct(feedforward(weights, biases, X), labels)


def count_correct(out, labels):
    """Number of rows of the outputs ``out`` whose argmax equals the label: an int."""
    return int(np.count_nonzero(out.argmax(axis=1) == labels))


def total_cost(weights, biases, X, Y, lmbda, cost=CrossEntropyCost):
    """Mean cost over the rows of ``(X, Y)`` plus the L2 term.

    ``C = (1/n) sum_x C_x + 0.5 (lmbda/n) sum ||w||_F^2``.
    """
    zs, activations = forward(weights, biases, X)
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

def mean_nabla_b(weights, biases, X, Y, cost=CrossEntropyCost):
    """Per-layer ``dC/db`` averaged over the rows of ``X``: list of ``(n_l,)``.

    The cost's per-example gradient only (no regularisation term), as the
    chapter measures it.
    """
    nabla_b, _ = backprop(weights, biases, X, Y, cost)
    return [nb[:, 0] / X.shape[0] for nb in nabla_b]


def speed_norms(gradients):
    """The chapter's learning speed of each layer from its mean ``dC/db``:
    ``||mean dC/db^l||``, the Euclidean norm (floats)."""
    return [float(np.linalg.norm(g)) for g in gradients]


def layer_speeds(weights, biases, X, Y, cost=CrossEntropyCost):
    """The chapter's learning speed of every layer: ``||mean dC/db^l||``."""
    return speed_norms(mean_nabla_b(weights, biases, X, Y, cost))
