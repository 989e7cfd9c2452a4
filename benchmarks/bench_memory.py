"""Peak memory of one call (see ``common.py``)."""
from .common import CASES, IMPLS, Benchmark, epoch_workload, one_blas_thread, workload


class PeakMem(Benchmark):
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
        one_blas_thread()
        factory, sizes, kw = (CASES[case] if not case.startswith("epoch")
                              else (epoch_workload, "784-30-10", {}))
        self.run = workload(factory, sizes, impl, **kw)

    def peakmem_call(self, case, impl):
        self.run()
