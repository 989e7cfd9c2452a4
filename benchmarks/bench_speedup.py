"""The kernels' speed-up over the reference, as one ratio per case (see ``common.py``)."""
from .common import CASES, Benchmark, min_time, one_blas_thread, workload


class TrackSpeedup(Benchmark):
    """Speed-up of the kernels: reference CPU time / kernels CPU time (best of >= 3)."""
    params, param_names, unit = [list(CASES)], ["case"], "ratio"

    def setup(self, case):
        one_blas_thread()
        factory, sizes, kw = CASES[case]
        self.kernels = workload(factory, sizes, "kernels", **kw)
        self.reference = workload(factory, sizes, "reference", **kw)

    def track_speedup(self, case):
        t_kernels, t_reference = min_time([self.kernels, self.reference])
        return t_reference / t_kernels
