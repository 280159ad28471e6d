"""e-ID orders: start one, collect it until it ends, or cancel it.

Starting an order sets the login-session cookie: an HttpOnly secret that binds the
order to the browser that started it. Collecting, cancelling and the broker's
callback all need it; the order reference (or the broker's ``state``) alone is not
enough to take over someone's login.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Header, Request, Response, status

from careflow.identity import domain, service
from careflow.identity.http.models import CollectResult, Order, StartOrder
from careflow.kit.i18n import negotiate
from careflow.kit.problems import problems
from careflow.kit.settings import Environment

#: The login-session cookie (HttpOnly; never in a URL).
LOGIN_COOKIE = "careflow_login"
#: Sent only to identity's own routes.
COOKIE_PATH = "/identity"

LoginSecret = Annotated[
    str | None,
    Cookie(
        alias=LOGIN_COOKIE, description="The login session's secret, set by starting the order."
    ),
]


def router(identity: service.Identity) -> APIRouter:
    """Routes under ``/eid/orders``."""
    api = APIRouter()
    # Plain http only where nothing real is at stake (a developer's machine, the tests).
    secure = identity.settings.environment not in (Environment.DEV, Environment.TEST)

    @api.post("/eid/orders", status_code=status.HTTP_201_CREATED, responses=problems(429))
    async def start_order(body: StartOrder, request: Request, response: Response) -> Order:
        """Start an e-ID login (patient or staff realm); then collect it until it ends.

        Sets the login-session cookie that the callback, collect and cancel require."""
        peer = request.client.host if request.client else None
        client = service.client_of(identity, peer, request.headers.get("x-forwarded-for"))
        started = await service.start_order(
            identity, body.realm, body.personal_identity_number, client
        )
        response.set_cookie(
            LOGIN_COOKIE,
            started.login_secret,
            max_age=started.expires_in,
            path=COOKIE_PATH,
            secure=secure,
            httponly=True,
            # Lax: the broker's redirect back (a top-level GET) still carries it.
            samesite="lax",
        )
        return Order.model_validate(started)

    @api.post("/eid/orders/{order_ref}/collect", responses=problems(403, 404, 409))
    async def collect(
        order_ref: str,
        login_secret: LoginSecret = None,
        accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> CollectResult:
        """The order's status; once complete, tokens or the reason the person was refused
        (its guidance in the ``Accept-Language`` asked for: sv, en, ar, so, fa or fi).

        Only in the browser session that started the order (its login-session cookie)."""
        result = await service.collect(identity, order_ref, login_secret)
        answer = CollectResult.model_validate(result)
        language = negotiate(accept_language)
        if answer.refused is not None and language is not None:
            guidance = domain.guidance(answer.refused.code, language)
            answer = answer.model_copy(
                update={"refused": answer.refused.model_copy(update={"guidance": guidance})}
            )
        return answer

    @api.post(
        "/eid/orders/{order_ref}/cancel",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(403, 404),
    )
    async def cancel(order_ref: str, login_secret: LoginSecret = None) -> None:
        """The person gave up: a pending order fails with ``userCancel``."""
        await service.cancel(identity, order_ref, login_secret)

    return api
