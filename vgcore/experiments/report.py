"""The report of ``vgcore chapter5``: ``report.md`` and the console's lines.

Everything here is rendered from the summary dict that ``vgcore chapter5``
writes as ``summary.json`` (:func:`render_report`, :func:`console_tables`),
or from the run's settings before it starts (:func:`banner`): no number
is computed here that the summary does not hold, except means of its
per-seed lists.
"""
import os
import textwrap

import numpy as np

from . import diagnostics as diag

__all__ = ["render_report", "console_tables", "banner", "sweep_figure_title",
           "seeds_text", "num"]


def seeds_text(seeds):
    """``"seed 0"``, ``"seeds 0–19"`` or ``"seeds 0, 3"``: which seeds, said plainly."""
    seeds = list(seeds)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def _over(seeds, what="runs"):
    """``"seed 0"`` or ``"mean ± std over 3 runs, seeds 0–2"``."""
    return seeds_text(seeds) if len(seeds) == 1 else f"mean ± std over {len(seeds)} {what}, " \
        f"{seeds_text(seeds)}"


def _wrap(text, indent="  ", more="    ", width=92):
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=more,
                         break_on_hyphens=False)


def banner(settings, sw, is_full, forced_sample, source, n_validation, n_probe, out):
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
                 f"eta {num(sw['eta'])}, lmbda {num(sw['lmbda'])}; {seeds_text(settings.seeds)}")
    b = sw["book"]
    if sw["as_book"]:
        lines.append("    (the book's settings)")
    elif not settings.quick:
        how = [f"book: {b['epochs']} epochs, lmbda {num(b['lmbda'])} on "
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
                       f"({seeds_text(settings.init_seeds)}); {settings.epochs_speed} epochs of "
                       f"full-batch descent, lmbda {num(sw['book']['lmbda'])} as in the book "
                       f"({seeds_text(settings.seeds)})"))
    lines.append(("  one process (--jobs 1)" if settings.jobs <= 1 else
                  f"  {settings.jobs} worker processes") + f"; results go to {out}{os.sep}")
    return "\n".join(lines)


def sweep_figure_title(is_full, quick, sw):
    data = ("full MNIST" if is_full else "embedded sample") + f", {sw['n_training']:,} images"
    title = (f"Depth sweep ({data}): {sw['epochs']} epochs, "
             f"mini-batch {sw['mini_batch_size']}, η = {num(sw['eta'])}, "
             f"λ = {num(sw['lmbda'])}")
    if quick:
        title = "Smoke test (--quick), not the chapter's result\n" + title
    return title


def num(x):
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
        ["depth sweep: mini-batch, η", f"{sw['mini_batch_size']}, {num(sw['eta'])}",
         f"{b['mini_batch_size']}, {num(b['eta'])}"],
        ["depth sweep: λ (and λ/n: each step multiplies the weights by 1 − ηλ/n)",
         f"{num(sw['lmbda'])} ({sw['lmbda'] / sw['n_training']:.2g})",
         f"{num(b['lmbda'])} ({b['lmbda'] / b['n_training']:.2g})"],
        ["depth sweep and speed histories: runs per network", seeds_text(st["seeds"]), "one run"],
        ["initial speeds: networks per depth", f"{n_init} ({seeds_text(st['init_seeds'])})",
         "one network"],
        ["speed histories: full-batch descent on the first images",
         f"{st['epochs_speed']} epochs, {d['n_probe']:,} images, λ = {num(st['lmbda_speed'])}",
         f"500 epochs, 1,000 images, λ = {num(b['lmbda'])}"],
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
              "best validation accuracy % of each run (" + seeds_text(
                  next(iter(sw["depths"].values()))["seeds"]) + ")",
              "first epoch above 50 %, each run"]
    if not quick:
        b = sw["book"]
        header.append(f"book % (full MNIST, {b['epochs']} epochs, λ = {num(b['lmbda'])})")
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
        f"{k} hidden layers, {seeds_text([r['seed'] for r in rs])} (best "
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
        parts.append(f"λ = {num(sw['lmbda'])} instead of {num(b['lmbda'])}, the same λ/n "
                     "(so the weight decay per step, 1 − ηλ/n, is the book's)")
    if st["epochs"] is None and sw["epochs"] != b["epochs"]:
        parts.append(f"{sw['epochs']} epochs instead of {b['epochs']}, since an epoch of "
                     f"{sw['n_training']:,} images is {sw['n_training'] // sw['mini_batch_size']:,}"
                     f" steps, not {b['n_training'] // b['mini_batch_size']:,}")
    if not parts:
        return ""
    return ("To keep the book's regime the depth sweep uses " + ", and ".join(parts)
            + f". With the book's λ = {num(b['lmbda'])} on these images most "
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
            f"times slower than the last (section 2, {seeds_text(v4['seeds'])}). ")
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
    """The Markdown report of a summary dict (``summary.json``)."""
    sections = (_opening, _section_initial, _section_training, _section_sweep,
                _section_chain, _section_timing)
    return "\n".join(line for section in sections for line in section(s))


def _opening(s):
    """Title, where the data came from, and the settings beside the book's."""
    d, st = s["data"], s["settings"]
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
    return lines + ["Settings, beside the book's:", "", _settings_table(s), ""]


def _section_initial(s):
    """1. Learning speed at initialisation, and the six neurons."""
    d, init_seeds = s["data"], s["settings"]["init_seeds"]
    six = s["six_neurons"]["values"]
    return [
        "## 1. Learning speed at initialisation",
        "",
        "Learning speed of a layer = ‖mean over the first "
        f"{d['n_probe']:,} training images of dC/db‖ (the cost's gradient only), for "
        f"networks straight from the default initializer: {len(init_seeds)} networks of "
        f"each depth ({seeds_text(init_seeds)}).",
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
        _table(["layer"] + [f"neuron {j + 1}" for j in range(len(six[0]))],
               [[f"hidden {i + 1}"] + [f"{x:+.4f}" for x in row]
                for i, row in enumerate(six)]),
        "",
        f"![Six neurons]({s['figures']['six_neurons']})",
        "",
    ]


def _section_training(s):
    """2. Learning speed during training."""
    d, st = s["data"], s["settings"]
    lines = [
        "## 2. Learning speed during training",
        "",
        f"{st['epochs_speed']} epochs of full-batch gradient descent on the "
        f"{d['n_probe']:,} probe images (`SGD(td, 1, {d['n_probe']}, {num(st['eta'])}, "
        f"lmbda={num(st['lmbda_speed'])})` per epoch), speeds at the start of each epoch, "
        f"{seeds_text(st['seeds'])}. Its epoch 0 is the network at initialisation, so the "
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
    return lines + [
        "Files (published layout, one list of per-hidden-layer norms per epoch): "
        + ", ".join(f"`{f}`" for v in s["speed_training"].values() for f in v["files"]) + ".",
        "",
    ]


def _section_sweep(s):
    """3. The depth sweep and its t-tests."""
    d, st, sw = s["data"], s["settings"], s["depth_sweep"]
    lines = [
        "## 3. Depth sweep: does accuracy drop with depth?",
        "",
        f"{sw['epochs']} epochs of mini-batch SGD (mini-batch {sw['mini_batch_size']}, "
        f"η = {num(sw['eta'])}, λ = {num(sw['lmbda'])}) on {sw['n_training']:,} training "
        f"images; each run's best accuracy over the epochs on the {d['n_validation']:,} "
        "validation images"
        + ("" if sw["as_book"] or st["quick"] else
           f" (the book: {sw['book']['epochs']} epochs, λ = {num(sw['book']['lmbda'])}, "
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
    return lines + [
        f"![Validation accuracy by depth]({s['figures']['depth_sweep']})",
        "",
        "Welch's two-sided t-test on the best validation accuracy, between depths "
        "(runs that did not train left out):",
        "",
        _welch_table(s),
        "",
        _welch_conclusion(s),
        "",
    ]


def _section_chain(s):
    """4. The chain of one-neuron layers."""
    t1, t2 = _chain_tables(s)
    c = s["chain"]
    return [
        "## 4. The chain: one neuron per layer",
        "",
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
    ]


def _section_timing(s):
    """Where the time went."""
    st, timing = s["settings"], s["timing_seconds"]
    return [
        "## Timing",
        "",
        "Wall-clock time: " + ", ".join(
            f"{k.replace('_', ' ')} {v:.1f} s" for k, v in timing.items()
            if isinstance(v, float) and k != "training_cpu_all_runs")
        + f". CPU time of the training runs, summed over the runs (they share "
        f"{st['jobs']} process{'es' if st['jobs'] > 1 else ''}): "
        f"{timing['training_cpu_all_runs']:.1f} s.",
        "",
        f"_vgcore {s['vgcore_version']}_",
        "",
    ]


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
    who = seeds_text(v["seeds"]) if len(v["seeds"]) == 1 else f"mean over {seeds_text(v['seeds'])}"
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


def console_tables(s):
    st, sw = s["settings"], s["depth_sweep"]
    quick = st["quick"]
    init_seeds = st["init_seeds"]
    lines = ["", f"Initial learning speed of each hidden layer: mean ± std over "
             f"{len(init_seeds)} networks ({seeds_text(init_seeds)})  |  book (one network)"]
    for k, v in s["initial_speeds"].items():
        std = v["std"] or [None] * len(v["mean"])
        lines.append(f"  {k} hidden: " + ", ".join(_pm(m, sd, 3) for m, sd in
                                                   zip(v["mean"], std))
                     + "  |  " + ", ".join(_fmt(b, 3) for b in v["book"]))
    seeds = next(iter(s["speed_training"].values()))["seeds"]
    lines.append(f"Last/first hidden-layer speed in {st['epochs_speed']} epochs of "
                 f"full-batch descent ({seeds_text(seeds)}{', mean' if len(seeds) > 1 else ''}): "
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
