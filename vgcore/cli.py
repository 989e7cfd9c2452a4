"""The ``vgcore`` command line: ``vgcore chapter5``, ``vgcore sweep``, ``vgcore glorot``,
``vgcore monitor``, ``vgcore bench``, ``vgcore mnist``, ``vgcore info``.

Each subcommand lives in its own module and registers itself through a
``add_parser(subparsers)`` function that sets ``func`` on its parser;
heavy imports happen inside the subcommand, so ``vgcore --help`` is fast.
"""
import argparse
import importlib
import os
import sys

from . import __version__

#: Modules that provide subcommands (each has ``add_parser(subparsers)``).
SUBCOMMAND_MODULES = ["bench.cli", "experiments.chapter5", "experiments.sweep_cli",
                      "data.cli", "experiments.glorot", "experiments.monitor_figure"]


def kernels_line():
    """Which kernels run here: the path in use and those available."""
    from .core import kernels
    try:                            # the extension loads here, at first use
        path, paths = kernels.cpu_path(), kernels.cpu_paths()
    except Exception as e:          # e.g. a bad $VGCORE_CPU: say why
        return f"kernels: cannot be loaded: {e}"
    return (f"kernels: {path} (this CPU and build can run: "
            f"{', '.join(paths)}; choose with $VGCORE_CPU)")


class _VersionAction(argparse.Action):
    """``--version``: the version and the kernels' path (imported only then)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version and the kernels in use, and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"vgcore {__version__}\n{kernels_line()}")
        parser.exit()


def _info(args):
    """``vgcore info``: version, kernels, CPU, libraries, BLAS."""
    import platform
    import numpy
    import scipy
    from .bench.timing import cpu_name
    print(f"vgcore {__version__}")
    print(kernels_line())
    try:
        from .core import kernels
        print(f"weight update: {kernels.update_route()}")
    except Exception:               # kernels_line said why they cannot load
        pass
    print(f"CPU: {cpu_name()} ({platform.machine()})")
    print(f"Python {platform.python_version()}, numpy {numpy.__version__}, "
          f"scipy {scipy.__version__}")
    try:
        from threadpoolctl import threadpool_info
        for lib in threadpool_info():
            print(f"{lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version')} "
                  f"({lib.get('architecture')}, {lib.get('num_threads')} threads) "
                  f"{lib.get('filepath')}")
    except ImportError:
        print("threadpoolctl not installed: BLAS not described")
    return 0


def build_parser():
    """The argument parser of the ``vgcore`` command."""
    parser = argparse.ArgumentParser(
        prog="vgcore",
        description="Fast, faithful network2 and the experiments of chapter 5 "
                    "of Neural Networks and Deep Learning.")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="the version, the kernels in use, CPU and BLAS",
                          description="Print vgcore's version, which kernels run on "
                                      "this CPU (and which could), the CPU and the BLAS.")
    info.set_defaults(func=_info)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"vgcore.{name}").add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``vgcore`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except BrokenPipeError:
        # the reader of our output went away (``vgcore info | head -3``):
        # stop quietly, and keep Python from failing again on flushing
        # stdout at exit (the recipe of Python's documentation of SIGPIPE)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
