"""Where the MNIST data is: :func:`find_data` and its search order.

The order -- ``$VGCORE_MNIST``, Nielsen's ``../data/mnist.pkl.gz`` and the
ports' places, the cache folder ``cache_dir()/mnist``, a download -- is
documented once, for users, in :mod:`vgcore.mnist_loader` ("Where the
data comes from"); each step is one function here.  Nothing is read:
:func:`find_data` returns an :class:`MNISTSource`.
"""
import os
from dataclasses import dataclass, field

from ..errors import MNISTDownloadError, MNISTNotFoundError
from . import download as _download
from . import idx
from .safe_pickle import PICKLE_NAME
from .sample import SAMPLE_PATH, SAMPLE_SIZES

__all__ = ["MNISTSource", "cache_dir", "mnist_cache_dir", "find_data", "sample_source"]


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


def mnist_cache_dir():
    """``cache_dir()/mnist``: where downloads go."""
    return os.path.join(cache_dir(), "mnist")


def downloads_allowed(download):
    """``download`` if given, else whether ``$VGCORE_NO_DOWNLOAD`` leaves them on."""
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
        return sample_source()
    if path is not None:
        return _source_at(path, "path argument")
    env = os.environ.get("VGCORE_MNIST")
    if env:
        return _source_at(env, "$VGCORE_MNIST")
    searched = ["$VGCORE_MNIST: not set"]
    source = _nielsen_layout(searched) or _cache_folder(searched, download)
    if source is None:
        raise MNISTNotFoundError(_not_found_message(searched, mnist_cache_dir()), searched)
    return source


def _nielsen_layout(searched):
    """``mnist.pkl.gz`` where Nielsen's scripts and the ports open it, or None."""
    for rel, layout in ((os.path.join("..", "data", PICKLE_NAME), "Nielsen's layout"),
                        (os.path.join("data", PICKLE_NAME), "Nielsen's layout"),
                        (PICKLE_NAME, "the current folder, as the Python 3 ports")):
        candidate = os.path.abspath(rel)
        if os.path.isfile(candidate):
            return _pickle_source(candidate, f"{rel} ({layout})")
        searched.append(f"{candidate}: not found")
    return None


def _cache_folder(searched, download):
    """The data in the cache folder, downloaded there if allowed; or None."""
    cache = mnist_cache_dir()
    files, missing = idx.files_in(cache)
    if not missing:
        return _idx_source(cache, files, "cache folder")
    if os.path.isfile(os.path.join(cache, PICKLE_NAME)):
        return _pickle_source(os.path.join(cache, PICKLE_NAME), "cache folder")
    searched.append(f"cache folder {cache}: missing {', '.join(missing)}"
                    if os.path.isdir(cache) else f"cache folder {cache}: does not exist")
    if not downloads_allowed(download):
        why = "download=False" if download is not None else "VGCORE_NO_DOWNLOAD is set"
        searched.append(f"download: switched off ({why})")
        return None
    try:
        _download.download_mnist(cache)
    except MNISTDownloadError as err:
        searched.append(f"download into {cache}: failed\n      "
                        + str(err).replace("\n", "\n      "))
        return None
    files, missing = idx.files_in(cache)
    if not missing:
        return _idx_source(cache, files, "downloaded into the cache folder")
    searched.append(f"download into {cache}: files still missing: {', '.join(missing)}")
    return None


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


def _source_at(path, origin):
    """The source at an explicitly given path (folder or pickle file)."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isdir(path):
        files, missing = idx.files_in(path)
        if not missing:
            return _idx_source(path, files, origin)
        pkl = os.path.join(path, PICKLE_NAME)
        if os.path.isfile(pkl):
            return _pickle_source(pkl, origin)
        what = (f"{origin} {path}: folder lacks {', '.join(missing)}"
                if files else
                f"{origin} {path}: folder holds neither the four IDX files nor {PICKLE_NAME}")
        raise MNISTNotFoundError(_not_found_message([what], mnist_cache_dir()), [what])
    if os.path.isfile(path):
        return _pickle_source(path, origin)
    what = f"{origin} {path}: does not exist"
    raise MNISTNotFoundError(_not_found_message([what], mnist_cache_dir()), [what])


def _idx_source(folder, files, origin):
    return MNISTSource("idx", folder, f"full MNIST: the official IDX files in {folder} ({origin})",
                       True, files, origin)


def _pickle_source(path, origin):
    return MNISTSource("pickle", path, f"full MNIST: Nielsen's pickle {path} ({origin})",
                       True, {}, origin)


def sample_source():
    """The embedded sample as an :class:`MNISTSource`."""
    n = SAMPLE_SIZES
    return MNISTSource(
        "sample", SAMPLE_PATH,
        f"the MNIST sample embedded in vgcore ({n['training']:,} training / "
        f"{n['validation']:,} validation / {n['test']:,} test images), "
        f"NOT the full data set", False, {}, "sample")
