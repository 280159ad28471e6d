"""Identity's HTTP API: e-ID login (patients and staff), acting for a child, dev tokens."""

import time
from collections import defaultdict, deque
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from careflow.identity import domain
from careflow.identity.eid import OrderStatus, TestEidProvider
from careflow.identity.register import PopulationRegister, SeedStaffCatalogue
from careflow.kit.auth import Principal, issue_token, require
from careflow.kit.domain import Forbidden
from careflow.kit.settings import Environment, ServiceSettings

ACCESS_TTL = timedelta(minutes=30)


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
    settings: ServiceSettings,
    register: PopulationRegister,
    staff: SeedStaffCatalogue,
    eid: TestEidProvider,
) -> APIRouter:
    api = APIRouter(tags=["identity"])
    secret = settings.token_secret.get_secret_value()
    key = secret.encode()
    production = settings.environment in (Environment.PRODUCTION, Environment.STAGING)
    per_client = RateLimiter(limit=20, window=60)
    per_person = RateLimiter(limit=5, window=60)
    realms: dict[str, str] = {}
    patient = Annotated[Principal, Depends(require(secret, "patient"))]

    def refuse_in_production() -> None:
        if production:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "development logins are refused in this environment"
            )

    def patient_token(person: domain.Person, child: domain.Person | None = None) -> Token:
        me = domain.subject_id(person.pin, key)
        child_id = domain.subject_id(child.pin, key) if child else None
        cared_for = child or person
        principal = Principal(
            subject_id=me,
            role="patient",
            region=cared_for.region or "",
            acting_for=child_id,
            personal_identity_number=cared_for.pin,
        )
        return Token(
            access_token=issue_token(secret, principal, ACCESS_TTL), subject_id=child_id or me
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
        return Order(
            order_ref=started.order_ref,
            auto_start_token=started.auto_start_token,
            qr_data=started.qr_data(time.time()),
        )

    @api.post("/eid/orders/{order_ref}/collect")
    async def collect(order_ref: str) -> CollectResult:
        collected = await eid.collect(order_ref)
        if collected.status is not OrderStatus.COMPLETE:
            return CollectResult(status=collected.status, hint_code=collected.hint_code)
        assert collected.personal_identity_number is not None
        today = date.today()
        number = domain.parse_identity_number(collected.personal_identity_number, today)
        if realms.pop(order_ref, "patient") == "staff":
            member = await staff.by_pin(number.digits)
            if member is None:
                return CollectResult(
                    status=collected.status,
                    refused=Refused(
                        code="not_staff", guidance="You are not in the staff catalogue."
                    ),
                )
            principal = Principal(
                subject_id=member.hsa_id,
                role="staff",
                region=member.region,
                name=member.name,
                title=member.title,
                care_unit=member.care_units[0],
            )
            return CollectResult(
                status=collected.status,
                login=Token(
                    access_token=issue_token(secret, principal, timedelta(hours=8)),
                    subject_id=member.hsa_id,
                ),
            )
        try:
            person = domain.check_patient(number, await register.lookup(number.digits), today)
        except domain.NotAllowed as refusal:
            return CollectResult(
                status=collected.status,
                refused=Refused(code=refusal.refusal.value, guidance=refusal.reason),
            )
        return CollectResult(status=collected.status, login=patient_token(person))

    @api.post("/eid/orders/{order_ref}/cancel", status_code=status.HTTP_204_NO_CONTENT)
    async def cancel(order_ref: str) -> None:
        await eid.cancel(order_ref)

    @api.post("/eid/test-app/{order_ref}/approve", status_code=status.HTTP_204_NO_CONTENT)
    async def test_app_approve(order_ref: str, body: TestAppApproval) -> None:
        """The development e-ID app: the person identifies themselves. Refused in production."""
        refuse_in_production()
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
        return patient_token(guardian, child)

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
