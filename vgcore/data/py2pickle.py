"""Writing MNIST as Nielsen's ``mnist.pkl.gz``: a Python 2 pickle.

Nielsen's file is ``gzip(cPickle.dumps(((train_x, train_y), (val_x,
val_y), (test_x, test_y))))`` written by Python 2 (protocol 2): byte
strings as ``(SHORT_)BINSTRING``, numpy arrays through numpy 1.x's
``numpy.core.multiarray._reconstruct`` / ``numpy.ndarray`` /
``numpy.dtype``.  Python 3 reads it only with ``encoding="latin1"``.  The
tests and ``vgcore bench`` rebuild it from the official IDX files with
:func:`write_nielsen_pickle`, to test and time the loader on the real
format without shipping or downloading the file.
"""
import gzip
import io
import pickle
import struct

import numpy as np

__all__ = ["Py2Pickler", "py2_dumps", "write_nielsen_pickle"]

_RECONSTRUCT = np.empty(0).__reduce__()[0]


class Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote it."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if isinstance(obj, str):
            obj = obj.encode("latin-1")
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            return (_RECONSTRUCT, (np.ndarray, (0,), b"b"),
                    (1, obj.shape, obj.dtype, False, obj.tobytes()))
        if isinstance(obj, np.dtype):
            return (np.dtype, (obj.str[1:], 0, 1),
                    (3, obj.str[0], None, None, None, -1, -1, 0))
        return NotImplemented

    GLOBALS = {id(_RECONSTRUCT): b"numpy.core.multiarray\n_reconstruct\n",
               id(np.ndarray): b"numpy\nndarray\n", id(np.dtype): b"numpy\ndtype\n"}

    def save_global(self, obj, name=None):
        if id(obj) not in self.GLOBALS:
            raise pickle.PicklingError(f"unexpected global {obj!r}")
        self.write(pickle.GLOBAL + self.GLOBALS[id(obj)])
        self.memoize(obj)


def py2_dumps(obj):
    """``obj`` pickled as Python 2's cPickle would (protocol 2)."""
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def write_nielsen_pickle(path, splits, level=6):
    """Write ``splits`` -- ``((x, y), (x, y), (x, y))`` as ``load_data``
    returns them -- to ``path`` in the format of Nielsen's ``mnist.pkl.gz``
    (his images are float32, his labels int64).  Returns ``path``."""
    data = tuple((np.ascontiguousarray(x, dtype=np.float32),
                  np.ascontiguousarray(y, dtype=np.int64)) for x, y in splits)
    with gzip.open(path, "wb", compresslevel=level) as f:
        f.write(py2_dumps(data))
    return path
