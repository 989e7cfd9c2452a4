"""The cases of ``vgcore bench``: each times the kernels against the reference
(and network2's per-example loop), or vgcore.network2 against network2.

A kernel case returns a :class:`CaseResult`; its :meth:`CaseResult.to_json`
is the record kept in ``--json`` reports (the keys ``tools/bench_table.py``
reads).
"""
import statistics
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..core import kernels
from ..core import reference as ref
from . import timing
from .baseline import PerExampleNetwork, pairs
from .workloads import EVAL_NAME, copy, init_net

__all__ = ["PER_EXAMPLE_CAP", "Clock", "CaseResult", "sgd_case", "eval_case", "dtype_case",
           "threads_case", "memory_case"]

#: The per-example baseline is timed on at most this many examples per case.
PER_EXAMPLE_CAP = 10_000


@dataclass
class Clock:
    """One clock's view of a case (wall time, or CPU time of the thread): medians."""
    kernel_s: float
    reference_s: float
    per_example_s: object            # float, or None when not timed
    floor_s: float                   # the case's FLOPs at the best GEMM rate (start)
    floor_same_time_s: float         # ... at the rate of the median GEMM probe
    kernel_over_floor_same_time: float   # median over runs of kernel / its probe's floor

    @property
    def reference_over_kernel(self):
        return self.reference_s / self.kernel_s

    @property
    def per_example_over_kernel(self):
        return self.per_example_s / self.kernel_s if self.per_example_s else None

    @property
    def kernel_over_floor(self):
        return self.kernel_s / self.floor_s

    def to_json(self, suffix):
        """The published keys, ``suffix`` "" (wall) or "_cpu"."""
        return {f"kernel{suffix}_s": self.kernel_s, f"reference{suffix}_s": self.reference_s,
                f"per_example{suffix}_s": self.per_example_s,
                f"reference_over_kernel{suffix}": self.reference_over_kernel,
                f"per_example_over_kernel{suffix}": self.per_example_over_kernel,
                f"kernel_over_floor{suffix}": self.kernel_over_floor,
                f"floor_same_time{suffix}_s": self.floor_same_time_s,
                f"kernel_over_floor_same_time{suffix}": self.kernel_over_floor_same_time}


@dataclass
class CaseResult:
    """One kernel case: what was timed, its run lists and both clocks' medians.

    Two floors: ``floor_s``, from the GEMM rate measured once at the start
    (the best of 7 products, so the strict one: a kernel timed in a slow
    spell of a shared machine is compared with the machine at its best);
    and the same-time floor, from the GEMM probe paired with each kernel
    run (the machine as that run found it).
    """
    case: str
    sizes: list
    mini_batch_size: object          # int, or None for evaluate
    dtype: str
    work: str
    gflop: float
    floor_s: float
    per_example_scaled: bool         # the per-example time was scaled from a part
    runs: dict                       # every run's times (see measure)
    wall: Clock
    cpu: Clock

    @property
    def kernel_gflops(self):
        return self.gflop / self.wall.kernel_s

    @property
    def machine_speed(self):
        """The median GEMM probe's rate over the best one at the start (1:
        undisturbed; ~0.75 was seen while other tenants loaded the host)."""
        return self.floor_s / self.cpu.floor_same_time_s

    def to_json(self):
        out = {"case": self.case, "sizes": list(self.sizes),
               "mini_batch_size": self.mini_batch_size, "dtype": self.dtype,
               "work": self.work, "gflop": self.gflop, "floor_s": self.floor_s,
               "per_example_scaled": self.per_example_scaled, "runs": self.runs}
        out.update(self.wall.to_json(""))
        out.update(self.cpu.to_json("_cpu"))
        out.update(kernel_gflops=self.kernel_gflops, machine_speed=self.machine_speed)
        return out


def measure(name, sizes, mbs, dtype, flops, rates, runs, t_p, scaled, what):
    """A :class:`CaseResult` from the ``(walls, cpus)`` run lists of the kernel,
    of the GEMM probe timed right after each kernel run, and of the reference
    (:func:`timing.interleaved_runs`); ``t_p`` is the per-example ``(wall,
    cpu)`` pair or None."""
    (k_w, k_c), (g_w, g_c), (r_w, r_c) = runs
    floor = flops / rates[np.dtype(dtype).name]
    gemm_flops = 2.0 * timing.GEMM_N ** 3

    def clock(ks, gs, rs, pe):
        g = statistics.median(gs)
        # the case's FLOPs at the GEMM rate of each probe: that run's floor
        paired = statistics.median(kt / (flops * gt / gemm_flops) for kt, gt in zip(ks, gs))
        return Clock(statistics.median(ks), statistics.median(rs), pe, floor,
                     flops * g / gemm_flops, paired)
    return CaseResult(
        name, list(sizes), mbs, np.dtype(dtype).name, what, flops / 1e9, floor, scaled,
        {"kernel_s": k_w, "kernel_cpu_s": k_c, "gemm_probe_s": g_w, "gemm_probe_cpu_s": g_c,
         "reference_s": r_w, "reference_cpu_s": r_c},
        clock(k_w, g_w, r_w, t_p[0] if t_p else None),
        clock(k_c, g_c, r_c, t_p[1] if t_p else None))


def sgd_case(name, sizes, mbs, dtype, data, n_train, epochs, repeat, per_example,
             rates, eta=0.1, lmbda=5.0):
    """Time ``epochs`` epochs of SGD on the first ``n_train`` training images."""
    Xtr, Ytr = data["X"][dtype][:n_train], data["Y"][dtype][:n_train]
    labels = data["labels"][:n_train]
    w0, b0 = init_net(sizes, dtype)
    rng = np.random.default_rng(1)
    orders = [rng.permutation(n_train) if mbs < n_train else np.arange(n_train)
              for _ in range(epochs)]

    def run_kernel(p):
        ws, bs = p
        for order in orders:
            kernels.sgd_epoch(ws, bs, Xtr, labels, order, mbs, eta, lmbda, n_train)

    def run_ref(p):
        ws, bs = p
        for order in orders:
            ws, bs = ref.sgd_epoch(ws, bs, Xtr, Ytr, order, mbs, eta, lmbda, n=n_train)

    # each kernel run is followed at once by its GEMM probe (the pair meets
    # the machine in the same state), then by the reference
    runs = timing.interleaved_runs([run_kernel, timing.gemm_runner(dtype), run_ref], repeat,
                                   lambda: (copy(w0), copy(b0)))
    t_p, scaled = None, False
    if per_example:
        t_p, scaled = _per_example_sgd(Xtr, Ytr, orders, w0, b0, mbs, eta, lmbda, repeat,
                                       per_example)
    return measure(name, sizes, mbs, dtype, timing.train_flops(sizes, epochs * n_train),
                   rates, runs, t_p, scaled, f"{epochs} epoch(s) of {n_train:,} examples")


def _per_example_sgd(X, Y, orders, w0, b0, mbs, eta, lmbda, repeat, cap):
    """network2's loop on at most ``cap`` examples of the epochs ``orders``, scaled
    linearly to all of them: ``((wall, cpu), scaled)``."""
    n_train, epochs = len(X), len(orders)
    total = epochs * n_train
    if total <= cap:
        sub_epochs, sub_n, scale = epochs, n_train, 1.0
    elif n_train <= cap:
        sub_epochs, sub_n = max(1, cap // n_train), n_train
        scale = total / (sub_epochs * sub_n)
    else:
        sub_epochs, sub_n = 1, (cap // mbs) * mbs or mbs
        scale = total / sub_n
    epoch_pairs = [pairs(X, Y, o[:sub_n]) for o in orders[:sub_epochs]]

    def run_pe(net):
        for p in epoch_pairs:
            net.sgd_epoch(p, mbs, eta, lmbda, n_train)

    t = timing.median_time(run_pe, max(1, min(repeat, 3)), lambda: PerExampleNetwork(w0, b0))
    return tuple(scale * x for x in t), scale != 1.0


def eval_case(data, repeat, per_example, rates, dtype="float64", lmbda=5.0):
    """Accuracy and total cost of the 10,000 test images, [784,30,10]."""
    dtype = np.dtype(dtype).type
    sizes = [784, 30, 10]
    X, Y = data["Xte"][dtype], data["Yte"][dtype]
    ws, bs = init_net(sizes, dtype)

    def run_kernel(_):
        kernels.evaluate(ws, bs, X, Y, lmbda)

    def run_ref(_):
        ref.evaluate(ws, bs, X, Y, lmbda)      # one forward pass gives both numbers

    # a short case: more repeats, so a single hiccup does not decide the median
    runs = timing.interleaved_runs([run_kernel, timing.gemm_runner(dtype), run_ref],
                                   max(repeat, 15))
    t_p = None
    if per_example:
        net = PerExampleNetwork(ws, bs)
        test_pairs = pairs(X, Y, range(len(X)))
        t_p = timing.median_time(lambda _: net.evaluate(test_pairs, lmbda),
                                 max(1, min(repeat, 3)))
    # network2's evaluation does two passes (accuracy, cost); the floor counts one
    return measure(EVAL_NAME, sizes, None, dtype, timing.forward_flops(sizes, len(X)), rates,
                   runs, t_p, False, f"accuracy + cost of {len(X):,} examples")


def dtype_case(data, n_train, repeat):
    """Kernel epochs of ``[784,30,10]`` mb10 in float64 and float32, interleaved.

    Returns the ``(wall, cpu)`` medians of each.  The two dtypes alternate
    so that their ratio is not decided by which one met a slow spell.
    """
    order = np.random.default_rng(1).permutation(n_train)

    def epoch(dtype):
        X, labels = data["X"][dtype][:n_train], data["labels"][:n_train]
        w0, b0 = init_net([784, 30, 10], dtype)

        def run(_):
            ws, bs = copy(w0), copy(b0)      # ~25,000 numbers: negligible
            kernels.sgd_epoch(ws, bs, X, labels, order, 10, 0.1, 5.0, n_train)
        return run

    return timing.median_times([epoch(np.float64), epoch(np.float32)], repeat)


def threads_case(data, n_train, repeat):
    """Two threads training two separate networks vs one network alone.

    Besides the wall times, each thread's own CPU time is recorded: if the
    kernels serialised (GIL, locks) or the two threads slowed each other
    down, the per-thread CPU time would grow; on a machine with two free
    cores the wall time of two networks then equals that of one.
    """
    sizes, mbs = [784, 30, 10], 10
    X, labels = data["X"][np.float64][:n_train], data["labels"][:n_train]
    order = np.random.default_rng(2).permutation(n_train)
    w0, b0 = init_net(sizes, np.float64)
    cpu = {}

    def train(p, key=None):
        c0 = time.thread_time()
        kernels.sgd_epoch(p[0], p[1], X, labels, order, mbs, 0.1, 5.0, n_train)
        if key is not None:
            cpu.setdefault(key, []).append(time.thread_time() - c0)

    def one(_):
        train((copy(w0), copy(b0)))

    def two(_):
        nets = [(copy(w0), copy(b0)) for _ in range(2)]
        ts = [threading.Thread(target=train, args=(p, i)) for i, p in enumerate(nets)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    t1, c1 = timing.median_time(one, repeat)
    t2 = timing.median_time(two, repeat)[0]
    c2 = statistics.median(cpu[0] + cpu[1])
    return {"case": "two threads", "sizes": sizes, "mini_batch_size": mbs,
            "work": f"1 epoch of {n_train:,} per network",
            "one_network_s": t1, "two_networks_two_threads_s": t2,
            "two_over_one": t2 / t1,
            "one_network_cpu_s": c1, "per_thread_cpu_s_when_two": c2,
            "per_thread_cpu_over_one": c2 / c1}


def memory_case(data, n_train, epochs):
    """Resident memory before and after ``epochs`` epochs (and an evaluate each)."""
    sizes, mbs = [784, 30, 10], 10
    X, Y = data["X"][np.float64][:n_train], data["Y"][np.float64][:n_train]
    labels = data["labels"][:n_train]
    ws, bs = init_net(sizes, np.float64)
    rng = np.random.default_rng(3)
    kernels.sgd_epoch(ws, bs, X, labels, rng.permutation(n_train), mbs, 0.1, 5.0, n_train)
    before = timing.rss_kib()
    for _ in range(epochs):
        kernels.sgd_epoch(ws, bs, X, labels, rng.permutation(n_train), mbs, 0.1, 5.0,
                          n_train)
        kernels.evaluate(ws, bs, X, Y, 5.0)
    after = timing.rss_kib()
    return {"case": "memory", "sizes": sizes, "mini_batch_size": mbs,
            "work": f"{epochs} epochs of {n_train:,} (+ evaluate each epoch)",
            "rss_before_kib": before, "rss_after_kib": after,
            "rss_growth_kib": (after - before) if before is not None else None}
