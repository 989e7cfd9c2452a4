"""What a network2 script pays per call and at start-up: vgcore.network2
against network2 itself (``vgcore.bench.baseline``; see ``common.py``)."""
import contextlib
import io
import os
import tempfile

import numpy as np

from .common import (N_TRAIN, N_VALID, NETWORK_IMPLS, NEW_LAYOUT, PER_CALL, Benchmark,
                     min_time, one_blas_thread, per_call_workload, split, workload)


class TimePerCall(Benchmark):
    """One call, as a network2 script makes it, through vgcore or network2."""
    params, param_names = (PER_CALL, NETWORK_IMPLS), ["call", "impl"]

    def setup(self, call, impl):
        one_blas_thread()
        self.one_call = workload(per_call_workload, call, impl)[0]

    def time_call(self, call, impl):
        self.one_call()


class TrackPerCallSpeedup(Benchmark):
    """network2's time per call over vgcore's (CPU time, best of >= 3 runs of
    200 calls in timeit's loop)."""
    params, param_names, unit = [PER_CALL], ["call"], "ratio"

    def setup(self, call):
        one_blas_thread()
        mine = workload(per_call_workload, call, "vgcore")[1]
        theirs = workload(per_call_workload, call, "network2")[1]
        self.mine, self.theirs = (lambda: mine.timeit(200)), (lambda: theirs.timeit(200))

    def track_speedup(self, call):
        t_mine, t_theirs = min_time([self.mine, self.theirs], min_total=0.1)
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
    params, param_names = [NETWORK_IMPLS], ["impl"]
    number, repeat, min_run_count, warmup_time, timeout = 1, (2, 3, 30.0), 1, 0, 600

    def setup(self, impl):
        if not NEW_LAYOUT:
            raise NotImplementedError("needs vgcore.data.py2pickle, vgcore.bench.baseline")
        from vgcore.data.py2pickle import write_nielsen_pickle

        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "mnist.pkl.gz")
        train, valid = split(0, N_TRAIN, np.float32), split(N_TRAIN, N_TRAIN + N_VALID,
                                                              np.float32)
        write_nielsen_pickle(self.path, [(X, labels) for X, _, labels in
                                         (train, valid, valid)])

    def teardown(self, impl):
        self.tmp.cleanup()

    def time_load_data_wrapper(self, impl):
        from vgcore import mnist_loader
        from vgcore.bench import baseline

        if impl == "network2":
            baseline.nielsen_load_data_wrapper(self.path)
        else:
            mnist_loader._cache_clear()      # a fresh process's first load
            mnist_loader.load_data_wrapper(self.path)


class TimeSGDCall(Benchmark):
    """One epoch per ``network2.SGD`` call, [784,30,10] mb10 on 50,000 images:
    the list of pairs (converted once, then reused) against the arrays."""
    params, param_names = [["list of pairs", "arrays"]], ["data"]
    number, repeat, min_run_count, warmup_time = 1, (2, 5, 20.0), 1, 0

    def setup(self, data):
        import vgcore.network2 as vg

        one_blas_thread()
        X, _, labels = split(0, N_TRAIN, np.float32)
        if data == "arrays":
            self.data = (X, labels)
        else:
            self.data = list(zip(X.reshape(N_TRAIN, 784, 1),
                                 (vg.vectorized_result(int(k)) for k in labels)))
        np.random.seed(0)
        self.net = vg.Network([784, 30, 10])
        with contextlib.redirect_stdout(io.StringIO()):
            self.net.SGD(self.data, 1, 10, 0.1, lmbda=5.0)     # converts the list once

    def time_sgd_one_epoch(self, data):
        with contextlib.redirect_stdout(io.StringIO()):
            self.net.SGD(self.data, 1, 10, 0.1, lmbda=5.0)
