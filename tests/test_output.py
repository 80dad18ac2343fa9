"""``-o``: through symbolic links, mode and owner kept, and a set of files replaced all or nothing.

The commands run in process (``generate-nginx`` / ``generate-dns`` ``main``) on real files in
``tmp_path``. A full disk is the one thing faked: the function that writes a temporary file's bytes
raises ``ENOSPC`` on the second file. A read-only directory is real: ``chmod`` for a user, and for
root (whom ``chmod`` does not stop) a forked child that drops to ``nobody`` first.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path
from collections.abc import Callable

import pytest

from osscname.generators import dns, nginx, output

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "bindings.yaml"
NGINX_ARGS = [str(EXAMPLE), "--resolver", "127.0.0.53"]
DNS_ARGS = ["--skip-unsupported", str(EXAMPLE)]
ZONES = ["abc.com.zone", "example.org.zone"]
NOBODY = 65534
IS_ROOT = os.geteuid() == 0


def run(main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def leftovers(folder: Path) -> list[str]:
    """Temporary files or rollback links this module left behind (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".osscname-"))


def expected_nginx(capsys: pytest.CaptureFixture[str]) -> str:
    assert nginx.main(NGINX_ARGS) == 0
    return capsys.readouterr().out


# --- symbolic links ------------------------------------------------------------------------------


def test_writes_through_a_symlink_keeping_mode_and_owner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    available, enabled = tmp_path / "sites-available", tmp_path / "sites-enabled"
    available.mkdir()
    enabled.mkdir()
    real = available / "oss.conf"
    real.write_text("# old\n")
    real.chmod(0o640)
    owner = (NOBODY, NOBODY) if IS_ROOT else (os.getuid(), os.getgid())
    os.chown(real, *owner)
    link = enabled / "oss.conf"
    link.symlink_to("../sites-available/oss.conf")

    assert run(nginx.main, [*NGINX_ARGS, "-o", str(link)], capsys) == (0, "")
    assert link.is_symlink() and os.readlink(link) == "../sites-available/oss.conf"
    assert real.read_text() == expected_nginx(capsys)
    info = real.stat()
    assert (stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid)) == (0o640, owner)
    assert leftovers(available) == leftovers(enabled) == []


def test_dangling_symlink_creates_the_file_it_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "available").mkdir()
    link = tmp_path / "oss.conf"
    link.symlink_to("available/new.conf")
    assert run(nginx.main, [*NGINX_ARGS, "-o", str(link)], capsys) == (0, "")
    assert link.is_symlink()
    real = tmp_path / "available" / "new.conf"
    assert real.read_text() == expected_nginx(capsys) and stat.S_IMODE(real.stat().st_mode) == 0o644


def test_dangling_symlink_into_a_missing_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "oss.conf"
    link.symlink_to("nowhere/new.conf")
    code, err = run(nginx.main, [*NGINX_ARGS, "-o", str(link)], capsys)
    assert code == 2 and f"cannot write {link}: No such file or directory" in err
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["oss.conf"]


def test_symlink_loop_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.conf").symlink_to("b.conf")
    (tmp_path / "b.conf").symlink_to("a.conf")
    code, err = run(nginx.main, [*NGINX_ARGS, "-o", str(tmp_path / "a.conf")], capsys)
    assert code == 2 and "symbolic links" in err and "nothing was changed" in err
    assert all(p.is_symlink() for p in tmp_path.iterdir()) and len(list(tmp_path.iterdir())) == 2


def test_check_reads_through_a_symlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "real.conf").write_text(expected_nginx(capsys))
    (tmp_path / "oss.conf").symlink_to("real.conf")
    assert run(nginx.main, [*NGINX_ARGS, "--check", str(tmp_path / "oss.conf")], capsys) == (0, "")


# --- mode and owner ------------------------------------------------------------------------------


def test_mode_kept_and_new_files_get_0644(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept, new = tmp_path / "kept.conf", tmp_path / "new.conf"
    kept.write_text("# old\n")
    kept.chmod(0o600)
    for target in (kept, new):
        assert run(nginx.main, [*NGINX_ARGS, "-o", str(target)], capsys) == (0, "")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(new.stat().st_mode) == 0o644


def test_owner_that_cannot_be_set_is_let_be(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the right to chown (EPERM, as for a user rewriting someone else's file in a folder it
    may write), the file is still written, owned by whoever ran the command, with the old mode."""
    target = tmp_path / "oss.conf"
    target.write_text("# old\n")
    target.chmod(0o664)
    if IS_ROOT:  # a user cannot make a file someone else's: there the chown is not even tried
        os.chown(target, NOBODY, NOBODY)
    tried: list[tuple[int, int]] = []

    def refuse(fd: int, uid: int, gid: int) -> None:
        tried.append((uid, gid))
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(output.os, "fchown", refuse)
    assert run(nginx.main, [*NGINX_ARGS, "-o", str(target)], capsys) == (0, "")
    info = target.stat()
    assert target.read_text() == expected_nginx(capsys)
    assert stat.S_IMODE(info.st_mode) == 0o664 and (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid())
    if IS_ROOT:
        assert tried == [(NOBODY, NOBODY), (-1, NOBODY)], "the owner, then at least the group"


# --- a set of files: all or nothing ---------------------------------------------------------------


@pytest.fixture
def zones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """DIR holding an old version of both zone snippets, (DIR, old bytes, what generate-dns writes)."""
    folder = tmp_path / "zones"
    assert run(dns.main, [*DNS_ARGS, "-o", str(folder)], capsys)[0] == 0
    new = {name: (folder / name).read_bytes() for name in ZONES}
    assert sorted(p.name for p in folder.iterdir()) == ZONES
    old = {name: b"; old version of " + name.encode() + b"\n" for name in ZONES}
    for name, data in old.items():
        (folder / name).write_bytes(data)
    return folder, old, new


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_set_is_written_whole(zones: tuple[Path, dict[str, bytes], dict[str, bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _, new = zones
    inodes = {name: (folder / name).stat().st_ino for name in ZONES}
    assert run(dns.main, [*DNS_ARGS, "-o", str(folder)], capsys)[0] == 0
    assert contents(folder) == new
    assert all((folder / name).stat().st_ino != inodes[name] for name in ZONES), "replaced by rename, not rewritten in place"


def test_disk_full_on_the_second_file_changes_nothing(zones: tuple[Path, dict[str, bytes], dict[str, bytes]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, old, _ = zones
    fill = output._fill
    calls: list[int] = []

    def disk_full_on_second(fd: int, data: bytes) -> None:
        calls.append(fd)
        if len(calls) == 2:
            os.write(fd, data[: len(data) // 2])  # what a full disk leaves: part of the file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fill(fd, data)

    monkeypatch.setattr(output, "_fill", disk_full_on_second)
    code, err = run(dns.main, [*DNS_ARGS, "-o", str(folder)], capsys)
    assert code == 2 and len(calls) == 2
    assert f"cannot write {folder}: example.org.zone: No space left on device; nothing was changed" in err
    assert contents(folder) == old, "every old file byte-identical, no temporary left"


def test_rename_failing_midway_is_rolled_back(zones: tuple[Path, dict[str, bytes], dict[str, bytes]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, old, _ = zones
    inodes = {name: (folder / name).stat().st_ino for name in ZONES}
    replace = os.replace
    renames: list[str] = []

    def fail_second(source: str, target: str) -> None:
        renames.append(target)
        if len(renames) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), target)
        replace(source, target)

    monkeypatch.setattr(output.os, "replace", fail_second)
    code, err = run(dns.main, [*DNS_ARGS, "-o", str(folder)], capsys)
    assert code == 2 and "example.org.zone: Input/output error while renaming into place; every file was put back as it was" in err
    assert contents(folder) == old
    assert {name: (folder / name).stat().st_ino for name in ZONES} == inodes, "the very same old files"


def test_a_directory_in_the_way_changes_nothing(zones: tuple[Path, dict[str, bytes], dict[str, bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    folder, old, _ = zones
    (folder / "example.org.zone").unlink()
    (folder / "example.org.zone").mkdir()
    code, err = run(dns.main, [*DNS_ARGS, "-o", str(folder)], capsys)
    assert code == 2 and "example.org.zone: not a regular file; nothing was changed" in err
    assert (folder / "abc.com.zone").read_bytes() == old["abc.com.zone"] and leftovers(folder) == []


def test_names_must_stay_inside_the_folder(tmp_path: Path) -> None:
    for name in ("../escape.zone", "sub/x.zone", "..", ""):
        with pytest.raises(OSError, match="not a plain file name"):
            output.write(str(tmp_path / "out"), {"ok.zone": "x\n", name: "y\n"})
    assert list(tmp_path.iterdir()) == []


def _write_as_nobody(folder: str, files: dict[str, str]) -> int:
    """output.write in a child process running as ``nobody``; the errno it failed with (0: none)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            output.write(folder, files)
        except OSError as error:
            code = error.errno or 255
        except Exception:
            code = 255
        os.write(write, bytes([code]))
        os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            answer = pipe.read()
    finally:
        os.waitpid(pid, 0)
    assert len(answer) == 1, "the child died before answering"
    return answer[0]


def test_read_only_directory_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # Outside tmp_path: its parents are private to root, and as root the write runs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="osscname-readonly-"))
    try:
        folder.chmod(0o755)
        assert run(dns.main, [*DNS_ARGS, "-o", str(folder)], capsys)[0] == 0
        new = contents(folder)
        old = {name: b"; old\n" for name in ZONES}
        for name, data in old.items():
            (folder / name).write_bytes(data)
            (folder / name).chmod(0o644)
        folder.chmod(0o555)
        files = {name: data.decode() for name, data in new.items()}
        if IS_ROOT:
            assert _write_as_nobody(str(folder), files) == errno.EACCES
        else:
            with pytest.raises(PermissionError, match="nothing was changed"):
                output.write(str(folder), files)
        assert contents(folder) == old
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_single_file_disk_full_leaves_the_old_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "oss.conf"
    target.write_bytes(b"# old\n")

    def disk_full(fd: int, data: bytes) -> None:
        os.write(fd, data[:100])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output, "_fill", disk_full)
    code, err = run(nginx.main, [*NGINX_ARGS, "-o", str(target)], capsys)
    assert code == 2 and f"cannot write {target}: No space left on device; nothing was changed" in err
    assert contents(tmp_path) == {"oss.conf": b"# old\n"}
