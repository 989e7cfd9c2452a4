"""Diagnostics: the published JSON layouts, and the chapter's measurements
checked against vgcore.reference computed independently."""
import json
import math
import os
import random

import numpy as np
import pytest
from scipy import stats

from vgcore.experiments import diagnostics as diag
from vgcore.core import reference as ref


@pytest.fixture(scope="module")
def probe():
    """The first 1,000 images of the embedded sample: (X float32, int labels)."""
    from vgcore import mnist_loader

    (X, y), _, _ = mnist_loader.load_sample()
    return X[:1000], y[:1000]


def onehot(y):
    return np.eye(10)[y]


# ---------------------------------------------------------------------------
# JSON layouts
# ---------------------------------------------------------------------------

HISTORY = [[0.0657, 0.3092], [0.0430, 0.2170], [0.0, 1e-300]]
SIX = [[0.1, -0.2, 0.3, -0.4, 0.5, 0.0], [1e-5, -1e-5, 2, 3, 4, 5]]


def sweep_obj():
    return {"epochs": 3, "mini_batch_size": 10, "eta": 0.1, "lmbda": 5.0,
            "n_training": 50000, "n_validation": 10000,
            "runs": [{"sizes": [784, 30, 10], "hidden_layers": 1, "seed": 0,
                      "accuracy": [9000, 9500, 9600]},
                     {"sizes": [784, 30, 30, 10], "hidden_layers": 2, "seed": 1,
                      "accuracy": [0, 10000, 9690]}]}


def test_speed_history_round_trip(tmp_path):
    p = diag.write_speed_history(tmp_path / "h.json", HISTORY)
    assert diag.read_speed_history(p) == HISTORY
    # plain JSON in the published layout
    assert json.loads(p.read_text()) == HISTORY
    # numpy input is accepted and written as plain floats
    diag.write_speed_history(p, np.array(HISTORY))
    assert diag.read_speed_history(p) == HISTORY


def test_six_neurons_round_trip(tmp_path):
    p = diag.write_six_neurons(tmp_path / "six.json", SIX)
    assert diag.read_six_neurons(p) == [[float(v) for v in row] for row in SIX]
    assert json.loads(p.read_text()) == SIX


def test_depth_sweep_round_trip(tmp_path):
    p = diag.write_depth_sweep(tmp_path / "sweep.json", sweep_obj())
    assert diag.read_depth_sweep(p) == sweep_obj()


@pytest.mark.parametrize("text, match", [
    ("", "not valid JSON"),
    ("[[0.1, 0.2]", "not valid JSON"),
    ('{"a": 1}', "expected a list of epochs"),
    ("[]", "no epochs"),
    ("[[]]", "epoch 0: no layers"),
    ("[0.1, 0.2]", "epoch 0: expected a list"),
    ("[[0.1, 0.2], [0.3]]", "epoch 1 has 1 layers"),
    ('[[0.1, "0.2"]]', "epoch 0, layer 1: expected a number"),
    ("[[0.1, true]]", "expected a number"),
    ("[[0.1, null]]", "expected a number"),
    ("[[0.1, NaN]]", "finite"),
    ("[[0.1, Infinity]]", "finite"),
    ("[[0.1, -0.2]]", "cannot be negative"),
])
def test_malformed_speed_history(tmp_path, text, match):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        diag.read_speed_history(p)
    assert str(p) in str(e.value)


def test_binary_file_is_a_value_error(tmp_path):
    p = tmp_path / "bad.json"
    p.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="UTF-8"):
        diag.read_speed_history(p)


@pytest.mark.parametrize("obj, match", [
    ({}, "expected a list of layers"),
    ([], "no layers"),
    ([[1, 2, 3, 4, 5]], "layer 0 has 5 values, expected 6"),
    ([[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]], "layer 1 has 7 values"),
    ([[1, 2, 3, 4, 5, "x"]], "layer 0, neuron 5"),
    ([1, 2, 3, 4, 5, 6], "layer 0: expected a list"),
])
def test_malformed_six_neurons(tmp_path, obj, match):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match=match):
        diag.read_six_neurons(p)


def _broken(mutate):
    obj = sweep_obj()
    mutate(obj)
    return obj


@pytest.mark.parametrize("obj, match", [
    ([], "expected an object"),
    (_broken(lambda o: o.pop("runs")), "missing key 'runs'"),
    (_broken(lambda o: o.update(epochs=0)), "epochs must be a positive int"),
    (_broken(lambda o: o.update(eta="x")), "eta"),
    (_broken(lambda o: o.update(runs=[])), "non-empty list"),
    (_broken(lambda o: o["runs"][0].pop("seed")), "run 0: missing key 'seed'"),
    (_broken(lambda o: o["runs"][1].update(accuracy=[1, 2])), "run 1: accuracy must be a list of 3"),
    (_broken(lambda o: o["runs"][1].update(accuracy=[1, 2, 10001])), "run 1, epoch 2"),
    (_broken(lambda o: o["runs"][0].update(accuracy=[1, 2.5, 3])), "run 0, epoch 1"),
    (_broken(lambda o: o["runs"][0].update(sizes=[784])), "sizes"),
])
def test_malformed_depth_sweep(tmp_path, obj, match):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match=match):
        diag.read_depth_sweep(p)


def test_writers_refuse_bad_data_and_keep_the_old_file(tmp_path):
    p = diag.write_speed_history(tmp_path / "h.json", HISTORY)
    before = p.read_bytes()
    with pytest.raises(ValueError):
        diag.write_speed_history(p, [[0.1, float("nan")]])
    with pytest.raises(ValueError):
        diag.write_json_atomic(p, {"x": float("inf")})
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["h.json"]  # no temporary files left


def test_atomic_write_replaces_and_creates_folders(tmp_path):
    p = tmp_path / "deep" / "er" / "x.json"
    diag.write_json_atomic(p, [1, 2])
    diag.write_json_atomic(p, {"a": [3]})
    assert diag.read_json(p) == {"a": [3]}
    assert os.listdir(p.parent) == ["x.json"]


# ---------------------------------------------------------------------------
# Measurements against the reference
# ---------------------------------------------------------------------------

def test_make_network_follows_network2_seeding():
    net = diag.make_network([784, 30, 30, 10], 7)
    np.random.seed(7)
    biases = [np.random.randn(n, 1) for n in (30, 30, 10)]
    weights = [np.random.randn(n, m) / np.sqrt(m) for m, n in ((784, 30), (30, 30), (30, 10))]
    for a, b in zip(net.weights, weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(net.biases, biases):
        np.testing.assert_array_equal(a, b)
    # random is seeded too (network2 shuffles with it)
    random.seed(7)
    x = random.random()
    diag.make_network([3, 2], 7)
    assert random.random() == x


@pytest.mark.parametrize("k", [2, 3, 4])
def test_initial_speeds_against_reference(probe, k):
    X, y = probe
    sizes = diag.hidden_sizes(k)
    got = diag.initial_speeds(sizes, X, y, seed=3)
    net = diag.make_network(sizes, 3)
    want = ref.layer_speeds(net.weights, net.biases, X.astype(np.float64), onehot(y))[:-1]
    assert len(got) == k
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # one-hot labels give the same numbers
    np.testing.assert_allclose(diag.initial_speeds(sizes, X, onehot(y), 3), got, rtol=1e-12)


def test_initial_speeds_show_the_chapters_pattern(probe):
    """Averaged over seeds, every hidden layer learns slower than the next."""
    X, y = probe
    speeds = np.array([diag.initial_speeds(diag.hidden_sizes(4), X, y, s) for s in range(8)])
    mean = speeds.mean(axis=0)
    assert np.all(np.diff(mean) > 0)
    assert mean[-1] / mean[0] > 20


def test_six_neuron_values_against_reference(probe):
    X, y = probe
    net = diag.make_network([784, 30, 30, 10], 0)
    got = diag.six_neuron_values(net, probe)
    want = ref.mean_nabla_b(net.weights, net.biases, X.astype(np.float64), onehot(y))
    assert len(got) == 2 and all(len(r) == 6 for r in got)
    for g, w in zip(got, want[:-1]):
        np.testing.assert_allclose(g, w[:6], rtol=1e-10, atol=1e-15)
    diag.validate_neuron_values(got)


def test_speed_history_against_a_reference_loop(probe):
    """Full-batch descent with the reference, speeds measured before each epoch."""
    X, y = probe
    X, y = X[:300], y[:300]
    sizes, epochs, seed = [784, 30, 30, 30, 10], 6, 5
    got = diag.speed_history(sizes, X, y, epochs, seed)
    net = diag.make_network(sizes, seed)
    W, B = net.weights, net.biases
    X64, Y = X.astype(np.float64), onehot(y)
    want = []
    for _ in range(epochs):
        want.append(ref.layer_speeds(W, B, X64, Y)[:-1])
        W, B = ref.update_mini_batch(W, B, X64, Y, 0.1, 5.0, len(X))
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert got[0] == pytest.approx(diag.initial_speeds(sizes, X, y, seed), rel=1e-12)


def test_fused_and_probe_speeds_coincide_for_full_batch_descent(probe):
    X, y = probe
    X, y = X[:500], y[:500]
    a = diag.speed_history([784, 30, 30, 10], X, y, 8, 1, method="probe")
    b = diag.speed_history([784, 30, 30, 10], X, y, 8, 1, method="fused")
    np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match="full-batch"):
        diag.speed_history([784, 30, 10], X, y, 2, 1, mini_batch_size=10, method="fused")
    with pytest.raises(ValueError, match="method"):
        diag.speed_history([784, 30, 10], X, y, 2, 1, method="bogus")


def test_mini_batch_probe_history(probe):
    """With mini-batches the probe measure is used, still one entry per epoch."""
    X, y = probe
    h = diag.speed_history([784, 30, 30, 10], X[:200], y[:200], 3, 0, mini_batch_size=50)
    assert len(h) == 3 and all(len(r) == 2 for r in h)
    diag.validate_speed_history(h)


def test_speed_ratios_and_best_accuracies():
    assert diag.speed_ratios([[0.01, 0.5], [0.1, 0.2]]) == [50.0, 2.0]
    assert diag.speed_ratios([[0.0, 0.5]]) == [math.inf]
    assert diag.best_accuracies([[9000, 9650, 9600], [5, 6, 7]], 10000) == [96.5, 0.07]


def test_mean_std_and_welch():
    assert diag.mean_std([1.0]) == (1.0, None)
    m, s = diag.mean_std([1.0, 2.0, 3.0])
    assert m == 2.0 and s == 1.0
    a, b = [96.1, 96.4, 96.3, 96.2], [96.9, 96.6, 96.8, 97.0, 96.7]
    w = diag.welch_test(a, b)
    t, p = stats.ttest_ind(a, b, equal_var=False)
    assert w["t"] == pytest.approx(t) and w["p"] == pytest.approx(p)
    assert w["n_a"] == 4 and w["n_b"] == 5
    one = diag.welch_test([96.0], [96.5, 96.7])
    assert one["p"] is None and ">= 2 seeds" in one["note"]
    flat = diag.welch_test([96.0, 96.0], [96.0, 96.0])
    assert flat["p"] is None and "variance" in flat["note"]


def test_book_values_are_the_specs():
    assert diag.BOOK_INITIAL_SPEEDS == {2: [0.07, 0.31], 3: [0.012, 0.060, 0.283],
                                        4: [0.003, 0.017, 0.070, 0.285]}
    assert diag.BOOK_BEST_ACCURACY == {1: 96.48, 2: 96.90, 3: 96.57, 4: 96.53}
    assert diag.hidden_sizes(3) == [784, 30, 30, 30, 10]


def test_fused_mini_batch_norms_exceed_the_probe_measure_once_trained(probe):
    """The documented difference: with m = 10, after some training, the
    per-mini-batch norms are dominated by scatter and exceed the probe set's."""
    import contextlib
    import io

    from vgcore import mnist_loader

    (X, y), _, _ = mnist_loader.load_sample()
    net = diag.make_network([784, 30, 30, 10], 0)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD((X[:2000], y[:2000]), 2, 10, 0.1, lmbda=5.0, speed_probe=probe,
                record_minibatch_speeds=True)
    probe_speeds = np.array(net.speed_history)          # (2 epochs, 2 layers)
    fused = net.minibatch_speeds.reshape(2, 200, 2)     # (epochs, batches, layers)
    assert np.all(fused[1].mean(axis=0) > 1.5 * probe_speeds[1])


def test_holm():
    assert diag.holm([0.01, None, 0.04, 0.03]) == [0.03, None, pytest.approx(0.06),
                                                  pytest.approx(0.06)]
    assert diag.holm([0.5, 0.9]) == [1.0, 1.0]
    assert diag.holm([None]) == [None]
