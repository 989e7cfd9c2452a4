"""Per call and start-up: vgcore.network2 against network2 (:mod:`.baseline`).

What a network2 script pays one example (or a few) at a time, and before
its first epoch: the import, ``load_data_wrapper()`` of Nielsen's
``mnist.pkl.gz``, and an epoch from the list of pairs against the arrays.
"""
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

import numpy as np

from . import baseline
from .workloads import PER_CALL_SIZES

__all__ = ["per_call_workloads", "call_timer", "per_call_cases", "startup_cases"]


def per_call_workloads(data):
    """``[(name, statement, vgcore's names, network2's names, calls per run), ...]``.

    Each case is one statement, as a network2 script writes it (``net.backprop(x, y)``,
    ``ce.delta(z, a, y)``), run in two namespaces: one binding its names
    to vgcore.network2's objects, the other to network2's (:mod:`.baseline`).
    """
    from .. import network2 as vg

    X, labels = data["X"][np.float32], data["labels"]
    np.random.seed(0)
    net = vg.Network(PER_CALL_SIZES)
    base = baseline.PerExampleNetwork(net.weights, net.biases)
    x = X[0].reshape(784, 1)
    y = vg.vectorized_result(int(labels[0]))
    batch = [(X[i].reshape(784, 1), vg.vectorized_result(int(labels[i]))) for i in range(10)]
    few = [(X[i].reshape(784, 1), labels[i]) for i in range(5)]
    a = net.feedforward(x)
    z = np.linspace(-3, 3, 10).reshape(10, 1)
    shared = dict(x=x, y=y, batch=batch, few=few, a=a, z=z)
    mine = dict(shared, net=net, ce=vg.CrossEntropyCost, q=vg.QuadraticCost)
    theirs = dict(shared, net=base, ce=baseline.Network2CrossEntropyCost,
                  q=baseline.Network2QuadraticCost)
    cases = [
        ("feedforward(x)", "net.feedforward(x)", 2000),
        ("backprop(x, y)", "net.backprop(x, y)", 500),
        ("update_mini_batch, 10 pairs", "net.update_mini_batch(batch, 0.1, 5.0, 50_000)", 50),
        ("accuracy, 5 pairs", "net.accuracy(few)", 500),
        ("total_cost, 5 pairs", "net.total_cost(few, 5.0, convert=True)", 200),
        ("CrossEntropyCost.fn", "ce.fn(a, y)", 5000),
        ("CrossEntropyCost.delta", "ce.delta(z, a, y)", 20000),
        ("QuadraticCost.fn", "q.fn(a, y)", 10000),
        ("QuadraticCost.delta", "q.delta(z, a, y)", 5000),
    ]
    return [(name, stmt, mine, theirs, number) for name, stmt, number in cases]


def call_timer(statement, names):
    """A :class:`timeit.Timer` of ``statement`` in the namespace ``names``,
    on this thread's CPU clock: the statement is compiled into timeit's own
    loop, so a run times the calls and nothing around them (no wrapper
    function, whose ~40 ns a call would otherwise be added to both sides
    of every ratio)."""
    return timeit.Timer(statement, timer=time.thread_time, globals=names)


def per_call_cases(data, quick, repeat, out):
    """Time the calls a script makes one example (or a few) at a time.

    Each case runs its statement ``number`` times with vgcore's names and
    then ``number`` times with network2's (:func:`call_timer`), ``repeat``
    times (at least 5) interleaved; per call the median time, and the
    median over the runs of their ratio.  The inputs are network2's: ``x`` a
    float32 ``(784, 1)`` image as ``load_data_wrapper`` gives it, ``y`` a
    float64 one-hot column, labels numpy ints.
    """
    runs = max(repeat, 5)
    scale = 0.2 if quick else 1.0
    out(f"Per call: vgcore.network2 against network2 ({PER_CALL_SIZES}, float64; x float32 "
        f"as load_data_wrapper gives it;\n median of {runs} interleaved runs of timeit; CPU "
        f"time of this thread)")
    header = f"{'call':<30}{'network2 us':>13}{'vgcore us':>11}{'network2/vgcore':>17}"
    out(header)
    out("-" * len(header))
    results = []
    for name, statement, mine, theirs, number in per_call_workloads(data):
        number = max(1, int(number * scale))
        timers = [call_timer(statement, mine), call_timer(statement, theirs)]
        for timer in timers:
            timer.timeit(1)                          # warm: first calls load things
        t_mine, t_theirs = [], []
        for _ in range(runs):
            for timer, times in zip(timers, (t_mine, t_theirs)):
                times.append(timer.timeit(number) / number)
        ratio = statistics.median(b / a for a, b in zip(t_mine, t_theirs))
        r = {"call": name, "statement": statement, "calls_per_run": number, "runs": runs,
             "network2_us": 1e6 * statistics.median(t_theirs),
             "vgcore_us": 1e6 * statistics.median(t_mine), "network2_over_vgcore": ratio,
             "runs_network2_s": t_theirs, "runs_vgcore_s": t_mine}
        results.append(r)
        out(f"{name:<30}{r['network2_us']:>13.2f}{r['vgcore_us']:>11.2f}{ratio:>17.2f}")
    return results


_IMPORT_PROBE = ("import sys, time; t = time.perf_counter(); import {module}; "
                 "print(time.perf_counter() - t, 'scipy' in sys.modules)")


def _import_time(module, runs):
    """Median seconds of ``import module`` in fresh interpreters (the import
    alone, not the interpreter's start), and whether SciPy got loaded."""
    times, scipy = [], False
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(module=module)],
                           capture_output=True, text=True, check=True)
        t, loaded = r.stdout.split()
        times.append(float(t))
        scipy = scipy or loaded == "True"
    return statistics.median(times), scipy


_LOAD_PROBE = ("import sys, time; from vgcore import mnist_loader; "
               "from vgcore.bench import baseline; "
               "t, c = time.perf_counter(), time.process_time(); {call}(sys.argv[1]); "
               "print(time.perf_counter() - t, time.process_time() - c)")


def _load_times(path, runs):
    """``load_data_wrapper(path)`` in fresh interpreters, as a script's
    start-up pays it: network2's loader and vgcore's alternately, ``runs``
    each.  Returns ``{"network2": (walls, cpus), "vgcore": (walls, cpus)}``
    (CPU time of the process: what the load cost, page faults included,
    without the waits for a core that a shared machine adds)."""
    calls = {"network2": "baseline.nielsen_load_data_wrapper",
             "vgcore": "mnist_loader.load_data_wrapper"}
    times = {k: ([], []) for k in calls}
    for _ in range(runs):
        for k, call in calls.items():
            r = subprocess.run([sys.executable, "-c", _LOAD_PROBE.format(call=call), path],
                               capture_output=True, text=True, check=True)
            wall, cpu = map(float, r.stdout.split())
            times[k][0].append(wall)
            times[k][1].append(cpu)
    return times


def startup_cases(mnist, quick, repeat, out):
    """What a short script pays before its first epoch, against network2:
    the import, ``load_data_wrapper()`` on Nielsen's ``mnist.pkl.gz``
    (rebuilt from the IDX files into a temporary folder), and one epoch
    through ``network2.SGD`` from the list of pairs against the arrays."""
    runs = max(repeat, 3 if quick else 7)
    r = {}
    r["import_vgcore_network2_s"], r["import_loads_scipy"] = _import_time(
        "vgcore.network2", runs)
    r["import_numpy_s"] = _import_time("numpy", runs)[0]
    out(f"Start-up (medians of {runs} runs):")
    out(f"  import vgcore.network2: {r['import_vgcore_network2_s']:.3f} s in a fresh "
        f"interpreter (numpy alone, network2's own import: {r['import_numpy_s']:.3f} s); "
        f"SciPy loaded: {'yes' if r['import_loads_scipy'] else 'no'}")
    _load_case(mnist, quick, r, out)
    _epoch_case(mnist, quick, runs, r, out)
    return r


def _load_case(mnist, quick, r, out):
    """``load_data_wrapper()`` of a rebuilt ``mnist.pkl.gz``, both loaders."""
    from ..data.py2pickle import write_nielsen_pickle

    Xtr, ytr, Xte, yte = mnist
    splits = ((Xtr, ytr), (Xte, yte), (Xte, yte))     # validation stands in for itself
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mnist.pkl.gz")
        write_nielsen_pickle(path, splits, level=1 if quick else 6)
        load_runs = 1 if quick else 5
        times = _load_times(path, load_runs)
    for k in ("network2", "vgcore"):
        r[f"load_{k}_s"] = statistics.median(times[k][0])
        r[f"load_{k}_cpu_s"] = statistics.median(times[k][1])
        r[f"runs_load_{k}_s"], r[f"runs_load_{k}_cpu_s"] = times[k]
    r["load_vgcore_over_network2"] = r["load_vgcore_s"] / r["load_network2_s"]
    r["load_vgcore_over_network2_cpu"] = r["load_vgcore_cpu_s"] / r["load_network2_cpu_s"]
    out(f"  load_data_wrapper() of mnist.pkl.gz, medians of {load_runs} fresh processes each "
        f"(alternating): network2 {r['load_network2_s']:.2f} s, vgcore "
        f"{r['load_vgcore_s']:.2f} s, vgcore/network2 {r['load_vgcore_over_network2']:.2f} "
        f"(CPU time: {r['load_network2_cpu_s']:.2f} s, {r['load_vgcore_cpu_s']:.2f} s, "
        f"{r['load_vgcore_over_network2_cpu']:.2f})")


def _epoch_case(mnist, quick, runs, r, out):
    """One epoch per ``network2.SGD`` call from the list of pairs and from the arrays."""
    from .. import network2 as vg
    from ..core import datasets

    n = 10_000 if quick else 50_000
    X, labels = mnist[0][:n], mnist[1][:n].astype(np.int64)
    pairs = list(zip(X.reshape(n, 784, 1), (vg.vectorized_result(int(k)) for k in labels)))
    np.random.seed(0)
    net = vg.Network([784, 30, 10])
    datasets.clear_cache()

    def epoch(data):
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            net.SGD(data, 1, 10, 0.1, lmbda=5.0)
            return time.perf_counter() - t0

    r["list_first_epoch_s"] = epoch(pairs)          # converts the list once
    t_list, t_arrays = [], []
    for _ in range(runs):
        t_list.append(epoch(pairs))
        t_arrays.append(epoch((X, labels)))
    datasets.clear_cache()
    r["epoch_list_s"] = statistics.median(t_list)
    r["epoch_arrays_s"] = statistics.median(t_arrays)
    r["list_over_arrays"] = statistics.median(a / b for a, b in zip(t_list, t_arrays))
    r["runs_epoch_list_s"], r["runs_epoch_arrays_s"] = t_list, t_arrays
    out(f"  one epoch of [784,30,10] mb10 on {n:,} images, network2.SGD(data, 1, ...) "
        f"once per epoch: list of pairs {r['epoch_list_s']:.3f} s, (X, labels) "
        f"{r['epoch_arrays_s']:.3f} s: list/arrays {r['list_over_arrays']:.2f} "
        f"(first call on the list, converting it: {r['list_first_epoch_s']:.3f} s)")
