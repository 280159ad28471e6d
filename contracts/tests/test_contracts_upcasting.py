"""Upcasting: older schema versions are lifted to the current model by registered upcasters.

Every real event is still at version 1, so these tests pretend ``CaseClosed`` has moved on:
they swap a v2 (and v3) model into the registry and register upcasters with the real
``upcaster`` decorator, restoring both afterwards. ``parse_event`` and ``upcast`` run as is.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field

from careflow.contracts import CaseClosed, ContractError, parse_event, registry
from careflow.contracts.upcasting import UPCASTERS, current_version, upcast, upcaster

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class CaseClosedV2(CaseClosed):
    """CaseClosed as it might look after a breaking change: a new required field."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    follow_up_days: int = Field(ge=0)


class CaseClosedV3(CaseClosedV2):
    """And after a second one: ``advice`` became required (no longer nullable)."""

    schema_version: Literal[3] = 3  # type: ignore[assignment]
    advice: str = Field(max_length=8000)  # type: ignore[assignment]


def _golden(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.v1.json").read_text())
    return data


@pytest.fixture
def clean_upcasters() -> Iterator[None]:
    saved = dict(UPCASTERS)
    yield
    UPCASTERS.clear()
    UPCASTERS.update(saved)


@pytest.fixture
def case_closed_at(monkeypatch: pytest.MonkeyPatch, clean_upcasters: None) -> Any:
    def install(model: type[CaseClosed]) -> None:
        monkeypatch.setitem(registry.EVENT_TYPES, "CaseClosed", model)  # type: ignore[arg-type]

    return install


def test_current_messages_pass_through_untouched() -> None:
    golden = _golden("CaseClosed")
    assert upcast(copy.deepcopy(golden)) == golden
    assert current_version("CaseClosed") == 1


def test_an_older_version_is_lifted_to_the_current_model(case_closed_at: Any) -> None:
    case_closed_at(CaseClosedV2)
    seen: list[dict[str, Any]] = []

    @upcaster("CaseClosed", 1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(data))
        data["follow_up_days"] = 0
        return data

    golden = _golden("CaseClosed")
    original = copy.deepcopy(golden)
    event = parse_event(json.dumps(golden))
    assert isinstance(event, CaseClosedV2)
    assert event.schema_version == 2
    assert event.follow_up_days == 0
    assert event.documentation_note == golden["documentation_note"]
    assert seen == [golden], "the upcaster sees the message at the version it lifts from"

    assert isinstance(parse_event(golden), CaseClosedV2)
    assert golden == original, "parse_event must not change the mapping it is given"

    current = {**json.loads(event.to_json())}
    assert parse_event(current) == event
    assert len(seen) == 2, "a current-version message is not upcast again"


def test_upcasters_chain_one_version_at_a_time(case_closed_at: Any) -> None:
    case_closed_at(CaseClosedV3)
    steps: list[tuple[int, int]] = []

    @upcaster("CaseClosed", 1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        steps.append((1, data["schema_version"]))
        return {**data, "follow_up_days": 0}

    @upcaster("CaseClosed", 2)
    def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        steps.append((2, data["schema_version"]))
        return {**data, "advice": data.get("advice") or ""}

    v1 = {**_golden("CaseClosed"), "advice": None}
    event = parse_event(v1)
    assert isinstance(event, CaseClosedV3)
    assert (event.schema_version, event.follow_up_days, event.advice) == (3, 0, "")
    assert steps == [(1, 1), (2, 2)]

    steps.clear()
    v2 = {**_golden("CaseClosed"), "schema_version": 2, "follow_up_days": 14}
    event = parse_event(v2)
    assert isinstance(event, CaseClosedV3)
    assert event.follow_up_days == 14
    assert steps == [(2, 2)]


def test_a_missing_upcaster_is_a_contract_error(case_closed_at: Any) -> None:
    case_closed_at(CaseClosedV2)
    with pytest.raises(ContractError) as caught:
        parse_event(_golden("CaseClosed"))
    assert caught.value.reason == "CaseClosed: no upcaster from schema_version 1"


def test_a_newer_version_than_known_is_a_contract_error() -> None:
    message = {**_golden("CaseOpened"), "schema_version": 3}
    with pytest.raises(ContractError) as caught:
        parse_event(message)
    assert caught.value.reason == (
        "CaseOpened schema_version 3 is newer than this consumer knows (2)"
    )


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, None])
def test_an_invalid_schema_version_is_a_contract_error(version: object) -> None:
    with pytest.raises(ContractError, match="invalid schema_version"):
        parse_event({**_golden("CaseOpened"), "schema_version": version})


def test_an_upcaster_that_produces_an_invalid_event_is_a_contract_error(
    case_closed_at: Any,
) -> None:
    case_closed_at(CaseClosedV2)

    @upcaster("CaseClosed", 1)
    def _forgets_the_new_field(data: dict[str, Any]) -> dict[str, Any]:
        return data

    with pytest.raises(ContractError) as caught:
        parse_event(_golden("CaseClosed"))
    assert "first at follow_up_days" in caught.value.reason
