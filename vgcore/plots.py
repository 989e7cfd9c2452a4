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
    "plot_width_curve",
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


def plot_depth_sweep(curves, path, n_validation, book=None, title=None):
    """Validation accuracy against epoch, one line per depth.

    ``curves`` maps the number of hidden layers to a list of per-seed
    lists of per-epoch accuracy counts.  The line is the mean over seeds;
    with several seeds the band spans the lowest and highest seed.  The
    book's best accuracies, if given (``{n_hidden: percent}``), are drawn
    as dotted horizontal lines.  The main axes zoom on the later epochs,
    where the depths differ by tenths of a point; an inset shows every
    epoch on the full range.
    """
    plt, fig, ax = _new_figure()
    inset = None
    n_epochs = max(len(c[0]) for c in curves.values())
    if n_epochs >= 6:
        inset = ax.inset_axes([0.7, 0.07, 0.28, 0.28])
    late = []
    n_seeds = 1
    for i, k in enumerate(sorted(curves)):
        acc = 100.0 * np.asarray(curves[k], dtype=float) / n_validation
        epochs = np.arange(1, acc.shape[1] + 1)
        color = f"C{i}"
        label = f"{k} hidden layer{'s' if k != 1 else ''}"
        if book and k in book:
            label += f" (book's best {book[k]:.2f} %)"
        n_seeds = max(n_seeds, acc.shape[0])
        if acc.shape[0] > 1:
            ax.fill_between(epochs, acc.min(0), acc.max(0), color=color, alpha=0.15,
                            linewidth=0)
        ax.plot(epochs, acc.mean(0), "-", marker="." if len(epochs) < 40 else None,
                color=color, label=label)
        if inset is not None:
            inset.plot(epochs, acc.mean(0), "-", color=color, linewidth=1)
        if book and k in book:
            ax.axhline(book[k], color=color, linestyle=":", linewidth=1.2)
        late.append(acc.mean(0)[len(epochs) // 3:])
    late = np.concatenate(late)
    lo, hi = float(np.min(late)), float(np.max(late))
    if book:
        hi = max(hi, max(book[k] for k in curves if k in book))
    pad = max(0.15, 0.1 * (hi - lo))
    top = hi + pad + 0.3 * (hi - lo + 3 * pad)  # headroom for the legend
    if inset is not None:
        ax.set_ylim(lo - 3 * pad, min(100.5, top))
        inset.set_title("all epochs", fontsize=8)
        inset.tick_params(labelsize=7)
        inset.grid(True, alpha=0.3)
    else:
        ax.set_ylim(max(0.0, lo - 3 * pad), min(100.5, top))
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Validation accuracy (%)")
    if title is None:
        title = "Validation accuracy by depth"
        if n_seeds > 1:
            title += f": mean of {n_seeds} seeds, band = lowest to highest"
        if book:
            title += "\n(dotted: the book's best)"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    return _save(plt, fig, path)


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
