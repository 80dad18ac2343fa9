"""Real servers (nginx, workerd, waitress, the local origin, ...) from tests: find the binary, pick a
port, wait, talk to it byte for byte, stop; and the bucket files they serve.

On a user's machine a missing server skips the tests that need it; under CI (``CI=true``) it fails
them, so a CI run can never pass by skipping what it was meant to prove.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent


def require_binary(name: str, *candidates: str | os.PathLike[str]) -> str:
    """Path of an executable (on PATH, or one of ``candidates``); skip, or fail under CI, if absent."""
    for candidate in (shutil.which(name), *candidates):
        if candidate and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return str(candidate)
    message = f"{name} is not installed (./dev test installs it)"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


#: The njs module Debian's libnginx-mod-http-js installs: nginx signs private buckets' requests with it.
NJS_SO = "/usr/lib/nginx/modules/ngx_http_js_module.so"
#: The variables nginx passes to njs (the ``env`` lines of nginx.conf): the official SDKs' names.
CREDENTIAL_NAMES = ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def require_njs() -> str:
    """The njs module nginx loads; skip, or fail under CI, if Debian's libnginx-mod-http-js is absent."""
    if os.path.isfile(NJS_SO):
        return NJS_SO
    message = f"{NJS_SO} is not installed (./dev test installs libnginx-mod-http-js)"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 15.0) -> None:
    """Block until 127.0.0.1:port accepts connections; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop a server we started, by its PID; kill it if it does not go in time."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class Answer(NamedTuple):
    status: int
    headers: Any  #: case-insensitive (an HTTPMessage, or WebOb's headers); ``.get`` gives None if missing
    body: bytes


def send(port: int, target: str, *, host: str, method: str = "GET", headers: dict[str, str] | None = None,
         context: ssl.SSLContext | None = None, timeout: float = 10.0) -> Answer:  # fmt: skip
    """One request to 127.0.0.1:``port`` on a fresh connection, sent exactly as given: the target byte
    for byte (no re-encoding), this Host and these headers only (no Accept-Encoding added); over TLS
    with ``context``."""
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return Answer(response.status, response.msg, response.read())
    finally:
        conn.close()


def write_objects(root: Path, objects: dict[str, bytes]) -> Path:
    """``{"bucket/key": data}`` as files under ``root``, the local origin's layout; returns ``root``."""
    for key, data in objects.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def check_answer(status: int, body: bytes, headers: Any, expected_status: int, expected_body: bytes | None, where: Any) -> None:
    """An answer of a wrapped app: ``where`` is the redirect's Location (str), the rewrite's
    (upstream Host, target) as the local origin echoed them (tuple), or None: the app answered."""
    assert status == expected_status
    if expected_body is not None:
        assert body == expected_body
    if isinstance(where, str):
        assert headers.get("Location") == where
    elif isinstance(where, tuple):
        assert (headers.get("X-Origin-Host"), headers.get("X-Origin-Uri")) == where
    else:
        assert headers.get("X-Origin-Host") is None and headers.get("Location") is None
