"""The sweep engine: many training runs (cells x seeds), on one machine or a cluster.

Invariants
----------
- A **cell** is a plain dict of the keys in :data:`KEYS` (unknown keys are
  refused); :func:`normalize_cell` checks it and fills in the defaults,
  and ``depth``/``width`` become ``sizes``.  Every cell of a sweep is
  checked before anything runs.
- :func:`run_cell` ``(cell, seed) -> dict`` is pure: the result depends
  only on the normalised cell and the seed, never on the process, the
  machine or the backend that runs it (one BLAS thread everywhere, seeds
  derived from the cell).  With ``seeding="sequence"`` (the default) numpy's
  and ``random``'s seeds come from ``SeedSequence(root_seed, spawn_key=
  (hash of the cell, seed))``; with ``seeding="network2"`` they are
  ``np.random.seed(seed); random.seed(seed)``, network2's own seeding (what
  ``vgcore chapter5`` uses, for parity with a network2 script).
- The **cell id** is a hash of the canonical cell: the normalised cell
  without the keys at their default.  A key added later to :data:`KEYS`
  (``register_key``) with a default that does what was done before keeps
  every existing id, so old results stay valid.
- Each finished (cell, seed) is one JSON file ``cells/<id>_s<seed>.json``
  in the output folder, written atomically by the driver as the result
  arrives (:func:`vgcore._support.files.atomic_write`): a killed driver
  loses only the runs in flight; a re-run (with the same or another grid)
  runs only the (cell, seed) pairs without a valid file.
- Backends differ only in where :func:`run_cell` runs: ``serial`` (this
  process), ``loky`` (joblib's process pool; the default) and ``dask``
  (``distributed``: an existing scheduler, or a ``LocalCluster``).  Workers
  load each data set once (a per-process cache) and limit BLAS to one
  thread once.  joblib and distributed are imported only when a sweep
  runs on them.

The tables, tests and figures made from the results are in
:mod:`vgcore.experiments.sweep_report`; the command line in
:mod:`vgcore.experiments.sweep_cli`.
"""
import contextlib
import difflib
import hashlib
import io
import itertools
import json
import math
import os
import random
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from .._support import files as _files
from ..core import reference as _reference
from ..errors import SweepError

__all__ = ["KEYS", "Key", "register_key", "normalize_cell", "canonical_cell", "cell_id",
           "derive_seeds", "run_cell", "expand_grid", "check_seeds", "Task", "plan",
           "run_tasks", "run_sweep", "Store", "parse_scheduler", "load_arrays", "default_jobs",
           "check_backend", "check_data", "single_thread_blas", "depth_of",
           "SWEEP_FORMAT"]

#: Bumped when a result's meaning changes (it is part of every cell id).
SWEEP_FORMAT = 1

N_INPUTS, N_OUTPUTS = 784, 10
COSTS = ("cross-entropy", "quadratic")
DTYPES = ("float64", "float32")
MEASURES = ("accuracy", "cost", "speeds", "norms")
SEEDINGS = ("sequence", "network2")
ACTIVATIONS = tuple(_reference.ACTIVATIONS)
INITIALISERS = tuple(_reference.INITIALISERS)


# ---------------------------------------------------------------------------
# The keys of a cell
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    """One key a cell may have: its default, its check, and whether one
    value is itself a list (so that an axis of a grid is a list of lists)."""
    name: str
    default: object
    check: object          # check(value, where) -> normalised value; raises SweepError
    doc: str
    sequence: bool = False


def _int(v, where, low=None, none=False):
    if v is None and none:
        return None
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise SweepError(f"{where}: expected an int, got {type(v).__name__} {v!r}")
    v = int(v)
    if low is not None and v < low:
        raise SweepError(f"{where}: must be >= {low}, got {v}")
    return v


def _real(v, where, positive=False):
    if isinstance(v, bool) or not isinstance(v, Real):
        raise SweepError(f"{where}: expected a number, got {type(v).__name__} {v!r}")
    v = float(v)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise SweepError(f"{where}: must be a finite number {'> 0' if positive else '>= 0'}, "
                         f"got {v!r}")
    return v


def _choice(options, aliases=None):
    def check(v, where):
        v = (aliases or {}).get(v, v)
        if v not in options:
            raise SweepError(f"{where}: must be one of {', '.join(map(repr, options))}, "
                             f"got {v!r}")
        return v
    return check


def _sizes(v, where):
    if v is None:
        return None
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
        raise SweepError(f"{where}: expected a list of layer sizes, got {v!r}")
    sizes = [_int(s, f"{where}[{i}]", low=1) for i, s in enumerate(v)]
    if len(sizes) < 2 or sizes[0] != N_INPUTS or sizes[-1] != N_OUTPUTS:
        raise SweepError(f"{where}: MNIST networks go from {N_INPUTS} inputs to {N_OUTPUTS} "
                         f"outputs, [{N_INPUTS}, ..., {N_OUTPUTS}]; got {sizes}")
    return sizes


def _data(v, where):
    if not isinstance(v, (str, os.PathLike)) or not str(v):
        raise SweepError(f"{where}: expected 'sample', 'mnist' or a path, got {v!r}")
    v = os.fspath(v)
    if v.lower() in ("sample", "mnist"):
        return v.lower()
    return os.path.abspath(os.path.expanduser(v))


def _measure(v, where):
    if isinstance(v, str):
        v = [m.strip() for m in v.split(",") if m.strip()]
    if not isinstance(v, (list, tuple)) or not v:
        raise SweepError(f"{where}: expected a non-empty list of {', '.join(MEASURES)}, "
                         f"got {v!r}")
    for m in v:
        if m not in MEASURES:
            raise SweepError(f"{where}: unknown measure {m!r} (known: {', '.join(MEASURES)})")
    return [m for m in MEASURES if m in v]          # one order, whatever was given


#: Every key a cell may have.  ``sizes`` or ``depth`` (with ``width``)
#: gives the network; the normalised cell keeps ``sizes`` only.
KEYS = {k.name: k for k in [
    Key("sizes", None, _sizes, "layer sizes [784, ..., 10]", sequence=True),
    Key("depth", None, lambda v, w: _int(v, w, low=1, none=True),
        "hidden layers (with width): sizes = [784] + [width] * depth + [10]"),
    Key("width", 30, lambda v, w: _int(v, w, low=1), "neurons per hidden layer (with depth)"),
    Key("eta", 0.1, lambda v, w: _real(v, w, positive=True), "learning rate"),
    Key("lmbda", 5.0, _real, "L2 regularisation (network2's lmbda)"),
    Key("mini_batch_size", 10, lambda v, w: _int(v, w, low=1), "mini-batch size"),
    Key("epochs", 30, lambda v, w: _int(v, w, low=1), "epochs of SGD"),
    Key("cost", "cross-entropy",
        _choice(COSTS, {"CrossEntropyCost": "cross-entropy", "QuadraticCost": "quadratic"}),
        "cost: cross-entropy or quadratic"),
    Key("dtype", "float64", _choice(DTYPES), "float64 or float32"),
    Key("activation", "sigmoid", _choice(ACTIVATIONS),
        f"the hidden layers' activation: {', '.join(ACTIVATIONS)}"),
    Key("init", "default", _choice(INITIALISERS),
        f"the initial weights: {', '.join(INITIALISERS)} (network2's default and large, "
        "Glorot & Bengio's standard and normalized, He's)"),
    Key("data", "sample", _data,
        "'sample' (embedded), 'mnist' (the full MNIST the loader finds) or a path"),
    Key("n_train", None, lambda v, w: _int(v, w, low=1, none=True),
        "the first n_train training images (default: all)"),
    Key("n_validation", None, lambda v, w: _int(v, w, low=1, none=True),
        "the first n_validation validation images (default: all)"),
    Key("n_probe", 1000, lambda v, w: _int(v, w, low=1),
        "learning speeds are measured on the first n_probe training images"),
    Key("measure", list(MEASURES), _measure,
        "what to record: accuracy, cost (validation, per epoch), speeds (per epoch), "
        "norms (final)", sequence=True),
    Key("seeding", "sequence", _choice(SEEDINGS),
        "'sequence' (SeedSequence of root_seed and the cell) or 'network2' "
        "(np.random.seed(seed); random.seed(seed))"),
    Key("root_seed", 0, lambda v, w: _int(v, w, low=0), "root of the SeedSequence"),
]}


def register_key(name, default, check, doc, sequence=False):
    """Add a key cells may have (e.g. ``activation``), for code that uses it.

    ``default`` must mean what was done before the key existed: a cell at
    the default keeps its id (see the module's invariants).  ``check(value,
    where)`` returns the normalised value or raises :class:`SweepError`.
    """
    if name in KEYS:
        raise ValueError(f"key {name!r} is already registered")
    KEYS[name] = Key(name, default, check, doc, sequence)


def _unknown_key(key, where):
    close = difflib.get_close_matches(str(key), list(KEYS) + ["seeds"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SweepError(f"{where}: unknown key {key!r}{hint}; known keys: {', '.join(KEYS)}")


# ---------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------

def _n_available(data):
    """(training, validation) images of a data set, without loading it."""
    if data == "sample":
        from ..data.sample import SAMPLE_SIZES
        return SAMPLE_SIZES["training"], SAMPLE_SIZES["validation"]
    from ..data.idx import N_TRAINING, N_VALIDATION
    return N_TRAINING, N_VALIDATION


def normalize_cell(cell, where="cell"):
    """The checked cell with every key (defaults filled in); ``sizes``, no ``depth``.

    Raises :class:`SweepError` naming the key for an unknown key, a value
    of the wrong type or out of range, or ``sizes`` given with ``depth``.
    """
    if not isinstance(cell, dict):
        raise SweepError(f"{where}: expected a dict, got {type(cell).__name__}")
    for key in cell:
        if key not in KEYS:
            raise _unknown_key(key, where)
    out = {}
    for name, key in KEYS.items():
        out[name] = key.check(cell[name], f"{where}: {name}") if name in cell else key.default
    if out["depth"] is not None:
        if out["sizes"] is not None:
            raise SweepError(f"{where}: give sizes or depth (and width), not both")
        out["sizes"] = [N_INPUTS] + [out["width"]] * out["depth"] + [N_OUTPUTS]
    elif out["sizes"] is None:
        raise SweepError(f"{where}: no network: give sizes, or depth (and width)")
    elif "width" in cell:
        raise SweepError(f"{where}: width goes with depth; sizes already gives the widths")
    del out["depth"], out["width"]
    if "speeds" in out["measure"] and len(out["sizes"]) < 3:
        raise SweepError(f"{where}: learning speeds need a hidden layer; sizes {out['sizes']}")
    n_train, n_val = _n_available(out["data"])
    for name, n in (("n_train", n_train), ("n_validation", n_val)):
        if out[name] is not None and out[name] > n:
            raise SweepError(f"{where}: {name} {out[name]} is more than the {n:,} images "
                             f"of data {out['data']!r}")
    return out


def canonical_cell(cell):
    """The normalised cell without the keys at their default (what its id hashes)."""
    cell = normalize_cell(cell)
    return {k: v for k, v in cell.items() if v != KEYS[k].default or k == "sizes"}


def cell_id(cell):
    """A 16-hex-digit id of the cell: the same cell, the same id, on any machine."""
    text = json.dumps({"format": SWEEP_FORMAT, **canonical_cell(cell)}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def depth_of(cell):
    """The number of hidden layers of a (normalised) cell."""
    return len(cell["sizes"]) - 2


def derive_seeds(cell, seed):
    """``(numpy seed, random seed)`` for a run of ``cell`` with ``seed``."""
    cell = normalize_cell(cell)
    if cell["seeding"] == "network2":
        return seed, seed
    words = [int(cell_id(cell)[i:i + 8], 16) for i in (0, 8)]
    state = np.random.SeedSequence(cell["root_seed"], spawn_key=(*words, seed))
    np_seed, py_seed = state.generate_state(2, dtype=np.uint32)
    return int(np_seed), int(py_seed)


def check_seeds(seeds):
    """``seeds``: an int N (seeds 0..N-1) or a list of distinct ints >= 0; a list."""
    if isinstance(seeds, Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise SweepError(f"seeds: need at least one seed, got {seeds}")
        return list(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise SweepError(f"seeds: expected a count or a list of ints, got {seeds!r}")
    seeds = [_int(s, "seeds", low=0) for s in seeds]
    if not seeds:
        raise SweepError("seeds: empty list")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"seeds: repeated seeds in {seeds}")
    return seeds


# ---------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------

def _is_axis(key, value):
    """Whether ``value`` of ``key`` is a list of values (an axis), not one value."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
        return False
    if KEYS[key].sequence:
        return bool(value) and all(isinstance(v, (list, tuple)) for v in value)
    return True


def expand_grid(grid, cells=None, where="grid"):
    """The cells of a grid: every combination of the values of its axes.

    ``grid`` maps keys to one value or to a list of values (an axis; for
    ``sizes`` and ``measure``, a list of lists); ``cells``, an optional
    list of partial cells, each combined with every point of the grid.
    Returns normalised cells, in order, without duplicates.  Empty axes,
    unknown keys and bad values raise :class:`SweepError`.
    """
    if not isinstance(grid, dict):
        raise SweepError(f"{where}: expected a table of keys, got {type(grid).__name__}")
    axes = []
    for key, value in grid.items():
        if key not in KEYS:
            raise _unknown_key(key, where)
        if _is_axis(key, value):
            if not value:
                raise SweepError(f"{where}: {key}: empty list of values")
            axes.append([(key, v) for v in value])
        else:
            if KEYS[key].sequence and isinstance(value, (list, tuple)) and not value:
                raise SweepError(f"{where}: {key}: empty list of values")
            axes.append([(key, value)])
    if cells is not None:
        if not isinstance(cells, (list, tuple)) or not cells:
            raise SweepError(f"{where}: cells must be a non-empty list of tables")
        for i, c in enumerate(cells):
            if not isinstance(c, dict):
                raise SweepError(f"{where}: cells[{i}]: expected a table, got {c!r}")
            both = sorted(set(c) & set(grid))
            if both:
                raise SweepError(f"{where}: cells[{i}] and the grid both set {', '.join(both)}")
    out, seen = [], set()
    for i, base in enumerate(cells or [{}]):
        for point in itertools.product(*axes):
            cell = normalize_cell({**base, **dict(point)},
                                  where=f"{where}: cells[{i}]" if cells else where)
            ident = cell_id(cell)
            if ident not in seen:
                seen.add(ident)
                out.append(cell)
    return out


@dataclass(frozen=True)
class Task:
    """One run: a normalised cell, its id and a seed.

    ``fn``, when given, names an experiment's own run function
    (``"module:function"``, a pure ``(config, seed) -> dict`` such as
    :func:`vgcore.experiments.glorot.run_one`) that runs with ``cell`` as its
    config instead of :func:`run_cell`, on the same backends; ``weight`` is
    then its relative cost.
    """
    cell: dict
    cell_id: str
    seed: int
    fn: str = None
    weight: float = 1.0

    @property
    def name(self):
        return f"{self.cell_id}_s{self.seed}"

    def cost(self):
        """A rough relative cost (multiply-adds of the training), to start long runs first."""
        if self.fn is not None:
            return self.weight
        c, (n_train, _) = self.cell, _n_available(self.cell["data"])
        n = c["n_train"] or n_train
        weights = sum(a * b for a, b in zip(c["sizes"][:-1], c["sizes"][1:]))
        return c["epochs"] * n * weights


def plan(cells, seeds):
    """Every (cell, seed) of a sweep, cells checked first: a list of :class:`Task`."""
    seeds = check_seeds(seeds)
    if not isinstance(cells, (list, tuple)) or not cells:
        raise SweepError("cells: expected a non-empty list of cells")
    normal = [normalize_cell(c, where=f"cell {i}") for i, c in enumerate(cells)]
    return [Task(c, cell_id(c), s) for c in normal for s in seeds]


# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------

_DATA_CACHE = {}      # data spec -> (X_train, y_train, X_val, y_val), per process


def load_arrays(data):
    """``(X_train, y_train, X_validation, y_validation)`` of the data set ``data``
    (``"sample"``, ``"mnist"`` or a path), read-only, loaded once per process."""
    if data not in _DATA_CACHE:
        from .. import mnist_loader
        if data == "sample":
            training, validation, _ = mnist_loader.load_sample()
        else:
            training, validation, _ = mnist_loader.load_data(
                None if data == "mnist" else data, download=False)
        arrays = tuple(np.asarray(a) for a in (*training, *validation))
        for a in arrays:
            a.flags.writeable = False
        _DATA_CACHE[data] = arrays
    return _DATA_CACHE[data]


def _json_float(v):
    v = float(v)
    return v if math.isfinite(v) else None


def run_cell(cell, seed):
    """Train one network of ``cell`` with ``seed``; the measurements as a JSON-able dict.

    - ``accuracy``: validation accuracy counts after every epoch, with
      ``n_validation``, ``best_accuracy`` and ``last_accuracy`` (percent)
      and ``best_epoch`` (1-based);
    - ``cost``: the validation cost after every epoch and ``last_cost``;
    - ``speeds``: the learning speed of every hidden layer at the start of
      every epoch (row 0: at initialisation), on the first ``n_probe``
      training images; for full-batch descent on exactly those images the
      training pass's own norms (the same quantity, as
      :func:`vgcore.experiments.diagnostics.speed_history` explains);
    - ``norms``: the final Frobenius norm of every layer's weights and
      biases;
    - ``warnings``: the warnings training raised (divergence, ...).

    Non-finite values are ``None``.  Same cell and seed, same dict.
    """
    from .. import network2

    cell = normalize_cell(cell)
    seed = _int(seed, "seed", low=0)
    Xtr, ytr, Xva, yva = load_arrays(cell["data"])
    train = (Xtr[:cell["n_train"]], ytr[:cell["n_train"]])
    validation = (Xva[:cell["n_validation"]], yva[:cell["n_validation"]])
    n_probe = min(cell["n_probe"], len(Xtr))
    np_seed, py_seed = derive_seeds(cell, seed)
    with _RUN_LOCK, _shuffles_from(random.Random(py_seed)):
        np.random.seed(np_seed)
        cost = network2.CrossEntropyCost if cell["cost"] == "cross-entropy" else \
            network2.QuadraticCost
        net = network2.Network(cell["sizes"], cost=cost, dtype=np.dtype(cell["dtype"]).type,
                               activation=cell["activation"], init=cell["init"])
        return _train(net, cell, train, validation, (Xtr[:n_probe], ytr[:n_probe]))


#: One run at a time in a process: a run seeds numpy's global generator.
_RUN_LOCK = threading.Lock()


@contextlib.contextmanager
def _shuffles_from(generator):
    """network2 shuffles with ``random.shuffle``, the ``random`` module's
    global generator, as network2 does; but a Dask worker's own threads
    draw from that generator too (seen: in a task that seeds it and waits
    a second, the next number is not the seeded one), so during a run
    network2's name ``random`` is a generator of the run's own, seeded as
    ``random.seed`` would seed the global one (the same shuffles)."""
    from .. import network2

    saved, network2.random = network2.random, generator
    try:
        yield
    finally:
        network2.random = saved


def _train(net, cell, train, validation, probe):
    """The SGD of :func:`run_cell` and its measurements."""
    measure = cell["measure"]
    kwargs = {}
    if "accuracy" in measure or "cost" in measure:
        kwargs.update(evaluation_data=validation,
                      monitor_evaluation_accuracy="accuracy" in measure,
                      monitor_evaluation_cost="cost" in measure)
    fused = (cell["mini_batch_size"] >= len(train[0]) and len(probe[0]) == len(train[0]))
    if "speeds" in measure:
        if fused:
            kwargs["record_minibatch_speeds"] = True
        else:
            kwargs["speed_probe"] = probe
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        ev_cost, ev_acc, _, _ = net.SGD(train, cell["epochs"], cell["mini_batch_size"],
                                        cell["eta"], lmbda=cell["lmbda"], **kwargs)
    out = {}
    if "accuracy" in measure:
        acc, n_val = [int(a) for a in ev_acc], len(validation[0])
        best = int(np.argmax(acc))
        out.update(accuracy=acc, n_validation=n_val, best_accuracy=100.0 * acc[best] / n_val,
                   best_epoch=best + 1, last_accuracy=100.0 * acc[-1] / n_val)
    if "cost" in measure:
        out["cost"] = [_json_float(c) for c in ev_cost]
        out["last_cost"] = out["cost"][-1]
    if "speeds" in measure:
        rows = net.minibatch_speeds if fused else net.speed_history
        out["speeds"] = [[_json_float(v) for v in row] for row in rows]
    if "norms" in measure:
        out["norms"] = {"weights": [_json_float(np.linalg.norm(w)) for w in net.weights],
                        "biases": [_json_float(np.linalg.norm(b)) for b in net.biases]}
    out["warnings"] = sorted({str(w.message).splitlines()[0] for w in caught})
    return out


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

_LIMITER = None


def single_thread_blas():
    """Limit BLAS to one thread (threadpoolctl); the limiter, or None without it.

    Every run uses one BLAS thread, in worker processes and in this
    process alike, so results are bit-for-bit the same whatever runs them
    (and no run's BLAS threads fight another's for the cores).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    from .._support.lazy import load_blas
    load_blas()          # the limit reaches only the BLAS libraries loaded by now
    return threadpool_limits(limits=1)


def _function(fn):
    """The run function a task names: :func:`run_cell` for None, else the
    ``"module:function"`` (imported in the worker)."""
    if fn is None:
        return run_cell
    import importlib

    module, name = fn.split(":")
    return getattr(importlib.import_module(module), name)


def run_task(cell, seed, fn=None):
    """What a worker runs: ``(result, {"seconds", "cpu_seconds", "worker"})``.

    The first call in a process limits BLAS to one thread for the
    process's life (workers are the engine's own processes).
    """
    global _LIMITER
    if _LIMITER is None:
        _LIMITER = single_thread_blas() or True
    t0, c0 = time.perf_counter(), time.process_time()
    result = _function(fn)(cell, seed)
    return result, {"seconds": time.perf_counter() - t0,
                    "cpu_seconds": time.process_time() - c0,
                    "worker": _worker_name()}


def _worker_name():
    """``host:pid`` of this process."""
    import platform
    return f"{platform.node()}:{os.getpid()}"


def _run_here(tasks):
    """Serial backend: the tasks one after the other in this process."""
    limiter = single_thread_blas()
    try:
        for i, t in enumerate(tasks):
            t0, c0 = time.perf_counter(), time.process_time()
            result = _function(t.fn)(t.cell, t.seed)
            yield i, result, {"seconds": time.perf_counter() - t0,
                              "cpu_seconds": time.process_time() - c0,
                              "worker": _worker_name()}
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


def _indexed(i, cell, seed, fn):
    return (i, *run_task(cell, seed, fn))


def _run_loky(tasks, jobs):
    """joblib's loky backend: ``jobs`` worker processes, kept for later sweeps."""
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", n_jobs=min(jobs, len(tasks)),
                         inner_max_num_threads=1):
        gen = Parallel(return_as="generator_unordered", pre_dispatch="2*n_jobs")(
            delayed(_indexed)(i, t.cell, t.seed, t.fn) for i, t in enumerate(tasks))
        yield from gen


DASK_MISSING = ("the Dask backend needs the 'distributed' package (the [dask] extra): "
                "pip install \"vgcore[dask]\"")


def parse_scheduler(scheduler):
    """``"local[N]"`` -> ``("local", N)``; ``"tcp://host:port"`` (or any
    ``scheme://``) -> ``("address", scheduler)``; else :class:`SweepError`."""
    import re

    if not isinstance(scheduler, str):
        raise SweepError(f"--scheduler: expected local[N] or tcp://HOST:PORT, got {scheduler!r}")
    m = re.fullmatch(r"local\[(\d+)\]", scheduler.strip())
    if m:
        n = int(m.group(1))
        if n < 1:
            raise SweepError("--scheduler local[N]: N must be at least 1")
        return "local", n
    if re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", scheduler.strip()):
        return "address", scheduler.strip()
    raise SweepError(f"--scheduler: expected local[N] or tcp://HOST:PORT, got {scheduler!r}")


def dask_client(scheduler, log=print):
    """A ``distributed.Client`` for ``scheduler`` (see :func:`parse_scheduler`) and
    the cluster it started (or None); prints the dashboard's address."""
    kind, value = parse_scheduler(scheduler)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError(DASK_MISSING) from None
    cluster = None
    if kind == "local":
        cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)
    else:
        client = Client(value, timeout="30s")
    link = getattr(client, "dashboard_link", None)
    if link:
        log(f"Dask dashboard: {link}")
    return client, cluster


def _run_dask(tasks, client):
    """Dask: one future per task; results as they complete.  A task whose
    worker dies is run again elsewhere by the scheduler."""
    from distributed import as_completed

    futures = client.map(run_task, [t.cell for t in tasks], [t.seed for t in tasks],
                         [t.fn for t in tasks], key=[f"vgcore-{t.name}" for t in tasks], pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for fut in as_completed(futures):
            result, timing = fut.result()
            yield index[fut.key], result, timing
            fut.release()
    finally:
        client.cancel([f for f in futures if not f.done()])


def run_tasks(tasks, backend="loky", jobs=None, client=None, scheduler=None, log=print):
    """Run ``tasks``; yield ``(index, result, timing)`` as each completes.

    ``backend``: ``"serial"``, ``"loky"`` (``jobs`` processes, default the
    usable CPUs) or ``"dask"`` (``client``, or a client for
    ``scheduler``, default ``local[jobs]``).
    """
    if not tasks:
        return
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].cost())
    ordered = [tasks[i] for i in order]
    if backend == "serial":
        gen = _run_here(ordered)
    elif backend == "loky":
        gen = _run_loky(ordered, jobs or default_jobs())
    elif backend == "dask":
        cluster = None
        if client is None:
            client, cluster = dask_client(scheduler or f"local[{jobs or default_jobs()}]",
                                          log=log)
        gen = _closing(_run_dask(ordered, client),
                       (client, cluster) if cluster is not None else ())
    else:
        raise SweepError(f"backend must be 'serial', 'loky' or 'dask', got {backend!r}")
    for i, result, timing in gen:
        yield order[i], result, timing


def _closing(gen, things):
    try:
        yield from gen
    finally:
        for thing in things:
            with contextlib.suppress(Exception):
                thing.close()


def default_jobs():
    """The number of CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_data(cells):
    """Refuse data that cannot be found here (``"mnist"`` or a path), before
    anything runs.  (Not for a remote cluster: its workers look for themselves.)"""
    from ..errors import MNISTNotFoundError
    from ..data.locate import find_data

    for data in sorted({c["data"] for c in cells} - {"sample"}):
        try:
            find_data(None if data == "mnist" else data, download=False)
        except MNISTNotFoundError as e:
            why = e.searched[0].rsplit(": ", 1)[-1] if e.searched else "not found"
            raise SweepError(f"data {data!r}: {why}; give 'sample', 'mnist' (with "
                             "$VGCORE_MNIST set) or a folder of the four MNIST IDX files "
                             "or mnist.pkl.gz") from None


def check_backend(backend, jobs=None, scheduler=None):
    """Refuse a bad backend before anything runs (and a missing package)."""
    if backend not in ("serial", "loky", "dask"):
        raise SweepError(f"backend must be 'serial', 'loky' or 'dask', got {backend!r}")
    if jobs is not None:
        _int(jobs, "jobs", low=1)
    if scheduler is not None:
        parse_scheduler(scheduler)
        if backend != "dask":
            raise SweepError("--scheduler goes with the dask backend")
    import importlib.util
    needs = {"loky": ("joblib", "the loky backend needs joblib: pip install joblib"),
             "dask": ("distributed", DASK_MISSING)}.get(backend)
    if needs and importlib.util.find_spec(needs[0]) is None:
        raise SweepError(needs[1])


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------

class Store:
    """One JSON file per finished (cell, seed) in ``folder/cells/``.

    A file holds ``{"format", "cell_id", "seed", "cell", "result", "timing"}``;
    it counts as finished only if it parses and names the same cell and
    seed (anything else is run again and overwritten).
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.cells = self.folder / "cells"

    def path(self, task):
        return self.cells / f"{task.name}.json"

    def read(self, task):
        """The stored ``(result, timing)`` of ``task``, or None."""
        p = self.path(task)
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        if (not isinstance(rec, dict) or rec.get("format") != SWEEP_FORMAT
                or rec.get("cell_id") != task.cell_id or rec.get("seed") != task.seed
                or rec.get("cell") != task.cell or not isinstance(rec.get("result"), dict)):
            return None
        return rec["result"], rec.get("timing") or {}

    def write(self, task, result, timing):
        self.cells.mkdir(parents=True, exist_ok=True)
        _files.atomic_write_json(self.path(task), {
            "format": SWEEP_FORMAT, "cell_id": task.cell_id, "seed": task.seed,
            "cell": task.cell, "result": result, "timing": timing},
            indent=None, end="\n", what=f"the result of {task.name}")


def run_sweep(tasks, out=None, backend="loky", jobs=None, client=None, scheduler=None,
              progress=True, log=print, on_result=None, desc="sweep"):
    """Run every task without a stored result; return ``[(result, timing)]`` in task order.

    With ``out``, finished runs are read from (and new ones written to)
    ``out/cells/``.  ``on_result(task, result)`` is called after each new
    run is stored.  Prints (``log``) how many runs were found and the Dask
    dashboard; a tqdm progress bar on stderr counts every run.
    """
    check_backend(backend, jobs, scheduler)
    store = Store(out) if out is not None else None
    done = [store.read(t) if store else None for t in tasks]
    todo = [i for i, d in enumerate(done) if d is None]
    if store and len(todo) < len(tasks):
        log(f"{len(tasks) - len(todo)} of {len(tasks)} runs already in {store.cells}; "
            f"running the other {len(todo)}")
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=desc, unit="run",
               file=sys.stderr, disable=not progress, dynamic_ncols=True)
    try:
        for j, result, timing in run_tasks([tasks[i] for i in todo], backend, jobs, client,
                                           scheduler, log):
            i = todo[j]
            if store:
                store.write(tasks[i], result, timing)
            done[i] = (result, timing)
            if on_result is not None:
                on_result(tasks[i], result)
            bar.update(1)
    finally:
        bar.close()
    return done
