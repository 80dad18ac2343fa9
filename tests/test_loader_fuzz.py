"""Fuzzing ``load_bindings``: whatever the text, only :class:`BindingError` leaves it, each example in
bounded time; and for random *valid* files it returns one binding per entry, domains canonical.

Repeatable in CI: every test is derandomized (the same examples on every run) and keeps no example
database. 10,200 examples in all, about 35 s on two shared cores, nearly all of it in generating
them. The per-example ``deadline`` catches a hang or a blow-up (an alias bomb expanded, a quadratic
walk); it states no speed figure.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from yaml import MappingNode, SafeLoader, ScalarNode, SequenceNode, compose

from osscname import BindingError, BindingSet, load_bindings
from osscname.loader import FIELDS, MAX_HSTS, REGIONS
from osscname.model import UNSAFE

# Hypothesis caches what it learns of the code (even with no example database) in ``.hypothesis``
# under the working directory, from test collection on: keep it out of the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "osscname-hypothesis")
FUZZ = settings(deadline=timedelta(seconds=2), derandomize=True, database=None)


def only_binding_errors(text: str) -> None:
    """The property every fuzz test checks: a BindingSet or a BindingError with located problems."""
    try:
        result = load_bindings(text)
    except BindingError as error:
        assert error.problems
        assert all(problem.message and "\n" not in problem.message for problem in error.problems), error.problems
        return
    assert isinstance(result, BindingSet)


# --- random text ----------------------------------------------------------------------------------

#: Every code point, lone surrogates and NUL included.
ANY_CHARACTER = st.characters(exclude_categories=())
#: Characters that steer YAML's scanner, so random text is not only one long plain scalar.
YAML_PUNCTUATION = st.sampled_from(list("\n\n\n  -?:,[]{}&*!|>'\"%@`#\t\r\x85\u2028\ufeff") + ["\n  - ", ": ", "- ", "&a ", "*a", "!!int ", "!!binary "])


@settings(FUZZ, max_examples=3500)
@given(st.lists(st.one_of(ANY_CHARACTER, YAML_PUNCTUATION, st.text(ANY_CHARACTER, max_size=8)), max_size=40))
def test_random_text(parts: list[str]) -> None:
    only_binding_errors("\n" + "".join(parts))


@settings(FUZZ, max_examples=500)
@given(st.text(st.characters(exclude_categories=(), exclude_characters="\n/"), max_size=300))
def test_random_paths(name: str) -> None:
    """One-line strings are paths: NUL, surrogates, 300 characters. Relative names without ``/``,
    resolved in an empty folder (the test runs in one), so nothing but absent files is opened."""
    try:
        load_bindings(name or ".")
    except BindingError as error:
        assert len(error.problems) == 1 and error.problems[0].line == 0
        assert error.source.isprintable()
    else:
        raise AssertionError(f"{name!r} loaded")


@pytest.fixture(autouse=True, scope="module")
def _in_an_empty_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module-wide: hypothesis runs every example in one call of the test function."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    yield
    os.chdir(before)


# --- random YAML ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    text: str
    style: str  #: plain (written as is, however it breaks the YAML) | single | double (quoted, escaped)
    tag: str | None = None
    anchor: bool = False


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]
    tag: str | None = None
    anchor: bool = False


@dataclass(frozen=True)
class Map:
    pairs: tuple[tuple[Node, Node], ...]
    tag: str | None = None
    anchor: bool = False


@dataclass(frozen=True)
class Alias:
    pick: int  #: which of the anchors written so far; with none, an undefined alias


@dataclass(frozen=True)
class Bomb:
    levels: int  #: ``[&b0 [lol x 10], &b1 [*b0 x 10], ...]``: 10 ** levels nodes expanded


Node = Scalar | Seq | Map | Alias | Bomb

TAGS = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from([
        "!!int", "!!str", "!!binary", "!!float", "!!bool", "!!null", "!!seq", "!!map", "!!set", "!!omap", "!!timestamp", "!!merge",
        "!!python/object:os.system", "!!python/object/apply:os.system", "!!python/name:os.system", "!custom", "!<tag:%0A%1B[2J>", "!",
    ]),
)  # fmt: skip
#: Values the checks treat specially: numbers of every YAML 1.1 form, huge ones, digits int() refuses,
#: domains, URLs, object keys, field names (as keys too), long texts.
TOKEN_LIST = [
    "", "~", "null", "yes", "no", "on", "true", "0", "1", "301", "308", "-1", "+1", "0x12D", "0o17", "1_000", "1:30", "1.5", ".inf", ".nan",
    "2001-12-14", "<<", "=", "²", "³", "٣٠١", "9" * 5000, "0" * 5000 + "1", str(MAX_HSTS), str(MAX_HSTS + 1), *FIELDS, "version", "zones",
    "defaults", "bindings", "force", "hsts", "img.abc.com", "IMG.Abc.COM.", "*.abc.com", "a.*.b.com", "xn--zz.com", "bücher.example.org",
    "a" * 64 + ".com", "a" * 300, "abc-img", "Bad_Bucket", *REGIONS[:3], "cn-hangzou", "http://127.0.0.1:9000/a", "http://[::1]:9000",
    "http://[::1%25x|p]:9000/b", "http://[fe80::1%eth0]/", "https://minio.example.org/" + "p" * 300, "ftp://x.com", "浙ICP备12345678号-1",
    "redirect", "rewrite", "serve", "not_found", "bucket", "domain", "index.html", "../x", "a//b", "/lead", "é" * 800, "p" * 5000,
]  # fmt: skip


def token(number: int) -> str:
    return TOKEN_LIST[number]


TOKENS = st.integers(0, len(TOKEN_LIST) - 1).map(token)  # sampled_from would repr 30 kB of tokens
SCALARS = st.builds(
    Scalar,
    text=st.one_of(TOKENS, TOKENS, st.text(ANY_CHARACTER, max_size=12)),
    style=st.sampled_from(["plain", "plain", "single", "double"]),
    tag=TAGS,
    anchor=st.booleans(),
)
LEAVES = st.one_of(SCALARS, SCALARS, SCALARS, st.builds(Alias, st.integers(0, 20)), st.builds(Bomb, st.integers(2, 9)))


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    keys = st.one_of(SCALARS, SCALARS, children)  # collections as keys too
    return st.one_of(
        st.builds(Seq, st.lists(children, max_size=5).map(tuple), TAGS, st.booleans()),
        st.builds(Map, st.lists(st.tuples(keys, children), max_size=5).map(tuple), TAGS, st.booleans()),
    )


TREES = st.recursive(LEAVES, _extend, max_leaves=20)
SMALL_TREES = st.recursive(LEAVES, _extend, max_leaves=5)

#: Documents shaped like a bindings file, so that the fuzz reaches the field checks and the rules
#: between fields, not only the top-level ones.
FIELD_NAMES = st.sampled_from(FIELDS).map(lambda name: Scalar(name, "plain"))
FIELD_KEYS = st.one_of(FIELD_NAMES, FIELD_NAMES, FIELD_NAMES, SCALARS, SMALL_TREES)
BINDINGS = st.lists(
    st.one_of(st.builds(Map, st.lists(st.tuples(FIELD_KEYS, st.one_of(SCALARS, SCALARS, SMALL_TREES)), max_size=8).map(tuple), TAGS, st.booleans()), LEAVES),
    max_size=5,
)
TOP = st.builds(
    lambda version, bindings, extra, flow: (Map(((Scalar("version", "plain"), version), (Scalar("bindings", "plain"), Seq(tuple(bindings))), *extra)), flow),
    st.one_of(st.just(Scalar("1", "plain")), SCALARS),
    BINDINGS,
    st.lists(st.tuples(st.sampled_from(["zones", "defaults", "extra"]).map(lambda name: Scalar(name, "plain")), SMALL_TREES), max_size=2),
    st.booleans(),
)


class Writer:
    """YAML text for a tree: flow style, or block style for the top mapping and the bindings list."""

    def __init__(self) -> None:
        self.anchors: list[str] = []
        self.bombs = itertools.count()

    def properties(self, node: Scalar | Seq | Map) -> str:
        out = f"{node.tag} " if node.tag else ""
        if node.anchor:
            self.anchors.append(f"a{len(self.anchors)}")
            out = f"&{self.anchors[-1]} {out}"
        return out

    def flow(self, node: Node) -> str:
        if isinstance(node, Alias):
            return f"*{self.anchors[node.pick % len(self.anchors)]}" if self.anchors else "*undefined"
        if isinstance(node, Bomb):
            n = next(self.bombs)
            parts = [f"&b{n}_0 [" + ", ".join(["lol"] * 10) + "]"]
            parts += [f"&b{n}_{i} [" + ", ".join([f"*b{n}_{i - 1}"] * 10) + "]" for i in range(1, node.levels)]
            return "[" + ", ".join(parts) + "]"
        prefix = self.properties(node)
        if isinstance(node, Scalar):
            return prefix + scalar_text(node)
        if isinstance(node, Seq):
            return prefix + "[" + ", ".join(self.flow(item) for item in node.items) + "]"
        return prefix + "{" + ", ".join(self.pair(key, value) for key, value in node.pairs) + "}"

    def pair(self, key: Node, value: Node) -> str:
        written = self.flow(key)
        return f"? {written} : {self.flow(value)}" if isinstance(key, (Seq, Map, Bomb)) else f"{written}: {self.flow(value)}"

    def block(self, top: Map) -> str:
        lines = []
        for key, value in top.pairs:
            if isinstance(value, Seq) and not value.tag and not value.anchor:
                lines.append(f"{self.flow(key)}:")
                for item in value.items:
                    if isinstance(item, Map) and item.pairs and not item.tag and not item.anchor:
                        entries = [self.pair(k, v) for k, v in item.pairs]
                        lines += ["  - " + entries[0], *("    " + entry for entry in entries[1:])]
                    else:
                        lines.append("  - " + self.flow(item))
            else:
                lines.append(self.pair(key, value))
        return "\n".join(lines) + "\n"


def scalar_text(node: Scalar) -> str:
    if node.style == "single":
        return "'" + node.text.replace("'", "''") + "'"
    if node.style == "double":
        return quoted(node.text)  # escapes let surrogates and NUL into the value itself
    return node.text  # plain: as it is, breaking the YAML if it must


def quoted(value: str) -> str:
    """A YAML double-quoted scalar: printable characters as they are, the others escaped."""
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in value) + '"'


@settings(FUZZ, max_examples=2500)
@given(TREES)
def test_random_yaml(tree: Node) -> None:
    only_binding_errors("\n" + Writer().flow(tree) + "\n")


@settings(FUZZ, max_examples=2200)
@given(TOP)
def test_random_bindings_files(document: tuple[Map, bool]) -> None:
    top, flow = document
    writer = Writer()
    only_binding_errors(writer.flow(top) + "\n" if flow else writer.block(top))


def test_the_writer_writes_what_it_means() -> None:
    """The fuzz is only as good as its YAML: a tree with an anchor, an alias, a tag and a bomb key."""
    tree = Map(((Scalar("k", "plain", anchor=True), Seq((Alias(0), Scalar("1", "plain", "!!str")))), (Bomb(2), Scalar("x\ty", "double"))))
    text = Writer().flow(tree)
    bomb = "[&b0_0 [" + ", ".join(["lol"] * 10) + "], &b0_1 [" + ", ".join(["*b0_0"] * 10) + "]]"
    assert text == '{&a0 k: [*a0, !!str 1], ? ' + bomb + ' : "x\\u0009y"}'
    root = compose(text, Loader=SafeLoader)
    (key, value), (bomb_key, tab) = root.value
    assert isinstance(root, MappingNode) and isinstance(value, SequenceNode) and value.value[0] is key
    assert value.value[1].tag == "tag:yaml.org,2002:str" and isinstance(bomb_key, SequenceNode)
    assert bomb_key.value[1].value[0] is bomb_key.value[0] and isinstance(tab, ScalarNode) and tab.value == "x\ty"


# --- random valid files ---------------------------------------------------------------------------

LDH = "abcdefghijklmnopqrstuvwxyz0123456789"
LABEL = st.builds(lambda a, middle, b: a + middle + b, st.sampled_from(LDH), st.text(LDH + "-", max_size=8), st.sampled_from(LDH)).filter(lambda label: label[2:4] != "--")
#: U-labels and their A-labels (UTS #46 non-transitional), written out so the test does not ask the
#: library the loader uses; upper-case forms map to the same A-label.
IDN = st.sampled_from([
    ("bücher", "xn--bcher-kva"), ("BÜCHER", "xn--bcher-kva"), ("münchen", "xn--mnchen-3ya"), ("中文", "xn--fiq228c"),
    ("пример", "xn--e1afmkfd"), ("straße", "xn--strae-oqa"), ("ελληνικά", "xn--hxargifdar"),
])  # fmt: skip
#: Characters an object key may hold: any but the unsafe ones, surrogates and ``/`` (the separator).
KEY_CHARACTER = st.characters(exclude_categories=("Cs",), exclude_characters="/").filter(lambda c: not UNSAFE.search(c))
SEGMENT = st.text(KEY_CHARACTER, min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))
PATH_SEGMENT = st.text("ABCXYZabcxyz0189._~-", min_size=1, max_size=5).filter(lambda s: s not in (".", ".."))
BUCKET = st.builds(lambda a, middle: a + middle, st.sampled_from(LDH), st.text(LDH + "-", min_size=1, max_size=12))


@st.composite
def domain(draw: st.DrawFn) -> tuple[str, str]:
    """(as written, canonical): mixed case, a trailing dot, IDN labels, a wildcard."""
    written, canonical = [], []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 4)) == 0:
            u_label, a_label = draw(IDN)
            written.append(u_label)
            canonical.append(a_label)
        else:
            label = draw(LABEL)
            written.append(draw(st.sampled_from([str.lower, str.upper, str.title, str.capitalize]))(label))
            canonical.append(label)
    tld = draw(st.sampled_from(["com", "org", "Net", "example"]))
    written.append(tld)
    canonical.append(tld.lower())
    star = draw(st.booleans()) and draw(st.booleans())
    text = ("*." if star else "") + ".".join(written) + ("." if draw(st.booleans()) else "")
    return text, ("*." if star else "") + ".".join(canonical)


@st.composite
def binding(draw: st.DrawFn, number: int) -> tuple[dict[str, str], dict[str, Any]]:
    """(YAML fields, what the Binding must hold) for one valid binding."""
    written, canonical = draw(domain())
    bucket = f"{draw(BUCKET)}-{number}"  # one bucket each: the 100-domains-per-bucket limit stays out of the way
    fields = {"domain": quoted(written), "bucket": bucket}
    expected: dict[str, Any] = {"domain": canonical, "bucket": bucket}
    if draw(st.booleans()):
        region = draw(st.sampled_from(REGIONS))
        fields["region"] = region
        if region.startswith("cn-") and region != "cn-hongkong":
            fields["icp"] = draw(st.sampled_from(["浙ICP备12345678号-1", "京ICP证030173号", "沪ICP备1234号"]))
        if draw(st.booleans()):
            fields["scheme"] = draw(st.sampled_from(["http", "https"]))
    else:
        host = draw(st.sampled_from(["127.0.0.1:9000", "[::1]:9000", "minio.example.org", "localhost:8080"]))
        path = "".join("/" + draw(PATH_SEGMENT) for _ in range(draw(st.integers(0, 2))))
        fields["endpoint"] = quoted(f"{draw(st.sampled_from(['http', 'https']))}://{host}{path}")
        expected["base_path"] = path
    segments = draw(st.lists(SEGMENT, max_size=3))
    if segments:
        fields["prefix"] = quoted("/" * draw(st.integers(0, 2)) + "/".join(segments) + "/" * draw(st.integers(0, 2)))
        expected["prefix"] = "/".join(segments) + "/"
    if draw(st.booleans()):
        index = draw(SEGMENT)
        fields["index"] = quoted(index)
        expected["index"] = index
    mode = draw(st.sampled_from(["redirect", "rewrite", None]))
    if mode:
        fields["mode"] = mode
    if mode == "rewrite":
        if "index" in fields and draw(st.booleans()):
            fields["subdir"] = draw(st.sampled_from(["redirect", "not_found", "serve"]))
        if draw(st.booleans()):
            fields["error_document"] = quoted("/".join(draw(st.lists(SEGMENT, min_size=1, max_size=2))))
        if draw(st.booleans()):
            fields["upstream_host"] = draw(st.sampled_from(["bucket", "domain"]))
    elif draw(st.booleans()):
        status = draw(st.sampled_from([301, 302, 307, 308]))
        fields["status"] = str(status)
        expected["status"] = status
    if draw(st.booleans()):
        hsts = draw(st.integers(0, MAX_HSTS))
        force = draw(st.booleans())
        fields["https"] = f"{{force: {str(force).lower()}, hsts: {hsts}}}"
        expected["hsts"], expected["https_force"] = hsts, force
    return fields, expected


@st.composite
def valid_file(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    entries = []
    seen: set[str] = set()
    for number in range(draw(st.integers(0, 6))):
        fields, expected = draw(binding(number))
        if expected["domain"] not in seen:
            seen.add(expected["domain"])
            entries.append((fields, expected))
    lines = ["version: 1", "bindings:" + ("" if entries else " []")]
    for fields, _ in entries:
        if draw(st.booleans()):
            lines.append("  - {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}")
        else:
            items = [f"{k}: {v}" for k, v in fields.items()]
            lines += ["  - " + items[0], *("    " + item for item in items[1:])]
    return "\n".join(lines) + "\n", [expected for _, expected in entries]


@settings(FUZZ, max_examples=1500)
@given(valid_file())
def test_random_valid_files_load_as_written(case: tuple[str, list[dict[str, Any]]]) -> None:
    text, expected = case
    bindings = load_bindings(text)
    assert len(bindings) == len(expected)
    for got, want in zip(bindings, expected, strict=True):
        assert {name: getattr(got, name) for name in want} == want
