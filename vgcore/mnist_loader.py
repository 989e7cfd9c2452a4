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

Errors (defined in :mod:`vgcore.errors`, importable from here too)
------------------------------------------------------------------
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

Where the code is
-----------------
This module is the public face; the work is done in :mod:`vgcore.data`:
``locate`` (the search order), ``idx`` (the IDX reader), ``safe_pickle``
(the restricted unpickler), ``download`` (pooch, mirrors, checksums),
``sample`` (the embedded sample), ``load`` (these functions and the
cache) and ``cli`` (``python -m vgcore.mnist_loader {info,download,build-sample}``,
also ``vgcore mnist``).
"""

import sys

# the names of the loader, re-exported from where they live
from .data.cli import main as _main
from .data.download import CHECKSUMS, MIRRORS, download_mnist
from .data.idx import N_OFFICIAL_TRAIN, N_TEST, N_TRAINING, N_VALIDATION, PIXELS  # noqa: F401
from .data.load import (clear_cache as _cache_clear, load_data, load_data_auto,  # noqa: F401
                        load_data_wrapper, load_sample, vectorized_result)
from .data.locate import MNISTSource, cache_dir, find_data
from .data.sample import SAMPLE_PATH, SAMPLE_SIZES  # noqa: F401
from .errors import (MNISTChecksumError, MNISTDownloadError, MNISTFormatError,
                     MNISTNotFoundError, UnsafePickleError)

__all__ = [
    "load_data", "load_data_wrapper", "vectorized_result", "load_sample",
    "load_data_auto", "find_data", "download_mnist", "cache_dir",
    "MNISTSource", "MNISTFormatError", "MNISTChecksumError",
    "UnsafePickleError", "MNISTNotFoundError", "MNISTDownloadError",
    "MIRRORS", "CHECKSUMS",
]

if __name__ == "__main__":
    sys.exit(_main())
