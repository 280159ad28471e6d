"""The registry: topics, ownership, subscriptions and parse_event."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careflow.contracts import (
    EVENT_TYPES,
    RESTRICTED_TOPICS,
    SERVICES,
    SUBSCRIPTIONS,
    CaseOpened,
    ContractError,
    Event,
    UnknownEventType,
    dead_letter_topic,
    event_topics,
    may_read,
    model_for,
    parse_event,
    restricted_topics,
    topic_for_event,
    topic_for_service,
    topics_written_by,
)

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _golden(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.v1.json").read_text())
    return data


# --- topics, owners, subscriptions --------------------------------------------------------


def test_every_service_has_its_own_topic() -> None:
    topics = [topic_for_service(s) for s in SERVICES]
    dead_letters = [dead_letter_topic(s) for s in SERVICES]
    assert len(set(SERVICES)) == len(SERVICES)
    assert len(set(topics)) == len(topics)
    assert len(set(dead_letters)) == len(dead_letters)
    assert not set(topics) & set(dead_letters)
    assert event_topics() == tuple(topics)


def test_unknown_services_have_no_topic() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        topic_for_service("billing")
    with pytest.raises(ValueError, match="unknown service"):
        dead_letter_topic("billing")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_is_registered_under_its_own_type_and_owned_by_a_service(
    event_type: str,
) -> None:
    model = EVENT_TYPES[event_type]
    assert model.model_fields["event_type"].default == event_type
    assert get_args(model.model_fields["event_type"].annotation) == (event_type,)
    version = model.model_fields["schema_version"].default
    assert get_args(model.model_fields["schema_version"].annotation) == (version,)
    assert model.OWNER in SERVICES
    if event_type in RESTRICTED_TOPICS:
        assert topic_for_event(event_type) in topics_written_by(model.OWNER)
    else:
        assert topic_for_event(event_type) == topic_for_service(model.OWNER)
    assert model_for(event_type) is model
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


def test_subscriptions_name_known_services_and_event_types() -> None:
    assert set(SUBSCRIPTIONS) <= set(SERVICES)
    for service, event_types in SUBSCRIPTIONS.items():
        assert len(set(event_types)) == len(event_types), service
        for event_type in event_types:
            assert event_type in EVENT_TYPES, f"{service} subscribes to unknown {event_type}"


def test_only_a_restricted_topic_carries_personal_identity_numbers() -> None:
    for event_type, model in EVENT_TYPES.items():
        if "personal_identity_number" in model.model_fields:
            assert event_type in RESTRICTED_TOPICS, f"{event_type} would spread the number"
    for event_type, (topic, readers) in RESTRICTED_TOPICS.items():
        assert topic in restricted_topics()
        assert topic not in event_topics()
        for service, event_types in SUBSCRIPTIONS.items():
            if event_type in event_types:
                assert service in readers, f"{service} may not read {topic}"
        assert [s for s in SERVICES if may_read(s, topic)] == list(readers)


def test_model_for_an_unknown_type_raises() -> None:
    with pytest.raises(UnknownEventType) as caught:
        model_for("CaseReopened")
    assert caught.value.reason == "unknown event type 'CaseReopened'"


# --- parse_event --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "an event must be a JSON object"),
        ("42", "an event must be a JSON object"),
        ('"CaseOpened"', "an event must be a JSON object"),
        ("null", "an event must be a JSON object"),
        ("{}", "missing or non-string 'event_type'"),
        ('{"event_type": 7}', "missing or non-string 'event_type'"),
        ('{"event_type": "CaseReopened"}', "unknown event type 'CaseReopened'"),
    ],
)
def test_parse_event_rejects_what_is_not_an_event(raw: bytes | str, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_event(raw)
    assert caught.value.reason.startswith(reason)
    assert str(caught.value) == caught.value.reason


def test_an_unknown_event_type_is_its_own_error() -> None:
    with pytest.raises(UnknownEventType):
        parse_event({**_golden("CaseOpened"), "event_type": "CaseReopened"})


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"patient_id": ""}, "patient_id"),
        ({"occurred_at": "2025-03-10T08:00:00"}, "occurred_at"),
        ({"case_id": "not-a-uuid"}, "case_id"),
        ({"actor": {"id": "sub_1", "role": "robot"}}, "actor.role"),
        ({"unexpected": True}, "unexpected"),
    ],
)
def test_parse_event_reports_the_first_validation_failure(
    change: dict[str, Any], where: str
) -> None:
    with pytest.raises(ContractError) as caught:
        parse_event({**_golden("CaseOpened"), **change})
    assert caught.value.reason.startswith("CaseOpened failed validation (1 errors); ")
    assert f"first at {where}: " in caught.value.reason


def test_a_missing_field_is_reported() -> None:
    message = _golden("CaseOpened")
    del message["region"]
    with pytest.raises(ContractError, match=r"first at region: Field required"):
        parse_event(message)


def test_occurred_at_is_normalised_to_utc() -> None:
    event = parse_event({**_golden("CaseOpened"), "occurred_at": "2025-03-10T08:58:12+01:00"})
    assert isinstance(event, CaseOpened)
    assert json.loads(event.to_json())["occurred_at"] == "2025-03-10T07:58:12Z"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_event_only_ever_raises_contract_error_on_bytes(raw: bytes) -> None:
    with contextlib.suppress(ContractError):
        parse_event(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(sorted(EVENT_TYPES)),
    overrides=st.dictionaries(
        st.sampled_from(["schema_version", "case_id", "occurred_at", "actor", "producer", "x"]),
        _json,
        max_size=3,
    ),
)
def test_parse_event_only_ever_raises_contract_error_on_mangled_events(
    event_type: str, overrides: dict[str, Any]
) -> None:
    message = {**_golden(event_type), **overrides}
    try:
        event = parse_event(json.dumps(message))
    except ContractError:
        return
    assert isinstance(event, Event)


def test_deeply_nested_json_is_a_contract_error() -> None:
    with pytest.raises(ContractError):
        parse_event(b"[" * 100_000)
