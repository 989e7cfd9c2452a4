"""``vgcore chapter5``: every measurement of chapter 5, in one folder of results.

Chapter 5 of *Neural Networks and Deep Learning* ("Why are deep neural
networks hard to train?") measures, on MNIST:

1. the **learning speed** ``||mean dC/db^l||`` of every hidden layer of
   ``[784, 30, 30, 10]``, ``[784, 30, 30, 30, 10]`` and
   ``[784, 30, 30, 30, 30, 10]`` at initialisation, on the first 1,000
   training images (here: mean and spread over ``--init-seeds`` seeds),
   and the first six neurons' ``dC/db`` of ``[784, 30, 30, 10]``;
2. the same speeds at the start of every epoch of 500 epochs of
   full-batch descent on those 1,000 images (``SGD(td, 1, 1000, 0.1,
   lmbda=5.0)`` per epoch);
3. the **depth sweep**: the best validation accuracy of ``[784, 30, 10]``
   up to ``[784, 30, 30, 30, 30, 10]`` after 30 epochs of mini-batch SGD
   (mini-batch 10, eta 0.1, lmbda 5.0 on 50,000 images), here over
   ``--seeds`` seeds with a Welch t-test between neighbouring depths -- the
   book's open question of whether the drop with depth is significant.  On
   fewer training images (the embedded sample) lmbda is scaled to keep the
   book's ``lmbda / n`` and the sweep runs longer (:func:`sweep_settings`);
   runs that never rise clearly above chance are named, and left out of
   the tests;
4. the **chain** of one-neuron layers (:mod:`vgcore.chain`).

It writes ``report.md`` (tables and figures), the JSON files in the
chapter's published layouts, PNG figures and a machine-readable
``summary.json`` to ``--out``.  Seed ``s`` runs ``np.random.seed(s)`` and
``random.seed(s)`` before each network is built, as network2 does, so the
results do not depend on ``--jobs``.
"""
import argparse
import contextlib
import io
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._support import files as _files
from . import diagnostics as diag

__all__ = ["add_parser", "run", "main", "Settings", "sweep_settings", "load_chapter5_data",
           "depth_entry", "did_not_train_runs", "depth_tests", "render_report"]

DEPTHS_SPEED = (2, 3, 4)
DEPTHS_SWEEP = (1, 2, 3, 4)
N_PROBE = 1000
MINI_BATCH = 10
ETA = 0.1
LMBDA = 5.0              # the book's, for its 50,000 training images (and the speed runs)
BOOK_EPOCHS = 30
BOOK_N_TRAIN = 50_000
SMALL_DATA_EPOCHS = 60   # the depth sweep on fewer images: see sweep_settings
QUICK_EPOCHS = 2
N_SIX = 6


# ---------------------------------------------------------------------------
# Settings and data
# ---------------------------------------------------------------------------

class Settings:
    """The run's settings, from the command line (``--quick`` shrinks them).

    ``epochs`` and ``lmbda`` of the depth sweep default to ``None``: the
    values :func:`sweep_settings` chooses for the size of the training
    set (the book's on full MNIST).
    """

    def __init__(self, seeds=1, epochs=None, epochs_speed=500, init_seeds=20, jobs=1,
                 quick=False, n_train=None, n_validation=None, progress=True, lmbda=None):
        if quick:
            epochs = min(epochs or QUICK_EPOCHS, QUICK_EPOCHS)
            epochs_speed = min(epochs_speed, 20)
            init_seeds = min(init_seeds, 3)
            n_train = 1000 if n_train is None else n_train
            n_validation = 500 if n_validation is None else n_validation
        for name, v in (("seeds", seeds), ("epochs", epochs), ("epochs_speed", epochs_speed),
                        ("init_seeds", init_seeds), ("jobs", jobs)):
            if name == "epochs" and v is None:
                continue
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive int, got {v!r}")
        if lmbda is not None and not (isinstance(lmbda, (int, float)) and math.isfinite(lmbda)
                                      and lmbda >= 0):
            raise ValueError(f"--lmbda must be a finite number >= 0, got {lmbda!r}")
        self.seeds = list(range(seeds))
        self.epochs = epochs
        self.lmbda = None if lmbda is None else float(lmbda)
        self.epochs_speed = epochs_speed
        self.init_seeds = list(range(init_seeds))
        self.jobs = jobs
        self.quick = quick
        self.n_train = n_train
        self.n_validation = n_validation
        self.progress = progress

    def as_dict(self):
        """The settings as given (the sweep's resolved ones are in ``summary["depth_sweep"]``)."""
        return {
            "seeds": self.seeds, "epochs": self.epochs, "lmbda": self.lmbda,
            "epochs_speed": self.epochs_speed, "init_seeds": self.init_seeds,
            "jobs": self.jobs, "quick": self.quick, "mini_batch_size": MINI_BATCH, "eta": ETA,
            "lmbda_speed": LMBDA, "n_probe": N_PROBE,
        }


def sweep_settings(n_train, epochs=None, lmbda=None):
    """The depth sweep's settings for ``n_train`` training images, with the reasons.

    The book trains on 50,000 images: 30 epochs, mini-batch 10, eta 0.1,
    lmbda 5.0.  Each mini-batch step multiplies the weights by
    ``1 - eta * lmbda / n``, so on fewer images the same lmbda is a
    stronger pull towards zero per step (ten times on the 5,000-image
    sample), and the 4-hidden-layer network then never leaves the plateau
    it starts on: its weights shrink faster than its small early-layer
    gradients can grow them.  To keep the book's regime, lmbda is scaled
    to keep ``lmbda / n`` (0.5 on the sample), as chapter 3 of the book
    does when it changes the size of the training set; and since an
    epoch of fewer images is fewer steps, the sweep runs
    ``SMALL_DATA_EPOCHS`` (60) epochs instead of 30 below 50,000 images.
    Measured over 10 seeds on the sample (``docs/chapter5_sample.md``):
    with the book's lmbda 8 of 10 four-hidden-layer runs stay at chance
    in 30 epochs (7 in 60, all 5 tried in 300); with lmbda 0.5 all train,
    the slowest first passing 80 % in epoch 31.
    On the full 50,000 images these are exactly the book's settings.

    ``epochs`` or ``lmbda`` given explicitly are used as they are.
    Returns a dict: ``epochs``, ``lmbda``, ``mini_batch_size``, ``eta``,
    ``n_training``, ``book`` (the book's settings), ``as_book`` (whether
    they are the book's) and ``why`` (a sentence, or ``""``).
    """
    book = {"epochs": BOOK_EPOCHS, "mini_batch_size": MINI_BATCH, "eta": ETA,
            "lmbda": LMBDA, "n_training": BOOK_N_TRAIN}
    n_train = int(n_train)
    scaled = LMBDA * n_train / BOOK_N_TRAIN
    res = {"epochs": epochs if epochs is not None else
           (BOOK_EPOCHS if n_train >= BOOK_N_TRAIN else SMALL_DATA_EPOCHS),
           "lmbda": float(lmbda) if lmbda is not None else scaled,
           "mini_batch_size": MINI_BATCH, "eta": ETA, "n_training": n_train, "book": book}
    res["as_book"] = (res["epochs"] == BOOK_EPOCHS and res["lmbda"] == LMBDA
                      and n_train == BOOK_N_TRAIN)
    why = []
    if lmbda is None and n_train != BOOK_N_TRAIN:
        why.append(f"lmbda = 5.0 x {n_train:,} / 50,000 = {scaled:g} keeps the book's "
                   f"lmbda/n = {LMBDA / BOOK_N_TRAIN:g} (its weight decay per step)")
    if epochs is None and n_train < BOOK_N_TRAIN:
        why.append(f"{SMALL_DATA_EPOCHS} epochs, as {n_train:,} images give "
                   f"{n_train // MINI_BATCH:,} steps an epoch, not 5,000")
    res["why"] = "; ".join(why)
    return res


def load_chapter5_data(spec=None):
    """``((training, validation, test), source, is_full)`` for ``--data spec``.

    ``None``: the loader's automatic choice (full MNIST when found, else
    the embedded sample); ``"sample"``: the embedded sample, even when the
    full MNIST is available; anything else: a path to the MNIST files
    (an error if it does not hold them).
    """
    from .. import mnist_loader

    if spec is not None and str(spec).lower() == "sample":
        sizes = mnist_loader.SAMPLE_SIZES
        return (mnist_loader.load_sample(),
                f"embedded sample of MNIST shipped with vgcore ({sizes['training']:,} "
                f"training, {sizes['validation']:,} validation, {sizes['test']:,} test "
                "images), forced by --data sample", False)
    return mnist_loader.load_data_auto(spec)


# ---------------------------------------------------------------------------
# Work units (run in this process or in worker processes)
# ---------------------------------------------------------------------------

_DATA = None  # {"train": (X, y), "validation": (X, y), "probe": (X, y)} in workers
_LIMITER = None


def _init_worker(data, single_thread_blas):
    """Worker initialiser: keep the data, and use one BLAS thread per process."""
    global _DATA, _LIMITER
    _DATA = data
    if single_thread_blas:
        _LIMITER = _single_thread_blas()


def _single_thread_blas():
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


def _run_task(task):
    """One training run; returns ``(task, result, (wall seconds, CPU seconds))``."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    kind, n_hidden, seed = task["kind"], task["n_hidden"], task["seed"]
    sizes = diag.hidden_sizes(n_hidden)
    if kind == "speed":
        X, y = _DATA["probe"]
        result = diag.speed_history(sizes, X, y, task["epochs"], seed, eta=ETA,
                                    lmbda=LMBDA, mini_batch_size=len(X))
    elif kind == "sweep":
        net = diag.make_network(sizes, seed)
        with contextlib.redirect_stdout(io.StringIO()):
            _, acc, _, _ = net.SGD(_DATA["train"], task["epochs"], MINI_BATCH, ETA,
                                   lmbda=task["lmbda"], evaluation_data=_DATA["validation"],
                                   monitor_evaluation_accuracy=True)
        result = [int(a) for a in acc]
    else:  # pragma: no cover
        raise ValueError(f"unknown task kind {kind!r}")
    return task, result, (time.perf_counter() - t0, time.process_time() - c0)


def _task_cost(task):
    """A rough relative cost, to start the longest runs first."""
    if task["kind"] == "sweep":
        return task["epochs"] * task["n_train"] * (1 + 0.3 * task["n_hidden"])
    return task["epochs"] * N_PROBE * 2 * (1 + 0.3 * task["n_hidden"])


def _run_tasks(tasks, data, jobs, progress):
    """Run every task, in parallel processes when ``jobs > 1``; results in task order."""
    from tqdm import tqdm

    order = sorted(range(len(tasks)), key=lambda i: -_task_cost(tasks[i]))
    results = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="training runs", unit="run", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    try:
        if jobs <= 1:
            global _DATA
            saved = _DATA
            _DATA = data
            try:
                limiter = _single_thread_blas()
                for i in order:
                    bar.set_postfix_str(_describe(tasks[i]))
                    results[i] = _run_task(tasks[i])
                    bar.update(1)
                if limiter is not None:
                    limiter.restore_original_limits()
            finally:
                _DATA = saved
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            ex = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx,
                                     initializer=_init_worker, initargs=(data, True))
            try:
                futures = {ex.submit(_run_task, tasks[i]): i for i in order}
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    bar.set_postfix_str(_describe(tasks[i]) + " done")
                    bar.update(1)
            except BaseException:
                # Ctrl-C or a failed run: drop the queued runs instead of
                # waiting for all of them, then let the error through.
                ex.shutdown(wait=False, cancel_futures=True)
                raise
            ex.shutdown(wait=True)
    finally:
        bar.close()
    return results


def _describe(task):
    what = "depth sweep" if task["kind"] == "sweep" else "speeds"
    return f"{what}, {task['n_hidden']} hidden, seed {task['seed']}"


# ---------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------

def _log(msg):
    print(msg, flush=True)


def run(settings, out, data_spec=None):
    """Run chapter 5 with ``settings``, writing everything into the folder ``out``.

    Returns the summary dict (also written to ``out/summary.json``).
    """
    from . import chain, plots

    t_start = time.perf_counter()
    timing = {}
    out = Path(out)

    t0 = time.perf_counter()
    (training, validation, _test), source, is_full = load_chapter5_data(data_spec)
    out.mkdir(parents=True, exist_ok=True)      # only once the data are good
    Xtr, ytr = (np.asarray(a) for a in training)
    Xva, yva = (np.asarray(a) for a in validation)
    timing["load_data"] = time.perf_counter() - t0
    if settings.n_train is not None:
        Xtr, ytr = Xtr[:settings.n_train], ytr[:settings.n_train]
    if settings.n_validation is not None:
        Xva, yva = Xva[:settings.n_validation], yva[:settings.n_validation]
    n_probe = min(N_PROBE, len(training[0]))
    probe = (np.asarray(training[0][:n_probe]), np.asarray(training[1][:n_probe]))
    data = {"train": (Xtr, ytr), "validation": (Xva, yva), "probe": probe}
    sweep_set = sweep_settings(len(Xtr), settings.epochs, settings.lmbda)
    chance = diag.chance_accuracy(yva)
    forced_sample = data_spec is not None and str(data_spec).lower() == "sample"
    _log(_banner(settings, sweep_set, is_full, forced_sample, source,
                 len(Xva), n_probe, out))

    files = {}

    # 1. Initial speeds and the six neurons (cheap: this process) ------------
    t0 = time.perf_counter()
    from tqdm import tqdm
    initial = {}
    n_init = len(DEPTHS_SPEED) * len(settings.init_seeds)
    with tqdm(total=n_init, desc="initial speeds", unit="net", file=sys.stderr,
              disable=not settings.progress, dynamic_ncols=True) as bar:
        for k in DEPTHS_SPEED:
            per_seed = []
            for s in settings.init_seeds:
                per_seed.append(diag.initial_speeds(diag.hidden_sizes(k), *probe, s))
                bar.update(1)
            arr = np.asarray(per_seed)
            std = arr.std(axis=0, ddof=1) if len(per_seed) > 1 else None
            initial[k] = {
                "sizes": diag.hidden_sizes(k),
                "seeds": settings.init_seeds,
                "per_seed": per_seed,
                "mean": arr.mean(axis=0).tolist(),
                "std": None if std is None else std.tolist(),
                "book": diag.BOOK_INITIAL_SPEEDS[k],
                "ratio_last_first_mean": float(np.mean(arr[:, -1] / arr[:, 0])),
                "book_ratio_last_first": diag.BOOK_INITIAL_SPEEDS[k][-1]
                / diag.BOOK_INITIAL_SPEEDS[k][0],
            }
            if std is not None:
                initial[k]["within_one_std_of_book"] = [
                    bool(abs(m - b) <= sd) for m, b, sd in
                    zip(initial[k]["mean"], initial[k]["book"], std)]
                initial[k]["within_two_std_of_book"] = [
                    bool(abs(m - b) <= 2 * sd) for m, b, sd in
                    zip(initial[k]["mean"], initial[k]["book"], std)]
    six_seed = settings.seeds[0]
    net = diag.make_network(diag.hidden_sizes(2), six_seed)
    six = diag.six_neuron_values(net, probe, N_SIX)
    files["six_neurons"] = "six_neurons.json"
    diag.write_six_neurons(out / files["six_neurons"], six)
    diag.write_json_atomic(out / "initial_speeds.json",
                           {str(k): v["per_seed"] for k, v in initial.items()})
    files["initial_speeds"] = "initial_speeds.json"
    timing["initial_speeds"] = time.perf_counter() - t0

    # 2 and 3. Training runs --------------------------------------------------
    t0 = time.perf_counter()
    tasks = []
    for s in settings.seeds:
        for k in DEPTHS_SPEED:
            tasks.append({"kind": "speed", "n_hidden": k, "seed": s,
                          "epochs": settings.epochs_speed})
        for k in DEPTHS_SWEEP:
            tasks.append({"kind": "sweep", "n_hidden": k, "seed": s,
                          "epochs": sweep_set["epochs"], "lmbda": sweep_set["lmbda"],
                          "n_train": len(Xtr)})
    results = _run_tasks(tasks, data, settings.jobs, settings.progress)
    timing["training"] = time.perf_counter() - t0
    timing["runs"] = [{"task": _describe(t), "seconds": sec, "cpu_seconds": cpu}
                      for t, _, (sec, cpu) in results]
    timing["training_cpu_all_runs"] = sum(r["cpu_seconds"] for r in timing["runs"])

    # speed histories
    speed = {}
    for k in DEPTHS_SPEED:
        entry = {"sizes": diag.hidden_sizes(k), "epochs": settings.epochs_speed,
                 "seeds": [], "files": [], "first_epoch": [], "last_epoch": [],
                 "ratio_first_epoch": [], "ratio_last_epoch": [],
                 "ratio_min": [], "ratio_max": []}
        for task, hist, _ in results:
            if task["kind"] != "speed" or task["n_hidden"] != k:
                continue
            name = f"speed_history_{k}hidden_seed{task['seed']}.json"
            diag.write_speed_history(out / name, hist)
            ratios = diag.speed_ratios(hist)
            entry["seeds"].append(task["seed"])
            entry["files"].append(name)
            entry["first_epoch"].append(hist[0])
            entry["last_epoch"].append(hist[-1])
            entry["ratio_first_epoch"].append(ratios[0])
            entry["ratio_last_epoch"].append(ratios[-1])
            entry["ratio_min"].append(min(ratios))
            entry["ratio_max"].append(max(ratios))
            if task["seed"] == settings.seeds[0]:
                entry["history"] = hist
        speed[k] = entry

    # depth sweep
    sweep = {"epochs": sweep_set["epochs"], "mini_batch_size": MINI_BATCH, "eta": ETA,
             "lmbda": sweep_set["lmbda"], "n_training": len(Xtr), "n_validation": len(Xva),
             "book": sweep_set["book"], "data": source, "runs": []}
    for task, acc, _ in results:
        if task["kind"] == "sweep":
            sweep["runs"].append({"sizes": diag.hidden_sizes(task["n_hidden"]),
                                  "hidden_layers": task["n_hidden"], "seed": task["seed"],
                                  "accuracy": acc})
    files["depth_sweep"] = "depth_sweep.json"
    diag.write_depth_sweep(out / files["depth_sweep"], sweep)
    depths = {k: depth_entry(k, [r for r in sweep["runs"] if r["hidden_layers"] == k],
                             len(Xva), chance) for k in DEPTHS_SWEEP}
    welch = depth_tests(depths)

    # 4. The chain --------------------------------------------------------------
    t0 = time.perf_counter()
    chain_res = chain.chain_summary(depth=4, seed=0)
    diag.write_json_atomic(out / "chain.json", chain_res, indent=1)
    files["chain"] = "chain.json"
    timing["chain"] = time.perf_counter() - t0

    # Figures -------------------------------------------------------------------
    t0 = time.perf_counter()
    figures = {}
    for k in DEPTHS_SPEED:
        figures[f"speed_{k}hidden"] = plots.plot_speed_history(
            speed[k]["history"], out / f"speed_{k}hidden.png",
            title=f"Speed of learning, [{', '.join(map(str, diag.hidden_sizes(k)))}]"
                  f" (seed {settings.seeds[0]})").name
    figures["six_neurons"] = plots.plot_six_neurons(six, out / "six_neurons.png").name
    figures["initial_speeds"] = plots.plot_initial_speeds(
        {k: (initial[k]["mean"], initial[k]["std"] or [0.0] * k) for k in DEPTHS_SPEED},
        diag.BOOK_INITIAL_SPEEDS, out / "initial_speeds.png",
        title=f"Learning speed at initialisation, first {n_probe:,} training images\n"
              f"vgcore: mean ± std over {len(settings.init_seeds)} networks "
              f"({_seeds(settings.init_seeds)}); book: one network").name
    figures["depth_sweep"] = plots.plot_depth_sweep(
        {k: [r["accuracy"] for r in sweep["runs"] if r["hidden_layers"] == k]
         for k in DEPTHS_SWEEP},
        out / "depth_sweep.png", len(Xva),
        book=diag.BOOK_BEST_ACCURACY if is_full and not settings.quick else None,
        chance=chance, trained={k: v["trained"] for k, v in depths.items()},
        title=_sweep_figure_title(is_full, settings.quick, sweep_set)).name
    figures["chain_factors"] = plots.plot_chain_factors(
        chain_res["vanishing"]["factors"], chain_res["exploding"]["factors"],
        out / "chain_factors.png").name
    figures["chain_width"] = plots.plot_width_curve(out / "chain_width.png").name
    timing["figures"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_start

    summary = {
        "vgcore_version": __version__,
        "data": {"source": source, "is_full_mnist": bool(is_full),
                 "n_training": int(len(Xtr)), "n_validation": int(len(Xva)),
                 "n_probe": int(n_probe)},
        "settings": settings.as_dict(),
        "initial_speeds": {str(k): v for k, v in initial.items()},
        "six_neurons": {"sizes": diag.hidden_sizes(2), "seed": six_seed, "values": six,
                        "file": files["six_neurons"]},
        "speed_training": {str(k): {kk: vv for kk, vv in v.items() if kk != "history"}
                           for k, v in speed.items()},
        "book_ratio_4_hidden": diag.BOOK_RATIO_4_HIDDEN,
        "depth_sweep": {
            "file": files["depth_sweep"],
            **{key: sweep_set[key] for key in ("epochs", "mini_batch_size", "eta", "lmbda",
                                               "n_training", "book", "as_book", "why")},
            "chance_percent": chance,
            "did_not_train_below_percent": diag.DID_NOT_TRAIN_FACTOR * chance,
            "did_not_train": did_not_train_runs(depths),
            "depths": {str(k): v for k, v in depths.items()},
            "welch": welch},
        "chain": chain_res,
        "files": files,
        "figures": figures,
        "timing_seconds": timing,
    }
    summary = _json_safe(summary)
    diag.write_json_atomic(out / "summary.json", summary, indent=1)
    report = render_report(summary)
    _files.atomic_write_text(out / "report.md", report, what="the report")
    _log(_console_tables(summary))
    _log(f"wrote {out}/report.md, summary.json, {len(figures)} figures "
         f"in {timing['total']:.1f} s")
    return summary


def depth_entry(k, runs, n_validation, chance):
    """The summary of one depth's sweep runs (``runs``: the depth_sweep.json entries).

    ``mean`` and ``std`` are over the runs that trained; ``trained`` says
    which did (:func:`vgcore.diagnostics.did_not_train`).
    """
    best = diag.best_accuracies([r["accuracy"] for r in runs], n_validation)
    trained = [not diag.did_not_train(b, chance) for b in best]
    mean, std = diag.mean_std([b for b, ok in zip(best, trained) if ok])
    return {
        "sizes": diag.hidden_sizes(k), "seeds": [r["seed"] for r in runs],
        "best_accuracy": best,
        "best_epoch": [int(np.argmax(r["accuracy"])) + 1 for r in runs],
        "final_accuracy": [100.0 * r["accuracy"][-1] / n_validation for r in runs],
        "first_epoch_above_50": [diag.first_epoch_above(r["accuracy"], n_validation, 50.0)
                                 for r in runs],
        "trained": trained, "n_trained": sum(trained),
        "mean": mean, "std": std, "book": diag.BOOK_BEST_ACCURACY[k],
    }


def did_not_train_runs(depths):
    """``[{"hidden_layers", "seed", "best_accuracy"}, ...]`` of the runs that did not train."""
    return [{"hidden_layers": int(k), "seed": seed, "best_accuracy": best}
            for k, v in depths.items()
            for seed, best, ok in zip(v["seeds"], v["best_accuracy"], v["trained"]) if not ok]


def depth_tests(depths, pairs=((1, 2), (2, 3), (3, 4), (2, 4))):
    """Welch t-tests of the best validation accuracy between pairs of depths.

    ``depths`` maps the number of hidden layers (int or str) to a dict with
    ``best_accuracy`` (one value per seed), ``mean`` and optionally
    ``trained`` (one bool per seed; runs that did not train are left out
    of the test, and ``excluded`` and ``note`` say so).  The sign of ``t``
    follows ``mean_difference`` (deeper minus shallower, over the runs
    tested); ``p_holm`` is Holm-corrected over the pairs tested.
    """
    depths = {int(k): v for k, v in depths.items()}

    def kept(k):
        v = depths[k]
        ok = v.get("trained") or [True] * len(v["best_accuracy"])
        seeds = v.get("seeds") or list(range(len(ok)))
        return ([b for b, t in zip(v["best_accuracy"], ok) if t],
                [s for s, t in zip(seeds, ok) if not t])

    welch = []
    for a, b in pairs:
        (va, out_a), (vb, out_b) = kept(a), kept(b)
        w = diag.welch_test(vb, va)
        w.update({"a": a, "b": b,
                  "mean_difference": (float(np.mean(vb)) - float(np.mean(va))
                                      if va and vb else None),
                  "excluded": {str(a): out_a, str(b): out_b}})
        dropped = "; ".join(f"{k} hidden layers: seed{'s' if len(o) > 1 else ''} "
                            + ", ".join(map(str, o)) for k, o in ((a, out_a), (b, out_b)) if o)
        if dropped:
            w["note"] = (f"{w['note']} that trained (did not train: {dropped})"
                         if w["p"] is None else
                         f"without the runs that did not train ({dropped})")
        welch.append(w)
    for w, p_holm in zip(welch, diag.holm([w["p"] for w in welch])):
        w["p_holm"] = p_holm
        w["significant_at_5_percent"] = None if w["p"] is None else bool(w["p"] < 0.05)
        w["significant_at_5_percent_holm"] = None if p_holm is None else bool(p_holm < 0.05)
    return welch


def _json_safe(obj):
    """Replace non-finite floats (JSON has none) by ``None``, recursively."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def _seeds(seeds):
    """``"seed 0"``, ``"seeds 0–19"`` or ``"seeds 0, 3"``: which seeds, said plainly."""
    seeds = list(seeds)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def _over(seeds, what="runs"):
    """``"seed 0"`` or ``"mean ± std over 3 runs, seeds 0–2"``."""
    return _seeds(seeds) if len(seeds) == 1 else f"mean ± std over {len(seeds)} {what}, " \
        f"{_seeds(seeds)}"


def _wrap(text, indent="  ", more="    ", width=92):
    import textwrap
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=more,
                         break_on_hyphens=False)


def _banner(settings, sw, is_full, forced_sample, source, n_validation, n_probe, out):
    """The opening lines on the console: which data, which settings, where the results go."""
    what = "FULL MNIST" if is_full else "the EMBEDDED SAMPLE of MNIST"
    lines = [f"vgcore chapter5 on {what}: {sw['n_training']:,} training, "
             f"{n_validation:,} validation images"]
    if is_full:
        lines.append(_wrap(f"from {source}"))
    elif forced_sample:
        lines.append(_wrap("chosen by --data sample; for the book's numbers use --data DIR, "
                           "DIR holding the four MNIST IDX .gz files"))
    else:
        lines.append(_wrap("Full MNIST was not found (report.md lists where vgcore "
                           "looked). For the book's numbers: --data DIR or VGCORE_MNIST=DIR, "
                           "DIR holding the four MNIST IDX .gz files."))
    if settings.quick:
        lines.append(_wrap("QUICK SMOKE TEST (--quick): it only shows that every step runs. "
                           "Too few epochs and images for the chapter's results: its numbers "
                           "are not compared with the book's."))
    lines.append(f"  depth sweep: {sw['epochs']} epochs, mini-batch {sw['mini_batch_size']}, "
                 f"eta {_num(sw['eta'])}, lmbda {_num(sw['lmbda'])}; {_seeds(settings.seeds)}")
    b = sw["book"]
    if sw["as_book"]:
        lines.append("    (the book's settings)")
    elif not settings.quick:
        how = [f"book: {b['epochs']} epochs, lmbda {_num(b['lmbda'])} on "
               f"{b['n_training']:,} images"]
        if settings.lmbda is None:
            how.append("lmbda keeps the book's lmbda/n")
        if settings.epochs is None and sw["epochs"] != b["epochs"]:
            how.append("more epochs as an epoch is fewer steps")
        given = [f"--{n}" for n, v in (("epochs", settings.epochs), ("lmbda", settings.lmbda))
                 if v is not None]
        if given:
            how.append(" and ".join(given) + " as given")
        lines.append(_wrap("; ".join(how) + " (see report.md)", indent="    ", more="    "))
    lines.append(_wrap(f"learning speeds, on the first {n_probe:,} training images: "
                       f"{len(settings.init_seeds)} networks at initialisation "
                       f"({_seeds(settings.init_seeds)}); {settings.epochs_speed} epochs of "
                       f"full-batch descent, lmbda {_num(LMBDA)} as in the book "
                       f"({_seeds(settings.seeds)})"))
    lines.append(("  one process (--jobs 1)" if settings.jobs <= 1 else
                  f"  {settings.jobs} worker processes") + f"; results go to {out}{os.sep}")
    return "\n".join(lines)


def _sweep_figure_title(is_full, quick, sw):
    data = ("full MNIST" if is_full else "embedded sample") + f", {sw['n_training']:,} images"
    title = (f"Depth sweep ({data}): {sw['epochs']} epochs, "
             f"mini-batch {sw['mini_batch_size']}, η = {_num(sw['eta'])}, "
             f"λ = {_num(sw['lmbda'])}")
    if quick:
        title = "Smoke test (--quick), not the chapter's result\n" + title
    return title


def _num(x):
    """A setting as the book writes it: 5.0, 0.5, 0.1 (``:g`` would give 5)."""
    x = float(x)
    return f"{x:.1f}" if x.is_integer() else f"{x:g}"


def _fmt(v, digits=4):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    return str(v)


def _pm(mean, std, digits=4):
    return _fmt(mean, digits) + ("" if std is None else f" ± {_fmt(std, 2)}")


def _pct(mean, std):
    return "n/a" if mean is None else f"{mean:.2f}" + ("" if std is None else f" ± {std:.2f}")


def _cell(c):
    """A Markdown table cell: pipes inside it (as in |w|) are escaped."""
    return str(c).replace("|", "\\|")


def _table(header, rows):
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _settings_table(s):
    """This run's settings beside the book's."""
    d, st, sw = s["data"], s["settings"], s["depth_sweep"]
    b = sw["book"]
    n_init = len(st["init_seeds"])
    rows = [
        ["depth sweep: training images", f"{sw['n_training']:,}", f"{b['n_training']:,}"],
        ["depth sweep: epochs", sw["epochs"], b["epochs"]],
        ["depth sweep: mini-batch, η", f"{sw['mini_batch_size']}, {_num(sw['eta'])}",
         f"{b['mini_batch_size']}, {_num(b['eta'])}"],
        ["depth sweep: λ (and λ/n: each step multiplies the weights by 1 − ηλ/n)",
         f"{_num(sw['lmbda'])} ({sw['lmbda'] / sw['n_training']:.2g})",
         f"{_num(b['lmbda'])} ({b['lmbda'] / b['n_training']:.2g})"],
        ["depth sweep and speed histories: runs per network", _seeds(st["seeds"]), "one run"],
        ["initial speeds: networks per depth", f"{n_init} ({_seeds(st['init_seeds'])})",
         "one network"],
        ["speed histories: full-batch descent on the first images",
         f"{st['epochs_speed']} epochs, {d['n_probe']:,} images, λ = {_num(st['lmbda_speed'])}",
         f"500 epochs, 1,000 images, λ = {_num(LMBDA)}"],
    ]
    return _table(["setting", "this run", "the book"], rows)


def _initial_table(s):
    rows = []
    for k, v in s["initial_speeds"].items():
        std = v["std"] or [None] * len(v["mean"])
        for j, (m, sd, b) in enumerate(zip(v["mean"], std, v["book"])):
            one, two = v.get("within_one_std_of_book"), v.get("within_two_std_of_book")
            where = ("n/a" if one is None else "1 std" if one[j] else
                     "2 std" if two[j] else "more than 2 std")
            rows.append([k if j == 0 else "", j + 1, _pm(m, sd, 3), _fmt(b, 3), where])
    n = len(next(iter(s["initial_speeds"].values()))["seeds"])
    return _table(["hidden layers", "hidden layer", f"vgcore: mean ± std over {n} networks",
                   "book (one network)", "the book's value is within … of vgcore's mean"],
                  rows)


def _speed_table(s):
    rows = []
    seeds = None
    for k, v in s["speed_training"].items():
        seeds = v["seeds"]
        r0 = diag.mean_std(v["ratio_first_epoch"])
        r1 = diag.mean_std(v["ratio_last_epoch"])
        rows.append([k, v["epochs"], _pm(*r0, 3), _pm(*r1, 3),
                     f"{_fmt(min(v['ratio_min']), 3)} – {_fmt(max(v['ratio_max']), 3)}",
                     "96 at epoch 0, ~50–110 later" if k == "4" else ""])
    over = _over(seeds)
    return _table(["hidden layers", "epochs", f"last/first hidden speed, epoch 0 ({over})",
                   "same, last epoch", "lowest – highest over all epochs and runs", "book"],
                  rows)


def _median_epoch(epochs):
    known = [e for e in epochs if e is not None]
    if not known:
        return None
    return int(np.median(known)) if len(known) % 2 else float(np.median(known))


def _sweep_table(s):
    sw = s["depth_sweep"]
    quick = s["settings"]["quick"]
    rows = []
    for k, v in sw["depths"].items():
        per_seed = ", ".join(f"{a:.2f}" + ("" if ok else " (did not train)")
                             for a, ok in zip(v["best_accuracy"], v["trained"]))
        first = ", ".join("–" if e is None else str(e) for e in v["first_epoch_above_50"])
        row = [k, "[" + ", ".join(map(str, v["sizes"])) + "]",
               f"{v['n_trained']} of {len(v['seeds'])}", _pct(v["mean"], v["std"]),
               per_seed, first]
        if not quick:
            row.append(f"{v['book']:.2f}")
        rows.append(row)
    header = ["hidden layers", "network", "runs that trained",
              "best validation accuracy %, mean ± std over the runs that trained",
              "best validation accuracy % of each run (" + _seeds(
                  next(iter(sw["depths"].values()))["seeds"]) + ")",
              "first epoch above 50 %, each run"]
    if not quick:
        b = sw["book"]
        header.append(f"book % (full MNIST, {b['epochs']} epochs, λ = {_num(b['lmbda'])})")
    return _table(header, rows)


def _did_not_train_text(s):
    sw = s["depth_sweep"]
    if not sw["did_not_train"]:
        return (f"Every run trained: each one's best validation accuracy is above "
                f"{sw['did_not_train_below_percent']:.1f} %, twice the chance level of "
                f"{sw['chance_percent']:.1f} % (always answering the most common digit).")
    by_depth = {}
    for r in sw["did_not_train"]:
        by_depth.setdefault(r["hidden_layers"], []).append(r)
    runs = "; ".join(
        f"{k} hidden layers, {_seeds([r['seed'] for r in rs])} (best "
        + ", ".join(f"{r['best_accuracy']:.2f}" for r in rs) + " %)"
        for k, rs in by_depth.items())
    return (f"**Did not train**: {runs}. Their best validation accuracy stayed below "
            f"{sw['did_not_train_below_percent']:.1f} %, twice the chance level of "
            f"{sw['chance_percent']:.1f} % (always answering the most common digit): the "
            "network never left the plateau it starts on. They are left out of the means "
            "and the t-tests.")


def _sample_regime_text(s):
    """Why the depth sweep's settings differ from the book's, in a sentence or two."""
    sw, st = s["depth_sweep"], s["settings"]
    b = sw["book"]
    parts = []
    if st["lmbda"] is None and sw["lmbda"] != b["lmbda"]:
        parts.append(f"λ = {_num(sw['lmbda'])} instead of {_num(b['lmbda'])}, the same λ/n "
                     "(so the weight decay per step, 1 − ηλ/n, is the book's)")
    if st["epochs"] is None and sw["epochs"] != b["epochs"]:
        parts.append(f"{sw['epochs']} epochs instead of {b['epochs']}, since an epoch of "
                     f"{sw['n_training']:,} images is {sw['n_training'] // sw['mini_batch_size']:,}"
                     f" steps, not {b['n_training'] // b['mini_batch_size']:,}")
    if not parts:
        return ""
    return ("To keep the book's regime the depth sweep uses " + ", and ".join(parts)
            + f". With the book's λ = {_num(b['lmbda'])} on these images most "
            "4-hidden-layer runs never leave the plateau they start on "
            "(vgcore's `docs/chapter5_sample.md`).")


def _lesson_text(s):
    """The chapter's lesson, as the depth sweep shows it: deeper networks start later."""
    sw = s["depth_sweep"]
    med = {k: _median_epoch(v["first_epoch_above_50"]) for k, v in sw["depths"].items()}
    if any(m is None for m in med.values()):
        return ""
    several = len(next(iter(sw["depths"].values()))["seeds"]) > 1
    epochs = ", ".join(f"{m} ({k} hidden layer{'s' if k != '1' else ''})"
                       for k, m in med.items())
    first = (f"validation accuracy first passed 50 % in epoch {epochs}"
             + (" (medians over the runs)" if several else ""))
    order = list(med.values())
    later = all(a <= b for a, b in zip(order, order[1:])) and order[-1] > order[0]
    v4 = s["speed_training"].get("4")
    slow = ("" if not v4 else
            "their early layers learn slowly: at the start, the first hidden layer of "
            f"[784, 30, 30, 30, 30, 10] learns {float(np.mean(v4['ratio_first_epoch'])):.0f} "
            f"times slower than the last (section 2, {_seeds(v4['seeds'])}). ")
    if later:
        text = ("The chapter's lesson in the sweep: deeper networks start learning later; "
                f"{first}. " + (slow[0].upper() + slow[1:] if slow else ""))
    else:
        text = first[0].upper() + first[1:] + ". "
    means = {k: v["mean"] for k, v in sw["depths"].items() if v["mean"] is not None}
    if means:
        k_best = max(means, key=means.get)
        deepest = max(sw["depths"], key=int)
        if k_best != deepest:
            text += (f"The best mean accuracy is with {k_best} hidden "
                     f"layer{'s' if k_best != '1' else ''}: more layers do not help.")
        else:
            text += "Here the deepest network has the best mean accuracy."
    return text.strip()


def _welch_table(s):
    rows = []
    for w in s["depth_sweep"]["welch"]:
        if w["p"] is None:
            verdict = "not tested: " + w["note"]
        else:
            if w["p_holm"] < 0.05:
                verdict = "significant (Holm-corrected p < 0.05)"
            elif w["p"] < 0.05:
                verdict = "p < 0.05 uncorrected only"
            else:
                verdict = "not significant"
            if w["note"]:
                verdict += "; " + w["note"]
        diff = w.get("mean_difference")
        rows.append([f"{w['a']} vs {w['b']}", "n/a" if diff is None else f"{diff:+.3f}",
                     _fmt(w["t"], 3), _fmt(w["p"], 3), _fmt(w.get("p_holm"), 3), verdict])
    n_tested = sum(w["p"] is not None for w in s["depth_sweep"]["welch"])
    return _table(["hidden layers", "difference of means (deeper − shallower, points)",
                   "Welch t", "p (two-sided)", f"p (Holm, over the {n_tested} tests made)",
                   "verdict"], rows)


def _chain_tables(s):
    c = s["chain"]
    rows = []
    for name in ("vanishing", "exploding"):
        v = c[name]
        rows.append([name, ", ".join(f"{w:.3g}" for w in v["weights"]),
                     ", ".join(f"{f:.4g}" for f in v["abs_factors"]),
                     f"{v['dC_db_backprop'][0]:.6g}", f"{v['dC_db1_product']:.6g}",
                     f"{v['relative_difference']:.1e}", f"{abs(v['ratio_db1_dbL']):.4g}"])
    t1 = _table(["case", "weights w_1..w_4", "|w_j σ'(z_j)|, j = 2..4",
                 "dC/db_1 (backprop)", "dC/db_1 (product)", "relative difference",
                 "|dC/db_1 / dC/db_4|"], rows)
    rows = [[f"{r['w']:g}", f"{r['formula']:.10f}", f"{r['root_finding']:.10f}",
             f"{r['grid']:.6f}"] for r in c["width"]["rows"]]
    t2 = _table(["|w|", "width (formula)", "width (root finding)", "width (grid)"], rows)
    return t1, t2


def render_report(s):
    """The Markdown report of a summary dict."""
    d = s["data"]
    st = s["settings"]
    sw = s["depth_sweep"]
    init_seeds = st["init_seeds"]
    lines = [
        "# Chapter 5 of *Neural Networks and Deep Learning*, reproduced by vgcore",
        "",
        f"**Data: {'full MNIST' if d['is_full_mnist'] else 'embedded sample of MNIST'}** "
        f"— {d['source']}.",
        "",
    ]
    if st["quick"]:
        lines += ["> **This is a smoke test (`--quick`)**: every step runs, on too few images "
                  "and epochs for the chapter's results. Its accuracies are not compared with "
                  "the book's; run without `--quick` for those.", ""]
    elif not d["is_full_mnist"]:
        lines += ["> The embedded sample has a tenth of the book's training images, so "
                  "accuracies are lower than the book's. " + _sample_regime_text(s)
                  + " Point `--data` (or `$VGCORE_MNIST`) at a folder of the four MNIST IDX "
                  "`.gz` files for the book's settings and numbers.", ""]
    lines += [
        "Settings, beside the book's:",
        "",
        _settings_table(s),
        "",
        "## 1. Learning speed at initialisation",
        "",
        "Learning speed of a layer = ‖mean over the first "
        f"{d['n_probe']:,} training images of dC/db‖ (the cost's gradient only), for "
        f"networks straight from the default initializer: {len(init_seeds)} networks of "
        f"each depth ({_seeds(init_seeds)}).",
        "",
        _initial_table(s),
        "",
        _initial_verdict(s),
        "",
        f"Ratio of the last to the first hidden layer's speed, mean over the same "
        f"{len(init_seeds)} networks: "
        + ", ".join(f"{k} hidden layers {v['ratio_last_first_mean']:.3g} "
                    f"(book {v['book_ratio_last_first']:.3g})"
                    for k, v in s["initial_speeds"].items()) + ".",
        "",
        f"![Initial learning speeds]({s['figures']['initial_speeds']})",
        "",
        f"First six neurons of each hidden layer of [784, 30, 30, 10] (seed "
        f"{s['six_neurons']['seed']}, file `{s['six_neurons']['file']}`):",
        "",
        _table(["layer"] + [f"neuron {j + 1}" for j in range(N_SIX)],
               [[f"hidden {i + 1}"] + [f"{x:+.4f}" for x in row]
                for i, row in enumerate(s["six_neurons"]["values"])]),
        "",
        f"![Six neurons]({s['figures']['six_neurons']})",
        "",
        "## 2. Learning speed during training",
        "",
        f"{st['epochs_speed']} epochs of full-batch gradient descent on the "
        f"{d['n_probe']:,} probe images (`SGD(td, 1, {d['n_probe']}, {_num(st['eta'])}, "
        f"lmbda={_num(st['lmbda_speed'])})` per epoch), speeds at the start of each epoch, "
        f"{_seeds(st['seeds'])}. Its epoch 0 is the network at initialisation, so the "
        "epoch-0 ratio of seed s is also one of the networks of section 1. Ratio of the last "
        "hidden layer's speed to the first's:",
        "",
        _speed_table(s),
        "",
        _speed_verdict(s),
        "",
    ]
    for k in s["speed_training"]:
        lines += [f"![Speed of learning, {k} hidden layers]({s['figures'][f'speed_{k}hidden']})",
                  ""]
    lines += [
        "Files (published layout, one list of per-hidden-layer norms per epoch): "
        + ", ".join(f"`{f}`" for v in s["speed_training"].values() for f in v["files"]) + ".",
        "",
        "## 3. Depth sweep: does accuracy drop with depth?",
        "",
        f"{sw['epochs']} epochs of mini-batch SGD (mini-batch {sw['mini_batch_size']}, "
        f"η = {_num(sw['eta'])}, λ = {_num(sw['lmbda'])}) on {sw['n_training']:,} training "
        f"images; each run's best accuracy over the epochs on the {d['n_validation']:,} "
        "validation images"
        + ("" if sw["as_book"] or st["quick"] else
           f" (the book: {sw['book']['epochs']} epochs, λ = {_num(sw['book']['lmbda'])}, "
           f"{sw['book']['n_training']:,} images; see the settings above)") + ".",
        "",
        _sweep_table(s),
        "",
        _did_not_train_text(s),
        "",
    ]
    lesson = "" if st["quick"] else _lesson_text(s)
    if lesson:
        lines += [lesson, ""]
    lines += [
        f"![Validation accuracy by depth]({s['figures']['depth_sweep']})",
        "",
        "Welch's two-sided t-test on the best validation accuracy, between depths "
        "(runs that did not train left out):",
        "",
        _welch_table(s),
        "",
        _welch_conclusion(s),
        "",
        "## 4. The chain: one neuron per layer",
        "",
    ]
    t1, t2 = _chain_tables(s)
    c = s["chain"]
    lines += [
        "dC/db_1 = σ'(z_1) · w_2 σ'(z_2) · w_3 σ'(z_3) · w_4 σ'(z_4) · ∂C/∂a_4, with "
        f"C = (a_4 − y)²/2, input a_0 = {c['x']}, y = {c['y']}. Vanishing: |w_j| < 1, so every "
        "factor is below 1/4. Exploding: w_j = 100, b_j = −100 a_{j−1}, so every z_j = 0 and "
        "every factor is exactly 25.",
        "",
        t1,
        "",
        f"![Chain factors]({s['figures']['chain_factors']})",
        "",
        "Width of the interval of inputs a with |w σ'(wa + b)| ≥ 1: "
        "(2/|w|) ln(|w|(1 + √(1 − 4/|w|))/2 − 1), against root finding and a dense grid:",
        "",
        t2,
        "",
        f"Maximum width {c['width']['max_width']:.4f} at |w| = {c['width']['max_w']:.3f} "
        "(the book: about 0.45 at |w| ≈ 6.9).",
        "",
        f"![Width against |w|]({s['figures']['chain_width']})",
        "",
        "## Timing",
        "",
        "Wall-clock time: " + ", ".join(
            f"{k.replace('_', ' ')} {v:.1f} s" for k, v in s["timing_seconds"].items()
            if isinstance(v, float) and k != "training_cpu_all_runs")
        + f". CPU time of the training runs, summed over the runs (they share "
        f"{st['jobs']} process{'es' if st['jobs'] > 1 else ''}): "
        f"{s['timing_seconds']['training_cpu_all_runs']:.1f} s.",
        "",
        f"_vgcore {s['vgcore_version']}_",
        "",
    ]
    return "\n".join(lines)


def _initial_verdict(s):
    one = two = total = 0
    for v in s["initial_speeds"].values():
        if v.get("within_one_std_of_book") is None:
            return "(The spread needs at least two seeds: use `--init-seeds`.)"
        one += sum(v["within_one_std_of_book"])
        two += sum(v["within_two_std_of_book"])
        total += len(v["mean"])
    return (f"{one} of the book's {total} values lie within one standard deviation of "
            f"vgcore's mean over the networks, {two} within two: the book's numbers are "
            "single draws from this spread.")


def _speed_verdict(s):
    v = s["speed_training"].get("4")
    if not v:
        return ""
    r0 = float(np.mean(v["ratio_first_epoch"]))
    r1 = float(np.mean(v["ratio_last_epoch"]))
    who = _seeds(v["seeds"]) if len(v["seeds"]) == 1 else f"mean over {_seeds(v['seeds'])}"
    return (f"With 4 hidden layers ({who}) the first hidden layer learns {r0:.0f} times "
            f"slower than the last at the start and {r1:.0f} times slower after "
            f"{v['epochs']} epochs (the book: 96 at epoch 0, about 50 to 110 later).")


def _welch_conclusion(s):
    sw = s["depth_sweep"]
    ws = sw["welch"]
    tested = [w for w in ws if w["p"] is not None]
    untested = [f"{w['a']} vs {w['b']}" for w in ws if w["p"] is None]
    if not tested:
        return ("**No significance test could be made: each needs >= 2 runs that trained "
                "per depth**" + ("" if sw["did_not_train"] else ": rerun with e.g. "
                                 "`--seeds 5`") + ".")
    n = len(sw["depths"]["1"]["seeds"])
    not_tested = (f" Not tested: {', '.join(untested)} (fewer than 2 runs that trained)."
                  if untested else "")
    dropped = (" Runs that did not train are left out." if sw["did_not_train"]
               and not untested else "")

    def describe(w):
        way = "better" if w["mean_difference"] > 0 else "worse"
        return (f"{w['b']} hidden layers {way} than {w['a']} by "
                f"{abs(w['mean_difference']):.2f} points (p = {w['p']:.3g}, "
                f"Holm {w['p_holm']:.3g})")

    sig = [describe(w) for w in tested if w["p_holm"] < 0.05]
    weak = [describe(w) for w in tested if w["p"] < 0.05 <= w["p_holm"]]
    if not sig and not weak:
        text = (f"With {n} seeds per depth no difference tested is significant at the 5 % "
                "level" + ("" if untested else
                           ": the book's \"probably statistically insignificant\" is borne "
                           "out") + ".")
        return text + dropped + not_tested
    text = f"With {n} seeds per depth (best validation accuracy of each run):{dropped} "
    if sig:
        text += ("significant after Holm's correction for the "
                 f"{len(tested)} tests: " + "; ".join(sig) + ". ")
    if weak:
        text += "Significant only without correction: " + "; ".join(weak) + ". "
    drops = [w for w in tested if w["a"] >= 2 and w["mean_difference"] < 0
             and w["p_holm"] < 0.05]
    if drops:
        data = "full MNIST" if s["data"]["is_full_mnist"] else \
            f"these {sw['n_training']:,} images"
        text += ("So the drop beyond two hidden layers, which the book calls \"probably "
                 f"statistically insignificant\", is real on {data} (for these settings and "
                 "seeds; the seed is the only source of variation).")
    return (text.strip() + not_tested).strip()


def _console_tables(s):
    st, sw = s["settings"], s["depth_sweep"]
    quick = st["quick"]
    init_seeds = st["init_seeds"]
    lines = ["", f"Initial learning speed of each hidden layer: mean ± std over "
             f"{len(init_seeds)} networks ({_seeds(init_seeds)})  |  book (one network)"]
    for k, v in s["initial_speeds"].items():
        std = v["std"] or [None] * len(v["mean"])
        lines.append(f"  {k} hidden: " + ", ".join(_pm(m, sd, 3) for m, sd in
                                                   zip(v["mean"], std))
                     + "  |  " + ", ".join(_fmt(b, 3) for b in v["book"]))
    seeds = next(iter(s["speed_training"].values()))["seeds"]
    lines.append(f"Last/first hidden-layer speed in {st['epochs_speed']} epochs of "
                 f"full-batch descent ({_seeds(seeds)}{', mean' if len(seeds) > 1 else ''}): "
                 "epoch 0 -> last epoch")
    for k, v in s["speed_training"].items():
        lines.append(f"  {k} hidden: {_fmt(float(np.mean(v['ratio_first_epoch'])), 3)} -> "
                     f"{_fmt(float(np.mean(v['ratio_last_epoch'])), 3)}"
                     + ("  |  book: 96 -> about 50-110" if k == "4" else ""))
    some = next(iter(sw["depths"].values()))["seeds"]
    head = (f"Depth sweep, best validation accuracy % ({_over(some, 'runs that trained')}); "
            "first epoch above 50 %")
    lines.append(head + ("" if quick else "  |  book (full MNIST)"))
    for k, v in sw["depths"].items():
        first = _median_epoch(v["first_epoch_above_50"])
        line = f"  {k} hidden: "
        if v["n_trained"]:
            line += f"{_pct(v['mean'], v['std'])}; epoch {first if first else '-'}"
        bad = [f"{sd} ({b:.1f} %)" for sd, b, ok in
               zip(v["seeds"], v["best_accuracy"], v["trained"]) if not ok]
        if bad:
            line += ("; " if v["n_trained"] else "") + "DID NOT TRAIN: " + \
                ("seed " if len(bad) == 1 else "seeds ") + ", ".join(bad)
        if not quick:
            line += f"  |  {v['book']:.2f}"
        lines.append(line)
    if sw["did_not_train"]:
        lines.append(_wrap(f"(did not train: best accuracy below "
                           f"{sw['did_not_train_below_percent']:.1f} %, twice the chance "
                           f"level {sw['chance_percent']:.1f} %; left out of the mean and "
                           "the t-tests)"))
    if len(some) < 2:
        lines.append("  Welch t-tests between depths: need >= 2 seeds (e.g. --seeds 3)")
    else:
        for w in sw["welch"]:
            lines.append(_wrap(f"Welch t-test, {w['a']} vs {w['b']} hidden layers: " + (
                w["note"] if w["p"] is None else
                f"t = {w['t']:.3g}, p = {w['p']:.3g} (Holm {w['p_holm']:.3g})"
                + (f"; {w['note']}" if w["note"] else ""))))
    if quick:
        lines.append("  (smoke test: 2 epochs are too few for the deeper networks to start "
                     "learning; not the chapter's results)")
    c = s["chain"]
    lines.append(f"Chain: exploding factors {c['exploding']['abs_factors']}, max vanishing "
                 f"factor {max(c['vanishing']['abs_factors']):.3g}, max width "
                 f"{c['width']['max_width']:.4f} at |w| = {c['width']['max_w']:.3f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def add_parser(subparsers):
    """Register ``vgcore chapter5`` on the ``vgcore`` command's subparsers."""
    p = subparsers.add_parser(
        "chapter5", help="reproduce chapter 5 (vanishing gradients) into a folder of results",
        description="Reproduce every measurement of chapter 5 of Neural Networks and Deep "
        "Learning (learning speeds per layer, the depth sweep with a significance test, the "
        "one-neuron chain) and write report.md, summary.json, JSON files and PNG figures "
        "to --out.")
    _add_arguments(p)
    p.set_defaults(func=_cli)
    return p


def _add_arguments(p):
    p.add_argument("--data", metavar="PATH",
                   help="folder of the MNIST files, or 'sample' for the embedded sample "
                        "(default: full MNIST if found, else the sample)")
    p.add_argument("--out", default="chapter5_results", metavar="DIR",
                   help="output folder (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="training runs per network, seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help=f"epochs of the depth sweep (default: the book's {BOOK_EPOCHS} on "
                        f"full MNIST, {SMALL_DATA_EPOCHS} on fewer images such as the "
                        "embedded sample)")
    p.add_argument("--lmbda", type=float, default=None, metavar="L",
                   help="L2 regularisation of the depth sweep (default: the book's "
                        f"{_num(LMBDA)} x training images / {BOOK_N_TRAIN:,}: {_num(LMBDA)} "
                        "on full MNIST, 0.5 on the embedded sample)")
    p.add_argument("--epochs-speed", type=int, default=500, metavar="N",
                   help="epochs of full-batch descent for the speed histories "
                        "(default: %(default)s)")
    p.add_argument("--init-seeds", type=int, default=20, metavar="N",
                   help="seeds for the initial speeds' mean and spread (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: the number of usable CPUs; "
                        "results do not depend on it)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test, not the chapter's results: 2 epochs on 1,000 images, "
                        "20 speed epochs, 3 initial seeds")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def default_jobs():
    """The number of CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: What ``vgcore chapter5`` needs beyond the core: the ``[chapter5]`` extra.
EXTRA_MODULES = ("tqdm", "matplotlib")


def _missing_modules(names=EXTRA_MODULES):
    """The modules of ``names`` that cannot be imported (not installed)."""
    import importlib.util

    missing = []
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):        # e.g. blocked: sys.modules[name] = None
            missing.append(name)
    return missing


def _out_problem(out):
    """Why the folder ``out`` cannot be created or written, or None.  Nothing
    is created here."""
    path = Path(out).absolute()
    if path.exists():
        if not path.is_dir():
            return f"--out {out}: is a file, not a folder (give a folder; it is created " \
                   f"if missing)"
        folder = path
    else:
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            return f"--out {out}: {folder} is a file, so no folder can be made under it"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"--out {out}: cannot write in {folder} (permission denied); give a " \
               f"folder you may write to"
    return None


def _data_problem(spec):
    """Why ``--data spec`` holds no MNIST, or None (the files are read later)."""
    if spec is None or str(spec).lower() == "sample":
        return None
    from .. import mnist_loader

    try:
        mnist_loader.find_data(spec, download=False)
    except mnist_loader.MNISTNotFoundError as e:
        why = e.searched[0].rsplit(": ", 1)[-1] if e.searched else "not found"
        return (f"--data {spec}: {why}; give a folder of the four MNIST IDX files, "
                f"Nielsen's mnist.pkl.gz, or 'sample'")
    return None


def _error(message, code):
    print(f"vgcore chapter5: error: {message}", file=sys.stderr)
    return code


def _cli(args):
    """Check everything that can be checked before anything is created or
    computed: one line on stderr and exit code 2 for a bad input, 1 for a
    failure during the run."""
    try:
        jobs = args.jobs if args.jobs is not None else default_jobs()
        settings = Settings(seeds=args.seeds, epochs=args.epochs, lmbda=args.lmbda,
                            epochs_speed=args.epochs_speed, init_seeds=args.init_seeds,
                            jobs=jobs, quick=args.quick, progress=not args.no_progress)
    except ValueError as e:
        return _error(e, 2)
    missing = _missing_modules()
    if missing:
        return _error(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                      f"installed (the [chapter5] extra): pip install \"vgcore[chapter5]\"", 2)
    problem = _data_problem(args.data) or _out_problem(args.out)
    if problem:
        return _error(problem, 2)
    try:
        run(settings, args.out, data_spec=args.data)
    except OSError as e:                   # e.g. the disk filled up
        return _error(f"{e.strerror or e}: {e.filename}" if e.filename else e, 1)
    except ValueError as e:                # MNISTFormatError is one
        return _error(e, 1)
    except KeyboardInterrupt:
        print("vgcore chapter5: interrupted; the results folder is incomplete",
              file=sys.stderr)
        return 130
    return 0


def main(argv=None):
    """``python -m vgcore.chapter5``: the same as ``vgcore chapter5``."""
    p = argparse.ArgumentParser(prog="vgcore chapter5")
    _add_arguments(p)
    return _cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
