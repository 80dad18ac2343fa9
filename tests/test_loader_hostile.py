"""The loader against files written to hurt it: alias bombs, aliases that repeat bindings, numbers and
paths that used to escape as bare exceptions, and values that validated but made files nginx refuses.

Each test reproduces one attack; a regression makes it fail, never hang or exhaust the machine: the
alias bombs run in a child process with a memory limit and a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conformance import nginx_test, write_nginx_conf
from osscname.generators import nginx as nginx_generator
from realserver import REPO, free_port, require_binary

from osscname import BindingError, load_bindings, loader
from osscname.loader import (
    ECHO,
    MAX_ENDPOINT_PATH,
    MAX_FILE_BYTES,
    MAX_HSTS,
    MAX_OBJECT_KEY_URL,
)

BASE = "{domain: img.abc.com, bucket: abc-img, region: us-west-1%s}"
HEAD = "version: 1\nbindings:\n"


def problems(text: str | Path) -> list[str]:
    with pytest.raises(BindingError) as caught:
        load_bindings(text)
    return caught.value.lines()


def one_binding(extra: str) -> str:
    """A file with one valid binding plus ``extra`` (``, field: value``) in its flow mapping."""
    return HEAD + "  - " + BASE % extra + "\n"


# --- 1. alias bombs -------------------------------------------------------------------------------


def bomb(levels: int, width: int = 10) -> str:
    """``[&a0 [lol x width], &a1 [*a0 x width], ...]``: ``width ** levels`` nodes once expanded."""
    parts = ["&a0 [" + ", ".join(["lol"] * width) + "]"]
    parts += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def padded(text: str, size: int) -> str:
    """``text`` with a comment line making it exactly ``size`` bytes (the sizes the attack report gave)."""
    missing = size - len(text.encode()) - 2
    assert missing >= 0, len(text)
    return text + "#" + "x" * missing + "\n"


#: Where a non-scalar key can sit; each must be named by its kind, never expanded into text.
BOMBS = {
    "binding-key-383-bytes": padded(f"{HEAD}  - domain: img.abc.com\n    ? {bomb(6)}\n    : 1\n", 383),
    "binding-key-524-bytes": padded(f"{HEAD}  - domain: img.abc.com\n    ? {bomb(7)}\n    : 1\n", 524),
    "binding-key-10-levels": f"{HEAD}  - domain: img.abc.com\n    ? {bomb(10)}\n    : 1\n",
    "https-key": f"{HEAD}  - {{domain: img.abc.com, bucket: abc-img, region: us-west-1, https: {{? {bomb(9)} : 1}}}}\n",
    "defaults-key": f"version: 1\ndefaults: {{? {bomb(9)} : 1}}\nbindings: []\n",
    "top-level-key": f"version: 1\nbindings: []\n? {bomb(9)}\n: 1\n",
    "mapping-key": f"{HEAD}  - domain: img.abc.com\n    ? {{? {bomb(9)} : 1}}\n    : 1\n",
    "as-values": f"{HEAD}  - {{domain: {bomb(9)}, bucket: {bomb(9)}, https: {bomb(9)}}}\n",
    "as-bindings": f"version: 1\nzones: {bomb(9)}\nbindings: {bomb(9)}\n",
}

#: The child: load each file under a 1 GiB address-space limit and report what happened (Linux).
CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from osscname import BindingError, load_bindings
out = {}
for name, text in json.loads(sys.stdin.read()).items():
    start = time.monotonic()
    try:
        load_bindings(text)
        out[name] = {"raised": None}
    except BindingError as error:
        out[name] = {"raised": "BindingError", "lines": error.lines(), "size": len(str(error))}
    except BaseException as error:
        out[name] = {"raised": type(error).__name__}
    out[name]["seconds"] = time.monotonic() - start
with open("/proc/self/status") as status:  # VmHWM: this process's peak; ru_maxrss inherits the parent's
    out["peak_kib"] = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bomb_results() -> dict[str, Any]:
    child = subprocess.run([sys.executable, "-c", CHILD], check=False, input=json.dumps(BOMBS), capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout)


def test_alias_bombs_use_no_memory(bomb_results: dict[str, Any]) -> None:
    """Before: the 383-byte file took 2.65 GB and 18 s, the 524-byte one ran out of memory. A
    Python process with the package imported peaks at about 16 MB; the whole batch stays near it."""
    assert bomb_results["peak_kib"] < 100 * 1024


@pytest.mark.parametrize("name", list(BOMBS))
def test_alias_bomb_is_one_short_error(name: str, bomb_results: dict[str, Any]) -> None:
    result = bomb_results[name]
    assert result["raised"] == "BindingError", result
    assert result["size"] < 2000, result["size"]
    assert not any("internal error" in line for line in result["lines"]), result["lines"]
    assert result["seconds"] < 5  # a hang guard: the expansion would take minutes


def test_bomb_key_named_by_kind_and_position(bomb_results: dict[str, Any]) -> None:
    assert bomb_results["binding-key-383-bytes"]["lines"] == [
        "<string>:3:5: binding 'img.abc.com': missing 'region' (or an 'endpoint' URL)",
        "<string>:3:5: binding 'img.abc.com': missing required field 'bucket'",
        "<string>:4:7: unknown binding field (a sequence used as a key)",
    ]
    assert bomb_results["mapping-key"]["lines"][-1] == "<string>:4:7: unknown binding field (a mapping used as a key)"
    assert bomb_results["https-key"]["lines"] == ["<string>:3:73: unknown https field (a sequence used as a key); fields: force, hsts"]
    assert bomb_results["top-level-key"]["lines"] == ["<string>:3:3: unknown top-level field (a sequence used as a key); fields: version, zones, defaults, bindings"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("bucket", "b" * 1_000_000, id="bucket"),
        pytest.param("region", "r" * 1_000_000, id="region"),
        pytest.param("mode", "m" * 1_000_000, id="mode"),
        pytest.param("endpoint", "http://" + "e" * 1_000_000, id="endpoint"),
        pytest.param("icp", "浙" * 1_000_000, id="icp"),
        pytest.param("status", "!!int " + "7" * 1_000_000, id="status"),
        pytest.param("domain", "d" * 1_000_000, id="domain"),
    ],
)
def test_long_values_are_clipped_in_messages(field: str, value: str) -> None:
    fields = {"domain": "img.abc.com", "bucket": "abc-img", "region": "us-west-1", field: value}
    (line,) = problems(HEAD + "  - {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}\n")
    assert len(line) < 700, len(line)  # the region message lists the known regions
    assert "... (" in line and " characters)" in line, line


def test_long_key_and_tag_are_clipped() -> None:
    (line,) = problems(HEAD + "  - {domain: img.abc.com, bucket: abc-img, region: us-west-1}\n  - ? " + "k" * 100_000 + "\n    : 1\n    domain: a.abc.com\n    bucket: abc\n    region: us-west-1\n")
    assert line.startswith("<string>:4:7: unknown binding field 'kkkk") and line.endswith("... (100000 characters)"), line[:200]
    (line,) = problems(one_binding(", bucket: !<tag:" + "t" * 100_000 + "> abc").replace("bucket: abc-img, ", ""))
    assert len(line) < 300 and "(tagged 'tag:ttt" in line, line[:300]


def test_tag_with_control_characters_is_shown_escaped() -> None:
    """A tag's %-escapes decode to any character: the message shows it as a repr, not raw."""
    (line,) = problems(one_binding("").replace("bucket: abc-img", "bucket: !<tag:%1B[31m> abc-img"))
    assert "\x1b" not in line and "\\x1b[31m" in line, line


# --- 2. aliases that repeat a binding -------------------------------------------------------------


def test_alias_of_a_binding_is_reported_at_the_alias() -> None:
    text = HEAD + "  - &a {domain: img.abc.com, bucket: abc-img, region: ap-southeast-1}\n  - *a\n"
    assert problems(text) == ["<string>:4:5: domain 'img.abc.com' is already bound at line 3: this alias repeats that binding (write each binding out once)"]


def test_alias_of_a_binding_without_a_domain() -> None:
    text = HEAD + "  - &a {bucket: abc-img, region: ap-southeast-1}\n  - *a\n"
    assert problems(text) == [
        "<string>:3:5: missing required field 'domain'",
        "<string>:4:5: the binding at line 3 is already in the list: this alias repeats that binding (write each binding out once)",
    ]


def test_alias_of_a_binding_defined_outside_the_list_binds_once() -> None:
    """An alias is refused for repeating a binding, not for being an alias: the first use of a
    mapping anchored elsewhere is one binding (the anchor's own place is reported as what it is)."""
    text = "version: 1\ndefaults: &a {bucket: abc-img, region: us-west-1}\nbindings:\n  - *a\n"
    assert problems(text) == ["<string>:4:5: missing required field 'domain'"]


def test_same_domain_twice_on_one_line() -> None:
    """Two bindings of one flow sequence share a line: the duplicate check is by binding, not line."""
    text = "version: 1\nbindings: [" + BASE % "" + ", " + BASE % "" + "]\n"
    assert problems(text) == ["<string>:2:71: domain 'img.abc.com' is already bound at line 2"]


def test_repeating_a_large_binding_costs_one_problem_per_alias() -> None:
    """Walked again, a binding of K mistakes repeated M times would cost K x M problems."""
    keys = ", ".join(f"k{i}: 1" for i in range(2000))
    text = HEAD + "  - &a {domain: img.abc.com, bucket: abc-img, region: us-west-1, " + keys + "}\n" + "  - *a\n" * 2000
    found = problems(text)
    assert len(found) == 4000
    assert found[-1] == "<string>:2003:5: domain 'img.abc.com' is already bound at line 3: this alias repeats that binding (write each binding out once)"


def test_https_repeated_by_alias() -> None:
    valid = HEAD + "  - " + BASE % ", https: &h {force: true, hsts: 60}" + "\n  - " + BASE.replace("img", "cdn") % ", https: *h" + "\n"
    assert [(b.https_force, b.hsts) for b in load_bindings(valid)] == [(True, 60), (True, 60)]
    keys = ", ".join(f"k{i}: 1" for i in range(1000))
    invalid = HEAD + "  - " + BASE % f", https: &h {{{keys}}}" + "\n" + "".join(f"  - {{domain: d{i}.abc.com, bucket: abc-img, region: us-west-1, https: *h}}\n" for i in range(1000))
    found = problems(invalid)
    assert len(found) == 2000  # each mistake once, then one line per alias: not a million
    assert found[-1] == "<string>:1003:71: this alias repeats the https value with mistakes at line 3 (reported there)"


def test_problems_through_aliases_are_placed_at_the_alias() -> None:
    text = (
        "version: 1\nzones: [&z abc.com, *z]\nbindings:\n"
        "  - {domain: a.abc.com, bucket: &b Bad_B, region: us-west-1, &k colour: red}\n"
        "  - {domain: b.abc.com, bucket: *b, region: us-west-1, *k : blue}\n"
    )
    bad_bucket = "bucket 'Bad_B' is not a valid OSS bucket name: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit"
    assert problems(text) == [
        "<string>:2:21: zone 'abc.com' is listed twice (first at line 2)",  # at the alias *z
        f"<string>:4:33: {bad_bucket}",
        "<string>:4:62: unknown binding field 'colour'",
        f"<string>:5:33: {bad_bucket}",  # at the alias *b, not at its anchor
        "<string>:5:56: unknown binding field 'colour'",  # at the alias *k
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("version: 1\nbindings: &b [*b]\n", id="list-of-itself"),
        pytest.param(HEAD + "  - &m {domain: img.abc.com, bucket: abc-img, region: us-west-1, https: *m}\n", id="https-is-the-binding"),
        pytest.param(HEAD + "  - {domain: img.abc.com, ? &k [*k] : 1}\n", id="key-contains-itself"),
        pytest.param("version: 1\nzones: &z [*z]\nbindings: []\n", id="zones-of-itself"),
        pytest.param("&r {version: 1, bindings: [], defaults: *r}\n", id="defaults-is-the-file"),
    ],
)
def test_recursive_aliases(text: str) -> None:
    assert problems(text)


# --- 3. nothing but BindingError ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(", status: !!int '²'", "status must be one of 301 | 302 | 307 | 308, not '²'", id="status-superscript"),
        pytest.param(", status: !!int '٣٠١'", "status must be one of 301 | 302 | 307 | 308, not '٣٠١'", id="status-arabic-indic-301"),
        pytest.param(", status: " + "3" * 5000, "status must be one of 301 | 302 | 307 | 308, not '33333", id="status-5000-digits"),
        pytest.param(", status: !!int \"3\\e[2J\"", "not '3\\x1b[2J'", id="status-escape-sequence"),
        pytest.param(", https: {hsts: !!int '³'}", "hsts must be a max-age in seconds, 0 or more", id="hsts-superscript"),
        pytest.param(", https: {hsts: " + "9" * 5000 + "}", f"hsts must be at most {MAX_HSTS} seconds", id="hsts-5000-digits"),
    ],
)
def test_numbers_int_refuses_are_problems(extra: str, message: str) -> None:
    (line,) = problems(one_binding(extra))
    assert message in line, line


def test_int_digit_limit_is_not_reached_by_leading_zeros() -> None:
    (binding,) = load_bindings(one_binding(", https: {hsts: " + "0" * 5000 + "60}"))
    assert binding.hsts == 60


@pytest.mark.parametrize(
    ("path", "shown", "reason"),
    [
        pytest.param("bind\x00ings.yaml", "'bind\\x00ings.yaml'", "cannot read: the path contains a NUL character", id="nul"),
        pytest.param("bind\ud800ings.yaml", "'bind\\ud800ings.yaml'", "cannot read: the path cannot be encoded (surrogates not allowed)", id="lone-surrogate"),
        pytest.param("x" * 100_000, "'" + "x" * ECHO + "'... (100000 characters)", "cannot read: File name too long", id="100k-characters"),
        pytest.param("bind\x1b[2Jings.yaml", "'bind\\x1b[2Jings.yaml'", "cannot read: No such file or directory", id="escape-sequence"),
    ],
)
def test_bad_paths_are_problems(path: str, shown: str, reason: str) -> None:
    with pytest.raises(BindingError) as caught:
        load_bindings(path)
    assert caught.value.lines() == [f"{shown}: {reason}"]


def test_bytes_path_like(tmp_path: Path) -> None:
    class BytesPath:
        def __fspath__(self) -> bytes:
            return os.fsencode(tmp_path / "b.yaml")

    (tmp_path / "b.yaml").write_text(one_binding(""), encoding="utf-8")
    assert len(load_bindings(BytesPath())) == 1  # type: ignore[arg-type]


def test_lone_surrogate_in_text() -> None:
    assert problems(HEAD + "  - {domain: a\udcffb.com}\n") == [
        "<string>:3:15: not Unicode text: a lone surrogate U+DCFF (surrogates are halves of a UTF-16 pair, never characters)"
    ]


def test_file_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_FILE_BYTES + 1)
    assert problems(path) == [f"{path}: the file is larger than {MAX_FILE_BYTES} bytes (32 MiB), the most the loader reads"]
    assert problems(str(path)) == problems(path)
    text = HEAD + "#" * MAX_FILE_BYTES
    assert problems(text) == [f"<string>: the text has {len(text)} characters; the loader reads at most {MAX_FILE_BYTES} (32 MiB)"]


def test_endless_device_is_bounded() -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    assert problems("/dev/zero") == [f"/dev/zero: the file is larger than {MAX_FILE_BYTES} bytes (32 MiB), the most the loader reads"]


def test_an_unexpected_exception_still_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The last line of defence, for a bug nobody has found yet: it is simulated here."""

    def broken(root: Any, source: str) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(loader, "_walk", broken)
    path = tmp_path / "b.yaml"
    path.write_text(one_binding(""), encoding="utf-8")
    with pytest.raises(BindingError) as caught:
        load_bindings(path)
    assert caught.value.lines() == [f"{path}: internal error while reading the file: RuntimeError: 'a bug'"]
    assert isinstance(caught.value.__cause__, RuntimeError)


HOSTILE_FILES = {
    "superscript-status.yaml": one_binding(", status: !!int '²'"),
    "long-hsts.yaml": one_binding(", https: {hsts: " + "9" * 5000 + "}"),
    "bomb.yaml": BOMBS["binding-key-524-bytes"],
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_command_line_reports_without_traceback(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(HOSTILE_FILES[name], encoding="utf-8")
    for command in (["-m", "osscname.cli", "validate"], ["-m", "osscname.generators.nginx", "--resolver", "127.0.0.53"]):
        result = subprocess.run([sys.executable, *command, str(path)], check=False, capture_output=True, text=True, cwd=REPO, timeout=60)
        assert result.returncode == 2, (command, result.stderr[-1000:])
        assert "Traceback" not in result.stderr and f"{path}:" in result.stderr and len(result.stderr) < 2000, result.stderr[-1000:]


def test_pure_python_yaml_reader_too() -> None:
    """Without libyaml, PyYAML's own reader and composer run: they differ (an escaped surrogate gets
    through, nesting recurses in Python), and must still give BindingError only."""
    child = """
import json, sys, yaml
del yaml.CSafeLoader
from osscname import BindingError, load_bindings, loader
assert loader._BaseLoader is yaml.SafeLoader
out = []
for text in json.loads(sys.stdin.read()):
    try:
        load_bindings(text)
        out.append("valid")
    except BindingError as error:
        out.append(str(error))
print(json.dumps(out))
"""
    texts = [
        one_binding(', prefix: "\\ud800"'),
        HEAD + "- " + "[" * 5000 + "]" * 5000 + "\n",
        BOMBS["binding-key-524-bytes"],
        HEAD + "  - &a " + BASE % "" + "\n  - *a\n",
    ]
    result = subprocess.run([sys.executable, "-c", child], check=False, input=json.dumps(texts), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    surrogate, deep, bombed, alias = json.loads(result.stdout)
    assert surrogate.endswith("must not contain U+D800 (whitespace, quotes, ;{}$#\\` and control characters can never reach a generated file)"), surrogate
    assert deep == "<string>:1:1: YAML: nested too deeply"
    assert bombed.endswith("<string>:4:7: unknown binding field (a sequence used as a key)"), bombed
    assert alias == "<string>:4:5: domain 'img.abc.com' is already bound at line 3: this alias repeats that binding (write each binding out once)"


# --- 4. every accepted value fits every target ----------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(", https: {hsts: 2147483648}", f"hsts must be at most {MAX_HSTS} seconds (63072000 is two years), not 2147483648", id="hsts-2**31"),
        pytest.param(", prefix: " + "p" * 5000, "prefix must be at most 1024 bytes percent-encoded (as in a URL); it has 5001 characters", id="prefix-5000"),
        pytest.param(", prefix: " + "é" * 800, "prefix must be at most 1024 bytes percent-encoded (as in a URL); it has 4801 bytes encoded", id="prefix-800-e-acute"),
        pytest.param(", prefix: " + "p" * 1024, "it has 1025 characters", id="prefix-1024-plus-slash"),
        pytest.param(", mode: rewrite, index: '" + "%" * 342 + "'", "index must be at most 1024 bytes percent-encoded (as in a URL); it has 1026 bytes encoded", id="index-342-percent"),
        pytest.param(", mode: rewrite, error_document: " + "e" * 1025, "error_document must be at most 1024 bytes", id="error-document-1025"),
    ],
)
def test_value_bounds(extra: str, message: str) -> None:
    (line,) = problems(one_binding(extra))
    assert message in line, line


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        pytest.param("http://[::1%x|p|idx|fe|e|domain]:9000/base", "endpoint host must not contain '%' (no IPv6 zone id, no percent-encoding)", id="zone-id-with-bars"),
        pytest.param("http://[fe80::1%25eth0]:9000/", "endpoint host must not contain '%'", id="zone-id-encoded"),
        pytest.param("http://ex%61mple.com/", "endpoint host must not contain '%'", id="percent-encoded-name"),
        pytest.param("http://minio.example.org/" + "p" * MAX_ENDPOINT_PATH, f"endpoint path must be at most {MAX_ENDPOINT_PATH} characters, not 257", id="path-257"),
        pytest.param("http://minio.example.org/a|b", "endpoint path may hold only URL path characters", id="bar-in-path"),
        pytest.param("http://a|b.example.org/", "endpoint host 'a|b.example.org' label 'a|b' may hold only letters", id="bar-in-host"),
    ],
)
def test_endpoint_bounds(endpoint: str, message: str) -> None:
    text = HEAD + f"  - {{domain: img.abc.com, bucket: abc-img, endpoint: '{endpoint}'}}\n"
    (line,) = problems(text)
    assert message in line, line


def largest_binding() -> str:
    """One rewrite binding with every value at its bound: the longest nginx record the loader allows."""
    host = ".".join(["h" * 63] * 3 + ["h" * 57]) + ".org"  # 253 characters
    assert len(host) == 253
    prefix = "é" * 170 + "ppp/"  # 170 x 6 + 4 = 1024 bytes encoded
    index = "%" * 341 + "i"  # 341 x 3 + 1 = 1024
    error_document = "e/" * 511 + "ee"  # 1024
    path = "/" + "b" * (MAX_ENDPOINT_PATH - 1)
    return HEAD + (
        f"  - {{domain: img.abc.com, bucket: abc-img, endpoint: 'https://{host}:65000{path}', mode: rewrite,"
        f" prefix: {prefix}, index: '{index}', subdir: serve, error_document: {error_document},"
        f" upstream_host: domain, https: {{force: true, hsts: {MAX_HSTS}}}}}\n"
    )


def test_largest_values_are_accepted_at_their_bounds() -> None:
    (binding,) = load_bindings(largest_binding())
    route, base = binding.route, len(binding.base_path) + 1  # the root and the error path start with the base path and "/"
    assert len(route.root) - base == len(route.index_url) == len(route.error_path or "") - base == MAX_OBJECT_KEY_URL
    assert len(binding.base_path) == MAX_ENDPOINT_PATH and binding.hsts == MAX_HSTS


def test_largest_values_make_a_file_nginx_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before the bounds, a 5,000-character prefix or a 4,200-digit hsts validated and nginx refused
    the file ("too long parameter"). At every bound at once, each field of its record is one valid token."""
    binary = require_binary("nginx", "/usr/sbin/nginx")
    source = tmp_path / "b.yaml"
    source.write_text(largest_binding(), encoding="utf-8")
    conf = tmp_path / "oss.conf"
    assert nginx_generator.main([str(source), "--resolver", "127.0.0.53", "-o", str(conf)]) == 0, capsys.readouterr().err
    (binding,) = load_bindings(source)
    values = nginx_generator._field_values(binding.route, str(source))
    assert all(len(value) < 4096 and " " not in value for value in values) and max(map(len, values)) > 1000
    write_nginx_conf(tmp_path, conf, free_port())
    checked = nginx_test(binary, tmp_path)
    assert checked.returncode == 0 and "[warn]" not in checked.stderr, checked.stderr


@pytest.mark.parametrize("field", loader.FIELDS)
def test_no_value_carries_a_bar_into_the_nginx_record(field: str) -> None:
    """``|`` meant something in nginx's old packed record and in a regex map: every field still refuses
    it or percent-encodes it, so no value of a record is more than its own token."""
    values = {
        "domain": "a|b.abc.com", "bucket": "a|b", "region": "us|west-1", "endpoint_type": "pub|lic", "endpoint": "'http://a|b.org/c|d'",
        "icp": "浙ICP备1234|5678号", "mode": "re|write", "status": "!!int '3|01'", "scheme": "ht|tp", "prefix": "a|b/",
        "index": "a|b.html", "subdir": "se|rve", "error_document": "4|04.html", "upstream_host": "do|main", "https": "{hsts: !!int '6|0'}",
        "private": "{region: 'a|b'}",
    }  # fmt: skip
    base = {"domain": "img.abc.com", "bucket": "abc-img", "region": "us-west-1", "mode": "rewrite"}
    if field == "index":
        base["subdir"] = "serve"  # nginx refuses the default subdir: redirect
    if field == "endpoint":
        del base["region"]
    fields = {**base, field: values[field]}
    try:
        (binding,) = load_bindings(HEAD + "  - {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}\n")
    except BindingError:
        return  # refused
    assert field in ("prefix", "index", "error_document"), field
    values = nginx_generator._field_values(binding.route, "<string>")
    assert not any("|" in value for value in values) and any("%7C" in value for value in values)


def test_the_attack_examples_parse_as_intended() -> None:
    """The files above say what they mean: the bomb's key is a sequence of anchored sequences."""
    node = yaml.compose(BOMBS["binding-key-383-bytes"], Loader=yaml.SafeLoader)
    key = node.value[1][1].value[0].value[1][0]
    assert isinstance(key, yaml.SequenceNode) and len(key.value) == 6
    assert len(BOMBS["binding-key-383-bytes"].encode()) == 383 and len(BOMBS["binding-key-524-bytes"].encode()) == 524
