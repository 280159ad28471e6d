"""An e-ID order's life, whichever replica answers: started, then approved, refused, expired or
cancelled, and collected once.

Pure: the instant is passed in. The order is kept in identity's database between requests,
so any replica can take the next step; these rules decide each step.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from careflow.identity.domain.logins import Realm
from careflow.kit.domain import Conflict, NotFound


class OrderStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class Order:
    """One e-ID order identity waits on, bound to the browser session that started it."""

    order_ref: str
    realm: Realm
    #: SHA-256 of the login secret handed to the browser that started the order.
    secret_hash: bytes
    auto_start_token: str
    qr_start_token: str
    #: Kept so that any replica can draw the animated QR code.
    qr_start_secret: str
    started_at: datetime
    #: After this the e-ID gives up waiting (``expiredTransaction``).
    expires_at: datetime
    #: After this identity forgets the order: collecting it answers 404.
    forget_at: datetime
    #: The person the order was started for, if one was named.
    expected_pin: str | None = None
    status: OrderStatus = OrderStatus.PENDING
    hint_code: str | None = "outstandingTransaction"
    completed_pin: str | None = None
    collected: bool = False
    #: OIDC only: the broker's ``state`` (used once), the PKCE verifier and the nonce.
    oidc_state: str | None = None
    code_verifier: str | None = None
    nonce: str | None = None


@dataclass(frozen=True)
class Collected:
    status: OrderStatus
    hint_code: str | None = None
    #: Set once complete: the 12-digit number the e-ID vouched for.
    personal_identity_number: str | None = None


def qr_data(order: Order, now: datetime) -> str:
    """The animated QR code's content at ``now`` (BankID's scheme: changes every second)."""
    seconds = int((now - order.started_at).total_seconds())
    auth = hmac.new(order.qr_start_secret.encode(), str(seconds).encode(), hashlib.sha256)
    return f"bankid.{order.qr_start_token}.{seconds}.{auth.hexdigest()}"


def known(order: Order | None, now: datetime) -> Order:
    """The order as it stands at ``now``: an unanswered order past its time has failed, and
    one past ``forget_at`` is no longer known."""
    if order is None or now >= order.forget_at:
        raise NotFound("no such login: it has expired or never existed; start a new login")
    if order.status is OrderStatus.PENDING and now > order.expires_at:
        return replace(order, status=OrderStatus.FAILED, hint_code="expiredTransaction")
    return order


def collect(order: Order) -> tuple[Order, Collected]:
    """The order's status; a completed order is handed over once, a replayed collect refused."""
    if order.status is OrderStatus.COMPLETE:
        if order.collected:
            raise Conflict("this order was already collected; start a new login")
        done = Collected(OrderStatus.COMPLETE, None, order.completed_pin)
        # The number is handed over once and not kept past it.
        return replace(order, collected=True, completed_pin=None), done
    return order, Collected(order.status, order.hint_code)


def cancel(order: Order) -> Order:
    """The person gave up: a pending order fails with ``userCancel``."""
    if order.status is OrderStatus.PENDING:
        return replace(order, status=OrderStatus.FAILED, hint_code="userCancel")
    return order


def approve(order: Order, pin: str) -> Order:
    """The person identified themselves in the (test) e-ID app."""
    if order.status is not OrderStatus.PENDING:
        raise Conflict(f"the order is {order.status.value}")
    if order.expected_pin is not None and order.expected_pin != pin:
        raise Conflict("the order was started for another person")
    return replace(order, status=OrderStatus.COMPLETE, hint_code=None, completed_pin=pin)


def take_callback(order: Order, state: str) -> Order:
    """The broker sent the browser back with ``state``: spent now, whatever follows."""
    if order.oidc_state is None or order.oidc_state != state:
        raise Conflict("this login's callback was already taken")
    if order.status is not OrderStatus.PENDING:
        raise Conflict("this login is already finished")
    return replace(order, oidc_state=None)


def complete(order: Order, pin: str | None) -> Order:
    """The broker's answer: the person it vouched for, or (``None``) none, as cancelled."""
    if order.status is not OrderStatus.PENDING:
        raise Conflict("this login is already finished")
    if pin is None:
        return cancel(order)
    return replace(order, status=OrderStatus.COMPLETE, hint_code=None, completed_pin=pin)
