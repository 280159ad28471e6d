"""Notify's HTTP API: a patient's notifications for a case, and how they want to be reached.

Every answer carries a case's data or a person's contact details: the kit marks all
``Cache-Control: no-store``.
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from careflow.kit.auth import Principal, require
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import NotFound
from careflow.kit.problems import problems
from careflow.notify import domain, service
from careflow.notify.channels import PushEndpoints


class Notification(BaseModel):
    notification_id: UUID
    case_id: UUID
    kind: str
    channel: str
    created_at: datetime


class Seen(BaseModel):
    notification_id: UUID
    seen_at: datetime


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class PushSubscription(BaseModel):
    """A browser's PushSubscription, as ``subscription.toJSON()`` gives it."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(min_length=1, max_length=1000)
    keys: PushKeys


class Preferences(BaseModel):
    """How the caller wants to be reached; a chosen channel needs its contact detail."""

    model_config = ConfigDict(extra="forbid")

    language: Literal["sv", "en"] = "sv"
    channels: list[Literal["sms", "email", "push"]] = Field(default_factory=list, max_length=3)
    phone: str | None = Field(default=None, max_length=32, examples=["+46701234567"])
    email: str | None = Field(default=None, max_length=254)
    push_subscription: PushSubscription | None = None

    def to_domain(self) -> domain.ContactPreferences:
        sub: dict[str, Any] | None = (
            self.push_subscription.model_dump() if self.push_subscription else None
        )
        return domain.ContactPreferences(
            language=self.language,
            channels=frozenset(self.channels),
            phone=self.phone,
            email=self.email,
            push_subscription=sub,
        )

    @classmethod
    def from_domain(cls, prefs: domain.ContactPreferences) -> "Preferences":
        return cls(
            language=prefs.language,
            channels=sorted(prefs.channels),
            phone=prefs.phone,
            email=prefs.email,
            push_subscription=(
                PushSubscription.model_validate(prefs.push_subscription)
                if prefs.push_subscription
                else None
            ),
        )


class Delivery(BaseModel):
    """One notification through an outside channel, without its contact detail."""

    delivery_id: UUID
    kind: str
    channel: str
    status: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None


class PushKey(BaseModel):
    """What a browser subscribes to Web Push with."""

    public_key: str = Field(description="The VAPID public key (applicationServerKey), base64url.")


def router(
    db: Database,
    clock: Clock,
    push: PushEndpoints | None = None,
    push_public_key: str | None = None,
) -> APIRouter:
    """Notify's routes: a case's notifications and deliveries, the caller's preferences.

    ``push`` says which Web Push endpoints a subscription may name; ``push_public_key`` is
    the VAPID key browsers subscribe with (None: Web Push is off).
    """
    api = APIRouter(tags=["notify"])
    anyone = Annotated[Principal, Depends(require())]
    patient = Annotated[Principal, Depends(require("patient"))]

    @api.get("/cases/{case_id}/notifications", responses=problems(404))
    async def list_notifications(case_id: UUID, caller: anyone) -> list[Notification]:
        """The in-app notifications of a case the caller may see."""
        rows = await service.case_notifications(db, clock, caller, case_id)
        return [Notification.model_validate(r) for r in rows]

    @api.post("/cases/{case_id}/notifications/{notification_id}/seen", responses=problems(403, 404))
    async def mark_seen(case_id: UUID, notification_id: UUID, caller: anyone) -> Seen:
        """The patient's app showed this notification: they are reached (first time counts)."""
        at = await service.seen(db, clock, caller, case_id, notification_id)
        return Seen(notification_id=notification_id, seen_at=at)

    @api.get("/cases/{case_id}/deliveries", responses=problems(404))
    async def list_deliveries(case_id: UUID, caller: anyone) -> list[Delivery]:
        """What was sent about a case through SMS, e-mail and push, and how it went."""
        rows = await service.case_deliveries(db, clock, caller, case_id)
        return [Delivery.model_validate(r) for r in rows]

    @api.get("/preferences", responses=problems(401, 403))
    async def get_preferences(caller: patient) -> Preferences:
        """The caller's own contact preferences (none chosen until they set them)."""
        return Preferences.from_domain(await service.preferences(db, caller))

    @api.put("/preferences", responses=problems(422))
    async def put_preferences(body: Preferences, caller: patient) -> Preferences:
        """Replace the caller's contact preferences; later notifications follow them."""
        prefs = await service.set_preferences(db, clock, caller, body.to_domain(), push)
        return Preferences.from_domain(prefs)

    @api.get("/push/public-key", responses=problems(404))
    async def push_key(caller: patient) -> PushKey:
        """The key a browser subscribes to Web Push with; 404 while Web Push is off."""
        if push_public_key is None:
            raise NotFound("Web Push is not configured")
        return PushKey(public_key=push_public_key)

    return api
