"""The small sample of MNIST shipped inside the package (``_data/mnist_sample.npz``).

5,000 training images (the first 5,000 of the official training set),
1,000 validation images (official training images 50,000..50,999) and
1,000 test images (the first 1,000 of the official test set), as uint8
with their uint8 labels.  Only ever used when asked for.
"""
import io
import os
import zipfile

import numpy as np

from .._support.files import atomic_write
from ..errors import MNISTFormatError, MNISTNotFoundError
from . import idx

__all__ = ["SAMPLE_SIZES", "SAMPLE_PATH", "read_sample", "build_sample"]

#: The sample shipped in ``vgcore/data/_data``: how many images of each split.
SAMPLE_SIZES = {"training": 5000, "validation": 1000, "test": 1000}
SAMPLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "_data", "mnist_sample.npz")
_KEYS = tuple(f"{split}_{part}" for split in ("training", "validation", "test")
              for part in ("images", "labels"))


def read_sample(path):
    """The sample's splits (name -> read-only ``(images, labels)``, uint8), checked."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _KEYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise MNISTFormatError(f"cannot read the embedded sample ({err})", path) from err
    splits = {}
    for split, n in SAMPLE_SIZES.items():
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if (x.dtype != np.uint8 or x.shape != (n, idx.PIXELS) or y.dtype != np.uint8
                or y.shape != (n,) or y.max() > 9):
            raise MNISTFormatError(f"the embedded sample's {split} data is malformed", path)
        splits[split] = (idx.readonly(x), idx.readonly(y))
    return splits


def build_sample(src, dst):
    """Write the embedded sample ``dst`` (an ``.npz``) from the four
    official IDX files in the folder ``src``; return ``dst``.

    The zip entries get a fixed date, so the same input always gives the
    same bytes; the file is written atomically.  Used as::

        python -m vgcore.mnist_loader build-sample /path/to/mnist vgcore/data/_data/mnist_sample.npz
    """
    files, missing = idx.files_in(os.fspath(src))
    if missing:
        raise MNISTNotFoundError(f"{src}: missing {', '.join(missing)}", [os.fspath(src)])
    full = idx.splits(idx.read_all(files))
    arrays = {}
    for split, n in SAMPLE_SIZES.items():
        images, labels = full[split]
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[:n], labels[:n]

    def write(out):
        with zipfile.ZipFile(out, "w") as zf:
            for key in _KEYS:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]),
                                          allow_pickle=False)
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=9)
    dst = os.fspath(dst)
    atomic_write(dst, write, what="the sample", binary=True)
    return dst
