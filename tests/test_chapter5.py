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

from vgcore import cli
from vgcore.experiments import chapter5, plots
from vgcore.experiments import report as c5report
from vgcore.experiments import sweep as engine
from vgcore.experiments import diagnostics as diag

from conftest import child_env, run_vgcore

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


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``vgcore chapter5 --quick --data sample`` through the real command line."""
    out = tmp_path_factory.mktemp("c5") / "results"
    proc = run_vgcore("chapter5", "--quick", "--data", "sample", "--out", str(out),
                      "--jobs", "1", cwd=out.parent)
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
        ok = d["best_accuracy"][0] >= 2 * s["depth_sweep"]["chance_percent"]
        assert d["trained"] == [ok] and d["n_trained"] == int(ok)
        # mean over the runs that trained (None if none did); one seed: no std
        assert d["mean"] == (d["best_accuracy"][0] if ok else None) and d["std"] is None
        assert d["book"] == diag.BOOK_BEST_ACCURACY[int(k)]
        assert ({"hidden_layers": int(k), "seed": 0, "best_accuracy": d["best_accuracy"][0]}
                in s["depth_sweep"]["did_not_train"]) == (not ok)
    # the chance level is that of the validation images used (the first 500 of the sample)
    from vgcore import mnist_loader
    yv = mnist_loader.load_sample()[1][1][:n_val]
    assert s["depth_sweep"]["chance_percent"] == pytest.approx(
        100 * np.bincount(yv).max() / n_val)
    # --quick on 1,000 images: lmbda keeps the book's lmbda/n
    assert s["depth_sweep"]["lmbda"] == pytest.approx(5.0 * 1000 / 50000)
    assert sweep["lmbda"] == s["depth_sweep"]["lmbda"] and sweep["book"]["lmbda"] == 5.0
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


def _old_code_path(kind, k, seed, data, epochs, lmbda=None):
    """What chapter 5 ran before its runs moved to the sweep engine (the former
    ``runs.run_task``), written out here: network2 seeded with ``np.random.seed(seed);
    random.seed(seed)``, then a speed history of full-batch descent on the probe set,
    or mini-batch SGD recording the validation accuracy of every epoch."""
    import contextlib
    import io

    sizes = diag.hidden_sizes(k)
    if kind == "speed":
        X, y = data.probe
        return diag.speed_history(sizes, X, y, epochs, seed, eta=diag.ETA, lmbda=diag.LMBDA,
                                  mini_batch_size=len(X))
    net = diag.make_network(sizes, seed)
    with contextlib.redirect_stdout(io.StringIO()):
        _, acc, _, _ = net.SGD(data.train, epochs, diag.MINI_BATCH, diag.ETA, lmbda=lmbda,
                               evaluation_data=data.validation,
                               monitor_evaluation_accuracy=True)
    return [int(a) for a in acc]


@pytest.mark.parametrize("jobs, scheduler", [(1, None), (2, None), (2, "local[2]")])
def test_runs_on_the_engine_give_the_old_results_for_any_jobs(jobs, scheduler):
    """chapter5's depth sweep and speed runs, rebuilt on the sweep engine, in this
    process, in two worker processes and on a Dask LocalCluster: bit for bit what
    the old code path gives."""
    if scheduler:
        pytest.importorskip("distributed", reason="--scheduler needs the [dask] extra")
    settings = chapter5.Settings(seeds=2, epochs=2, epochs_speed=4, n_train=500,
                                 n_validation=200, jobs=jobs, progress=False,
                                 scheduler=scheduler)
    data = chapter5.prepare_data(settings, "sample")
    sweep_set = chapter5.sweep_settings(len(data.train[0]), settings.epochs)
    results = chapter5.training_runs(settings, data, sweep_set)
    assert sorted((t["kind"], t["n_hidden"], t["seed"]) for t, _, _ in results) == sorted(
        [("speed", k, s) for k in (2, 3, 4) for s in (0, 1)]
        + [("sweep", k, s) for k in (1, 2, 3, 4) for s in (0, 1)])
    for task, result, _ in results:
        expected = _old_code_path(task["kind"], task["n_hidden"], task["seed"], data,
                                  4 if task["kind"] == "speed" else 2, sweep_set["lmbda"])
        assert result == expected, task          # bit for bit
    speeds = {(t["n_hidden"], t["seed"]): r for t, r, _ in results if t["kind"] == "speed"}
    assert all(len(h) == 4 for h in speeds.values())
    assert speeds[(2, 0)] != speeds[(2, 1)]     # different seeds differ
    sweeps = [r for t, r, _ in results if t["kind"] == "sweep"]
    assert all(len(a) == 2 and all(0 <= c <= 200 for c in a) for a in sweeps)


def test_two_seeds_give_welch_tests(tmp_path, capsys):
    # 15 epochs on 1,000 images: the shallow networks train, the deepest does not yet
    settings = chapter5.Settings(seeds=2, epochs=15, epochs_speed=3, init_seeds=2,
                                 n_train=1000, n_validation=500, progress=False)
    s = chapter5.run(settings, tmp_path, data_spec="sample")
    sweep = diag.read_depth_sweep(tmp_path / "depth_sweep.json")
    assert sorted((r["hidden_layers"], r["seed"]) for r in sweep["runs"]) == [
        (k, seed) for k in (1, 2, 3, 4) for seed in (0, 1)]
    depths = s["depth_sweep"]["depths"]
    for w in s["depth_sweep"]["welch"]:
        da, db = depths[str(w["a"])], depths[str(w["b"])]
        a = [v for v, ok in zip(da["best_accuracy"], da["trained"]) if ok]
        b = [v for v, ok in zip(db["best_accuracy"], db["trained"]) if ok]
        assert (w["n_a"], w["n_b"]) == (len(b), len(a))  # welch_test(deeper, shallower)
        if len(a) < 2 or len(b) < 2:
            assert w["p"] is None and "that trained" in w["note"]
        elif np.var(a) == 0 and np.var(b) == 0:
            assert w["p"] is None and "variance" in w["note"]
        else:
            t, p = stats.ttest_ind(b, a, equal_var=False)  # deeper minus shallower
            assert w["t"] == pytest.approx(t) and w["p"] == pytest.approx(p)
    assert s["depth_sweep"]["welch"][0]["p"] is not None  # 1 vs 2: both trained
    assert depths["4"]["n_trained"] == 0                  # too few steps for 4 layers
    out = capsys.readouterr().out
    assert "4 hidden: DID NOT TRAIN: seeds 0 (" in out
    report = (tmp_path / "report.md").read_text()
    assert "**Did not train**: " in report and "4 hidden layers, seeds 0–1" in report
    assert "Not tested: 3 vs 4, 2 vs 4" in report or "Not tested: 2 vs 3, 3 vs 4, 2 vs 4" \
        in report
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
    assert cli.main(["chapter5", "--quick", "--scheduler", "local[x]", "--data", "sample",
                     "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "--scheduler: expected local[N] or tcp://HOST:PORT" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


_LIMIT_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
from vgcore.experiments import sweep
assert "vgcore._kernels" not in sys.modules      # not loaded yet: it loads at first use
sweep.single_thread_blas()
from threadpoolctl import threadpool_info
print([(d["filepath"], d["num_threads"]) for d in threadpool_info() if d["user_api"] == "blas"])
"""


def test_the_one_thread_limit_reaches_the_blas_the_extensions_load_late():
    """vgcore imports its compiled extensions (and SciPy's BLAS with them) at
    their first use; chapter 5's one-thread limit must still reach that BLAS."""
    pytest.importorskip("threadpoolctl", reason="the limit is set with threadpoolctl")
    import vgcore
    root = os.path.dirname(os.path.dirname(os.path.abspath(vgcore.__file__)))
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
    assert (s.epochs, s.lmbda, s.epochs_speed, s.seeds, s.n_train) == (None, None, 500, [0],
                                                                          None)
    with pytest.raises(ValueError, match="--lmbda"):
        chapter5.Settings(lmbda=-1.0)
    with pytest.raises(ValueError, match="--epochs"):
        chapter5.Settings(epochs=0)


def test_sweep_settings_are_the_books_on_full_mnist_and_scaled_on_fewer_images():
    full = chapter5.sweep_settings(50000)
    assert (full["epochs"], full["lmbda"], full["mini_batch_size"], full["eta"]) == (
        30, 5.0, 10, 0.1)
    assert full["as_book"] and full["why"] == ""
    sample = chapter5.sweep_settings(5000)
    assert (sample["epochs"], sample["lmbda"]) == (60, 0.5) and not sample["as_book"]
    # the weight decay per step, 1 - eta*lmbda/n, is the book's
    assert sample["lmbda"] / 5000 == pytest.approx(full["lmbda"] / 50000)
    assert "lmbda/n" in sample["why"] and "60 epochs" in sample["why"]
    assert sample["book"] == {"epochs": 30, "mini_batch_size": 10, "eta": 0.1,
                              "lmbda": 5.0, "n_training": 50000}
    given = chapter5.sweep_settings(5000, epochs=30, lmbda=5.0)
    assert (given["epochs"], given["lmbda"], given["why"]) == (30, 5.0, "")
    assert chapter5.sweep_settings(1000)["lmbda"] == pytest.approx(0.1)


def test_chance_level_and_did_not_train():
    assert diag.chance_accuracy([1, 1, 2, 3]) == 50.0
    assert diag.chance_accuracy(np.array([7] * 3 + [0] * 7)) == 70.0
    with pytest.raises(ValueError):
        diag.chance_accuracy([])
    assert diag.did_not_train(21.3, 10.7) and not diag.did_not_train(21.4, 10.7)
    assert diag.first_epoch_above([100, 400, 600, 500], 1000, 50.0) == 3
    assert diag.first_epoch_above([100, 500], 1000, 50.0) is None  # must exceed


def _runs(k, curves):
    return [{"hidden_layers": k, "seed": s, "accuracy": c, "sizes": diag.hidden_sizes(k)}
            for s, c in enumerate(curves)]


def test_runs_that_did_not_train_are_named_and_left_out_of_the_tests():
    n_val, chance = 1000, 10.7
    curves = {1: [[800, 920], [810, 925], [790, 921]],
              2: [[700, 915], [720, 930], [710, 919]],
              3: [[107, 600, 905], [107, 107, 107], [107, 500, 912]],
              4: [[107, 107], [100, 107], [107, 213]]}
    curves[1] = [c + [c[-1]] for c in curves[1]]
    curves[2] = [c + [c[-1]] for c in curves[2]]
    curves[4] = [c + [c[-1]] for c in curves[4]]
    depths = {k: chapter5.depth_entry(k, _runs(k, c), n_val, chance)
              for k, c in curves.items()}
    assert depths[3]["trained"] == [True, False, True] and depths[3]["n_trained"] == 2
    assert depths[4]["trained"] == [False, False, False] and depths[4]["mean"] is None
    assert depths[3]["mean"] == pytest.approx((90.5 + 91.2) / 2)  # seed 1 left out
    assert depths[3]["first_epoch_above_50"] == [2, None, 3]  # 50.0 % is not above
    assert depths[3]["best_epoch"] == [3, 1, 3]
    bad = chapter5.did_not_train_runs(depths)
    assert bad == [{"hidden_layers": 3, "seed": 1, "best_accuracy": 10.7}] + [
        {"hidden_layers": 4, "seed": s, "best_accuracy": b}
        for s, b in enumerate([10.7, 10.7, 21.3])]
    ws = {(w["a"], w["b"]): w for w in chapter5.depth_tests(depths)}
    # 2 vs 3: tested on the two runs of 3 hidden layers that trained
    t, p = stats.ttest_ind([90.5, 91.2], [91.5, 93.0, 91.9], equal_var=False)
    assert ws[2, 3]["t"] == pytest.approx(t) and ws[2, 3]["p"] == pytest.approx(p)
    assert ws[2, 3]["excluded"] == {"2": [], "3": [1]}
    assert "did not train" in ws[2, 3]["note"] and "3 hidden layers: seed 1" in ws[2, 3]["note"]
    assert ws[2, 3]["mean_difference"] == pytest.approx(np.mean([90.5, 91.2]) - 92.1333333)
    # nothing of 4 hidden layers trained: no test, and the note says why
    for pair in ((3, 4), (2, 4)):
        assert ws[pair]["p"] is None and ws[pair]["mean_difference"] is None
        assert "that trained" in ws[pair]["note"] and "seeds 0, 1, 2" in ws[pair]["note"]
    # Holm over the two tests made
    ps = [ws[1, 2]["p"], ws[2, 3]["p"]]
    assert sorted([ws[1, 2]["p_holm"], ws[2, 3]["p_holm"]]) == pytest.approx(
        sorted(diag.holm(ps)))


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
    report = c5report.render_report(s)
    assert "significant (Holm-corrected p < 0.05)" in report
    assert "p < 0.05 uncorrected only" in report and "not significant" in report
    assert "2 hidden layers better than 1 by 0.40 points (p = 0.001, Holm 0.003)" in report
    assert "drop beyond two hidden layers" in report
    s["depth_sweep"]["welch"] = [dict(w, p=0.5, p_holm=1.0) for w in s["depth_sweep"]["welch"]]
    assert "borne out" in c5report.render_report(s)


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
    code = ("import sys, vgcore, vgcore.experiments.chapter5, vgcore.experiments.plots, vgcore.cli; "
            "vgcore.cli.build_parser(); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=child_env(), timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_quick_says_it_is_a_smoke_test(quick_run):
    out, proc = quick_run
    banner = proc.stdout.split("\n\n")[0].splitlines()
    assert len(banner) <= 10 and max(map(len, banner)) <= 92, banner
    assert "QUICK SMOKE TEST" in proc.stdout
    # no book accuracies beside the smoke test's own
    sweep_lines = proc.stdout.split("Depth sweep")[1].splitlines()[1:5]
    assert all("|" not in line for line in sweep_lines), sweep_lines
    report = (out / "report.md").read_text()
    assert "This is a smoke test (`--quick`)" in report
    assert "book % (full MNIST" not in report


def test_every_number_says_what_it_is(quick_run):
    out, proc = quick_run
    report = (out / "report.md").read_text()
    # section 1: over how many networks, and where the book's value lies
    assert "vgcore: mean ± std over 3 networks" in report
    assert "the book's value is within … of vgcore's mean" in report
    assert "mean over the same 3 networks" in report
    # section 2: which seed the training-run ratios come from
    assert "last/first hidden speed, epoch 0 (seed 0)" in report
    # the console says which seeds each mean is over
    assert "mean ± std over 3 networks (seeds 0–2)" in proc.stdout
    assert "full-batch descent (seed 0)" in proc.stdout
    # the settings are given beside the book's
    assert "| setting | this run | the book |" in report
    assert "| depth sweep: epochs | 2 | 30 |" in report


def test_sample_settings_train_every_depth_and_the_books_lmbda_does_not():
    """The cause of issue 18, measured: on the 5,000-image sample the book's lmbda (5.0)
    keeps [784,30,30,30,30,10] at chance; lmbda scaled to the book's lmbda/n (0.5) and
    60 epochs train every depth (seed 0; docs/chapter5_sample.md has 10 seeds)."""
    from vgcore import mnist_loader

    (X, y), (Xv, yv), _ = mnist_loader.load_sample()
    chance = diag.chance_accuracy(yv)
    sw = chapter5.sweep_settings(len(X))
    cells = [{"depth": k, "epochs": sw["epochs"], "lmbda": sw["lmbda"], "data": "sample",
              "measure": ["accuracy"], "seeding": "network2"} for k in (1, 2, 3, 4)]
    cells.append({"depth": 4, "epochs": 30, "lmbda": 5.0, "data": "sample",
                  "measure": ["accuracy"], "seeding": "network2"})
    results = [(None, engine.run_cell(c, 0)["accuracy"], None) for c in cells]
    best = [diag.best_accuracies([acc], len(Xv))[0] for _, acc, _ in results]
    assert all(b > 85.0 for b in best[:4]), best           # every depth trains
    assert best[3] < best[2] < best[0]                      # and depth does not help
    first = [diag.first_epoch_above(acc, len(Xv), 50.0) for _, acc, _ in results[:4]]
    assert first[0] <= first[1] <= first[2] < first[3]      # deeper starts later
    assert diag.did_not_train(best[4], chance), best[4]     # the book's lmbda: stuck


def test_depth_sweep_figure_with_runs_that_did_not_train(tmp_path):
    curves = {1: [[900, 950], [910, 940]], 2: [[100, 107], [800, 930]],
              3: [[107, 107], [107, 100]]}
    p = plots.plot_depth_sweep(curves, tmp_path / "d.png", 1000, chance=10.7,
                               trained={1: [True, True], 2: [False, True], 3: [False, False]})
    assert png_size(p) == (800, 500)
    p = plots.plot_depth_sweep(curves, tmp_path / "e.png", 1000, chance=10.7,
                               trained={k: [False, False] for k in curves})
    assert png_size(p) == (800, 500)
