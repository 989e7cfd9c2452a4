"""What a run ran on: the data and the kernels' path (see ``common.py``)."""
from .common import DATA_SOURCE, kernels


def track_data_is_full_mnist():
    """1 when the benchmarks ran on the full MNIST ($VGCORE_MNIST), 0 on random data."""
    return int(DATA_SOURCE == "mnist")


track_data_is_full_mnist.unit = "bool"

#: The kernels' paths, numbered for the graph (higher: wider vectors).
PATH_NUMBERS = {"blas": 0, "baseline": 1, "avx2": 2, "avx512": 3}


def track_kernel_path():
    """Which kernels the run timed: 0 blas, 1 baseline, 2 avx2, 3 avx512
    (the fastest this CPU runs, or ``$VGCORE_CPU``); a change of machine or
    of path shows up here beside the times it explains."""
    return PATH_NUMBERS[kernels.cpu_path()]


track_kernel_path.unit = "path (0 blas, 1 baseline, 2 avx2, 3 avx512)"
