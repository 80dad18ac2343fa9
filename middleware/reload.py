"""Optional reloading of the bindings file while the application runs.

A request checks the clock; at most once per interval one request (the others never wait) stats the
file. When its modification time, size or inode changed, the file is loaded on that request's thread
and, if valid, installed. A broken file is logged with every ``FILE:LINE:COL`` problem and the last
good bindings keep serving, so saving a half-edited file never takes a site down.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from osscname.loader import BindingError, load_bindings
from osscname.model import BindingSet

__all__ = ["Reloader"]

log = logging.getLogger("osscname.middleware")


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class Reloader:
    """Calls ``install(bindings)`` when ``path`` changed to a valid file; checks every ``interval`` s."""

    def __init__(self, path: str, interval: float, install: Callable[[BindingSet], None]):
        self.path = path
        self.interval = interval
        self._install = install
        self._stamp = _stamp(path)
        self._next = time.monotonic() + interval
        self._lock = threading.Lock()

    def poll(self) -> None:
        if time.monotonic() < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            self._next = time.monotonic() + self.interval
            stamp = _stamp(self.path)
            if stamp is None or stamp == self._stamp:
                return  # unchanged, or missing for a moment (an editor replacing it): look again later
            self._stamp = stamp
            self._load()
        finally:
            self._lock.release()

    def _load(self) -> None:
        try:
            bindings = load_bindings(self.path)
        except BindingError as error:
            log.error("%s: not reloaded, %d problem(s); the last good bindings keep serving", self.path, len(error.problems))
            for line in error.lines():
                log.error("%s", line)
            return
        self._install(bindings)
        log.info("%s: reloaded, %d bindings", self.path, len(bindings))
