"""What every page shares: the session from the cookie, CSRF, language, rendering,
security headers and problem pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careflow.kit.domain import DomainError, Forbidden
from careflow.kit.logging import get_logger
from careflow.kit.problems import problems
from careflow.web import domain, service
from careflow.web.adapters.backends import Unauthenticated, Unavailable
from careflow.web.domain import Session
from careflow.web.i18n import LANGUAGES, NATIVE_NAMES, direction, preferred, translator

log = get_logger(__name__)

SESSION_COOKIE = "cf_session"
LANG_COOKIE = "cf_lang"
CSRF_HEADER = "x-csrf-token"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

#: No inline script or style anywhere: every script and style is a file of this site.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

#: What every page route may answer besides its own problems: a redirect (after a form,
#: or to log in) and, for a script's request without a session, 401.
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "See Other: the next page, or the login page"},
    **problems(401),
}

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as people in Sweden read it (Europe/Stockholm)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _local_time_of_text(value, fmt)
    return value.astimezone(STOCKHOLM).strftime(fmt)


@lru_cache(maxsize=4096)
def _local_time_of_text(value: str, fmt: str) -> str:
    # A worklist shows the same deadline (a day's close) for most of its cases.
    return datetime.fromisoformat(value).astimezone(STOCKHOLM).strftime(fmt)


templates.env.filters["local_time"] = _local_time


@dataclass
class Page:
    """One request's session (created on first visit) and language."""

    session: Session | None
    language: str


def web_of(request: Request) -> service.Web:
    web: service.Web = request.app.state.web
    return web


async def load_page(request: Request) -> Page:
    """The router-wide dependency: find the session and check CSRF on every state change."""
    web = web_of(request)
    session = await service.current_session(web, request.cookies.get(SESSION_COOKIE))
    if session is None and request.method == "GET":
        secret, session = await service.new_session(web)
        request.state.set_session = secret
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.method in domain.UNSAFE_METHODS:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            field = (await request.form()).get("csrf")
            sent = field if isinstance(field, str) else None
    domain.check_csrf(session, request.method, sent)
    # A visitor who chose no language gets the first one their browser asks for that we have.
    chosen = request.cookies.get(LANG_COOKIE)
    page = Page(session, preferred(chosen, request.headers.get("accept-language")))
    request.state.page = page
    return page


def page_of(request: Request) -> Page:
    page: Page = request.state.page
    return page


def signed_in(request: Request, role: str) -> Session:
    """The logged-in session of ``role``; anyone else is sent to log in."""
    session = page_of(request).session
    if session is None or not session.logged_in or session.role != role:
        raise Unauthenticated()
    return session


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    page: Page | None = getattr(request.state, "page", None)
    language = (
        page.language
        if page
        else preferred(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )
    session = page.session if page else None
    who = session.data.get("who") if session and session.logged_in else None
    context = {
        "t": translator(language),
        "lang": language,
        "dir": direction(language),
        "languages": [(code, NATIVE_NAMES[code]) for code in LANGUAGES],
        "csrf": session.csrf_token if session else "",
        "who": who,
        # The given name of the child a guardian acts for: every page says so.
        "acting": (
            session.data.get("acting_name") if session and who and who.get("acting_for") else None
        ),
        "path": request.url.path,
        **values,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


class PageHeaders:
    """ASGI middleware: the security headers on every answer, and the session cookie a
    request set or ended (``request.state.set_session`` / ``clear_session``).

    Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs every page
    through a task and a memory stream, a millisecond or two of each page on a small
    machine."""

    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app, self.secure_cookies = app, secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The request's state lives in the scope: what the page set is read at the answer.
        state = scope.setdefault("state", {})
        page = not scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for cookie in self._cookies(state):
                    headers.append("set-cookie", cookie)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                if page:
                    # Pages carry health data: no browser, proxy or back-button cache keeps them.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookies(self, state: dict[str, Any]) -> list[str]:
        if not (state.get("set_session") or state.get("clear_session")):
            return []
        made = Response()  # Starlette's cookie formatting, without a second copy of it here
        if state.get("set_session"):
            made.set_cookie(
                SESSION_COOKIE,
                state["set_session"],
                httponly=True,
                samesite="lax",
                secure=self.secure_cookies,
                path="/",
            )
        if state.get("clear_session"):
            made.delete_cookie(SESSION_COOKIE, path="/")
        return [v.decode("latin-1") for k, v in made.raw_headers if k == b"set-cookie"]


def install(app: FastAPI, secure_cookies: bool) -> None:
    """Security headers and cookies on every answer; problems as pages people can read."""

    app.add_middleware(PageHeaders, secure_cookies=secure_cookies)

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def problem(request: Request, status: int, key: str, detail: str = "") -> Response:
        if wants_json(request):
            return JSONResponse({"status": status, "detail": detail}, status_code=status)
        return render(request, "problem.html", status, status=status, key=key, detail=detail)

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> Response:
        key = {403: "problem.forbidden", 404: "problem.not_found", 409: "problem.conflict"}
        status = exc.status_code
        shown = exc.reason if status in (409, 422) else ""
        if isinstance(exc, Forbidden) and "form is stale" in exc.reason:
            shown = ""
        return problem(request, status, key.get(status, "problem.invalid"), shown)

    @app.exception_handler(Unauthenticated)
    async def log_in_again(request: Request, _: Unauthenticated) -> Response:
        if wants_json(request) or request.method != "GET":
            return JSONResponse({"status": 401, "detail": "log in"}, status_code=401)
        staff = request.url.path.startswith(("/staff", "/audit"))
        target = "/staff/login" if staff else "/login"
        return redirect(target)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        log.warning("upstream_unavailable", reason=str(exc))
        return problem(request, 503, "problem.unavailable")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        keys = {404: "problem.not_found", 405: "problem.invalid"}
        return problem(request, exc.status_code, keys.get(exc.status_code, "problem.invalid"))
