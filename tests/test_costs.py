"""The drop-in's compiled cost functions against network2's own expressions.

``vgcore.network2.CrossEntropyCost`` / ``QuadraticCost`` have compiled
``fn``/``delta`` (``vgcore._small``, behind ``vgcore.core.costs``).  They
must give what network2's numpy expressions give -- the same bits, type,
shape, dtype and warnings -- for anything network2 accepts.  The
expressions below are network2's, written out here (``QuadraticCost.delta``
uses vgcore's overflow-free sigmoid, the reference's: checked bit for bit
against ``vgcore.core.reference`` and within 4 ulp of network2's
``1/(1+exp(-z))``).
"""
import copy
import pickle
import warnings

import numpy as np
import pytest

from vgcore import network2
from vgcore.core import reference
from vgcore.core._checks import builtin_cost

CE, Q = network2.CrossEntropyCost, network2.QuadraticCost


def n2_ce_fn(a, y):
    return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))


def n2_q_fn(a, y):
    return 0.5 * np.linalg.norm(a - y) ** 2


def n2_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def n2_q_delta(z, a, y):
    return (a - y) * (n2_sigmoid(z) * (1 - n2_sigmoid(z)))


def run(f, *args):
    """``(result or exception type, warning categories)`` of ``f(*args)``."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            out = f(*args)
        except Exception as e:          # network2's own errors must match too
            out = type(e)
    return out, {type(m.message) for m in w if issubclass(m.category, RuntimeWarning)}


def assert_same(got, want):
    """The same object kind, type, dtype, shape and bits (NaN equal to NaN)."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, type):
        return
    if isinstance(want, (np.ndarray, np.generic)):
        assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
        assert np.array_equal(got, want, equal_nan=True), (got, want)
        g, w = np.asarray(got).ravel(), np.asarray(want).ravel()
        assert np.array_equal(np.signbit(g[g == 0]), np.signbit(w[w == 0]))
    else:
        assert got == want or (got != got and want != want)


def check_all(a, y, z):
    """Every function of both classes against network2's expression."""
    for mine, theirs, args in ((CE.fn, n2_ce_fn, (a, y)), (Q.fn, n2_q_fn, (a, y)),
                               (CE.delta, lambda z, a, y: a - y, (z, a, y)),
                               (Q.delta, reference.QuadraticCost.delta, (z, a, y))):
        got, got_warned = run(mine, *args)
        want, want_warned = run(theirs, *args)
        assert_same(got, want)
        assert bool(got_warned) == bool(want_warned), (mine, args, got_warned, want_warned)
        if isinstance(got, np.ndarray):
            assert not any(np.shares_memory(got, x) for x in args
                           if isinstance(x, np.ndarray)), "delta must be a new array"


# Shapes around numpy's pairwise sum (blocks of 8, 128) and the stack buffers (64)
SHAPES = [(10, 1), (1, 1), (1,), (7,), (8,), (9,), (63,), (64,), (65,), (127,), (128,),
          (129,), (255,), (256, 1), (784, 1), (1000,), (4097,), (3, 100), (2, 3, 50),
          (5, 10), (10, 5)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_float64_arrays_give_network2s_bits(shape):
    rng = np.random.default_rng(sum(shape))
    for k in range(40):
        a = rng.random(shape)
        y = rng.random(shape) if k % 2 else (rng.random(shape) < 0.3) * 1.0
        z = rng.standard_normal(shape) * (1 + k)
        check_all(a, y, z)


def test_quadratic_delta_is_within_4_ulp_of_network2s_sigmoid():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((20_000, 1)) * 6
    a, y = rng.random(z.shape), rng.random(z.shape)
    got, want = Q.delta(z, a, y), n2_q_delta(z, a, y)
    ulp = np.abs(got - want) / np.spacing(np.maximum(np.abs(want), np.finfo(float).tiny))
    assert ulp.max() <= 4


EDGES = np.array([0.0, -0.0, 1.0, 0.5, 1 - 2**-53, 2**-1074, 1e-310, 1e-300, 3e-200, 1e300,
                  -1.0, 2.0, np.inf, -np.inf, np.nan, 745.0, -745.0, 800.0, -800.0, 40.0])


def test_edge_values_give_network2s_numbers_and_warnings():
    """0 * log 0 (nan_to_num's 0), log 0 (1.8e308), overflowing sums,
    NaN, infinities, subnormals, saturating z: element by element and
    mixed in one column."""
    for a in EDGES:
        for y in EDGES:
            col = lambda v: np.array([[v], [0.25]])        # noqa: E731
            with np.errstate(invalid="ignore"):          # inf - inf: a NaN z
                z = y - a
            check_all(col(a), col(y), col(z))
    rng = np.random.default_rng(2)
    for _ in range(200):
        a, y, z = (rng.choice(EDGES, (10, 1)) for _ in range(3))
        check_all(a, y, z)
    # the cases network2's docstring names
    a, y = np.array([[1.0], [1.0]]), np.array([[1.0], [0.0]])
    with pytest.warns(RuntimeWarning):              # log(1 - 1), as in network2
        assert CE.fn(a[:1], y[:1]) == 0.0
    with np.errstate(all="ignore"):
        assert CE.fn(a[1:], y[1:]) == np.finfo(float).max


def test_errstate_is_obeyed_as_by_network2():
    """An underflow or a log 0 raises under np.errstate(all="raise")."""
    a, y = np.array([[0.3], [0.5]]), np.array([[1e-310], [0.5]])
    z = np.array([[-800.0], [0.0]])
    for f, theirs, args in ((CE.fn, n2_ce_fn, (a, y)), (Q.delta, reference.QuadraticCost.delta,
                                                        (z, a, y))):
        with np.errstate(all="raise"):
            with pytest.raises(FloatingPointError):
                theirs(*args)
            with pytest.raises(FloatingPointError):
                f(*args)
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        CE.fn(np.array([[0.0]]), np.array([[1.0]]))


OTHER_FORMS = [
    ("float32", lambda v: v.astype(np.float32), lambda v: v.astype(np.float32)),
    ("a float32, y float64", lambda v: v.astype(np.float32), lambda v: v),
    ("ints", lambda v: (v > 0.5).astype(np.int64), lambda v: (v > 0.5).astype(np.int64)),
    ("y a 1-D row (broadcast)", lambda v: v, lambda v: v.ravel()),
    ("y a scalar", lambda v: v, lambda v: 1.0),
    ("y a Python int", lambda v: v, lambda v: 1),
    ("Fortran order", lambda v: np.asfortranarray(np.tile(v, (1, 3))),
     lambda v: np.asfortranarray(np.tile(v, (1, 3)))),
    ("strided", lambda v: np.repeat(v, 2, axis=0)[::2], lambda v: v),
    ("0-d", lambda v: np.array(v[0, 0]), lambda v: np.array(v[1, 0])),
    ("numpy scalars", lambda v: v[0, 0], lambda v: v[1, 0]),
    ("lists", lambda v: v.tolist(), lambda v: np.asarray(v)),
    ("empty", lambda v: v[:0], lambda v: v[:0]),
    ("a matrix subclass", lambda v: np.asmatrix(v), lambda v: np.asmatrix(v)),
    ("shapes that do not broadcast", lambda v: v, lambda v: v[:3]),
    ("read-only", lambda v: np.frombuffer(v.tobytes()).reshape(v.shape),
     lambda v: v),
]


@pytest.mark.parametrize("name,fa,fy", OTHER_FORMS, ids=[f[0] for f in OTHER_FORMS])
def test_other_shapes_and_dtypes_give_network2s_results(name, fa, fy):
    rng = np.random.default_rng(3)
    v = rng.random((10, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.VisibleDeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)     # np.matrix
        a, y = fa(v), fy(v)
        z = a
        check_all(a, y, z)


def test_the_methods_are_the_compiled_functions_and_the_import_stays_light(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import vgcore
    # the vgcore under test (installed, or built in place), not a source tree in the cwd
    env = dict(os.environ, PYTHONPATH=str(Path(vgcore.__file__).resolve().parents[1]))
    probe = ("import sys, vgcore.network2 as n; assert 'scipy' not in sys.modules; "
             "f = n.CrossEntropyCost.fn; print(type(f).__name__, 'scipy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       env=env, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["cython_function_or_method", "True"]
    for cost in (CE, Q, CE(), Q()):
        assert type(cost.fn).__name__ == type(cost.delta).__name__ == "cython_function_or_method"


def test_both_pairs_of_classes_are_the_builtin_costs():
    for mine, ref in ((CE, reference.CrossEntropyCost), (Q, reference.QuadraticCost)):
        assert issubclass(mine, ref) and mine.__name__ == ref.__name__
        for c in (mine, mine(), ref, ref()):
            assert builtin_cost(c) is ref
    class Mine(network2.CrossEntropyCost):      # a user's subclass: computed as written
        @staticmethod
        def delta(z, a, y):
            return 2 * (a - y)
    assert builtin_cost(Mine) is None
    o = CE()
    o.extra = 1                                  # an instance carrying state of its own
    assert builtin_cost(o) is None


def test_networks_with_the_compiled_costs_copy_pickle_and_reload(tmp_path):
    np.random.seed(0)
    for cost in (CE, Q, CE(), Q(), reference.QuadraticCost):
        net = network2.Network([4, 3, 2], cost=cost)
        for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
            assert other.cost is cost or type(other.cost) is type(cost)
        net.save(tmp_path / "n.json")
        loaded = network2.load(tmp_path / "n.json")
        kind = cost if isinstance(cost, type) else type(cost)
        assert loaded.cost is getattr(network2, kind.__name__)
    x, y = np.ones((4, 1)), np.array([[0.0], [1.0]])
    ref_net = network2.Network([4, 3, 2], cost=reference.QuadraticCost)
    q_net = network2.Network([4, 3, 2], cost=Q)
    q_net.weights, q_net.biases = ref_net.weights, ref_net.biases
    for a, b in zip(ref_net.backprop(x, y)[0], q_net.backprop(x, y)[0]):
        assert np.array_equal(a, b)
