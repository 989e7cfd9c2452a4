"""Drop-in gaps that real network2 scripts hit (issue 14), against per_example.

``per_example`` (in this folder) is the independent network2 written from
SPEC.md: a list is shuffled in place, a zip copied first.  Here: cost
instances, two ``SGD`` calls on one list, the list converted once and
reused only while that is safe, network2's return types, the small-call
paths (one example, a few) against the general path and the oracle --
including parameters changed in place between calls -- and ``total_cost``
with huge weights and ``lmbda = 0``.
"""
import contextlib
import io
import json
import random

import numpy as np
import pytest

import per_example as pe
import vgcore.network2 as network2
from vgcore import mnist_loader
from vgcore.core import datasets, kernels
from vgcore.errors import NonFiniteError

COSTS = [("cross-entropy", network2.CrossEntropyCost), ("quadratic", network2.QuadraticCost)]


def pairs(n, n_in=20, n_out=10, seed=0, labels=False, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in)).astype(dtype)
    lab = rng.integers(0, n_out, n)
    if labels:
        return [(X[i][:, None], int(lab[i])) for i in range(n)]
    return [(X[i][:, None], np.eye(n_out)[lab[i]][:, None]) for i in range(n)]


def seeded(seed):
    np.random.seed(seed)
    random.seed(seed + 100)


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def close(got, want, atol=1e-12):
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


# ---------------------------------------------------------------------------
# 1. Cost instances
# ---------------------------------------------------------------------------

class CountingCost:
    """A cost with instance state (network2 calls fn and delta through the
    object it was given, so bound methods work there too)."""

    def __init__(self):
        self.deltas = 0

    def fn(self, a, y):
        return float(np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    def delta(self, z, a, y):
        self.deltas += 1
        return a - y


@pytest.mark.parametrize("costname,cost", COSTS)
def test_an_instance_of_a_cost_class_trains_as_the_class(costname, cost, tmp_path):
    data = pairs(45)
    seeded(3)
    net = network2.Network([20, 7, 10], cost=cost())
    assert isinstance(net.cost, cost), "the cost is kept as given"
    with quiet():
        net.SGD(list(data), 2, 6, 0.6, lmbda=1.5)
    seeded(3)
    W, B = pe.init([20, 7, 10])
    W, B = pe.sgd(W, B, list(data), 2, 6, 0.6, 1.5, costname)
    close(net.weights + net.biases, W + B)
    x, y = data[0]
    close(net.backprop(x, y)[1], pe.backprop(W, B, x, y, costname)[1])
    np.testing.assert_allclose(net.total_cost(data, 1.5),
                               pe.total_cost(W, B, data, 1.5, costname, False), rtol=1e-12)
    assert net.accuracy(data, convert=True) == pe.accuracy(W, B, data, True)
    # saved under the class's name, as network2's JSON has it; loads as the class
    net.save(tmp_path / "n.json")
    assert json.loads((tmp_path / "n.json").read_text())["cost"] == cost.__name__
    assert network2.load(tmp_path / "n.json").cost is cost


def test_an_instance_of_ones_own_cost_class_is_called_through_the_instance():
    data = pairs(24)
    cost = CountingCost()
    seeded(5)
    net = network2.Network([20, 6, 10], cost=cost)
    with quiet():
        net.SGD(list(data), 1, 4, 0.5)
    assert cost.deltas == 24, "delta was not called through the instance"
    seeded(5)
    W, B = pe.init([20, 6, 10])
    W, B = pe.sgd(W, B, list(data), 1, 4, 0.5, 0.0, "cross-entropy")
    close(net.weights + net.biases, W + B)
    assert net.total_cost(data, 0.0) > 0


def test_a_builtin_cost_instance_with_its_own_fn_is_not_taken_for_the_builtin():
    """An instance whose ``delta`` was replaced is that cost, not the kernels'."""
    cost = network2.CrossEntropyCost()
    cost.delta = lambda z, a, y: 2 * (a - y)
    data = pairs(12)
    seeded(1)
    net = network2.Network([20, 5, 10], cost=cost)
    seeded(1)
    ref = network2.Network([20, 5, 10])
    x, y = data[0]
    got, want = net.backprop(x, y), ref.backprop(x, y)
    close(got[0] + got[1], [2 * g for g in want[0] + want[1]], atol=1e-15)


def test_cost_instances_assigned_later_work_at_every_entry_point(tmp_path):
    net = network2.Network([20, 5, 10])
    net.cost = network2.QuadraticCost()
    data = pairs(10)
    x, y = data[0]
    net.feedforward(x)
    net.backprop(x, y)
    with quiet():
        net.SGD(list(data), 1, 5, 0.1)
    net.update_mini_batch(data[:3], 0.1, 0.0, 10)
    net.accuracy(data, convert=True)
    net.total_cost(data, 0.1)
    net.learning_speeds(data)
    net.save(tmp_path / "q.json")
    assert network2.load(tmp_path / "q.json").cost is network2.QuadraticCost


# ---------------------------------------------------------------------------
# 2. The caller's list is shuffled in place, as network2 does
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [60, 300])     # below and above the conversion cache's size
@pytest.mark.parametrize("costname,cost", COSTS)
def test_two_sgd_calls_on_one_list_follow_network2(n, costname, cost):
    mine, theirs = pairs(n), None
    theirs = list(mine)
    seeded(7)
    net = network2.Network([20, 8, 10], cost=cost)
    with quiet():
        net.SGD(mine, 2, 10, 0.5, lmbda=1.0)
        net.SGD(mine, 1, 7, 0.3, lmbda=1.0)
    seeded(7)
    W, B = pe.init([20, 8, 10])
    W, B = pe.sgd(W, B, theirs, 2, 10, 0.5, 1.0, costname)
    W, B = pe.sgd(W, B, theirs, 1, 7, 0.3, 1.0, costname)
    close(net.weights + net.biases, W + B)
    # the caller's list is in network2's order, pair for pair
    assert all(a is b for a, b in zip(mine, theirs))
    assert sorted(map(id, mine)) != [id(p) for p in mine] or n < 3


def test_other_iterables_are_copied_as_the_python3_ports_do():
    data = pairs(40)
    keep = list(data)
    results = []
    for form in (lambda: zip(*zip(*data)), lambda: iter(data), lambda: tuple(data),
                 lambda: list(data)):
        seeded(2)
        net = network2.Network([20, 5, 10])
        with quiet():
            net.SGD(form(), 2, 8, 0.5)
        results.append(net.weights + net.biases)
    seeded(2)
    W, B = pe.init([20, 5, 10])
    W, B = pe.sgd(W, B, zip(*zip(*data)), 2, 8, 0.5, 0.0, "cross-entropy")
    for r in results:
        close(r, W + B)
    assert all(a is b for a, b in zip(data, keep)), "the pairs' source was reordered"


def test_every_epoch_run_shuffles_the_list_once_full_batch_and_early_stopping_too(capsys):
    data = pairs(30, labels=False)
    evaluation = pairs(30, labels=True, seed=1)
    for kwargs, epochs_run in ((dict(), 3),
                               (dict(mini_batch_size=100), 3),     # full batch
                               (dict(eta=0.0, early_stopping_n=1,
                                     evaluation_data=evaluation), 2)):
        mine, theirs = list(data), list(data)
        args = dict(mini_batch_size=5, eta=0.5)
        args.update(kwargs)
        seeded(4)
        net = network2.Network([20, 5, 10])
        net.SGD(mine, 3, args.pop("mini_batch_size"), args.pop("eta"), **args)
        random.seed(104)
        for _ in range(epochs_run):
            random.shuffle(theirs)
        assert all(a is b for a, b in zip(mine, theirs)), kwargs


def sgd_edit_sgd(mine, theirs, edit, eta, seed=8):
    """One epoch of SGD on ``mine``, ``edit(mine)``, one more; the same on
    ``theirs`` through per_example; the two must end equal."""
    seeded(seed)
    net = network2.Network([20, 6, 10])
    with quiet():
        net.SGD(mine, 1, 10, eta)
        edit(mine)
        net.SGD(mine, 1, 10, eta)
    seeded(seed)
    W, B = pe.init([20, 6, 10])
    W, B = pe.sgd(W, B, theirs, 1, 10, eta, 0.0, "cross-entropy")
    edit(theirs)
    W, B = pe.sgd(W, B, theirs, 1, 10, eta, 0.0, "cross-entropy")
    close(net.weights + net.biases, W + B)
    return mine, theirs


def test_a_list_reordered_or_changed_between_calls_trains_on_what_it_holds():
    """The conversion is reused only while the list holds the same pairs."""
    base = pairs(300)
    extra = pairs(5, seed=9)
    edits = [lambda l: random.Random(1).shuffle(l),          # the script shuffles it
             lambda l: l.__setitem__(7, extra[0]),           # one pair replaced
             lambda l: l.extend(extra),                      # pairs added
             lambda l: l.__delitem__(slice(0, 10)),          # pairs removed
             lambda l: l.__setitem__(3, l[4])]               # a pair duplicated
    for edit in edits:
        mine, theirs = sgd_edit_sgd(list(base), list(base), edit, 0.4)
        assert all(a is b for a, b in zip(mine, theirs))


def test_a_list_is_converted_once_while_it_holds_the_same_pairs(monkeypatch):
    calls = []
    real = datasets.as_dataset

    def counting(data, *args, **kw):
        calls.append(len(data))
        return real(data, *args, **kw)

    monkeypatch.setattr(datasets, "as_dataset", counting)
    datasets.clear_cache()
    train, val = pairs(400), pairs(300, labels=True, seed=3)
    net = network2.Network([20, 6, 10])
    with quiet():
        for _ in range(3):              # the chapter's scripts: one epoch per call
            net.SGD(train, 1, 10, 0.1, evaluation_data=val,
                    monitor_evaluation_accuracy=True)
        net.accuracy(val)
    assert calls == [400, 300]
    train[0] = pairs(1, seed=5)[0]      # a new pair: converted again
    with quiet():
        net.SGD(train, 1, 10, 0.1)
    assert calls == [400, 300, 400]
    datasets.clear_cache()
    with quiet():
        net.SGD(train, 1, 10, 0.1)
    assert calls == [400, 300, 400, 400]


@pytest.mark.parametrize("labels", [False, True])
def test_numbers_changed_in_place_between_calls_are_trained_on(labels):
    """Reuse compares the numbers too: data a script rescales in place (or a
    target it fixes) between two SGD calls are converted again."""
    base = pairs(300, labels=labels)

    def edit(data):          # the lists are in the same order after the same shuffles
        for x, _ in data:
            x *= 0.5                                  # in place: the same objects
        if not labels:
            data[7][1][:] = np.eye(10)[3][:, None]    # one target, in place

    mine = [(x.copy(), y if labels else y.copy()) for x, y in base]
    # per_example trains on one-hot targets only: the same labels, one-hot
    theirs = [(x.copy(), np.eye(10)[y][:, None] if labels else y.copy()) for x, y in base]
    sgd_edit_sgd(mine, theirs, edit, 0.3)


def test_pairs_that_are_lists_are_never_reused():
    """A mutable pair may get a new x while the list holds the same object."""
    train = [list(p) for p in pairs(300)]
    net = network2.Network([20, 6, 10])
    net2 = network2.Network([20, 6, 10])
    net2.weights = [w.copy() for w in net.weights]
    net2.biases = [b.copy() for b in net.biases]
    with quiet():
        net.SGD(train, 1, 300, 0.0)           # eta 0: only converts (and shuffles)
    train[0][0] = np.full((20, 1), 0.5)
    probe = [tuple(p) for p in train]
    assert net.total_cost(train, 0.0) == pytest.approx(net2.total_cost(probe, 0.0),
                                                       rel=1e-13)


# ---------------------------------------------------------------------------
# 6. network2's types
# ---------------------------------------------------------------------------

def test_return_types_are_network2s(capsys):
    data, labelled = pairs(40), pairs(40, labels=True)
    np.random.seed(1)
    net = network2.Network([20, 6, 10])
    ec, ea, tc, ta = net.SGD(list(data), 2, 10, 0.5, lmbda=0.5, evaluation_data=labelled,
                             monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                             monitor_training_cost=True, monitor_training_accuracy=True)
    W, B = net.weights, net.biases
    # per_example computes as network2 does: its types are network2's
    assert type(pe.total_cost(W, B, labelled, 0.5, "cross-entropy", True)) is np.float64
    assert type(pe.accuracy(W, B, labelled, False)) is int
    assert {type(c) for c in ec + tc} == {np.float64}
    assert {type(a) for a in ea + ta} == {int}
    for data_, conv in ((labelled[:3], True), (labelled, True), (data[:3], False),
                        (data, False)):
        assert type(net.total_cost(data_, 0.5, convert=conv)) is np.float64
        assert type(net.accuracy(data_, convert=not conv)) is int
    x32 = data[0][0].astype(np.float32)
    out = net.feedforward(x32)
    assert type(out) is np.ndarray and out.dtype == np.float64 and out.shape == (10, 1)
    nb, nw = net.backprop(x32, data[0][1])
    assert isinstance(net.backprop(x32, 3), tuple)
    assert all(type(g) is np.ndarray and g.dtype == np.float64 for g in nb + nw)
    a, y, z = out, data[0][1], np.linspace(-2, 2, 10)[:, None]
    for cost in (network2.CrossEntropyCost, network2.QuadraticCost):
        assert type(cost.fn(a, y)) is np.float64
        assert type(cost.delta(z, a, y)) is np.ndarray
    assert type(network2.sigmoid(0.5)) is np.float64            # 1/(1+np.exp(-0.5))
    assert type(network2.sigmoid_prime(0.0)) is np.float64
    assert type(network2.sigmoid(np.zeros((2, 1)))) is np.ndarray
    assert type(network2.vectorized_result(3)) is np.ndarray


def test_loader_items_have_network2s_types():
    tr, va, te = mnist_loader.load_data_wrapper(sample=True)
    x, y = tr[0]
    assert x.dtype == np.float32 and x.shape == (784, 1)
    assert y.dtype == np.float64 and y.shape == (10, 1)
    for split in (va, te):
        x, y = split[0]
        assert x.dtype == np.float32 and x.shape == (784, 1)
        # network2 zips the label array: numpy int64 scalars, not Python ints
        assert type(y) is np.int64
        assert {type(p[1]) for p in split} == {np.int64}
    (X, labels), _, _ = mnist_loader.load_data(sample=True)
    assert X.dtype == np.float32 and labels.dtype == np.int64


def test_cost_functions_give_network2s_numbers_bit_for_bit():
    """fn keeps network2's expression: the same bits, warnings and all."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        a, y = rng.random((10, 1)), rng.random((10, 1))
        want_ce = np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))
        assert network2.CrossEntropyCost.fn(a, y) == want_ce
        assert network2.QuadraticCost.fn(a, y) == 0.5 * np.linalg.norm(a - y) ** 2
    a = np.array([[0.0], [1.0], [0.3]])
    y = np.array([[0.0], [1.0], [1.0]])          # nan_to_num's 0 * log(0) cases
    with np.errstate(all="ignore"):
        want = np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))
        assert network2.CrossEntropyCost.fn(a, y) == want
        assert network2.CrossEntropyCost.fn(a, 1 - y) == np.sum(
            np.nan_to_num(-(1 - y) * np.log(a) - y * np.log(1 - a)))   # 1.8e308 terms


# ---------------------------------------------------------------------------
# 3. The small-call paths
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("costname,cost", COSTS)
def test_one_example_matches_per_example(costname, cost, dtype):
    seeded(11)
    net = network2.Network([20, 9, 7, 10], cost=cost, dtype=dtype)
    W64 = [w.astype(np.float64) for w in net.weights]
    B64 = [b.astype(np.float64) for b in net.biases]
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for x, y in pairs(6, dtype=np.float32) + pairs(6, seed=2):
        want_out = pe.feedforward(W64, B64, x.astype(np.float64))
        for form in (x, x[:, 0], np.asfortranarray(x), x.astype(np.float64)):
            out = net.feedforward(form)
            assert out.dtype == dtype
            np.testing.assert_allclose(out.reshape(-1, 1), want_out, rtol=tol, atol=tol)
        eb, ew = pe.backprop(W64, B64, x.astype(np.float64), y, costname)
        for target in (y, y[:, 0], int(np.argmax(y)), np.int64(np.argmax(y))):
            nb, nw = net.backprop(x, target)
            assert [g.shape for g in nb] == [b.shape for b in net.biases]
            assert [g.dtype for g in nb + nw] == [dtype] * 6
            close(nb + nw, eb + ew, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_small_kernels_sigmoid_matches_the_reference_over_the_whole_range(dtype):
    from vgcore import _small
    from vgcore.core import reference
    z = np.concatenate([np.linspace(-800, 800, 20_001), np.linspace(-40, 40, 10_001),
                        [0.0, -0.0, 1e-300, -1e-300, 708, -708, -745, -746, -1e4, 1e4]])
    z = z.astype(dtype)
    w, b = [np.ones((1, 1), dtype)], [np.zeros((1, 1), dtype)]
    out = _small.forward(w, b, [1, 1], dtype, z[:, None])[:, 0]
    want = reference.sigmoid(z)
    tiny = np.finfo(dtype).tiny
    ulps = np.abs(out - want) / np.maximum(np.abs(want), tiny) / np.finfo(dtype).eps
    assert ulps.max() <= 4, f"sigmoid off by {ulps.max():.2f} ulp"
    for bad in (np.inf, -np.inf, np.nan):         # a non-finite z: the caller checks all
        assert _small.forward(w, b, [1, 1], dtype, np.array([[bad]], dtype)) is None


def test_one_column_of_the_wrong_height_is_refused_not_read_as_rows():
    """With one input, a (2, 1) array is two inputs too many, not two
    examples (found by the fuzz tests: the small kernels take rows too)."""
    net = network2.Network([1, 3, 2])
    for a in (np.zeros((2, 1)), np.zeros(2)):
        with pytest.raises(ValueError, match="must be a \\(1, 1\\) column"):
            net.feedforward(a)
    with pytest.raises(ValueError, match="\\(1, 1\\) column"):
        net.backprop(np.zeros((2, 1)), 0)


def test_the_small_calls_never_reach_the_batch_kernels(monkeypatch):
    def refuse(*args, **kw):
        raise AssertionError("a small call reached vgcore.kernels")

    for name in ("feedforward", "backprop", "evaluate", "mean_nabla_b", "sgd_epoch"):
        monkeypatch.setattr(kernels, name, refuse)
    net = network2.Network([20, 5, 10])
    few, labelled = pairs(8), pairs(8, labels=True)
    x, y = few[0]
    net.feedforward(x)
    net.backprop(x, y)
    net.accuracy(labelled)
    net.accuracy(few, convert=True)
    net.total_cost(few, 1.0)
    net.total_cost(labelled, 1.0, convert=True)
    net.update_mini_batch(few, 0.5, 1.0, 100)
    net.update_mini_batch(labelled, 0.5, 1.0, 100)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("costname,cost", COSTS)
@pytest.mark.parametrize("m", [1, 10, 32, 33])
def test_update_mini_batch_matches_per_example(costname, cost, dtype, m):
    """Small mini-batches go to the small kernels, larger ones to the batch
    kernels: both are network2's step."""
    tol = 1e-13 if dtype == np.float64 else 2e-5
    for batch in (pairs(m, seed=m), pairs(m, seed=m, labels=True),
                  pairs(m, seed=m, dtype=np.float32)):
        seeded(9)
        net = network2.Network([20, 8, 6, 10], cost=cost, dtype=dtype)
        W = [w.astype(np.float64) for w in net.weights]
        B = [b.astype(np.float64) for b in net.biases]
        given = list(net.weights)
        saved = [w.copy() for w in given]
        net.update_mini_batch(batch, 0.7, 3.0, 50)
        oh = [(x.astype(np.float64), y if np.ndim(y) else np.eye(10)[y][:, None])
              for x, y in batch]
        W, B = pe.update(W, B, oh, 0.7, 3.0, 50, costname)
        assert [w.dtype for w in net.weights] == [dtype] * 3
        close(net.weights + net.biases, W + B, atol=tol)
        # new arrays, as network2 makes; the old ones are not written to
        assert net.weights[0] is not given[0]
        assert all(np.array_equal(g, c) for g, c in zip(given, saved))


@pytest.mark.parametrize("n", [1, 5, 32, 33, 200])
def test_a_few_examples_give_what_the_general_path_gives(n):
    seeded(6)
    net = network2.Network([20, 8, 10])
    labelled, onehot = pairs(n, labels=True, seed=n), pairs(n, seed=n)
    X = np.array([x[:, 0] for x, _ in labelled])
    lab = np.array([y for _, y in labelled])
    W, B = net.weights, net.biases
    assert net.accuracy(labelled) == pe.accuracy(W, B, labelled, False)
    assert net.accuracy(onehot, convert=True) == pe.accuracy(W, B, onehot, True)
    assert net.accuracy((X, lab)) == pe.accuracy(W, B, labelled, False)
    for lmbda in (0.0, 2.5):
        want = pe.total_cost(W, B, labelled, lmbda, "cross-entropy", True)
        for data in (labelled, (X, lab), (X, np.eye(10)[lab])):
            np.testing.assert_allclose(net.total_cost(data, lmbda, convert=True), want,
                                       rtol=1e-12)


BREAKS = {
    "a NaN weight": (lambda n: n.weights[0].__setitem__((1, 3), np.nan), "weights\\[0\\]"),
    "an infinite weight": (lambda n: n.weights[1].__setitem__((0, 0), -np.inf),
                           "weights\\[1\\]"),
    "an infinite bias": (lambda n: n.biases[1].__setitem__((2, 0), np.inf),
                         "biases\\[1\\]"),
    "a NaN bias": (lambda n: n.biases[0].__setitem__((0, 0), np.nan), "biases\\[0\\]"),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_parameters_changed_in_place_after_a_call_are_still_caught(case):
    """Nothing is cached: a NaN or infinity put into net.weights in place
    after the network was used is found by the very next call -- even where
    the input is 0 in that column (the BLAS computes every product)."""
    breaker, where = BREAKS[case]
    data = pairs(4, labels=True)
    x = data[0][0].copy()
    x[3] = 0.0                           # the broken weight's column meets a zero
    calls = {"feedforward": lambda n: n.feedforward(x),
             "backprop": lambda n: n.backprop(x, 1),
             "accuracy": lambda n: n.accuracy(data),
             "total_cost": lambda n: n.total_cost(data, 0.0, convert=True),
             "update_mini_batch": lambda n: n.update_mini_batch([(x, 1)], 0.1, 0.0, 10)}
    for name, call in calls.items():
        seeded(2)
        net = network2.Network([20, 6, 10])
        call(net)                        # used once: nothing is remembered from it
        breaker(net)
        before = [a.copy() for a in net.weights + net.biases]
        with pytest.raises(NonFiniteError, match=f"net.{where} contains NaN or infinity"):
            call(net)
        for a, b in zip(net.weights + net.biases, before):
            np.testing.assert_array_equal(a, b)      # and nothing was trained


def test_parameters_replaced_after_a_call_are_used_and_checked():
    seeded(3)
    net = network2.Network([20, 6, 10])
    x, y = pairs(1)[0]
    net.feedforward(x)
    for layout in (np.asfortranarray, lambda w: w.astype(np.float32), lambda w: w.tolist()):
        saved = [w.copy() for w in net.weights]
        net.weights = [layout(w) for w in saved]
        np.testing.assert_allclose(net.feedforward(x), pe.feedforward(saved, net.biases, x),
                                   rtol=1e-6 if layout is not np.asfortranarray else 1e-14)
        net.weights = saved
    net.weights[0] = net.weights[0][:, :5]
    with pytest.raises(ValueError, match="net.weights\\[0\\] must have shape \\(6, 20\\)"):
        net.backprop(x, y)


# ---------------------------------------------------------------------------
# 11. total_cost with huge finite weights and lmbda = 0
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 40])      # the small and the general path
def test_total_cost_with_huge_weights_and_no_regularisation_is_finite(n):
    net = network2.Network([2, 2])
    net.weights = [np.array([[1e160, -1e160], [-1e160, 1e160]])]
    net.biases = [np.zeros((2, 1))]
    data = [(np.array([[0.0], [0.0]]), 0)] * n        # z = 0: sigma = 1/2 on both units
    cost = net.total_cost(data, 0.0, convert=True)
    assert type(cost) is np.float64
    np.testing.assert_allclose(cost, 2 * np.log(2), rtol=1e-15)
    with pytest.raises(NonFiniteError, match="total_cost: the cost is inf"):
        net.total_cost(data, 1.0, convert=True)       # sum w^2 = 4e320 does overflow
