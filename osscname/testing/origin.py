"""A local OSS-like origin: a folder served as buckets, the way OSS answers a bucket host.

Tests, the demo and users' own tests need a bucket that behaves like OSS without the internet, so
that a rewrite can be checked at the far end of a real proxy (the middleware, nginx, a CDN worker)
instead of by trusting the proxy. ``root/<bucket>/<key>`` is served for ``Host: <bucket>.<anything>``
(virtual-hosted style) or for a custom domain listed in ``cnames`` (a domain bound in OSS). A Host
without a bucket label -- an IP address, a single label, or an OSS endpoint such as
``oss-cn-hangzhou.aliyuncs.com`` -- is path-style, which OSS refuses with ``SecondLevelDomainForbidden``.

It answers what edge configs depend on: ``Range`` (206, 416; a malformed or multi-range header is
ignored, as OSS does), ``ETag`` / ``Last-Modified`` with ``If-None-Match`` / ``If-Modified-Since``
(304) and ``If-Match`` / ``If-Unmodified-Since`` (412), ``HEAD``, and OSS's XML error bodies. There
are no index documents: those are the middleware's and the edges' job, as with OSS without website
hosting. These answers are written here rather than left to ``webob.Response(conditional_response=True)``:
WebOb checks neither ``If-Match`` nor ``If-Unmodified-Since``, and answers an unsatisfiable range with
its own plain-text 416 where OSS sends ``InvalidRange`` XML.

Private buckets (``private={"abc-secure": [Credentials(...)]}``) answer only requests signed with OSS V4
(``OSS4-HMAC-SHA256``, in the ``Authorization`` header or as a presigned URL's query) by one of the
credentials listed for them; the rest get OSS's 403 XML: ``AccessDenied`` for an anonymous request or an
expired URL ("Request has expired."), ``SignatureDoesNotMatch`` (with the ``StringToSign`` the origin
computed), ``InvalidAccessKeyId``, ``InvalidSecurityToken`` / ``SecurityTokenExpired`` for STS tokens,
``RequestTimeTooSkewed`` for an ``x-oss-date`` more than 15 minutes off. The origin parses the request as
OSS does (the key and the query parameters percent-decoded) and recomputes the signature with the official
``alibabacloud-oss-v2`` SDK's V4 signer, not with :mod:`osscname.signing`: a canonicalisation mistake
shared by this project's signer and its checker cannot pass. The bucket's region is the origin's
``region``. A private bucket behind an S3-compatible custom endpoint is checked the same way with AWS
SigV4 (``AWS4-HMAC-SHA256``, header or presigned query, scoped to ``s3_region``, default ``us-east-1``):
botocore's own ``S3SigV4Auth`` / ``S3SigV4QueryAuth`` recompute the signature from the request as
received, and the refusals are S3's (``SignatureDoesNotMatch``, ``InvalidAccessKeyId``, ``InvalidToken``,
``AccessDenied`` for an expired URL, ``RequestTimeTooSkewed``). Public buckets ignore ``Authorization``.

Every response, errors included, carries two echo headers: ``X-Origin-Host`` (the Host header as
received) and ``X-Origin-Uri`` (the request target as received, path and query). Both are exact for
ASCII; a byte outside printable ASCII is sent as ``%XX`` so that the header stays valid. The target is
exact when the server provides it raw (``REQUEST_URI``, or gunicorn's ``RAW_URI``); otherwise it is
re-encoded from ``PATH_INFO``, which has already lost the difference between ``/`` and ``%2F``.

ETags are OSS-style quoted upper-case hex MD5 of the content, computed on first use and cached per
(path, size, mtime_ns). Files over 64 MiB get a cheap stable tag from size and mtime instead, so a
1 GiB benchmark object is never hashed. Bodies are streamed in 64 KiB reads; an object must not change
while it is being served.

:func:`serve_origin` runs the app on a real socket: stdlib ``wsgiref`` with a thread per connection,
which accepts HTTP/1.1 requests and answers each one as HTTP/1.0 on its own connection (wsgiref has no
keep-alive); stopping it ends open connections, so no socket is left open. ``main`` is
``osscname serve-bucket DIR``.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import hmac
import importlib
import mimetypes
import os
import re
import signal
import socket
import stat
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import IO, Any, Literal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote, unquote, unquote_to_bytes, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from xml.sax.saxutils import escape

from ..credentials import Credentials, CredentialsError, from_environment

__all__ = ["LocalOrigin", "RunningOrigin", "serve_origin", "main"]

CHUNK = 64 * 1024
HASH_LIMIT = 64 * 1024 * 1024
_BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")  # OSS's alphabet; the length is not checked
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_V4 = "OSS4-HMAC-SHA256"
_SIGV4 = "AWS4-HMAC-SHA256"
SKEW = 15 * 60  #: how far x-oss-date may be from the origin's clock, in seconds (OSS's 15 minutes)
StartResponse = Callable[..., Any]
Headers = Sequence[tuple[str, str]]


class LocalOrigin:
    """WSGI app serving ``root/<bucket>/<key>`` as OSS serves a bucket host.

    Bucket folders are named as OSS buckets are (lower-case letters, digits, hyphens); others are never
    served. ``cnames`` maps a custom domain (as in ``Host``, without port; any case) to a bucket name.
    ``private`` maps a bucket name to the credentials that may read it (signed OSS V4, scoped to
    ``region``, or SigV4, scoped to ``s3_region``); it needs the ``alibabacloud-oss-v2`` package, whose
    signer checks OSS V4, and botocore, whose signer checks SigV4.
    :attr:`refusals` lists every request to a private bucket that was refused, so a test can assert that
    a front end signed everything it sent (``assert not origin.app.refusals``).
    """

    def __init__(self, root: str | os.PathLike[str], cnames: Mapping[str, str] | None = None,
                 private: Mapping[str, Iterable[Credentials]] | None = None, region: str = "cn-hangzhou", s3_region: str = "us-east-1"):  # fmt: skip
        self.root = Path(root).resolve()
        self.cnames = {domain.lower().rstrip("."): bucket for domain, bucket in (cnames or {}).items()}
        for bucket in self.cnames.values():
            if not _BUCKET.fullmatch(bucket):
                raise ValueError(f"cnames: {bucket!r} is not a bucket name")
        self.private = _PrivateBuckets(private, region, s3_region) if private else None
        self._etags: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()
        #: ``"<Code> <bucket> <target>"`` of each refused request to a private bucket, oldest first.
        self.refusals: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host_header = environ.get("HTTP_HOST", "")
        target = environ.get("REQUEST_URI") or environ.get("RAW_URI") or _rebuild_target(environ)
        echo = [("X-Origin-Host", _header_safe(host_header)), ("X-Origin-Uri", _header_safe(target))]
        request = _Request(start_response, environ["REQUEST_METHOD"] == "HEAD", _hostname(host_header), echo)
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return request.error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.",
                                 headers=[("Allow", "GET, HEAD")])  # fmt: skip
        bucket = self._bucket(request.host)
        if bucket is None:
            return request.error(403, "SecondLevelDomainForbidden", "Please use virtual hosted style to access.")
        folder = self.root / bucket
        if not _BUCKET.fullmatch(bucket) or not folder.is_dir():
            return request.error(404, "NoSuchBucket", "The specified bucket does not exist.", fields=[("BucketName", bucket)])
        key = _key(target)
        if key is not None and self.private is not None and bucket in self.private:
            refused = self.private.check(environ, request, bucket, key, target)
            if refused is not None:
                code = re.search(rb"<Code>([^<]*)</Code>", b"".join(refused))
                self.refusals.append(f"{code.group(1).decode() if code else '?'} {bucket} {target}")
                return refused
        found = None if key is None else _object(folder, key)
        if found is None:
            return request.error(404, "NoSuchKey", "The specified key does not exist.", fields=[("Key", key or "")])
        return self._serve(environ, request, *found)

    def _bucket(self, host: str) -> str | None:
        """The bucket a Host names, or None for a path-style Host."""
        if host in self.cnames:
            return self.cnames[host]
        labels = host.split(".")
        endpoint_labels = 3 if labels[-2:] == ["aliyuncs", "com"] else 1  # oss-<region>.aliyuncs.com
        if len(labels) <= endpoint_labels or host.startswith("[") or host.replace(".", "").isdigit():
            return None
        return labels[0]

    def _etag(self, path: Path, info: os.stat_result) -> str:
        if info.st_size > HASH_LIMIT:
            return f'"{info.st_size:X}-{info.st_mtime_ns:X}"'
        cache_key = (str(path), info.st_size, info.st_mtime_ns)
        with self._lock:
            tag = self._etags.get(cache_key)
        if tag is None:
            digest = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
            tag = f'"{digest.hexdigest().upper()}"'
            with self._lock:
                self._etags[cache_key] = tag
        return tag

    def _serve(self, environ: dict[str, Any], request: _Request, path: Path, info: os.stat_result) -> Iterable[bytes]:
        size, mtime = info.st_size, int(info.st_mtime)  # HTTP dates have whole seconds
        etag = self._etag(path, info)
        validators = [("ETag", etag), ("Last-Modified", email.utils.formatdate(mtime, usegmt=True))]
        if_match = environ.get("HTTP_IF_MATCH")
        unmodified_since = _http_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
        if (if_match is not None and not _match(if_match, etag, weak=False)) or (
            if_match is None and unmodified_since is not None and mtime > unmodified_since
        ):
            return request.error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
        none_match = environ.get("HTTP_IF_NONE_MATCH")
        modified_since = _http_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        if none_match is not None:
            not_modified = _match(none_match, etag, weak=True)
        else:
            not_modified = modified_since is not None and mtime <= modified_since
        if not_modified:
            return request.respond(304, validators)
        byte_range = _range(environ.get("HTTP_RANGE"), size)
        if byte_range == "unsatisfiable":
            return request.error(416, "InvalidRange", "The requested range cannot be satisfied.",
                                 headers=[("Content-Range", f"bytes */{size}")])  # fmt: skip
        headers = [("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream"),
                   ("Accept-Ranges", "bytes"), *validators]  # fmt: skip
        if byte_range is None:
            status, start, length = 200, 0, size
        else:
            status, (start, end) = 206, byte_range
            length = end - start + 1
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        headers.append(("Content-Length", str(length)))
        if request.head or length == 0:
            return request.respond(status, headers)
        handle = path.open("rb")
        request.respond(status, headers)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if status == 200 and file_wrapper is not None:
            wrapped: Iterable[bytes] = file_wrapper(handle, CHUNK)
            return wrapped
        handle.seek(start)
        return _Slice(handle, length)


class _Request:
    """What every response to one request shares: start_response, HEAD or not, the Host, the echo headers."""

    def __init__(self, start_response: StartResponse, head: bool, host: str, echo: Headers):
        self.start_response = start_response
        self.head = head
        self.host = host
        self.request_id = uuid.uuid4().hex[:24].upper()
        self.common = [*echo, ("x-oss-request-id", self.request_id)]

    def respond(self, code: int, headers: Headers) -> list[bytes]:
        self.start_response(f"{code} {HTTPStatus(code).phrase}", [*headers, *self.common])
        return []

    def error(self, code: int, error: str, message: str, *, fields: Headers = (), headers: Headers = ()) -> list[bytes]:
        """An OSS XML error (Code, Message, RequestId, HostId, then ``fields``); no body for HEAD."""
        rows = [("Code", error), ("Message", message), ("RequestId", self.request_id), ("HostId", self.host), *fields]
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
                + "".join(f"  <{name}>{escape(value)}</{name}>\n" for name, value in rows) + "</Error>\n").encode("utf-8")  # fmt: skip
        self.respond(code, [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), *headers])
        return [] if self.head else [body]


class _Slice:
    """``length`` bytes of an open file from its current position, read in CHUNK pieces; the server closes it."""

    def __init__(self, handle: IO[bytes], length: int):
        self._handle = handle
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        remaining = self._length
        while remaining > 0:
            chunk = self._handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._handle.close()


class _PrivateBuckets:
    """The private buckets, their readers' credentials, and the check of an OSS V4 signature.

    The check parses a request as OSS does (key and query parameters percent-decoded, ``+`` a plus) and
    hands them to the official SDK's ``SignerV4`` (the SDK re-encodes them its own way, as it does for
    the requests it sends), which recomputes the signature from the origin's region and the reader's
    secret; only the comparison is done here.
    """

    def __init__(self, buckets: Mapping[str, Iterable[Credentials]], region: str, s3_region: str = "us-east-1"):
        self.readers: dict[str, dict[str, Credentials]] = {}
        for bucket, readers in buckets.items():
            if not _BUCKET.fullmatch(bucket):
                raise ValueError(f"private: {bucket!r} is not a bucket name")
            listed = list(readers)
            if not all(isinstance(credentials, Credentials) for credentials in listed):
                raise TypeError(f"private: the readers of {bucket!r} must be osscname.credentials.Credentials")
            self.readers[bucket] = {credentials.access_key_id: credentials for credentials in listed}
        self.region, self.s3_region = region, s3_region
        try:
            self._signer = importlib.import_module("alibabacloud_oss_v2.signer.v4")
            self._types = importlib.import_module("alibabacloud_oss_v2.types")
        except ImportError as error:
            raise ImportError("private buckets are checked with the official OSS SDK: pip install alibabacloud-oss-v2 (osscname[test])") from error
        try:  # SigV4 (custom endpoints) is checked with botocore's signer, where it is installed
            self._botocore: tuple[Any, Any, Any] | None = (importlib.import_module("botocore.auth"), importlib.import_module("botocore.awsrequest"),
                                                           importlib.import_module("botocore.credentials"))  # fmt: skip
        except ImportError:
            self._botocore = None

    def __contains__(self, bucket: str) -> bool:
        return bucket in self.readers

    def check(self, environ: Mapping[str, Any], request: _Request, bucket: str, key: str, target: str) -> list[bytes] | None:
        """None if the request is signed by a reader of ``bucket``; else OSS's error answer."""
        query = target.partition("?")[2]
        # each byte kept as it came (latin-1 both ways): a query need not be UTF-8, and OSS signs its bytes
        params = [(unquote(name, "latin-1"), unquote(value, "latin-1")) for name, _, value in (piece.partition("=") for piece in query.split("&") if piece)]
        found = dict(params)
        authorization = environ.get("HTTP_AUTHORIZATION")
        if (authorization or "").startswith(_SIGV4 + " ") or (authorization is None and "X-Amz-Signature" in found):
            return self._check_sigv4(environ, request, bucket, target, found, authorization)
        if authorization is None and "x-oss-signature" not in found:
            return request.error(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
        if authorization is not None:
            fields = _authorization_fields(authorization)
            if fields is None:
                return request.error(400, "InvalidArgument", f"Authorization header is invalid: the local origin checks {_V4} signatures only.")
            credential, signature = fields.get("Credential", ""), fields.get("Signature", "")
            additional = [name for name in fields.get("AdditionalHeaders", "").split(";") if name]
            date_text, token = environ.get("HTTP_X_OSS_DATE", ""), environ.get("HTTP_X_OSS_SECURITY_TOKEN")
        else:
            if found.get("x-oss-signature-version") != _V4:
                return request.error(400, "InvalidArgument", f"x-oss-signature-version must be {_V4}: the local origin checks V4 signatures only.")
            credential, signature = found.get("x-oss-credential", ""), found["x-oss-signature"]
            additional = [name for name in found.get("x-oss-additional-headers", "").split(";") if name]
            date_text, token = found.get("x-oss-date", ""), found.get("x-oss-security-token")
        key_id = credential.partition("/")[0]
        if len(credential.split("/")) != 5:
            return request.error(400, "InvalidArgument", "Invalid credential: expected <AccessKeyId>/<SignDate>/<Region>/oss/aliyun_v4_request.")
        try:
            signed_at = datetime.strptime(date_text, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return request.error(403, "AccessDenied", "The request does not contain a valid x-oss-date.")
        now = time.time()
        if authorization is None:
            refused = self._check_lifetime(request, found, signed_at, now)
            if refused is not None:
                return refused
        elif abs(now - signed_at.timestamp()) > SKEW:
            return request.error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.",
                                 fields=[("RequestTime", date_text), ("ServerTime", _iso(now))])  # fmt: skip
        reader = self.readers[bucket].get(key_id)
        if reader is None:
            return request.error(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.",
                                 fields=[("OSSAccessKeyId", key_id)])  # fmt: skip
        if reader.session_token is not None and token != reader.session_token:
            return request.error(403, "InvalidSecurityToken", "The security token you provided is invalid.")
        if reader.expired(now):
            return request.error(403, "SecurityTokenExpired", "The security token you provided has expired.")
        expected, string_to_sign = self._expected(environ, request.host, bucket, key, params, reader, signed_at, additional, query_form=authorization is None)
        if not hmac.compare_digest(expected, signature):
            return request.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                                 fields=[("OSSAccessKeyId", key_id), ("SignatureProvided", signature), ("StringToSign", string_to_sign)])  # fmt: skip
        return None

    def _check_sigv4(self, environ: Mapping[str, Any], request: _Request, bucket: str, target: str, found: Mapping[str, str],
                     authorization: str | None) -> list[bytes] | None:  # fmt: skip
        """An AWS SigV4 signature (an S3-compatible custom endpoint's), checked as S3 checks it: the canonical
        request recomputed by botocore's own signer (``S3SigV4Auth``, ``S3SigV4QueryAuth``) from the request
        as received, the path and query as sent, the signed headers as listed, in the origin's ``s3_region``."""
        if self._botocore is None:
            return request.error(400, "InvalidArgument", "SigV4 signatures are checked with botocore: pip install botocore (osscname[test])")
        auth, awsrequest, botocore_credentials = self._botocore
        if authorization is not None:
            match = re.fullmatch(_SIGV4 + r" Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-f]+)", authorization)
            if match is None:
                return request.error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.")
            credential, signed, signature = match.groups()
            date_text, token = environ.get("HTTP_X_AMZ_DATE", ""), environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        else:
            if found.get("X-Amz-Algorithm") != _SIGV4:
                return request.error(400, "AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {_SIGV4}.")
            credential, signed, signature = found.get("X-Amz-Credential", ""), found.get("X-Amz-SignedHeaders", ""), found["X-Amz-Signature"]
            date_text, token = found.get("X-Amz-Date", ""), found.get("X-Amz-Security-Token")
        key_id = credential.partition("/")[0]
        if len(credential.split("/")) != 5:
            return request.error(400, "AuthorizationHeaderMalformed", "Invalid credential: expected <AccessKeyId>/<date>/<region>/s3/aws4_request.")
        try:
            signed_at = datetime.strptime(date_text, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return request.error(403, "AccessDenied", "The request does not contain a valid X-Amz-Date.")
        now = time.time()
        if authorization is None:
            expires = found.get("X-Amz-Expires", "")
            if not expires.isdigit() or not 1 <= int(expires) <= 604800:
                return request.error(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be a number of seconds from 1 to 604800.")
            if now > signed_at.timestamp() + int(expires):
                return request.error(403, "AccessDenied", "Request has expired.")
        elif abs(now - signed_at.timestamp()) > SKEW:
            return request.error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
        reader = self.readers[bucket].get(key_id)
        if reader is None:
            return request.error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        if reader.session_token is not None and token != reader.session_token:
            return request.error(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        if reader.expired(now):
            return request.error(403, "ExpiredToken", "The provided token has expired.")
        names = signed.split(";")
        headers = {name: str(environ.get("HTTP_" + name.upper().replace("-", "_"), "")) for name in names}
        path, _, query = target.partition("?")
        if authorization is None:  # the signature itself is not part of what it signs
            query = "&".join(piece for piece in query.split("&") if piece.partition("=")[0] != "X-Amz-Signature")
        url = f"http://{headers.get('host') or 'localhost'}{path}" + (f"?{query}" if query else "")
        sdk_request = awsrequest.AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers)
        sdk_request.context["timestamp"] = date_text
        keys = botocore_credentials.Credentials(reader.access_key_id, reader.secret, reader.session_token)
        signer = auth.S3SigV4Auth(keys, "s3", self.s3_region) if authorization is not None else auth.S3SigV4QueryAuth(keys, "s3", self.s3_region)
        string_to_sign = signer.string_to_sign(sdk_request, signer.canonical_request(sdk_request))
        if not hmac.compare_digest(signer.signature(string_to_sign, sdk_request), signature):
            return request.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                                 fields=[("AWSAccessKeyId", key_id), ("StringToSign", string_to_sign)])  # fmt: skip
        return None

    @staticmethod
    def _check_lifetime(request: _Request, found: Mapping[str, str], signed_at: datetime, now: float) -> list[bytes] | None:
        """A presigned URL's x-oss-expires: 1 to 604800 seconds, not yet over, not from the future."""
        expires = found.get("x-oss-expires", "")
        if not expires.isdigit() or not 1 <= int(expires) <= 604800:
            return request.error(400, "InvalidArgument", "x-oss-expires must be a number of seconds from 1 to 604800.")
        if now > signed_at.timestamp() + int(expires):
            return request.error(403, "AccessDenied", "Request has expired.",
                                 fields=[("Expires", _iso(signed_at.timestamp() + int(expires))), ("ServerTime", _iso(now))])  # fmt: skip
        if signed_at.timestamp() - now > SKEW:
            return request.error(403, "AccessDenied", "Request is not valid yet.", fields=[("ServerTime", _iso(now))])
        return None

    def _expected(self, environ: Mapping[str, Any], host: str, bucket: str, key: str, params: list[tuple[str, str]], reader: Credentials,
                  signed_at: datetime, additional: list[str], *, query_form: bool) -> tuple[str, str]:  # fmt: skip
        """(signature, string to sign) as the SDK computes them for this request and reader."""
        headers = {name[5:].lower().replace("_", "-"): value for name, value in environ.items() if name.startswith("HTTP_")}
        headers.pop("authorization", None)
        for name in ("CONTENT_TYPE", "CONTENT_MD5"):
            if environ.get(name):
                headers[name.lower().replace("_", "-")] = environ[name]
        kept = [(name, value) for name, value in params if name != "x-oss-signature"] if query_form else params
        url = f"http://{host or 'localhost'}/{quote(key)}" + ("?" + urlencode(kept, quote_via=quote, encoding="latin-1") if kept else "")
        sdk_request = self._types.HttpRequest(environ["REQUEST_METHOD"], url, headers=headers)
        context = self._types.SigningContext(product="oss", region=self.region, bucket=bucket, key=key, request=sdk_request,
                                             credentials=self._types.Credentials(reader.access_key_id, reader.secret, reader.session_token),
                                             signing_time=signed_at, additional_headers=set(additional))  # fmt: skip
        signer = self._signer.SignerV4()
        if not query_form:
            signer.sign(context)
            return sdk_request.headers["Authorization"].rpartition("Signature=")[2], context.string_to_sign
        # A presigned URL: the SDK's own presign step keeps one value per query name (it builds a dict),
        # so a URL whose query repeats a name (?a=1&a=3) could not be checked with it. The URL already
        # carries every x-oss-* parameter, so the origin runs the SDK's canonical-request, string-to-sign
        # and signature steps on it directly; those sort every pair, as the header form does.
        stamp = signed_at.strftime("%Y%m%dT%H%M%SZ")
        scope = signer._build_scope(date=stamp[:8], region=self.region, product="oss")
        canonical = signer._calc_canonical_request(signing_ctx=context, additional_headers=signer._common_additional_headers(sdk_request, set(additional)))
        string_to_sign = signer._calc_string_to_sign(stamp, scope, canonical)
        return signer._calc_signature(access_key_secrect=reader.secret, date=stamp[:8], region=self.region, product="oss", string_to_sign=string_to_sign), string_to_sign


def _authorization_fields(value: str) -> dict[str, str] | None:
    """The fields of ``OSS4-HMAC-SHA256 Credential=...,AdditionalHeaders=...,Signature=...``; None if not that form."""
    scheme, _, rest = value.partition(" ")
    if scheme != _V4:
        return None
    fields = {}
    for part in rest.split(","):
        name, sep, field = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = field
    return fields if "Credential" in fields and "Signature" in fields else None


def _iso(timestamp: float) -> str:
    """A time as OSS writes it in error bodies (``2026-01-02T03:04:05.000Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


def _hostname(host_header: str) -> str:
    """The Host header without its port, lower-cased, without a trailing dot."""
    host = host_header.strip().lower()
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    return host.rstrip(".")


def _rebuild_target(environ: Mapping[str, Any]) -> str:
    """The request target from PATH_INFO (WSGI's Latin-1 view of the decoded bytes) and QUERY_STRING."""
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/!$&'()*+,;=:@~")
    query = environ.get("QUERY_STRING", "")
    return (path or "/") + ("?" + query if query else "")


def _header_safe(text: str) -> str:
    """``text`` with every character outside printable ASCII as ``%XX`` (environ strings hold one byte per character)."""
    return "".join(ch if 0x20 <= ord(ch) < 0x7F else f"%{ord(ch) & 0xFF:02X}" for ch in text)


def _key(target: str) -> str | None:
    """Object key of a request target: the path after ``/``, percent-decoded as UTF-8.

    None when there is none: not an origin-form target, not UTF-8, or a control character (NUL among them).
    """
    path = target.partition("?")[0]
    if not path.startswith("/"):
        return None
    try:
        key = unquote_to_bytes(path[1:].encode("latin-1")).decode("utf-8")
    except UnicodeError:
        return None
    return None if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key) else key


def _object(folder: Path, key: str) -> tuple[Path, os.stat_result] | None:
    """The regular file for ``key`` and its stat, if it lies inside ``folder`` (no ``..``, no symlink escape).

    An empty key or one ending in ``/`` names a folder, never an object (no index documents here).
    """
    if any(part in ("", ".", "..") for part in key.split("/")):  # also catches "" and "dir/"
        return None
    try:
        path = (folder / key).resolve()
        info = path.stat()
    except (OSError, RuntimeError):  # missing, name too long, symlink loop
        return None
    if not stat.S_ISREG(info.st_mode) or not path.is_relative_to(folder.resolve()):
        return None
    return path, info


def _range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """(first, last) of a single satisfiable range; ``"unsatisfiable"``; None for the full body."""
    match = _RANGE.fullmatch((header or "").strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        return (max(size - suffix, 0), size - 1) if suffix and size else "unsatisfiable"
    if last and int(last) < int(first):
        return None
    if int(first) >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    return int(first), end


def _match(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match (strong comparison) or If-None-Match (weak) list matches ``etag``."""
    tags = [tag.strip() for tag in header.split(",")]
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return "*" in tags or etag in tags


def _http_date(header: str | None) -> float | None:
    """The timestamp of an HTTP date; None when absent or invalid (the condition is then ignored)."""
    try:
        date = email.utils.parsedate_to_datetime(header or "")
    except (TypeError, ValueError):
        return None
    return (date if date.tzinfo else date.replace(tzinfo=timezone.utc)).timestamp()


class RawTargetHandler(WSGIRequestHandler):
    """Adds the raw request target as ``REQUEST_URI`` (as waitress and nginx-fronted servers give it),
    leaves ``CONTENT_TYPE`` out when the request has none (as other servers do); logs nothing per request."""

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["REQUEST_URI"] = self.requestline.split()[1]  # self.path has a leading "//" collapsed
        if self.headers.get("Content-Type") is None:
            environ.pop("CONTENT_TYPE", None)  # wsgiref puts "text/plain" there; OSS signs Content-Type when it is sent
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadedWSGIServer(ThreadingMixIn, WSGIServer):
    """A thread per connection; ``server_close`` also ends the open connections and waits until they are closed.

    Handler threads are daemons, so a forgotten origin never keeps a process alive; ThreadingMixIn does
    not join daemon threads, hence the bookkeeping that makes "stopped" mean "no socket left open".
    """

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[RawTargetHandler] = RawTargetHandler):
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._changed = threading.Condition()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._changed:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._changed:
            self._connections.discard(request)
            self._changed.notify_all()

    def server_close(self) -> None:
        super().server_close()
        with self._changed:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)  # a handler waiting on a slow or idle client returns
                except OSError:
                    pass  # its handler closed it just now
            self._changed.wait_for(lambda: not self._connections)


class RunningOrigin:
    """A :class:`LocalOrigin` for ``root`` served on a real socket in a background thread until :meth:`stop`."""

    def __init__(self, root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0, cnames: Mapping[str, str] | None = None,
                 private: Mapping[str, Iterable[Credentials]] | None = None, region: str = "cn-hangzhou", s3_region: str = "us-east-1"):  # fmt: skip
        self.root = Path(root)
        self.app = LocalOrigin(root, cnames, private, region, s3_region)
        self._server = ThreadedWSGIServer((host, port))
        self._server.set_app(self.app)
        self.host: str = str(self._server.server_address[0])
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, as an upstream address for the middleware."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop(self) -> None:
        """Stop accepting, end open connections, close every socket; calling it again does nothing."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


@contextmanager
def serve_origin(root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0, cnames: Mapping[str, str] | None = None,
                 private: Mapping[str, Iterable[Credentials]] | None = None, region: str = "cn-hangzhou", s3_region: str = "us-east-1") -> Iterator[RunningOrigin]:  # fmt: skip
    """Serve ``root`` as buckets on ``host:port`` (0 picks a free port) for the ``with`` block."""
    origin = RunningOrigin(root, host, port, cnames, private, region, s3_region)
    try:
        yield origin
    finally:
        origin.stop()


def _cname(text: str) -> tuple[str, str]:
    domain, sep, bucket = text.partition("=")
    if not sep or not domain or not _BUCKET.fullmatch(bucket):
        raise argparse.ArgumentTypeError(f"expected DOMAIN=BUCKET, got {text!r}")
    return domain, bucket


def main(argv: Sequence[str] | None = None) -> int:
    """``osscname serve-bucket DIR``: serve DIR/<bucket>/<key> until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="osscname serve-bucket", description="Serve DIR/<bucket>/<key> like OSS serves <bucket>.<endpoint>.")
    parser.add_argument("dir", metavar="DIR", help="folder whose sub-folders are buckets")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port (default 9000; 0 picks one)")
    parser.add_argument("--cname", type=_cname, action="append", default=[], metavar="DOMAIN=BUCKET",
                        help="serve BUCKET for Host DOMAIN, as a domain bound in OSS (repeatable)")  # fmt: skip
    parser.add_argument("--private", action="append", default=[], metavar="BUCKET",
                        help="serve BUCKET only to requests signed (OSS V4) with OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET (repeatable)")  # fmt: skip
    parser.add_argument("--region", default="cn-hangzhou", help="region the private buckets' signatures are scoped to (default cn-hangzhou)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.dir):
        print(f"osscname serve-bucket: error: {args.dir} is not a folder", file=sys.stderr)
        return 2
    try:
        readers = [from_environment("oss")] if args.private else []
        private = {bucket: readers for bucket in args.private}
        origin = RunningOrigin(args.dir, args.host, args.port, dict(args.cname), private, args.region)
    except (CredentialsError, ValueError, ImportError) as error:
        print(f"osscname serve-bucket: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"osscname serve-bucket: error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"serving buckets from {args.dir} on {origin.url} (virtual-hosted: <bucket>.<any host>)", file=sys.stderr, flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    origin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
