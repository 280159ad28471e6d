"""Identity's HTTP API: e-ID login (patients and staff), acting for a child, dev tokens."""

import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from careflow.contracts import Actor, ActorRole, Event
from careflow.contracts.identity_events import (
    ActingForChildStarted,
    LoginRefused,
    LoginSucceeded,
)
from careflow.identity import adapters, domain
from careflow.identity.eid import OrderStatus, TestEidProvider
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.register import PopulationRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit import eventstore
from careflow.kit.auth import Principal, SigningKey, issue_token, require
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden
from careflow.kit.settings import Environment


class DevPatientLogin(BaseModel):
    personal_identity_number: str
    region: str = Field(min_length=1, max_length=64)
    acting_for_pin: str | None = Field(
        default=None, description="A child's number, for a guardian."
    )


class DevStaffLogin(BaseModel):
    hsa_id: str = Field(min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    title: Literal["nurse", "doctor", "psychologist", "administrator"]
    region: str = Field(min_length=1, max_length=64)
    care_unit: str = Field(min_length=1, max_length=200)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    subject_id: str
    refresh_token: str | None = None
    expires_in: int | None = None


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=20, max_length=200)


class StartOrder(BaseModel):
    realm: Literal["patient", "staff"] = "patient"
    personal_identity_number: str | None = Field(
        default=None, description="Optional: who is expected to sign (BankID's personalNumber)."
    )


class Order(BaseModel):
    order_ref: str
    auto_start_token: str
    qr_data: str


class Refused(BaseModel):
    code: str
    guidance: str


class CollectResult(BaseModel):
    status: OrderStatus
    hint_code: str | None = None
    login: Token | None = None
    refused: Refused | None = None


class TestAppApproval(BaseModel):
    personal_identity_number: str


class ActFor(BaseModel):
    child_personal_identity_number: str


def published_keys(settings: IdentitySettings) -> list[SigningKey]:
    """The current signing key first, then earlier ones still valid for verification."""
    current = SigningKey.from_seed(
        settings.token_signing_kid, settings.token_signing_seed.get_secret_value().encode()
    )
    return [current, *previous_keys(settings.token_previous_signing_keys.get_secret_value())]


def previous_keys(spec: str) -> list[SigningKey]:
    """Earlier signing keys ("kid=seed,kid=seed") still published for verification."""
    keys = []
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        kid, _, seed = pair.partition("=")
        keys.append(SigningKey.from_seed(kid, seed.encode()))
    return keys


def audit_login(
    session: uuid.UUID | None, subject: str, realm: Literal["patient", "staff"]
) -> Event:
    session = session or uuid.uuid4()
    return LoginSucceeded(
        case_id=session,
        occurred_at=datetime.now(UTC),
        producer="identity",
        correlation_id=session,
        actor=Actor(id=subject, role=ActorRole.PATIENT if realm == "patient" else ActorRole.STAFF),
        subject_id=subject,
        realm=realm,
        method="test-eid",
    )


def audit_refused(
    session: uuid.UUID | None, subject: str | None, realm: str, reason: str | None
) -> Event:
    session = session or uuid.uuid4()
    return LoginRefused(
        case_id=session,
        occurred_at=datetime.now(UTC),
        producer="identity",
        correlation_id=session,
        actor=Actor(id="identity", role=ActorRole.SYSTEM),
        subject_id=subject,
        realm="staff" if realm == "staff" else "patient",
        reason=(reason or "failed")[:64],
    )


class RateLimiter:
    """At most ``limit`` calls per key in a sliding ``window`` (seconds); in-process."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._calls: dict[str, deque[float]] = defaultdict(deque)

    def check(self, key: str) -> None:
        now = time.monotonic()
        calls = self._calls[key]
        while calls and now - calls[0] > self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many login attempts; wait a minute and try again",
            )
        calls.append(now)


def router(
    settings: IdentitySettings,
    register: PopulationRegister,
    staff: SeedStaffCatalogue,
    eid: TestEidProvider | OidcEidProvider,
    db: Database | None = None,
) -> APIRouter:
    """Identity's API. Without ``db`` (tests of the login rules alone) no refresh tokens or
    audit events are recorded."""
    api = APIRouter(tags=["identity"])
    secret = settings.token_secret.get_secret_value()
    published = published_keys(settings)
    signing = published[0]
    access_ttl = timedelta(minutes=settings.access_token_minutes)
    refresh_ttl = timedelta(hours=settings.refresh_token_hours)
    sessions: dict[str, uuid.UUID] = {}
    key = secret.encode()
    production = settings.environment in (Environment.PRODUCTION, Environment.STAGING)
    per_client = RateLimiter(limit=20, window=60)
    per_person = RateLimiter(limit=5, window=60)
    realms: dict[str, str] = {}

    async def tokens_for(
        principal: Principal, session: uuid.UUID | None, audit: list[Event]
    ) -> Token:
        """Sign an access token, and (with a database) issue a refresh token and record
        the audit events in the same transaction."""
        access = signing.sign(principal, access_ttl)
        refresh = None
        if db is not None:
            async with db.transaction() as conn:
                refresh = await adapters.issue_refresh_token(conn, principal, refresh_ttl)
                if session is not None and audit:
                    await eventstore.append(conn, f"login-{session}", 0, audit)
        return Token(
            access_token=access,
            subject_id=principal.acting_for or principal.subject_id,
            refresh_token=refresh,
            expires_in=int(access_ttl.total_seconds()),
        )

    async def record(session: uuid.UUID | None, audit: list[Event]) -> None:
        if db is not None and session is not None:
            async with db.transaction() as conn:
                await eventstore.append(conn, f"login-{session}", 0, audit)

    @api.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, list[dict[str, str]]]:
        """The public keys access tokens are signed with (current and still-valid earlier)."""
        return {"keys": [k.public_jwk() for k in published]}

    @api.post("/tokens/refresh")
    async def refresh(body: RefreshRequest) -> Token:
        """Swap a refresh token for a new access token and a new refresh token (rotation)."""
        if db is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "refresh tokens are not enabled")
        async with db.transaction() as conn:
            principal = await adapters.redeem_refresh_token(conn, body.refresh_token)
        return await tokens_for(principal, None, [])

    @api.post("/tokens/revoke", status_code=status.HTTP_204_NO_CONTENT)
    async def revoke(body: RefreshRequest) -> None:
        """Log out: the refresh token stops working at once."""
        if db is not None:
            async with db.transaction() as conn:
                await adapters.revoke_refresh_token(conn, body.refresh_token)

    patient = Annotated[Principal, Depends(require("patient"))]

    def refuse_in_production() -> None:
        if production:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "development logins are refused in this environment"
            )

    def patient_principal(person: domain.Person, child: domain.Person | None = None) -> Principal:
        cared_for = child or person
        return Principal(
            subject_id=domain.subject_id(person.pin, key),
            role="patient",
            region=cared_for.region or "",
            acting_for=domain.subject_id(child.pin, key) if child else None,
            personal_identity_number=cared_for.pin,
        )

    # --- e-ID login ----------------------------------------------------------------------

    @api.post("/eid/orders", status_code=status.HTTP_201_CREATED)
    async def start_order(body: StartOrder, request: Request) -> Order:
        per_client.check(request.client.host if request.client else "unknown")
        pin = None
        if body.personal_identity_number:
            pin = domain.parse_identity_number(body.personal_identity_number, date.today()).digits
            per_person.check(pin)
        started = await eid.start(pin)
        realms[started.order_ref] = body.realm
        sessions[started.order_ref] = uuid.uuid4()
        return Order(
            order_ref=started.order_ref,
            auto_start_token=started.auto_start_token,
            qr_data=started.qr_data(time.time()),
        )

    @api.post("/eid/orders/{order_ref}/collect")
    async def collect(order_ref: str) -> CollectResult:
        collected = await eid.collect(order_ref)
        realm = realms.get(order_ref, "patient")
        session = sessions.get(order_ref)
        if collected.status is not OrderStatus.COMPLETE:
            if collected.status is OrderStatus.FAILED and session is not None:
                sessions.pop(order_ref, None)
                await record(session, [audit_refused(session, None, realm, collected.hint_code)])
            return CollectResult(status=collected.status, hint_code=collected.hint_code)
        realms.pop(order_ref, None)
        sessions.pop(order_ref, None)
        assert collected.personal_identity_number is not None
        today = date.today()
        number = domain.parse_identity_number(collected.personal_identity_number, today)
        if realm == "staff":
            member = await staff.by_pin(number.digits)
            if member is None:
                await record(session, [audit_refused(session, None, "staff", "not_staff")])
                return CollectResult(
                    status=collected.status,
                    refused=Refused(
                        code="not_staff", guidance="You are not in the staff catalogue."
                    ),
                )
            principal = Principal(
                subject_id=member.hsa_id,
                # Auditors are in the staff catalogue too, but only ever read.
                role="auditor" if member.title == "auditor" else "staff",
                region=member.region,
                name=member.name,
                title=member.title,
                care_unit=member.care_units[0],
            )
            return CollectResult(
                status=collected.status,
                login=await tokens_for(
                    principal, session, [audit_login(session, member.hsa_id, "staff")]
                ),
            )
        me = domain.subject_id(number.digits, key)
        try:
            person = domain.check_patient(number, await register.lookup(number.digits), today)
        except domain.NotAllowed as refusal:
            await record(session, [audit_refused(session, me, "patient", refusal.refusal.value)])
            return CollectResult(
                status=collected.status,
                refused=Refused(code=refusal.refusal.value, guidance=refusal.reason),
            )
        return CollectResult(
            status=collected.status,
            login=await tokens_for(
                patient_principal(person), session, [audit_login(session, me, "patient")]
            ),
        )

    @api.get("/oidc/callback", status_code=status.HTTP_204_NO_CONTENT)
    async def oidc_callback(state: str, code: str | None = None, error: str | None = None) -> None:
        """Where the e-ID broker sends the browser back; the client then collects the order."""
        if not isinstance(eid, OidcEidProvider):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "OIDC login is not configured")
        await eid.complete(state, code, error)

    @api.post("/eid/orders/{order_ref}/cancel", status_code=status.HTTP_204_NO_CONTENT)
    async def cancel(order_ref: str) -> None:
        await eid.cancel(order_ref)

    @api.post("/eid/test-app/{order_ref}/approve", status_code=status.HTTP_204_NO_CONTENT)
    async def test_app_approve(order_ref: str, body: TestAppApproval) -> None:
        """The development e-ID app: the person identifies themselves. Refused in production."""
        refuse_in_production()
        if not isinstance(eid, TestEidProvider):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no test e-ID app here")
        eid.approve(
            order_ref,
            domain.parse_identity_number(body.personal_identity_number, date.today()).digits,
        )

    @api.post("/acting-for")
    async def act_for(body: ActFor, caller: patient) -> Token:
        """A guardian starts acting for their child: a token for the child's cases."""
        if caller.acting_for is not None or caller.personal_identity_number is None:
            raise Forbidden("log in as yourself before acting for a child")
        today = date.today()
        guardian = await register.lookup(caller.personal_identity_number)
        if guardian is None:
            raise Forbidden("log in as yourself before acting for a child")
        child_number = domain.parse_identity_number(body.child_personal_identity_number, today)
        child = domain.check_acting_for(
            guardian, child_number, await register.lookup(child_number.digits), today
        )
        principal = patient_principal(guardian, child)
        assert principal.acting_for is not None
        session = uuid.uuid4()
        started = ActingForChildStarted(
            case_id=session,
            occurred_at=datetime.now(UTC),
            producer="identity",
            correlation_id=session,
            actor=Actor(
                id=principal.subject_id, role=ActorRole.GUARDIAN, on_behalf_of=principal.acting_for
            ),
            guardian_id=principal.subject_id,
            child_id=principal.acting_for,
        )
        return await tokens_for(principal, session, [started])

    # --- development shortcuts -----------------------------------------------------------

    @api.post("/dev/patient-tokens")
    async def dev_patient_token(body: DevPatientLogin) -> Token:
        refuse_in_production()
        pin = domain.normalise_pin(body.personal_identity_number)
        me = domain.subject_id(pin, key)
        child = None
        if body.acting_for_pin:
            child_pin = domain.normalise_pin(body.acting_for_pin)
            child = domain.subject_id(child_pin, key)
            pin = child_pin  # the case is the child's
        principal = Principal(
            subject_id=me,
            role="patient",
            region=body.region,
            acting_for=child,
            personal_identity_number=pin,
        )
        return Token(
            access_token=issue_token(secret, principal, timedelta(hours=2)), subject_id=child or me
        )

    @api.post("/dev/staff-tokens")
    async def dev_staff_token(body: DevStaffLogin) -> Token:
        refuse_in_production()
        principal = Principal(
            subject_id=body.hsa_id,
            role="staff",
            region=body.region,
            name=body.name,
            title=body.title,
            care_unit=body.care_unit,
        )
        return Token(
            access_token=issue_token(secret, principal, timedelta(hours=8)), subject_id=body.hsa_id
        )

    return api
