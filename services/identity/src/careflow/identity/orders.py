"""Where pending e-ID orders are kept between requests: identity's database
(``adapters.PgOrders``), so that a login started on one replica is collected, or its
broker's callback taken, on another.

``MemoryOrders`` is for identity built without a database (tests of the login rules
alone); the service always has one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from careflow.identity.domain.orders import Order

T = TypeVar("T")


class Orders(Protocol):
    async def add(self, order: Order) -> None:
        """Keep a new order."""
        ...

    async def change(self, order_ref: str, decide: Callable[[Order | None], tuple[Order, T]]) -> T:
        """Let ``decide`` take the next step on the order (None: unknown), alone, and keep
        what it returns; if it raises, nothing changes."""
        ...

    async def by_state(self, state: str) -> str | None:
        """The order whose OIDC ``state`` is still unspent."""
        ...

    async def forget(self, now: datetime) -> None:
        """Drop orders past their ``forget_at``."""
        ...


class MemoryOrders:
    """Orders in this process only: for identity built without a database (rule tests)."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}

    async def add(self, order: Order) -> None:
        self._orders[order.order_ref] = order

    async def change(self, order_ref: str, decide: Callable[[Order | None], tuple[Order, T]]) -> T:
        after, answer = decide(self._orders.get(order_ref))
        self._orders[order_ref] = after
        return answer

    async def by_state(self, state: str) -> str | None:
        return next((r for r, o in self._orders.items() if o.oidc_state == state), None)

    async def forget(self, now: datetime) -> None:
        for order_ref in [r for r, o in self._orders.items() if o.forget_at <= now]:
            del self._orders[order_ref]
