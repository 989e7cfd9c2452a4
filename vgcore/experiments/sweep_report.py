"""A sweep's results as tables, Welch t-tests, figures and ``report.md``.

Everything here is computed from the runs' result dicts
(:func:`vgcore.experiments.sweep.run_cell`), the way ``vgcore chapter5``
summarises its own runs: one row per (cell, seed) in ``results.csv``; per
cell, the mean, sample standard deviation and count over seeds of each
scalar measure (``summary.csv``); Welch t-tests between the cells the
user names (:func:`vgcore.experiments.diagnostics.welch_test`, Holm
corrected); the figures of :mod:`vgcore.experiments.plots`.  pandas is
optional: :func:`to_dataframe` imports it.
"""
import csv
import io
import json
from pathlib import Path

from .._support import files as _files
from ..errors import SweepError
from . import diagnostics as diag
from .report import _fmt, _pm, _table, num
from .sweep import KEYS, depth_of

__all__ = ["METRICS", "result_rows", "write_csv", "summarise", "varying_keys", "label",
           "select", "default_pairs", "check_pairs", "compare", "to_dataframe",
           "draw_figures", "render_report", "write_outputs"]

#: The scalar measures of a run, as columns of results.csv (None when not measured).
METRICS = ("best_accuracy", "last_accuracy", "best_epoch", "last_cost",
           "speed_init_first", "speed_last_first", "speed_init_last", "weight_norm_first",
           "seconds", "cpu_seconds")

def _cell_column_names():
    """results.csv's first columns: the run, then every key of a cell (those
    registered later too)."""
    return ["cell_id", "seed", "depth", "sizes"] + [
        k for k in KEYS if k not in ("sizes", "depth", "width")]


def _cell_columns(cell):
    out = {"depth": depth_of(cell), "sizes": "-".join(map(str, cell["sizes"]))}
    for k, v in cell.items():
        if k != "sizes":
            out[k] = ",".join(v) if isinstance(v, list) else v
    return out


def result_rows(tasks, done):
    """One flat dict per run: the cell's keys, the seed, the scalar measures."""
    rows = []
    for task, (result, timing) in zip(tasks, done):
        speeds = result.get("speeds")
        norms = result.get("norms")
        row = {"cell_id": task.cell_id, "seed": task.seed, **_cell_columns(task.cell),
               "best_accuracy": result.get("best_accuracy"),
               "last_accuracy": result.get("last_accuracy"),
               "best_epoch": result.get("best_epoch"),
               "last_cost": result.get("last_cost"),
               "speed_init_first": speeds[0][0] if speeds else None,
               "speed_last_first": speeds[-1][0] if speeds else None,
               "speed_init_last": speeds[0][-1] if speeds else None,
               "weight_norm_first": norms["weights"][0] if norms else None,
               "seconds": timing.get("seconds"), "cpu_seconds": timing.get("cpu_seconds"),
               "worker": timing.get("worker")}
        rows.append(row)
    return rows


def _csv_text(rows, columns):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in columns})
    return buf.getvalue()


def write_csv(path, rows, columns=None):
    """Write ``rows`` (dicts) as CSV, atomically; empty cells for None."""
    columns = list(columns or (rows[0].keys() if rows else ()))
    _files.atomic_write_text(path, _csv_text(rows, columns), what=str(path))
    return Path(path)


def varying_keys(cells):
    """The keys whose value differs between ``cells`` (``depth`` for sizes that
    differ only in depth, else ``sizes``), in :data:`KEYS` order."""
    out = []
    for k in KEYS:
        if k in ("depth", "width"):
            continue
        values = {json.dumps(c[k], sort_keys=True) for c in cells}
        if len(values) > 1:
            out.append(k)
    if "sizes" in out:
        widths = {tuple(set(c["sizes"][1:-1])) for c in cells}
        if all(len(w) == 1 for w in widths) and len(widths) == 1:
            out[out.index("sizes")] = "depth"
    return out


def label(cell, varying):
    """``"depth=2 eta=0.5"``: a cell by the keys that vary in its sweep."""
    parts = []
    for k in varying:
        v = depth_of(cell) if k == "depth" else cell[k]
        if isinstance(v, list):
            v = "-".join(map(str, v)) if k == "sizes" else ",".join(map(str, v))
        elif isinstance(v, float):
            v = num(v)
        parts.append(f"{k}={v}")
    return " ".join(parts) or "the cell"


def summarise(tasks, rows):
    """Per cell, in the order of first appearance: its keys, label, seeds, and
    ``{metric: {"mean", "std", "count"}}`` over its seeds (None values skipped)."""
    cells, order = {}, []
    for t in tasks:
        if t.cell_id not in cells:
            cells[t.cell_id] = t.cell
            order.append(t.cell_id)
    varying = varying_keys([cells[i] for i in order])
    out = []
    for ident in order:
        mine = [r for r in rows if r["cell_id"] == ident]
        entry = {"cell_id": ident, "cell": cells[ident], "label": label(cells[ident], varying),
                 "depth": depth_of(cells[ident]), "seeds": [r["seed"] for r in mine],
                 "metrics": {}}
        for m in METRICS:
            values = [r[m] for r in mine if r[m] is not None]
            mean, std = diag.mean_std(values)
            entry["metrics"][m] = {"mean": mean, "std": std, "count": len(values)}
        out.append(entry)
    return out


def _summary_rows(summary):
    rows = []
    for s in summary:
        row = {"cell_id": s["cell_id"], "label": s["label"], **_cell_columns(s["cell"])}
        for m, v in s["metrics"].items():
            row.update({f"{m}_mean": v["mean"], f"{m}_std": v["std"], f"{m}_count": v["count"]})
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# Welch t-tests between named cells
# ---------------------------------------------------------------------------

def select(cells, selector, where="compare"):
    """The one cell of ``cells`` matching ``selector`` (a partial cell, e.g.
    ``{"depth": 2, "eta": 0.5}``); :class:`SweepError` if none or several do."""
    if not isinstance(selector, dict) or not selector:
        raise SweepError(f"{where}: expected a table of keys, got {selector!r}")
    want = {}
    for k, v in selector.items():
        if k not in KEYS:
            raise SweepError(f"{where}: unknown key {k!r}")
        want[k] = v if k == "depth" else KEYS[k].check(v, f"{where}: {k}")
    found = [c for c in cells
             if all((depth_of(c) == v) if k == "depth" else
                    (c["sizes"][1:-1] and set(c["sizes"][1:-1]) == {v}) if k == "width" else
                    c[k] == v for k, v in want.items())]
    if len(found) != 1:
        raise SweepError(f"{where}: {selector} matches {len(found)} cells of the sweep, "
                         "not one (give more keys)")
    return found[0]


def default_pairs(cells):
    """Neighbouring depths, as ``vgcore chapter5`` tests them, among the cells
    that agree on every other key that varies (none if the depth does not vary)."""
    varying = varying_keys(cells)
    if "depth" not in varying:
        return []
    rest = [k for k in varying if k != "depth"]
    groups = {}
    for c in cells:
        groups.setdefault(json.dumps([c[k] for k in rest]), []).append(c)
    pairs = []
    for group in groups.values():
        same = {k: group[0][k] for k in rest}
        depths = sorted({depth_of(c) for c in group})
        pairs += [({**same, "depth": a}, {**same, "depth": b})
                  for a, b in zip(depths, depths[1:])]
    return pairs


def check_pairs(cells, pairs):
    """Each pair of selectors as a pair of cells (checked before anything runs)."""
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise SweepError(f"compare[{i}]: expected two cells, got {pair!r}")
        out.append((select(cells, pair[0], f"compare[{i}]"),
                    select(cells, pair[1], f"compare[{i}]")))
    return out


def compare(summary, rows, pairs, metric="best_accuracy"):
    """Welch t-tests of ``metric`` between pairs of cells (second minus first), Holm corrected."""
    by_id = {s["cell_id"]: s for s in summary}
    from .sweep import cell_id

    tests = []
    for a, b in pairs:
        ia, ib = cell_id(a), cell_id(b)
        va = [r[metric] for r in rows if r["cell_id"] == ia and r[metric] is not None]
        vb = [r[metric] for r in rows if r["cell_id"] == ib and r[metric] is not None]
        w = diag.welch_test(vb, va)
        w.update({"a": by_id[ia]["label"], "b": by_id[ib]["label"], "metric": metric,
                  "mean_a": diag.mean_std(va)[0], "mean_b": diag.mean_std(vb)[0]})
        w["mean_difference"] = (None if w["mean_a"] is None or w["mean_b"] is None
                                else w["mean_b"] - w["mean_a"])
        tests.append(w)
    for w, p in zip(tests, diag.holm([w["p"] for w in tests])):
        w["p_holm"] = p
    return tests


def to_dataframe(rows):
    """``rows`` as a pandas DataFrame (pandas is optional: a clear error without it)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install pandas "
                          "(results.csv holds the same table)") from None
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Figures and the report
# ---------------------------------------------------------------------------

def _groups(summary):
    """Cells grouped by everything but depth: ``{label of the rest: [entries by depth]}``."""
    cells = [s["cell"] for s in summary]
    rest = [k for k in varying_keys(cells) if k not in ("depth", "sizes")]
    groups = {}
    for s in summary:
        groups.setdefault(label(s["cell"], rest) if rest else "", []).append(s)
    return {k: sorted(v, key=lambda s: s["depth"]) for k, v in groups.items()}


def draw_figures(summary, out):
    """accuracy_vs_depth.png and speed_vs_depth.png when measured: name -> file name."""
    from . import plots

    groups = _groups(summary)
    figures = {}

    def series(metric):
        return {g: [(s["depth"], s["metrics"][metric]["mean"], s["metrics"][metric]["std"])
                    for s in v if s["metrics"][metric]["count"]]
                for g, v in groups.items()}

    acc = series("best_accuracy")
    if any(acc.values()):
        figures["accuracy_vs_depth"] = plots.plot_metric_vs_depth(
            acc, Path(out) / "accuracy_vs_depth.png",
            ylabel="Best validation accuracy (%)",
            title="Best validation accuracy by depth (mean ± std over seeds)").name
    init, last = series("speed_init_first"), series("speed_last_first")
    if any(init.values()):
        both = {(f"{g}, " if g else "") + "at initialisation": v for g, v in init.items()}
        both.update({(f"{g}, " if g else "") + "last epoch": v for g, v in last.items()})
        figures["speed_vs_depth"] = plots.plot_metric_vs_depth(
            both, Path(out) / "speed_vs_depth.png", log=True,
            ylabel=r"first hidden layer's learning speed $\|\partial C/\partial b^1\|$",
            title="Learning speed of the first hidden layer by depth "
                  "(mean ± std over seeds)").name
    return figures


def render_report(summary, tests, figures, n_runs, n_reused, header=""):
    """``report.md``: the cells' table, the t-tests and the figures."""
    lines = ["# Sweep", ""]
    if header:
        lines += [header, ""]
    lines += [f"{len(summary)} cells, {n_runs} runs ({n_reused} read from earlier runs). "
              "One row per run in `results.csv`; per cell in `summary.csv`.", ""]
    rows = []
    for s in summary:
        m = s["metrics"]
        rows.append([s["label"], len(s["seeds"]),
                     _pm(m["best_accuracy"]["mean"], m["best_accuracy"]["std"]),
                     _pm(m["last_accuracy"]["mean"], m["last_accuracy"]["std"]),
                     _pm(m["speed_init_first"]["mean"], m["speed_init_first"]["std"]),
                     _pm(m["seconds"]["mean"], m["seconds"]["std"], 3), s["cell_id"]])
    lines += [_table(["cell", "seeds", "best accuracy %", "last accuracy %",
                      "first-layer speed at init", "seconds per run", "cell id"], rows), ""]
    if tests:
        lines += ["## Welch t-tests", "",
                  "Two-sided Welch t-tests between the cells named (second minus first); "
                  "p Holm-corrected over the tests.", ""]
        lines += [_table(["a", "b", "metric", "mean b − a", "t", "p", "p (Holm)", "note"],
                         [[w["a"], w["b"], w["metric"], _fmt(w["mean_difference"]),
                           _fmt(w["t"]), _fmt(w["p"]), _fmt(w["p_holm"]), w["note"]]
                          for w in tests]), ""]
    for name, file in figures.items():
        lines += [f"![{name}]({file})", ""]
    return "\n".join(lines)


def write_outputs(out, tasks, done, pairs, metric="best_accuracy", header="", figures=True,
                  n_reused=0):
    """results.csv, summary.csv, summary.json, the figures and report.md in ``out``.

    Returns ``(rows, summary, tests, figures)``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = result_rows(tasks, done)
    write_csv(out / "results.csv", rows, _cell_column_names() + list(METRICS) + ["worker"])
    summary = summarise(tasks, rows)
    write_csv(out / "summary.csv", _summary_rows(summary))
    tests = compare(summary, rows, pairs, metric) if pairs else []
    figs = draw_figures(summary, out) if figures else {}
    diag.write_json_atomic(out / "summary.json", diag.json_safe(
        {"cells": summary, "welch": tests, "figures": figs}), indent=1)
    _files.atomic_write_text(out / "report.md",
                             render_report(summary, tests, figs, len(tasks), n_reused, header),
                             what="the report")
    return rows, summary, tests, figs

