"""Run the vgcore benchmark: ``python benchmarks/bench.py [--quick] [--json FILE] ...``.

A thin wrapper over :mod:`vgcore.bench` (the same as ``vgcore bench``).
"""
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from vgcore.bench.cli import main
    sys.exit(main())
