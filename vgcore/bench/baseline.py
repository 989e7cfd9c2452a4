"""The baseline of ``vgcore bench`` and the asv suite: network2 itself, written from SPEC.md.

A TIMING BASELINE ONLY, never used for results: Nielsen's network2 as
SPEC.md describes it -- column vectors, one example at a time, the cost's
static fn/delta, ``sigmoid = 1/(1+exp(-z))``, ``vectorized_result`` and
the Python 3 ports' ``load_data_wrapper`` -- so that vgcore's per-call
overhead is measured against the program it replaces.  Its formulas are
network2's own code on purpose (not vgcore's, which would time vgcore
twice).  The drop-in tests compare results against ``tests/per_example.py``,
written separately.
"""
import gzip
import pickle

import numpy as np

__all__ = ["Network2QuadraticCost", "Network2CrossEntropyCost", "PerExampleNetwork",
           "pairs", "nielsen_load_data_wrapper"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_prime(z):
    return _sigmoid(z) * (1 - _sigmoid(z))


def _vectorized_result(j):
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


class Network2QuadraticCost:
    """network2's ``QuadraticCost`` (baseline)."""

    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * _sigmoid_prime(z)


class Network2CrossEntropyCost:
    """network2's ``CrossEntropyCost`` (baseline)."""

    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


class PerExampleNetwork:
    """network2's per-example algorithm with ``(n, 1)`` column vectors.

    A TIMING BASELINE ONLY (see above): network2's ``feedforward``,
    ``backprop``, ``update_mini_batch``, ``accuracy`` and ``total_cost``,
    for the parameters given (copied), with network2's cross-entropy cost
    unless ``cost`` says otherwise.
    """

    def __init__(self, weights, biases, cost=Network2CrossEntropyCost):
        self.weights = [np.array(w) for w in weights]
        self.biases = [np.array(b).reshape(-1, 1) for b in biases]
        self.num_layers = len(self.weights) + 1
        self.cost = cost

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = _sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = _sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = _sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b)]

    def sgd_epoch(self, pairs, mini_batch_size, eta, lmbda, n):
        for k in range(0, len(pairs), mini_batch_size):
            self.update_mini_batch(pairs[k:k + mini_batch_size], eta, lmbda, n)

    def accuracy(self, data, convert=False):
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = _vectorized_result(y)
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost

    def evaluate(self, pairs, lmbda):
        """``(n_correct, total cost)`` of one-hot pairs: network2's two passes."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.accuracy(pairs, convert=True), self.total_cost(pairs, lmbda)


def pairs(X, Y, idx):
    """network2's list of ``(x (n,1), y (10,1))`` column pairs (views)."""
    return [(X[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in idx]


def nielsen_load_data_wrapper(path):
    """network2's mnist_loader (the Python 3 ports'): the baseline."""
    with gzip.open(path, "rb") as f:
        tr_d, va_d, te_d = pickle.load(f, encoding="latin1")
    training_inputs = [np.reshape(x, (784, 1)) for x in tr_d[0]]
    training_results = [_vectorized_result(y) for y in tr_d[1]]
    training_data = list(zip(training_inputs, training_results))
    validation_inputs = [np.reshape(x, (784, 1)) for x in va_d[0]]
    validation_data = list(zip(validation_inputs, va_d[1]))
    test_inputs = [np.reshape(x, (784, 1)) for x in te_d[0]]
    test_data = list(zip(test_inputs, te_d[1]))
    return training_data, validation_data, test_data
