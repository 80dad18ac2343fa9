"""Signing for private buckets (osscname.signing, osscname.credentials), proven by implementations that are not ours.

* OSS V4 headers: the local origin's private buckets, over real HTTP on 127.0.0.1, recompute every
  signature with the official alibabacloud-oss-v2 SDK's signer from the request as received.
* OSS V4 presigned URLs: fetched from the same origin, and compared byte for byte with the SDK
  client's own ``presign`` for a fixed time.
* SigV4 headers: moto's server with IAM authentication on (it recomputes the signature with botocore's
  S3 signer from the bytes received), for an IAM user and for STS credentials of an assumed role.
* SigV4 presigned URLs, which moto does not check: nanio's server (a SigV4 verifier of its own, header
  and query forms, with expiry), and botocore's ``generate_presigned_url`` for a fixed time; and the
  presigned-URL example of AWS's S3 documentation.
* Credentials: the SDK variable names, clear errors naming the variable, secrets never shown, rotation.

Every path case is sent in the spellings a client may use (encoded or not, lower-case hex, ``%2F``,
``+``, unicode, ``~``, ``'()``, sub-delimiters, a trailing ``/``, the empty key).
"""

from __future__ import annotations

import datetime
import http.client
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
import time
import types
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from osscname.credentials import ENVIRONMENT, Credentials, CredentialsError, RefreshingCredentials, as_provider, from_environment
from osscname.signing import MAX_EXPIRES, Signed, Signer
from osscname.testing import RunningOrigin, serve_origin
from realserver import IN_CI, Answer, free_port, send, stop, wait_for_port, write_objects

REGION = "cn-hangzhou"
BUCKET = "abc-secure"
HOST = f"{BUCKET}.oss-{REGION}.aliyuncs.com"
CNAME = "secure.abc.com"
READER = Credentials("LTAI5tExampleReader01", "reader-secret/with+slash=")
STS = Credentials("STS.NUexampleTemporary", "sts-secret", session_token="CAISexample+token/==", expires=time.time() + 3600)
FIXED = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

# (path as the client sent it, the object key it names)
PATHS = [
    ("/a.txt", "a.txt"),
    ("/hello%20world.txt", "hello world.txt"),
    ("/hello world.txt", "hello world.txt"),
    ("/a+b.txt", "a+b.txt"),
    ("/a%2Bb.txt", "a+b.txt"),
    ("/%E4%B8%AD%E6%96%87.txt", "中文.txt"),
    ("/%e4%b8%ad%e6%96%87.txt", "中文.txt"),
    ("/中文.txt", "中文.txt"),
    ("/tilde~x.txt", "tilde~x.txt"),
    ("/tilde%7Ex.txt", "tilde~x.txt"),
    ("/it's(1).txt", "it's(1).txt"),
    ("/it%27s%281%29.txt", "it's(1).txt"),
    ("/sub!$&,;=@:*.txt", "sub!$&,;=@:*.txt"),
    ("/100%25.txt", "100%.txt"),
    ("/dir/b.txt", "dir/b.txt"),
    ("/dir%2Fb.txt", "dir/b.txt"),
    ("/dir/deeper/c.txt", "dir/deeper/c.txt"),
]
KEYS = sorted({key for _, key in PATHS})
PATH_IDS = [path for path, _ in PATHS]


def body_of(key: str) -> bytes:
    return f"object {key}\n".encode()


def flip(signature: str) -> str:
    """The signature with its last hex digit changed."""
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def query_pairs(target: str) -> list[str]:
    """The raw ``name=value`` pieces of a target's query, sorted (order is not significant)."""
    return sorted(target.partition("?")[2].split("&"))


def fail_or_skip(message: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def require_module(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        fail_or_skip(f"{name} is not installed (pip install -e '.[test]')")


# --- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["oss", "s3"])
def test_credentials_from_the_sdk_variables(kind: str) -> None:
    key_id, secret, token = ENVIRONMENT[kind]
    assert from_environment(kind, {key_id: "AKID1234", secret: "s3cr3t"}) == Credentials("AKID1234", "s3cr3t")  # type: ignore[arg-type]
    with_token = from_environment(kind, {key_id: "AKID1234", secret: "s3cr3t", token: "tok/en=="})  # type: ignore[arg-type]
    assert with_token.session_token == "tok/en==" and with_token.expires is None


def test_environment_names_are_the_official_sdks() -> None:
    assert ENVIRONMENT == {"oss": ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"),
                           "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}  # fmt: skip


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "LTAIfromenv")
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "env-secret")
    monkeypatch.delenv("OSS_SESSION_TOKEN", raising=False)
    assert from_environment("oss") == Credentials("LTAIfromenv", "env-secret")


@pytest.mark.parametrize("environ, named", [
    pytest.param({}, ["OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set"], id="none"),
    pytest.param({"OSS_ACCESS_KEY_ID": "LTAIx"}, ["OSS_ACCESS_KEY_SECRET is not set"], id="no-secret"),
    pytest.param({"OSS_ACCESS_KEY_SECRET": "hidden-value"}, ["OSS_ACCESS_KEY_ID is not set"], id="no-id"),
    pytest.param({"OSS_ACCESS_KEY_ID": "", "OSS_ACCESS_KEY_SECRET": "hidden-value"}, ["OSS_ACCESS_KEY_ID is not set"], id="empty-is-missing"),
    pytest.param({"OSS_ACCESS_KEY_ID": "LTAIx", "OSS_ACCESS_KEY_SECRET": " hidden-value"}, ["OSS_ACCESS_KEY_SECRET has leading or trailing whitespace"], id="secret-whitespace"),
    pytest.param({"OSS_ACCESS_KEY_ID": "LTAI x", "OSS_ACCESS_KEY_SECRET": "hidden-value"}, ["OSS_ACCESS_KEY_ID must be printable ASCII"], id="id-space"),
    pytest.param({"OSS_ACCESS_KEY_ID": "LTAI/x", "OSS_ACCESS_KEY_SECRET": "hidden-value"}, ["OSS_ACCESS_KEY_ID must be", "'/'"], id="id-slash"),
    pytest.param({"OSS_ACCESS_KEY_ID": "LTAIx", "OSS_ACCESS_KEY_SECRET": "hidden-value", "OSS_SESSION_TOKEN": "hidden\nvalue"},
                 ["OSS_SESSION_TOKEN must be printable ASCII"], id="token-newline"),
])  # fmt: skip
def test_missing_or_bad_variable_is_named_never_shown(environ: dict[str, str], named: list[str]) -> None:
    with pytest.raises(CredentialsError) as raised:
        from_environment("oss", environ)
    message = str(raised.value)
    assert all(part in message for part in named), message
    assert "hidden" not in message


def test_s3_error_names_the_aws_variables() -> None:
    with pytest.raises(CredentialsError, match="AWS_SECRET_ACCESS_KEY is not set: private buckets on an S3-compatible endpoint"):
        from_environment("s3", {"AWS_ACCESS_KEY_ID": "AKIAx"})


def test_repr_and_str_hide_the_secret_and_token() -> None:
    credentials = Credentials("LTAI5tAbcdefgh123456", "the-secret-value", session_token="the-token-value", expires=1.5)
    for shown in (repr(credentials), str(credentials), f"{credentials}", repr([credentials])):
        assert "the-secret-value" not in shown and "the-token-value" not in shown and "LTAI5tAbcdefgh123456" not in shown
        assert "LTAI...3456" in shown and "<hidden>" in shown


@pytest.mark.parametrize("arguments, message", [
    pytest.param(("", "x"), "access_key_id is empty", id="empty-id"),
    pytest.param(("a,b", "x"), "access_key_id must be", id="id-comma"),
    pytest.param(("id", ""), "secret is empty", id="empty-secret"),
    pytest.param(("id", "x\ty"), "secret contains a control character", id="secret-control"),
    pytest.param(("id", "x", "to ken"), "session_token must be printable ASCII", id="token-space"),
    pytest.param(("id", "x", None, "soon"), "expires must be a Unix timestamp", id="expires-text"),
    pytest.param((1, "x"), "access_key_id must be a string", id="id-not-text"),
])  # fmt: skip
def test_credentials_checked_when_built(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        Credentials(*arguments)


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_refreshing_reuses_until_the_margin_then_fetches() -> None:
    clock, fetched = Clock(), []

    def fetch() -> Credentials:
        fetched.append(clock.now)
        return Credentials(f"STS.key{len(fetched)}", "secret", "token", expires=clock.now + 3600)

    provider = RefreshingCredentials(fetch, margin=300, clock=clock)
    assert provider().access_key_id == "STS.key1"
    clock.now += 3299
    assert provider().access_key_id == "STS.key1" and len(fetched) == 1
    clock.now += 1  # 300 s before expiry
    assert provider().access_key_id == "STS.key2" and fetched == [1_000_000.0, 1_003_300.0]


def test_refreshing_keeps_valid_credentials_when_the_fetch_fails(caplog: pytest.LogCaptureFixture) -> None:
    clock, calls = Clock(), []

    def fetch() -> Credentials:
        calls.append(clock.now)
        if len(calls) == 1:
            return Credentials("STS.first", "first-secret", "first-token", expires=clock.now + 1000)
        raise ConnectionError("token service down (first-secret)")

    provider = RefreshingCredentials(fetch, margin=300, retry=10, clock=clock)
    first = provider()
    clock.now += 800
    with caplog.at_level(logging.WARNING, logger="osscname.credentials"):
        assert provider() is first
    assert "ConnectionError" in caplog.text and "first-secret" not in caplog.text and "first-token" not in caplog.text
    clock.now += 5
    assert provider() is first and len(calls) == 2  # within retry: no new fetch
    clock.now += 10
    assert provider() is first and len(calls) == 3
    clock.now += 200  # expired now: nothing valid to fall back on
    with pytest.raises(CredentialsError, match=r"the credentials provider failed \(ConnectionError\)") as raised:
        provider()
    assert "first-secret" not in str(raised.value) and len(calls) == 4
    clock.now += 5
    with pytest.raises(CredentialsError, match="last refresh failed 5 s ago"):
        provider()  # within retry of the last failure: refused without asking the token service again
    assert len(calls) == 4


@pytest.mark.parametrize("returned, message", [
    pytest.param(Credentials("STS.old", "s", "t", expires=999_999.0), "already expired", id="expired"),
    pytest.param(("STS.tuple", "s"), "returned tuple, not Credentials", id="not-credentials"),
])  # fmt: skip
def test_refreshing_refuses_unusable_answers(returned: Any, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        RefreshingCredentials(lambda: returned, clock=Clock())()


def test_refreshing_without_expiry_fetches_once() -> None:
    calls = []
    provider = RefreshingCredentials(lambda: calls.append(1) or READER, clock=Clock())  # type: ignore[func-returns-value]
    assert [provider() for _ in range(3)] == [READER] * 3 and calls == [1]


def test_refreshing_does_not_make_requests_wait_for_the_token_service() -> None:
    """While one thread refreshes, the others sign with the still-valid credentials at once."""
    clock, release, started = Clock(), threading.Event(), threading.Event()
    first = Credentials("STS.first", "s", "t", expires=clock.now + 400)
    answers = iter([first])

    def fetch() -> Credentials:
        try:
            return next(answers)
        except StopIteration:
            started.set()
            release.wait(10)
            return Credentials("STS.second", "s", "t", expires=clock.now + 3600)

    provider = RefreshingCredentials(fetch, margin=300, clock=clock)
    assert provider() is first
    clock.now += 200  # within the margin: the next call refreshes
    refresher = threading.Thread(target=provider)
    refresher.start()
    try:
        assert started.wait(10)
        began = time.monotonic()
        assert provider() is first and time.monotonic() - began < 1
    finally:
        release.set()
        refresher.join(10)
    assert provider().access_key_id == "STS.second"


def test_as_provider() -> None:
    assert as_provider(READER)() is READER
    assert as_provider(lambda: STS)() is STS
    with pytest.raises(TypeError, match="not str"):
        as_provider("LTAI:secret")  # type: ignore[arg-type]


# --- the signer's contract -----------------------------------------------------------------------


@pytest.mark.parametrize("path, canonical", [
    ("/a.txt", "/a.txt"),
    ("/hello world.txt", "/hello%20world.txt"),
    ("/a+b.txt", "/a%2Bb.txt"),
    ("/%e4%b8%ad.txt", "/%E4%B8%AD.txt"),
    ("/中.txt", "/%E4%B8%AD.txt"),
    ("/tilde%7Ex", "/tilde~x"),
    ("/it's(1)!*", "/it%27s%281%29%21%2A"),
    ("/dir%2Fb.txt", "/dir/b.txt"),
    ("/dir//x/./y/../z", "/dir//x/./y/../z"),
    ("/100%25", "/100%25"),
    ("/bad%zz", "/bad%25zz"),
    ("/dir/", "/dir/"),
    ("/", "/"),
])  # fmt: skip
def test_target_is_the_canonical_encoding(path: str, canonical: str) -> None:
    signed = Signer.for_s3("us-east-1", READER).sign("GET", "h", path, now=FIXED.timestamp())
    assert signed.target == canonical
    assert Signer.for_oss(REGION, BUCKET, READER).sign("GET", "h", path, now=FIXED.timestamp()).target == canonical


@pytest.mark.parametrize("query, oss, s3", [
    ("", "", ""),
    ("b=2&a=1", "a=1&b=2", "a=1&b=2"),
    ("acl", "acl", "acl="),
    ("a=&b", "a&b", "a=&b="),
    ("x=a+b&y=%2f&z=%7e", "x=a%2Bb&y=%2F&z=~", "x=a%2Bb&y=%2F&z=~"),
    ("a=2&a=1&a-b=0", "a=1&a=2&a-b=0", "a=1&a=2&a-b=0"),
    ("&&a=1&", "a=1", "a=1"),
    ("x-oss-signature=forged&X-Amz-Signature=forged&x-oss-date=1&v=1", "X-Amz-Signature=forged&v=1", "v=1&x-oss-date=1&x-oss-signature=forged"),
])  # fmt: skip
def test_query_canonical_and_signing_parameters_dropped(query: str, oss: str, s3: str) -> None:
    """Pairs sorted by name then value, re-encoded; each flavour drops its own signing parameters."""
    now = FIXED.timestamp()
    assert Signer.for_oss(REGION, BUCKET, READER).sign("GET", "h", "/k", query, now).target == ("/k?" + oss if oss else "/k")
    assert Signer.for_s3("us-east-1", READER).sign("GET", "h", "/k", query, now).target == ("/k?" + s3 if s3 else "/k")


def test_oss_headers_shape() -> None:
    signed = Signer.for_oss(REGION, BUCKET, STS).sign("GET", HOST, "/a.txt", now=FIXED.timestamp())
    names = [name for name, _ in signed.headers]
    assert names == ["x-oss-content-sha256", "x-oss-date", "x-oss-security-token", "Authorization"]
    headers = dict(signed.headers)
    assert headers["x-oss-date"] == "20260102T030405Z" and headers["x-oss-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert headers["x-oss-security-token"] == STS.session_token
    prefix = f"OSS4-HMAC-SHA256 Credential={STS.access_key_id}/20260102/{REGION}/oss/aliyun_v4_request,Signature="
    assert headers["Authorization"].startswith(prefix) and len(headers["Authorization"]) == len(prefix) + 64


def test_s3_headers_shape() -> None:
    signed = Signer.for_s3("eu-west-3", READER).sign("HEAD", "127.0.0.1:9000", "/b/k", now=FIXED.timestamp())
    headers = dict(signed.headers)
    assert [name for name, _ in signed.headers] == ["x-amz-content-sha256", "x-amz-date", "Authorization"]
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={READER.access_key_id}/20260102/eu-west-3/s3/aws4_request, "
                                               "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=")  # fmt: skip


def test_signature_depends_on_everything_signed() -> None:
    signer, now = Signer.for_s3("us-east-1", READER), FIXED.timestamp()
    base = dict(signer.sign("GET", "h:1", "/b/k", "a=1", now).headers)["Authorization"]
    others = [signer.sign("HEAD", "h:1", "/b/k", "a=1", now), signer.sign("GET", "h:2", "/b/k", "a=1", now),
              signer.sign("GET", "h:1", "/b/K", "a=1", now), signer.sign("GET", "h:1", "/b/k", "a=2", now),
              signer.sign("GET", "h:1", "/b/k", "a=1", now + 1), Signer.for_s3("us-east-2", READER).sign("GET", "h:1", "/b/k", "a=1", now)]  # fmt: skip
    assert len({base, *(dict(other.headers)["Authorization"] for other in others)}) == 7


def test_oss_signature_does_not_depend_on_host() -> None:
    """OSS V4 signs /bucket/key, not the Host: one signature serves upstream_host bucket and domain."""
    signer, now = Signer.for_oss(REGION, BUCKET, READER), FIXED.timestamp()
    assert signer.sign("GET", HOST, "/a.txt", now=now) == signer.sign("GET", CNAME, "/a.txt", now=now)
    assert signer.sign("GET", HOST, "/a.txt", now=now) != Signer.for_oss(REGION, "abc-other", READER).sign("GET", HOST, "/a.txt", now=now)


def test_signing_key_is_derived_once_per_secret_and_day() -> None:
    calls: list[Credentials] = []
    first, second = Credentials("AKID1", "secret-1"), Credentials("AKID2", "secret-2")
    current = [first]

    def provider() -> Credentials:
        calls.append(current[0])
        return current[0]

    signer = Signer.for_s3("us-east-1", provider)
    now = FIXED.timestamp()
    signer.sign("GET", "h", "/k", now=now)
    key = signer._key_cache
    signer.sign("GET", "h", "/other", now=now + 3600)
    assert signer._key_cache is key  # same day, same secret: not derived again
    signer.sign("GET", "h", "/k", now=now + 86400)
    assert signer._key_cache[1] == "20260103" and signer._key_cache is not key
    current[0] = second  # rotated: used from the next request on
    assert dict(signer.sign("GET", "h", "/k", now=now).headers)["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID2/")
    assert signer._key_cache[0] == "secret-2" and len(calls) == 4


def test_expired_credentials_refused() -> None:
    signer = Signer.for_oss(REGION, BUCKET, Credentials("STS.old", "s", "t", expires=FIXED.timestamp()))
    with pytest.raises(CredentialsError, match="expired at 2026-01-02T03:04:05Z") as raised:
        signer.sign("GET", HOST, "/a.txt", now=FIXED.timestamp())
    assert "STS.old" not in str(raised.value)
    signer.sign("GET", HOST, "/a.txt", now=FIXED.timestamp() - 1)


def test_presign_lifetime_bounded_and_shortened_to_the_credentials() -> None:
    now = FIXED.timestamp()
    signer = Signer.for_s3("us-east-1", READER)
    for bad in (0, -1, MAX_EXPIRES + 1, 1.5, True, "60"):
        with pytest.raises(ValueError, match="expires must be a whole number of seconds"):
            signer.presign("GET", "h", "/k", expires=bad, now=now)  # type: ignore[arg-type]
    assert "X-Amz-Expires=604800" in signer.presign("GET", "h", "/k", expires=MAX_EXPIRES, now=now)
    temporary = Credentials("STS.t", "s", "t", expires=now + 120.7)
    assert "x-oss-expires=120&" in Signer.for_oss(REGION, BUCKET, temporary).presign("GET", HOST, "/k", expires=3600, now=now)
    assert "x-oss-expires=60&" in Signer.for_oss(REGION, BUCKET, temporary).presign("GET", HOST, "/k", expires=60, now=now)


@pytest.mark.parametrize("call, message", [
    pytest.param(lambda: Signer.for_oss("cn/hangzhou", BUCKET, READER), "region", id="region"),
    pytest.param(lambda: Signer.for_oss(REGION, "Abc_Bucket", READER), "bucket", id="bucket"),
    pytest.param(lambda: Signer.for_s3("", READER), "region", id="empty-region"),
    pytest.param(lambda: Signer.for_oss(REGION, BUCKET, READER).sign("get", HOST, "/a"), "method", id="method-case"),
    pytest.param(lambda: Signer.for_oss(REGION, BUCKET, READER).sign("GET", "h\r\nX-Injected: 1", "/a"), "host", id="host-injection"),
    pytest.param(lambda: Signer.for_s3("us-east-1", READER).sign("GET", "", "/a"), "host", id="host-empty"),
    pytest.param(lambda: Signer.for_s3("us-east-1", READER).sign("GET", "h", "a.txt"), "path must start with '/'", id="relative-path"),
])  # fmt: skip
def test_bad_arguments_refused(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_reserved_headers() -> None:
    oss, s3 = Signer.for_oss(REGION, BUCKET, READER), Signer.for_s3("us-east-1", READER)
    for name in ("Authorization", "x-oss-meta-a", "X-OSS-Security-Token", "Content-Type", "content-md5"):
        assert oss.is_reserved_header(name), name
    for name in ("Authorization", "x-amz-meta-a", "X-Amz-Date"):
        assert s3.is_reserved_header(name), name
    for name in ("Range", "If-None-Match", "Accept-Encoding", "Origin", "x-forwarded-for"):
        assert not oss.is_reserved_header(name) and not s3.is_reserved_header(name), name
    assert not s3.is_reserved_header("x-oss-meta-a") and not oss.is_reserved_header("x-amz-meta-a")


def test_signer_shared_between_threads() -> None:
    """Signatures from many threads at once equal the ones computed alone (the caches are replaced whole)."""
    signer, now = Signer.for_oss(REGION, BUCKET, READER), FIXED.timestamp()
    work = [(f"/k{i}", now + i * 43200) for i in range(40)]  # crosses days: the key cache changes under load
    alone = [signer.sign("GET", HOST, path, now=when) for path, when in work]
    results: list[list[Signed]] = [[] for _ in range(4)]

    def run(index: int) -> None:
        results[index] = [signer.sign("GET", HOST, path, now=when) for path, when in work * 5]

    threads = [threading.Thread(target=run, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(result == alone * 5 for result in results)


# --- AWS's documented example --------------------------------------------------------------------


def test_aws_documented_presigned_url() -> None:
    """The presigned-URL example of the S3 API reference (Authenticating Requests: Using Query Parameters)."""
    credentials = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    now = datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc).timestamp()
    target = Signer.for_s3("us-east-1", credentials).presign("GET", "examplebucket.s3.amazonaws.com", "/test.txt", expires=86400, now=now)
    assert target.endswith("&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


# --- OSS: the SDK's own presign, for a fixed time --------------------------------------------------


@pytest.fixture
def frozen_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs' clocks read FIXED (each signer module's own reference to the time, nothing else)."""
    require_module("alibabacloud_oss_v2")
    require_module("botocore")
    from alibabacloud_oss_v2.signer import v4
    import botocore.auth

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return FIXED if tz is not None else FIXED.replace(tzinfo=None)

    monkeypatch.setattr(v4, "datetime", types.SimpleNamespace(datetime=Frozen, timezone=datetime.timezone, timedelta=datetime.timedelta))
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: FIXED.replace(tzinfo=None))


@pytest.mark.usefixtures("frozen_sdks")
@pytest.mark.parametrize("credentials", [READER, STS], ids=["long-term", "sts"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path, key", PATHS, ids=PATH_IDS)
def test_oss_presign_equals_the_sdks(path: str, key: str, method: str, credentials: Credentials) -> None:
    import alibabacloud_oss_v2 as oss

    config = oss.config.load_default()
    config.credentials_provider = oss.credentials.StaticCredentialsProvider(credentials.access_key_id, credentials.secret, credentials.session_token)
    config.region = REGION
    model = oss.GetObjectRequest if method == "GET" else oss.HeadObjectRequest
    result = oss.Client(config).presign(model(bucket=BUCKET, key=key), expiration=FIXED + datetime.timedelta(seconds=600))
    expected = urllib.parse.urlsplit(result.url)
    ours = Signer.for_oss(REGION, BUCKET, credentials).presign(method, HOST, path, expires=600, now=FIXED.timestamp())
    assert (result.method, expected.netloc) == (method, HOST)
    assert ours.partition("?")[0] == expected.path
    assert query_pairs(ours) == sorted(expected.query.split("&"))


# --- SigV4: botocore's own presign, for a fixed time ---------------------------------------------


@pytest.mark.usefixtures("frozen_sdks")
@pytest.mark.parametrize("credentials", [READER, STS], ids=["long-term", "sts"])
@pytest.mark.parametrize("path, key", PATHS, ids=PATH_IDS)
def test_s3_presign_equals_botocores(path: str, key: str, credentials: Credentials) -> None:
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", region_name="eu-central-1", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret, aws_session_token=credentials.session_token,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))  # fmt: skip
    expected = urllib.parse.urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": key}, ExpiresIn=600))
    ours = Signer.for_s3("eu-central-1", credentials).presign("GET", "127.0.0.1:9000", "/bkt" + path, expires=600, now=FIXED.timestamp())
    assert ours.partition("?")[0] == expected.path
    assert query_pairs(ours) == sorted(expected.query.split("&"))


# --- header signatures for every method, straight from the SDKs' signers ---------------------------
# The servers below check GET and HEAD over HTTP; the origin answers OPTIONS itself (405), and moto
# answers it as a CORS preflight, so OPTIONS is compared with the SDKs' signers here, as they compute it.

QUERIES = ["", "response-content-type=text%2Fplain&x=a+b", "acl", "b=2&a=1&a=0&empty="]


def decoded_pairs(query: str) -> list[tuple[str, str]]:
    """The query as a server reads it: pairs percent-decoded, ``+`` a plus."""
    return [(urllib.parse.unquote(name), urllib.parse.unquote(value)) for name, _, value in (piece.partition("=") for piece in query.split("&") if piece)]


@pytest.mark.usefixtures("frozen_sdks")
@pytest.mark.parametrize("credentials", [READER, STS], ids=["long-term", "sts"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("path, key", PATHS[::2], ids=PATH_IDS[::2])
def test_oss_headers_equal_the_sdk_signers(path: str, key: str, method: str, query: str, credentials: Credentials) -> None:
    from alibabacloud_oss_v2 import types as sdk
    from alibabacloud_oss_v2.signer.v4 import SignerV4

    pairs = decoded_pairs(query)
    url = f"https://{HOST}/{urllib.parse.quote(key)}" + ("?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote) if pairs else "")
    request = sdk.HttpRequest(method, url, headers={})
    SignerV4().sign(sdk.SigningContext(product="oss", region=REGION, bucket=BUCKET, key=key, request=request, signing_time=FIXED,
                                       credentials=sdk.Credentials(credentials.access_key_id, credentials.secret, credentials.session_token)))  # fmt: skip
    ours = dict(Signer.for_oss(REGION, BUCKET, credentials).sign(method, HOST, path, query, FIXED.timestamp()).headers)
    assert ours == {name: value for name, value in request.headers.items() if name != "Date"}


@pytest.mark.usefixtures("frozen_sdks")
@pytest.mark.parametrize("credentials", [READER, STS], ids=["long-term", "sts"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("path, key", PATHS[::2], ids=PATH_IDS[::2])
def test_s3_headers_equal_botocores_signer(path: str, key: str, method: str, query: str, credentials: Credentials) -> None:
    """botocore's S3 signer over the target we send, as moto's server runs it (from the bytes received)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    host = "127.0.0.1:9000"
    signed = Signer.for_s3("ap-southeast-1", credentials).sign(method, host, "/bkt" + path, query, FIXED.timestamp())
    ours = dict(signed.headers)
    received = {"Host": host, "X-Amz-Content-SHA256": ours["x-amz-content-sha256"], "X-Amz-Date": ours["x-amz-date"]}
    if credentials.session_token:
        received["X-Amz-Security-Token"] = ours["x-amz-security-token"]
    request = AWSRequest(method=method, url=f"http://{host}{signed.target}", headers=received)
    request.context["timestamp"] = ours["x-amz-date"]
    auth = S3SigV4Auth(BotoCredentials(credentials.access_key_id, credentials.secret, credentials.session_token), "s3", "ap-southeast-1")
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert ours["Authorization"].endswith(f", Signature={signature}") and ours["x-amz-date"] == "20260102T030405Z"


# --- OSS: the local origin's private bucket (the SDK's signer checks every request) ----------------


@pytest.fixture(scope="module")
def oss_origin_private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrigin]:
    require_module("alibabacloud_oss_v2")
    root = write_objects(tmp_path_factory.mktemp("buckets"), {f"{BUCKET}/{key}": body_of(key) for key in KEYS})
    with serve_origin(root, cnames={CNAME: BUCKET}, private={BUCKET: [READER, STS]}, region=REGION) as origin:
        yield origin


def fetch(origin: RunningOrigin, signed: Signed | str, *, host: str = HOST, method: str = "GET", extra: dict[str, str] | None = None) -> Answer:
    target, headers = (signed, {}) if isinstance(signed, str) else (signed.target, dict(signed.headers))
    return send(origin.port, target, host=host, method=method, headers={**headers, **(extra or {})})


def error_code(reply: Answer) -> str:
    import xml.etree.ElementTree as ET

    return ET.fromstring(reply.body).findtext("Code") or "" if reply.body else ""


@pytest.mark.parametrize("host", [HOST, CNAME], ids=["upstream-host-bucket", "upstream-host-domain"])
@pytest.mark.parametrize("credentials", [READER, STS], ids=["long-term", "sts"])
@pytest.mark.parametrize("path, key", PATHS, ids=PATH_IDS)
def test_oss_signed_get_served(oss_origin_private: RunningOrigin, path: str, key: str, credentials: Credentials, host: str) -> None:
    signed = Signer.for_oss(REGION, BUCKET, credentials).sign("GET", host, path)
    reply = fetch(oss_origin_private, signed, host=host)
    assert (reply.status, reply.body) == (200, body_of(key)), reply.body
    assert reply.headers["X-Origin-Uri"] == signed.target


@pytest.mark.parametrize("path, key", PATHS, ids=PATH_IDS)
def test_oss_signed_head_and_query_served(oss_origin_private: RunningOrigin, path: str, key: str) -> None:
    signer = Signer.for_oss(REGION, BUCKET, READER)
    head = fetch(oss_origin_private, signer.sign("HEAD", HOST, path), method="HEAD")
    assert (head.status, head.headers["Content-Length"], head.body) == (200, str(len(body_of(key))), b"")
    query = "response-content-type=text%2Fplain&versionId=null&a=b+c&x=%E4%B8%AD&empty=&flag"
    assert fetch(oss_origin_private, signer.sign("GET", HOST, path, query)).status == 200


@pytest.mark.parametrize("path", ["/", "/dir/", "/missing.txt"])
def test_oss_signed_folder_and_missing_keys_reach_the_bucket(oss_origin_private: RunningOrigin, path: str) -> None:
    """The empty key and a trailing slash sign as /bucket/ and /bucket/dir/: the origin lets them through to its 404."""
    signed = fetch(oss_origin_private, Signer.for_oss(REGION, BUCKET, READER).sign("GET", HOST, path))
    unsigned = fetch(oss_origin_private, path)
    assert (signed.status, error_code(signed)) == (404, "NoSuchKey")
    assert (unsigned.status, error_code(unsigned)) == (403, "AccessDenied")


def test_oss_refusals(oss_origin_private: RunningOrigin) -> None:
    signer = Signer.for_oss(REGION, BUCKET, READER)
    good = signer.sign("GET", HOST, "/a.txt")
    headers = dict(good.headers)
    cases = {
        "unsigned": (fetch(oss_origin_private, "/a.txt"), 403, "AccessDenied"),
        "tampered": (fetch(oss_origin_private, good, extra={"Authorization": flip(headers["Authorization"])}), 403, "SignatureDoesNotMatch"),
        "other key": (fetch(oss_origin_private, Signed("/dir/b.txt", good.headers)), 403, "SignatureDoesNotMatch"),
        "other method": (fetch(oss_origin_private, good, method="HEAD"), 403, ""),  # HEAD: no body
        "wrong secret": (fetch(oss_origin_private, Signer.for_oss(REGION, BUCKET, Credentials(READER.access_key_id, "wrong")).sign("GET", HOST, "/a.txt")),
                         403, "SignatureDoesNotMatch"),  # fmt: skip
        "wrong region": (fetch(oss_origin_private, Signer.for_oss("cn-shanghai", BUCKET, READER).sign("GET", HOST, "/a.txt")), 403, "SignatureDoesNotMatch"),
        "wrong bucket": (fetch(oss_origin_private, Signer.for_oss(REGION, "abc-other", READER).sign("GET", HOST, "/a.txt")), 403, "SignatureDoesNotMatch"),
        "unknown key id": (fetch(oss_origin_private, Signer.for_oss(REGION, BUCKET, Credentials("LTAIunknown", "x")).sign("GET", HOST, "/a.txt")),
                           403, "InvalidAccessKeyId"),  # fmt: skip
        "date changed": (fetch(oss_origin_private, good, extra={"x-oss-date": signer.sign("GET", HOST, "/a.txt", now=time.time() + 1).headers[1][1]}),
                         403, "SignatureDoesNotMatch"),  # fmt: skip
        "skewed": (fetch(oss_origin_private, signer.sign("GET", HOST, "/a.txt", now=time.time() - 1000)), 403, "RequestTimeTooSkewed"),
        "no token": (fetch(oss_origin_private, Signer.for_oss(REGION, BUCKET, Credentials(STS.access_key_id, STS.secret)).sign("GET", HOST, "/a.txt")),
                     403, "InvalidSecurityToken"),  # fmt: skip
        "signed header added": (fetch(oss_origin_private, good, extra={"x-oss-meta-note": "added after signing"}), 403, "SignatureDoesNotMatch"),
        "content-type added": (fetch(oss_origin_private, good, extra={"Content-Type": "text/plain"}), 403, "SignatureDoesNotMatch"),
    }
    for name, (reply, status, code) in cases.items():
        assert (reply.status, error_code(reply)) == (status, code), (name, reply.body)


def test_oss_unsigned_headers_may_be_added(oss_origin_private: RunningOrigin) -> None:
    """What a proxy forwards (Range, conditionals, its own X-Forwarded-*) is not signed; reserved headers it drops."""
    client = {"Range": "bytes=0-5", "If-None-Match": '"x"', "X-Forwarded-For": "192.0.2.1", "x-oss-meta-x": "1", "Authorization": "Bearer x"}
    signer = Signer.for_oss(REGION, BUCKET, READER)
    forwarded = {name: value for name, value in client.items() if not signer.is_reserved_header(name)}
    reply = fetch(oss_origin_private, signer.sign("GET", HOST, "/a.txt"), extra=forwarded)
    assert (reply.status, reply.body) == (206, body_of("a.txt")[:6])


def test_oss_string_to_sign_in_the_error_is_the_sdks(oss_origin_private: RunningOrigin) -> None:
    """The origin's SignatureDoesNotMatch carries the SDK's StringToSign: for a good signature it is ours."""
    import hashlib
    import xml.etree.ElementTree as ET

    now = time.time()
    signed = Signer.for_oss(REGION, BUCKET, READER).sign("GET", HOST, "/a+b.txt", "x=1", now)
    reply = fetch(oss_origin_private, signed, extra={"Authorization": flip(dict(signed.headers)["Authorization"])})
    string_to_sign = ET.fromstring(reply.body).findtext("StringToSign") or ""
    stamp = dict(signed.headers)["x-oss-date"]
    canonical = f"GET\n/{BUCKET}/a%2Bb.txt\nx=1\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:{stamp}\n\n\nUNSIGNED-PAYLOAD"
    assert string_to_sign == f"OSS4-HMAC-SHA256\n{stamp}\n{stamp[:8]}/{REGION}/oss/aliyun_v4_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"


@pytest.mark.parametrize("credentials", [READER, STS], ids=["long-term", "sts"])
@pytest.mark.parametrize("path, key", PATHS, ids=PATH_IDS)
def test_oss_presigned_url_served(oss_origin_private: RunningOrigin, path: str, key: str, credentials: Credentials) -> None:
    target = Signer.for_oss(REGION, BUCKET, credentials).presign("GET", HOST, path, "response-content-type=text%2Fplain", expires=60)
    reply = fetch(oss_origin_private, target)
    assert (reply.status, reply.body) == (200, body_of(key)), reply.body
    assert fetch(oss_origin_private, target, host=CNAME).status == 200


def test_oss_presigned_refusals(oss_origin_private: RunningOrigin) -> None:
    signer = Signer.for_oss(REGION, BUCKET, READER)
    good = signer.presign("GET", HOST, "/a.txt", expires=60)
    expired = fetch(oss_origin_private, signer.presign("GET", HOST, "/a.txt", expires=60, now=time.time() - 61))
    assert (expired.status, error_code(expired)) == (403, "AccessDenied") and b"<Message>Request has expired.</Message>" in expired.body
    cases = {
        "tampered": (flip(good), "GET", "SignatureDoesNotMatch"),
        "other key": (good.replace("/a.txt?", "/dir/b.txt?"), "GET", "SignatureDoesNotMatch"),
        "head with a GET url": (good, "HEAD", "SignatureDoesNotMatch"),
        "longer lifetime": (good.replace("x-oss-expires=60", "x-oss-expires=600"), "GET", "SignatureDoesNotMatch"),
        "parameter added": (good + "&response-content-type=text%2Fhtml", "GET", "SignatureDoesNotMatch"),
        "wrong secret": (Signer.for_oss(REGION, BUCKET, Credentials(READER.access_key_id, "wrong")).presign("GET", HOST, "/a.txt"), "GET", "SignatureDoesNotMatch"),
    }
    for name, (target, method, code) in cases.items():
        reply = fetch(oss_origin_private, target, method=method)
        assert reply.status == 403, (name, reply.body)
        assert method == "HEAD" or error_code(reply) == code, (name, reply.body)


@pytest.mark.parametrize("query", ["a=1&b=2&a=3", "a=3&a=1", "%E9=%FC", "x=%FF%FE&y", "q=%E4%B8%AD&q=%E9"],
                         ids=["repeated", "repeated-unsorted", "latin-1", "not-utf-8", "both"])  # fmt: skip
def test_oss_queries_that_repeat_a_name_or_are_not_utf8(oss_origin_private: RunningOrigin, query: str) -> None:
    """A query that repeats a name, or whose bytes are not UTF-8, is signed pair by pair, byte for byte, and
    checked so: signed and presigned both served, the same query altered refused."""
    signer = Signer.for_oss(REGION, BUCKET, READER)
    signed = signer.sign("GET", HOST, "/a.txt", query)
    assert fetch(oss_origin_private, signed).status == 200
    target = signer.presign("GET", HOST, "/a.txt", query, expires=60)
    assert fetch(oss_origin_private, target).status == 200
    altered = target.replace("a=1", "a=2").replace("%E9", "%E8").replace("%FF", "%FD")
    assert altered != target and fetch(oss_origin_private, altered).status == 403


def test_origin_lists_what_it_refused(tmp_path: Path) -> None:
    """What a test asserts to prove that every request a front end sent to a private bucket was signed."""
    root = write_objects(tmp_path, {f"{BUCKET}/a.txt": b"a\n", "abc-open/a.txt": b"a\n"})
    with serve_origin(root, private={BUCKET: [READER]}, region=REGION) as origin:
        assert fetch(origin, Signer.for_oss(REGION, BUCKET, READER).sign("GET", HOST, "/a.txt")).status == 200
        assert fetch(origin, "/a.txt", host="abc-open.oss-cn-hangzhou.aliyuncs.com").status == 200
        assert origin.app.refusals == []
        assert fetch(origin, "/a.txt?x=1").status == 403
        assert fetch(origin, Signer.for_oss(REGION, BUCKET, Credentials(READER.access_key_id, "wrong")).sign("GET", HOST, "/a.txt")).status == 403
        assert origin.app.refusals == [f"AccessDenied {BUCKET} /a.txt?x=1", f"SignatureDoesNotMatch {BUCKET} /a.txt"]


S3_HOST = "abc-s3.minio.test:9000"  #: a private custom endpoint's bucket host on the local origin (SigV4, us-east-1)
S3_READER, S3_STS = Credentials("AKIAORIGINREADER0001", "s3-secret/with+slash"), Credentials("ASIAORIGINTEMP", "s3-tmp", session_token="tok+en/==")


def test_origin_checks_sigv4_as_s3_does(tmp_path: Path) -> None:
    """A private custom-endpoint bucket on the local origin: header-signed and presigned SigV4 requests
    (our signer's, and botocore's own presign) served; the refusals S3 gives, each named."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    root = write_objects(tmp_path, {"abc-s3/base/a b.txt": b"s3 a\n"})
    with serve_origin(root, private={"abc-s3": [S3_READER, S3_STS]}) as origin:
        signer = Signer.for_s3("us-east-1", S3_READER)
        for query in ("", "x=1&a=%2F", "a=3&a=1", "%E9=1"):
            signed = signer.sign("GET", S3_HOST, "/base/a%20b.txt", query)
            assert fetch(origin, signed, host=S3_HOST).body == b"s3 a\n", query
            assert fetch(origin, signer.presign("GET", S3_HOST, "/base/a%20b.txt", query, expires=60), host=S3_HOST).status == 200, query
        assert fetch(origin, Signer.for_s3("us-east-1", S3_STS).sign("GET", S3_HOST, "/base/a%20b.txt"), host=S3_HOST).status == 200
        theirs = botocore.awsrequest.AWSRequest(method="GET", url=f"http://{S3_HOST}/base/a%20b.txt?v=2")
        botocore.auth.S3SigV4QueryAuth(botocore.credentials.Credentials(S3_READER.access_key_id, S3_READER.secret), "s3", "us-east-1", expires=60).add_auth(theirs)
        assert fetch(origin, theirs.url.partition(S3_HOST)[2], host=S3_HOST).status == 200
        good = signer.sign("GET", S3_HOST, "/base/a%20b.txt")
        headers = dict(good.headers)
        cases = {
            "unsigned": (fetch(origin, "/base/a%20b.txt", host=S3_HOST), "AccessDenied"),
            "tampered": (fetch(origin, good, host=S3_HOST, extra={"Authorization": flip(headers["Authorization"])}), "SignatureDoesNotMatch"),
            "wrong region": (fetch(origin, Signer.for_s3("eu-west-1", S3_READER).sign("GET", S3_HOST, "/base/a%20b.txt"), host=S3_HOST), "SignatureDoesNotMatch"),
            "wrong secret": (fetch(origin, Signer.for_s3("us-east-1", Credentials(S3_READER.access_key_id, "no")).presign("GET", S3_HOST, "/base/a%20b.txt"), host=S3_HOST),
                             "SignatureDoesNotMatch"),  # fmt: skip
            "other key": (fetch(origin, Signed("/base/b.txt", good.headers), host=S3_HOST), "SignatureDoesNotMatch"),
            "unknown key id": (fetch(origin, Signer.for_s3("us-east-1", Credentials("AKIAUNKNOWN", "x")).sign("GET", S3_HOST, "/base/a%20b.txt"), host=S3_HOST),
                               "InvalidAccessKeyId"),  # fmt: skip
            "no token": (fetch(origin, Signer.for_s3("us-east-1", Credentials(S3_STS.access_key_id, S3_STS.secret)).sign("GET", S3_HOST, "/base/a%20b.txt"), host=S3_HOST),
                         "InvalidToken"),  # fmt: skip
            "expired": (fetch(origin, signer.presign("GET", S3_HOST, "/base/a%20b.txt", expires=60, now=time.time() - 61), host=S3_HOST), "AccessDenied"),
            "skewed": (fetch(origin, signer.sign("GET", S3_HOST, "/base/a%20b.txt", now=time.time() - 1000), host=S3_HOST), "RequestTimeTooSkewed"),
        }
        for name, (reply, code) in cases.items():
            assert (reply.status, error_code(reply)) == (403, code), (name, reply.body)
        assert len(origin.app.refusals) == len(cases)


def test_oss_head_presigned_for_head(oss_origin_private: RunningOrigin) -> None:
    target = Signer.for_oss(REGION, BUCKET, READER).presign("HEAD", HOST, "/a.txt", expires=60)
    assert fetch(oss_origin_private, target, method="HEAD").status == 200
    assert fetch(oss_origin_private, target).status == 403


def test_oss_rotation_without_restart(tmp_path: Path) -> None:
    """A provider's new credentials are signed with from the next request on; the old ones stop at the origin when they expire."""
    require_module("alibabacloud_oss_v2")
    clock = Clock(time.time())
    first = Credentials("STS.first", "first-secret", "first-token", expires=clock.now + 400)
    second = Credentials("STS.second", "second-secret", "second-token", expires=clock.now + 4000)
    answers = iter([first, second])
    signer = Signer.for_oss(REGION, BUCKET, RefreshingCredentials(lambda: next(answers), margin=300, clock=clock))
    root = write_objects(tmp_path, {f"{BUCKET}/a.txt": b"a\n"})
    with serve_origin(root, private={BUCKET: [first, second]}) as origin:
        assert dict(signer.sign("GET", HOST, "/a.txt").headers)["x-oss-security-token"] == "first-token"
        assert fetch(origin, signer.sign("GET", HOST, "/a.txt")).status == 200
        clock.now += 150  # within the refresh margin of the first credentials
        rotated = signer.sign("GET", HOST, "/a.txt")
        assert dict(rotated.headers)["x-oss-security-token"] == "second-token"
        assert fetch(origin, rotated).status == 200


# --- SigV4: moto's server with IAM authentication on ----------------------------------------------


class S3Server(NamedTuple):
    port: int
    bucket: str
    user: Credentials
    role: Credentials  #: STS credentials of an assumed role

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def botocore_client(service: str, port: int, credentials: Credentials | None = None) -> Any:
    """A botocore client for the local server (setting it up is not what is being tested)."""
    import botocore.session
    from botocore.config import Config

    credentials = credentials or Credentials("AKIASETUP000000000", "setup-secret")
    return botocore.session.get_session().create_client(
        service, region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret, aws_session_token=credentials.session_token,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))  # fmt: skip


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's server on 127.0.0.1: a user allowed s3:* and a role it may assume, a private bucket; then IAM authentication on."""
    require_module("moto")
    require_module("botocore")
    port = free_port()
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MOTO_"))}
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, timeout=60)
        iam = botocore_client("iam", port)
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        allow_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        iam.put_user_policy(UserName="reader", PolicyName="all", PolicyDocument=allow_all)
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/reader"}, "Action": "sts:AssumeRole"}]}
        role_arn = iam.create_role(RoleName="reader-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName="reader-role", PolicyName="all", PolicyDocument=allow_all)
        s3 = botocore_client("s3", port)
        s3.create_bucket(Bucket="private-bkt")
        for name in [*KEYS, "dir/"]:
            s3.put_object(Bucket="private-bkt", Key=name, Body=body_of(name))
        user = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/moto-api/reset-auth", body=b"0")  # from now on every request is authenticated
        assert connection.getresponse().status == 200
        connection.close()
        role = botocore_client("sts", port, user).assume_role(RoleArn=role_arn, RoleSessionName="signing")["Credentials"]
        yield S3Server(port, "private-bkt", user, Credentials(role["AccessKeyId"], role["SecretAccessKey"], role["SessionToken"]))
    finally:
        stop(process)
        log.close()


def s3_fetch(server: S3Server, signed: Signed | str, *, method: str = "GET", host: str | None = None, extra: dict[str, str] | None = None) -> Answer:
    target, headers = (signed, {}) if isinstance(signed, str) else (signed.target, dict(signed.headers))
    return send(server.port, target, host=host or server.host, method=method, headers={**headers, **(extra or {})})


@pytest.mark.parametrize("who", ["user", "role"])
@pytest.mark.parametrize("path, key", [*PATHS, ("/dir/", "dir/")], ids=[*PATH_IDS, "/dir/"])
def test_s3_signed_get_served_by_moto(moto_server: S3Server, path: str, key: str, who: str) -> None:
    credentials = moto_server.user if who == "user" else moto_server.role
    signer = Signer.for_s3("us-east-1", credentials)
    reply = s3_fetch(moto_server, signer.sign("GET", moto_server.host, f"/{moto_server.bucket}{path}", "response-cache-control=no-cache"))
    assert (reply.status, reply.body) == (200, body_of(key)), reply.body
    head = s3_fetch(moto_server, signer.sign("HEAD", moto_server.host, f"/{moto_server.bucket}{path}"), method="HEAD")
    assert head.status == 200


def test_s3_signed_listing_served_by_moto(moto_server: S3Server) -> None:
    """The empty key: GET /bucket/ is ListObjects, which moto also checks."""
    signer = Signer.for_s3("us-east-1", moto_server.user)
    reply = s3_fetch(moto_server, signer.sign("GET", moto_server.host, f"/{moto_server.bucket}/", "list-type=2&prefix=dir%2F"))
    assert reply.status == 200 and b"<Key>dir/b.txt</Key>" in reply.body, reply.body
    # unsigned: refused, though not as S3 does (moto's bucket handlers answer 500 without an Authorization header once IAM auth is on)
    assert s3_fetch(moto_server, f"/{moto_server.bucket}/?list-type=2").status in (403, 500)


def test_s3_refusals_by_moto(moto_server: S3Server) -> None:
    signer = Signer.for_s3("us-east-1", moto_server.user)
    path = f"/{moto_server.bucket}/a.txt"
    good = signer.sign("GET", moto_server.host, path)
    cases = {
        "unsigned": s3_fetch(moto_server, path),
        "tampered": s3_fetch(moto_server, good, extra={"Authorization": flip(dict(good.headers)["Authorization"])}),
        "other host": s3_fetch(moto_server, good, host=f"localhost:{moto_server.port}"),
        "other key": s3_fetch(moto_server, Signed(f"/{moto_server.bucket}/dir/b.txt", good.headers)),
        "other method": s3_fetch(moto_server, good, method="HEAD"),
        "wrong secret": s3_fetch(moto_server, Signer.for_s3("us-east-1", Credentials(moto_server.user.access_key_id, "wrong")).sign("GET", moto_server.host, path)),
        "wrong token": s3_fetch(moto_server, Signer.for_s3("us-east-1", Credentials(moto_server.role.access_key_id, moto_server.role.secret, "wrong-token"))
                                .sign("GET", moto_server.host, path)),  # fmt: skip
    }
    for name, reply in cases.items():
        assert reply.status == (400 if name == "wrong token" else 403), (name, reply.status, reply.body)
    for name in ("tampered", "other host", "other key", "wrong secret"):
        assert b"<Code>SignatureDoesNotMatch</Code>" in cases[name].body, (name, cases[name].body)
    assert b"<Code>InvalidToken</Code>" in cases["wrong token"].body


# --- SigV4: nanio's server, which checks presigned URLs too -----------------------------------------

NANIO = Credentials("nanio-reader", "nanio-secret/with+slash")
NANIO_KEYS = [key for key in KEYS if key != "dir/"]


@pytest.fixture(scope="module")
def nanio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """nanio on 127.0.0.1 (every request must be signed), with the objects put by botocore."""
    require_module("nanio")
    require_module("botocore")
    port, data = free_port(), tmp_path_factory.mktemp("nanio")
    environ = {**{name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "NANIO_"))},
               "NANIO_ACCESS_KEY": NANIO.access_key_id, "NANIO_SECRET_KEY": NANIO.secret}  # fmt: skip
    log = (data / "nanio.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "nanio", "serve", "--data-dir", str(data / "store"), "--host", "127.0.0.1", "--port", str(port)],
                               env=environ, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_port(port, process, timeout=60)
        s3 = botocore_client("s3", port, NANIO)
        s3.create_bucket(Bucket="nanio-bkt")
        for key in NANIO_KEYS:
            s3.put_object(Bucket="nanio-bkt", Key=key, Body=body_of(key))
        yield S3Server(port, "nanio-bkt", NANIO, NANIO)
    finally:
        stop(process)
        log.close()


@pytest.mark.parametrize("path, key", PATHS, ids=PATH_IDS)
def test_s3_presigned_url_served_by_nanio(nanio_server: S3Server, path: str, key: str) -> None:
    signer = Signer.for_s3("us-east-1", NANIO)
    target = signer.presign("GET", nanio_server.host, f"/{nanio_server.bucket}{path}", "response-cache-control=no-cache", expires=60)
    reply = s3_fetch(nanio_server, target)
    assert (reply.status, reply.body) == (200, body_of(key)), reply.body
    signed = s3_fetch(nanio_server, signer.sign("GET", nanio_server.host, f"/{nanio_server.bucket}{path}"))
    assert (signed.status, signed.body) == (200, body_of(key)), signed.body


def test_s3_presigned_refusals_by_nanio(nanio_server: S3Server) -> None:
    signer = Signer.for_s3("us-east-1", NANIO)
    path = f"/{nanio_server.bucket}/a.txt"
    good = signer.presign("GET", nanio_server.host, path, expires=60)
    assert s3_fetch(nanio_server, good).status == 200
    cases = {
        "unsigned": s3_fetch(nanio_server, path),
        "expired": s3_fetch(nanio_server, signer.presign("GET", nanio_server.host, path, expires=60, now=time.time() - 61)),
        "tampered": s3_fetch(nanio_server, flip(good)),
        "other key": s3_fetch(nanio_server, good.replace("/a.txt?", "/dir/b.txt?")),
        "other host": s3_fetch(nanio_server, good, host=f"localhost:{nanio_server.port}"),
        "longer lifetime": s3_fetch(nanio_server, good.replace("X-Amz-Expires=60", "X-Amz-Expires=600")),
        "wrong secret": s3_fetch(nanio_server, Signer.for_s3("us-east-1", Credentials(NANIO.access_key_id, "wrong")).presign("GET", nanio_server.host, path)),
    }
    for name, reply in cases.items():
        assert reply.status == 403, (name, reply.status, reply.body)
