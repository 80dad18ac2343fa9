"""Reloading the bindings file: off the request path, only a settled file, whatever the file holds.

Files are real and written the way people and tools write them, including non-atomically (half the
file, a pause, the rest). Churn tests are bounded in versions and in time, send requests in process
or to a waitress server on 127.0.0.1, and assert that no request ever sees bindings that are not one
complete version of the file: every version binds every host, so no request may reach the app.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

import pytest

from osscname.middleware import CustomDomainMiddleware, reload
from osscname.middleware.reload import Reloader
from osscname.model import BindingSet
from realserver import free_port, send, wait_for_port
from realserver import stop as stop_process

HOSTS = [f"h{i}.example.org" for i in range(40)]
LOGGER = "osscname.middleware"


def version(k: int, hosts: list[str] = HOSTS) -> str:
    """Version ``k`` of the file: every host bound to bucket ``bucket-v<k>``."""
    lines = ["version: 1", "bindings:"]
    for host in hosts:
        lines += [f"  - domain: {host}", f"    bucket: bucket-v{k}", "    region: eu-west-1"]
    return "\n".join(lines) + "\n"


def write_in_two(path: Path, text: str, pause: float = 0.005) -> None:
    """Save ``text`` in place, not atomically: up to a binding boundary near the middle (so that
    the half is itself a valid file binding fewer hosts), a pause, then the rest."""
    cut = text.index("\n  - domain:", len(text) // 2) + 1
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text[:cut])
        handle.flush()
        time.sleep(pause)
        handle.write(text[cut:])


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app\n"]


def environ_for(host: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/k", "QUERY_STRING": "", "SERVER_NAME": "server.invalid",
            "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "HTTP_HOST": host}  # fmt: skip


def location(middleware: CustomDomainMiddleware, host: str = HOSTS[-1]) -> str | None:
    """The Location answered for ``host``; None if the request reached the app."""
    seen: list[Any] = []
    b"".join(middleware(environ_for(host), lambda status, headers, exc_info=None: seen.extend([status, headers])))
    return None if seen[0].startswith("200") else dict(seen[1])["Location"]


def bucket_of(location: str | None) -> str | None:
    return None if location is None else location.split("//", 1)[1].split(".", 1)[0]


def settle(middleware: CustomDomainMiddleware) -> None:
    """Let a poll happen and the check it started finish."""
    time.sleep(middleware._reloader.interval * 1.5)  # type: ignore[union-attr]
    location(middleware)
    assert middleware._reloader.wait_idle(10)  # type: ignore[union-attr]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / "bindings.yaml"
    target.write_text(version(0))
    return target


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        yield caplog


def messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


# --- whatever the file holds, the last good bindings keep serving ---------------------------------


def test_a_file_the_loader_chokes_on_is_logged_and_the_old_bindings_serve(path: Path, errors: pytest.LogCaptureFixture) -> None:
    """``status: !!int '²'`` made the loader raise a bare ValueError (one 500 per worker, never
    logged with the file, never retried); whatever the loader makes of it now, requests are answered
    from the last good bindings and the log names the file."""
    middleware = CustomDomainMiddleware(app, str(path), reload=0.01)
    path.write_text(version(1, HOSTS[:1]) + "    status: !!int '²'\n")
    settle(middleware)
    assert bucket_of(location(middleware, HOSTS[0])) == "bucket-v0"
    rejected = [r for r in errors.records if r.levelno == logging.ERROR and r.getMessage().startswith(f"{path}: not reloaded")]
    assert len(rejected) == 1 and "the last good bindings keep serving" in rejected[0].getMessage()
    path.write_text(version(2))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v2", "a good file after it is loaded"


def test_any_exception_from_loading_is_caught_with_its_traceback(path: Path, errors: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever else a loader bug raises: logged with its traceback, not retried until the file changes."""
    real = reload.load_bindings
    calls: list[str] = []

    def flaky(source: str) -> BindingSet:
        calls.append(source)
        if "bucket-v1" in Path(source).read_text():
            raise RecursionError("maximum recursion depth exceeded")
        return real(source)

    monkeypatch.setattr(reload, "load_bindings", flaky)
    middleware = CustomDomainMiddleware(app, str(path), reload=0.01)
    path.write_text(version(1))
    settle(middleware)
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v0" and len(calls) == 1
    record = next(r for r in errors.records if "not reloaded" in r.getMessage())
    assert record.getMessage().startswith(f"{path}: not reloaded, the loader failed with RecursionError: maximum recursion depth exceeded")
    assert record.exc_info is not None and record.exc_info[0] is RecursionError
    path.write_text(version(2))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v2"


def test_problems_are_logged_with_file_line_col_up_to_a_bound(path: Path, errors: pytest.LogCaptureFixture) -> None:
    middleware = CustomDomainMiddleware(app, str(path), reload=0.01)
    broken = [f"  - domain: b{i}.example.org\n    bucket: x\n    region: eu-west-1\n" for i in range(reload.MAX_LOGGED + 20)]
    path.write_text("version: 1\nbindings:\n" + "".join(broken))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v0"
    text = messages(errors)
    assert f"{path}: not reloaded, {reload.MAX_LOGGED + 20} problem(s); the last good bindings keep serving" in text
    assert f"{path}:4:13: bucket 'x' is not a valid OSS bucket name" in text
    logged = [r for r in errors.records if r.getMessage().startswith(f"{path}:") and "bucket 'x'" in r.getMessage()]
    assert len(logged) == reload.MAX_LOGGED
    assert f"... 20 more (osscname validate {path} lists them all)" in text


def test_a_file_over_the_size_bound_is_refused(path: Path, errors: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    small = version(1, HOSTS[:2])
    monkeypatch.setattr(reload, "MAX_BYTES", len(small))
    middleware = CustomDomainMiddleware(app, str(path), reload=0.01)
    path.write_text(version(1))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v0"
    assert f"{path}: not reloaded, {len(version(1))} bytes is over the {len(small)}-byte limit" in messages(errors)
    path.write_text(small)
    settle(middleware)
    assert bucket_of(location(middleware, HOSTS[0])) == "bucket-v1"


def test_requests_never_wait_for_a_slow_load_which_is_logged_once_over_budget(path: Path, errors: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big, valid file: its load takes far longer than the (lowered) budget. Requests keep being
    answered from the old bindings during it, a warning says the load is stuck, then it is installed."""
    monkeypatch.setattr(reload, "LOAD_BUDGET", 0.02)
    middleware = CustomDomainMiddleware(app, str(path), reload=0.005)
    bulk = "".join(f"  - domain: x{i}.example.org\n    bucket: bulk-{i // 100}\n    region: eu-west-1\n" for i in range(30000))
    path.write_text(version(1) + bulk)
    served_during_load = 0
    deadline = time.monotonic() + 60
    while bucket_of(location(middleware)) == "bucket-v0" and time.monotonic() < deadline:
        if middleware._reloader._loading_since is not None:  # type: ignore[union-attr]
            served_during_load += 1
        time.sleep(0.001)
    assert bucket_of(location(middleware)) == "bucket-v1"
    assert served_during_load > 0, "requests were answered while the file was loading"
    warnings = [r.getMessage() for r in errors.records if r.levelno == logging.WARNING]
    assert warnings == [f"{path}: loading has taken over 0.02 s; the last good bindings keep serving, newer versions are looked at once it returns"]


def test_a_missing_file_keeps_the_bindings(path: Path) -> None:
    middleware = CustomDomainMiddleware(app, str(path), reload=0.01)
    path.unlink()
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v0"
    path.write_text(version(1))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v1"


# --- only a settled file is installed -------------------------------------------------------------


def test_a_half_written_file_is_not_installed(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check's first look finds the first half, the rest arrives before its second look:
    nothing installed; the next check installs the whole file. Driven by hand, so no clock decides
    which half is seen."""
    installed: list[BindingSet] = []
    reloader = Reloader(str(path), 0.0, installed.append)
    text = version(1)
    cut = text.index("\n  - domain:", len(text) // 2) + 1
    path.write_text(text[:cut])
    looks = 0
    real_version = reload._version

    def rest_arrives_after_first_look(target: str) -> Any:
        nonlocal looks
        looks += 1
        answer = real_version(target)
        if looks == 1:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(text[cut:])
        return answer

    monkeypatch.setattr(reload, "_version", rest_arrives_after_first_look)
    reloader._check()
    assert installed == [] and looks == 2
    reloader._check()
    assert [len(b) for b in installed] == [len(HOSTS)]


def test_same_stamp_different_content_is_not_settled(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writes of the same size within one tick of the file system's clock look identical to
    stat: the checksum tells them apart."""
    installed: list[BindingSet] = []
    reloader = Reloader(str(path), 0.0, installed.append)
    first, second = version(1), version(2)
    assert len(first) == len(second)
    path.write_text(first)
    stamp = path.stat()
    digests = 0
    real_digest = reload._digest

    def rewritten_after_first_look(target: str) -> bytes | None:
        nonlocal digests
        digests += 1
        answer = real_digest(target)
        if digests == 1:
            path.write_text(second)
            os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
            assert path.stat().st_mtime_ns == stamp.st_mtime_ns and path.stat().st_ino == stamp.st_ino
        return answer

    monkeypatch.setattr(reload, "_digest", rewritten_after_first_look)
    reloader._check()
    assert installed == [] and digests == 2
    reloader._check()
    assert [b.bindings[0].bucket for b in installed] == ["bucket-v2"]


def churn(path: Path, versions: int, stop: threading.Event, written: list[str]) -> None:
    """The writer: ``versions`` non-atomic saves, each followed by a pause long enough to settle."""
    for k in range(1, versions + 1):
        if stop.is_set():
            return
        written.append(f"bucket-v{k}")
        write_in_two(path, version(k))
        time.sleep(random.uniform(0.06, 0.12))


def test_churn_in_process_never_serves_a_half_file(path: Path) -> None:
    middleware = CustomDomainMiddleware(app, str(path), reload=0.005)
    written = ["bucket-v0"]
    stop = threading.Event()
    writer = threading.Thread(target=churn, args=(path, 25, stop, written))
    seen: list[str | None] = []

    def requests() -> None:
        rng = random.Random()
        while writer.is_alive() and len(seen) < 200_000:
            seen.append(bucket_of(location(middleware, rng.choice(HOSTS))))
            time.sleep(0.0005)

    clients = [threading.Thread(target=requests) for _ in range(2)]
    writer.start()
    for client in clients:
        client.start()
    writer.join(30)
    stop.set()
    for client in clients:
        client.join(10)
    assert not writer.is_alive()
    assert None not in seen, f"{seen.count(None)} of {len(seen)} requests reached the app"
    assert set(seen) <= set(written)
    assert len(set(seen)) >= 10, "the versions were loaded while the file churned"


SITE = """\
import os
from osscname.middleware import CustomDomainMiddleware

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app\\n"]

application = CustomDomainMiddleware(app, os.environ["CHURN_BINDINGS"], reload=0.005)
"""


def test_churn_under_waitress_never_serves_a_half_file(path: Path, tmp_path: Path) -> None:
    """The same, with the middleware in a waitress process and the writer in this one."""
    (tmp_path / "churn_site.py").write_text(SITE)
    port = free_port()
    env = {**os.environ, "CHURN_BINDINGS": str(path), "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "--threads=4", "churn_site:application"],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    written = ["bucket-v0"]
    stop = threading.Event()
    writer = threading.Thread(target=churn, args=(path, 15, stop, written))
    statuses: list[int] = []
    buckets: list[str | None] = []
    try:
        wait_for_port(port, process)
        writer.start()
        rng = random.Random()
        while writer.is_alive() and len(statuses) < 20_000:
            answer = send(port, "/k", host=rng.choice(HOSTS))
            statuses.append(answer.status)
            buckets.append(bucket_of(answer.headers.get("Location")))
    finally:
        stop.set()
        if writer.ident is not None:
            writer.join(30)
        stop_process(process)
    assert set(statuses) == {301}, f"{statuses.count(200)} of {len(statuses)} requests reached the app"
    assert set(buckets) <= set(written) and len(set(buckets)) >= 5


# --- threads: one per reloader and process ----------------------------------------------------------


def test_thread_starts_on_first_change_and_ends_with_its_reloader(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reload, "_IDLE_CHECK", 0.02)
    middleware = CustomDomainMiddleware(app, str(path), reload=0.005)
    name = f"osscname-reload {path}"
    settle(middleware)
    assert not [t for t in threading.enumerate() if t.name == name], "no change yet: no thread"
    path.write_text(version(1))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v1"
    assert len([t for t in threading.enumerate() if t.name == name]) == 1
    del middleware
    gc.collect()
    deadline = time.monotonic() + 10
    while [t for t in threading.enumerate() if t.name == name] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not [t for t in threading.enumerate() if t.name == name]


def test_a_forked_worker_gets_a_thread_of_its_own(path: Path) -> None:
    """As under gunicorn: the parent's reloader thread already runs; the fork child must reload too."""
    middleware = CustomDomainMiddleware(app, str(path), reload=0.005)
    path.write_text(version(1))
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v1"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            path.write_text(version(2))
            deadline = time.monotonic() + 10
            while bucket_of(location(middleware)) != "bucket-v2" and time.monotonic() < deadline:
                time.sleep(0.005)
            os.write(write, (bucket_of(location(middleware)) or "app").encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 20)
        answer = os.read(read, 100) if ready else b"no answer"
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert answer == b"bucket-v2"
    settle(middleware)
    assert bucket_of(location(middleware)) == "bucket-v2", "and the parent's own thread still works"


def test_churn_through_the_asgi_middleware_never_serves_a_half_file(path: Path) -> None:
    """The ASGI middleware polls the same reloader (from a worker thread): a half-written save is
    never installed there either."""
    import asyncio

    from conformance import asgi_app
    from osscname.middleware.asgi import ASGICustomDomainMiddleware

    middleware = ASGICustomDomainMiddleware(asgi_app, str(path), reload=0.005)
    written = ["bucket-v0"]
    stop = threading.Event()
    writer = threading.Thread(target=churn, args=(path, 25, stop, written))
    seen: list[str | None] = []

    async def ask(host: str) -> str | None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/k", "raw_path": b"/k", "query_string": b"",
                 "headers": [(b"host", host.encode())], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
        await middleware(scope, receive, send)
        location = dict(sent[0].get("headers", [])).get(b"location")
        return bucket_of(location.decode() if location else None)

    async def requests() -> None:
        rng = random.Random()
        while writer.is_alive() and len(seen) < 200_000:
            seen.append(await ask(rng.choice(HOSTS)))
            await asyncio.sleep(0.0005)

    writer.start()
    asyncio.run(requests())
    writer.join(30)
    stop.set()
    assert not writer.is_alive()
    assert None not in seen, f"{seen.count(None)} of {len(seen)} requests reached the app"
    assert set(seen) <= set(written) and len(set(seen)) >= 5
