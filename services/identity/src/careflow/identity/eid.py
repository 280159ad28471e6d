"""Swedish e-ID login behind one interface shaped like BankID's flow.

A provider ``start``s an order: what a client needs to show an animated QR code
or open the e-ID app on the same device. The order itself (its status, its
expiry, whether it was collected) is kept in identity's database by the
service, so that any replica can take the next step. ``TestEidProvider`` runs
the same flow against the seeded test identities and is refused in production.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from careflow.identity.domain import LoginMethod
from careflow.identity.domain.orders import Collected, OrderStatus

__all__ = ["Collected", "EidProvider", "OrderStatus", "StartedOrder", "TestEidProvider"]


@dataclass(frozen=True)
class StartedOrder:
    order_ref: str
    auto_start_token: str
    qr_start_token: str
    qr_start_secret: str
    #: OIDC only: the broker's ``state``, the PKCE verifier and the nonce of the login.
    oidc_state: str | None = None
    code_verifier: str | None = None
    nonce: str | None = None


def new_order(auto_start_token: str | None = None, **oidc: str) -> StartedOrder:
    """Fresh random references and QR secrets for one order."""
    return StartedOrder(
        order_ref=secrets.token_hex(16),
        auto_start_token=auto_start_token or secrets.token_urlsafe(24),
        qr_start_token=secrets.token_hex(16),
        qr_start_secret=secrets.token_hex(32),
        **oidc,
    )


class EidProvider(Protocol):
    #: How the provider authenticates people, as the login's audit event records it.
    method: LoginMethod
    #: Seconds an order waits for the person before it fails with ``expiredTransaction``.
    ttl_seconds: float

    async def start(self, personal_identity_number: str | None) -> StartedOrder: ...


class TestEidProvider:
    """Development e-ID: the 'app' is a test endpoint that approves or rejects an order.

    An order expires after ``ttl_seconds`` unanswered, as BankID's do (hint
    ``expiredTransaction``).
    """

    __test__ = False  # not a pytest class

    method = LoginMethod.TEST_EID

    def __init__(self, ttl_seconds: float = 180.0) -> None:
        self.ttl_seconds = ttl_seconds

    async def start(self, personal_identity_number: str | None) -> StartedOrder:
        return new_order()
