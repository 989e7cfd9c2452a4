"""The compiled kernels (``vgcore.kernels``) against the numpy reference.

Most tests use small random networks and data so they always run; the one
MNIST test reads ``$VGCORE_MNIST`` (the folder of the four IDX files) and is
skipped without it.

Tolerances
----------
* float64: the kernels do the same arithmetic as ``vgcore.reference`` but
  through another BLAS build (SciPy's instead of NumPy's), whose sums may
  be ordered differently, so results agree to rounding: we require a
  norm-wise relative error ``||k - r|| / ||r|| <= 1e-12`` per array.
* float32: compared with the float64 reference started from the same
  (float32-representable) parameters.  float32 rounding (eps = 6e-8) in
  sums of up to ~300 terms and in up to ~10 successive updates gives
  errors of a few eps (measured: 1e-7 to 3e-7 relative); we require
  ``<= 1e-5``, a margin of ~30x that is still far below any real error
  (a wrong formula gives O(1e-2) or more).
"""
import gzip
import math
import os

import numpy as np
import pytest

from vgcore import _kernels
from vgcore.core import kernels as K
from vgcore.core import reference as R

CE = R.CrossEntropyCost
QC = R.QuadraticCost
COSTS = [CE, QC]
SIZES = [[4, 3, 2], [5, 4, 3, 2], [6, 5, 4, 4, 3, 2], [1, 1, 1, 1], [3, 1, 1, 2]]
TOL64 = 1e-12
TOL32 = 1e-5


# ---------------------------------------------------------------------------
# Every path this machine can run: avx512, avx2, baseline (the hand-written
# kernels for each target) and blas
# ---------------------------------------------------------------------------

#: baseline as it runs where the BLAS is SSE-only (every update hand-written),
#: whatever this machine's BLAS is
SSE_BLAS_BASELINE = "baseline/sse-blas"


@pytest.fixture(autouse=True, params=_kernels.PATHS + (SSE_BLAS_BASELINE,))
def kernel_path(request, monkeypatch):
    """Run every test on each path of the kernels that this CPU supports,
    and on baseline with the update of small mini-batches both by BLAS and
    hand-written (which one baseline takes depends on the BLAS)."""
    name = request.param
    if name == SSE_BLAS_BASELINE:
        name = "baseline"
        monkeypatch.setattr(_kernels, "_sse_blas", True)
    if name not in _kernels.available_paths():
        pytest.skip(f"this CPU (or build) cannot run the {name} kernels")
    old = _kernels.set_path(name)
    yield request.param
    monkeypatch.undo()
    _kernels.set_path(old)


def test_small_update_rows_follow_the_path_and_the_blas(kernel_path):
    """Which mini-batches update with one BLAS GEMM: none on avx2, none on
    baseline over an SSE-only BLAS, those of at most 32 rows otherwise, all
    on blas."""
    rows = _kernels.small_update_rows()
    if kernel_path == "blas":
        assert rows > 10 ** 9 and K.update_route() == "BLAS"
    elif kernel_path == "avx2" or kernel_path == SSE_BLAS_BASELINE:
        assert rows == 0 and K.update_route() == "hand-written"
    elif kernel_path == "baseline":
        assert rows == (0 if _kernels.blas_is_sse_only() else 32)
    else:
        assert rows == 32
        assert K.update_route() == "BLAS up to 32 rows, hand-written above"


@pytest.mark.parametrize("cores, sse_only", [
    (["Nehalem"], True), (["Core2", "nehalem"], True), (["Haswell"], False),
    (["SkylakeX", "Nehalem"], False), (["Zen"], False), (["Sandybridge"], False)])
def test_blas_is_sse_only_reads_openblas_core_names(monkeypatch, cores, sse_only):
    import threadpoolctl
    infos = [{"internal_api": "openblas", "architecture": c} for c in cores]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: infos)
    monkeypatch.setattr(_kernels, "_sse_blas", None)
    assert _kernels.blas_is_sse_only() is sse_only


def test_blas_is_sse_only_without_openblas_asks_the_cpu(monkeypatch):
    import threadpoolctl
    monkeypatch.setattr(threadpoolctl, "threadpool_info",
                        lambda: [{"internal_api": "mkl", "architecture": None}])
    monkeypatch.setattr(_kernels, "_sse_blas", None)
    assert _kernels.blas_is_sse_only() is ("avx2" not in _kernels.available_paths())


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def make_net(sizes, seed=0, dtype=np.float64, scale=1.0):
    """network2's default initialisation (rounded to ``dtype``)."""
    rng = np.random.default_rng(seed)
    biases = [rng.standard_normal((y, 1)).astype(dtype) for y in sizes[1:]]
    weights = [(scale * rng.standard_normal((y, x)) / np.sqrt(x)).astype(dtype)
               for x, y in zip(sizes[:-1], sizes[1:])]
    return weights, biases


def make_data(sizes, N, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((N, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], N)]
    return X, Y


def copy(arrays, dtype=None):
    return [np.array(a, dtype=dtype if dtype is not None else a.dtype) for a in arrays]


def relerr(got, want):
    """Norm-wise relative error of an array (absolute when ``want`` is 0)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    den = np.linalg.norm(want)
    num = np.linalg.norm(got - want)
    return num / den if den > 0 else num


def assert_lists_close(got, want, tol):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        err = relerr(np.reshape(g, np.shape(w)), w)
        assert err <= tol, f"array {i}: relative error {err:.3g} > {tol:.3g}"


# ---------------------------------------------------------------------------
# sgd_epoch against the reference
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_single_step_matches_update_mini_batch(sizes, cost):
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 9)
    order = np.arange(9)
    rw, rb = R.update_mini_batch(ws, bs, X, Y, 0.5, 3.0, 40, cost)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, 9, 0.5, 3.0, 40, cost=cost)
    assert_lists_close(kw, rw, TOL64)
    assert_lists_close(kb, rb, TOL64)


@pytest.mark.parametrize("mbs", [1, 7, 40], ids=lambda m: f"mb{m}")
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_epoch_matches_reference(sizes, cost, mbs):
    n = 40
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 55)          # more rows than are used
    order = np.random.default_rng(2).permutation(55)[:n]
    rw, rb = R.sgd_epoch(ws, bs, X, Y, order, mbs, 0.3, 5.0, cost=cost, n=n)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, mbs, 0.3, 5.0, n, cost=cost)
    assert_lists_close(kw, rw, TOL64)
    assert_lists_close(kb, rb, TOL64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("mbs", [1, 7, 40], ids=lambda m: f"mb{m}")
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", [[5, 4, 3, 2], [3, 1, 1, 2], [6, 9, 17]], ids=str)
def test_labels_give_the_same_bits_as_one_hot_targets(sizes, cost, mbs, dtype):
    """``Y`` given as integer labels is read as its one-hot rows: every
    parameter and learning speed is identical, bit for bit (the kernel
    subtracts 1 in the label's column and 0 elsewhere, as ``a - y`` does).
    17 outputs span three float32 / float64 vectors, so the label's lane is
    found in every vector position."""
    n = 40
    ws, bs = make_net(sizes, dtype=dtype)
    rng = np.random.default_rng(5)
    labels = rng.integers(0, sizes[-1], 55).astype(np.int32)
    X = rng.random((55, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[labels]
    order = rng.permutation(55)[:n]
    out = []
    for target in (Y, labels):
        kw, kb = copy(ws), copy(bs)
        speeds = np.zeros((-(-n // mbs), len(ws)))
        K.sgd_epoch(kw, kb, X, target, order, mbs, 0.3, 5.0, n, cost=cost, speeds=speeds)
        out.append(kw + kb + [speeds])
    for got, want in zip(out[1], out[0]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(out[0][0], ws[0])       # it did train


@pytest.mark.parametrize("labels, err, match", [
    (np.array([0, 1, 2, 1, 0, 1, 0, 1, 0, 1]), ValueError, r"outside \[0, 2\)"),
    (np.array([0, 1, -1, 1, 0, 1, 0, 1, 0, 1]), ValueError, r"outside \[0, 2\)"),
    (np.zeros(9, dtype=np.int64), ValueError, "9 labels, expected 10"),
    (np.zeros(10), TypeError, "must hold integers"),
    (np.zeros(10, dtype=bool), TypeError, "must hold integers"),
])
def test_bad_labels_are_refused(labels, err, match):
    ws, bs, X, _ = _good()
    saved = copy(ws + bs)
    with pytest.raises(err, match=match):
        _sgd(ws, bs, X, labels)
    for a, s in zip(ws + bs, saved):
        np.testing.assert_array_equal(a, s)


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", [[5, 4, 3, 2], [3, 1, 1, 2]], ids=str)
def test_several_epochs_flat_biases(sizes, cost):
    """(n_l,) biases are accepted and updated in place, as (n_l, 1) ones."""
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 30)
    rw, rb = ws, bs
    kw, kb = copy(ws), [b[:, 0].copy() for b in bs]
    for epoch in range(3):
        order = np.random.default_rng(epoch).permutation(30)
        rw, rb = R.sgd_epoch(rw, rb, X, Y, order, 7, 0.5, 1.0, cost=cost)
        K.sgd_epoch(kw, kb, X, Y, order, 7, 0.5, 1.0, 30, cost=cost)
    assert_lists_close(kw, rw, TOL64)
    assert_lists_close(kb, [b[:, 0] for b in rb], TOL64)


def test_sgd_updates_in_place_and_returns_none():
    ws, bs = make_net([4, 3, 2])
    X, Y = make_data([4, 3, 2], 10)
    ids = [id(a) for a in ws + bs]
    before = copy(ws)
    assert K.sgd_epoch(ws, bs, X, Y, np.arange(10), 5, 0.5, 0.0, 10) is None
    assert [id(a) for a in ws + bs] == ids
    assert relerr(ws[0], before[0]) > 0


def test_repeated_indices_and_empty_order():
    sizes = [4, 3, 2]
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 6)
    order = np.array([5, 5, 0, 5, 1, 1, 1], dtype=np.int64)
    rw, rb = R.sgd_epoch(ws, bs, X, Y, order, 3, 0.5, 1.0, n=6)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, 3, 0.5, 1.0, 6)
    assert_lists_close(kw + kb, rw + rb, TOL64)
    K.sgd_epoch(kw, kb, X, Y, np.array([], dtype=np.int64), 3, 0.5, 1.0, 6,
                speeds=np.zeros((0, 2)))
    assert_lists_close(kw + kb, rw + rb, TOL64)


@pytest.mark.parametrize("mbs", [10, 11, 2**31, 2**62, 2**63, 10**30])
def test_mini_batch_larger_than_the_data_is_one_batch(mbs):
    ws, bs = make_net([4, 3, 2])
    X, Y = make_data([4, 3, 2], 10)
    rw, rb = R.sgd_epoch(ws, bs, X, Y, np.arange(10), 10, 0.5, 1.0, n=10)
    kw, kb = copy(ws), copy(bs)
    speeds = np.zeros((1, 2))
    K.sgd_epoch(kw, kb, X, Y, np.arange(10), mbs, 0.5, 1.0, 10, speeds=speeds)
    assert_lists_close(kw + kb, rw + rb, TOL64)
    assert np.all(speeds > 0)


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", [[6, 5, 4, 3], [3, 1, 1, 2]], ids=str)
def test_float32_epoch(sizes, cost):
    ws, bs = make_net(sizes, dtype=np.float32)
    X, Y = make_data(sizes, 60, dtype=np.float32)
    order = np.random.default_rng(3).permutation(60)
    rw, rb = R.sgd_epoch(copy(ws, np.float64), copy(bs, np.float64),
                         X.astype(np.float64), Y.astype(np.float64),
                         order, 7, 0.5, 2.0, cost=cost)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, 7, 0.5, 2.0, 60, cost=cost)
    assert all(a.dtype == np.float32 for a in kw + kb)
    assert_lists_close(kw, rw, TOL32)
    assert_lists_close(kb, rb, TOL32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mbs", [7, 13, 40, 150], ids=lambda m: f"mb{m}")
@pytest.mark.parametrize("sizes", [[40, 33, 17, 9], [70, 100, 10], [50, 64, 48, 16],
                                   [20, 130, 72, 10]], ids=str)
def test_wide_layers(sizes, mbs, dtype):
    """Widths that exercise every block shape of the AVX-512 kernels: padded
    widths of 1 to 17 vectors, so column blocks of 1 to 4 vectors and the
    uneven splits (13 -> 4+3+3+3, 17 -> 4+4+3+3+3, 9 -> 3+3+3), 5- and 6-row
    blocks of the forward product, and 1 to 3 row blocks of the update
    (mini-batches of 40 and 150; the last mini-batch of 150 has 50 rows)."""
    ws, bs = make_net(sizes, dtype=dtype)
    X, Y = make_data(sizes, 200, dtype=dtype)
    order = np.random.default_rng(7).permutation(200)
    w64, b64 = copy(ws, np.float64), copy(bs, np.float64)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    rw, rb = R.sgd_epoch(w64, b64, X64, Y64, order, mbs, 0.5, 2.0, n=200)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, mbs, 0.5, 2.0, 200)
    tol = TOL64 if dtype == np.float64 else TOL32
    assert_lists_close(kw + kb, rw + rb, tol)
    assert relerr(K.feedforward(kw, kb, X), R.feedforward(rw, rb, X64)) <= tol
    nb, nw = K.backprop(kw, kb, X, Y)
    rnb, rnw = R.backprop(copy(kw, np.float64), copy(kb, np.float64), X64, Y64)
    assert_lists_close(nb + nw, rnb + rnw, tol)


# ---------------------------------------------------------------------------
# speeds
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mbs", [1, 7, 30], ids=lambda m: f"mb{m}")
@pytest.mark.parametrize("sizes", [[5, 4, 3, 2], [1, 1, 1, 1]], ids=str)
def test_speeds_match_reference_backprop(sizes, mbs, cost):
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 30)
    order = np.random.default_rng(4).permutation(30)
    want = []
    rw, rb = ws, bs
    for k in range(0, 30, mbs):
        idx = order[k:k + mbs]
        nb, _ = R.backprop(rw, rb, X[idx], Y[idx], cost)
        want.append([np.linalg.norm(g) / len(idx) for g in nb])
        rw, rb = R.update_mini_batch(rw, rb, X[idx], Y[idx], 0.5, 1.0, 30, cost)
    speeds = np.full((math.ceil(30 / mbs), len(ws)), np.nan)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, mbs, 0.5, 1.0, 30, cost=cost, speeds=speeds)
    assert speeds.shape == np.shape(want)
    np.testing.assert_allclose(speeds, want, rtol=1e-12, atol=0)
    assert_lists_close(kw + kb, rw + rb, TOL64)


# ---------------------------------------------------------------------------
# backprop
# ---------------------------------------------------------------------------

def _summed_cost(weights, biases, X, Y, cost):
    zs, acts = R.forward(weights, biases, X)
    return R._batch_cost(cost, zs[-1], acts[-1], Y)


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_backprop_finite_differences(sizes, cost):
    """Every partial derivative against a central difference of the total cost.

    The five-point central stencil ``(-C(+2h) + 8C(+h) - 8C(-h) + C(-2h)) / 12h``
    with ``h = 1e-3`` has truncation error O(h^4) ~ 1e-12 and rounding error
    ~ eps C / h ~ 1e-12, so the comparison can be tight (1e-6).
    """
    ws, bs = make_net(sizes, seed=5)
    X, Y = make_data(sizes, 12, seed=6)
    nb, nw = K.backprop(ws, bs, X, Y, cost)
    h = 1e-3

    def c_at(p, idx, v):
        p[idx] = v
        return _summed_cost(ws, bs, X, Y, cost)

    for params, grads in ((ws, nw), (bs, nb)):
        for p, g in zip(params, grads):
            assert g.shape == p.shape
            fd = np.empty_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                fd[idx] = (-c_at(p, idx, old + 2 * h) + 8 * c_at(p, idx, old + h)
                           - 8 * c_at(p, idx, old - h) + c_at(p, idx, old - 2 * h)) / (12 * h)
                p[idx] = old
            assert relerr(g, fd) <= 1e-6


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("N", [1, 255, 256, 600], ids=lambda n: f"N{n}")
def test_backprop_matches_reference_over_blocks(N, cost):
    sizes = [7, 5, 4, 3]
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, N)
    nb, nw = K.backprop(ws, bs, X, Y, cost)
    rb, rw = R.backprop(ws, bs, X, Y, cost)
    assert [g.shape for g in nb] == [(5, 1), (4, 1), (3, 1)]
    assert_lists_close(nb + nw, rb + rw, TOL64)


def test_backprop_float32():
    sizes = [7, 5, 3]
    ws, bs = make_net(sizes, dtype=np.float32)
    X, Y = make_data(sizes, 300, dtype=np.float32)
    nb, nw = K.backprop(ws, bs, X, Y)
    assert all(g.dtype == np.float32 for g in nb + nw)
    rb, rw = R.backprop(copy(ws, np.float64), copy(bs, np.float64),
                        X.astype(np.float64), Y.astype(np.float64))
    assert_lists_close(nb + nw, rb + rw, TOL32)


# ---------------------------------------------------------------------------
# feedforward, evaluate, mean_nabla_b
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("N", [1, 300, 1000], ids=lambda n: f"N{n}")
@pytest.mark.parametrize("sizes", [[6, 5, 4, 3], [3, 1, 1, 2]], ids=str)
def test_feedforward(sizes, N):
    ws, bs = make_net(sizes)
    X, _ = make_data(sizes, N)
    out = K.feedforward(ws, bs, X)
    assert out.shape == (N, sizes[-1]) and out.dtype == np.float64
    assert relerr(out, R.feedforward(ws, bs, X)) <= TOL64


def test_feedforward_float32_and_noncontiguous_input():
    sizes = [6, 5, 3]
    ws, bs = make_net(sizes, dtype=np.float32)
    X, _ = make_data(sizes, 400, dtype=np.float32)
    Xf = np.asfortranarray(X)
    out = K.feedforward(ws, bs, Xf)
    assert out.dtype == np.float32
    ref = R.feedforward(copy(ws, np.float64), copy(bs, np.float64), X.astype(np.float64))
    assert relerr(out, ref) <= TOL32


@pytest.mark.parametrize("lmbda", [0.0, 5.0])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", [[6, 5, 4, 3], [1, 1, 1, 1], [3, 1, 1, 2]], ids=str)
def test_evaluate(sizes, cost, lmbda):
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 700)
    correct, c = K.evaluate(ws, bs, X, Y, lmbda, cost)
    assert type(correct) is int and type(c) is float
    out = R.feedforward(ws, bs, X)
    assert correct == int(np.sum(np.argmax(out, 1) == np.argmax(Y, 1)))
    assert abs(c - R.total_cost(ws, bs, X, Y, lmbda, cost)) <= 1e-12 * abs(c)


def test_evaluate_float32():
    sizes = [6, 5, 3]
    ws, bs = make_net(sizes, dtype=np.float32)
    X, Y = make_data(sizes, 500, dtype=np.float32)
    correct, c = K.evaluate(ws, bs, X, Y, 2.0)
    w64, b64 = copy(ws, np.float64), copy(bs, np.float64)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    assert abs(correct - R.accuracy(w64, b64, X64, np.argmax(Y, 1))) <= 1
    assert abs(c - R.total_cost(w64, b64, X64, Y64, 2.0)) <= TOL32 * abs(c)


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", [[6, 5, 4, 3], [1, 1, 1, 1], [3, 1, 1, 2]], ids=str)
def test_mean_nabla_b(sizes, cost):
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 600)
    got = K.mean_nabla_b(ws, bs, X, Y, cost)
    want = R.mean_nabla_b(ws, bs, X, Y, cost)
    assert [g.shape for g in got] == [(n,) for n in sizes[1:]]
    assert all(g.dtype == np.float64 for g in got)
    assert_lists_close(got, want, TOL64)


def test_mean_nabla_b_float32_returns_float64():
    sizes = [6, 5, 3]
    ws, bs = make_net(sizes, dtype=np.float32)
    X, Y = make_data(sizes, 300, dtype=np.float32)
    got = K.mean_nabla_b(ws, bs, X, Y)
    assert all(g.dtype == np.float64 for g in got)
    want = R.mean_nabla_b(copy(ws, np.float64), copy(bs, np.float64),
                          X.astype(np.float64), Y.astype(np.float64))
    assert_lists_close(got, want, TOL32)


# ---------------------------------------------------------------------------
# The sigmoid (the AVX-512 path has its own vectorised exp)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_matches_reference_over_the_whole_range(dtype):
    z = np.concatenate([np.linspace(-800, 800, 100_001), np.linspace(-40, 40, 50_001),
                        [0.0, -0.0, 1e-300, -1e-300, 708, -708, -745, -746,
                         -1e4, 1e4, np.inf, -np.inf, np.nan]]).astype(dtype)
    ws, bs = [np.ones((1, 1), dtype)], [np.zeros((1, 1), dtype)]
    out = K.feedforward(ws, bs, z[:, None])[:, 0]
    with np.errstate(all="ignore"):
        want = R.sigmoid(z)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    ok = ~np.isnan(want)
    tiny = np.finfo(dtype).tiny
    ulps = np.abs(out[ok] - want[ok]) / np.maximum(np.abs(want[ok]), tiny) / np.finfo(dtype).eps
    assert ulps.max() <= 4, f"sigmoid off by {ulps.max():.2f} ulp"
    assert out[z == np.inf][0] == 1 and out[z == -np.inf][0] == 0


# ---------------------------------------------------------------------------
# Saturated units
# ---------------------------------------------------------------------------

def test_saturated_cross_entropy_is_finite_and_exact():
    # z = +-1000 at the output: sigma(z) is exactly 1 or 0 in floating point.
    ws = [np.array([[1000.0, 0.0], [-1000.0, 0.0]])]
    bs = [np.zeros((2, 1))]
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])     # row 0 right, row 1 wrong
    correct, c = K.evaluate(ws, bs, X, Y, 0.0)
    assert correct == 1
    # row 0: softplus(-1000) + softplus(-1000) ~ 0; row 1: 1000 + 1000
    assert np.isfinite(c)
    assert c == pytest.approx(2000.0 / 2, rel=1e-15)
    assert c == pytest.approx(R.total_cost(ws, bs, X, Y, 0.0), rel=1e-15)
    _, cq = K.evaluate(ws, bs, X, Y, 0.0, QC)
    assert cq == pytest.approx(1.0 / 2)


@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
def test_saturated_training_stays_finite(cost):
    sizes = [5, 4, 3]
    ws, bs = make_net(sizes, scale=2000.0)   # |z| ~ 1000
    X, Y = make_data(sizes, 20)
    kw, kb = copy(ws), copy(bs)
    rw, rb = R.sgd_epoch(ws, bs, X, Y, np.arange(20), 5, 0.1, 1.0, cost=cost)
    K.sgd_epoch(kw, kb, X, Y, np.arange(20), 5, 0.1, 1.0, 20, cost=cost)
    assert all(np.all(np.isfinite(a)) for a in kw + kb)
    assert_lists_close(kw + kb, rw + rb, TOL64)
    correct, c = K.evaluate(kw, kb, X, Y, 0.0, cost)
    assert np.isfinite(c)
    assert c == pytest.approx(R.total_cost(rw, rb, X, Y, 0.0, cost), rel=1e-12)
    for g in K.mean_nabla_b(kw, kb, X, Y, cost):
        assert np.all(np.isfinite(g))


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

def _good():
    ws, bs = make_net([4, 3, 2])
    X, Y = make_data([4, 3, 2], 10)
    return ws, bs, X, Y


def _sgd(ws, bs, X, Y, order=None, mbs=5, eta=0.5, lmbda=1.0, n=10, cost=CE, speeds=None):
    if order is None:
        order = np.arange(X.shape[0])
    K.sgd_epoch(ws, bs, X, Y, order, mbs, eta, lmbda, n, cost=cost, speeds=speeds)


def _case(kind):
    ws, bs, X, Y = _good()
    kw = {}
    if kind == "layer_count":
        bs = bs[:1]
    elif kind == "no_layers":
        ws, bs = [], []
    elif kind == "w_shape_chain":
        ws[1] = np.zeros((2, 4))
    elif kind == "w_1d":
        ws[0] = np.zeros(12)
    elif kind == "b_shape":
        bs[0] = np.zeros((3, 2))
    elif kind == "x_width":
        X = np.zeros((10, 5))
    elif kind == "x_1d":
        X = np.zeros(40)
    elif kind == "y_width":
        Y = np.zeros((10, 3))
    elif kind == "y_rows":
        Y = np.zeros((9, 2))
    elif kind == "order_range":
        kw["order"] = np.array([0, 10])
    elif kind == "order_negative":
        kw["order"] = np.array([-1, 2])
    elif kind == "order_2d":
        kw["order"] = np.zeros((2, 2), dtype=np.int64)
    elif kind == "mbs_zero":
        kw["mbs"] = 0
    elif kind == "n_zero":
        kw["n"] = 0
    elif kind == "eta_nan":
        kw["eta"] = float("nan")
    elif kind == "lmbda_inf":
        kw["lmbda"] = float("inf")
    elif kind == "speeds_shape":
        kw["speeds"] = np.zeros((2, 3))
    elif kind == "w_noncontig":
        ws[0] = np.asfortranarray(ws[0])
    elif kind == "w_readonly":
        ws[0].flags.writeable = False
    elif kind == "b_noncontig":
        bs[0] = np.zeros((3, 2))[:, :1]
    elif kind == "shared_params":
        bs[1] = bs[0][:2]

    elif kind == "speeds_noncontig":
        kw["speeds"] = np.zeros((2, 4))[:, ::2]
    return ws, bs, X, Y, kw


VALUE_ERRORS = ["layer_count", "no_layers", "w_shape_chain", "w_1d", "b_shape",
                "x_width", "x_1d", "y_width", "y_rows", "order_range",
                "order_negative", "order_2d", "mbs_zero", "n_zero", "eta_nan",
                "lmbda_inf", "speeds_shape", "w_noncontig", "w_readonly",
                "b_noncontig", "shared_params", "speeds_noncontig"]


def test_parameters_overlapping_each_other_are_refused():
    """Two weight matrices that share one element of one buffer."""
    ws, bs, X, Y = _good()
    buf = np.zeros(ws[0].size + ws[1].size - 1)
    ws[0] = buf[:ws[0].size].reshape(ws[0].shape)
    ws[1] = buf[-ws[1].size:].reshape(ws[1].shape)
    with pytest.raises(ValueError, match="weights and biases must not share memory"):
        _sgd(ws, bs, X, Y)
    assert not buf.any()


def test_parameters_inside_X_are_refused():
    ws, bs, X, Y = _good()
    X = np.concatenate([X, np.zeros((1, X.shape[1]))])
    Y = np.concatenate([Y, Y[:1]])
    bs[0] = X[-1, :bs[0].shape[0]]
    saved = X.copy()
    with pytest.raises(ValueError, match="must not share memory with X"):
        _sgd(ws, bs, X, Y, n=11)
    np.testing.assert_array_equal(X, saved)


def test_overlap_agrees_with_may_share_memory():
    """The compiled overlap test against numpy's, pair by pair, on random
    views (overlapping, adjacent, empty) of one buffer."""
    rng = np.random.default_rng(3)
    buf = np.zeros(64)
    seen = set()
    for _ in range(2000):
        views = [buf[a:a + int(rng.integers(0, 9))]
                 for a in rng.integers(0, 64, size=int(rng.integers(1, 6)))]
        X = buf[int(rng.integers(0, 64)):][:int(rng.integers(0, 9))]
        expected = 0
        for i, p in enumerate(views):
            if any(np.may_share_memory(p, q) for q in views[i + 1:]):
                expected = 1
                break
            if np.may_share_memory(p, X):
                expected = 2
                break
        assert _kernels.overlap(views, X) == expected, (views, X)
        seen.add(expected)
    assert seen == {0, 1, 2}


@pytest.mark.parametrize("kind", VALUE_ERRORS)
def test_sgd_epoch_value_errors(kind):
    ws, bs, X, Y, kw = _case(kind)
    saved = copy(ws + bs) if len(ws) == len(bs) else None
    with pytest.raises(ValueError):
        _sgd(ws, bs, X, Y, **kw)
    if saved is not None:   # nothing was touched
        for a, s in zip(ws + bs, saved):
            if a.shape == s.shape:
                np.testing.assert_array_equal(a, s)


@pytest.mark.parametrize("kind", ["x_dtype", "y_dtype", "w_dtype", "b_dtype",
                                  "int_x", "order_float", "cost", "mbs_float",
                                  "speeds_dtype", "w_list", "eta_str"])
def test_sgd_epoch_type_errors(kind):
    ws, bs, X, Y = _good()
    kw = {}
    if kind == "x_dtype":
        X = X.astype(np.float32)
    elif kind == "y_dtype":
        Y = Y.astype(np.float32)
    elif kind == "w_dtype":
        ws[1] = ws[1].astype(np.float32)
    elif kind == "b_dtype":
        bs[0] = bs[0].astype(np.float32)
    elif kind == "int_x":
        X = X.astype(np.int64)
    elif kind == "order_float":
        kw["order"] = np.arange(10, dtype=np.float64)
    elif kind == "cost":
        class MyCost(CE):
            pass
        kw["cost"] = MyCost
    elif kind == "mbs_float":
        kw["mbs"] = 5.0
    elif kind == "speeds_dtype":
        kw["speeds"] = np.zeros((2, 2), dtype=np.float32)
    elif kind == "w_list":
        ws[0] = ws[0].tolist()
    elif kind == "eta_str":
        kw["eta"] = "0.5"
    with pytest.raises(TypeError):
        _sgd(ws, bs, X, Y, **kw)


def test_other_functions_validate():
    ws, bs, X, Y = _good()
    with pytest.raises(ValueError):
        K.feedforward(ws, bs, X[:, :3])
    with pytest.raises(TypeError):
        K.feedforward(ws, bs, X.astype(np.float32))
    with pytest.raises(ValueError):
        K.evaluate(ws, bs, X, Y[:, :1])
    with pytest.raises(TypeError):
        K.evaluate(ws, bs, X, Y, cost=object)
    with pytest.raises(ValueError):
        K.evaluate(ws, bs, X, Y, lmbda=float("nan"))
    with pytest.raises(ValueError):
        K.backprop(ws[:1], bs, X, Y)
    with pytest.raises(TypeError):
        K.backprop(ws, bs, X, Y.astype(np.float32))
    with pytest.raises(ValueError):
        K.mean_nabla_b(ws, bs, X[:0], Y[:0])
    with pytest.raises(TypeError):
        K.mean_nabla_b(ws, bs, X, Y, cost=None)


def test_read_only_inputs_are_accepted():
    ws, bs, X, Y = _good()
    for a in ws + bs + [X, Y]:
        a.flags.writeable = False
    out = K.feedforward(ws, bs, X)
    assert relerr(out, R.feedforward(ws, bs, X)) <= TOL64
    K.evaluate(ws, bs, X, Y)
    K.backprop(ws, bs, X, Y)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, np.arange(10), 3, 0.5, 0.0, 10)


# ---------------------------------------------------------------------------
# MNIST (optional)
# ---------------------------------------------------------------------------

def _read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def test_mnist_epoch_matches_reference(mnist_dir):
    folder = str(mnist_dir)
    n = 2000
    images = _read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"), 16)
    labels = _read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"), 8)
    X = (images[:n * 784].reshape(n, 784) / 256.0).astype(np.float32).astype(np.float64)
    Y = np.eye(10)[labels[:n]]
    ws, bs = make_net([784, 30, 10])
    order = np.random.default_rng(0).permutation(n)
    rw, rb = R.sgd_epoch(ws, bs, X, Y, order, 10, 0.1, 5.0, n=n)
    kw, kb = copy(ws), copy(bs)
    K.sgd_epoch(kw, kb, X, Y, order, 10, 0.1, 5.0, n)
    assert_lists_close(kw + kb, rw + rb, TOL64)
    assert K.evaluate(kw, kb, X, Y, 5.0)[0] == R.accuracy(rw, rb, X, labels[:n])


# ---------------------------------------------------------------------------
# The benchmark's baselines do the same work
# ---------------------------------------------------------------------------

def test_bench_per_example_baseline_matches_reference():
    from vgcore.bench.baseline import PerExampleNetwork, pairs as _pairs
    from vgcore.bench.timing import train_flops
    sizes = [6, 5, 4, 3]
    ws, bs = make_net(sizes)
    X, Y = make_data(sizes, 23)
    order = np.random.default_rng(0).permutation(23)
    net = PerExampleNetwork(ws, bs)
    net.sgd_epoch(_pairs(X, Y, order), 7, 0.5, 2.0, 23)
    rw, rb = R.sgd_epoch(ws, bs, X, Y, order, 7, 0.5, 2.0, n=23)
    assert_lists_close(net.weights + net.biases, rw + rb, 1e-12)
    correct, c = net.evaluate(_pairs(X, Y, range(23)), 2.0)
    assert correct == R.accuracy(rw, rb, X, np.argmax(Y, 1))
    assert c == pytest.approx(R.total_cost(rw, rb, X, Y, 2.0), rel=1e-12)
    # SPEC.md: about 4.8 GFLOP per epoch of [784,30,10] on 50,000 images
    assert train_flops([784, 30, 10], 50_000) == 4_794_000_000


def test_bench_subcommand_is_registered():
    from vgcore.cli import build_parser
    args = build_parser().parse_args(["bench", "--quick", "--repeat", "1", "--json", "x.json"])
    assert args.quick and args.repeat == 1 and args.json == "x.json" and callable(args.func)

