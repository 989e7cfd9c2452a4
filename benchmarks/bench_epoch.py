"""SGD epochs: the kernels against the numpy reference (see ``common.py``)."""
import numpy as np

from .common import (DEEP, IMPLS, SIZES, Benchmark, LongBenchmark, epoch_workload,
                     full_batch_workload)


class TimeEpoch(LongBenchmark):
    """One epoch, 50,000 images, mini-batch 10, eta 0.1, lmbda 5.0, float64."""
    params, param_names = (list(SIZES), IMPLS), ["sizes", "impl"]
    factory = epoch_workload

    def time_epoch(self, sizes, impl):
        self.run()


class TimeEpochFloat32(TimeEpoch):
    """One epoch as in ``TimeEpoch``, in float32."""
    params = (["784-30-10", "784-100-10"], IMPLS)
    options = {"dtype": np.float32}


class TimeFullBatch(Benchmark):
    """Full-batch gradient descent step on 1,000 images (mini-batch 1,000)."""
    params, param_names = (DEEP, IMPLS), ["sizes", "impl"]
    factory = full_batch_workload

    def time_full_batch(self, sizes, impl):
        self.run()
