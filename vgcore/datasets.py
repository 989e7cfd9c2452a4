"""Turning network2-style data into the arrays the kernels work on.

network2 takes data as a list of pairs ``(x, y)``: ``x`` a ``(784, 1)``
column and ``y`` either a ``(10, 1)`` one-hot column (training data) or an
int label (validation and test data).  The Python 3 ports pass ``zip``
objects instead of lists.  vgcore accepts all of these, plus a fast path
that skips the per-example tuples altogether:

    (X, labels)   a TUPLE of X, an (n, 784) array, and labels, (n,) ints
                  or (n, 10) target rows (e.g. one-hot)

which is exactly what ``mnist_loader.load_data()`` returns for each split.

Everything is converted once into a :class:`Dataset`: ``X`` is ``(n, n_in)``
with one example per row, ``Y`` the ``(n, n_out)`` desired outputs and
``labels`` the ``(n,)`` int labels (the argmax of ``Y`` for vector data).

What is accepted (anything else raises ``TypeError`` or ``ValueError``
naming the argument; NaN or infinity raise
:class:`~vgcore.errors.NonFiniteError`, a ``ValueError``):

- ``x``: real numbers (ints or floats, not bools) shaped ``(n_in, 1)`` as
  in network2 or ``(n_in,)``; every ``x`` of a data set the same shape.
- ``y``: either int labels in ``[0, n_out)`` (Python or numpy ints, or
  floats with whole values; not bools) for every example, or target
  vectors shaped ``(n_out, 1)`` or ``(n_out,)`` for every example, never
  a mix.  Target vectors may hold any finite values (network2 trains on
  them as given), but where labels are needed (``accuracy``, monitored
  accuracy, early stopping) they must be exactly one-hot.
- at least one example.
"""
from dataclasses import dataclass

import numpy as np

from .errors import NonFiniteError

__all__ = ["Dataset", "as_dataset", "one_hot"]


@dataclass
class Dataset:
    """A data set as row-major arrays: inputs ``X``, targets ``Y``, ``labels``.

    ``exact_labels`` is True when every label is exact: the data came with
    int labels or with exactly one-hot target rows.
    """

    X: np.ndarray
    Y: np.ndarray
    labels: np.ndarray
    exact_labels: bool = True

    def __len__(self):
        return self.X.shape[0]


def one_hot(labels, n_out, dtype=np.float64):
    """``(n, n_out)`` array with a 1 in column ``labels[i]`` of row ``i``."""
    labels = np.asarray(labels)
    Y = np.zeros((labels.shape[0], n_out), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def require_labels(data, name):
    """Raise ``ValueError`` unless ``data`` (a :class:`Dataset`) has exact labels."""
    if not data.exact_labels:
        raise ValueError(
            f"{name}: the accuracy needs labels, but the target vectors y are not all "
            f"one-hot (exactly one 1 and zeros elsewhere); give int labels or one-hot y")


def _real_dtype(a):
    """True for arrays of real numbers (ints or floats, not bools or objects)."""
    return (np.issubdtype(a.dtype, np.number) and not np.iscomplexobj(a)
            and a.dtype != np.bool_)


def _check_labels(labels, n_out, name):
    if labels.dtype == np.bool_ or not _real_dtype(labels):
        raise TypeError(f"{name}: labels y must be ints in [0, {n_out}), got dtype "
                        f"{labels.dtype}")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)):
            raise NonFiniteError(f"{name}: labels y contain NaN or infinity")
        if np.any(labels != np.round(labels)):
            raise ValueError(f"{name}: labels y must be whole numbers in [0, {n_out})")
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError(f"{name}: labels y must lie in [0, {n_out}) (the network's "
                         f"sizes[-1] = {n_out} outputs), got values from {labels.min()} "
                         f"to {labels.max()}")
    return labels.astype(np.int64)


def _is_label(y):
    """A single label: a Python/numpy scalar or a 0-d array."""
    return np.ndim(y) == 0


def _from_pairs(data, n_in, n_out, name):
    """``(X, T)`` arrays from an iterable of ``(x, y)`` pairs."""
    if isinstance(data, np.ndarray):
        raise TypeError(f"{name}: expected a list of (x, y) pairs or a tuple "
                        f"(X, labels) of arrays, got a single array")
    if isinstance(data, (str, bytes, dict)):
        raise TypeError(f"{name}: expected a list of (x, y) pairs or a tuple "
                        f"(X, labels) of arrays, got {type(data).__name__}")
    try:
        pairs = list(data)
    except TypeError:
        raise TypeError(f"{name}: expected a list of (x, y) pairs or a tuple "
                        f"(X, labels) of arrays, got {type(data).__name__}") from None
    if not pairs:
        raise ValueError(f"{name}: no examples (an empty data set)")
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) != 2:
            raise TypeError(f"{name}: every example must be a pair (x, y); example {i} "
                            f"is {type(p).__name__}"
                            + (f" of length {len(p)}" if isinstance(p, (tuple, list)) else ""))
    xs = []
    for i, (x, _) in enumerate(pairs):
        try:
            xs.append(np.asarray(x))
        except (ValueError, TypeError):
            raise ValueError(f"{name}: input x of example {i} is not an array of "
                             f"numbers") from None
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"{name}: the inputs x do not all have the same shape "
                         f"(found {sorted(shapes)[:3]}); each must be a ({n_in}, 1) column")
    shape = shapes.pop()
    if shape not in ((n_in, 1), (n_in,)):
        raise ValueError(f"{name}: each input x must be a ({n_in}, 1) column (the network's "
                         f"sizes[0] = {n_in} inputs), got shape {shape}")
    X = np.stack(xs).reshape(len(xs), n_in)
    ys = [p[1] for p in pairs]
    scalar = [_is_label(y) for y in ys]
    if all(scalar):
        try:
            T = np.array(ys)
        except (ValueError, TypeError, OverflowError):
            raise TypeError(f"{name}: labels y must be ints in [0, {n_out})") from None
        if T.ndim != 1:
            raise TypeError(f"{name}: labels y must be ints in [0, {n_out})")
        return X, T
    if any(scalar):
        i = scalar.index(not scalar[0])
        raise ValueError(f"{name}: the outputs y mix int labels and vectors (example 0 "
                         f"and example {i}); use all labels or all ({n_out}, 1) vectors")
    try:
        ts = [np.asarray(y) for y in ys]
    except (ValueError, TypeError):
        raise ValueError(f"{name}: the outputs y are not all arrays of numbers") from None
    wrong = [t.shape for t in ts if t.shape not in ((n_out, 1), (n_out,))]
    if wrong:
        raise ValueError(f"{name}: each output y must be an int label or a ({n_out}, 1) "
                         f"vector (the network's sizes[-1] = {n_out} outputs), got shape "
                         f"{wrong[0]}")
    shapes = {t.shape for t in ts}
    if len(shapes) > 1:
        raise ValueError(f"{name}: the outputs y do not all have the same shape (found "
                         f"{sorted(shapes)}); each must be a ({n_out}, 1) vector")
    return X, np.stack(ts).reshape(len(ts), n_out)


def _from_arrays(data, n_in, n_out, name):
    """``(X, T)`` from the fast path ``(X, labels)``."""
    X, T = data
    if not isinstance(T, np.ndarray):
        try:
            T = np.asarray(T)
        except (ValueError, TypeError, OverflowError):
            raise TypeError(f"{name}: labels must be an array of ints or of "
                            f"{n_out}-value target rows") from None
    if X.ndim != 2:
        raise ValueError(f"{name}: in the fast path (X, labels), X must be 2-D with one "
                         f"example per row, shape (n, {n_in}); got shape {X.shape}")
    if X.shape[1] != n_in:
        hint = ("; a single (x, y) pair must be wrapped in a list: [(x, y)]"
                if X.shape == (n_in, 1) else "")
        raise ValueError(f"{name}: X must have {n_in} columns (the network's sizes[0]), "
                         f"one example per row; got shape {X.shape}{hint}")
    if T.ndim == 0 or T.ndim > 2:
        raise ValueError(f"{name}: labels must be (n,) ints or (n, {n_out}) target rows, "
                         f"got shape {T.shape}")
    if T.ndim == 2 and T.shape[1] != n_out:
        raise ValueError(f"{name}: target rows must have {n_out} values (the network's "
                         f"sizes[-1]), got shape {T.shape}")
    return X, T


def as_dataset(data, n_in, n_out, dtype=np.float64, name="data"):
    """Convert network2-style ``data`` to a :class:`Dataset` of ``dtype``.

    ``data`` is a list (or any iterable) of ``(x, y)`` pairs, or the fast
    path: a tuple ``(X, labels)`` whose first element is a 2-D array.
    ``n_in`` and ``n_out`` are the network's input and output sizes, used
    to check shapes.  Raises ``ValueError`` or ``TypeError`` naming ``name``
    when the data do not fit (see the module docstring).
    """
    if isinstance(data, Dataset):
        if data.X.shape[1] != n_in or data.Y.shape[1] != n_out:
            raise ValueError(f"{name}: a Dataset of {data.X.shape[1]} inputs and "
                             f"{data.Y.shape[1]} outputs does not fit this network")
        if data.X.dtype == dtype:
            return data
        return Dataset(data.X.astype(dtype), data.Y.astype(dtype), data.labels,
                       data.exact_labels)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        X, T = _from_arrays(data, n_in, n_out, name)
    else:
        X, T = _from_pairs(data, n_in, n_out, name)
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no examples (an empty data set)")
    if not _real_dtype(X):
        raise TypeError(f"{name}: inputs x must be real numbers, got dtype {X.dtype}")
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"{name}: {X.shape[0]} inputs but {T.shape[0]} labels/targets")
    with np.errstate(over="ignore"):        # float32 overflow is caught below
        X = np.ascontiguousarray(X, dtype=dtype)
    if not np.all(np.isfinite(X)):
        raise NonFiniteError(f"{name}: inputs x contain NaN or infinity"
                             + (f" (after conversion to {np.dtype(dtype).name})"
                                if dtype != np.float64 else ""))
    if T.ndim == 1:
        labels = _check_labels(T, n_out, name)
        return Dataset(X, one_hot(labels, n_out, dtype), labels, True)
    if not _real_dtype(T):
        raise TypeError(f"{name}: target vectors y must be real numbers, got dtype {T.dtype}")
    with np.errstate(over="ignore"):
        Y = np.ascontiguousarray(T, dtype=dtype)
    if not np.all(np.isfinite(Y)):
        raise NonFiniteError(f"{name}: target vectors y contain NaN or infinity")
    exact = bool(np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1))
    return Dataset(X, Y, np.argmax(Y, axis=1), exact)
