"""Golden examples: one realistic message per event type, checked against models and schemas."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from careflow.contracts import EVENT_TYPES, parse_event
from careflow.contracts.upcasting import current_version

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

#: The contracts project (``contracts/``).
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCHEMAS = ROOT / "schemas"

#: Skatteverket's published test personal identity numbers; examples may use no others.
TEST_PERSONAL_IDENTITY_NUMBERS = {"191212121212", "201212121212", "195001012384"}

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
EXAMPLE_NAME = re.compile(r"^(?P<event_type>[A-Za-z]+)\.v(?P<version>[1-9][0-9]*)\.json$")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _current_examples() -> list[Path]:
    return [
        EXAMPLES / f"{event_type}.v{current_version(event_type)}.json"
        for event_type in sorted(EVENT_TYPES)
    ]


# --- a small JSON Schema validator --------------------------------------------------------
# Enough of draft 2020-12 for what pydantic emits; it refuses schemas using other keywords so
# that it never passes a document by ignoring a constraint it does not understand.

_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$defs"}
_SUPPORTED = _ANNOTATIONS | {
    "$ref",
    "anyOf",
    "type",
    "const",
    "enum",
    "format",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
}
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt == "uuid":
            UUID(value)
        elif fmt == "date-time":
            parsed = datetime.fromisoformat(value)
            return parsed.tzinfo is not None
        else:
            raise AssertionError(f"unsupported format {fmt!r}")
    except ValueError:
        return False
    return True


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$"
) -> list[str]:
    unknown = set(schema) - _SUPPORTED
    assert not unknown, f"validator does not support {sorted(unknown)} at {at}"
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        return validate(instance, root["$defs"][ref.removeprefix("#/$defs/")], root, at)
    if "anyOf" in schema:
        if any(not validate(instance, alt, root, at) for alt in schema["anyOf"]):
            return []
        return [f"{at}: matches none of anyOf"]
    errors: list[str] = []
    if "type" in schema and not _TYPES[schema["type"]](instance):
        return [f"{at}: expected {schema['type']}, got {type(instance).__name__}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{at}: expected const {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{at}: {instance!r} not in enum")
    if isinstance(instance, str):
        if "format" in schema and not _format_ok(schema["format"], instance):
            errors.append(f"{at}: not a {schema['format']}")
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{at}: shorter than minLength")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append(f"{at}: longer than maxLength")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{at}: does not match pattern")
    if _TYPES["number"](instance):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{at}: below minimum")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{at}: above maximum")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            errors.append(f"{at}: not above exclusiveMinimum")
        if "exclusiveMaximum" in schema and instance >= schema["exclusiveMaximum"]:
            errors.append(f"{at}: not below exclusiveMaximum")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in instance:
                errors.append(f"{at}: missing required property {name!r}")
        for name, value in instance.items():
            if name in properties:
                errors.extend(validate(value, properties[name], root, f"{at}.{name}"))
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{at}: unexpected property {name!r}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            errors.extend(validate(item, schema["items"], root, f"{at}[{index}]"))
    return errors


# --- tests --------------------------------------------------------------------------------


def test_every_event_type_has_a_golden_example_at_its_current_version() -> None:
    missing = [path.name for path in _current_examples() if not path.is_file()]
    assert not missing, f"add golden examples under {EXAMPLES}: {missing}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_file_is_named_after_its_event(path: Path) -> None:
    match = EXAMPLE_NAME.match(path.name)
    assert match, f"{path.name} is not <EventType>.v<N>.json"
    data = _load(path)
    assert data["event_type"] == match["event_type"]
    assert data["schema_version"] == int(match["version"])
    assert match["event_type"] in EVENT_TYPES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_parses_including_older_versions(path: Path) -> None:
    data = _load(path)
    event = parse_event(path.read_bytes())
    assert type(event) is EVENT_TYPES[data["event_type"]]
    assert event.schema_version == current_version(event.event_type)


@pytest.mark.parametrize("path", _current_examples(), ids=lambda p: p.name)
def test_current_example_round_trips_to_identical_json(path: Path) -> None:
    original = _load(path)
    event = parse_event(path.read_text(encoding="utf-8"))
    assert json.loads(event.to_json()) == original
    assert parse_event(event.to_json()) == event
    assert event.key() == original["case_id"].encode()


@pytest.mark.parametrize("path", _current_examples(), ids=lambda p: p.name)
def test_current_example_is_produced_by_the_owner(path: Path) -> None:
    data = _load(path)
    assert data["producer"] == EVENT_TYPES[data["event_type"]].OWNER


@pytest.mark.parametrize("path", _current_examples(), ids=lambda p: p.name)
def test_current_example_validates_against_its_committed_schema(path: Path) -> None:
    schema = _load(SCHEMAS / path.name)
    example = _load(path)
    assert set(schema["required"]) <= set(example), "a required key is missing"
    assert set(example) <= set(schema["properties"]), "the example has keys the schema lacks"
    assert validate(example, schema, schema) == []


@pytest.mark.parametrize("path", _current_examples(), ids=lambda p: p.name)
def test_schema_validator_rejects_broken_examples(path: Path) -> None:
    schema = _load(SCHEMAS / path.name)
    example = _load(path)
    assert validate({**example, "unexpected": 1}, schema, schema)
    for name in schema["required"]:
        broken = {k: v for k, v in example.items() if k != name}
        assert validate(broken, schema, schema), f"dropping {name} went unnoticed"
    assert validate({**example, "case_id": "not-a-uuid"}, schema, schema)
    assert validate({**example, "occurred_at": "2025-03-10T08:00:00"}, schema, schema)
    assert validate({**example, "schema_version": 99}, schema, schema)


def test_examples_use_only_test_personal_identity_numbers() -> None:
    looks_like_one = re.compile(r"(?<![\w-])(?:19|20)\d{10}(?![\w-])")
    found = set()
    for path in EXAMPLE_FILES:
        for number in looks_like_one.findall(path.read_text(encoding="utf-8")):
            assert number in TEST_PERSONAL_IDENTITY_NUMBERS, f"{path.name}: {number}"
            found.add(number)
    assert found, "the scan should at least see the CaseOpened example's number"
