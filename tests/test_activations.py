"""The hidden layers' activations (sigmoid, tanh, softsign, ReLU) and the
initialisers, on every path of the kernels and in the small kernels:
against the numpy reference (``vgcore.reference``, the formulas' twin) and
against finite differences of the reference's cost.

Tolerances as in ``test_kernels.py``: float64 arrays to a norm-wise
relative 1e-12 (the kernels and the reference differ only in the order of
their sums and in the ``exp``/``expm1`` of the SIMD paths), float32 against
the float64 reference to 1e-5.
"""
import numpy as np
import pytest

from vgcore import _kernels, _small
from vgcore.core import kernels as K
from vgcore.core import reference as R

import per_example as pe

ACTS = list(R.ACTIVATIONS)
CE, QC = R.CrossEntropyCost, R.QuadraticCost
TOL64, TOL32 = 1e-12, 1e-5


def make_net(sizes, seed=0, dtype=np.float64, init="normalized", bias=0.3):
    """A network whose hidden units sit in every regime of the activations."""
    rng = np.random.default_rng(seed)
    ws, bs = R.initial_parameters(sizes, init, rng)
    bs = [b + bias * rng.standard_normal(b.shape) for b in bs]
    return [w.astype(dtype) for w in ws], [b.astype(dtype) for b in bs]


def make_data(sizes, N, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (2 * rng.random((N, sizes[0])) - 0.5).astype(dtype)
    labels = rng.integers(0, sizes[-1], N)
    return X, np.eye(sizes[-1], dtype=dtype)[labels], labels


def relerr(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    den = np.linalg.norm(want)
    return np.linalg.norm(got - want) / (den if den > 0 else 1.0)


def assert_close(got, want, tol):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        err = relerr(np.reshape(g, np.shape(w)), w)
        assert err <= tol, f"array {i}: relative error {err:.3g} > {tol:.3g}"


def as64(arrays):
    return [np.asarray(a, np.float64) for a in arrays]


# ---------------------------------------------------------------------------
# The formulas, element by element (the kernels' own loops: _kernels.elementwise)
# ---------------------------------------------------------------------------

Z = np.concatenate([np.linspace(-60, 60, 40_001), np.logspace(-310, 3, 4_000),
                    -np.logspace(-310, 3, 4_000),
                    [0.0, -0.0, 5e-324, -5e-324, 1e-3, 0.55, 18.9, 19.1, 40, 710, 3e38]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("act", ACTS)
def test_activation_matches_the_reference_to_a_few_ulp(path, act, dtype):
    """f(z) over the whole range, tiny and huge z included: within 4 ulp of
    the reference (its exp/expm1 are numpy's; the SIMD paths have their own,
    1-2 ulp), and the same sign wherever z is not 0 (the kernels add the
    bias, 0 here, to z: -0 + 0 is +0)."""
    z = Z.astype(dtype)           # 5e-324 is 0 in float32, 3e38 still finite
    a, d = z[None, :].copy(), np.ones((1, z.size), dtype)
    _kernels.elementwise(ACTS.index(act), a, d)
    want = R.ACTIVATIONS[act].fn(z.astype(np.float64)).astype(dtype)
    tiny, eps = np.finfo(dtype).tiny, np.finfo(dtype).eps
    ulps = np.abs(a[0].astype(np.float64) - want) / np.maximum(np.abs(want), tiny) / eps
    assert ulps.max() <= 4, f"{act} off by {ulps.max():.2f} ulp at z={z[np.argmax(ulps)]}"
    np.testing.assert_array_equal(np.signbit(a[0])[z != 0], np.signbit(want)[z != 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("act", ACTS)
def test_derivative_is_the_references_formula_from_a(path, act, dtype):
    """``d f'(z)`` with ``f'`` from the kernel's own ``a``: the reference's
    formula on the same ``a``, the same bits (the blas path's float32
    forms the derivative in double and rounds once where numpy rounds
    twice: within 2 ulp)."""
    rng = np.random.default_rng(3)
    z = Z[np.abs(Z) < 1e30].astype(dtype)
    a = z[None, :].copy()
    d = (rng.standard_normal(z.size) * 10.0 ** rng.integers(-5, 5, z.size)).astype(dtype)
    d = d[None, :]
    got = d.copy()
    _kernels.elementwise(ACTS.index(act), a, got)
    want = d[0] * R.ACTIVATIONS[act].prime(a[0])
    if path == "blas" and dtype == np.float32:
        err = np.abs(got[0] - want) / np.maximum(np.abs(want), np.finfo(dtype).tiny)
        assert err.max() <= 2 * np.finfo(dtype).eps
    else:
        np.testing.assert_array_equal(got[0], want)


@pytest.mark.parametrize("act", ACTS)
def test_non_finite_z(path, act):
    """Infinite z: sigmoid, tanh 0/1 or -1/1, ReLU 0 or inf; softsign NaN
    (inf/inf, as its formula); NaN stays NaN everywhere."""
    z = np.array([[np.inf, -np.inf, np.nan]])
    a, d = z.copy(), np.ones_like(z)
    _kernels.elementwise(ACTS.index(act), a, d)
    with np.errstate(invalid="ignore"):
        want = R.ACTIVATIONS[act].fn(z[0])
    np.testing.assert_array_equal(a[0], want)
    assert np.isnan(a[0, 2])
    expected = {"sigmoid": [1, 0], "tanh": [1, -1], "relu": [np.inf, 0]}
    if act in expected:
        np.testing.assert_array_equal(a[0, :2], expected[act])


def test_the_formulas_definitions():
    """The reference's formulas are what their names say (against numpy's
    own tanh and the textbook derivatives, away from rounding trouble)."""
    z = np.linspace(-8, 8, 2001)
    np.testing.assert_allclose(R.tanh(z), np.tanh(z), rtol=4e-16, atol=0)
    np.testing.assert_allclose(R.softsign(z), z / (1 + np.abs(z)), rtol=0, atol=0)
    np.testing.assert_array_equal(R.relu(z), np.maximum(z, 0))
    np.testing.assert_allclose(R.Tanh.prime(np.tanh(z)), 1 / np.cosh(z) ** 2,
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(R.Softsign.prime(R.softsign(z)), 1 / (1 + np.abs(z)) ** 2,
                               rtol=1e-14)
    np.testing.assert_array_equal(R.ReLU.prime(R.relu(z)), (z > 0).astype(float))
    s = R.sigmoid(z)
    np.testing.assert_allclose(R.Sigmoid.prime(s), R.sigmoid_prime(z), rtol=0, atol=0)


# ---------------------------------------------------------------------------
# Whole passes against the reference
# ---------------------------------------------------------------------------

SIZES = [[6, 5, 4, 3], [20, 33, 17, 10], [3, 1, 1, 2]]


@pytest.mark.parametrize("mbs", [1, 7, 40], ids=lambda m: f"mb{m}")
@pytest.mark.parametrize("cost", [CE, QC], ids=lambda c: c.__name__)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_epoch_matches_reference(path, sizes, act, cost, mbs):
    ws, bs = make_net(sizes)
    X, Y, labels = make_data(sizes, 60)
    order = np.random.default_rng(2).permutation(60)[:50]
    rw, rb = R.sgd_epoch(ws, bs, X, Y, order, mbs, 0.2, 2.0, cost=cost, n=50,
                         activation=act)
    for target in (Y, labels):
        kw, kb = [w.copy() for w in ws], [b.copy() for b in bs]
        K.sgd_epoch(kw, kb, X, target, order, mbs, 0.2, 2.0, 50, cost=cost, activation=act)
        assert_close(kw + kb, rw + rb, TOL64)
    assert relerr(kw[0], ws[0]) > 1e-3          # it trained


@pytest.mark.parametrize("cost", [CE, QC], ids=lambda c: c.__name__)
@pytest.mark.parametrize("act", ACTS)
def test_other_calls_match_reference(path, act, cost):
    """backprop, feedforward, evaluate, mean_nabla_b over blocks of rows
    (600 rows: three blocks of 256)."""
    sizes = [9, 12, 7, 5]
    ws, bs = make_net(sizes, seed=4)
    X, Y, labels = make_data(sizes, 600, seed=5)
    nb, nw = K.backprop(ws, bs, X, Y, cost, activation=act)
    rnb, rnw = R.backprop(ws, bs, X, Y, cost, activation=act)
    assert_close(nb + nw, rnb + rnw, TOL64)
    assert relerr(K.feedforward(ws, bs, X, activation=act),
                  R.feedforward(ws, bs, X, activation=act)) <= TOL64
    assert_close(K.mean_nabla_b(ws, bs, X, Y, cost, activation=act),
                 R.mean_nabla_b(ws, bs, X, Y, cost, activation=act), TOL64)
    correct, c = K.evaluate(ws, bs, X, Y, 3.0, cost, activation=act)
    assert correct == R.accuracy(ws, bs, X, labels, activation=act)
    assert c == pytest.approx(R.total_cost(ws, bs, X, Y, 3.0, cost, activation=act),
                              rel=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_float32(path, act):
    sizes = [10, 40, 17, 6]
    ws, bs = make_net(sizes, dtype=np.float32)
    X, Y, labels = make_data(sizes, 120, dtype=np.float32)
    order = np.random.default_rng(3).permutation(120)
    rw, rb = R.sgd_epoch(as64(ws), as64(bs), X.astype(np.float64), Y.astype(np.float64),
                         order, 7, 0.1, 2.0, activation=act)
    kw, kb = [w.copy() for w in ws], [b.copy() for b in bs]
    K.sgd_epoch(kw, kb, X, labels, order, 7, 0.1, 2.0, 120, activation=act)
    assert all(a.dtype == np.float32 for a in kw + kb)
    assert_close(kw + kb, rw + rb, TOL32)
    nb, nw = K.backprop(kw, kb, X, Y, activation=act)
    rnb, rnw = R.backprop(as64(kw), as64(kb), X.astype(np.float64), Y.astype(np.float64),
                          activation=act)
    assert_close(nb + nw, rnb + rnw, TOL32)


@pytest.mark.parametrize("act", ACTS)
def test_paths_agree(act):
    """Every SIMD path against the blas path (BLAS products, the C
    library's exp/expm1, the scalar loops) after an epoch: 1e-12."""
    sizes = [30, 41, 23, 10]
    ws, bs = make_net(sizes, seed=6)
    X, _, labels = make_data(sizes, 300, seed=7)
    order = np.random.default_rng(8).permutation(300)
    results = {}
    old = _kernels.path()
    try:
        for p in _kernels.available_paths():
            _kernels.set_path(p)
            kw, kb = [w.copy() for w in ws], [b.copy() for b in bs]
            for mbs in (10, 50):
                K.sgd_epoch(kw, kb, X, labels, order, mbs, 0.1, 1.0, 300, activation=act)
            results[p] = kw + kb
    finally:
        _kernels.set_path(old)
    for p, got in results.items():
        assert_close(got, results["blas"], TOL64)


# ---------------------------------------------------------------------------
# Finite differences
# ---------------------------------------------------------------------------

def _kink_free(sizes, act, cost, seed):
    """A network and data whose weighted inputs all stay at least 0.05 from
    ReLU's kink (the stencil moves z by at most 2e-3 |a| <= 1e-2)."""
    for s in range(seed, seed + 200):
        ws, bs = make_net(sizes, seed=s)
        X, Y, _ = make_data(sizes, 8, seed=s + 1)
        zs, acts = R.forward(ws, bs, X, act)
        if act != "relu" or (min(np.abs(z).min() for z in zs) > 0.05
                             and max(np.abs(a).max() for a in acts) < 5):
            return ws, bs, X, Y
    raise AssertionError("no kink-free network found")


@pytest.mark.parametrize("cost", [CE, QC], ids=lambda c: c.__name__)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("sizes", [[4, 3, 2], [5, 4, 3, 2], [3, 1, 1, 2]], ids=str)
def test_backprop_finite_differences(path, sizes, act, cost):
    """Every partial derivative of the kernels' backprop against the
    five-point central difference of the reference's summed cost (h = 1e-3:
    truncation ~1e-12, rounding ~1e-12): relative 1e-6, and 1e-9 absolute
    for the layers a dead ReLU cuts off (gradient 0, the stencil's ~1e-13)."""
    ws, bs, X, Y = _kink_free(sizes, act, cost, seed=10)
    nb, nw = K.backprop(ws, bs, X, Y, cost, activation=act)
    h = 1e-3
    offsets, weights = h * np.array([2, 1, -1, -2]), np.array([-1, 8, -8, 1]) / (12 * h)

    def cost_of_moving(p, idx):
        """The summed cost with p[idx] moved by each offset in turn."""
        old, costs = p[idx], []
        for o in offsets:
            p[idx] = old + o
            zs, acts = R.forward(ws, bs, X, act)
            costs.append(R._batch_cost(cost, zs[-1], acts[-1], Y))
        p[idx] = old
        return np.array(costs)

    for p, g in zip(ws + bs, nw + nb):
        fd = np.array([weights @ cost_of_moving(p, idx) for idx in np.ndindex(p.shape)])
        fd = fd.reshape(p.shape)
        assert np.linalg.norm(g - fd) <= 1e-6 * np.linalg.norm(fd) + 1e-9


# ---------------------------------------------------------------------------
# The small kernels (one example or a few)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("act", ACTS)
def test_small_kernels_match_reference(act, dtype):
    sizes = [12, 9, 7, 5]
    code = ACTS.index(act)
    ws, bs = make_net(sizes, seed=12, dtype=dtype)
    X, Y, labels = make_data(sizes, 6, seed=13, dtype=dtype)
    W, B = as64(ws), as64(bs)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    tol = TOL64 if dtype == np.float64 else TOL32
    out, z = _small.forward(ws, bs, sizes, dtype, X, True, code)
    zs, acts = R.forward(W, B, X64, act)
    assert_close([out, z], [acts[-1], zs[-1]], tol)
    for cost, code_cost in ((CE, 0), (QC, 1)):
        nb, nw = _small.backprop(ws, bs, sizes, dtype, X[0].copy(), None, int(labels[0]),
                                 code_cost, code)
        rnb, rnw = R.backprop(W, B, X64[:1], Y64[:1], cost, act)
        assert_close(nb + nw, rnb + rnw, tol)
        new_w, new_b = _small.update(ws, bs, sizes, dtype, X, None, labels, code_cost,
                                     0.5, 2.0, 40.0, code)
        rw, rb = R.update_mini_batch(W, B, X64, Y64, 0.5, 2.0, 40.0, cost, act)
        assert_close(new_w + new_b, rw + rb, tol)


def test_small_kernels_refuse_an_unknown_activation():
    sizes = [3, 2, 2]
    ws, bs = make_net(sizes)
    x = np.zeros(3)
    for bad in (-1, len(ACTS)):
        assert _small.forward(ws, bs, sizes, np.float64, x, False, bad) is None
        assert _small.backprop(ws, bs, sizes, np.float64, x, None, 0, 0, bad) is None
        assert _small.update(ws, bs, sizes, np.float64, x[None, :], None,
                             np.zeros(1, np.int64), 0, 0.1, 0.0, 1.0, bad) is None


def test_small_backprop_hands_back_a_relu_gradient_that_could_overflow():
    """ReLU's activations are not bounded by 1: where some delta_i a_j of a
    hidden layer could overflow, the small backprop answers None (the
    caller then checks everything), as it does for the inputs x.  Here
    a^1 = 1e200 and delta^2 = 1e200 (every z finite)."""
    sizes = [1, 1, 1, 2]
    relu = ACTS.index("relu")
    ws = [np.array([[1e200]]), np.array([[1e-200]]), np.array([[1e200], [1e200]])]
    bs = [np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((2, 1))]
    x = np.array([1.0])
    assert _small.backprop(ws, bs, sizes, np.float64, x, None, 0, 0, relu) is None
    ws[2] = np.array([[1e-200], [1e-200]])           # a small delta: no overflow
    nb, nw = _small.backprop(ws, bs, sizes, np.float64, x, None, 0, 0, relu)
    rnb, rnw = R.backprop(ws, bs, x[None, :], np.array([[1.0, 0.0]]), activation="relu")
    assert_close(nb + nw, rnb + rnw, TOL64)


# ---------------------------------------------------------------------------
# Initialisers
# ---------------------------------------------------------------------------

def test_network2_initialisers_draw_network2s_numbers():
    """After np.random.seed(s), "default" draws exactly what network2's
    default_weight_initializer does (per_example.init, written from the
    book), and "large" the same without the 1/sqrt(n_in)."""
    sizes = [7, 5, 4, 3]
    np.random.seed(42)
    want_w, want_b = pe.init(sizes)
    np.random.seed(42)
    ws, bs = R.initial_parameters(sizes)
    for got, want in zip(ws + bs, want_w + want_b):
        np.testing.assert_array_equal(got, want)
    np.random.seed(42)
    lw, lb = R.initial_parameters(sizes, "large")
    for got, want, n_in in zip(lw, want_w, sizes[:-1]):
        np.testing.assert_allclose(got / np.sqrt(n_in), want, rtol=1e-15)
    for got, want in zip(lb, want_b):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("init", ["standard", "normalized", "he"])
def test_glorot_and_he_initialisers(init):
    """Shapes, zero biases, the bounds of the uniform ones, and each law's
    variance (standard: 1/(3 n_in); normalized: 2/(n_in + n_out); He:
    2/n_in) within 5% on 100,000+ draws."""
    sizes = [400, 300, 250]
    ws, bs = R.initial_parameters(sizes, init, np.random.default_rng(0))
    assert [w.shape for w in ws] == [(300, 400), (250, 300)]
    assert [b.shape for b in bs] == [(300, 1), (250, 1)]
    assert all(not b.any() for b in bs)
    for w, (n_in, n_out) in zip(ws, zip(sizes[:-1], sizes[1:])):
        var = {"standard": 1 / (3 * n_in), "normalized": 2 / (n_in + n_out),
               "he": 2 / n_in}[init]
        assert abs(w.var() / var - 1) < 0.05
        assert abs(w.mean()) < 4 * np.sqrt(var / w.size)
        if init != "he":
            limit = np.sqrt(3 * var)
            assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    again = R.initial_parameters(sizes, init, np.random.default_rng(0))
    for a, b in zip(ws + bs, again[0] + again[1]):
        np.testing.assert_array_equal(a, b)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="init must be one of 'default', 'large', "
                                         "'standard', 'normalized', 'he'"):
        R.initial_parameters([2, 2], "xavier")
    ws, bs = make_net([3, 2, 2])
    X, Y, _ = make_data([3, 2, 2], 4)
    calls = [lambda a: K.feedforward(ws, bs, X, activation=a),
             lambda a: K.backprop(ws, bs, X, Y, activation=a),
             lambda a: K.evaluate(ws, bs, X, Y, activation=a),
             lambda a: K.mean_nabla_b(ws, bs, X, Y, activation=a),
             lambda a: K.sgd_epoch(ws, bs, X, Y, np.arange(4), 2, 0.1, 0.0, 4, activation=a),
             lambda a: R.feedforward(ws, bs, X, activation=a)]
    for call in calls:
        for bad in ("Tanh", "elu", None, 1):
            with pytest.raises(ValueError, match="activation must be one of 'sigmoid', "
                                                 "'tanh', 'softsign', 'relu'"):
                call(bad)


def test_kernels_and_reference_name_the_same_activations():
    assert K.ACTIVATIONS == tuple(R.ACTIVATIONS) == _kernels.ACTIVATIONS
    assert [R.ACTIVATIONS[a].name for a in K.ACTIVATIONS] == list(K.ACTIVATIONS)
