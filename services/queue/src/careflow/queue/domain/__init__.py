"""Queue rules: who waits where, in which order, and whose turn it is.

Pure: no I/O, the time and event ids passed in. The aggregate is one case's place in
the queue (``case``); triaged cases enter it (``placement``); staff take turns and put
cases back (``turns``); cases move to another queue or leave it (``moves``); a queue's
order and expected waits (``waiting_room``); the staff acting on it (``staff``); the
regions' opening hours (``regions``) and the care guarantee's limits (``guarantee``).
"""

from careflow.queue.domain.case import (
    MAX_REASON_CHARS,
    PRODUCER,
    SYSTEM,
    QueuedCase,
    Status,
    evolve,
)
from careflow.queue.domain.guarantee import (
    ASSESSMENT_WITHIN,
    AssessmentStatus,
    GuaranteeStatus,
    assessment_status,
    guarantee,
    guarantees,
    limits_reached,
)
from careflow.queue.domain.moves import decide_transfer, decide_withdraw, transfer_target
from careflow.queue.domain.placement import decide_place, placement_id
from careflow.queue.domain.regions import (
    WEEKDAYS,
    DayHours,
    Hours,
    RegionCalendar,
    Regions,
    calendar_from_config,
    parse_hours,
    regions_from_config,
)
from careflow.queue.domain.staff import (
    TITLE_SKILLS,
    Staff,
    check_region,
    choose_skills,
    skills_for_title,
)
from careflow.queue.domain.turns import (
    decide_claim,
    decide_close_unanswered,
    decide_requeue,
    decide_take,
)
from careflow.queue.domain.waiting_room import (
    Waiting,
    estimate_wait,
    next_waiting,
    priority,
    project_waiting,
)

__all__ = [
    "ASSESSMENT_WITHIN",
    "MAX_REASON_CHARS",
    "PRODUCER",
    "SYSTEM",
    "TITLE_SKILLS",
    "WEEKDAYS",
    "AssessmentStatus",
    "DayHours",
    "GuaranteeStatus",
    "Hours",
    "QueuedCase",
    "RegionCalendar",
    "Regions",
    "Staff",
    "Status",
    "Waiting",
    "assessment_status",
    "calendar_from_config",
    "check_region",
    "choose_skills",
    "decide_claim",
    "decide_close_unanswered",
    "decide_place",
    "decide_requeue",
    "decide_take",
    "decide_transfer",
    "decide_withdraw",
    "estimate_wait",
    "evolve",
    "guarantee",
    "guarantees",
    "limits_reached",
    "next_waiting",
    "parse_hours",
    "placement_id",
    "priority",
    "project_waiting",
    "regions_from_config",
    "skills_for_title",
    "transfer_target",
]
