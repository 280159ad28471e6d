"""Attacks on the journal (issue 13), each through its real interface on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from journal_testing import migrated
from sqlalchemy import text

from careflow.contracts import Actor, ActorRole, MessageSent, Professional, SenderRole
from careflow.journal import adapters, http, service
from careflow.journal.checkpoints import signing_key
from careflow.journal.domain import public_key_hex
from careflow.journal.samples import NURSE, case_events
from careflow.journal.settings import DEV_SIGNING_KEY
from careflow.kit import problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database

PUBLIC_KEY = public_key_hex(signing_key(DEV_SIGNING_KEY))

pytestmark = [pytest.mark.journal, pytest.mark.security, pytest.mark.integration]

SECRET = "journal-security-test-secret-of-at-least-32-bytes"
HOME = "Uppsala"  # the samples' cases are opened in Uppsala and handled by NURSE's unit
REASON = "unconscious patient at the emergency unit"
#: A second care unit of the same region that also wrote in the case (a consultant).
CONSULTANT = Professional(
    staff_id="SE2321000131-E0077", name="Karl Konsult", title="doctor", care_unit="VC Luthagen"
)


def token(
    who: str,
    *,
    role: str = "staff",
    region: str = HOME,
    title: str = "doctor",
    care_unit: str | None = "Akutmottagningen Uppsala",
) -> dict[str, str]:
    principal = Principal(
        subject_id=who, role=role, region=region, name="A Reader", title=title, care_unit=care_unit
    )  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issue_token(SECRET, principal)}"}


@dataclass
class Case:
    client: httpx.AsyncClient
    case_id: uuid.UUID
    patient_id: str
    entries: int

    async def read(self, headers: dict[str, str], **params: str) -> tuple[int, list[dict], int]:  # type: ignore[type-arg]
        r = await self.client.get(
            f"/journal/cases/{self.case_id}/entries", headers=headers, params=params
        )
        body = r.json() if r.status_code == 200 else []
        return r.status_code, body, int(r.headers.get(http.WITHHELD_HEADER, "-1"))

    async def get(self, tail: str, headers: dict[str, str], **params: str) -> httpx.Response:
        return await self.client.get(
            f"/journal/cases/{self.case_id}{tail}", headers=headers, params=params
        )


@pytest.fixture
async def case(journal_db: Database) -> AsyncIterator[Case]:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    app.include_router(http.router(journal_db, SystemClock(), PUBLIC_KEY), prefix="/journal")
    events = case_events(messages=3)
    consulted = MessageSent(
        case_id=events[0].case_id,
        occurred_at=events[-1].occurred_at + timedelta(seconds=1),
        producer="chat",
        correlation_id=events[0].case_id,
        actor=Actor(id=CONSULTANT.staff_id, role=ActorRole.STAFF),
        message_id=uuid.uuid4(),
        sequence=99,
        sender_role=SenderRole.STAFF,
        sender_id=CONSULTANT.staff_id,
        professional=CONSULTANT,
        text="konsultens bedömning",
    )
    async with journal_db.transaction() as conn:
        await service.record(conn, [*events, consulted])
        count = len(await adapters.entries(conn, events[0].case_id))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journal")
    try:
        yield Case(client, events[0].case_id, events[0].actor.id, count)
    finally:
        await client.aclose()


async def test_finding_4_journal_reads_need_a_care_relation_and_emergency_access_is_limited(
    case: Case,
) -> None:
    c = case
    n = c.entries

    # Staff of the case's region whose unit never handled the case read nothing ...
    stranger = token("SE-stranger", title="nurse")
    assert await c.read(stranger) == (200, [], n)
    for whole in ("/timeline", "/verify", "/fhir"):
        assert (await c.get(whole, stranger)).status_code == 404, whole
    # ... nor correct anything.
    first = (await c.read(token("SE-unit", care_unit=NURSE.care_unit)))[1][0]
    corrected = await c.client.post(
        f"/journal/cases/{c.case_id}/entries/{first['source_event_id']}/corrections",
        headers=stranger,
        json={"reason": "r", "correction": "c"},
    )
    assert corrected.status_code == 404

    # The case's care unit and the case's professional (by staff id) read it.
    assert len((await c.read(token("SE-unit", care_unit=NURSE.care_unit)))[1]) == n
    assert len((await c.read(token(NURSE.staff_id, care_unit="Elsewhere")))[1]) == n

    # Emergency access: licensed clinicians of the case's own region only, reason stated.
    status, shown, _ = await c.read(stranger, emergency="true", purpose=REASON)
    assert (status, len(shown)) == (200, n)
    for refused in (
        token("SE-admin", title="administrator"),
        token("SE-auditor", role="auditor", title="auditor", care_unit=None),
        token("SE-other-region", region="Gotland"),
    ):
        assert (await c.read(refused, emergency="true", purpose=REASON))[0] == 403
        timeline = await c.get("/timeline", refused, emergency="true", purpose=REASON)
        assert timeline.status_code == 403

    # Auditors read their own region's record, every read logged; not another region's.
    auditor = token("SE-auditor", role="auditor", title="auditor", care_unit=None)
    assert len((await c.read(auditor))[1]) == n
    assert await c.read(token("SE-aud-gotland", role="auditor", region="Gotland")) == (200, [], n)

    # A block holds between care units inside the region, in an emergency too.
    patient = {
        "Authorization": "Bearer "
        + issue_token(SECRET, Principal(subject_id=c.patient_id, role="patient", region=HOME))
    }
    assert (await c.client.put(f"/journal/cases/{c.case_id}/block", headers=patient)).json()[
        "blocked"
    ]
    unit = await c.read(token("SE-unit", care_unit=NURSE.care_unit))
    assert (len(unit[1]), unit[2]) == (n - 1, 1)
    assert all(e["care_unit"] != CONSULTANT.care_unit for e in unit[1])
    consultant = await c.read(token(CONSULTANT.staff_id, care_unit=CONSULTANT.care_unit))
    # (entries no unit wrote, such as the patient's own, stay with every unit of the case)
    assert {e["care_unit"] for e in consultant[1]} == {CONSULTANT.care_unit, None}
    assert (await c.read(stranger, emergency="true", purpose=REASON))[1:] == ([], n)
    whole = await c.get("/timeline", token("SE-unit", care_unit=NURSE.care_unit))
    assert whole.status_code == 404
    assert len((await c.read(auditor))[1]) == n

    # Every read, on its ground, is in the patient's extract; refused ones read nothing.
    extract = (await c.client.get("/journal/me/access-log", headers=patient)).json()
    grounds = {(a["reader_id"], a["basis"], a["emergency"]) for a in extract}
    assert ("SE-stranger", "withheld", False) in grounds
    assert ("SE-stranger", "emergency", True) in grounds
    assert ("SE-auditor", "audit", False) in grounds
    assert not any(a["reader_id"] in ("SE-admin", "SE-other-region") for a in extract)


# --- finding 15: a pinned signer, and every column covered -----------------------------------

#: How to change one value of each type (the sweep fails for a column it has no rule for).
EDITS = {
    "uuid": "{c} = gen_random_uuid()",
    "character varying": "{c} = CASE WHEN {c} = 'x' THEN 'y' ELSE 'x' END",
    "integer": "{c} = {c} + 1000",
    "smallint": "{c} = {c} + 1000",
    "bigint": "{c} = {c} + 1000000",
    "timestamp with time zone": "{c} = {c} + interval '1 second'",
    "jsonb": "{c} = CASE jsonb_typeof({c}) WHEN 'array' THEN {c} - 0 "
    "ELSE jsonb_set({c}, '{{tampered}}', 'true') END",
}


CHAT_LANE = "SELECT case_id, lane FROM journal_entries WHERE lane = 'chat' LIMIT 1"


async def _columns(conn, table: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rows = await conn.execute(
        text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t"
        ),
        {"t": table},
    )
    return {r.column_name: r.data_type for r in rows}


def test_finding_15_verify_pins_the_signer_and_every_column_of_the_record_is_covered(
    infra,  # type: ignore[no-untyped-def]
    unique,
    tmp_path,
) -> None:
    from typer.testing import CliRunner

    from careflow.cli.main import app as cli
    from careflow.journal import audit, domain
    from careflow.journal.checkpoints import Checkpointer, export

    schema = f"journal_f15_{unique}"
    folder = tmp_path / "checkpoints"
    key = signing_key(DEV_SIGNING_KEY)

    async def populate() -> domain.Checkpoint:
        db = await migrated(infra.database_url, schema)
        try:
            async with db.transaction() as conn:
                await service.record(conn, [*case_events(messages=3), *case_events(messages=2)])
            cp = await Checkpointer(db, key, folder, 0, SystemClock()).checkpoint()
            assert cp is not None
            return cp
        finally:
            await db.dispose()

    cp = asyncio.run(populate())

    async def sweep() -> dict[str, list[str]]:
        """Edit every column of the record, one at a time, each rolled back: what verify says."""
        db = Database(infra.database_url, schema, pool_size=1)
        found: dict[str, list[str]] = {}
        try:
            async with db.transaction() as conn:
                case, lane = (
                    await conn.execute(
                        text(
                            "SELECT case_id, lane FROM journal_entries WHERE lane = 'chat' LIMIT 1"
                        )
                    )
                ).one()
                tables = {
                    "journal_entries": await _columns(conn, "journal_entries"),
                    "journal_checkpoints": await _columns(conn, "journal_checkpoints"),
                }
            where = {
                "journal_entries": "case_id = :c AND lane = :l AND sequence = 2",
                "journal_checkpoints": "number = (SELECT max(number) FROM journal_checkpoints)",
            }
            for table, columns in tables.items():
                for column, kind in sorted(columns.items()):
                    async with db.engine.connect() as conn:
                        await conn.execute(text("SET LOCAL session_replication_role = replica"))
                        changed = await conn.execute(
                            text(
                                f"UPDATE {table} SET {EDITS[kind].format(c=column)} "
                                f"WHERE {where[table]}"
                            ),
                            {"c": case, "l": lane},
                        )
                        assert changed.rowcount == 1, (table, column)
                        report = await audit.verify_database(
                            conn, cp, PUBLIC_KEY, stored=await adapters.latest_checkpoint(conn)
                        )
                        await conn.rollback()
                    found[f"{table}.{column}"] = [p.kind for p in report.problems]
        finally:
            await db.dispose()
        return found

    found = asyncio.run(sweep())
    assert len(found) >= 19 + 11
    assert [column for column, problems in found.items() if not problems] == []

    # A forger with the database: rewrite a chain consistently, then sign a checkpoint of
    # their own over it and export it where the auditor looks.
    forger = signing_key("22" * 32)

    async def forge() -> tuple[uuid.UUID, domain.Checkpoint]:
        db = Database(infra.database_url, schema, pool_size=1)
        try:
            async with db.transaction() as conn:
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
                case, lane = (
                    await conn.execute(
                        text(
                            "SELECT case_id, lane FROM journal_entries WHERE lane = 'chat' LIMIT 1"
                        )
                    )
                ).one()
                rows = [
                    adapters.as_stored(r)
                    for r in await conn.execute(
                        text(
                            "SELECT * FROM journal_entries WHERE case_id = :c AND lane = :l "
                            "ORDER BY sequence"
                        ),
                        {"c": case, "l": lane},
                    )
                ]
                drafts = [
                    (replace(r.draft, content={**r.draft.content, "text": "forged"}), r.patient_pin)
                    for r in rows
                ]
                placed = [(r.id, r.recorded_at) for r in rows]
                for new in domain.chain(drafts, 0, domain.GENESIS, placed):  # type: ignore[arg-type]
                    await conn.execute(
                        text(
                            "UPDATE journal_entries SET content = CAST(:content AS jsonb), "
                            "prev_hash = :p, entry_hash = :h WHERE id = :id"
                        ),
                        {
                            "content": json.dumps(new.draft.content),
                            "p": new.prev_hash,
                            "h": new.entry_hash,
                            "id": new.id,
                        },
                    )
                leaves, max_id = await adapters.all_leaves(conn)
                fake = domain.make_checkpoint(leaves, cp, forger, datetime.now(UTC))
                await adapters.store_checkpoint(conn, fake, max_id)
            export(folder, fake)
            return case, fake
        finally:
            await db.dispose()

    case, _ = asyncio.run(forge())
    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers, "DATABASE_URL": infra.database_url}
    args = ["journal", "verify", "--schema", schema, "--checkpoints", str(folder)]
    runner = CliRunner()
    unpinned = runner.invoke(cli, args, env={**env, "CAREFLOW_JOURNAL_PUBLIC_KEY": ""})
    assert unpinned.exit_code == 2, unpinned.output
    assert "pinned" in unpinned.output
    pinned = runner.invoke(cli, [*args, "--public-key", PUBLIC_KEY], env=env)
    assert pinned.exit_code == 1, pinned.output
    assert "signature" in pinned.output
    # The setting pins it as well as the option does.
    by_setting = runner.invoke(cli, args, env={**env, "CAREFLOW_JOURNAL_PUBLIC_KEY": PUBLIC_KEY})
    assert by_setting.exit_code == 1 and "signature" in by_setting.output

    # The HTTP verify holds the case against the newest checkpoint with the journal's own key.
    async def http_verify() -> dict:  # type: ignore[type-arg]
        db = Database(infra.database_url, schema, pool_size=1)
        app = FastAPI()
        app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
        problems.install_handlers(app)
        app.include_router(http.router(db, SystemClock(), PUBLIC_KEY), prefix="/journal")
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://journal"
            ) as client:
                r = await client.get(
                    f"/journal/cases/{case}/verify",
                    headers=token("SE-u", care_unit=NURSE.care_unit),
                )
                assert r.status_code == 200, r.text
                return r.json()  # type: ignore[no-any-return]
        finally:
            await db.dispose()

    verdict = asyncio.run(http_verify())
    assert verdict["valid"] is False and "signature" in verdict["reason"]


# --- finding 14: command-line reads of health data are named, purposed and logged -----------


def test_finding_14_cli_reads_of_a_case_need_an_operator_and_a_purpose_and_are_logged(
    infra,  # type: ignore[no-untyped-def]
    unique,
    tmp_path,
) -> None:
    from aiokafka import AIOKafkaProducer
    from typer.testing import CliRunner

    from careflow.cli.main import app as cli
    from careflow.contracts import topic_for_service
    from careflow.kit.kafka import ensure_topics

    schema = f"journal_f14_{unique}"
    events = case_events(messages=2)
    case, patient_id = events[0].case_id, events[0].actor.id
    secret = "meddelande 1 i ärendet"  # a message's text (health data)

    async def setup() -> None:
        db = await migrated(infra.database_url, schema)
        await db.dispose()
        topics = {type(e).OWNER for e in events}
        await ensure_topics(infra.bootstrap_servers, [topic_for_service(t) for t in topics])
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for e in events:
                await producer.send(topic_for_service(type(e).OWNER), e.to_json(), key=e.key())
            await producer.flush()
        finally:
            await producer.stop()

    async def logged() -> list[tuple[str, str, str, str, str]]:
        db = Database(infra.database_url, schema, pool_size=1)
        try:
            async with db.transaction() as conn:
                rows = await adapters.access_extract(conn, patient_id)
        finally:
            await db.dispose()
        return [
            (r["reader_id"], r["reader_role"], r["action"], r["purpose"], r["basis"]) for r in rows
        ]

    asyncio.run(setup())
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CAREFLOW_OPERATOR": "",
    }
    runner = CliRunner()
    out_json, out_fhir = tmp_path / "t.json", tmp_path / "b.json"
    journal_replay = [
        "journal", "replay", "--case", str(case), "--schema", schema, "--content",
        "--json", str(out_json), "--fhir", str(out_fhir),
    ]  # fmt: skip
    purpose = "incident INC-4711: complaint review"

    # Unnamed, or without a purpose: refused before anything is read or written.
    for args in (
        journal_replay,
        [*journal_replay, "--operator", "ops-anna"],
        [*journal_replay, "--operator", "ops-anna", "--purpose", "look"],
        ["replay", "--case", str(case), "--content", "--schema", schema],
    ):
        refused = runner.invoke(cli, args, env=env)
        assert refused.exit_code == 2, (args, refused.output)
        assert secret not in refused.output
    assert not out_json.exists() and not out_fhir.exists()
    assert asyncio.run(logged()) == []

    # Named and purposed: read, and logged first, one row per read (the exports included).
    read = runner.invoke(
        cli, [*journal_replay, "--operator", "ops-anna", "--purpose", purpose], env=env
    )
    assert read.exit_code == 0, read.output
    assert secret in read.output and out_json.exists() and out_fhir.exists()
    by_env = runner.invoke(
        cli,
        ["replay", "--case", str(case), "--content", "--schema", schema, "--purpose", purpose],
        env={**env, "CAREFLOW_OPERATOR": "ops-bertil"},
    )
    assert by_env.exit_code == 0, by_env.output
    assert asyncio.run(logged()) == [
        ("ops-anna", "operator", "cli_replay_content", purpose, "operator"),
        ("ops-anna", "operator", "cli_export_json", purpose, "operator"),
        ("ops-anna", "operator", "cli_export_fhir", purpose, "operator"),
        ("ops-bertil", "operator", "cli_replay_content", purpose, "operator"),
    ]
