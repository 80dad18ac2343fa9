"""The JSON Schema shipped for editors must agree with the validator.

An editor that accepts what ``osscname validate`` rejects (or the reverse) teaches users the wrong
file format. Agreement is checked on every fixture whose mistake is local to one value (the schema
must reject it too), on every valid fixture (the schema must accept it), and on the fixtures that
break a rule only the validator can check (the schema accepts them, and its description names the
rule). The schema side reads fixtures with ``yaml.safe_load``, as an editor would.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from test_loader import CANONICAL_VALUES, ENDPOINT_VALUES, EXAMPLE, FIXTURES, VALUE_CASES, Case, binding_text, fixture_params

from osscname import BindingError, load_bindings
from osscname import loader
from osscname.model import UNSAFE

SCHEMA: dict[str, Any] = json.loads(files("osscname").joinpath("schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_errors(text: str) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(yaml.safe_load(text))]


def loader_accepts(text_or_path: str | Path) -> bool:
    try:
        load_bindings(text_or_path)
    except BindingError:
        return False
    return True


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def described(node: Any, path: str = "#") -> list[str]:
    """Paths of property schemas without a description, anywhere in the schema."""
    missing = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            if "description" not in sub and not ("$ref" in sub and "description" in resolve(sub["$ref"])):
                missing.append(f"{path}/properties/{name}")
        for key, sub in node.items():
            missing += described(sub, f"{path}/{key}")
    return missing


def resolve(ref: str) -> dict[str, Any]:
    node: Any = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_field_has_a_description() -> None:
    assert SCHEMA["description"]
    assert described(SCHEMA) == []
    assert all("description" in definition for definition in SCHEMA["$defs"].values())


def test_fields_and_choices_match_the_loader() -> None:
    defs = SCHEMA["$defs"]
    assert tuple(SCHEMA["properties"]) == loader.TOP_LEVEL
    assert set(defs["binding"]["properties"]) == set(loader.FIELDS)
    assert set(SCHEMA["properties"]["defaults"]["properties"]) == set(loader.FIELDS) - {"domain"}
    assert tuple(defs["https"]["properties"]) == loader.HTTPS_FIELDS
    assert tuple(defs["private"]["oneOf"][1]["properties"]) == loader.PRIVATE_FIELDS
    assert tuple(defs["region"]["enum"]) == loader.REGIONS
    assert tuple(defs["endpoint_type"]["enum"]) == loader.ENDPOINT_TYPES
    assert tuple(defs["mode"]["enum"]) == loader.MODES
    assert tuple(defs["status"]["enum"]) == loader.STATUSES
    assert tuple(defs["scheme"]["enum"]) == loader.SCHEMES
    assert tuple(defs["subdir"]["enum"]) == loader.SUBDIRS
    assert tuple(defs["upstream_host"]["enum"]) == loader.UPSTREAM_HOSTS
    assert defs["safe_text"]["not"]["pattern"] == UNSAFE.pattern
    assert defs["icp"]["pattern"] == f"^{loader._ICP.pattern}$"
    assert defs["bucket"]["pattern"] == f"^{loader._BUCKET.pattern}$"


# --- agreement on files ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [pytest.param(EXAMPLE, id="example"), *fixture_params("valid")])
def test_valid_files_pass_both(path: Path) -> None:
    assert loader_accepts(path)
    assert schema_errors(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", fixture_params("local"))
def test_local_mistakes_fail_both(path: Path) -> None:
    assert not loader_accepts(path)
    assert schema_errors(path.read_text(encoding="utf-8")) != []


@pytest.mark.parametrize("path", fixture_params("validator_only"))
def test_validator_only_rules_are_named_in_the_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not loader_accepts(path)
    assert schema_errors(text) == []
    rule = text.splitlines()[0].removeprefix("# validator-only: ")
    assert rule != text.splitlines()[0] and rule in SCHEMA["description"]


def test_fixture_folders_are_not_empty() -> None:
    for folder in ("valid", "local", "validator_only"):
        assert list((FIXTURES / folder).glob("*.yaml")), folder


# --- agreement on the loader's value tables ------------------------------------------------------


@pytest.mark.parametrize("row", VALUE_CASES)
def test_value_rows_agree(row: Case) -> None:
    text, _, _ = binding_text(row.field, row.value)
    assert not loader_accepts(text)
    if row.schema:
        assert schema_errors(text) != [], f"the schema accepts {row.field}: {row.value}"
    else:  # a validator-only rule (IDN): if the schema learns it, flip the row
        assert schema_errors(text) == []


@pytest.mark.parametrize(("field", "value", "attribute", "expected"), CANONICAL_VALUES)
def test_valid_values_pass_the_schema(field: str, value: str, attribute: str, expected: Any) -> None:
    text, _, _ = binding_text(field, value)
    assert loader_accepts(text)
    assert schema_errors(text) == []


@pytest.mark.parametrize(("endpoint", "scheme", "bucket_host", "base_path"), ENDPOINT_VALUES)
def test_valid_endpoints_pass_the_schema(endpoint: str, scheme: str, bucket_host: str, base_path: str) -> None:
    text, _, _ = binding_text("endpoint", endpoint)
    assert loader_accepts(text)
    assert schema_errors(text) == []
