"""Who a case's patient is, told to the journal alone, and what a patient token may say.

Tokens and ``CaseOpened`` name patients by subject id only: they reach browsers, logs
and every service. The journal must still name the patient by number, so identity,
which issued the subject id, answers each ``CaseOpened`` with ``CasePatientIdentified``
on a topic only the journal may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from careflow.contracts import Actor, ActorRole, CaseOpened, Event
from careflow.contracts.identity_events import CasePatientIdentified
from careflow.identity.domain.numbers import IdentityNumber
from careflow.kit.clock import natural_id
from careflow.kit.domain import NotFound

PRODUCER = "identity"


@dataclass(frozen=True)
class Traits:
    """What triage's questions may branch on: age in whole years and sex, never the number."""

    age_years: int
    sex: Literal["female", "male"]


def traits_of(number: IdentityNumber, today: date) -> Traits:
    """The age (on ``today``) and sex an identity number tells."""
    return Traits(number.age_on(today), "male" if number.sex == "M" else "female")


def identified_id(case_id: UUID) -> UUID:
    """A case's patient is identified once: the event id follows from the case."""
    return natural_id("case-patient-identified", str(case_id))


def decide_identification(opened: CaseOpened, pin: str | None, now: datetime) -> list[Event]:
    """Tell the journal the number of an opened case's patient (``pin``: whose subject id
    ``opened.patient_id`` is; None when identity never issued it)."""
    if pin is None:
        # Only identity issues subject ids; a case for an id it never issued is forged.
        raise NotFound("this case's patient is not a subject identity issued")
    return [
        CasePatientIdentified(
            event_id=identified_id(opened.case_id),
            case_id=opened.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=opened.correlation_id,
            causation_id=opened.event_id,
            actor=Actor(id=PRODUCER, role=ActorRole.SYSTEM),
            patient_id=opened.patient_id,
            personal_identity_number=pin,
            region=opened.region,
        )
    ]
