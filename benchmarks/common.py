"""asv benchmarks of vgcore: what every ``bench_*.py`` file shares.

The suite is split as numpy's is: this module holds the data (read once,
cached), the workloads and the common base class; each ``bench_*.py`` file
holds short benchmark classes that name a workload and its parameters.

Every kernel workload is timed twice, once through ``vgcore.core.kernels``
(the compiled core, what ``vgcore.network2`` uses for the built-in costs)
and once through ``vgcore.core.reference`` (the pure-numpy oracle), as the
``impl`` parameter, so the dashboard draws both on one graph.
``TrackSpeedup`` records the ratio ``reference time / kernels time``
directly and ``PeakMem`` the peak memory.

Workloads (chapter 5 of *Neural Networks and Deep Learning*), in
``bench_epoch.py``, ``bench_evaluate.py``, ``bench_speed.py``,
``bench_speedup.py`` and ``bench_memory.py``:

- ``TimeEpoch``: one SGD epoch over the 50,000 training images, mini-batch
  10, eta 0.1, lmbda 5.0, float64, for the chapter's depth sweep
  ``[784,30,10]`` ... ``[784,30,30,30,30,10]`` and for the wider
  ``[784,100,10]``;
- ``TimeEpochFloat32``: the same in float32;
- ``TimeFullBatch``: one step of full-batch gradient descent on the first
  1,000 images (mini-batch 1,000: what the chapter's 500-epoch learning-speed
  runs repeat);
- ``TimeEvaluate``: accuracy and total cost of the 10,000 validation images;
- ``TimeLearningSpeed``: the chapter's learning-speed measurement,
  ``mean_nabla_b`` over the first 1,000 training images.

And (``bench_network2.py``) what a network2 script pays per call and at
start-up, through ``vgcore.network2`` against network2 itself
(``vgcore.bench.baseline``, written from SPEC.md), as ``impl``
``"vgcore"``/``"network2"``:

- ``TimePerCall`` / ``TrackPerCallSpeedup``: one call of ``feedforward``,
  ``backprop``, ``update_mini_batch`` of 10 pairs, ``accuracy``/``total_cost``
  of 5 pairs, the costs' ``fn``/``delta`` (``[784,30,30,10]``);
- ``timeraw_import_network2`` (and ``timeraw_import_numpy``, network2's own
  import): ``import vgcore.network2`` in a fresh interpreter;
- ``TimeLoadDataWrapper``: ``load_data_wrapper()`` of a ``mnist.pkl.gz``
  written in Nielsen's format from the same data, against network2's loader;
- ``TimeSGDCall``: one epoch of ``[784,30,10]`` mb10 per ``network2.SGD``
  call, from the list of pairs and from the arrays (the list is converted
  once and reused).

Kernels: the path in use (``$VGCORE_CPU``, or the fastest this CPU runs:
avx512, avx2, baseline, blas) is recorded by ``track_kernel_path``
(``bench_machine.py``); run
``VGCORE_CPU=avx2 asv run ...`` to time another on the same machine.

Data: the full MNIST training file from the folder ``$VGCORE_MNIST`` (the
four IDX ``.gz`` files), read by the loader's own reader
(``vgcore.data.idx``), when that is set, else deterministic random pixels
and labels of the same shape (seeded; timings do not depend on the pixel
values, so the numbers are comparable).  Nothing is ever downloaded.  The
raw ``uint8`` pixels are read once when the module is imported (asv imports
it once per run and forks each benchmark from there), and each benchmark's
``setup`` only converts the slice it needs.

BLAS is limited to one thread (threadpoolctl) in every ``setup``, and
times are CPU times of the process (``time.process_time``, asv's ``timer``
attribute) rather than wall-clock times: with one thread they are the same
on an idle machine, and CPU time is much less disturbed by other work on a
shared 2-core machine, so ratios and commit-to-commit comparisons are
stable.  (Work moved to extra threads would show up as more CPU time.)

Older commits: ``asv run HEAD~5..HEAD`` and ``asv continuous main HEAD``
run this suite against commits made before vgcore's layout by layer
(``vgcore.core``, ``vgcore.data``, ``vgcore.bench.*``); the kernel
benchmarks import the old module paths there, and the per-call and
start-up benchmarks, which need the new ones, are skipped.
"""

import os
import time

import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - the bench/test extras install it
    threadpool_limits = None

try:                                  # vgcore's layout by layer
    from vgcore._support.lazy import load_blas
    from vgcore.bench.workloads import init_net  # network2's initialisation, seeded
    from vgcore.core import kernels
    from vgcore.core import reference as ref
    from vgcore.core.datasets import one_hot
    from vgcore.data.idx import pixels_as_floats, read_idx
    NEW_LAYOUT = True
except ImportError:                   # a commit before it (asv run on history)
    from vgcore import kernels
    from vgcore import reference as ref
    from vgcore._lazy import load_blas
    from vgcore.bench import _init_net as init_net
    from vgcore.datasets import one_hot
    from vgcore.mnist_loader import _read_idx as read_idx
    NEW_LAYOUT = False

    def pixels_as_floats(images, dtype):
        return images.astype(dtype) / dtype(256.0)

load_blas()     # the extensions' BLAS is loaded before the limit below is set

IMPLS = ["kernels", "reference"]

#: The chapter's depth sweep plus the wider net, by display name.
SIZES = {
    "784-30-10": [784, 30, 10],
    "784-30-30-10": [784, 30, 30, 10],
    "784-30-30-30-10": [784, 30, 30, 30, 10],
    "784-30-30-30-30-10": [784, 30, 30, 30, 30, 10],
    "784-100-10": [784, 100, 10],
}
DEPTH_SWEEP = ["784-30-10", "784-30-30-10", "784-30-30-30-10", "784-30-30-30-30-10"]
DEEP = ["784-30-30-10", "784-30-30-30-10", "784-30-30-30-30-10"]

N_TRAIN = 50_000        # training split: the first 50,000 images of the file
N_VALID = 10_000        # validation split: the last 10,000
N_SMALL = 1_000         # the chapter's learning-speed set: the first 1,000
ETA, LMBDA = 0.1, 5.0


# ---------------------------------------------------------------------------
# Data, read once
# ---------------------------------------------------------------------------

def _load_raw():
    """``(pixels (60000, 784) uint8, labels (60000,) int64, source name)``."""
    d = os.environ.get("VGCORE_MNIST")
    if d:
        images = os.path.join(d, "train-images-idx3-ubyte.gz")
        labels = os.path.join(d, "train-labels-idx1-ubyte.gz")
        if os.path.isfile(images) and os.path.isfile(labels):
            return (read_idx(images, "images", 60_000),
                    read_idx(labels, "labels", 60_000).astype(np.int64), "mnist")
    rng = np.random.default_rng(20_151_205)
    pixels = rng.integers(0, 256, size=(60_000, 784), dtype=np.uint8)
    return pixels, rng.integers(0, 10, size=60_000).astype(np.int64), "random"


PIXELS, LABELS, DATA_SOURCE = _load_raw()
_SPLITS = {}


def split(start, stop, dtype):
    """Rows ``start:stop`` as ``(X, Y, labels)``: X = pixels / 256, Y one-hot (cached)."""
    key = (start, stop, np.dtype(dtype).str)
    if key not in _SPLITS:
        labels = LABELS[start:stop]
        _SPLITS[key] = (pixels_as_floats(PIXELS[start:stop], dtype),
                        one_hot(labels, 10, dtype), labels)
    return _SPLITS[key]


# ---------------------------------------------------------------------------
# Workloads: each returns a zero-argument callable doing the timed work.
# Their arguments are the benchmarks' parameters, in the same order.
# ---------------------------------------------------------------------------

def epoch_workload(sizes, impl, dtype=np.float64, n_images=N_TRAIN, mini_batch_size=10):
    """One SGD epoch over the first ``n_images`` in one fixed shuffled order.

    Every call starts from the same initial weights (copying them costs
    microseconds), so repeated calls do identical work.
    """
    X, Y, labels = split(0, n_images, dtype)
    W0, B0 = init_net(SIZES[sizes], dtype)
    order = np.random.default_rng(1).permutation(n_images).astype(np.int64)
    if impl == "kernels":
        def run():   # one-hot targets as their labels, as vgcore.network2 passes them
            W = [w.copy() for w in W0]
            B = [b.copy() for b in B0]
            kernels.sgd_epoch(W, B, X, labels, order, mini_batch_size, ETA, LMBDA,
                              n_images)
            return W, B
    else:
        def run():  # returns new lists, leaves W0 and B0 alone
            return ref.sgd_epoch(W0, B0, X, Y, order, mini_batch_size, ETA, LMBDA,
                                 n=n_images)
    return run


def full_batch_workload(sizes, impl, dtype=np.float64):
    """One step of full-batch gradient descent on the first 1,000 images."""
    return epoch_workload(sizes, impl, dtype, n_images=N_SMALL, mini_batch_size=N_SMALL)


def evaluate_workload(sizes, impl, dtype=np.float64):
    """Accuracy and total cost (lmbda 5.0) of the 10,000 validation images."""
    X, Y, labels = split(N_TRAIN, N_TRAIN + N_VALID, dtype)
    W, B = init_net(SIZES[sizes], dtype)
    if impl == "kernels":
        return lambda: kernels.evaluate(W, B, X, Y, LMBDA)
    return lambda: (ref.accuracy(W, B, X, labels), ref.total_cost(W, B, X, Y, LMBDA))


def learning_speed_workload(sizes, impl, dtype=np.float64):
    """``mean_nabla_b`` over the first 1,000 training images, at initialisation."""
    X, Y, _ = split(0, N_SMALL, dtype)
    W, B = init_net(SIZES[sizes], dtype)
    fn = kernels.mean_nabla_b if impl == "kernels" else ref.mean_nabla_b
    return lambda: fn(W, B, X, Y)


def per_call_workload(call, impl):
    """``(one_call, timer)`` for ``call`` made the way a network2 script makes
    it, through vgcore or network2 (``vgcore bench``'s per-call cases; ``x``
    float32 as ``load_data_wrapper`` gives it): a function making one call,
    and its statement's :func:`vgcore.bench.startup.call_timer` (the calls
    in timeit's own loop, for the ratios)."""
    if not NEW_LAYOUT:
        raise NotImplementedError("needs vgcore.bench.startup")
    from vgcore.bench.startup import call_timer, per_call_workloads

    X, _, labels = split(0, 10, np.float32)
    calls = {name: (statement, mine, theirs) for name, statement, mine, theirs, _ in
             per_call_workloads({"X": {np.float32: X}, "labels": labels})}
    statement, mine, theirs = calls[call]
    names = mine if impl == "vgcore" else theirs
    one_call = eval(f"lambda: {statement}", names)
    one_call()                               # warm: first calls load things
    return one_call, call_timer(statement, names)


#: The per-call cases (the names of ``vgcore bench``'s per-call table).
PER_CALL = ["feedforward(x)", "backprop(x, y)", "update_mini_batch, 10 pairs",
            "accuracy, 5 pairs", "total_cost, 5 pairs", "CrossEntropyCost.fn",
            "CrossEntropyCost.delta", "QuadraticCost.fn", "QuadraticCost.delta"]
NETWORK_IMPLS = ["vgcore", "network2"]

#: Cases for the speed-up and memory benchmarks: name -> (factory, sizes, kw).
#: The epoch cases of ``TrackSpeedup`` use the first 10,000 images (1,000
#: mini-batches) instead of 50,000 to keep the reference's share short; the
#: work per mini-batch, and so the ratio, is the same.
CASES = {
    **{f"epoch {s}": (epoch_workload, s, {"n_images": 10_000}) for s in SIZES},
    **{f"epoch {s} float32": (epoch_workload, s, {"n_images": 10_000, "dtype": np.float32})
       for s in ["784-30-10", "784-100-10"]},
    **{f"full-batch {s}": (full_batch_workload, s, {}) for s in DEEP},
    **{f"evaluate {s}": (evaluate_workload, s, {})
       for s in ["784-30-10", "784-30-30-30-30-10"]},
    **{f"mean_nabla_b {s}": (learning_speed_workload, s, {}) for s in DEEP},
}

_WORKLOADS = {}


def workload(factory, *params, **kw):
    """``factory(*params, **kw)``, made once per process.

    asv runs ``setup`` again before every sample; reusing the same arrays
    keeps that cheap and keeps the timed calls from starting on freshly
    allocated (cold) memory.  No workload modifies its inputs.
    """
    key = (factory.__name__, params, tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _WORKLOADS:
        _WORKLOADS[key] = factory(*params, **kw)
    return _WORKLOADS[key]


# ---------------------------------------------------------------------------
# The benchmarks' base class
# ---------------------------------------------------------------------------

def one_blas_thread():
    """Limit numpy's and SciPy's OpenBLAS to one thread, for good.

    Never restored: every benchmark process only runs benchmarks, and
    switching the thread count back and forth between samples would start
    and stop BLAS worker threads inside the measurements.
    """
    if threadpool_limits is not None:
        threadpool_limits(1)


one_blas_thread()   # at import (asv forks the benchmarks from this process)


class Benchmark:
    """One BLAS thread; CPU time of the process as the timer; ``self.run``, the
    workload ``factory(*params, **options)`` (made once per process)."""

    timeout = 600
    timer = time.process_time
    factory = None
    options = {}

    def setup(self, *params):
        one_blas_thread()
        self.run = workload(type(self).factory, *params, **self.options)


class LongBenchmark(Benchmark):
    """A call of 0.1-3 s: one call per sample, no warm-up calls, and 2 to 5
    samples per round (asv's default of at least 2 runs would double the
    time of ``asv run --quick``)."""

    number = 1
    repeat = (2, 5, 10.0)
    min_run_count = 1
    warmup_time = 0


def min_time(fns, min_repeat=3, min_total=0.3, max_repeat=100):
    """Best time per call of each callable in ``fns``.

    The callables run in turn (interleaved, so a slow phase of the machine
    hits all of them); each one stops once it has run ``min_repeat`` times
    and for ``min_total`` seconds in all (or ``max_repeat`` times).
    """
    best = [float("inf")] * len(fns)
    spent = [0.0] * len(fns)
    runs = [0] * len(fns)

    def done(i):
        return runs[i] >= max_repeat or (runs[i] >= min_repeat and spent[i] >= min_total)

    while not all(done(i) for i in range(len(fns))):
        for i, fn in enumerate(fns):
            if done(i):
                continue
            t0 = time.process_time()
            fn()
            dt = time.process_time() - t0
            best[i] = min(best[i], dt)
            spent[i] += dt
            runs[i] += 1
    return best
