"""
mnist_loader
~~~~~~~~~~~~

A library to load the MNIST image data, a drop-in replacement for the
``mnist_loader.py`` of Michael Nielsen's book *Neural Networks and Deep
Learning*.  For details of the data structures that are returned, see
the doc strings for ``load_data`` and ``load_data_wrapper``.  In
practice, ``load_data_wrapper`` is the function usually called by our
neural network code::

    from vgcore import mnist_loader
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()

Where the data comes from
-------------------------
Nielsen's loader read the single file ``../data/mnist.pkl.gz``.  This
one also reads the four official MNIST files (the "IDX" files, gzipped
or not) and, when it finds nothing, downloads those into a cache folder.
With no ``path`` argument it looks, in this order, at:

1. ``$VGCORE_MNIST``: a folder holding the four IDX files (or a
   ``mnist.pkl.gz``), or the path of a ``mnist.pkl.gz`` file.  When this
   variable is set it is the answer: if it points nowhere you get an
   error, not a silent download;
2. ``../data/mnist.pkl.gz`` then ``data/mnist.pkl.gz``, relative to the
   current directory (the layout of Nielsen's repository), then
   ``mnist.pkl.gz`` in the current directory (where the Python 3 ports'
   loaders open it);
3. the cache folder ``cache_dir()/mnist`` (``$VGCORE_CACHE``, else
   ``$XDG_CACHE_HOME/vgcore``, else ``~/.cache/vgcore``);
4. a download of the official IDX files from ``MIRRORS`` into that cache
   folder, each file checked against its official MD5 and size before
   it is kept -- unless downloads are switched off with the environment
   variable ``VGCORE_NO_DOWNLOAD=1`` or the keyword ``download=False``.

If all of that fails you get one ``MNISTNotFoundError`` listing every
place that was tried and how to supply the data.

A small sample of the real data (5,000 training, 1,000 validation and
1,000 test images) ships inside the package.  It is only ever used when
asked for: ``load_data(sample=True)``, ``load_data_wrapper(sample=True)``,
``load_sample()``, or ``load_data_auto()``, which says which one it used.

Errors
------
- ``MNISTFormatError`` (a ``ValueError``): a file is not what it should
  be (truncated, wrong magic number, wrong sizes, bad labels...).  The
  message names the file and the problem.
- ``MNISTChecksumError`` (a ``MNISTFormatError``): a download did not
  match its MD5 or size.  Nothing is kept in the cache.
- ``UnsafePickleError`` (both a ``MNISTFormatError`` and a
  ``pickle.UnpicklingError``): a pickle asked for something other than
  plain numpy arrays.  Pickles are read by a restricted unpickler, so a
  hostile ``mnist.pkl.gz`` cannot run code; and it reads at most 512 MiB
  in at most 10,000 operations (Nielsen's file: ~220 MB in ~100), so a
  small file of millions of tiny operations is refused after a bounded
  amount of work and memory (``MNISTFormatError``).
- ``MNISTNotFoundError`` (a ``FileNotFoundError``): no data anywhere.
- ``MNISTDownloadError`` (an ``OSError``): ``download_mnist`` could not
  reach any mirror.

Arrays and the in-process cache
-------------------------------
Parsed files are kept in memory (keyed on each file's path, size,
modification time and inode), so loading twice in one process is quick.
The cache holds read-only arrays; every call returns **new, writable**
arrays, so changing what you got back never changes what the next call
returns.
"""

import gzip
import hashlib
import io
import math
import operator
import os
import pickle
import sys
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "load_data", "load_data_wrapper", "vectorized_result", "load_sample",
    "load_data_auto", "find_data", "download_mnist", "cache_dir",
    "MNISTSource", "MNISTFormatError", "MNISTChecksumError",
    "UnsafePickleError", "MNISTNotFoundError", "MNISTDownloadError",
    "MIRRORS", "CHECKSUMS",
]

#### Sizes of the data set
N_TRAINING = 50000
N_VALIDATION = 10000
N_TEST = 10000
N_OFFICIAL_TRAIN = N_TRAINING + N_VALIDATION   # 60,000 images in the official training file
ROWS = COLS = 28
PIXELS = ROWS * COLS                           # 784

#: The sample shipped in ``vgcore/data/_data``: how many images of each split.
SAMPLE_SIZES = {"training": 5000, "validation": 1000, "test": 1000}
SAMPLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "data", "_data", "mnist_sample.npz")

#### Where the official files live, and what they must look like
#: Base URLs tried in turn by ``download_mnist``; each must serve the four
#: files below.  ``$VGCORE_MNIST_MIRROR`` (one URL, or several separated by
#: commas or spaces) replaces this list.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Official MD5 and size in bytes of the four gzipped IDX files.
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
    "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", 28881),
    "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", 1648877),
    "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", 4542),
}

# role -> (accepted file names without ".gz", IDX kind, expected count).
# Files are read small ones first, so a bad label file is reported
# before 47 MB of training images are decompressed.
_IDX_ROLES = {
    "train_labels": (("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
                     "labels", N_OFFICIAL_TRAIN),
    "test_labels": (("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
                    "labels", N_TEST),
    "test_images": (("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
                    "images", N_TEST),
    "train_images": (("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
                     "images", N_OFFICIAL_TRAIN),
}
_IDX_MAGIC = {"images": 2051, "labels": 2049}
_IDX_HEADER = {"images": 16, "labels": 8}
_PICKLE_NAME = "mnist.pkl.gz"
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22                        # read 4 MiB at a time
_MAX_PICKLE_BYTES = 512 * 1024 * 1024   # Nielsen's pickle is ~220 MB uncompressed
_MAX_PICKLE_OPS = 10_000                # Nielsen's pickle has under 100 opcodes


#### Exceptions
class MNISTFormatError(ValueError):
    """A data file is malformed.  ``path`` is the file, when known."""

    def __init__(self, message, path=None):
        self.path = None if path is None else os.fspath(path)
        super().__init__(message if path is None else f"{self.path}: {message}")


class MNISTChecksumError(MNISTFormatError):
    """A downloaded file did not have the expected MD5 checksum or size."""


class UnsafePickleError(MNISTFormatError, pickle.UnpicklingError):
    """A pickle asked for something other than plain numpy arrays.

    Raised before that thing is created: a hostile pickle cannot run code.
    """


class MNISTNotFoundError(FileNotFoundError):
    """No MNIST data was found.  ``searched`` lists every place tried."""

    def __init__(self, message, searched=()):
        self.searched = list(searched)
        super().__init__(message)

    def __str__(self):
        return self.args[0] if self.args else ""


class MNISTDownloadError(OSError):
    """``download_mnist`` could not fetch a file from any mirror."""

    def __str__(self):
        return self.args[0] if self.args else ""


#### The public loading functions (Nielsen's interface)
def load_data(path=None, *, sample=False, download=None):
    """Return the MNIST data as a tuple containing the training data,
    the validation data, and the test data.

    The ``training_data`` is returned as a tuple with two entries.
    The first entry contains the actual training images.  This is a
    numpy ndarray with 50,000 entries.  Each entry is, in turn, a
    numpy ndarray with 784 values, representing the 28 * 28 = 784
    pixels in a single MNIST image.  Each pixel is a float32 between
    0 and 1: the official grey level (0..255) divided by 256, exactly
    as in Nielsen's ``mnist.pkl.gz`` (so the brightest value is
    255/256 = 0.99609375).

    The second entry in the ``training_data`` tuple is a numpy ndarray
    (of dtype int64) containing 50,000 entries.  Those entries are just
    the digit values (0...9) for the corresponding images contained in
    the first entry of the tuple.

    The ``validation_data`` and ``test_data`` are similar, except each
    contains only 10,000 images.  The training data are the first
    50,000 images of the official MNIST training set, the validation
    data its last 10,000, and the test data the official test set, all
    in the official order.

    ``path`` may be a folder holding the four official IDX files
    (``train-images-idx3-ubyte.gz`` etc., gzipped or not), or the file
    ``mnist.pkl.gz``.  Without it, the data is looked for as described
    at the top of this module (and downloaded if need be, unless
    ``download=False`` or ``$VGCORE_NO_DOWNLOAD=1``).

    With ``sample=True`` you get the small sample shipped with vgcore
    instead (5,000 / 1,000 / 1,000 images, same format).

    Every call returns new, writable arrays.
    """
    source = find_data(path, download=download, sample=sample)
    return _load_source(source)


def load_data_wrapper(path=None, *, sample=False, download=None):
    """Return a tuple containing ``(training_data, validation_data,
    test_data)``.  Based on ``load_data``, but the format is more
    convenient for use in our implementation of neural networks.

    In particular, ``training_data`` is a list containing 50,000
    2-tuples ``(x, y)``.  ``x`` is a (784, 1) numpy.ndarray containing
    the input image.  ``y`` is a (10, 1) numpy.ndarray (float64)
    representing the unit vector corresponding to the correct digit
    for ``x``.

    ``validation_data`` and ``test_data`` are lists containing 10,000
    2-tuples ``(x, y)``.  In each case, ``x`` is a (784, 1)
    numpy.ndarray containing the input image, and ``y`` is the
    corresponding classification, i.e., the digit value, as a
    ``numpy.int64`` (an item of the label array, as in network2).

    Obviously, this means we're using slightly different formats for
    the training data and the validation / test data.  These formats
    turn out to be the most convenient for use in our neural network
    code.

    The ``x`` arrays are float32, as they were in Nielsen's loader (it
    reshaped the float32 arrays of the pickle); numpy upcasts them to
    float64 when they meet the float64 weights of a network.  To save
    memory and time, the ``x`` of one list are views into a single
    contiguous (N, 784, 1) array rather than N separate copies, and the
    ``y`` vectors of the training data are views into one (N, 10, 1)
    array.  These are lists, not ``zip`` objects: ``len()`` and indexing
    work, and ``list()`` on them (as the Python 3 ports do) is harmless.

    ``path``, ``sample`` and ``download`` are as for ``load_data``.
    """
    tr_d, va_d, te_d = load_data(path, sample=sample, download=download)
    return _wrap(tr_d, va_d, te_d)


def vectorized_result(j):
    """Return a 10-dimensional unit vector with a 1.0 in the jth
    position and zeroes elsewhere.  This is used to convert a digit
    (0...9) into a corresponding desired output from the neural
    network.  The result is a float64 array of shape (10, 1)."""
    j = operator.index(j)
    if not 0 <= j <= 9:
        raise ValueError(f"vectorized_result: digit must be in 0..9, got {j}")
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def load_sample():
    """Return the small MNIST sample shipped with vgcore, in the format
    of ``load_data``: 5,000 training images (the first 5,000 of the
    official training set), 1,000 validation images (official training
    images 50,000..50,999) and 1,000 test images (the first 1,000 of
    the official test set).  Good for quick experiments and tests;
    accuracies measured on it are not comparable with the book's."""
    return load_data(sample=True)


def load_data_auto(path=None, *, download=False, wrapper=False):
    """Load full MNIST if it can be found, else the embedded sample.

    Returns ``(data, description, is_full)``: ``data`` in the format of
    ``load_data`` (or of ``load_data_wrapper`` with ``wrapper=True``),
    a sentence saying where the data came from, and whether it is the
    full data set.  It does not download unless ``download=True``.

    The sample is used only when nothing was asked for explicitly: if
    ``path`` is given or ``$VGCORE_MNIST`` is set and no data is there,
    the ``MNISTNotFoundError`` is raised instead.
    """
    try:
        source = find_data(path, download=download)
        description = source.description
    except MNISTNotFoundError as err:
        if path is not None or os.environ.get("VGCORE_MNIST"):
            raise
        source = _sample_source()
        looked = "; ".join(err.searched)
        description = (f"{source.description} -- full MNIST was not found "
                       f"(looked at: {looked}); set VGCORE_MNIST to a folder "
                       f"of the four IDX files or to mnist.pkl.gz to use it")
    data = _load_source(source)
    if wrapper:
        data = _wrap(*data)
    return data, description, source.is_full


#### Finding the data
@dataclass(frozen=True)
class MNISTSource:
    """Where the data comes from.

    ``kind`` is ``"idx"`` (a folder of the four IDX files; ``files`` maps
    each role to its file), ``"pickle"`` (Nielsen's ``mnist.pkl.gz``) or
    ``"sample"`` (the embedded sample).  ``path`` is the folder or file.
    ``is_full`` tells whether it is the full data set.  ``str()`` gives
    ``description``."""
    kind: str
    path: str
    description: str
    is_full: bool
    files: dict = field(default_factory=dict, compare=False)
    origin: str = ""

    def __str__(self):
        return self.description


def cache_dir():
    """The vgcore cache folder: ``$VGCORE_CACHE`` if set, else
    ``$XDG_CACHE_HOME/vgcore``, else ``~/.cache/vgcore``.  MNIST goes in
    its ``mnist`` subfolder."""
    explicit = os.environ.get("VGCORE_CACHE")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.abspath(os.path.join(base, "vgcore"))


def _mnist_cache_dir():
    return os.path.join(cache_dir(), "mnist")


def _downloads_allowed(download):
    if download is not None:
        return bool(download)
    flag = os.environ.get("VGCORE_NO_DOWNLOAD", "").strip().lower()
    return flag in ("", "0", "false", "no", "off")


def find_data(path=None, *, download=None, sample=False):
    """Find the MNIST data without loading it; return an ``MNISTSource``.

    Follows the search order described at the top of the module.  The
    last step downloads the official files into the cache folder, only
    if allowed (``download=True``, or ``download=None`` and
    ``$VGCORE_NO_DOWNLOAD`` not set to 1).  An explicit ``download``
    keyword wins over the environment variable.  Raises
    ``MNISTNotFoundError`` (listing all the places tried) if nothing is
    found, and lets a ``MNISTChecksumError`` from a download through.
    """
    if sample:
        if path is not None:
            raise ValueError("pass either a path or sample=True, not both")
        return _sample_source()
    if path is not None:
        return _source_at(path, "path argument")
    env = os.environ.get("VGCORE_MNIST")
    if env:
        return _source_at(env, "$VGCORE_MNIST")

    searched = ["$VGCORE_MNIST: not set"]
    for rel, layout in ((os.path.join("..", "data", _PICKLE_NAME), "Nielsen's layout"),
                        (os.path.join("data", _PICKLE_NAME), "Nielsen's layout"),
                        (_PICKLE_NAME, "the current folder, as the Python 3 ports")):
        candidate = os.path.abspath(rel)
        if os.path.isfile(candidate):
            return _pickle_source(candidate, f"{rel} ({layout})")
        searched.append(f"{candidate}: not found")

    cache = _mnist_cache_dir()
    files, missing = _idx_files_in(cache)
    if not missing:
        return _idx_source(cache, files, "cache folder")
    if os.path.isfile(os.path.join(cache, _PICKLE_NAME)):
        return _pickle_source(os.path.join(cache, _PICKLE_NAME), "cache folder")
    if os.path.isdir(cache):
        searched.append(f"cache folder {cache}: missing {', '.join(missing)}")
    else:
        searched.append(f"cache folder {cache}: does not exist")

    if not _downloads_allowed(download):
        why = ("download=False" if download is not None
               else "VGCORE_NO_DOWNLOAD is set")
        searched.append(f"download: switched off ({why})")
    else:
        try:
            download_mnist(cache)
        except MNISTDownloadError as err:
            searched.append(f"download into {cache}: failed\n      "
                            + str(err).replace("\n", "\n      "))
        else:
            files, missing = _idx_files_in(cache)
            if not missing:
                return _idx_source(cache, files, "downloaded into the cache folder")
            searched.append(f"download into {cache}: files still missing: "
                            f"{', '.join(missing)}")
    raise MNISTNotFoundError(_not_found_message(searched, cache), searched)


def _not_found_message(searched, cache):
    lines = ["MNIST data not found.  Looked at:"]
    lines += [f"  - {s}" for s in searched]
    lines += [
        "To supply the data, do one of:",
        "  - set VGCORE_MNIST=/path/to/folder holding the four official IDX files",
        "    (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,",
        "    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; gzipped or not),",
        "    or VGCORE_MNIST=/path/to/mnist.pkl.gz (Nielsen's file);",
        "  - pass the folder or file: load_data(path=...) / load_data_wrapper(path=...);",
        f"  - put the four IDX files in {cache};",
        "  - allow the download (unset VGCORE_NO_DOWNLOAD, or pass download=True);",
        "  - or use the small sample shipped with vgcore explicitly:",
        "    load_data(sample=True) / load_data_wrapper(sample=True).",
    ]
    return "\n".join(lines)


def _idx_files_in(folder):
    """Map each role to the IDX file found for it in ``folder``
    (uncompressed preferred); also return the list of missing roles."""
    files, missing = {}, []
    for role, (names, _kind, _count) in _IDX_ROLES.items():
        for name in names:
            hit = next((os.path.join(folder, n) for n in (name, name + ".gz")
                        if os.path.isfile(os.path.join(folder, n))), None)
            if hit:
                files[role] = hit
                break
        else:
            missing.append(names[0] + ".gz")
    return files, missing


def _source_at(path, origin):
    """The source at an explicitly given path (folder or pickle file)."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isdir(path):
        files, missing = _idx_files_in(path)
        if not missing:
            return _idx_source(path, files, origin)
        pkl = os.path.join(path, _PICKLE_NAME)
        if os.path.isfile(pkl):
            return _pickle_source(pkl, origin)
        what = (f"{origin} {path}: folder lacks {', '.join(missing)}"
                if files else
                f"{origin} {path}: folder holds neither the four IDX files nor {_PICKLE_NAME}")
        raise MNISTNotFoundError(_not_found_message([what], _mnist_cache_dir()), [what])
    if os.path.isfile(path):
        return _pickle_source(path, origin)
    what = f"{origin} {path}: does not exist"
    raise MNISTNotFoundError(_not_found_message([what], _mnist_cache_dir()), [what])


def _idx_source(folder, files, origin):
    return MNISTSource("idx", folder, f"full MNIST: the official IDX files in {folder} ({origin})",
                       True, files, origin)


def _pickle_source(path, origin):
    return MNISTSource("pickle", path, f"full MNIST: Nielsen's pickle {path} ({origin})",
                       True, {}, origin)


def _sample_source():
    n = SAMPLE_SIZES
    return MNISTSource(
        "sample", SAMPLE_PATH,
        f"the MNIST sample embedded in vgcore ({n['training']:,} training / "
        f"{n['validation']:,} validation / {n['test']:,} test images), "
        f"NOT the full data set", False, {}, "sample")


#### Loading a source, with an in-process cache
def _stamp(path):
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _load_source(source):
    if source.kind == "idx":
        try:
            splits = _idx_splits(source.files)
        except MNISTFormatError as err:
            if source.origin.endswith("cache folder"):
                hinted = type(err)(f"{err} (delete the cache folder {source.path} "
                                   f"to download the files again)")
                hinted.path = err.path
                raise hinted from err
            raise
    elif source.kind == "pickle":
        splits = _cached("pickle", (source.path,), lambda: _read_pickle_file(source.path))
    elif source.kind == "sample":
        splits = _cached("sample", (source.path,), lambda: _read_sample(source.path))
    else:  # pragma: no cover - MNISTSource is built only here
        raise ValueError(f"unknown source kind {source.kind!r}")
    return tuple(_fresh(*splits[name]) for name in ("training", "validation", "test"))


def _fresh(images, labels):
    """New writable float32 images in [0, 1) and int64 labels."""
    if images.dtype == np.uint8:
        out = np.empty(images.shape, dtype=np.float32)
        # pixel / 256: multiplying by 2**-8 is exact, as in Nielsen's pickle
        np.multiply(images, np.float32(1.0 / 256.0), out=out, dtype=np.float32)
    else:
        out = np.array(images, dtype=np.float32, copy=True, order="C")
    return out, labels.astype(np.int64)


def _readonly(a):
    a.flags.writeable = False
    return a


# (kind, real paths, (size, mtime, inode) of each) -> read-only arrays parsed
# from them: one entry per IDX file, per pickle, for the sample
_CACHE = {}
_CACHE_SIZE = 6
_CACHE_LOCK = threading.Lock()


def _cached(kind, paths, read):
    """What ``read()`` parses from ``paths``, parsed once per
    process as long as the files do not change.  Keyed on the real paths
    (a symlink and its target share an entry); errors name the given path."""
    real = tuple(os.path.realpath(p) for p in paths)
    key = (kind, real, tuple(_stamp(p) for p in real))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE[key] = _CACHE.pop(key)     # most recently used last
            return _CACHE[key]
    splits = read()
    with _CACHE_LOCK:
        _CACHE[key] = splits
        while len(_CACHE) > _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
    return splits


def _cache_clear():
    """Forget the arrays parsed so far in this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _idx_splits(files):
    """The three splits from the four IDX files (role -> path); each file
    is parsed once per process while it does not change."""
    arrays = _read_idx_files(files, cached=True)
    train_x, train_y = arrays["train_images"], arrays["train_labels"]
    return {
        "training": (train_x[:N_TRAINING], train_y[:N_TRAINING]),
        "validation": (train_x[N_TRAINING:], train_y[N_TRAINING:]),
        "test": (arrays["test_images"], arrays["test_labels"]),
    }


def _wrap(tr_d, va_d, te_d):
    def inputs(images):
        return images.reshape(len(images), PIXELS, 1)   # a view: no copy
    labels = tr_d[1]
    one_hot = np.zeros((len(labels), 10, 1))
    one_hot[np.arange(len(labels)), labels, 0] = 1.0
    training_data = list(zip(inputs(tr_d[0]), one_hot))
    # labels as network2 gives them: the items of the int64 label array
    validation_data = list(zip(inputs(va_d[0]), va_d[1]))
    test_data = list(zip(inputs(te_d[0]), te_d[1]))
    return (training_data, validation_data, test_data)


#### IDX files
def _read_idx_files(files, cached=False):
    """Read the four IDX files (role -> path); return read-only uint8 arrays."""
    arrays = {}
    for role, (_names, kind, count) in _IDX_ROLES.items():
        path = files[role]
        if cached:
            arrays[role] = _cached(f"idx-{kind}-{count}", (path,),
                                   lambda: _read_idx(path, kind, expected_count=count))
        else:
            arrays[role] = _read_idx(path, kind, expected_count=count)
    for split in ("train", "test"):
        n_img = len(arrays[f"{split}_images"])
        n_lab = len(arrays[f"{split}_labels"])
        if n_img != n_lab:   # cannot happen with the count checks; kept for safety
            raise MNISTFormatError(f"{n_img} images but {n_lab} labels",
                                   files[f"{split}_images"])
    return arrays


def _read_at_most(stream, n, prealloc_limit=0):
    """Read up to ``n`` bytes in chunks, so memory follows the real data
    and never a size announced by a header.  When ``n`` is at most
    ``prealloc_limit`` (a size the caller has already bounded), read
    straight into one buffer of that size instead (faster)."""
    if 0 < n <= prealloc_limit and hasattr(stream, "readinto"):
        buf = bytearray(n)
        view, pos = memoryview(buf), 0
        while pos < n:
            got = stream.readinto(view[pos:pos + _CHUNK])
            if not got:
                break
            pos += got
        view.release()
        del buf[pos:]
        return buf
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_idx(path, kind, expected_count=None):
    """Read one IDX file (gzipped or not, told by its first bytes).

    ``kind`` is ``"images"`` (magic 2051, count, 28 rows, 28 columns,
    then count*784 bytes) or ``"labels"`` (magic 2049, count, then count
    bytes, each 0..9).  Returns a read-only uint8 array of shape
    (count, 784) or (count,).  Raises ``MNISTFormatError`` naming the
    file for any deviation: a payload longer or shorter than the header
    says, a count other than ``expected_count``, a bad gzip stream...
    """
    magic_expected = _IDX_MAGIC[kind]
    header_len = _IDX_HEADER[kind]
    what = "image" if kind == "images" else "label"
    try:
        with open(path, "rb") as raw:
            file_size = os.fstat(raw.fileno()).st_size
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            with stream if compressed else raw:
                header = bytes(_read_at_most(stream, header_len))
                magic = int.from_bytes(header[0:4], "big")
                if len(header) >= 4 and magic != magic_expected:
                    other = {2051: "an IDX image file", 2049: "an IDX label file"}.get(
                        magic, "not an IDX file" + (" (is it gzipped twice?)"
                                                   if header[:2] == _GZIP_MAGIC else ""))
                    raise MNISTFormatError(
                        f"wrong magic number {magic} (0x{magic:08x}): expected "
                        f"{magic_expected} for an IDX {what} file; this looks like {other}",
                        path)
                if len(header) < header_len:
                    raise MNISTFormatError(
                        f"too short for an IDX {what} file: {len(header)} bytes, "
                        f"the header alone takes {header_len}", path)
                count = int.from_bytes(header[4:8], "big")
                item = 1
                if kind == "images":
                    rows = int.from_bytes(header[8:12], "big")
                    cols = int.from_bytes(header[12:16], "big")
                    if (rows, cols) != (ROWS, COLS):
                        raise MNISTFormatError(
                            f"images are {rows}x{cols}, MNIST images are {ROWS}x{COLS}", path)
                    item = PIXELS
                if expected_count is not None and count != expected_count:
                    raise MNISTFormatError(
                        f"header says {count:,} {what}s, this MNIST file must hold "
                        f"{expected_count:,}", path)
                need = count * item
                if not compressed and file_size != header_len + need:
                    raise MNISTFormatError(
                        f"{'truncated' if file_size < header_len + need else 'extra bytes'}: "
                        f"the header announces {count:,} {what}s ({need:,} bytes after the "
                        f"{header_len}-byte header) but the file holds "
                        f"{file_size - header_len:,} bytes after it", path)
                # the count was checked against MNIST's (or, raw, the file size),
                # so one buffer of that size is safe; otherwise read in chunks
                bounded = expected_count is not None or not compressed
                payload = _read_at_most(stream, need + 1,
                                        prealloc_limit=need + 1 if bounded else 0)
                if len(payload) != need:
                    state = "truncated" if len(payload) < need else "extra bytes"
                    got = (f"{len(payload):,}" if len(payload) < need
                           else f"more than {need:,}")
                    raise MNISTFormatError(
                        f"{state}: the header announces {count:,} {what}s ({need:,} bytes "
                        f"after the {header_len}-byte header) but the decompressed file holds "
                        f"{got}", path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise MNISTFormatError(f"truncated or corrupted gzip data ({err})", path) from err
    array = np.frombuffer(payload, dtype=np.uint8)
    if kind == "images":
        array = array.reshape(count, PIXELS)
    elif count and array.max() > 9:
        bad = int(np.argmax(array > 9))
        raise MNISTFormatError(f"label {array[bad]} at index {bad}: labels must be 0..9", path)
    return _readonly(array)


#### Nielsen's mnist.pkl.gz, through a restricted unpickler
_NUMPY_RECONSTRUCT = np.empty(0).__reduce__()[0]   # this numpy's ndarray _reconstruct
_SAFE_DTYPES = frozenset(
    "b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8".split())


class _Guarded:
    """What ``find_class`` hands to the unpickler: a callable stand-in
    with no attributes to set (``__slots__``) and a ``__setstate__`` that
    refuses, so a pickle's BUILD opcode cannot tamper with it.  With
    ``fn=None`` it is only a marker (``numpy.ndarray``, named as the type
    of the arrays to rebuild) and calling it is refused."""

    __slots__ = ("_fn", "_name")

    def __init__(self, fn, name):
        self._fn, self._name = fn, name

    def __call__(self, *args):
        if self._fn is None:
            raise UnsafePickleError(f"refusing to call {self._name} from a pickle")
        return self._fn(*args)

    def __setstate__(self, state):
        raise UnsafePickleError(f"refusing to set the state of {self._name} from a pickle")

    def __repr__(self):
        return f"{self._name} (restricted)"


_NDARRAY = _Guarded(None, "numpy.ndarray")


class _DtypeBuilder:
    """What ``numpy.dtype(...)`` gives inside a restricted pickle: only
    plain numeric dtypes, byte order taken from the pickled state."""

    def __init__(self, descr, align=False, copy=False):
        if isinstance(descr, bytes):
            descr = descr.decode("latin-1")
        if not isinstance(descr, str) or descr not in _SAFE_DTYPES:
            raise UnsafePickleError(
                f"refusing numpy dtype {descr!r}: only plain numeric dtypes are allowed")
        self.dtype = np.dtype(descr)

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 5 or any(
                s is not None for s in state[2:5]):
            raise UnsafePickleError(f"refusing unusual numpy dtype state {state!r}")
        endian = state[1]
        if isinstance(endian, bytes):
            endian = endian.decode("latin-1")
        if endian not in ("<", ">", "|", "="):
            raise UnsafePickleError(f"refusing numpy dtype byte order {endian!r}")
        if endian in "<>":
            self.dtype = self.dtype.newbyteorder(endian)


class _ArrayBuilder:
    """What ``_reconstruct(ndarray, ...)`` gives inside a restricted
    pickle; its ``__setstate__`` builds the array from the raw bytes with
    ``np.frombuffer`` after checking that shape, dtype and length agree."""

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleError("refusing unusual numpy array state")
        shape, dtype, fortran, data = state[-4:]
        if not isinstance(dtype, _DtypeBuilder):
            raise UnsafePickleError("numpy array state without a plain dtype")
        if (not isinstance(shape, tuple) or len(shape) > 32
                or not all(isinstance(s, int) and s >= 0 for s in shape)):
            raise UnsafePickleError(f"refusing numpy array shape {shape!r}")
        if isinstance(data, str):
            data = data.encode("latin-1")     # a Python 2 str read with encoding="latin1"
        if not isinstance(data, (bytes, bytearray)):
            raise UnsafePickleError("numpy array data must be a byte string")
        dt = dtype.dtype
        n = math.prod(shape)
        if n * dt.itemsize != len(data):
            raise MNISTFormatError(
                f"array of shape {shape} and dtype {dt} needs {n * dt.itemsize:,} bytes, "
                f"the pickle holds {len(data):,}")
        self.array = np.frombuffer(data, dtype=dt, count=n).reshape(
            shape, order="F" if fortran else "C")


def _safe_reconstruct(subtype, shape, typecode):
    if subtype is not _NDARRAY:
        raise UnsafePickleError(f"refusing to reconstruct an array of type {subtype!r}")
    return _ArrayBuilder()


def _safe_frombuffer(buf, dtype, shape, order):
    """numpy's protocol-5 array constructor, checked: plain dtype, shape
    and byte count agree, order C or F."""
    if not isinstance(dtype, _DtypeBuilder):
        raise UnsafePickleError("numpy array without a plain dtype")
    if isinstance(buf, pickle.PickleBuffer):
        buf = buf.raw()
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise UnsafePickleError("numpy array data must be a byte string")
    if (not isinstance(shape, tuple) or len(shape) > 32
            or not all(isinstance(s, int) and s >= 0 for s in shape)):
        raise UnsafePickleError(f"refusing numpy array shape {shape!r}")
    if order not in ("C", "F"):
        raise UnsafePickleError(f"refusing numpy array order {order!r}")
    dt, n = dtype.dtype, math.prod(shape)
    if n * dt.itemsize != len(buf):
        raise MNISTFormatError(
            f"array of shape {shape} and dtype {dt} needs {n * dt.itemsize:,} bytes, "
            f"the pickle holds {len(buf):,}")
    return np.frombuffer(bytes(buf), dtype=dt, count=n).reshape(shape, order=order)


def _safe_empty_bytes(*args):
    if args:    # bytes(10**12) would try to allocate a terabyte
        raise UnsafePickleError("refusing bytes(...) with arguments")
    return b""


def _safe_latin1_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"refusing _codecs.encode with encoding {encoding!r}")
    return obj.encode("latin-1")


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits exactly the globals that pickled numpy arrays use, mapped
    to safe stand-ins; refuses every other global with
    ``UnsafePickleError`` before anything is called."""

    ALLOWED = {
        # numpy 1.x (and Nielsen's Python 2 file) / numpy 2.x
        ("numpy.core.multiarray", "_reconstruct"): _Guarded(_safe_reconstruct, "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): _Guarded(_safe_reconstruct, "_reconstruct"),
        ("numpy", "ndarray"): _NDARRAY,
        # protocol 5 (Python 3's default): numpy 2.x / numpy 1.x
        ("numpy._core.numeric", "_frombuffer"): _Guarded(_safe_frombuffer, "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"): _Guarded(_safe_frombuffer, "_frombuffer"),
        ("numpy", "dtype"): _Guarded(_DtypeBuilder, "numpy.dtype"),
        # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(str, "latin1"),
        # and b"" as bytes() (__builtin__ after the Python 2 name mapping)
        ("_codecs", "encode"): _Guarded(_safe_latin1_encode, "_codecs.encode"),
        ("__builtin__", "bytes"): _Guarded(_safe_empty_bytes, "bytes"),
        ("builtins", "bytes"): _Guarded(_safe_empty_bytes, "bytes"),
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load the global {module}.{name}: an MNIST pickle holds "
                f"only numpy arrays, so this file is not one (and may be hostile)") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing a persistent id")


class _LimitedReader:
    """File wrapper for the unpickler: at most ``limit`` bytes and ``calls``
    calls.

    It has no ``peek``, so the C unpickler asks for every opcode with a
    call: an MNIST pickle is a few dozen opcodes around three pairs of big
    byte strings (read whole, at the stream's own speed), while a small
    file of millions of tiny opcodes, each making an object, is refused
    after ``calls`` calls -- a bounded amount of work and memory -- instead
    of keeping the unpickler busy and growing for minutes.  More than
    ``limit`` bytes (a gzip bomb) is refused as soon as it is asked for.
    """

    def __init__(self, f, limit, calls, head=b""):
        self._f, self._left, self._calls = f, limit, calls
        self._head = head                # bytes already read from f, given first

    def _count(self):
        self._calls -= 1
        if self._calls < 0:
            raise MNISTFormatError(f"more than {_MAX_PICKLE_OPS:,} pickle operations: "
                                   f"not an MNIST pickle (it has a few dozen)")

    def _take(self, n):
        if n > self._left:
            raise MNISTFormatError(
                f"more than {_MAX_PICKLE_BYTES // 2**20} MiB of pickle data; "
                f"not an MNIST pickle")
        self._left -= n

    def read(self, n=-1):
        self._count()
        if n is None or n < 0 or n > self._left:
            n = self._left + 1
        data = self._unread(n)
        if len(data) < n:            # never more than the limit, even if announced
            data += self._f.read(n - len(data))
        self._take(len(data))
        return data

    def readline(self):
        self._count()
        limit = min(self._left + 1, 1 << 16)
        data = self._unread(limit, line=True)
        if not data.endswith(b"\n") and len(data) < limit:
            data += self._f.readline(limit - len(data))
        self._take(len(data))
        return data

    def _unread(self, n, line=False):
        """Up to ``n`` bytes of the head read before (to the first newline with
        ``line``)."""
        head = self._head
        if line and b"\n" in head:
            n = min(n, head.index(b"\n") + 1)
        self._head = head[n:]
        return head[:n]


class _Gunzip(io.RawIOBase):
    """The decompressed bytes of a gzip file (every member), as a raw stream
    for ``io.BufferedReader``: ``readinto`` decompresses at most 1 MiB at a
    time straight from zlib (which checks each member's CRC and length).

    ``BufferedReader.read(n)`` then makes the ``n`` bytes of an array in one
    allocation filled piece by piece, as ``gzip.GzipFile`` does, without its
    Python-level buffering loop and separate CRC pass (~0.25 s less for
    Nielsen's 17 MB file).
    """

    _IN = 1 << 18                        # compressed bytes read at a time
    _OUT = 1 << 20                       # decompressed bytes per readinto at most

    def __init__(self, raw):
        super().__init__()
        self._raw, self._d = raw, zlib.decompressobj(wbits=31)

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self._OUT)
        while True:
            d = self._d
            if d.unconsumed_tail:
                data = d.unconsumed_tail
            elif d.eof:                      # the next member, if any
                data = d.unused_data or self._raw.read(self._IN)
                if not data.strip(b"\0"):   # the end, or gzip's zero padding
                    return 0
                d = self._d = zlib.decompressobj(wbits=31)
            else:
                data = self._raw.read(self._IN)
                if not data:
                    raise EOFError("the gzip stream ends early")
            out = d.decompress(data, n)
            if out:
                b[:len(out)] = out
                return len(out)


def _unpickle(stream):
    """Unpickle numpy arrays from ``stream`` with the restricted unpickler;
    return the object with every array stand-in replaced by its array."""
    # Python 2 byte strings come as bytes (array data need no decoding)
    obj = _RestrictedUnpickler(stream, encoding="bytes").load()

    def unwrap(o, depth=0):
        if depth > 16:
            raise MNISTFormatError("pickle nested too deeply for MNIST")
        if isinstance(o, _ArrayBuilder):
            if o.array is None:
                raise MNISTFormatError("numpy array without data in the pickle")
            return o.array
        if isinstance(o, (tuple, list)):
            return type(o)(unwrap(x, depth + 1) for x in o)
        if isinstance(o, (_DtypeBuilder, _Guarded)):
            raise MNISTFormatError(f"stray {type(o).__name__} in the pickle")
        return o
    return unwrap(obj)


def _read_pickle_file(path):
    """Read and check Nielsen's ``mnist.pkl.gz`` (or an uncompressed
    pickle); return the splits as read-only float32 / int64 arrays.

    The restricted unpickler reads the (decompressed) stream through a
    ``_LimitedReader``: at most ``_MAX_PICKLE_BYTES`` bytes and
    ``_MAX_PICKLE_OPS`` reads, so memory stays within about the data
    admitted and a hostile file is refused after a bounded amount of work,
    while Nielsen's file goes at ``pickle``'s own speed.
    """
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream = io.BufferedReader(_Gunzip(raw)) if compressed else raw
            head = stream.read(4)
            if int.from_bytes(head[:4].ljust(4, b"\0"), "big") in (2049, 2051):
                raise MNISTFormatError(
                    "this is an IDX file, not a pickle: pass the folder holding "
                    "the four IDX files instead", path)
            obj = _unpickle(_LimitedReader(stream, _MAX_PICKLE_BYTES, _MAX_PICKLE_OPS,
                                           head))
    except MNISTFormatError as err:
        if err.path is None:
            raise type(err)(str(err), path) from err
        raise
    except (zlib.error, gzip.BadGzipFile) as err:
        raise MNISTFormatError(f"corrupted gzip data ({err})", path) from err
    except EOFError as err:
        raise MNISTFormatError(f"the file ends early: truncated or corrupted ({err})",
                               path) from err
    except (pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, UnicodeError, OverflowError, RecursionError,
            MemoryError) as err:
        raise MNISTFormatError(
            f"not a valid MNIST pickle ({type(err).__name__}: {err})", path) from err
    return _check_pickle_data(obj, path)


def _check_pickle_data(obj, path):
    """Check the structure of an unpickled MNIST: three (images, labels)
    pairs, (N, 784) float images in [0, 1), N int labels in 0..9, and
    N = 50,000 / 10,000 / 10,000."""
    names = ("training", "validation", "test")
    sizes = (N_TRAINING, N_VALIDATION, N_TEST)
    if not isinstance(obj, (tuple, list)) or len(obj) != 3:
        raise MNISTFormatError(
            "expected a tuple of 3 (images, labels) pairs (training, validation, "
            f"test), found {type(obj).__name__}"
            + (f" of length {len(obj)}" if isinstance(obj, (tuple, list)) else ""), path)
    splits = {}
    for name, size, pair in zip(names, sizes, obj):
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                or not all(isinstance(a, np.ndarray) for a in pair)):
            raise MNISTFormatError(f"{name} data is not a pair of numpy arrays", path)
        images, labels = pair
        if images.ndim != 2 or images.shape[1] != PIXELS:
            raise MNISTFormatError(
                f"{name} images have shape {images.shape}, expected (N, {PIXELS})", path)
        if images.dtype.kind != "f":
            raise MNISTFormatError(
                f"{name} images have dtype {images.dtype}, expected float32", path)
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise MNISTFormatError(
                f"{name} labels have shape {labels.shape} and dtype {labels.dtype}, "
                f"expected a 1-d integer array", path)
        if len(labels) != len(images):
            raise MNISTFormatError(
                f"{name} has {len(images):,} images but {len(labels):,} labels", path)
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise MNISTFormatError(
                f"{name} labels range over {labels.min()}..{labels.max()}, must be 0..9", path)
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.size:
            lo, hi = float(images.min()), float(images.max())
            if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi < 1.0):
                raise MNISTFormatError(
                    f"{name} pixel values range over {lo}..{hi}, must lie in [0, 1)", path)
        splits[name] = (_readonly(images), _readonly(labels.astype(np.int64)))
    for name, size in zip(names, sizes):   # sizes last: the messages above say more
        if len(splits[name][0]) != size:
            raise MNISTFormatError(
                f"{name} data has {len(splits[name][0]):,} images, MNIST's has {size:,}",
                path)
    return splits


#### The embedded sample
_SAMPLE_KEYS = tuple(f"{split}_{part}" for split in ("training", "validation", "test")
                     for part in ("images", "labels"))


def _read_sample(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _SAMPLE_KEYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise MNISTFormatError(f"cannot read the embedded sample ({err})", path) from err
    splits = {}
    for split, n in SAMPLE_SIZES.items():
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if (x.dtype != np.uint8 or x.shape != (n, PIXELS) or y.dtype != np.uint8
                or y.shape != (n,) or y.max() > 9):
            raise MNISTFormatError(f"the embedded sample's {split} data is malformed", path)
        splits[split] = (_readonly(x), _readonly(y))
    return splits


def _build_sample(src, dst):
    """Write the embedded sample ``dst`` (an ``.npz``) from the four
    official IDX files in the folder ``src``.

    Takes official training images 0..4,999 (training), 50,000..50,999
    (the start of the validation range) and the test images 0..999, as
    uint8 with their uint8 labels.  The zip entries get a fixed date, so
    the same input always gives the same bytes.  Used as::

        python -m vgcore.mnist_loader build-sample /path/to/mnist vgcore/data/_data/mnist_sample.npz
    """
    files, missing = _idx_files_in(os.fspath(src))
    if missing:
        raise MNISTNotFoundError(f"{src}: missing {', '.join(missing)}", [os.fspath(src)])
    a = _read_idx_files(files)
    n_tr, n_va, n_te = (SAMPLE_SIZES[k] for k in ("training", "validation", "test"))
    arrays = {
        "training_images": a["train_images"][:n_tr],
        "training_labels": a["train_labels"][:n_tr],
        "validation_images": a["train_images"][N_TRAINING:N_TRAINING + n_va],
        "validation_labels": a["train_labels"][N_TRAINING:N_TRAINING + n_va],
        "test_images": a["test_images"][:n_te],
        "test_labels": a["test_labels"][:n_te],
    }
    dst = os.fspath(dst)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dst)),
                               prefix=".mnist_sample.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w") as zf:
            for key in _SAMPLE_KEYS:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]),
                                          allow_pickle=False)
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=9)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dst


#### Downloading
def _mirror_list(mirrors):
    if mirrors is None:
        env = os.environ.get("VGCORE_MNIST_MIRROR", "").replace(",", " ").split()
        mirrors = env if env else MIRRORS
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _normalise_checksums(checksums):
    table = {}
    for name, value in checksums.items():
        if isinstance(value, str):
            table[name] = (value.lower(), None)
        else:
            md5, size = value
            table[name] = (md5.lower(), size)
    return table


def _fetch_verified(url, folder, name, md5, size, timeout):
    """Fetch ``url`` into a temporary file in ``folder``; return its path
    if its size and MD5 are right.  On any failure remove it and raise."""
    import urllib.request   # here, not at the top: it takes ~40 ms to import

    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        digest, total = hashlib.md5(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while True:
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if size is not None and total > size:
                    raise MNISTChecksumError(
                        f"{url} sends more than the expected {size:,} bytes "
                        f"(expected MD5 {md5})", name)
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if (size is not None and total != size) or got != md5:
            expected = f"{size:,} bytes with MD5 {md5}" if size is not None else f"MD5 {md5}"
            raise MNISTChecksumError(
                f"{url} sent {total:,} bytes with MD5 {got}, expected {expected}", name)
        return tmp
    except BaseException:
        os.unlink(tmp)
        raise


def download_mnist(dest=None, *, mirrors=None, checksums=None, timeout=30.0, quiet=False):
    """Download the official MNIST IDX files into the folder ``dest``
    (default: ``cache_dir()/mnist``) and return that folder.

    Each missing file is tried from each mirror in turn (``mirrors``,
    default ``$VGCORE_MNIST_MIRROR`` or ``MIRRORS``) and written to a
    temporary file in ``dest``, which is kept only if its size and MD5
    match ``checksums`` (default ``CHECKSUMS``: file name -> ``(md5,
    size)``; a bare md5 string skips the size check).  Only when every
    missing file has been fetched and checked are they moved into place,
    each with an atomic ``os.replace``: after a failure nothing new is
    left in ``dest``, not even a temporary file.  Files already present
    are not fetched again.

    Raises ``MNISTChecksumError`` if a mirror served a wrong file and no
    mirror served the right one, ``MNISTDownloadError`` if no mirror
    could be reached.
    """
    dest = os.path.abspath(os.fspath(dest) if dest is not None else _mnist_cache_dir())
    table = _normalise_checksums(CHECKSUMS if checksums is None else checksums)
    urls = _mirror_list(mirrors)
    missing = [n for n in table if not os.path.isfile(os.path.join(dest, n))]
    if not missing:
        return dest
    created = not os.path.isdir(dest)
    os.makedirs(dest, exist_ok=True)
    fetched = {}
    try:
        for name in missing:
            md5, size = table[name]
            failures, bad = [], []
            for base in urls:
                url = base + name
                if not quiet:
                    print(f"vgcore: downloading {url}", file=sys.stderr)
                try:
                    fetched[name] = _fetch_verified(url, dest, name, md5, size, timeout)
                    break
                except MNISTChecksumError as err:
                    bad.append(str(err))
                except (OSError, ValueError) as err:    # URLError is an OSError
                    failures.append(f"{url}: {err}")
                except Exception as err:   # http.client errors are not OSErrors
                    failures.append(f"{url}: {type(err).__name__}: {err}")
            else:
                if bad:
                    raise MNISTChecksumError(
                        "download failed verification, nothing was kept: "
                        + "; ".join(bad + failures), name)
                raise MNISTDownloadError(
                    f"could not download {name} from any mirror:\n"
                    + ("\n".join(failures) if failures else "(no mirrors configured)"))
        for name, tmp in list(fetched.items()):
            os.chmod(tmp, 0o644)     # public data; mkstemp made it private
            os.replace(tmp, os.path.join(dest, name))
            del fetched[name]
    finally:
        for tmp in fetched.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
        if created:
            try:
                os.rmdir(dest)    # only succeeds if nothing was kept
            except OSError:
                pass
    return dest


#### Command line: python -m vgcore.mnist_loader {info,download,build-sample}
def _main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vgcore.mnist_loader",
                                     description="Find, download or sample MNIST.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="say which MNIST data would be used")
    p = sub.add_parser("download", help="download the official files into the cache")
    p.add_argument("dest", nargs="?", default=None)
    p = sub.add_parser("build-sample", help="write the embedded sample from IDX files")
    p.add_argument("src")
    p.add_argument("dst", nargs="?", default=SAMPLE_PATH)
    args = parser.parse_args(argv)
    if args.command == "info":
        try:
            print(find_data(download=False).description)
        except MNISTNotFoundError as err:
            print(err)
            return 1
        return 0
    try:
        if args.command == "download":
            print(download_mnist(args.dest))
        else:
            print(_build_sample(args.src, args.dst))
    except MNISTNotFoundError as err:
        print(f"{parser.prog}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    except (OSError, MNISTFormatError) as err:
        what = f"{err.strerror}: {err.filename}" if getattr(err, "filename", None) else err
        print(f"{parser.prog}: error: {what}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
