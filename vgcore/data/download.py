"""Downloading the official MNIST files, checked, with pooch.

`pooch <https://www.fatiando.org/pooch>`_ fetches each file into a
temporary file and keeps it only if its MD5 matches; it is imported here
only when a download is needed (never by ``import vgcore.mnist_loader``,
and never when the data is found or downloads are switched off).  What
vgcore adds around it: the mirrors tried in turn, a cap on the bytes a
mirror may send (a file's official size), and all-or-nothing: the files
go to a staging folder inside the destination and are moved into place
only once every missing file has been fetched and checked, so a failed
download leaves nothing behind, not even the folder it created.
"""
import contextlib
import os
import shutil
import sys

from ..errors import MNISTChecksumError, MNISTDownloadError

__all__ = ["MIRRORS", "CHECKSUMS", "download_mnist", "mirror_list"]

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


def mirror_list(mirrors=None):
    """The base URLs to try: ``mirrors`` (a URL or a list), else
    ``$VGCORE_MNIST_MIRROR``, else :data:`MIRRORS`; each ending in ``/``."""
    if mirrors is None:
        env = os.environ.get("VGCORE_MNIST_MIRROR", "").replace(",", " ").split()
        mirrors = env if env else MIRRORS
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _checksum_table(checksums):
    """name -> (md5, size or None): a bare md5 string skips the size check."""
    return {name: (value.lower(), None) if isinstance(value, str)
            else (value[0].lower(), value[1]) for name, value in checksums.items()}


def download_mnist(dest=None, *, mirrors=None, checksums=None, timeout=30.0, quiet=False):
    """Download the official MNIST IDX files into the folder ``dest``
    (default: ``cache_dir()/mnist``) and return that folder.

    Each missing file is tried from each mirror in turn (``mirrors``,
    default ``$VGCORE_MNIST_MIRROR`` or ``MIRRORS``) and kept only if its
    size and MD5 match ``checksums`` (default ``CHECKSUMS``: file name ->
    ``(md5, size)``; a bare md5 string skips the size check).  Only when
    every missing file has been fetched and checked are they moved into
    place, each with an atomic ``os.replace``: after a failure nothing new
    is left in ``dest``, not even a temporary file.  Files already present
    are not fetched again.

    Raises ``MNISTChecksumError`` if a mirror served a wrong file and no
    mirror served the right one, ``MNISTDownloadError`` if no mirror
    could be reached.
    """
    from .locate import mnist_cache_dir

    dest = os.path.abspath(os.fspath(dest) if dest is not None else mnist_cache_dir())
    table = _checksum_table(CHECKSUMS if checksums is None else checksums)
    urls = mirror_list(mirrors)
    missing = [n for n in table if not os.path.isfile(os.path.join(dest, n))]
    if not missing:
        return dest
    created = not os.path.isdir(dest)
    os.makedirs(dest, exist_ok=True)
    import tempfile
    staging = tempfile.mkdtemp(dir=dest, prefix=".download-")
    try:
        for name in missing:
            _fetch(name, *table[name], urls, staging, timeout, quiet)
        for name in missing:
            os.chmod(os.path.join(staging, name), 0o644)   # public data
            os.replace(os.path.join(staging, name), os.path.join(dest, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(dest)    # only succeeds if nothing was kept
    return dest


def _fetch(name, md5, size, urls, folder, timeout, quiet):
    """Fetch ``name`` from the first mirror that serves it right, into ``folder``."""
    import pooch          # here: only when a download is needed

    failures, bad = [], []
    for base in urls:
        url = base + name
        if not quiet:
            print(f"vgcore: downloading {url}", file=sys.stderr)
        try:
            with _pooch_quiet(pooch):
                pooch.retrieve(url, known_hash=f"md5:{md5}", fname=name, path=folder,
                               downloader=_Capped(size, timeout), progressbar=False)
            return
        except MNISTChecksumError as err:        # more bytes than the file's size
            bad.append(str(err))
        except OSError as err:                   # requests' errors are OSErrors
            failures.append(f"{url}: {err}")
        except ValueError as err:                # pooch: the MD5 does not match
            expected = f"{size:,} bytes with MD5 {md5}" if size is not None else f"MD5 {md5}"
            bad.append(f"{url}: expected {expected}; {err}")
        except Exception as err:                 # anything else a mirror can cause
            failures.append(f"{url}: {type(err).__name__}: {err}")
    if bad:
        raise MNISTChecksumError("download failed verification, nothing was kept: "
                                 + "; ".join(bad + failures), name)
    raise MNISTDownloadError(f"could not download {name} from any mirror:\n"
                             + ("\n".join(failures) if failures else "(no mirrors configured)"))


@contextlib.contextmanager
def _pooch_quiet(pooch):
    """pooch logs every download at INFO level to stderr: vgcore says it itself."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


class _Capped:
    """A pooch downloader: pooch's ``HTTPDownloader``, refusing more than
    ``size`` bytes as they arrive (a mirror cannot fill the disk)."""

    def __init__(self, size, timeout):
        self.size, self.timeout = size, timeout

    def __call__(self, url, output_file, pooch_instance):
        import pooch

        get = pooch.HTTPDownloader(progressbar=False, timeout=self.timeout,
                                   chunk_size=1 << 16)
        with open(output_file, "w+b") as f:
            get(url, _CappedFile(f, self.size, url), pooch_instance)


class _CappedFile:
    """A file that raises ``MNISTChecksumError`` past ``size`` bytes (None: no cap)."""

    def __init__(self, f, size, url):
        self.f, self.size, self.url, self.written = f, size, url, 0

    def write(self, chunk):
        self.written += len(chunk)
        if self.size is not None and self.written > self.size:
            raise MNISTChecksumError(f"{self.url} sends more than the expected "
                                     f"{self.size:,} bytes", os.path.basename(self.url))
        return self.f.write(chunk)

    def flush(self):
        self.f.flush()
