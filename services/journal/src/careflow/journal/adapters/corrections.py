"""Corrections' event-store streams (the entries they call for arrive through the topic)."""

from __future__ import annotations

from uuid import UUID

from careflow.journal import domain
from careflow.kit.eventstore import Aggregate

CORRECTIONS = Aggregate(domain.CaseCorrections, domain.evolve_corrections)


def corrections_stream(case_id: UUID) -> str:
    """The event-store stream of one case's corrections."""
    return f"journal-corrections-{case_id}"
