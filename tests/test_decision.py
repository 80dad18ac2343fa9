"""The decision as a Python API: ``osscname.decision.decide`` on request facts, and ``decide_request`` on
a ``webob.Request`` (what tests and tools use to ask "what does this request get"), against the middleware."""

from __future__ import annotations

import pytest
from webob import Request

from conformance import app as stand_in_app
from osscname import load_bindings
from osscname.decision import Answer, Proxy, decide_request, plain_body
from osscname.middleware import CustomDomainMiddleware

BINDINGS = load_bindings("""\
version: 1
bindings:
  - {domain: img.abc.com, bucket: abc-img, region: us-east-1, index: index.html}
  - {domain: "*.cdn.example.org", bucket: example-cdn, region: ap-southeast-1, status: 308, https: {hsts: 600}}
  - {domain: go.example.org, bucket: example-go, region: eu-central-1, https: {force: true}}
  - {domain: files.abc.com, bucket: abc-files, region: us-east-1, mode: rewrite, prefix: public/, index: index.html, subdir: redirect, error_document: 404.html}
""")


@pytest.mark.parametrize(
    ("url", "method", "kind", "status", "location"),
    [
        ("http://img.abc.com/docs/?v=1", "GET", "redirect", 301, "http://abc-img.oss-us-east-1.aliyuncs.com/docs/index.html?v=1"),
        ("https://a.b.cdn.example.org/x%20y", "POST", "redirect", 308, "https://example-cdn.oss-ap-southeast-1.aliyuncs.com/x%20y"),
        ("http://go.example.org/x?", "GET", "https_redirect", 301, "https://go.example.org/x"),
        ("https://files.abc.com/a", "DELETE", "method_not_allowed", 405, None),
        ("https://files.abc.com/a/%2e%2e/b", "GET", "bad_request", 400, None),
    ],
)
def test_answers_are_what_the_middleware_sends(url: str, method: str, kind: str, status: int, location: str | None) -> None:
    request = Request.blank(url, method=method)
    decision = decide_request(BINDINGS, request)
    assert isinstance(decision, Answer)
    assert (decision.kind, decision.status, decision.location) == (kind, status, location)
    response = request.get_response(CustomDomainMiddleware(stand_in_app, BINDINGS))
    assert (response.status_code, response.headers.get("Location")) == (status, location)
    assert response.headers.get("Allow") == dict(decision.headers).get("Allow")
    assert response.headers.get("Strict-Transport-Security") == dict(decision.headers).get("Strict-Transport-Security")
    assert response.text == plain_body(status)


def test_a_rewrite_decision_names_the_upstream_and_its_follow_ups() -> None:
    decision = decide_request(BINDINGS, Request.blank("https://files.abc.com/guide?x=1"))
    assert isinstance(decision, Proxy)
    assert decision.url == "https://abc-files.oss-us-east-1.aliyuncs.com/public/guide?x=1"
    assert decision.host == "abc-files.oss-us-east-1.aliyuncs.com"
    assert (decision.folder, decision.folder_path, decision.folder_location) == ("redirect", "/public/guide/index.html", "https://files.abc.com/guide/?x=1")
    assert decision.error_document == "/404.html"
    options = decide_request(BINDINGS, Request.blank("https://files.abc.com/guide", method="OPTIONS"))
    assert isinstance(options, Proxy) and (options.folder, options.error_document) == (None, None)  # a preflight is about the object



def test_the_error_documents_status_and_subdir_root_are_decided() -> None:
    """``error_document: {status: 200}`` rides on the decision (404 by default); ``subdir: root`` sends
    every folder URL to the root index document and leaves a folder URL without its slash an object."""
    spa = load_bindings("version: 1\nbindings:\n  - {domain: app.abc.com, bucket: abc-app, region: us-east-1, mode: rewrite, prefix: web/,"
                        " index: index.html, subdir: root, error_document: {key: web/index.html, status: 200}}\n")  # fmt: skip
    for target, path in (("/", "/web/index.html"), ("/a/b/?q=1", "/web/index.html"), ("/a", "/web/a")):
        decision = decide_request(spa, Request.blank(f"https://app.abc.com{target}"))
        assert isinstance(decision, Proxy)
        assert (decision.path, decision.folder, decision.folder_path, decision.error_document, decision.error_status) == (path, None, None, "/web/index.html", 200)
    plain = decide_request(BINDINGS, Request.blank("https://files.abc.com/guide"))
    assert isinstance(plain, Proxy) and plain.error_status == 404


def test_unbound_and_malformed_hosts_get_no_decision() -> None:
    assert decide_request(BINDINGS, Request.blank("http://other.org/")) is None
    assert decide_request(BINDINGS, Request.blank("/", headers={"Host": "img.abc.com:http"})) is None


def test_absolute_form_target_is_decided_by_its_authority() -> None:
    request = Request.blank("/", headers={"Host": "other.org"})
    request.environ["REQUEST_URI"] = "http://img.abc.com/a%2Fb"
    decision = decide_request(BINDINGS, request)
    assert isinstance(decision, Answer) and decision.location == "http://abc-img.oss-us-east-1.aliyuncs.com/a%2Fb"

