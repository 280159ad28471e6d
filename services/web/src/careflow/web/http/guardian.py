"""A guardian's pages: choose a child to act for, and act as themselves again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from careflow.kit.problems import problems
from careflow.web import guardian
from careflow.web.http.common import PAGE_RESPONSES, load_page, redirect, render, signed_in, web_of


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/children", responses=problems(403))
    async def children(request: Request) -> Response:
        session = signed_in(request, "patient")
        acting = guardian.acting_for(session)
        found = [] if acting is not None else await guardian.children(web_of(request), session)
        return render(request, "children.html", children=found)

    @api.post("/children/act", responses=problems(403, 404))
    async def act_for(request: Request, child: Annotated[int, Form(ge=0, le=50)]) -> Response:
        session = signed_in(request, "patient")
        await guardian.act_for(web_of(request), session, child)
        return redirect("/start")

    @api.post("/children/stop", responses=problems(403))
    async def act_as_myself(request: Request) -> Response:
        session = signed_in(request, "patient")
        await guardian.act_as_myself(web_of(request), session)
        return redirect("/children")

    return api
