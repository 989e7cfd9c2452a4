"""``vgcore mnist`` (also ``python -m vgcore.mnist_loader``): find, download or
sample MNIST.

- ``info``: say which MNIST data the loader would use (nothing is downloaded);
- ``download [DEST]``: fetch the official files, MD5-checked, into DEST
  (default: the cache folder);
- ``build-sample SRC [DST]``: write the embedded sample from the IDX files
  in SRC.
"""
import sys

from ..errors import MNISTFormatError, MNISTNotFoundError
from .download import download_mnist
from .locate import find_data
from .sample import SAMPLE_PATH, build_sample

__all__ = ["add_parser", "main"]

_DESCRIPTION = "Find, download or sample MNIST."


def _configure(parser):
    sub = parser.add_subparsers(dest="mnist_command", metavar="{info,download,build-sample}",
                                required=True)
    sub.add_parser("info", help="say which MNIST data would be used")
    p = sub.add_parser("download", help="download the official files into the cache")
    p.add_argument("dest", nargs="?", default=None)
    p = sub.add_parser("build-sample", help="write the embedded sample from IDX files")
    p.add_argument("src")
    p.add_argument("dst", nargs="?", default=SAMPLE_PATH)
    return parser


def _run(args, prog):
    """Carry out ``args``; one line on stderr and exit code 1 for a failure."""
    if args.mnist_command == "info":
        try:
            print(find_data(download=False).description)
        except MNISTNotFoundError as err:
            print(err)
            return 1
        return 0
    try:
        if args.mnist_command == "download":
            print(download_mnist(args.dest))
        else:
            print(build_sample(args.src, args.dst))
    except MNISTNotFoundError as err:
        print(f"{prog}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    except (OSError, MNISTFormatError) as err:
        what = f"{err.strerror}: {err.filename}" if getattr(err, "filename", None) else err
        print(f"{prog}: error: {what}", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers):
    """Register ``vgcore mnist`` (called by ``vgcore.cli``)."""
    p = subparsers.add_parser("mnist", help="find, download or sample MNIST",
                              description=_DESCRIPTION)
    _configure(p)
    p.set_defaults(func=lambda args: _run(args, "vgcore mnist"))
    return p


def main(argv=None):
    """``python -m vgcore.mnist_loader``: the same as ``vgcore mnist``."""
    import argparse

    prog = "python -m vgcore.mnist_loader"
    parser = _configure(argparse.ArgumentParser(prog=prog, description=_DESCRIPTION))
    return _run(parser.parse_args(argv), prog)
