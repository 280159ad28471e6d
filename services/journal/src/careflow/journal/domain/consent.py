"""Consent to another care provider's reading, and the patient's block (Lag 2022:913).

The patient (or a guardian acting for a child) decides; the decisions are the
stream ``journal-consent-<case>``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from careflow.contracts import Actor, Event
from careflow.contracts.journal_events import (
    ConsentGiven,
    ConsentWithdrawn,
    JournalBlockLifted,
    JournalBlockPlaced,
)
from careflow.kit.domain import Invalid, NotFound


@dataclass(frozen=True)
class CaseConsents:
    """Who besides the writing provider may read a case's entries: the providers the patient
    consents to, unless the patient blocked the entries (spärr)."""

    providers: frozenset[str] = frozenset()
    blocked: bool = False


def evolve_consents(state: CaseConsents, event: Event) -> CaseConsents:
    """Apply one consent or block event of a case's stream."""
    if isinstance(event, ConsentGiven):
        return replace(state, providers=state.providers | {event.provider})
    if isinstance(event, ConsentWithdrawn):
        return replace(state, providers=state.providers - {event.provider})
    if isinstance(event, JournalBlockPlaced):
        return replace(state, blocked=True)
    if isinstance(event, JournalBlockLifted):
        return replace(state, blocked=False)
    return state


def require_own_case(case_patient_id: str | None, subject_id: str, acting_for: str | None) -> None:
    """Only the case's patient, or a guardian acting for them, decides on its record.

    Anyone else gets the same 404 as for an unknown case: the record's existence
    is not theirs to learn.
    """
    if case_patient_id is None or case_patient_id != (acting_for or subject_id):
        raise NotFound("no journal for this case")


def _envelope(
    case_id: UUID, patient_id: str, actor: Actor, now: datetime, event_id: UUID
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "case_id": case_id,
        "occurred_at": now,
        "producer": "journal",
        "correlation_id": case_id,
        "actor": actor,
        "patient_id": patient_id,
    }


def decide_consent(
    state: CaseConsents,
    *,
    give: bool,
    case_id: UUID,
    case_provider: str,
    patient_id: str,
    provider: str,
    actor: Actor,
    now: datetime,
    event_id: UUID,
) -> list[Event]:
    """Give or withdraw a care provider's consent; repeating either changes nothing.

    Idempotent so that a patient's retried request never stacks events. The
    provider that wrote the entries reads them without consent, so consent for
    it is refused rather than recorded as meaningless.
    """
    provider = provider.strip()
    if not provider:
        raise Invalid("name the care provider (region) the consent is for")
    if provider == case_provider:
        raise Invalid(
            f"{provider} wrote this record and reads it without consent; "
            "consent is for other care providers"
        )
    if give == (provider in state.providers):
        return []
    envelope = _envelope(case_id, patient_id, actor, now, event_id) | {"provider": provider}
    return [ConsentGiven(**envelope) if give else ConsentWithdrawn(**envelope)]


def decide_block(
    state: CaseConsents,
    *,
    block: bool,
    case_id: UUID,
    patient_id: str,
    actor: Actor,
    now: datetime,
    event_id: UUID,
) -> list[Event]:
    """Place or lift the patient's block (spärr) on the case's entries; repeating changes nothing.

    Consents given stay recorded under a block and apply again once it is lifted.
    """
    if block == state.blocked:
        return []
    envelope = _envelope(case_id, patient_id, actor, now, event_id)
    return [JournalBlockPlaced(**envelope) if block else JournalBlockLifted(**envelope)]
