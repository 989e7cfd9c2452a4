"""Turning network2-style data into the arrays the kernels work on.

network2 takes data as a list of pairs ``(x, y)``: ``x`` a ``(784, 1)``
column and ``y`` either a ``(10, 1)`` one-hot column (training data) or an
int label (validation and test data).  The Python 3 ports pass ``zip``
objects instead of lists.  vgcore accepts all of these, plus a fast path
that skips the per-example tuples altogether:

    (X, labels)   X an (n, 784) array, labels (n,) ints or (n, 10) one-hot

which is exactly what ``mnist_loader.load_data()`` returns for each split.

Everything is converted once into a :class:`Dataset`: ``X`` is ``(n, n_in)``
with one example per row, ``Y`` the ``(n, n_out)`` desired outputs and
``labels`` the ``(n,)`` int labels (the argmax of ``Y`` for one-hot data).
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "as_dataset", "one_hot"]


@dataclass
class Dataset:
    """A data set as row-major arrays: inputs ``X``, targets ``Y``, ``labels``."""

    X: np.ndarray
    Y: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return self.X.shape[0]


def one_hot(labels, n_out, dtype=np.float64):
    """``(n, n_out)`` array with a 1 in column ``labels[i]`` of row ``i``."""
    labels = np.asarray(labels)
    Y = np.zeros((labels.shape[0], n_out), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _is_array_pair(data):
    return (isinstance(data, tuple) and len(data) == 2
            and isinstance(data[0], np.ndarray) and isinstance(data[1], np.ndarray)
            and data[0].ndim == 2)


def _check_labels(labels, n_out, name):
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(f"{name}: labels must be whole numbers")
        labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError(f"{name}: labels must lie in [0, {n_out}), got values "
                         f"from {labels.min()} to {labels.max()}")
    return labels.astype(np.int64, copy=False)


def as_dataset(data, n_in, n_out, dtype=np.float64, name="data"):
    """Convert network2-style ``data`` to a :class:`Dataset` of ``dtype``.

    ``data`` is a list (or any iterable) of ``(x, y)`` pairs, or the fast
    path ``(X, labels)`` of two arrays.  ``n_in`` and ``n_out`` are the
    network's input and output sizes, used to check shapes.  Raises
    ``ValueError`` or ``TypeError`` naming ``name`` when the data do not fit.
    """
    if isinstance(data, Dataset):
        if data.X.shape[1] != n_in or data.Y.shape[1] != n_out:
            raise ValueError(f"{name}: a Dataset of {data.X.shape[1]} inputs and "
                             f"{data.Y.shape[1]} outputs does not fit this network")
        if data.X.dtype == dtype:
            return data
        return Dataset(data.X.astype(dtype), data.Y.astype(dtype), data.labels)
    if _is_array_pair(data):
        X, T = data
    else:
        if isinstance(data, np.ndarray):
            raise TypeError(f"{name}: expected a list of (x, y) pairs or a tuple "
                            f"(X, labels) of arrays, got a single array")
        try:
            pairs = list(data)
        except TypeError:
            raise TypeError(f"{name}: expected a list of (x, y) pairs or a tuple "
                            f"(X, labels) of arrays, got {type(data).__name__}") from None
        if not pairs:
            raise ValueError(f"{name}: no examples")
        try:
            xs, ys = zip(*pairs)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: every example must be a pair (x, y)") from None
        try:
            X = np.array([np.asarray(x).reshape(-1) for x in xs])
        except ValueError:
            raise ValueError(f"{name}: the inputs x do not all have the same size") from None
        if all(np.ndim(y) == 0 for y in ys):
            T = np.array(ys)
        else:
            try:
                T = np.array([np.asarray(y).reshape(-1) for y in ys])
            except ValueError:
                raise ValueError(f"{name}: the outputs y do not all have the same size") from None
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name}: inputs must have {n_in} values each "
                         f"(the network's sizes[0]), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no examples")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"{name}: inputs must be real numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: inputs contain NaN or infinity")
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"{name}: {X.shape[0]} inputs but {T.shape[0]} outputs")
    if T.ndim == 1:
        labels = _check_labels(T, n_out, name)
        Y = one_hot(labels, n_out, dtype)
    elif T.ndim == 2 and T.shape[1] == n_out:
        if not np.issubdtype(T.dtype, np.number) or np.iscomplexobj(T):
            raise TypeError(f"{name}: outputs must be real numbers, got dtype {T.dtype}")
        Y = np.ascontiguousarray(T, dtype=dtype)
        if not np.all(np.isfinite(Y)):
            raise ValueError(f"{name}: outputs contain NaN or infinity")
        labels = np.argmax(Y, axis=1)
    else:
        raise ValueError(f"{name}: outputs must be int labels or vectors of "
                         f"{n_out} values (the network's sizes[-1]), got shape {T.shape}")
    return Dataset(X, Y, labels)
