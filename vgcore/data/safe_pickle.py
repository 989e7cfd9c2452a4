"""Nielsen's ``mnist.pkl.gz``, read by a restricted unpickler.

The file is ``gzip(cPickle.dumps(((train_x, train_y), (val_x, val_y),
(test_x, test_y))))`` written by Python 2.  A pickle can run any code, so
it is read by an unpickler that admits exactly the globals pickled numpy
arrays use, mapped to checked stand-ins (:class:`_RestrictedUnpickler`):
a hostile file raises :class:`~vgcore.errors.UnsafePickleError` before
anything it names is created.  The stream is read through a
:class:`_LimitedReader`: at most ``_MAX_PICKLE_BYTES`` bytes in at most
``_MAX_PICKLE_OPS`` reads (Nielsen's file: ~220 MB in ~100), so a small
file of millions of tiny operations, or a gzip bomb, is refused after a
bounded amount of work and memory.  The result is checked as MNIST
(:func:`check_pickle_data`).
"""
import gzip
import io
import math
import pickle
import zlib

import numpy as np

from ..errors import MNISTFormatError, UnsafePickleError
from .idx import GZIP_MAGIC, N_TEST, N_TRAINING, N_VALIDATION, PIXELS, readonly

__all__ = ["read_pickle_file", "check_pickle_data", "PICKLE_NAME"]

PICKLE_NAME = "mnist.pkl.gz"
_MAX_PICKLE_BYTES = 512 * 1024 * 1024   # Nielsen's pickle is ~220 MB uncompressed
_MAX_PICKLE_OPS = 10_000                # Nielsen's pickle has under 100 opcodes

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


def read_pickle_file(path):
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
            compressed = raw.read(2) == GZIP_MAGIC
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
            raise type(err)(err.reason, path) from err
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
    return check_pickle_data(obj, path)


def check_pickle_data(obj, path):
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
        splits[name] = (readonly(images), readonly(labels.astype(np.int64)))
    for name, size in zip(names, sizes):   # sizes last: the messages above say more
        if len(splits[name][0]) != size:
            raise MNISTFormatError(
                f"{name} data has {len(splits[name][0]):,} images, MNIST's has {size:,}",
                path)
    return splits

