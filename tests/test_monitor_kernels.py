"""The monitor of the compiled epoch (``kernels.sgd_epoch(monitor=...)``),
on every path, against ``reference.sgd_epoch_monitored``, which computes
every metric from its definition: per-mini-batch gradients of the
reference's backprop, the activations of its forward pass, numpy's norms,
means and standard deviations.  The kernels compute them otherwise (sums
kept during the pass; ``grad_w`` from the weights at the stretch's ends), so
agreement tests both.
"""
import numpy as np
import pytest

from vgcore import _kernels
from vgcore.core import kernels as K
from vgcore.core import reference as R

ACTS = list(R.ACTIVATIONS)
METRICS = list(K.MONITOR_METRICS)
EPS64 = np.finfo(np.float64).eps


def setup(sizes, N, seed=0, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    ws, bs = R.initial_parameters(sizes, "normalized", rng)
    ws = [(scale * w).astype(dtype) for w in ws]
    bs = [(b + 0.3 * rng.standard_normal(b.shape)).astype(dtype) for b in bs]
    X = (2 * rng.random((N, sizes[0])) - 0.5).astype(dtype)
    labels = rng.integers(0, sizes[-1], N)
    return ws, bs, X, labels, rng.permutation(N)


def run_kernels(ws, bs, X, target, order, mbs, eta, lmbda, act, every, cost=R.CrossEntropyCost,
                act_hist=None, delta_hist=None):
    """One monitored epoch of the kernels on copies: (weights, biases,
    records, act counts, delta counts)."""
    kw, kb = [w.copy() for w in ws], [b.copy() for b in bs]
    mon = np.full(K.monitor_shape(len(order), mbs, len(ws), every), np.nan)
    kwargs = {}
    counts = []
    for kind, h in (("act", act_hist), ("delta", delta_hist)):
        if h is not None:
            c = np.full(mon.shape[:2] + (h[2],), -7, dtype=np.int64)   # overwritten
            kwargs.update({f"{kind}_hist": c, f"{kind}_range": h[:2]})
            counts.append(c)
        else:
            counts.append(None)
    K.sgd_epoch(kw, kb, X, target, order, mbs, eta, lmbda, len(X), cost=cost,
                activation=act, monitor=mon, monitor_every=every, **kwargs)
    return kw, kb, mon, counts[0], counts[1]


def assert_records(got, want, weights, eta, rtol):
    """Each metric to ``rtol``; ``grad_w`` also to the rounding of the
    weights it is computed from (a stretch's gradient exactly 0 -- a dead
    layer -- comes out as ~eps ||w|| / eta)."""
    assert got.shape == want.shape
    assert not np.isnan(got).any()
    wnorm = max(np.linalg.norm(w) for w in weights)
    for k, name in enumerate(METRICS):
        atol = 64 * EPS64 * wnorm / eta if name == "grad_w" else 0
        np.testing.assert_allclose(got[..., k], want[..., k], rtol=rtol, atol=atol,
                                   err_msg=name)


# ---------------------------------------------------------------------------
# Every metric against the reference
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("lmbda", [0.0, 4.0], ids=lambda x: f"lmbda{x:g}")
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("mbs, every", [(1, 5), (7, 3), (7, 1), (40, 2), (10, 100)],
                         ids=lambda x: str(x))
def test_every_metric_matches_the_reference(path, mbs, every, act, lmbda):
    """Stretches of 1 to 5 mini-batches, the last one shorter; mini-batches
    of 1 to 40 rows (the 40 update through the hand-written grad or the
    blas path's gradient); with and without weight decay (grad_w weighs
    each mini-batch by the decay since)."""
    sizes = [13, 21, 9, 5]
    ws, bs, X, labels, order = setup(sizes, 103)
    Y = np.eye(5)[labels]
    rw, rb, rec, _, _ = R.sgd_epoch_monitored(ws, bs, X, Y, order, mbs, 0.3, lmbda,
                                             activation=act, every=every)
    kw, kb, mon, _, _ = run_kernels(ws, bs, X, labels, order, mbs, 0.3, lmbda, act, every)
    assert len(mon) == len(R.monitor_records(103, mbs, every))
    assert_records(mon, rec, ws, 0.3, 1e-12)
    for a, b in zip(kw + kb, rw + rb):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("act", ACTS)
def test_saturated_layers(path, act):
    """Large weights (5x): sigmoid/tanh layers mostly saturated, ReLU units
    dead; a small eta keeps the epoch smooth.  The fractions themselves
    are checked to be far from 0 and 1 somewhere, so the comparison bites."""
    sizes = [13, 30, 30, 5]
    ws, bs, X, labels, order = setup(sizes, 90, seed=3, scale=5.0)
    bs[0] -= 1.0                                     # kills some ReLU units for good
    Y = np.eye(5)[labels]
    rw, rb, rec, _, _ = R.sgd_epoch_monitored(ws, bs, X, Y, order, 10, 0.01, 1.0,
                                             activation=act, every=3)
    _, _, mon, _, _ = run_kernels(ws, bs, X, labels, order, 10, 0.01, 1.0, act, 3)
    assert_records(mon, rec, ws, 0.01, 1e-12)
    sat = rec[..., METRICS.index("saturated")]
    if act != "softsign":          # softsign nears 0.99 only beyond |z| = 99
        assert ((sat > 0.05) & (sat < 0.95)).any(), sat


def test_dead_relu_units_are_counted_per_unit():
    """Units 0 and 2 of the hidden layer never fire (bias -100), unit 1
    fires on some examples only: 2 of 3 units dead in every stretch."""
    ws = [np.array([[1.0, 0.0], [1.0, -1.0], [0.0, 1.0]]), np.ones((2, 3))]
    bs = [np.array([[-100.0], [0.0], [-100.0]]), np.zeros((2, 1))]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]] * 5)
    labels = np.zeros(20, dtype=np.int64)
    _, _, mon, _, _ = run_kernels(ws, bs, X, labels, np.arange(20), 4, 1e-9, 0.0, "relu", 2)
    np.testing.assert_array_equal(mon[:, 0, METRICS.index("saturated")], 2 / 3)
    np.testing.assert_array_equal(mon[:, 1, METRICS.index("saturated")], 0.0)   # sigmoid


@pytest.mark.parametrize("act", ACTS)
def test_float32(path, act):
    """float32 parameters: the sums are still float64, so the records agree
    with the float64 reference (from the same float32 numbers) to the
    float32 rounding of the epoch (1e-4; grad_w sees each update's
    rounding: 1e-3)."""
    sizes = [13, 21, 9, 5]
    ws, bs, X, labels, order = setup(sizes, 103, dtype=np.float32)
    Y = np.eye(5)[labels]
    w64, b64 = [w.astype(np.float64) for w in ws], [b.astype(np.float64) for b in bs]
    rw, rb, rec, _, _ = R.sgd_epoch_monitored(w64, b64, X.astype(np.float64), Y, order,
                                             7, 0.3, 2.0, activation=act, every=4)
    _, _, mon, _, _ = run_kernels(ws, bs, X, labels, order, 7, 0.3, 2.0, act, 4)
    for k, name in enumerate(METRICS):
        rtol = 1e-3 if name == "grad_w" else 1e-4
        np.testing.assert_allclose(mon[..., k], rec[..., k], rtol=rtol, atol=1e-6,
                                   err_msg=name)


def test_quadratic_cost_and_targets(path):
    sizes = [8, 6, 4]
    ws, bs, X, labels, order = setup(sizes, 50, seed=5)
    Y = np.random.default_rng(6).random((50, 4))             # soft targets
    rw, rb, rec, _, _ = R.sgd_epoch_monitored(ws, bs, X, Y, order, 6, 0.5, 1.0,
                                             R.QuadraticCost, activation="tanh", every=2)
    _, _, mon, _, _ = run_kernels(ws, bs, X, Y, order, 6, 0.5, 1.0, "tanh", 2, R.QuadraticCost)
    assert_records(mon, rec, ws, 0.5, 1e-12)


# ---------------------------------------------------------------------------
# Independent cross-checks
# ---------------------------------------------------------------------------

def test_a_stretch_of_one_mini_batch_gives_the_learning_speeds(path):
    """With a record every mini-batch, grad_b is the chapter's learning
    speed that ``speeds`` reports (another code path of the kernels)."""
    sizes = [10, 8, 8, 4]
    ws, bs, X, labels, order = setup(sizes, 64, seed=7)
    kw, kb = [w.copy() for w in ws], [b.copy() for b in bs]
    speeds = np.zeros((8, 3))
    mon = np.zeros(K.monitor_shape(64, 8, 3, 1))
    K.sgd_epoch(kw, kb, X, labels, order, 8, 0.5, 1.0, 64, speeds=speeds, monitor=mon,
                monitor_every=1)
    np.testing.assert_allclose(mon[..., METRICS.index("grad_b")], speeds, rtol=1e-14)


def test_grad_w_without_decay_is_the_mean_gradient(path):
    """lmbda = 0: grad_w is ||mean over the stretch of mean dC/dw||, with the
    gradients of the reference's own backprop at the weights of each step
    (the reference's update)."""
    sizes = [6, 7, 3]
    ws, bs, X, labels, order = setup(sizes, 40, seed=8)
    Y = np.eye(3)[labels]
    _, _, mon, _, _ = run_kernels(ws, bs, X, labels, order, 5, 0.2, 0.0, "softsign", 8)
    w, b = ws, bs
    total = [np.zeros_like(x) for x in ws]
    for k in range(0, 40, 5):
        idx = order[k:k + 5]
        _, nw = R.backprop(w, b, X[idx], Y[idx], activation="softsign")
        total = [t + g / 5 for t, g in zip(total, nw)]
        w, b = R.update_mini_batch(w, b, X[idx], Y[idx], 0.2, 0.0, 40, activation="softsign")
    want = [np.linalg.norm(t / 8) for t in total]
    np.testing.assert_allclose(mon[0, :, METRICS.index("grad_w")], want, rtol=1e-12)


def test_the_monitor_does_not_change_the_training(path):
    """The same parameters, bit for bit, with and without the monitor."""
    sizes = [20, 30, 10]
    ws, bs, X, labels, order = setup(sizes, 200, seed=9)
    plain_w, plain_b = [w.copy() for w in ws], [b.copy() for b in bs]
    K.sgd_epoch(plain_w, plain_b, X, labels, order, 10, 0.5, 2.0, 200, activation="relu")
    kw, kb, _, _, _ = run_kernels(ws, bs, X, labels, order, 10, 0.5, 2.0, "relu", 3,
                                  act_hist=(0, 2, 9), delta_hist=(-1, 1, 5))
    for a, b in zip(kw + kb, plain_w + plain_b):
        np.testing.assert_array_equal(a, b)


def test_update_ratio_of_the_last_step(path):
    """The record after one mini-batch: ||w_1 - w_0|| / ||w_0||, from the
    weights before and after the call."""
    sizes = [5, 4, 3]
    ws, bs, X, labels, order = setup(sizes, 6, seed=10)
    kw, kb, mon, _, _ = run_kernels(ws, bs, X, labels, order, 6, 0.7, 3.0, "tanh", 1)
    want = [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(kw, ws)]
    np.testing.assert_allclose(mon[0, :, METRICS.index("update_ratio")], want, rtol=1e-13)


# ---------------------------------------------------------------------------
# Histograms
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS)
def test_histograms_match_the_reference(path, act):
    """Activations and deltas counted per stretch and layer, the same
    counts as the reference; ranges narrower than the values, so the end
    bins take the values outside."""
    sizes = [13, 21, 9, 5]
    ws, bs, X, labels, order = setup(sizes, 103, seed=11)
    Y = np.eye(5)[labels]
    ah, dh = (0.1, 0.6, 17), (-0.05, 0.05, 10)
    _, _, rec, ra, rd = R.sgd_epoch_monitored(ws, bs, X, Y, order, 7, 0.3, 1.0, activation=act,
                                             every=4, act_hist=ah, delta_hist=dh)
    _, _, mon, ka, kd = run_kernels(ws, bs, X, labels, order, 7, 0.3, 1.0, act, 4,
                                    act_hist=ah, delta_hist=dh)
    np.testing.assert_array_equal(ka, ra)
    np.testing.assert_array_equal(kd, rd)
    ends = R.monitor_records(103, 7, 4)
    rows = np.diff(np.minimum(np.concatenate([[0], ends]) * 7, 103))
    for counts in (ka, kd):                 # every value counted once
        np.testing.assert_array_equal(counts.sum(axis=2), rows[:, None] * np.array(sizes[1:]))
        assert (counts[..., 0] > 0).any() and (counts[..., -1] > 0).any()


def test_histogram_bins_is_numpys_histogram_inside_the_range():
    rng = np.random.default_rng(12)
    v = rng.normal(0, 1, 10_000)
    inside = v[(v > -2) & (v < 2)]
    np.testing.assert_array_equal(R.histogram_bins(inside, -2, 2, 16),
                                  np.histogram(inside, 16, (-2, 2))[0])
    counts = R.histogram_bins(np.concatenate([v, [np.nan, np.inf, -np.inf]]), -2, 2, 16)
    assert counts.sum() == v.size + 2                            # NaN not counted
    assert counts[0] == np.sum(v < -1.75) + 1 and counts[-1] == np.sum(v >= 1.75) + 1


def test_nan_activations_are_not_counted(path):
    """A NaN input makes NaN activations and deltas: the histograms leave
    them out (their totals fall short: a visible sign), the mean is NaN."""
    sizes = [3, 4, 2]
    ws, bs, X, labels, order = setup(sizes, 8, seed=13)
    X[order[0], 0] = np.nan
    _, _, mon, ka, kd = run_kernels(ws, bs, X, labels, order, 8, 0.1, 0.0, "tanh", 1,
                                    act_hist=(-1, 1, 4), delta_hist=(-1, 1, 4))
    assert ka[0].sum(axis=1).tolist() == [7 * 4, 7 * 2]
    assert np.isnan(mon[0, :, METRICS.index("act_mean")]).all()


# ---------------------------------------------------------------------------
# When records are made, and the arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, mbs, every, ends", [
    (100, 10, 3, [3, 6, 9, 10]), (100, 10, 5, [5, 10]), (101, 10, 5, [5, 10, 11]),
    (7, 10, 100, [1]), (0, 10, 3, []), (5, 1, 1, [1, 2, 3, 4, 5])])
def test_monitor_records(n, mbs, every, ends):
    assert R.monitor_records(n, mbs, every).tolist() == ends
    assert K.monitor_shape(n, mbs, 4, every) == (len(ends), 4, len(METRICS))


def test_records_at_the_ends_of_stretches(path):
    """Record r describes mini-batches ends[r-1] .. ends[r]-1: its update
    ratio is that of mini-batch ends[r] - 1 (checked by running the epoch
    in pieces)."""
    sizes = [6, 5, 3]
    ws, bs, X, labels, order = setup(sizes, 70, seed=14)
    _, _, mon, _, _ = run_kernels(ws, bs, X, labels, order, 10, 0.4, 1.0, "sigmoid", 3)
    w, b = [x.copy() for x in ws], [x.copy() for x in bs]
    for r, end in enumerate(R.monitor_records(70, 10, 3)):
        start = 0 if r == 0 else R.monitor_records(70, 10, 3)[r - 1]
        for k in range(start, end):
            before = [x.copy() for x in w]
            K.sgd_epoch(w, b, X, labels, order[10 * k:10 * k + 10], 10, 0.4, 1.0, 70)
        want = [np.linalg.norm(a - c) / np.linalg.norm(c) for a, c in zip(w, before)]
        np.testing.assert_allclose(mon[r, :, METRICS.index("update_ratio")], want, rtol=1e-13)


def test_an_empty_epoch_records_nothing():
    ws, bs, X, labels, _ = setup([3, 2, 2], 4)
    K.sgd_epoch(ws, bs, X, labels, np.array([], np.int64), 2, 0.1, 0.0, 4,
                monitor=np.zeros((0, 2, len(METRICS))), monitor_every=1)


def _args():
    ws, bs, X, labels, order = setup([4, 3, 2], 10)
    return ws, bs, X, labels, order


def _call(monitor=None, **kw):
    ws, bs, X, labels, order = _args()
    K.sgd_epoch(ws, bs, X, labels, order, 5, 0.1, 0.0, 10, monitor=monitor, **kw)


GOOD = np.zeros(K.monitor_shape(10, 5, 2, 1))
HIST = np.zeros(GOOD.shape[:2] + (4,), np.int64)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(monitor=np.zeros((2, 2, 5)), monitor_every=1), ValueError,
     r"monitor has shape \(2, 2, 5\), expected \(2, 2, 6\)"),
    (dict(monitor=GOOD), ValueError, r"expected \(1, 2, 6\)"),     # every 100 by default
    (dict(monitor=np.zeros((1, 2, 6)), monitor_every=1), ValueError, "expected"),
    (dict(monitor=GOOD.astype(np.float32)), TypeError, "monitor must be float64"),
    (dict(monitor=[[0.0]]), TypeError, "monitor must be None or a numpy array"),
    (dict(monitor=np.zeros((2, 2, 12))[:, :, ::2], monitor_every=1), ValueError,
     "C-contiguous"),
    (dict(monitor=np.zeros((2, 2, 6)), monitor_every=2), ValueError, "expected"),
    (dict(monitor=GOOD, monitor_every=0), ValueError, "monitor_every must be >= 1"),
    (dict(monitor=GOOD, monitor_every=1.0), TypeError, "monitor_every must be an int"),
    (dict(monitor=GOOD, monitor_every=True), TypeError, "monitor_every must be an int"),
    (dict(monitor_every=3), ValueError, "monitor_every is given without monitor"),
    (dict(act_hist=HIST, act_range=(0, 1)), ValueError, "act_hist is given without monitor"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=HIST), ValueError,
     r"act_hist needs act_range=\(lo, hi\)"),
    (dict(monitor=GOOD, monitor_every=1, delta_range=(0, 1)), ValueError,
     "delta_range is given without delta_hist"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=HIST, act_range=(1, 1)), ValueError,
     "lo < hi"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=HIST, act_range=(0, np.inf)), ValueError,
     "must be finite"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=HIST, act_range=(-1e308, 1e308)),
     ValueError, "finite width"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=HIST, act_range=0.5), TypeError,
     r"a pair \(lo, hi\)"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=HIST.astype(np.int32), act_range=(0, 1)),
     TypeError, "act_hist must be int64"),
    (dict(monitor=GOOD, monitor_every=1, act_hist=np.zeros((2, 2, 0), np.int64),
          act_range=(0, 1)), ValueError, "at least one bin"),
    (dict(monitor=GOOD, monitor_every=1, delta_hist=np.zeros((2, 3, 4), np.int64),
          delta_range=(0, 1)), ValueError, r"delta_hist has shape \(2, 3, 4\), expected "
                                           r"\(2, 2, 'bins'\)"),
])
def test_bad_monitor_arguments_are_refused(kwargs, err, match):
    kwargs = {k: (v.copy() if isinstance(v, np.ndarray) and v.flags.c_contiguous else v)
              for k, v in kwargs.items()}
    ws, bs, X, labels, order = _args()
    saved = [a.copy() for a in ws + bs]
    with pytest.raises(err, match=match):
        K.sgd_epoch(ws, bs, X, labels, order, 5, 0.1, 0.0, 10, **kwargs)
    for a, s in zip(ws + bs, saved):
        np.testing.assert_array_equal(a, s)


@pytest.mark.parametrize("case", ["speeds", "hists", "weights", "X", "order"])
def test_buffers_sharing_memory_are_refused(case):
    """The monitor's buffers are written during the epoch: none may share
    memory with another, with speeds, the parameters, X or order."""
    ws, bs, X, labels, order = _args()
    buf = np.zeros(GOOD.size + 40)
    monitor = buf[8:8 + GOOD.size].reshape(GOOD.shape)
    kwargs = {"monitor": monitor}
    if case == "speeds":
        kwargs["speeds"] = buf[4 + GOOD.size:8 + GOOD.size].reshape(2, 2)
    elif case == "hists":
        hist = HIST.copy()
        kwargs.update(act_hist=hist, act_range=(0, 1), delta_hist=hist, delta_range=(0, 1))
    elif case == "weights":
        ws[0] = buf[:12].reshape(3, 4)
    elif case == "X":
        X = buf[GOOD.size:GOOD.size + 40].reshape(10, 4)
    else:
        hist = HIST.copy()
        order = hist.reshape(-1)[:10]
        order[:] = np.arange(10)
        kwargs.update(act_hist=hist, act_range=(0, 1))
    saved = [a.copy() for a in ws + bs]
    with pytest.raises(ValueError, match="must not share memory"):
        K.sgd_epoch(ws, bs, X, labels, order, 5, 0.1, 0.0, 10, monitor_every=1, **kwargs)
    for a, s in zip(ws + bs, saved):
        np.testing.assert_array_equal(a, s)


def test_a_huge_monitor_every_is_one_record():
    ws, bs, X, labels, order = _args()
    mon = np.full((1, 2, len(METRICS)), np.nan)
    K.sgd_epoch(ws, bs, X, labels, order, 5, 0.1, 0.0, 10, monitor=mon,
                monitor_every=10**30)
    assert not np.isnan(mon).any()
