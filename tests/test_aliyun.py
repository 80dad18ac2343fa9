"""``generate-cdn``: the dispatcher's contract, and its Alibaba Cloud target.

There is no offline Alibaba CDN to run, so the output is checked for structure against schemas of the
documented arguments (``tests/schemas/``: the provider's resource docs, the CDN API's parameters and
domain functions), for what each binding becomes, and against golden files generated from
``examples/bindings.yaml``. After an intended change, regenerate the golden files with::

    .venv/bin/python tests/test_aliyun.py
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bypass import bypassing
from osscname.generators import aliyun, base, cdn, common, registry
from osscname.loader import load_bindings
from osscname.model import BindingSet
from test_dns import bindings_file, refusals, schema_problems

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "bindings.yaml"
GOLDEN = {
    REPO / "tests" / "golden" / "aliyun.tf.json": ["--target", "aliyun", "--format", "terraform"],
    REPO / "tests" / "golden" / "aliyun.api.json": ["--target", "aliyun", "--format", "api"],
}
ICP = "浙ICP备12345678号-1"
UNSAFE_CHARS = [pytest.param(c, id=repr(c)) for c in (";", "{", "}", "$", '"', "'", "#", "\n")]


def terraform_problems(document: dict[str, Any]) -> list[str]:
    """Arguments the provider does not document, and CDN functions or arguments the CDN does not document."""
    problems = schema_problems("alicloud_terraform.schema.json", document)
    for name, config in document.get("resource", {}).get("alicloud_cdn_domain_config", {}).items():
        as_api = {
            "functionName": config["function_name"],
            "functionArgs": [{"argName": a["arg_name"], "argValue": a["arg_value"]} for a in config["function_args"]],
        }
        problems += [f"{name}: {p}" for p in schema_problems("aliyun_cdn_function.schema.json", as_api)]
    return problems


def api_problems(document: dict[str, Any]) -> list[str]:
    problems = schema_problems("aliyun_cdn_api.schema.json", document)
    for call in document.get("BatchSetCdnDomainConfig", []):
        for function in call["Functions"]:
            problems += schema_problems("aliyun_cdn_function.schema.json", function)
    return problems


def generate(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    try:
        code = cdn.main([str(a) for a in argv])
    except SystemExit as exit:  # argparse errors
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def terraform(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    code, out, err = generate(capsys, "--target", "aliyun", *extra, path)
    assert code == 0, err
    document = json.loads(out)
    assert terraform_problems(document) == []
    return document


def rules(document: dict[str, Any], name: str) -> list[tuple[str, str, dict[str, str]]]:
    """(resource name suffix, function name, args) of one binding's CDN rules, in output order."""
    configs = document["resource"].get("alicloud_cdn_domain_config", {})
    return [
        (key.split("__")[-1], c["function_name"], {a["arg_name"]: a["arg_value"] for a in c["function_args"]})
        for key, c in configs.items()
        if key.rsplit("__", 1)[0] == name
    ]


# --- the dispatcher's contract -------------------------------------------------------------------


def test_targets_and_their_modules_keep_the_contract() -> None:
    assert registry.CDN == ("aliyun", "cloudfront", "cloudflare")
    assert aliyun.FORMATS == ("terraform", "api")
    for name in registry.CDN:
        module = importlib.import_module(registry.MODULES[name])
        target = registry.TARGETS[name]
        assert target is module.TARGET and target.name == name
        assert isinstance(target.formats, tuple) and target.formats, name
        assert callable(module.add_arguments) and callable(target.declare) and callable(target.render), name


def test_default_format_is_the_targets_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = generate(capsys, "--target", "aliyun", "--skip-unsupported", EXAMPLE)
    assert code == 0, err
    assert "resource" in json.loads(out)


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--target", "aliyun", "--format", "bind"], "--format bind is not a format of --target aliyun; choose from: terraform, api", id="wrong-format"),
        pytest.param(["--format", "api"], "the following arguments are required: --target", id="no-target"),
        pytest.param(["--target", "akamai"], "invalid choice: 'akamai'", id="unknown-target"),
        pytest.param(["--target", "aliyun", "--viewer-scheme", "ftp"], "invalid choice: 'ftp'", id="bad-viewer-scheme"),
    ],
)
def test_command_line_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = generate(capsys, *argv, EXAMPLE)
    assert (code, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(
    "domain, name",
    [
        pytest.param("img.abc.com", "img_abc_com", id="exact"),
        pytest.param("*.cdn.example.org", "wildcard__cdn_example_org", id="wildcard"),
        pytest.param("1.abc.com", "_1_abc_com", id="leading-digit"),
        pytest.param("xn--bcher-kva.example.org", "xn--bcher-kva_example_org", id="idn"),
        pytest.param("wildcard.cdn.example.org", "wildcard_cdn_example_org", id="exact-named-wildcard"),
    ],
)
def test_resource_names_are_identifiers_from_domains(domain: str, name: str) -> None:
    assert common.resource_name(domain) == name


def test_resource_names_are_unique_even_for_lookalike_domains() -> None:
    domains = ["a-b.com", "a.b.com", "*.a.b.com", "wildcard.a.b.com", "*.b.com", "1a.b.com", "a1.b.com", "*.1a.b.com", "a.b-com.net"]
    names = [common.resource_name(d) for d in domains]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("domain", ["img..abc.com", "img.abc.com;", "img abc.com", "${x}.abc.com"])
def test_resource_name_refuses_what_is_not_a_canonical_domain(domain: str) -> None:
    with pytest.raises(base.UnsafeValue):
        common.resource_name(domain)


@pytest.mark.parametrize(
    "scheme, force, viewer, expected",
    [
        pytest.param(None, False, "https", "https", id="unset-default"),
        pytest.param(None, False, "http", "http", id="unset-viewer-http"),
        pytest.param("http", False, "https", "http", id="binding-says-http"),
        pytest.param(None, True, "http", "https", id="forced-https"),
    ],
)
def test_viewer_scheme(scheme: str | None, force: bool, viewer: str, expected: str) -> None:
    binding = next(iter(load_bindings(EXAMPLE)))
    binding = binding._replace(route=binding.route.with_(scheme=scheme, https_force=force))
    assert common.viewer_scheme(binding, viewer) == expected


# --- the example ---------------------------------------------------------------------------------

EXAMPLE_REFUSALS = {
    ("12", "img.abc.com"): "answers 302, 303 or 307 only, so status 301 cannot be honoured: set status: 302 or 307",
    ("18", "files.abc.com"): "subdir: serve needs a second origin fetch",
    ("39", "*.cdn.example.org"): "so status 301 cannot be honoured",
    ("54", "xn--bcher-kva.example.org"): "so status 308 cannot be honoured",
    ("60", "assets.example.org"): "endpoint 127.0.0.1:9000/assets is not an OSS bucket",
}


@pytest.mark.parametrize("fmt", ["terraform", "api"])
def test_example_refuses_each_binding_by_name(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = generate(capsys, "--target", "aliyun", "--format", fmt, EXAMPLE)
    assert (code, out) == (2, "")
    found = refusals(err, "generate-cdn: error: ")
    assert found.keys() == EXAMPLE_REFUSALS.keys()
    for key, fragment in EXAMPLE_REFUSALS.items():
        assert fragment in found[key]
    assert "error_document" in found[("18", "files.abc.com")]
    assert err.splitlines()[-1] == "generate-cdn: 5 binding(s) cannot be expressed; change them, or pass --skip-unsupported to generate the rest"


def test_example_skip_unsupported_generates_the_rest_as_terraform(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = generate(capsys, "--target", "aliyun", "--skip-unsupported", EXAMPLE)
    assert code == 0
    assert refusals(err, "generate-cdn: skipped ").keys() == EXAMPLE_REFUSALS.keys()
    document = json.loads(out)
    assert terraform_problems(document) == []
    resource = document["resource"]
    assert set(resource["alicloud_cdn_domain_new"]) == {"dl_abc_com", "wildcard__eu_cdn_example_org"}
    assert resource["alicloud_cdn_domain_new"]["wildcard__eu_cdn_example_org"]["domain_name"] == ".eu.cdn.example.org"
    # OSS binds no wildcard domain: the wildcard gets CDN and DNS resources only.
    assert set(resource["alicloud_oss_bucket_cname"]) == set(resource["alicloud_oss_bucket_cname_token"]) == {"dl_abc_com"}
    assert resource["alicloud_alidns_record"]["wildcard__eu_cdn_example_org"] == {
        "domain_name": "example.org", "rr": "*.eu.cdn", "type": "CNAME",
        "value": "${alicloud_cdn_domain_new.wildcard__eu_cdn_example_org.cname}", "ttl": 600,
    }  # fmt: skip
    assert "--viewer-scheme https" in document["//"]


def test_example_skip_unsupported_generates_the_rest_as_api_calls(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = generate(capsys, "--target", "aliyun", "--format", "api", "--skip-unsupported", EXAMPLE)
    assert code == 0, err
    document = json.loads(out)
    assert api_problems(document) == []
    assert [call["DomainName"] for call in document["AddCdnDomain"]] == ["dl.abc.com", ".eu.cdn.example.org"]
    assert sorted(call["DomainNames"] for call in document["BatchSetCdnDomainConfig"]) == [".eu.cdn.example.org", "dl.abc.com"]
    assert "--viewer-scheme https" in document["//"]


@pytest.mark.parametrize("golden", list(GOLDEN), ids=lambda p: p.name)
def test_golden_files_match(capsys: pytest.CaptureFixture[str], golden: Path) -> None:
    code, _, err = generate(capsys, *GOLDEN[golden], "--skip-unsupported", EXAMPLE, "--check", golden)
    assert code == 0, f"{err}\nregenerate with: .venv/bin/python tests/test_aliyun.py"


# --- what a binding becomes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "zones, domain, zone, rr",
    [
        pytest.param("[abc.com]", "img.abc.com", "abc.com", "img", id="listed-zone"),
        pytest.param("[]", "img.abc.com", "abc.com", "img", id="public-suffix-list"),
        pytest.param("[static.abc.com]", "img.static.abc.com", "static.abc.com", "img", id="deeper-listed-zone"),
        pytest.param("[]", "img.static.abc.com", "abc.com", "img.static", id="deeper-psl"),
    ],
)
def test_rewrite_binding_is_the_oss_binding_a_cdn_with_an_oss_origin_and_its_dns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, zones: str, domain: str, zone: str, rr: str
) -> None:
    path = bindings_file(tmp_path, f"domain: {domain}\nbucket: abc-img\nregion: cn-hangzhou\nicp: {ICP}\nmode: rewrite", zones=zones)
    resource = terraform(capsys, path)["resource"]
    name = common.resource_name(domain)
    bucket_host = "abc-img.oss-cn-hangzhou.aliyuncs.com"
    assert resource["alicloud_cdn_domain_new"][name] == {
        "domain_name": domain, "cdn_type": "web", "scope": "global",
        "sources": [{"type": "oss", "content": bucket_host, "port": 443, "priority": 20, "weight": 10}],
    }  # fmt: skip
    config = resource["alicloud_cdn_domain_config"][f"{name}__origin_host"]
    assert config == {
        "domain_name": f"${{alicloud_cdn_domain_new.{name}.domain_name}}",
        "function_name": "set_req_host_header",
        "function_args": [{"arg_name": "domain_name", "arg_value": bucket_host}],
    }
    assert resource["alicloud_oss_bucket_cname_token"][name] == {"provider": "alicloud.oss_cn_hangzhou", "bucket": "abc-img", "domain": domain}
    assert resource["alicloud_oss_bucket_cname"][name] == {
        "provider": "alicloud.oss_cn_hangzhou", "bucket": "abc-img", "domain": domain,
        "depends_on": [f"alicloud_alidns_record.{name}__dnsauth"],
    }  # fmt: skip
    records = resource["alicloud_alidns_record"]
    assert records[f"{name}__dnsauth"] == {
        "domain_name": zone, "rr": f"_dnsauth.{rr}", "type": "TXT",
        "value": f"${{alicloud_oss_bucket_cname_token.{name}.token}}", "ttl": 600,
        "lifecycle": {"ignore_changes": ["value"]},
    }  # fmt: skip
    assert records[name] == {"domain_name": zone, "rr": rr, "type": "CNAME", "value": f"${{alicloud_cdn_domain_new.{name}.cname}}", "ttl": 600}


def test_one_provider_per_bucket_region(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = bindings_file(
        tmp_path,
        f"domain: a.abc.com\nbucket: bucket-a\nregion: cn-hangzhou\nicp: {ICP}\nmode: rewrite",
        f"domain: b.abc.com\nbucket: bucket-b\nregion: cn-hangzhou\nicp: {ICP}\nmode: rewrite",
        "domain: c.example.org\nbucket: bucket-c\nregion: eu-central-1\nmode: rewrite",
    )
    document = terraform(capsys, path)
    assert document["provider"] == {"alicloud": [{"alias": "oss_cn_hangzhou", "region": "cn-hangzhou"}, {"alias": "oss_eu_central_1", "region": "eu-central-1"}]}
    assert document["resource"]["alicloud_oss_bucket_cname"]["c_example_org"]["provider"] == "alicloud.oss_eu_central_1"
    assert document["terraform"]["required_providers"]["alicloud"]["version"] == ">=1.233.0"


REDIRECT = f"domain: dl.abc.com\nbucket: abc-dl\nregion: cn-shanghai\nicp: {ICP}\nstatus: 302"
DL = "abc-dl.oss-cn-shanghai.aliyuncs.com"
REWRITE = f"domain: files.abc.com\nbucket: abc-files\nregion: cn-hangzhou\nicp: {ICP}\nmode: rewrite"
FILES = "abc-files.oss-cn-hangzhou.aliyuncs.com"


def _redirect(regex: str, replacement: str, status: str = "302") -> dict[str, str]:
    return {"regex": regex, "replacement": replacement, "flag": "redirect", "rewrite_method": status}


def _origin(source: str, target: str) -> dict[str, str]:
    return {"source_url": source, "target_url": target, "flag": "break"}


@pytest.mark.parametrize(
    "binding, extra, expected",
    [
        pytest.param(REDIRECT, [], [("redirect", "host_redirect", _redirect("^/(.*)$", f"https://{DL}/$1"))], id="redirect-viewer-https-default"),
        pytest.param(REDIRECT, ["--viewer-scheme", "http"], [("redirect", "host_redirect", _redirect("^/(.*)$", f"http://{DL}/$1"))], id="redirect-viewer-http"),
        pytest.param(REDIRECT + "\nscheme: http", [], [("redirect", "host_redirect", _redirect("^/(.*)$", f"http://{DL}/$1"))], id="redirect-own-scheme"),
        pytest.param(
            REDIRECT.replace("302", "307") + "\nhttps: {force: true, hsts: 600}", ["--viewer-scheme", "http"],
            [
                ("https_force", "https_force", {"enable": "on", "https_rewrite": "301"}),
                ("hsts", "HSTS", {"enabled": "on", "https_hsts_max_age": "600"}),
                ("redirect", "host_redirect", _redirect("^/(.*)$", f"https://{DL}/$1", "307")),
            ],
            id="redirect-forced-https-hsts-307",
        ),
        pytest.param(
            REDIRECT + "\nprefix: releases/\nindex: index.html", [],
            [
                ("redirect_folder", "host_redirect", _redirect("^/(|.*/)$", f"https://{DL}/releases/$1index.html")),
                ("redirect", "host_redirect", _redirect("^/(.*[^/])$", f"https://{DL}/releases/$1")),
            ],
            id="redirect-prefix-index",
        ),
        pytest.param(REWRITE, [], [("origin_host", "set_req_host_header", {"domain_name": FILES})], id="rewrite-bucket-host"),
        pytest.param(REWRITE + "\nupstream_host: domain", [], [("origin_host", "set_req_host_header", {"domain_name": "files.abc.com"})], id="rewrite-domain-host"),
        pytest.param(
            REWRITE + "\nprefix: public/", [],
            [("origin_host", "set_req_host_header", {"domain_name": FILES}), ("origin_path", "back_to_origin_url_rewrite", _origin("^/(.*)$", "/public/$1"))],
            id="rewrite-prefix",
        ),
        pytest.param(
            REWRITE + "\nindex: index.html\nsubdir: not_found", [],
            [("origin_host", "set_req_host_header", {"domain_name": FILES}), ("origin_folder", "back_to_origin_url_rewrite", _origin("^/(|.*/)$", "/$1index.html"))],
            id="rewrite-index",
        ),
        pytest.param(
            REWRITE + "\nprefix: ünï/\nindex: index.html\nsubdir: not_found", [],
            [
                ("origin_host", "set_req_host_header", {"domain_name": FILES}),
                ("origin_folder", "back_to_origin_url_rewrite", _origin("^/(|.*/)$", "/%C3%BCn%C3%AF/$1index.html")),
                ("origin_path", "back_to_origin_url_rewrite", _origin("^/(.*[^/])$", "/%C3%BCn%C3%AF/$1")),
            ],
            id="rewrite-encoded-prefix-index",
        ),
        pytest.param(
            REWRITE + "\nprefix: ünï/\nindex: index.html\nsubdir: root", [],
            [
                ("origin_host", "set_req_host_header", {"domain_name": FILES}),
                # OSS SupportSubDir off: every folder URL, "/" and "/a/b/" alike, gets the root index document
                ("origin_folder", "back_to_origin_url_rewrite", _origin("^/(|.*/)$", "/%C3%BCn%C3%AF/index.html")),
                ("origin_path", "back_to_origin_url_rewrite", _origin("^/(.*[^/])$", "/%C3%BCn%C3%AF/$1")),
            ],
            id="rewrite-subdir-root",
        ),
    ],
)
def test_rules_per_binding(capsys: pytest.CaptureFixture[str], tmp_path: Path, binding: str, extra: list[str], expected: list[Any]) -> None:
    document = terraform(capsys, bindings_file(tmp_path, binding), *extra)
    domain = binding.split("\n", 1)[0].split(": ")[1]
    assert rules(document, common.resource_name(domain)) == expected


@pytest.mark.parametrize(
    "scheme_line, extra, port",
    [
        pytest.param("", [], 443, id="viewer-https"),
        pytest.param("", ["--viewer-scheme", "http"], 80, id="viewer-http"),
        pytest.param("\nscheme: http", [], 80, id="own-http"),
        pytest.param("\nhttps: {force: true}", ["--viewer-scheme", "http"], 443, id="forced-https"),
    ],
)
def test_origin_port_follows_the_scheme(capsys: pytest.CaptureFixture[str], tmp_path: Path, scheme_line: str, extra: list[str], port: int) -> None:
    document = terraform(capsys, bindings_file(tmp_path, REWRITE + scheme_line), *extra)
    assert document["resource"]["alicloud_cdn_domain_new"]["files_abc_com"]["sources"][0]["port"] == port


@pytest.mark.parametrize(
    "icp, option, scope",
    [pytest.param(True, [], "global", id="icp-auto"), pytest.param(False, [], "overseas", id="no-icp-auto"), pytest.param(True, ["--aliyun-scope", "domestic"], "domestic", id="given")],
)
def test_scope(capsys: pytest.CaptureFixture[str], tmp_path: Path, icp: bool, option: list[str], scope: str) -> None:
    binding = "domain: books.example.org\nbucket: example-books\nregion: cn-hongkong\nmode: rewrite" + (f"\nicp: {ICP}" if icp else "")
    document = terraform(capsys, bindings_file(tmp_path, binding), *option)
    assert document["resource"]["alicloud_cdn_domain_new"]["books_example_org"]["scope"] == scope


@pytest.mark.parametrize(
    "binding, fragments",
    [
        pytest.param(REDIRECT.replace("302", "301"), ["status 301 cannot be honoured: set status: 302 or 307"], id="301"),
        pytest.param(REDIRECT.replace("302", "308"), ["status 308 cannot be honoured"], id="308"),
        pytest.param(REWRITE + "\nindex: index.html", ["subdir: redirect needs a second origin fetch", "set subdir: not_found"], id="subdir-redirect"),
        pytest.param(REWRITE + "\nindex: index.html\nsubdir: serve", ["subdir: serve needs a second origin fetch"], id="subdir-serve"),
        pytest.param(REWRITE + "\nerror_document: 404.html", ["remove error_document"], id="error-document"),
        pytest.param(REWRITE + "\nerror_document: {key: index.html, status: 200}", ["remove error_document"], id="error-document-status"),
        pytest.param(
            "domain: '*.cdn.example.org'\nbucket: example-cdn\nregion: eu-central-1\nmode: rewrite\nupstream_host: domain",
            ["OSS binds no wildcard domain: set upstream_host: bucket"], id="wildcard-domain-host",
        ),
        pytest.param(REDIRECT + "\nendpoint_type: internal", ["not its internal one: set endpoint_type: public"], id="internal"),
        pytest.param("domain: assets.example.org\nbucket: assets\nendpoint: http://127.0.0.1:9000/assets", ["is not an OSS bucket"], id="custom-endpoint"),
        pytest.param(REDIRECT.replace("dl.abc.com", "abc.com"), ["abc.com is the apex of zone abc.com", "cannot be a CNAME"], id="apex"),
        pytest.param(
            REWRITE + "\nindex: index.html\nerror_document: 404.html",
            ["subdir: redirect needs", "; Alibaba CDN's custom error pages"], id="every-reason-at-once",
        ),
    ],
)
def test_refusals_name_the_binding_and_what_to_change(capsys: pytest.CaptureFixture[str], tmp_path: Path, binding: str, fragments: list[str]) -> None:
    fine = REWRITE.replace("files.abc.com", "ok.abc.com")
    path = bindings_file(tmp_path, fine, binding)
    where = f"{path}:{4 + len(fine.splitlines())}"
    code, out, err = generate(capsys, "--target", "aliyun", path)
    assert (code, out) == (2, "")
    [line] = [line for line in err.splitlines() if line.startswith("generate-cdn: error: ")]
    assert line.startswith(f"generate-cdn: error: {where}: ")
    for fragment in fragments:
        assert fragment in line
    code, out, err = generate(capsys, "--target", "aliyun", "--skip-unsupported", path)
    assert code == 0 and f"generate-cdn: skipped {where}: " in err
    assert set(json.loads(out)["resource"]["alicloud_cdn_domain_new"]) == {"ok_abc_com"}


def test_api_batches_group_equal_functions_and_hold_at_most_50_domains(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bindings = [f"domain: a{i}.example.org\nbucket: bucket-a\nregion: ap-southeast-1\nstatus: 302" for i in range(100)]
    bindings += [f"domain: b{i}.example.org\nbucket: bucket-b\nregion: ap-southeast-1\nstatus: 302" for i in range(20)]
    code, out, err = generate(capsys, "--target", "aliyun", "--format", "api", bindings_file(tmp_path, *bindings))
    assert code == 0, err
    document = json.loads(out)
    assert api_problems(document) == []
    assert len(document["AddCdnDomain"]) == 120
    calls = [(call["DomainNames"].split(","), call["Functions"]) for call in document["BatchSetCdnDomainConfig"]]
    assert [len(domains) for domains, _ in calls] == [50, 50, 20]
    assert sorted(d for domains, _ in calls for d in domains) == sorted(call["DomainName"] for call in document["AddCdnDomain"])
    for domains, functions in calls:
        bucket = f"bucket-{domains[0][0]}"
        assert all(d.startswith(domains[0][0]) for d in domains)
        assert functions[0]["functionArgs"][1] == {"argName": "replacement", "argValue": f"https://{bucket}.oss-ap-southeast-1.aliyuncs.com/$1"}


def test_output_file_and_check(tmp_path: Path) -> None:
    """As a user runs it: the console module in a subprocess, -o then --check."""
    target = tmp_path / "cdn.tf.json"
    command = [sys.executable, "-m", "osscname.generators.cdn", "--target", "aliyun", "--skip-unsupported", str(EXAMPLE)]
    written = subprocess.run([*command, "-o", str(target)], capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    assert terraform_problems(json.loads(target.read_text(encoding="utf-8"))) == []
    assert subprocess.run([*command, "--check", str(target)], capture_output=True, timeout=60).returncode == 0
    target.write_text("{}\n", encoding="utf-8")
    drift = subprocess.run([*command, "--check", str(target)], capture_output=True, text=True, timeout=60)
    assert drift.returncode == 1 and "differs from what would be generated" in drift.stderr


# --- injection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("char", UNSAFE_CHARS)
@pytest.mark.parametrize("field", ["domain", "bucket", "icp", "prefix", "index"])
def test_loader_rejects_unsafe_characters(capsys: pytest.CaptureFixture[str], tmp_path: Path, field: str, char: str) -> None:
    values = {"domain": "dl.abc.com", "bucket": "abc-dl", "region": "cn-shanghai", "icp": ICP, "status": 302, "prefix": "releases/", "index": "index.html"}
    values[field] = f"{values[field]}{char}x"
    path = tmp_path / "bindings.yaml"
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    path.write_text("version: 1\nbindings:\n  - " + "\n    ".join(lines) + "\n", encoding="utf-8")
    code, out, err = generate(capsys, "--target", "aliyun", path)
    assert (code, out) == (2, "")
    assert err.startswith(f"{path}:{3 + list(values).index(field)}:")


def _bypassed(field: str, value: str) -> tuple[BindingSet, list[Any]]:
    """Bindings that skipped the loader: one valid redirect and one rewrite binding with ``field`` = value."""
    loaded = list(load_bindings(EXAMPLE))
    bad = [bypassing(b, **{field: value}) for b in (loaded[2], loaded[4])]  # dl.abc.com (redirect), *.eu.cdn.example.org (rewrite)
    return BindingSet(tuple(bad), ("abc.com", "example.org"), "bypassed"), bad


#: (format, field): every binding value each format writes as it is.
WRITTEN_AS_IS = [("terraform", f) for f in ("domain", "bucket", "bucket_host", "region")] + [("api", f) for f in ("domain", "bucket_host")]


@pytest.mark.parametrize("char", UNSAFE_CHARS)
@pytest.mark.parametrize("fmt, field", [pytest.param(f, field, id=f"{f}-{field}") for f, field in WRITTEN_AS_IS])
def test_template_guard_refuses_values_that_bypassed_the_loader(fmt: str, field: str, char: str) -> None:
    bindings, kept = _bypassed(field, f"x{char}y.example.org")
    options = aliyun.Options(format=fmt)
    with pytest.raises(base.UnsafeValue):
        aliyun.TARGET.render(bindings, kept, options)


@pytest.mark.parametrize("char", UNSAFE_CHARS)
@pytest.mark.parametrize("field", ["prefix", "index"])
def test_object_keys_are_percent_encoded_so_nothing_escapes(field: str, char: str) -> None:
    """Object keys reach URLs percent-encoded: even a key that bypassed the loader stays inside its string."""
    bindings, kept = _bypassed(field, f"a{char}b/" if field == "prefix" else f"a{char}b")
    document = json.loads(aliyun.TARGET.render(bindings, kept, aliyun.Options()))
    values = [a["arg_value"] for c in document["resource"]["alicloud_cdn_domain_config"].values() for a in c["function_args"]]
    assert any(f"a%{ord(char):02X}b" in v for v in values)
    assert not any(f"a{char}b" in v for v in values)


def _regenerate() -> None:
    for path, argv in GOLDEN.items():
        code = cdn.main([*argv, "--skip-unsupported", str(EXAMPLE), "-o", str(path)])
        print(f"{path.relative_to(REPO)}: exit {code}")


if __name__ == "__main__":
    _regenerate()
