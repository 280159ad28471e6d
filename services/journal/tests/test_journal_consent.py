"""Consent to another care provider's reading (Lag 2022:913), on real PostgreSQL through the
journal's HTTP API: withheld without consent, visible with it, withheld again once withdrawn,
emergency access with a stated reason inside the region, and no consent on someone else's
record."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from journal_testing import migrated
from sqlalchemy import select

from careflow.contracts import Actor, ActorRole
from careflow.contracts.journal_events import ConsentGiven, ConsentWithdrawn
from careflow.journal import adapters, domain, http, service
from careflow.journal.checkpoints import signing_key
from careflow.journal.domain import public_key_hex
from careflow.journal.samples import case_events
from careflow.journal.settings import DEV_SIGNING_KEY
from careflow.kit import eventstore, problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database

PUBLIC_KEY = public_key_hex(signing_key(DEV_SIGNING_KEY))

pytestmark = [pytest.mark.journal, pytest.mark.integration]

SECRET = "journal-consent-test-secret-of-at-least-32-bytes"
HOME = "Uppsala"  # the samples' cases are opened, and written, in Uppsala
OTHER = "Västmanland"
EMERGENCY_REASON = "unconscious patient at the emergency unit"


def _headers(principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, principal)}"}


#: The care unit that handled the samples' cases: its staff have a care relation with them.
CASE_UNIT = "1177 direkt"


def staff(region: str, who: str, care_unit: str | None = None) -> dict[str, str]:
    """A doctor; in the case's region, of the case's care unit unless told otherwise."""
    return _headers(
        Principal(
            subject_id=who,
            role="staff",
            region=region,
            name="Stina Staff",
            title="doctor",
            care_unit=care_unit or (CASE_UNIT if region == HOME else f"Akutmottagningen {region}"),
        )
    )


def patient(patient_id: str, acting_for: str | None = None) -> dict[str, str]:
    return _headers(
        Principal(subject_id=patient_id, role="patient", region=HOME, acting_for=acting_for)
    )


@dataclass
class Journal:
    client: httpx.AsyncClient
    db: Database
    case_id: uuid.UUID
    patient_id: str
    entries: int

    def url(self, tail: str = "") -> str:
        return f"/journal/cases/{self.case_id}{tail}"


@pytest.fixture
async def journal(journal_db: Database) -> AsyncIterator[Journal]:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    app.include_router(http.router(journal_db, SystemClock(), PUBLIC_KEY), prefix="/journal")
    events = case_events(messages=3)
    async with journal_db.transaction() as conn:
        await service.record(conn, events)
        count = len(await adapters.entries(conn, events[0].case_id))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journal")
    try:
        yield Journal(client, journal_db, events[0].case_id, events[0].actor.id, count)
    finally:
        await client.aclose()


async def _read(j: Journal, headers: dict[str, str], **params: str) -> tuple[int, list[dict], int]:  # type: ignore[type-arg]
    response = await j.client.get(j.url("/entries"), headers=headers, params=params)
    withheld = int(response.headers.get(http.WITHHELD_HEADER, "-1"))
    body = response.json() if response.status_code == 200 else []
    return response.status_code, body, withheld


async def _access_log(j: Journal, reader: str) -> list[tuple[str, str, bool, str | None]]:
    extract = await j.client.get("/journal/me/access-log", headers=patient(j.patient_id))
    assert extract.status_code == 200, extract.text
    return [
        (a["action"], a["purpose"], a["emergency"], a["basis"])
        for a in extract.json()
        if a["reader_id"] == reader
    ]


async def test_another_providers_reader_sees_entries_only_while_the_patient_consents(
    journal: Journal,
) -> None:
    j = journal
    assert j.entries > 0
    own = staff(HOME, "SE-own")
    other = staff(OTHER, "SE-other")

    # The provider that wrote the entries reads them without consent.
    status, shown, withheld = await _read(j, own)
    assert (status, len(shown), withheld) == (200, j.entries, 0)

    # No consent: another provider's reader gets nothing, and is told how much is withheld.
    status, shown, withheld = await _read(j, other)
    assert (status, shown, withheld) == (200, [], j.entries)
    for whole in ("/timeline", "/verify", "/fhir"):
        response = await j.client.get(j.url(whole), headers=other)
        assert response.status_code == 404, whole

    # The patient consents for that provider: its reader sees every entry.
    given = await j.client.post(
        j.url("/consents"), headers=patient(j.patient_id), json={"provider": OTHER}
    )
    assert given.status_code == 200, given.text
    assert given.json()["providers"] == [OTHER] and given.json()["event_id"]
    status, shown, withheld = await _read(j, other)
    assert (status, len(shown), withheld) == (200, j.entries, 0)
    assert (await j.client.get(j.url("/verify"), headers=other)).json()["valid"] is True
    # ...and only that provider: a third one still sees nothing.
    assert (await _read(j, staff("Gotland", "SE-third")))[1:] == ([], j.entries)

    # Withdrawn: withheld again.
    withdrawn = await j.client.delete(j.url(f"/consents/{OTHER}"), headers=patient(j.patient_id))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["providers"] == []
    status, shown, withheld = await _read(j, other)
    assert (status, shown, withheld) == (200, [], j.entries)
    listed = await j.client.get(j.url("/consents"), headers=patient(j.patient_id))
    assert listed.json()["providers"] == []

    # Both decisions are in the journal's event store (the outbox), in order.
    async with j.db.transaction() as conn:
        stream = await eventstore.load(conn, adapters.consent_stream(j.case_id))
    assert [type(s.event) for s in stream] == [ConsentGiven, ConsentWithdrawn]
    assert all(s.event.provider == OTHER and s.event.patient_id == j.patient_id for s in stream)  # type: ignore[attr-defined]
    assert stream[0].event.actor == Actor(id=j.patient_id, role=ActorRole.PATIENT)

    # Every read is in the patient's extract with the ground it was made on.
    assert [(action, basis) for action, _, _, basis in await _access_log(j, "SE-other")] == [
        ("read_entries", "withheld"),  # the 404s of the whole views read nothing
        ("read_entries", "consent"),
        ("verify", "consent"),
        ("read_entries", "withheld"),
    ]


async def test_emergency_access_overrides_a_missing_care_relation_and_is_marked_in_the_log(
    journal: Journal,
) -> None:
    j = journal
    # A doctor of the case's region whose unit never handled the case.
    elsewhere = staff(HOME, "SE-emergency", care_unit=f"Akutmottagningen {HOME}")
    assert (await _read(j, elsewhere))[1:] == ([], j.entries)

    too_short = await j.client.get(
        j.url("/entries"), headers=elsewhere, params={"emergency": "true", "purpose": "urgent"}
    )
    assert too_short.status_code == 422
    assert "reason" in too_short.json()["detail"]

    status, shown, withheld = await _read(j, elsewhere, emergency="true", purpose=EMERGENCY_REASON)
    assert (status, len(shown), withheld) == (200, j.entries, 0)
    timeline = await j.client.get(
        j.url("/timeline"),
        headers=elsewhere,
        params={"emergency": "true", "purpose": EMERGENCY_REASON},
    )
    assert timeline.status_code == 200

    assert await _access_log(j, "SE-emergency") == [
        ("read_entries", "care", False, "withheld"),
        ("read_entries", EMERGENCY_REASON, True, "emergency"),
        ("timeline", EMERGENCY_REASON, True, "emergency"),
    ]
    # The refused attempt read nothing and logged nothing (its transaction was rolled back).


async def test_a_patient_cannot_consent_on_someone_elses_record_but_a_guardian_can_for_the_child(
    journal: Journal,
) -> None:
    j = journal
    stranger = patient("p-stranger")
    for response in (
        await j.client.post(j.url("/consents"), headers=stranger, json={"provider": OTHER}),
        await j.client.delete(j.url(f"/consents/{OTHER}"), headers=stranger),
        await j.client.get(j.url("/consents"), headers=stranger),
        await j.client.post(
            f"/journal/cases/{uuid.uuid4()}/consents",
            headers=patient(j.patient_id),
            json={"provider": OTHER},
        ),
    ):
        assert response.status_code == 404, response.text
    # A guardian acting for someone else's child is a stranger too.
    wrong_child = patient("p-guardian", acting_for="p-another-child")
    denied = await j.client.post(j.url("/consents"), headers=wrong_child, json={"provider": OTHER})
    assert denied.status_code == 404
    async with j.db.transaction() as conn:
        assert await eventstore.load(conn, adapters.consent_stream(j.case_id)) == []
        assert await adapters.consents_of(conn, j.case_id) == domain.CaseConsents()
    assert (await _read(j, staff(OTHER, "SE-other")))[1:] == ([], j.entries)

    # The guardian acting for this case's patient (the child) gives consent for them.
    guardian = patient("p-guardian", acting_for=j.patient_id)
    given = await j.client.post(j.url("/consents"), headers=guardian, json={"provider": OTHER})
    assert given.status_code == 200, given.text
    async with j.db.transaction() as conn:
        stream = await eventstore.load(conn, adapters.consent_stream(j.case_id))
    assert stream[0].event.actor == Actor(
        id="p-guardian", role=ActorRole.GUARDIAN, on_behalf_of=j.patient_id
    )
    assert len((await _read(j, staff(OTHER, "SE-other")))[1]) == j.entries


async def test_consent_for_the_writing_provider_is_refused_and_repeats_change_nothing(
    journal: Journal,
) -> None:
    j = journal
    me = patient(j.patient_id)
    own = await j.client.post(j.url("/consents"), headers=me, json={"provider": HOME})
    assert own.status_code == 422 and "without consent" in own.json()["detail"]
    blank = await j.client.post(j.url("/consents"), headers=me, json={"provider": "  "})
    assert blank.status_code == 422

    first = await j.client.post(j.url("/consents"), headers=me, json={"provider": OTHER})
    again = await j.client.post(j.url("/consents"), headers=me, json={"provider": OTHER})
    assert first.json()["event_id"] and again.json()["event_id"] is None
    undo = await j.client.delete(j.url("/consents/Gotland"), headers=me)  # never given
    assert undo.status_code == 200 and undo.json()["event_id"] is None
    async with j.db.transaction() as conn:
        assert len(await eventstore.load(conn, adapters.consent_stream(j.case_id))) == 1
        rows = (await conn.execute(select(adapters.journal_consents))).all()
    assert [(r.event_type, r.payload["provider"]) for r in rows] == [("ConsentGiven", OTHER)]


async def test_a_journal_rebuilt_from_the_events_knows_the_consents(
    journal: Journal,
    infra,
    unique,  # type: ignore[no-untyped-def]
) -> None:
    j = journal
    me = patient(j.patient_id)
    for step in ("give", "withdraw", "give"):
        response = (
            await j.client.post(j.url("/consents"), headers=me, json={"provider": OTHER})
            if step == "give"
            else await j.client.delete(j.url(f"/consents/{OTHER}"), headers=me)
        )
        assert response.status_code == 200, response.text
    async with j.db.transaction() as conn:
        decided = [s.event for s in await eventstore.load(conn, adapters.consent_stream(j.case_id))]
        logged = await adapters.case_events(conn, j.case_id)
    assert [e.event_type for e in decided] == ["ConsentGiven", "ConsentWithdrawn", "ConsentGiven"]

    # The projector's path, as a rebuild from the topics takes it (the case's events first,
    # then the journal topic's). The consents come again, as the projector meets the events the
    # HTTP path already projected: nothing changes.
    rebuilt = await migrated(infra.database_url, f"journal_{unique}_rebuilt")
    try:
        async with rebuilt.transaction() as conn:
            await service.record(conn, [*logged, *decided])
            await adapters.project_consents(conn, decided)
        async with rebuilt.transaction() as conn:
            assert await adapters.consents_of(conn, j.case_id) == domain.CaseConsents(
                frozenset({OTHER})
            )
            timeline = [e.event_type for e in await adapters.case_events(conn, j.case_id)]
            assert timeline.count("ConsentGiven") == 2 and "ConsentWithdrawn" in timeline
            rows = (await conn.execute(select(adapters.journal_consents))).all()
            assert len(rows) == 3
    finally:
        await rebuilt.dispose()


async def test_a_block_hides_the_entries_from_every_other_provider(
    journal: Journal,
) -> None:
    j = journal
    me = patient(j.patient_id)
    other = staff(OTHER, "SE-blocked")
    assert (await j.client.post(j.url("/consents"), headers=me, json={"provider": OTHER})).json()[
        "providers"
    ] == [OTHER]

    # A stranger cannot block someone else's record.
    assert (await j.client.put(j.url("/block"), headers=patient("p-stranger"))).status_code == 404
    placed = await j.client.put(j.url("/block"), headers=me)
    assert placed.status_code == 200, placed.text
    assert placed.json()["blocked"] is True and placed.json()["providers"] == [OTHER]

    # Blocked: consent does not help, and emergency access never reaches another provider;
    # the care unit that wrote the entries still reads them.
    assert (await _read(j, other))[1:] == ([], j.entries)
    status, _, _ = await _read(j, other, emergency="true", purpose=EMERGENCY_REASON)
    assert status == 403
    assert (await j.client.get(j.url("/timeline"), headers=other)).status_code == 404
    assert len((await _read(j, staff(HOME, "SE-own")))[1]) == j.entries

    # Lifted: the consent given before the block applies again.
    lifted = await j.client.delete(j.url("/block"), headers=me)
    assert lifted.status_code == 200 and lifted.json()["blocked"] is False
    assert len((await _read(j, other))[1]) == j.entries

    async with j.db.transaction() as conn:
        stream = await eventstore.load(conn, adapters.consent_stream(j.case_id))
    assert [s.event.event_type for s in stream] == [
        "ConsentGiven",
        "JournalBlockPlaced",
        "JournalBlockLifted",
    ]
    assert await _access_log(j, "SE-blocked") == [
        ("read_entries", "care", False, "blocked"),
        ("read_entries", "care", False, "consent"),
    ]
