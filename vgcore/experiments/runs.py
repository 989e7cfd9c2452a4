"""Chapter 5's training runs, in this process or in worker processes.

A task is a dict: ``{"kind": "speed", "n_hidden": k, "seed": s, "epochs": E}``
(the learning speeds over ``E`` epochs of full-batch descent on the probe
set) or ``{"kind": "sweep", "n_hidden": k, "seed": s, "epochs": E, "lmbda":
L, "n_train": N}`` (one run of the depth sweep: validation accuracy after
every epoch); another experiment's task names its run function,
``{"fn": "module:function", "config": {...}, "seed": s, "label": "...",
"cost": c}``, which is called as ``function(config, seed)`` and returns a
dict (``vgcore glorot``'s runs: ``experiments/glorot.run_one``).
:func:`run_tasks` runs a list of them, longest first, and returns
``(task, result, (wall seconds, CPU seconds))`` in task order.
Every run uses one BLAS thread and seeds numpy and ``random`` before its
network is built, so the results are bit-for-bit the same for any number
of worker processes.
"""
import contextlib
import importlib
import io
import sys
import time

from . import diagnostics as diag

__all__ = ["run_tasks", "run_task", "single_thread_blas", "describe"]

_DATA = None  # {"train": (X, y), "validation": (X, y), "probe": (X, y)} while running
_LIMITER = None


def _init_worker(data, one_blas_thread):
    """Worker initialiser: keep the data, and use one BLAS thread per process."""
    global _DATA, _LIMITER
    _DATA = data
    if one_blas_thread:
        _LIMITER = single_thread_blas()


def single_thread_blas():
    """Limit BLAS to one thread (threadpoolctl, if installed); the limiter or None.

    Every training run uses one BLAS thread, in worker processes and in
    this process alike, so results are bit-for-bit the same for any
    ``--jobs`` (and no run's BLAS threads fight another process's).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        return None
    from .._support.lazy import load_blas
    load_blas()          # the limit reaches only the BLAS libraries loaded by now
    return threadpool_limits(limits=1)


def run_task(task):
    """One training run; returns ``(task, result, (wall seconds, CPU seconds))``."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    if "fn" in task:       # an experiment's own run: function(config, seed) -> dict
        module, name = task["fn"].split(":")
        result = getattr(importlib.import_module(module), name)(task["config"], task["seed"])
        return task, result, (time.perf_counter() - t0, time.process_time() - c0)
    kind, n_hidden, seed = task["kind"], task["n_hidden"], task["seed"]
    sizes = diag.hidden_sizes(n_hidden)
    if kind == "speed":
        X, y = _DATA["probe"]
        result = diag.speed_history(sizes, X, y, task["epochs"], seed, eta=diag.ETA,
                                    lmbda=diag.LMBDA, mini_batch_size=len(X))
    elif kind == "sweep":
        net = diag.make_network(sizes, seed)
        with contextlib.redirect_stdout(io.StringIO()):
            _, acc, _, _ = net.SGD(_DATA["train"], task["epochs"], diag.MINI_BATCH, diag.ETA,
                                   lmbda=task["lmbda"], evaluation_data=_DATA["validation"],
                                   monitor_evaluation_accuracy=True)
        result = [int(a) for a in acc]
    else:  # pragma: no cover
        raise ValueError(f"unknown task kind {kind!r}")
    return task, result, (time.perf_counter() - t0, time.process_time() - c0)


def _cost(task):
    """A rough relative cost, to start the longest runs first."""
    if "fn" in task:
        return task.get("cost", 1.0)
    if task["kind"] == "sweep":
        return task["epochs"] * task["n_train"] * (1 + 0.3 * task["n_hidden"])
    return task["epochs"] * diag.N_PROBE * 2 * (1 + 0.3 * task["n_hidden"])


def describe(task):
    """``"depth sweep, 2 hidden, seed 0"``: a task, for the progress bar and the report."""
    if "fn" in task:
        return task.get("label", f"{task['fn']}, seed {task['seed']}")
    what = "depth sweep" if task["kind"] == "sweep" else "speeds"
    return f"{what}, {task['n_hidden']} hidden, seed {task['seed']}"


def run_tasks(tasks, data, jobs, progress):
    """Run every task, in ``jobs`` worker processes when ``jobs > 1``; results in
    task order.  ``data``: ``{"train", "validation", "probe"}`` -> ``(X, y)``."""
    from tqdm import tqdm

    order = sorted(range(len(tasks)), key=lambda i: -_cost(tasks[i]))
    bar = tqdm(total=len(tasks), desc="training runs", unit="run", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    try:
        if jobs <= 1:
            return _run_here(tasks, order, data, bar)
        return _run_in_workers(tasks, order, data, jobs, bar)
    finally:
        bar.close()


def _run_here(tasks, order, data, bar):
    """The tasks one after the other in this process, on one BLAS thread."""
    global _DATA
    results = [None] * len(tasks)
    saved, _DATA = _DATA, data
    try:
        limiter = single_thread_blas()
        for i in order:
            bar.set_postfix_str(describe(tasks[i]))
            results[i] = run_task(tasks[i])
            bar.update(1)
        if limiter is not None:
            limiter.restore_original_limits()
    finally:
        _DATA = saved
    return results


def _run_in_workers(tasks, order, data, jobs, bar):
    """The tasks in ``jobs`` worker processes (forked where possible)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results = [None] * len(tasks)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    ex = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx,
                             initializer=_init_worker, initargs=(data, True))
    try:
        futures = {ex.submit(run_task, tasks[i]): i for i in order}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            bar.set_postfix_str(describe(tasks[i]) + " done")
            bar.update(1)
    except BaseException:
        # Ctrl-C or a failed run: drop the queued runs instead of waiting
        # for all of them, then let the error through.
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
    return results
