"""What ``vgcore bench`` times: the data, the networks and the list of cases.

Data: MNIST from a folder of the four IDX files, read by the loader's own
reader (:func:`vgcore.data.idx.read_folder`, pixels / 256 as in network2's
file), or else random data of MNIST's shape and range (the timings do not
depend on the pixel values; the report says which was used).
"""
import numpy as np

from ..core import reference
from ..core.datasets import one_hot
from ..data import idx

__all__ = ["SPECS", "EVAL_NAME", "PER_CALL_NAME", "STARTUP_NAME", "KERNEL_CASES",
           "CASE_NAMES", "PER_CALL_SIZES", "load_mnist", "random_mnist_shaped",
           "bench_data", "init_net", "copy"]

_DEEP = [784, 30, 30, 30, 30, 10]

#: The SGD cases: name, sizes, mini-batch size, dtype, and the number of
#: training examples (None: a whole epoch of 50,000, 10,000 with --quick;
#: a number: full-batch gradient descent on that many, over several epochs).
SPECS = [
    ("[784,30,10] mb10", [784, 30, 10], 10, "float64", None),
    ("[784,30,10] mb10 f32", [784, 30, 10], 10, "float32", None),
    ("[784,30x4,10] mb10", _DEEP, 10, "float64", None),
    ("full batch 1000", _DEEP, 1000, "float64", 1000),
    ("[784,100,10] mb10", [784, 100, 10], 10, "float64", None),
    ("[784,100,10] mb100", [784, 100, 10], 100, "float64", None),
]
EVAL_NAME = "evaluate 10k"
PER_CALL_NAME = "per call"
STARTUP_NAME = "start-up"
KERNEL_CASES = [spec[0] for spec in SPECS] + [EVAL_NAME]
CASE_NAMES = KERNEL_CASES + [PER_CALL_NAME, STARTUP_NAME]

#: The network of the per-call cases: the book's learning-speed script's.
PER_CALL_SIZES = [784, 30, 30, 10]


def load_mnist(folder):
    """``(X_train (50000,784), y_train, X_test (10000,784), y_test)`` float32/int64.

    Pixels / 256 as in network2's data file; ``None`` when the files are absent.
    """
    splits = idx.read_folder(folder)
    if splits is None:
        return None
    (tri, trl), (tei, tel) = splits["training"], splits["test"]
    return (idx.pixels_as_floats(tri), trl.astype(np.int64),
            idx.pixels_as_floats(tei), tel.astype(np.int64))


def random_mnist_shaped(seed=0):
    """Random data of MNIST's shape and range (when MNIST is not available)."""
    rng = np.random.default_rng(seed)
    f = np.float32
    return (rng.integers(0, 256, (50_000, 784)).astype(f) / f(256),
            rng.integers(0, 10, 50_000),
            rng.integers(0, 256, (10_000, 784)).astype(f) / f(256),
            rng.integers(0, 10, 10_000))


def bench_data(mnist):
    """The arrays every case reads, in both dtypes, from ``(Xtr, ytr, Xte, yte)``."""
    Xtr, ytr, Xte, yte = mnist
    return {"X": {np.float32: Xtr, np.float64: Xtr.astype(np.float64)},
            "Y": {np.float32: one_hot(ytr, 10, np.float32), np.float64: one_hot(ytr, 10)},
            # training targets as the kernels get them from vgcore.network2
            # (one-hot targets are passed as their labels)
            "labels": ytr.astype(np.int64),
            "Xte": {np.float32: Xte, np.float64: Xte.astype(np.float64)},
            "Yte": {np.float32: one_hot(yte, 10, np.float32), np.float64: one_hot(yte, 10)}}


def init_net(sizes, dtype, seed=0):
    """network2's initial ``(weights, biases)`` drawn from a seeded generator, in ``dtype``."""
    weights, biases = reference.initial_parameters(sizes, rng=np.random.default_rng(seed))
    return [w.astype(dtype) for w in weights], [b.astype(dtype) for b in biases]


def copy(arrays):
    """Fresh copies of a list of arrays (a run's starting parameters)."""
    return [a.copy() for a in arrays]
