"""Identity's commands: every route calls these, and each runs in one transaction.

An e-ID provider (the development test app, or the region's OIDC broker) holds
its orders in process memory; once an order ends, the login session aggregate
decides what is recorded (``LoginSucceeded`` or ``LoginRefused``), and a
successful login's refresh token is issued in the same transaction as its
audit event. Without a database (tests of the login rules alone) the same
decisions are made but nothing is recorded and no refresh tokens are issued.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.identity import adapters, domain
from careflow.identity.eid import EidProvider, OrderStatus, TestEidProvider
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.register import PopulationRegister, StaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.auth import Principal, SigningKey, issue_token
from careflow.kit.clock import Clock, natural_id, today_in_sweden
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden, NotFound, TooManyRequests
from careflow.kit.settings import Environment

#: Development tokens live this long (they carry no refresh token).
DEV_PATIENT_TOKEN_TTL = timedelta(hours=2)
DEV_STAFF_TOKEN_TTL = timedelta(hours=8)


class TooManyAttempts(TooManyRequests):
    """Too many login attempts from one client or for one person."""


class RateLimiter:
    """At most ``limit`` calls per key in a sliding ``window``; in process memory."""

    def __init__(self, limit: int, window: timedelta, clock: Clock) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._calls: dict[str, deque[datetime]] = defaultdict(deque)

    def check(self, key: str) -> None:
        """Count a call for ``key``; raises ``TooManyAttempts`` past the limit."""
        now = self.clock.now()
        calls = self._calls[key]
        while calls and now - calls[0] > self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            raise TooManyAttempts("too many login attempts; wait a minute and try again")
        calls.append(now)


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


@dataclass
class Identity:
    """What identity's commands work with; composed once, in ``app.py``."""

    settings: IdentitySettings
    register: PopulationRegister
    staff: StaffCatalogue
    eid: EidProvider
    clock: Clock
    #: None in tests of the login rules alone: nothing is recorded, no refresh tokens.
    db: Database | None = None
    keys: list[SigningKey] = field(init=False)
    #: The realm each pending e-ID order was started for (in memory, like the orders).
    realms: dict[str, domain.Realm] = field(init=False, default_factory=dict)
    per_client: RateLimiter = field(init=False)
    per_person: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.keys = published_keys(self.settings)
        self.per_client = RateLimiter(limit=20, window=timedelta(seconds=60), clock=self.clock)
        self.per_person = RateLimiter(limit=5, window=timedelta(seconds=60), clock=self.clock)

    @property
    def access_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.access_token_minutes)

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.refresh_token_hours)

    @property
    def token_secret(self) -> str:
        """The HS256 secret of development tokens, also the key of pseudonymous subject ids."""
        return self.settings.token_secret.get_secret_value()

    def subject_of(self, pin: str) -> str:
        """The pseudonymous subject id of the person with this 12-digit number."""
        return domain.subject_id(pin, self.token_secret.encode())


# --- what commands answer ----------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """A signed access token, and (with a database) a refresh token."""

    access_token: str
    subject_id: str
    refresh_token: str | None = None
    expires_in: int | None = None


@dataclass(frozen=True)
class StartedLogin:
    """What a client needs to let the person identify themselves."""

    order_ref: str
    auto_start_token: str
    qr_data: str


@dataclass(frozen=True)
class Refused:
    """Why a completed login let no one in, with guidance for the person."""

    code: str
    guidance: str


@dataclass(frozen=True)
class LoginResult:
    """An order's status; once complete, either a login or a refusal."""

    status: OrderStatus
    hint_code: str | None = None
    login: Tokens | None = None
    refused: Refused | None = None


# --- e-ID logins -------------------------------------------------------------------------


def session_of(order_ref: str) -> UUID:
    """The login session of an e-ID order (one order, one session, one outcome)."""
    return natural_id("eid-order", order_ref)


async def start_order(
    identity: Identity, realm: domain.Realm, personal_identity_number: str | None, client: str
) -> StartedLogin:
    """Start an e-ID order, optionally for an expected person; rate limited per client and
    per person."""
    identity.per_client.check(client)
    pin = None
    if personal_identity_number:
        today = today_in_sweden(identity.clock)
        pin = domain.parse_identity_number(personal_identity_number, today).digits
        identity.per_person.check(pin)
    started = await identity.eid.start(pin)
    identity.realms[started.order_ref] = realm
    return StartedLogin(
        order_ref=started.order_ref,
        auto_start_token=started.auto_start_token,
        qr_data=started.qr_data(identity.clock.now().timestamp()),
    )


async def collect(identity: Identity, order_ref: str) -> LoginResult:
    """Poll an order; once it has ended, decide and record the login's outcome."""
    collected = await identity.eid.collect(order_ref)
    realm = identity.realms.get(order_ref, "patient")
    session = session_of(order_ref)
    if collected.status is OrderStatus.PENDING:
        return LoginResult(collected.status, collected.hint_code)
    if collected.status is OrderStatus.FAILED:
        failed = domain.FailedOrder(session, realm, collected.hint_code)
        now = identity.clock.now()
        async with _transaction(identity) as conn:
            await _decide(
                conn,
                session,
                lambda s: domain.decide_failed_order(s, failed, now, _outcome_id(session)),
            )
        return LoginResult(collected.status, collected.hint_code)
    identity.realms.pop(order_ref, None)
    assert collected.personal_identity_number is not None
    if realm == "staff":
        return await _staff_login(identity, session, collected.personal_identity_number)
    return await _patient_login(identity, session, collected.personal_identity_number)


async def _patient_login(identity: Identity, session: UUID, pin: str) -> LoginResult:
    today, now = today_in_sweden(identity.clock), identity.clock.now()
    number = domain.parse_identity_number(pin, today)
    person = await identity.register.lookup(number.digits)
    login = domain.PatientLogin(
        session, identity.eid.method, number, person, identity.subject_of(number.digits)
    )
    async with _transaction(identity) as conn:
        state = await _decide(
            conn,
            session,
            lambda s: domain.decide_patient_login(s, login, today, now, _outcome_id(session)),
        )
        if state.outcome is domain.Outcome.REFUSED:
            return _refused(state)
        assert person is not None  # the rules let only a registered person in
        tokens = await _tokens(identity, conn, _patient_principal(identity, person))
    return LoginResult(OrderStatus.COMPLETE, login=tokens)


async def _staff_login(identity: Identity, session: UUID, pin: str) -> LoginResult:
    number = domain.parse_identity_number(pin, today_in_sweden(identity.clock))
    member = await identity.staff.by_pin(number.digits)
    login = domain.StaffLogin(session, identity.eid.method, member)
    now = identity.clock.now()
    async with _transaction(identity) as conn:
        state = await _decide(
            conn,
            session,
            lambda s: domain.decide_staff_login(s, login, now, _outcome_id(session)),
        )
        if state.outcome is domain.Outcome.REFUSED:
            return _refused(state)
        assert member is not None  # the rules let only catalogued staff in
        principal = Principal(
            subject_id=member.hsa_id,
            role=member.role,
            region=member.region,
            name=member.name,
            title=member.title,
            care_unit=member.care_units[0],
        )
        tokens = await _tokens(identity, conn, principal)
    return LoginResult(OrderStatus.COMPLETE, login=tokens)


async def cancel(identity: Identity, order_ref: str) -> None:
    """The person gave up: a pending order fails (``userCancel``)."""
    await identity.eid.cancel(order_ref)


async def complete_oidc_login(
    identity: Identity, state: str, code: str | None, error: str | None
) -> None:
    """The e-ID broker sent the browser back: finish the order (the client then collects it)."""
    if not isinstance(identity.eid, OidcEidProvider):
        raise NotFound("OIDC login is not configured")
    await identity.eid.complete(state, code, error)


# --- acting for a child ------------------------------------------------------------------


async def act_for_child(
    identity: Identity, caller: Principal, child_personal_identity_number: str
) -> Tokens:
    """A guardian logged in as themselves starts acting for their child: a token for the
    child's cases, recorded as ``ActingForChildStarted``."""
    guardian = None
    if caller.acting_for is None and caller.personal_identity_number is not None:
        guardian = await identity.register.lookup(caller.personal_identity_number)
    if guardian is None:
        raise Forbidden("log in as yourself before acting for a child")
    today, now = today_in_sweden(identity.clock), identity.clock.now()
    child_number = domain.parse_identity_number(child_personal_identity_number, today)
    child = await identity.register.lookup(child_number.digits)
    session = identity.clock.new_id()
    acting = domain.ActForChild(
        session=session,
        guardian=guardian,
        guardian_id=identity.subject_of(guardian.pin),
        child_number=child_number,
        child=child,
        child_id=identity.subject_of(child_number.digits),
    )
    async with _transaction(identity) as conn:
        await _decide(
            conn,
            session,
            lambda s: domain.decide_acting_for(s, acting, today, now, _outcome_id(session)),
        )
        assert child is not None  # the decision let the guardian act for them
        return await _tokens(identity, conn, _patient_principal(identity, guardian, child))


# --- tokens ------------------------------------------------------------------------------


def jwks(identity: Identity) -> dict[str, list[dict[str, str]]]:
    """The public keys access tokens are signed with (current and still-valid earlier)."""
    return {"keys": [k.public_jwk() for k in identity.keys]}


async def refresh(identity: Identity, refresh_token: str) -> Tokens:
    """Swap a refresh token for a new access token and a new refresh token (rotation)."""
    if identity.db is None:
        raise NotFound("refresh tokens are not enabled")
    async with identity.db.transaction() as conn:
        principal = await adapters.redeem_refresh_token(conn, refresh_token, identity.clock.now())
        return await _tokens(identity, conn, principal)


async def revoke(identity: Identity, refresh_token: str) -> None:
    """Log out: the refresh token stops working at once (idempotent)."""
    if identity.db is not None:
        async with identity.db.transaction() as conn:
            await adapters.revoke_refresh_token(conn, refresh_token, identity.clock.now())


# --- development shortcuts (refused in staging and production) ---------------------------


def _refuse_in_production(identity: Identity) -> None:
    if identity.settings.environment in (Environment.PRODUCTION, Environment.STAGING):
        raise Forbidden("development logins are refused in this environment")


async def approve_in_test_app(
    identity: Identity, order_ref: str, personal_identity_number: str
) -> None:
    """The development e-ID app: the person identifies themselves."""
    _refuse_in_production(identity)
    if not isinstance(identity.eid, TestEidProvider):
        raise NotFound("no test e-ID app here")
    today = today_in_sweden(identity.clock)
    identity.eid.approve(
        order_ref, domain.parse_identity_number(personal_identity_number, today).digits
    )


async def dev_patient_token(
    identity: Identity, personal_identity_number: str, region: str, acting_for_pin: str | None
) -> Tokens:
    """A patient's development token, without e-ID (or a guardian's, acting for a child)."""
    _refuse_in_production(identity)
    today = today_in_sweden(identity.clock)
    pin = domain.normalise_pin(personal_identity_number, today)
    me = identity.subject_of(pin)
    child = None
    if acting_for_pin:
        child_pin = domain.normalise_pin(acting_for_pin, today)
        child = identity.subject_of(child_pin)
        pin = child_pin  # the case is the child's
    principal = Principal(
        subject_id=me, role="patient", region=region, acting_for=child, personal_identity_number=pin
    )
    token = issue_token(identity.token_secret, principal, DEV_PATIENT_TOKEN_TTL)
    return Tokens(access_token=token, subject_id=child or me)


async def dev_staff_token(
    identity: Identity, hsa_id: str, name: str, title: str, region: str, care_unit: str
) -> Tokens:
    """A member of staff's development token, without e-ID."""
    _refuse_in_production(identity)
    principal = Principal(
        subject_id=hsa_id,
        role="staff",
        region=region,
        name=name,
        title=title,
        care_unit=care_unit,
    )
    token = issue_token(identity.token_secret, principal, DEV_STAFF_TOKEN_TTL)
    return Tokens(access_token=token, subject_id=principal.subject_id)


# --- shared steps ------------------------------------------------------------------------


def _outcome_id(session: UUID) -> UUID:
    # A session records one outcome, so its event id follows from the session.
    return natural_id("login-session", str(session), "outcome")


@asynccontextmanager
async def _transaction(identity: Identity) -> AsyncIterator[AsyncConnection | None]:
    if identity.db is None:
        yield None
        return
    async with identity.db.transaction() as conn:
        yield conn


async def _decide(
    conn: AsyncConnection | None,
    session: UUID,
    decide: Callable[[domain.LoginSession], Sequence[Event]],
) -> domain.LoginSession:
    """Run a decision on a login session; recorded when there is a database."""
    if conn is None:
        state = domain.LoginSession()
        for event in decide(state):
            state = domain.evolve(state, event)
        return state
    state, _ = await adapters.LOGINS.execute(conn, adapters.stream_id(session), decide)
    return state


async def _tokens(identity: Identity, conn: AsyncConnection | None, principal: Principal) -> Tokens:
    access = identity.keys[0].sign(principal, identity.access_ttl)
    refresh_token = None
    if conn is not None:
        refresh_token = await adapters.issue_refresh_token(
            conn, principal, identity.clock.now(), identity.refresh_ttl
        )
    return Tokens(
        access_token=access,
        subject_id=principal.acting_for or principal.subject_id,
        refresh_token=refresh_token,
        expires_in=int(identity.access_ttl.total_seconds()),
    )


def _patient_principal(
    identity: Identity, person: domain.Person, child: domain.Person | None = None
) -> Principal:
    cared_for = child or person
    return Principal(
        subject_id=identity.subject_of(person.pin),
        role="patient",
        region=cared_for.region or "",
        acting_for=identity.subject_of(child.pin) if child else None,
        personal_identity_number=cared_for.pin,
    )


def _refused(state: domain.LoginSession) -> LoginResult:
    reason = state.reason or "failed"
    return LoginResult(
        OrderStatus.COMPLETE, refused=Refused(code=reason, guidance=domain.guidance(reason))
    )
