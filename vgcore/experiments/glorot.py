"""``vgcore glorot``: Glorot & Bengio (2010) on MNIST, at a size that runs in minutes.

"Understanding the difficulty of training deep feedforward neural networks"
trains networks of 5 hidden layers of 1,000 units on MNIST for 5 million
updates (mini-batches of 10) with sigmoid, tanh and softsign hidden units,
with the "standard" initialisation ``U[-1/sqrt(n_in), 1/sqrt(n_in)]`` and
their "normalised" one ``U[+-sqrt(6/(n_in+n_out))]``.  This command measures,
through :mod:`vgcore.network2` with the monitor on:

(a) each hidden layer's activation mean and spread during training of the
    sigmoid network with the standard initialisation (their Figure 2), from
    the monitor's records (``act_mean``, ``act_std``, ``saturated``);
(b) the test error of sigmoid, tanh, tanh N, softsign and softsign N (N:
    normalised initialisation), mean and spread over ``--seeds`` seeds,
    beside their Table 1, with Welch t-tests between the configurations
    (Holm-corrected);
(c) the chapter's learning speed ``||mean dC/db||`` of every hidden layer at
    initialisation, on the first 1,000 training images, for every
    activation and initialisation vgcore has.

Sizes (the defaults; ``--width``, ``--hidden``, ``--epochs`` change them):
5 hidden layers of 100 units (the paper's depth, a tenth of its width), 30
epochs of 50,000 images in mini-batches of 10 (150,000 updates, 3% of the
paper's 5 million), ``eta = 0.1`` for every configuration (the paper tuned
it per configuration on the validation set), no regularisation, and
network2's sigmoid output layer with the cross-entropy (the paper: softmax
and the negative log-likelihood).  The test error is that of the network
after the last epoch.

Every run is :func:`run_one`, a pure ``(config, seed) -> dict`` (seed ``s``
seeds numpy and ``random`` before the network is built), run through
:mod:`vgcore.experiments.sweep`'s backends like ``vgcore chapter5``'s runs
(serial for ``--jobs 1``, else loky processes), so the results do not
depend on ``--jobs``.  It writes ``report.md``,
``summary.json``, three PNG figures and, for seed 0 of each configuration,
the monitor's table (``monitor/<name>/monitor.csv`` and ``.json``) to
``--out``, with its figure (``monitor.png``, as ``vgcore monitor`` draws it).
"""
import contextlib
import functools
import io
import itertools
from pathlib import Path

import numpy as np

from .. import __version__
from .._support import files as _files
from . import diagnostics as diag
from . import report
from .chapter5 import (_Stopwatch, add_data_and_out, add_run_options, chapter5_source,
                       default_jobs, run_command)

__all__ = ["add_parser", "run", "Settings", "run_one", "CONFIGS", "PAPER",
           "PAPER_TABLE1", "initial_speed_grid", "pairwise_tests", "render_report"]

#: The paper's MNIST setting (Glorot & Bengio 2010, section 2 and Table 1).
PAPER = {"hidden_layers": 5, "width": 1000, "updates": 5_000_000, "mini_batch_size": 10,
         "output": "softmax, negative log-likelihood",
         "eta": "tuned per configuration on the validation set"}

#: Table 1, MNIST column: test error (%) after 5 million updates.
PAPER_TABLE1 = {"sigmoid": 2.21, "tanh": 1.76, "tanh N": 1.64, "softsign": 1.64,
                "softsign N": 1.72}

#: The configurations of Table 1: name -> (activation, initialisation).
CONFIGS = {"sigmoid": ("sigmoid", "standard"), "tanh": ("tanh", "standard"),
           "tanh N": ("tanh", "normalized"), "softsign": ("softsign", "standard"),
           "softsign N": ("softsign", "normalized")}

#: Every pair of configurations whose difference is tested.
PAIRS = list(itertools.combinations(CONFIGS, 2))

QUICK = {"width": 16, "epochs": 1, "seeds": 2, "init_seeds": 2, "n_train": 1000,
         "n_validation": 300, "n_test": 300, "every": 20}


class Settings:
    """The run's settings, from the command line (``--quick`` shrinks them)."""

    def __init__(self, width=100, hidden=5, epochs=30, seeds=4, eta=0.1, lmbda=0.0,
                 every=250, init_seeds=5, jobs=1, quick=False, progress=True,
                 n_train=None, n_validation=None, n_test=None):
        if quick:
            width, epochs = min(width, QUICK["width"]), min(epochs, QUICK["epochs"])
            seeds, init_seeds = min(seeds, QUICK["seeds"]), min(init_seeds, QUICK["init_seeds"])
            every = min(every, QUICK["every"])
            n_train = n_train or QUICK["n_train"]
            n_validation = n_validation or QUICK["n_validation"]
            n_test = n_test or QUICK["n_test"]
        for name, v in (("width", width), ("hidden", hidden), ("epochs", epochs),
                        ("seeds", seeds), ("every", every), ("init_seeds", init_seeds),
                        ("jobs", jobs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive int, "
                                 f"got {v!r}")
        for name, v in (("eta", eta), ("lmbda", lmbda)):
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0 or (
                    name == "eta" and v == 0):
                raise ValueError(f"--{name} must be a finite number "
                                 f"{'> 0' if name == 'eta' else '>= 0'}, got {v!r}")
        self.width, self.hidden, self.epochs = width, hidden, epochs
        self.seeds, self.init_seeds = list(range(seeds)), list(range(init_seeds))
        self.eta, self.lmbda, self.every = float(eta), float(lmbda), every
        self.jobs, self.quick, self.progress = jobs, quick, progress
        self.n_train, self.n_validation, self.n_test = n_train, n_validation, n_test

    @property
    def sizes(self):
        return [784] + [self.width] * self.hidden + [10]

    def as_dict(self):
        return {"sizes": self.sizes, "width": self.width, "hidden_layers": self.hidden,
                "epochs": self.epochs, "seeds": self.seeds, "init_seeds": self.init_seeds,
                "eta": self.eta, "lmbda": self.lmbda, "mini_batch_size": diag.MINI_BATCH,
                "monitor_every": self.every, "jobs": self.jobs, "quick": self.quick}


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def load_parts(spec=None):
    """``((training, validation, test), source, is_full)`` for ``--data spec``,
    the data :func:`vgcore.experiments.chapter5.chapter5_source` chooses."""
    from ..data.load import load_source

    source, description = chapter5_source(spec)
    return load_source(source), description, source.is_full


@functools.lru_cache(maxsize=2)
def load_data(spec=None, n_train=None, n_validation=None, n_test=None):
    """``{"train", "validation", "test"}`` -> ``(X, labels)`` for ``--data spec``
    (:func:`load_parts`), cut to the
    sizes given, and ``(source, is_full)``.  Cached: a worker process forked
    after the first call reads the parent's copy."""
    parts, source, is_full = load_parts(spec)
    out = {}
    for name, (X, y), n in zip(("train", "validation", "test"), parts,
                               (n_train, n_validation, n_test)):
        X, y = np.asarray(X), np.asarray(y)
        out[name] = (X[:n], y[:n]) if n is not None else (X, y)
    return out, source, is_full


#: :func:`run_one` as the sweep engine names a run function.
RUN_ONE = "vgcore.experiments.glorot:run_one"


# ---------------------------------------------------------------------------
# One run, and the grid of initial speeds
# ---------------------------------------------------------------------------

def run_one(config, seed):
    """One training run of configuration ``config`` with ``seed``: a dict.

    ``config``: ``sizes``, ``activation``, ``init``, ``epochs``, ``eta``,
    ``lmbda``, ``mini_batch_size``, ``every`` (the monitor's), ``data``
    (``--data``), ``n_train``/``n_validation``/``n_test`` (None: all), and
    ``keep_monitor`` (return the :class:`~vgcore.network2.Monitor` itself).
    Returns the validation and test errors (%) after every epoch, the
    final test error, the hidden layers' saturation and activation mean in
    the last epoch, and (``keep_monitor``) ``"monitor"``.
    """
    data, _, _ = load_data(config["data"], config["n_train"], config["n_validation"],
                           config["n_test"])
    from .. import network2

    net = diag.make_network(config["sizes"], seed, activation=config["activation"],
                            init=config["init"])
    mon = network2.Monitor(every=config["every"], warn=False)
    errors = {"validation": [], "test": []}
    for _ in range(config["epochs"]):        # the same shuffles as one SGD call
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD(data["train"], 1, config["mini_batch_size"], config["eta"],
                    lmbda=config["lmbda"], monitor=mon, on_divergence="ignore")
        for name in errors:
            X, y = data[name]
            errors[name].append(100.0 * (1 - net.accuracy((X, y)) / len(X)))
    last = mon.epoch_means(config["epochs"] - 1)
    result = {"validation_error": errors["validation"], "test_error": errors["test"][-1],
              "test_error_per_epoch": errors["test"],
              "saturated_last_epoch": last[:-1, 4].tolist(),
              "act_mean_last_epoch": last[:-1, 2].tolist()}
    if config.get("keep_monitor"):
        result["monitor"] = mon
    return result


def initial_speed_grid(settings, probe):
    """The chapter's learning speed of every hidden layer at initialisation,
    for every activation and initialisation: ``{"act / init": {"mean",
    "std", "ratio"}}`` over ``settings.init_seeds`` networks, on ``probe``."""
    from ..network2 import ACTIVATIONS, INITIALISERS

    grid = {}
    for act, init in itertools.product(ACTIVATIONS, INITIALISERS):
        speeds = np.array([
            diag.make_network(settings.sizes, seed, activation=act, init=init)
            .learning_speeds(probe) for seed in settings.init_seeds])
        ratio = speeds[:, -1] / np.where(speeds[:, 0] > 0, speeds[:, 0], np.nan)
        grid[f"{act} / {init}"] = {
            "mean": speeds.mean(axis=0).tolist(),
            "std": (speeds.std(axis=0, ddof=1).tolist() if len(speeds) > 1 else None),
            "ratio_last_first": diag.mean_std(ratio)[0]}
    return grid


def pairwise_tests(per_config):
    """Welch t-tests of the test error between every pair of configurations,
    Holm-corrected over the pairs: a list of dicts (``a``, ``b``,
    ``mean_difference`` = b - a, ``t``, ``p``, ``p_holm``, significance)."""
    tests = []
    for a, b in PAIRS:
        w = diag.welch_test(per_config[b], per_config[a])
        w.update({"a": a, "b": b,
                  "mean_difference": float(np.mean(per_config[b]) - np.mean(per_config[a]))})
        tests.append(w)
    for w, p_holm in zip(tests, diag.holm([w["p"] for w in tests])):
        w["p_holm"] = p_holm
        w["significant_at_5_percent"] = None if w["p"] is None else bool(w["p"] < 0.05)
        w["significant_at_5_percent_holm"] = None if p_holm is None else bool(p_holm < 0.05)
    return tests


# ---------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------

def _tasks(settings, data_spec):
    base = {"sizes": settings.sizes, "epochs": settings.epochs, "eta": settings.eta,
            "lmbda": settings.lmbda, "mini_batch_size": diag.MINI_BATCH,
            "every": settings.every, "data": data_spec, "n_train": settings.n_train,
            "n_validation": settings.n_validation, "n_test": settings.n_test}
    tasks = []
    for name, (act, init) in CONFIGS.items():
        for seed in settings.seeds:
            tasks.append({"seed": seed,
                          "label": f"{name}, seed {seed}", "name": name,
                          "cost": 1.0 + (act == "tanh") * 0.1,
                          "config": {**base, "activation": act, "init": init,
                                     "keep_monitor": seed == settings.seeds[0]}})
    return tasks


def run_tasks(tasks, settings):
    """Every run of ``tasks`` (:func:`_tasks`) on the sweep engine's backends:
    serial for ``--jobs 1``, else ``--jobs`` loky processes (BLAS on one
    thread each); ``[(task, result, (wall s, CPU s))]`` in the tasks' order."""
    from . import sweep as engine

    runs = [engine.Task(t["config"], t["name"], t["seed"], fn=RUN_ONE, weight=t["cost"])
            for t in tasks]
    backend = "serial" if settings.jobs <= 1 else "loky"
    done = engine.run_sweep(runs, backend=backend, jobs=settings.jobs,
                            progress=settings.progress, desc="training runs")
    return [(t, result, (timing["seconds"], timing["cpu_seconds"]))
            for t, (result, timing) in zip(tasks, done)]


def run(settings, out, data_spec=None):
    """Run the experiment with ``settings``, writing everything into ``out``.
    Returns the summary dict (also ``out/summary.json``)."""
    clock, out = _Stopwatch(), Path(out)
    with clock("load_data"):
        data, source, is_full = load_data(data_spec, settings.n_train,
                                          settings.n_validation, settings.n_test)
        out.mkdir(parents=True, exist_ok=True)
    n = {k: int(len(v[0])) for k, v in data.items()}
    updates = settings.epochs * -(-n["train"] // diag.MINI_BATCH)
    print(f"vgcore glorot: {settings.sizes}, {settings.epochs} epoch(s) of {n['train']:,} "
          f"images ({updates:,} updates), {len(settings.seeds)} seeds x "
          f"{len(CONFIGS)} configurations, {settings.jobs} job(s); data: {source}",
          flush=True)
    with clock("initial_speeds"):
        probe = tuple(a[:diag.N_PROBE] for a in data["train"])
        grid = initial_speed_grid(settings, probe)
    with clock("training"):
        tasks = _tasks(settings, data_spec)
        results = run_tasks(tasks, settings)
    clock.add_runs(results)
    configs, trace = {}, None
    for name in CONFIGS:
        mine = [(t, r) for t, r, _ in results if t["name"] == name]
        errors = [r["test_error"] for _, r in mine]
        mean, std = diag.mean_std(errors)
        chance = diag.chance_accuracy(data["validation"][1])
        stuck = [t["seed"] for t, r in mine if diag.did_not_train(
            100 - min(r["validation_error"]), chance)]
        configs[name] = {
            "activation": CONFIGS[name][0], "init": CONFIGS[name][1],
            "seeds": [t["seed"] for t, _ in mine], "test_error": errors,
            "mean": mean, "std": std, "paper": PAPER_TABLE1[name], "did_not_train": stuck,
            "validation_error": [r["validation_error"] for _, r in mine],
            "saturated_last_epoch": [r["saturated_last_epoch"] for _, r in mine]}
        for t, r in mine:
            if "monitor" in r:
                folder = out / "monitor" / name.replace(" ", "_")
                r["monitor"].save(folder)
                from . import plots
                plots.plot_monitor(r["monitor"], folder / "monitor.png",
                                   title=f"{name}: the monitor's records, seed 0")
                configs[name]["monitor_files"] = str(folder.relative_to(out))
                if name == "sigmoid":
                    trace = _trace(r["monitor"], n["train"])
    tests = pairwise_tests({k: v["test_error"] for k, v in configs.items()})
    with clock("figures"):
        figures = _figures(settings, configs, trace, grid, out)
    summary = diag.json_safe({
        "vgcore_version": __version__,
        "data": {"source": source, "is_full_mnist": bool(is_full), **{
            f"n_{k}": v for k, v in n.items()}},
        "settings": settings.as_dict(), "updates_per_run": updates, "paper": PAPER,
        "figure2": trace, "configs": configs, "welch": tests,
        "initial_speeds": {"probe": int(len(probe[0])), "grid": grid},
        "figures": figures, "timing_seconds": clock.stop()})
    diag.write_json_atomic(out / "summary.json", summary, indent=1)
    _files.atomic_write_text(out / "report.md", render_report(summary), what="the report")
    print(_console_table(summary))
    print(f"wrote {out}/report.md, summary.json, {len(figures)} figures in "
          f"{summary['timing_seconds']['total']:.1f} s", flush=True)
    return summary


def _trace(mon, n_train):
    """Figure 2's data from the sigmoid network's monitor (seed 0)."""
    batches = -(-n_train // diag.MINI_BATCH)
    return {"epochs": (mon.steps / batches).tolist(),
            "act_mean": mon.series("act_mean")[:, :-1].tolist(),
            "act_std": mon.series("act_std")[:, :-1].tolist(),
            "saturated": mon.series("saturated")[:, :-1].tolist(),
            "grad_b": mon.series("grad_b")[:, :-1].tolist()}


def _figures(settings, configs, trace, grid, out):
    from . import plots

    figures = {}
    if trace is not None:
        figures["figure2"] = plots.plot_activation_trace(
            trace["epochs"], trace["act_mean"], trace["act_std"], out / "figure2.png",
            title=f"Sigmoid, standard initialisation: activations of the hidden layers\n"
                  f"({settings.sizes}, seed 0; Glorot & Bengio's Figure 2)").name
    names = list(configs)
    figures["test_error"] = plots.plot_test_errors(
        names, [configs[k]["test_error"] for k in names], PAPER_TABLE1,
        out / "test_error.png",
        title=f"Test error after {settings.epochs} epochs ({len(settings.seeds)} seeds) "
              f"beside the paper's Table 1").name
    figures["initial_speeds"] = plots.plot_speed_grid(
        {k: v["mean"] for k, v in grid.items()}, out / "initial_speeds.png").name
    return figures


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def _f(v, digits=3):
    return report._fmt(v, digits)


def render_report(s):
    """The Markdown report, from the summary dict alone."""
    st, d, p = s["settings"], s["data"], s["paper"]
    lines = ["# Glorot & Bengio (2010) on MNIST, reproduced by vgcore", "",
             f"**Data: {'full MNIST' if d['is_full_mnist'] else 'embedded sample of MNIST'}**"
             f" — {d['source']}.", ""]
    if st["quick"]:
        lines += ["> **This is a smoke test (`--quick`)**: every step runs, on far too "
                  "small a network and too few images for the paper's results.", ""]
    lines += ["Settings, beside the paper's:", "", report._table(
        ["", "vgcore", "Glorot & Bengio"],
        [["hidden layers x units", f"{st['hidden_layers']} x {st['width']}",
          f"{p['hidden_layers']} x {p['width']:,}"],
         ["updates (mini-batches of 10)",
          f"{s['updates_per_run']:,} ({st['epochs']} "
          f"epoch{'s' if st['epochs'] > 1 else ''} of {d['n_train']:,} images)",
          f"{p['updates']:,}"],
         ["learning rate", f"{report.num(st['eta'])} for every configuration", p["eta"]],
         ["L2 regularisation", report.num(st["lmbda"]), "none"],
         ["output layer, cost", "sigmoid, cross-entropy (network2's)", p["output"]],
         ["test error", f"after the last epoch, on {d['n_test']:,} images",
          "after 5 million updates"],
         ["seeds", str(len(st["seeds"])), "1"]]), ""]
    lines += _section_trace(s) + _section_errors(s) + _section_speeds(s)
    timing = s["timing_seconds"]
    lines += ["## Timing", "", "Wall-clock time: " + ", ".join(
        f"{k.replace('_', ' ')} {v:.1f} s" for k, v in timing.items()
        if isinstance(v, float) and k != "training_cpu_all_runs")
        + f". CPU time of the training runs, summed: {timing['training_cpu_all_runs']:.1f} s "
        f"({st['jobs']} job{'s' if st['jobs'] > 1 else ''}).", "",
        f"_vgcore {s['vgcore_version']}_", ""]
    return "\n".join(lines)


def _section_trace(s):
    t = s["figure2"]
    lines = ["## (a) Activations of the sigmoid network during training (Figure 2)", ""]
    if t is None:
        return lines + ["No trace was recorded.", ""]
    mean, std, sat = (np.array(t[k]) for k in ("act_mean", "act_std", "saturated"))
    ep = np.array(t["epochs"])
    rows = []
    for k in range(mean.shape[1]):
        low = int(np.argmin(mean[:, k]))
        rows.append([f"{k + 1}", f"{mean[0, k]:.3f} ± {std[0, k]:.3f}",
                     f"{mean[low, k]:.3f} (epoch {ep[low]:.2f})",
                     f"{mean[-1, k]:.3f} ± {std[-1, k]:.3f}", f"{100 * sat[0, k]:.0f}%",
                     f"{100 * sat.max(axis=0)[k]:.0f}%", f"{100 * sat[-1, k]:.0f}%"])
    top = mean.shape[1]
    low = int(np.argmin(mean[:, -1]))
    lines += [f"![Figure 2]({s['figures'].get('figure2', '')})", "",
              f"Hidden layer k's activations in each of the monitor's records (every "
              f"{s['settings']['monitor_every']} mini-batches and at each epoch's end), "
              f"seed 0. Saturated: within 0.01 of 0 or 1.", "",
              report._table(["layer", "first record (mean ± std)", "lowest mean",
                             "last record", "saturated first", "most saturated",
                             "saturated last"], rows), "",
              f"The paper's observation is that the top hidden layer (here layer {top}) is "
              f"driven towards 0 early, and escapes only much later while the lower layers "
              f"start to saturate. Here the top layer's mean went from "
              f"{mean[0, -1]:.3f} to its lowest, {mean[low, -1]:.3f}, at epoch "
              f"{ep[low]:.2f}, and ended at {mean[-1, -1]:.3f} after "
              f"{s['settings']['epochs']} epoch{'s' if s['settings']['epochs'] > 1 else ''}.", "",
              "Every configuration's seed 0 was monitored the same way: its records are in "
              "`monitor/<configuration>/` (`monitor.csv`, `monitor.json`, and `monitor.png`, "
              "the figure `vgcore monitor` draws: learning speed, activations, saturation "
              "and update ratio of every layer).", ""]
    return lines


def _section_errors(s):
    cfg = s["configs"]
    rows = []
    for name, c in cfg.items():
        stuck = (f"{len(c['did_not_train'])} (seed{'s' if len(c['did_not_train']) > 1 else ''}"
                 f" {', '.join(map(str, c['did_not_train']))})" if c["did_not_train"] else "0")
        rows.append([name, report._pct(c["mean"], c["std"]),
                     ", ".join(f"{e:.2f}" for e in c["test_error"]), f"{c['paper']:.2f}",
                     stuck])
    tests = []
    for w in s["welch"]:
        tests.append([f"{w['a']} vs {w['b']}", f"{w['mean_difference']:+.2f}",
                      _f(w["t"]), _f(w["p"]), _f(w["p_holm"]),
                      {True: "yes", False: "no", None: "n/a"}[
                          w["significant_at_5_percent_holm"]]])
    sig = [f"{w['a']} vs {w['b']}" for w in s["welch"] if w["significant_at_5_percent_holm"]]
    return ["## (b) Test error beside the paper's Table 1", "",
            f"![test error]({s['figures']['test_error']})", "",
            report._table(["configuration", "vgcore: test error % (mean ± std)", "per seed",
                           "paper (Table 1, MNIST)", "did not train"], rows), "",
            "N: Glorot & Bengio's normalised initialisation; the others use their "
            "standard one. A run did not train when its best validation accuracy stayed "
            "below twice the chance level.", "",
            "Welch t-tests of the test error (difference = second minus first), p-values "
            "Holm-corrected over the 10 pairs:", "",
            report._table(["pair", "difference (points)", "t", "p", "p (Holm)",
                           "significant at 5% (Holm)"], tests), "",
            ("Significant after the correction: " + "; ".join(sig) + "." if sig else
             "No difference is significant after the correction."), ""]


def _section_speeds(s):
    g = s["initial_speeds"]["grid"]
    n_hidden = len(next(iter(g.values()))["mean"])
    rows = [[k] + [_f(m) for m in v["mean"]] + [_f(v["ratio_last_first"])]
            for k, v in g.items()]
    return ["## (c) Learning speed of each hidden layer at initialisation", "",
            f"![initial speeds]({s['figures']['initial_speeds']})", "",
            f"`||mean dC/db||` of hidden layer k on the first {s['initial_speeds']['probe']:,}"
            f" training images (the chapter's measure), mean over "
            f"{len(s['settings']['init_seeds'])} seeds, and the last hidden layer's speed "
            f"over the first's (1: no vanishing or exploding gradient).", "",
            report._table(["activation / init"] + [f"layer {k + 1}" for k in range(n_hidden)]
                          + ["last / first"], rows), ""]


def _console_table(s):
    rows = [[k, report._pct(c["mean"], c["std"]), f"{c['paper']:.2f}"]
            for k, c in s["configs"].items()]
    return report._table(["configuration", "test error % (vgcore)", "paper"], rows)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def add_parser(subparsers):
    """Register ``vgcore glorot`` on the ``vgcore`` command's subparsers."""
    p = subparsers.add_parser(
        "glorot", help="Glorot & Bengio (2010) on MNIST: activations, initialisations, "
                       "saturation",
        description="Reproduce Glorot & Bengio (2010)'s MNIST experiment at a small size: "
                    "the hidden layers' activations during training (Figure 2), the test "
                    "error of sigmoid, tanh and softsign with two initialisations beside "
                    "Table 1 (with Welch t-tests), and per-layer learning speeds at "
                    "initialisation. Writes report.md, summary.json, figures and the "
                    "monitor's tables to --out.")
    _add_arguments(p)
    p.set_defaults(func=_cli)
    return p


def _add_arguments(p):
    add_data_and_out(p, "glorot_results")
    for flag, kind, default, metavar, text in (
            ("--width", int, 100, "N", "units per hidden layer (the paper: 1,000)"),
            ("--hidden", int, 5, "N", "hidden layers (the paper: 5)"),
            ("--epochs", int, 30, "N", "epochs"),
            ("--seeds", int, 4, "N", "seeds per configuration, 0..N-1"),
            ("--eta", float, 0.1, "ETA", "learning rate"),
            ("--lmbda", float, 0.0, "L", "L2 regularisation"),
            ("--every", int, 250, "N", "the monitor records every N mini-batches")):
        p.add_argument(flag, type=kind, default=default, metavar=metavar,
                       help=text + " (default: %(default)s)")
    p.add_argument("--init-seeds", type=int, default=5, metavar="N",
                   help="seeds for the initial speeds (default: %(default)s)")
    add_run_options(p, "smoke test: 5 hidden layers of 16 units, 1 epoch on 1,000 images, "
                       "2 seeds")


def _settings(args):
    """The Settings of ``vgcore glorot``'s arguments (ValueError if bad)."""
    return Settings(width=args.width, hidden=args.hidden, epochs=args.epochs,
                    seeds=args.seeds, eta=args.eta, lmbda=args.lmbda, every=args.every,
                    init_seeds=args.init_seeds,
                    jobs=args.jobs if args.jobs is not None else default_jobs(),
                    quick=args.quick, progress=not args.no_progress)


def _cli(args):
    return run_command("glorot", _settings, run, args)
