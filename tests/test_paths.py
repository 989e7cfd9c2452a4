"""The paths of the kernels (avx512, avx2, baseline, blas): how one is
chosen, that they compute the same numbers, and the per-thread workspace.

The parity of every path with the numpy reference and finite differences
is in ``test_kernels.py`` (parametrised over the paths this CPU runs).
"""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from vgcore import _kernels
from vgcore.core import kernels as K
from vgcore.core import reference as R

SIMD = [p for p in ("avx512", "avx2", "baseline") if p in _kernels.available_paths()]


def _net(sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    ws = [(rng.standard_normal((y, x)) / np.sqrt(x)).astype(dtype)
          for x, y in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal((y, 1)).astype(dtype) for y in sizes[1:]]
    return ws, bs


def _results(path, sizes, dtype, mbs, cost, N=230):
    """Everything the kernels compute for one network, on ``path``."""
    old = _kernels.set_path(path)
    try:
        rng = np.random.default_rng(1)
        ws, bs = _net(sizes, dtype)
        X = rng.random((N, sizes[0])).astype(dtype)
        labels = rng.integers(0, sizes[-1], N)
        Y = np.eye(sizes[-1], dtype=dtype)[labels]
        order = rng.permutation(N)
        speeds = np.zeros((-(-N // mbs), len(ws)))
        K.sgd_epoch(ws, bs, X, labels, order, mbs, 0.5, 3.0, N, cost=cost, speeds=speeds)
        nb, nw = K.backprop(ws, bs, X, Y, cost)
        return (ws + bs + [speeds, K.feedforward(ws, bs, X)] + nb + nw
                + K.mean_nabla_b(ws, bs, X, Y, cost) + [np.array(K.evaluate(ws, bs, X, Y, 1.0, cost))])
    finally:
        _kernels.set_path(old)


CASES = [([784, 30, 10], 40), ([40, 33, 17, 9], 100), ([20, 130, 72, 10], 33), ([3, 1, 1, 2], 46)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("cost", [R.CrossEntropyCost, R.QuadraticCost], ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes, mbs", CASES, ids=str)
def test_avx2_and_avx512_give_the_same_bits(sizes, mbs, cost, dtype):
    """The same FMAs in the same order on both widths: every result equal,
    bit for bit (every mini-batch larger than the 32 rows that avx512 sends
    to a BLAS update; avx2 updates all of them by hand)."""
    if not {"avx2", "avx512"} <= set(_kernels.available_paths()):
        pytest.skip("needs a CPU with both AVX2 and AVX-512F")
    assert mbs > 32 and _kernels.small_update_rows() <= 32
    N = 5 * mbs
    for a, b in zip(_results("avx512", sizes, dtype, mbs, cost, N),
                    _results("avx2", sizes, dtype, mbs, cost, N)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("path", SIMD)
@pytest.mark.parametrize("cost", [R.CrossEntropyCost, R.QuadraticCost], ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes, mbs", CASES + [([784, 30, 10], 10)], ids=str)
def test_every_path_agrees_with_blas_to_rounding(sizes, mbs, cost, path):
    """float64: the hand-written kernels against the blas path (BLAS products,
    the C library's exp, scalar loops) after a whole epoch and every other
    call: relative 1e-12 per array."""
    for a, b in zip(_results(path, sizes, np.float64, mbs, cost),
                    _results("blas", sizes, np.float64, mbs, cost)):
        den = np.linalg.norm(b)
        err = np.linalg.norm(a - b) / (den if den > 0 else 1.0)
        assert err <= 1e-12, err


# ---------------------------------------------------------------------------
# Choosing a path
# ---------------------------------------------------------------------------

def test_paths_reported():
    avail = K.cpu_paths()
    assert avail == _kernels.available_paths()
    assert avail[-1] == "blas" and set(avail) <= set(_kernels.PATHS)
    assert list(avail) == [p for p in _kernels.PATHS if p in avail]   # fastest first
    assert K.cpu_path() in avail


@pytest.mark.parametrize("value, available, expected", [
    (None, ("avx2", "baseline", "blas"), "avx2"),
    ("", ("baseline", "blas"), "baseline"),
    ("  ", ("blas",), "blas"),
    ("blas", ("avx512", "avx2", "baseline", "blas"), "blas"),
    ("AVX2", ("avx512", "avx2", "baseline", "blas"), "avx2"),
    (" baseline\n", ("avx2", "baseline", "blas"), "baseline"),
])
def test_choose_path(value, available, expected):
    assert _kernels.choose_path(value, available) == expected


@pytest.mark.parametrize("value, match", [
    ("avx512", r"cannot run the avx512 kernels; it can run: avx2, baseline, blas"),
    ("sse2", r"VGCORE_CPU='sse2' is not a path .* avx512, avx2, baseline, blas"),
    ("avx", r"is not a path"),
])
def test_choose_path_refuses_clearly(value, match):
    with pytest.raises(ValueError, match=match):
        _kernels.choose_path(value, ("avx2", "baseline", "blas"))


def _in_subprocess(env_value, cwd, code="import vgcore.core.kernels as K; print(K.cpu_path())"):
    """Run ``code`` with ``$VGCORE_CPU`` set, importing the vgcore under test
    (installed or built in place), in ``cwd`` (not a source tree)."""
    import vgcore
    env = dict(os.environ)
    env["VGCORE_CPU"] = env_value
    root = os.path.dirname(os.path.dirname(os.path.abspath(vgcore.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, cwd=str(cwd))


@pytest.mark.parametrize("path", _kernels.PATHS)
def test_environment_variable_selects_the_path(path, tmp_path):
    r = _in_subprocess(path, tmp_path)
    if path in _kernels.available_paths():
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == path
    else:
        assert r.returncode != 0
        assert f"cannot run the {path} kernels" in r.stderr


def test_environment_variable_unknown_is_refused_at_import(tmp_path):
    r = _in_subprocess("neon512", tmp_path)
    assert r.returncode != 0
    assert "ValueError: VGCORE_CPU='neon512' is not a path of vgcore's kernels" in r.stderr


def test_set_path_returns_the_old_one_and_refuses_unknown():
    old = _kernels.set_path("blas")
    try:
        assert K.cpu_path() == "blas"
        assert _kernels.set_path(old) == "blas"
        with pytest.raises(ValueError, match="path='fast' is not a path"):
            _kernels.set_path("fast")
        assert K.cpu_path() == old
    finally:
        _kernels.set_path(old)


# ---------------------------------------------------------------------------
# The workspace: one per thread, reused
# ---------------------------------------------------------------------------

def _calls(sizes, N):
    ws, bs = _net(sizes, np.float64)
    rng = np.random.default_rng(2)
    X = rng.random((N, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], N)]
    return [lambda: K.sgd_epoch(ws, bs, X, Y, rng.permutation(N), 10, 0.1, 1.0, N),
            lambda: K.feedforward(ws, bs, X), lambda: K.evaluate(ws, bs, X, Y),
            lambda: K.backprop(ws, bs, X, Y), lambda: K.mean_nabla_b(ws, bs, X, Y)]


def test_workspace_is_reused_by_later_calls_on_the_thread():
    big, small = _calls([50, 40, 10], 600), _calls([5, 4, 3], 50)
    for call in big:                    # the thread's workspace grows to fit
        call()
    allocated, live = _kernels.workspace_stats()
    for _ in range(20):
        for call in big + small:       # another network: the same workspace
            call()
    assert _kernels.workspace_stats() == (allocated, live)


def test_each_thread_has_its_own_workspace_freed_when_it_ends():
    _calls([5, 4, 3], 50)[1]()
    allocated, live = _kernels.workspace_stats()
    seen = []

    def work():
        for call in _calls([6, 5, 3], 80):
            call()
        seen.append(_kernels.workspace_stats())
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen[0][0] >= allocated + 1          # its own buffer ...
    assert seen[0][1] == live + 1               # ... beside this thread's
    assert _kernels.workspace_stats()[1] == live   # freed with the thread


def test_two_threads_at_once_never_share_a_workspace():
    """Two threads calling all the time on two networks: each result equals
    the same call made alone (a shared workspace would mix them)."""
    nets = [_net([30, 20, 10], np.float64, seed) for seed in (3, 4)]
    rng = np.random.default_rng(5)
    X = rng.random((300, 30))
    want = [K.feedforward(ws, bs, X) for ws, bs in nets]
    bad = []

    def work(i):
        for _ in range(200):
            if not np.array_equal(K.feedforward(*nets[i], X), want[i]):
                bad.append(i)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert bad == []


def test_a_very_large_workspace_is_not_kept():
    """Workspaces above 64 MiB (full-batch training on ~11,000 MNIST-sized
    rows) are freed after the call rather than held by the thread."""
    _calls([5, 4, 3], 50)[1]()
    live = _kernels.workspace_stats()[1]
    N = 11_000                              # the gathered rows alone: 69 MB
    ws, bs = _net([784, 2, 2], np.float64)
    X = np.zeros((N, 784))
    K.sgd_epoch(ws, bs, X, np.zeros(N, dtype=np.int64), np.arange(N)[::-1].copy(),
                N, 0.1, 0.0, N)
    assert _kernels.workspace_stats()[1] == live - 1   # this thread's, freed
    _calls([5, 4, 3], 50)[1]()
    assert _kernels.workspace_stats()[1] == live


# ---------------------------------------------------------------------------
# Reported by the command line
# ---------------------------------------------------------------------------

def test_info_and_version_report_the_path(capsys):
    from vgcore import cli
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    line = f"kernels: {K.cpu_path()} (this CPU and build can run: {', '.join(K.cpu_paths())}"
    assert line in out and "CPU: " in out
    assert f"weight update: {K.update_route()}\n" in out
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("vgcore ") and line in out


def test_info_into_a_closed_pipe_stops_without_a_traceback(tmp_path):
    """``vgcore info | head -1``: the reader has gone before the command
    writes; it stops with exit code 1 and says nothing on stderr."""
    from conftest import child_env
    p = subprocess.Popen([sys.executable, "-m", "vgcore", "info"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=child_env(), cwd=str(tmp_path))
    p.stdout.close()                       # before the child has written anything
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1 and err == b"", err.decode()


def test_info_explains_a_bad_environment_variable(tmp_path):
    r = _in_subprocess("avx1024", tmp_path, "import vgcore.cli as c; c.main(['--version'])")
    assert r.returncode == 0
    assert "kernels: cannot be loaded: VGCORE_CPU='avx1024' is not a path" in r.stdout
