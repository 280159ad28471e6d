"""Synthetic cases (every event the journal documents) for tests and benchmarks."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    Answer,
    CaseClosed,
    CaseOpened,
    CasePatientIdentified,
    CaseQueued,
    Event,
    MessageSent,
    Outcome,
    Professional,
    QueueRef,
    Recommendation,
    SenderRole,
    Skill,
    TriageCompleted,
    TurnReached,
    Urgency,
    VideoContactEnded,
    VideoContactStarted,
)

NURSE = Professional(
    staff_id="SE2321000131-E0001", name="Nina Sjöberg", title="nurse", care_unit="1177 direkt"
)


def case_events(
    messages: int = 3,
    start: datetime | None = None,
    case_id: UUID | None = None,
    video: bool = True,
) -> list[Event]:
    """One case from opening to closing, ``messages`` chat messages, in the order they happen."""
    from datetime import UTC

    case = case_id or uuid.uuid4()
    t = start or datetime.now(UTC)
    patient = Actor(id=f"p-{case.hex[:8]}", role=ActorRole.PATIENT)
    staff = Actor(id=NURSE.staff_id, role=ActorRole.STAFF)
    queue = QueueRef(region="Uppsala", skill=Skill.NURSE)

    def env(producer: str, actor: Actor, dt: float, cause: UUID | None = None) -> dict[str, object]:
        return {
            "case_id": case,
            "occurred_at": t + timedelta(seconds=dt),
            "producer": producer,
            "correlation_id": case,
            "causation_id": cause,
            "actor": actor,
        }

    opened = CaseOpened(**env("triage", patient, 0), patient_id=patient.id, region="Uppsala")
    identified = CasePatientIdentified(
        **env("identity", Actor(id="identity", role=ActorRole.SYSTEM), 0.5, opened.event_id),
        patient_id=patient.id,
        personal_identity_number="191212121212",
        region="Uppsala",
    )
    triaged = TriageCompleted(
        **env("triage", patient, 1, opened.event_id),
        revision=1,
        questionnaire_id="general",
        questionnaire_version="1",
        questionnaire_hash="0" * 64,
        answers=(Answer(question_id="fever_days", value=4),),
        rules_fired=("fever_over_3_days",),
        urgency=Urgency.YELLOW,
        recommendation=Recommendation.DIGITAL_CONTACT,
        target_queue=queue,
    )
    queued = CaseQueued(
        **env("queue", patient, 2, triaged.event_id),
        queue=queue,
        urgency=Urgency.YELLOW,
        triage_revision=1,
        waiting_since=t + timedelta(seconds=2),
    )
    turn = TurnReached(
        **env("queue", staff, 3), queue=queue, professional=NURSE, waited_seconds=1.0
    )
    out: list[Event] = [opened, identified, triaged, queued, turn]
    last: UUID | None = None
    for i in range(1, messages + 1):
        is_staff = i % 2 == 1
        m = MessageSent(
            **env("chat", staff if is_staff else patient, 3 + i, last),
            message_id=uuid.uuid4(),
            sequence=i,
            sender_role=SenderRole.STAFF if is_staff else SenderRole.PATIENT,
            sender_id=(staff if is_staff else patient).id,
            professional=NURSE if is_staff else None,
            text=f"meddelande {i} i ärendet",
        )
        last = m.event_id
        out.append(m)
    dt = 4 + messages
    if video:
        vid = uuid.uuid4()
        started = VideoContactStarted(
            **env("chat", staff, dt, last),
            video_contact_id=vid,
            participant_ids=(patient.id, staff.id),
            professional=NURSE,
        )
        ended = VideoContactEnded(
            **env("chat", staff, dt + 1, started.event_id),
            video_contact_id=vid,
            started_at=started.occurred_at,
            duration_seconds=1.0,
        )
        out += [started, ended]
        last = ended.event_id
    out.append(
        CaseClosed(
            **env("chat", staff, dt + 2, last),
            outcome=Outcome.SELF_CARE_ADVICE,
            advice="Vila och drick mycket.",
            documentation_note="Feber 4 dagar. Egenvårdsråd givna.",
            professional=NURSE,
        )
    )
    return out
