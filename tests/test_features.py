"""Features and declarations: every route setting brings named features, every target classifies every
feature, and a feature nobody classified makes every target fail (and refuse) until it is classified.

Also the decision: ``osscname explain`` and the middleware give the same answer on every corpus case.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator

import pytest

from conformance import READER, Case, corpus_origin, load_cases, load_corpus_bindings, unsigned_location, upstreams, wsgi_reply
from conformance import app as stand_in_app
from osscname import features
from osscname.cli import explain
from osscname.decision import Answer, Facts, decide
from osscname.features import FEATURES, FIELD_FEATURES, Refused, Supported, route_features, unclassified
from osscname.generators import base, registry
from osscname.hosts import normalize_host
from osscname.model import SETTINGS, BindingSet

BINDINGS = load_corpus_bindings()
CASES = load_cases()


def option_variants(target: base.Target) -> list[Any]:
    """Each format of the target, and the options that change its declarations."""
    variants = [target.options(format=name) for name in target.formats] if "format" in target.options.__dataclass_fields__ else [target.options()]
    if target.name == "nginx":
        variants.append(target.options(resolver=("127.0.0.53",)))
    if target.name in ("aliyun", "cloudfront"):
        variants += [target.options(format=name, viewer_scheme="http") for name in target.formats]
    return variants


VARIANTS = [pytest.param(target, options, id=f"{target.name}-{i}") for target in registry.TARGETS.all() for i, options in enumerate(option_variants(target))]


def test_every_route_setting_says_which_features_it_brings() -> None:
    assert tuple(FIELD_FEATURES) == SETTINGS
    named = {name for names in FIELD_FEATURES.values() for name in names}
    assert named <= set(FEATURES)
    assert set(FEATURES) - named == set(features.BINDING_FEATURES) | set(features.REQUEST_FEATURES)
    assert features.REQUEST_FEATURES and all(name.startswith("request.") for name in features.REQUEST_FEATURES)


def test_registry_lists_every_target_once() -> None:
    assert [target.name for target in registry.TARGETS.all()] == list(registry.MODULES)
    assert set(registry.CDN) <= set(registry.MODULES)


@pytest.mark.parametrize(("target", "options"), VARIANTS)
def test_every_target_classifies_every_feature(target: base.Target, options: Any) -> None:
    assert unclassified(target.declare(options)) == []


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new feature, used by every route, that no target has classified yet."""
    name = "synthetic.new_setting"
    monkeypatch.setitem(FEATURES, name, "a setting added to the model")
    original = route_features
    monkeypatch.setattr(base, "route_features", lambda route: original(route) | {name})
    yield name


@pytest.mark.parametrize(("target", "options"), VARIANTS)
def test_an_unclassified_feature_fails_every_target_and_refuses_its_bindings(synthetic: str, target: base.Target, options: Any) -> None:
    declarations = target.declare(options)
    assert unclassified(declarations) == [synthetic]
    binding = next(iter(BINDINGS))
    reason = base.refusal(target, declarations, BINDINGS, binding)
    assert reason is not None and f"{target.name} does not say whether it supports {synthetic}" in reason


def test_classifying_the_feature_lifts_the_refusal(synthetic: str) -> None:
    target = registry.TARGETS["nginx"]
    declarations = {**target.declare(target.options()), synthetic: Supported()}
    img = BINDINGS.lookup("img.abc.com")
    assert img is not None and unclassified(declarations) == []
    assert base.refusal(target, declarations, BINDINGS, img) is None


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("img.abc.com", {"redirect.301", "scheme.request", "endpoint_type.public", "icp"}),
        ("dl.abc.com", {"redirect.302", "scheme.request", "endpoint_type.public", "icp", "prefix"}),
        ("*.cdn.example.org", {"redirect.301", "scheme.https", "endpoint_type.accelerate"}),
        ("assets.example.org", {"redirect.301", "scheme.http", "endpoint", "endpoint.port", "endpoint.path"}),
        ("go.example.org", {"redirect.301", "scheme.request", "endpoint_type.public", "https.force", "https.hsts"}),
        ("files.abc.com", {"rewrite", "scheme.request", "endpoint_type.public", "icp", "prefix", "index", "subdir.serve", "error_document"}),
        ("www.example.org", {"rewrite", "scheme.request", "endpoint_type.public", "upstream_host.domain"}),
    ],
)
def test_route_features(domain: str, expected: set[str]) -> None:
    binding = BINDINGS.lookup(domain)
    assert binding is not None
    assert route_features(binding.route) == expected


def test_a_refusal_can_depend_on_another_setting() -> None:
    """``when``: the Worker refuses a port only over https."""
    declarations = registry.TARGETS["cloudflare"].declare(registry.TARGETS["cloudflare"].options())
    port = declarations["endpoint.port"]
    assert isinstance(port, Refused) and port.when is not None
    media = BINDINGS.lookup("media.example.org")  # http://media-store.minio.example.net:9000/site, rewrite
    assert media is not None and not port.when(media)
    https = media._replace(route=media.route.with_(scheme="https"))
    assert port.when(https)
    assert "has a port" in (base.refusal(registry.TARGETS["cloudflare"], declarations, BindingSet((https,)), https) or "")


# --- the decision: explain and the middleware agree on every corpus case -------------------------


@pytest.fixture(scope="module")
def middleware() -> Iterator[Any]:
    from osscname.middleware import CustomDomainMiddleware

    with corpus_origin() as origin:
        wrapped = CustomDomainMiddleware(stand_in_app, BINDINGS, upstreams=upstreams(origin.address, BINDINGS), credentials=READER)
        yield wrapped
        wrapped.close()


def _url(case: Case) -> str:
    return f"{case.request.scheme}://{case.request.host}{case.request.target}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.runs_on("middleware") and c.request.host.isascii()])
def test_explain_and_the_middleware_agree(middleware: Any, case: Case) -> None:
    reply = wsgi_reply(middleware, case)
    try:
        said = explain(BINDINGS, _url(case), case.request.method)
    except ValueError:  # not a URL urlsplit takes (a Host the middleware judges by itself)
        pytest.skip("the Host is not a URL authority")
    if said["action"] == "pass":
        assert reply.body == b"app\n"
        return
    host = normalize_host(case.request.host)
    binding = BINDINGS.match(case.request.host)
    assert binding is not None and host is not None
    decision = decide(binding.route, Facts(case.request.method, case.request.scheme, host, case.request.path, case.request.query))
    if isinstance(decision, Answer):
        assert (said["action"], said["status"], said.get("location")) == (decision.kind, decision.status, decision.location)
        assert (reply.status, unsigned_location(reply.header("Location"))) == (decision.status, decision.location)
    else:
        assert said["upstream"] == {"url": decision.url, "host": decision.host}
        asked = {decision.target}  # the object, or one of the follow-ups on its 404
        if decision.folder_path:
            asked.add(decision.folder_path + decision.suffix if decision.folder == "serve" else decision.folder_path)
        if decision.error_document:
            asked.add(decision.error_document)
        if reply.header("x-origin-uri") is not None:
            assert reply.header("x-origin-host") == decision.host
            assert reply.header("x-origin-uri") in asked
    if "hsts" in said:
        assert reply.header("Strict-Transport-Security") == said["hsts"]
