"""Argument and parameter checks for :mod:`vgcore.network2`.

The rules are listed in network2's module docstring ("Validation"): wrong
kinds of objects raise ``TypeError``, wrong values ``ValueError``, NaN or
infinity :class:`~vgcore.errors.NonFiniteError`; every message names the
argument and what was expected.
"""
import math
import os

import numpy as np

from ..errors import NonFiniteError
from . import costs as _costs
from .reference import ACTIVATIONS, INITIALISERS, CrossEntropyCost, QuadraticCost

# The built-in costs: the reference's classes and the drop-in's compiled
# ones (vgcore.core.costs), each with the reference class it stands for.
_BUILTIN = ((CrossEntropyCost, CrossEntropyCost), (QuadraticCost, QuadraticCost),
            (_costs.CrossEntropyCost, CrossEntropyCost), (_costs.QuadraticCost, QuadraticCost))

#: Largest layer size: BLAS indexes with 32-bit ints.
MAX_LAYER = 2**31 - 1

#: The values of ``on_divergence``.
ON_DIVERGENCE = ("warn", "raise", "ignore")


def check_path(filename, name):
    if isinstance(filename, bool) or not isinstance(filename, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got "
                        f"{type(filename).__name__}")
    path = os.fsdecode(os.fspath(filename))
    if not path or "\0" in path:
        raise ValueError(f"{name} must be a non-empty path without NUL characters, "
                         f"got {filename!r}")
    return path


def check_sizes(sizes, name="sizes"):
    if (type(sizes) is list and len(sizes) >= 2
            and all(type(s) is int and 0 < s <= MAX_LAYER for s in sizes)):
        return sizes                       # the common case, quickly
    if isinstance(sizes, (str, bytes, dict)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a list of layer sizes (ints), got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"{name} must list at least two layers (input and output), "
                         f"got {sizes!r}")
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{name} must hold ints; {name}[{i}] is {s!r} "
                            f"({type(s).__name__})")
        if s <= 0:
            raise ValueError(f"every layer size must be >= 1; {name}[{i}] is {s}")
        if s > MAX_LAYER:
            raise ValueError(f"every layer size must be < 2**31 (BLAS's index limit); "
                             f"{name}[{i}] is {s}")
    return [int(s) for s in sizes]


def check_dtype(dtype, name="dtype"):
    if dtype is np.float64 or dtype is np.float32:
        return dtype
    try:
        d = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be np.float64 or np.float32, got {dtype!r}") from None
    if d not in (np.float64, np.float32):
        raise TypeError(f"{name} must be np.float64 or np.float32, got {d}")
    return d.type


def check_cost(cost, name="cost"):
    """A cost: a class with ``fn(a, y)`` and ``delta(z, a, y)``, or an instance of one.

    network2's costs are classes of static methods, so network2 works as
    well when a script passes an instance (``CrossEntropyCost()``, as the
    book's own scripts do); the object is kept as given and its ``fn`` and
    ``delta`` are called through it.
    """
    for kind, _ in _BUILTIN:
        if cost is kind:
            return cost                    # the common case, quickly
    missing = [m for m in ("fn", "delta") if not callable(getattr(cost, m, None))]
    if missing:
        if isinstance(cost, type):
            raise TypeError(f"{name} {cost.__name__} lacks the static method(s) "
                            f"{' and '.join(missing)}: a cost needs fn(a, y) and "
                            f"delta(z, a, y)")
        raise TypeError(f"{name} must be a class with static methods fn(a, y) and "
                        f"delta(z, a, y) such as CrossEntropyCost (or an instance of "
                        f"one), got {cost!r}")
    return cost


def cost_name(cost):
    """The name a cost is saved under: its class's name, for an instance too."""
    return cost.__name__ if isinstance(cost, type) else type(cost).__name__


def builtin_cost(cost):
    """The reference's ``CrossEntropyCost`` or ``QuadraticCost`` if ``cost`` is
    one of the built-in cost classes (the reference's or the drop-in's) or a
    plain instance of one (the kernels compute those), else None."""
    for kind, plain in _BUILTIN:
        if cost is kind:
            return plain
    for kind, plain in _BUILTIN:
        if type(cost) is kind and not vars(cost):
            return plain
    return None


def check_real(value, name, minimum=0.0, positive=False):
    """A finite real number (not a bool) as a float; ``>= minimum`` unless
    ``minimum`` is None; ``> 0`` with ``positive``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def check_range(r, name):
    """A pair ``(lo, hi)`` of finite numbers with ``lo < hi`` (and a finite
    width), as floats: a histogram's range."""
    if not isinstance(r, (tuple, list)) or len(r) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi), got {r!r}")
    lo = check_real(r[0], f"{name}[0]", minimum=None)
    hi = check_real(r[1], f"{name}[1]", minimum=None)
    if not lo < hi or not math.isfinite(hi - lo):
        raise ValueError(f"{name} must have lo < hi (and a finite width), got {r!r}")
    return lo, hi


def check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_labels(labels, n_out, name, rows=None, whole_floats=False):
    """Int labels in ``[0, n_out)`` as a contiguous int64 array.

    ``labels`` is an array of integers, or with ``whole_floats`` (data a
    user gave) of floats with whole values; ``rows``, when given, is how
    many there must be.
    """
    kind = labels.dtype.kind
    if labels.size and not (kind in "iu" or whole_floats and kind == "f"):
        raise TypeError(f"{name}: labels y must be ints in [0, {n_out}) (the array must "
                        f"hold integers{', or floats of whole values' if whole_floats else ''})"
                        f", got dtype {labels.dtype}")
    if kind == "f" and labels.size:
        if not np.isfinite(labels).all():
            raise NonFiniteError(f"{name}: labels y contain NaN or infinity")
        if np.any(labels != np.round(labels)):
            raise ValueError(f"{name}: labels y must be whole numbers in [0, {n_out})")
    if rows is not None and labels.shape[0] != rows:
        raise ValueError(f"{name}: {labels.shape[0]} labels, expected {rows} "
                         f"(the rows of X)")
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError(f"{name}: labels y outside [0, {n_out}) (the network's "
                         f"sizes[-1] = {n_out} outputs), from {labels.min()} to "
                         f"{labels.max()}")
    return np.ascontiguousarray(labels, dtype=np.int64)


def check_sgd_args(epochs, mini_batch_size, eta, lmbda, early_stopping_n):
    return (check_int(epochs, "epochs", 0),
            check_int(mini_batch_size, "mini_batch_size", 1),
            check_real(eta, "eta"),
            check_real(lmbda, "lmbda"),
            check_int(early_stopping_n, "early_stopping_n", 0))


def _check_choice(value, name, choices):
    """``value`` if it is one of the strings ``choices`` (TypeError for a
    non-string, ValueError for another string, both listing the choices)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_activation(value, name="activation"):
    """The name of a hidden-layer activation (:data:`reference.ACTIVATIONS`)."""
    return _check_choice(value, name, ACTIVATIONS)


def check_init(value, name="init"):
    """The name of an initialiser (:data:`reference.INITIALISERS`)."""
    return _check_choice(value, name, INITIALISERS)


def check_on_divergence(value):
    return _check_choice(value, "on_divergence", ON_DIVERGENCE)


def as_columns(a, n_in, dtype):
    """``feedforward``'s input as rows ``(k, n_in)``; and whether it was 1-D."""
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError):
        raise ValueError(f"feedforward: a must be a ({n_in}, 1) column of numbers") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"feedforward: a must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == n_in:
        column = True
    elif arr.ndim == 2 and arr.shape[0] == n_in:
        column = False
    else:
        raise ValueError(f"feedforward: a must be a ({n_in}, 1) column (the network's "
                         f"sizes[0] = {n_in} inputs), ({n_in}, k) for k inputs, or "
                         f"({n_in},); got shape {arr.shape}")
    with np.errstate(over="ignore"):
        A = np.ascontiguousarray(arr.reshape(n_in, -1).T, dtype=dtype)
    if not np.all(np.isfinite(A)):
        raise NonFiniteError("feedforward: a contains NaN or infinity"
                             + (f" (after conversion to {np.dtype(dtype).name})"
                                if dtype != np.float64 else ""))
    return A, column


def check_result(a, where, what):
    if not np.all(np.isfinite(a)):
        raise NonFiniteError(f"{where}: {what} is NaN or infinite although inputs and "
                             f"parameters are finite: the computation overflowed "
                             f"(inputs or weights too large)")


def nonfinite_layers(W, B):
    """``[(layer, "weights" or "biases"), ...]`` for every non-finite array."""
    bad = []
    for l, (w, b) in enumerate(zip(W, B)):
        if not np.isfinite(w).all():
            bad.append((l, "weights"))
        elif not np.isfinite(b).all():
            bad.append((l, "biases"))
    return bad


def check_parameters(weights, biases, sizes, dtype, finite=True, prefix="net."):
    """Check shapes and values of the parameter lists; return contiguous copies/views."""
    L = len(sizes) - 1
    for name, params in (("weights", weights), ("biases", biases)):
        if not isinstance(params, (list, tuple)):
            raise TypeError(f"{prefix}{name} must be a list of {L} arrays, got "
                            f"{type(params).__name__}")
        if len(params) != L:
            raise ValueError(f"{prefix}{name} must be a list of {L} arrays for sizes "
                             f"{sizes}, got {len(params)}")
    dt = np.dtype(dtype)
    W, B = [], []
    for l in range(L):
        for name, a, shape, out in (("weights", weights[l], (sizes[l + 1], sizes[l]), W),
                                    ("biases", biases[l], (sizes[l + 1], 1), B)):
            if not (type(a) is np.ndarray and a.dtype == dt and a.shape == shape
                    and a.flags.c_contiguous):
                a = convert_parameter(a, shape, dt, f"{prefix}{name}[{l}]")
            if finite and not np.isfinite(a).all():
                raise NonFiniteError(f"{prefix}{name}[{l}] contains NaN or infinity (did "
                                     f"training diverge?)")
            out.append(a)
    return W, B


def convert_parameter(a, shape, dtype, where):
    try:
        a = np.asarray(a)
    except (ValueError, TypeError):
        raise ValueError(f"{where} must be an array of shape {shape}") from None
    if a.shape != shape:
        raise ValueError(f"{where} must have shape {shape}, got {a.shape}")
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{where} must hold real numbers, got dtype {a.dtype}")
    with np.errstate(over="ignore"):    # float64 -> float32 overflow: caught as inf
        return np.ascontiguousarray(a, dtype=dtype)


class CheckedCost:
    """A user's cost class, with the results of ``fn`` and ``delta`` checked."""

    __slots__ = ("cost",)

    def __init__(self, cost):
        self.cost = cost

    def fn(self, a, y):
        v = self.cost.fn(a, y)
        if isinstance(v, (bool, np.bool_)) or not isinstance(
                v, (int, float, np.integer, np.floating, np.ndarray)) or np.size(v) != 1:
            raise TypeError(f"cost {cost_name(self.cost)}.fn(a, y) must return a number, got "
                            f"{type(v).__name__}")
        return float(np.asarray(v).reshape(()))

    def delta(self, z, a, y):
        d = self.cost.delta(z, a, y)
        try:
            d = np.asarray(d, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"cost {cost_name(self.cost)}.delta(z, a, y) must return an array "
                            f"of numbers shaped like a {a.shape}, got "
                            f"{type(d).__name__}") from None
        if d.size != a.size:
            raise ValueError(f"cost {cost_name(self.cost)}.delta(z, a, y) must return an array "
                             f"shaped like a {a.shape}, got shape {d.shape}")
        return d.reshape(a.shape)


def check_n(n):
    """``update_mini_batch``'s ``n``, the training-set size: an int >= 1."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"n must be an int (the training-set size), got {n!r}")
    if n <= 0:
        raise ValueError(f"n must be >= 1 (the training-set size), got {n!r}")
    return int(n)
