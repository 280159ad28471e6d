"""A case's history for auditors: a JSON timeline, and a FHIR R4 Bundle.

Pure: no I/O. The FHIR Bundle maps the case to an Encounter, triage to a
QuestionnaireResponse, each message and the closing note to a Communication,
and each logged read of the record to an AuditEvent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from careflow.contracts import (
    CaseClosed,
    CaseOpened,
    Event,
    MessageSent,
    TriageCompleted,
    TurnReached,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.journal import domain


def timeline_item(event: Event) -> dict[str, Any]:
    """One event of the timeline with its actor, as JSON."""
    return {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "occurred_at": event.occurred_at.isoformat(),
        "producer": event.producer,
        "causation_id": str(event.causation_id) if event.causation_id else None,
        "actor": event.actor.model_dump(mode="json"),
        "event": event.model_dump(mode="json"),
    }


def timeline_json(
    case_id: UUID, events: Sequence[Event], at: datetime | None = None
) -> dict[str, Any]:
    """The case's timeline in causal order and, if asked, its state at a moment."""
    ordered = domain.causal_order(events)
    body: dict[str, Any] = {
        "case_id": str(case_id),
        "events": [timeline_item(e) for e in ordered],
    }
    if at is not None:
        state = asdict(domain.state_at(ordered, at))
        state["last_event_at"] = (
            state["last_event_at"].isoformat() if state["last_event_at"] else None
        )
        body["state_at"] = {"at": at.isoformat(), "state": state}
    return body


def fhir_bundle(
    case_id: UUID,
    events: Sequence[Event],
    access: Sequence[dict[str, Any]] = (),
    patient_pin: str | None = None,
) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle of the case; ``patient_pin`` identifies its patient
    (no event of the case log carries the number)."""
    ordered = domain.causal_order(events)
    encounter_ref = f"Encounter/{case_id}"
    patient_ref: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    start = end = None
    status = "in-progress"
    for e in ordered:
        if isinstance(e, CaseOpened):
            patient_ref = (
                {
                    "identifier": {
                        "system": "http://electronichealth.se/identifier/personnummer",
                        "value": patient_pin,
                    }
                }
                if patient_pin
                else {"display": e.patient_id}
            )
        elif isinstance(e, TriageCompleted):
            entries.append(
                _res(
                    "QuestionnaireResponse",
                    e.event_id,
                    {
                        "status": "completed",
                        "questionnaire": f"{e.questionnaire_id}|{e.questionnaire_version}",
                        "authored": e.occurred_at.isoformat(),
                        "encounter": {"reference": encounter_ref},
                        "item": [
                            {"linkId": a.question_id, "answer": [_answer(a.value)]}
                            for a in e.answers
                        ],
                    },
                )
            )
        elif isinstance(e, TurnReached):
            start = e.occurred_at
        elif isinstance(e, MessageSent | CaseClosed):
            text = e.text if isinstance(e, MessageSent) else e.documentation_note
            entries.append(
                _res(
                    "Communication",
                    e.event_id,
                    {
                        "status": "completed",
                        "encounter": {"reference": encounter_ref},
                        "sent": e.occurred_at.isoformat(),
                        "sender": {"identifier": {"value": e.actor.id}},
                        "payload": [{"contentString": text}],
                        "category": [{"text": "message" if isinstance(e, MessageSent) else "note"}],
                    },
                )
            )
            if isinstance(e, CaseClosed):
                end, status = e.occurred_at, "finished"
        elif isinstance(e, VideoContactStarted | VideoContactEnded):
            continue
    encounter: dict[str, Any] = {
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR",
            "display": "virtual",
        },
        "subject": patient_ref,
        "period": {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None},
    }
    entries.insert(0, _res("Encounter", case_id, encounter))
    for a in access:
        entries.append(
            _res(
                "AuditEvent",
                UUID(int=int(a["id"])),
                {
                    "type": {"code": "rest", "display": a["action"]},
                    "recorded": a["at"].isoformat(),
                    "agent": [
                        {
                            "who": {"identifier": {"value": a["reader_id"]}},
                            "requestor": True,
                            "role": [{"text": a["reader_role"]}],
                        }
                    ],
                    "purposeOfEvent": [{"text": a["purpose"]}],
                    "entity": [{"what": {"reference": encounter_ref}}],
                },
            )
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _res(kind: str, ident: UUID, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{ident}",
        "resource": {"resourceType": kind, "id": str(ident), **body},
    }


def _answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}
