"""``vgcore sweep``: a grid of cells x seeds on joblib or Dask, into a folder of results.

:func:`run` is what ``vgcore.sweep.run`` and the command call: it checks
the whole sweep (cells, seeds, the cells named for the t-tests, the
backend) before anything runs, runs what the output folder does not hold
yet (:func:`vgcore.experiments.sweep.run_sweep`), then writes the tables,
tests, figures and report (:mod:`vgcore.experiments.sweep_report`).
"""
import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import SweepError
from . import diagnostics as diag
from . import sweep as engine
from . import sweep_report

__all__ = ["run", "SweepResult", "load_spec", "parse_values", "parse_selector",
           "add_parser", "main"]


@dataclass
class SweepResult:
    """What a sweep returns: its runs, and the tables made from them."""
    tasks: list          # [Task]: (cell, cell id, seed), in grid order
    results: list        # [result dict of run_cell], one per task
    timing: list         # [{"seconds", "cpu_seconds", "worker"}], one per task
    rows: list           # results.csv's rows
    summary: list        # per cell: label, seeds, {metric: mean, std, count}
    tests: list          # the Welch t-tests
    figures: dict        # figure name -> file name (in out)
    n_reused: int        # runs read from the output folder instead of run
    out: Path = None

    def to_dataframe(self):
        """results.csv as a pandas DataFrame (needs pandas)."""
        return sweep_report.to_dataframe(self.rows)


_SPEC_KEYS = ("grid", "cells", "seeds", "compare", "metric")


def load_spec(path):
    """A sweep read from a TOML or JSON file: ``{"grid", "cells", "seeds", "compare", "metric"}``.

    Cell keys may sit at the top level or under ``[grid]``; ``cells`` is a
    list of partial cells (each combined with the grid); ``compare`` a list
    of pairs of partial cells.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SweepError(f"{path}: cannot read the sweep file ({e.strerror or e})") from None
    try:
        if path.suffix.lower() == ".json":
            spec = json.loads(raw.decode("utf-8"))
        else:
            try:
                import tomllib
            except ImportError:  # pragma: no cover - Python 3.10
                raise SweepError(f"{path}: reading TOML needs Python 3.11 (tomllib); "
                                 "give the sweep as JSON") from None
            spec = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise SweepError(f"{path}: not a valid {'JSON' if path.suffix == '.json' else 'TOML'} "
                         f"sweep file ({e})") from None
    if not isinstance(spec, dict):
        raise SweepError(f"{path}: expected a table at the top level")
    grid = dict(spec.get("grid") or {})
    if not isinstance(spec.get("grid", {}), dict):
        raise SweepError(f"{path}: grid must be a table")
    out = {}
    for key, value in spec.items():
        if key in _SPEC_KEYS:
            if key != "grid":
                out[key] = value
        elif key in engine.KEYS:
            if key in grid:
                raise SweepError(f"{path}: {key} is given twice (top level and [grid])")
            grid[key] = value
        else:
            raise SweepError(f"{path}: unknown key {key!r} (cell keys: "
                             f"{', '.join(engine.KEYS)}; and {', '.join(_SPEC_KEYS)})")
    out["grid"] = grid
    return out


def run(grid=None, cells=None, seeds=1, out=None, backend="loky", jobs=None, scheduler=None,
        client=None, compare=None, metric="best_accuracy", progress=True, figures=True,
        log=print):
    """Run a sweep; see :func:`vgcore.sweep.run`."""
    if grid is None and cells is None:
        raise SweepError("nothing to run: give a grid or a list of cells")
    all_cells = engine.expand_grid(grid or {}, cells)
    tasks = engine.plan(all_cells, seeds)
    if metric not in sweep_report.METRICS:
        raise SweepError(f"metric: must be one of {', '.join(sweep_report.METRICS)}, "
                         f"got {metric!r}")
    pairs = sweep_report.check_pairs(all_cells, compare if compare is not None else
                                     sweep_report.default_pairs(all_cells))
    engine.check_backend(backend, jobs, scheduler)
    if client is None and (scheduler is None or scheduler.startswith("local")):
        engine.check_data(all_cells)
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise SweepError(f"out: {out} is a file, not a folder")
        out.mkdir(parents=True, exist_ok=True)
        diag.write_json_atomic(out / "sweep.json", {
            "cells": all_cells, "seeds": engine.check_seeds(seeds), "compare": compare,
            "metric": metric}, indent=1)
    log(f"sweep: {len(all_cells)} cells x {len(tasks) // len(all_cells)} seeds = "
        f"{len(tasks)} runs on {backend}" + (f" ({scheduler})" if scheduler else "")
        + (f", into {out}" if out is not None else ""))
    new = []
    done = engine.run_sweep(tasks, out, backend, jobs, client, scheduler, progress, log,
                            on_result=lambda task, result: new.append(task))
    stored = len(tasks) - len(new)
    if out is not None:
        rows, summary, tests, figs = sweep_report.write_outputs(
            out, tasks, done, pairs, metric, figures=figures, n_reused=stored)
    else:
        rows = sweep_report.result_rows(tasks, done)
        summary = sweep_report.summarise(tasks, rows)
        tests = sweep_report.compare(summary, rows, pairs, metric) if pairs else []
        figs = {}
    return SweepResult(tasks, [d[0] for d in done], [d[1] for d in done], rows, summary,
                       tests, figs, stored, out)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

_INT_KEYS = {"depth", "width", "mini_batch_size", "epochs", "n_train", "n_validation",
             "n_probe", "root_seed"}
_FLOAT_KEYS = {"eta", "lmbda"}


def parse_values(key, text):
    """``"0.1,0.5"`` -> ``[0.1, 0.5]``, ``"1-4"`` -> ``[1, 2, 3, 4]`` (int keys),
    ``"5"`` -> ``5``; for ``sizes``, ``"784-30-10,784-30-30-10"``; for
    ``measure``, one comma-separated list."""
    where = "--depths" if key == "depth" else f"--{key.replace('_', '-')}"
    if key == "measure":
        return [m.strip() for m in text.split(",") if m.strip()]
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise SweepError(f"{where}: empty value in {text!r}")
    values = []
    for p in parts:
        try:
            if key == "sizes":
                values.append([int(s) for s in p.split("-")])
            elif key in _INT_KEYS:
                m = re.fullmatch(r"(-?\d+)-(-?\d+)", p)
                if m:
                    a, b = int(m.group(1)), int(m.group(2))
                    if b < a:
                        raise SweepError(f"{where}: empty range {p!r}")
                    values.extend(range(a, b + 1))
                else:
                    values.append(int(p))
            elif key in _FLOAT_KEYS:
                values.append(float(p))
            else:
                values.append(p)
        except SweepError:
            raise
        except ValueError:
            raise SweepError(f"{where}: cannot read {p!r} as "
                             f"{'sizes like 784-30-10' if key == 'sizes' else 'a number'}") \
                from None
    return values[0] if len(values) == 1 else values


def parse_selector(text):
    """``"depth=2,eta=0.5"`` -> ``{"depth": 2, "eta": 0.5}``."""
    sel = {}
    for part in text.split(","):
        if "=" not in part:
            raise SweepError(f"--compare: expected KEY=VALUE, got {part!r}")
        k, v = (s.strip() for s in part.split("=", 1))
        k = k.replace("-", "_")
        if k not in engine.KEYS:
            raise SweepError(f"--compare: unknown key {k!r}")
        sel[k] = parse_values(k, v)
    return sel


def _seeds(text):
    if re.fullmatch(r"\d+", text.strip()):
        return int(text)
    return [int(s) for s in text.split(",")]


def _cli_keys():
    """Every key of a cell is an option (those registered later too)."""
    return list(engine.KEYS)


def add_parser(subparsers):
    """Register ``vgcore sweep`` on the ``vgcore`` command's subparsers."""
    p = subparsers.add_parser(
        "sweep", help="train a grid of networks x seeds (joblib or Dask) into a folder",
        description="Train every cell of a grid (depth, width, eta, lmbda, ...) with every "
        "seed, on local processes (joblib) or a Dask cluster, and write results.csv, "
        "summary.csv, Welch t-tests, figures and report.md.  Finished runs are kept in "
        "OUT/cells/ and not run again.  Lists: 0.1,0.5; ranges of ints: 1-6.")
    _add_arguments(p)
    p.set_defaults(func=_cli)
    return p


def _add_arguments(p):
    p.add_argument("grid_file", nargs="?", metavar="GRID.toml|GRID.json",
                   help="a sweep file (the options below override its keys)")
    g = p.add_argument_group("the grid (a list is an axis)")
    g.add_argument("--depths", dest="depth", metavar="LIST",
                   help="hidden layers, e.g. 1-6 (with --width)")
    for key in _cli_keys():
        if key == "depth":
            continue
        g.add_argument(f"--{key.replace('_', '-')}", dest=key, metavar="LIST",
                       help=f"{engine.KEYS[key].doc} (default: {engine.KEYS[key].default})")
    g.add_argument("--seeds", metavar="N|LIST",
                   help="seeds 0..N-1, or a list (default: 1, or the file's)")
    r = p.add_argument_group("where it runs")
    r.add_argument("--backend", choices=("serial", "loky", "dask"), default=None,
                   help="serial, loky (local processes, the default) or dask "
                        "(the default with --scheduler)")
    r.add_argument("--jobs", type=int, metavar="N",
                   help="local worker processes (default: the usable CPUs)")
    r.add_argument("--scheduler", metavar="ADDR",
                   help="Dask: tcp://HOST:8786 (a running scheduler) or local[N] "
                        "(a LocalCluster of N one-thread workers)")
    o = p.add_argument_group("results")
    o.add_argument("--out", default="sweep_results", metavar="DIR",
                   help="output folder (default: %(default)s)")
    o.add_argument("--compare", action="append", metavar="A:B",
                   help="Welch t-test between two cells, e.g. depth=1:depth=2 "
                        "(repeatable; default: neighbouring depths, other keys equal)")
    o.add_argument("--metric", default=None,
                   help=f"measure the t-tests compare (default: best_accuracy; one of "
                        f"{', '.join(sweep_report.METRICS)})")
    o.add_argument("--no-figures", action="store_true", help="no PNG figures")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    o.add_argument("--dry-run", action="store_true",
                   help="check the sweep and list its cells, run nothing")


def _spec_from_args(args):
    spec = load_spec(args.grid_file) if args.grid_file else {"grid": {}}
    for key in _cli_keys():
        text = getattr(args, key, None)
        if text is not None:
            spec["grid"][key] = parse_values(key, text)
    if args.seeds is not None:
        try:
            spec["seeds"] = _seeds(args.seeds)
        except ValueError:
            raise SweepError(f"--seeds: expected N or a list of ints, got {args.seeds!r}") \
                from None
    if args.compare:
        pairs = []
        for c in args.compare:
            if c.count(":") != 1:
                raise SweepError(f"--compare: expected A:B, e.g. depth=1:depth=2, got {c!r}")
            a, b = c.split(":")
            pairs.append((parse_selector(a), parse_selector(b)))
        spec["compare"] = pairs
    if args.metric is not None:
        spec["metric"] = args.metric
    return spec


def _error(message, code):
    print(f"vgcore sweep: error: {message}", file=sys.stderr)
    return code


def _cli(args):
    try:
        spec = _spec_from_args(args)
        backend = args.backend or ("dask" if args.scheduler else "loky")
        kwargs = dict(grid=spec["grid"], cells=spec.get("cells"), seeds=spec.get("seeds", 1),
                      backend=backend, jobs=args.jobs, scheduler=args.scheduler,
                      compare=spec.get("compare"), metric=spec.get("metric", "best_accuracy"),
                      progress=not args.no_progress, figures=not args.no_figures)
        if args.dry_run:
            cells = engine.expand_grid(kwargs["grid"], kwargs["cells"])
            tasks = engine.plan(cells, kwargs["seeds"])
            sweep_report.check_pairs(cells, kwargs["compare"] if kwargs["compare"]
                                     is not None else sweep_report.default_pairs(cells))
            engine.check_backend(backend, args.jobs, args.scheduler)
            if not args.scheduler or args.scheduler.startswith("local"):
                engine.check_data(cells)
            varying = sweep_report.varying_keys(cells)
            for c in cells:
                print(f"{engine.cell_id(c)}  {sweep_report.label(c, varying)}")
            print(f"{len(cells)} cells x {len(tasks) // len(cells)} seeds = {len(tasks)} runs")
            return 0
        res = run(out=args.out, **kwargs)
    except SweepError as e:
        return _error(e, 2)
    except OSError as e:
        return _error(f"{e.strerror or e}: {e.filename}" if e.filename else e, 1)
    except KeyboardInterrupt:
        print(f"vgcore sweep: interrupted; the finished runs are in {args.out}/cells/ and "
              "the same command runs only the others", file=sys.stderr)
        return 130
    except Exception as e:          # a run failed, a worker was lost for good, ...
        return _error(f"{type(e).__name__}: {e} (the finished runs are in {args.out}/cells/; "
                      "the same command runs only the others)", 1)
    for s in res.summary:
        m = s["metrics"]["best_accuracy"]
        print(f"  {s['label']}: best accuracy "
              + ("n/a" if m["mean"] is None else
                 f"{m['mean']:.2f}" + ("" if m["std"] is None else f" ± {m['std']:.2f}"))
              + f" % over {len(s['seeds'])} seed(s)")
    for w in res.tests:
        print(f"  Welch {w['a']} vs {w['b']}: " + (w["note"] or "no test") if w["p"] is None
              else f"  Welch {w['a']} vs {w['b']}: t = {w['t']:.3g}, p = {w['p']:.3g} "
                   f"(Holm {w['p_holm']:.3g})")
    print(f"wrote {res.out}/results.csv, summary.csv, report.md"
          + (f" and {len(res.figures)} figures" if res.figures else ""))
    return 0


def main(argv=None):
    """``python -m vgcore.experiments.sweep_cli``: the same as ``vgcore sweep``."""
    p = argparse.ArgumentParser(prog="vgcore sweep")
    _add_arguments(p)
    return _cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
