"""Drop-in behaviour of vgcore.network2 against the per-example oracle.

``per_example`` (in this folder) is written from SPEC.md alone, one
example at a time as the book does; vgcore must follow the same trajectory
under the same seeds, print the same lines and read/write the same JSON.
"""
import json
import os
import random
import signal
import threading

import numpy as np
import pytest

import per_example as pe
import vgcore.network2 as network2

COSTS = [("cross-entropy", network2.CrossEntropyCost), ("quadratic", network2.QuadraticCost)]


def random_data(n, n_in=20, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    labels = rng.integers(0, n_out, n)
    training = [(X[i][:, None], _onehot(labels[i], n_out)) for i in range(n)]
    evaluation = [(X[i][:, None], int(labels[i])) for i in range(n)]
    return X, labels, training, evaluation


def _onehot(j, n=10):
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


def seeded(seed=1):
    np.random.seed(seed)
    random.seed(seed + 100)


# ---------------------------------------------------------------------------
# Initialisation and API surface
# ---------------------------------------------------------------------------

def test_public_names():
    for name in ["Network", "QuadraticCost", "CrossEntropyCost", "load",
                 "vectorized_result", "sigmoid", "sigmoid_prime"]:
        assert hasattr(network2, name)
    net = network2.Network([4, 3, 2])
    assert net.num_layers == 3 and net.sizes == [4, 3, 2]
    assert net.cost is network2.CrossEntropyCost


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 30, 30, 30, 30, 10], [1, 1, 1, 1]])
def test_initial_parameters_are_bit_identical(sizes):
    seeded(7)
    net = network2.Network(sizes)
    seeded(7)
    W, B = pe.init(sizes)
    for a, b in zip(net.weights + net.biases, W + B):
        assert a.dtype == np.float64 and a.shape == b.shape
        assert np.array_equal(a, b)


def test_large_weight_initializer():
    np.random.seed(3)
    net = network2.Network([5, 4, 2])
    np.random.seed(11)
    net.large_weight_initializer()
    np.random.seed(11)
    b = [np.random.randn(4, 1), np.random.randn(2, 1)]
    w = [np.random.randn(4, 5), np.random.randn(2, 4)]
    assert all(np.array_equal(x, y) for x, y in zip(net.biases + net.weights, b + w))


def test_vectorized_result_and_sigmoid():
    e = network2.vectorized_result(3)
    assert e.shape == (10, 1) and e[3, 0] == 1.0 and e.sum() == 1.0
    z = np.array([-800.0, -2.0, 0.0, 3.0, 800.0])
    s = network2.sigmoid(z)
    assert np.allclose(s[1:4], 1 / (1 + np.exp(-z[1:4])), rtol=1e-15, atol=0)
    assert s[0] == 0.0 or s[0] < 1e-300
    assert s[-1] == 1.0
    assert network2.sigmoid_prime(0.0) == 0.25


def test_feedforward_and_backprop_match_per_example():
    seeded(2)
    net = network2.Network([6, 5, 4, 3], cost=network2.QuadraticCost)
    x = np.linspace(-1, 1, 6)[:, None]
    y = np.array([[0.0], [1.0], [0.0]])
    out = net.feedforward(x)
    assert out.shape == (3, 1)
    np.testing.assert_allclose(out, pe.feedforward(net.weights, net.biases, x), rtol=1e-14)
    nb, nw = net.backprop(x, y)
    eb, ew = pe.backprop(net.weights, net.biases, x, y, "quadratic")
    for a, b in zip(nb + nw, eb + ew):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# Training trajectory
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("costname,cost", COSTS)
def test_sgd_trajectory_matches_per_example_on_random_data(costname, cost):
    _, _, training, evaluation = random_data(83)
    mine, theirs = list(training), list(training)   # each shuffles its own in place
    seeded(5)
    net = network2.Network([20, 8, 6, 10], cost=cost)
    net.SGD(mine, 3, 7, 0.8, lmbda=3.0)
    seeded(5)
    W, B = pe.init([20, 8, 6, 10])
    W, B = pe.sgd(W, B, theirs, 3, 7, 0.8, 3.0, costname)
    for a, b in zip(net.weights + net.biases, W + B):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("costname,cost", COSTS)
def test_sgd_parity_on_mnist(mnist_train, costname, cost):
    """The issue's acceptance test: 5,000 images, [784,30,30,10], 2 epochs."""
    X, labels = mnist_train
    X, labels = X[:5000], labels[:5000]
    training = [(X[i].reshape(784, 1), _onehot(labels[i])) for i in range(5000)]
    validation = [(X[i].reshape(784, 1), int(labels[i])) for i in range(1000)]
    seeded(12)
    net = network2.Network([784, 30, 30, 10], cost=cost)
    net.SGD(list(training), 2, 10, 0.1, lmbda=5.0)
    seeded(12)
    W, B = pe.init([784, 30, 30, 10])
    W, B = pe.sgd(W, B, list(training), 2, 10, 0.1, 5.0, costname)
    for a, b in zip(net.weights + net.biases, W + B):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert net.accuracy(training, convert=True) == pe.accuracy(W, B, training, True)
    assert net.accuracy(validation) == pe.accuracy(W, B, validation, False)
    np.testing.assert_allclose(net.total_cost(training, 5.0),
                               pe.total_cost(W, B, training, 5.0, costname, False), rtol=1e-12)
    np.testing.assert_allclose(net.total_cost(validation, 5.0, convert=True),
                               pe.total_cost(W, B, validation, 5.0, costname, True), rtol=1e-12)


@pytest.mark.parametrize("costname,cost", COSTS)
def test_soft_targets_follow_the_per_example_trajectory(costname, cost, monkeypatch):
    """Targets that are not one-hot reach the kernels as the rows of Y,
    exact one-hot ones as their labels (fewer cache misses, same numbers):
    both follow the per-example oracle."""
    from vgcore.core import kernels
    seen = []
    real = kernels.sgd_epoch

    def spy(W, B, X, Y, *args, **kw):
        seen.append(np.ndim(Y))
        return real(W, B, X, Y, *args, **kw)
    monkeypatch.setattr(kernels, "sgd_epoch", spy)
    X, labels, onehot, _ = random_data(41)
    rng = np.random.default_rng(4)
    soft = [(x, rng.dirichlet(np.ones(10))[:, None]) for x, _ in onehot]
    for data, ndim in ((soft, 2), (onehot, 1)):
        seen.clear()
        seeded(3)
        net = network2.Network([20, 7, 10], cost=cost)
        net.SGD(list(data), 2, 6, 0.7, lmbda=2.0)
        seeded(3)
        W, B = pe.init([20, 7, 10])
        W, B = pe.sgd(W, B, list(data), 2, 6, 0.7, 2.0, costname)
        for a, b in zip(net.weights + net.biases, W + B):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        assert seen == [ndim, ndim]


def test_training_data_forms_give_the_same_trajectory():
    X, labels, training, _ = random_data(50)
    keep = list(training)
    results = []
    for data in (list(training), zip(*zip(*training)), iter(training), (X, labels),
                 (X, np.eye(10)[labels]), tuple(training)):
        seeded(9)
        net = network2.Network([20, 5, 10])
        net.SGD(data, 2, 6, 0.5, lmbda=1.0)
        results.append(net.weights + net.biases)
    for r in results[1:]:
        for a, b in zip(results[0], r):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    # a zip, an iterator or a tuple is copied (as the Python 3 ports do): the
    # pairs it came from are not reordered
    assert all(a is b for a, b in zip(training, keep))


def test_sgd_never_writes_to_callers_arrays():
    _, _, training, _ = random_data(30)
    seeded(1)
    net = network2.Network([20, 4, 10])
    w0 = net.weights[0]
    before = w0.copy()
    net.SGD(training, 1, 5, 1.0)
    assert np.array_equal(w0, before)
    assert not np.array_equal(net.weights[0], before)


def test_update_mini_batch_matches_per_example():
    _, _, training, _ = random_data(9)
    seeded(4)
    net = network2.Network([20, 7, 10])
    W, B = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    net.update_mini_batch(training, 0.3, 2.0, 100)
    W, B = pe.update(W, B, training, 0.3, 2.0, 100, "cross-entropy")
    for a, b in zip(net.weights + net.biases, W + B):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


class MyCrossEntropy:
    """A user-defined cost: the cross-entropy written by hand, column by column."""

    @staticmethod
    def fn(a, y):
        assert a.shape == y.shape and a.shape[1] == 1
        return float(np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        assert a.shape[1] == 1
        return a - y


def test_custom_cost_class_trains_like_the_builtin():
    _, _, training, evaluation = random_data(40)
    out = []
    for cost in (network2.CrossEntropyCost, MyCrossEntropy):
        seeded(3)
        net = network2.Network([20, 6, 10], cost=cost)
        r = net.SGD(list(training), 2, 8, 0.5, lmbda=1.0, evaluation_data=evaluation,
                    monitor_evaluation_cost=True, monitor_training_accuracy=True)
        out.append((net, r))
    (a, ra), (b, rb) = out
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ra[0], rb[0], rtol=1e-12)
    assert ra[3] == rb[3]


# ---------------------------------------------------------------------------
# Monitoring, printed lines, early stopping
# ---------------------------------------------------------------------------

def test_printed_lines_and_return_values(capsys):
    _, _, training, evaluation = random_data(60)
    seeded(8)
    net = network2.Network([20, 6, 10])
    ec, ea, tc, ta = net.SGD(training, 2, 10, 0.5, lmbda=1.0, evaluation_data=evaluation[:25],
                             monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                             monitor_training_cost=True, monitor_training_accuracy=True)
    lines = capsys.readouterr().out.split("\n")
    expected = []
    for j in range(2):
        expected += [f"Epoch {j} training complete",
                     f"Cost on training data: {tc[j]}",
                     f"Accuracy on training data: {ta[j]} / 60",
                     f"Cost on evaluation data: {ec[j]}",
                     f"Accuracy on evaluation data: {ea[j]} / 25",
                     ""]
    assert lines == expected + [""]
    assert all(type(a) is int for a in ea + ta)
    # the monitored values are the network's own evaluation at the end of each epoch
    assert ta[-1] == net.accuracy(training, convert=True)
    assert ea[-1] == net.accuracy(evaluation[:25])
    np.testing.assert_allclose(tc[-1], net.total_cost(training, 1.0), rtol=1e-14)
    np.testing.assert_allclose(ec[-1], net.total_cost(evaluation[:25], 1.0, convert=True),
                               rtol=1e-14)
    W, B = net.weights, net.biases
    np.testing.assert_allclose(tc[-1], pe.total_cost(W, B, training, 1.0, "cross-entropy", False),
                               rtol=1e-12)


def test_unmonitored_lists_are_empty(capsys):
    _, _, training, _ = random_data(20)
    net = network2.Network([20, 3, 10])
    assert net.SGD(training, 1, 5, 0.1) == ([], [], [], [])
    assert capsys.readouterr().out == "Epoch 0 training complete\n\n"


def test_early_stopping_stops_after_n_epochs_without_improvement(capsys):
    _, _, training, evaluation = random_data(40)
    seeded(2)
    net = network2.Network([20, 3, 10])
    # eta = 0 never changes the network: accuracy never improves after epoch 0
    r = net.SGD(training, 50, 10, 0.0, evaluation_data=evaluation,
                monitor_evaluation_accuracy=True, early_stopping_n=3)
    assert len(r[1]) == 4
    assert capsys.readouterr().out.count("training complete") == 4


# ---------------------------------------------------------------------------
# Stable cost
# ---------------------------------------------------------------------------

def test_total_cost_is_finite_and_exact_for_saturated_outputs():
    net = network2.Network([1, 2])
    net.weights = [np.array([[1000.0], [-1000.0]])]
    net.biases = [np.zeros((2, 1))]
    # output 0 saturates at 1 with target 0, output 1 at 0 with target 0
    c = net.total_cost([(np.array([[1.0]]), np.array([[0.0], [0.0]]))], 0.0)
    assert np.isfinite(c)
    np.testing.assert_allclose(c, 1000.0, rtol=1e-15)  # softplus(1000) + softplus(-1000)
    net.cost = network2.QuadraticCost
    c = net.total_cost([(np.array([[1.0]]), np.array([[0.0], [0.0]]))], 0.0)
    assert c == 0.5


# ---------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------

def test_save_writes_network2_json_and_load_reads_it(tmp_path):
    seeded(6)
    net = network2.Network([5, 4, 3], cost=network2.QuadraticCost)
    f = tmp_path / "net.json"
    net.save(str(f))
    data = json.loads(f.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"}
    assert data["sizes"] == [5, 4, 3] and data["cost"] == "QuadraticCost"
    assert np.array(data["biases"][0]).shape == (4, 1)
    assert data["weights"][1] == net.weights[1].tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]
    # load constructs a Network first (drawing from numpy's RNG) as network2 does
    np.random.seed(0)
    loaded = network2.load(str(f))
    after_load = np.random.rand()
    np.random.seed(0)
    network2.Network([5, 4, 3])
    assert np.random.rand() == after_load
    assert loaded.cost is network2.QuadraticCost
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        assert np.array_equal(a, b)


def test_load_reads_a_file_written_by_network2(tmp_path):
    """A file in network2's exact format (json.dump of tolist()s)."""
    rng = np.random.default_rng(1)
    w = [rng.standard_normal((3, 2)), rng.standard_normal((1, 3))]
    b = [rng.standard_normal((3, 1)), rng.standard_normal((1, 1))]
    f = tmp_path / "n2.json"
    with open(f, "w") as fh:
        json.dump({"sizes": [2, 3, 1], "weights": [x.tolist() for x in w],
                   "biases": [x.tolist() for x in b], "cost": "CrossEntropyCost"}, fh)
    net = network2.load(str(f))
    x = np.array([[0.3], [-0.2]])
    np.testing.assert_allclose(net.feedforward(x), pe.feedforward(w, b, x), rtol=1e-15)


@pytest.mark.parametrize("content,match", [
    ("not json", "not a network2 JSON"),
    ('{"sizes": [2, 1], "weights": [], "biases": []}', "missing keys"),
    ('{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "os.system"}',
     "unknown cost"),
    ('{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
     "weights\\[0\\] must have shape"),
    ('{"sizes": [2, 1], "weights": [[[1], [2, 3]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
     "bad parameters"),
    ('{"sizes": [2, -1], "weights": [], "biases": [], "cost": "QuadraticCost"}', "bad sizes"),
])
def test_load_rejects_malformed_files(tmp_path, content, match):
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(ValueError, match=match):
        network2.load(str(f))


# ---------------------------------------------------------------------------
# Learning speed
# ---------------------------------------------------------------------------

def test_learning_speeds_match_per_example_average():
    _, _, training, _ = random_data(30)
    seeded(4)
    net = network2.Network([20, 6, 5, 10])
    sums = [np.zeros((n, 1)) for n in (6, 5, 10)]
    for x, y in training:
        nb, _ = pe.backprop(net.weights, net.biases, x, y, "cross-entropy")
        sums = [s + g for s, g in zip(sums, nb)]
    mean = [s[:, 0] / 30 for s in sums]
    got = net.mean_nabla_b(training)
    for a, b in zip(got, mean):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(net.learning_speeds(training),
                               [np.linalg.norm(mean[0]), np.linalg.norm(mean[1])], rtol=1e-12)


def test_speed_probe_records_the_start_of_each_epoch():
    X, labels, training, _ = random_data(40)
    seeded(4)
    net = network2.Network([20, 6, 5, 10])
    first = net.learning_speeds((X, labels))
    net.SGD((X, labels), 3, 40, 0.5, lmbda=1.0, speed_probe=(X, labels),
            record_minibatch_speeds=True)
    assert len(net.speed_history) == 3
    assert net.speed_history[0] == first
    # full batch: the mini-batch norm at each step is the probe's norm at that step
    np.testing.assert_allclose(net.minibatch_speeds, np.array(net.speed_history), rtol=1e-12)


# ---------------------------------------------------------------------------
# float32 and Ctrl-C
# ---------------------------------------------------------------------------

def test_float32_network_follows_float64_closely():
    X, labels, _, _ = random_data(100)
    nets = []
    for dtype in (np.float64, np.float32):
        seeded(1)
        net = network2.Network([20, 10, 10], dtype=dtype)
        net.SGD((X, labels), 2, 10, 0.5, lmbda=1.0)
        nets.append(net)
    assert nets[1].weights[0].dtype == np.float32
    for a, b in zip(nets[0].weights, nets[1].weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


def test_ctrl_c_stops_training_between_mini_batches():
    rng = np.random.default_rng(0)
    X = rng.random((20000, 50))
    labels = rng.integers(0, 10, 20000)
    net = network2.Network([50, 40, 10])
    # A process started with SIGINT ignored (a background job of a
    # non-interactive shell) never sees Ctrl-C: give it Python's handler.
    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.SGD((X, labels), 100000, 10, 0.1)  # would take hours
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old_handler)
    assert all(np.all(np.isfinite(w)) for w in net.weights)
    assert net.accuracy((X, labels)) >= 0
