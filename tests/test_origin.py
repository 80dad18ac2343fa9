"""The local OSS-like origin (osscname.testing), over real HTTP on 127.0.0.1.

Other suites trust this origin to behave like an OSS bucket host and to echo exactly what reached it,
so every behaviour is checked here through a real server with ``http.client``: objects and keys,
OSS XML errors, virtual-hosted vs path-style Hosts, Range, conditionals, HEAD, methods, echo headers,
a large streamed object, shutdown, the pytest fixtures and ``osscname serve-bucket``.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from osscname.credentials import Credentials
from osscname.signing import Signer
from osscname.testing import LocalOrigin, RunningOrigin, serve_origin
from osscname.testing.pytest_plugin import OriginFactory
from realserver import IN_CI, Answer, send

pytest_plugins = ["osscname.testing.pytest_plugin", "pytester"]

BUCKET = "abc-files"
HOST = "abc-files.oss-cn-hangzhou.aliyuncs.com"
CNAME = "files.abc.com"
MTIME = 1_700_000_000
LAST_MODIFIED = email.utils.formatdate(MTIME, usegmt=True)
DATA = bytes(range(256)) * 4
OBJECTS = {
    "a.txt": b"hello world\n",
    "hello world.txt": b"spaces\n",
    "中文.txt": "中文\n".encode(),
    "a+b.txt": b"plus\n",
    "100%.txt": b"percent\n",
    "dir/b.txt": b"in a folder\n",
    "page.html": b"<h1>page</h1>\n",
    "noext": b"no extension\n",
    "data.bin": DATA,
    "empty.txt": b"",
}
PROLOGUE = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>'


def etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest().upper() + '"'


def write(path: Path, data: bytes, mtime: int = MTIME) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


@pytest.fixture
def origin(oss_origin_factory: OriginFactory, tmp_path: Path) -> RunningOrigin:
    """Bucket ``abc-files`` (also bound to files.abc.com), bucket ``other``, and escape routes out of the bucket."""
    root = tmp_path / "buckets"
    for key, data in OBJECTS.items():
        write(root / BUCKET / key, data)
    write(root / "other" / "secret.txt", b"other bucket\n")
    write(root / "not-a-folder", b"a file at the root\n")
    write(tmp_path / "outside" / "outside.txt", b"outside the root\n")
    (root / BUCKET / "escape.txt").symlink_to(tmp_path / "outside" / "outside.txt")
    (root / BUCKET / "escape-dir").symlink_to(tmp_path / "outside")
    (root / BUCKET / "inside.txt").symlink_to(root / BUCKET / "a.txt")
    return oss_origin_factory(root, cnames={CNAME.upper(): BUCKET})


def fetch(port: int, target: str, *, host: str = HOST, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    """One request to 127.0.0.1:``port``, sent exactly as given, for bucket ``abc-files`` unless told."""
    return send(port, target, host=host, method=method, headers=headers)


def oss_error(reply: Answer) -> dict[str, str]:
    """The fields of an OSS XML error body, checked for layout, content type, length and request id."""
    assert reply.headers["Content-Type"] == "application/xml"
    assert reply.headers["Content-Length"] == str(len(reply.body))
    assert reply.body.startswith(PROLOGUE) and reply.body.endswith(b"</Error>\n"), reply.body
    error = ET.fromstring(reply.body)
    fields = {child.tag: child.text or "" for child in error}
    assert [child.tag for child in error][:4] == ["Code", "Message", "RequestId", "HostId"]
    assert fields["RequestId"] == reply.headers["x-oss-request-id"]
    return fields


# --- objects -------------------------------------------------------------------------------------

OBJECT_CASES = [
    pytest.param(HOST, "/a.txt", "a.txt", "text/plain", id="plain"),
    pytest.param("abc-files.localhost:8080", "/a.txt", "a.txt", "text/plain", id="bucket-dot-any-host"),
    pytest.param("ABC-Files.OSS-cn-hangzhou.aliyuncs.com:443", "/a.txt", "a.txt", "text/plain", id="host-case-and-port"),
    pytest.param(HOST + ".", "/a.txt", "a.txt", "text/plain", id="host-trailing-dot"),
    pytest.param(CNAME, "/a.txt", "a.txt", "text/plain", id="cname"),
    pytest.param("Files.ABC.com:8080", "/a.txt", "a.txt", "text/plain", id="cname-case-and-port"),
    pytest.param(HOST, "/a.txt?versionId=1&x=%2F", "a.txt", "text/plain", id="query-not-in-key"),
    pytest.param(HOST, "/hello%20world.txt", "hello world.txt", "text/plain", id="encoded-space"),
    pytest.param(HOST, "/%E4%B8%AD%E6%96%87.txt", "中文.txt", "text/plain", id="encoded-utf8"),
    pytest.param(HOST, "/a+b.txt", "a+b.txt", "text/plain", id="plus-is-plus"),
    pytest.param(HOST, "/100%25.txt", "100%.txt", "text/plain", id="encoded-percent"),
    pytest.param(HOST, "/dir/b.txt", "dir/b.txt", "text/plain", id="folder"),
    pytest.param(HOST, "/dir%2Fb.txt", "dir/b.txt", "text/plain", id="encoded-slash"),
    pytest.param(HOST, "/page.html", "page.html", "text/html", id="html"),
    pytest.param(HOST, "/noext", "noext", "application/octet-stream", id="no-extension"),
    pytest.param(HOST, "/empty.txt", "empty.txt", "text/plain", id="empty"),
    pytest.param(HOST, "/inside.txt", "a.txt", "text/plain", id="symlink-inside-bucket"),
]


@pytest.mark.parametrize("host, target, key, content_type", OBJECT_CASES)
def test_get_object(origin: RunningOrigin, host: str, target: str, key: str, content_type: str) -> None:
    reply = fetch(origin.port, target, host=host)
    data = OBJECTS[key]
    assert (reply.status, reply.body) == (200, data)
    assert reply.headers["Content-Type"] == content_type
    assert reply.headers["Content-Length"] == str(len(data))
    assert reply.headers["ETag"] == etag(data)
    assert reply.headers["Last-Modified"] == LAST_MODIFIED
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r"[0-9A-F]{24}", reply.headers["x-oss-request-id"])


def test_request_ids_differ(origin: RunningOrigin) -> None:
    assert fetch(origin.port, "/a.txt").headers["x-oss-request-id"] != fetch(origin.port, "/a.txt").headers["x-oss-request-id"]


def test_etag_follows_content(origin: RunningOrigin) -> None:
    before = fetch(origin.port, "/a.txt").headers["ETag"]
    write(origin.root / BUCKET / "a.txt", b"changed\n", mtime=MTIME + 60)
    reply = fetch(origin.port, "/a.txt")
    assert before == etag(OBJECTS["a.txt"]) and reply.headers["ETag"] == etag(b"changed\n") and reply.body == b"changed\n"


# --- errors --------------------------------------------------------------------------------------

NO_KEY, NO_BUCKET, PATH_STYLE = "NoSuchKey", "NoSuchBucket", "SecondLevelDomainForbidden"
ERROR_CASES = [
    pytest.param(HOST, "/missing.txt", 404, NO_KEY, {"Key": "missing.txt"}, id="no-such-key"),
    pytest.param(HOST, "/a%26%3Cb%3E.txt", 404, NO_KEY, {"Key": "a&<b>.txt"}, id="key-xml-escaped"),
    pytest.param(HOST, "/", 404, NO_KEY, {"Key": ""}, id="empty-key-no-index"),
    pytest.param(HOST, "/dir/", 404, NO_KEY, {"Key": "dir/"}, id="folder-key-no-index"),
    pytest.param(HOST, "/dir", 404, NO_KEY, {"Key": "dir"}, id="folder-is-not-an-object"),
    pytest.param(HOST, "/../other/secret.txt", 404, NO_KEY, {"Key": "../other/secret.txt"}, id="dotdot"),
    pytest.param(HOST, "/%2E%2E/other/secret.txt", 404, NO_KEY, {"Key": "../other/secret.txt"}, id="dotdot-encoded"),
    pytest.param(HOST, "/..%2F..%2Fnot-a-folder", 404, NO_KEY, {"Key": "../../not-a-folder"}, id="dotdot-encoded-slash"),
    pytest.param(HOST, "/dir/../a.txt", 404, NO_KEY, {"Key": "dir/../a.txt"}, id="dotdot-inside"),
    pytest.param(HOST, "//a.txt", 404, NO_KEY, {"Key": "/a.txt"}, id="leading-double-slash"),
    pytest.param(HOST, "/escape.txt", 404, NO_KEY, {"Key": "escape.txt"}, id="symlink-escape"),
    pytest.param(HOST, "/escape-dir/outside.txt", 404, NO_KEY, {"Key": "escape-dir/outside.txt"}, id="symlink-folder-escape"),
    pytest.param(HOST, "/a.txt%00", 404, NO_KEY, {"Key": ""}, id="nul"),
    pytest.param(HOST, "/%FF.txt", 404, NO_KEY, {"Key": ""}, id="not-utf8"),
    pytest.param(HOST, "/" + "x" * 300, 404, NO_KEY, {"Key": "x" * 300}, id="name-too-long"),
    pytest.param("nobucket.oss-cn-hangzhou.aliyuncs.com", "/a.txt", 404, NO_BUCKET, {"BucketName": "nobucket"}, id="no-such-bucket"),
    pytest.param("not-a-folder.example", "/a.txt", 404, NO_BUCKET, {"BucketName": "not-a-folder"}, id="bucket-is-a-file"),
    pytest.param(".abc-files.example", "/abc-files/a.txt", 404, NO_BUCKET, {"BucketName": ""}, id="empty-label-not-root"),
    pytest.param("unknown.abc.com", "/a.txt", 404, NO_BUCKET, {"BucketName": "unknown"}, id="unbound-domain"),
    pytest.param("127.0.0.1:9000", "/abc-files/a.txt", 403, PATH_STYLE, {}, id="path-style-ip"),
    pytest.param("[::1]:9000", "/abc-files/a.txt", 403, PATH_STYLE, {}, id="path-style-ipv6"),
    pytest.param("localhost:9000", "/abc-files/a.txt", 403, PATH_STYLE, {}, id="path-style-single-label"),
    pytest.param("oss-cn-hangzhou.aliyuncs.com", "/abc-files/a.txt", 403, PATH_STYLE, {}, id="path-style-endpoint"),
    pytest.param("oss-cn-hangzhou-internal.aliyuncs.com", "/abc-files/a.txt", 403, PATH_STYLE, {}, id="path-style-internal"),
    pytest.param("", "/abc-files/a.txt", 403, PATH_STYLE, {}, id="path-style-empty-host"),
]


@pytest.mark.parametrize("host, target, status, code, fields", ERROR_CASES)
def test_error(origin: RunningOrigin, host: str, target: str, status: int, code: str, fields: dict[str, str]) -> None:
    reply = fetch(origin.port, target, host=host)
    assert reply.status == status
    error = oss_error(reply)
    host_id = host.lower().rsplit(":", 1)[0].rstrip(".")  # HostId: the Host without port
    assert error == {"Code": code, "Message": error["Message"], "RequestId": error["RequestId"], "HostId": host_id, **fields}
    assert error["Message"]


def test_no_such_key_body_is_oss_layout(origin: RunningOrigin) -> None:
    reply = fetch(origin.port, "/missing.txt")
    request_id = reply.headers["x-oss-request-id"]
    assert reply.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>NoSuchKey</Code>\n'
        "  <Message>The specified key does not exist.</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>{HOST}</HostId>\n  <Key>missing.txt</Key>\n</Error>\n"
    )


def test_cname_to_invalid_bucket_name_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a bucket name"):
        LocalOrigin(tmp_path, cnames={CNAME: "../outside"})


# --- HEAD ----------------------------------------------------------------------------------------

HEAD_CASES = [
    pytest.param(HOST, "/a.txt", {}, 200, id="object"),
    pytest.param(HOST, "/data.bin", {"Range": "bytes=10-19"}, 206, id="range"),
    pytest.param(HOST, "/data.bin", {"Range": "bytes=5000-"}, 416, id="unsatisfiable"),
    pytest.param(HOST, "/a.txt", {"If-None-Match": etag(OBJECTS["a.txt"])}, 304, id="not-modified"),
    pytest.param(HOST, "/a.txt", {"If-Match": '"other"'}, 412, id="precondition-failed"),
    pytest.param(HOST, "/missing.txt", {}, 404, id="no-such-key"),
    pytest.param("nobucket.example", "/a.txt", {}, 404, id="no-such-bucket"),
    pytest.param("127.0.0.1", "/a.txt", {}, 403, id="path-style"),
]


@pytest.mark.parametrize("host, target, headers, status", HEAD_CASES)
def test_head_has_the_get_headers_and_no_body(origin: RunningOrigin, host: str, target: str, headers: dict[str, str], status: int) -> None:
    get = fetch(origin.port, target, host=host, headers=headers)
    head = fetch(origin.port, target, host=host, headers=headers, method="HEAD")
    varying = {"Date", "x-oss-request-id"}
    assert (get.status, head.status, head.body) == (status, status, b"")
    assert [item for item in head.headers.items() if item[0] not in varying] == [item for item in get.headers.items() if item[0] not in varying]


# --- Range ---------------------------------------------------------------------------------------

RANGE_CASES = [
    pytest.param("/data.bin", "bytes=0-99", 206, "bytes 0-99/1024", DATA[:100], id="first-bytes"),
    pytest.param("/data.bin", "bytes=1000-", 206, "bytes 1000-1023/1024", DATA[1000:], id="open-ended"),
    pytest.param("/data.bin", "bytes=-10", 206, "bytes 1014-1023/1024", DATA[-10:], id="suffix"),
    pytest.param("/data.bin", "bytes=-5000", 206, "bytes 0-1023/1024", DATA, id="suffix-longer-than-object"),
    pytest.param("/data.bin", "bytes=1000-5000", 206, "bytes 1000-1023/1024", DATA[1000:], id="end-clamped"),
    pytest.param("/data.bin", "bytes=1023-1023", 206, "bytes 1023-1023/1024", DATA[1023:], id="last-byte"),
    pytest.param("/data.bin", "bytes=1024-", 416, "bytes */1024", None, id="start-at-size"),
    pytest.param("/data.bin", "bytes=5000-6000", 416, "bytes */1024", None, id="start-past-size"),
    pytest.param("/data.bin", "bytes=-0", 416, "bytes */1024", None, id="empty-suffix"),
    pytest.param("/empty.txt", "bytes=-5", 416, "bytes */0", None, id="suffix-of-empty-object"),
    pytest.param("/empty.txt", "bytes=0-", 416, "bytes */0", None, id="open-ended-on-empty-object"),
    pytest.param("/data.bin", "bytes=5-2", 200, None, DATA, id="reversed-ignored"),
    pytest.param("/data.bin", "bytes=0-1,5-6", 200, None, DATA, id="multi-range-ignored"),
    pytest.param("/data.bin", "bytes=-", 200, None, DATA, id="no-numbers-ignored"),
    pytest.param("/data.bin", "bytes=a-b", 200, None, DATA, id="not-numbers-ignored"),
    pytest.param("/data.bin", "items=0-1", 200, None, DATA, id="other-unit-ignored"),
]


@pytest.mark.parametrize("target, byte_range, status, content_range, body", RANGE_CASES)
def test_range(origin: RunningOrigin, target: str, byte_range: str, status: int, content_range: str | None, body: bytes | None) -> None:
    reply = fetch(origin.port, target, headers={"Range": byte_range})
    assert reply.status == status
    assert reply.headers["Content-Range"] == content_range
    if body is None:
        assert oss_error(reply)["Code"] == "InvalidRange"
    else:
        assert reply.body == body and reply.headers["Content-Length"] == str(len(body))


# --- conditionals --------------------------------------------------------------------------------

A_TAG = etag(OBJECTS["a.txt"])
BEFORE = email.utils.formatdate(MTIME - 1, usegmt=True)
LATER = email.utils.formatdate(MTIME + 3600, usegmt=True)
CONDITIONAL_CASES = [
    pytest.param({"If-None-Match": A_TAG}, 304, id="inm-match"),
    pytest.param({"If-None-Match": "W/" + A_TAG}, 304, id="inm-weak-match"),
    pytest.param({"If-None-Match": f'"other", {A_TAG}'}, 304, id="inm-list"),
    pytest.param({"If-None-Match": "*"}, 304, id="inm-star"),
    pytest.param({"If-None-Match": '"other"'}, 200, id="inm-other"),
    pytest.param({"If-Modified-Since": LAST_MODIFIED}, 304, id="ims-same"),
    pytest.param({"If-Modified-Since": LATER}, 304, id="ims-later"),
    pytest.param({"If-Modified-Since": BEFORE}, 200, id="ims-before"),
    pytest.param({"If-Modified-Since": "yesterday"}, 200, id="ims-invalid-ignored"),
    pytest.param({"If-None-Match": '"other"', "If-Modified-Since": LAST_MODIFIED}, 200, id="inm-wins-over-ims-200"),
    pytest.param({"If-None-Match": A_TAG, "If-Modified-Since": BEFORE}, 304, id="inm-wins-over-ims-304"),
    pytest.param({"If-Match": A_TAG}, 200, id="im-match"),
    pytest.param({"If-Match": f'"other", {A_TAG}'}, 200, id="im-list"),
    pytest.param({"If-Match": "*"}, 200, id="im-star"),
    pytest.param({"If-Match": '"other"'}, 412, id="im-other"),
    pytest.param({"If-Match": "W/" + A_TAG}, 412, id="im-weak-never-matches"),
    pytest.param({"If-Unmodified-Since": LAST_MODIFIED}, 200, id="ius-same"),
    pytest.param({"If-Unmodified-Since": BEFORE}, 412, id="ius-before"),
    pytest.param({"If-Unmodified-Since": "yesterday"}, 200, id="ius-invalid-ignored"),
    pytest.param({"If-Match": A_TAG, "If-Unmodified-Since": BEFORE}, 200, id="im-wins-over-ius"),
    pytest.param({"If-Match": '"other"', "If-None-Match": A_TAG}, 412, id="412-before-304"),
    pytest.param({"If-None-Match": A_TAG, "Range": "bytes=0-1"}, 304, id="304-before-range"),
]


@pytest.mark.parametrize("headers, status", CONDITIONAL_CASES)
def test_conditional(origin: RunningOrigin, headers: dict[str, str], status: int) -> None:
    reply = fetch(origin.port, "/a.txt", headers=headers)
    assert reply.status == status
    if status == 304:
        assert reply.body == b"" and (reply.headers["ETag"], reply.headers["Last-Modified"]) == (A_TAG, LAST_MODIFIED)
    elif status == 412:
        assert oss_error(reply)["Code"] == "PreconditionFailed"
    else:
        assert reply.body == OBJECTS["a.txt"]


# --- methods -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_405(origin: RunningOrigin, method: str) -> None:
    reply = fetch(origin.port, "/a.txt", method=method)
    assert (reply.status, reply.headers["Allow"]) == (405, "GET, HEAD")
    assert oss_error(reply)["Code"] == "MethodNotAllowed"


# --- echo headers --------------------------------------------------------------------------------

ECHO_CASES = [
    pytest.param("GET", HOST, "/a.txt", {}, 200, id="200"),
    pytest.param("GET", "ABC-files.Example:8080", "/a.txt?x=1&y=%2F%20&z", {}, 200, id="host-case-port-query"),
    pytest.param("GET", HOST, "/%E4%B8%AD%E6%96%87.txt?q=%E4%B8%AD", {}, 200, id="encoded-utf8"),
    pytest.param("GET", HOST, "/dir%2Fb.txt", {}, 200, id="encoded-slash-kept"),
    pytest.param("GET", HOST, "/hello%20world.txt", {}, 200, id="encoded-space-kept"),
    pytest.param("GET", HOST, "//a.txt", {}, 404, id="leading-double-slash-kept"),
    pytest.param("HEAD", HOST, "/a.txt", {}, 200, id="head"),
    pytest.param("GET", HOST, "/data.bin", {"Range": "bytes=0-0"}, 206, id="206"),
    pytest.param("GET", HOST, "/a.txt", {"If-None-Match": "*"}, 304, id="304"),
    pytest.param("GET", "127.0.0.1:9000", "/abc-files/a.txt", {}, 403, id="403"),
    pytest.param("GET", "nobucket.example", "/a.txt", {}, 404, id="404-bucket"),
    pytest.param("GET", HOST, "/missing?x=%00", {}, 404, id="404-key"),
    pytest.param("DELETE", HOST, "/a.txt", {}, 405, id="405"),
    pytest.param("GET", HOST, "/a.txt", {"If-Match": '"x"'}, 412, id="412"),
    pytest.param("GET", HOST, "/data.bin", {"Range": "bytes=9999-"}, 416, id="416"),
]


@pytest.mark.parametrize("method, host, target, headers, status", ECHO_CASES)
def test_echo_headers_exact(origin: RunningOrigin, method: str, host: str, target: str, headers: dict[str, str], status: int) -> None:
    reply = fetch(origin.port, target, host=host, method=method, headers=headers)
    assert reply.status == status
    assert (reply.headers["X-Origin-Host"], reply.headers["X-Origin-Uri"]) == (host, target)


def test_echo_escapes_bytes_outside_ascii(origin: RunningOrigin) -> None:
    reply = fetch(origin.port, "/a.txt", host="abc-files.ex\xe4mple")  # http.client sends the Host as Latin-1
    assert (reply.status, reply.headers["X-Origin-Host"]) == (200, "abc-files.ex%E4mple")


# --- large objects -------------------------------------------------------------------------------


def test_20_mib_object_streamed_whole_and_in_ranges(origin: RunningOrigin) -> None:
    data = os.urandom(20 * 1024 * 1024)
    write(origin.root / BUCKET / "big.bin", data)
    connection = http.client.HTTPConnection("127.0.0.1", origin.port, timeout=30)
    try:
        connection.request("GET", "/big.bin", headers={"Host": HOST})
        response = connection.getresponse()
        digest, received = hashlib.sha256(), 0
        while chunk := response.read(1024 * 1024):
            digest.update(chunk)
            received += len(chunk)
    finally:
        connection.close()
    assert response.status == 200 and response.getheader("Content-Length") == str(len(data)) == str(received)
    assert digest.digest() == hashlib.sha256(data).digest()
    assert response.getheader("ETag") == etag(data)
    start, end = 65_535, 3 * 65_536 + 1  # across read-chunk boundaries
    reply = fetch(origin.port, "/big.bin", headers={"Range": f"bytes={start}-{end}"})
    assert (reply.status, reply.headers["Content-Range"]) == (206, f"bytes {start}-{end}/{len(data)}")
    assert reply.body == data[start : end + 1]


def test_object_over_64_mib_gets_a_tag_from_size_and_mtime(origin: RunningOrigin) -> None:
    path = origin.root / BUCKET / "huge.bin"
    with path.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk space, and it is never hashed
    info = path.stat()
    head = fetch(origin.port, "/huge.bin", method="HEAD")
    assert (head.status, head.headers["Content-Length"]) == (200, str(info.st_size))
    assert head.headers["ETag"] == f'"{info.st_size:X}-{info.st_mtime_ns:X}"'
    tail = fetch(origin.port, "/huge.bin", headers={"Range": "bytes=-3", "If-Match": head.headers["ETag"]})
    assert (tail.status, tail.body) == (206, b"\0\0\0")


# --- running and stopping ------------------------------------------------------------------------


def open_sockets() -> set[str]:
    """The sockets this process has open, as /proc names them ("socket:[inode]")."""
    found: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the fd listdir itself used
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts sockets in /proc")
def test_serve_origin_stops_closes_port_and_every_socket(tmp_path: Path) -> None:
    write(tmp_path / BUCKET / "a.txt", OBJECTS["a.txt"])
    before = open_sockets()
    with serve_origin(tmp_path) as origin:
        assert origin.root == tmp_path and origin.address == f"127.0.0.1:{origin.port}" and origin.url == f"http://{origin.address}"
        assert fetch(origin.port, "/a.txt").body == OBJECTS["a.txt"]
        # Only the listening socket is left once the server closed its end of that fetch; counting from
        # there, a third socket can only be the idle connection's accepted end (not a lingering one).
        deadline = time.monotonic() + 5
        while len(open_sockets() - before) != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(open_sockets() - before) == 1
        idle = socket.create_connection(("127.0.0.1", origin.port), timeout=5)  # connected, never sends a request
        while len(open_sockets() - before) != 3 and time.monotonic() < deadline + 5:  # listening, idle, its accepted end
            time.sleep(0.01)
        assert len(open_sockets() - before) == 3
    try:
        assert idle.recv(1) == b""  # the server ended the accepted idle connection when it stopped
    finally:
        idle.close()
    assert refused(origin.port)
    assert not open_sockets() - before


def test_stop_twice_is_harmless(tmp_path: Path) -> None:
    with serve_origin(tmp_path) as origin:
        origin.stop()
        assert refused(origin.port)
    assert refused(origin.port)


@pytest.mark.parametrize(
    "target, key",
    [
        pytest.param("/100%25.txt?a=1", "100%.txt", id="encoded-percent-and-query"),
        pytest.param("/%E4%B8%AD%E6%96%87.txt", "中文.txt", id="encoded-utf8"),
        pytest.param("/hello%20world.txt", "hello world.txt", id="encoded-space"),
    ],
)
def test_path_info_fallback_without_raw_target(tmp_path: Path, target: str, key: str) -> None:
    """Under a server that gives no REQUEST_URI (stdlib wsgiref as is) the key comes from PATH_INFO."""
    write(tmp_path / BUCKET / key, OBJECTS[key])

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = make_server("127.0.0.1", 0, LocalOrigin(tmp_path), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        reply = fetch(server.server_address[1], target)
        assert (reply.status, reply.body, reply.headers["X-Origin-Uri"]) == (200, OBJECTS[key], target)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


# --- pytest fixtures -----------------------------------------------------------------------------


def test_fixtures_serve_and_stop_at_teardown(pytester: pytest.Pytester, tmp_path: Path) -> None:
    ports = tmp_path / "ports.txt"
    pytester.makepyfile(
        f"""
        import http.client
        from pathlib import Path

        pytest_plugins = ["osscname.testing.pytest_plugin"]

        def get(origin, host):
            connection = http.client.HTTPConnection(origin.host, origin.port, timeout=10)
            connection.request("GET", "/k.txt", headers={{"Host": host}})
            response = connection.getresponse()
            return response.status, response.read()

        def test_origins(oss_origin, oss_origin_factory):
            assert isinstance(oss_origin.root, Path) and oss_origin.root.is_dir() and not any(oss_origin.root.iterdir())
            (oss_origin.root / "b").mkdir()
            (oss_origin.root / "b" / "k.txt").write_bytes(b"v")
            second = oss_origin_factory(oss_origin.root, cnames={{"c.example": "b"}})
            assert get(oss_origin, "b.example") == (200, b"v")
            assert get(second, "c.example") == (200, b"v")
            Path({str(ports)!r}).write_text(f"{{oss_origin.port}} {{second.port}}")
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    first, second = map(int, ports.read_text().split())
    assert first != second and refused(first) and refused(second)


# --- osscname serve-bucket -----------------------------------------------------------------------

SERVE = "import sys; from osscname.testing.origin import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def command_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_bucket_serves_until_signalled(tmp_path: Path, command_env: dict[str, str], stop: signal.Signals) -> None:
    write(tmp_path / BUCKET / "a.txt", OBJECTS["a.txt"])
    command = [sys.executable, "-c", SERVE, str(tmp_path), "--port", "0", "--cname", f"{CNAME}={BUCKET}"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=command_env)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.fullmatch(rf"serving buckets from {re.escape(str(tmp_path))} on http://127\.0\.0\.1:(\d+) \(virtual-hosted: <bucket>\.<any host>\)\n", line)
        assert match, line
        port = int(match.group(1))
        assert fetch(port, "/a.txt", host=CNAME).body == OBJECTS["a.txt"]
        assert fetch(port, "/a.txt", host=HOST).body == OBJECTS["a.txt"]
        process.send_signal(stop)
        assert process.wait(timeout=10) == 0
        assert process.stderr.read() == ""  # nothing logged per request, no traceback
        assert refused(port)
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param([], "the following arguments are required: DIR", id="no-dir"),
        pytest.param(["{dir}", "--port", "http"], "argument --port: invalid int value", id="bad-port"),
        pytest.param(["{dir}", "--cname", "files.abc.com"], "expected DOMAIN=BUCKET", id="cname-without-bucket"),
        pytest.param(["{dir}", "--cname", "files.abc.com=../x"], "expected DOMAIN=BUCKET", id="cname-bad-bucket"),
        pytest.param(["{dir}", "--verbose"], "unrecognized arguments: --verbose", id="unknown-option"),
    ],
)
def test_serve_bucket_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    from osscname.testing.origin import main

    with pytest.raises(SystemExit) as exited:
        main([arg.format(dir=tmp_path) for arg in argv])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: osscname serve-bucket") and message in error


@pytest.mark.parametrize("name", ["missing", "file.txt"])
def test_serve_bucket_dir_not_a_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    from osscname.testing.origin import main

    (tmp_path / "file.txt").write_text("x")
    target = tmp_path / name
    assert main([str(target), "--port", "0"]) == 2
    assert capsys.readouterr().err == f"osscname serve-bucket: error: {target} is not a folder\n"


# --- private buckets -----------------------------------------------------------------------------
# The origin checks OSS V4 signatures with the official SDK's signer; tests/test_signing.py proves this
# project's signer against it. Here: what the origin answers, and that it refuses what OSS refuses.

SECURE = "abc-secure"
SECURE_HOST = f"{SECURE}.oss-cn-hangzhou.aliyuncs.com"
OWNER = Credentials("LTAI5tOwnerExample01", "owner-secret")
TEMPORARY = Credentials("STS.NUtemporary", "temporary-secret", session_token="CAIStoken==")
LAPSED = Credentials("STS.NUlapsed", "lapsed-secret", session_token="CAISlapsed==", expires=time.time() - 1)


@pytest.fixture
def private_origin(tmp_path: Path) -> Iterator[RunningOrigin]:
    """Bucket ``abc-secure`` readable by OWNER, TEMPORARY and (expired) LAPSED, beside the public ``abc-files``."""
    if not IN_CI:
        pytest.importorskip("alibabacloud_oss_v2")  # under CI a missing SDK fails (the origin raises ImportError)
    write(tmp_path / SECURE / "a.txt", OBJECTS["a.txt"])
    write(tmp_path / BUCKET / "a.txt", OBJECTS["a.txt"])
    with serve_origin(tmp_path, cnames={"secure.abc.com": SECURE}, private={SECURE: [OWNER, TEMPORARY, LAPSED]}) as origin:
        yield origin


def signed_headers(credentials: Credentials, path: str = "/a.txt", method: str = "GET", now: float | None = None) -> dict[str, str]:
    signed = Signer.for_oss("cn-hangzhou", SECURE, credentials).sign(method, SECURE_HOST, path, now=now)
    return dict(signed.headers)


def test_private_bucket_refuses_anonymous_requests_as_oss(private_origin: RunningOrigin) -> None:
    reply = fetch(private_origin.port, "/a.txt", host=SECURE_HOST)
    assert reply.status == 403
    assert oss_error(reply) == {"Code": "AccessDenied", "Message": "You have no right to access this object because of bucket acl.",
                                "RequestId": reply.headers["x-oss-request-id"], "HostId": SECURE_HOST}  # fmt: skip
    head = fetch(private_origin.port, "/a.txt", host=SECURE_HOST, method="HEAD")
    assert (head.status, head.body, head.headers["Content-Type"]) == (403, b"", "application/xml")
    assert fetch(private_origin.port, "/a.txt", host="secure.abc.com").status == 403


def test_private_bucket_serves_signed_requests(private_origin: RunningOrigin) -> None:
    for credentials in (OWNER, TEMPORARY):
        reply = fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=signed_headers(credentials))
        assert (reply.status, reply.body) == (200, OBJECTS["a.txt"])
    head = fetch(private_origin.port, "/a.txt", host=SECURE_HOST, method="HEAD", headers=signed_headers(OWNER, method="HEAD"))
    assert (head.status, head.headers["ETag"], head.body) == (200, etag(OBJECTS["a.txt"]), b"")


def test_public_bucket_beside_a_private_one_needs_no_signature(private_origin: RunningOrigin) -> None:
    assert fetch(private_origin.port, "/a.txt").body == OBJECTS["a.txt"]
    assert fetch(private_origin.port, "/a.txt", headers={"Authorization": "OSS4-HMAC-SHA256 Credential=x/y/z/oss/aliyun_v4_request,Signature=0"}).status == 200


def test_bucket_and_host_errors_come_before_the_signature(private_origin: RunningOrigin) -> None:
    assert oss_error(fetch(private_origin.port, "/a.txt", host="nobucket.oss-cn-hangzhou.aliyuncs.com"))["Code"] == NO_BUCKET
    assert oss_error(fetch(private_origin.port, f"/{SECURE}/a.txt", host="oss-cn-hangzhou.aliyuncs.com"))["Code"] == PATH_STYLE
    assert fetch(private_origin.port, "/a.txt", host=SECURE_HOST, method="PUT", headers=signed_headers(OWNER, method="PUT")).status == 405


def test_signature_mismatch_reports_what_oss_reports(private_origin: RunningOrigin) -> None:
    headers = signed_headers(OWNER)
    provided = headers["Authorization"].rpartition("Signature=")[2]
    headers["Authorization"] = headers["Authorization"].replace(provided, "0" * 64)
    reply = fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=headers)
    error = oss_error(reply)
    assert reply.status == 403 and error["Code"] == "SignatureDoesNotMatch"
    assert (error["OSSAccessKeyId"], error["SignatureProvided"]) == (OWNER.access_key_id, "0" * 64)
    assert error["StringToSign"].startswith(f"OSS4-HMAC-SHA256\n{headers['x-oss-date']}\n{headers['x-oss-date'][:8]}/cn-hangzhou/oss/aliyun_v4_request\n")
    assert OWNER.secret not in reply.body.decode()


@pytest.mark.parametrize("headers, status, code, fields", [
    pytest.param({"Authorization": "OSS LTAIx:c2lnbmF0dXJl"}, 400, "InvalidArgument", {}, id="v1-refused"),
    pytest.param({"Authorization": "OSS4-HMAC-SHA256 Signature=00"}, 400, "InvalidArgument", {}, id="no-credential"),
    pytest.param({"Authorization": "OSS4-HMAC-SHA256 Credential=LTAIx/20260101,Signature=00"}, 400, "InvalidArgument", {}, id="short-credential"),
    pytest.param({"Authorization": "OSS4-HMAC-SHA256 Credential=LTAIx/20260101/cn-hangzhou/oss/aliyun_v4_request,Signature=00"},
                 403, "AccessDenied", {}, id="no-x-oss-date"),
    pytest.param({"Authorization": "OSS4-HMAC-SHA256 Credential=LTAIunknown/20260101/cn-hangzhou/oss/aliyun_v4_request,Signature=00",
                  "x-oss-date": "{now}"}, 403, "InvalidAccessKeyId", {"OSSAccessKeyId": "LTAIunknown"}, id="unknown-key-id"),
])  # fmt: skip
def test_malformed_or_unknown_authorization(private_origin: RunningOrigin, headers: dict[str, str], status: int, code: str, fields: dict[str, str]) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    reply = fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers={name: value.format(now=stamp) for name, value in headers.items()})
    error = oss_error(reply)
    assert (reply.status, error["Code"]) == (status, code)
    assert {name: error[name] for name in fields} == fields


def test_request_time_too_skewed(private_origin: RunningOrigin) -> None:
    headers = signed_headers(OWNER, now=time.time() - 16 * 60)
    error = oss_error(fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=headers))
    assert error["Code"] == "RequestTimeTooSkewed" and error["RequestTime"] == headers["x-oss-date"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", error["ServerTime"])
    assert fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=signed_headers(OWNER, now=time.time() - 14 * 60)).status == 200


def test_security_tokens(private_origin: RunningOrigin) -> None:
    no_token = signed_headers(Credentials(TEMPORARY.access_key_id, TEMPORARY.secret))
    other_token = signed_headers(Credentials(TEMPORARY.access_key_id, TEMPORARY.secret, session_token="CAISother=="))
    lapsed = signed_headers(Credentials(LAPSED.access_key_id, LAPSED.secret, LAPSED.session_token))  # the signer does not know it lapsed
    assert oss_error(fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=no_token))["Code"] == "InvalidSecurityToken"
    assert oss_error(fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=other_token))["Code"] == "InvalidSecurityToken"
    assert oss_error(fetch(private_origin.port, "/a.txt", host=SECURE_HOST, headers=lapsed))["Code"] == "SecurityTokenExpired"


def test_presigned_url_expiry_and_lifetime(private_origin: RunningOrigin) -> None:
    signer = Signer.for_oss("cn-hangzhou", SECURE, OWNER)
    assert fetch(private_origin.port, signer.presign("GET", SECURE_HOST, "/a.txt", expires=5), host=SECURE_HOST).body == OBJECTS["a.txt"]
    expired = fetch(private_origin.port, signer.presign("GET", SECURE_HOST, "/a.txt", expires=5, now=time.time() - 6), host=SECURE_HOST)
    error = oss_error(expired)
    assert (expired.status, error["Code"], error["Message"]) == (403, "AccessDenied", "Request has expired.")
    assert set(error) >= {"Expires", "ServerTime"} and error["Expires"] < error["ServerTime"]
    future = fetch(private_origin.port, signer.presign("GET", SECURE_HOST, "/a.txt", expires=60, now=time.time() + 16 * 60), host=SECURE_HOST)
    assert (future.status, oss_error(future)["Message"]) == (403, "Request is not valid yet.")


@pytest.mark.parametrize("change, code", [
    pytest.param(("x-oss-signature-version=OSS4-HMAC-SHA256", "x-oss-signature-version=OSS2"), "InvalidArgument", id="not-v4"),
    pytest.param(("x-oss-expires=60", "x-oss-expires=604801"), "InvalidArgument", id="over-7-days"),
    pytest.param(("x-oss-expires=60", "x-oss-expires=0"), "InvalidArgument", id="zero"),
    pytest.param(("x-oss-expires=60", "x-oss-expires=sixty"), "InvalidArgument", id="not-a-number"),
    pytest.param(("x-oss-date=", "x-oss-date=2026-01-01&x="), "AccessDenied", id="bad-date"),
])  # fmt: skip
def test_malformed_presigned_url(private_origin: RunningOrigin, change: tuple[str, str], code: str) -> None:
    target = Signer.for_oss("cn-hangzhou", SECURE, OWNER).presign("GET", SECURE_HOST, "/a.txt", expires=60)
    assert change[0] in target
    reply = fetch(private_origin.port, target.replace(*change), host=SECURE_HOST)
    assert reply.status in (400, 403) and oss_error(reply)["Code"] == code


def test_private_bucket_arguments_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="private: '../x' is not a bucket name"):
        LocalOrigin(tmp_path, private={"../x": [OWNER]})
    with pytest.raises(TypeError, match="must be osscname.credentials.Credentials"):
        LocalOrigin(tmp_path, private={SECURE: [("LTAIx", "secret")]})  # type: ignore[list-item]


def test_serve_bucket_private_from_the_environment(tmp_path: Path, command_env: dict[str, str]) -> None:
    write(tmp_path / SECURE / "a.txt", OBJECTS["a.txt"])
    environ = {**command_env, "OSS_ACCESS_KEY_ID": OWNER.access_key_id, "OSS_ACCESS_KEY_SECRET": OWNER.secret}
    environ.pop("OSS_SESSION_TOKEN", None)
    command = [sys.executable, "-c", SERVE, str(tmp_path), "--port", "0", "--private", SECURE, "--region", "cn-shanghai"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=environ)
    try:
        assert process.stderr is not None
        port = int(re.findall(r"http://127\.0\.0\.1:(\d+)", process.stderr.readline())[0])
        assert fetch(port, "/a.txt", host=SECURE_HOST).status == 403
        shanghai = Signer.for_oss("cn-shanghai", SECURE, OWNER).sign("GET", SECURE_HOST, "/a.txt")
        assert fetch(port, "/a.txt", host=SECURE_HOST, headers=dict(shanghai.headers)).body == OBJECTS["a.txt"]
        assert fetch(port, "/a.txt", host=SECURE_HOST, headers=signed_headers(OWNER)).status == 403  # signed for cn-hangzhou
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_serve_bucket_private_without_credentials_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from osscname.testing.origin import main

    monkeypatch.delenv("OSS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "not-shown")
    assert main([str(tmp_path), "--port", "0", "--private", SECURE]) == 2
    error = capsys.readouterr().err
    assert error.startswith("osscname serve-bucket: error: OSS_ACCESS_KEY_ID is not set") and "not-shown" not in error
