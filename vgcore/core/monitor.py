"""The per-layer health monitor of ``Network.SGD(..., monitor=...)``.

:class:`Monitor` holds the settings (how often to record, optional
histograms, a folder to write to, whether to warn) and, after training,
the records: per layer, every ``every`` mini-batches and at the end of
every epoch, the six metrics of :data:`METRICS` (defined at
:func:`vgcore.core.kernels.sgd_epoch`, computed inside the compiled epoch;
the numpy reference computes the same for a cost of one's own).  Layer
``1`` is the first hidden layer, layer ``L = len(sizes) - 1`` the output
layer.

The records form one tidy table, one row per (record, layer, metric)::

    step, epoch, layer, metric, value

``step`` counts the mini-batches done since the monitor started (the
record describes the stretch of mini-batches since the previous one),
``epoch`` the epochs (0-based; both go on across ``SGD`` calls that share
a monitor).  Histogram bins are rows too, metric ``act_hist[i]`` or
``delta_hist[i]`` (counts; the bins' edges are in the JSON form).  Read it
as :meth:`Monitor.records` (list of dicts), :meth:`Monitor.table` (a
numpy structured array), :meth:`Monitor.series` (one metric as an array
``(records, layers)``), or the files ``monitor.csv`` and ``monitor.json``
(:meth:`Monitor.save`, written atomically; with ``path=`` after every
epoch, so a long run can be watched; :meth:`Monitor.load` reads the JSON
form back, ``vgcore monitor`` draws it).

Warnings (:class:`~vgcore.errors.MonitorWarning`, at most once per kind per
``SGD`` call), from the epoch's records, each stretch weighted by its
number of mini-batches, hidden layers only:

- ``vanishing``/``exploding``: the first hidden layer's ``grad_b`` is
  ``SPEED_RATIO`` (100) times below (above) the last hidden layer's;
- ``saturated``: more than ``SATURATED`` (90%) of a sigmoid, tanh or
  softsign layer's activations are within 0.01 of an asymptote;
- ``dead``: more than ``DEAD`` (50%) of a ReLU layer's units never
  fired in a stretch.
"""
import itertools
import math
import os
import warnings

import numpy as np

from .._support import files as _files
from ..errors import MonitorWarning
from . import reference
from ._checks import check_int, check_path, check_range
from .kernels import MONITOR_EVERY

__all__ = ["Monitor", "METRICS", "COLUMNS", "SPEED_RATIO", "SATURATED", "DEAD"]

#: The metrics of every record (``vgcore.core.kernels.sgd_epoch``'s ``monitor``).
METRICS = reference.MONITOR_METRICS

#: The columns of the tidy table.
COLUMNS = ("step", "epoch", "layer", "metric", "value")

#: Warning thresholds (see the module docstring).
SPEED_RATIO = 100.0
SATURATED = 0.9
DEAD = 0.5

#: Histograms' default range of the activations, by activation (the output
#: layer is sigmoid, within every one of them; values outside go to the end bins).
ACT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0),
              "relu": (0.0, 4.0)}

_FORMAT = "vgcore monitor"


class Monitor:
    """Record per-layer learning speed, activations, saturation and updates.

    Pass one to ``net.SGD(..., monitor=Monitor(...))`` (or ``monitor=True``
    for the defaults; the monitor is then ``net.monitor``)::

        mon = network2.Monitor(every=100, path="run1")
        net.SGD(training_data, 30, 10, 0.1, lmbda=5.0, monitor=mon)
        mon.series("grad_b")          # (records, layers): the learning speeds
        # run1/monitor.csv: step, epoch, layer, metric, value

    ``every``: a record every this many mini-batches, and one at the end of
    every epoch (int >= 1; default 100: ~2% of an epoch of
    ``[784, 30, 30, 30, 30, 10]`` with mini-batches of 10).
    ``histograms``: also count the activations and ``delta`` of each layer
    in ``bins`` equal bins over ``act_range`` (default: the activation's
    range, :data:`ACT_RANGES`) and ``delta_range`` (default ``(-1, 1)``),
    values outside in the end bins (~11% of an epoch more).
    ``path``: a folder (created if missing) where ``monitor.csv`` and
    ``monitor.json`` are rewritten, atomically, after every epoch.
    ``warn``: issue :class:`~vgcore.errors.MonitorWarning` (module docstring).

    A monitor passed to several ``SGD`` calls (of networks of the same
    sizes) keeps recording: ``step`` and ``epoch`` go on.  :meth:`clear`
    forgets the records.
    """

    def __init__(self, every=MONITOR_EVERY, *, histograms=False, bins=50, act_range=None,
                 delta_range=(-1.0, 1.0), path=None, warn=True):
        self.every = check_int(every, "every", 1)
        if not isinstance(histograms, (bool, np.bool_)):
            raise TypeError(f"histograms must be True or False, got {histograms!r}")
        self.histograms = bool(histograms)
        self.bins = check_int(bins, "bins", 1)
        self.act_range = None if act_range is None else check_range(act_range, "act_range")
        self.delta_range = check_range(delta_range, "delta_range")
        self.path = None if path is None else check_path(path, "path")
        if not isinstance(warn, (bool, np.bool_)):
            raise TypeError(f"warn must be True or False, got {warn!r}")
        self.warn = bool(warn)
        self.clear()

    def __repr__(self):
        return (f"Monitor(every={self.every}, histograms={self.histograms}, "
                f"path={self.path!r}: {len(self._steps)} records)")

    def clear(self):
        """Forget every record (the settings stay)."""
        self.sizes = self.activation = None
        self.calls = []                   # one dict of settings per SGD call
        self._steps, self._epochs, self._stretch = [], [], []
        self._values, self._act, self._delta = [], [], []
        self._step = self._epoch = 0

    # ------------------------------------------------------------------
    # Filled by Network.SGD
    # ------------------------------------------------------------------

    def _start(self, sizes, activation, mini_batch_size, eta, lmbda, n, epochs):
        """A new SGD call: check that it fits the records so far."""
        if self.sizes is not None and list(sizes) != self.sizes:
            raise ValueError(f"monitor holds records of a network of sizes {self.sizes}, "
                             f"not {list(sizes)}: use a new Monitor, or clear() it")
        if self.activation is not None and activation != self.activation:
            raise ValueError(f"monitor holds records of a {self.activation} network, not "
                             f"{activation}: use a new Monitor, or clear() it")
        if self.path is not None:        # a folder that cannot be made: say so now
            os.makedirs(self.path, exist_ok=True)
        self.sizes, self.activation = list(sizes), activation
        self.calls.append({"first_epoch": self._epoch, "epochs": epochs,
                           "mini_batch_size": mini_batch_size, "eta": eta, "lmbda": lmbda,
                           "n": n})
        self._warned = set()

    def _histogram_args(self):
        """``(act_hist, delta_hist)`` for the backends: None or ``(lo, hi, bins)``."""
        if not self.histograms:
            return None, None
        act = self.act_range or ACT_RANGES[self.activation]
        return (*act, self.bins), (*self.delta_range, self.bins)

    def _chunks(self, batches, mini_batch_size):
        """Examples per kernel call: about ``batches`` mini-batches, rounded up
        to whole stretches, so that records fall every ``every`` mini-batches
        from the start of the epoch."""
        return -(-batches // self.every) * self.every * mini_batch_size

    def _add(self, ends, records, act_counts, delta_counts):
        """The records of one kernel call of this epoch (``ends``: the
        mini-batches done in the call at each record)."""
        stretch = np.diff(np.concatenate(([0], ends)))
        for r, k in enumerate(stretch):
            self._step += int(k)
            self._steps.append(self._step)
            self._epochs.append(self._epoch)
            self._stretch.append(int(k))
            self._values.append(records[r].copy())
            if act_counts is not None:
                self._act.append(act_counts[r].copy())
                self._delta.append(delta_counts[r].copy())

    def _end_epoch(self):
        """After an epoch: write the files, warn, and count the epoch."""
        if self.path is not None:
            self.save(self.path)
        if self.warn:
            self._check_epoch(self._epoch)
        self._epoch += 1

    # ------------------------------------------------------------------
    # Reading the records
    # ------------------------------------------------------------------

    @property
    def steps(self):
        """The ``step`` of every record: int64 array."""
        return np.array(self._steps, dtype=np.int64)

    @property
    def epochs(self):
        """The ``epoch`` of every record: int64 array."""
        return np.array(self._epochs, dtype=np.int64)

    @property
    def stretches(self):
        """How many mini-batches each record describes: int64 array."""
        return np.array(self._stretch, dtype=np.int64)

    def values(self):
        """Every metric: float64 array ``(records, layers, len(METRICS))``."""
        L = 0 if self.sizes is None else len(self.sizes) - 1
        if not self._values:
            return np.zeros((0, L, len(METRICS)))
        return np.array(self._values)

    def series(self, metric, layer=None):
        """One metric of every record: ``(records, layers)`` float64 (column
        ``l - 1`` is layer ``l``), or ``(records,)`` for one ``layer``."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
        v = self.values()[:, :, METRICS.index(metric)]
        if layer is None:
            return v
        L = v.shape[1]
        layer = check_int(layer, "layer", 1)
        if layer > L:
            raise ValueError(f"layer must be in 1..{L} (1 = the first hidden layer), "
                             f"got {layer}")
        return v[:, layer - 1]

    def histogram(self, kind):
        """``(edges, counts)`` of ``kind`` ``"act"`` or ``"delta"``: the
        ``bins + 1`` edges and int64 counts ``(records, layers, bins)``."""
        if kind not in ("act", "delta"):
            raise ValueError(f"kind must be 'act' or 'delta', got {kind!r}")
        if not self.histograms:
            raise ValueError("this monitor records no histograms (histograms=True)")
        if self.activation is None:
            raise ValueError("the monitor has no records yet")
        lo, hi, bins = self._histogram_args()[0 if kind == "act" else 1]
        counts = self._act if kind == "act" else self._delta
        L = len(self.sizes) - 1
        return (np.linspace(lo, hi, bins + 1),
                np.array(counts) if counts else np.zeros((0, L, bins), np.int64))

    def _rows(self):
        """The tidy table's rows, in order: ``(step, epoch, layer, metric, value)``."""
        hist_names = []
        if self.histograms and self._act:
            hist_names = [(kind, [f"{kind}_hist[{i}]" for i in range(self.bins)])
                          for kind in ("act", "delta")]
        for r, (step, epoch, values) in enumerate(zip(self._steps, self._epochs,
                                                      self._values)):
            for l in range(values.shape[0]):
                for k, metric in enumerate(METRICS):
                    yield step, epoch, l + 1, metric, float(values[l, k])
                for kind, names in hist_names:
                    counts = (self._act if kind == "act" else self._delta)[r][l]
                    for name, c in zip(names, counts):
                        yield step, epoch, l + 1, name, int(c)

    def records(self):
        """The tidy table as a list of dicts with keys :data:`COLUMNS`."""
        return [dict(zip(COLUMNS, row)) for row in self._rows()]

    def table(self):
        """The tidy table as a numpy structured array (fields :data:`COLUMNS`)."""
        rows = list(self._rows())
        width = max([len(r[3]) for r in rows] + [1])
        dtype = [("step", np.int64), ("epoch", np.int64), ("layer", np.int64),
                 ("metric", f"U{width}"), ("value", np.float64)]
        return np.array(rows, dtype=dtype)

    # ------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------

    def to_json(self):
        """The JSON form (a dict): the settings, the columns and the rows
        (NaN, from ``eta = 0``, as null)."""
        hist = None
        if self.histograms and self.activation is not None:
            a, d = self._histogram_args()
            hist = {"bins": self.bins, "act_range": list(a[:2]),
                    "delta_range": list(d[:2])}
        return {
            "format": _FORMAT, "version": 1, "sizes": self.sizes,
            "activation": self.activation, "every": self.every, "metrics": list(METRICS),
            "layers": "1 = the first hidden layer, len(sizes) - 1 = the output layer",
            "histograms": hist, "calls": self.calls, "columns": list(COLUMNS),
            "rows": [[s, e, l, m, v if math.isfinite(v) else None]
                     for s, e, l, m, v in self._rows()],
        }

    def write_csv(self, filename):
        """Write the tidy table as CSV (header ``step,epoch,layer,metric,value``),
        atomically."""
        path = check_path(filename, "filename")

        def write(f):
            f.write(",".join(COLUMNS) + "\n")
            for s, e, l, m, v in self._rows():
                f.write(f"{s},{e},{l},{m},{v!r}\n")
        _files.atomic_write(path, write, what="the monitor's table")

    def write_json(self, filename):
        """Write :meth:`to_json` as a JSON file, atomically."""
        _files.atomic_write_json(check_path(filename, "filename"), self.to_json(), end="\n",
                                 what="the monitor's records")

    def save(self, folder):
        """Write ``monitor.csv`` and ``monitor.json`` into ``folder`` (created
        if missing); returns their paths."""
        folder = check_path(folder, "folder")
        os.makedirs(folder, exist_ok=True)
        csv, js = os.path.join(folder, "monitor.csv"), os.path.join(folder, "monitor.json")
        self.write_csv(csv)
        self.write_json(js)
        return csv, js

    @classmethod
    def load(cls, filename):
        """A monitor holding the records of a ``monitor.json`` file (as
        :meth:`save` writes it), to read or plot them again.  Anything not in
        that form raises ``ValueError`` naming the file and what is wrong."""
        path = check_path(filename, "filename")
        import json
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{filename}: not a monitor's JSON file ({e})") from None
        try:
            return cls._from_json(doc)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ValueError(f"{filename}: not a monitor's JSON file "
                             f"({type(e).__name__}: {e})") from None

    @classmethod
    def _from_json(cls, doc):
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(f"its 'format' is not {_FORMAT!r}")
        if doc.get("version") != 1 or doc.get("columns") != list(COLUMNS):
            raise ValueError("unknown version or columns")
        hist = doc["histograms"]
        mon = cls(doc["every"], histograms=hist is not None,
                  bins=hist["bins"] if hist else 50,
                  act_range=tuple(hist["act_range"]) if hist else None,
                  delta_range=tuple(hist["delta_range"]) if hist else (-1.0, 1.0),
                  warn=False)
        if doc["rows"]:
            mon.sizes, mon.activation = list(doc["sizes"]), doc["activation"]
            if mon.activation not in reference.ACTIVATIONS:
                raise ValueError(f"unknown activation {mon.activation!r}")
        mon.calls = list(doc["calls"])
        L = 0 if mon.sizes is None else len(mon.sizes) - 1
        names = {m: k for k, m in enumerate(METRICS)}
        for kind in ("act", "delta"):
            names.update({f"{kind}_hist[{i}]": (kind, i) for i in range(mon.bins)})
        width = len(METRICS) + (2 * mon.bins if mon.histograms else 0)
        rows = doc["rows"]
        if len(rows) % (L * width or 1):
            raise ValueError(f"{len(rows)} rows are not whole records of {L} layers")
        for r in range(0, len(rows), L * width):
            record = rows[r:r + L * width]
            step, epoch = int(record[0][0]), int(record[0][1])
            values = np.zeros((L, len(METRICS)))
            counts = np.zeros((2, L, mon.bins), dtype=np.int64)
            for row, (l, k) in zip(record, itertools.product(range(L), range(width))):
                s, e, layer, metric, value = row
                if (s, e, layer) != (step, epoch, l + 1) or names.get(metric) is None:
                    raise ValueError(f"row {row!r} is out of place")
                where = names[metric]
                if isinstance(where, int):
                    values[l, where] = np.nan if value is None else float(value)
                else:
                    counts[0 if where[0] == "act" else 1, l, where[1]] = int(value)
            mon._stretch.append(step - (mon._steps[-1] if mon._steps else 0))
            mon._steps.append(step)
            mon._epochs.append(epoch)
            mon._values.append(values)
            if mon.histograms:
                mon._act.append(counts[0])
                mon._delta.append(counts[1])
        if mon._steps:
            mon._step, mon._epoch = mon._steps[-1], mon._epochs[-1] + 1
        return mon

    # ------------------------------------------------------------------
    # Warnings
    # ------------------------------------------------------------------

    def epoch_means(self, epoch):
        """Every metric of ``epoch`` averaged over its records, each weighted
        by its stretch's mini-batches: ``(layers, len(METRICS))``."""
        sel = self.epochs == epoch
        if not sel.any():
            raise ValueError(f"the monitor has no records of epoch {epoch}")
        w = self.stretches[sel].astype(np.float64)
        return np.tensordot(w / w.sum(), self.values()[sel], axes=1)

    def _check_epoch(self, epoch):
        """Warn about what epoch ``epoch``'s records show (once per kind per call)."""
        means = self.epoch_means(epoch)
        hidden = means[:-1]
        for kind, message, layers, values in _findings(hidden, self.activation, epoch):
            if kind in self._warned:
                continue
            self._warned.add(kind)
            from .divergence import callers_level
            warnings.warn(MonitorWarning(message, kind, epoch, layers, values),
                          stacklevel=callers_level())


def _findings(hidden, activation, epoch):
    """``(kind, message, layers, values)`` of what the hidden layers' epoch
    means (``(n_hidden, len(METRICS))``) call for."""
    out = []
    speed = hidden[:, METRICS.index("grad_b")]
    if len(speed) >= 2 and np.all(np.isfinite(speed)) and speed[0] > 0 and speed[-1] > 0:
        ratio = speed[-1] / speed[0]
        last = len(speed)
        if ratio >= SPEED_RATIO:
            out.append(("vanishing", (
                f"epoch {epoch}: hidden layer 1 learns {ratio:.0f}x slower than hidden "
                f"layer {last} (||dC/db|| {speed[0]:.3g} against {speed[-1]:.3g}): the "
                f"gradient vanishes on its way back; try activation='tanh' or 'softsign' "
                f"with init='normalized', or fewer layers"), [1, last], [ratio]))
        elif ratio <= 1 / SPEED_RATIO:
            out.append(("exploding", (
                f"epoch {epoch}: hidden layer 1 learns {1 / ratio:.0f}x faster than hidden "
                f"layer {last} (||dC/db|| {speed[0]:.3g} against {speed[-1]:.3g}): the "
                f"gradient grows on its way back; try smaller initial weights "
                f"(init='default' or 'normalized') or a smaller eta"), [1, last],
                [ratio]))
    sat = hidden[:, METRICS.index("saturated")]
    bad = [l for l in range(len(sat)) if sat[l] > (DEAD if activation == "relu" else SATURATED)]
    if bad:
        where = ", ".join(f"hidden layer {l + 1} ({100 * sat[l]:.0f}%)" for l in bad)
        if activation == "relu":
            out.append(("dead", (
                f"epoch {epoch}: more than {100 * DEAD:.0f}% of the ReLU units are dead "
                f"(never positive in a stretch) in {where}: they no longer learn; try a "
                f"smaller eta or init='he'"), [l + 1 for l in bad], [sat[l] for l in bad]))
        else:
            out.append(("saturated", (
                f"epoch {epoch}: more than {100 * SATURATED:.0f}% of the activations are "
                f"within 0.01 of the {activation}'s asymptotes in {where}: f'(z) ~ 0 there, "
                f"so those units barely learn; try init='normalized' (or smaller initial "
                f"weights), a smaller eta, or activation='tanh'"),
                [l + 1 for l in bad], [sat[l] for l in bad]))
    return out


def check_monitor(monitor):
    """``SGD``'s ``monitor`` argument: None (off), or a :class:`Monitor`."""
    if monitor is None or monitor is False:
        return None
    if monitor is True:
        return Monitor()
    if isinstance(monitor, Monitor):
        return monitor
    raise TypeError(f"monitor must be None, False, True or a Monitor, got {monitor!r}")
