"""The ``osscname`` command: validate a bindings file, explain what happens to a URL, serve test buckets.

    osscname validate FILE [--strict]      summary; exit 0 valid, 2 invalid (FILE:LINE:COL per problem)
    osscname explain FILE URL [--json]     which binding matches and what the middleware would do
    osscname serve-bucket DIR [--port N]   a local OSS-like origin serving DIR/<bucket>/<key>
    osscname demo [FILE] [--port N]        a demo app wrapped in the middleware, in front of a local origin

``explain`` prints :func:`osscname.decision.decide`'s answer: the decision the middleware is tested
against and every target is compared with, so what it prints is what they do. For a private binding it
shows the signing (algorithm, credential scope, the variables the credentials come from, a presigned
Location's lifetime) without reading any credential: signatures are made at request time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from collections.abc import Sequence
from urllib.parse import urlsplit

from .credentials import ENVIRONMENT
from .decision import Answer, Facts, Signing, decide
from .guidance import warnings
from .hosts import normalize_host
from .loader import BindingError, load_bindings
from .model import Binding, BindingSet

EXIT_OK, EXIT_INVALID = 0, 2


def explain(bindings: BindingSet, url: str, method: str = "GET") -> dict[str, Any]:
    """What a request for ``url`` gets: :func:`osscname.decision.decide`'s answer, JSON-ready
    (see ``osscname explain --help``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = normalize_host(parts.netloc)
    binding = None if host is None else bindings.lookup(host)
    answer: dict[str, Any] = {"url": url, "method": method, "host": host, "binding": None}
    if binding is None or host is None:
        answer["action"] = "pass"
        return answer
    answer["binding"] = {"domain": binding.domain, "where": bindings.where(binding), "bucket": binding.bucket,
                         "bucket_host": binding.bucket_host, "mode": binding.mode}  # fmt: skip
    decision = decide(binding.route, Facts(method, parts.scheme, host, parts.path or "/", parts.query))
    headers = dict(decision.headers)
    if isinstance(decision, Answer):
        answer.update(action=decision.kind, status=decision.status)
        for name in ("Location", "Allow"):
            if name in headers:
                answer[name.lower()] = headers[name]
    else:
        answer.update(action="rewrite", upstream={"url": decision.url, "host": decision.host})
        if binding.route.root_index:  # subdir: root (OSS SupportSubDir off): one index document for every folder
            answer["folder_index"] = binding.route.root_index
        elif binding.index and not (parts.path or "/").endswith("/"):
            answer["folder_without_slash"] = binding.subdir
        if decision.error_document:
            answer["error_document"] = binding.error_document
            answer["error_status"] = decision.error_status
    if "Strict-Transport-Security" in headers:
        answer["hsts"] = headers["Strict-Transport-Security"]
    if decision.signing is not None:
        answer["signing"] = _signing(decision.signing)
    return answer


def _signing(signing: Signing) -> dict[str, Any]:
    """What a private binding's signature is made of, JSON-ready: never a credential, nothing computed."""
    out: dict[str, Any] = {"algorithm": signing.algorithm, "scope": signing.scope(), "region": signing.region, "service": signing.service,
                           "environment": list(ENVIRONMENT[signing.kind])}  # fmt: skip
    if signing.expires is None:
        out["signed"] = "every upstream request, in its headers, at request time"
    else:
        out["signed"] = "the Location, presigned (query string) at request time"
        out["expires"] = signing.expires
    return out


def _describe(binding: Binding) -> str:
    where = binding.region or binding.bucket_host
    kind = "custom endpoint" if binding.endpoint_type == "custom" else f"{binding.endpoint_type} endpoint"
    return f"{binding.bucket} ({where}, {kind})"


def _print_explain(answer: dict[str, Any], bindings: BindingSet) -> None:
    print(answer["url"])
    binding_info = answer["binding"]
    if binding_info is None:
        host = answer["host"] or "(not a valid host name)"
        print(f"  host      {host}")
        print("  action    pass through: no binding, the wrapped app answers")
        return
    binding = bindings.lookup(answer["host"])
    assert binding is not None
    print(f"  binding   {binding.domain}  ({binding_info['where']})")
    print(f"  bucket    {_describe(binding)}")
    action = answer["action"]
    signing = answer.get("signing")
    if action in ("redirect", "https_redirect"):
        what = "redirect to https first (https.force)" if action == "https_redirect" else "redirect"
        print(f"  action    {what} {answer['status']}")
        if signing:
            print(f"  Location  {answer['location']}  + the signing parameters, presigned at request time")
        else:
            print(f"  Location  {answer['location']}")
    elif action == "forbidden":
        print("  action    403 Forbidden: a private bucket's root (its listing) and queries for anything but the object's bytes "
              "(?acl, ?versionId, response-*, ...) are not signed for anyone")  # fmt: skip
    elif action == "method_not_allowed":
        print(f"  action    405 Method Not Allowed (Allow: {answer['allow']})")
    elif action == "bad_request":
        print("  action    400 Bad Request: the path has a '.' or '..' segment, which could leave the prefix")
    else:
        print("  action    rewrite: proxied, the bucket's bytes served under this domain")
        print(f"  upstream  {answer['upstream']['url']}")
        print(f"  Host      {answer['upstream']['host']}")
        if "folder_without_slash" in answer:
            print(f"  folders   if the object is missing but <path>/{binding.index} exists: subdir={answer['folder_without_slash']}")
        if "folder_index" in answer:
            print(f"  folders   every folder URL (<path>/) gets the root index document {answer['folder_index']} (subdir=root, "
                  "OSS SupportSubDir off); <path> without its slash is an ordinary object")  # fmt: skip
        if "error_document" in answer:
            print(f"  missing   {answer['error_status']} with the error document {answer['error_document']}")
    if signing:
        print(f"  signing   {signing['algorithm']}, credential scope {signing['scope']}")
        lifetime = f", valid {signing['expires']} s" if "expires" in signing else ""
        print(f"            {signing['signed']}{lifetime}")
        key_id, secret, token = signing["environment"]
        print(f"            credentials from {key_id}, {secret} ({token} for STS) or the middleware's credentials option")
    if "hsts" in answer:
        print(f"  HSTS      Strict-Transport-Security: {answer['hsts']}")


def _load(path: str) -> BindingSet | None:
    try:
        return load_bindings(Path(path))
    except BindingError as error:
        print(error, file=sys.stderr)
        print(f"{path}: {len(error.problems)} problem(s)", file=sys.stderr)
        return None


def _warn(bindings: BindingSet, strict: bool, only: str | None = None) -> int:
    """Print the OSS rules the bindings run into (:mod:`osscname.guidance`) on stderr, for one domain
    when ``only`` names it; the exit status: 2 under ``--strict`` when there were any."""
    found = [line for line in warnings(bindings) if only is None or line.split(": ", 2)[1] == only]
    for line in found:
        print(line, file=sys.stderr)
    return EXIT_INVALID if strict and found else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    bindings = _load(args.file)
    if bindings is None:
        return EXIT_INVALID
    modes = Counter(b.mode for b in bindings)
    wildcards = sum(b.is_wildcard for b in bindings)
    buckets = len({(b.bucket_host, b.base_path) for b in bindings})
    print(f"{args.file}: valid, {len(bindings)} bindings ({len(bindings) - wildcards} exact, {wildcards} wildcard; "
          f"{modes['redirect']} redirect, {modes['rewrite']} rewrite) on {buckets} buckets")  # fmt: skip
    return _warn(bindings, args.strict)


def cmd_explain(args: argparse.Namespace) -> int:
    bindings = _load(args.file)
    if bindings is None:
        return EXIT_INVALID
    try:
        answer = explain(bindings, args.url, args.method.upper())
    except ValueError as error:
        print(f"osscname explain: error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        _print_explain(answer, bindings)
    sys.stdout.flush()  # the answer first, then what OSS's rules say about its binding
    binding = answer["binding"]
    return _warn(bindings, args.strict, binding["domain"]) if binding else EXIT_OK


def _serve_bucket(argv: list[str]) -> int:
    from .testing.origin import main as serve_main

    return serve_main(argv)


def _demo(argv: list[str]) -> int:
    from .demo import main as demo_main

    return demo_main(argv)


#: Commands with parsers of their own: everything after the command name is theirs.
DELEGATED = {"serve-bucket": _serve_bucket, "demo": _demo}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="osscname", description=__doc__.split("\n\n")[0].replace("``", ""),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check a bindings file; exit 0 valid, 2 invalid")
    validate.add_argument("file", metavar="FILE")
    validate.add_argument("--strict", action="store_true", help="exit 2 when a binding runs into an OSS rule (warnings become errors)")
    validate.set_defaults(run=cmd_validate)
    explain_ = commands.add_parser("explain", help="say which binding matches URL and what would happen")
    explain_.add_argument("file", metavar="FILE")
    explain_.add_argument("url", metavar="URL", help="e.g. http://img.abc.com/logo.png")
    explain_.add_argument("--method", default="GET", help="request method (default GET)")
    explain_.add_argument("--json", action="store_true", help="print JSON instead of text")
    explain_.add_argument("--strict", action="store_true", help="exit 2 when the binding runs into an OSS rule")
    explain_.set_defaults(run=cmd_explain)
    commands.add_parser("serve-bucket", help="serve DIR/<bucket>/<key> like OSS (see serve-bucket --help)")
    commands.add_parser("demo", help="run a demo app + local origin you can curl (see demo --help)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return DELEGATED[argv[0]](argv[1:])
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
