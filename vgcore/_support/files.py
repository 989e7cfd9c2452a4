"""Network files: saving atomically, and reading network2's JSON strictly.

Used by ``Network.save`` and ``load`` in :mod:`vgcore.network2`, and by
:mod:`vgcore.diagnostics` and :mod:`vgcore.chapter5` for their JSON and
report files.
"""
import contextlib
import errno
import os

import numpy as np

from ..errors import NetworkFileError
from ..core.reference import BUILTIN_COSTS
from ..core._checks import check_sizes


# ----------------------------------------------------------------------
# Writing atomically
# ----------------------------------------------------------------------

def atomic_write(path, write, what="the network"):
    """Replace the file ``path`` atomically by what ``write(f)`` writes to ``f``.

    ``f`` is a text file (UTF-8).  The content goes to an unnamed temporary
    file in the same directory (Linux ``O_TMPFILE``; a named
    ``.vgcore-*.json.tmp`` elsewhere), which is flushed to disk and then
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
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".vgcore-", suffix=".json.tmp")
            if mode is None:
                mode = 0o666 & ~umask()
        with os.fdopen(fd, "w", encoding="utf-8") as f:
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
            name = os.path.join(directory, f".vgcore-{os.urandom(6).hex()}.json.tmp")
            try:
                os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
                return name
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name", directory)
    finally:
        os.close(proc)


# ----------------------------------------------------------------------
# Reading a network file
# ----------------------------------------------------------------------

def read_network(path, filename):
    """``(sizes, cost, weights, biases)`` from the network2 JSON file ``path``.

    The whole file is checked; anything wrong raises
    :class:`~vgcore.errors.NetworkFileError` naming ``filename`` (as the
    caller gave it).  A missing or unreadable file raises ``OSError``.
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        import json
        data = json.loads(raw, parse_constant=reject_constant)
    except RecursionError:
        raise NetworkFileError(filename, "not a network2 JSON file (nested too "
                                         "deeply)") from None
    except ValueError as e:        # JSONDecodeError, UnicodeDecodeError, our NaN check
        raise NetworkFileError(filename, f"not a network2 JSON file ({e})") from None
    if not isinstance(data, dict):
        raise NetworkFileError(filename, f"expected a JSON object, got {type(data).__name__}")
    missing = {"sizes", "weights", "biases", "cost"} - set(data)
    if missing:
        raise NetworkFileError(filename, f"missing keys {sorted(missing)}")
    cost = BUILTIN_COSTS.get(data["cost"]) if isinstance(data["cost"], str) else None
    if cost is None:
        shown = repr(data["cost"])
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise NetworkFileError(filename, f"unknown cost {shown}; expected one of "
                                         f"{sorted(BUILTIN_COSTS)}")
    try:
        sizes = check_sizes(data["sizes"])
    except (TypeError, ValueError) as e:
        raise NetworkFileError(filename, f"bad sizes: {e}") from None
    try:
        L = len(sizes) - 1
        weights = json_matrices(data["weights"], "weights",
                                [(sizes[l + 1], sizes[l]) for l in range(L)])
        biases = json_matrices(data["biases"], "biases", [(sizes[l + 1], 1) for l in range(L)])
    except (TypeError, ValueError) as e:
        raise NetworkFileError(filename, f"bad parameters: {e}") from None
    return sizes, cost, weights, biases


def reject_constant(name):
    """``json.loads``'s hook for ``NaN``, ``Infinity`` and ``-Infinity``: refuse them."""
    raise ValueError(f"the literal {name} (parameters must be finite numbers)")


def json_matrices(value, name, shapes):
    """float64 arrays of ``shapes`` from JSON lists, checked strictly."""
    if type(value) is not list:
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices, got "
                         f"{type(value).__name__}")
    if len(value) != len(shapes):
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices (one per layer "
                         f"after the first, for sizes), got {len(value)}")
    out = []
    for l, (m, (rows, cols)) in enumerate(zip(value, shapes)):
        where = f"{name}[{l}]"
        if type(m) is not list or len(m) != rows:
            got = f"{len(m)} rows" if type(m) is list else type(m).__name__
            raise ValueError(f"{where} must have shape {(rows, cols)}: a list of {rows} rows, "
                             f"got {got}")
        for i, row in enumerate(m):
            if type(row) is not list or len(row) != cols:
                got = f"{len(row)} values" if type(row) is list else type(row).__name__
                raise ValueError(f"{where} must have shape {(rows, cols)}: row {i} must be "
                                 f"a list of {cols} numbers, got {got}")
        flat = [v for row in m for v in row]
        kinds = set(map(type, flat))
        if not kinds <= {int, float}:
            bad = sorted(k.__name__ for k in kinds - {int, float})
            raise ValueError(f"{where} must hold numbers only, found {', '.join(bad)}")
        try:
            a = np.array(flat, dtype=np.float64)
        except OverflowError:
            raise ValueError(f"{where} holds an integer too large for float64") from None
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where} holds a number too large for float64 (it reads "
                             f"as infinity)")
        out.append(a.reshape(rows, cols))
    return out
