"""A per-network readers/writer lock (see "Threads" in :mod:`vgcore.network2`).

:func:`network_lock` gives a network its lock, created on first use and
kept out of ``copy.deepcopy`` and ``pickle`` by ``Network.__getstate__``.
"""
import threading

#: The attribute of a network that holds its lock.
LOCK_ATTRIBUTE = "_vgcore_lock"

_LOCK_CREATION = threading.Lock()


def network_lock(net):
    """The :class:`NetworkLock` of ``net``, created on first use."""
    lock = net.__dict__.get(LOCK_ATTRIBUTE)
    if lock is None:
        with _LOCK_CREATION:
            lock = net.__dict__.setdefault(LOCK_ATTRIBUTE, NetworkLock())
    return lock


class NetworkLock:
    """Many readers or one writer; re-entrant for the writing thread.

    A thread that holds the write lock may read and write again (a cost
    class of your own may call ``net.feedforward`` during training).  A
    thread that is reading may not start writing (it would wait for
    itself): that raises ``RuntimeError``.  ``with lock.reading:`` and
    ``with lock.writing(what):``.
    """

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._writer = None
        self._depth = 0
        self._readers = {}
        self.reading = _Reading(self)

    def acquire_read(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                while self._writer is not None:
                    self._cond.wait()
            self._readers[me] = self._readers.get(me, 0) + 1

    def release_read(self):
        me = threading.get_ident()
        with self._cond:
            k = self._readers[me] - 1
            if k:
                self._readers[me] = k
            else:
                del self._readers[me]
                self._cond.notify_all()

    def acquire_write(self, what):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
                return
            if me in self._readers:
                raise RuntimeError(f"{what} was called while this thread is evaluating "
                                   f"the same network (from inside a cost's fn or "
                                   f"delta?); it would wait for itself")
            while self._writer is not None or self._readers:
                self._cond.wait()
            self._writer, self._depth = me, 1

    def release_write(self):
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._writer = None
                self._cond.notify_all()

    def writing(self, what):
        return _Writing(self, what)


class _Reading:
    __slots__ = ("lock",)

    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        self.lock.acquire_read()

    def __exit__(self, *exc):
        self.lock.release_read()


class _Writing:
    __slots__ = ("lock", "what")

    def __init__(self, lock, what):
        self.lock, self.what = lock, what

    def __enter__(self):
        self.lock.acquire_write(self.what)

    def __exit__(self, *exc):
        self.lock.release_write()

