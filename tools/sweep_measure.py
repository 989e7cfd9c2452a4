"""Measure the sweep engine: scheduling overhead per run, and scaling on local workers.

    python tools/sweep_measure.py overhead [--runs 200] [--repeat 3]
    python tools/sweep_measure.py scaling --data DIR [--repeat 2]

``overhead``: 200 tiny runs (width 10, one epoch on 100 images) on a Dask
``LocalCluster(n_workers=2, threads_per_worker=1)`` started beforehand,
written to an output folder as ``vgcore sweep`` does.  Overhead per run =
(wall time of the sweep x workers - the runs' own time measured inside the
workers) / runs: the worker time not spent training.  The same for loky
and serial, for comparison.

``scaling``: 40 real runs (depths 1-4 x 10 seeds, 5 epochs of mini-batch
10 on the first 10,000 training images of the full MNIST, the 10,000
validation images evaluated every epoch, speeds on 1,000 images every
epoch), serial against 2 loky workers and a 2-worker LocalCluster,
interleaved, ``--repeat`` times each; wall times and their ratios.
Prints one JSON object per measurement, and the CPU and load.
"""
import argparse
import json
import os
import shutil
import statistics
import tempfile
import time


def machine():
    from vgcore.bench.timing import cpu_name
    return {"cpu": cpu_name(), "cpus": len(os.sched_getaffinity(0)),
            "load": open("/proc/loadavg").read().split()[:3]}


def timed_sweep(tasks, backend, jobs=2, client=None, out=True):
    from vgcore.experiments import sweep as engine

    folder = tempfile.mkdtemp(prefix="vgcore-sweep-") if out else None
    try:
        t0 = time.perf_counter()
        done = engine.run_sweep(tasks, folder, backend=backend, jobs=jobs, client=client,
                                progress=False, log=lambda m: None)
        wall = time.perf_counter() - t0
    finally:
        if folder:
            shutil.rmtree(folder)
    return wall, sum(t["seconds"] for _, t in done), done, sum(t["cpu_seconds"] for _, t in done)


def overhead(args):
    from distributed import Client, LocalCluster
    from vgcore.experiments import sweep as engine

    grid = {"depth": [1, 2, 3, 4], "eta": [0.1, 0.2, 0.3, 0.4, 0.5], "width": 10,
            "epochs": 1, "n_train": 100, "n_validation": 100, "measure": ["accuracy"]}
    tasks = engine.plan(engine.expand_grid(grid), args.runs // 20)
    print(json.dumps({"machine": machine(), "runs": len(tasks)}))
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        print(json.dumps({"localcluster_start_seconds": time.perf_counter() - t0}))
        timed_sweep(tasks[:20], "dask", client=client)            # warm: data loaded
        engine.run_sweep(tasks[:2], None, backend="loky", jobs=2, progress=False)
        for _ in range(args.repeat):
            for backend, workers in (("dask", 2), ("loky", 2), ("serial", 1)):
                for out in (True, False):
                    wall, own, _, _ = timed_sweep(tasks, backend, client=client, out=out)
                    print(json.dumps({
                        "backend": backend, "files": out, "runs": len(tasks),
                        "wall_s": round(wall, 3), "runs_own_s": round(own, 3),
                        "own_ms_per_run": round(1e3 * own / len(tasks), 2),
                        "overhead_ms_per_run": round(
                            1e3 * (wall * workers - own) / len(tasks), 2),
                        "load": machine()["load"]}))


def scaling(args):
    from distributed import Client, LocalCluster
    from vgcore.experiments import sweep as engine

    grid = {"depth": [1, 2, 3, 4], "epochs": 5, "n_train": 10_000, "data": args.data}
    tasks = engine.plan(engine.expand_grid(grid), 10)
    print(json.dumps({"machine": machine(), "runs": len(tasks)}))
    engine.load_arrays(engine.normalize_cell(grid | {"depth": 1})["data"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(engine.load_arrays, tasks[0].cell["data"])     # data loaded on each worker
        engine.run_sweep(tasks[:2], None, backend="loky", jobs=2, progress=False)
        results = {}
        for _ in range(args.repeat):
            for backend in ("serial", "loky", "dask"):
                wall, own, done, cpu = timed_sweep(tasks, backend, client=client)
                results.setdefault(backend, []).append(wall)
                results.setdefault(backend + "_results", []).append([r for r, _ in done])
                print(json.dumps({"backend": backend, "wall_s": round(wall, 2),
                                  "runs_own_s": round(own, 2),
                                  "s_per_run": round(own / len(tasks), 3),
                                  "cpu_s_per_run": round(cpu / len(tasks), 3),
                                  "load": machine()["load"]}))
        serial = statistics.median(results["serial"])
        for b in ("loky", "dask"):
            same = results[b + "_results"][0] == results["serial_results"][0]
            print(json.dumps({"backend": b, "median_wall_s": statistics.median(results[b]),
                              "serial_median_wall_s": serial,
                              "ratio_to_serial": round(statistics.median(results[b]) / serial,
                                                       3),
                              "results_equal_serial": same}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--runs", type=int, default=200)
    o.add_argument("--repeat", type=int, default=3)
    s = sub.add_parser("scaling")
    s.add_argument("--data", default=os.environ.get("VGCORE_MNIST", "mnist"))
    s.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    (overhead if args.what == "overhead" else scaling)(args)


if __name__ == "__main__":
    main()
