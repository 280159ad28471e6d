"""Identity's HTTP API: e-ID login (patients and staff), acting for a child, tokens, and
development shortcuts. One router per resource; each route calls one command of
``careflow.identity.service``."""

from __future__ import annotations

from fastapi import APIRouter

from careflow.identity import service
from careflow.identity.http import acting_for, dev, eid_orders, oidc, tokens


def router(identity: service.Identity) -> APIRouter:
    """Every identity route, for ``ServiceRuntime.create_app``."""
    api = APIRouter(tags=["identity"])
    for resource in (tokens, eid_orders, oidc, acting_for, dev):
        api.include_router(resource.router(identity))
    return api
