"""An independent per-example implementation of network2, written from SPEC.md.

It follows the book line by line -- column vectors, one example at a time,
Python's ``random.shuffle`` of the training list -- and shares no code with
vgcore, so the drop-in tests compare vgcore against it.  As in Nielsen's
network2, a list is shuffled in place (a second ``sgd`` on it starts from
the order the first one left); any other iterable is first copied into a
list, as the Python 3 ports do.
"""
import random

import numpy as np


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def sig_prime(z):
    return sig(z) * (1 - sig(z))


# The hidden layers' other activations (vgcore's Network(activation=)),
# from their equations, each with its derivative in z; the output layer
# stays sigmoid.
HIDDEN = {
    "sigmoid": (sig, sig_prime),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "softsign": (lambda z: z / (1.0 + np.abs(z)), lambda z: 1.0 / (1.0 + np.abs(z)) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}


def _f(l, L, act):
    """The activation of weight layer ``l`` of ``L``, and its derivative."""
    return HIDDEN["sigmoid" if l == L - 1 else act]


def init(sizes):
    """network2's default initialiser: all biases, then all weights."""
    biases = [np.random.randn(y, 1) for y in sizes[1:]]
    weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    return weights, biases


def backprop(weights, biases, x, y, cost, act="sigmoid"):
    activation, activations, zs = x, [x], []
    L = len(weights)
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = _f(l, L, act)[0](z)
        activations.append(activation)
    if cost == "cross-entropy":
        delta = activations[-1] - y
    else:
        delta = (activations[-1] - y) * sig_prime(zs[-1])
    nb = [None] * len(weights)
    nw = [None] * len(weights)
    nb[-1] = delta
    nw[-1] = np.dot(delta, activations[-2].T)
    for l in range(2, len(weights) + 1):
        delta = np.dot(weights[-l + 1].T, delta) * HIDDEN[act][1](zs[-l])
        nb[-l] = delta
        nw[-l] = np.dot(delta, activations[-l - 1].T)
    return nb, nw


def update(weights, biases, batch, eta, lmbda, n, cost, act="sigmoid"):
    sb = [np.zeros(b.shape) for b in biases]
    sw = [np.zeros(w.shape) for w in weights]
    for x, y in batch:
        nb, nw = backprop(weights, biases, x, y, cost, act)
        sb = [a + d for a, d in zip(sb, nb)]
        sw = [a + d for a, d in zip(sw, nw)]
    m = len(batch)
    weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * g for w, g in zip(weights, sw)]
    biases = [b - (eta / m) * g for b, g in zip(biases, sb)]
    return weights, biases


def sgd(weights, biases, training_data, epochs, mbs, eta, lmbda, cost, act="sigmoid"):
    if not isinstance(training_data, list):
        training_data = list(training_data)
    n = len(training_data)
    for _ in range(epochs):
        random.shuffle(training_data)
        for k in range(0, n, mbs):
            weights, biases = update(weights, biases, training_data[k:k + mbs],
                                     eta, lmbda, n, cost, act)
    return weights, biases


def feedforward(weights, biases, a, act="sigmoid"):
    for l, (w, b) in enumerate(zip(weights, biases)):
        a = _f(l, len(weights), act)[0](np.dot(w, a) + b)
    return a


def accuracy(weights, biases, data, one_hot, act="sigmoid"):
    return sum(int(np.argmax(feedforward(weights, biases, x, act)) ==
                   (np.argmax(y) if one_hot else y)) for x, y in data)


def total_cost(weights, biases, data, lmbda, cost, int_labels, act="sigmoid"):
    c = 0.0
    for x, y in data:
        a = feedforward(weights, biases, x, act)
        if int_labels:
            e = np.zeros((10, 1))
            e[y] = 1.0
            y = e
        if cost == "cross-entropy":
            c += np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))) / len(data)
        else:
            c += 0.5 * np.linalg.norm(a - y) ** 2 / len(data)
    c += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in weights)
    return c


class MyCrossEntropy:
    """A cost of one's own, network2-style, with the cross-entropy's formulas:
    vgcore trains a network with it through the numpy reference (its
    ReferenceBackend), one example's ``delta`` at a time."""

    @staticmethod
    def fn(a, y):
        return float(np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y
