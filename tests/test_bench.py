"""``vgcore bench``: the benchmark script runs end to end and its report is
consistent.  Speed itself is never asserted (it lives in the benchmarks)."""
import json
import statistics

import numpy as np
import pytest

from vgcore.bench import cli as bench
from vgcore.bench.timing import train_flops


def test_bench_quick_run_reports_every_case(tmp_path):
    """``vgcore bench --quick`` end to end on random data of MNIST's shape:
    every case is there and its ratios are the quotients of its own times
    (no timing is asserted, only the arithmetic of the report)."""
    lines = []
    report = bench.run(quick=True, repeat=1, data_dir=str(tmp_path / "absent"),
                       out=lines.append)
    json.dumps(report)                                    # JSON-able
    assert "random data" in report["data"]
    cases = [r["case"] for r in report["results"]]
    assert cases == ["[784,30,10] mb10", "[784,30,10] mb10 f32", "[784,30x4,10] mb10",
                     "full batch 1000", "[784,100,10] mb10", "[784,100,10] mb100",
                     "evaluate 10k", "two threads", "memory"]
    rate = report["gemm_gflops"]["float64"] * 1e9
    for r in report["results"][:7]:
        assert r["kernel_s"] > 0 and r["reference_s"] > 0
        assert r["reference_over_kernel"] == pytest.approx(r["reference_s"] / r["kernel_s"])
        if r["dtype"] == "float64":
            assert r["floor_s"] == pytest.approx(r["gflop"] * 1e9 / rate)
            assert r["kernel_over_floor"] == pytest.approx(r["kernel_s"] / r["floor_s"])
        assert r["floor_same_time_s"] > 0
        # the same-time ratio pairs each kernel run with the GEMM probe
        # timed right after it: the median of those runs' ratios
        runs = r["runs"]
        assert len(runs["kernel_s"]) == len(runs["gemm_probe_s"]) >= 1
        paired = [k / (r["gflop"] * 1e9 * g / (2.0 * 2048 ** 3))
                  for k, g in zip(runs["kernel_cpu_s"], runs["gemm_probe_cpu_s"])]
        assert r["kernel_over_floor_same_time_cpu"] == pytest.approx(
            statistics.median(paired))
        assert r["kernel_s"] == pytest.approx(statistics.median(runs["kernel_s"]))
        assert r["floor_same_time_s"] == pytest.approx(
            r["gflop"] * 1e9 * statistics.median(runs["gemm_probe_s"]) / (2.0 * 2048 ** 3))
        # the machine's speed is the ratio of the two floors (CPU time)
        assert r["machine_speed"] == pytest.approx(
            r["floor_s"] / r["floor_same_time_cpu_s"])
    assert report["machine_speed_min"] == min(r["machine_speed"]
                                              for r in report["results"][:7])
    assert any(line.startswith("machine speed during each case") for line in lines)
    assert report["results"][0]["gflop"] == pytest.approx(
        train_flops([784, 30, 10], 10_000) / 1e9)
    assert report["float32_speedup"] > 0
    assert report["results"][-1]["rss_growth_kib"] is not None
    assert any(line.startswith("float32 vs float64 kernel") for line in lines)


def test_bench_per_call_and_start_up(tmp_path):
    """The per-call table (vgcore.network2 against network2) and the start-up
    lines: every call is there, each ratio is the median of its runs' ratios
    -- and importing vgcore.network2 did not load SciPy."""
    lines = []
    kw = dict(quick=True, repeat=1, data_dir=str(tmp_path / "absent"), out=lines.append)
    report = bench.run(only="per call", **kw)
    assert report["results"] == [] and "startup" not in report
    calls = [r["call"] for r in report["per_call"]]
    assert calls == ["feedforward(x)", "backprop(x, y)", "update_mini_batch, 10 pairs",
                     "accuracy, 5 pairs", "total_cost, 5 pairs", "CrossEntropyCost.fn",
                     "CrossEntropyCost.delta", "QuadraticCost.fn", "QuadraticCost.delta"]
    assert [r["statement"] for r in report["per_call"]] == [
        "net.feedforward(x)", "net.backprop(x, y)",
        "net.update_mini_batch(batch, 0.1, 5.0, 50_000)", "net.accuracy(few)",
        "net.total_cost(few, 5.0, convert=True)", "ce.fn(a, y)", "ce.delta(z, a, y)",
        "q.fn(a, y)", "q.delta(z, a, y)"]
    for r in report["per_call"]:
        assert len(r["runs_vgcore_s"]) == len(r["runs_network2_s"]) == r["runs"] >= 5
        assert r["network2_over_vgcore"] == pytest.approx(statistics.median(
            b / a for a, b in zip(r["runs_vgcore_s"], r["runs_network2_s"])))
        assert r["vgcore_us"] == pytest.approx(1e6 * statistics.median(r["runs_vgcore_s"]))
    report = bench.run(only="start-up", **kw)
    s = report["startup"]
    assert s["import_loads_scipy"] is False
    assert 0 < s["import_vgcore_network2_s"] and 0 < s["import_numpy_s"]
    assert s["load_vgcore_over_network2"] == pytest.approx(
        s["load_vgcore_s"] / s["load_network2_s"])
    assert s["load_vgcore_cpu_s"] == pytest.approx(statistics.median(s["runs_load_vgcore_cpu_s"]))
    assert s["list_over_arrays"] == pytest.approx(statistics.median(
        a / b for a, b in zip(s["runs_epoch_list_s"], s["runs_epoch_arrays_s"])))
    assert any(line.startswith("  import vgcore.network2:") for line in lines)


def test_bench_only_runs_the_chosen_cases(tmp_path):
    """``--only``: an exact case name runs that case alone (even where it is
    part of another name), other text runs the cases containing it, and
    text matching no case is a clear error listing the cases."""
    kw = dict(quick=True, repeat=1, data_dir=str(tmp_path / "absent"), out=lambda s: None)
    report = bench.run(only="[784,30,10] mb10", **kw)
    assert [r["case"] for r in report["results"]] == ["[784,30,10] mb10"]
    assert "float32_speedup" not in report
    report = bench.run(only="evaluate", **kw)
    assert [r["case"] for r in report["results"]] == ["evaluate 10k"]
    assert bench.chosen_cases(["a b", "a c", "d"], "a") == ["a b", "a c"]
    with pytest.raises(ValueError, match="matches no case.*evaluate 10k"):
        bench.run(only="no such case", **kw)
    assert bench.main(["--only", "no such case"]) == 2


def test_bench_times_the_path_asked_for_and_says_which(tmp_path, capsys):
    from vgcore import _kernels
    before = _kernels.path()
    lines = []
    report = bench.run(quick=True, repeat=1, data_dir=str(tmp_path / "absent"),
                       out=lines.append, only="evaluate", cpu="blas")
    assert report["cpu_path"] == "blas" and report["weight_update"] == "BLAS"
    assert report["cpu_paths"] == list(_kernels.available_paths())
    assert any(line.startswith("kernels: blas (this CPU runs: ") for line in lines)
    assert _kernels.path() == before                  # restored
    assert bench.main(["--cpu", "avx9", "--quick"]) == 2
    assert "--cpu='avx9' is not a path" in capsys.readouterr().err


def test_per_call_statements_compute_the_same_in_both_namespaces():
    """Each per-call case times the same work on both sides: its statement
    gives the same numbers with vgcore's names as with network2's (and, for
    update_mini_batch, leaves the same parameters)."""
    from vgcore.bench.startup import per_call_workloads

    rng = np.random.default_rng(3)
    data = {"X": {np.float32: rng.random((10, 784), dtype=np.float32)},
            "labels": rng.integers(0, 10, 10)}
    for name, statement, mine, theirs, number in per_call_workloads(data):
        assert number >= 50
        got, want = eval(statement, mine), eval(statement, theirs)
        if statement.startswith("net.update_mini_batch"):
            got, want = mine["net"].weights + mine["net"].biases, \
                theirs["net"].weights + theirs["net"].biases
            assert got[0] is not want[0]        # two networks, not one updated twice
        if name.startswith("backprop"):
            got, want = [*got[0], *got[1]], [*want[0], *want[1]]
        if isinstance(want, list):
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15, err_msg=name)
        else:
            assert type(got) is type(want), name
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
