"""The journal's pure rules: entries, chains, tamper classification, checkpoints, replay."""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from careflow.contracts import Actor, ActorRole
from careflow.contracts.journal_events import ConsentGiven, ConsentWithdrawn
from careflow.journal import domain, export
from careflow.journal.checkpoints import signing_key
from careflow.journal.samples import NURSE, case_events
from careflow.kit.domain import Forbidden, Invalid, NotFound

pytestmark = [pytest.mark.journal, pytest.mark.unit]

KEY = signing_key("42" * 32)
#: The id a command would have drawn from its clock for the event decided.
ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def lane_of_case(kind: str = "chat") -> list[domain.StoredEntry]:
    events = case_events(messages=5)
    drafts = [(d, "191212121212") for e in events if (d := domain.draft_for(e)) and d.lane == kind]
    return domain.chain(drafts, 0, domain.GENESIS)


def kinds(rows: list[domain.StoredEntry]) -> list[str]:
    return [p.kind for p in domain.verify_lane(rows[0].draft.case_id, "chat", rows)]


def test_every_contact_event_becomes_an_entry_in_its_sources_lane() -> None:
    drafts = [domain.draft_for(e) for e in case_events(messages=2)]
    assert [(d.kind, d.lane) for d in drafts if d] == [
        ("triage_summary", "triage"),
        ("contact_started", "queue"),
        ("message", "chat"),
        ("message", "chat"),
        ("video_started", "chat"),
        ("video_ended", "chat"),
        ("documentation_note", "chat"),
    ]
    note = next(d for d in drafts if d and d.kind == "documentation_note")
    assert (note.professional_name, note.professional_title) == (NURSE.name, NURSE.title)


def test_an_intact_chain_verifies() -> None:
    assert kinds(lane_of_case()) == []


def test_each_kind_of_tampering_is_named() -> None:
    rows = lane_of_case()
    changed = dataclasses.replace(rows[2], draft=dataclasses.replace(rows[2].draft, content={}))
    assert kinds([*rows[:2], changed, *rows[3:]]) == ["modified"]
    assert kinds([*rows[:2], *rows[3:]]) == ["deleted"]
    swapped = [
        *rows[:1],
        dataclasses.replace(rows[3], sequence=2),
        *rows[2:3],
        dataclasses.replace(rows[1], sequence=4),
        *rows[4:],
    ]
    assert kinds(swapped) == ["reordered"]
    signed = domain.Leaf(rows[0].draft.case_id, "chat", len(rows), rows[-1].entry_hash)
    cut = rows[:3]
    assert [p.kind for p in domain.verify_lane(signed.case_id, "chat", cut, signed)] == [
        "truncated"
    ]
    forged_draft = dataclasses.replace(rows[1].draft, content={"text": "forged"})
    forged = domain.chain([(forged_draft, rows[1].patient_pin)], 1, rows[0].entry_hash)[0]
    shifted = [dataclasses.replace(r, sequence=r.sequence + 1) for r in rows[1:]]
    assert kinds([rows[0], forged, *shifted]) == ["inserted"]


def test_the_merkle_root_ignores_order_and_sees_every_head() -> None:
    leaves = [domain.Leaf(case_events()[0].case_id, "chat", n, f"{n:064x}") for n in range(1, 6)]
    shuffled = leaves[:]
    random.Random(1).shuffle(shuffled)
    assert domain.merkle_root(leaves) == domain.merkle_root(shuffled)
    moved = [*leaves[:-1], dataclasses.replace(leaves[-1], length=99)]
    assert domain.merkle_root(moved) != domain.merkle_root(leaves)


def test_checkpoints_are_signed_and_chained() -> None:
    now = case_events()[0].occurred_at
    leaves = [domain.Leaf(case_events()[0].case_id, "chat", 3, "ab" * 32)]
    first = domain.make_checkpoint(leaves, None, KEY, now)
    second = domain.make_checkpoint(leaves, first, KEY, now + timedelta(seconds=1))
    assert second.number == 2 and second.previous_checkpoint_hash == first.checkpoint_hash
    assert domain.verify_checkpoint(second, domain.public_key_hex(KEY)) == []
    tampered = dataclasses.replace(second, entries=second.entries + 1)
    assert [p.kind for p in domain.verify_checkpoint(tampered, domain.public_key_hex(KEY))] == [
        "signature"
    ]


def test_a_correction_names_the_original_and_needs_a_reason() -> None:
    rows = lane_of_case()
    now = rows[0].draft.occurred_at
    (event,) = domain.decide_correction(
        rows[1], NURSE, NURSE.staff_id, rows[1].draft.case_id, "typo", "rätt text", now, ID
    )
    draft = domain.draft_for(event)
    assert draft is not None and draft.kind == "correction" and draft.lane == "journal"
    assert draft.corrects_event_id == rows[1].draft.source_event_id
    with pytest.raises(NotFound):
        domain.decide_correction(None, NURSE, NURSE.staff_id, draft.case_id, "x", "y", now, ID)
    with pytest.raises(Invalid):
        domain.decide_correction(rows[1], NURSE, NURSE.staff_id, draft.case_id, " ", "y", now, ID)


def test_the_timeline_is_causal_and_the_state_follows_the_moment() -> None:
    events = case_events(messages=2)
    scrambled = list(reversed(events)) + events[:3]  # duplicates too
    ordered = domain.causal_order(scrambled)
    assert [e.event_id for e in ordered] == [e.event_id for e in events]
    turn = next(e for e in events if e.event_type == "TurnReached")
    assert domain.state_at(ordered, turn.occurred_at).status == "in_contact"
    assert domain.state_at(ordered, turn.occurred_at - timedelta(microseconds=1)).status == (
        "waiting"
    )
    final = domain.state_at(ordered, events[-1].occurred_at)
    assert (final.status, final.messages, final.outcome) == ("closed", 2, "self_care_advice")
    bundle = export.fhir_bundle(events[0].case_id, ordered)
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == ["Encounter", "Patient", "Practitioner", "PractitionerRole",
                     "QuestionnaireResponse", "Communication", "Communication",
                     "Encounter", "Communication", "Provenance"]  # fmt: skip
    assert bundle["entry"][0]["resource"]["status"] == "finished"


def test_the_hash_body_is_the_one_entries_were_always_hashed_with() -> None:
    import hashlib
    import json

    for row in lane_of_case():
        d = row.draft
        body = {**dataclasses.asdict(d), "sequence": row.sequence, "patient": row.patient_pin}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        expected = hashlib.sha256(f"{row.prev_hash}\n{text}".encode()).hexdigest()
        assert row.entry_hash == expected
        del body["lane"], body["corrects_event_id"]  # version 1: the walking skeleton's
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        legacy = hashlib.sha256(f"{row.prev_hash}\n{text}".encode()).hexdigest()
        assert domain.entry_hash(row.prev_hash, row.sequence, d, row.patient_pin, 1) == legacy


def test_the_ground_of_a_read_and_consent_decisions() -> None:
    """A care relation inside the region; emergency for licensed clinicians of the region
    only; auditors their region; another provider by consent, never while blocked."""

    def consents(providers: set[str], blocked: bool = False) -> domain.CaseConsents:
        return domain.CaseConsents(frozenset(providers), blocked)

    relation = domain.CareRelation(frozenset({"1177 direkt"}), frozenset({"SE-nurse"}))

    def reader(region: str, unit: str = "Akuten", title: str = "doctor", role: str = "staff"):  # type: ignore[no-untyped-def]
        return domain.Reader("SE-x", role, region, title, unit)

    def basis(who: domain.Reader, c: domain.CaseConsents, emergency: bool = False) -> str:
        return domain.access_basis("Uppsala", relation, who, c, emergency)

    none = domain.CaseConsents()
    assert basis(reader("Uppsala", "1177 direkt"), none) == domain.CARE_RELATION
    assert basis(domain.Reader("SE-nurse", "staff", "Uppsala"), none) == domain.CARE_RELATION
    assert basis(reader("Uppsala"), none) == domain.WITHHELD
    assert basis(reader("Uppsala"), none, True) == domain.EMERGENCY
    assert basis(reader("Uppsala", role="auditor", title="auditor"), none) == domain.AUDIT
    assert basis(reader("Gotland", role="auditor", title="auditor"), none) == domain.WITHHELD
    assert basis(reader("Västmanland"), consents({"Västmanland"})) == domain.CONSENT
    assert basis(reader("Västmanland"), consents({"Västmanland"}, True)) == domain.BLOCKED
    assert basis(reader("Västmanland"), consents({"Gotland"})) == domain.WITHHELD
    for refused in (
        reader("Västmanland"),  # another region
        reader("Uppsala", title="administrator"),
        reader("Uppsala", role="auditor", title="auditor"),
    ):
        with pytest.raises(Forbidden):
            basis(refused, none, True)

    rows = [{"unit": "1177 direkt"}, {"unit": "VC Luthagen"}, {"unit": None}]
    blocked = consents(set(), True)
    unit = reader("Uppsala", "1177 direkt")
    assert (
        domain.visible(domain.CARE_RELATION, unit, relation, none, rows, lambda r: r["unit"])
        == rows
    )
    assert domain.visible(
        domain.CARE_RELATION, unit, relation, blocked, rows, lambda r: r["unit"]
    ) == [rows[0], rows[2]]
    assert (
        domain.visible(
            domain.EMERGENCY, reader("Uppsala"), relation, blocked, rows, lambda r: r["unit"]
        )
        == []
    )
    case_id, now = uuid.uuid4(), datetime.now(UTC)

    def decide(state: domain.CaseConsents, give: bool, provider: str) -> list[object]:
        return list(
            domain.decide_consent(
                state,
                give=give,
                case_id=case_id,
                case_provider="Uppsala",
                patient_id="p-1",
                provider=provider,
                actor=Actor(id="p-1", role=ActorRole.PATIENT),
                now=now,
                event_id=ID,
            )
        )

    [given] = decide(domain.CaseConsents(), True, "Västmanland")
    assert isinstance(given, ConsentGiven) and given.case_id == case_id
    state = domain.evolve_consents(domain.CaseConsents(), given)
    assert state.providers == {"Västmanland"}
    assert decide(state, True, "Västmanland") == []  # giving again changes nothing
    assert decide(domain.CaseConsents(), False, "Västmanland") == []  # nothing to withdraw
    [withdrawn] = decide(state, False, "Västmanland")
    assert isinstance(withdrawn, ConsentWithdrawn)
    assert domain.evolve_consents(state, withdrawn).providers == frozenset()
    with pytest.raises(Invalid, match="without consent"):
        decide(state, True, "Uppsala")
    with pytest.raises(Invalid):
        decide(state, True, "  ")

    # A block (spärr) hides the entries from every other provider, consent or not.
    blocked = consents({"Västmanland"}, blocked=True)
    assert basis(reader("Västmanland"), blocked) == domain.BLOCKED
    [placed] = domain.decide_block(
        domain.CaseConsents(),
        block=True,
        case_id=case_id,
        patient_id="p-1",
        actor=Actor(id="p-1", role=ActorRole.PATIENT),
        now=now,
        event_id=ID,
    )
    assert domain.evolve_consents(state, placed).blocked is True
    assert (
        domain.decide_block(
            blocked,
            block=True,
            case_id=case_id,
            patient_id="p-1",
            actor=Actor(id="p-1", role=ActorRole.PATIENT),
            now=now,
            event_id=ID,
        )
        == []
    )


def test_the_fhir_export_names_the_patient_by_the_number_the_journal_alone_holds() -> None:
    """No event of the case log carries the number (CaseOpened v2): the export gets it from
    the journal's patient table, which CasePatientIdentified fills."""
    events = [e for e in case_events(messages=1) if e.event_type != "CasePatientIdentified"]
    assert not any("191212121212" in e.to_json().decode() for e in events)
    ordered = domain.causal_order(events)
    bundle = export.fhir_bundle(events[0].case_id, ordered, patient_pin="191212121212")
    subject = bundle["entry"][0]["resource"]["subject"]
    assert subject["identifier"]["value"] == "191212121212"
    assert (
        "identifier"
        not in export.fhir_bundle(events[0].case_id, ordered)["entry"][0]["resource"]["subject"]
    )
