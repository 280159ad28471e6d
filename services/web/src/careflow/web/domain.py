"""The web front end's rules, pure: sessions, CSRF, and what a person is told.

No I/O here: the time is passed in; the adapters store sessions and call the services.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from careflow.kit.domain import Forbidden

#: Methods that change state: each needs the session's CSRF token.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Only write a new expiry when it moved this much: a session is not a write per request.
EXTEND_STEP = timedelta(minutes=1)
#: The page languages, Swedish first: ``careflow.kit.i18n.LANGUAGES`` (a domain imports no
#: kit module but its errors and clock; the unit tests keep the two the same).
LANGUAGES = ("sv", "en", "ar", "so", "fa", "fi")


@dataclass(frozen=True)
class Session:
    """One browser's session as the server keeps it (the browser holds only its id)."""

    id_hash: str
    csrf_token: str
    expires_at: datetime
    role: str | None = None
    subject_id: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def logged_in(self) -> bool:
        return self.access_token is not None


def id_hash(secret: str) -> str:
    """What the database keys a session by: never the cookie's secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def expired(session: Session, now: datetime) -> bool:
    return session.expires_at <= now


def extended(session: Session, now: datetime, idle: timedelta) -> datetime | None:
    """The session's new expiry after a request at ``now``, or None when not worth writing."""
    wanted = now + idle
    return wanted if wanted - session.expires_at >= EXTEND_STEP else None


def check_csrf(session: Session | None, method: str, sent: str | None) -> None:
    """A state change must carry the session's CSRF token (form field or header)."""
    if method.upper() not in UNSAFE_METHODS:
        return
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise Forbidden("the form is stale or came from another site: reload and try again")


def same_origin(origin: str | None, host: str | None) -> bool:
    """A WebSocket's Origin must be this site (cookies ride along on cross-site sockets)."""
    if not origin or not host:
        return False
    return origin.split("://", 1)[-1].rstrip("/") == host


def language(requested: str | None) -> str:
    """Swedish first: any language but the offered ones falls back to Swedish."""
    return requested if requested in LANGUAGES else "sv"


# --- what a person is told ----------------------------------------------------------------

#: A triage recommendation and the message key that says what to do, in plain words.
RECOMMENDATION_KEYS = {
    "call_112": "outcome.call_112",
    "call_1177_or_emergency": "outcome.call_1177",
    "digital_contact": "outcome.digital_contact",
    "book_visit": "outcome.book_visit",
    "self_care": "outcome.self_care",
}

#: Recommendations after which the case waits for staff in a queue.
QUEUED = frozenset({"digital_contact", "book_visit"})

#: What a patient may complain about (chat's complaint categories), in the form's order.
COMPLAINT_CATEGORIES = ("treatment", "waiting", "communication", "accessibility", "other")


def retriage_refusal_key(reason: str) -> str:
    """Why triage refused to let a patient answer again (its 409 reason), in plain words."""
    if "contact" in reason:
        return "retriage.in_contact"
    if "closed" in reason:
        return "retriage.closed"
    return "retriage.refused"


#: Why the e-ID or the register refused someone, in plain words (message keys).
REFUSAL_KEYS = {
    "under_one": "refused.under_one",
    "coordination_number": "refused.coordination_number",
    "protected_identity": "refused.protected_identity",
    "region_not_served": "refused.region_not_served",
    "not_in_register": "refused.not_in_register",
    "child_must_be_acted_for": "refused.child_must_be_acted_for",
    "not_staff": "refused.not_staff",
}

#: A failed e-ID order's hint code, in plain words.
HINT_KEYS = {
    "userCancel": "eid.cancelled",
    "expiredTransaction": "eid.expired",
    "certificateErr": "eid.failed",
    "startFailed": "eid.failed",
}


def refusal_key(code: str | None) -> str:
    return REFUSAL_KEYS.get(code or "", "refused.other")


def hint_key(code: str | None) -> str:
    return HINT_KEYS.get(code or "", "eid.failed")


def wait_minutes(seconds: float | None) -> int | None:
    """An estimated wait as whole minutes, at least one; None when there is nothing to go by."""
    if seconds is None:
        return None
    return max(1, round(seconds / 60))


def answer_value(kind: str, form: dict[str, list[str]], integer: bool) -> Any:
    """A triage answer from a posted form, shaped as triage's API wants it for ``kind``."""
    values = form.get("value", [])
    if kind == "multiple_choice":
        return [v for v in values if v]
    raw = values[0].strip() if values else ""
    if kind == "yes_no":
        if raw not in ("yes", "no"):
            raise ValueError("answer yes or no")
        return raw == "yes"
    if kind == "number":
        number = float(raw.replace(",", "."))
        return int(number) if integer and number.is_integer() else number
    if not raw:
        raise ValueError("an answer is needed")
    return raw


# --- attachments ------------------------------------------------------------------------------

#: chat's own limit (it checks again, by decoding): refused here first, in plain words.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: What a file's first bytes say it is; chat accepts these and nothing else.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def attachment_type(head: bytes) -> str | None:
    """The media type the bytes declare (never the file name's), or None."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def attachment_problem(data: bytes, max_bytes: int = MAX_ATTACHMENT_BYTES) -> str | None:
    """Why an upload cannot be sent (a message key), or None when it may go to chat."""
    if not data:
        return "attach.empty"
    if len(data) > max_bytes:
        return "attach.too_large"
    if attachment_type(data[:16]) is None:
        return "attach.wrong_type"
    return None


def refused_attachment_key(status: int) -> str:
    """chat's refusal of an attachment, in plain words (a message key)."""
    return {413: "attach.too_large", 415: "attach.wrong_type"}.get(status, "attach.failed")


def is_attachment_digest(value: str) -> bool:
    """An attachment's address: 64 lowercase hex digits (its SHA-256)."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def turn_reached(place: dict[str, Any] | None) -> bool:
    """Whether queue's view of a case (``None`` before queue has it) says its turn came:
    only then can chat hold a conversation for it."""
    return place is not None and place.get("status") == "in_contact"


def read_by_other(receipts: list[dict[str, Any]], role: str | None) -> int:
    """How far the other side has read (patient and guardian on one side, staff on the other)."""
    staff_side = role == "staff"
    return max(
        (
            int(r.get("up_to_sequence", r.get("up_to", 0)))
            for r in receipts
            if (r.get("reader_role") == "staff") != staff_side
        ),
        default=0,
    )
