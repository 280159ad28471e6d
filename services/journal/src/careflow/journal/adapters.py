"""Journal's database: the append-only record, its case event log, checkpoints and access log.

``journal_entries``, ``journal_checkpoints`` and ``journal_access_log`` refuse
UPDATE, DELETE and TRUNCATE with a trigger, and the service's runtime role
(``careflow_journal_writer``, migration 0002) holds no such rights on them: the
database itself keeps the record append-only (Patientdatalagen 2008:355).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseOpened, Event, parse_event
from careflow.contracts.journal_events import (
    ConsentGiven,
    ConsentWithdrawn,
    JournalBlockLifted,
    JournalBlockPlaced,
)
from careflow.journal import domain
from careflow.kit.eventstore import Aggregate

# --- the schema as migration 0001 created it (0001 imports these two names: keep them) -------

metadata = MetaData()

Table(
    "journal_patients",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("patient_id", String(128), nullable=False),
    Column("personal_identity_number", String(12), nullable=False),
    Column("region", String(64), nullable=False),
)

Table(
    "journal_entries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("source_event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("patient_pin", String(12), nullable=True),
    Column("author_id", String(128), nullable=False),
    Column("author_role", String(16), nullable=False),
    Column("professional_name", String(200), nullable=True),
    Column("professional_title", String(100), nullable=True),
    Column("care_unit", String(200), nullable=True),
    Column("content", JSONB, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    UniqueConstraint("case_id", "sequence", name="journal_entries_case_sequence_key"),
)

APPEND_ONLY_DDL = [
    """
    CREATE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the journal is append-only: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER journal_entries_no_update_delete BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
    """,
]

# --- the schema as it is now (migrations 0001 + 0002) ----------------------------------------

schema = MetaData()

journal_patients = Table(
    "journal_patients",
    schema,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("patient_id", String(128), nullable=False),
    Column("personal_identity_number", String(12), nullable=False),
    Column("region", String(64), nullable=False),
)

journal_entries = Table(
    "journal_entries",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("source_event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("patient_pin", String(12), nullable=True),
    Column("author_id", String(128), nullable=False),
    Column("author_role", String(16), nullable=False),
    Column("professional_name", String(200), nullable=True),
    Column("professional_title", String(100), nullable=True),
    Column("care_unit", String(200), nullable=True),
    Column("content", JSONB, nullable=False),
    Column("corrects_event_id", PgUUID(as_uuid=True), nullable=True),
    Column("hash_version", SmallInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

#: Events waiting for their case's CaseOpened (the patient's identity) before they are chained.
journal_parked = Table(
    "journal_parked",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("payload", JSONB, nullable=False),
)

#: Every event the journal consumed, per case: the timeline and the state at a moment.
journal_case_events = Table(
    "journal_case_events",
    schema,
    Column("event_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Index("journal_case_events_case_idx", "case_id", "occurred_at"),
)

journal_checkpoints = Table(
    "journal_checkpoints",
    schema,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("max_entry_id", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("chains", Integer, nullable=False),
    Column("merkle_root", String(64), nullable=False),
    Column("previous_checkpoint_hash", String(64), nullable=False),
    Column("checkpoint_hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("leaves", JSONB, nullable=False),
)

journal_access_log = Table(
    "journal_access_log",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reader_id", String(128), nullable=False),
    Column("reader_role", String(16), nullable=False),
    Column("reader_name", String(200), nullable=True),
    Column("reader_title", String(100), nullable=True),
    Column("care_unit", String(200), nullable=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("patient_id", String(128), nullable=False),
    Column("action", String(40), nullable=False),
    Column("purpose", String(500), nullable=False),
    Column("emergency", Boolean, nullable=False, server_default="false"),
    # 0003: own_provider | consent | emergency | withheld (domain.access_basis); null before.
    Column("basis", String(16), nullable=True),
    Index("journal_access_log_patient_idx", "patient_id", "at"),
)

#: 0003: every consent and block event, projected in the transaction that records it in the
#: event store (the stream ``journal-consent-<case>`` is the source of truth) and again,
#: idempotently, when the projector meets it on the topic. Append-only; a case's current
#: consents are its rows folded in order.
journal_consents = Table(
    "journal_consents",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Index("journal_consents_case_idx", "case_id", "id"),
)

#: The tables migration 0002 adds.
NEW_IN_0002 = [journal_parked, journal_case_events, journal_checkpoints, journal_access_log]
#: Append-only tables besides journal_entries (0001 guards that one).
APPEND_ONLY_TABLES_0002 = ["journal_checkpoints", "journal_access_log"]
#: The runtime role: reads and appends the record, never changes or removes it.
WRITER_ROLE = "careflow_journal_writer"

# --- projection -----------------------------------------------------------------------------


def _payload(event: Event) -> Any:
    return event.model_dump(mode="json")


async def project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Project a run of events (any types, in arrival order) with a few bulk statements."""
    if not events:
        return
    await conn.execute(
        insert(journal_case_events).on_conflict_do_nothing(),
        [
            {
                "event_id": e.event_id,
                "case_id": e.case_id,
                "event_type": e.event_type,
                "occurred_at": e.occurred_at,
                "payload": _payload(e),
            }
            for e in events
        ],
    )
    # Consent events are projected when the patient decides (same transaction); here again,
    # idempotently, so that a journal rebuilt from the topics has them too.
    await project_consents(conn, events)
    opened = [e for e in events if isinstance(e, CaseOpened)]
    if opened:
        await conn.execute(
            insert(journal_patients).on_conflict_do_nothing(),
            [
                {
                    "case_id": e.case_id,
                    "patient_id": e.patient_id,
                    "personal_identity_number": e.personal_identity_number,
                    "region": e.region,
                }
                for e in opened
            ],
        )
    drafts = [(e, d) for e in events if (d := domain.draft_for(e)) is not None]
    pins = await _pins(conn, {d.case_id for _, d in drafts} | {e.case_id for e in opened})
    ready: list[domain.EntryDraft] = []
    parked: list[Event] = []
    if opened:
        ready.extend(await _unpark(conn, [e.case_id for e in opened]))
    for event, draft in drafts:
        (ready.append(draft) if draft.case_id in pins else parked.append(event))
    if parked:
        await conn.execute(
            insert(journal_parked).on_conflict_do_nothing(),
            [
                {"case_id": e.case_id, "event_id": e.event_id, "payload": _payload(e)}
                for e in parked
            ],
        )
    if ready:
        await append_entries(conn, ready, pins)


async def _pins(conn: AsyncConnection, case_ids: set[UUID]) -> dict[UUID, str]:
    if not case_ids:
        return {}
    rows = await conn.execute(
        select(journal_patients.c.case_id, journal_patients.c.personal_identity_number).where(
            journal_patients.c.case_id.in_(case_ids)
        )
    )
    return {r.case_id: r.personal_identity_number for r in rows}


async def _unpark(conn: AsyncConnection, case_ids: list[UUID]) -> list[domain.EntryDraft]:
    """The parked events of cases whose patient is now known, in arrival order; unparked."""
    rows = (
        await conn.execute(
            select(journal_parked.c.id, journal_parked.c.payload)
            .where(journal_parked.c.case_id.in_(case_ids))
            .order_by(journal_parked.c.id)
        )
    ).all()
    if not rows:
        return []
    await conn.execute(journal_parked.delete().where(journal_parked.c.id.in_([r.id for r in rows])))
    drafts = [domain.draft_for(parse_event(r.payload)) for r in rows]
    return [d for d in drafts if d is not None]


async def append_entries(
    conn: AsyncConnection, drafts: Sequence[domain.EntryDraft], pins: dict[UUID, str]
) -> None:
    """Chain drafts at the end of their lanes (order kept per lane) with one insert."""
    seen: set[UUID] = set()
    lanes: dict[tuple[UUID, str], list[domain.EntryDraft]] = {}
    for d in drafts:
        if d.source_event_id in seen:
            continue
        seen.add(d.source_event_id)
        lanes.setdefault((d.case_id, d.lane), []).append(d)
    keys = sorted(lanes, key=lambda k: (str(k[0]), k[1]))
    heads = await lane_heads(conn, keys, lock=True)
    rows: list[dict[str, Any]] = []
    for key in keys:
        todo = [(d, pins.get(d.case_id)) for d in lanes[key]]
        last_seq, last_hash = heads.get(key, (0, domain.GENESIS))
        for stored in domain.chain(todo, last_seq, last_hash):
            d = stored.draft
            rows.append(
                {
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
            )
    if rows:
        await conn.execute(insert(journal_entries), rows)


async def lane_heads(
    conn: AsyncConnection, keys: Sequence[tuple[UUID, str]], lock: bool = False
) -> dict[tuple[UUID, str], tuple[int, str]]:
    """The last (sequence, hash) of each named chain.

    With ``lock``, first take each chain's transaction lock (sorted: no deadlock), so one
    writer at a time extends a chain even with several journal replicas. The lock is its
    own statement: the heads must be read by a later statement, with a later snapshot.
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


# --- reading --------------------------------------------------------------------------------


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
        m["sequence"], draft, m["patient_pin"], m["prev_hash"], m["entry_hash"], m["hash_version"]
    )


_LANE_COLUMNS = (
    "case_id, lane, sequence, source_event_id, kind, occurred_at, author_id, author_role, "
    "professional_name, professional_title, care_unit, content, corrects_event_id, "
    "patient_pin, prev_hash, entry_hash, hash_version"
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
            json.loads(content) if isinstance(content, str) else content,
            r[1], r[12],
        )  # fmt: skip
        rows.append(Stored(r[2], draft, r[13], r[14], r[15], r[16]))
    if key is not None:
        yield key[0], key[1], rows


async def patient_of(conn: AsyncConnection, case_id: UUID) -> Any:
    """The case's patient row (patient_id, region, pin), or None."""
    return (
        await conn.execute(select(journal_patients).where(journal_patients.c.case_id == case_id))
    ).first()


async def region_of(conn: AsyncConnection, case_id: UUID) -> str | None:
    row = await patient_of(conn, case_id)
    return row.region if row else None


async def entry_by_event(
    conn: AsyncConnection, case_id: UUID, source_event_id: UUID
) -> domain.StoredEntry | None:
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


async def case_events(conn: AsyncConnection, case_id: UUID) -> list[Event]:
    """Every event of a case the journal consumed (the event log, as received)."""
    rows = await conn.execute(
        select(journal_case_events.c.payload).where(journal_case_events.c.case_id == case_id)
    )
    return [parse_event(r.payload) for r in rows]


# --- checkpoints ----------------------------------------------------------------------------


async def all_leaves(conn: AsyncConnection) -> tuple[list[domain.Leaf], int]:
    """Every chain's (length, head) now, and the highest entry id they cover."""
    rows = await conn.execute(
        select(
            journal_entries.c.case_id,
            journal_entries.c.lane,
            journal_entries.c.sequence,
            journal_entries.c.entry_hash,
            journal_entries.c.id,
        )
        .distinct(journal_entries.c.case_id, journal_entries.c.lane)
        .order_by(
            journal_entries.c.case_id, journal_entries.c.lane, journal_entries.c.sequence.desc()
        )
    )
    leaves, max_id = [], 0
    for r in rows:
        leaves.append(domain.Leaf(r.case_id, r.lane, r.sequence, r.entry_hash))
        max_id = max(max_id, r.id)
    return leaves, max_id


async def max_entry_id(conn: AsyncConnection) -> int:
    return int(
        (await conn.execute(select(func.coalesce(func.max(journal_entries.c.id), 0)))).scalar_one()
    )


def checkpoint_to_json(cp: domain.Checkpoint) -> dict[str, Any]:
    """A checkpoint as exported to files (and stored): everything a verifier needs."""
    return {
        "number": cp.number,
        "created_at": cp.created_at.isoformat(),
        "entries": cp.entries,
        "chains": cp.chains,
        "merkle_root": cp.merkle_root,
        "previous_checkpoint_hash": cp.previous_checkpoint_hash,
        "checkpoint_hash": cp.checkpoint_hash,
        "signature": cp.signature,
        "public_key": cp.public_key,
        "leaves": [[str(x.case_id), x.lane, x.length, x.head] for x in cp.leaves],
    }


def checkpoint_from_json(data: dict[str, Any]) -> domain.Checkpoint:
    return domain.Checkpoint(
        number=data["number"],
        entries=data["entries"],
        chains=data["chains"],
        merkle_root=data["merkle_root"],
        previous_checkpoint_hash=data["previous_checkpoint_hash"],
        created_at=datetime.fromisoformat(data["created_at"]),
        signature=data["signature"],
        public_key=data["public_key"],
        leaves=tuple(domain.Leaf(UUID(c), lane, n, h) for c, lane, n, h in data["leaves"]),
    )


async def latest_checkpoint(conn: AsyncConnection) -> tuple[domain.Checkpoint, int] | None:
    row = (
        await conn.execute(
            select(journal_checkpoints).order_by(journal_checkpoints.c.number.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    m = dict(row._mapping)
    m["created_at"] = m["created_at"].isoformat()
    return checkpoint_from_json(m), row.max_entry_id


async def store_checkpoint(conn: AsyncConnection, cp: domain.Checkpoint, max_id: int) -> None:
    data = checkpoint_to_json(cp)
    data["created_at"] = cp.created_at
    data.pop("checkpoint_hash")
    await conn.execute(
        insert(journal_checkpoints).values(
            **data, checkpoint_hash=cp.checkpoint_hash, max_entry_id=max_id
        )
    )


# --- access log -----------------------------------------------------------------------------


async def log_access(conn: AsyncConnection, **row: Any) -> None:
    """Record one read of a patient's record (same transaction as the read itself)."""
    await conn.execute(insert(journal_access_log).values(**row))


async def access_extract(conn: AsyncConnection, patient_id: str) -> list[dict[str, Any]]:
    """Who read this patient's record, when, and why."""
    rows = await conn.execute(
        select(journal_access_log)
        .where(journal_access_log.c.patient_id == patient_id)
        .order_by(journal_access_log.c.id)
    )
    return [dict(r._mapping) for r in rows]


# --- consent --------------------------------------------------------------------------------

CONSENTS = Aggregate(domain.CaseConsents, domain.evolve_consents)


def consent_stream(case_id: UUID) -> str:
    """The event-store stream of one case's consents."""
    return f"journal-consent-{case_id}"


_CONSENT_EVENTS = (ConsentGiven, ConsentWithdrawn, JournalBlockPlaced, JournalBlockLifted)


async def project_consents(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Add consent and block events to the read model (idempotent by event id)."""
    rows = [
        {
            "event_id": e.event_id,
            "case_id": e.case_id,
            "event_type": e.event_type,
            "occurred_at": e.occurred_at,
            "payload": _payload(e),
        }
        for e in events
        if isinstance(e, _CONSENT_EVENTS)
    ]
    if rows:
        await conn.execute(insert(journal_consents).on_conflict_do_nothing(), rows)


async def consents_of(conn: AsyncConnection, case_id: UUID) -> domain.CaseConsents:
    """Which other providers the case's patient lets read its entries, and whether blocked.

    Rows are folded in the order they were projected: the HTTP path's is the event
    store's; a rebuild's is the topic partition's, the same order.
    """
    state = domain.CaseConsents()
    rows = await conn.execute(
        select(journal_consents.c.payload)
        .where(journal_consents.c.case_id == case_id)
        .order_by(journal_consents.c.id)
    )
    for r in rows:
        state = domain.evolve_consents(state, parse_event(r.payload))
    return state
