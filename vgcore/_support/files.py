"""Writing files atomically: the one helper every writer of vgcore uses.

``Network.save`` (:mod:`vgcore.network2`), the results of ``vgcore
chapter5``, the embedded sample's ``.npz`` and ``vgcore bench --json`` all go
through :func:`atomic_write`: the content goes to a temporary file in the
target's folder, is flushed to disk, and only then takes the target's name
(``os.replace``), so a write that fails or is killed never leaves a
half-written file behind.
"""
import contextlib
import errno
import os


def atomic_write(path, write, what="the network", binary=False):
    """Replace the file ``path`` atomically by what ``write(f)`` writes to ``f``.

    ``f`` is a text file (UTF-8), or a binary one with ``binary=True``.  The
    content goes to an unnamed temporary file in the same directory (Linux
    ``O_TMPFILE``; a named ``.vgcore-*.tmp`` elsewhere), which is flushed to disk and then
    renamed over ``path``: a write that fails or is killed leaves the
    previous file intact and, on Linux, nothing else.  A symbolic link is
    followed, and an existing file keeps its permission bits.  ``what``
    names the thing saved in the error raised for a missing directory or a
    directory in the way.
    """
    target = os.path.realpath(path)     # write through a symbolic link, as open() does
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"cannot save {what}: the directory "
                                f"{directory!r} does not exist", path)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, f"cannot save {what}: it is a directory",
                                path)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd = open_unnamed(directory)
    tmp = None
    try:
        if fd is None:
            import tempfile      # here: only where O_TMPFILE is missing
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".vgcore-", suffix=".tmp")
            if mode is None:
                mode = 0o666 & ~umask()
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")) as f:
            write(f)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
            if tmp is None:
                tmp = link_unnamed(f.fileno(), directory)
        os.replace(tmp, target)
        tmp = None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):   # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def atomic_write_json(path, data, *, indent=None, end="", what="the network"):
    """Write ``data`` as JSON to ``path`` atomically (see :func:`atomic_write`).

    Non-finite floats are refused (``ValueError``: JSON has no NaN) and
    leave the previous file intact.  ``end`` is written after the JSON.
    """
    def write(f):
        import json              # here, not at import: vgcore.network2 stays light
        json.dump(data, f, indent=indent, allow_nan=False)
        f.write(end)
    atomic_write(path, write, what)


def atomic_write_text(path, text, *, what="the file"):
    """Write the string ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(text), what)


def umask():
    """The process's umask, read without changing it (022 if unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def open_unnamed(directory):
    """An O_TMPFILE descriptor in ``directory``, or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None      # filesystem or kernel without O_TMPFILE
        raise


def link_unnamed(fd, directory):
    """Give the O_TMPFILE ``fd`` a fresh name in ``directory``; return it."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(100):
            name = os.path.join(directory, f".vgcore-{os.urandom(6).hex()}.tmp")
            try:
                os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
                return name
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name", directory)
    finally:
        os.close(proc)
