"""The official MNIST files ("IDX" files, gzipped or not): the one reader.

Used by the loader (:mod:`vgcore.mnist_loader`), by ``vgcore bench`` and by
the asv benchmarks.  An IDX file is a big-endian header -- magic number
(2051 for images, 2049 for labels), count, and for images 28 rows and 28
columns -- followed by one unsigned byte per pixel or label.  Every
deviation (wrong magic, a payload longer or shorter than the header says,
a count other than MNIST's, a label above 9, a broken gzip stream) raises
:class:`~vgcore.errors.MNISTFormatError` naming the file.  Memory follows
the data actually read, never a size announced by a header.
"""
import gzip
import os
import zlib

import numpy as np

from ..errors import MNISTFormatError

__all__ = ["N_TRAINING", "N_VALIDATION", "N_TEST", "N_OFFICIAL_TRAIN", "ROWS", "COLS",
           "PIXELS", "ROLES", "GZIP_MAGIC", "files_in", "read_idx", "read_all",
           "read_folder", "splits", "pixels_as_floats", "readonly"]

#### Sizes of the data set
N_TRAINING = 50000
N_VALIDATION = 10000
N_TEST = 10000
N_OFFICIAL_TRAIN = N_TRAINING + N_VALIDATION   # 60,000 images in the official training file
ROWS = COLS = 28
PIXELS = ROWS * COLS                           # 784

#: role -> (accepted file names without ".gz", IDX kind, expected count).
#: Files are read small ones first, so a bad label file is reported
#: before 47 MB of training images are decompressed.
ROLES = {
    "train_labels": (("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
                     "labels", N_OFFICIAL_TRAIN),
    "test_labels": (("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
                    "labels", N_TEST),
    "test_images": (("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
                    "images", N_TEST),
    "train_images": (("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
                     "images", N_OFFICIAL_TRAIN),
}
_MAGIC = {"images": 2051, "labels": 2049}
_HEADER = {"images": 16, "labels": 8}
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22                        # read 4 MiB at a time


def readonly(a):
    """``a``, made read-only (what the in-process cache keeps)."""
    a.flags.writeable = False
    return a


def pixels_as_floats(images, dtype=np.float32):
    """uint8 grey levels as ``dtype`` in [0, 1): pixel / 256, as Nielsen's
    ``mnist.pkl.gz`` holds them (multiplying by 2**-8 is exact)."""
    out = np.empty(images.shape, dtype=dtype)
    np.multiply(images, dtype(1.0 / 256.0), out=out, dtype=dtype)
    return out


def files_in(folder):
    """Map each role to the IDX file found for it in ``folder``
    (uncompressed preferred); also return the list of missing roles' files."""
    files, missing = {}, []
    for role, (names, _kind, _count) in ROLES.items():
        for name in names:
            hit = next((os.path.join(folder, n) for n in (name, name + ".gz")
                        if os.path.isfile(os.path.join(folder, n))), None)
            if hit:
                files[role] = hit
                break
        else:
            missing.append(names[0] + ".gz")
    return files, missing


def read_all(files, read=None):
    """The four IDX files (role -> path) as read-only uint8 arrays (role -> array).

    ``read(path, kind, count)`` reads one file (default :func:`read_idx`;
    the loader passes its cached reader).
    """
    read = read or (lambda path, kind, count: read_idx(path, kind, expected_count=count))
    arrays = {role: read(files[role], kind, count)
              for role, (_names, kind, count) in ROLES.items()}
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:   # cannot happen with the count checks; kept for safety
            raise MNISTFormatError(f"{n_img} images but {n_lab} labels",
                                   files[f"{split}_images"])
    return arrays


def splits(arrays):
    """``{"training", "validation", "test"}`` -> ``(images, labels)`` views of the
    four arrays: the first 50,000 official training images, the last 10,000,
    and the official test set."""
    train_x, train_y = arrays["train_images"], arrays["train_labels"]
    return {"training": (train_x[:N_TRAINING], train_y[:N_TRAINING]),
            "validation": (train_x[N_TRAINING:], train_y[N_TRAINING:]),
            "test": (arrays["test_images"], arrays["test_labels"])}


def read_folder(folder):
    """The three splits of the four IDX files in ``folder`` as read-only uint8
    arrays (see :func:`splits`), or None when a file is missing.  For
    ``vgcore bench`` and the asv benchmarks."""
    if not folder or not os.path.isdir(folder):
        return None
    files, missing = files_in(folder)
    return None if missing else splits(read_all(files))


def read_at_most(stream, n, prealloc_limit=0):
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


def read_idx(path, kind, expected_count=None):
    """Read one IDX file (gzipped or not, told by its first bytes).

    ``kind`` is ``"images"`` (magic 2051, count, 28 rows, 28 columns,
    then count*784 bytes) or ``"labels"`` (magic 2049, count, then count
    bytes, each 0..9).  Returns a read-only uint8 array of shape
    (count, 784) or (count,).  Raises ``MNISTFormatError`` naming the
    file for any deviation: a payload longer or shorter than the header
    says, a count other than ``expected_count``, a bad gzip stream...
    """
    try:
        with open(path, "rb") as raw:
            file_size = os.fstat(raw.fileno()).st_size
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            with stream if compressed else raw:
                count, need = _header(stream, path, kind, expected_count,
                                      None if compressed else file_size)
                # the count was checked against MNIST's (or, raw, the file size),
                # so one buffer of that size is safe; otherwise read in chunks
                bounded = expected_count is not None or not compressed
                payload = read_at_most(stream, need + 1,
                                       prealloc_limit=need + 1 if bounded else 0)
                if len(payload) != need:
                    state = "truncated" if len(payload) < need else "extra bytes"
                    got = (f"{len(payload):,}" if len(payload) < need
                           else f"more than {need:,}")
                    raise MNISTFormatError(
                        f"{state}: the header announces {count:,} {_what(kind)}s ({need:,} "
                        f"bytes after the {_HEADER[kind]}-byte header) but the decompressed "
                        f"file holds {got}", path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise MNISTFormatError(f"truncated or corrupted gzip data ({err})", path) from err
    array = np.frombuffer(payload, dtype=np.uint8)
    if kind == "images":
        array = array.reshape(count, PIXELS)
    elif count and array.max() > 9:
        bad = int(np.argmax(array > 9))
        raise MNISTFormatError(f"label {array[bad]} at index {bad}: labels must be 0..9", path)
    return readonly(array)


def _what(kind):
    return "image" if kind == "images" else "label"


def _header(stream, path, kind, expected_count, file_size):
    """Read and check the header; return ``(count, payload bytes)``.

    ``file_size`` (an uncompressed file's) must be the header plus the payload.
    """
    header_len, what = _HEADER[kind], _what(kind)
    header = bytes(read_at_most(stream, header_len))
    magic = int.from_bytes(header[0:4], "big")
    if len(header) >= 4 and magic != _MAGIC[kind]:
        other = {2051: "an IDX image file", 2049: "an IDX label file"}.get(
            magic, "not an IDX file" + (" (is it gzipped twice?)"
                                       if header[:2] == GZIP_MAGIC else ""))
        raise MNISTFormatError(
            f"wrong magic number {magic} (0x{magic:08x}): expected {_MAGIC[kind]} for an "
            f"IDX {what} file; this looks like {other}", path)
    if len(header) < header_len:
        raise MNISTFormatError(f"too short for an IDX {what} file: {len(header)} bytes, "
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
        raise MNISTFormatError(f"header says {count:,} {what}s, this MNIST file must hold "
                               f"{expected_count:,}", path)
    need = count * item
    if file_size is not None and file_size != header_len + need:
        raise MNISTFormatError(
            f"{'truncated' if file_size < header_len + need else 'extra bytes'}: "
            f"the header announces {count:,} {what}s ({need:,} bytes after the "
            f"{header_len}-byte header) but the file holds "
            f"{file_size - header_len:,} bytes after it", path)
    return count, need
