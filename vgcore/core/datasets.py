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
A list of at least ``CACHE_MIN_PAIRS`` tuples is converted once per
process and reused while it holds the same tuples, in any order
(:func:`cached_dataset`, "Lists converted once" below); a few examples
bound for the small-call kernels are only unpacked (:func:`small_rows`).

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
import operator
import threading

import numpy as np

from ..errors import NonFiniteError
from ._checks import check_labels

__all__ = ["Dataset", "as_dataset", "one_hot", "small_rows", "cached_dataset",
           "clear_cache"]


class Dataset:
    """A data set as row-major arrays: inputs ``X``, targets ``Y``, ``labels``.

    ``exact_labels`` is True when every label is exact: the data came with
    int labels or with exactly one-hot target rows.
    """

    __slots__ = ("X", "Y", "labels", "exact_labels")

    def __init__(self, X, Y, labels, exact_labels=True):
        self.X, self.Y, self.labels, self.exact_labels = X, Y, labels, exact_labels

    def __len__(self):
        return self.X.shape[0]

    def __repr__(self):
        return (f"Dataset({len(self)} examples, {self.X.shape[1]} inputs, "
                f"{self.Y.shape[1]} outputs, {self.X.dtype})")


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
    return a.dtype.kind in "fiu"


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
    simple = _simple_pairs(pairs, n_in, n_out)
    if simple is not None:
        return simple
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) != 2:
            raise TypeError(f"{name}: every example must be a pair (x, y); example {i} "
                            f"is {type(p).__name__}"
                            + (f" of length {len(p)}" if isinstance(p, (tuple, list)) else ""))
    return (_pair_inputs([p[0] for p in pairs], n_in, name),
            _pair_targets([p[1] for p in pairs], n_out, name))


def _pair_inputs(inputs, n_in, name):
    """The pairs' ``x`` as an ``(n, n_in)`` array: every ``x`` one shape,
    ``(n_in, 1)`` or ``(n_in,)``."""
    xs = []
    for i, x in enumerate(inputs):
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
    return np.stack(xs).reshape(len(xs), n_in)


def _pair_targets(ys, n_out, name):
    """The pairs' ``y`` as ``(n,)`` labels or ``(n, n_out)`` target rows, never a mix."""
    scalar = [_is_label(y) for y in ys]
    if all(scalar):
        try:
            T = np.array(ys)
        except (ValueError, TypeError, OverflowError):
            raise TypeError(f"{name}: labels y must be ints in [0, {n_out})") from None
        if T.ndim != 1:
            raise TypeError(f"{name}: labels y must be ints in [0, {n_out})")
        return T
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
    return np.stack(ts).reshape(len(ts), n_out)


def _simple_pairs(pairs, n_in, n_out):
    """``(X, T)`` for the list of pairs that network2's loader makes, quickly.

    Every pair a tuple ``(x, y)``; every ``x`` an ndarray of one real dtype
    and one shape, ``(n_in, 1)`` or ``(n_in,)``; every ``y`` an int label
    (Python or numpy int), or every ``y`` an ndarray of one real dtype and
    one shape, ``(n_out, 1)`` or ``(n_out,)``.  Anything else gives None,
    and the general code (which explains what is wrong) takes over.  Values
    are not checked here.
    """
    x0, y0 = pairs[0] if type(pairs[0]) is tuple and len(pairs[0]) == 2 else (None, None)
    if type(x0) is not np.ndarray or x0.dtype.kind not in "fiu":
        return None
    shape, xtype = x0.shape, x0.dtype
    if shape != (n_in, 1) and shape != (n_in,):
        return None
    labels = type(y0) is int or isinstance(y0, np.integer)
    if labels:
        ytype = yshape = None
    elif type(y0) is np.ndarray and y0.dtype.kind in "fiu" and y0.shape in (
            (n_out, 1), (n_out,)):
        ytype, yshape = y0.dtype, y0.shape
    else:
        return None
    xs, ys = [], []
    for p in pairs:
        if type(p) is not tuple or len(p) != 2:
            return None
        x, y = p
        if type(x) is not np.ndarray or x.shape != shape or x.dtype != xtype:
            return None
        if labels:
            if not (type(y) is int or isinstance(y, np.integer)):
                return None
        elif type(y) is not np.ndarray or y.shape != yshape or y.dtype != ytype:
            return None
        xs.append(x)
        ys.append(y)
    k = len(xs)
    X = xs[0].reshape(1, n_in) if k == 1 else np.stack(xs).reshape(k, n_in)
    if labels:
        try:
            T = np.array(ys)
        except (OverflowError, ValueError, TypeError):
            return None
        return (X, T) if T.dtype.kind in "iu" else None
    return X, (ys[0].reshape(1, n_out) if k == 1 else np.stack(ys).reshape(k, n_out))


def as_row(a, dtype):
    """The ``(n, 1)`` or ``(n,)`` array ``a`` as a C-contiguous ``(1, n)`` row of
    ``dtype`` (a view when it already is one)."""
    if a.dtype == dtype:
        return np.ascontiguousarray(a.reshape(1, -1))
    if a.dtype.itemsize <= np.dtype(dtype).itemsize or a.dtype.kind != "f":
        return a.astype(dtype).reshape(1, -1)
    with np.errstate(over="ignore"):    # float32 overflow: reported as non-finite
        return a.astype(dtype).reshape(1, -1)


def small_rows(data, n_in, n_out, dtype, max_rows, need_labels=False):
    """A few examples for the compiled small-call kernels, unpacked quickly.

    ``(X, labels, Y)``: ``X`` the inputs as the kernels take them (the list
    of the pairs' ``x``, or the fast path's 2-D array: shapes and dtypes
    are checked there), and int ``labels`` in ``[0, n_out)`` or target
    rows ``Y`` of ``dtype`` (the other None).  With ``need_labels``, target
    vectors must be exactly one-hot and ``labels`` are their 1's columns.
    None when ``data`` is not a list of at most ``max_rows`` tuples ``(x,
    y)`` with int labels or ``(n_out, 1)``/``(n_out,)`` real vectors ``y``,
    nor a fast-path tuple of as many rows, or a label does not fit: the
    caller then takes its general path, which explains.  Inputs are not
    checked here (the kernels report non-finite numbers).
    """
    if type(data) is list:
        if not 0 < len(data) <= max_rows:
            return None
        X, ys = [], []
        for p in data:
            if type(p) is not tuple or len(p) != 2:
                return None
            X.append(p[0])
            ys.append(p[1])
        shape = getattr(X[0], "shape", None)      # one shape for all (rule of as_dataset)
        if not all(type(x) is np.ndarray and x.shape == shape for x in X):
            return None
        if all(type(y) is int or isinstance(y, np.integer) for y in ys):
            if not all(0 <= y < n_out for y in ys):
                return None
            return X, np.array(ys, dtype=np.int64), None
        shape = getattr(ys[0], "shape", None)
        if not (shape in ((n_out, 1), (n_out,)) and all(
                type(y) is np.ndarray and y.dtype.kind in "fiu" and y.shape == shape
                for y in ys)):
            return None
        T = np.stack(ys).reshape(len(ys), n_out)
    elif (type(data) is tuple and len(data) == 2 and type(data[0]) is np.ndarray
          and type(data[1]) is np.ndarray):
        X, T = data
        if (X.ndim != 2 or not 0 < X.shape[0] <= max_rows
                or T.shape not in ((len(X),), (len(X), n_out))
                or T.dtype.kind not in ("iu" if T.ndim == 1 else "fiu")):
            return None
        if T.ndim == 1:
            if T.min() < 0 or T.max() >= n_out:
                return None
            return X, T.astype(np.int64, copy=False), None
    else:
        return None
    Y = _as_float(T, dtype)
    if not need_labels:
        return X, None, Y
    if not (((Y == 0) | (Y == 1)).all() and (Y.sum(axis=1) == 1).all()):
        return None
    return X, Y.argmax(axis=1), None


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
    X = _as_float(X, dtype)
    if not np.isfinite(X).all():
        raise NonFiniteError(f"{name}: inputs x contain NaN or infinity"
                             + (f" (after conversion to {np.dtype(dtype).name})"
                                if dtype != np.float64 else ""))
    if T.ndim == 1:
        labels = check_labels(T, n_out, name, whole_floats=True)
        return Dataset(X, one_hot(labels, n_out, dtype), labels, True)
    if not _real_dtype(T):
        raise TypeError(f"{name}: target vectors y must be real numbers, got dtype {T.dtype}")
    Y = _as_float(T, dtype)
    if not np.isfinite(Y).all():
        raise NonFiniteError(f"{name}: target vectors y contain NaN or infinity")
    exact = bool(((Y == 0) | (Y == 1)).all() and (Y.sum(axis=1) == 1).all())
    return Dataset(X, Y, Y.argmax(axis=1), exact)


def _as_float(a, dtype):
    """``a`` as a C-contiguous array of ``dtype``; a float32 overflow gives inf
    (reported by the caller's finiteness check), without a warning."""
    if a.dtype == dtype:
        return np.ascontiguousarray(a)
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(a, dtype=dtype)


# ---------------------------------------------------------------------------
# Lists converted once
# ---------------------------------------------------------------------------
#
# network2's scripts call SGD once per epoch, or evaluate the same
# validation list after every epoch, with the same list of pairs: converting
# 50,000 tuples again each time cost as much as half an epoch.  So a list of
# at least CACHE_MIN_PAIRS pairs is converted once and its arrays are reused
# while the list holds the same pair objects -- in any order: network2's own
# in-place shuffle (SGD) only reorders them.  An entry keeps the list and a
# snapshot of its pairs (so their ids stay theirs), the Dataset in the order
# of the snapshot it was converted from, and ``rows``: for each position of
# the list, the Dataset row of the pair found there.
#
# What is checked, on every use: the same list object, the same length and
# the very same pair objects (one C-speed pass of ``is``; a reordered list is
# mapped by the pairs' ids).  Pairs are tuples, so the same pair holds the
# same x and y objects; and their numbers are compared with the converted
# rows in one compiled pass (vgcore._small.same_rows: ~50 ms for 50,000
# MNIST pairs, against ~0.8 s to convert), so numbers a script changed in
# place inside an x or y array are seen too and the list converted again.
# (x and y of other dtypes than float64/float32 are converted every time.)  Memory: the
# CACHE_ENTRIES most recent lists (and so their pairs) stay alive with their
# arrays (50,000 MNIST pairs in float64: 320 MB) until other lists take their
# place or clear_cache() is called.

#: Lists of fewer pairs are converted on every call (in well under 1 ms).
CACHE_MIN_PAIRS = 256
#: How many converted lists are kept (least recently used dropped first).
CACHE_ENTRIES = 3

_CACHE = {}
_CACHE_LOCK = threading.Lock()


class _Converted:
    __slots__ = ("source", "pairs", "rows", "data", "targets")

    def __init__(self, source, data):
        self.source, self.data = source, data
        self.pairs = list(source)
        self.rows = np.arange(len(source), dtype=np.int64)
        labelled = type(source[0][1]) is int or isinstance(source[0][1], np.integer)
        self.targets = data.labels if labelled else data.Y

    def rows_now(self):
        """The Dataset row of each position of the list now, or None if the
        list no longer holds exactly the converted pairs and numbers."""
        lst, pairs = self.source, self.pairs
        if len(lst) != len(pairs):
            return None
        rows = self.rows
        if not all(map(operator.is_, lst, pairs)):
            where = {id(p): r for p, r in zip(pairs, rows.tolist())}
            rows = [where.get(id(p), -1) for p in lst]
            if -1 in rows:
                return None
            rows = np.array(rows, dtype=np.int64)
        from .. import _small        # compiled (and SciPy's BLAS): at the first use
        if not _small.same_rows(lst, self.data.X, self.targets, rows):
            return None
        self.pairs, self.rows = list(lst), rows
        return rows

    def reordered(self, rows):
        """The list has been reordered (by SGD's shuffle): remember how."""
        self.pairs, self.rows = list(self.source), rows


def cached_dataset(data, n_in, n_out, dtype=np.float64, name="data"):
    """``(Dataset, rows, entry)`` for ``data``, converted once per list.

    ``rows[k]`` is the Dataset row holding the example at position ``k`` of
    ``data``.  For a list of at least ``CACHE_MIN_PAIRS`` tuples the
    conversion is kept (``entry``, whose ``reordered(rows)`` records a
    reordering of the list); anything else is converted as by
    :func:`as_dataset` (``entry`` None, ``rows`` in storage order).
    """
    if type(data) is not list or len(data) < CACHE_MIN_PAIRS:
        d = as_dataset(data, n_in, n_out, dtype, name)
        return d, np.arange(len(d), dtype=np.int64), None
    key = (id(data), n_in, n_out, np.dtype(dtype).char)
    with _CACHE_LOCK:
        entry = _CACHE.pop(key, None)
        if entry is not None:
            _CACHE[key] = entry             # most recently used last
    if entry is not None and entry.source is data:
        rows = entry.rows_now()
        if rows is not None:
            return entry.data, rows, entry
    d = as_dataset(data, n_in, n_out, dtype, name)
    if not all(type(p) is tuple for p in data):
        return d, np.arange(len(d), dtype=np.int64), None   # mutable pairs: no reuse
    entry = _Converted(data, d)
    with _CACHE_LOCK:
        _CACHE[key] = entry
        while len(_CACHE) > CACHE_ENTRIES:
            del _CACHE[next(iter(_CACHE))]
    return d, entry.rows, entry


def clear_cache():
    """Forget the converted lists (and let their memory go)."""
    with _CACHE_LOCK:
        _CACHE.clear()
