"""The foundation's acceptance test: a network2 script runs unchanged.

A script written for network2 under Python 3, with only its two imports
pointed at vgcore, is run in a fresh process in a folder laid out as
Nielsen's (``../data/mnist.pkl.gz``, a Python 2 pickle).  Every line it
prints must be the line network2 would print: the same text, the same
counts, and the same costs up to floating-point summation order -- the
expected values come from the independent per-example implementation.
"""
import gzip
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import per_example as pe
from test_mnist_loader import py2_dumps, write_gz

SCRIPT = textwrap.dedent("""
    import random
    import numpy as np
    import vgcore.mnist_loader as mnist_loader
    import vgcore.network2 as network2

    np.random.seed(12)
    random.seed(12)
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    training_data = list(training_data)[:1000]
    validation_data = list(validation_data)[:300]
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.SGD(training_data, 2, 10, 0.5, lmbda=5.0,
            evaluation_data=validation_data,
            monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
            monitor_training_cost=True, monitor_training_accuracy=True)
    net.save("net.json")
    net = network2.load("net.json")
    print("Test accuracy:", net.accuracy(list(test_data)[:500]))
""")


@pytest.fixture(scope="module")
def nielsen_folder(tmp_path_factory, mnist_train):
    """``work/`` beside ``data/mnist.pkl.gz`` holding the full data in Nielsen's format."""
    d = os.environ["VGCORE_MNIST"]
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
        train = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60000, 784)
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
        train_labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
        test = np.frombuffer(f.read(), np.uint8, offset=16).reshape(10000, 784)
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as f:
        test_labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    scale = np.float32(256)
    data = ((train[:50000].astype(np.float32) / scale, train_labels[:50000]),
            (train[50000:].astype(np.float32) / scale, train_labels[50000:]),
            (test.astype(np.float32) / scale, test_labels))
    root = tmp_path_factory.mktemp("nielsen")
    (root / "data").mkdir()
    (root / "work").mkdir()
    write_gz(root / "data" / "mnist.pkl.gz", py2_dumps(data))
    return root, data


def test_network2_script_runs_unchanged(nielsen_folder, tmp_path):
    root, data = nielsen_folder
    (root / "work" / "script.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "VGCORE_MNIST"}
    env.update(VGCORE_NO_DOWNLOAD="1", VGCORE_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "script.py"], cwd=root / "work", env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = out.stdout.rstrip("\n").split("\n")

    (tx, tl), _, _ = data
    onehot = np.eye(10)[:, :, None]
    training = [(tx[i].reshape(784, 1), onehot[tl[i]]) for i in range(1000)]
    want = expected_lines(data, training)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, tuple):
            label, value = w
            assert g.startswith(label + " ")
            np.testing.assert_allclose(float(g[len(label) + 1:]), value, rtol=1e-12)
        else:
            assert g == w


def expected_lines(data, training):
    """network2's SGD shuffles its own copy of the list in place every epoch."""
    (tx, tl), (vx, vl), (sx, sl) = data
    validation = [(vx[i].reshape(784, 1), int(vl[i])) for i in range(300)]
    test = [(sx[i].reshape(784, 1), int(sl[i])) for i in range(500)]
    np.random.seed(12)
    random.seed(12)
    W, B = pe.init([784, 30, 10])
    work = list(training)
    lines = []
    for j in range(2):
        random.shuffle(work)
        for k in range(0, 1000, 10):
            W, B = pe.update(W, B, work[k:k + 10], 0.5, 5.0, 1000, "cross-entropy")
        lines += [f"Epoch {j} training complete",
                  ("Cost on training data:",
                   pe.total_cost(W, B, training, 5.0, "cross-entropy", False)),
                  f"Accuracy on training data: {pe.accuracy(W, B, training, True)} / 1000",
                  ("Cost on evaluation data:",
                   pe.total_cost(W, B, validation, 5.0, "cross-entropy", True)),
                  f"Accuracy on evaluation data: {pe.accuracy(W, B, validation, False)} / 300",
                  ""]
    lines.append(f"Test accuracy: {pe.accuracy(W, B, test, False)}")
    return lines
