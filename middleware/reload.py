"""Optional reloading of the bindings file while the application runs, off the request path.

A request checks the clock; at most once per interval one request (the others never wait) stats the
file. When its modification time, size or inode differ from the last version handled, that request
wakes the reloader's thread and goes on: no request ever reads, parses or waits for the file.

The thread (a daemon, one per :class:`Reloader`, started by the first poll that finds a change, so a
forking server such as gunicorn gets one per worker; a fork resets it) installs a file only once it
has *settled*, because a save that is not atomic (an editor writing in place, ``cat > file``) shows
a half-written file for a moment, and a half file is often valid YAML that binds fewer hosts:

1. stat and checksum the file, wait :attr:`Reloader.settle` seconds, stat and checksum it again: the
   same (mtime, size, inode) and the same content, else it is still being written and the next poll
   tries again;
2. load it (:func:`osscname.load_bindings`), then stat and checksum it once more: if it changed
   while loading, nothing is installed and the next poll loads the newer version.

A file rewritten again and again with pauses shorter than ``settle`` is loaded once the writes pause.

Whatever goes wrong, the last good bindings keep serving and the ``osscname.middleware`` logger says
why: a :class:`BindingError` with its ``FILE:LINE:COL`` lines (the first :data:`MAX_LOGGED` of
them), any other exception the loader raises with its traceback, a file over :data:`MAX_BYTES`, a
private binding whose credentials are missing (the :class:`~osscname.credentials.CredentialsError`
naming the variable). Such
a version is not retried until the file changes again (touching it is enough).

Loading cannot be interrupted, so its time budget (:data:`LOAD_BUDGET`) is a warning, not a limit: a
pathological file (one that takes minutes to load or never finishes) is logged once the budget has
passed, the last good bindings keep serving, requests never wait for it, and a newer version is
looked at when that load returns. The load shares the interpreter lock with requests, so it slows
them somewhat but never stops them; the memory it takes is the loader's to bound.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from osscname.credentials import CredentialsError
from osscname.loader import BindingError, load_bindings
from osscname.model import BindingSet

__all__ = ["Reloader", "MAX_BYTES", "LOAD_BUDGET", "MAX_LOGGED"]

log = logging.getLogger("osscname.middleware")

#: Largest bindings file reloaded: about 900k bindings, well past what the loader handles in seconds.
MAX_BYTES = 64 << 20
#: Seconds a load may take before it is logged as stuck (100k bindings load in about 1.2 s).
LOAD_BUDGET = 30.0
#: Problem lines logged per rejected file; ``osscname validate FILE`` prints them all.
MAX_LOGGED = 100
#: Longest problem line logged; a message quoting a huge value is cut here.
_MAX_LINE = 1000
#: How often an idle thread checks whether its Reloader still exists (it exits when it does not).
_IDLE_CHECK = 10.0

_Stamp = tuple[int, int, int]


def _stamp(path: str) -> _Stamp | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def _digest(path: str) -> bytes | None:
    """Checksum of the file's content (at most ``MAX_BYTES + 1`` bytes read), or None if unreadable."""
    digest = hashlib.blake2b(digest_size=16)
    left = MAX_BYTES + 1
    try:
        with open(path, "rb") as handle:
            while left > 0:
                chunk = handle.read(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
    except OSError:
        return None
    return digest.digest()


def _version(path: str) -> tuple[_Stamp, bytes] | None:
    """(stamp, checksum) of the file as it is now, or None when it is missing or unreadable."""
    stamp = _stamp(path)
    digest = None if stamp is None else _digest(path)
    return None if stamp is None or digest is None else (stamp, digest)


def _short(line: str) -> str:
    return line if len(line) <= _MAX_LINE else f"{line[:_MAX_LINE]}... ({len(line)} characters)"


class Reloader:
    """Calls ``install(bindings)`` when ``path`` changed to a valid file; checks every ``interval`` s.

    ``install`` runs on the reloader's thread, so it must only swap what requests read in one
    assignment (as the middleware does)."""

    #: Seconds between the two looks that decide a file is no longer being written.
    settle = 0.05

    def __init__(self, path: str, interval: float, install: Callable[[BindingSet], None]):
        self.path = path
        self.interval = interval
        self._install = install
        #: The stamp of the last version handled (installed, or rejected and logged): polls wake the
        #: thread while the file's stamp differs from it. Written by the thread only.
        self._handled = _stamp(path)
        self._next = time.monotonic() + interval
        self._fresh_state()
        _instances.add(self)

    def _fresh_state(self) -> None:
        """The per-process parts: a fork copies none of them in a usable state."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        #: ``time.monotonic()`` when the load in progress started, or None; and whether it was logged as stuck.
        self._loading_since: float | None = None
        self._stuck_logged = False

    def due(self) -> bool:
        """Whether the interval has passed, so that :meth:`poll` would stat the file: a clock read, for a
        caller that hands the poll to another thread (the ASGI middleware keeps it off the event loop)."""
        return time.monotonic() >= self._next

    def poll(self) -> None:
        """On every request: cheap unless the interval has passed; never blocks."""
        if time.monotonic() < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            now = time.monotonic()
            self._next = now + self.interval
            since = self._loading_since
            if since is not None and now - since > LOAD_BUDGET and not self._stuck_logged:
                self._stuck_logged = True
                log.warning("%s: loading has taken over %g s; the last good bindings keep serving, newer versions are looked at once it returns", self.path, LOAD_BUDGET)
            stamp = _stamp(self.path)
            if stamp is None or stamp == self._handled:
                return  # unchanged, or missing for a moment (an editor replacing it): look again later
            if self._thread is None:
                self._thread = threading.Thread(target=_serve, args=(weakref.ref(self), self._wake), name=f"osscname-reload {self.path}", daemon=True)
                self._thread.start()
            self._wake.set()
        finally:
            self._lock.release()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no check is pending or running (tests, or a deploy script that wants the new
        file served before it goes on); False if that did not happen within ``timeout`` seconds."""
        waited = 0.0  # counted in sleeps rather than read from a clock that a test may have frozen
        while self._wake.is_set() or self._busy:
            if waited >= timeout:
                return False
            time.sleep(0.005)
            waited += 0.005
        return True

    def _check(self) -> None:
        """One look at the file, on the thread: install it, reject it, or leave it for the next poll."""
        first = _version(self.path)
        if first is None or first[0] == self._handled:
            return
        stamp = first[0]
        if stamp[1] > MAX_BYTES:
            self._handled = stamp
            log.error("%s: not reloaded, %d bytes is over the %d-byte limit; the last good bindings keep serving", self.path, stamp[1], MAX_BYTES)
            return
        time.sleep(self.settle)
        if _version(self.path) != first:
            log.debug("%s: still being written; looking again on the next poll", self.path)
            return
        started = self._loading_since = time.monotonic()
        self._stuck_logged = False
        bindings: BindingSet | None = None
        failure: Exception | None = None
        try:
            bindings = load_bindings(self.path)
        except Exception as error:  # a bug in the loader must not take the site down either
            failure = error
        self._loading_since = None
        elapsed = time.monotonic() - started
        if _version(self.path) != first:
            log.info("%s: changed while it was loaded; loading the newer version on the next poll", self.path)
            return
        self._handled = stamp
        if isinstance(failure, BindingError):
            problems = failure.lines()
            log.error("%s: not reloaded, %d problem(s); the last good bindings keep serving", self.path, len(failure.problems))
            for line in problems[:MAX_LOGGED]:
                log.error("%s", _short(line))
            if len(problems) > MAX_LOGGED:
                log.error("%s: ... %d more (osscname validate %s lists them all)", self.path, len(problems) - MAX_LOGGED, self.path)
        elif failure is not None:
            log.error("%s: not reloaded, the loader failed with %s: %s; the last good bindings keep serving",
                      self.path, type(failure).__name__, _short(str(failure)), exc_info=failure)  # fmt: skip
        elif bindings is not None:
            try:
                self._install(bindings)
            except CredentialsError as error:  # a private binding whose credentials are missing: named, never shown
                log.error("%s: not reloaded: %s; the last good bindings keep serving", self.path, error)
                return
            log.info("%s: reloaded, %d bindings in %.2f s", self.path, len(bindings), elapsed)


def _serve(ref: weakref.ref[Reloader], wake: threading.Event) -> None:
    """The reloader's thread: one check per wake-up; exits once its Reloader is gone.

    It holds the Reloader weakly, so a middleware that is dropped (tests make many) takes its
    thread with it instead of keeping both alive forever."""
    while True:
        woken = wake.wait(_IDLE_CHECK)
        reloader = ref()
        if reloader is None:
            return
        if woken:
            reloader._busy = True
            wake.clear()
            try:
                reloader._check()
            except Exception:
                log.exception("%s: reload check failed; the last good bindings keep serving", reloader.path)
            finally:
                reloader._busy = False
        del reloader


_instances: weakref.WeakSet[Reloader] = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked worker, no reloader thread runs and a lock may have been copied held: start afresh."""
    for reloader in list(_instances):
        reloader._fresh_state()


os.register_at_fork(after_in_child=_after_fork)
