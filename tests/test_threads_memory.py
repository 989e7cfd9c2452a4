"""The kernels release the GIL and keep no global state: two threads that
train two separate networks get exactly the results of sequential runs, and
repeated calls do not leak memory."""
import threading

import numpy as np
import pytest

from vgcore.bench.timing import rss_kib as _rss_kib  # resident memory in KiB, None off Linux

from vgcore import _kernels
from vgcore.core import kernels as K


def _net_and_data(seed, sizes=(30, 20, 10, 5), N=500):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    X = rng.random((N, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], N)]
    return ws, bs, X, Y


def _train(ws, bs, X, Y, epochs, out):
    N = X.shape[0]
    speeds = np.empty((-(-N // 7), len(ws)))
    for e in range(epochs):
        order = np.random.default_rng(e).permutation(N)
        K.sgd_epoch(ws, bs, X, Y, order, 7, 0.3, 2.0, N, speeds=speeds)
    out.extend([ws, bs, speeds, K.evaluate(ws, bs, X, Y, 2.0),
                K.mean_nabla_b(ws, bs, X, Y)])


def _copy(net):
    ws, bs, X, Y = net
    return [w.copy() for w in ws], [b.copy() for b in bs], X, Y


def test_two_threads_equal_sequential_runs():
    nets = [_net_and_data(1), _net_and_data(2)]
    seq = [[], []]
    for i in range(2):
        _train(*_copy(nets[i]), 5, seq[i])
    par = [[], []]
    threads = [threading.Thread(target=_train, args=(*_copy(nets[i]), 5, par[i]))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s, p in zip(seq, par):
        ws_s, bs_s, sp_s, ev_s, mb_s = s
        ws_p, bs_p, sp_p, ev_p, mb_p = p
        for a, b in zip(ws_s + bs_s + [sp_s] + mb_s, ws_p + bs_p + [sp_p] + mb_p):
            np.testing.assert_array_equal(a, b)
        assert ev_s == ev_p




@pytest.mark.parametrize("call", ["sgd_epoch", "evaluate", "feedforward", "backprop",
                                  "mean_nabla_b"])
def test_the_gil_is_released_during_the_call(call):
    """No timing: with the switch interval at 100 s, the main thread can only
    get the GIL back while the worker is inside the kernel if the kernel
    released it; otherwise it resumes after the worker has finished."""
    import sys
    ws, bs, X, Y = _net_and_data(3, sizes=(200, 100, 10), N=20_000)
    run = {"sgd_epoch": lambda: K.sgd_epoch(ws, bs, X, Y, np.arange(20_000), 10,
                                            0.1, 1.0, 20_000),
           "evaluate": lambda: K.evaluate(ws, bs, X, Y, 1.0),
           "feedforward": lambda: K.feedforward(ws, bs, X),
           "backprop": lambda: K.backprop(ws, bs, X, Y),
           "mean_nabla_b": lambda: K.mean_nabla_b(ws, bs, X, Y)}[call]
    state = {"done": False}
    started = threading.Event()

    def worker():
        started.set()
        run()
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        t = threading.Thread(target=worker)
        t.start()
        started.wait()
        done_when_main_resumed = state["done"]
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert state["done"]
    assert not done_when_main_resumed, f"{call} kept the GIL for the whole call"


def test_repeated_calls_do_not_leak():
    if _rss_kib() is None:
        pytest.skip("needs /proc/self/status (Linux) to read the resident memory")
    ws, bs, X, Y = _net_and_data(3, N=200)
    order = np.arange(200)

    def many():
        for _ in range(300):
            K.sgd_epoch(ws, bs, X, Y, order, 10, 0.1, 1.0, 200)
            K.evaluate(ws, bs, X, Y)
            K.backprop(ws, bs, X, Y)
            K.feedforward(ws, bs, X)
            K.mean_nabla_b(ws, bs, X, Y)

    many()                       # warm up allocator pools
    before = _rss_kib()
    many()
    grown = _rss_kib() - before
    # each sgd_epoch call alone allocates a ~30 KiB workspace; a leak of it
    # (or of the block workspaces, ~100 KiB) over 300 calls would exceed 8 MiB
    assert grown < 8 * 1024, f"resident memory grew by {grown} KiB"


def test_blas_thread_limit_is_restored_after_concurrent_calls():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="the BLAS limit uses threadpoolctl")
    before = [d["num_threads"] for d in threadpoolctl.threadpool_info()]
    nets = [_net_and_data(4, N=300), _net_and_data(5, N=300)]

    def big_calls(ws, bs, X, Y):
        for _ in range(20):
            K.sgd_epoch(ws, bs, X, Y, np.arange(300), 100, 0.1, 1.0, 300)
            K.evaluate(ws, bs, X, Y)

    threads = [threading.Thread(target=big_calls, args=_copy(net)) for net in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [d["num_threads"] for d in threadpoolctl.threadpool_info()] == before


def test_set_blas_threads():
    old = K.set_blas_threads(None)
    try:
        assert old == 1
        assert K.set_blas_threads(2) is None
        for bad in (0, -1, 1.5, True, "1"):
            with pytest.raises(ValueError):
                K.set_blas_threads(bad)
        ws, bs, X, Y = _net_and_data(6, N=100)
        K.evaluate(ws, bs, X, Y)
    finally:
        K.set_blas_threads(old)


@pytest.mark.parametrize("path", _kernels.PATHS)
def test_blas_is_limited_around_every_call_with_a_large_blas_product(path, monkeypatch):
    """BLAS is held to one thread for every call that runs a BLAS product
    of more than 65,536 multiply-adds, small mini-batches included (OpenBLAS
    splits a 10 x 784 x 100 update over its threads, and a busy core then
    stalls the epoch), and left alone otherwise (setting it costs ~10 us).
    Which products a call runs depends on the path: with the hand-written
    kernels only the update of small mini-batches and backprop's nabla_w."""
    if path not in _kernels.available_paths():
        pytest.skip(f"this CPU cannot run the {path} kernels")
    asked = []

    def fake_controller():
        asked.append(True)
        return False                      # as if threadpoolctl were absent
    monkeypatch.setattr(K, "_get_controller", fake_controller)
    old = _kernels.set_path(path)
    try:
        on_blas = path == "blas"
        blas_update_10 = on_blas or 10 <= _kernels.small_update_rows()
        big = _net_and_data(7, sizes=(784, 100, 10), N=300)
        small = _net_and_data(7, sizes=(7, 5, 3), N=300)
        order = np.random.default_rng(0).permutation(300)
        for (ws, bs, X, Y), large in ((big, True), (small, False)):
            calls = {"sgd_epoch mb10": (lambda: K.sgd_epoch(ws, bs, X, Y, order, 10,
                                                             0.1, 0.0, 300.0), blas_update_10),
                     "sgd_epoch mb100": (lambda: K.sgd_epoch(ws, bs, X, Y, order, 100,
                                                              0.1, 0.0, 300.0), on_blas),
                     "feedforward": (lambda: K.feedforward(ws, bs, X), on_blas),
                     "evaluate": (lambda: K.evaluate(ws, bs, X, Y), on_blas),
                     "mean_nabla_b": (lambda: K.mean_nabla_b(ws, bs, X, Y), on_blas),
                     "backprop": (lambda: K.backprop(ws, bs, X, Y), True)}
            for name, (call, limited) in calls.items():
                asked.clear()
                call()
                assert asked == ([True] if (large and limited) else []), (name, large)
    finally:
        _kernels.set_path(old)
