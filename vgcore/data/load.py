"""Nielsen's two loading functions, over the sources :mod:`.locate` finds.

Each file is parsed once per process (``functools.lru_cache``, keyed on
the file's real path, size, modification time and inode, so a changed
file is read again); the cache holds read-only arrays and every call
returns new, writable ones.
"""
import functools
import operator
import os

import numpy as np

from ..core.datasets import one_hot
from ..errors import MNISTFormatError, MNISTNotFoundError
from . import idx
from .locate import find_data, sample_source
from .safe_pickle import read_pickle_file
from .sample import read_sample

__all__ = ["load_data", "load_data_wrapper", "vectorized_result", "load_sample",
           "load_data_auto", "find_data_auto", "clear_cache"]


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
    in :mod:`vgcore.mnist_loader` (and downloaded if need be, unless
    ``download=False`` or ``$VGCORE_NO_DOWNLOAD=1``).

    With ``sample=True`` you get the small sample shipped with vgcore
    instead (5,000 / 1,000 / 1,000 images, same format).

    Every call returns new, writable arrays.
    """
    return load_source(find_data(path, download=download, sample=sample))


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
    return _wrap(*load_data(path, sample=sample, download=download))


def vectorized_result(j):
    """Return a 10-dimensional unit vector with a 1.0 in the jth
    position and zeroes elsewhere.  This is used to convert a digit
    (0...9) into a corresponding desired output from the neural
    network.  The result is a float64 array of shape (10, 1)."""
    j = operator.index(j)
    if not 0 <= j <= 9:
        raise ValueError(f"vectorized_result: digit must be in 0..9, got {j}")
    return one_hot([j], 10).reshape(10, 1)


def load_sample():
    """Return the small MNIST sample shipped with vgcore, in the format
    of ``load_data``: 5,000 training images (the first 5,000 of the
    official training set), 1,000 validation images (official training
    images 50,000..50,999) and 1,000 test images (the first 1,000 of
    the official test set).  Good for quick experiments and tests;
    accuracies measured on it are not comparable with the book's."""
    return load_data(sample=True)


def find_data_auto(path=None, *, download=False):
    """``(source, description)``: full MNIST if it can be found, else the embedded sample.

    The sample is used only when nothing was asked for explicitly: if
    ``path`` is given or ``$VGCORE_MNIST`` is set and no data is there,
    the ``MNISTNotFoundError`` is raised instead.  ``description`` says
    where the data comes from (and, for the sample, where full MNIST was
    looked for).
    """
    try:
        source = find_data(path, download=download)
        description = source.description
    except MNISTNotFoundError as err:
        if path is not None or os.environ.get("VGCORE_MNIST"):
            raise
        source = sample_source()
        looked = "; ".join(err.searched)
        description = (f"{source.description} -- full MNIST was not found "
                       f"(looked at: {looked}); set VGCORE_MNIST to a folder "
                       f"of the four IDX files or to mnist.pkl.gz to use it")
    return source, description


def load_data_auto(path=None, *, download=False, wrapper=False):
    """Load full MNIST if it can be found, else the embedded sample.

    Returns ``(data, description, is_full)``: ``data`` in the format of
    ``load_data`` (or of ``load_data_wrapper`` with ``wrapper=True``),
    a sentence saying where the data came from, and whether it is the
    full data set.  It does not download unless ``download=True``.
    Which data: :func:`find_data_auto`.
    """
    source, description = find_data_auto(path, download=download)
    data = load_source(source)
    if wrapper:
        data = _wrap(*data)
    return data, description, source.is_full


# ---------------------------------------------------------------------------
# Sources to arrays, each file parsed once per process
# ---------------------------------------------------------------------------

def load_source(source):
    """``(training, validation, test)`` ``(images, labels)`` pairs of a
    source that :func:`find_data_auto` (or ``locate``) found."""
    if source.kind == "idx":
        try:
            splits = idx.splits(idx.read_all(source.files, read=_parsed))
        except MNISTFormatError as err:
            if source.origin.endswith("cache folder"):
                raise type(err)(f"{err.reason} (delete the cache folder {source.path} "
                                f"to download the files again)", err.path) from err
            raise
    elif source.kind in ("pickle", "sample"):
        splits = _parsed(source.path, source.kind)
    else:  # pragma: no cover - MNISTSource is built only by locate
        raise ValueError(f"unknown source kind {source.kind!r}")
    return tuple(_fresh(*splits[name]) for name in ("training", "validation", "test"))


def _fresh(images, labels):
    """New writable float32 images in [0, 1) and int64 labels."""
    if images.dtype == np.uint8:
        images = idx.pixels_as_floats(images)
    else:
        images = np.array(images, dtype=np.float32, copy=True, order="C")
    return images, labels.astype(np.int64)


def _parsed(path, kind, count=None):
    """What the file ``path`` holds (``kind``: ``"images"``, ``"labels"``,
    ``"pickle"`` or ``"sample"``), parsed once per process while the file
    does not change; a symbolic link and its target share an entry, and
    errors name ``path`` as given."""
    real = os.path.realpath(path)
    st = os.stat(real)
    try:
        return _parse(real, (st.st_size, st.st_mtime_ns, st.st_ino), kind, count)
    except MNISTFormatError as err:
        if err.path != real or real == os.fspath(path):
            raise
        raise type(err)(err.reason, path) from err


@functools.lru_cache(maxsize=6)
def _parse(real, stamp, kind, count):
    if kind == "pickle":
        return read_pickle_file(real)
    if kind == "sample":
        return read_sample(real)
    return idx.read_idx(real, kind, expected_count=count)


def clear_cache():
    """Forget the arrays parsed so far in this process."""
    _parse.cache_clear()


def _wrap(tr_d, va_d, te_d):
    def inputs(images):
        return images.reshape(len(images), idx.PIXELS, 1)   # a view: no copy
    labels = tr_d[1]
    targets = one_hot(labels, 10).reshape(len(labels), 10, 1)   # a view: no copy
    training_data = list(zip(inputs(tr_d[0]), targets))
    # labels as network2 gives them: the items of the int64 label array
    validation_data = list(zip(inputs(va_d[0]), va_d[1]))
    test_data = list(zip(inputs(te_d[0]), te_d[1]))
    return (training_data, validation_data, test_data)
