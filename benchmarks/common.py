"""asv benchmarks of vgcore: the compiled kernels against the numpy reference.

Every workload is timed twice, once through ``vgcore.kernels`` (the compiled
core, what ``vgcore.network2`` uses for the built-in costs) and once through
``vgcore.reference`` (the pure-numpy oracle), as the ``impl`` parameter, so
the dashboard draws both on one graph.  ``TrackSpeedup`` records the ratio
``reference time / kernels time`` directly and ``PeakMem`` the peak memory.

Workloads (chapter 5 of *Neural Networks and Deep Learning*):

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

And what a network2 script pays per call and at start-up, through
``vgcore.network2`` against network2 itself (``vgcore.bench``'s baseline,
written from SPEC.md), as ``impl`` ``"vgcore"``/``"network2"``:

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
avx512, avx2, baseline, blas) is recorded by ``track_kernel_path``; run
``VGCORE_CPU=avx2 asv run ...`` to time another on the same machine.

Data: the full MNIST training file from the folder ``$VGCORE_MNIST`` (the
four IDX ``.gz`` files) when that is set, else deterministic random pixels
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
"""
import gzip
import os
import time
from pathlib import Path

import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - the bench/test extras install it
    threadpool_limits = None

from vgcore.core import kernels
from vgcore.core import reference as ref
from vgcore._support.lazy import load_blas
from vgcore.bench.workloads import init_net as _network  # network2's initialisation, seeded

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
# Data
# ---------------------------------------------------------------------------

def _read_idx_gz(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def _load_raw():
    """``(pixels (60000, 784) uint8, labels (60000,) int64, source name)``."""
    d = os.environ.get("VGCORE_MNIST")
    if d:
        images = Path(d) / "train-images-idx3-ubyte.gz"
        labels = Path(d) / "train-labels-idx1-ubyte.gz"
        if images.is_file() and labels.is_file():
            pixels = _read_idx_gz(images, 16).reshape(60_000, 784)
            return pixels, _read_idx_gz(labels, 8).astype(np.int64), "mnist"
    rng = np.random.default_rng(20_151_205)
    pixels = rng.integers(0, 256, size=(60_000, 784), dtype=np.uint8)
    return pixels, rng.integers(0, 10, size=60_000).astype(np.int64), "random"


_PIXELS, _LABELS, DATA_SOURCE = _load_raw()
_CACHE = {}


def _split(start, stop, dtype):
    """Rows ``start:stop`` as ``(X, Y, labels)``: X = pixels / 256, Y one-hot."""
    key = (start, stop, np.dtype(dtype).str)
    if key not in _CACHE:
        X = _PIXELS[start:stop].astype(dtype)
        X /= dtype(256.0)
        labels = _LABELS[start:stop]
        Y = np.zeros((stop - start, 10), dtype=dtype)
        Y[np.arange(stop - start), labels] = 1
        _CACHE[key] = (X, Y, labels)
    return _CACHE[key]


# ---------------------------------------------------------------------------
# Workloads: each returns a zero-argument callable doing the timed work
# ---------------------------------------------------------------------------

def epoch_workload(impl, sizes, dtype=np.float64, n_images=N_TRAIN, mini_batch_size=10):
    """One SGD epoch over the first ``n_images`` in one fixed shuffled order.

    Every call starts from the same initial weights (copying them costs
    microseconds), so repeated calls do identical work.
    """
    X, Y, labels = _split(0, n_images, dtype)
    W0, B0 = _network(SIZES[sizes], dtype)
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


def evaluate_workload(impl, sizes, dtype=np.float64):
    """Accuracy and total cost (lmbda 5.0) of the 10,000 validation images."""
    X, Y, labels = _split(N_TRAIN, N_TRAIN + N_VALID, dtype)
    W, B = _network(SIZES[sizes], dtype)
    if impl == "kernels":
        return lambda: kernels.evaluate(W, B, X, Y, LMBDA)
    return lambda: (ref.accuracy(W, B, X, labels), ref.total_cost(W, B, X, Y, LMBDA))


def learning_speed_workload(impl, sizes, dtype=np.float64):
    """``mean_nabla_b`` over the first 1,000 training images, at initialisation."""
    X, Y, _ = _split(0, N_SMALL, dtype)
    W, B = _network(SIZES[sizes], dtype)
    fn = kernels.mean_nabla_b if impl == "kernels" else ref.mean_nabla_b
    return lambda: fn(W, B, X, Y)


def full_batch_workload(impl, sizes, dtype=np.float64):
    """One step of full-batch gradient descent on the first 1,000 images."""
    return epoch_workload(impl, sizes, dtype, n_images=N_SMALL, mini_batch_size=N_SMALL)


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------

def _one_blas_thread():
    """Limit numpy's and SciPy's OpenBLAS to one thread, for good.

    Never restored: every benchmark process only runs benchmarks, and
    switching the thread count back and forth between samples would start
    and stop BLAS worker threads inside the measurements.
    """
    if threadpool_limits is not None:
        threadpool_limits(1)


_one_blas_thread()   # at import (asv forks the benchmarks from this process)

_WORKLOADS = {}


def _workload(factory, impl, sizes, **kw):
    """``factory(impl, sizes, **kw)``, made once per process.

    asv runs ``setup`` again before every sample; reusing the same arrays
    keeps that cheap and keeps the timed calls from starting on freshly
    allocated (cold) memory.  No workload modifies its inputs.
    """
    key = (factory.__name__, impl, sizes, tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _WORKLOADS:
        _WORKLOADS[key] = factory(impl, sizes, **kw)
    return _WORKLOADS[key]

class _Bench:
    """Common setup: one BLAS thread; CPU time of the process as the timer."""

    timeout = 600
    timer = time.process_time

    def _common_setup(self):
        _one_blas_thread()


class TimeEpoch(_Bench):
    """One epoch, 50,000 images, mini-batch 10, eta 0.1, lmbda 5.0, float64."""

    params = (list(SIZES), IMPLS)
    param_names = ["sizes", "impl"]
    # Each call takes 0.1-3 s: one call per sample, no warm-up calls, and
    # 2 to 5 samples per round (asv's default of at least 2 runs would
    # double the time of `asv run --quick`).
    number = 1
    repeat = (2, 5, 10.0)
    min_run_count = 1
    warmup_time = 0

    def setup(self, sizes, impl):
        self._common_setup()
        self.run = _workload(epoch_workload, impl, sizes, dtype=np.float64)

    def time_epoch(self, sizes, impl):
        self.run()


class TimeEpochFloat32(TimeEpoch):
    """One epoch as in ``TimeEpoch``, in float32."""

    params = (["784-30-10", "784-100-10"], IMPLS)

    def setup(self, sizes, impl):
        self._common_setup()
        self.run = _workload(epoch_workload, impl, sizes, dtype=np.float32)


class TimeFullBatch(_Bench):
    """Full-batch gradient descent step on 1,000 images (mini-batch 1,000)."""

    params = (DEEP, IMPLS)
    param_names = ["sizes", "impl"]

    def setup(self, sizes, impl):
        self._common_setup()
        self.run = _workload(full_batch_workload, impl, sizes)

    def time_full_batch(self, sizes, impl):
        self.run()


class TimeEvaluate(_Bench):
    """Accuracy and cost of the 10,000 validation images."""

    params = (["784-30-10", "784-30-30-30-30-10"], IMPLS)
    param_names = ["sizes", "impl"]

    def setup(self, sizes, impl):
        self._common_setup()
        self.run = _workload(evaluate_workload, impl, sizes)

    def time_evaluate(self, sizes, impl):
        self.run()


class TimeLearningSpeed(_Bench):
    """The chapter's learning speed: ``mean_nabla_b`` on 1,000 images."""

    params = (DEEP, IMPLS)
    param_names = ["sizes", "impl"]

    def setup(self, sizes, impl):
        self._common_setup()
        self.run = _workload(learning_speed_workload, impl, sizes)

    def time_mean_nabla_b(self, sizes, impl):
        self.run()


#: Cases for the speed-up and memory benchmarks: name -> (factory, sizes, kw).
#: The epoch cases of ``TrackSpeedup`` use the first 10,000 images (1,000
#: mini-batches) instead of 50,000 to keep the reference's share short; the
#: work per mini-batch, and so the ratio, is the same.
CASES = {
    **{f"epoch {s}": (epoch_workload, s, {"n_images": 10_000}) for s in SIZES},
    **{f"epoch {s} float32": (epoch_workload, s, {"n_images": 10_000, "dtype": np.float32})
       for s in ["784-30-10", "784-100-10"]},
    **{f"full-batch {s}": (full_batch_workload, s, {}) for s in DEEP},
    **{f"evaluate {s}": (evaluate_workload, s, {}) for s in ["784-30-10", "784-30-30-30-30-10"]},
    **{f"mean_nabla_b {s}": (learning_speed_workload, s, {}) for s in DEEP},
}


def _min_time(fns, min_repeat=3, min_total=0.3, max_repeat=100):
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


class TrackSpeedup(_Bench):
    """Speed-up of the kernels: reference CPU time / kernels CPU time (best of >= 3)."""

    params = [list(CASES)]
    param_names = ["case"]
    unit = "ratio"
    timeout = 600

    def setup(self, case):
        self._common_setup()
        factory, sizes, kw = CASES[case]
        self.kernels = _workload(factory, "kernels", sizes, **kw)
        self.reference = _workload(factory, "reference", sizes, **kw)

    def track_speedup(self, case):
        t_kernels, t_reference = _min_time([self.kernels, self.reference])
        return t_reference / t_kernels


class PeakMem(_Bench):
    """Peak resident memory of the process around one call.

    asv's peakmem is the process's maximum RSS, so it includes the
    interpreter, numpy/scipy and the benchmark data (the raw pixels, about
    47 MB, and the converted slice); compare kernels with reference, and
    commits with each other.
    """

    params = (["epoch 784-30-10 (50,000 images)", "full-batch 784-30-30-30-30-10",
               "evaluate 784-30-10", "mean_nabla_b 784-30-30-30-30-10"], IMPLS)
    param_names = ["case", "impl"]

    def setup(self, case, impl):
        self._common_setup()
        if case.startswith("epoch"):
            self.run = _workload(epoch_workload, impl, "784-30-10")
        else:
            factory, sizes, kw = CASES[case]
            self.run = _workload(factory, impl, sizes, **kw)

    def peakmem_call(self, case, impl):
        self.run()


def track_data_is_full_mnist():
    """1 when the benchmarks ran on the full MNIST ($VGCORE_MNIST), 0 on random data."""
    return int(DATA_SOURCE == "mnist")


track_data_is_full_mnist.unit = "bool"


# ---------------------------------------------------------------------------
# Per call and start-up: vgcore.network2 against network2
# ---------------------------------------------------------------------------

PER_CALL = ["feedforward", "backprop", "update_mini_batch 10", "accuracy 5",
            "total_cost 5", "CrossEntropyCost.fn", "CrossEntropyCost.delta",
            "QuadraticCost.fn", "QuadraticCost.delta"]
NETWORK_IMPLS = ["vgcore", "network2"]


def per_call_workload(impl, case):
    """A zero-argument callable making one call of ``case`` the way a
    network2 script does it (``x`` float32 as ``load_data_wrapper`` gives it)."""
    import vgcore.network2 as vg
    from vgcore.bench import baseline as bench

    X, _, labels = _split(0, 10, np.float32)
    np.random.seed(0)
    net = vg.Network([784, 30, 30, 10])
    if impl == "network2":
        costs = (bench.Network2CrossEntropyCost, bench.Network2QuadraticCost)
        net = bench.PerExampleNetwork(net.weights, net.biases)
    else:
        costs = (vg.CrossEntropyCost, vg.QuadraticCost)
    x, y = X[0].reshape(784, 1), vg.vectorized_result(int(labels[0]))
    batch = [(X[i].reshape(784, 1), vg.vectorized_result(int(labels[i]))) for i in range(10)]
    few = [(X[i].reshape(784, 1), labels[i]) for i in range(5)]
    a, z = vg.sigmoid(np.linspace(-2, 2, 10)[:, None]), np.linspace(-3, 3, 10)[:, None]
    return {
        "feedforward": lambda: net.feedforward(x),
        "backprop": lambda: net.backprop(x, y),
        "update_mini_batch 10": lambda: net.update_mini_batch(batch, 0.1, 5.0, 50_000),
        "accuracy 5": lambda: net.accuracy(few),
        "total_cost 5": lambda: net.total_cost(few, 5.0, convert=True),
        "CrossEntropyCost.fn": lambda: costs[0].fn(a, y),
        "CrossEntropyCost.delta": lambda: costs[0].delta(z, a, y),
        "QuadraticCost.fn": lambda: costs[1].fn(a, y),
        "QuadraticCost.delta": lambda: costs[1].delta(z, a, y),
    }[case]


class TimePerCall(_Bench):
    """One call, as a network2 script makes it, through vgcore or network2."""

    params = (PER_CALL, NETWORK_IMPLS)
    param_names = ["call", "impl"]

    def setup(self, call, impl):
        self._common_setup()
        self.run = _workload(per_call_workload, impl, call)
        self.run()

    def time_call(self, call, impl):
        self.run()


class TrackPerCallSpeedup(_Bench):
    """network2's time per call over vgcore's (CPU time, best of >= 3 runs)."""

    params = [PER_CALL]
    param_names = ["call"]
    unit = "ratio"

    def setup(self, call):
        self._common_setup()
        mine = _workload(per_call_workload, "vgcore", call)
        theirs = _workload(per_call_workload, "network2", call)

        def batch(fn, k=200):
            def run():
                for _ in range(k):
                    fn()
            return run
        self.mine, self.theirs = batch(mine), batch(theirs)

    def track_speedup(self, call):
        t_mine, t_theirs = _min_time([self.mine, self.theirs], min_total=0.1)
        return t_theirs / t_mine


def timeraw_import_network2():
    """``import vgcore.network2`` in a fresh interpreter (SciPy not loaded)."""
    return "import vgcore.network2"


def timeraw_import_numpy():
    """``import numpy`` in a fresh interpreter: what network2's own import costs."""
    return "import numpy"


class TimeLoadDataWrapper:
    """``load_data_wrapper()`` of Nielsen's ``mnist.pkl.gz``, vgcore against
    network2's loader (wall time: most of it is gzip and memory)."""

    params = [NETWORK_IMPLS]
    param_names = ["impl"]
    number = 1
    repeat = (2, 3, 30.0)
    min_run_count = 1
    warmup_time = 0
    timeout = 600

    def setup(self, impl):
        import tempfile
        from vgcore.data.py2pickle import write_nielsen_pickle

        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "mnist.pkl.gz")
        train = _split(0, N_TRAIN, np.float32)
        valid = _split(N_TRAIN, N_TRAIN + N_VALID, np.float32)
        write_nielsen_pickle(self.path, [(X, labels) for X, _, labels in
                                         (train, valid, valid)])

    def teardown(self, impl):
        self.tmp.cleanup()

    def time_load_data_wrapper(self, impl):
        from vgcore import mnist_loader
        from vgcore.bench import baseline as bench

        if impl == "network2":
            bench.nielsen_load_data_wrapper(self.path)
        else:
            mnist_loader._cache_clear()      # a fresh process's first load
            mnist_loader.load_data_wrapper(self.path)


class TimeSGDCall(_Bench):
    """One epoch per ``network2.SGD`` call, [784,30,10] mb10 on 50,000 images:
    the list of pairs (converted once, then reused) against the arrays."""

    params = [["list of pairs", "arrays"]]
    param_names = ["data"]
    number = 1
    repeat = (2, 5, 20.0)
    min_run_count = 1
    warmup_time = 0

    def setup(self, data):
        import contextlib
        import io

        import vgcore.network2 as vg

        self._common_setup()
        X, _, labels = _split(0, N_TRAIN, np.float32)
        if data == "arrays":
            self.data = (X, labels)
        else:
            self.data = list(zip(X.reshape(N_TRAIN, 784, 1),
                                 (vg.vectorized_result(int(k)) for k in labels)))
        np.random.seed(0)
        self.net = vg.Network([784, 30, 10])
        self.quiet = lambda: contextlib.redirect_stdout(io.StringIO())
        with self.quiet():
            self.net.SGD(self.data, 1, 10, 0.1, lmbda=5.0)     # converts the list once

    def time_sgd_one_epoch(self, data):
        with self.quiet():
            self.net.SGD(self.data, 1, 10, 0.1, lmbda=5.0)

#: The kernels' paths, numbered for the graph (higher: wider vectors).
PATH_NUMBERS = {"blas": 0, "baseline": 1, "avx2": 2, "avx512": 3}


def track_kernel_path():
    """Which kernels the run timed: 0 blas, 1 baseline, 2 avx2, 3 avx512
    (the fastest this CPU runs, or ``$VGCORE_CPU``); a change of machine or
    of path shows up here beside the times it explains."""
    return PATH_NUMBERS[kernels.cpu_path()]


track_kernel_path.unit = "path (0 blas, 1 baseline, 2 avx2, 3 avx512)"
