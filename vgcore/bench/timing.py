"""How ``vgcore bench`` times: interleaved runs, medians, the GEMM floor, the machine.

Every timing is taken twice, wall time and CPU time of the calling thread:
they agree on an idle machine, and on a machine shared with other busy
processes the wall time also holds the time spent waiting for a core.
Runs of the things compared are interleaved, so a slow spell of a shared
machine falls on all of them alike.
"""
import os
import platform
import statistics
import time

import numpy as np

__all__ = ["GEMM_N", "SLOW_MACHINE", "median_time", "median_times", "interleaved_runs",
           "gemm_rate", "gemm_runner", "train_flops", "forward_flops", "rss_kib",
           "loadavg", "cpu_name"]

#: Size of the GEMM whose rate defines the arithmetic floor.
GEMM_N = 2048

#: Below this fraction of its best GEMM rate during a case, the report warns
#: that the machine was slowed down by something else.
SLOW_MACHINE = 0.9


def median_time(fn, repeat, setup=None):
    """Medians over ``repeat`` runs of ``fn(setup())`` (setup untimed).

    Returns ``(wall seconds, CPU seconds of the calling thread)``.  The CPU
    time is what the run cost this thread; on a machine shared with other
    busy processes the wall time also holds the time it waited for a core.
    """
    return median_times([fn], repeat, setup)[0]


def median_times(fns, repeat, setup=None):
    """:func:`median_time` of each of ``fns``, their runs INTERLEAVED.

    Returns one ``(wall, cpu)`` pair of medians per function; see
    :func:`interleaved_runs`.
    """
    return [tuple(statistics.median(x) for x in runs)
            for runs in interleaved_runs(fns, repeat, setup)]


def interleaved_runs(fns, repeat, setup=None):
    """Time ``repeat`` runs of each of ``fns``, INTERLEAVED.

    Run ``k`` of every function is taken before run ``k + 1`` of any, so
    that a slow spell of a shared machine (measured: the same code moving
    25-40% from one minute to the next) falls on all of them alike and
    their ratio is fair.  Returns, per function, ``(walls, cpus)``: the
    lists of its run times in order, so run ``k`` of one function can be
    paired with run ``k`` of the next one, timed right after it.
    """
    walls = [[] for _ in fns]
    cpus = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            arg = setup() if setup is not None else None
            c0 = time.thread_time()
            t0 = time.perf_counter()
            fn(arg)
            walls[i].append(time.perf_counter() - t0)
            cpus[i].append(time.thread_time() - c0)
    return list(zip(walls, cpus))


def train_flops(sizes, n_examples):
    """FLOPs of SGD on ``n_examples``: forward, delta back-propagation, weight gradient."""
    per = sum(4 * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    per += sum(2 * a * b for a, b in zip(sizes[1:-1], sizes[2:]))
    return per * n_examples


def forward_flops(sizes, n_examples):
    """FLOPs of a forward pass of ``n_examples``."""
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:])) * n_examples


def gemm_rate(dtype, n=GEMM_N, repeat=7):
    """The machine's GEMM rate in FLOP/s: best of ``repeat`` ``n x n`` products.

    Timed in CPU time of the calling thread (BLAS limited to one thread runs
    in it), so that other processes on a shared machine do not lower it.
    """
    run = gemm_runner(dtype, n)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        run(None)
        best = min(best, time.thread_time() - t0)
    return 2.0 * n ** 3 / best


def gemm_runner(dtype, n=GEMM_N):
    """``fn(_)`` doing one ``n x n`` product in ``dtype``: the probe of
    :func:`gemm_rate`, also interleaved with each case's runs."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n)).astype(dtype)
    b = rng.random((n, n)).astype(dtype)
    c = a @ b

    def run(_):
        np.matmul(a, b, out=c)
    return run


def _proc_field(path, prefix):
    """The rest of the first line of ``path`` that starts with ``prefix`` (None if none)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line[len(prefix):]
    except OSError:
        pass
    return None


def rss_kib():
    """This process's resident memory in KiB (None off Linux)."""
    field = _proc_field("/proc/self/status", "VmRSS:")
    return None if field is None else int(field.split()[0])


def loadavg():
    """The 1-minute load average, or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def cpu_name():
    """The CPU's model name."""
    field = _proc_field("/proc/cpuinfo", "model name")
    return platform.processor() if field is None else field.split(":", 1)[1].strip()
