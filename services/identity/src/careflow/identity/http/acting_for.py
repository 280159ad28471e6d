"""Acting for a child: a guardian's token for the child's cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from careflow.identity import service
from careflow.identity.http.models import ActFor, Token
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

    return api
