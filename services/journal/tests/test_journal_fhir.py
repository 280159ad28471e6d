"""The FHIR export of a whole case validates: every resource is read back through the
``fhir.resources`` R4B models, and carries what a receiving system needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from careflow.contracts import Actor, ActorRole, Answer, TriageCompleted
from careflow.contracts.journal_events import ConsentGiven, ConsentWithdrawn
from careflow.journal import domain, export
from careflow.journal.samples import NURSE, case_events

SE_BASE_PATIENT = "http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient"

pytestmark = [pytest.mark.journal, pytest.mark.journey, pytest.mark.unit]

PIN = "191212121212"


def full_case(pin: str | None = PIN) -> tuple[Any, dict[str, Any]]:
    events = case_events(messages=3, video=True)
    opened, triaged = events[0], next(e for e in events if isinstance(e, TriageCompleted))
    # A multi-choice answer beside the number answer.
    triaged = triaged.model_copy(
        update={
            "answers": (
                Answer(question_id="fever_days", value=4),
                Answer(question_id="symptoms", value=["cough", "ear_pain"]),
                Answer(question_id="breathing", value=False),
            )
        }
    )
    events = [triaged if e.event_id == triaged.event_id else e for e in events]
    patient = Actor(id=opened.patient_id, role=ActorRole.PATIENT)  # type: ignore[attr-defined]
    at = events[-1].occurred_at
    common = {
        "case_id": opened.case_id,
        "producer": "journal",
        "correlation_id": opened.case_id,
        "actor": patient,
        "patient_id": opened.patient_id,  # type: ignore[attr-defined]
    }
    events += [
        ConsentGiven(**common, occurred_at=at + timedelta(seconds=1), provider="Skåne"),
        ConsentGiven(**common, occurred_at=at + timedelta(seconds=2), provider="Dalarna"),
        ConsentWithdrawn(**common, occurred_at=at + timedelta(seconds=3), provider="Dalarna"),
    ]
    access = [
        {
            "id": 7,
            "action": "read_entries",
            "at": at + timedelta(seconds=4),
            "reader_id": NURSE.staff_id,
            "reader_role": "staff",
            "purpose": "care of the patient",
        }
    ]
    bundle = export.fhir_bundle(
        opened.case_id, domain.causal_order(events), access, patient_pin=pin
    )
    return opened, bundle


def test_every_resource_of_a_full_cases_export_validates() -> None:
    opened, bundle = full_case()
    Bundle.model_validate(bundle)  # the whole bundle, and so every resource in it
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)  # each resource on its own too
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        by_type.setdefault(resource["resourceType"], []).append(resource)
    assert set(by_type) == {
        "Encounter", "Patient", "Practitioner", "PractitionerRole", "QuestionnaireResponse",
        "Communication", "Provenance", "Consent", "AuditEvent",
    }  # fmt: skip

    [patient] = by_type["Patient"]
    assert patient["identifier"] == [
        {"system": "http://electronichealth.se/identifier/personnummer", "value": PIN}
    ]
    assert patient["meta"]["profile"] == [SE_BASE_PATIENT]
    [practitioner] = by_type["Practitioner"]
    assert practitioner["identifier"][0]["value"] == NURSE.staff_id
    assert practitioner["name"][0]["text"] == NURSE.name
    [role] = by_type["PractitionerRole"]
    assert role["code"][0]["text"] == NURSE.title
    assert role["organization"]["display"] == NURSE.care_unit

    case, video = by_type["Encounter"]
    assert case["id"] == str(opened.case_id) and case["status"] == "finished"
    assert case["class"]["code"] == "VR" and video["class"]["code"] == "VR"
    assert video["partOf"]["reference"] == f"urn:uuid:{opened.case_id}"
    assert video["type"][0]["coding"][0]["code"] == "VIDEOCONF"

    [response] = by_type["QuestionnaireResponse"]
    answers = {item["linkId"]: item["answer"] for item in response["item"]}
    # The multi-choice answer: one coding per option, not one string of a list.
    assert [a["valueCoding"]["code"] for a in answers["symptoms"]] == ["cough", "ear_pain"]
    assert answers["fever_days"] == [{"valueInteger": 4}]
    assert answers["breathing"] == [{"valueBoolean": False}]

    notes = [c for c in by_type["Communication"] if c["category"][0]["text"] == "note"]
    assert len(by_type["Communication"]) == 4 and len(notes) == 1
    [provenance] = by_type["Provenance"]
    assert provenance["target"][0]["reference"] == f"urn:uuid:{notes[0]['id']}"
    assert provenance["agent"][0]["who"]["display"] == NURSE.name

    consents = {c["provision"]["actor"][0]["reference"]["display"]: c for c in by_type["Consent"]}
    assert consents["Skåne"]["status"] == "active"
    assert consents["Dalarna"]["status"] == "inactive"

    [audit] = by_type["AuditEvent"]
    assert audit["source"]["observer"]["display"] == "careflow journal"
    assert audit["agent"][0]["requestor"] is True


def test_a_resource_breaking_fhirs_rules_is_refused() -> None:
    _, bundle = full_case()
    audit = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AuditEvent"
    )
    del audit["source"]  # required by FHIR
    with pytest.raises(ValueError, match="source"):
        get_fhir_model_class("AuditEvent").model_validate(audit)


def test_a_patient_without_an_identity_number_claims_no_swedish_profile() -> None:
    """HL7 Sweden's base Patient profile is claimed only where it applies: a patient the
    journal knows by careflow's id alone is a plain FHIR Patient."""
    _, bundle = full_case(pin=None)
    Bundle.model_validate(bundle)
    [patient] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    get_fhir_model_class("Patient").model_validate(patient)
    assert "meta" not in patient
    assert patient["identifier"][0]["system"] == "urn:careflow:patient"
