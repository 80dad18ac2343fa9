"""Writing generated files (``-o``) and comparing them (``--check``): all of it, nothing half.

``-o PATH`` with one artifact replaces PATH atomically: the text goes to a temporary file in the
folder of the file it replaces, is fsynced, gets that file's mode and owner, and is renamed over it,
so a reader (nginx reloading, a second run) sees the old file or the new one, never a mix, and any
failure before the rename leaves the old file byte-identical.

* **Symbolic links are written through**, not replaced: ``sites-enabled/oss.conf ->
  ../sites-available/oss.conf`` gets its target updated (resolved with :func:`os.path.realpath`, the
  temporary file made in the target's folder) and stays a link. A dangling link is written the way a
  shell's ``>`` would: the file it names is created (its folder must exist). A link loop is refused
  (``ELOOP``).
* **Mode and owner are kept**: the new file gets the old one's permission bits, and its uid/gid when
  the process may set them (root; a user may set a group it belongs to); without that right
  (``EPERM``) the file is owned by whoever runs the command, as any rewrite would leave it. A new
  file gets mode 0644. Extended attributes (ACLs, SELinux labels) are not copied, and a file with
  several hard links is replaced under this name only, as every rename-based writer does.

``-o DIR`` with one file per key (``generate-dns``) replaces the set or nothing. Every file is first
written to its temporary file and fsynced; only when all of them succeeded are they renamed into
place, one right after the other; any failure before that (disk full, a read-only folder) removes
the temporaries and leaves every old file byte-identical. The renames are not atomic as a group: for
the few microseconds between the first and the last, a reader can see some files new and others
old. A rename that fails midway (rare: the folder was just written to) is rolled back: each file
already replaced is put back from a hard link to its old version taken beforehand (where the file
system has no hard links that file cannot be put back, and the error says which files are new).
Swapping a whole directory would be atomic, but it would break whatever points at DIR or keeps
other files in it, so this module never does that.
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
import sys
import tempfile
from typing import NamedTuple, Union
from collections.abc import Mapping

__all__ = ["write", "check"]

Output = Union[str, Mapping[str, str]]


class _Staged(NamedTuple):
    target: str  #: the real file to replace (links resolved)
    temporary: str  #: the new content, fsynced, with the target's mode and owner
    backup: str | None  #: a hard link to the target's old version, when one was taken


def write(path: str, output: Output) -> None:
    """Write one artifact to ``path``, or a ``{name: text}`` set into the folder ``path``.

    Raises :class:`OSError` (its ``strerror`` says which file and whether anything changed) after
    removing every temporary file; on any failure before the renames, nothing was changed."""
    if isinstance(output, str):
        _replace([(path, output)])
        return
    for name in output:
        if name in ("", ".", "..") or os.path.basename(name) != name:
            raise OSError(errno.EINVAL, f"refusing to write {name!r}: not a plain file name inside {path}")
    os.makedirs(path, exist_ok=True)
    _replace([(os.path.join(path, name), output[name]) for name in sorted(output)])


def _replace(files: list[tuple[str, str]]) -> None:
    """Stage every file, then rename them all; see the module docstring for the guarantees."""
    staged: list[_Staged] = []
    for path, text in files:
        try:
            staged.append(_stage(path, text, backup=len(files) > 1))
        except OSError as error:
            _discard(staged)
            where = f"{os.path.basename(path)}: " if len(files) > 1 else ""
            raise OSError(error.errno, f"{where}{error.strerror or error}; nothing was changed", error.filename) from error
    done: list[_Staged] = []
    try:
        for item in staged:
            os.replace(item.temporary, item.target)
            done.append(item)
    except OSError as error:
        lost = _roll_back(done)
        _discard(staged)
        failed = os.path.basename(staged[len(done)].target)
        state = f"{', '.join(lost)} could not be put back and are new" if lost else "every file was put back as it was"
        raise OSError(error.errno, f"{failed}: {error.strerror or error} while renaming into place; {state}", error.filename) from error
    for folder in sorted({os.path.dirname(item.target) for item in staged}):
        _sync_folder(folder)
    _discard(staged)


def _stage(path: str, text: str, backup: bool) -> _Staged:
    """The new content in a temporary file beside the real target, ready to be renamed over it."""
    target = os.path.realpath(path)
    if os.path.islink(target):  # realpath stops at a link it cannot resolve: a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise OSError(errno.EISDIR if stat.S_ISDIR(old.st_mode) else errno.EINVAL, "not a regular file", path)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".osscname-", suffix=".tmp")
    try:
        try:
            _fill(fd, text.encode("utf-8"))
            if old is None:
                os.fchmod(fd, 0o644)
            else:
                _keep_owner(fd, old)
                os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which may clear setuid/setgid bits
        finally:
            os.close(fd)
        kept = _link_backup(target, temporary) if backup and old is not None else None
    except BaseException:
        _unlink(temporary)
        raise
    return _Staged(target, temporary, kept)


def _fill(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` and fsync it: the rename must never expose unwritten bytes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _keep_owner(fd: int, old: os.stat_result) -> None:
    here = os.fstat(fd)
    if (here.st_uid, here.st_gid) == (old.st_uid, old.st_gid):
        return
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:  # not root: try at least the group, which a member may set
        try:
            os.fchown(fd, -1, old.st_gid)
        except PermissionError:
            pass


def _link_backup(target: str, temporary: str) -> str | None:
    """A hard link to ``target``'s current version, to roll a failed set of renames back; None where
    the file system has no hard links (the rollback then cannot restore that file)."""
    backup = temporary[: -len(".tmp")] + ".old"
    try:
        os.link(target, backup)
    except FileExistsError:
        raise  # not ours to overwrite: staging fails, nothing is changed
    except OSError:
        return None
    return backup


def _roll_back(done: list[_Staged]) -> list[str]:
    """Put back the old versions of files already replaced; the names that could not be."""
    lost: list[str] = []
    for item in reversed(done):
        try:
            if item.backup is None:
                raise FileNotFoundError
            os.replace(item.backup, item.target)
        except OSError:
            lost.append(os.path.basename(item.target))
    return sorted(lost)


def _discard(staged: list[_Staged]) -> None:
    for item in staged:
        _unlink(item.temporary)
        if item.backup is not None:
            _unlink(item.backup)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _sync_folder(folder: str) -> None:
    """fsync a folder so that its renames survive a crash; a file system that cannot is let be."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check(prog: str, path: str, output: Output) -> bool:
    """True when ``path`` (one file, or the folder of a set) holds exactly ``output``; else print a
    short diff, or why it cannot be read, to stderr and return False."""
    expected = {os.path.basename(path): output} if isinstance(output, str) else output
    drift: list[str] = []
    for name, text in sorted(expected.items()):
        target = path if isinstance(output, str) else os.path.join(path, name)
        try:
            with open(target, encoding="utf-8") as handle:
                current = handle.read()
        except OSError as error:
            print(f"{prog}: {target}: {error.strerror or error}", file=sys.stderr)
            return False
        if current != text:
            diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True), target, "generated")
            drift.extend(list(diff)[:40])
    if drift:
        sys.stderr.writelines(line if line.endswith("\n") else line + "\n" for line in drift)
        print(f"{prog}: {path} differs from what would be generated", file=sys.stderr)
        return False
    return True
