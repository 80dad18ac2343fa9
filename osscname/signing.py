"""Signing requests to private buckets: OSS V4 (``OSS4-HMAC-SHA256``) and AWS SigV4 (``AWS4-HMAC-SHA256``).

Private buckets are the normal case now (OSS blocks public access by default for buckets created through
its API since 2025-10; S3 since 2023), and OSS has closed V1 signatures to new customers: a rewrite
binding on a private bucket must sign each upstream request, and a redirect binding can only send the
client to a presigned URL. This module does both, for OSS and for S3-compatible custom endpoints::

    signer = Signer.for_oss("cn-hangzhou", "abc-files", from_environment("oss"))
    signed = signer.sign("GET", "abc-files.oss-cn-hangzhou.aliyuncs.com", "/public/a.txt")
    # send signed.target with signed.headers (and that Host)
    target = signer.presign("GET", host, "/public/a.txt", expires=300)   # for a redirect's Location

**What to send.** ``sign`` and ``presign`` return the request target to send, not only the signature:
the path percent-decoded and re-encoded (every byte but ``A-Z a-z 0-9 - . _ ~`` and ``/`` as upper-case
``%XX``), the query pairs likewise, sorted, without any signing parameter the client put there. Servers
canonicalise differently: OSS and MinIO-like servers work from the decoded key, botocore-based ones (moto)
from the bytes received; a target already in canonical form is the one on which every server computes
the same canonical request. Re-encoding never changes the object named: ``%2F`` becomes ``/``, which
names the same key on OSS and S3, and ``+`` is a literal plus (RFC 3986, as OSS and S3 read a path),
sent as ``%2B`` so that no server can take it for a space. Dot segments are kept (S3 does not normalise
them; the middleware refuses them before signing).

**OSS V4.** The canonical URI is ``/<bucket>/<key>`` whatever Host is sent (the bucket endpoint or a
custom domain bound in OSS: ``upstream_host: bucket | domain``), and the Host is not signed, so one
signature serves both. Signed headers: ``x-oss-content-sha256: UNSIGNED-PAYLOAD``, ``x-oss-date`` and,
for STS credentials, ``x-oss-security-token``. OSS also signs every other ``x-oss-*`` header, and
``Content-Type`` / ``Content-MD5``, whenever present: :meth:`Signer.is_reserved_header` tells a proxy
which client headers it must not forward on a signed request.

**SigV4 (S3).** Service ``s3``, any region (S3-compatible services name their own); the Host as sent is
signed, with ``x-amz-content-sha256: UNSIGNED-PAYLOAD``, ``x-amz-date`` and ``x-amz-security-token``.

**Cost.** The signing key (an HMAC chain over day, region and service) is derived once per secret and
UTC day, and the timestamp text once per second; a signature is then one SHA-256 and one HMAC over a few
hundred bytes, a few microseconds (``bench/signing.py``). Credentials come from a
:data:`~osscname.credentials.CredentialsSource`, asked on every call, so rotated credentials are used
from the next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple
from urllib.parse import quote, unquote_to_bytes

from .credentials import Credentials, CredentialsError, CredentialsSource, as_provider

__all__ = ["Signer", "Signed", "MAX_EXPIRES", "UNSIGNED_PAYLOAD", "FLAVOURS", "canonical_target"]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: The longest lifetime of a presigned URL, in seconds, on OSS V4 and SigV4 alike (7 days).
MAX_EXPIRES = 7 * 24 * 3600

_CANONICAL_PATH = re.compile(r"[A-Za-z0-9/_.~-]*")  # nothing to re-encode: the common case, skipped cheaply
_CANONICAL_PART = re.compile(r"[A-Za-z0-9_.~-]*")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Each byte's canonical spelling, in a path and in a query name or value (what quote() computes, by table lookup).
_PATH_BYTES = tuple(chr(byte) if byte in _UNRESERVED or byte == 0x2F else f"%{byte:02X}" for byte in range(256))
_PART_BYTES = tuple(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in range(256))
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a scope component: no "/", no spaces
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


class Signed(NamedTuple):
    """A signed request: the target to send (path and query, canonically encoded) and the headers to add."""

    target: str
    headers: list[tuple[str, str]]


def _canonical_path(path: str) -> str:
    """``path`` percent-decoded, then re-encoded with only the unreserved characters and ``/`` left as they are."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    return path if _CANONICAL_PATH.fullmatch(path) else "".join(map(_PATH_BYTES.__getitem__, unquote_to_bytes(path)))


def _canonical_part(part: str) -> str:
    """A query name or value percent-decoded (``+`` stays a plus), then re-encoded with only the unreserved characters left."""
    return part if _CANONICAL_PART.fullmatch(part) else "".join(map(_PART_BYTES.__getitem__, unquote_to_bytes(part)))


class Signer(ABC):
    """Signs requests for one bucket (OSS) or endpoint (S3-compatible) with one credentials source.

    Build one with :meth:`for_oss` or :meth:`for_s3` at start-up and share it between threads: the only
    state it keeps is caches (the signing key, the timestamp text, the encoded credential), each a tuple
    replaced whole when it changes, and the keyed HMAC is only ever copied, never updated in place.
    """

    __slots__ = ("region", "_credentials", "_scope_tail", "_key_cache", "_stamp_cache", "_identity_cache")

    algorithm: ClassVar[str]
    _secret_prefix: ClassVar[str]
    _service: ClassVar[str]
    _terminator: ClassVar[str]
    _signature_param: ClassVar[str]
    _reserved_params: ClassVar[frozenset[str]]  # lower-case; dropped from a client's query before signing

    def __init__(self, region: str, credentials: CredentialsSource):
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ValueError(f"region {region!r} is not a region id")
        self.region = region
        self._credentials = as_provider(credentials)
        self._scope_tail = f"/{region}/{self._service}/{self._terminator}"
        self._key_cache: tuple[str, str, hmac.HMAC] | None = None
        self._stamp_cache: tuple[int, str] = (-1, "")
        self._identity_cache: tuple[Credentials, str, str, str | None] | None = None

    @staticmethod
    def for_oss(region: str, bucket: str, credentials: CredentialsSource) -> Signer:
        """OSS V4 for ``bucket`` in ``region`` (``cn-hangzhou``): the region and bucket come from the binding."""
        return _OssSigner(region, bucket, credentials)

    @staticmethod
    def for_s3(region: str, credentials: CredentialsSource) -> Signer:
        """AWS SigV4 (service ``s3``) for a custom endpoint in ``region`` (``us-east-1`` unless the service says otherwise)."""
        return _S3Signer(region, credentials)

    def sign(self, method: str, host: str, path: str, query: str = "", now: float | None = None) -> Signed:
        """Sign ``method`` on ``path?query`` (the path as the upstream should get it, percent-encoded)
        sent with ``Host: host``, at ``now`` (Unix time; default: the clock)."""
        now = time.time() if now is None else now
        credentials, stamp, scope, key = self._prepare(method, host, now)
        path = _canonical_path(path)
        query = self._join(self._pairs(query))
        token = credentials.session_token
        lines, signed_names, headers = self._headers(host, stamp, token)
        canonical = f"{method}\n{self._uri(path)}\n{query}\n{lines}\n{signed_names}\n{UNSIGNED_PAYLOAD}"
        signature = self._signature(key, stamp, scope, canonical)
        headers.append(("Authorization", self._authorization(credentials.access_key_id, scope, signed_names, signature)))
        return Signed(f"{path}?{query}" if query else path, headers)

    def presign(self, method: str, host: str, path: str, query: str = "", expires: int = 900, now: float | None = None) -> str:
        """The target (``path?query``) of a URL that lets anyone send ``method`` on ``path?query`` to
        ``host`` for ``expires`` seconds (1 to :data:`MAX_EXPIRES`) from ``now``.

        With temporary credentials the URL stops working when they expire, so ``expires`` is shortened to
        what they have left: the URL never claims a lifetime it cannot have. The method is signed: a URL
        presigned for GET does not serve HEAD.
        """
        if isinstance(expires, bool) or not isinstance(expires, int) or not 1 <= expires <= MAX_EXPIRES:
            raise ValueError(f"expires must be a whole number of seconds from 1 to {MAX_EXPIRES}, not {expires!r}")
        now = time.time() if now is None else now
        credentials, stamp, scope, key = self._prepare(method, host, now)
        if credentials.expires is not None:
            expires = max(1, min(expires, int(credentials.expires - now)))
        path = _canonical_path(path)
        query = self._join(self._pairs(query) + self._auth_params(*self._identity(credentials, scope), stamp, expires))
        lines, signed_names = self._presigned_headers(host)
        canonical = f"{method}\n{self._uri(path)}\n{query}\n{lines}\n{signed_names}\n{UNSIGNED_PAYLOAD}"
        return f"{path}?{query}&{self._signature_param}={self._signature(key, stamp, scope, canonical)}"

    @abstractmethod
    def is_reserved_header(self, name: str) -> bool:
        """Whether a proxy must not forward a client's header of this name on a request it signs.

        The client's own ``Authorization`` would replace the signature, and the server signs (OSS) or
        refuses unsigned (S3) the ``x-oss-*`` / ``x-amz-*`` headers; OSS also signs ``Content-Type``
        and ``Content-MD5`` whenever present. Anything else (``Range``, ``If-*``, ``Accept-Encoding``)
        is not signed and passes.
        """

    # --- shared steps ------------------------------------------------------------------------------

    def _prepare(self, method: str, host: str, now: float) -> tuple[Credentials, str, str, hmac.HMAC]:
        """The credentials to sign with at ``now``, the timestamp, the credential scope and the signing key."""
        if not isinstance(method, str) or not (method.isascii() and method.isalpha() and method.isupper()):
            raise ValueError(f"method {method!r} is not an upper-case HTTP method")
        # The Host is sent as a header and, for SigV4, signed as it is: printable ASCII, no space, nothing to split a header with.
        if not isinstance(host, str) or not (host.isascii() and host.isprintable()) or " " in host or not host:
            raise ValueError(f"host {host!r} is not a Host header value")
        credentials = self._credentials()
        if credentials.expired(now):
            raise CredentialsError(f"credentials {credentials.access_key_id[:4]}... expired at "
                                   f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(credentials.expires or 0))}")  # fmt: skip
        stamp = self._stamp(now)
        date = stamp[:8]
        return credentials, stamp, date + self._scope_tail, self._signing_key(credentials.secret, date)

    def _stamp(self, now: float) -> str:
        """``now`` as ISO 8601 basic UTC (``20260102T030405Z``), formatted once per second."""
        second = int(now)
        cached = self._stamp_cache
        if cached[0] != second:
            cached = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
            self._stamp_cache = cached
        return cached[1]

    def _signing_key(self, secret: str, date: str) -> hmac.HMAC:
        """HMAC-SHA256 chain prefix+secret -> date -> region -> service -> terminator, once per secret and day.

        Kept as an HMAC keyed with the result, never updated: each signature copies it, which skips the
        key set-up that a fresh ``hmac.new`` repeats.
        """
        cached = self._key_cache
        if cached is None or cached[1] != date or cached[0] != secret:
            key = (self._secret_prefix + secret).encode("utf-8")
            for part in (date, self.region, self._service, self._terminator):
                key = hmac.digest(key, part.encode("utf-8"), "sha256")
            cached = (secret, date, hmac.new(key, digestmod=hashlib.sha256))
            self._key_cache = cached
        return cached[2]

    def _identity(self, credentials: Credentials, scope: str) -> tuple[str, str | None]:
        """``<key id>/<scope>`` and the session token as query values, encoded once per credentials and day
        (an STS token is a kilobyte of base64)."""
        cached = self._identity_cache
        if cached is None or cached[0] is not credentials or cached[1] != scope:
            token = credentials.session_token
            encoded = quote(f"{credentials.access_key_id}/{scope}", safe="")
            cached = (credentials, scope, encoded, None if token is None else quote(token, safe=""))
            self._identity_cache = cached
        return cached[2], cached[3]

    def _signature(self, key: hmac.HMAC, stamp: str, scope: str, canonical_request: str) -> str:
        digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
        mac = key.copy()
        mac.update(f"{self.algorithm}\n{stamp}\n{scope}\n{digest}".encode())
        return mac.hexdigest()

    @classmethod
    def _pairs(cls, query: str) -> list[tuple[str, str]]:
        """The query's (name, value) pairs, canonically encoded, without the signing parameters."""
        pairs = []
        for piece in query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                name = _canonical_part(name)
                if name.lower() not in cls._reserved_params:
                    pairs.append((name, _canonical_part(value)))
        return pairs

    # --- what differs between OSS V4 and SigV4 -------------------------------------------------------

    def _uri(self, path: str) -> str:
        """The canonical URI of a canonical path."""
        return path

    @classmethod
    @abstractmethod
    def _join(cls, pairs: list[tuple[str, str]]) -> str:
        """The canonical query string: pairs sorted by name, then value."""

    @abstractmethod
    def _headers(self, host: str, stamp: str, token: str | None) -> tuple[str, str, list[tuple[str, str]]]:
        """(canonical header lines, signed header names, the headers to send but Authorization)."""

    @abstractmethod
    def _presigned_headers(self, host: str) -> tuple[str, str]:
        """(canonical header lines, signed header names) of a presigned request."""

    @abstractmethod
    def _auth_params(self, credential: str, token: str | None, stamp: str, expires: int) -> list[tuple[str, str]]:
        """The signing parameters of a presigned URL but the signature, from the encoded credential and token."""

    @abstractmethod
    def _authorization(self, key_id: str, scope: str, signed_names: str, signature: str) -> str:
        """The Authorization header value."""


class _OssSigner(Signer):
    """OSS V4: scope ``<date>/<region>/oss/aliyun_v4_request``, canonical URI ``/<bucket>/<key>``."""

    __slots__ = ("bucket", "_uri_prefix")

    algorithm = "OSS4-HMAC-SHA256"
    _secret_prefix = "aliyun_v4"
    _service = "oss"
    _terminator = "aliyun_v4_request"
    _signature_param = "x-oss-signature"
    _reserved_params = frozenset({"x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-expires",
                                  "x-oss-signature", "x-oss-security-token", "x-oss-additional-headers"})  # fmt: skip

    def __init__(self, region: str, bucket: str, credentials: CredentialsSource):
        if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket):
            raise ValueError(f"bucket {bucket!r} is not an OSS bucket name")
        super().__init__(region, credentials)
        self.bucket = bucket
        self._uri_prefix = "/" + bucket

    def is_reserved_header(self, name: str) -> bool:
        lower = name.lower()
        return lower.startswith("x-oss-") or lower in ("authorization", "content-type", "content-md5")

    def _uri(self, path: str) -> str:
        return self._uri_prefix + path

    @classmethod
    def _join(cls, pairs: list[tuple[str, str]]) -> str:
        return "&".join(f"{name}={value}" if value else name for name, value in sorted(pairs))

    def _headers(self, host: str, stamp: str, token: str | None) -> tuple[str, str, list[tuple[str, str]]]:
        headers = [("x-oss-content-sha256", UNSIGNED_PAYLOAD), ("x-oss-date", stamp)]
        if token is not None:
            headers.append(("x-oss-security-token", token))
        return "".join(f"{name}:{value}\n" for name, value in headers), "", headers

    def _presigned_headers(self, host: str) -> tuple[str, str]:
        return "", ""

    def _auth_params(self, credential: str, token: str | None, stamp: str, expires: int) -> list[tuple[str, str]]:
        params = [("x-oss-signature-version", self.algorithm), ("x-oss-credential", credential), ("x-oss-date", stamp), ("x-oss-expires", str(expires))]
        if token is not None:
            params.append(("x-oss-security-token", token))
        return params

    def _authorization(self, key_id: str, scope: str, signed_names: str, signature: str) -> str:
        return f"{self.algorithm} Credential={key_id}/{scope},Signature={signature}"


class _S3Signer(Signer):
    """AWS SigV4 for S3: scope ``<date>/<region>/s3/aws4_request``, the Host signed as sent."""

    __slots__ = ()

    algorithm = "AWS4-HMAC-SHA256"
    _secret_prefix = "AWS4"
    _service = "s3"
    _terminator = "aws4_request"
    _signature_param = "X-Amz-Signature"
    _reserved_params = frozenset({"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
                                  "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token"})  # fmt: skip

    def is_reserved_header(self, name: str) -> bool:
        lower = name.lower()
        return lower.startswith("x-amz-") or lower == "authorization"

    @classmethod
    def _join(cls, pairs: list[tuple[str, str]]) -> str:
        return "&".join(f"{name}={value}" for name, value in sorted(pairs))

    def _headers(self, host: str, stamp: str, token: str | None) -> tuple[str, str, list[tuple[str, str]]]:
        headers = [("x-amz-content-sha256", UNSIGNED_PAYLOAD), ("x-amz-date", stamp)]
        if token is None:
            lines = f"host:{host}\nx-amz-content-sha256:{UNSIGNED_PAYLOAD}\nx-amz-date:{stamp}\n"
            return lines, "host;x-amz-content-sha256;x-amz-date", headers
        headers.append(("x-amz-security-token", token))
        lines = f"host:{host}\nx-amz-content-sha256:{UNSIGNED_PAYLOAD}\nx-amz-date:{stamp}\nx-amz-security-token:{token}\n"
        return lines, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token", headers

    def _presigned_headers(self, host: str) -> tuple[str, str]:
        return f"host:{host}\n", "host"

    def _auth_params(self, credential: str, token: str | None, stamp: str, expires: int) -> list[tuple[str, str]]:
        params = [("X-Amz-Algorithm", self.algorithm), ("X-Amz-Credential", credential), ("X-Amz-Date", stamp), ("X-Amz-Expires", str(expires)),
                  ("X-Amz-SignedHeaders", "host")]  # fmt: skip
        if token is not None:
            params.append(("X-Amz-Security-Token", token))
        return params

    def _authorization(self, key_id: str, scope: str, signed_names: str, signature: str) -> str:
        return f"{self.algorithm} Credential={key_id}/{scope}, SignedHeaders={signed_names}, Signature={signature}"


_FLAVOURS: dict[str, type[Signer]] = {"oss": _OssSigner, "s3": _S3Signer}
#: Each kind of credentials' signature: (algorithm, service, scope terminator), what a credential scope
#: ``<date>/<region>/<service>/<terminator>`` is made of. For describing a signature without making one.
FLAVOURS: dict[str, tuple[str, str, str]] = {kind: (cls.algorithm, cls._service, cls._terminator) for kind, cls in _FLAVOURS.items()}


def canonical_target(kind: str, path: str, query: str = "") -> str:
    """The target :meth:`Signer.sign` sends for ``path?query`` with a signer of ``kind`` (``oss`` | ``s3``),
    and the one :meth:`Signer.presign` adds its parameters to: computed without credentials, so that a
    decision can say what goes upstream before anything is signed."""
    flavour = _FLAVOURS[kind]
    joined = flavour._join(flavour._pairs(query))
    path = _canonical_path(path)
    return f"{path}?{joined}" if joined else path
