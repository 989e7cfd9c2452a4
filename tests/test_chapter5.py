"""``vgcore chapter5`` end to end on the embedded sample, and the figures."""
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from vgcore import chapter5, cli, plots
from vgcore import diagnostics as diag

EXPECTED_FILES = [
    "report.md", "summary.json", "depth_sweep.json", "six_neurons.json",
    "initial_speeds.json", "chain.json",
    "speed_history_2hidden_seed0.json", "speed_history_3hidden_seed0.json",
    "speed_history_4hidden_seed0.json",
]
FIGURES = ["speed_2hidden.png", "speed_3hidden.png", "speed_4hidden.png", "six_neurons.png",
           "initial_speeds.png", "depth_sweep.png", "chain_factors.png", "chain_width.png"]


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, checking the signature."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    w, h = struct.unpack(">II", data[16:24])
    assert data[-12:-4] == b"\x00\x00\x00\x00IEND"[-8:] or b"IEND" in data[-12:]
    return w, h


def _env():
    env = dict(os.environ)
    env.update(MPLBACKEND="Agg", VGCORE_NO_DOWNLOAD="1")
    # the subprocess must import the same vgcore as this process (installed
    # or in place), not whatever happens to be first on its own path
    import vgcore
    root = str(Path(vgcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``vgcore chapter5 --quick --data sample`` through the real command line."""
    out = tmp_path_factory.mktemp("c5") / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "vgcore", "chapter5", "--quick", "--data", "sample",
         "--out", str(out), "--jobs", "1"],
        capture_output=True, text=True, env=_env(), timeout=300, cwd=str(out.parent))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_every_file_is_written(quick_run):
    out, _ = quick_run
    for name in EXPECTED_FILES + FIGURES:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_data_source_is_said_first(quick_run):
    out, proc = quick_run
    first = proc.stdout.splitlines()[0]
    assert "EMBEDDED SAMPLE" in first
    report = (out / "report.md").read_text()
    head = "\n".join(report.splitlines()[:4])
    assert "embedded sample" in head.lower()
    s = json.loads((out / "summary.json").read_text())
    assert s["data"]["is_full_mnist"] is False
    assert "sample" in s["data"]["source"]


def test_progress_goes_to_stderr(quick_run):
    _, proc = quick_run
    assert "training runs" in proc.stderr
    assert "training runs" not in proc.stdout


def test_figures_are_pngs_of_the_fixed_size(quick_run):
    out, _ = quick_run
    expected = (int(plots.FIGSIZE[0] * plots.DPI), int(plots.FIGSIZE[1] * plots.DPI))
    assert expected == (800, 500)
    for name in FIGURES:
        assert png_size(out / name) == expected, name
        assert (out / name).stat().st_size > 5000, name  # not a blank image


def test_summary_is_consistent_with_the_json_files(quick_run):
    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    assert s["settings"]["quick"] is True
    # initial speeds: mean and std of the per-seed values in initial_speeds.json
    per_seed = json.loads((out / "initial_speeds.json").read_text())
    for k in ("2", "3", "4"):
        v = s["initial_speeds"][k]
        arr = np.array(per_seed[k])
        assert arr.shape == (len(s["settings"]["init_seeds"]), int(k))
        np.testing.assert_allclose(v["mean"], arr.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(v["std"], arr.std(axis=0, ddof=1), rtol=1e-12)
        assert v["book"] == diag.BOOK_INITIAL_SPEEDS[int(k)]
        assert all(0 < m < 1 for m in v["mean"])
    # speed histories
    for k in ("2", "3", "4"):
        v = s["speed_training"][k]
        assert v["files"] == [f"speed_history_{k}hidden_seed0.json"]
        h = diag.read_speed_history(out / v["files"][0])
        assert len(h) == s["settings"]["epochs_speed"] == v["epochs"]
        assert len(h[0]) == int(k)
        assert v["first_epoch"][0] == h[0] and v["last_epoch"][0] == h[-1]
        assert v["ratio_first_epoch"][0] == pytest.approx(h[0][-1] / h[0][0])
        assert v["ratio_last_epoch"][0] == pytest.approx(h[-1][-1] / h[-1][0])
        # the first epoch's speeds are the initial speeds of the same seed
        np.testing.assert_allclose(h[0], per_seed[k][0], rtol=1e-9)
    # six neurons
    six = diag.read_six_neurons(out / "six_neurons.json")
    assert six == s["six_neurons"]["values"] and len(six) == 2
    # depth sweep
    sweep = diag.read_depth_sweep(out / "depth_sweep.json")
    assert sweep["epochs"] == s["depth_sweep"]["epochs"] == 2
    n_val = sweep["n_validation"]
    assert n_val == s["data"]["n_validation"]
    for k in ("1", "2", "3", "4"):
        d = s["depth_sweep"]["depths"][k]
        runs = [r for r in sweep["runs"] if r["hidden_layers"] == int(k)]
        assert len(runs) == 1 and runs[0]["sizes"] == diag.hidden_sizes(int(k))
        assert d["best_accuracy"] == [100.0 * max(runs[0]["accuracy"]) / n_val]
        assert d["mean"] == d["best_accuracy"][0] and d["std"] is None
        assert d["book"] == diag.BOOK_BEST_ACCURACY[int(k)]
        assert 0 < d["mean"] <= 100
    # one seed: no test, and the report says why
    assert all(w["p"] is None and ">= 2 seeds" in w["note"]
               for w in s["depth_sweep"]["welch"])
    assert "needs >= 2 seeds" in (out / "report.md").read_text()
    # chain
    assert s["chain"]["exploding"]["abs_factors"] == [25.0, 25.0, 25.0]
    assert s["chain"] == json.loads((out / "chain.json").read_text())


def test_report_embeds_every_figure_and_table(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"]({name})" in report, name
    for heading in ("Learning speed at initialisation", "Learning speed during training",
                    "Depth sweep", "The chain"):
        assert heading in report
    assert "Welch" in report and "| book" in report


def test_results_do_not_depend_on_jobs():
    """The same runs in this process and in two worker processes: identical results."""
    from vgcore import mnist_loader

    (X, y), (Xv, yv), _ = mnist_loader.load_sample()
    data = {"train": (X[:500], y[:500]), "validation": (Xv[:200], yv[:200]),
            "probe": (X[:300], y[:300])}
    tasks = []
    for seed in (0, 1):
        tasks += [{"kind": "speed", "n_hidden": k, "seed": seed, "epochs": 4} for k in (2, 4)]
        tasks += [{"kind": "sweep", "n_hidden": k, "seed": seed, "epochs": 2, "n_train": 500}
                  for k in (1, 3)]
    one = chapter5._run_tasks(tasks, data, jobs=1, progress=False)
    two = chapter5._run_tasks(tasks, data, jobs=2, progress=False)
    for t, (ta, ra, _), (tb, rb, _) in zip(tasks, one, two):
        assert ta == tb == t
        assert ra == rb, t  # bit for bit
    speeds = [r for t, r, _ in one if t["kind"] == "speed"]
    assert all(len(h) == 4 for h in speeds)
    assert speeds[0] != speeds[2]  # different seeds differ
    sweeps = [r for t, r, _ in one if t["kind"] == "sweep"]
    assert all(len(a) == 2 and all(0 <= c <= 200 for c in a) for a in sweeps)


def test_two_seeds_give_welch_tests(tmp_path):
    rc = cli.main(["chapter5", "--quick", "--data", "sample", "--seeds", "2",
                   "--epochs", "1", "--epochs-speed", "3", "--init-seeds", "2",
                   "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    sweep = diag.read_depth_sweep(tmp_path / "depth_sweep.json")
    assert sorted((r["hidden_layers"], r["seed"]) for r in sweep["runs"]) == [
        (k, seed) for k in (1, 2, 3, 4) for seed in (0, 1)]
    for w in s["depth_sweep"]["welch"]:
        assert w["n_a"] == w["n_b"] == 2
        a = s["depth_sweep"]["depths"][str(w["a"])]["best_accuracy"]
        b = s["depth_sweep"]["depths"][str(w["b"])]["best_accuracy"]
        if np.var(a) == 0 and np.var(b) == 0:
            assert w["p"] is None and "variance" in w["note"]
        else:
            t, p = stats.ttest_ind(b, a, equal_var=False)  # deeper minus shallower
            assert w["t"] == pytest.approx(t) and w["p"] == pytest.approx(p)
    for k in (2, 3, 4):
        assert s["speed_training"][str(k)]["seeds"] == [0, 1]
        assert (tmp_path / f"speed_history_{k}hidden_seed1.json").is_file()


def test_bad_arguments_are_reported(tmp_path, capsys):
    assert cli.main(["chapter5", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert cli.main(["chapter5", "--quick", "--data", str(tmp_path / "nowhere"),
                     "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err.lower()
    assert not (tmp_path / "o").exists()


_LIMIT_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
from vgcore import chapter5
assert "vgcore._kernels" not in sys.modules      # not loaded yet: it loads at first use
chapter5._single_thread_blas()
from threadpoolctl import threadpool_info
print([(d["filepath"], d["num_threads"]) for d in threadpool_info() if d["user_api"] == "blas"])
"""


def test_the_one_thread_limit_reaches_the_blas_the_extensions_load_late():
    """vgcore imports its compiled extensions (and SciPy's BLAS with them) at
    their first use; chapter 5's one-thread limit must still reach that BLAS."""
    pytest.importorskip("threadpoolctl", reason="the limit is set with threadpoolctl")
    root = os.path.dirname(os.path.dirname(os.path.abspath(chapter5.__file__)))
    r = subprocess.run([sys.executable, "-c", _LIMIT_PROBE, root], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-500:]
    libs = eval(r.stdout)
    assert any("scipy_openblas-" in path or "scipy/" in path for path, _ in libs), libs
    assert {n for _, n in libs} == {1}, libs


def test_settings_quick_shrinks_everything():
    s = chapter5.Settings(seeds=3, quick=True)
    assert (s.epochs, s.epochs_speed, len(s.init_seeds), s.n_train) == (2, 20, 3, 1000)
    s = chapter5.Settings()
    assert (s.epochs, s.epochs_speed, s.seeds, s.n_train) == (30, 500, [0], None)


def test_depth_tests_signs_and_holm():
    depths = {"1": {"best_accuracy": [96.3, 96.5, 96.4], "mean": 96.4},
              "2": {"best_accuracy": [97.0, 96.9, 97.1], "mean": 97.0},
              "3": {"best_accuracy": [96.6, 96.8, 96.7], "mean": 96.7},
              "4": {"best_accuracy": [96.6, 96.75, 96.7], "mean": 96.68333}}
    ws = chapter5.depth_tests(depths)
    assert [(w["a"], w["b"]) for w in ws] == [(1, 2), (2, 3), (3, 4), (2, 4)]
    for w in ws:
        assert (w["t"] > 0) == (w["mean_difference"] > 0)
        t, p = stats.ttest_ind(depths[str(w["b"])]["best_accuracy"],
                               depths[str(w["a"])]["best_accuracy"], equal_var=False)
        assert w["t"] == pytest.approx(t) and w["p"] == pytest.approx(p)
        assert w["p"] <= w["p_holm"] <= 1
    assert ws[2]["significant_at_5_percent_holm"] is False


def test_report_with_significance(quick_run):
    """render_report states the verdicts of the Welch tests when there are p-values."""
    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    s["depth_sweep"]["welch"] = [
        {"a": 1, "b": 2, "t": 5.0, "p": 0.001, "p_holm": 0.003, "n_a": 5, "n_b": 5,
         "note": "", "mean_difference": 0.4},
        {"a": 2, "b": 3, "t": -3.0, "p": 0.02, "p_holm": 0.04, "n_a": 5, "n_b": 5,
         "note": "", "mean_difference": -0.3},
        {"a": 3, "b": 4, "t": -2.0, "p": 0.04, "p_holm": 0.08, "n_a": 5, "n_b": 5,
         "note": "", "mean_difference": -0.1},
        {"a": 2, "b": 4, "t": -1.0, "p": 0.4, "p_holm": 0.4, "n_a": 5, "n_b": 5,
         "note": "", "mean_difference": -0.4}]
    for d in s["depth_sweep"]["depths"].values():
        d["seeds"] = [0, 1, 2, 3, 4]
    report = chapter5.render_report(s)
    assert "significant (Holm-corrected p < 0.05)" in report
    assert "p < 0.05 uncorrected only" in report and "not significant" in report
    assert "2 hidden layers better than 1 by 0.40 points (p = 0.001, Holm 0.003)" in report
    assert "drop beyond two hidden layers" in report
    s["depth_sweep"]["welch"] = [dict(w, p=0.5, p_holm=1.0) for w in s["depth_sweep"]["welch"]]
    assert "borne out" in chapter5.render_report(s)


def test_plot_functions_directly(tmp_path):
    h = [[0.05 / (1 + e), 0.3 / (1 + e)] for e in range(30)]
    paths = [
        plots.plot_speed_history(h, tmp_path / "a.png"),
        plots.plot_six_neurons([[0.1, -0.2, 0.3, 0, 0.01, -0.05]] * 3, tmp_path / "b.png"),
        plots.plot_depth_sweep({1: [[9000, 9500, 9600], [9100, 9400, 9650]],
                                2: [[8000, 9600, 9700], [8500, 9550, 9690]]},
                               tmp_path / "c.png", 10000, book=diag.BOOK_BEST_ACCURACY),
        plots.plot_initial_speeds({2: ([0.05, 0.3], [0.01, 0.05])}, diag.BOOK_INITIAL_SPEEDS,
                                  tmp_path / "d.png"),
        plots.plot_chain_factors([0.1, 0.2, 0.05], [25.0, 25.0, 25.0], tmp_path / "e.png"),
        plots.plot_width_curve(tmp_path / "f.png"),
    ]
    for p in paths:
        assert png_size(p) == (800, 500)


def test_import_vgcore_does_not_import_matplotlib(tmp_path):
    code = ("import sys, vgcore, vgcore.chapter5, vgcore.plots, vgcore.cli; "
            "vgcore.cli.build_parser(); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
