"""The monitor through network2's API: ``SGD(monitor=...)`` and
:class:`vgcore.network2.Monitor`.

Every metric is checked against ``reference.sgd_epoch_monitored`` (each
metric from its definition, in numpy) on the same mini-batches; then the
tidy table and its files, the warnings (cases that must and must not
warn) and the refusal of bad arguments.
"""
import contextlib
import csv
import io
import json
import random
import warnings

import numpy as np
import pytest

import per_example as pe
import vgcore.network2 as network2
from vgcore.core import monitor as M
from vgcore.core import reference as R
from vgcore.errors import MonitorWarning

ACTS = list(network2.ACTIVATIONS)
METRICS = list(R.MONITOR_METRICS)


def data(N, n_in=20, n_out=10, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = scale * rng.random((N, n_in))
    return X, rng.integers(0, n_out, N)


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def network2_order(n):
    """The order of the epoch network2 is about to run (it calls
    random.shuffle on a list of row indices), without consuming it."""
    state = random.getstate()
    idx = list(range(n))
    random.shuffle(idx)
    random.setstate(state)
    return np.array(idx)


# ---------------------------------------------------------------------------
# Every metric against the reference
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("cost", [network2.CrossEntropyCost, pe.MyCrossEntropy],
                         ids=["kernels", "reference"])
def test_every_metric_matches_the_reference(act, cost):
    """Two SGD calls of one epoch on 2,300 examples in mini-batches of 5
    (network2 trains in calls of ~2,048 examples: here 2,065, the stretches
    of 7 whole), one monitor: each epoch's records are the reference's
    records of that epoch, at the same steps."""
    sizes = [20, 9, 7, 10]
    X, labels = data(2300)
    Y = np.eye(10)[labels]
    np.random.seed(1)
    random.seed(1)
    net = network2.Network(sizes, cost=cost, activation=act, init="normalized")
    mon = network2.Monitor(every=7, histograms=True, bins=12, delta_range=(-0.2, 0.2),
                           warn=False)
    want, want_act, want_delta, want_steps = [], [], [], []
    for epoch in range(2):
        order = network2_order(len(X))
        W, B, rec, ra, rd = R.sgd_epoch_monitored(
            net.weights, net.biases, X, Y, order, 5, 0.4, 3.0, n=len(X), activation=act,
            every=7, act_hist=M.ACT_RANGES[act] + (12,), delta_hist=(-0.2, 0.2, 12))
        want += [rec]
        want_act += [ra]
        want_delta += [rd]
        want_steps += [epoch * 460 + R.monitor_records(len(X), 5, 7)]
        with quiet():
            net.SGD((X, labels), 1, 5, 0.4, lmbda=3.0, monitor=mon)
        np.testing.assert_allclose(np.concatenate(net.weights[0]), np.concatenate(W[0]),
                                   rtol=1e-11, atol=1e-13)
    assert net.monitor is mon
    got, want = mon.values(), np.concatenate(want)
    assert got.shape == want.shape == (2 * 66, 3, len(METRICS))
    for k, name in enumerate(METRICS):
        np.testing.assert_allclose(got[..., k], want[..., k], rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_array_equal(mon.steps, np.concatenate(want_steps))
    np.testing.assert_array_equal(mon.epochs, np.repeat([0, 1], 66))
    np.testing.assert_array_equal(mon.stretches, np.diff(mon.steps, prepend=0))
    edges, counts = mon.histogram("act")
    np.testing.assert_array_equal(edges, np.linspace(*M.ACT_RANGES[act], 13))
    np.testing.assert_array_equal(counts, np.concatenate(want_act))
    np.testing.assert_array_equal(mon.histogram("delta")[1], np.concatenate(want_delta))


def test_the_monitor_does_not_change_the_training():
    X, labels = data(900)
    nets = []
    for monitor in (None, network2.Monitor(every=3, histograms=True), True):
        np.random.seed(2)
        random.seed(2)
        net = network2.Network([20, 8, 8, 10], activation="tanh")
        with quiet():
            net.SGD((X, labels), 2, 10, 0.5, lmbda=1.0, monitor=monitor)
        nets.append(net)
    for other in nets[1:]:
        for a, b in zip(nets[0].weights + nets[0].biases, other.weights + other.biases):
            np.testing.assert_array_equal(a, b)
    assert not hasattr(nets[0], "monitor")
    assert nets[2].monitor.every == 100 and len(nets[2].monitor.steps) == 2


def test_records_fall_every_n_mini_batches_and_at_each_epochs_end():
    """3,000 examples in mini-batches of 10: 300 a epoch, records at 100,
    200, 300; mini-batches of 7: 429 a epoch (the last of 4), records at
    every 100 and at 429, across calls of the kernels of ~2,048 examples."""
    X, labels = data(3000)
    for mbs, per_epoch in ((10, [100, 200, 300]), (7, [100, 200, 300, 400, 429])):
        net = network2.Network([20, 6, 10])
        mon = network2.Monitor()
        with quiet():
            net.SGD((X, labels), 2, mbs, 0.1, monitor=mon)
        last = per_epoch[-1]
        np.testing.assert_array_equal(mon.steps, per_epoch + [last + s for s in per_epoch])
        np.testing.assert_array_equal(mon.stretches, np.diff(mon.steps, prepend=0))


def test_record_minibatch_speeds_and_the_monitor_together():
    X, labels = data(600)
    net = network2.Network([20, 7, 7, 10])
    with quiet():
        net.SGD((X, labels), 1, 10, 0.3, record_minibatch_speeds=True,
                monitor=network2.Monitor(every=1))
    # a stretch of one mini-batch: grad_b is that mini-batch's learning speed
    np.testing.assert_allclose(net.monitor.series("grad_b")[:, :-1], net.minibatch_speeds,
                               rtol=1e-12)


def test_float32_networks_are_monitored():
    X, labels = data(500)
    net = network2.Network([20, 7, 10], dtype=np.float32)
    with quiet():
        net.SGD((X.astype(np.float32), labels), 1, 10, 0.3, monitor=True)
    assert np.isfinite(net.monitor.values()).all()


# ---------------------------------------------------------------------------
# The tidy table and its files
# ---------------------------------------------------------------------------

def trained_monitor(tmp_path=None, **kwargs):
    X, labels = data(300)
    np.random.seed(3)
    random.seed(3)
    net = network2.Network([20, 6, 5, 10])
    mon = network2.Monitor(every=12, **kwargs)
    with quiet():
        net.SGD((X, labels), 2, 10, 0.3, monitor=mon)
    return mon


def test_the_tidy_table_in_every_form(tmp_path):
    mon = trained_monitor()
    n_rows = len(mon.steps) * 3 * len(METRICS)
    rows = mon.records()
    assert len(rows) == n_rows == 6 * 3 * 6
    assert rows[0] == {"step": 12, "epoch": 0, "layer": 1, "metric": "grad_b",
                       "value": float(mon.values()[0, 0, 0])}
    table = mon.table()
    assert table.dtype.names == ("step", "epoch", "layer", "metric", "value")
    assert [tuple(r.values()) for r in rows] == table.tolist()
    # the values in order: record, layer, metric
    np.testing.assert_array_equal(table["value"], mon.values().ravel())
    np.testing.assert_array_equal(table["layer"], np.tile(np.repeat([1, 2, 3], 6), 6))
    np.testing.assert_array_equal(mon.series("act_std", layer=2), mon.values()[:, 1, 3])
    csv_path, json_path = mon.save(tmp_path / "out")
    with open(csv_path, newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["step", "epoch", "layer", "metric", "value"]
    assert lines[1:] == [[str(r["step"]), str(r["epoch"]), str(r["layer"]), r["metric"],
                          repr(r["value"])] for r in rows]
    assert [float(l[4]) for l in lines[1:]] == [r["value"] for r in rows]   # exact
    doc = json.loads(open(json_path).read())
    assert doc["format"] == "vgcore monitor" and doc["version"] == 1
    assert doc["columns"] == ["step", "epoch", "layer", "metric", "value"]
    assert doc["rows"] == [list(r.values()) for r in rows]
    assert doc["sizes"] == [20, 6, 5, 10] and doc["activation"] == "sigmoid"
    assert doc["every"] == 12 and doc["metrics"] == METRICS and doc["histograms"] is None
    assert doc["calls"] == [{"first_epoch": 0, "epochs": 2, "mini_batch_size": 10,
                             "eta": 0.3, "lmbda": 0.0, "n": 300}]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["monitor.csv",
                                                                    "monitor.json"]


def test_histogram_bins_are_rows_and_their_edges_are_in_the_json(tmp_path):
    mon = trained_monitor(histograms=True, bins=4, act_range=(0.0, 0.5))
    rows = mon.records()
    assert len(rows) == 6 * 3 * (6 + 8)
    names = [r["metric"] for r in rows[:14]]
    assert names == METRICS + [f"act_hist[{i}]" for i in range(4)] + [
        f"delta_hist[{i}]" for i in range(4)]
    assert mon.table()["metric"].tolist() == [r["metric"] for r in rows]
    counts = [r["value"] for r in rows[6:10]]
    assert counts == mon.histogram("act")[1][0, 0].tolist() and sum(counts) == 12 * 10 * 6
    doc = mon.to_json()
    assert doc["histograms"] == {"bins": 4, "act_range": [0.0, 0.5],
                                 "delta_range": [-1.0, 1.0]}


def test_histogram_names_are_never_cut_in_the_table():
    mon = trained_monitor(histograms=True, bins=10_001)
    names = mon.table()["metric"]
    assert "delta_hist[10000]" in names and mon.table().dtype["metric"] == np.dtype("U17")


def test_path_writes_the_files_after_every_epoch(tmp_path, monkeypatch):
    seen = []
    real = M.Monitor.save

    def spy(self, folder):
        out = real(self, folder)
        seen.append(len(open(out[0]).read().splitlines()) - 1)
        return out
    monkeypatch.setattr(M.Monitor, "save", spy)
    mon = trained_monitor(path=tmp_path / "new" / "folder")
    assert seen == [3 * 18, 6 * 18]          # records of 3 layers x 6 metrics
    assert (tmp_path / "new" / "folder" / "monitor.csv").exists()


def test_a_path_that_cannot_be_a_folder_is_refused_before_training(tmp_path):
    (tmp_path / "file").write_text("")
    X, labels = data(20)
    net = network2.Network([20, 4, 10])
    before = [w.copy() for w in net.weights]
    with pytest.raises(FileExistsError):
        net.SGD((X, labels), 1, 10, 0.1, monitor=network2.Monitor(path=tmp_path / "file"))
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)


def test_nan_is_null_in_the_json_and_nan_in_the_csv(tmp_path):
    X, labels = data(50)
    net = network2.Network([20, 4, 10])
    with quiet():
        net.SGD((X, labels), 1, 10, 0.0, monitor=True)      # eta 0: grad_w is NaN
    assert np.isnan(net.monitor.series("grad_w")).all()
    net.monitor.save(tmp_path)
    doc = json.loads((tmp_path / "monitor.json").read_text())
    assert [r[4] for r in doc["rows"] if r[3] == "grad_w"] == [None, None]
    assert "1,grad_w,nan" in (tmp_path / "monitor.csv").read_text()


def test_a_monitor_goes_on_across_sgd_calls_and_clears():
    X, labels = data(200)
    net = network2.Network([20, 5, 10])
    mon = network2.Monitor(every=8)
    with quiet():
        net.SGD((X, labels), 1, 10, 0.1, monitor=mon)
        net.SGD((X, labels), 2, 20, 0.1, monitor=mon)
    np.testing.assert_array_equal(mon.steps, [8, 16, 20, 28, 30, 38, 40])
    np.testing.assert_array_equal(mon.epochs, [0, 0, 0, 1, 1, 2, 2])
    assert [c["first_epoch"] for c in mon.calls] == [0, 1]
    with pytest.raises(ValueError, match="sizes \\[20, 5, 10\\], not \\[20, 6, 10\\]"):
        with quiet():
            network2.Network([20, 6, 10]).SGD((X, labels), 1, 10, 0.1, monitor=mon)
    with pytest.raises(ValueError, match="sigmoid network, not relu"):
        with quiet():
            network2.Network([20, 5, 10], activation="relu").SGD((X, labels), 1, 10, 0.1,
                                                                 monitor=mon)
    mon.clear()
    assert mon.records() == [] and mon.values().shape == (0, 0, 6)
    with quiet():
        network2.Network([20, 6, 10]).SGD((X, labels), 1, 10, 0.1, monitor=mon)
    assert mon.steps.tolist() == [8, 16, 20]


# ---------------------------------------------------------------------------
# Warnings
# ---------------------------------------------------------------------------

def monitored(sizes, act="sigmoid", init="normalized", scale=1.0, edit=None, epochs=2,
              **kwargs):
    """Train 2 epochs with a tiny eta (the network hardly moves); the
    MonitorWarnings issued."""
    X, labels = data(400, n_in=sizes[0], scale=scale)
    np.random.seed(4)
    random.seed(4)
    net = network2.Network(sizes, activation=act, init=init)
    if edit is not None:
        edit(net)
    with warnings.catch_warnings(record=True) as caught, quiet():
        warnings.simplefilter("always")
        net.SGD((X, labels), epochs, 10, 1e-4, monitor=network2.Monitor(**kwargs))
    return [w for w in caught if issubclass(w.category, MonitorWarning)], net


def test_vanishing_gradient_warns_once_with_the_ratio():
    found, net = monitored([20] + [10] * 6 + [10], init="standard")
    assert len(found) == 1, [str(w.message) for w in found]    # once, over 2 epochs
    w = found[0].message
    assert w.kind == "vanishing" and w.epoch == 0 and w.layers == [1, 6]
    speeds = net.monitor.epoch_means(0)[:-1, 0]
    assert w.values[0] == pytest.approx(speeds[-1] / speeds[0]) and w.values[0] >= 100
    assert "hidden layer 1 learns" in str(w) and "slower than hidden layer 6" in str(w)
    assert "init='normalized'" in str(w)
    assert found[0].filename == __file__        # points at the caller's line


def test_exploding_gradient_warns():
    def scale(net):
        net.weights = [w * 4 for w in net.weights]
    found, _ = monitored([20] + [30] * 5 + [10], act="relu", init="he", edit=scale)
    assert [w.message.kind for w in found] == ["exploding"]
    assert found[0].message.values[0] <= 1 / 100


def test_saturated_layer_warns():
    found, net = monitored([20, 10, 10], init="large", scale=30.0)
    kinds = [w.message.kind for w in found]
    assert kinds == ["saturated"]
    w = found[0].message
    assert w.layers == [1] and w.values[0] > 0.9
    assert w.values[0] == pytest.approx(net.monitor.epoch_means(0)[0, 4])
    assert "hidden layer 1 (" in str(w) and "sigmoid's asymptotes" in str(w)


def test_dead_relu_units_warn():
    def kill(net):
        net.biases[1][:7] -= 100.0            # 7 of the 10 units of hidden layer 2
    found, net = monitored([20, 10, 10, 10], act="relu", init="he", edit=kill)
    assert [w.message.kind for w in found] == ["dead"]
    assert found[0].message.layers == [2]
    assert found[0].message.values[0] == pytest.approx(0.7)


@pytest.mark.parametrize("act", ACTS)
def test_healthy_networks_do_not_warn(act):
    found, _ = monitored([20, 10, 10, 10], act=act, init="he" if act == "relu" else
                         "normalized")
    assert found == [], [str(w.message) for w in found]


def test_warn_false_is_silent_and_thresholds_are_strict():
    found, _ = monitored([20] + [10] * 6 + [10], init="standard", warn=False)
    assert found == []
    hidden = np.zeros((2, len(METRICS)))
    hidden[:, 0] = [1.0, 100.0 - 1e-9]              # just below the ratio
    hidden[:, 4] = [0.9, 0.5]                      # exactly 90%: not more than
    assert M._findings(hidden, "sigmoid", 0) == []
    hidden[:, 0] = [1.0, 100.0]
    hidden[0, 4] = 0.9 + 1e-9
    assert [f[0] for f in M._findings(hidden, "sigmoid", 0)] == ["vanishing", "saturated"]
    hidden[:, 4] = [0.5, 0.2]                      # ReLU: exactly half dead is not more
    assert [f[0] for f in M._findings(hidden, "relu", 0)] == ["vanishing"]
    hidden[:, 0] = [0.0, 1.0]                      # no speed: no ratio
    assert M._findings(hidden, "tanh", 0) == []
    assert M._findings(hidden[:1], "tanh", 0) == []   # one hidden layer: no ratio


# ---------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,err,match", [
    (dict(every=0), ValueError, "every must be >= 1"),
    (dict(every=2.0), TypeError, "every must be an int"),
    (dict(every=True), TypeError, "every must be an int"),
    (dict(bins=0), ValueError, "bins must be >= 1"),
    (dict(histograms="yes"), TypeError, "histograms must be True or False"),
    (dict(act_range=(1.0, 0.0)), ValueError, "act_range must have lo < hi"),
    (dict(act_range=(0.0, np.inf)), ValueError, "act_range\\[1\\] must be finite"),
    (dict(delta_range="wide"), TypeError, "delta_range must be a pair"),
    (dict(path=3), TypeError, "path must be a path"),
    (dict(path=""), ValueError, "path must be a non-empty path"),
    (dict(warn=None), TypeError, "warn must be True or False"),
])
def test_bad_monitor_arguments_are_refused(kwargs, err, match):
    with pytest.raises(err, match=match):
        network2.Monitor(**kwargs)


@pytest.mark.parametrize("monitor", ["yes", 100, {"every": 10}, network2.Monitor])
def test_sgd_refuses_a_monitor_that_is_not_one(monitor):
    X, labels = data(20)
    net = network2.Network([20, 4, 10])
    before = [w.copy() for w in net.weights]
    with pytest.raises(TypeError, match="monitor must be None, False, True or a Monitor"):
        net.SGD((X, labels), 1, 10, 0.1, monitor=monitor)
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)          # refused before any training


def test_reading_a_metric_that_is_not_there_is_refused():
    mon = trained_monitor()
    with pytest.raises(ValueError, match="metric must be one of \\['grad_b'"):
        mon.series("speed")
    for layer in (0, 4):
        with pytest.raises(ValueError, match="layer must be"):
            mon.series("grad_b", layer=layer)
    with pytest.raises(ValueError, match="records no histograms"):
        mon.histogram("act")
    with pytest.raises(ValueError, match="kind must be 'act' or 'delta'"):
        mon.histogram("z")
    with pytest.raises(ValueError, match="no records of epoch 5"):
        mon.epoch_means(5)
    with pytest.raises(IsADirectoryError):
        mon.write_csv(str(M.__file__).rsplit("/", 1)[0])


# ---------------------------------------------------------------------------
# Reading the JSON form back, and its figure (vgcore monitor)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("histograms", [False, True])
def test_load_reads_back_what_save_wrote(tmp_path, histograms):
    mon = trained_monitor(histograms=histograms, bins=3)
    _, json_path = mon.save(tmp_path)
    back = network2.Monitor.load(json_path)
    assert back.records() == mon.records()
    assert back.to_json() == mon.to_json()
    np.testing.assert_array_equal(back.stretches, mon.stretches)
    np.testing.assert_array_equal(back.epoch_means(1), mon.epoch_means(1))
    if histograms:
        for kind in ("act", "delta"):
            for a, b in zip(back.histogram(kind), mon.histogram(kind)):
                np.testing.assert_array_equal(a, b)


def test_load_refuses_what_is_not_a_monitors_file(tmp_path):
    mon = trained_monitor()
    doc = mon.to_json()
    f = tmp_path / "m.json"
    cases = [("not json", "not a monitor's JSON file"),
             ("[1, 2]", "format"),
             (json.dumps({**doc, "format": "other"}), "format"),
             (json.dumps({**doc, "rows": doc["rows"][:-1]}), "not whole records"),
             (json.dumps({**doc, "activation": "gelu"}), "unknown activation 'gelu'"),
             (json.dumps({**doc, "rows": doc["rows"][1:] + doc["rows"][:1]}),
              "out of place"),
             (json.dumps({**doc, "every": 0}), "every must be >= 1")]
    for text, match in cases:
        f.write_text(text)
        with pytest.raises(ValueError, match=match):
            network2.Monitor.load(f)


def test_vgcore_monitor_draws_the_figure_and_says_what_it_sees(tmp_path, capsys):
    from vgcore import cli
    from test_chapter5 import png_size

    found, net = monitored([20] + [10] * 6 + [10], init="standard")
    net.monitor.save(tmp_path)
    assert cli.main(["monitor", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert png_size(tmp_path / "monitor.png") == (800, 500)
    assert "epoch 1, means over its records:" in out
    assert "warning (vanishing): epoch 1: hidden layer 1 learns" in out
    assert cli.main(["monitor", str(tmp_path / "monitor.json"), "--out",
                     str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 5000
    (tmp_path / "bad.json").write_text("{}")
    assert cli.main(["monitor", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgcore monitor: error: ") and "not a monitor's JSON" in err
    assert cli.main(["monitor", str(tmp_path / "missing.json")]) == 1
