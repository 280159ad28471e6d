"""Hash version 4: version 3's coverage encoded by orjson; old chains still verify."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from careflow.journal import domain
from careflow.journal.samples import case_events

pytestmark = [pytest.mark.journal, pytest.mark.performance, pytest.mark.unit]

AT = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


def placed(content_override: dict[str, object] | None = None) -> list[domain.StoredEntry]:
    drafts = [
        (
            d if content_override is None else dataclasses.replace(d, content=content_override),
            "191212121212",
        )
        for e in case_events(messages=4)
        if (d := domain.draft_for(e)) and d.lane == "chat"
    ]
    rows = [(100 + i, AT + timedelta(seconds=i)) for i in range(len(drafts))]
    return domain.chain(drafts, 0, domain.GENESIS, rows)


def test_new_entries_are_hashed_with_version_4_over_every_column() -> None:
    rows = placed()
    assert {r.hash_version for r in rows} == {4}
    for r in rows:
        d = r.draft
        body = {
            **dataclasses.asdict(d),
            "sequence": r.sequence,
            "patient": r.patient_pin,
            "id": r.id,
            "recorded_at": r.recorded_at,
            "hash_version": 4,
        }
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
        assert r.entry_hash == hashlib.sha256(r.prev_hash.encode() + b"\n" + canonical).hexdigest()
    assert domain.verify_lane(rows[0].draft.case_id, "chat", rows) == []


def test_a_changed_version_4_entry_is_found() -> None:
    rows = placed()
    changed = dataclasses.replace(
        rows[1], draft=dataclasses.replace(rows[1].draft, content={"text": "x"})
    )
    problems = domain.verify_lane(rows[0].draft.case_id, "chat", [rows[0], changed, *rows[2:]])
    assert [(p.kind, p.sequence) for p in problems] == [("modified", 2)]
    moved = dataclasses.replace(rows[2], recorded_at=AT + timedelta(days=1))
    problems = domain.verify_lane(rows[0].draft.case_id, "chat", [*rows[:2], moved, *rows[3:]])
    assert [p.kind for p in problems] == ["modified"]
    for version in (3, 5):
        relabelled = dataclasses.replace(rows[2], hash_version=version)
        problems = domain.verify_lane(rows[0].draft.case_id, "chat", [*rows[:2], relabelled])
        assert [p.kind for p in problems] == ["modified"], version


def test_content_orjson_cannot_encode_falls_back_to_version_3_and_still_verifies() -> None:
    rows = placed({"text": "hej", "huge": 2**70})
    assert {r.hash_version for r in rows} == {3}
    d = rows[0].draft
    body = {
        **dataclasses.asdict(d),
        "sequence": 1,
        "patient": rows[0].patient_pin,
        "id": rows[0].id,
        "recorded_at": AT.isoformat(),
        "hash_version": 3,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    assert rows[0].entry_hash == hashlib.sha256(f"{domain.GENESIS}\n{text}".encode()).hexdigest()
    assert domain.verify_lane(d.case_id, "chat", rows) == []
