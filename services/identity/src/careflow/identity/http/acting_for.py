"""Acting for a child: a guardian's token for the child's cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from careflow.identity import service
from careflow.identity.http.models import ActFor, Child, Token
from careflow.kit.auth import Principal, require
from careflow.kit.problems import problems

Patient = Annotated[Principal, Depends(require("patient"))]


def router(identity: service.Identity) -> APIRouter:
    """Routes under ``/acting-for``."""
    api = APIRouter()

    @api.post("/acting-for", responses=problems(403))
    async def act_for(body: ActFor, caller: Patient) -> Token:
        """A guardian starts acting for their child: a token for the child's cases."""
        tokens = await service.act_for_child(identity, caller, body.child_personal_identity_number)
        return Token.model_validate(tokens)

    @api.get("/acting-for/children", responses=problems(403))
    async def children(caller: Patient) -> list[Child]:
        """The children the caller may act for today: their own, aged 1-12, from the
        population register (at 13 a child logs in themselves and is no longer listed)."""
        found = await service.children_to_act_for(identity, caller)
        return [Child.model_validate(c) for c in found]

    return api
