"""What chapter 5 measures, through network2's API, and the files it publishes.

The chapter's measure
---------------------
The **speed of learning** of a layer ``l`` is the Euclidean norm of the
vector of ``dC/db^l_j`` over the layer's neurons ``j``, where ``dC/db`` is
the gradient of the cost (no regularisation term) **averaged over a fixed
probe set**: the first 1,000 training images.  It is taken at one set of
weights (at initialisation, or at the start of each epoch while training)
and only the hidden layers are reported.  Through network2 that is
``net.learning_speeds(probe)`` (or ``net.mean_nabla_b(probe)`` for the
per-neuron values), and ``net.SGD(..., speed_probe=probe)`` records it at
the start of every epoch into ``net.speed_history``.

How that differs from the fused per-mini-batch norms
----------------------------------------------------
``net.SGD(..., record_minibatch_speeds=True)`` fills
``net.minibatch_speeds``, one row per mini-batch: the norm of ``dC/db``
averaged over **that mini-batch only**, taken by the training kernel from
the gradient it computes anyway (so it costs nothing extra), at the
weights just before the step on that mini-batch.  Compared with the
chapter's measure it

- uses ``m`` examples instead of the probe set, so it is a noisy estimate,
  and biased upwards: the expected squared norm of a mean over ``m``
  examples is ``||E g||^2 + tr(Cov g)/m``.  At initialisation the
  per-example gradients point the same way and the two measures agree
  (within 2 % for ``[784, 30, 30, 30, 30, 10]``, ``m = 10``); once the
  network has learned, the mean gradient is small and the scatter
  dominates: after one or two epochs of the book's mini-batch SGD the
  fused norms are 3 to 10 times the probe-set values;
- is measured at a different set of weights for every row (the weights
  change after every mini-batch), not once per epoch;
- comes from the training data's mini-batches in the shuffled order, not
  from a fixed probe set.

The two coincide in the chapter's own training experiment (full-batch
descent, ``mini_batch_size`` equal to the 1,000 probe images, probe = the
training set): there the single mini-batch of an epoch *is* the probe set
at the start of the epoch, and they differ only by summation order.  Use
the probe-set measure to reproduce the chapter's numbers and figures; use
the fused norms for a cheap, fine-grained view of how speeds evolve
within an epoch of ordinary mini-batch SGD.

Files
-----
The published layouts are plain JSON:

- a **speed history**: a list, one entry per epoch, of the per-hidden-layer
  norms: ``[[0.0657, 0.3092], [0.0430, 0.2170], ...]``;
- the **six-neuron bars**: a list, one entry per hidden layer, of the
  averaged ``dC/db`` of its first six neurons.

The **depth sweep** (vgcore's own layout) is an object with the training
settings and one run per (network, seed): the validation accuracy count
after every epoch.  Readers validate and raise :class:`ValueError` with
the file name and the offending entry; writers write atomically (a
temporary file in the same folder, then :func:`os.replace`), so an
interrupted run never leaves a half-written file.
"""
import json
import math
import random
from numbers import Real
from pathlib import Path

import numpy as np

from .._support import files as _files

__all__ = [
    "N_PROBE", "MINI_BATCH", "ETA", "LMBDA", "BOOK_EPOCHS", "BOOK_N_TRAIN",
    "BOOK_INITIAL_SPEEDS", "BOOK_BEST_ACCURACY", "BOOK_RATIO_4_HIDDEN",
    "hidden_sizes", "write_json_atomic", "read_json",
    "validate_speed_history", "read_speed_history", "write_speed_history",
    "validate_neuron_values", "read_six_neurons", "write_six_neurons",
    "validate_depth_sweep", "read_depth_sweep", "write_depth_sweep",
    "make_network", "first_n", "initial_speeds", "six_neuron_values",
    "speed_history", "speed_ratios", "best_accuracies", "chance_accuracy",
    "DID_NOT_TRAIN_FACTOR", "did_not_train", "first_epoch_above", "mean_std",
    "welch_test", "holm", "json_safe",
]

#: The chapter's settings: the probe set (the first 1,000 training images),
#: and the depth sweep's SGD on 50,000 images (30 epochs, mini-batch 10,
#: eta 0.1, lmbda 5.0; the learning-speed runs use the same eta and lmbda).
N_PROBE = 1000
MINI_BATCH = 10
ETA = 0.1
LMBDA = 5.0
BOOK_EPOCHS = 30
BOOK_N_TRAIN = 50_000

#: The chapter's published learning speeds at initialisation, per number
#: of hidden layers (``[784, 30, ..., 30, 10]``, first 1,000 images).
BOOK_INITIAL_SPEEDS = {
    2: [0.07, 0.31],
    3: [0.012, 0.060, 0.283],
    4: [0.003, 0.017, 0.070, 0.285],
}

#: The chapter's best validation accuracies (%), per number of hidden layers.
BOOK_BEST_ACCURACY = {1: 96.48, 2: 96.90, 3: 96.57, 4: 96.53}

#: Published ratio last/first hidden layer speed in the 4-hidden-layer
#: training run: 96 at epoch 0, about 50 to 110 later.
BOOK_RATIO_4_HIDDEN = {"epoch0": 96.0, "later_range": [50.0, 110.0]}


def hidden_sizes(n_hidden, width=30, n_in=784, n_out=10):
    """``[784, 30, ..., 30, 10]`` with ``n_hidden`` hidden layers."""
    return [n_in] + [width] * int(n_hidden) + [n_out]


# ---------------------------------------------------------------------------
# JSON files
# ---------------------------------------------------------------------------

def write_json_atomic(path, obj, indent=None):
    """Write ``obj`` as JSON to ``path`` atomically; return ``path`` as a ``Path``.

    Missing folders are created.  The file is written as ``Network.save``
    writes networks (:func:`vgcore._files.atomic_write`: temporary file,
    flushed to disk, then renamed over ``path``), with a final newline.
    Non-finite floats are refused (JSON has no NaN): callers write ``None``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _files.atomic_write_json(path, obj, indent=indent, end="\n", what=str(path))
    return path


def read_json(path):
    """Parse the JSON file ``path``; :class:`ValueError` naming the file if it is not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file ({e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def _is_number(v):
    return isinstance(v, Real) and not isinstance(v, bool)


def _number(v, where, nonnegative=False):
    if not _is_number(v):
        raise ValueError(f"{where}: expected a number, got {type(v).__name__} {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{where}: expected a finite number, got {v!r}")
    if nonnegative and v < 0:
        raise ValueError(f"{where}: a norm cannot be negative, got {v!r}")
    return v


def _as_list(obj, where, expected):
    """``obj`` (a list, tuple or array) as a list; else ValueError "expected ..."."""
    if isinstance(obj, (np.ndarray, tuple)):
        obj = list(obj)
    if not isinstance(obj, list):
        raise ValueError(f"{where}: expected {expected}, got {type(obj).__name__}")
    return obj


def validate_speed_history(obj, source="speed history"):
    """Check the published speed-history layout and return it as lists of floats.

    A non-empty list (one entry per epoch) of non-empty lists of the same
    length (one finite, non-negative norm per hidden layer).
    """
    obj = _as_list(obj, source, "a list of epochs")
    if not obj:
        raise ValueError(f"{source}: no epochs")
    out = []
    n_layers = None
    for i, row in enumerate(obj):
        row = _as_list(row, f"{source}: epoch {i}", "a list of per-layer norms")
        if not row:
            raise ValueError(f"{source}: epoch {i}: no layers")
        if n_layers is None:
            n_layers = len(row)
        elif len(row) != n_layers:
            raise ValueError(f"{source}: epoch {i} has {len(row)} layers, "
                             f"epoch 0 has {n_layers}")
        out.append([_number(v, f"{source}: epoch {i}, layer {k}", nonnegative=True)
                    for k, v in enumerate(row)])
    return out


def read_speed_history(path):
    """Read and validate a speed-history JSON file (list of per-epoch lists)."""
    return validate_speed_history(read_json(path), source=str(path))


def write_speed_history(path, history):
    """Validate ``history`` and write it atomically in the published layout."""
    return write_json_atomic(path, validate_speed_history(history, source=str(path)))


def validate_neuron_values(obj, n_neurons=6, source="neuron values"):
    """Check the six-neuron layout: a non-empty list of per-layer lists of ``n_neurons`` numbers."""
    obj = _as_list(obj, source, "a list of layers")
    if not obj:
        raise ValueError(f"{source}: no layers")
    out = []
    for i, row in enumerate(obj):
        row = _as_list(row, f"{source}: layer {i}", f"a list of {n_neurons} numbers")
        if len(row) != n_neurons:
            raise ValueError(f"{source}: layer {i} has {len(row)} values, "
                             f"expected {n_neurons}")
        out.append([_number(v, f"{source}: layer {i}, neuron {k}") for k, v in enumerate(row)])
    return out


def read_six_neurons(path, n_neurons=6):
    """Read and validate a six-neuron JSON file (list of per-layer lists of six)."""
    return validate_neuron_values(read_json(path), n_neurons, source=str(path))


def write_six_neurons(path, values, n_neurons=6):
    """Validate and write per-layer neuron values atomically."""
    return write_json_atomic(path, validate_neuron_values(values, n_neurons, source=str(path)))


_SWEEP_SETTINGS = ("epochs", "mini_batch_size", "n_training", "n_validation")


def validate_depth_sweep(obj, source="depth sweep"):
    """Check the depth-sweep layout and return it (normalised).

    ``{"epochs": E, "mini_batch_size": m, "eta": .., "lmbda": ..,
    "n_training": N, "n_validation": V, "runs": [{"sizes": [...],
    "seed": s, "accuracy": [E counts in 0..V]}, ...]}``.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: expected an object, got {type(obj).__name__}")
    for key in _SWEEP_SETTINGS + ("eta", "lmbda", "runs"):
        if key not in obj:
            raise ValueError(f"{source}: missing key {key!r}")
    out = dict(obj)
    for key in _SWEEP_SETTINGS:
        v = obj[key]
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{source}: {key} must be a positive int, got {v!r}")
    for key in ("eta", "lmbda"):
        out[key] = _number(obj[key], f"{source}: {key}", nonnegative=True)
    runs = obj["runs"]
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"{source}: runs must be a non-empty list")
    E, V = obj["epochs"], obj["n_validation"]
    clean = []
    for i, run in enumerate(runs):
        where = f"{source}: run {i}"
        if not isinstance(run, dict):
            raise ValueError(f"{where}: expected an object")
        for key in ("sizes", "seed", "accuracy"):
            if key not in run:
                raise ValueError(f"{where}: missing key {key!r}")
        sizes = run["sizes"]
        if (not isinstance(sizes, list) or len(sizes) < 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                           for s in sizes)):
            raise ValueError(f"{where}: sizes must be a list of at least two positive ints")
        seed = run["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"{where}: seed must be an int, got {seed!r}")
        acc = run["accuracy"]
        if not isinstance(acc, list) or len(acc) != E:
            raise ValueError(f"{where}: accuracy must be a list of {E} per-epoch counts")
        for k, a in enumerate(acc):
            if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a <= V:
                raise ValueError(f"{where}, epoch {k}: accuracy must be an int count "
                                 f"in [0, {V}], got {a!r}")
        clean.append({**run, "sizes": list(sizes), "seed": seed, "accuracy": list(acc)})
    out["runs"] = clean
    return out


def read_depth_sweep(path):
    """Read and validate a depth-sweep JSON file."""
    return validate_depth_sweep(read_json(path), source=str(path))


def write_depth_sweep(path, sweep):
    """Validate and write a depth sweep atomically."""
    return write_json_atomic(path, validate_depth_sweep(sweep, source=str(path)), indent=1)


# ---------------------------------------------------------------------------
# Measurements through network2
# ---------------------------------------------------------------------------

def make_network(sizes, seed, **kwargs):
    """``network2.Network(sizes)`` after ``np.random.seed(seed)`` and ``random.seed(seed)``.

    The same seed gives the same initial weights and (through
    ``random.shuffle`` in SGD) the same mini-batches, in any process.
    """
    from .. import network2

    np.random.seed(seed)
    random.seed(seed)
    return network2.Network(list(sizes), **kwargs)


def first_n(data, n):
    """The first ``n`` examples of an ``(X, labels)`` pair."""
    X, Y = data
    return X[:n], Y[:n]


def initial_speeds(sizes, X, Y, seed):
    """Learning speed of every hidden layer of a fresh ``Network(sizes)``.

    The network is built with ``seed`` (see :func:`make_network`) and the
    speeds measured on ``(X, Y)`` (labels as ints or one-hot rows): the
    chapter's measurement at initialisation, on its first 1,000 images.
    """
    net = make_network(sizes, seed)
    return net.learning_speeds((np.asarray(X), np.asarray(Y)))


def six_neuron_values(net, data, n_neurons=6):
    """Mean ``dC/db`` of the first ``n_neurons`` neurons of every hidden layer.

    A list, one entry per hidden layer, of ``n_neurons`` floats: the values
    the chapter draws as bars for ``[784, 30, 30, 10]``.
    """
    return [[float(v) for v in g[:n_neurons]] for g in net.mean_nabla_b(data)[:-1]]


def speed_history(sizes, X, Y, epochs, seed, eta=ETA, lmbda=LMBDA, mini_batch_size=None,
                  method="auto", quiet=True):
    """The chapter's training experiment: speeds at the start of every epoch.

    Builds ``Network(sizes)`` with ``seed`` and runs full-batch gradient
    descent on ``(X, Y)`` (``mini_batch_size`` defaults to ``len(X)``),
    ``epochs`` epochs with ``eta`` and ``lmbda``, measuring the hidden
    layers' speeds on the same ``(X, Y)`` at the start of each epoch.  One
    call ``SGD(td, epochs, ...)`` draws the same shuffles as ``epochs``
    calls ``SGD(td, 1, ...)``, and the probe is measured before each
    epoch's step, so this is the chapter's loop.  Returns the history in
    the published layout (list of per-epoch lists).

    ``method``: ``"probe"`` measures with ``speed_probe=(X, Y)`` (an extra
    forward and backward pass per epoch); ``"fused"`` reads the training
    kernel's per-mini-batch norms (``record_minibatch_speeds``), which is
    the same quantity when the one mini-batch of an epoch is the whole
    probe set (equal up to summation order, about 1e-15 relative) and
    halves the work; ``"auto"`` (default) picks ``"fused"`` exactly then.
    """
    import contextlib
    import io

    X = np.asarray(X)
    Y = np.asarray(Y)
    net = make_network(sizes, seed)
    m = len(X) if mini_batch_size is None else mini_batch_size
    if method == "auto":
        method = "fused" if m >= len(X) else "probe"
    if method not in ("probe", "fused"):
        raise ValueError(f"method must be 'auto', 'probe' or 'fused', got {method!r}")
    if method == "fused" and m < len(X):
        raise ValueError("method='fused' equals the probe measure only for full-batch "
                         "descent (mini_batch_size >= len(X))")
    ctx = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    with ctx:
        if method == "probe":
            net.SGD((X, Y), epochs, m, eta, lmbda=lmbda, speed_probe=(X, Y))
            rows = net.speed_history
        else:
            net.SGD((X, Y), epochs, m, eta, lmbda=lmbda, record_minibatch_speeds=True)
            rows = net.minibatch_speeds
    return [[float(v) for v in row] for row in rows]


def speed_ratios(history):
    """Per epoch, the speed of the last hidden layer over that of the first."""
    return [row[-1] / row[0] if row[0] > 0 else float("inf") for row in history]


def best_accuracies(accuracy_counts, n_validation):
    """Best validation accuracy in percent of each run's per-epoch counts."""
    return [100.0 * max(acc) / n_validation for acc in accuracy_counts]


#: A run "did not train" when its best validation accuracy stays below this
#: many times the chance level (see :func:`did_not_train`).
DID_NOT_TRAIN_FACTOR = 2.0


def chance_accuracy(labels):
    """The chance level, in percent: the accuracy of always answering the most common label.

    10.7 % on the embedded sample's 1,000 validation images (107 ones),
    10.9 % on the full 10,000 (1,090 sevens).  A network stuck where it
    started, outputting about the class frequencies whatever the image,
    scores about this.
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    if labels.size == 0:
        raise ValueError("chance_accuracy: no labels")
    return 100.0 * float(np.bincount(labels).max()) / labels.size


def did_not_train(best_percent, chance_percent, factor=DID_NOT_TRAIN_FACTOR):
    """Whether a run whose best validation accuracy is ``best_percent`` did not train.

    True when the best accuracy over all epochs stays below ``factor``
    (2) times the chance level: the network never got clearly better than
    guessing the most common digit.  Runs that train at all pass 50 %
    within a few epochs on MNIST, so the line is far from both.
    """
    return bool(best_percent < factor * chance_percent)


def first_epoch_above(accuracy_counts, n_validation, percent):
    """The first epoch (1-based) whose validation accuracy exceeds ``percent``, or ``None``."""
    for epoch, count in enumerate(accuracy_counts, start=1):
        if 100.0 * count / n_validation > percent:
            return epoch
    return None


def mean_std(values):
    """``(mean, sample std)`` of ``values``; std is ``None`` for fewer than two values."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return None, None
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if v.size >= 2 else None
    return mean, std


def welch_test(a, b):
    """Two-sided Welch t-test between samples ``a`` and ``b``.

    Returns ``{"t": .., "p": .., "n_a": .., "n_b": .., "note": ..}``;
    ``t`` and ``p`` are ``None`` when the test cannot be made (fewer than
    two values in either sample, or no variance in both).
    """
    from scipy import stats

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    res = {"t": None, "p": None, "n_a": int(a.size), "n_b": int(b.size), "note": ""}
    if a.size < 2 or b.size < 2:
        res["note"] = "needs >= 2 seeds per depth"
        return res
    if np.var(a) == 0 and np.var(b) == 0:
        res["note"] = "no variance in either sample"
        return res
    import warnings

    with warnings.catch_warnings():
        # scipy warns of "catastrophic cancellation" when one sample's values
        # are all equal; the Welch statistic is still well defined then.
        warnings.simplefilter("ignore", RuntimeWarning)
        t, p = stats.ttest_ind(a, b, equal_var=False)
    res["t"], res["p"] = float(t), float(p)
    return res


def holm(pvalues):
    """Holm-Bonferroni adjusted p-values (``None`` entries are kept and skipped).

    With ``m`` tests sorted by ``p``, the ``i``-th smallest (from 0) is
    adjusted to ``max_{j <= i} min(1, (m - j) p_(j))``; rejecting where the
    adjusted value is below ``alpha`` controls the family-wise error rate.
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(idx)
    out = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def json_safe(obj):
    """Replace non-finite floats (JSON has none) by ``None``, recursively."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
