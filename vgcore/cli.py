"""The ``vgcore`` command line: ``vgcore chapter5``, ``vgcore bench``.

Each subcommand lives in its own module and registers itself through a
``add_parser(subparsers)`` function that sets ``func`` on its parser;
heavy imports happen inside the subcommand, so ``vgcore --help`` is fast.
"""
import argparse
import importlib
import sys

from . import __version__

#: Modules that provide subcommands (each has ``add_parser(subparsers)``).
SUBCOMMAND_MODULES = ["bench", "chapter5"]


def build_parser():
    """The argument parser of the ``vgcore`` command."""
    parser = argparse.ArgumentParser(
        prog="vgcore",
        description="Fast, faithful network2 and the experiments of chapter 5 "
                    "of Neural Networks and Deep Learning.")
    parser.add_argument("--version", action="version", version=f"vgcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
