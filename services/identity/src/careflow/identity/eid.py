"""Swedish e-ID login behind one interface shaped like BankID's flow.

``start`` an order, ``collect`` its status until complete or failed, or
``cancel`` it; a started order carries what a client needs to show an animated
QR code or open the e-ID app on the same device. ``TestEidProvider`` runs the
same flow against the seeded test identities and is refused in production.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from careflow.identity.domain import LoginMethod
from careflow.kit.clock import Clock, SystemClock
from careflow.kit.domain import Conflict, NotFound


class OrderStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class StartedOrder:
    order_ref: str
    auto_start_token: str
    qr_start_token: str
    qr_start_secret: str
    started_at: float

    def qr_data(self, now: float) -> str:
        """The animated QR code's content at ``now`` (BankID's scheme: changes every second)."""
        seconds = int(now - self.started_at)
        auth = hmac.new(self.qr_start_secret.encode(), str(seconds).encode(), hashlib.sha256)
        return f"bankid.{self.qr_start_token}.{seconds}.{auth.hexdigest()}"


@dataclass(frozen=True)
class Collected:
    status: OrderStatus
    hint_code: str | None = None
    #: Set once complete: the 12-digit number the e-ID vouched for.
    personal_identity_number: str | None = None


class EidProvider(Protocol):
    #: How the provider authenticates people, as the login's audit event records it.
    method: LoginMethod
    #: Seconds an order waits for the person before it fails with ``expiredTransaction``.
    ttl_seconds: float

    async def start(self, personal_identity_number: str | None) -> StartedOrder: ...

    async def collect(self, order_ref: str) -> Collected: ...

    async def cancel(self, order_ref: str) -> None: ...

    def forget(self, order_ref: str) -> None:
        """Drop an order for good (expired, or collected): it is no longer known."""
        ...


@dataclass
class _Order:
    started: StartedOrder
    pin: str | None
    status: OrderStatus = OrderStatus.PENDING
    hint_code: str = "outstandingTransaction"
    completed_pin: str | None = None
    collected_complete: bool = False
    expires_at: float = field(default=0.0)


class TestEidProvider:
    """Development e-ID: the 'app' is a test endpoint that approves or rejects an order.

    An order expires after ``ttl_seconds`` unanswered, as BankID's do (hint
    ``expiredTransaction``). A completed order can be collected once; a
    replayed collect is refused.
    """

    __test__ = False  # not a pytest class

    method = LoginMethod.TEST_EID

    def __init__(self, ttl_seconds: float = 180.0, clock: Clock | None = None) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock: Clock = clock or SystemClock()
        self._orders: dict[str, _Order] = {}

    async def start(self, personal_identity_number: str | None) -> StartedOrder:
        now = self.clock.now().timestamp()
        started = StartedOrder(
            order_ref=secrets.token_hex(16),
            auto_start_token=secrets.token_urlsafe(24),
            qr_start_token=secrets.token_hex(16),
            qr_start_secret=secrets.token_hex(32),
            started_at=now,
        )
        self._orders[started.order_ref] = _Order(
            started, personal_identity_number, expires_at=now + self.ttl_seconds
        )
        return started

    def _order(self, order_ref: str) -> _Order:
        order = self._orders.get(order_ref)
        if order is None:
            raise NotFound("no such order")
        if order.status is OrderStatus.PENDING and self.clock.now().timestamp() > order.expires_at:
            order.status, order.hint_code = OrderStatus.FAILED, "expiredTransaction"
        return order

    async def collect(self, order_ref: str) -> Collected:
        order = self._order(order_ref)
        if order.status is OrderStatus.COMPLETE:
            if order.collected_complete:
                raise Conflict("this order was already collected; start a new login")
            order.collected_complete = True
            return Collected(OrderStatus.COMPLETE, None, order.completed_pin)
        return Collected(order.status, order.hint_code)

    async def cancel(self, order_ref: str) -> None:
        order = self._order(order_ref)
        if order.status is OrderStatus.PENDING:
            order.status, order.hint_code = OrderStatus.FAILED, "userCancel"

    def forget(self, order_ref: str) -> None:
        self._orders.pop(order_ref, None)

    # --- the test 'app' ------------------------------------------------------------------

    def approve(self, order_ref: str, personal_identity_number: str) -> None:
        """The person identifies themselves in the (test) e-ID app."""
        order = self._order(order_ref)
        if order.status is not OrderStatus.PENDING:
            raise Conflict(f"the order is {order.status.value}")
        if order.pin is not None and order.pin != personal_identity_number:
            raise Conflict("the order was started for another person")
        order.status, order.completed_pin = OrderStatus.COMPLETE, personal_identity_number

    def reject(self, order_ref: str) -> None:
        """The person declines in the (test) e-ID app."""
        order = self._order(order_ref)
        if order.status is OrderStatus.PENDING:
            order.status, order.hint_code = OrderStatus.FAILED, "userCancel"
