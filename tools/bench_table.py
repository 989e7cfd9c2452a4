"""The README's table of `vgcore bench` runs, one column group per path.

    python tools/bench_table.py RUN.json [RUN.json ...]

Each argument is a report written by ``vgcore bench --json``.  Runs are
grouped by the kernels' path they timed (``avx2`` runs made with
``OPENBLAS_CORETYPE=Haswell`` stand in for an AVX2 machine, ``baseline``
runs with ``OPENBLAS_CORETYPE=Nehalem`` for one without AVX; reports written before the paths existed count as ``before``).
For every case and path the table gives, in CPU time, the median over the
runs of ``ref/k`` (reference time over kernel time) and ``k/floor~``
(kernel time over the arithmetic floor at the GEMM rate measured right
after each kernel run), with the range over the runs when there are
several; then the float32 speed-up and the machine.
"""
import json
import statistics
import sys

ORDER = ["before", "avx512", "avx2 (Haswell BLAS)", "avx2", "baseline",
         "baseline (Nehalem BLAS)", "blas"]
STAND_INS = {("avx2", "haswell"): "avx2 (Haswell BLAS)",
             ("baseline", "nehalem"): "baseline (Nehalem BLAS)"}


def _group(report):
    path = report.get("cpu_path", "before")
    core = report.get("environment", {}).get("OPENBLAS_CORETYPE", "").lower()
    return STAND_INS.get((path, core), path)


def _cell(values, fmt="{:.2f}"):
    if not values:
        return ""
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(reports):
    groups = {}
    for r in reports:
        groups.setdefault(_group(r), []).append(r)
    names = [g for g in ORDER if g in groups] + sorted(set(groups) - set(ORDER))
    cases = []
    for r in reports:
        for res in r["results"]:
            if "reference_over_kernel_cpu" in res and res["case"] not in cases:
                cases.append(res["case"])
    head = "| case | " + " | ".join(f"{g}: ref/k | {g}: k/floor~" for g in names) + " |"
    lines = [head, "|---|" + "---|---|" * len(names)]
    for case in cases:
        cells = []
        for g in names:
            rk, kf = [], []
            for r in groups[g]:
                for res in r["results"]:
                    if res["case"] == case:
                        rk.append(res["reference_over_kernel_cpu"])
                        kf.append(res["kernel_over_floor_same_time_cpu"])
            cells += [_cell(rk), _cell(kf)]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    speed = [_cell([r["float32_speedup_cpu"] for r in groups[g] if "float32_speedup_cpu" in r])
             for g in names]
    lines.append("| float32 / float64 speed-up | " + " | ".join(f"{s} | " for s in speed) + "|")
    lines.append("")
    for g in names:
        rs = groups[g]
        gemm = [r["gemm_gflops"]["float64"] for r in rs]
        lines.append(f"- {g}: {len(rs)} run(s); {rs[0].get('processor')}; GEMM float64 "
                     f"{_cell(gemm, '{:.1f}')} GFLOP/s; load average at the start "
                     f"{', '.join(str(r.get('loadavg_start')) for r in rs)}; machine speed "
                     f"(min over the cases) {', '.join(format(r.get('machine_speed_min', 0), '.2f') for r in rs)}")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__)
        return 2
    reports = []
    for name in argv:
        with open(name) as f:
            reports.append(json.load(f))
    print(table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
