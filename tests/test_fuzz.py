"""Property-based fuzzing of vgcore's public entry points (issue #6).

The property, for every entry point: a call either succeeds with a result
of the right shape and finite values, or raises ``ValueError`` or
``TypeError`` (or a documented subclass: ``NonFiniteError``,
``NetworkFileError``, ``MNISTFormatError``; and ``DivergenceError`` from
``SGD(..., on_divergence="raise")``).  Never another exception type, a
crash or a hang.

Two hypothesis profiles, registered here (nothing in conftest.py):

- ``ci`` (the default): 30 examples per test, the whole file in well
  under a minute;
- ``long``: 800 examples per test, over 10,000 generated cases in all,
  selected with ``VGCORE_FUZZ_PROFILE=long``.  Run it as
  ``VGCORE_FUZZ_PROFILE=long python -m pytest tests/test_fuzz.py
  --hypothesis-show-statistics``; results are in docs/robustness.md.

The profiles are applied per test (not loaded globally), so other test
files using hypothesis keep their own settings.
"""
import contextlib
import gzip
import io
import json
import os
import pickle
import random
import shutil
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vgcore.core.kernels as kernels
import vgcore.network2 as network2
from vgcore.errors import DivergenceError, DivergenceWarning, NetworkFileError

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much,
                                      HealthCheck.function_scoped_fixture])
CI = settings(max_examples=30, **_COMMON)
LONG = settings(max_examples=800, **_COMMON)
settings.register_profile("ci", CI)
settings.register_profile("long", LONG)
PROFILE = os.environ.get("VGCORE_FUZZ_PROFILE", "ci")
if PROFILE not in ("ci", "long"):
    raise RuntimeError(f"VGCORE_FUZZ_PROFILE must be 'ci' or 'long', got {PROFILE!r}")
fuzz = {"ci": CI, "long": LONG}[PROFILE]

ALLOWED = (ValueError, TypeError)


@contextlib.contextmanager
def quiet():
    with open(os.devnull, "w") as f, contextlib.redirect_stdout(f):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # numpy's, from user data
            yield


def attempt(fn, allowed=ALLOWED):
    """``(True, result)`` or ``(False, exception)`` for an allowed exception.

    The outcome is recorded as a hypothesis ``event``, so that
    ``--hypothesis-show-statistics`` shows how many calls succeeded and
    how many were refused, and with which exception.
    """
    try:
        with quiet():
            out = fn()
    except allowed as e:
        assert str(e), f"{type(e).__name__} without a message"
        note(f"raised {type(e).__name__}: {e}")
        event(f"raised {type(e).__name__}")
        return False, e
    event("succeeded")
    return True, out


def finite(a):
    return bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64))))


def all_finite(net):
    return all(finite(a) for a in net.weights + net.biases)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

valid_sizes = st.lists(st.integers(1, 7), min_size=2, max_size=5)

weird_size = st.one_of(st.integers(-3, 9), st.integers(2**31 - 2, 2**32),
                       st.floats(allow_nan=True), st.booleans(), st.none(),
                       st.text(max_size=2), st.sampled_from([np.int64(3), np.float64(3.0),
                                                              np.uint8(2), np.bool_(True)]))
any_sizes = st.one_of(valid_sizes, valid_sizes.map(tuple), valid_sizes.map(np.array),
                      st.lists(weird_size, max_size=5), st.text(max_size=4), st.none(),
                      st.integers())

# numbers of every kind: ordinary, huge, tiny, NaN, infinities
anyfloat = st.one_of(st.floats(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.0, 1.0, 1e300, -1e300, 1e-310, 3.4e38, 7e38]))
dtypes = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8,
                          np.bool_, np.complex128, object, "U3"])


def arrays_of(shape, dtype=None):
    """An array of the given shape with arbitrary values and dtype."""
    dtype = dtypes if dtype is None else st.just(dtype)

    def build(dt, values):
        dt = np.dtype(dt)
        a = np.array(values, dtype=np.float64).reshape(shape)
        with np.errstate(all="ignore"):
            if dt.kind in "iub":
                a = np.nan_to_num(a, posinf=7, neginf=-7).clip(-100, 100)
            if dt.kind == "U":
                return a.astype(str)
            return a.astype(dt)

    n = int(np.prod(shape)) if len(shape) else 1
    return st.builds(build, dtype, st.lists(anyfloat, min_size=n, max_size=n))


def layouts(a):
    """The array in various memory layouts."""
    return st.sampled_from(["c", "f", "view", "ro", "list"]).map(
        lambda k: _layout(a, k))


def _layout(a, k):
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        return a
    if k == "f":
        return np.asfortranarray(a)
    if k == "view":
        big = np.zeros((a.shape[0], a.shape[1] * 2), dtype=a.dtype)
        big[:, ::2] = a
        return big[:, ::2]
    if k == "ro":
        b = a.copy()
        b.flags.writeable = False
        return b
    if k == "list" and a.dtype.kind == "f":
        return a.tolist()
    return a


@st.composite
def networks(draw, sizes=valid_sizes, cost=None):
    sizes = draw(sizes)
    cost = draw(st.sampled_from([network2.CrossEntropyCost, network2.QuadraticCost,
                                 MyCrossEntropy])) if cost is None else cost
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    np.random.seed(draw(st.integers(0, 2**16)))
    net = network2.Network(sizes, cost=cost, dtype=dtype)
    if draw(st.booleans()):         # large or tiny weights
        scale = draw(st.sampled_from([1e-3, 10.0, 1e3]))
        net.weights = [w * scale for w in net.weights]
    return net


class MyCrossEntropy:
    """A cost class of one's own: takes the per-example reference path."""

    @staticmethod
    def fn(a, y):
        with np.errstate(all="ignore"):
            return float(np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))))

    @staticmethod
    def delta(z, a, y):
        return a - y


@st.composite
def example_x(draw, n_in, bad, shape=None):
    if not bad:
        shape = shape or draw(st.sampled_from([(n_in, 1), (n_in,)]))
        return draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5)))
    shape = draw(st.sampled_from([(n_in, 1), (n_in,), (n_in + 1, 1), (1, n_in), (),
                                  (n_in, 2), (n_in, 1, 1)]))
    return draw(arrays_of(shape))


@st.composite
def example_y(draw, n_out, bad, labels):
    if not bad:
        if labels:
            return draw(st.integers(0, n_out - 1))
        j = draw(st.integers(0, n_out - 1))
        e = np.zeros((n_out, 1))
        e[j] = 1.0
        return e
    return draw(st.one_of(
        st.integers(-2, n_out + 1), st.floats(allow_nan=True), st.booleans(), st.none(),
        st.text(max_size=2), st.sampled_from([np.int64(0), np.float32(1.0), 2**70, 1j]),
        arrays_of(draw(st.sampled_from([(n_out, 1), (n_out,), (n_out + 1, 1), (1, n_out),
                                        ()])))))


@st.composite
def datasets(draw, n_in, n_out, labels=None, allow_bad=True):
    """Data in any of the accepted containers, sometimes broken."""
    bad = allow_bad and draw(st.booleans())
    labels = draw(st.booleans()) if labels is None else labels
    n = draw(st.integers(0 if bad else 1, 12))
    form = draw(st.sampled_from(["list", "zip", "iter", "arrays", "tuple"]))
    if form == "arrays":
        if bad:
            X = draw(arrays_of(draw(st.sampled_from([(n, n_in), (n, n_in + 1), (n,),
                                                    (n, n_in, 1)]))))
            T = draw(st.one_of(arrays_of((n,)), arrays_of((n, n_out)),
                               arrays_of((n + 1,)), st.just(np.array(3))))
        else:
            X = draw(hnp.arrays(draw(st.sampled_from([np.float64, np.float32, np.uint8])),
                                (n, n_in)))
            X = np.nan_to_num(X.astype(np.float64), nan=0.5, posinf=1.0, neginf=-1.0)
            X = X.clip(-1e6, 1e6)
            lab = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, n_out - 1)))
            T = lab if labels else np.eye(n_out)[lab]
        return (X, T)
    x_shape = draw(st.sampled_from([(n_in, 1), (n_in,)]))     # one shape for a data set
    pairs = [(draw(example_x(n_in, bad and draw(st.booleans()), x_shape)),
              draw(example_y(n_out, bad and draw(st.booleans()), labels)))
             for _ in range(n)]
    if bad and pairs and draw(st.booleans()):
        i = draw(st.integers(0, len(pairs) - 1))
        pairs[i] = draw(st.sampled_from([(pairs[i][0],), pairs[i] + (1,), pairs[i][0], 5,
                                         None]))
    if form == "zip" and not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        form = "list"
    return {"list": lambda: pairs, "zip": lambda: zip(*zip(*pairs)) if pairs else zip(),
            "iter": lambda: iter(pairs), "tuple": lambda: tuple(pairs)}[form]()


# ---------------------------------------------------------------------------
# Network construction
# ---------------------------------------------------------------------------

@fuzz
@given(sizes=any_sizes, cost=st.sampled_from([network2.CrossEntropyCost, network2.QuadraticCost,
                                             MyCrossEntropy, None, 3, network2.QuadraticCost()]),
       dtype=st.sampled_from([np.float64, np.float32, np.int32, None, "float32", "x"]))
def test_fuzz_network_construction(sizes, cost, dtype):
    ok, net = attempt(lambda: network2.Network(sizes, cost=cost, dtype=dtype))
    if ok:
        assert net.num_layers == len(net.sizes) >= 2
        assert [w.shape for w in net.weights] == list(zip(net.sizes[1:], net.sizes[:-1]))
        assert [b.shape for b in net.biases] == [(s, 1) for s in net.sizes[1:]]
        assert all_finite(net)


# ---------------------------------------------------------------------------
# feedforward, backprop
# ---------------------------------------------------------------------------

@fuzz
@given(data=st.data(), net=networks())
def test_fuzz_feedforward(data, net):
    n_in, n_out = net.sizes[0], net.sizes[-1]
    k = data.draw(st.integers(0, 3))
    shape = data.draw(st.sampled_from([(n_in, 1), (n_in,), (n_in, k), (n_in + 1, 1),
                                       (1, n_in), (), (n_in, 1, 1)]))
    if data.draw(st.booleans()):      # valid input in any layout and real dtype
        shape = data.draw(st.sampled_from([(n_in, 1), (n_in,), (n_in, k)]))
        a = data.draw(hnp.arrays(data.draw(st.sampled_from([np.float64, np.float32, np.int16,
                                                            np.uint8])), shape,
                                 elements=st.integers(0, 100)))
    else:
        a = data.draw(st.one_of(arrays_of(shape),
                                hnp.arrays(np.float64, shape, elements=st.floats(-10, 10))))
    a = data.draw(layouts(a))
    ok, out = attempt(lambda: net.feedforward(a))
    if ok:
        arr = np.asarray(a)
        expected = (n_out,) if arr.ndim == 1 else (n_out, arr.shape[1])
        assert out.shape == expected and finite(out)
        assert np.all((out >= 0) & (out <= 1))


@fuzz
@given(data=st.data(), net=networks())
def test_fuzz_backprop(data, net):
    n_in, n_out = net.sizes[0], net.sizes[-1]
    bad = data.draw(st.booleans())
    x = data.draw(example_x(n_in, bad and data.draw(st.booleans())))
    y = data.draw(example_y(n_out, bad and data.draw(st.booleans()), data.draw(st.booleans())))
    ok, out = attempt(lambda: net.backprop(x, y))
    if ok:
        nb, nw = out
        assert [b.shape for b in nb] == [b.shape for b in net.biases]
        assert [w.shape for w in nw] == [w.shape for w in net.weights]
        assert all(finite(g) for g in nb + nw)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

etas = st.one_of(st.floats(0, 5), anyfloat, st.sampled_from([0, 1, -1, "0.1", None, True]))
lmbdas = st.one_of(st.floats(0, 10), anyfloat, st.sampled_from([0, 5, -1, None]))
counts = st.one_of(st.integers(-1, 4), st.sampled_from([1.0, True, None, "2", np.int64(2)]))
# valid values, including ones that make training diverge
good_etas = st.one_of(st.floats(0, 5), st.sampled_from([0, 1, 1e3, 1e6, 1e300]))
good_lmbdas = st.one_of(st.floats(0, 10), st.sampled_from([0, 5, 1e5, 1e200]))


def corrupted(data, *names):
    """None (everything valid, half of the time) or the one argument to break."""
    return data.draw(st.sampled_from([None] * len(names) + list(names)))


@fuzz
@given(data=st.data(), net=networks())
def test_fuzz_sgd(data, net):
    n_in, n_out = net.sizes[0], net.sizes[-1]
    bad = corrupted(data, "training", "evaluation", "epochs", "mbs", "eta", "lmbda",
                    "early", "probe")
    training = data.draw(datasets(n_in, n_out, allow_bad=bad == "training"))
    evaluation = data.draw(datasets(n_in, n_out, allow_bad=bad == "evaluation"))
    if bad == "evaluation" and data.draw(st.booleans()):
        evaluation = None
    epochs = data.draw(counts if bad == "epochs" else st.integers(0, 3))
    mbs = data.draw(st.one_of(st.integers(-1, 15), counts) if bad == "mbs"
                    else st.one_of(st.integers(1, 15),
                                   st.sampled_from([10**9, 2**62, 2**63, 10**30])))
    eta = data.draw(etas if bad == "eta" else good_etas)
    lmbda = data.draw(lmbdas if bad == "lmbda" else good_lmbdas)
    flags = data.draw(st.lists(st.booleans(), min_size=4, max_size=4))
    early = data.draw(counts if bad == "early" else st.integers(0, 2))
    probe = data.draw(st.one_of(st.none(), datasets(n_in, n_out, allow_bad=bad == "probe")))
    record = data.draw(st.booleans()) and net.cost is not MyCrossEntropy
    before = [a.copy() for a in net.weights + net.biases]
    ok, out = attempt(lambda: net.SGD(
        training, epochs, mbs, eta, lmbda, evaluation, *flags, early_stopping_n=early,
        speed_probe=probe, record_minibatch_speeds=record, on_divergence="raise"),
        allowed=ALLOWED + (DivergenceError,))
    if not ok:
        if isinstance(out, DivergenceError):
            assert out.parameter in ("weights", "biases", "cost")
            assert all_finite(net), "raise must leave the last finite parameters"
        else:       # a bad argument is refused before anything changes
            assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases,
                                                            before))
        return
    assert all_finite(net)
    ec, ea, tc, ta = out
    ran = len(net.speed_history) if probe is not None else None
    for flag, series in zip(flags, (ec, ea, tc, ta)):
        assert len(series) <= epochs and (flag or series == [])
        assert all(finite(v) for v in series)
        if ran is not None and flag:
            assert len(series) == ran
    for v in ea + ta:
        assert type(v) is int and v >= 0
    if record:
        assert finite(net.minibatch_speeds)


@fuzz
@given(data=st.data(), net=networks())
def test_fuzz_update_mini_batch(data, net):
    n_in, n_out = net.sizes[0], net.sizes[-1]
    bad = corrupted(data, "batch", "n", "eta", "lmbda")
    batch = data.draw(datasets(n_in, n_out, allow_bad=bad == "batch"))
    n = data.draw(st.one_of(st.integers(-1, 100), counts) if bad == "n"
                  else st.integers(1, 100))
    eta = data.draw(etas if bad == "eta" else good_etas)
    lmbda = data.draw(lmbdas if bad == "lmbda" else good_lmbdas)
    before = [a.copy() for a in net.weights + net.biases]
    ok, out = attempt(lambda: net.update_mini_batch(batch, eta, lmbda, n,
                                                    on_divergence="raise"),
                      allowed=ALLOWED + (DivergenceError,))
    if ok:
        assert out is None and all_finite(net)
    else:
        assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, before))


# ---------------------------------------------------------------------------
# Evaluation and learning speeds
# ---------------------------------------------------------------------------

@fuzz
@given(data=st.data(), net=networks())
def test_fuzz_evaluation(data, net):
    n_in, n_out = net.sizes[0], net.sizes[-1]
    bad = corrupted(data, "data", "lmbda")
    d = data.draw(datasets(n_in, n_out, allow_bad=bad == "data"))
    which = data.draw(st.sampled_from(["accuracy", "total_cost", "mean_nabla_b",
                                       "learning_speeds"]))
    lmbda = data.draw(lmbdas if bad == "lmbda" else good_lmbdas)
    convert = data.draw(st.booleans())
    ok, out = attempt({"accuracy": lambda: net.accuracy(d, convert),
                       "total_cost": lambda: net.total_cost(d, lmbda, convert),
                       "mean_nabla_b": lambda: net.mean_nabla_b(d),
                       "learning_speeds": lambda: net.learning_speeds(d)}[which])
    if not ok:
        return
    if which == "accuracy":
        assert type(out) is int and out >= 0
    elif which == "total_cost":
        assert type(out) is np.float64 and np.isfinite(out)   # network2's type
    elif which == "mean_nabla_b":
        assert [g.shape for g in out] == [(s,) for s in net.sizes[1:]]
        assert all(g.dtype == np.float64 and finite(g) for g in out)
    else:
        assert len(out) == len(net.sizes) - 2
        assert all(type(v) is float and np.isfinite(v) and v >= 0 for v in out)


# ---------------------------------------------------------------------------
# Parameters replaced by the user
# ---------------------------------------------------------------------------

@fuzz
@given(data=st.data(), net=networks(cost=network2.CrossEntropyCost))
def test_fuzz_replaced_parameters(data, net):
    L = len(net.weights)
    which = data.draw(st.sampled_from(["weights", "biases"]))
    l = data.draw(st.integers(0, L - 1))
    good = getattr(net, which)[l]
    if data.draw(st.booleans()):      # valid values in another layout or dtype
        new = data.draw(hnp.arrays(data.draw(st.sampled_from([np.float64, np.float32,
                                                              np.int8, np.longdouble])),
                                   good.shape, elements=st.integers(-3, 3)))
    else:
        shape = data.draw(st.sampled_from([good.shape, good.shape[::-1], (good.shape[0],),
                                           (good.shape[0] + 1, good.shape[1]), ()]))
        new = data.draw(st.one_of(arrays_of(shape),
                                  hnp.arrays(np.float64, shape, elements=st.floats(-3, 3))))
    getattr(net, which)[l] = data.draw(layouts(new))
    x = np.full((net.sizes[0], 1), 0.5)
    pairs = [(x, 0)]
    method = data.draw(st.sampled_from(["feedforward", "SGD", "total_cost", "save"]))
    tmp = tempfile.mkdtemp()
    try:
        ok, out = attempt({
            "feedforward": lambda: net.feedforward(x),
            "SGD": lambda: net.SGD(pairs, 1, 1, 0.1, on_divergence="raise"),
            "total_cost": lambda: net.total_cost(pairs, 0.1),
            "save": lambda: (net.save(os.path.join(tmp, "n.json")),
                             network2.load(os.path.join(tmp, "n.json")))[1],
        }[method], allowed=ALLOWED + (DivergenceError,))
        if ok and method == "save":
            assert [a.shape for a in out.weights] == [w.shape for w in net._parameters()[0]]
            assert all_finite(out)
        elif ok and method == "SGD":
            assert all_finite(net)
        elif ok:
            assert finite(out)
        if not ok and method == "save":
            assert os.listdir(tmp) == []
    finally:
        shutil.rmtree(tmp)


# ---------------------------------------------------------------------------
# Files: random JSON documents and bytes for load, round trips
# ---------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=5), kids, max_size=4)),
    max_leaves=20)


def _matrix(rows, cols, elements):
    return st.lists(st.lists(elements, min_size=cols, max_size=cols),
                    min_size=rows, max_size=rows)


@st.composite
def network_documents(draw):
    """Mostly well-formed network files with some part broken."""
    sizes = draw(valid_sizes)
    num = st.one_of(st.floats(-3, 3), st.integers(-5, 5))
    doc = {"sizes": sizes,
           "weights": [draw(_matrix(b, a, num)) for a, b in zip(sizes[:-1], sizes[1:])],
           "biases": [draw(_matrix(b, 1, num)) for b in sizes[1:]],
           "cost": draw(st.sampled_from(["CrossEntropyCost", "QuadraticCost"]))}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(doc)))
        action = draw(st.sampled_from(["drop", "replace", "poke"]))
        if action == "drop":
            doc.pop(key, None)
        elif action == "replace":
            doc[key] = draw(json_values)
        elif key in ("weights", "biases") and isinstance(doc.get(key), list) and doc[key]:
            m = doc[key][draw(st.integers(0, len(doc[key]) - 1))]
            if isinstance(m, list) and m and isinstance(m[0], list) and m[0]:
                m[0][0] = draw(json_scalars | st.lists(json_scalars, max_size=2))
    return doc


def _check_loaded(net):
    assert net.cost in (network2.CrossEntropyCost, network2.QuadraticCost)
    assert [w.shape for w in net.weights] == list(zip(net.sizes[1:], net.sizes[:-1]))
    assert [b.shape for b in net.biases] == [(s, 1) for s in net.sizes[1:]]
    assert all_finite(net)


def _load_loads_or_refuses(f):
    """``network2.load(f)`` gives a sound network or a NetworkFileError."""
    ok, net = attempt(lambda: network2.load(str(f)))
    if ok:
        _check_loaded(net)
    else:
        assert isinstance(net, NetworkFileError), type(net)


@fuzz
@given(doc=st.one_of(network_documents(), json_values))
def test_fuzz_load_json_documents(doc, tmp_path_factory):
    f = tmp_path_factory.mktemp("load") / "net.json"
    f.write_text(json.dumps(doc))            # NaN/Infinity literals included
    _load_loads_or_refuses(f)


@fuzz
@given(content=st.one_of(
    st.binary(max_size=300),
    network_documents().map(lambda d: json.dumps(d).encode()).flatmap(
        lambda b: st.tuples(st.just(b), st.integers(0, len(b)), st.binary(max_size=3)).map(
            lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + len(t[2]):]))))
def test_fuzz_load_bytes(content, tmp_path_factory):
    f = tmp_path_factory.mktemp("load") / "net.json"
    f.write_bytes(content)
    _load_loads_or_refuses(f)


@fuzz
@given(net=networks())
def test_fuzz_save_load_round_trip(net, tmp_path_factory):
    assume(net.cost is not MyCrossEntropy)
    d = tmp_path_factory.mktemp("save")
    net.save(str(d / "net.json"))
    net.save(str(d / "net.json"))         # replacing an existing file
    assert os.listdir(d) == ["net.json"]
    loaded = network2.load(str(d / "net.json"))
    assert loaded.sizes == net.sizes and loaded.cost is net.cost
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        assert np.array_equal(a, np.asarray(b, dtype=np.float64))


# ---------------------------------------------------------------------------
# The validating kernel layer (vgcore.kernels), called directly
# ---------------------------------------------------------------------------

@fuzz
@given(data=st.data())
def test_fuzz_kernels_layer(data):
    sizes = data.draw(valid_sizes)
    dt = data.draw(st.sampled_from([np.float64, np.float32]))
    N = data.draw(st.integers(0, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    W = [rng.standard_normal((b, a)).astype(dt) for a, b in zip(sizes[:-1], sizes[1:])]
    B = [rng.standard_normal((b, 1)).astype(dt) for b in sizes[1:]]
    X = rng.random((N, sizes[0])).astype(dt)
    Y = np.eye(sizes[-1], dtype=dt)[rng.integers(0, sizes[-1], N)]
    # break one thing, or nothing
    what = data.draw(st.sampled_from(["nothing", "w shape", "w dtype", "w order", "w ro",
                                      "b shape", "X shape", "X dtype", "Y shape", "Y dtype",
                                      "order range", "order dtype", "order 2-D", "mbs", "n",
                                      "eta", "lists", "share", "Y labels"]))
    order = rng.permutation(N) if N else np.zeros(0, dtype=np.int64)
    mbs, n, eta = data.draw(st.integers(1, 4)), float(max(N, 1)), 0.5
    if what == "w shape":
        W[0] = W[0].T.copy() if W[0].shape[0] != W[0].shape[1] else W[0][:, :0].copy()
    elif what == "w dtype":
        W[-1] = W[-1].astype(np.float16 if dt == np.float64 else np.float64)
    elif what == "w order":
        W[0] = np.asfortranarray(np.ones((W[0].shape[0], W[0].shape[1] + 1), dtype=dt))[:, 1:]
    elif what == "w ro":
        W[0].flags.writeable = False
    elif what == "b shape":
        B[0] = np.zeros((B[0].shape[0] + 1, 1), dtype=dt)
    elif what == "X shape":
        X = X.reshape(-1)
    elif what == "X dtype":
        X = X.astype(np.int64)
    elif what == "Y shape":
        Y = Y[:, :-1]
    elif what == "Y dtype":
        Y = Y.astype(np.float16)
    elif what == "Y labels":      # targets as labels: in range or not, any length/dtype
        Y = np.array(data.draw(st.lists(st.integers(-2**63, 2**63 - 1) | st.integers(-1, 3),
                                        min_size=max(N - 1, 0), max_size=N + 1)),
                     dtype=np.int64)
        Y = Y.astype(data.draw(st.sampled_from([np.int64, np.int8, np.uint64, np.float64])))
    elif what == "order range":
        order = np.array(data.draw(st.lists(st.integers(-2**63, 2**63 - 1), max_size=4)),
                         dtype=np.int64)
    elif what == "order dtype":
        order = order.astype(data.draw(st.sampled_from([np.float64, np.uint64, np.int8,
                                                        np.bool_, object])))
    elif what == "order 2-D":
        order = order.reshape(-1, 1)
    elif what == "mbs":
        mbs = data.draw(st.sampled_from([0, -1, 2.0, True, None, "1", 1.5,
                                         10**9, 2**62, 2**63, 10**30]))
    elif what == "n":
        n = data.draw(st.sampled_from([0, -1.0, float("nan"), float("inf"), "1", None]))
    elif what == "eta":
        eta = data.draw(st.sampled_from([float("nan"), float("inf"), "1", None, 1j]))
    elif what == "lists":
        W = tuple(W) if data.draw(st.booleans()) else W[:-1]
    elif what == "share" and len(W) >= 1:
        B[0] = W[0][:, :1]
    fn = data.draw(st.sampled_from(["sgd_epoch", "backprop", "feedforward", "evaluate",
                                    "mean_nabla_b"]))
    call = {"sgd_epoch": lambda: kernels.sgd_epoch(W, B, X, Y, order, mbs, eta, 0.1, n),
            "backprop": lambda: kernels.backprop(W, B, X, Y),
            "feedforward": lambda: kernels.feedforward(W, B, X),
            "evaluate": lambda: kernels.evaluate(W, B, X, Y, 0.1),
            "mean_nabla_b": lambda: kernels.mean_nabla_b(W, B, X, Y)}[fn]
    ok, out = attempt(call)
    note(f"{fn} with {what}: {'ok' if ok else type(out).__name__}")
    if ok and fn == "feedforward":
        assert out.shape == (X.shape[0], sizes[-1])
    if ok and fn == "backprop":
        assert [g.shape for g in out[1]] == [w.shape for w in W]


# ---------------------------------------------------------------------------
# vgcore.mnist_loader: random and mutated files
# ---------------------------------------------------------------------------

from vgcore import mnist_loader  # noqa: E402 (with its section)

_IDX_NAMES = {"train_labels": ("train-labels-idx1-ubyte", 2049, 60000),
              "test_labels": ("t10k-labels-idx1-ubyte", 2049, 10000),
              "test_images": ("t10k-images-idx3-ubyte", 2051, 10000),
              "train_images": ("train-images-idx3-ubyte", 2051, 60000)}


def _idx_bytes(magic, count, rows=28, cols=28, payload=None):
    header = magic.to_bytes(4, "big") + count.to_bytes(4, "big", signed=False)
    if magic == 2051:
        header += rows.to_bytes(4, "big") + cols.to_bytes(4, "big")
        size = count * 784
    else:
        size = count
    return header + (bytes(size) if payload is None else payload)


@pytest.fixture(scope="module")
def valid_idx_folder(tmp_path_factory):
    """Four valid (all-zero) uncompressed IDX files of MNIST's sizes."""
    d = tmp_path_factory.mktemp("idx-valid")
    for name, magic, count in _IDX_NAMES.values():
        (d / name).write_bytes(_idx_bytes(magic, count))
    return d


@st.composite
def idx_contents(draw, magic, count):
    """A valid IDX file of the role, then damaged in one way (or random bytes)."""
    kind = draw(st.sampled_from(["random", "header", "truncate", "extend", "flip",
                                 "labels", "gzip", "gzip-truncated", "double-gzip"]))
    small_count = count if count <= 10000 else None
    if kind == "random":
        return draw(st.binary(max_size=64))
    if kind == "header":
        m = draw(st.sampled_from([magic, 2049, 2051, 0, 2**32 - 1, 0x1f8b0808]))
        c = draw(st.sampled_from([count, 0, 1, count - 1, count + 1, 2**32 - 1, 2**31]))
        r = draw(st.sampled_from([28, 0, 1, 2**32 - 1]))
        payload_len = draw(st.sampled_from([0, 10, count if magic == 2049 else 784 * 10]))
        return _idx_bytes(m, c, r, r, bytes(payload_len))[:8 if m == 2049 else None]
    base = _idx_bytes(magic, small_count if small_count else 10)
    if kind == "truncate":
        return base[:draw(st.integers(0, len(base) - 1))]
    if kind == "extend":
        return base + draw(st.binary(min_size=1, max_size=8))
    if kind == "flip":
        b = bytearray(base)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, min(len(b) - 1, 40)))
            b[i] = draw(st.integers(0, 255))
        return bytes(b)
    if kind == "labels":      # label values out of 0..9
        if magic != 2049:
            return base
        payload = bytearray(count)
        payload[draw(st.integers(0, count - 1))] = draw(st.integers(10, 255))
        return _idx_bytes(magic, count, payload=bytes(payload))
    gz = gzip.compress(base, compresslevel=1)
    if kind == "gzip":
        return gz
    if kind == "gzip-truncated":
        return gz[:draw(st.integers(0, len(gz) - 1))]
    return gzip.compress(gz)


@fuzz
@given(data=st.data())
def test_fuzz_mnist_loader_idx_files(data, valid_idx_folder, tmp_path_factory):
    role = data.draw(st.sampled_from(sorted(_IDX_NAMES)))
    name, magic, count = _IDX_NAMES[role]
    content = data.draw(idx_contents(magic, count))
    d = tmp_path_factory.mktemp("idx")
    for other, (oname, _, _) in _IDX_NAMES.items():
        if other != role:
            os.symlink(valid_idx_folder / oname, d / oname)
    gz = content[:2] == b"\x1f\x8b" and data.draw(st.booleans())
    (d / (name + (".gz" if gz else ""))).write_bytes(content)
    ok, out = attempt(lambda: mnist_loader.load_data(path=str(d), download=False))
    if ok:
        (tx, ty), (vx, vy), (sx, sy) = out
        assert tx.shape == (50000, 784) and vx.shape == (10000, 784) and sx.shape == (10000, 784)
        assert ty.max() <= 9 and vy.max() <= 9 and sy.max() <= 9
    else:
        assert isinstance(out, mnist_loader.MNISTFormatError), type(out)


def _pickle_payloads():
    arrays = st.builds(
        lambda dt, shape: np.zeros(shape, dtype=dt),
        st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, object]),
        st.sampled_from([(0,), (3,), (2, 784), (3, 783), (1, 2, 3)]))
    leaves = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=3),
                       st.binary(max_size=3), arrays)
    trees = st.recursive(leaves, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                        st.tuples(kids, kids),
                                                        st.tuples(kids, kids, kids)),
                         max_leaves=10)
    protocols = st.integers(0, pickle.HIGHEST_PROTOCOL)
    return st.builds(lambda obj, proto: pickle.dumps(obj, protocol=proto), trees, protocols)


_HOSTILE_PICKLES = [
    b"cos\nsystem\n(S'echo hacked'\ntR.",                        # GLOBAL os.system
    b"\x80\x02cbuiltins\neval\nq\x00X\x04\x00\x00\x001+1q\x01\x85q\x02Rq\x03.",
    b"cnumpy.core.multiarray\n_reconstruct\n(cos\nsystem\nS'x'\ntR.",
    b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00(" * 50 + b".",
    b"(" * 100000 + b".",                                        # deep nesting
]


@fuzz
@given(content=st.one_of(st.binary(max_size=200), _pickle_payloads(),
                         st.sampled_from(_HOSTILE_PICKLES),
                         _pickle_payloads().flatmap(lambda b: st.tuples(
                             st.just(b), st.integers(0, len(b)), st.binary(max_size=4)).map(
                             lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]))),
       compress=st.booleans())
def test_fuzz_mnist_loader_pickle_files(content, compress, tmp_path_factory):
    f = tmp_path_factory.mktemp("pkl") / "mnist.pkl.gz"
    f.write_bytes(gzip.compress(content, compresslevel=1) if compress else content)
    ok, out = attempt(lambda: mnist_loader.load_data(path=str(f), download=False))
    if not ok:
        assert isinstance(out, mnist_loader.MNISTFormatError), type(out)
    assert not os.path.exists("hacked")
