"""``vgcore bench``: time the compiled kernels against the numpy reference
and a per-example network2-style loop, on one BLAS thread.

Everything runs in one process on the same data: MNIST from ``--data`` or
``$VGCORE_MNIST`` (the folder of the four gzipped IDX files), or else random
data of MNIST's shape (the timings do not depend on the pixel values; the
report says which was used).  BLAS is limited to ``--threads`` threads
(default 1) with threadpoolctl.

For every case the report gives the median time over ``--repeat`` runs of

* ``kernel``: :mod:`vgcore.core.kernels` (the compiled Cython kernels);
* ``reference``: :mod:`vgcore.core.reference` (vectorised numpy, one matrix
  product per layer per mini-batch);
* ``per-example``: :class:`~vgcore.bench.baseline.PerExampleNetwork`, a plain loop over examples
  with ``(n, 1)`` column vectors as in the book's ``network2.py``; it is a
  TIMING BASELINE ONLY.  Where the case is large it is timed on a part of
  the work (at most ``PER_EXAMPLE_CAP`` examples) and scaled linearly to
  the whole case; such times are marked ``*``.

and the ratios ``reference/kernel`` and ``per-example/kernel`` (how many
times faster the kernel is), plus the arithmetic floor: the case's
floating-point operations divided by the machine's single-core GEMM rate
(measured here with a large numpy matmul), counting ``2*m*n*k`` per matrix
product: the forward products, the back-propagation of ``delta`` and the
weight gradients.  ``kernel/floor`` is how far the kernel is from it:
``k/floor`` against the best GEMM rate at the start, ``k/floor~`` against
the GEMM probe timed right after each kernel run (the median over the
runs of those ratios: on a shared machine, the fair comparison).
``--only CASE`` times just that case (or those whose name contains it).

Every timing is reported twice: wall time (first table) and the CPU time
of the benchmarking thread (second table).  They agree on an idle machine;
on a machine shared with other busy processes the wall times also hold the
time spent waiting for a core, and the CPU times are the fairer comparison
(the report prints the load average).  The GEMM rate is the best CPU time.

The kernels' path (``avx512``, ``avx2``, ``baseline``, ``blas``; see
:mod:`vgcore.core.kernels`) is the one in use, or the one given with ``--cpu``;
the report names it.  Do not set ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``
when benchmarking a machine as it is (they select slower BLAS kernels); the
report prints them when they are set.  The exception: to stand in for an
AVX2 machine on an AVX-512 one, run ``--cpu avx2`` with
``OPENBLAS_CORETYPE=Haswell``, so that BLAS (the reference's, the floor's
GEMM and the kernels' own small updates) uses AVX2 too; likewise
``--cpu baseline`` with ``OPENBLAS_CORETYPE=Nehalem`` for a machine without
AVX.  The report says so.

The package: :mod:`.workloads` (data, networks, the list of cases),
:mod:`.baseline` (network2 itself), :mod:`.timing` (interleaved runs,
medians, the GEMM floor), :mod:`.cases` (each case; :class:`~.cases.CaseResult`),
:mod:`.startup` (per call and start-up against network2), and this module:
the run, its printed tables and the command line.
"""

import os
import platform
import sys

from . import timing, workloads
from .workloads import CASE_NAMES, EVAL_NAME, KERNEL_CASES, PER_CALL_NAME, STARTUP_NAME

__all__ = ["run", "add_parser", "main"]

#: (path, OPENBLAS_CORETYPE) pairs that make this machine stand in for another
#: kind: the kernels and BLAS both limited to what that kind of CPU has.
_STAND_INS = {("avx2", "haswell"): "an AVX2 machine (BLAS and the kernels without AVX-512)",
              ("baseline", "nehalem"): "an x86-64 machine without AVX (SSE kernels, "
                                       "SSE BLAS)"}

_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS")


def run(quick=False, repeat=None, threads=1, data_dir=None, out=print, only=None,
        cpu=None):
    """Run every case; returns a JSON-able dict and prints the table via ``out``.

    ``cpu`` names the kernels' path to time (default: the one in use).

    With ``only`` (a string), run just the timed case of that name, or else
    those whose name contains it (e.g. ``"mb10"``): more repeats of one
    case in less time.  The float32, threads and memory lines are then left
    out.
    """
    chosen = chosen_cases(CASE_NAMES, only)
    # Load SciPy's BLAS (used by the kernels) BEFORE limiting the threads:
    # threadpoolctl only limits the libraries loaded when the limit is set.
    from .._support.lazy import load_blas
    load_blas()
    from .. import _kernels
    old_path = _kernels.set_path(cpu) if cpu is not None else None
    try:
        return _run(quick, repeat, threads, data_dir, out, chosen)
    finally:
        if old_path is not None:
            _kernels.set_path(old_path)


def _run(quick, repeat, threads, data_dir, out, chosen):
    """``run`` with the kernels' path set."""
    from threadpoolctl import threadpool_info, threadpool_limits

    repeat = repeat or (2 if quick else 5)
    data_dir = data_dir or os.environ.get("VGCORE_MNIST")
    mnist = workloads.load_mnist(data_dir)
    source = f"MNIST from {data_dir}" if mnist is not None else \
        "random data of MNIST's shape (no MNIST found: pass --data or set VGCORE_MNIST)"
    if mnist is None:
        mnist = workloads.random_mnist_shaped()
    data = workloads.bench_data(mnist)
    report = _header(source, quick, repeat, threads, out)
    with threadpool_limits(threads):
        report["threadpools"] = [{k: d.get(k) for k in ("prefix", "version",
                                  "num_threads", "architecture")}
                                 for d in threadpool_info()]
        if any(name in chosen for name in KERNEL_CASES):
            _kernel_tables(data, chosen, quick, repeat, threads, report, out)
            if chosen == CASE_NAMES:
                _other_cases(data, 10_000 if quick else 50_000, quick, repeat, report, out)
            out("(* per-example time measured on a part of the work and scaled linearly)")
            out("(k/floor: kernel time over the case's FLOPs at the GEMM rate above, the "
                "best of 7 at the\n start; k/floor~: median over the kernel's runs of its "
                "time over the FLOPs at the rate of\n the 2048^3 product run right after "
                "it)")
            out("")
        if PER_CALL_NAME in chosen:
            from .startup import per_call_cases
            report["per_call"] = per_call_cases(data, quick, repeat, out)
            out("")
        if STARTUP_NAME in chosen:
            from .startup import startup_cases
            report["startup"] = startup_cases(mnist, quick, repeat, out)
            out("")
    report["loadavg_end"] = timing.loadavg()
    out(f"load average at start {report['loadavg_start']}, at end {report['loadavg_end']}")
    return report


def _header(source, quick, repeat, threads, out):
    """The report's description of the run and the machine; printed."""
    import numpy as np
    from ..core import kernels

    env = {k: os.environ[k] for k in _ENVIRONMENT if k in os.environ}
    report = {"python": sys.version.split()[0], "numpy": np.__version__,
              "machine": platform.machine(), "processor": timing.cpu_name(),
              "cpu_path": kernels.cpu_path(), "cpu_paths": list(kernels.cpu_paths()),
              "weight_update": kernels.update_route(),
              "data": source, "quick": quick, "repeat": repeat,
              "blas_threads": threads, "environment": env, "results": []}
    load0 = report["loadavg_start"] = timing.loadavg()
    out(f"vgcore bench: {source}")
    out(f"kernels: {kernels.cpu_path()} (this CPU runs: {', '.join(kernels.cpu_paths())}); "
        f"weight update: {kernels.update_route()}")
    if load0 is not None and load0 > 1.2:
        out(f"WARNING: 1-minute load average {load0:.2f} on {os.cpu_count()} CPUs: "
            f"other processes compete for the cores, times are pessimistic")
    stand_in = _STAND_INS.get((kernels.cpu_path(), env.get("OPENBLAS_CORETYPE", "").lower()))
    if stand_in:
        out(f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} with the {kernels.cpu_path()} "
            f"kernels: this run stands in for {stand_in}")
    elif env:
        out(f"WARNING: set in the environment: {env} (may select slower BLAS kernels)")
    return report


def _kernel_tables(data, chosen, quick, repeat, threads, report, out):
    """The two tables of the kernels against the reference and network2."""
    import numpy as np
    from .cases import PER_EXAMPLE_CAP, eval_case, sgd_case

    rates = {"float64": timing.gemm_rate(np.float64), "float32": timing.gemm_rate(np.float32)}
    report["gemm_gflops"] = {k: v / 1e9 for k, v in rates.items()}
    out(f"{threads} BLAS thread(s); GEMM rate (2048^3 numpy matmul, best CPU time): "
        f"float64 {rates['float64'] / 1e9:.1f} GFLOP/s, "
        f"float32 {rates['float32'] / 1e9:.1f} GFLOP/s; median of {repeat} runs, "
        f"kernel and reference runs interleaved")
    out("")
    cap = 2_000 if quick else PER_EXAMPLE_CAP
    n_epoch, fb_epochs = (10_000, 10) if quick else (50_000, 50)
    header = (f"{'case':<22}{'dtype':<8}{'work':<30}{'kernel s':>10}{'ref s':>10}"
              f"{'per-ex s':>11}{'ref/k':>8}{'pe/k':>8}{'floor s':>9}{'k/floor':>9}"
              f"{'k/floor~':>9}")
    out(header)
    out("-" * len(header))
    results = []
    for name, sizes, mbs, dt, n in workloads.SPECS:
        if name in chosen:
            dt = np.dtype(dt).type
            results.append(sgd_case(name, sizes, mbs, dt, data, n_epoch if n is None else n,
                                    fb_epochs if n is not None else 1, repeat,
                                    cap if dt == np.float64 else 0, rates))
            out(_row(results[-1], results[-1].wall))
    if EVAL_NAME in chosen:
        results.append(eval_case(data, repeat, cap, rates))
        out(_row(results[-1], results[-1].wall))
    report["results"] += [r.to_json() for r in results]
    speeds = [r.machine_speed for r in results]
    report["machine_speed_min"] = min(speeds)
    out("machine speed during each case (2048^3 products interleaved with its runs, "
        "over the best at the\n start; 1.00 = as fast as at its best): "
        + ", ".join(f"{s:.2f}" for s in speeds))
    if min(speeds) < timing.SLOW_MACHINE:
        out(f"WARNING: some cases ran while the machine was below {timing.SLOW_MACHINE:.0%} of "
            f"its best speed (other\n tenants or processes): their k/floor is "
            f"pessimistic; k/floor~ compares with the machine as it was")
    out("")
    out("The same runs in CPU time of the benchmarking thread (what each run "
        "cost; the wall\ntimes above also hold any wait for a core taken by "
        "other processes):")
    out(header.replace("kernel s", "kernel cpu").replace("  ref s", "ref cpu"))
    out("-" * len(header))
    for r in results:
        out(_row(r, r.cpu))
    out("")


def _row(r, clock):
    """One line of a table: a :class:`~.cases.CaseResult` on one of its clocks."""
    pe = "-" if clock.per_example_s is None else \
        f"{clock.per_example_s:.3f}{'*' if r.per_example_scaled else ''}"
    pek = clock.per_example_over_kernel
    pek = "-" if pek is None else f"{pek:.1f}"
    return (f"{r.case:<22}{r.dtype:<8}{r.work:<30}{clock.kernel_s:>10.4f}"
            f"{clock.reference_s:>10.4f}{pe:>11}{clock.reference_over_kernel:>8.2f}"
            f"{pek:>8}{r.floor_s:>9.4f}{clock.kernel_over_floor:>9.2f}"
            f"{clock.kernel_over_floor_same_time:>9.2f}")


def _other_cases(data, n_epoch, quick, repeat, report, out):
    """The lines under the tables: float32 against float64, two threads,
    resident memory (left out by ``run(only=...)``)."""
    from .cases import dtype_case, memory_case, threads_case

    (f64, f64c), (f32, f32c) = dtype_case(data, n_epoch, repeat)
    report["float32_speedup"] = f64 / f32
    report["float32_speedup_cpu"] = f64c / f32c
    out(f"float32 vs float64 kernel ([784,30,10] mb10, the two interleaved): "
        f"{f64 / f32:.2f}x faster (CPU time: {f64c / f32c:.2f}x)")
    t = threads_case(data, n_epoch // 2 if not quick else 5_000, repeat)
    report["results"].append(t)
    out(f"two threads, two networks ([784,30,10] mb10, {t['work']}): "
        f"{t['two_networks_two_threads_s']:.3f} s vs one network alone "
        f"{t['one_network_s']:.3f} s: ratio {t['two_over_one']:.2f}; CPU time "
        f"per thread {t['per_thread_cpu_s_when_two']:.3f} s vs "
        f"{t['one_network_cpu_s']:.3f} s alone: ratio {t['per_thread_cpu_over_one']:.2f}")
    m = memory_case(data, 5_000, 30)
    report["results"].append(m)
    out(f"resident memory, {m['work']}: before {m['rss_before_kib']} KiB, "
        f"after {m['rss_after_kib']} KiB, growth {m['rss_growth_kib']} KiB")


def chosen_cases(names, only):
    """The case names ``run(only=...)`` times: all (None), the one named
    ``only``, or those containing it; ValueError if there are none."""
    if only is None:
        return list(names)
    if only in names:
        return [only]
    chosen = [n for n in names if only in n]
    if not chosen:
        raise ValueError(f"--only {only!r} matches no case; the cases are: "
                         + ", ".join(names))
    return chosen


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _configure(p):
    p.add_argument("--quick", action="store_true",
                   help="smaller cases (10,000-example epochs) and 2 repeats")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per timing; the median is reported (default 5, quick 2)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: the single-core comparison)")
    p.add_argument("--data", default=None,
                   help="folder of the MNIST IDX .gz files (default $VGCORE_MNIST)")
    p.add_argument("--only", default=None, metavar="TEXT",
                   help="run only the case named TEXT, or else those whose name "
                        "contains it (e.g. 'mb100', 'per call', 'start-up')")
    p.add_argument("--cpu", default=None, metavar="PATH",
                   help="time the kernels of this path: avx512, avx2, baseline or blas "
                        "(default: the one in use, see `vgcore info`)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write the results to FILE as JSON")
    return p


def _argument_problem(args):
    """What is wrong with the command line, or None: checked before anything
    runs (an hour of benchmarks must not end in a traceback)."""
    try:
        chosen_cases(CASE_NAMES, args.only)
        if args.cpu is not None:
            from .. import _kernels
            _kernels.choose_path(args.cpu, _kernels.available_paths(), "--cpu")
    except ValueError as e:
        return str(e)
    if args.repeat is not None and args.repeat < 1:
        return f"--repeat must be >= 1, got {args.repeat}"
    if args.threads < 1:
        return f"--threads must be >= 1, got {args.threads}"
    if args.data is not None and not os.path.isdir(args.data):
        return f"--data {args.data}: not a folder (give the folder of the MNIST IDX .gz files)"
    if args.json is not None:
        target = os.path.abspath(args.json)
        folder = os.path.dirname(target)
        if os.path.isdir(target):
            return f"--json {args.json}: is a folder; give a file name"
        if not os.path.isdir(folder):
            return f"--json {args.json}: no folder {folder} to write it in"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"--json {args.json}: cannot write in {folder} (permission denied)"
    return None


def _main_args(args):
    import json

    from .._support.files import atomic_write

    problem = _argument_problem(args)
    if problem:
        print(f"vgcore bench: error: {problem}", file=sys.stderr)
        return 2
    report = run(quick=args.quick, repeat=args.repeat, threads=args.threads,
                 data_dir=args.data, only=args.only, cpu=args.cpu)
    if args.json:
        try:
            atomic_write(args.json, lambda f: json.dump(report, f, indent=1), what=args.json)
        except OSError as e:
            print(f"vgcore bench: error: cannot write {args.json}: {e.strerror or e}",
                  file=sys.stderr)
            return 1
        print(f"results written to {args.json}")
    return 0


def add_parser(subparsers):
    """Register ``vgcore bench`` (called by ``vgcore.cli``)."""
    p = subparsers.add_parser("bench", help="time the kernels against the reference",
                              description=__doc__.split("\n\n")[0])
    _configure(p)
    p.set_defaults(func=_main_args)
    return p


def main(argv=None):
    """``python -m vgcore.bench`` / ``benchmarks/bench.py``: the same as ``vgcore bench``."""
    import argparse
    parser = _configure(argparse.ArgumentParser(prog="vgcore bench",
                                                description=__doc__.split("\n\n")[0]))
    return _main_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
