"""Tests of vgcore.mnist_loader, the drop-in for Nielsen's mnist_loader.py.

Offline: downloads are switched off for every test (autouse fixture) and
the download tests talk only to an http.server on 127.0.0.1.  Tests that
need the full MNIST use ``$VGCORE_MNIST`` (a folder of the four IDX files,
e.g. ``../shared/mnist``; a relative path is taken from the current
directory or else from the repository root) and are skipped without it.
"""
import gzip
import hashlib
import http.server
import io
import os
import pickle
import pickletools
import shutil
import socket
import subprocess
import struct
import sys
import threading
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import MNIST_SKIP_REASON
from vgcore import mnist_loader as ml
from vgcore.data import download as ml_download, idx as ml_idx
from vgcore.data import safe_pickle as ml_pickle, sample as ml_sample
from vgcore.data.py2pickle import py2_dumps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _find_mnist_dir():
    env = os.environ.get("VGCORE_MNIST")
    if not env:
        return None
    for base in (os.getcwd(), REPO):
        candidate = os.path.abspath(os.path.join(base, env))
        if all(os.path.isfile(os.path.join(candidate, n)) for n in IDX_NAMES):
            return candidate
    return None


MNIST_DIR = _find_mnist_dir()
needs_full = pytest.mark.skipif(MNIST_DIR is None, reason=MNIST_SKIP_REASON)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test: no $VGCORE_MNIST, downloads off, no mirrors, a private
    cache folder, no proxies, and a fresh working directory (so that
    ../data/mnist.pkl.gz and data/mnist.pkl.gz are under tmp_path)."""
    for var in ("VGCORE_MNIST", "VGCORE_MNIST_MIRROR", "http_proxy", "HTTP_PROXY",
                "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("VGCORE_NO_DOWNLOAD", "1")
    monkeypatch.setenv("VGCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ml_download, "MIRRORS", ())
    work = tmp_path / "proj" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return SimpleNamespace(cache=tmp_path / "cache" / "mnist", work=work, proj=tmp_path / "proj")


#### Independent reference: the official files read in the plainest way
def _read_official(name):
    with gzip.open(os.path.join(MNIST_DIR, name), "rb") as f:
        data = f.read()
    offset = 16 if "images" in name else 8
    a = np.frombuffer(data, dtype=np.uint8, offset=offset)
    return a.reshape(-1, 784) if "images" in name else a


@pytest.fixture(scope="module")
def official():
    if MNIST_DIR is None:
        pytest.skip(MNIST_SKIP_REASON)
    return {n.split("-idx")[0]: _read_official(n) for n in IDX_NAMES}


@pytest.fixture(scope="module")
def full():
    if MNIST_DIR is None:
        pytest.skip(MNIST_SKIP_REASON)
    return ml.load_data(MNIST_DIR)


def _assert_same_data(a, b):
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.dtype == xb.dtype == np.float32
        assert ya.dtype == yb.dtype == np.int64
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


#### Writing pickles the way Python 2 wrote Nielsen's mnist.pkl.gz (vgcore._py2pickle)
def write_gz(path, data, level=1):
    with gzip.open(path, "wb", compresslevel=level) as f:
        f.write(data)
    return str(path)


def _globals_and_opcodes(stream):
    globs, ops = set(), set()
    for op, arg, _pos in pickletools.genops(stream):
        ops.add(op.name)
        if op.name == "GLOBAL":
            globs.add(arg)
    return globs, ops


@pytest.fixture(scope="module")
def py2_pickle(tmp_path_factory, full):
    """Nielsen's mnist.pkl.gz rebuilt from the IDX files, in his format."""
    pairs = tuple((x, y) for x, y in full)
    path = tmp_path_factory.mktemp("nielsen") / "mnist.pkl.gz"
    return write_gz(path, py2_dumps(pairs))


def small_split(n, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 256, size=(n, 784)).astype(np.float32) / 256).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    return x, y


#### vectorized_result
def test_vectorized_result_is_a_float64_one_hot_column():
    for j in range(10):
        e = ml.vectorized_result(j)
        assert e.shape == (10, 1) and e.dtype == np.float64
        expected = np.zeros((10, 1))
        expected[j, 0] = 1.0
        np.testing.assert_array_equal(e, expected)
    np.testing.assert_array_equal(ml.vectorized_result(np.int64(7)).ravel(), np.eye(10)[7])


@pytest.mark.parametrize("bad", [10, -1, 100])
def test_vectorized_result_rejects_non_digits(bad):
    with pytest.raises(ValueError, match="0..9"):
        ml.vectorized_result(bad)
    with pytest.raises(TypeError):
        ml.vectorized_result(3.0)


#### Full MNIST from IDX files
@needs_full
def test_load_data_full_formats_and_official_split(full, official):
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = full
    for x, y, n in ((tr_x, tr_y, 50000), (va_x, va_y, 10000), (te_x, te_y, 10000)):
        assert x.shape == (n, 784) and x.dtype == np.float32 and x.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == np.float32(0.99609375)   # 255/256
        assert y.min() == 0 and y.max() == 9
    assert tr_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert te_y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # training = first 50,000 official images, validation = last 10,000
    train, test = official["train-images"], official["t10k-images"]
    np.testing.assert_array_equal(tr_x, train[:50000].astype(np.float32) / 256)
    np.testing.assert_array_equal(va_x, train[50000:].astype(np.float32) / 256)
    np.testing.assert_array_equal(te_x, test.astype(np.float32) / 256)
    np.testing.assert_array_equal(tr_y, official["train-labels"][:50000])
    np.testing.assert_array_equal(va_y, official["train-labels"][50000:])
    np.testing.assert_array_equal(te_y, official["t10k-labels"])
    # exactly pixel / 256: every value is a multiple of 1/256
    np.testing.assert_array_equal(tr_x[:100] * 256, np.round(tr_x[:100] * 256))
    assert np.bincount(tr_y, minlength=10).sum() == 50000


@needs_full
def test_load_data_wrapper_full(full):
    training_data, validation_data, test_data = ml.load_data_wrapper(MNIST_DIR)
    assert type(training_data) is list and type(validation_data) is list
    assert type(test_data) is list
    assert (len(training_data), len(validation_data), len(test_data)) == (50000, 10000, 10000)
    x, y = training_data[0]
    assert x.shape == (784, 1) and x.dtype == np.float32
    assert y.shape == (10, 1) and y.dtype == np.float64
    np.testing.assert_array_equal(y, ml.vectorized_result(5))
    xs = np.stack([x for x, _ in training_data])
    ys = np.stack([y for _, y in training_data])
    np.testing.assert_array_equal(xs[:, :, 0], full[0][0])
    np.testing.assert_array_equal(ys[:, :, 0], np.eye(10)[full[0][1]])
    # views of one contiguous array, not 50,000 copies
    assert training_data[0][0].base is not None
    assert training_data[0][0].base is training_data[-1][0].base
    assert training_data[0][0].base.nbytes == 50000 * 784 * 4
    for data, (images, labels) in ((validation_data, full[1]), (test_data, full[2])):
        assert all(type(lab) is np.int64 for _, lab in data)   # as network2 zips them
        assert [lab for _, lab in data] == labels.tolist()
        np.testing.assert_array_equal(np.stack([x for x, _ in data])[:, :, 0], images)
    # network2's accuracy test: argmax of a (10,1) column compared with the int label
    assert int(np.argmax(ml.vectorized_result(validation_data[0][1]))) == validation_data[0][1]


@needs_full
def test_every_call_returns_fresh_writable_arrays(full):
    a = ml.load_data(MNIST_DIR)
    assert all(arr.flags.writeable for pair in a for arr in pair)
    original = a[0][0][0, 200]
    a[0][0][0, :] = 7.0
    a[0][1][0] = 3
    a[2][0][:] = 0.0
    b = ml.load_data(MNIST_DIR)
    assert b[0][0][0, 200] == original and b[0][1][0] == 5
    assert not np.shares_memory(a[0][0], b[0][0])
    _assert_same_data(b, full)


@needs_full
def test_in_process_cache_notices_changed_files(mnist_copy, full):
    first = ml.load_data(mnist_copy)
    _assert_same_data(first, full)
    labels = _read_official("t10k-labels-idx1-ubyte.gz")
    changed = (labels + 1) % 10
    victim = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    victim.unlink()
    victim.write_bytes(gzip.compress(struct.pack(">II", 2049, 10000) + changed.tobytes()))
    second = ml.load_data(mnist_copy)
    np.testing.assert_array_equal(second[2][1], changed)
    np.testing.assert_array_equal(second[0][0], full[0][0])


@pytest.fixture(scope="module")
def raw_idx_dir(tmp_path_factory):
    """The four IDX files uncompressed, two under the dotted names."""
    if MNIST_DIR is None:
        pytest.skip(MNIST_SKIP_REASON)
    folder = tmp_path_factory.mktemp("raw_idx")
    names = {"train-images-idx3-ubyte.gz": "train-images-idx3-ubyte",
             "train-labels-idx1-ubyte.gz": "train-labels.idx1-ubyte",
             "t10k-images-idx3-ubyte.gz": "t10k-images.idx3-ubyte",
             "t10k-labels-idx1-ubyte.gz": "t10k-labels-idx1-ubyte"}
    for gz, raw in names.items():
        with gzip.open(os.path.join(MNIST_DIR, gz)) as f:
            (folder / raw).write_bytes(f.read())
    return folder


@needs_full
def test_uncompressed_idx_folder_equals_gzipped(raw_idx_dir, full):
    source = ml.find_data(raw_idx_dir)
    assert source.kind == "idx" and source.is_full
    assert os.path.basename(source.files["train_labels"]) == "train-labels.idx1-ubyte"
    h = hashlib.md5((raw_idx_dir / "train-images-idx3-ubyte").read_bytes()).hexdigest()
    assert h == "6bbc9ace898e44ae57da46a324031adb"
    _assert_same_data(ml.load_data(raw_idx_dir), full)


#### The embedded sample
def test_sample_formats_and_known_values():
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = ml.load_sample()
    for x, y, n in ((tr_x, tr_y, 5000), (va_x, va_y, 1000), (te_x, te_y, 1000)):
        assert x.shape == (n, 784) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == np.float32(0.99609375)
        assert set(np.unique(y).tolist()) == set(range(10))
    assert tr_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert te_y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert va_y[:5].tolist() == [3, 8, 6, 9, 6]
    _assert_same_data(ml.load_data(sample=True), ((tr_x, tr_y), (va_x, va_y), (te_x, te_y)))
    source = ml.find_data(sample=True)
    assert source.kind == "sample" and not source.is_full and "NOT the full" in str(source)


def test_sample_and_a_path_conflict(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        ml.load_data(tmp_path, sample=True)


def test_sample_wrapper_format():
    training_data, validation_data, test_data = ml.load_data_wrapper(sample=True)
    (tr_x, tr_y), (va_x, va_y), _ = ml.load_sample()
    assert (len(training_data), len(validation_data), len(test_data)) == (5000, 1000, 1000)
    for (x, y), label, row in zip(training_data[:50], tr_y[:50], tr_x[:50]):
        assert x.shape == (784, 1) and x.dtype == np.float32
        np.testing.assert_array_equal(x[:, 0], row)
        np.testing.assert_array_equal(y, ml.vectorized_result(int(label)))
    assert [y for _, y in validation_data] == va_y.tolist()
    assert all(type(y) is np.int64 for _, y in test_data)


def test_sample_calls_return_independent_arrays():
    a = ml.load_sample()
    a[0][0][:] = 0.5
    b = ml.load_sample()
    assert b[0][0].max() == np.float32(0.99609375)
    w1 = ml.load_data_wrapper(sample=True)
    w1[0][0][0][:] = 9.0
    w1[0][0][1][:] = 0.0
    w2 = ml.load_data_wrapper(sample=True)
    np.testing.assert_array_equal(w2[0][0][0][:, 0], b[0][0][0])
    np.testing.assert_array_equal(w2[0][0][1], ml.vectorized_result(5))


def test_sample_file_is_small_and_attributed():
    assert os.path.getsize(ml.SAMPLE_PATH) < 2 * 1024 * 1024
    readme = open(os.path.join(os.path.dirname(ml.SAMPLE_PATH), "README.md")).read()
    for needle in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0"):
        assert needle in readme
    with np.load(ml.SAMPLE_PATH) as npz:
        assert all(npz[k].dtype == np.uint8 for k in npz.files)


@needs_full
def test_sample_equals_slices_of_full_data(full):
    sample = ml.load_sample()
    np.testing.assert_array_equal(sample[0][0], full[0][0][:5000])
    np.testing.assert_array_equal(sample[0][1], full[0][1][:5000])
    np.testing.assert_array_equal(sample[1][0], full[1][0][:1000])   # official 50,000..50,999
    np.testing.assert_array_equal(sample[1][1], full[1][1][:1000])
    np.testing.assert_array_equal(sample[2][0], full[2][0][:1000])
    np.testing.assert_array_equal(sample[2][1], full[2][1][:1000])


@needs_full
def test_sample_rebuild_is_reproducible(tmp_path):
    a = tmp_path / "a.npz"
    assert ml_sample.build_sample(MNIST_DIR, a) == str(a)
    # byte for byte the shipped file (fixed zip dates; same zlib on this machine kind)
    assert a.read_bytes() == open(ml.SAMPLE_PATH, "rb").read()
    with np.load(a) as new, np.load(ml.SAMPLE_PATH) as shipped:
        assert sorted(new.files) == sorted(shipped.files)
        for key in new.files:
            np.testing.assert_array_equal(new[key], shipped[key])
            assert new[key].dtype == shipped[key].dtype
    assert not list(tmp_path.glob(".*part"))


#### load_data_auto / find_data
def test_auto_falls_back_to_sample_and_says_so(offline):
    data, description, is_full = ml.load_data_auto()
    assert is_full is False
    assert "sample" in description and "NOT the full" in description
    assert str(offline.cache) in description
    assert len(data[0][0]) == 5000
    data, _, _ = ml.load_data_auto(wrapper=True)
    assert len(data[0]) == 5000 and data[0][0][0].shape == (784, 1)


def test_sample_is_never_substituted_silently():
    with pytest.raises(ml.MNISTNotFoundError):
        ml.load_data()
    with pytest.raises(ml.MNISTNotFoundError):
        ml.load_data_wrapper()


def test_auto_raises_when_an_explicit_location_is_wrong(monkeypatch, tmp_path):
    with pytest.raises(ml.MNISTNotFoundError, match="does not exist"):
        ml.load_data_auto(tmp_path / "nope")
    monkeypatch.setenv("VGCORE_MNIST", str(tmp_path / "nope"))
    with pytest.raises(ml.MNISTNotFoundError, match=r"\$VGCORE_MNIST"):
        ml.load_data_auto()


@needs_full
def test_auto_uses_full_data_when_found(monkeypatch, full):
    monkeypatch.setenv("VGCORE_MNIST", MNIST_DIR)
    data, description, is_full = ml.load_data_auto()
    assert is_full is True and "full MNIST" in description and MNIST_DIR in description
    _assert_same_data(data, full)


#### Resolution order (placeholders: find_data does not parse files)
def _placeholder_idx(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in IDX_NAMES:
        (folder / name).write_bytes(b"")
    return folder


def _placeholder_pkl(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_resolution_order(offline, monkeypatch, tmp_path):
    up = _placeholder_pkl(offline.proj / "data" / "mnist.pkl.gz")        # ../data
    here = _placeholder_pkl(offline.work / "data" / "mnist.pkl.gz")     # data/
    cwd = _placeholder_pkl(offline.work / "mnist.pkl.gz")               # ./ (Python 3 ports)
    cache = _placeholder_idx(offline.cache)
    env_dir = _placeholder_idx(tmp_path / "envdir")
    arg_dir = _placeholder_idx(tmp_path / "argdir")

    monkeypatch.setenv("VGCORE_MNIST", str(env_dir))
    assert ml.find_data(arg_dir).path == str(arg_dir)
    s = ml.find_data()
    assert (s.kind, s.path, s.origin) == ("idx", str(env_dir), "$VGCORE_MNIST")
    monkeypatch.delenv("VGCORE_MNIST")
    s = ml.find_data()
    assert (s.kind, s.path) == ("pickle", str(up))
    assert "Nielsen" in s.origin
    up.unlink()
    assert ml.find_data().path == str(here)
    here.unlink()
    s = ml.find_data()
    assert (s.kind, s.path) == ("pickle", str(cwd))
    assert "current folder" in s.origin
    cwd.unlink()
    s = ml.find_data()
    assert (s.kind, s.path, s.origin) == ("idx", str(cache), "cache folder")
    for f in cache.iterdir():
        f.unlink()
    with pytest.raises(ml.MNISTNotFoundError):
        ml.find_data()


def test_env_may_name_a_pickle_or_a_folder_holding_one(monkeypatch, tmp_path):
    pkl = _placeholder_pkl(tmp_path / "nielsen" / "data" / "mnist.pkl.gz")
    monkeypatch.setenv("VGCORE_MNIST", str(pkl))
    assert (ml.find_data().kind, ml.find_data().path) == ("pickle", str(pkl))
    monkeypatch.setenv("VGCORE_MNIST", str(pkl.parent))
    assert (ml.find_data().kind, ml.find_data().path) == ("pickle", str(pkl))


def test_env_pointing_nowhere_is_an_error_not_a_fallback(offline, monkeypatch, tmp_path):
    _placeholder_pkl(offline.proj / "data" / "mnist.pkl.gz")
    monkeypatch.setenv("VGCORE_MNIST", str(tmp_path / "typo"))
    with pytest.raises(ml.MNISTNotFoundError) as info:
        ml.find_data()
    assert "$VGCORE_MNIST" in str(info.value) and "typo" in str(info.value)


def test_incomplete_folder_names_the_missing_files(tmp_path):
    folder = _placeholder_idx(tmp_path / "partial")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ml.MNISTNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        ml.load_data(folder)
    with pytest.raises(ml.MNISTNotFoundError, match="neither"):
        ml.load_data(tmp_path / "proj")


def test_not_found_error_lists_every_place_and_how_to_fix(offline):
    with pytest.raises(ml.MNISTNotFoundError) as info:
        ml.load_data()
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    for needle in ("$VGCORE_MNIST: not set",
                   str(offline.proj / "data" / "mnist.pkl.gz") + ": not found",
                   str(offline.work / "data" / "mnist.pkl.gz") + ": not found",
                   str(offline.work / "mnist.pkl.gz") + ": not found",
                   f"cache folder {offline.cache}: does not exist",
                   "download: switched off (VGCORE_NO_DOWNLOAD is set)",
                   "VGCORE_MNIST=", "path=", "sample=True"):
        assert needle in msg, needle
    assert len(err.searched) == 6


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VGCORE_CACHE", str(tmp_path / "vc"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ml.cache_dir() == str(tmp_path / "vc")
    monkeypatch.delenv("VGCORE_CACHE")
    assert ml.cache_dir() == str(tmp_path / "xdg" / "vgcore")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ml.cache_dir() == str(tmp_path / "home" / ".cache" / "vgcore")


def test_bad_files_in_the_cache_say_how_to_refetch(offline):
    offline.cache.mkdir(parents=True)
    for name in IDX_NAMES:
        (offline.cache / name).write_bytes(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big"))
    with pytest.raises(ml.MNISTFormatError, match="delete the cache folder"):
        ml.load_data()


@needs_full
def test_nielsen_layout_loads_through_default_resolution(offline, py2_pickle, full):
    target = offline.proj / "data" / "mnist.pkl.gz"
    target.parent.mkdir()
    target.symlink_to(py2_pickle)
    _assert_same_data(ml.load_data(), full)
    assert ml.find_data().path == str(target)


@needs_full
def test_env_may_be_a_relative_path(monkeypatch):
    monkeypatch.setenv("VGCORE_MNIST", os.path.relpath(MNIST_DIR))
    source = ml.find_data()
    assert (source.kind, source.path, source.origin) == ("idx", MNIST_DIR, "$VGCORE_MNIST")


#### Nielsen's pickle
@needs_full
def test_pickle_round_trip_equals_idx(py2_pickle, full):
    with gzip.open(py2_pickle) as f:
        globs, ops = _globals_and_opcodes(f)
    assert globs == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    assert "BINSTRING" in ops and "SHORT_BINSTRING" in ops
    assert not {"BINUNICODE", "BINBYTES", "SHORT_BINBYTES", "STACK_GLOBAL"} & ops
    ml._cache_clear()
    source = ml.find_data(py2_pickle)
    assert source.kind == "pickle" and source.is_full
    _assert_same_data(ml.load_data(py2_pickle), full)


def test_py2_helper_writes_what_plain_pickle_loads_only_with_latin1():
    x = np.array([[0.0, 0.25, 0.5, 0.99609375]], dtype=np.float32)   # 0.25 has a byte >= 0x80
    y = np.array([7], dtype=np.int64)
    data = py2_dumps(((x, y),))
    globs, ops = _globals_and_opcodes(io.BytesIO(data))
    assert "numpy.core.multiarray _reconstruct" in globs and "_codecs encode" not in globs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (xx, yy), = pickle.loads(data, encoding="latin1")
        with pytest.raises(UnicodeDecodeError):
            pickle.loads(data)          # the Python 2 str payload is not ASCII
    np.testing.assert_array_equal(xx, x)
    np.testing.assert_array_equal(yy, y)
    (x2, y2), = ml_pickle._unpickle(io.BytesIO(data))
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert x2.dtype == np.float32 and y2.dtype == np.int64


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_unpickler_reads_python3_pickles_of_arrays(protocol):
    arrays = (np.arange(12, dtype=np.float32).reshape(3, 4) / 16,
              np.arange(6, dtype=">i4"),
              np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
              np.arange(5, dtype=np.uint8), np.zeros((0, 784), np.float32))
    out = ml_pickle._unpickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)))
    assert len(out) == len(arrays)
    for a, b in zip(arrays, out):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def _valid_small():
    return tuple(small_split(n, seed) for seed, n in enumerate((20, 5, 5)))


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d[:2], "3 \\(images, labels\\) pairs"),
    (lambda d: [list(d[0])] + [d[1], (d[2][0], d[2][1].tolist())], "not a pair of numpy arrays"),
    (lambda d: ((d[0][0][:, :783], d[0][1]),) + d[1:], r"shape \(20, 783\)"),
    (lambda d: (((d[0][0] * 256).astype(np.uint8), d[0][1]),) + d[1:], "dtype uint8"),
    (lambda d: ((d[0][0], d[0][1].astype(np.float64)),) + d[1:], "integer"),
    (lambda d: ((d[0][0], d[0][1][:19]),) + d[1:], "20 images but 19 labels"),
    (lambda d: ((d[0][0], np.where(np.arange(20) == 3, 10, d[0][1])),) + d[1:], "0..9"),
    (lambda d: ((d[0][0] * 256, d[0][1]),) + d[1:], r"\[0, 1\)"),
    (lambda d: ((d[0][0] - 0.5, d[0][1]),) + d[1:], r"\[0, 1\)"),
    (lambda d: ((np.where(np.arange(784) == 9, np.nan, d[0][0]).astype(np.float32),
                 d[0][1]),) + d[1:], r"\[0, 1\)"),
    (lambda d: d, "training data has 20 images, MNIST's has 50,000"),
])
def test_pickle_structure_is_checked(tmp_path, mutate, match):
    path = write_gz(tmp_path / "mnist.pkl.gz", py2_dumps(mutate(_valid_small())))
    with pytest.raises(ml.MNISTFormatError, match=match) as info:
        ml.load_data(path)
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_damaged_pickles_give_clear_errors(tmp_path):
    data = py2_dumps(_valid_small())
    good = write_gz(tmp_path / "good.pkl.gz", data)
    cases = {
        "garbage.pkl.gz": (gzip.compress(b"this is not a pickle at all"), "not a valid MNIST pickle"),
        "truncated.pkl.gz": (open(good, "rb").read()[:300], "ends early"),
        "cut-pickle.pkl.gz": (gzip.compress(data[:len(data) // 2]), "ends early|truncated"),
        "empty.pkl": (b"", "ends early"),
        "idx.pkl.gz": (gzip.compress(b"\x00\x00\x08\x01" + bytes(12)), "IDX file, not a pickle"),
    }
    raw_bad = bytearray(open(good, "rb").read())
    raw_bad[len(raw_bad) // 2] ^= 0xFF
    cases["flipped.pkl.gz"] = (bytes(raw_bad), "corrupted|ends early|not a valid")
    for name, (content, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ml.MNISTFormatError, match=match) as info:
            ml.load_data(path)
        assert name in str(info.value)


def test_pickle_size_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(ml_pickle, "_MAX_PICKLE_BYTES", 1 << 20)
    path = write_gz(tmp_path / "big.pkl.gz",
                    py2_dumps((np.zeros(2 << 20, np.uint8),)))
    with pytest.raises(ml.MNISTFormatError, match="more than 1 MiB"):
        ml.load_data(path)


class _CountingReader(ml_pickle._LimitedReader):
    """The loader's reader, counting the unpickler's calls and the bytes it got."""
    calls = 0
    bytes = 0

    def read(self, n=-1):
        type(self).calls += 1
        data = super().read(n)
        type(self).bytes += len(data)
        return data

    def readline(self):
        type(self).calls += 1
        data = super().readline()
        type(self).bytes += len(data)
        return data


@pytest.fixture
def counting_reader(monkeypatch):
    _CountingReader.calls = _CountingReader.bytes = 0
    monkeypatch.setattr(ml_pickle, "_LimitedReader", _CountingReader)
    return _CountingReader


# A valid pickle of millions of tiny opcodes: NONE, POP, NONE, POP, ... (its
# value is None), and one that grows a list: EMPTY_LIST, then NONE, APPEND
# millions of times.  Each is a few KB gzipped.
_TINY_OPS = {"none-pop": b"\x80\x02" + b"N0" * 3_000_000 + b"N.",
             "growing-list": b"\x80\x02]" + b"Na" * 3_000_000 + b"."}


@pytest.mark.parametrize("kind", list(_TINY_OPS))
def test_a_pickle_of_millions_of_tiny_opcodes_is_refused_after_bounded_work(
        tmp_path, counting_reader, kind):
    payload = _TINY_OPS[kind]
    assert pickle.loads(payload) in (None, [None] * 3_000_000)   # it is a valid pickle
    path = write_gz(tmp_path / "mnist.pkl.gz", payload, level=9)
    assert os.path.getsize(path) < 20_000
    with pytest.raises(ml.MNISTFormatError, match="more than 10,000 pickle operations"):
        ml.load_data(path)
    # bounded work, not time: one call per opcode, at most the limit (+1 to refuse),
    # each a byte or two -- the 6 MB of opcodes behind it are never decompressed
    assert counting_reader.calls <= ml_pickle._MAX_PICKLE_OPS + 1
    assert counting_reader.bytes <= 2 * counting_reader.calls
    # Nielsen's layout (three pairs of arrays) is read whole: a few dozen calls
    counting_reader.calls = 0
    x, y = small_split(50)
    with pytest.raises(ml.MNISTFormatError, match="50 images, MNIST's has 50,000"):
        ml.load_data(write_gz(tmp_path / "ok.pkl.gz", py2_dumps(((x, y),) * 3)))
    assert 0 < counting_reader.calls < 200


def test_a_huge_hostile_pickle_finishes_quickly_in_a_fresh_process(tmp_path):
    """The same at scale -- 40 million opcodes in ~60 KB -- with a hang guard:
    before, this kept a process busy for minutes."""
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b"\x80\x02")
        for _ in range(40):
            f.write(b"N0" * 1_000_000)
        f.write(b"N.")
    script = ("import sys; import vgcore.mnist_loader as ml\n"
              "try:\n    ml.load_data(sys.argv[1])\n"
              "except ml.MNISTFormatError as e:\n    print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                       text=True, timeout=300)          # a hang guard, not a speed test
    assert r.returncode == 0, r.stderr[-500:]
    assert "refused:" in r.stdout and "pickle operations" in r.stdout


def test_a_gzip_bomb_is_refused_after_the_limit(tmp_path, monkeypatch, counting_reader):
    monkeypatch.setattr(ml_pickle, "_MAX_PICKLE_BYTES", 1 << 20)
    # a byte string announced and present at 4 MiB: refused when asked for
    path = write_gz(tmp_path / "bomb.pkl.gz", b"\x80\x02T" + (4 << 20).to_bytes(4, "little")
                    + bytes(4 << 20) + b".", level=9)
    with pytest.raises(ml.MNISTFormatError, match="more than 1 MiB"):
        ml.load_data(path)
    assert counting_reader.bytes <= (1 << 20) + 1 + 16


def test_an_announced_length_beyond_the_data_is_not_allocated(tmp_path, counting_reader):
    """A byte string that says it is 400 MB long in a 40-byte file."""
    path = tmp_path / "liar.pkl"
    path.write_bytes(b"\x80\x02T" + (400 << 20).to_bytes(4, "little") + b"x" * 30)
    with pytest.raises(ml.MNISTFormatError, match="truncated|ends early|not a valid"):
        ml.load_data(path)
    assert counting_reader.bytes < 100


#### Hostile pickles
class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsNdarray:
    def __reduce__(self):
        return (np.ndarray, ((1 << 40,), "u1"))


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCommand(f"touch {marker}"), protocol=2)
    assert "system" in "".join(str(a) for _, a, _ in pickletools.genops(payload))
    for name, content in (("mnist.pkl.gz", gzip.compress(payload)), ("mnist.pkl", payload)):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ml.UnsafePickleError) as info:
            ml.load_data(path)
        err = info.value
        assert isinstance(err, ValueError) and isinstance(err, pickle.UnpicklingError)
        assert "system" in str(err) and name in str(err)
        assert not marker.exists()
    # the same data inside an otherwise valid-looking structure
    x, y = small_split(3)
    nested = pickle.dumps(((x, _RunsCommand(f"touch {marker}")),), protocol=2)
    (tmp_path / "nested.pkl").write_bytes(nested)
    with pytest.raises(ml.UnsafePickleError):
        ml.load_data(tmp_path / "nested.pkl")
    assert not marker.exists()
    # control: the payload is live, a plain unpickler runs it
    pickle.loads(payload)
    assert marker.exists()


@pytest.mark.parametrize("module, name", [
    ("builtins", "eval"), ("__builtin__", "eval"), ("os", "system"), ("posix", "system"),
    ("subprocess", "Popen"), ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"),
    ("numpy", "load"), ("numpy.core.multiarray", "scalar"), ("numpy", "frombuffer"),
])
def test_other_globals_are_refused(tmp_path, module, name):
    payload = (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"
               + b"U\x04echo\x85R.")
    path = tmp_path / "mnist.pkl"
    path.write_bytes(payload)
    with pytest.raises(ml.UnsafePickleError, match=f"{module}.{name}"):
        ml.load_data(path)


def test_numpy_entry_points_cannot_be_abused(tmp_path):
    cases = {
        # calling numpy.ndarray directly with a 1 TB shape: refused, no MemoryError
        "ndarray-call": (pickle.dumps(_CallsNdarray(), protocol=2), ml.UnsafePickleError),
        # object arrays need dtype('O'): refused
        "object": (pickle.dumps(np.array([1, "a"], dtype=object), protocol=2),
                   ml.UnsafePickleError),
        # BUILD on an admitted global, trying to plant an attribute
        "build": (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n}(U\x04evilK\x01ub.",
                  ml.UnsafePickleError),
        # an array whose data is shorter than its shape
        "short": (pickle.dumps(np.zeros(4, np.float32), protocol=2).replace(
            b"K\x04\x85", b"K\x09\x85"), ml.MNISTFormatError),
    }
    for name, (payload, error) in cases.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(payload)
        with pytest.raises(error):
            ml.load_data(path)
    for guarded in ml_pickle._RestrictedUnpickler.ALLOWED.values():
        assert not hasattr(guarded, "evil")


#### IDX files: every kind of damage, on small synthetic files
def idx(kind, count, payload=None, magic=None, rows=28, cols=28):
    if kind == "images":
        head = struct.pack(">IIII", magic or 2051, count, rows, cols)
        payload = bytes(count * rows * cols) if payload is None else payload
    else:
        head = struct.pack(">II", magic or 2049, count)
        payload = bytes(i % 10 for i in range(count)) if payload is None else payload
    return head + payload


def test_read_idx_reads_small_valid_files(tmp_path):
    pixels = bytes(range(256)) * 3 + bytes(784 * 2 - 768)
    for name, content in (("i.raw", idx("images", 2, pixels)),
                          ("i.gz", gzip.compress(idx("images", 2, pixels)))):
        (tmp_path / name).write_bytes(content)
        a = ml_idx.read_idx(tmp_path / name, "images")
        assert a.shape == (2, 784) and a.dtype == np.uint8 and not a.flags.writeable
        assert a[0, :256].tolist() == list(range(256))
    (tmp_path / "l.gz").write_bytes(gzip.compress(idx("labels", 13)))
    assert ml_idx.read_idx(tmp_path / "l.gz", "labels", 13).tolist() == [i % 10 for i in range(13)]


BAD_IDX = {
    "labels-as-images": ("images", idx("labels", 3), "wrong magic number 2049.*IDX label file"),
    "not-idx": ("images", b"PK\x03\x04 hello world, surely no IDX", "not an IDX file"),
    "double-gzip": ("labels", gzip.compress(gzip.compress(idx("labels", 3))), "gzipped twice"),
    "dims": ("images", idx("images", 2, rows=27), "27x28"),
    "short-header": ("images", b"\x00\x00\x08\x03\x00", "too short"),
    "empty": ("labels", b"", "too short"),
    "truncated": ("images", idx("images", 3)[:-10], "truncated"),
    "extra": ("labels", idx("labels", 3) + b"\x01", "extra bytes"),
    "label-10": ("labels", idx("labels", 3, bytes([1, 10, 2])), "label 10 at index 1"),
    "huge-count": ("images", struct.pack(">IIII", 2051, 1 << 31, 28, 28) + bytes(84),
                   "truncated"),
}


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("case", sorted(BAD_IDX))
def test_bad_idx_files(tmp_path, case, compressed):
    kind, content, match = BAD_IDX[case]
    if compressed:
        content = gzip.compress(content)
        if case == "double-gzip":
            match = "gzipped twice"
    path = tmp_path / f"{case}.idx"
    path.write_bytes(content)
    with pytest.raises(ml.MNISTFormatError, match=match) as info:
        ml_idx.read_idx(path, kind)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and info.value.path == str(path)


def test_idx_count_must_be_mnists(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx("labels", 59999))
    with pytest.raises(ml.MNISTFormatError, match="59,999 labels.*60,000"):
        ml_idx.read_idx(path, "labels", 60000)
    # a header claiming 2**31 images: refused before anything is read
    path.write_bytes(gzip.compress(struct.pack(">IIII", 2051, 1 << 31, 28, 28)))
    with pytest.raises(ml.MNISTFormatError, match="2,147,483,648 images"):
        ml_idx.read_idx(path, "images", 60000)


def test_damaged_gzip_streams(tmp_path):
    good = gzip.compress(idx("labels", 5000, bytes(np.random.default_rng(1).integers(
        0, 10, 5000, dtype=np.uint8))))
    cases = {"cut": good[: len(good) // 2], "no-trailer": good[:-4]}
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x55
    cases["flipped"] = bytes(flipped)
    crc = bytearray(good)
    crc[-6] ^= 0x01          # damage the CRC32 in the trailer only
    cases["crc"] = bytes(crc)
    for name, content in cases.items():
        path = tmp_path / f"{name}.gz"
        path.write_bytes(content)
        with pytest.raises(ml.MNISTFormatError) as info:
            ml_idx.read_idx(path, "labels", 5000)
        assert str(path) in str(info.value)
        assert any(w in str(info.value) for w in ("gzip", "truncated", "label", "magic")), name


@pytest.fixture
def mnist_copy(tmp_path):
    """The four IDX files linked into a folder of their own, to spoil one."""
    if MNIST_DIR is None:
        pytest.skip(MNIST_SKIP_REASON)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in IDX_NAMES:
        (folder / name).symlink_to(os.path.join(MNIST_DIR, name))
    return folder


@needs_full
@pytest.mark.parametrize("victim, content, match", [
    ("t10k-labels-idx1-ubyte.gz", lambda: gzip.compress(idx("labels", 60000)),
     "60,000 labels, this MNIST file must hold 10,000"),
    ("train-images-idx3-ubyte.gz", lambda: gzip.compress(idx("images", 10000)),
     "10,000 images, this MNIST file must hold 60,000"),
    ("t10k-images-idx3-ubyte.gz", lambda: idx("labels", 10000), "wrong magic number 2049"),
    ("train-labels-idx1-ubyte.gz",
     lambda: open(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz"), "rb").read()[:-100],
     "gzip|truncated"),
])
def test_bad_file_in_an_idx_folder_is_named(mnist_copy, victim, content, match):
    (mnist_copy / victim).unlink()
    (mnist_copy / victim).write_bytes(content())
    with pytest.raises(ml.MNISTFormatError, match=match) as info:
        ml.load_data(mnist_copy)
    assert victim in str(info.value)


#### Downloads, against a local server only
class _Server:
    def __init__(self, root):
        self.root, self.hits = str(root), []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=outer.root, **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.hits.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(tmp_path):
    """A local server over a temp copy of the MNIST folder (or an empty
    folder when MNIST is not available)."""
    root = tmp_path / "served"
    root.mkdir()
    if MNIST_DIR is not None:
        for name in IDX_NAMES:
            shutil.copyfile(os.path.join(MNIST_DIR, name), root / name)
    srv = _Server(root)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def shared_checksums():
    if MNIST_DIR is None:
        pytest.skip(MNIST_SKIP_REASON)
    table = {}
    for name in IDX_NAMES:
        data = open(os.path.join(MNIST_DIR, name), "rb").read()
        table[name] = (hashlib.md5(data).hexdigest(), len(data))
    return table


def _dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_default_checksums_are_the_official_ones():
    assert ml.CHECKSUMS == {
        "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
        "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", 28881),
        "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", 1648877),
        "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", 4542),
    }


@needs_full
def test_default_checksums_match_the_official_shared_files(shared_checksums):
    for name in IDX_NAMES[1:]:
        assert shared_checksums[name] == ml.CHECKSUMS[name]
    # the shared train-images .gz was re-compressed: its md5 differs on purpose
    assert shared_checksums[IDX_NAMES[0]][0] != ml.CHECKSUMS[IDX_NAMES[0]][0]


@needs_full
def test_download_cache_and_load(offline, monkeypatch, server, shared_checksums, full):
    monkeypatch.delenv("VGCORE_NO_DOWNLOAD")
    monkeypatch.setattr(ml_download, "MIRRORS", (server.url,))
    monkeypatch.setattr(ml_download, "CHECKSUMS", shared_checksums)
    source = ml.find_data()
    assert source.kind == "idx" and source.path == str(offline.cache)
    assert source.origin == "downloaded into the cache folder"
    assert sorted(server.hits) == sorted("/" + n for n in IDX_NAMES)
    assert _leftovers(offline.cache) == sorted(IDX_NAMES)      # no temp files
    for name in IDX_NAMES:
        data = (offline.cache / name).read_bytes()
        assert hashlib.md5(data).hexdigest() == shared_checksums[name][0]
    _assert_same_data(ml.load_data(), full)
    assert ml.find_data().origin == "cache folder"
    assert len(server.hits) == 4                               # served from the cache


@needs_full
def test_download_tries_mirrors_in_turn_and_keeps_existing_files(
        offline, monkeypatch, server, shared_checksums, capsys):
    offline.cache.mkdir(parents=True)
    for name in IDX_NAMES[2:]:
        shutil.copyfile(os.path.join(MNIST_DIR, name), offline.cache / name)
    dead = _dead_url()
    monkeypatch.setenv("VGCORE_MNIST_MIRROR", f"{dead}, {server.url}")
    dest = ml.download_mnist(checksums=shared_checksums, timeout=5)
    assert dest == str(offline.cache)
    assert sorted(server.hits) == sorted("/" + n for n in IDX_NAMES[:2])
    assert _leftovers(offline.cache) == sorted(IDX_NAMES)
    assert dead in capsys.readouterr().err


@needs_full
def test_official_checksum_refuses_the_recompressed_train_images(offline, server):
    with pytest.raises(ml.MNISTChecksumError) as info:
        ml.download_mnist(mirrors=[server.url], quiet=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg
    assert isinstance(info.value, ValueError)
    assert _leftovers(offline.cache.parent) == []    # nothing kept, not even the folder


@needs_full
@pytest.mark.parametrize("damage", ["flip", "truncate", "append"])
def test_corrupted_download_is_refused_and_leaves_nothing(
        offline, monkeypatch, server, shared_checksums, damage):
    victim = os.path.join(server.root, "t10k-images-idx3-ubyte.gz")
    data = bytearray(open(victim, "rb").read())
    if damage == "flip":
        data[1000] ^= 0xFF
    elif damage == "truncate":
        del data[-10:]
    else:
        data += b"\x00"
    open(victim, "wb").write(bytes(data))
    monkeypatch.delenv("VGCORE_NO_DOWNLOAD")
    monkeypatch.setattr(ml_download, "MIRRORS", (server.url,))
    monkeypatch.setattr(ml_download, "CHECKSUMS", shared_checksums)
    with pytest.raises(ml.MNISTChecksumError, match="t10k-images-idx3-ubyte.gz"):
        ml.load_data()
    assert _leftovers(offline.cache.parent) == []
    # with the good file back, the next call succeeds
    shutil.copyfile(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"), victim)
    assert ml.find_data().kind == "idx"


def test_server_down_gives_the_not_found_error(offline, monkeypatch):
    dead = _dead_url()
    monkeypatch.delenv("VGCORE_NO_DOWNLOAD")
    monkeypatch.setattr(ml_download, "MIRRORS", (dead,))
    with pytest.raises(ml.MNISTNotFoundError) as info:
        ml.load_data()
    msg = str(info.value)
    assert "download into" in msg and "failed" in msg and dead in msg
    assert "$VGCORE_MNIST: not set" in msg and "sample=True" in msg
    assert _leftovers(offline.cache.parent) == []
    with pytest.raises(ml.MNISTDownloadError, match="could not download"):
        ml.download_mnist(mirrors=[dead], quiet=True)


def test_switched_off_downloads_send_no_request(offline, monkeypatch, server):
    monkeypatch.setattr(ml_download, "MIRRORS", (server.url,))
    with pytest.raises(ml.MNISTNotFoundError, match="VGCORE_NO_DOWNLOAD is set"):
        ml.load_data()
    monkeypatch.delenv("VGCORE_NO_DOWNLOAD")
    with pytest.raises(ml.MNISTNotFoundError, match=r"switched off \(download=False\)"):
        ml.load_data(download=False)
    assert server.hits == []
    # the keyword wins over the environment variable
    monkeypatch.setenv("VGCORE_NO_DOWNLOAD", "1")
    for name in IDX_NAMES:     # nothing served now: every request is a 404
        target = os.path.join(server.root, name)
        if os.path.exists(target):
            os.unlink(target)
    with pytest.raises(ml.MNISTNotFoundError, match="404"):
        ml.load_data(download=True)
    assert server.hits == ["/" + IDX_NAMES[0]]
    assert _leftovers(offline.cache.parent) == []


def test_loading_never_imports_pooch(tmp_path):
    """pooch (and requests under it) are imported only for a download: not by
    the import, not when the data is found, not when downloads are off."""
    env = {k: v for k, v in os.environ.items() if k != "VGCORE_MNIST"}
    env.update(VGCORE_CACHE=str(tmp_path / "cache"), VGCORE_NO_DOWNLOAD="1")
    script = ("import sys, vgcore.mnist_loader as ml\n"
              "assert 'pooch' not in sys.modules\n"
              "ml.load_data_wrapper(sample=True)\n"
              "try:\n    ml.find_data()\nexcept ml.MNISTNotFoundError:\n    pass\n"
              "print('pooch' in sys.modules, 'requests' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split() == ["False", "False"]


def test_vgcore_mnist_is_the_loaders_command(offline, capsys):
    """``vgcore mnist`` runs what ``python -m vgcore.mnist_loader`` runs."""
    from vgcore import cli
    assert cli.main(["mnist", "info"]) == 1
    assert "MNIST data not found" in capsys.readouterr().out
    assert cli.main(["mnist", "build-sample", "nowhere", "out.npz"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vgcore mnist: error: ") and err.count("\n") == 1
