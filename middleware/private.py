"""Private buckets in both middlewares: the credentials and signers, and what keeps a signature to itself.

A private binding's rewrite signs every upstream request (OSS V4 for OSS endpoints, SigV4 for custom
ones: :func:`osscname.decision.signing_of`) and its redirect hands out a presigned Location. Both
middlewares take the same ``credentials`` option, resolved here once per kind of credentials:

* ``None`` (the default): :func:`osscname.credentials.from_environment` for each kind the bindings need,
  the official SDKs' variables (``OSS_*`` for OSS bindings, ``AWS_*`` for private custom endpoints), read
  when a bindings file that needs them is installed, that is at start-up, or at the reload that adds the
  first binding of that kind;
* :class:`~osscname.credentials.Credentials`, or a callable returning them (a
  :class:`~osscname.credentials.RefreshingCredentials` for STS or an instance RAM role): used for every
  kind;
* a mapping ``{"oss": ..., "s3": ...}`` of either: one per kind; a kind the bindings need and the mapping
  lacks is an error (it is never looked for in the environment behind the caller's back).

Whatever is missing or broken is a :class:`~osscname.credentials.CredentialsError` naming the variable (or
the mapping's key, or the provider's failure) and the first binding that needs it, raised by the
middleware's constructor: a site with a private binding and no credentials does not start, rather than
answering 403 to every request. A provider is asked once at that point for the same reason. Bindings
that are not private never read a credential.

:class:`Signers` keeps one :class:`~osscname.signing.Signer` per (kind, region, bucket) for the life of
the middleware, so a reload keeps the signing keys already derived; a Signer asks its credentials source
on every signature, so rotated credentials are used from the next request on.

What a signed request's answer must not carry back to the client (the proxies apply these):

* a Location holding signing parameters (:func:`carries_signature`): a bucket (or an S3-compatible
  service) redirecting to a presigned URL hands out access to the bucket itself, past the binding's
  prefix; such a redirect is answered 502 and logged without its URL;
* the bucket's own 400 and 403 answers: their bodies (and, for HEAD, OSS's ``x-oss-err`` header) may
  hold the canonical request, whose signed headers include the session token. The client gets the
  middleware's plain answer of the same status instead; when the error code says the signature itself was
  refused (:data:`SIGNATURE_ERRORS`: a wrong secret, an expired token, a skewed clock), that is the site's
  configuration, not the client's request, and the answer is 502, logged with the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Union
from urllib.parse import unquote

from osscname.credentials import Credentials, CredentialsError, CredentialsSource, as_provider, from_environment
from osscname.decision import signing_of
from osscname.model import Binding, BindingSet, Route
from osscname.signing import Signer

__all__ = ["CredentialsOption", "Signers", "carries_signature", "error_code", "SIGNATURE_ERRORS", "GUARDED_STATUSES"]

#: What the middlewares' ``credentials`` option takes.
CredentialsOption = Union[CredentialsSource, Mapping[str, CredentialsSource], None]

#: Error codes (OSS's and S3's) that mean the bucket refused the signature or the credentials, not the request.
SIGNATURE_ERRORS = frozenset(("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecurityToken", "SecurityTokenExpired",
                              "RequestTimeTooSkewed", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
                              "AuthorizationHeaderMalformed", "InvalidDateHeader", "AccessDeniedByExpired"))  # fmt: skip
#: Upstream statuses whose body and headers a signed request never relays (see the module docstring).
GUARDED_STATUSES = frozenset((400, 403))
#: Query parameters (decoded, lower-case) that make a URL a presigned one, OSS V4 and V1, SigV4 and V2.
_SIGNATURE_PARAMETERS = frozenset(("x-oss-signature", "x-oss-credential", "x-oss-security-token", "x-amz-signature", "x-amz-credential",
                                   "x-amz-security-token", "signature", "ossaccesskeyid", "awsaccesskeyid", "security-token"))  # fmt: skip
_CODE = re.compile(rb"<Code>([A-Za-z.]{1,64})</Code>")


def carries_signature(location: str) -> bool:
    """Whether a URL's query holds a signature, a credential or a session token."""
    query = location.partition("#")[0].partition("?")[2]
    return bool(query) and any(unquote(piece.partition("=")[0]).lower() in _SIGNATURE_PARAMETERS for piece in query.split("&"))


def error_code(body: bytes | None) -> str | None:
    """The ``<Code>`` of an OSS or S3 XML error body (letters only, so it is safe to log), or None."""
    found = _CODE.search(body or b"")
    return found.group(1).decode("ascii") if found else None


class Signers:
    """One middleware's credentials (per kind, resolved when first needed) and signers (per kind, region, bucket)."""

    def __init__(self, credentials: CredentialsOption = None):
        if credentials is not None and not isinstance(credentials, (Credentials, Mapping)) and not callable(credentials):
            raise TypeError(f"credentials must be Credentials, a callable returning them or a mapping of 'oss' and 's3' to either, "
                            f"not {type(credentials).__name__}")  # fmt: skip
        if isinstance(credentials, Mapping):
            unknown = sorted(set(credentials) - {"oss", "s3"})
            if unknown:
                raise ValueError(f"credentials: unknown kind {unknown[0]!r}; the kinds are 'oss' (OSS bindings) and 's3' (custom endpoints)")
        self._option = credentials
        self._sources: dict[str, Callable[[], Credentials]] = {}
        self._made: dict[tuple[str, str, str], Signer] = {}

    def prepare(self, bindings: BindingSet) -> dict[Route, Signer]:
        """A signer for every private route of ``bindings``; a :class:`CredentialsError` naming the variable
        and the first binding that needs it when a kind's credentials are missing."""
        signers: dict[Route, Signer] = {}
        for binding in bindings:
            route = binding.route
            signing = signing_of(route)
            if signing is None or route in signers:
                continue
            key = (signing.kind, signing.region, route.bucket)
            signer = self._made.get(key)
            if signer is None:
                source = self._source(signing.kind, binding, bindings)
                if signing.kind == "oss":
                    signer = Signer.for_oss(signing.region, route.bucket, source)
                else:
                    signer = Signer.for_s3(signing.region, source)
                self._made[key] = signer
            signers[route] = signer
        return signers

    def _source(self, kind: str, binding: Binding, bindings: BindingSet) -> Callable[[], Credentials]:
        source = self._sources.get(kind)
        if source is not None:
            return source
        needed = f"private binding {binding.domain} ({bindings.where(binding)})"
        option = self._option
        try:
            if option is None:
                source = as_provider(from_environment("oss" if kind == "oss" else "s3"))
            else:
                chosen = option.get(kind) if isinstance(option, Mapping) else option
                if chosen is None:
                    raise CredentialsError(f"the credentials mapping has no {kind!r} entry")
                source = as_provider(chosen)
                self._ask(source)
        except CredentialsError as error:
            raise CredentialsError(f"{error}; needed by {needed}") from None
        self._sources[kind] = source
        return source

    @staticmethod
    def _ask(source: Callable[[], Credentials]) -> None:
        """Ask a provider once, so that one that cannot answer stops the start-up, not a request."""
        try:
            answered = source()
        except CredentialsError:
            raise
        except Exception as error:
            raise CredentialsError(f"the credentials provider failed ({type(error).__name__})") from None
        if not isinstance(answered, Credentials):
            raise CredentialsError(f"the credentials provider returned {type(answered).__name__}, not Credentials")
