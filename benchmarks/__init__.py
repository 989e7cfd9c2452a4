"""airspeed velocity (asv) benchmark suite of vgcore; see ``benchmarks.py``."""
