"""e-ID orders: start one, collect it until it ends, or cancel it."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from careflow.identity import service
from careflow.identity.http.models import CollectResult, Order, StartOrder
from careflow.kit.problems import problems


def router(identity: service.Identity) -> APIRouter:
    """Routes under ``/eid/orders``."""
    api = APIRouter()

    @api.post("/eid/orders", status_code=status.HTTP_201_CREATED, responses=problems(429))
    async def start_order(body: StartOrder, request: Request) -> Order:
        """Start an e-ID login (patient or staff realm); then collect it until it ends."""
        client = request.client.host if request.client else "unknown"
        started = await service.start_order(
            identity, body.realm, body.personal_identity_number, client
        )
        return Order.model_validate(started)

    @api.post("/eid/orders/{order_ref}/collect", responses=problems(404, 409))
    async def collect(order_ref: str) -> CollectResult:
        """The order's status; once complete, tokens or the reason the person was refused."""
        return CollectResult.model_validate(await service.collect(identity, order_ref))

    @api.post(
        "/eid/orders/{order_ref}/cancel",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(404),
    )
    async def cancel(order_ref: str) -> None:
        """The person gave up: a pending order fails with ``userCancel``."""
        await service.cancel(identity, order_ref)

    return api
