"""Credentials for private buckets: from the environment, or from a provider that rotates them.

Credentials never sit in the bindings file: that file is committed, reviewed and copied into generated
configs, so a secret there would leak everywhere the file goes. They come from the environment, under the
names the official SDKs read (so a machine already set up for ``ossutil`` or the AWS CLI needs nothing
new), or from a provider passed in Python for temporary credentials (STS AssumeRole, an ECS RAM role):
a callable returning :class:`Credentials` with an expiry, which :class:`RefreshingCredentials` calls
again shortly before that expiry, so rotation needs no restart.

:func:`from_environment` is meant to be called once at start-up: a missing or malformed variable is a
:class:`CredentialsError` naming the variable, before the first request rather than at it. Nothing here
ever shows a secret: ``repr`` and ``str`` of :class:`Credentials` hide the secret and the session token
and shorten the key id, and no error message or log line carries any of them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Literal, Union
from collections.abc import Callable, Mapping

__all__ = ["Credentials", "CredentialsError", "CredentialsSource", "RefreshingCredentials", "ENVIRONMENT", "from_environment", "as_provider"]

log = logging.getLogger("osscname.credentials")

#: The variables each flavour reads, as (key id, secret, session token): the official SDKs' names
#: (alibabacloud-oss-v2's EnvironmentVariableCredentialsProvider; botocore's EnvEnvironment provider).
ENVIRONMENT: dict[str, tuple[str, str, str]] = {
    "oss": ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"),
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
}

# The key id and the token are sent (Authorization header, query string, x-oss-security-token): printable
# ASCII without spaces, and the key id without the separators of "Credential=<id>/<scope>,". The secret
# is only ever an HMAC key, but whitespace around it is the classic copy-paste mistake, refused by name.
_KEY_ID = re.compile(r"[!-~]+")
_TOKEN = re.compile(r"[!-~]+")
_KEY_ID_SEPARATORS = frozenset("/,=")


class CredentialsError(Exception):
    """A credential is missing, malformed, expired or could not be fetched.

    The message names the variable, the field or the provider, never a value.
    """


def _check(name: str, value: object, *, kind: Literal["key id", "secret", "token"]) -> str:
    """``value`` if it can be used as a ``kind``; else a :class:`CredentialsError` naming ``name``."""
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"{name} is empty" if isinstance(value, str) else f"{name} must be a string")
    if kind == "secret":
        if value != value.strip():
            raise CredentialsError(f"{name} has leading or trailing whitespace")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise CredentialsError(f"{name} contains a control character")
    elif kind == "key id":
        if not _KEY_ID.fullmatch(value) or _KEY_ID_SEPARATORS.intersection(value):
            raise CredentialsError(f"{name} must be printable ASCII without spaces, '/', ',' or '='")
    elif not _TOKEN.fullmatch(value):
        raise CredentialsError(f"{name} must be printable ASCII without spaces")
    return value


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """An access key pair, with the session token and expiry of temporary (STS) credentials.

    ``expires`` is a Unix timestamp (``time.time()`` scale); ``None`` for long-term keys. Values are
    checked when built, so a bad one fails where it is loaded, not inside a signature.
    """

    access_key_id: str
    secret: str
    session_token: str | None = None
    expires: float | None = None

    def __post_init__(self) -> None:
        _check("access_key_id", self.access_key_id, kind="key id")
        _check("secret", self.secret, kind="secret")
        if self.session_token is not None:
            _check("session_token", self.session_token, kind="token")
        if self.expires is not None and (isinstance(self.expires, bool) or not isinstance(self.expires, (int, float))):
            raise CredentialsError("expires must be a Unix timestamp (seconds) or None")

    def expired(self, now: float) -> bool:
        """Whether these credentials can no longer sign at ``now``."""
        return self.expires is not None and now >= self.expires

    def __repr__(self) -> str:
        key_id = self.access_key_id
        shown = key_id if len(key_id) <= 8 else f"{key_id[:4]}...{key_id[-4:]}"
        token = "None" if self.session_token is None else "<hidden>"
        return f"Credentials(access_key_id={shown!r}, secret=<hidden>, session_token={token}, expires={self.expires!r})"

    __str__ = __repr__


def from_environment(kind: Literal["oss", "s3"], environ: Mapping[str, str] | None = None) -> Credentials:
    """Credentials from the SDK variables of ``kind`` (:data:`ENVIRONMENT`), by default ``os.environ``.

    A missing, empty or malformed variable is a :class:`CredentialsError` naming every such variable at
    once; the session token is optional (set only for STS credentials).
    """
    if kind not in ENVIRONMENT:
        raise ValueError(f"kind must be 'oss' or 's3', not {kind!r}")
    env = os.environ if environ is None else environ
    id_name, secret_name, token_name = ENVIRONMENT[kind]
    missing = [name for name in (id_name, secret_name) if not env.get(name)]
    if missing:
        where = "OSS" if kind == "oss" else "an S3-compatible endpoint"
        raise CredentialsError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: private buckets on {where} "
                               f"read their credentials from {id_name} and {secret_name} (and {token_name} for STS credentials)")  # fmt: skip
    key_id = _check(id_name, env[id_name], kind="key id")
    secret = _check(secret_name, env[secret_name], kind="secret")
    token = env.get(token_name) or None
    return Credentials(key_id, secret, None if token is None else _check(token_name, token, kind="token"))


class RefreshingCredentials:
    """A provider that calls ``fetch`` for new credentials shortly before the current ones expire.

    For temporary credentials (STS AssumeRole, an instance RAM role): ``fetch`` returns
    :class:`Credentials` with ``expires``; they are reused until ``margin`` seconds before that, then
    ``fetch`` is called again. While one thread refreshes, the others keep signing with the current
    credentials if they are still valid, so no request waits on the token service. If ``fetch`` fails
    while the current credentials are still valid, they keep being used (one warning is logged, without
    values) and ``fetch`` is tried again after ``retry`` seconds; with no valid credentials left, every
    call raises :class:`CredentialsError` until a fetch succeeds, fetching at most once per ``retry``
    seconds so that a token-service outage is not multiplied by the request rate. Credentials without
    ``expires`` are fetched once.
    """

    def __init__(self, fetch: Callable[[], Credentials], *, margin: float = 300.0, retry: float = 10.0,
                 clock: Callable[[], float] = time.time):  # fmt: skip
        if margin < 0 or retry < 0:
            raise ValueError("margin and retry must not be negative")
        self._fetch = fetch
        self._margin = margin
        self._retry = retry
        self._clock = clock
        self._current: Credentials | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Credentials:
        current = self._current
        now = self._clock()
        if current is not None and (current.expires is None or now < current.expires - self._margin):
            return current
        if current is not None and not current.expired(now):
            # A refresh is under way elsewhere: sign with what we have rather than wait, while it is valid.
            if not self._lock.acquire(blocking=False):
                return current
        else:
            self._lock.acquire()
        try:
            return self._refresh(now)
        finally:
            self._lock.release()

    def _refresh(self, now: float) -> Credentials:
        current = self._current  # another thread may have refreshed while this one waited
        if current is not None and (current.expires is None or now < current.expires - self._margin):
            return current
        usable = current is not None and not current.expired(now)
        if self._failed_at is not None and now - self._failed_at < self._retry:
            if current is not None and usable:
                return current
            raise CredentialsError(f"no valid credentials: the last refresh failed {now - self._failed_at:.0f} s ago (retried after {self._retry:g} s)")
        try:
            fresh = self._fetch()
        except Exception as error:
            self._failed_at = now
            if current is not None and usable:
                log.warning("credentials refresh failed (%s); signing with the current credentials until they expire at %s",
                            type(error).__name__, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(current.expires or now)))  # fmt: skip
                return current
            raise CredentialsError(f"the credentials provider failed ({type(error).__name__})") from error
        if not isinstance(fresh, Credentials):
            self._failed_at = now
            raise CredentialsError(f"the credentials provider returned {type(fresh).__name__}, not Credentials")
        if fresh.expired(now):
            self._failed_at = now
            raise CredentialsError("the credentials provider returned credentials that have already expired")
        self._current, self._failed_at = fresh, None
        return fresh


#: What a signer takes: fixed credentials, or a callable returning the credentials to use now.
CredentialsSource = Union[Credentials, Callable[[], Credentials]]


def as_provider(source: CredentialsSource) -> Callable[[], Credentials]:
    """A callable returning the credentials to sign with now, for fixed credentials or a provider."""
    if isinstance(source, Credentials):
        return lambda: source
    if not callable(source):
        raise TypeError(f"credentials must be Credentials or a callable returning them, not {type(source).__name__}")
    return source
