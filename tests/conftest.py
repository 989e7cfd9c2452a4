"""Shared fixtures.

Tests that need the full MNIST read it from ``$VGCORE_MNIST`` (a folder of
the four IDX files, set to ``../shared/mnist`` by ``.ci/run``) and skip
with a stated reason where it is absent.  The reader here is deliberately
independent of ``vgcore.mnist_loader`` so that loader bugs cannot hide
network bugs.
"""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _read_idx(path, offset):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


#: The one skip reason of every test that needs the full MNIST.
MNIST_SKIP_REASON = (
    "needs the full MNIST: set VGCORE_MNIST to a folder holding its four IDX .gz files "
    "(`python -m vgcore.mnist_loader download DIR` fetches them into DIR, MD5-checked)")


def _mnist_dir():
    d = os.environ.get("VGCORE_MNIST")
    if not d or not Path(d).is_dir():
        return None
    d = Path(d)
    if not (d / "train-images-idx3-ubyte.gz").exists():
        return None
    return d


@pytest.fixture(autouse=True)
def _downloads_stay_local(monkeypatch):
    """No test downloads from the internet: downloads are switched off and
    the loader has no mirrors unless a test sets them itself (the download
    tests of test_mnist_loader.py point them at a server on 127.0.0.1)."""
    from vgcore.data import download

    monkeypatch.setenv("VGCORE_NO_DOWNLOAD", "1")
    monkeypatch.delenv("VGCORE_MNIST_MIRROR", raising=False)
    monkeypatch.setattr(download, "MIRRORS", ())


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder of the full MNIST (``$VGCORE_MNIST``); the test is skipped without it."""
    d = _mnist_dir()
    if d is None:
        pytest.skip(MNIST_SKIP_REASON)
    return d


@pytest.fixture(scope="session")
def mnist_train(mnist_dir):
    """First 50,000 official training images as float32 /256 and int64 labels."""
    d = mnist_dir
    images = _read_idx(d / "train-images-idx3-ubyte.gz", 16).reshape(60000, 784)
    labels = _read_idx(d / "train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    X = (images[:50000].astype(np.float32) / np.float32(256.0))
    return X, labels[:50000]


KERNEL_PATHS = ("avx512", "avx2", "baseline", "blas")     # vgcore._kernels.PATHS


@pytest.fixture(params=KERNEL_PATHS)
def path(request):
    """Run the test on each path of the compiled kernels in turn (skipped
    where this CPU or build cannot run it; test_kernels.py has its own,
    autouse, fixture)."""
    from vgcore import _kernels
    assert _kernels.PATHS == KERNEL_PATHS
    if request.param not in _kernels.available_paths():
        pytest.skip(f"this CPU (or build) cannot run the {request.param} kernels")
    old = _kernels.set_path(request.param)
    yield request.param
    _kernels.set_path(old)


def child_env():
    """The environment of a child Python that must import the vgcore this
    process imported (installed or in place), not whatever is first on its
    own path; run the child outside the source tree (``cwd``) too."""
    import vgcore

    env = dict(os.environ)
    env.update(MPLBACKEND="Agg", VGCORE_NO_DOWNLOAD="1")
    root = str(Path(vgcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_vgcore(*args, cwd, timeout=300):
    """``python -m vgcore ARGS`` in a child (``child_env``) run in ``cwd``;
    the finished process, its output as text."""
    return subprocess.run([sys.executable, "-m", "vgcore", *args], capture_output=True,
                          text=True, env=child_env(), timeout=timeout, cwd=str(cwd))
