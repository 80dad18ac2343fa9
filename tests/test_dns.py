"""``generate-dns``: zone snippets checked by the real ``named-checkzone``, and alidns Terraform JSON.

A snippet is not a whole zone, so each one is ``$INCLUDE``d from a minimal zone file ($TTL, SOA, NS) the
way a user includes it, and that file goes through ``named-checkzone``. Golden files come from
``examples/bindings.yaml``; after an intended change, regenerate them with::

    .venv/bin/python tests/test_dns.py
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from osscname.generators import aliyun, base, dns
from osscname.loader import load_bindings
from osscname.model import BindingSet
from bypass import bypassing
from realserver import require_binary

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "bindings.yaml"
SCHEMAS = REPO / "tests" / "schemas"
GOLDEN = {
    REPO / "tests" / "golden" / "dns_bind": ["--format", "bind"],
    REPO / "tests" / "golden" / "dns_aliyun.tf.json": ["--format", "aliyun"],
}
#: What the loader rejects and the template guard refuses; zone files also give meaning to ( ) and @.
UNSAFE = (";", "{", "}", "$", '"', "'", "#", "\n")
ZONE_SPECIAL = ("(", ")", "@")
RECORD = re.compile(r"(\S+\.) (\d+) IN CNAME (\S+\.)")


def schema_problems(schema_name: str, document: Any) -> list[str]:
    """Where ``document`` breaks the schema ``tests/schemas/<schema_name>`` (empty: it conforms)."""
    schema = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def generate(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    try:
        code = dns.main([str(a) for a in argv])
    except SystemExit as exit:  # argparse errors
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def bindings_file(tmp_path: Path, *bindings: str, zones: str = "[abc.com, example.org]") -> Path:
    """A bindings file of ``bindings`` (each one binding's fields, a line each); the first starts at line 4."""
    path = tmp_path / "bindings.yaml"
    body = "".join("  - " + b.strip().replace("\n", "\n    ") + "\n" for b in bindings)
    path.write_text(f"version: 1\nzones: {zones}\nbindings:\n{body}", encoding="utf-8")
    return path


def named_checkzone(zone: str, snippet: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Check ``snippet`` as the user uses it: ``$INCLUDE``d from a zone file of its own."""
    binary = require_binary("named-checkzone", "/usr/sbin/named-checkzone")
    wrapper = tmp_path / f"{zone}.wrapper.db"
    wrapper.write_text(
        "$TTL 3600\n"
        f"$ORIGIN {zone}.\n"
        "@ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 600\n"
        "@ IN NS ns1.example.net.\n"
        f"$INCLUDE {snippet.resolve()}\n",
        encoding="utf-8",
    )
    return subprocess.run([binary, "-k", "fail", zone, str(wrapper)], capture_output=True, text=True, timeout=120)


def records(snippet: str) -> list[tuple[str, str, str]]:
    """(name, ttl, target) of every record line; fails on any line that is neither a record, a comment nor $ORIGIN."""
    found = []
    for line in snippet.splitlines():
        if line.startswith(("$ORIGIN ", ";")):
            continue
        match = RECORD.fullmatch(line)
        assert match, f"unexpected line {line!r}"
        found.append(match.groups())
    return found


# --- the example ---------------------------------------------------------------------------------

EXAMPLE_REFUSALS = {
    ("39", "*.cdn.example.org"): "OSS binds no wildcard domain",
    ("46", "*.eu.cdn.example.org"): "OSS binds no wildcard domain",
    ("60", "assets.example.org"): "endpoint 127.0.0.1:9000/assets is not an OSS bucket host",
}


def refusals(err: str, prefix: str) -> dict[tuple[str, str], str]:
    """{(line, domain): reason} of the refusal lines of stderr that start with ``prefix``."""
    found = {}
    for line in err.splitlines():
        if line.startswith(prefix):
            where, domain, reason = line[len(prefix) :].split(": ", 2)
            found[(where.rsplit(":", 1)[1], domain)] = reason
    return found


@pytest.mark.parametrize("fmt", ["bind", "aliyun"])
def test_example_refuses_by_name(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = generate(capsys, "--format", fmt, EXAMPLE)
    assert (code, out) == (2, "")
    found = refusals(err, "generate-dns: error: ")
    assert found.keys() == EXAMPLE_REFUSALS.keys()
    for key, fragment in EXAMPLE_REFUSALS.items():
        assert fragment in found[key]


def test_example_bind_writes_one_snippet_per_zone_that_named_checkzone_accepts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "zones"
    code, out, err = generate(capsys, "--skip-unsupported", EXAMPLE, "-o", out_dir)
    assert (code, out) == (0, "")
    assert refusals(err, "generate-dns: skipped ").keys() == EXAMPLE_REFUSALS.keys()
    assert sorted(p.name for p in out_dir.iterdir()) == ["abc.com.zone", "example.org.zone"]
    expected = {
        "abc.com": [
            ("img.abc.com.", "600", "abc-img.oss-cn-hangzhou.aliyuncs.com."),
            ("files.abc.com.", "600", "abc-files.oss-cn-hangzhou.aliyuncs.com."),
            ("dl.abc.com.", "600", "abc-dl.oss-cn-shanghai.aliyuncs.com."),
        ],
        "example.org": [("xn--bcher-kva.example.org.", "600", "example-books.oss-cn-hongkong.aliyuncs.com.")],
    }
    for zone, wanted in expected.items():
        snippet = out_dir / f"{zone}.zone"
        text = snippet.read_text(encoding="utf-8")
        assert text.startswith(f"$ORIGIN {zone}.\n")
        assert "a snippet, not a whole zone" in text
        assert records(text) == wanted
        result = named_checkzone(zone, snippet, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.rstrip().endswith("OK")


def test_example_bind_to_stdout_is_sections_headed_by_origin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = generate(capsys, "--skip-unsupported", EXAMPLE)
    assert code == 0
    sections = out.split("$ORIGIN ")
    assert sections[0] == ""
    assert [s.split("\n", 1)[0] for s in sections[1:]] == ["abc.com.", "example.org."]


def test_example_aliyun_is_alidns_terraform(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = generate(capsys, "--format", "aliyun", "--skip-unsupported", EXAMPLE)
    assert code == 0, err
    document = json.loads(out)
    assert schema_problems("alicloud_terraform.schema.json", document) == []
    assert set(document["resource"]) == {"alicloud_alidns_record"}
    assert document["resource"]["alicloud_alidns_record"]["img_abc_com"] == {
        "domain_name": "abc.com", "rr": "img", "type": "CNAME", "value": "abc-img.oss-cn-hangzhou.aliyuncs.com", "ttl": 600,
    }  # fmt: skip
    assert document["resource"]["alicloud_alidns_record"]["xn--bcher-kva_example_org"]["domain_name"] == "example.org"


@pytest.mark.parametrize("golden", list(GOLDEN), ids=lambda p: p.name)
def test_golden_files_match(capsys: pytest.CaptureFixture[str], golden: Path) -> None:
    code, _, err = generate(capsys, *GOLDEN[golden], "--skip-unsupported", EXAMPLE, "--check", golden)
    assert code == 0, f"{err}\nregenerate with: .venv/bin/python tests/test_dns.py"


# --- zones, targets, options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "zones, domain, zone",
    [
        pytest.param("[abc.com]", "img.abc.com", "abc.com", id="listed"),
        pytest.param("[]", "img.abc.com", "abc.com", id="public-suffix-list"),
        pytest.param("[static.abc.com]", "img.static.abc.com", "static.abc.com", id="deeper-listed"),
        pytest.param("[]", "img.static.abc.com", "abc.com", id="deeper-psl"),
        pytest.param("[]", "img.shop.co.uk", "shop.co.uk", id="psl-two-label-suffix"),
    ],
)
def test_each_record_goes_into_its_zone(capsys: pytest.CaptureFixture[str], tmp_path: Path, zones: str, domain: str, zone: str) -> None:
    path = bindings_file(tmp_path, f"domain: {domain}\nbucket: abc-img\nregion: ap-southeast-1", zones=zones)
    code, out, err = generate(capsys, path, "-o", tmp_path / "out")
    assert code == 0, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"{zone}.zone"]
    result = named_checkzone(zone, tmp_path / "out" / f"{zone}.zone", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "zones, domain",
    [
        pytest.param("[abc.com]", "abc.com", id="listed-zone-apex"),
        pytest.param("[]", "abc.com", id="registrable-domain"),
        pytest.param("[static.abc.com]", "static.abc.com", id="listed-subzone-apex"),
    ],
)
@pytest.mark.parametrize("fmt", ["bind", "aliyun"])
def test_zone_apex_is_refused_with_an_explanation(capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str, zones: str, domain: str) -> None:
    path = bindings_file(tmp_path, f"domain: {domain}\nbucket: abc-img\nregion: ap-southeast-1", zones=zones)
    code, out, err = generate(capsys, "--format", fmt, path)
    assert (code, out) == (2, "")
    assert f"generate-dns: error: {path}:4: {domain}: {domain} is the apex of zone {domain}, and a zone apex cannot be a CNAME" in err
    assert f"bind a name below it, such as www.{domain}" in err


@pytest.mark.parametrize("target", [dns.TARGET, aliyun.TARGET], ids=["dns", "cdn-aliyun"])
def test_the_zone_comes_from_the_loaded_bindings(target: base.Target) -> None:
    """A refusal asks the BindingSet it is handed for a binding's zone: the file is read once, by run."""
    binding = next(iter(load_bindings(EXAMPLE)))._replace(domain="static.abc.com")
    declarations = target.declare(target.options())
    apex = "static.abc.com is the apex of zone static.abc.com"
    assert apex in (base.refusal(target, declarations, BindingSet((binding,), ("static.abc.com",)), binding) or "")
    assert apex not in (base.refusal(target, declarations, BindingSet((binding,), ("abc.com",)), binding) or "")


def test_via_cdn_points_at_the_cdn_cname(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = generate(capsys, "--skip-unsupported", "--via-cdn", "--cdn-cname-suffix", "W.KunlunSL.com.", EXAMPLE, "-o", tmp_path / "out")
    assert code == 0, err
    snippet = tmp_path / "out" / "abc.com.zone"
    text = snippet.read_text(encoding="utf-8")
    assert ("img.abc.com.", "600", "img.abc.com.w.kunlunsl.com.") in records(text)
    assert "CNAME records to Alibaba CDN (--via-cdn)" in text
    assert named_checkzone("abc.com", snippet, tmp_path).returncode == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--via-cdn"], "--via-cdn and --cdn-cname-suffix go together", id="via-cdn-alone"),
        pytest.param(["--cdn-cname-suffix", "w.kunlunsl.com"], "--via-cdn and --cdn-cname-suffix go together", id="suffix-alone"),
        pytest.param(["--via-cdn", "--cdn-cname-suffix", "w kunlunsl;com"], "--cdn-cname-suffix 'w kunlunsl;com'", id="bad-suffix"),
        pytest.param(["--ttl", "0"], "expected a TTL in seconds", id="ttl-zero"),
        pytest.param(["--format", "tinydns"], "invalid choice: 'tinydns'", id="unknown-format"),
    ],
)
def test_command_line_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = generate(capsys, *argv, EXAMPLE)
    assert (code, out) == (2, "")
    assert message in err


def test_ttl(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = generate(capsys, "--skip-unsupported", "--ttl", "3600", EXAMPLE)
    assert code == 0
    assert {ttl for _, ttl, _ in records(out)} == {"3600"}


def test_a_thousand_bindings_across_zones_pass_named_checkzone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    zones = [f"zone{k}.example.com" for k in range(3)]
    bindings = []
    for i in range(1000):
        if i % 4 == 3:
            domain = f"s{i}.shop{i % 5}.co.uk"  # zone from the Public Suffix List
        elif i % 10 == 1:
            domain = f"bücher{i}.zone{i % 3}.example.com"  # IDN, stored as an A-label
        else:
            domain = f"s{i}.sub{i % 7}.zone{i % 3}.example.com"
        bindings.append(f"domain: {domain}\nbucket: bucket-{i // 50}\nregion: ap-southeast-1")
    path = bindings_file(tmp_path, *bindings, zones=f"[{', '.join(zones)}]")
    out_dir = tmp_path / "out"
    code, _, err = generate(capsys, path, "-o", out_dir)
    assert code == 0, err
    snippets = sorted(out_dir.iterdir())
    assert [p.name for p in snippets] == sorted([f"{z}.zone" for z in zones] + [f"shop{k}.co.uk.zone" for k in range(5)])
    written = []
    for snippet in snippets:
        zone = snippet.name.removesuffix(".zone")
        found = records(snippet.read_text(encoding="utf-8"))
        assert all(name.endswith(f".{zone}.") for name, _, _ in found)
        written += found
        result = named_checkzone(zone, snippet, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    assert len(written) == 1000
    assert sorted(name for name, _, _ in written) == sorted(f"{b.domain}." for b in load_bindings(path))


# --- injection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("char", [pytest.param(c, id=repr(c)) for c in UNSAFE])
@pytest.mark.parametrize("field", ["domain", "bucket"])
def test_loader_rejects_unsafe_characters(capsys: pytest.CaptureFixture[str], tmp_path: Path, field: str, char: str) -> None:
    values = {"domain": "img.abc.com", "bucket": "abc-img", "region": "ap-southeast-1"}
    values[field] = f"{values[field]}{char}x"
    path = tmp_path / "bindings.yaml"
    lines = [f"{key}: {json.dumps(value)}" for key, value in values.items()]
    path.write_text("version: 1\nbindings:\n  - " + "\n    ".join(lines) + "\n", encoding="utf-8")
    code, out, err = generate(capsys, path)
    assert (code, out) == (2, "")
    assert err.startswith(f"{path}:{3 + list(values).index(field)}:")


#: (format, field, character): a zone file refuses ( ) @ in names too; JSON strings and resource names hold them harmlessly or refuse them.
BYPASSES = [
    pytest.param(fmt, field, char, id=f"{fmt}-{field}-{char!r}")
    for fmt, field, chars in [
        ("bind", "domain", UNSAFE + ZONE_SPECIAL),
        ("bind", "bucket_host", UNSAFE + ZONE_SPECIAL),
        ("aliyun", "domain", UNSAFE + ZONE_SPECIAL),
        ("aliyun", "bucket_host", UNSAFE),
    ]
    for char in chars
]


@pytest.mark.parametrize("fmt, field, char", BYPASSES)
def test_values_that_bypassed_the_loader_are_refused(fmt: str, field: str, char: str) -> None:
    binding = bypassing(next(iter(load_bindings(EXAMPLE))), **{field: f"x{char}y.abc.com"})
    bindings = BindingSet((binding,), ("abc.com",), "bypassed")
    with pytest.raises(base.UnsafeValue):
        dns.TARGET.render(bindings, [binding], dns.Options(format=fmt))


def _regenerate() -> None:
    for path, argv in GOLDEN.items():
        code = dns.main([*argv, "--skip-unsupported", str(EXAMPLE), "-o", str(path)])
        print(f"{path.relative_to(REPO)}: exit {code}")


if __name__ == "__main__":
    _regenerate()
