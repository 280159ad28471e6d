"""Tampering with the record directly in PostgreSQL is caught, and named.

The attacker here is a superuser: triggers are switched off for the session
(``session_replication_role = replica``), so the database lets every change
through. Each edit runs in its own transaction, is verified inside it, and is
rolled back, so the next edit starts from the intact record.
"""

from __future__ import annotations

import dataclasses
import json
import random
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from careflow.journal import adapters, audit, domain, service
from careflow.journal.checkpoints import Checkpointer, signing_key
from careflow.journal.samples import case_events
from careflow.journal.settings import DEV_SIGNING_KEY
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database

pytestmark = [pytest.mark.journal, pytest.mark.integration]

LANE_ROWS = "SELECT * FROM journal_entries WHERE case_id = :c AND lane = :l"
EDITS = 1000  # the figure; the whole test stays well under a minute
KEY = signing_key(DEV_SIGNING_KEY)


async def _populate(db: Database, tmp_path, cases: int = 40) -> domain.Checkpoint:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    events = [e for _ in range(cases) for e in case_events(messages=rng.randint(1, 9))]
    async with db.transaction() as conn:
        await service.record(conn, events)
    cp = await Checkpointer(db, KEY, tmp_path, 0, SystemClock()).checkpoint()
    assert cp is not None
    return cp


async def _edit(
    conn, rng: random.Random, lanes: list[tuple[str, str, int]]
) -> tuple[str, str, str, int]:  # type: ignore[no-untyped-def]
    """One random edit; returns (expected kind, case, lane, sequence)."""
    case, lane, n = rng.choice(lanes)
    where = "case_id = :c AND lane = :l"
    args = {"c": case, "l": lane}
    kind = rng.choice(["modified", "deleted", "reordered", "truncated", "inserted"])
    if kind == "reordered" and n < 2:
        kind = "modified"
    if kind == "inserted" and n < 1:
        kind = "modified"
    if kind == "modified":
        s = rng.randint(1, n)
        column = rng.choice(["content", "occurred_at", "professional_name", "patient_pin"])
        change = {
            "content": "content = jsonb_set(content, '{tampered}', 'true')",
            "occurred_at": "occurred_at = occurred_at + interval '1 second'",
            "professional_name": "professional_name = 'Someone Else'",
            "patient_pin": "patient_pin = '197001011234'",
        }[column]
        await conn.execute(
            text(f"UPDATE journal_entries SET {change} WHERE {where} AND sequence = :s"),
            {**args, "s": s},
        )
        return "modified", case, lane, s
    if kind == "deleted":
        s = rng.randint(1, n)
        await conn.execute(
            text(f"DELETE FROM journal_entries WHERE {where} AND sequence = :s"), {**args, "s": s}
        )
        return ("truncated" if s == n else "deleted"), case, lane, s
    if kind == "truncated":
        s = rng.randint(1, n)
        await conn.execute(
            text(f"DELETE FROM journal_entries WHERE {where} AND sequence >= :s"), {**args, "s": s}
        )
        return "truncated", case, lane, s
    if kind == "reordered":
        a, b = sorted(rng.sample(range(1, n + 1), 2))
        await conn.execute(
            text(
                f"UPDATE journal_entries SET sequence = CASE sequence WHEN :a THEN -1 ELSE :a END "
                f"WHERE {where} AND sequence IN (:a, :b)"
            ),
            {**args, "a": a, "b": b},
        )
        await conn.execute(
            text(f"UPDATE journal_entries SET sequence = :b WHERE {where} AND sequence = -1"),
            {**args, "b": b},
        )
        return "reordered", case, lane, a
    # inserted: a forged entry slipped in at s, hashed correctly by an attacker who knows
    # the algorithm, the entries after it renumbered.
    s = rng.randint(1, n)
    rows = [
        adapters.as_stored(r)
        for r in await conn.execute(
            text(f"SELECT * FROM journal_entries WHERE {where} ORDER BY sequence"), args
        )
    ]
    prev = rows[s - 2].entry_hash if s > 1 else domain.GENESIS
    base = rows[s - 1].draft
    forged = dataclasses.replace(base, source_event_id=uuid.uuid4(), content={"text": "forged"})
    forged_id = 10_000_000 + s
    at = rows[s - 1].recorded_at
    digest = domain.entry_hash(
        prev, s, forged, rows[s - 1].patient_pin, domain.HASH_VERSION, forged_id, at
    )
    await conn.execute(
        text(
            f"UPDATE journal_entries SET sequence = -sequence - 1 WHERE {where} AND sequence >= :s"
        ),
        {**args, "s": s},
    )
    await conn.execute(
        text(f"UPDATE journal_entries SET sequence = -sequence WHERE {where} AND sequence < 0"),
        args,
    )
    columns = (
        "case_id, lane, kind, occurred_at, patient_pin, author_id, author_role, "
        "professional_name, professional_title, care_unit, corrects_event_id, hash_version"
    )
    await conn.execute(
        text(
            f"INSERT INTO journal_entries ({columns}, recorded_at, id, sequence, source_event_id, "
            "content, prev_hash, entry_hash) SELECT "
            f"{columns}, recorded_at, :rid, :s, :id, CAST(:content AS jsonb), "
            ":prev, :hash FROM journal_entries WHERE case_id = :c AND lane = :l AND sequence = :s1"
        ),
        {
            **args,
            "rid": forged_id,
            "s": s,
            "s1": s + 1,
            "id": forged.source_event_id,
            "content": json.dumps(forged.content),
            "prev": prev,
            "hash": digest,
        },
    )
    return "inserted", case, lane, s


async def test_a_thousand_random_edits_are_each_detected_and_named(
    journal_db: Database, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cp = await _populate(journal_db, tmp_path)
    public = domain.public_key_hex(KEY)
    async with journal_db.transaction() as conn:
        intact = await audit.verify_database(conn, cp, public)
        lanes = [
            (str(c), lane, n)
            for c, lane, n in (
                await conn.execute(
                    text("SELECT case_id, lane, count(*) FROM journal_entries GROUP BY 1, 2")
                )
            ).all()
        ]
    assert intact.valid and intact.entries == cp.entries, intact.problems

    rng = random.Random(20261125)
    seen_kinds: dict[str, int] = {}
    for _ in range(EDITS):
        async with journal_db.engine.connect() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            expected, case, lane, seq = await _edit(conn, rng, lanes)
            report = await audit.verify_database(conn, cp, public, case_ids=[uuid.UUID(case)])
            await conn.rollback()
        assert not report.valid, (expected, case, lane, seq)
        first = report.problems[0]
        assert (first.kind, str(first.case_id), first.lane) == (expected, case, lane), (
            expected,
            seq,
            report.problems,
        )
        seen_kinds[expected] = seen_kinds.get(expected, 0) + 1
    assert set(seen_kinds) == {"modified", "deleted", "reordered", "truncated", "inserted"}


async def test_a_rewritten_and_rehashed_chain_is_caught_by_the_signed_checkpoint(
    journal_db: Database, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cp = await _populate(journal_db, tmp_path, cases=3)
    async with journal_db.engine.connect() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        case, lane = (
            await conn.execute(
                text("SELECT case_id, lane FROM journal_entries WHERE lane = 'chat' LIMIT 1")
            )
        ).one()
        rows = [
            adapters.as_stored(r)
            for r in await conn.execute(
                text(f"{LANE_ROWS} ORDER BY sequence"),
                {"c": case, "l": lane},
            )
        ]
        # Change the first entry and recompute every hash after it: the chain is consistent again.
        drafts = [
            (
                dataclasses.replace(r.draft, content={**r.draft.content, "text": "rewritten"})
                if r.sequence == 1
                else r.draft,
                r.patient_pin,
            )
            for r in rows
        ]
        placed = [(r.id, r.recorded_at) for r in rows]
        for new in domain.chain(drafts, 0, domain.GENESIS, placed):  # type: ignore[arg-type]
            await conn.execute(
                text(
                    "UPDATE journal_entries SET content = CAST(:content AS jsonb), "
                    "prev_hash = :p, entry_hash = :h "
                    "WHERE case_id = :c AND lane = :l AND sequence = :s"
                ),
                {
                    "content": json.dumps(new.draft.content),
                    "p": new.prev_hash,
                    "h": new.entry_hash,
                    "c": case,
                    "l": lane,
                    "s": new.sequence,
                },
            )
        without_checkpoint = await audit.verify_database(conn, None, case_ids=[case])
        with_checkpoint = await audit.verify_database(
            conn, cp, domain.public_key_hex(KEY), case_ids=[case]
        )
        await conn.rollback()
    assert without_checkpoint.valid  # a self-consistent forgery: the chain alone cannot tell
    assert [p.kind for p in with_checkpoint.problems] == ["rewritten"]


async def test_a_forged_checkpoint_is_refused(journal_db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cp = await _populate(journal_db, tmp_path, cases=2)
    forged = dataclasses_replace(cp, entries=cp.entries + 1)
    async with journal_db.transaction() as conn:
        report = await audit.verify_database(conn, forged, domain.public_key_hex(KEY))
    assert [p.kind for p in report.problems] == ["signature"]
    other_key = domain.public_key_hex(signing_key("11" * 32))
    assert {p.kind for p in domain.verify_checkpoint(cp, other_key)} == {"signature"}


def dataclasses_replace(obj, **kw):  # type: ignore[no-untyped-def]
    return dataclasses.replace(obj, **kw)


async def test_the_runtime_role_cannot_change_or_remove_the_record(
    journal_db: Database, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    await _populate(journal_db, tmp_path, cases=1)
    outcomes = {}
    for verb, sql in {
        "select": "SELECT count(*) FROM journal_entries",
        "insert_access": (
            "INSERT INTO journal_access_log "
            "(reader_id, reader_role, case_id, patient_id, action, purpose) "
            "SELECT 'r', 'staff', case_id, 'p', 'read', 'care' FROM journal_entries LIMIT 1"
        ),
        "update": "UPDATE journal_entries SET content = '{}'",
        "delete": "DELETE FROM journal_entries",
        "truncate": "TRUNCATE journal_entries",
        "update_checkpoints": "UPDATE journal_checkpoints SET entries = 0",
        "delete_access": "DELETE FROM journal_access_log",
        "read_consents": "SELECT count(*) FROM journal_consents",
        "update_consents": "UPDATE journal_consents SET event_type = 'ConsentGiven'",
        "delete_consents": "DELETE FROM journal_consents",
    }.items():
        async with journal_db.engine.connect() as conn:
            # Switch the trigger off too: the role's missing rights alone must refuse.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(f"SET LOCAL ROLE {adapters.WRITER_ROLE}"))
            try:
                await conn.execute(text(sql))
                outcomes[verb] = "allowed"
            except DBAPIError as exc:
                outcomes[verb] = (
                    "permission denied" if "permission denied" in str(exc) else str(exc)
                )
            await conn.rollback()
    assert outcomes == {
        "select": "allowed",
        "insert_access": "allowed",
        "update": "permission denied",
        "delete": "permission denied",
        "truncate": "permission denied",
        "update_checkpoints": "permission denied",
        "delete_access": "permission denied",
        "read_consents": "allowed",
        "update_consents": "permission denied",
        "delete_consents": "permission denied",
    }
