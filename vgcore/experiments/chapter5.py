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
4. the **chain** of one-neuron layers (:mod:`vgcore.experiments.chain`).

It writes ``report.md`` (tables and figures), the JSON files in the
chapter's published layouts, PNG figures and a machine-readable
``summary.json`` to ``--out``.  Seed ``s`` runs ``np.random.seed(s)`` and
``random.seed(s)`` before each network is built, as network2 does, so the
results do not depend on ``--jobs``.

:func:`run` is a short list of named phases -- :func:`prepare_data`,
:func:`initial_speeds`, :func:`training_runs`, :func:`speed_histories`,
:func:`depth_sweep`, :func:`chain_results`, :func:`draw_figures`, then the
summary and the report (:mod:`vgcore.experiments.report`) -- each writing its
own files and returning what the later ones need.
"""

import argparse
import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .._support import files as _files
from . import diagnostics as diag
from . import report
from . import sweep as engine
from .diagnostics import BOOK_EPOCHS, BOOK_N_TRAIN, ETA, LMBDA, MINI_BATCH, N_PROBE
from .report import num

__all__ = ["add_parser", "run", "main", "Settings", "sweep_settings", "chapter5_source",
           "prepare_data", "initial_speeds", "training_runs", "speed_histories",
           "depth_sweep", "chain_results", "draw_figures", "summarise",
           "depth_entry", "did_not_train_runs", "depth_tests"]

DEPTHS_SPEED = (2, 3, 4)
DEPTHS_SWEEP = (1, 2, 3, 4)
SMALL_DATA_EPOCHS = 60   # the depth sweep on fewer images: see sweep_settings
QUICK_EPOCHS = 2
N_SIX = 6

#: The JSON files of the run, besides the speed histories and summary.json.
FILES = {"six_neurons": "six_neurons.json", "initial_speeds": "initial_speeds.json",
         "depth_sweep": "depth_sweep.json", "chain": "chain.json"}


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
                 quick=False, n_train=None, n_validation=None, progress=True, lmbda=None,
                 scheduler=None):
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
        if scheduler is not None:
            engine.parse_scheduler(scheduler)
        self.scheduler = scheduler

    def as_dict(self):
        """The settings as given (the sweep's resolved ones are in ``summary["depth_sweep"]``)."""
        return {
            "seeds": self.seeds, "epochs": self.epochs, "lmbda": self.lmbda,
            "epochs_speed": self.epochs_speed, "init_seeds": self.init_seeds,
            "jobs": self.jobs, "scheduler": self.scheduler, "quick": self.quick, "mini_batch_size": MINI_BATCH, "eta": ETA,
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


def chapter5_source(spec=None):
    """``(source, description)`` of the data for ``--data spec``.

    ``None``: the loader's automatic choice (full MNIST when found, else
    the embedded sample); ``"sample"``: the embedded sample, even when the
    full MNIST is available; anything else: a path to the MNIST files
    (an error if it does not hold them).
    """
    from ..data.load import find_data_auto
    from ..data.locate import sample_source
    from ..data.sample import SAMPLE_SIZES

    if spec is not None and str(spec).lower() == "sample":
        return (sample_source(),
                f"embedded sample of MNIST shipped with vgcore ({SAMPLE_SIZES['training']:,} "
                f"training, {SAMPLE_SIZES['validation']:,} validation, "
                f"{SAMPLE_SIZES['test']:,} test images), forced by --data sample")
    return find_data_auto(spec)


@dataclass
class Data:
    """The images of a run, each an ``(X, labels)`` pair, and where they came from."""
    train: tuple
    validation: tuple
    probe: tuple          # the first N_PROBE training images: the learning-speed set
    source: str
    is_full: bool
    forced_sample: bool   # --data sample
    spec: str = "sample"  # the sweep engine's name of the data: "sample" or the path


def prepare_data(settings, data_spec=None):
    """Load ``--data`` (:func:`chapter5_source`) and cut it to the settings.

    The arrays are the sweep engine's (:func:`vgcore.experiments.sweep.load_arrays`),
    which its worker processes load from the same source.
    """
    source, description = chapter5_source(data_spec)
    spec = "sample" if source.kind == "sample" else source.path
    X, y, Xv, yv = engine.load_arrays(spec)
    Xtr, ytr, Xva, yva = X, y, Xv, yv
    if settings.n_train is not None:
        Xtr, ytr = Xtr[:settings.n_train], ytr[:settings.n_train]
    if settings.n_validation is not None:
        Xva, yva = Xva[:settings.n_validation], yva[:settings.n_validation]
    n_probe = min(N_PROBE, len(X))
    forced = data_spec is not None and str(data_spec).lower() == "sample"
    return Data((Xtr, ytr), (Xva, yva), (X[:n_probe], y[:n_probe]), description,
                source.is_full, forced, spec)


# ---------------------------------------------------------------------------
# The phases
# ---------------------------------------------------------------------------

@dataclass
class InitialSpeeds:
    """Section 1: the speeds at initialisation, and the six neurons."""
    by_depth: dict        # hidden layers -> mean, std, per seed, the book's
    six: list             # [784,30,30,10]: the first six neurons' dC/db per hidden layer
    six_seed: int


def initial_speeds(settings, data, out):
    """Speeds of ``--init-seeds`` fresh networks of each depth on the probe set,
    and the six neurons; writes initial_speeds.json and six_neurons.json."""
    from tqdm import tqdm

    by_depth = {}
    with tqdm(total=len(DEPTHS_SPEED) * len(settings.init_seeds), desc="initial speeds",
              unit="net", file=sys.stderr, disable=not settings.progress,
              dynamic_ncols=True) as bar:
        for k in DEPTHS_SPEED:
            per_seed = []
            for s in settings.init_seeds:
                per_seed.append(diag.initial_speeds(diag.hidden_sizes(k), *data.probe, s))
                bar.update(1)
            by_depth[k] = _initial_entry(k, per_seed, settings.init_seeds)
    six_seed = settings.seeds[0]
    net = diag.make_network(diag.hidden_sizes(2), six_seed)
    six = diag.six_neuron_values(net, data.probe, N_SIX)
    diag.write_six_neurons(out / FILES["six_neurons"], six)
    diag.write_json_atomic(out / FILES["initial_speeds"],
                           {str(k): v["per_seed"] for k, v in by_depth.items()})
    return InitialSpeeds(by_depth, six, six_seed)


def _initial_entry(k, per_seed, seeds):
    """One depth's initial speeds over the seeds, beside the book's."""
    arr = np.asarray(per_seed)
    std = arr.std(axis=0, ddof=1) if len(per_seed) > 1 else None
    book = diag.BOOK_INITIAL_SPEEDS[k]
    entry = {
        "sizes": diag.hidden_sizes(k), "seeds": seeds, "per_seed": per_seed,
        "mean": arr.mean(axis=0).tolist(), "std": None if std is None else std.tolist(),
        "book": book, "ratio_last_first_mean": float(np.mean(arr[:, -1] / arr[:, 0])),
        "book_ratio_last_first": book[-1] / book[0],
    }
    if std is not None:
        entry["within_one_std_of_book"] = [
            bool(abs(m - b) <= sd) for m, b, sd in zip(entry["mean"], book, std)]
        entry["within_two_std_of_book"] = [
            bool(abs(m - b) <= 2 * sd) for m, b, sd in zip(entry["mean"], book, std)]
    return entry


def training_runs(settings, data, sweep_set):
    """Sections 2 and 3: every training run, on the sweep engine.

    ``[(task, result, (wall seconds, CPU seconds)), ...]``, where ``task``
    is ``{"kind": "speed" | "sweep", "n_hidden": k, "seed": s}``: a speed
    history (``result``: one list of per-hidden-layer speeds per epoch) per
    seed and depth of ``DEPTHS_SPEED``, a depth-sweep run (``result``: the
    validation accuracy count after every epoch) per seed and depth of
    ``DEPTHS_SWEEP``.  Each run is a cell of :mod:`vgcore.experiments.sweep`
    with network2's seeding, run in this process (``--jobs 1``), in
    ``--jobs`` local processes, or on Dask (``--scheduler``).
    """
    kinds, tasks = [], []
    for s in settings.seeds:
        for kind, cells in (("speed", speed_cells(settings, data)),
                            ("sweep", sweep_cells(data, sweep_set))):
            for k, cell in cells:
                kinds.append({"kind": kind, "n_hidden": k, "seed": s})
                tasks.append(engine.Task(cell, engine.cell_id(cell), s))
    backend = ("dask" if settings.scheduler else "serial" if settings.jobs <= 1 else "loky")
    done = engine.run_sweep(tasks, backend=backend, jobs=settings.jobs,
                            scheduler=settings.scheduler, progress=settings.progress,
                            log=_log, desc="training runs")
    return [(kind, result["speeds"] if kind["kind"] == "speed" else result["accuracy"],
             (timing["seconds"], timing["cpu_seconds"]))
            for kind, (result, timing) in zip(kinds, done)]


def speed_cells(settings, data):
    """``[(k, cell)]``: the learning-speed runs, full-batch descent on the probe set."""
    n_probe = len(data.probe[0])
    return [(k, engine.normalize_cell({
        "sizes": diag.hidden_sizes(k), "eta": ETA, "lmbda": LMBDA, "epochs": settings.epochs_speed,
        "mini_batch_size": n_probe, "data": data.spec, "n_train": n_probe, "n_probe": n_probe,
        "measure": ["speeds"], "seeding": "network2"})) for k in DEPTHS_SPEED]


def sweep_cells(data, sweep_set):
    """``[(k, cell)]``: the depth sweep's runs, mini-batch SGD with the sweep's settings."""
    return [(k, engine.normalize_cell({
        "sizes": diag.hidden_sizes(k), "eta": ETA, "lmbda": sweep_set["lmbda"],
        "epochs": sweep_set["epochs"], "mini_batch_size": MINI_BATCH, "data": data.spec,
        "n_train": len(data.train[0]), "n_validation": len(data.validation[0]),
        "measure": ["accuracy"], "seeding": "network2"})) for k in DEPTHS_SWEEP]


def describe(task):
    """``"depth sweep, 2 hidden, seed 0"``: a run, for the report's timing table
    (another experiment's run: its ``label``)."""
    if "label" in task:
        return task["label"]
    what = "depth sweep" if task["kind"] == "sweep" else "speeds"
    return f"{what}, {task['n_hidden']} hidden, seed {task['seed']}"


def speed_histories(results, settings, out):
    """Section 2: each speed run's history, written in the published layout
    (speed_history_{k}hidden_seed{s}.json); per depth, the last/first ratios
    and the first seed's whole history (for its figure)."""
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
            for key, value in (("seeds", task["seed"]), ("files", name),
                               ("first_epoch", hist[0]), ("last_epoch", hist[-1]),
                               ("ratio_first_epoch", ratios[0]),
                               ("ratio_last_epoch", ratios[-1]),
                               ("ratio_min", min(ratios)), ("ratio_max", max(ratios))):
                entry[key].append(value)
            if task["seed"] == settings.seeds[0]:
                entry["history"] = hist
        speed[k] = entry
    return speed


@dataclass
class DepthSweep:
    """Section 3: the depth sweep's runs, their summary per depth, the t-tests."""
    settings: dict        # sweep_settings(...)
    runs: dict            # the content of depth_sweep.json
    depths: dict          # hidden layers -> depth_entry(...)
    welch: list           # depth_tests(...)
    chance: float         # the chance level of the validation labels, in percent


def depth_sweep(results, data, sweep_set, out):
    """Gather the sweep's runs into depth_sweep.json; summarise and test them."""
    n_validation = len(data.validation[0])
    sweep = {"epochs": sweep_set["epochs"], "mini_batch_size": MINI_BATCH, "eta": ETA,
             "lmbda": sweep_set["lmbda"], "n_training": len(data.train[0]),
             "n_validation": n_validation, "book": sweep_set["book"], "data": data.source,
             "runs": [{"sizes": diag.hidden_sizes(task["n_hidden"]),
                       "hidden_layers": task["n_hidden"], "seed": task["seed"],
                       "accuracy": acc}
                      for task, acc, _ in results if task["kind"] == "sweep"]}
    diag.write_depth_sweep(out / FILES["depth_sweep"], sweep)
    chance = diag.chance_accuracy(data.validation[1])
    depths = {k: depth_entry(k, [r for r in sweep["runs"] if r["hidden_layers"] == k],
                             n_validation, chance) for k in DEPTHS_SWEEP}
    return DepthSweep(sweep_set, sweep, depths, depth_tests(depths), chance)


def chain_results(out):
    """Section 4: the chain of one-neuron layers (chain.json's content)."""
    from . import chain

    res = chain.chain_summary(depth=4, seed=0)
    diag.write_json_atomic(out / FILES["chain"], res, indent=1)
    return res


def draw_figures(settings, data, initial, speed, sweep, chain_res, out):
    """Every figure, as a PNG in ``out``: figure name -> file name."""
    from . import plots

    figures = {}
    for k in DEPTHS_SPEED:
        figures[f"speed_{k}hidden"] = plots.plot_speed_history(
            speed[k]["history"], out / f"speed_{k}hidden.png",
            title=f"Speed of learning, [{', '.join(map(str, diag.hidden_sizes(k)))}]"
                  f" (seed {settings.seeds[0]})").name
    figures["six_neurons"] = plots.plot_six_neurons(initial.six, out / "six_neurons.png").name
    figures["initial_speeds"] = plots.plot_initial_speeds(
        {k: (v["mean"], v["std"] or [0.0] * k) for k, v in initial.by_depth.items()},
        diag.BOOK_INITIAL_SPEEDS, out / "initial_speeds.png",
        title=f"Learning speed at initialisation, first {len(data.probe[0]):,} training "
              f"images\nvgcore: mean ± std over {len(settings.init_seeds)} networks "
              f"({report.seeds_text(settings.init_seeds)}); book: one network").name
    figures["depth_sweep"] = plots.plot_depth_sweep(
        {k: [r["accuracy"] for r in sweep.runs["runs"] if r["hidden_layers"] == k]
         for k in DEPTHS_SWEEP},
        out / "depth_sweep.png", len(data.validation[0]),
        book=diag.BOOK_BEST_ACCURACY if data.is_full and not settings.quick else None,
        chance=sweep.chance, trained={k: v["trained"] for k, v in sweep.depths.items()},
        title=report.sweep_figure_title(data.is_full, settings.quick, sweep.settings)).name
    figures["chain_factors"] = plots.plot_chain_factors(
        chain_res["vanishing"]["factors"], chain_res["exploding"]["factors"],
        out / "chain_factors.png").name
    figures["chain_width"] = plots.plot_width_curve(out / "chain_width.png").name
    return figures


def summarise(settings, data, initial, speed, sweep, chain_res, figures, timing):
    """The summary dict (``summary.json``; the report is rendered from it)."""
    sw = sweep.settings
    return diag.json_safe({
        "vgcore_version": __version__,
        "data": {"source": data.source, "is_full_mnist": bool(data.is_full),
                 "n_training": int(len(data.train[0])),
                 "n_validation": int(len(data.validation[0])),
                 "n_probe": int(len(data.probe[0]))},
        "settings": settings.as_dict(),
        "initial_speeds": {str(k): v for k, v in initial.by_depth.items()},
        "six_neurons": {"sizes": diag.hidden_sizes(2), "seed": initial.six_seed,
                        "values": initial.six, "file": FILES["six_neurons"]},
        "speed_training": {str(k): {kk: vv for kk, vv in v.items() if kk != "history"}
                           for k, v in speed.items()},
        "book_ratio_4_hidden": diag.BOOK_RATIO_4_HIDDEN,
        "depth_sweep": {
            "file": FILES["depth_sweep"],
            **{key: sw[key] for key in ("epochs", "mini_batch_size", "eta", "lmbda",
                                        "n_training", "book", "as_book", "why")},
            "chance_percent": sweep.chance,
            "did_not_train_below_percent": diag.DID_NOT_TRAIN_FACTOR * sweep.chance,
            "did_not_train": did_not_train_runs(sweep.depths),
            "depths": {str(k): v for k, v in sweep.depths.items()},
            "welch": sweep.welch},
        "chain": chain_res,
        "files": dict(FILES),
        "figures": figures,
        "timing_seconds": timing,
    })


# ---------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------

def _log(msg):
    print(msg, flush=True)


class _Stopwatch:
    """Wall-clock seconds of each phase, in the order they ran."""

    def __init__(self):
        self.seconds, self._start = {}, time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, name):
        t0 = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - t0

    def add_runs(self, results):
        self.seconds["runs"] = [{"task": describe(t), "seconds": sec, "cpu_seconds": cpu}
                                for t, _, (sec, cpu) in results]
        self.seconds["training_cpu_all_runs"] = sum(r["cpu_seconds"]
                                                    for r in self.seconds["runs"])

    def stop(self):
        self.seconds["total"] = time.perf_counter() - self._start
        return self.seconds


def run(settings, out, data_spec=None):
    """Run chapter 5 with ``settings``, writing everything into the folder ``out``.

    Returns the summary dict (also written to ``out/summary.json``).
    """
    clock, out = _Stopwatch(), Path(out)
    with clock("load_data"):
        data = prepare_data(settings, data_spec)
        out.mkdir(parents=True, exist_ok=True)      # only once the data are good
    sweep_set = sweep_settings(len(data.train[0]), settings.epochs, settings.lmbda)
    _log(report.banner(settings, sweep_set, data.is_full, data.forced_sample, data.source,
                       len(data.validation[0]), len(data.probe[0]), out))
    with clock("initial_speeds"):
        initial = initial_speeds(settings, data, out)
    with clock("training"):
        results = training_runs(settings, data, sweep_set)
    clock.add_runs(results)
    speed = speed_histories(results, settings, out)
    sweep = depth_sweep(results, data, sweep_set, out)
    with clock("chain"):
        chain_res = chain_results(out)
    with clock("figures"):
        figures = draw_figures(settings, data, initial, speed, sweep, chain_res, out)
    summary = summarise(settings, data, initial, speed, sweep, chain_res, figures,
                        clock.stop())
    diag.write_json_atomic(out / "summary.json", summary, indent=1)
    _files.atomic_write_text(out / "report.md", report.render_report(summary),
                             what="the report")
    _log(report.console_tables(summary))
    _log(f"wrote {out}/report.md, summary.json, {len(figures)} figures "
         f"in {summary['timing_seconds']['total']:.1f} s")
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


def add_data_and_out(p, out):
    """An experiment's ``--data`` and ``--out`` (default ``out``) options."""
    p.add_argument("--data", metavar="PATH",
                   help="folder of the MNIST files, or 'sample' for the embedded sample "
                        "(default: full MNIST if found, else the sample)")
    p.add_argument("--out", default=out, metavar="DIR",
                   help="output folder (default: %(default)s)")


def add_run_options(p, quick):
    """An experiment's ``--jobs``, ``--quick`` (``quick``: its help) and
    ``--no-progress`` options."""
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: the number of usable CPUs; "
                        "results do not depend on it)")
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_arguments(p):
    add_data_and_out(p, "chapter5_results")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="training runs per network, seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help=f"epochs of the depth sweep (default: the book's {BOOK_EPOCHS} on "
                        f"full MNIST, {SMALL_DATA_EPOCHS} on fewer images such as the "
                        "embedded sample)")
    p.add_argument("--lmbda", type=float, default=None, metavar="L",
                   help="L2 regularisation of the depth sweep (default: the book's "
                        f"{num(LMBDA)} x training images / {BOOK_N_TRAIN:,}: {num(LMBDA)} "
                        "on full MNIST, 0.5 on the embedded sample)")
    p.add_argument("--epochs-speed", type=int, default=500, metavar="N",
                   help="epochs of full-batch descent for the speed histories "
                        "(default: %(default)s)")
    p.add_argument("--init-seeds", type=int, default=20, metavar="N",
                   help="seeds for the initial speeds' mean and spread (default: %(default)s)")
    add_run_options(p, "smoke test, not the chapter's results: 2 epochs on 1,000 images, "
                       "20 speed epochs, 3 initial seeds")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="run the trainings on Dask: tcp://HOST:8786 (a running scheduler) or "
                        "local[N] (a LocalCluster); needs the [dask] extra")


default_jobs = engine.default_jobs


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


def _settings(args):
    """The Settings of ``vgcore chapter5``'s arguments (ValueError if bad)."""
    jobs = args.jobs if args.jobs is not None else default_jobs()
    settings = Settings(seeds=args.seeds, epochs=args.epochs, lmbda=args.lmbda,
                        epochs_speed=args.epochs_speed, init_seeds=args.init_seeds,
                        jobs=jobs, quick=args.quick, progress=not args.no_progress,
                        scheduler=args.scheduler)
    if args.scheduler:
        engine.check_backend("dask", scheduler=args.scheduler)
    return settings


def run_command(command, make_settings, run_settings, args):
    """An experiment's command: ``make_settings(args)`` (ValueError: a bad
    argument), then ``run_settings(settings, args.out, data_spec=args.data)``.

    Everything that can be checked is checked before anything is created or
    computed: one line ``vgcore COMMAND: error: ...`` on stderr and exit code
    2 for a bad input, 1 for a failure during the run, 130 for Ctrl-C.
    """
    def error(message, code):
        print(f"vgcore {command}: error: {message}", file=sys.stderr)
        return code

    try:
        settings = make_settings(args)
    except ValueError as e:
        return error(e, 2)
    missing = _missing_modules()
    if missing:
        return error(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                     f"installed (the [chapter5] extra): pip install \"vgcore[chapter5]\"", 2)
    problem = _data_problem(args.data) or _out_problem(args.out)
    if problem:
        return error(problem, 2)
    try:
        run_settings(settings, args.out, data_spec=args.data)
    except OSError as e:                   # e.g. the disk filled up
        return error(f"{e.strerror or e}: {e.filename}" if e.filename else e, 1)
    except ValueError as e:                # MNISTFormatError is one
        return error(e, 1)
    except KeyboardInterrupt:
        print(f"vgcore {command}: interrupted; the results folder is incomplete",
              file=sys.stderr)
        return 130
    return 0


def _cli(args):
    return run_command("chapter5", _settings, run, args)


def main(argv=None):
    """``python -m vgcore.experiments.chapter5``: the same as ``vgcore chapter5``."""
    p = argparse.ArgumentParser(prog="vgcore chapter5")
    _add_arguments(p)
    return _cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
