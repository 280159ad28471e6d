"""Care staff on the queue: which queues a title serves, and what staff may do to a case.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from careflow.contracts import Actor, ActorRole, Professional, QueueRef, Skill
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound
from careflow.queue.domain.case import QueuedCase, Status

#: Which queues a professional serves, from the title on their token (for now: one skill a
#: title; a real deployment reads the staff catalogue, e.g. HSA).
TITLE_SKILLS: Mapping[str, frozenset[Skill]] = {
    "nurse": frozenset({Skill.NURSE}),
    "sjuksköterska": frozenset({Skill.NURSE}),
    "distriktssköterska": frozenset({Skill.NURSE}),
    "doctor": frozenset({Skill.DOCTOR}),
    "läkare": frozenset({Skill.DOCTOR}),
    "psychologist": frozenset({Skill.PSYCHOLOGIST}),
    "psykolog": frozenset({Skill.PSYCHOLOGIST}),
    "administrator": frozenset({Skill.ADMINISTRATIVE}),
    "administratör": frozenset({Skill.ADMINISTRATIVE}),
    "youth clinic nurse": frozenset({Skill.YOUTH_CLINIC, Skill.NURSE}),
    "midwife": frozenset({Skill.YOUTH_CLINIC}),
    "barnmorska": frozenset({Skill.YOUTH_CLINIC}),
    "child health nurse": frozenset({Skill.CHILD_HEALTH_CARE, Skill.NURSE}),
    "bvc-sjuksköterska": frozenset({Skill.CHILD_HEALTH_CARE, Skill.NURSE}),
}


def skills_for_title(title: str | None) -> frozenset[Skill]:
    """The skills a title qualifies for; none for an unknown title."""
    return TITLE_SKILLS.get((title or "").strip().lower(), frozenset())


@dataclass(frozen=True)
class Staff:
    """A member of care staff acting on the queue: who, where, and which queues they serve."""

    professional: Professional
    region: str
    skills: frozenset[Skill]

    @property
    def actor(self) -> Actor:
        """The staff member as the actor of the events they cause."""
        return Actor(id=self.professional.staff_id, role=ActorRole.STAFF)


def skill_names(staff: Staff) -> str:
    """The staff member's skills, for a refusal's reason."""
    return ", ".join(sorted(s.value for s in staff.skills)) or "none"


def choose_skills(staff: Staff, requested: Iterable[Skill] | None) -> frozenset[Skill]:
    """The skills a claim draws from: the requested ones, which must all be the staff's own."""
    wanted = frozenset(requested) if requested is not None else staff.skills
    if not staff.skills:
        raise Forbidden(
            f"the title {staff.professional.title!r} serves no queue "
            "(known titles: nurse, doctor, psychologist, administrator)"
        )
    if not wanted:
        raise Invalid("name at least one skill")
    outside = wanted - staff.skills
    if outside:
        names = ", ".join(sorted(s.value for s in outside))
        raise Forbidden(
            f"you do not serve the {names} queue: your skills are " + skill_names(staff)
        )
    return wanted


def check_region(staff: Staff, region: str | None) -> str:
    """The region a claim draws from: one's own; another region's queue is refused."""
    if region is not None and region != staff.region:
        raise Forbidden(f"you work in region {staff.region!r}, not {region!r}")
    return staff.region


def require_visible(state: QueuedCase, staff: Staff) -> QueueRef:
    """The case's queue, if it is in the staff member's region; unknown otherwise."""
    if state.queue is None or state.queue.region != staff.region:
        raise NotFound("no such case in your region's queues")
    return state.queue


def require_holder(state: QueuedCase, staff: Staff) -> None:
    """Only the professional who took the case may act on it while it is in contact."""
    if state.status is not Status.IN_CONTACT:
        raise Conflict("the case has not been taken")
    if state.holder is None or state.holder.staff_id != staff.professional.staff_id:
        raise Forbidden("only the professional who took the case may do this")
