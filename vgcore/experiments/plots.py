"""The chapter 5 figures, as fixed-size PNG files (matplotlib, Agg backend).

Every function writes one figure of ``FIGSIZE`` inches at ``DPI`` (800 x
500 pixels) to ``path`` and returns the path.  matplotlib is imported
inside the functions, so ``import vgcore`` (and ``vgcore --help``) never
pays for it.
"""
from pathlib import Path

import numpy as np

__all__ = [
    "FIGSIZE", "DPI", "plot_speed_history", "plot_six_neurons",
    "plot_initial_speeds", "plot_depth_sweep", "plot_chain_factors",
    "plot_width_curve", "plot_metric_vs_depth", "plot_activation_trace", "plot_test_errors",
    "plot_speed_grid", "plot_monitor",
]

FIGSIZE = (8.0, 5.0)
DPI = 100


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _new_figure():
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    return plt, fig, ax


def _save(plt, fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # no bbox_inches="tight": the pixel size must stay FIGSIZE * DPI
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)
    return path


def plot_speed_history(history, path, title=None):
    """Learning speed of every hidden layer against epoch, on a log scale.

    ``history`` is the published layout: one list of per-hidden-layer
    norms per epoch.  One line per hidden layer, labelled "Hidden layer 1",
    "Hidden layer 2", ... as the chapter draws them.
    """
    h = np.asarray(history, dtype=float)
    plt, fig, ax = _new_figure()
    epochs = np.arange(h.shape[0])
    for k in range(h.shape[1]):
        y = np.where(h[:, k] > 0, h[:, k], np.nan)
        ax.plot(epochs, y, label=f"Hidden layer {k + 1}", linewidth=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("Epoch")
    ax.set_ylabel(r"learning speed $\|\partial C/\partial b\|$")
    ax.set_title(title or f"Speed of learning: {h.shape[1]} hidden layers")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best")
    ax.set_xlim(0, max(1, h.shape[0] - 1))
    return _save(plt, fig, path)


def plot_six_neurons(values, path, title=None):
    """The averaged ``dC/db`` of the first six neurons of each hidden layer, as bars.

    ``values`` is the published layout (one list of six numbers per hidden
    layer); the bars of each layer are drawn side by side, in one colour
    per layer.
    """
    v = np.asarray(values, dtype=float)
    n_layers, n = v.shape
    plt, fig, ax = _new_figure()
    width = 0.8 / n_layers
    x = np.arange(n)
    for k in range(n_layers):
        ax.bar(x + (k - (n_layers - 1) / 2) * width, v[k], width,
               label=f"Hidden layer {k + 1}")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(x, [f"neuron {j + 1}" for j in range(n)])
    ax.set_xlabel("Neuron")
    ax.set_ylabel(r"$\partial C/\partial b$ averaged over the probe images")
    ax.set_title(title or "Gradient of the first six neurons of each hidden layer "
                 "at initialisation")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best")
    return _save(plt, fig, path)


def plot_initial_speeds(ours, book, path, title=None):
    """Initial learning speed per hidden layer, ours (mean +- std) against the book's.

    ``ours`` maps the number of hidden layers to ``(means, stds)`` lists;
    ``book`` maps it to the published values.  Log scale, one colour per
    depth; circles with error bars are ours, crosses the book's.
    """
    plt, fig, ax = _new_figure()
    for i, k in enumerate(sorted(ours)):
        means, stds = ours[k]
        layers = np.arange(1, len(means) + 1)
        stds = [0.0 if s is None else s for s in stds]
        color = f"C{i}"
        ax.errorbar(layers + (i - 1) * 0.08, means, yerr=stds, fmt="o-", color=color,
                    capsize=4, label=f"{k} hidden layers (vgcore, mean ± std)")
        if k in book:
            ax.plot(layers + (i - 1) * 0.08, book[k], "x--", color=color, markersize=9,
                    alpha=0.7, label=f"{k} hidden layers (book)")
    ax.set_yscale("log")
    ax.set_xlabel("Hidden layer")
    ax.set_ylabel(r"learning speed at initialisation $\|\partial C/\partial b\|$")
    ax.set_xticks(range(1, 1 + max(len(ours[k][0]) for k in ours)))
    ax.set_title(title or "Learning speed at initialisation (first 1,000 training images)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(plt, fig, path)


def plot_depth_sweep(curves, path, n_validation, book=None, title=None, chance=None,
                     trained=None):
    """The depth sweep in two panels: learning curves, and the best accuracy of each run.

    ``curves`` maps the number of hidden layers to a list of per-seed
    lists of per-epoch validation accuracy counts (out of ``n_validation``).

    Left, every epoch on the whole 0-100 % scale: per depth, the mean over
    the runs that trained (line) and the lowest to highest of them (band);
    runs that did not train (``trained[k][i]`` False) as thin dashed
    lines; ``chance`` (percent) as a grey dotted line.  This is where a
    deeper network's later start shows.

    Right, zoomed on the runs that trained: the best accuracy of each run
    (dots) and their mean (bar, value written above), which is what the
    t-tests compare; the book's best accuracies (``{n_hidden: percent}``)
    as black diamonds when given; below, how many runs did not train.
    """
    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=DPI,
                                  gridspec_kw={"width_ratios": [1.55, 1]})
    depths = sorted(curves)
    acc = {k: 100.0 * np.asarray(curves[k], dtype=float) / n_validation for k in depths}
    ok = {k: np.ones(acc[k].shape[0], bool) if trained is None else np.asarray(trained[k], bool)
          for k in depths}
    _sweep_curves(ax, depths, acc, ok, chance)
    _sweep_best(ax2, depths, acc, ok, book)
    fig.suptitle(title or "Validation accuracy by depth", fontsize=11)
    return _save(plt, fig, path)


def _sweep_curves(ax, depths, acc, ok, chance):
    """The left panel of :func:`plot_depth_sweep`: every epoch of every depth."""
    from matplotlib.ticker import MaxNLocator

    any_failed = False
    for i, k in enumerate(depths):
        epochs = np.arange(1, acc[k].shape[1] + 1)
        color = f"C{i}"
        label = f"{k} hidden layer{'s' if k != 1 else ''}"
        marker = "." if len(epochs) <= 30 else None
        if ok[k].any():
            good = acc[k][ok[k]]
            if good.shape[0] > 1:
                ax.fill_between(epochs, good.min(0), good.max(0), color=color, alpha=0.2,
                                linewidth=0)
            ax.plot(epochs, good.mean(0), "-", marker=marker, markersize=4, color=color,
                    linewidth=1.8, label=label)
        for j, run in enumerate(acc[k][~ok[k]]):
            ax.plot(epochs, run, "--", color=color, linewidth=1.0,
                    label=None if ok[k].any() or j else label)
            any_failed = True
    if chance is not None:
        ax.axhline(chance, color="0.4", linestyle=":", linewidth=1.3,
                   label=f"chance level ({chance:.1f} %)")
    if any_failed:
        ax.plot([], [], "--", color="0.3", linewidth=1.0, label="did not train (each run)")
    ax.set_xlim(0.5, max(a.shape[1] for a in acc.values()) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_ylim(0, 100)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Validation accuracy (%)")
    ax.set_title("Every epoch" + (": mean, band = lowest to highest run"
                                  if max(a.shape[0] for a in acc.values()) > 1 else ""),
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.12), fontsize=8, framealpha=0.9)


def _sweep_best(ax2, depths, acc, ok, book):
    """The right panel of :func:`plot_depth_sweep`: each run's best accuracy."""
    best_ok = []
    for i, k in enumerate(depths):
        best = acc[k].max(1)
        x = np.full(int(ok[k].sum()), float(i + 1))
        if x.size > 1:
            x += np.linspace(-0.12, 0.12, x.size)
        ax2.plot(x, best[ok[k]], "o", color=f"C{i}", markersize=6, alpha=0.85,
                 markeredgecolor="white", markeredgewidth=0.5)
        if ok[k].any():
            ax2.hlines(float(best[ok[k]].mean()), i + 1 - 0.25, i + 1 + 0.25, color=f"C{i}",
                       linewidth=2.5)
            best_ok.append(best[ok[k]])
        if book and k in book:
            ax2.plot([i + 1.3], [book[k]], "D", color="black", markersize=5,
                     label="book (one run)" if i == 0 else None)
    ax2.set_xticks(range(1, len(depths) + 1), [str(k) for k in depths])
    ax2.set_xlim(0.4, len(depths) + 0.7)
    ax2.set_xlabel("Hidden layers")
    ax2.set_ylabel("Best validation accuracy (%)")
    ax2.set_title("Best accuracy of each run (bar: mean)", fontsize=10)
    ax2.grid(True, axis="y", alpha=0.3)
    if best_ok:
        vals = np.concatenate(best_ok)
        if book:
            vals = np.concatenate([vals, [book[k] for k in depths if k in book]])
        lo, hi = float(vals.min()), float(vals.max())
        pad = max(0.3, 0.12 * (hi - lo))
        failed = not all(o.all() for o in ok.values())
        ax2.set_ylim(lo - (2.5 if failed else 1.0) * pad, hi + 1.6 * pad)
        for i, k in enumerate(depths):
            if ok[k].any():
                ax2.text(i + 1, hi + 0.6 * pad, f"{float(acc[k][ok[k]].max(1).mean()):.2f}",
                         ha="center", va="bottom", fontsize=8, color=f"C{i}")
    else:
        ax2.set_ylim(0, 100)
    for i, k in enumerate(depths):
        n_bad = int(np.sum(~ok[k]))
        if n_bad:
            ax2.text(i + 1, 0.03, f"{n_bad} did\nnot train", transform=ax2.get_xaxis_transform(),
                     ha="center", va="bottom", fontsize=7.5, color=f"C{i}")
    if book:
        ax2.legend(loc="lower left", fontsize=8, framealpha=0.9)


def plot_chain_factors(vanishing, exploding, path, title=None):
    """``|w_j sigma'(z_j)|`` per layer of the chain, vanishing against exploding.

    ``vanishing`` and ``exploding`` are lists of factors (``j = 2 .. L``).
    Log scale, with the bounds ``1/4`` (the most a factor can be when
    ``|w| < 1``) and ``1`` (the growth threshold) marked.
    """
    plt, fig, ax = _new_figure()
    v = np.abs(np.asarray(vanishing, dtype=float))
    e = np.abs(np.asarray(exploding, dtype=float))
    jv = np.arange(2, len(v) + 2)
    je = np.arange(2, len(e) + 2)
    w = 0.38
    ax.bar(jv - w / 2, v, w, label="vanishing: $|w_j| < 1$", color="C0")
    ax.bar(je + w / 2, e, w, label="exploding: $w_j = 100$, $b_j = -100\\,a_{j-1}$",
           color="C3")
    ax.axhline(0.25, color="C0", linestyle="--", linewidth=1,
               label=r"$1/4 = \max\ \sigma'$")
    ax.axhline(1.0, color="black", linestyle=":", linewidth=1, label="1")
    ax.set_yscale("log")
    top = max(1.0, float(np.max(e)) if e.size else 1.0, float(np.max(v)) if v.size else 1.0)
    bottom = min(0.1, float(np.min(v[v > 0])) if np.any(v > 0) else 0.1)
    ax.set_ylim(bottom / 2, top * 30)
    ax.set_xticks(sorted(set(jv) | set(je)))
    ax.set_xlabel("Layer $j$ of the chain")
    ax.set_ylabel(r"$|w_j\,\sigma'(z_j)|$")
    ax.set_title(title or r"Factors of $\partial C/\partial b_1$ in the one-neuron-per-layer chain")
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.legend(loc="upper left", ncol=2)
    return _save(plt, fig, path)


def plot_width_curve(path, w_max=40.0, title=None):
    """Width of the interval of inputs where ``|w sigma'(w a + b)| >= 1``, against ``|w|``.

    The chapter's formula as a line, root-finding measurements as dots,
    and the maximum (about 0.45 near ``|w| = 6.9``) marked.
    """
    from .chain import max_width, width_formula, width_numerical

    plt, fig, ax = _new_figure()
    ws = np.linspace(4.0, w_max, 600)
    ax.plot(ws, [width_formula(w) for w in ws], "-", color="C0", label="formula")
    wm = np.linspace(4.25, w_max, 25)
    ax.plot(wm, [width_numerical(w) for w in wm], "o", color="C1", markersize=4,
            label="root finding")
    w_star, width_star = max_width()
    ax.plot([w_star], [width_star], "*", color="C3", markersize=14,
            label=f"maximum {width_star:.3f} at $|w|$ = {w_star:.2f}")
    ax.set_xlabel("$|w|$")
    ax.set_ylabel(r"width of $\{a : |w\,\sigma'(wa + b)| \geq 1\}$")
    ax.set_title(title or "Inputs for which a chain factor exceeds 1")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    ax.set_xlim(0, w_max)
    ax.set_ylim(0, 0.5)
    return _save(plt, fig, path)


# ---------------------------------------------------------------------------
# vgcore glorot (Glorot & Bengio 2010)
# ---------------------------------------------------------------------------

def plot_activation_trace(epochs, means, stds, path, title=None):
    """Glorot & Bengio's Figure 2: each hidden layer's mean activation (line)
    and standard deviation (band) against training time.

    ``epochs``: the time of each record in epochs; ``means``, ``stds``:
    ``(records, hidden layers)`` arrays (the monitor's ``act_mean`` and
    ``act_std``).
    """
    plt, fig, ax = _new_figure()
    t = np.asarray(epochs, dtype=float)
    m, sd = np.asarray(means, dtype=float), np.asarray(stds, dtype=float)
    for k in range(m.shape[1]):
        ax.plot(t, m[:, k], color=f"C{k}", linewidth=1.6, label=f"Layer {k + 1}")
        ax.fill_between(t, m[:, k] - sd[:, k], m[:, k] + sd[:, k], color=f"C{k}", alpha=0.12)
    ax.set_xlabel("Epochs of training")
    ax.set_ylabel("activation: mean (line) ± std (band)")
    ax.set_title(title or "Activations of the hidden layers during training")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(plt, fig, path)


def plot_test_errors(names, per_seed, paper, path, title=None):
    """Test error per configuration: each seed (dots), mean ± std (a bar
    with whiskers), and the paper's value (cross).  ``per_seed``: one list
    of errors (%) per name.  A log scale when the errors span more than a
    factor 10 (a configuration that did not train beside ones that did)."""
    plt, fig, ax = _new_figure()
    x = np.arange(len(names))
    everything = []
    for i, errors in enumerate(per_seed):
        errors = np.asarray(errors, dtype=float)
        everything += errors.tolist()
        std = errors.std(ddof=1) if errors.size > 1 else 0.0
        ax.errorbar(i, errors.mean(), yerr=std, fmt="s", color="C0", markersize=9,
                    capsize=6, label="vgcore: mean ± std over seeds" if i == 0 else None)
        ax.plot(np.full(errors.size, i) + np.linspace(-0.15, 0.15, errors.size), errors,
                "o", color="C0", markersize=4, alpha=0.6,
                label="vgcore: each seed" if i == 0 else None)
        if names[i] in paper:
            everything.append(paper[names[i]])
            ax.plot(i, paper[names[i]], "x", color="C3", markersize=11, mew=2,
                    label="Glorot & Bengio (2010), Table 1" if i == 0 else None)
    positive = [v for v in everything if v > 0]
    if positive and max(positive) > 10 * min(positive):
        ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("test error (%)")
    ax.set_title(title or "Test error on MNIST")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(plt, fig, path)


def plot_speed_grid(speeds, path, title=None):
    """Learning speed of each hidden layer at initialisation, one line per
    (activation, initialisation): ``speeds`` maps a label to per-layer means."""
    plt, fig, ax = _new_figure()
    styles = ["-", "--", ":", "-.", (0, (5, 1))]
    acts = sorted({label.split(" / ")[0] for label in speeds})
    inits = sorted({label.split(" / ")[1] for label in speeds})
    for label, means in speeds.items():
        act, init = label.split(" / ")
        layers = np.arange(1, len(means) + 1)
        y = np.where(np.asarray(means, dtype=float) > 0, means, np.nan)
        ax.plot(layers, y, marker="o", markersize=3, color=f"C{acts.index(act)}",
                linestyle=styles[inits.index(init) % len(styles)], linewidth=1.3,
                label=label)
    ax.set_yscale("log")
    ax.set_xlabel("Hidden layer")
    ax.set_ylabel(r"learning speed at initialisation $\|\partial C/\partial b\|$")
    ax.set_xticks(range(1, 1 + max(len(m) for m in speeds.values())))
    ax.set_title(title or "Learning speed at initialisation, by activation and initialisation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6)
    return _save(plt, fig, path)


def plot_monitor(monitor, path, title=None):
    """A monitor's records in one figure of four panels against the
    mini-batches done: each layer's learning speed ``grad_b`` (log scale),
    activation mean ± std, saturated fraction (ReLU: dead units) and
    update/weight ratio (log scale).  ``monitor``: a
    :class:`vgcore.network2.Monitor` with records."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE, dpi=DPI, sharex=True)
    steps = monitor.steps
    L = monitor.values().shape[1]
    names = [f"layer {l + 1}" if l < L - 1 else f"layer {l + 1} (output)" for l in range(L)]
    panels = ((axes[0, 0], "grad_b", r"learning speed $\|\partial C/\partial b\|$", True),
              (axes[0, 1], "act_mean", "activation mean ± std", False),
              (axes[1, 0], "saturated", "dead units" if monitor.activation == "relu"
               else "saturated fraction", False),
              (axes[1, 1], "update_ratio", r"$\|\Delta w\| / \|w\|$", True))
    for ax, metric, label, log in panels:
        v = monitor.series(metric)
        for l in range(L):
            y = np.where(v[:, l] > 0, v[:, l], np.nan) if log else v[:, l]
            ax.plot(steps, y, color=f"C{l}", linewidth=1.2, label=names[l])
            if metric == "act_mean":
                sd = monitor.series("act_std")[:, l]
                ax.fill_between(steps, v[:, l] - sd, v[:, l] + sd, color=f"C{l}", alpha=0.1)
        if log:
            ax.set_yscale("log")
        elif metric == "saturated":
            ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("mini-batches", fontsize=8)
    axes[0, 0].legend(loc="best", fontsize=6)
    fig.suptitle(title or f"Monitor: {monitor.activation} network {monitor.sizes}",
                 fontsize=10)
    return _save(plt, fig, path)


def plot_metric_vs_depth(series, path, ylabel, title=None, log=False):
    """A sweep's measure against the number of hidden layers, with error bars.

    ``series`` maps a line's label (``""`` for a single unnamed line) to a
    list of ``(depth, mean, std)`` (``std`` None for one seed).  One colour
    per line, mean with a +- std error bar at each depth; ``log`` for a
    log scale (the learning speeds).
    """
    from matplotlib.ticker import MaxNLocator

    plt, fig, ax = _new_figure()
    for i, (name, points) in enumerate(series.items()):
        if not points:
            continue
        depth, mean, std = zip(*sorted(points))
        err = [0.0 if s is None else s for s in std]
        ax.errorbar(depth, mean, yerr=err, fmt="o-", color=f"C{i}", capsize=4,
                    label=name or None)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Hidden layers")
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if any(series):
        ax.legend(loc="best", fontsize=8)
    return _save(plt, fig, path)
