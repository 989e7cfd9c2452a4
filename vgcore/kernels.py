"""Thin Python layer over the compiled kernels (PROVISIONAL: runs on the reference).

This is the interface that ``vgcore.network2`` calls.  Every function takes
network2-shaped parameters (``weights[l]`` is ``(n_l, n_{l-1})``,
``biases[l]`` is ``(n_l, 1)``) and row-major data (``X`` is ``(N, n_in)``,
``Y`` is ``(N, n_out)``).  ``cost`` is ``CrossEntropyCost`` or
``QuadraticCost`` from :mod:`vgcore.reference` (other costs never reach
this module: network2 sends them to the reference).
"""
import numpy as np

from . import reference as ref


def sgd_epoch(weights, biases, X, Y, order, mini_batch_size, eta, lmbda, n,
              cost=ref.CrossEntropyCost, speeds=None):
    """SGD over the mini-batches ``order[k:k+mini_batch_size]``, in place.

    ``weights`` and ``biases`` are updated in place (C-contiguous, writable,
    of ``X``'s dtype).  When ``speeds`` is a float64 array of shape
    ``(n_mini_batches, L)`` it receives, for every mini-batch and layer,
    ``||mean over the mini-batch of dC/db^l||`` at the weights the
    mini-batch's gradient was taken at.
    """
    order = np.asarray(order, dtype=np.int64)
    for j, k in enumerate(range(0, len(order), mini_batch_size)):
        idx = order[k:k + mini_batch_size]
        nb, nw = ref.backprop(weights, biases, X[idx], Y[idx], cost)
        m = len(idx)
        if speeds is not None:
            speeds[j] = [np.linalg.norm(g) / m for g in nb]
        for w, b, gw, gb in zip(weights, biases, nw, nb):
            w *= (1 - eta * (lmbda / n))
            w -= (eta / m) * gw
            b -= (eta / m) * gb.reshape(b.shape)


def backprop(weights, biases, X, Y, cost=ref.CrossEntropyCost):
    """``(nabla_b, nabla_w)`` summed over the rows of ``(X, Y)``."""
    return ref.backprop(weights, biases, X, Y, cost)


def feedforward(weights, biases, X):
    """Network outputs for every row of ``X``: ``(N, n_L)``."""
    return ref.feedforward(weights, biases, X)


def evaluate(weights, biases, X, Y, lmbda=0.0, cost=ref.CrossEntropyCost):
    """``(n_correct, total_cost)`` over ``(X, Y)``.

    ``n_correct`` counts rows where ``argmax(output) == argmax(Y)``;
    ``total_cost`` is the mean cost (stable from ``z``) plus
    ``0.5 * lmbda / N * sum ||w||^2``.
    """
    out = ref.feedforward(weights, biases, X)
    correct = int(np.sum(np.argmax(out, axis=1) == np.argmax(Y, axis=1)))
    return correct, ref.total_cost(weights, biases, X, Y, lmbda, cost)


def mean_nabla_b(weights, biases, X, Y, cost=ref.CrossEntropyCost):
    """Per-layer ``dC/db`` averaged over the rows of ``X``: list of ``(n_l,)``."""
    return ref.mean_nabla_b(weights, biases, X, Y, cost)
