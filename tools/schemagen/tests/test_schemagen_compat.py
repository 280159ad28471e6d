"""The breaking-change checker, on small pydantic models and on the real event schemas."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Optional
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, Field

from careflow.contracts import EVENT_TYPES
from careflow.schemagen import breaking_changes, default_root, event_schema

pytestmark = [pytest.mark.foundation, pytest.mark.unit]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


# --- the models compared ------------------------------------------------------------------


class Person(_Strict):
    name: str = Field(max_length=100)
    age: int


class PersonWithoutAge(_Strict):
    name: str = Field(max_length=100)


class PersonRenamedName(_Strict):
    full_name: str = Field(max_length=100)
    age: int


class PersonAgeAsText(_Strict):
    name: str = Field(max_length=100)
    age: str


class PersonAgeAsNumber(_Strict):
    name: str = Field(max_length=100)
    age: float


class PersonWithEmail(_Strict):
    name: str = Field(max_length=100)
    age: int
    email: str


class PersonWithNickname(_Strict):
    name: str = Field(max_length=100)
    age: int
    nickname: str | None = None


class PersonNicknameRequired(_Strict):
    name: str = Field(max_length=100)
    age: int
    nickname: str | None


class PersonNicknameNotNull(_Strict):
    name: str = Field(max_length=100)
    age: int
    nickname: str = ""


class PersonShortName(_Strict):
    name: str = Field(max_length=50)
    age: int


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class FewerColours(StrEnum):
    RED = "red"
    GREEN = "green"


class MoreColours(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"
    YELLOW = "yellow"


class Paint(_Strict):
    colour: Colour


class PaintFewerColours(_Strict):
    colour: FewerColours


class PaintMoreColours(_Strict):
    colour: MoreColours


class PaintAnyColour(_Strict):
    colour: str


class KindA(_Strict):
    kind: Literal["a"]


class KindB(_Strict):
    kind: Literal["b"]


class KindAOrB(_Strict):
    kind: Literal["a", "b"]


class RefIsUuid(_Strict):
    ref: UUID


class RefIsDateTime(_Strict):
    ref: datetime


class RefIsText(_Strict):
    ref: str


class Address(_Strict):
    street: str
    postcode: str


class AddressNumericPostcode(_Strict):
    street: str
    postcode: int


class AddressWithCity(_Strict):
    street: str
    postcode: str
    city: str


class AddressWithOptionalCity(_Strict):
    street: str
    postcode: str
    city: str | None = None


class Letter(_Strict):
    address: Address
    copies: tuple[Address, ...] = ()
    forward_to: Address | None = None


class LetterNumericPostcode(_Strict):
    address: AddressNumericPostcode
    copies: tuple[AddressNumericPostcode, ...] = ()
    forward_to: AddressNumericPostcode | None = None


class LetterNeedsCity(_Strict):
    address: AddressWithCity
    copies: tuple[Address, ...] = ()
    forward_to: Address | None = None


class LetterOptionalCity(_Strict):
    address: AddressWithOptionalCity
    copies: tuple[AddressWithOptionalCity, ...] = ()
    forward_to: AddressWithOptionalCity | None = None


class Node(_Strict):
    label: str
    children: tuple[Node, ...] = ()


class NodeNumericLabel(_Strict):
    label: int
    children: tuple[NodeNumericLabel, ...] = ()


class Value(_Strict):
    value: str | int | list[str]


class ValueNoList(_Strict):
    value: str | int


class ValueOptional(_Strict):
    value: Optional[str | int | list[str]]  # noqa: UP045 - spelled out on purpose


# (case, old, new, expected changes); an empty list means "not breaking".
CASES: list[tuple[str, type[BaseModel], type[BaseModel], list[str]]] = [
    ("identical", Person, Person, []),
    ("removed field", Person, PersonWithoutAge, ["removed property: age"]),
    (
        "renamed field",
        Person,
        PersonRenamedName,
        ["removed property: name", "new required property: full_name"],
    ),
    ("type change", Person, PersonAgeAsText, ["type changed at age: integer -> string"]),
    ("integer widened to number", Person, PersonAgeAsNumber, []),
    ("new required field", Person, PersonWithEmail, ["new required property: email"]),
    ("optional field added", Person, PersonWithNickname, []),
    ("optional field removed", PersonWithNickname, Person, ["removed property: nickname"]),
    (
        "optional field became required",
        PersonWithNickname,
        PersonNicknameRequired,
        ["property became required: nickname"],
    ),
    ("required field became optional", PersonNicknameRequired, PersonWithNickname, []),
    (
        "null no longer allowed",
        PersonWithNickname,
        PersonNicknameNotNull,
        ["type changed at nickname: string|null -> string"],
    ),
    (
        "max length tightened",
        Person,
        PersonShortName,
        ["constraint tightened at name: maxLength 100 -> 50"],
    ),
    ("max length relaxed", PersonShortName, Person, []),
    (
        "enum value removed",
        Paint,
        PaintFewerColours,
        ["enum values removed at colour: ['blue']"],
    ),
    ("enum value added", Paint, PaintMoreColours, []),
    ("enum widened to string", Paint, PaintAnyColour, []),
    (
        "string narrowed to enum",
        PaintAnyColour,
        Paint,
        ["type changed at colour: restricted to ['red', 'green', 'blue']"],
    ),
    ("const changed", KindA, KindB, ["const changed at kind: 'a' -> 'b'"]),
    ("const widened to enum", KindA, KindAOrB, []),
    ("enum narrowed to const", KindAOrB, KindA, ["enum values removed at kind: ['b']"]),
    ("format changed", RefIsUuid, RefIsDateTime, ["format changed at ref: uuid -> date-time"]),
    ("format added", RefIsText, RefIsUuid, ["format changed at ref: None -> uuid"]),
    ("format dropped", RefIsUuid, RefIsText, []),
    (
        "nested $defs type change",
        Letter,
        LetterNumericPostcode,
        [
            "type changed at address.postcode: string -> integer",
            "type changed at copies[].postcode: string -> integer",
            "type changed at forward_to.postcode: string -> integer",
        ],
    ),
    (
        "nested $defs new required field",
        Letter,
        LetterNeedsCity,
        ["new required property: address.city"],
    ),
    ("nested $defs optional field added", Letter, LetterOptionalCity, []),
    ("nested model renamed only", LetterNeedsCity, LetterNeedsCity, []),
    ("recursive model unchanged", Node, Node, []),
    (
        "recursive model type change",
        Node,
        NodeNumericLabel,
        # The cycle is followed once: children[] is the same pair of definitions again.
        ["type changed at label: string -> integer"],
    ),
    (
        "union branch removed",
        Value,
        ValueNoList,
        ["type changed at value: string|integer|array -> string|integer"],
    ),
    ("union widened with null", Value, ValueOptional, []),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_breaking_changes(old: type[BaseModel], new: type[BaseModel], expected: list[str]) -> None:
    assert breaking_changes(schema_of(old), schema_of(new)) == expected


def test_schema_without_defs_or_refs_is_compared_too() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    new = {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}
    assert breaking_changes(old, new) == ["removed property: a", "new required property: b"]


def test_closing_an_open_object_is_breaking() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {**old, "additionalProperties": False}
    assert breaking_changes(old, new) == ["additional properties no longer allowed at (root)"]
    assert breaking_changes(new, old) == []


def test_changes_are_not_reported_twice() -> None:
    changes = breaking_changes(schema_of(Person), schema_of(PersonRenamedName))
    assert len(changes) == len(set(changes))


# --- the real events ----------------------------------------------------------------------

EVENTS = sorted(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENTS)
def test_event_schema_is_compatible_with_itself_and_its_committed_file(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    schema = event_schema(model)
    assert breaking_changes(schema, schema) == []
    committed_path = default_root() / "schemas" / f"{event_type}.v1.json"
    if committed_path.exists() and schema["properties"]["schema_version"]["const"] == 1:
        committed = json.loads(committed_path.read_text(encoding="utf-8"))
        assert breaking_changes(committed, schema) == []


@pytest.mark.parametrize("event_type", EVENTS)
def test_removing_any_event_property_is_breaking(event_type: str) -> None:
    schema = event_schema(EVENT_TYPES[event_type])
    for name in schema["properties"]:
        changed = copy.deepcopy(schema)
        del changed["properties"][name]
        changed["required"] = [r for r in changed["required"] if r != name]
        assert f"removed property: {name}" in breaking_changes(schema, changed)


@pytest.mark.parametrize("event_type", EVENTS)
def test_requiring_any_optional_event_property_is_breaking(event_type: str) -> None:
    schema = event_schema(EVENT_TYPES[event_type])
    for name in set(schema["properties"]) - set(schema["required"]):
        changed = copy.deepcopy(schema)
        changed["required"].append(name)
        assert breaking_changes(schema, changed) == [f"property became required: {name}"]


@pytest.mark.parametrize("event_type", EVENTS)
def test_adding_an_optional_event_property_is_not_breaking(event_type: str) -> None:
    schema = event_schema(EVENT_TYPES[event_type])
    changed = copy.deepcopy(schema)
    changed["properties"]["x_new_optional"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(schema, changed) == []


def test_changing_a_shared_definition_is_seen_through_every_event_using_it() -> None:
    schema = event_schema(EVENT_TYPES["TurnReached"])
    changed = copy.deepcopy(schema)
    changed["$defs"]["Skill"]["enum"].remove("psychologist")
    changed["$defs"]["Professional"]["required"].append("title_code")
    changed["$defs"]["Professional"]["properties"]["title_code"] = {"type": "string"}
    assert breaking_changes(schema, changed) == [
        "enum values removed at queue.skill: ['psychologist']",
        "new required property: professional.title_code",
    ]
