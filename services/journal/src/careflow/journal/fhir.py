"""A case as a FHIR R4 Bundle, built and validated with ``fhir.resources`` (its R4B models).

Pure: no I/O. Every resource is constructed through its model, so a resource that breaks
FHIR's rules (a missing required element, a wrong type, a bad code) fails here rather than
in the receiving system. The case maps to:

- ``Patient``, identified by the personal identity number (system
  ``http://electronichealth.se/identifier/personnummer``) when the journal holds it, and
  then claiming HL7 Sweden's base Patient profile (``SE_BASE_PATIENT``);
- ``Practitioner`` and ``PractitionerRole`` (title, care unit) for every professional;
- ``Encounter`` (class ``VR``, virtual) for the contact, and one per video contact, part of it;
- ``QuestionnaireResponse`` for each triage, a multi-choice answer as one coding per option;
- ``Communication`` for each message and the closing documentation note;
- ``Provenance`` for the note: who wrote and signed it, when;
- ``Consent`` for each care provider the patient let read the case;
- ``AuditEvent`` for each logged read, with its required ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource

from careflow.contracts import (
    CaseClosed,
    CaseOpened,
    Event,
    MessageSent,
    Professional,
    TriageCompleted,
    TurnReached,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.journal_events import ConsentGiven, ConsentWithdrawn

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
#: HL7 Sweden's base Patient profile. Claimed only for a patient identified by the personal
#: identity number: the profile's identifier slices are Swedish national ids, and a patient
#: known only by careflow's own id does not meet it.
SE_BASE_PATIENT = "http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient"
#: HSA-id, the Swedish identifier of care staff (OID 1.2.752.29.4.19).
HSA_ID = "urn:oid:1.2.752.29.4.19"
VIRTUAL = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "code": "VR",
    "display": "virtual",
}
VIDEO = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
    "code": "VIDEOCONF",
    "display": "videoconferencing",
}


def _id(*parts: str) -> str:
    return str(uuid5(NAMESPACE_URL, "careflow:" + ":".join(parts)))


def _url(resource: Resource) -> str:
    return f"urn:uuid:{resource.id}"


def _ref(resource: Resource, display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": _url(resource)}
    if display:
        ref["display"] = display
    return ref


def _answers(questionnaire_id: str, question_id: str, value: Any) -> list[dict[str, Any]]:
    """One answer per value: a multi-choice answer gives one coding per chosen option."""
    if isinstance(value, list | tuple):
        system = f"urn:careflow:questionnaire:{questionnaire_id}:{question_id}"
        return [{"valueCoding": {"system": system, "code": str(v)}} for v in value]
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, float):
        return [{"valueDecimal": value}]
    return [{"valueString": str(value)}]


class _Builder:
    def __init__(self, case_id: UUID) -> None:
        self.case_id = case_id
        self.resources: list[Resource] = []
        self.roles: dict[str, PractitionerRole] = {}
        self.patient: Patient | None = None

    def add(self, resource: Resource) -> Resource:
        self.resources.append(resource)
        return resource

    def role(self, professional: Professional) -> PractitionerRole:
        found = self.roles.get(professional.staff_id)
        if found is not None:
            return found
        practitioner = self.add(
            Practitioner(
                id=_id("practitioner", professional.staff_id),
                identifier=[{"system": HSA_ID, "value": professional.staff_id}],
                name=[{"text": professional.name}],
            )
        )
        role = PractitionerRole(
            id=_id("role", professional.staff_id, professional.title, professional.care_unit),
            practitioner=_ref(practitioner, professional.name),
            code=[{"text": professional.title}],
            organization={"display": professional.care_unit},
        )
        self.add(role)
        self.roles[professional.staff_id] = role
        return role


def fhir_bundle(
    case_id: UUID,
    events: Sequence[Event],
    access: Sequence[dict[str, Any]] = (),
    patient_pin: str | None = None,
) -> dict[str, Any]:
    """The case (``events`` in causal order) as a FHIR R4 ``collection`` Bundle, every
    resource validated; ``patient_pin`` identifies the patient (no event carries it)."""
    b = _Builder(case_id)
    encounter_url = f"urn:uuid:{case_id}"
    subject: dict[str, Any] = {}
    start = end = None
    status = "in-progress"
    participants: list[dict[str, Any]] = []
    later: list[Resource] = []
    videos: dict[UUID, VideoContactStarted] = {}
    consents: dict[str, tuple[ConsentGiven, bool]] = {}
    for e in events:
        if isinstance(e, CaseOpened):
            identifier = (
                [{"system": PERSONNUMMER, "value": patient_pin}]
                if patient_pin
                else [{"system": "urn:careflow:patient", "value": e.patient_id}]
            )
            meta = {"profile": [SE_BASE_PATIENT]} if patient_pin else None
            b.patient = Patient(id=_id("patient", e.patient_id), meta=meta, identifier=identifier)
            subject = {"reference": _url(b.patient)}
            if patient_pin:
                subject["identifier"] = {"system": PERSONNUMMER, "value": patient_pin}
            else:
                subject["display"] = e.patient_id
        elif isinstance(e, TriageCompleted):
            later.append(
                QuestionnaireResponse(
                    id=str(e.event_id),
                    status="completed",
                    questionnaire=(
                        f"urn:careflow:questionnaire:{e.questionnaire_id}|{e.questionnaire_version}"
                    ),
                    subject=subject or None,
                    authored=e.occurred_at,
                    encounter={"reference": encounter_url},
                    item=[
                        {
                            "linkId": a.question_id,
                            "answer": _answers(e.questionnaire_id, a.question_id, a.value),
                        }
                        for a in e.answers
                    ]
                    or None,
                )
            )
        elif isinstance(e, TurnReached):
            start = e.occurred_at
            role = b.role(e.professional)
            participants.append({"individual": _ref(role), "period": {"start": e.occurred_at}})
        elif isinstance(e, MessageSent | CaseClosed):
            note = isinstance(e, CaseClosed)
            professional = e.professional
            sender = (
                _ref(b.role(professional))
                if professional is not None
                else (subject or {"display": e.actor.id})
            )
            text = e.documentation_note if isinstance(e, CaseClosed) else e.text
            communication = Communication(
                id=str(e.event_id),
                status="completed",
                subject=subject or None,
                encounter={"reference": encounter_url},
                sent=e.occurred_at,
                sender=sender,
                payload=[{"contentString": text}],
                category=[{"text": "note" if note else "message"}],
            )
            later.append(communication)
            if isinstance(e, CaseClosed):
                end, status = e.occurred_at, "finished"
                later.append(
                    Provenance(
                        id=_id("provenance", str(e.event_id)),
                        target=[_ref(communication)],
                        recorded=e.occurred_at,
                        activity={
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                    "code": "CREATE",
                                }
                            ]
                        },
                        agent=[
                            {
                                "type": {
                                    "coding": [
                                        {
                                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                            "code": "author",
                                        }
                                    ]
                                },
                                "who": _ref(b.role(e.professional), e.professional.name),
                            }
                        ],
                    )
                )
        elif isinstance(e, VideoContactStarted):
            videos[e.video_contact_id] = e
        elif isinstance(e, VideoContactEnded):
            began = videos.pop(e.video_contact_id, None)
            later.append(_video(b, encounter_url, subject, e.video_contact_id, began, e))
        elif isinstance(e, ConsentGiven):
            consents[e.provider] = (e, True)
        elif isinstance(e, ConsentWithdrawn) and e.provider in consents:
            consents[e.provider] = (consents[e.provider][0], False)
    for vid, began in videos.items():
        later.append(_video(b, encounter_url, subject, vid, began, None))
    encounter = Encounter(
        id=str(case_id),
        status=status,
        class_fhir=VIRTUAL,
        subject=subject or None,
        participant=participants or None,
        period={k: v for k, v in (("start", start), ("end", end)) if v is not None} or None,
    )
    for given, active in consents.values():
        later.append(
            Consent(
                id=str(given.event_id),
                status="active" if active else "inactive",
                scope={
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                            "code": "patient-privacy",
                        }
                    ]
                },
                category=[{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                patient=subject or None,
                dateTime=given.occurred_at,
                provision={
                    "type": "permit",
                    "actor": [
                        {
                            "role": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                        "code": "IRCP",
                                    }
                                ]
                            },
                            "reference": {"display": given.provider},
                        }
                    ],
                    "data": [{"meaning": "related", "reference": {"reference": encounter_url}}],
                },
            )
        )
    for a in access:
        later.append(
            AuditEvent(
                id=str(UUID(int=int(a["id"]))),
                type={
                    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                    "code": "rest",
                    "display": "RESTful Operation",
                },
                subtype=[{"code": str(a["action"])}],
                action="R",
                recorded=a["at"],
                agent=[
                    {
                        "who": {"identifier": {"value": str(a["reader_id"])}},
                        "requestor": True,
                        "role": [{"text": str(a["reader_role"])}],
                    }
                ],
                source={"observer": {"display": "careflow journal"}, "site": "careflow"},
                purposeOfEvent=[{"text": str(a["purpose"])}],
                entity=[{"what": {"reference": encounter_url}}],
            )
        )
    ordered: list[Resource] = [encounter]
    if b.patient is not None:
        ordered.append(b.patient)
    ordered += b.resources + later
    bundle = Bundle(
        type="collection",
        entry=[{"fullUrl": f"urn:uuid:{r.id}", "resource": r} for r in ordered],
    )
    dumped: dict[str, Any] = bundle.model_dump(mode="json", exclude_none=True)
    return dumped


def _video(
    b: _Builder,
    encounter_url: str,
    subject: dict[str, Any],
    video_id: UUID,
    began: VideoContactStarted | None,
    ended: VideoContactEnded | None,
) -> Encounter:
    """A video contact: a virtual encounter of its own, part of the case's."""
    period: dict[str, Any] = {}
    if began is not None:
        period["start"] = began.occurred_at
    elif ended is not None:
        period["start"] = ended.started_at
    if ended is not None:
        period["end"] = ended.occurred_at
    participant = [{"individual": _ref(b.role(began.professional))}] if began is not None else None
    return Encounter(
        id=str(video_id),
        status="finished" if ended is not None else "in-progress",
        class_fhir=VIRTUAL,
        type=[{"coding": [VIDEO]}],
        subject=subject or None,
        participant=participant,
        period=period or None,
        partOf={"reference": encounter_url},
    )
