"""``Network(activation=, init=)`` through network2's API: against the
independent per-example implementation (``per_example.py``, the activations
written from their equations), against finite differences of the cost, and
through ``save``/``load`` (network2's files unchanged with the defaults).
"""
import contextlib
import io
import json
import random

import numpy as np
import pytest

import per_example as pe
import vgcore.network2 as network2
from vgcore.core import reference as R
from vgcore.errors import NetworkFileError

ACTS = list(network2.ACTIVATIONS)
COSTS = [("cross-entropy", network2.CrossEntropyCost), ("quadratic", network2.QuadraticCost)]


def pairs(n, n_in=12, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = np.zeros((n_out, 1))
        y[rng.integers(n_out)] = 1.0
        out.append((rng.standard_normal((n_in, 1)), y))
    return out


def seeded(seed):
    np.random.seed(seed)
    random.seed(seed)


def close(got, want, tol=1e-12):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("costname,cost",
                         COSTS + [("cross-entropy", pe.MyCrossEntropy)])
def test_every_method_matches_per_example(act, costname, cost):
    """feedforward, backprop (one example and the batch path), accuracy,
    total_cost and SGD against per_example with the same activation, on the
    kernels and (a cost of one's own) the reference."""
    sizes = [12, 7, 5, 10]
    seeded(3)
    net = network2.Network(sizes, cost=cost, activation=act, init="normalized")
    W, B = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    data = pairs(40)
    for x, y in data[:3]:
        close([net.feedforward(x)], [pe.feedforward(W, B, x, act)])
        nb, nw = net.backprop(x, y)
        eb, ew = pe.backprop(W, B, x, y, costname, act)
        close(nb + nw, eb + ew)
    # many columns at once: the batch kernels' feedforward
    cols = np.hstack([x for x, _ in data])
    close([net.feedforward(cols)], [np.hstack([pe.feedforward(W, B, x, act)
                                                for x, _ in data])])
    labelled = [(x, int(np.argmax(y))) for x, y in data]
    for d in (data[:5], data, labelled):          # the small and the batch paths
        one_hot = d is not labelled
        assert net.accuracy(d, convert=one_hot) == pe.accuracy(W, B, d, one_hot, act)
        want = pe.total_cost(W, B, d, 0.7, costname, not one_hot, act)
        np.testing.assert_allclose(net.total_cost(d, 0.7, convert=not one_hot), want,
                                   rtol=1e-12)
    mine, theirs = list(data), list(data)
    seeded(5)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(mine, 2, 6, 0.3, lmbda=0.5)
    seeded(5)
    W, B = pe.sgd(W, B, theirs, 2, 6, 0.3, 0.5, costname, act)
    close(net.weights + net.biases, W + B, 1e-11)
    net.update_mini_batch(data[:3], 0.2, 0.1, 40)         # the small kernels' update
    W, B = pe.update(W, B, data[:3], 0.2, 0.1, 40, costname, act)
    close(net.weights + net.biases, W + B, 1e-11)


@pytest.mark.parametrize("act", ACTS)
def test_backprop_is_the_gradient_of_total_cost(act):
    """Central differences of network2's own total_cost (one example) against
    backprop, for every weight and bias of a small network."""
    seeded(8)
    net = network2.Network([4, 5, 3, 2], activation=act, init="normalized")
    net.biases = [b + 0.2 for b in net.biases]       # ReLU: every unit alive, off its kink
    (x, y), = pairs(1, n_in=4, n_out=2, seed=4)
    nb, nw = net.backprop(x, y)
    h = 1e-6
    for params, grads in ((net.weights, nw), (net.biases, nb)):
        for p, g in zip(params, grads):
            for i in np.ndindex(p.shape):
                keep = p[i]
                p[i] = keep + h
                up = net.total_cost([(x, y)], 0.0)
                p[i] = keep - h
                down = net.total_cost([(x, y)], 0.0)
                p[i] = keep
                assert abs((up - down) / (2 * h) - g[i]) < 1e-7 * max(1.0, abs(g[i])), (
                    act, i)


@pytest.mark.parametrize("act", ACTS)
def test_learning_speeds_honour_the_activation(act):
    seeded(2)
    net = network2.Network([12, 6, 6, 10], activation=act, init="standard")
    data = pairs(30)
    W, B = net.weights, net.biases
    want = [sum(pe.backprop(W, B, x, y, "cross-entropy", act)[0][l] for x, y in data) / 30
            for l in range(3)]
    got = net.mean_nabla_b(data)
    close(got, [w[:, 0] for w in want])
    close([net.learning_speeds(data)], [[np.linalg.norm(w) for w in want[:-1]]])


@pytest.mark.parametrize("init", list(network2.INITIALISERS))
def test_init_draws_the_references_numbers_from_numpys_generator(init):
    seeded(9)
    net = network2.Network([6, 5, 3], init=init)
    np.random.seed(9)
    W, B = R.initial_parameters([6, 5, 3], init)
    for a, b in zip(net.weights + net.biases, W + B):
        np.testing.assert_array_equal(a, b)
    assert net.init == init


def test_network2s_initialisers_still_draw_network2s_numbers():
    """network2's two initialisers draw network2's numbers (per_example.init,
    written from the book), whatever the network was built with, and set
    ``net.init``."""
    sizes = [6, 5, 3]
    np.random.seed(1)
    want_w, want_b = pe.init(sizes)
    np.random.seed(1)
    lw, lb = R.initial_parameters(sizes, "large")
    for built in (dict(), dict(activation="tanh", init="he")):
        np.random.seed(1)
        net = network2.Network(sizes, **built)
        if built:
            np.random.seed(1)
            net.default_weight_initializer()
        for a, b in zip(net.weights + net.biases, want_w + want_b):
            np.testing.assert_array_equal(a, b)
        assert net.init == "default"
        np.random.seed(1)
        net.large_weight_initializer()
        for a, b in zip(net.weights + net.biases, lw + lb):
            np.testing.assert_array_equal(a, b)
        assert net.init == "large"


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(activation="Tanh"), ValueError, "activation must be one of \\['sigmoid', 'tanh'"),
    (dict(activation="elu"), ValueError, "activation must be one of"),
    (dict(activation=None), TypeError, "activation must be one of"),
    (dict(activation=network2.sigmoid), TypeError, "activation must be one of"),
    (dict(init="xavier"), ValueError, "init must be one of \\['default', 'large', "
                                      "'standard', 'normalized', 'he'\\]"),
    (dict(init=0), TypeError, "init must be one of"),
])
def test_unknown_activation_or_init_is_refused(kwargs, err, match):
    with pytest.raises(err, match=match):
        network2.Network([3, 2, 2], **kwargs)


def test_a_bad_activation_set_on_the_network_is_named():
    net = network2.Network([3, 2, 2])
    net.activation = "gelu"
    with pytest.raises(ValueError, match="net.activation must be one of"):
        net.feedforward(np.zeros((3, 1)))


# ---------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------

def network2_save(net, filename):
    """network2's own ``Network.save``, verbatim but for Python 3's ``open``."""
    data = {"sizes": net.sizes,
            "weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases],
            "cost": str(net.cost.__name__)}
    f = open(filename, "w")
    json.dump(data, f)
    f.close()


def network2_load(filename):
    """network2's own ``load`` (as far as the file goes): what it reads."""
    with open(filename) as f:
        data = json.load(f)
    return (data["sizes"], data["cost"], [np.array(w) for w in data["weights"]],
            [np.array(b) for b in data["biases"]])


@pytest.mark.parametrize("make", [
    lambda: network2.Network([5, 4, 3]),
    lambda: network2.Network([5, 4, 3], cost=network2.QuadraticCost, init="large"),
    lambda: network2.Network([5, 4, 3], activation="sigmoid", init="default"),
])
def test_a_network_with_network2s_settings_is_saved_byte_for_byte_as_network2(tmp_path,
                                                                              make):
    seeded(6)
    net = make()
    net.save(str(tmp_path / "vg.json"))
    network2_save(net, str(tmp_path / "n2.json"))
    assert (tmp_path / "vg.json").read_bytes() == (tmp_path / "n2.json").read_bytes()
    sizes, cost, W, B = network2_load(str(tmp_path / "vg.json"))
    assert sizes == net.sizes and cost == net.cost.__name__
    for a, b in zip(W + B, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("init", ["default", "normalized", "he"])
def test_activation_and_init_survive_save_and_load(tmp_path, act, init):
    seeded(4)
    net = network2.Network([5, 4, 3], activation=act, init=init)
    f = tmp_path / "net.json"
    net.save(str(f))
    data = json.loads(f.read_text())
    want_keys = {"sizes", "weights", "biases", "cost"}
    if act != "sigmoid":
        want_keys.add("activation")
        assert data["activation"] == act
    if init != "default":
        want_keys.add("init")
        assert data["init"] == init
    assert set(data) == want_keys
    assert list(data)[:4] == ["sizes", "weights", "biases", "cost"]
    loaded = network2.load(str(f))
    assert (loaded.activation, loaded.init) == (act, init)
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
    x = pairs(1, n_in=5, n_out=3)[0][0]
    np.testing.assert_array_equal(loaded.feedforward(x), net.feedforward(x))


def test_network2s_load_reads_vgcores_default_files(tmp_path):
    seeded(2)
    net = network2.Network([5, 4, 3])
    net.save(str(tmp_path / "net.json"))
    sizes, cost, W, B = network2_load(str(tmp_path / "net.json"))
    x = pairs(1, n_in=5, n_out=3)[0][0]
    np.testing.assert_allclose(pe.feedforward(W, B, x), net.feedforward(x), rtol=1e-14)


BASE = '"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "QuadraticCost"'


@pytest.mark.parametrize("extra,match", [
    ('"activation": "gelu"', "unknown activation 'gelu'; expected one of \\['sigmoid'"),
    ('"activation": null', "unknown activation None"),
    ('"activation": ["tanh"]', "unknown activation \\['tanh'\\]"),
    ('"init": "xavier"', "unknown init 'xavier'; expected one of \\['default'"),
    ('"init": 3', "unknown init 3"),
])
def test_bad_activation_or_init_in_a_file_is_a_clear_error(tmp_path, extra, match):
    f = tmp_path / "bad.json"
    f.write_text("{" + BASE + ", " + extra + "}")
    with pytest.raises(NetworkFileError, match=match):
        network2.load(str(f))
    f.write_text("{" + BASE + ', "activation": "tanh", "init": "he"}')
    net = network2.load(str(f))
    assert (net.activation, net.init) == ("tanh", "he")
