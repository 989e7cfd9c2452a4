"""``vgcore monitor FILE``: the figure of a monitor's records.

``FILE`` is a ``monitor.json`` written by ``Monitor.save`` (or
``Monitor(path=...)`` during training), or the folder holding it.  The
figure (:func:`vgcore.experiments.plots.plot_monitor`: learning speed,
activations, saturation and update ratio of every layer against the
mini-batches done) goes to ``--out`` (default: ``monitor.png`` beside the
file), and the last epoch's means per layer are printed, with what the
monitor's warnings would say about them.
"""
import os
import sys

__all__ = ["add_parser", "draw"]


def add_parser(subparsers):
    """Register ``vgcore monitor`` on the ``vgcore`` command's subparsers."""
    p = subparsers.add_parser(
        "monitor", help="draw a monitor's records (monitor.json) as one figure",
        description="Draw the records of SGD(monitor=...) saved in monitor.json: each "
                    "layer's learning speed, activations, saturation and update ratio "
                    "against the mini-batches done, in one PNG; print the last epoch's "
                    "means and what they call for.")
    p.add_argument("file", help="a monitor.json, or the folder that holds it")
    p.add_argument("--out", metavar="PNG", help="the figure (default: monitor.png beside "
                                               "the file)")
    p.set_defaults(func=_cli)
    return p


def draw(filename, out=None):
    """Draw ``filename``'s records into ``out``; returns ``(monitor, path)``."""
    from ..core.monitor import Monitor
    from . import plots

    path = os.path.join(filename, "monitor.json") if os.path.isdir(filename) else filename
    mon = Monitor.load(path)
    if not len(mon.steps):
        raise ValueError(f"{path}: the monitor holds no records")
    out = out or os.path.join(os.path.dirname(os.path.abspath(path)), "monitor.png")
    return mon, plots.plot_monitor(mon, out)


def _summary(mon):
    """The last epoch's means per layer, and the warnings' findings."""
    from ..core.monitor import METRICS, _findings

    epoch = int(mon.epochs[-1])
    means = mon.epoch_means(epoch)
    lines = [f"epoch {epoch}, means over its records:",
             "layer  " + "  ".join(f"{m:>12}" for m in METRICS)]
    lines += [f"{l + 1:>5}  " + "  ".join(f"{v:12.4g}" for v in row)
              for l, row in enumerate(means)]
    lines += [f"warning ({kind}): {message}"
              for kind, message, _, _ in _findings(means[:-1], mon.activation, epoch)]
    return "\n".join(lines)


def _cli(args):
    try:
        mon, path = draw(args.file, args.out)
    except (OSError, ValueError) as e:
        print(f"vgcore monitor: error: {e}", file=sys.stderr)
        return 1 if isinstance(e, OSError) else 2
    print(_summary(mon))
    print(f"wrote {path}")
    return 0
