"""A per-network readers/writer lock (see "Threads" in :mod:`vgcore.network2`).

:func:`network_lock` gives a network its lock, created on first use and
kept out of ``copy.deepcopy`` and ``pickle`` by ``Network.__getstate__``.

Invariants of :class:`NetworkLock`:

- many readers, or one writer (re-entrant for its own thread), never both
  (except that the writing thread may also read);
- fair to writers: once a writer waits, no NEW reader gets in (a thread
  that already reads may read again, or it would wait for itself), so a
  stream of readers cannot hold training off;
- fair to readers: when a writer leaves, the readers that were waiting
  then go in before the next writer, so a stream of writers cannot hold
  them off either;
- a thread that reads may not start writing (it would wait for itself):
  ``RuntimeError``;
- ``quiet`` is None while a writer holds the lock or waits for it, and
  changes whenever a writer comes or goes: ``Network.feedforward`` of one
  column reads without the lock when it is not None, in compiled code
  that holds the GIL, and keeps the answer only if ``quiet`` is the same
  afterwards (else it reads again under ``reading``).
"""
import sys
import threading

#: The attribute of a network that holds its lock.
LOCK_ATTRIBUTE = "_vgcore_lock"

_LOCK_CREATION = threading.Lock()

#: Whether this interpreter has a GIL (free-threaded builds may not): the
#: optimistic read of ``quiet`` relies on it, so without one ``quiet`` is
#: always None and every reader takes the lock.
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
_get_ident = threading.get_ident


def network_lock(net):
    """The :class:`NetworkLock` of ``net``, created on first use."""
    lock = net.__dict__.get(LOCK_ATTRIBUTE)
    if lock is None:
        with _LOCK_CREATION:
            lock = net.__dict__.setdefault(LOCK_ATTRIBUTE, NetworkLock())
    return lock


class NetworkLock:
    """Many readers or one writer; writers are not starved by readers.

    ``with lock.reading:`` and ``with lock.writing(what):``.  A thread that
    holds the write lock may read and write again (a cost class of your
    own may call ``net.feedforward`` during training).  A thread that is
    reading may not start writing: that raises ``RuntimeError``.
    """

    def __init__(self):
        self._mutex = threading.Lock()
        self._changed = threading.Condition(self._mutex)
        self._writer = None          # ident of the writing thread
        self._depth = 0              # its re-entry depth
        self._readers = {}           # ident -> read depth, of reading threads
        self._waiting_writers = 0
        self._waiting_readers = 0
        self._readers_turn = False   # a writer left while readers waited
        # For optimistic reads without the lock: ``quiet`` is None while a
        # writer holds the lock or waits for it, else a number that changes
        # whenever a writer comes or goes.  A reader that sees the same
        # number before and after reading (and that cannot be interrupted
        # by another Python thread while it reads the arrays: compiled code
        # holding the GIL) has read a network that no writer touched; else
        # it reads again under ``reading``.
        self._version = 0
        self.quiet = 0 if _GIL else None
        self.reading = self          # ``with lock.reading:``

    def _writers_changed(self):
        """Update ``quiet`` (called with the mutex held)."""
        self._version += 1
        self.quiet = (self._version if _GIL and self._writer is None
                      and not self._waiting_writers else None)

    def acquire_read(self):
        me = _get_ident()
        with self._mutex:
            depth = self._readers.get(me)
            if depth is not None:            # already reading: never wait
                self._readers[me] = depth + 1
                return
            if self._writer is None and not self._waiting_writers or self._writer == me:
                self._readers[me] = 1        # the common case: nobody writes
                return
            self._waiting_readers += 1
            try:
                while self._writer is not None or (self._waiting_writers
                                                   and not self._readers_turn):
                    self._changed.wait()
            finally:
                self._waiting_readers -= 1
                if not self._waiting_readers:
                    self._readers_turn = False
            self._readers[me] = 1

    def release_read(self):
        me = _get_ident()
        with self._mutex:
            depth = self._readers[me] - 1
            if depth:
                self._readers[me] = depth
                return
            del self._readers[me]
            if not self._readers and self._waiting_writers:
                self._changed.notify_all()

    __enter__ = acquire_read

    def __exit__(self, *exc):
        self.release_read()

    def acquire_write(self, what):
        me = _get_ident()
        with self._mutex:
            if self._writer == me:
                self._depth += 1
                return
            if me in self._readers:
                raise RuntimeError(f"{what} was called while this thread is evaluating "
                                   f"the same network (from inside a cost's fn or "
                                   f"delta?); it would wait for itself")
            self._waiting_writers += 1
            self._writers_changed()
            try:
                while (self._writer is not None or self._readers
                       or (self._readers_turn and self._waiting_readers)):
                    self._changed.wait()
            except BaseException:
                self._waiting_writers -= 1
                self._writers_changed()
                raise
            self._waiting_writers -= 1
            self._writer, self._depth = me, 1
            self._writers_changed()

    def release_write(self):
        with self._mutex:
            self._depth -= 1
            if self._depth == 0:
                self._writer = None
                self._writers_changed()
                self._readers_turn = self._waiting_readers > 0
                self._changed.notify_all()

    def writing(self, what):
        return _Writing(self, what)


class _Writing:
    __slots__ = ("lock", "what")

    def __init__(self, lock, what):
        self.lock, self.what = lock, what

    def __enter__(self):
        self.lock.acquire_write(self.what)

    def __exit__(self, *exc):
        self.lock.release_write()
