"""The record itself: appending chained entries and reading them back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import and_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.journal import domain
from careflow.journal.adapters.tables import journal_entries


async def append_entries(
    conn: AsyncConnection, drafts: Sequence[domain.EntryDraft], pins: Mapping[UUID, str]
) -> None:
    """Chain drafts at the end of their lanes (order kept per lane) with one insert."""
    lanes = domain.by_lane(drafts)
    heads = await lane_heads(conn, list(lanes), lock=True)
    count = sum(len(d) for d in lanes.values())
    if not count:
        return
    # The row ids and the recording time are drawn first: the entry hash covers them.
    now, ids = (
        await conn.execute(
            text(
                "SELECT now(), ARRAY(SELECT nextval(pg_get_serial_sequence('journal_entries', "
                "'id')) FROM generate_series(1, :n))"
            ),
            {"n": count},
        )
    ).one()
    placed = domain.extend_lanes(lanes, heads, pins, list(ids), now)
    if placed:
        await conn.execute(insert(journal_entries), [_row(stored) for stored in placed])


def _row(stored: domain.StoredEntry) -> dict[str, Any]:
    d = stored.draft
    return {
        "id": stored.id,
        "recorded_at": stored.recorded_at,
        "case_id": d.case_id,
        "lane": d.lane,
        "sequence": stored.sequence,
        "source_event_id": d.source_event_id,
        "kind": d.kind,
        "occurred_at": d.occurred_at,
        "patient_pin": stored.patient_pin,
        "author_id": d.author_id,
        "author_role": d.author_role,
        "professional_name": d.professional_name,
        "professional_title": d.professional_title,
        "care_unit": d.care_unit,
        "content": d.content,
        "corrects_event_id": d.corrects_event_id,
        "hash_version": stored.hash_version,
        "prev_hash": stored.prev_hash,
        "entry_hash": stored.entry_hash,
    }


async def lane_heads(
    conn: AsyncConnection, keys: Sequence[domain.LaneKey], lock: bool = False
) -> dict[domain.LaneKey, tuple[int, str]]:
    """The last (sequence, hash) of each named chain.

    With ``lock``, first take each chain's transaction lock (in the order given: pass
    them sorted, so no deadlock), so one writer at a time extends a chain even with
    several journal replicas. The lock is its own statement: the heads must be read by
    a later statement, with a later snapshot.
    """
    if not keys:
        return {}
    if lock:
        await conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS k"
            ),
            {"keys": [f"{c}/{lane}" for c, lane in keys]},
        )
    rows = await conn.execute(
        text(
            """
            SELECT DISTINCT ON (e.case_id, e.lane) e.case_id, e.lane, e.sequence, e.entry_hash
            FROM journal_entries e
            JOIN unnest(CAST(:cases AS uuid[]), CAST(:lanes AS text[])) AS u(c, l)
              ON e.case_id = u.c AND e.lane = u.l
            ORDER BY e.case_id, e.lane, e.sequence DESC
            """
        ),
        {"cases": [c for c, _ in keys], "lanes": [lane for _, lane in keys]},
    )
    return {(r.case_id, r.lane): (r.sequence, r.entry_hash) for r in rows}


async def entries(conn: AsyncConnection, case_id: UUID) -> list[dict[str, Any]]:
    """A case's entries in the canonical reading order."""
    rows = [
        dict(r._mapping)
        for r in await conn.execute(
            select(journal_entries).where(journal_entries.c.case_id == case_id)
        )
    ]
    rows.sort(key=lambda r: domain.display_key(r["occurred_at"], r["kind"], r["source_event_id"]))
    return rows


def as_stored(row: Any) -> domain.StoredEntry:
    """A database row as the domain verifies it."""
    m = row if isinstance(row, dict) else row._mapping
    draft = domain.EntryDraft(
        case_id=m["case_id"],
        source_event_id=m["source_event_id"],
        kind=m["kind"],
        occurred_at=m["occurred_at"],
        author_id=m["author_id"],
        author_role=m["author_role"],
        professional_name=m["professional_name"],
        professional_title=m["professional_title"],
        care_unit=m["care_unit"],
        content=m["content"],
        lane=m["lane"],
        corrects_event_id=m["corrects_event_id"],
    )
    return domain.StoredEntry(
        m["sequence"],
        draft,
        m["patient_pin"],
        m["prev_hash"],
        m["entry_hash"],
        m["hash_version"],
        m["id"],
        m["recorded_at"],
    )


async def entry_by_event(
    conn: AsyncConnection, case_id: UUID, source_event_id: UUID
) -> domain.StoredEntry | None:
    """The case's entry documenting one event, if there is one."""
    row = (
        await conn.execute(
            select(journal_entries).where(
                and_(
                    journal_entries.c.case_id == case_id,
                    journal_entries.c.source_event_id == source_event_id,
                )
            )
        )
    ).first()
    return as_stored(row) if row else None


async def sources(conn: AsyncConnection) -> dict[UUID, UUID]:
    """Every entry's source event id, with its case id."""
    rows = await conn.execute(select(journal_entries.c.source_event_id, journal_entries.c.case_id))
    return {r.source_event_id: r.case_id for r in rows}


_LANE_COLUMNS = (
    "case_id, lane, sequence, source_event_id, kind, occurred_at, author_id, author_role, "
    # content as text, parsed by orjson below: the driver's JSON decoding is the standard
    # library's, several times slower, and a million entries pay it a million times.
    "professional_name, professional_title, care_unit, content::text, corrects_event_id, "
    "patient_pin, prev_hash, entry_hash, hash_version, id, recorded_at"
)


async def stream_lanes(
    conn: AsyncConnection, case_ids: Sequence[UUID] | None = None, chunk: int = 20000
) -> AsyncIterator[tuple[UUID, str, list[domain.StoredEntry]]]:
    """Every chain (or those of some cases), rows in stored sequence order, streamed.

    Straight from the asyncpg cursor: for a million entries the ORM layer's row
    processing would cost more than the hashing itself.
    """
    await conn.execute(text("SELECT 1"))  # the transaction a server-side cursor needs
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    sql = f"SELECT {_LANE_COLUMNS} FROM journal_entries"
    args: list[Any] = []
    if case_ids is not None:
        sql += " WHERE case_id = ANY($1::uuid[])"
        args.append(list(case_ids))
    sql += " ORDER BY case_id, lane, sequence"
    key: tuple[UUID, str] | None = None
    rows: list[domain.StoredEntry] = []
    Draft, Stored = domain.EntryDraft, domain.StoredEntry
    async for r in raw.cursor(sql, *args, prefetch=chunk):
        k = (r[0], r[1])
        if k != key:
            if key is not None:
                yield key[0], key[1], rows
            key, rows = k, []
        content = r[11]
        draft = Draft(
            r[0], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
            orjson.loads(content),
            r[1], r[12],
        )  # fmt: skip
        rows.append(Stored(r[2], draft, r[13], r[14], r[15], r[16], r[17], r[18]))
    if key is not None:
        yield key[0], key[1], rows
