"""``vgcore glorot`` end to end on the embedded sample (``--quick``), its
summary against what it was computed from, and its bad inputs."""
import csv
import json
import os

import numpy as np
import pytest
from scipy import stats

from vgcore import cli
from vgcore.experiments import diagnostics as diag
from vgcore.experiments import glorot, plots

from conftest import run_vgcore
from test_chapter5 import png_size

FIGURES = ["figure2.png", "test_error.png", "initial_speeds.png"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One ``vgcore glorot --quick --data sample`` through the real command line,
    in two worker processes."""
    out = tmp_path_factory.mktemp("glorot") / "results"
    proc = run_vgcore("glorot", "--quick", "--data", "sample", "--out", str(out),
                      "--jobs", "2", cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out, proc, json.loads((out / "summary.json").read_text())


def test_every_file_is_written(quick):
    out, proc, s = quick
    names = ["report.md", "summary.json"] + FIGURES + [
        f"monitor/{k.replace(' ', '_')}/monitor.{ext}" for k in glorot.CONFIGS
        for ext in ("csv", "json", "png")]
    for name in names:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in FIGURES:
        assert png_size(out / name) == (800, 500)
        assert (out / name).stat().st_size > 5000, name
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    assert s["figures"] == {"figure2": "figure2.png", "test_error": "test_error.png",
                            "initial_speeds": "initial_speeds.png"}
    assert "| sigmoid |" in proc.stdout and "wrote" in proc.stdout.splitlines()[-1]


def test_the_runs_are_the_pure_run_function_whatever_the_jobs(quick):
    """Seed 1 of tanh N, run here in this process, is what the two worker
    processes reported; the per-seed errors are the summary's statistics."""
    _, _, s = quick
    st = s["settings"]
    config = {"sizes": st["sizes"], "activation": "tanh", "init": "normalized",
              "epochs": st["epochs"], "eta": st["eta"], "lmbda": st["lmbda"],
              "mini_batch_size": 10, "every": st["monitor_every"], "data": "sample",
              "n_train": s["data"]["n_train"], "n_validation": s["data"]["n_validation"],
              "n_test": s["data"]["n_test"], "keep_monitor": False}
    result = glorot.run_one(config, 1)
    assert result == glorot.run_one(config, 1)
    c = s["configs"]["tanh N"]
    assert c["seeds"] == [0, 1]
    assert c["test_error"][1] == result["test_error"]
    assert c["validation_error"][1] == result["validation_error"]
    assert c["saturated_last_epoch"][1] == result["saturated_last_epoch"]
    for name, c in s["configs"].items():
        assert (c["activation"], c["init"]) == glorot.CONFIGS[name]
        assert c["paper"] == glorot.PAPER_TABLE1[name]
        assert c["mean"] == pytest.approx(np.mean(c["test_error"]), rel=1e-12)
        assert c["std"] == pytest.approx(np.std(c["test_error"], ddof=1), rel=1e-12)
        n_test = s["data"]["n_test"]
        assert all(abs(e * n_test / 100 - round(e * n_test / 100)) < 1e-9
                   for e in c["test_error"])                 # whole images


def test_figure2_is_the_sigmoid_monitors_records(quick):
    out, _, s = quick
    t = s["figure2"]
    doc = json.loads((out / "monitor" / "sigmoid" / "monitor.json").read_text())
    assert doc["activation"] == "sigmoid" and doc["sizes"] == s["settings"]["sizes"]
    rows = [r for r in doc["rows"] if r[3] == "act_mean" and r[2] <= 5]
    steps = sorted({r[0] for r in rows})
    assert len(steps) == len(t["act_mean"])
    got = {(r[0], r[2]): r[4] for r in rows}
    for i, step in enumerate(steps):
        assert t["epochs"][i] == pytest.approx(step / (s["data"]["n_train"] / 10))
        for layer in range(1, 6):
            assert t["act_mean"][i][layer - 1] == got[step, layer]
    with open(out / "monitor" / "sigmoid" / "monitor.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["step", "epoch", "layer", "metric", "value"]
    assert len(table) - 1 == len(doc["rows"])


def test_the_welch_tests_are_scipys_with_holms_correction(quick):
    _, _, s = quick
    tests = s["welch"]
    assert [(w["a"], w["b"]) for w in tests] == glorot.PAIRS and len(tests) == 10
    for w in tests:
        a, b = (s["configs"][k]["test_error"] for k in (w["a"], w["b"]))
        if np.var(a) == 0 and np.var(b) == 0:
            assert w["p"] is None
            continue
        t, p = stats.ttest_ind(b, a, equal_var=False)
        assert w["t"] == pytest.approx(t) and w["p"] == pytest.approx(p)
        assert w["mean_difference"] == pytest.approx(np.mean(b) - np.mean(a))
    ps = [w["p"] for w in tests]
    assert [w["p_holm"] for w in tests] == diag.holm(ps)


def test_pairwise_tests_on_known_samples():
    per = {k: [1.0, 1.1, 1.2, 1.05] for k in glorot.CONFIGS}
    per["sigmoid"] = [3.0, 3.2, 3.1, 3.3]
    tests = glorot.pairwise_tests(per)
    sig = {(w["a"], w["b"]) for w in tests if w["significant_at_5_percent_holm"]}
    assert sig == {("sigmoid", k) for k in glorot.CONFIGS if k != "sigmoid"}
    assert all(w["mean_difference"] == pytest.approx(-2.0625) for w in tests
               if w["a"] == "sigmoid")


def test_initial_speeds_are_the_networks_learning_speeds(quick):
    _, _, s = quick
    from vgcore.experiments.glorot import Settings, load_data
    grid = s["initial_speeds"]["grid"]
    assert len(grid) == 4 * 5
    data, _, _ = load_data("sample", s["data"]["n_train"], s["data"]["n_validation"],
                           s["data"]["n_test"])
    probe = tuple(a[:1000] for a in data["train"])
    st = Settings(quick=True)
    speeds = [diag.make_network(st.sizes, seed, activation="softsign", init="he")
              .learning_speeds(probe) for seed in (0, 1)]
    np.testing.assert_allclose(grid["softsign / he"]["mean"], np.mean(speeds, axis=0),
                               rtol=1e-12)
    ratio = np.mean([v[-1] / v[0] for v in speeds])
    assert grid["softsign / he"]["ratio_last_first"] == pytest.approx(ratio, rel=1e-12)


def test_the_report_names_the_sizes_and_the_paper(quick):
    out, _, s = quick
    text = (out / "report.md").read_text()
    assert "smoke test (`--quick`)" in text
    assert "| hidden layers x units | 5 x 16 | 5 x 1,000 |" in text
    for name, value in glorot.PAPER_TABLE1.items():
        assert f"| {name} | " in text and f"| {value:.2f} |" in text
    for heading in ("## (a)", "## (b)", "## (c)", "## Timing"):
        assert heading in text
    assert text.count("![") == 3


@pytest.mark.parametrize("args,needle", [
    (["--width", "0"], "--width must be a positive int"),
    (["--epochs", "0"], "--epochs must be a positive int"),
    (["--seeds", "0"], "--seeds must be a positive int"),
    (["--every", "-3"], "--every must be a positive int"),
    (["--eta", "0"], "--eta must be a finite number > 0"),
    (["--eta", "nan"], "--eta must be a finite number > 0"),
    (["--lmbda", "-1"], "--lmbda must be a finite number >= 0"),
    (["--data", "/nonexistent/mnist"], "--data /nonexistent/mnist"),
])
def test_bad_arguments_are_one_clear_line(tmp_path, capsys, args, needle):
    out = tmp_path / "never"
    assert cli.main(["glorot", "--quick", "--out", str(out)] + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgcore glorot: error: ") and needle in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_plots_take_what_the_report_gives(tmp_path):
    path = plots.plot_test_errors(["a", "b"], [[1.0], [2.0, 2.5]], {"a": 1.5},
                                  tmp_path / "e.png")
    assert png_size(path) == (800, 500)
