"""The sweep engine (vgcore.sweep, vgcore sweep): cells, seeds, backends, resuming, tables.

Every run here is tiny (networks of width 10 on a few hundred images of the
embedded sample, two or three epochs), so the whole module, two Dask
LocalClusters included, takes well under a minute on two cores.
"""
import contextlib
import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import stats

import vgcore.sweep as sweep
from vgcore import cli
from vgcore.errors import SweepError
from vgcore.experiments import sweep as engine
from vgcore.experiments import sweep_report

from conftest import child_env

TINY = {"width": 10, "epochs": 2, "n_train": 300, "n_validation": 100, "n_probe": 100,
        "lmbda": 0.5, "eta": 0.5}
GRID = {"depth": [1, 2, 3], **TINY}
SEEDS = [0, 1]

DASK_REASON = "the Dask tests need the [dask] extra (pip install \"vgcore[dask]\")"


# ---------------------------------------------------------------------------
# Cells, ids and seeds
# ---------------------------------------------------------------------------

def test_cells_are_normalised_and_ids_do_not_depend_on_how_a_cell_is_written():
    a = sweep.normalize_cell({"depth": 2, "width": 30})
    b = sweep.normalize_cell({"sizes": [784, 30, 30, 10]})
    assert a == b and "depth" not in a and a["sizes"] == [784, 30, 30, 10]
    assert a["eta"] == 0.1 and a["lmbda"] == 5.0 and a["measure"] == list(engine.MEASURES)
    assert sweep.cell_id({"depth": 2}) == sweep.cell_id({"sizes": [784, 30, 30, 10]})
    assert sweep.cell_id({"depth": 2, "measure": "speeds,accuracy"}) == \
        sweep.cell_id({"depth": 2, "measure": ["accuracy", "speeds"]})
    assert sweep.cell_id({"depth": 2, "eta": 0.1}) == sweep.cell_id({"depth": 2, "eta": 0.1})
    ids = {sweep.cell_id({"depth": 2, **{k: v}}) for k, v in
           [("eta", 0.5), ("lmbda", 0.0), ("epochs", 3), ("dtype", "float32"),
            ("cost", "quadratic"), ("root_seed", 1), ("seeding", "network2")]}
    assert len(ids) == 7 and sweep.cell_id({"depth": 2}) not in ids


def test_a_key_registered_later_keeps_the_ids_of_cells_at_its_default():
    before = sweep.cell_id({"depth": 3})
    sweep.register_key("momentum", "none",
                       lambda v, w: v if v in ("none", "nesterov") else
                       (_ for _ in ()).throw(SweepError(f"{w}: bad momentum {v!r}")),
                       "a key of the future")
    try:
        assert sweep.cell_id({"depth": 3}) == before
        assert sweep.cell_id({"depth": 3, "momentum": "none"}) == before
        assert sweep.cell_id({"depth": 3, "momentum": "nesterov"}) != before
        with pytest.raises(SweepError, match="bad momentum"):
            sweep.normalize_cell({"depth": 3, "momentum": "heavy"})
        with pytest.raises(ValueError, match="already registered"):
            sweep.register_key("eta", 0.1, None, "")
    finally:
        del engine.KEYS["momentum"]


def test_activation_and_init_are_keys_that_keep_the_ids_at_network2s_defaults():
    """``activation`` and ``init`` (network2's extras) came after the first
    results: at sigmoid/default a cell keeps its id; other values are refused
    unless the network knows them."""
    cell = {"depth": 2}
    assert sweep.cell_id({**cell, "activation": "sigmoid", "init": "default"}) == \
        sweep.cell_id(cell)
    ids = {sweep.cell_id({**cell, "activation": a, "init": i})
           for a in ("sigmoid", "tanh", "softsign", "relu")
           for i in ("default", "large", "standard", "normalized", "he")}
    assert len(ids) == 20
    with pytest.raises(SweepError, match="activation"):
        sweep.normalize_cell({**cell, "activation": "swish"})
    with pytest.raises(SweepError, match="init"):
        sweep.normalize_cell({**cell, "init": "xavier"})


def test_run_cell_with_an_activation_is_a_network2_script():
    """A tanh network with the normalised initialisation: run_cell gives the
    accuracies of network2 trained directly with the cell's seeds."""
    import vgcore.network2 as network2
    from vgcore import mnist_loader

    cell = sweep.normalize_cell({"depth": 1, **TINY, "activation": "tanh",
                                 "init": "normalized", "seeding": "network2",
                                 "measure": ["accuracy"]})
    got = sweep.run_cell(cell, 3)
    (X, y), (Xv, yv), _ = mnist_loader.load_sample()
    np.random.seed(3)
    random.seed(3)
    net = network2.Network([784, 10, 10], activation="tanh", init="normalized")
    with contextlib.redirect_stdout(io.StringIO()):
        _, ea, _, _ = net.SGD((X[:300], y[:300]), 2, 10, 0.5, lmbda=0.5,
                              evaluation_data=(Xv[:100], yv[:100]),
                              monitor_evaluation_accuracy=True)
    assert got["accuracy"] == ea
    plain = sweep.run_cell({**cell, "activation": "sigmoid", "init": "default"}, 3)
    assert plain["accuracy"] != ea


@pytest.mark.parametrize("cell, match", [
    ({"depth": 2, "etta": 0.1}, "unknown key 'etta'.*did you mean 'eta'"),
    ({}, "no network"),
    ({"depth": 0}, "depth: must be >= 1"),
    ({"depth": 2, "sizes": [784, 30, 30, 10]}, "not both"),
    ({"sizes": [784, 0, 10]}, r"sizes\[1\]: must be >= 1"),
    ({"sizes": [784, -3, 10]}, r"sizes\[1\]: must be >= 1"),
    ({"sizes": [100, 30, 10]}, "784 inputs to 10"),
    ({"sizes": [784, 30, 10], "width": 5}, "width goes with depth"),
    ({"depth": 1, "eta": 0}, "eta: must be a finite number > 0"),
    ({"depth": 1, "eta": float("nan")}, "eta"),
    ({"depth": 1, "lmbda": -1}, "lmbda"),
    ({"depth": 1, "mini_batch_size": 0}, "mini_batch_size: must be >= 1"),
    ({"depth": 1, "epochs": 2.5}, "epochs: expected an int"),
    ({"depth": 1, "epochs": True}, "epochs: expected an int"),
    ({"depth": 1, "cost": "hinge"}, "cost: must be one of"),
    ({"depth": 1, "dtype": "float16"}, "dtype"),
    ({"depth": 1, "n_train": 5001}, "more than the 5,000 images"),
    ({"depth": 1, "n_validation": 10001, "data": "mnist"}, "more than the 10,000"),
    ({"depth": 1, "measure": ["accuracy", "loss"]}, "unknown measure 'loss'"),
    ({"depth": 1, "measure": []}, "non-empty list"),
    ({"sizes": [784, 10], "measure": ["speeds"]}, "need a hidden layer"),
    ({"depth": 1, "seeding": "random"}, "seeding"),
])
def test_bad_cells_are_refused_with_the_key_named(cell, match):
    with pytest.raises(SweepError, match=match):
        sweep.normalize_cell(cell)


@pytest.mark.parametrize("grid, seeds, match", [
    ({"depth": [], **TINY}, 2, "depth: empty list"),
    ({"depth": [1, 2], "eta": [], **{k: v for k, v in TINY.items() if k != "eta"}}, 2,
     "eta: empty list"),
    ({"depth": [1, 2], "sizes": [[784, 10]]}, 2, "not both"),
    ({"depth": [1, 2], "lmdba": 5}, 2, "did you mean 'lmbda'"),
    ({"depth": [1, 0]}, 2, "depth: must be >= 1"),
    (GRID, 0, "at least one seed"),
    (GRID, [], "empty list"),
    (GRID, [1, 1], "repeated"),
    (GRID, [-1], "seeds: must be >= 0"),
    (GRID, "3", "expected a count"),
])
def test_bad_grids_are_refused_before_anything_runs(grid, seeds, match, monkeypatch, tmp_path):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a run started")
    monkeypatch.setattr(engine, "run_cell", must_not_run)
    with pytest.raises(SweepError, match=match):
        sweep.run(grid, seeds=seeds, out=tmp_path / "out", backend="serial")
    assert not (tmp_path / "out").exists()


def test_the_whole_grid_is_checked_before_the_first_run(monkeypatch, tmp_path):
    """The last cell is bad: no run of the good ones starts."""
    monkeypatch.setattr(engine, "run_cell", lambda *a: pytest.fail("a run started"))
    with pytest.raises(SweepError, match="cells\\[1\\]: sizes"):
        sweep.run({"epochs": 1}, cells=[{"depth": 1}, {"sizes": [784, 0, 10]}], seeds=1,
                  out=tmp_path / "o", backend="serial")
    with pytest.raises(SweepError, match="matches 0 cells"):
        sweep.run(GRID, seeds=2, out=tmp_path / "o", backend="serial",
                  compare=[({"depth": 1}, {"depth": 7})])
    with pytest.raises(SweepError, match="matches 2 cells"):
        sweep.run({**GRID, "eta": [0.1, 0.5]}, seeds=2, out=tmp_path / "o", backend="serial",
                  compare=[({"depth": 1}, {"depth": 2})])
    for scheduler in ("local[0]", "local", "8786", "tcp//x"):
        with pytest.raises(SweepError, match="scheduler"):
            sweep.run(GRID, seeds=2, out=tmp_path / "o", backend="dask", scheduler=scheduler)
    with pytest.raises(SweepError, match="backend"):
        sweep.run(GRID, seeds=2, out=tmp_path / "o", backend="threads")
    assert not (tmp_path / "o").exists()


def test_run_cell_is_a_network2_script(tmp_path):
    """run_cell against the same training written as a network2 script: the seeds
    derive_seeds gives, Network, SGD with a speed probe and the validation set."""
    import vgcore.network2 as network2
    from vgcore import mnist_loader

    cell = sweep.normalize_cell({"depth": 2, **TINY, "mini_batch_size": 20,
                                 "cost": "quadratic"})
    res = sweep.run_cell(cell, 3)
    np_seed, py_seed = sweep.derive_seeds(cell, 3)
    ss = np.random.SeedSequence(0, spawn_key=(int(sweep.cell_id(cell)[:8], 16),
                                              int(sweep.cell_id(cell)[8:], 16), 3))
    assert [np_seed, py_seed] == ss.generate_state(2, dtype=np.uint32).tolist()

    (X, y), (Xv, yv), _ = mnist_loader.load_sample()
    np.random.seed(np_seed)
    random.seed(py_seed)
    net = network2.Network([784, 10, 10, 10], cost=network2.QuadraticCost)
    with contextlib.redirect_stdout(io.StringIO()):
        ec, ea, _, _ = net.SGD((X[:300], y[:300]), 2, 20, 0.5, lmbda=0.5,
                               evaluation_data=(Xv[:100], yv[:100]),
                               monitor_evaluation_accuracy=True, monitor_evaluation_cost=True,
                               speed_probe=(X[:100], y[:100]))
    assert res["accuracy"] == ea and res["n_validation"] == 100
    assert res["best_accuracy"] == max(ea) and res["last_accuracy"] == ea[-1]
    assert res["cost"] == [float(c) for c in ec]
    assert res["speeds"] == [[float(v) for v in row] for row in net.speed_history]
    assert res["norms"]["weights"] == [float(np.linalg.norm(w)) for w in net.weights]
    assert res["norms"]["biases"] == [float(np.linalg.norm(b)) for b in net.biases]
    json.dumps(res, allow_nan=False)
    assert sweep.run_cell(cell, 3) == res                       # pure
    assert sweep.run_cell(cell, 4)["speeds"] != res["speeds"]   # seeds differ


def test_network2_seeding_is_network2s():
    import vgcore.network2 as network2
    from vgcore import mnist_loader

    cell = {"depth": 1, **TINY, "seeding": "network2", "measure": ["accuracy"]}
    (X, y), (Xv, yv), _ = mnist_loader.load_sample()
    np.random.seed(5)
    random.seed(5)
    net = network2.Network([784, 10, 10])
    with contextlib.redirect_stdout(io.StringIO()):
        _, ea, _, _ = net.SGD((X[:300], y[:300]), 2, 10, 0.5, lmbda=0.5,
                              evaluation_data=(Xv[:100], yv[:100]),
                              monitor_evaluation_accuracy=True)
    res = sweep.run_cell(cell, 5)
    assert res["accuracy"] == ea and set(res) == {
        "accuracy", "n_validation", "best_accuracy", "best_epoch", "last_accuracy",
        "warnings"}


def test_other_threads_drawing_from_random_do_not_change_a_run():
    """A Dask worker's own threads draw from the ``random`` module's generator
    while a task runs; network2's shuffles in run_cell must not see them."""
    import threading

    cell = {"depth": 1, **TINY, "measure": ["accuracy"], "seeding": "network2"}
    quiet = sweep.run_cell(cell, 0)
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()
    thread = threading.Thread(target=draw)
    thread.start()
    try:
        busy = [sweep.run_cell(cell, 0) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert busy == [quiet] * 3


# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return sweep.run(GRID, seeds=SEEDS, out=out, backend="serial", progress=False,
                     log=lambda m: None)


def test_loky_gives_the_serial_results_bit_for_bit(serial_run):
    res = sweep.run(GRID, seeds=SEEDS, backend="loky", jobs=2, progress=False,
                    log=lambda m: None)
    assert [t.name for t in res.tasks] == [t.name for t in serial_run.tasks]
    assert res.results == serial_run.results
    assert len({t["worker"] for t in res.timing}) == 2       # two processes ran them


@pytest.fixture(scope="module")
def local_cluster():
    pytest.importorskip("distributed", reason=DASK_REASON)
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def test_dask_local_cluster_gives_the_serial_results_bit_for_bit(serial_run, local_cluster):
    res = sweep.run(GRID, seeds=SEEDS, backend="dask", client=local_cluster, progress=False,
                    log=lambda m: None)
    assert res.results == serial_run.results
    assert len({t["worker"] for t in res.timing}) == 2
    assert all(t["worker"].split(":")[1] != str(os.getpid()) for t in res.timing)


def test_scheduler_local_n_starts_a_cluster_and_prints_the_dashboard(serial_run):
    pytest.importorskip("distributed", reason=DASK_REASON)
    said = []
    cells = [{"depth": 1, **TINY}]
    res = sweep.run(None, cells=cells, seeds=[0], backend="dask", scheduler="local[1]",
                    progress=False, log=said.append)
    assert res.results[0] == serial_run.results[0]
    assert any(m.startswith("Dask dashboard: http") for m in said), said


def test_without_distributed_the_dask_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SweepError, match=r'pip install "vgcore\[dask\]"'):
        sweep.run(GRID, seeds=1, backend="dask")
    with pytest.raises(SweepError, match=r'vgcore\[dask\]'):
        engine.dask_client("local[1]")


def test_a_killed_worker_s_runs_are_run_again_and_every_run_comes_once(tmp_path):
    """Kill one of two Dask worker processes (SIGKILL) while it trains: the
    scheduler runs its tasks on the other worker (or the restarted one), and the
    sweep ends with every run exactly once, equal to the serial runs."""
    pytest.importorskip("distributed", reason=DASK_REASON)
    from distributed import Client, LocalCluster

    grid = {"depth": [1, 2], "width": 10, "epochs": 3, "n_train": 2000, "n_validation": 100,
            "lmbda": 0.5, "measure": ["accuracy"]}
    seeds = [0, 1, 2, 3]
    seen, killed = [], []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)

        def kill_a_busy_worker(task, result):
            seen.append(task.name)
            if killed:
                return
            for _ in range(200):
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.01)

        tasks = engine.plan(engine.expand_grid(grid), seeds)
        done = engine.run_sweep(tasks, tmp_path, backend="dask", client=client,
                                progress=False, log=lambda m: None,
                                on_result=kill_a_busy_worker)
    assert killed, "no worker was busy"
    assert sorted(seen) == sorted(t.name for t in tasks)        # each run once
    assert sorted(p.stem for p in (tmp_path / "cells").iterdir()) == sorted(seen)
    expected = [engine.run_cell(t.cell, t.seed) for t in tasks]
    assert [r for r, _ in done] == expected


# ---------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------

def test_an_interrupted_sweep_resumes_with_only_the_missing_runs(serial_run, tmp_path):
    tasks = serial_run.tasks
    calls = []

    def stop_after_three(task, result):
        calls.append(task.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        engine.run_sweep(tasks, tmp_path, backend="serial", progress=False,
                         on_result=stop_after_three)
    assert len(list((tmp_path / "cells").iterdir())) == 3
    said = []
    res = sweep.run(GRID, seeds=SEEDS, out=tmp_path, backend="serial", progress=False,
                    log=said.append)
    assert res.n_reused == 3 and any("3 of 6 runs already" in m for m in said)
    assert res.results == serial_run.results
    # the same sweep again: nothing runs
    res = sweep.run(GRID, seeds=SEEDS, out=tmp_path, backend="serial", progress=False,
                    log=lambda m: None)
    assert res.n_reused == 6 and res.results == serial_run.results


def test_a_larger_grid_reuses_the_runs_it_shares(serial_run, tmp_path):
    import shutil
    shutil.copytree(serial_run.out / "cells", tmp_path / "cells")
    ran = []
    grid = {**GRID, "depth": [1, 2, 3, 4]}
    done = engine.run_sweep(engine.plan(engine.expand_grid(grid), [0, 1, 2]), tmp_path,
                            backend="serial", progress=False, log=lambda m: None,
                            on_result=lambda t, r: ran.append((len(t.cell["sizes"]) - 2,
                                                               t.seed)))
    assert sorted(ran) == sorted([(4, s) for s in (0, 1, 2)] + [(k, 2) for k in (1, 2, 3)])
    assert len(done) == 12


def test_a_damaged_or_foreign_cell_file_is_run_again(serial_run, tmp_path):
    import shutil
    shutil.copytree(serial_run.out / "cells", tmp_path / "cells")
    files = sorted((tmp_path / "cells").iterdir())
    files[0].write_text('{"format": 1, "cell_id": "')                  # truncated
    rec = json.loads(files[1].read_text())
    rec["cell"]["eta"] = 3.0                                          # another cell
    files[1].write_text(json.dumps(rec))
    res = sweep.run(GRID, seeds=SEEDS, out=tmp_path, backend="serial", progress=False,
                    log=lambda m: None)
    assert res.n_reused == 4 and res.results == serial_run.results


_DRIVER = """
import sys
import vgcore.sweep as sweep
grid = dict(depth=[1, 2], width=10, epochs=3, n_train=1500, n_validation=100, lmbda=0.5,
            measure=["accuracy"])
sweep.run(grid, seeds=list(range(6)), out=sys.argv[1], backend="serial", progress=False)
"""


def test_a_killed_driver_leaves_only_whole_files(tmp_path):
    """SIGKILL the driver mid-sweep: every file in cells/ is a finished run, and
    the sweep run again completes from there."""
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(tmp_path)],
                            env=child_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=str(tmp_path))
    cells = tmp_path / "cells"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if cells.is_dir() and len(list(cells.glob("*.json"))) >= 3:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-500:]
    kept = list(cells.iterdir())
    assert 3 <= len(kept) < 12
    for f in kept:                      # no half-written or temporary file
        assert f.suffix == ".json" and json.loads(f.read_text())["result"]["accuracy"]
    grid = dict(depth=[1, 2], width=10, epochs=3, n_train=1500, n_validation=100,
                lmbda=0.5, measure=["accuracy"])
    res = sweep.run(grid, seeds=list(range(6)), out=tmp_path, backend="serial",
                    progress=False, log=lambda m: None)
    assert res.n_reused == len(kept) and len(list(cells.iterdir())) == 12


# ---------------------------------------------------------------------------
# Tables, tests, figures, the command line
# ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_tables_summary_and_welch_tests_follow_the_runs(serial_run):
    out = serial_run.out
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    for row, task, result in zip(rows, serial_run.tasks, serial_run.results):
        assert (row["cell_id"], int(row["seed"])) == (task.cell_id, task.seed)
        assert int(row["depth"]) == len(task.cell["sizes"]) - 2
        assert float(row["best_accuracy"]) == result["best_accuracy"]
        assert float(row["speed_init_first"]) == result["speeds"][0][0]
    with open(out / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [s["label"] for s in summary] == ["depth=1", "depth=2", "depth=3"]
    for s in summary:
        values = [float(r["best_accuracy"]) for r in rows if r["cell_id"] == s["cell_id"]]
        assert float(s["best_accuracy_mean"]) == pytest.approx(np.mean(values))
        assert float(s["best_accuracy_std"]) == pytest.approx(np.std(values, ddof=1))
        assert int(s["best_accuracy_count"]) == 2
    # default t-tests: neighbouring depths, deeper minus shallower, as scipy computes them
    assert [(w["a"], w["b"]) for w in serial_run.tests] == [("depth=1", "depth=2"),
                                                           ("depth=2", "depth=3")]
    for w in serial_run.tests:
        a = [r["best_accuracy"] for r in serial_run.rows if r["depth"] == int(w["a"][-1])]
        b = [r["best_accuracy"] for r in serial_run.rows if r["depth"] == int(w["b"][-1])]
        if np.var(a) or np.var(b):
            t, p = stats.ttest_ind(b, a, equal_var=False)
            assert w["t"] == pytest.approx(t) and w["p"] == pytest.approx(p)
    report = (out / "report.md").read_text()
    assert "depth=1" in report and "![accuracy_vs_depth](accuracy_vs_depth.png)" in report
    for name in ("accuracy_vs_depth.png", "speed_vs_depth.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    summary_json = json.loads((out / "summary.json").read_text())
    assert len(summary_json["cells"]) == 3 and len(summary_json["welch"]) == 2


def test_to_dataframe(serial_run):
    pd = pytest.importorskip("pandas", reason="pandas is optional")
    df = serial_run.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == 6
    assert df.groupby("depth")["best_accuracy"].count().tolist() == [2, 2, 2]


def test_the_command_line_and_a_toml_file_give_the_same_sweep(tmp_path, capsys):
    args = ["sweep", "--depths", "1-2", "--width", "10", "--eta", "0.5,0.1", "--lmbda", "0.5",
            "--epochs", "2", "--n-train", "300", "--n-validation", "100", "--n-probe", "100",
            "--seeds", "2", "--dry-run"]
    assert cli.main(args) == 0
    listed = capsys.readouterr().out
    assert "4 cells x 2 seeds = 8 runs" in listed
    (tmp_path / "g.toml").write_text(
        'seeds = 2\n[grid]\ndepth = [1, 2]\nwidth = 10\neta = [0.5, 0.1]\nlmbda = 0.5\n'
        'epochs = 2\nn_train = 300\nn_validation = 100\nn_probe = 100\n')
    assert cli.main(["sweep", str(tmp_path / "g.toml"), "--dry-run"]) == 0
    assert capsys.readouterr().out == listed
    (tmp_path / "g.json").write_text(json.dumps(
        {"seeds": 2, "depth": [1, 2], "width": 10, "eta": [0.5, 0.1], "lmbda": 0.5,
         "epochs": 2, "n_train": 300, "n_validation": 100, "n_probe": 100}))
    assert cli.main(["sweep", str(tmp_path / "g.json"), "--dry-run"]) == 0
    assert capsys.readouterr().out == listed


def test_the_command_runs_and_writes_its_folder(tmp_path, serial_run, capsys):
    out = tmp_path / "res"
    assert cli.main(["sweep", "--depths", "1-3", "--width", "10", "--eta", "0.5", "--lmbda",
                     "0.5", "--epochs", "2", "--n-train", "300", "--n-validation", "100",
                     "--n-probe", "100", "--seeds", "2", "--backend", "serial",
                     "--out", str(out), "--no-progress",
                     "--compare", "depth=1:depth=3"]) == 0
    said = capsys.readouterr().out
    assert "3 cells x 2 seeds = 6 runs on serial" in said
    assert "Welch depth=1 vs depth=3" in said
    recs = {p.stem: json.loads(p.read_text())["result"] for p in (out / "cells").iterdir()}
    assert [recs[t.name] for t in serial_run.tasks] == serial_run.results
    for name in ("results.csv", "summary.csv", "summary.json", "report.md", "sweep.json",
                 "accuracy_vs_depth.png", "speed_vs_depth.png"):
        assert (out / name).is_file(), name


@pytest.mark.parametrize("args, match", [
    (["--depths", "1-3", "--etta", "0.1"], None),
    (["--depths", "3-1"], "empty range"),
    (["--depths", "1,,2"], "empty value"),
    (["--depths", "1-2", "--eta", "fast"], "cannot read 'fast'"),
    (["--depths", "1-2", "--seeds", "0"], "at least one seed"),
    (["--depths", "1-2", "--seeds", "a,b"], "--seeds"),
    (["--depths", "1-2", "--compare", "depth=1"], "expected A:B"),
    (["--depths", "1-2", "--compare", "depht=1:depth=2"], "unknown key 'depht'"),
    (["--depths", "1-2", "--scheduler", "local[x]"], "scheduler"),
    (["--sizes", "784-30-10", "--width", "30"], "width goes with depth"),
    (["--depths", "1-2", "--metric", "speed"], "metric"),
    (["nowhere.toml"], "cannot read the sweep file"),
    (["--depths", "1", "--data", "/nonexistent/mnist"], "data '/nonexistent/mnist': does "
                                                         "not exist"),
])
def test_bad_command_lines_exit_2_and_create_nothing(args, match, tmp_path, capsys):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) if match is None else contextlib.nullcontext():
        code = cli.main(["sweep", *args, "--out", str(out), "--no-progress"])
        assert code == 2
        assert match in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_toml_file_is_refused(tmp_path, capsys):
    for text, match in [("depth = [1, 2\n", "not a valid TOML"),
                        ("[grid]\ndepth = [1]\nspeed = 3\n", "unknown key 'speed'"),
                        ("colour = 1\n", "unknown key 'colour'"),
                        ("depth = 1\n[grid]\ndepth = 2\n", "given twice")]:
        (tmp_path / "g.toml").write_text(text)
        assert cli.main(["sweep", str(tmp_path / "g.toml"), "--dry-run"]) == 2
        assert match in capsys.readouterr().err


def test_import_vgcore_sweep_stays_light(tmp_path):
    code = ("import sys, vgcore.sweep, vgcore.cli; "
            "print(sorted(m for m in ('joblib', 'distributed', 'dask', 'pandas', "
            "'matplotlib', 'tqdm', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=child_env(), timeout=120, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_summaries_of_cells_that_differ_in_more_than_depth(tmp_path):
    res = sweep.run({"depth": [1, 2], **TINY, "eta": [0.1, 0.5]}, seeds=[0], backend="serial",
                    progress=False, log=lambda m: None,
                    compare=[({"depth": 1, "eta": 0.1}, {"depth": 1, "eta": 0.5})])
    assert [s["label"] for s in res.summary] == ["depth=1 eta=0.1", "depth=1 eta=0.5",
                                                "depth=2 eta=0.1", "depth=2 eta=0.5"]
    assert res.tests[0]["p"] is None and "needs >= 2 seeds" in res.tests[0]["note"]
    res = sweep.run({"depth": [1, 2], **TINY, "eta": [0.1, 0.5]}, seeds=[0], backend="serial",
                    progress=False, log=lambda m: None)       # default: depth within each eta
    assert [(w["a"], w["b"]) for w in res.tests] == [("depth=1 eta=0.1", "depth=2 eta=0.1"),
                                                     ("depth=1 eta=0.5", "depth=2 eta=0.5")]
    figs = sweep_report.draw_figures(res.summary, tmp_path)
    assert set(figs) == {"accuracy_vs_depth", "speed_vs_depth"}
