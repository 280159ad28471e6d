"""Logging in with e-ID (patients and staff), the test e-ID app, language and logging out."""

from __future__ import annotations

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse

from careflow.kit.domain import NotFound
from careflow.kit.problems import problems
from careflow.web import domain, service
from careflow.web.http.common import (
    LANG_COOKIE,
    PAGE_RESPONSES,
    load_page,
    page_of,
    redirect,
    render,
    web_of,
)
from careflow.web.i18n import translator


def qr_svg(data: str) -> str:
    """The e-ID QR code as SVG markup (no script, no style element: allowed by the CSP)."""
    out = io.BytesIO()
    segno.make(data, error="l").save(
        out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title="e-ID QR"
    )
    return out.getvalue().decode()


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/")
    async def home(request: Request) -> Response:
        session = page_of(request).session
        if session is not None and session.logged_in:
            return redirect(service.HOME.get(session.role or "", "/start"))
        return render(request, "login.html", realm="patient")

    @api.get("/login")
    async def login(request: Request) -> Response:
        return render(request, "login.html", realm="patient")

    @api.get("/staff/login")
    async def staff_login(request: Request) -> Response:
        return render(request, "login.html", realm="staff")

    @api.post("/login", responses=problems(403, 429))
    async def start(request: Request, realm: Annotated[str, Form()] = "patient") -> Response:
        """Start an e-ID order and follow it on the waiting page."""
        session = page_of(request).session
        assert session is not None  # the CSRF check needs one
        client = request.client.host if request.client else None
        await service.start_login(web_of(request), session, _realm(realm), client)
        return redirect("/login/wait")

    @api.get("/login/wait", responses=problems(404))
    async def wait(request: Request) -> Response:
        session = page_of(request).session
        login = service.pending_login(session) if session else None
        if login is None:
            raise NotFound("no login in progress")
        web = web_of(request)
        if web.settings.test_eid:
            open_here = f"/eid/test-app?order={login['order_ref']}"
        else:
            open_here = f"bankid:///?autostarttoken={login['auto_start_token']}&redirect=null"
        return render(
            request,
            "login_wait.html",
            open_here=open_here,
            realm=login["realm"],
        )

    @api.post("/login/status", responses=problems(403, 404, 409))
    async def status(request: Request) -> Response:
        """Where the order is (the waiting page asks every second)."""
        page = page_of(request)
        assert page.session is not None
        progress = await service.follow_login(web_of(request), page.session)
        if progress.secret:
            request.state.set_session = progress.secret
        t = translator(page.language)
        body: dict[str, Any] = {
            "status": progress.status,
            "message": t(progress.message_key) if progress.message_key else "",
            "next": progress.next,
        }
        return JSONResponse(body)

    @api.get("/login/qr.svg", responses=problems(404))
    async def qr(request: Request) -> Response:
        session = page_of(request).session
        login = service.pending_login(session) if session else None
        if login is None:
            raise NotFound("no login in progress")
        return Response(qr_svg(login["qr_data"]), media_type="image/svg+xml")

    @api.post("/login/cancel", responses=problems(403, 404))
    async def cancel(request: Request) -> Response:
        session = page_of(request).session
        assert session is not None
        await service.cancel_login(web_of(request), session)
        return redirect("/")

    @api.get("/eid/test-app", responses=problems(404))
    async def test_app(request: Request, order: str) -> Response:
        """The development e-ID app: the person says who they are. Not in production."""
        if not web_of(request).settings.test_eid:
            raise NotFound("no test e-ID here")
        return render(request, "test_eid.html", order=order)

    @api.post("/eid/test-app", responses=problems(403, 404, 409))
    async def test_app_approve(
        request: Request,
        order: Annotated[str, Form(max_length=64)],
        pin: Annotated[str, Form(max_length=20)],
    ) -> Response:
        await service.approve_in_test_app(web_of(request), order, pin)
        return redirect("/login/wait")

    @api.post("/lang", responses=problems(403))
    async def language(
        request: Request,
        lang: Annotated[str, Form()],
        back: Annotated[str, Form()] = "/",
    ) -> Response:
        response = redirect(back if back.startswith("/") and not back.startswith("//") else "/")
        response.set_cookie(
            LANG_COOKIE,
            domain.language(lang),
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=web_of(request).settings.secure_cookies,
        )
        return response

    @api.post("/logout", responses=problems(403))
    async def logout(request: Request) -> Response:
        session = page_of(request).session
        if session is not None:
            await service.log_out(web_of(request), session)
        request.state.clear_session = True
        return redirect("/")

    return api


def _realm(value: str) -> str:
    return "staff" if value == "staff" else "patient"
