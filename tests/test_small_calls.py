"""The single-call route of vgcore.network2: ``feedforward``'s read without
the lock, ``_small.feedforward`` (one column), and the BLAS thread policy
of the small-call kernels.  (Their numbers: test_dropin_fidelity.py and
test_activations.py, against tests/per_example.py and the reference.)"""
import threading

import numpy as np
import pytest

from vgcore import _small, network2
from vgcore.core import kernels as K
from vgcore.core import small
from vgcore.core.reference import ACTIVATIONS
from vgcore.core.reference import feedforward as ref_feedforward

from per_example import feedforward as pe_feedforward


def _params(sizes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    W = [rng.standard_normal((b, a)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    B = [rng.standard_normal((b, 1)).astype(dtype) for b in sizes[1:]]
    return W, B


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[1, 1], [5, 3, 2], [784, 30, 30, 10], [20] * 17,
                                   [3000, 2, 1]], ids=str)
def test_feedforward_of_one_column_matches_forward_and_the_per_example_network(sizes, dtype):
    """Shaped like the input, the bits of ``forward`` (the same passes),
    within rounding of the per-example network; 16 layers at most on the
    stack (deeper: None, the caller's general path), big inputs through
    a workspace of their own."""
    W, B = _params(sizes, dtype)
    rng = np.random.default_rng(1)
    for x in (rng.random((sizes[0], 1)), rng.random(sizes[0]).astype(np.float32)):
        out = _small.feedforward(W, B, sizes, dtype, x)
        if len(sizes) > 17:
            assert out is None
            continue
        assert out.dtype == dtype and out.shape == (sizes[-1],) + x.shape[1:]
        np.testing.assert_array_equal(out.ravel(), _small.forward(W, B, sizes, dtype, x)[0])
        want = pe_feedforward([w.astype(float) for w in W], [b.astype(float) for b in B],
                              x.reshape(-1, 1).astype(dtype).astype(float))
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(out.reshape(-1, 1), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_feedforward_of_one_column_keeps_the_hidden_activation(act):
    sizes = [7, 6, 5, 3]
    W, B = _params(sizes)
    x = np.random.default_rng(2).standard_normal((7, 1))
    code = list(ACTIVATIONS).index(act)
    out = _small.feedforward(W, B, sizes, np.float64, x, code)
    want = ref_feedforward(W, B, x.T, activation=act)
    np.testing.assert_allclose(out.T, want, rtol=1e-13, atol=1e-15)
    assert _small.feedforward(W, B, sizes, np.float64, x, len(ACTIVATIONS)) is None
    assert _small.feedforward(W, B, sizes, np.float64, x, -1) is None


def test_feedforward_of_one_column_refuses_what_it_cannot_read():
    sizes = [4, 3, 2]
    W, B = _params(sizes)
    x = np.ones((4, 1))
    good = _small.feedforward(W, B, sizes, np.float64, x)
    np.testing.assert_allclose(good, pe_feedforward(W, B, x), rtol=1e-13, atol=1e-15)
    for bad in (x[:3], np.ones((4, 2)), np.ones((1, 4)), x.astype(np.int64), x.tolist(),
                np.ones((4, 2))[:, :1], np.ones((4, 1, 1)), None,
                np.array([[np.nan], [0], [0], [0]]), np.array([[1e308], [1e308], [0], [0]])):
        assert _small.feedforward(W, B, sizes, np.float64, bad) is None
    for w, b, s, d in ((W, B, [4, 3, 3], np.float64), (W[:1], B, sizes, np.float64),
                       (W, B, sizes, np.float32), (W, B, (4, 3, 2), np.float64),
                       (W, B, [4, 3.0, 2], np.float64), ([W[0].T, W[1]], B, sizes, np.float64),
                       ([W[0][:, ::-1], W[1]], B, sizes, np.float64),
                       (tuple(W), B, sizes, np.float64), (W, B, sizes, "float64")):
        assert _small.feedforward(w, b, s, d, x) is None


def test_network_feedforward_reads_again_under_the_lock_when_training_came_in(monkeypatch):
    """The read without the lock is kept only if no writer came or went
    while it ran: here an update_mini_batch (another thread) runs during
    the first read, and the answer is that of the updated network."""
    np.random.seed(0)
    net = network2.Network([3, 4, 2])
    x, y = np.ones((3, 1)), np.array([[1.0], [0.0]])
    compiled = _small.feedforward
    calls, race = [], [True]

    def racing(*args):
        out = compiled(*args)
        calls.append(net._lock().quiet)
        if race.pop() if race else False:
            t = threading.Thread(target=net.update_mini_batch, args=([(x, y)], 3.0, 0.0, 1))
            t.start()
            t.join()
        return out
    monkeypatch.setattr(small, "feedforward", racing)
    before = compiled(net.weights, net.biases, net.sizes, np.float64, x)
    out = net.feedforward(x)
    assert len(calls) == 2 and calls[0] != calls[1]
    after = compiled(net.weights, net.biases, net.sizes, np.float64, x)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(out, after)
    calls.clear()
    net.feedforward(x)
    assert len(calls) == 1, "no writer: one read, without the lock"


def test_the_lock_is_not_quiet_while_a_writer_holds_it_or_waits():
    net = network2.Network([3, 2])
    lock = net._lock()
    q0 = lock.quiet
    assert q0 is not None
    entered, leave = threading.Event(), threading.Event()

    def writer():
        with lock.writing("test"):
            entered.set()
            leave.wait(10)
    with lock.reading:                     # the writer must wait for this reader
        t = threading.Thread(target=writer)
        t.start()
        for _ in range(1000):
            if lock._waiting_writers:
                break
            threading.Event().wait(0.005)
        assert lock.quiet is None          # waiting
    assert entered.wait(10)
    assert lock.quiet is None              # holding
    out = {}
    reader = threading.Thread(target=lambda: out.setdefault("y", net.feedforward(np.ones(3))))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive(), "feedforward must wait for the writer"
    leave.set()
    t.join(10)
    reader.join(10)
    assert "y" in out and lock.quiet not in (None, q0)


def test_small_calls_follow_the_blas_thread_policy(monkeypatch):
    """As vgcore.core.kernels, with OpenBLAS's own bound: a call whose
    largest BLAS product exceeds _small.ONE_THREAD_MACS (4 x 65,536)
    multiply-adds asks for the BLAS limit, smaller ones do not."""
    asked = []

    def fake_controller():
        asked.append(True)
        return False
    monkeypatch.setattr(K, "_get_controller", fake_controller)
    bound = _small.ONE_THREAD_MACS
    assert bound == 4 * K._ONE_THREAD_MACS
    for sizes in ([784, 30, 30, 10], [784, 100, 10], [7, 5, 3], [3000, 100, 10]):
        W, B = _params(sizes)
        n = network2.Network(sizes)
        n.weights, n.biases = W, B
        x = np.random.default_rng(0).random((sizes[0], 1))
        y = np.zeros((sizes[-1], 1))
        largest = max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        for name, call, k in (
                ("feedforward", lambda: n.feedforward(x), 0),     # no BLAS product
                ("backprop", lambda: n.backprop(x, 1), 1),
                ("accuracy of 10", lambda: n.accuracy([(x, 1)] * 10), 10),
                ("update of 10", lambda: n.update_mini_batch([(x, y)] * 10, 0.1, 0.0, 10),
                 10)):
            asked.clear()
            call()
            if name == "feedforward":
                limited = largest > bound         # its gemv: limited if large
            else:
                limited = k * largest > bound
            assert asked == ([True] if limited else []), (sizes, name)


def test_without_a_gil_every_feedforward_takes_the_lock(monkeypatch):
    """Free-threaded Python: the read without the lock would not be safe."""
    from vgcore._support import locks
    monkeypatch.setattr(locks, "_GIL", False)
    net = network2.Network([3, 2])
    lock = net._lock()
    assert lock.quiet is None
    x = np.ones((3, 1))
    out = net.feedforward(x)
    np.testing.assert_array_equal(out, _small.feedforward(net.weights, net.biases, net.sizes,
                                                          np.float64, x))
    with lock.writing("test"):
        pass
    assert lock.quiet is None
