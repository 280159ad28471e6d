"""Identity's commands: every route calls these, and each runs in one transaction.

An e-ID provider (the development test app, or the region's OIDC broker) starts
orders; identity keeps them in its database (``orders``) with the browser's
hashed login secret, so any replica takes the next step, and counts login
attempts there too. Once an order ends, the login session aggregate
decides what is recorded (``LoginSucceeded`` or ``LoginRefused``), and a
successful login's refresh token is issued in the same transaction as its
audit event. Without a database (tests of the login rules alone) the same
decisions are made but nothing is recorded and no refresh tokens are issued.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseOpened, Event
from careflow.identity import adapters, domain
from careflow.identity.domain import orders
from careflow.identity.eid import EidProvider, OrderStatus, TestEidProvider
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.orders import MemoryOrders, Orders
from careflow.identity.register import PopulationRegister, StaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit import eventstore
from careflow.kit.auth import Principal, SigningKey, issue_token
from careflow.kit.clock import Clock, natural_id, today_in_sweden
from careflow.kit.db import Database
from careflow.kit.domain import DomainError, Forbidden, NotFound, TooManyRequests
from careflow.kit.settings import Environment

#: Development tokens live this long (they carry no refresh token).
DEV_PATIENT_TOKEN_TTL = timedelta(hours=2)
DEV_STAFF_TOKEN_TTL = timedelta(hours=8)
#: An ended order is still answered (``failed``, ``expiredTransaction``) this long past its
#: e-ID time-to-live; then it is forgotten, and collecting it answers 404.
ORDER_GRACE = timedelta(seconds=60)


class TooManyAttempts(TooManyRequests):
    """Too many login attempts from one client or for one person."""


class RefreshRefused(DomainError):
    """A refresh token that no longer works (401): log in again."""

    status_code = 401
    slug = "invalid-refresh-token"


#: Order starts allowed per client address, and per expected person, in ``LIMIT_WINDOW``.
PER_CLIENT_LIMIT = 20
PER_PERSON_LIMIT = 5
LIMIT_WINDOW = timedelta(seconds=60)


def _secret_hash(login_secret: str) -> bytes:
    return hashlib.sha256(login_secret.encode()).digest()


def signing_key(settings: IdentitySettings) -> SigningKey:
    """The one key identity signs with; retired keys are held as public keys only."""
    return SigningKey.from_seed(
        settings.token_signing_kid, settings.token_signing_seed.get_secret_value().encode()
    )


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
    #: The signing key (the only private key identity holds).
    key: SigningKey = field(init=False)
    #: Pending e-ID orders: in the database, shared by every replica.
    orders: Orders = field(init=False)

    proxies: tuple[domain.Network, ...] = field(init=False)
    #: Whose number each subject id is, without a database (tests of the login rules
    #: alone); with one it is the ``subjects`` table.
    numbers: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.key = signing_key(self.settings)
        self.orders = adapters.PgOrders(self.db) if self.db is not None else MemoryOrders()
        self.proxies = domain.trusted_networks(self.settings.trusted_proxies)

    @property
    def access_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.access_token_minutes)

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.refresh_token_hours)

    @property
    def token_secret(self) -> str:
        """The HS256 secret of development tokens (every service holds it)."""
        return self.settings.token_secret.get_secret_value()

    @property
    def pseudonym_key(self) -> bytes:
        """The key of pseudonymous subject ids and rate-limit keys: identity's alone."""
        return self.settings.pseudonym_key.get_secret_value().encode()

    def subject_of(self, pin: str) -> str:
        """The pseudonymous subject id of the person with this 12-digit number."""
        return domain.subject_id(pin, self.pseudonym_key)


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
    """What a client needs to let the person identify themselves.

    ``login_secret`` binds the order to the browser session that started it: only
    its holder may follow the broker's callback, collect or cancel the order. It
    never appears in a URL (the HTTP layer hands it over as an HttpOnly cookie).
    """

    order_ref: str
    auto_start_token: str
    qr_data: str
    login_secret: str
    expires_in: int


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
    await _limit(identity, PER_CLIENT_LIMIT, "client", client)
    pin = None
    if personal_identity_number:
        today = today_in_sweden(identity.clock)
        pin = domain.parse_identity_number(personal_identity_number, today).digits
        await _limit(identity, PER_PERSON_LIMIT, "person", pin)
    now = identity.clock.now()
    await identity.orders.forget(now)
    started = await identity.eid.start(pin)
    login_secret = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=identity.eid.ttl_seconds) + ORDER_GRACE
    order = orders.Order(
        order_ref=started.order_ref,
        realm=realm,
        secret_hash=_secret_hash(login_secret),
        auto_start_token=started.auto_start_token,
        qr_start_token=started.qr_start_token,
        qr_start_secret=started.qr_start_secret,
        started_at=now,
        expires_at=now + timedelta(seconds=identity.eid.ttl_seconds),
        forget_at=now + lifetime,
        expected_pin=pin,
        oidc_state=started.oidc_state,
        code_verifier=started.code_verifier,
        nonce=started.nonce,
    )
    await identity.orders.add(order)
    return StartedLogin(
        order_ref=started.order_ref,
        auto_start_token=started.auto_start_token,
        qr_data=orders.qr_data(order, now),
        login_secret=login_secret,
        expires_in=int(lifetime.total_seconds()),
    )


def client_of(identity: Identity, peer: str | None, forwarded_for: str | None) -> str:
    """Who a request came from: its peer, or behind a trusted proxy the forwarded client."""
    return domain.client_address(peer or "unknown", forwarded_for, identity.proxies)


async def _limit(identity: Identity, limit: int, scope: str, value: str) -> None:
    """Count one attempt for ``value``; past ``limit`` in ``LIMIT_WINDOW``, ``TooManyAttempts``.

    The count is kept in PostgreSQL, shared by every replica, under a keyed hash of the value
    (no address or identity number is stored). Without a database (tests of the login rules
    alone) nothing is counted."""
    if identity.db is None:
        return
    key = hmac.new(identity.pseudonym_key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()
    now = identity.clock.now()
    async with identity.db.transaction() as conn:
        if await adapters.attempts_since(conn, key, now - LIMIT_WINDOW) >= limit:
            raise TooManyAttempts("too many login attempts; wait a minute and try again")
        await adapters.record_attempt(conn, key, now)


T = TypeVar("T")

#: What identity's order references and OIDC states look like (hex, URL-safe base64): anything
#: else names no order, and is not worth a database round trip.
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{1,128}")


async def _step(
    identity: Identity,
    order_ref: str,
    login_secret: str | None,
    step: Callable[[orders.Order], tuple[orders.Order, T]],
    *,
    in_browser: bool = True,
) -> T:
    """Take ``step`` on the order, if the caller holds the login secret of the browser session
    that started it (``in_browser=False``: the test e-ID app, standing for the person's phone,
    which never held it)."""
    if not _REFERENCE.fullmatch(order_ref):
        raise NotFound("no such login: it has expired or never existed; start a new login")
    now = identity.clock.now()

    def decide(found: orders.Order | None) -> tuple[orders.Order, T]:
        order = orders.known(found, now)
        if in_browser and (
            login_secret is None
            or not hmac.compare_digest(order.secret_hash, _secret_hash(login_secret))
        ):
            raise Forbidden("this login was started in another browser session")
        return step(order)

    return await identity.orders.change(order_ref, decide)


async def collect(identity: Identity, order_ref: str, login_secret: str | None) -> LoginResult:
    """Poll an order; once it has ended, decide and record the login's outcome.

    Only the browser session that started the order (holding its login secret) may collect it.
    """

    def step(order: orders.Order) -> tuple[orders.Order, tuple[domain.Realm, orders.Collected]]:
        after, collected = orders.collect(order)
        return after, (order.realm, collected)

    realm, collected = await _step(identity, order_ref, login_secret, step)
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
        await _remember(identity, conn, person)
        principal = _patient_principal(identity, today, person)
        tokens = await _tokens(identity, conn, principal, person.pin)
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
        tokens = await _tokens(identity, conn, principal, member.pin)
    return LoginResult(OrderStatus.COMPLETE, login=tokens)


async def cancel(identity: Identity, order_ref: str, login_secret: str | None) -> None:
    """The person gave up: a pending order fails (``userCancel``)."""
    await _step(identity, order_ref, login_secret, lambda o: (orders.cancel(o), None))


async def complete_oidc_login(
    identity: Identity, state: str, code: str | None, error: str | None, login_secret: str | None
) -> None:
    """The e-ID broker sent the browser back: finish the order (the client then collects it).

    Only in the browser session that started the login: a code the broker gave someone
    else's browser cannot finish this one's login, nor this one's someone else's. A state is
    spent by its first callback from that browser, on whichever replica it lands.
    """
    provider = identity.eid
    if not isinstance(provider, OidcEidProvider):
        raise NotFound("OIDC login is not configured")
    order_ref = await identity.orders.by_state(state) if _REFERENCE.fullmatch(state) else None
    if order_ref is None:
        raise NotFound("no such login")
    taken = await _step(
        identity, order_ref, login_secret, lambda o: (orders.take_callback(o, state), o)
    )
    pin = None
    if not error and code:
        assert taken.code_verifier is not None and taken.nonce is not None
        pin = await provider.person(code, taken.code_verifier, taken.nonce)
    await _step(identity, order_ref, login_secret, lambda o: (orders.complete(o, pin), None))


# --- acting for a child ------------------------------------------------------------------


async def act_for_child(
    identity: Identity, caller: Principal, child_personal_identity_number: str
) -> Tokens:
    """A guardian logged in as themselves starts acting for their child: a token for the
    child's cases, recorded as ``ActingForChildStarted``."""
    guardian = None
    if caller.role == "patient" and caller.acting_for is None:
        async with _transaction(identity) as conn:
            guardian_pin = await _number_of(identity, conn, caller.subject_id)
        if guardian_pin is not None:
            guardian = await identity.register.lookup(guardian_pin)
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
        await _remember(identity, conn, guardian, child)
        principal = _patient_principal(identity, today, guardian, child)
        return await _tokens(identity, conn, principal, guardian.pin)


@dataclass(frozen=True)
class Child:
    """A child the guardian may act for today, as the guardian picks them."""

    personal_identity_number: str
    given_name: str
    family_name: str
    age_years: int


async def children_to_act_for(identity: Identity, caller: Principal) -> list[Child]:
    """The caller's children aged 1-12 from the population register (none for a caller who
    is not logged in as themselves, or not a guardian)."""
    if caller.role != "patient" or caller.acting_for is not None:
        raise Forbidden("log in as yourself to see the children you may act for")
    async with _transaction(identity) as conn:
        guardian_pin = await _number_of(identity, conn, caller.subject_id)
    guardian = await identity.register.lookup(guardian_pin) if guardian_pin else None
    if guardian is None:
        return []
    today = today_in_sweden(identity.clock)
    numbers = [domain.parse_identity_number(pin, today) for pin in guardian.guardian_of]
    found = [(n, await identity.register.lookup(n.digits)) for n in numbers]
    return [
        Child(
            child.pin,
            child.given_name,
            child.family_name,
            domain.traits_of(domain.parse_identity_number(child.pin, today), today).age_years,
        )
        for child in domain.children_to_act_for(guardian, found, today)
    ]


# --- telling the journal who a case's patient is ---------------------------------------------


async def identify_case_patient(
    identity: Identity, conn: AsyncConnection, opened: CaseOpened
) -> None:
    """A case was opened: tell the journal its patient's number, on the journal-only topic.

    Runs in the consumer's transaction (with its inbox row), so a case is identified once.
    """
    pin = await adapters.number_of(conn, opened.patient_id)
    events = domain.decide_identification(opened, pin, identity.clock.now())
    await eventstore.append(conn, f"case-patient-{opened.case_id}", 0, events)


# --- tokens ------------------------------------------------------------------------------


def jwks(identity: Identity) -> dict[str, list[dict[str, str]]]:
    """The public keys access tokens are signed with: the current one, then retired ones
    whose tokens may still be alive."""
    return {"keys": [identity.key.public_jwk(), *identity.settings.retired_jwks()]}


async def refresh(identity: Identity, refresh_token: str) -> Tokens:
    """Swap a refresh token for a new access token and a new refresh token (rotation).

    A token already swapped (reuse: someone holds a copy) revokes its whole family, the
    thief's tokens and the person's alike. The person is checked again first: staff still
    in the catalogue in that care unit, a guardian still the child's guardian, a patient
    still allowed to log in; otherwise the family is revoked too. Either way: 401.
    """
    if identity.db is None:
        raise NotFound("refresh tokens are not enabled")
    now = identity.clock.now()
    refused: str | None = None
    async with identity.db.transaction() as conn:
        presented = await adapters.rotate_refresh_token(conn, refresh_token, now)
        if presented.state is adapters.TokenState.ROTATED:
            refused = "this refresh token was already used; every session of this login ended"
        elif presented.state is adapters.TokenState.INVALID:
            refused = "the refresh token is not valid; log in again"
        else:
            assert presented.principal is not None and presented.family_id is not None
            try:
                principal = await _still_allowed(
                    identity, conn, presented.principal, presented.login_pin
                )
            except Forbidden as no_longer:
                refused = f"no longer allowed: {no_longer.reason}"
            else:
                return await _tokens(
                    identity,
                    conn,
                    principal,
                    presented.login_pin or "",
                    presented.family_id,
                )
        if presented.family_id is not None and presented.state is not adapters.TokenState.INVALID:
            await adapters.revoke_family(conn, presented.family_id, now)
    raise RefreshRefused(refused)


async def _still_allowed(
    identity: Identity, conn: AsyncConnection, principal: Principal, login_pin: str | None
) -> Principal:
    """Is the person a refresh token was issued to still allowed what it allows? The
    principal to sign again (a patient's age as of today)."""
    if login_pin is None:
        raise Forbidden("this session predates the current checks")
    today = today_in_sweden(identity.clock)
    if principal.role in ("staff", "auditor"):
        member = await identity.staff.by_pin(login_pin)
        domain.check_staff_still(member, principal.subject_id, principal.role, principal.care_unit)
        return principal
    number = domain.parse_identity_number(login_pin, today)
    person = await identity.register.lookup(number.digits)
    domain.check_patient(number, person, today)
    assert person is not None
    if principal.acting_for is None:
        return _patient_principal(identity, today, person)
    child_pin = await _number_of(identity, conn, principal.acting_for)
    if child_pin is None:
        raise Forbidden("the child acted for is unknown")
    child_number = domain.parse_identity_number(child_pin, today)
    child = await identity.register.lookup(child_number.digits)
    domain.check_acting_for(person, child_number, child, today)
    assert child is not None
    return _patient_principal(identity, today, person, child)


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
    pin = domain.parse_identity_number(personal_identity_number, today).digits
    await _step(
        identity, order_ref, None, lambda o: (orders.approve(o, pin), None), in_browser=False
    )


async def dev_patient_token(
    identity: Identity, personal_identity_number: str, region: str, acting_for_pin: str | None
) -> Tokens:
    """A patient's development token, without e-ID (or a guardian's, acting for a child)."""
    _refuse_in_production(identity)
    today = today_in_sweden(identity.clock)
    pin = domain.normalise_pin(personal_identity_number, today)
    me = identity.subject_of(pin)
    numbers = {me: pin}
    child = None
    if acting_for_pin:
        child_pin = domain.normalise_pin(acting_for_pin, today)
        child = identity.subject_of(child_pin)
        numbers[child] = child_pin
        pin = child_pin  # the case is the child's
    traits = domain.traits_of(domain.parse_identity_number(pin, today), today)
    async with _transaction(identity) as conn:
        await _remember_numbers(identity, conn, numbers)
    principal = Principal(
        subject_id=me,
        role="patient",
        region=region,
        acting_for=child,
        age_years=traits.age_years,
        sex=traits.sex,
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


async def _tokens(
    identity: Identity,
    conn: AsyncConnection | None,
    principal: Principal,
    login_pin: str,
    family_id: UUID | None = None,
) -> Tokens:
    """An access token, and with a database a refresh token: of ``family_id`` on refresh, of a
    new family on login."""
    access = identity.key.sign(principal, identity.access_ttl)
    refresh_token = None
    if conn is not None:
        refresh_token = await adapters.issue_refresh_token(
            conn,
            principal,
            identity.clock.now(),
            identity.refresh_ttl,
            family_id or identity.clock.new_id(),
            login_pin,
        )
    return Tokens(
        access_token=access,
        subject_id=principal.acting_for or principal.subject_id,
        refresh_token=refresh_token,
        expires_in=int(identity.access_ttl.total_seconds()),
    )


def _patient_principal(
    identity: Identity, today: date, person: domain.Person, child: domain.Person | None = None
) -> Principal:
    cared_for = child or person
    traits = domain.traits_of(domain.parse_identity_number(cared_for.pin, today), today)
    return Principal(
        subject_id=identity.subject_of(person.pin),
        role="patient",
        region=cared_for.region or "",
        acting_for=identity.subject_of(child.pin) if child else None,
        age_years=traits.age_years,
        sex=traits.sex,
    )


async def _remember(
    identity: Identity, conn: AsyncConnection | None, *people: domain.Person
) -> None:
    """Remember whose number the subject ids of ``people`` are (a token names them by id)."""
    await _remember_numbers(identity, conn, {identity.subject_of(p.pin): p.pin for p in people})


async def _remember_numbers(
    identity: Identity, conn: AsyncConnection | None, numbers: dict[str, str]
) -> None:
    if conn is None:
        identity.numbers.update(numbers)
    else:
        await adapters.remember_subjects(conn, numbers)


async def _number_of(identity: Identity, conn: AsyncConnection | None, subject: str) -> str | None:
    if conn is None:
        return identity.numbers.get(subject)
    return await adapters.number_of(conn, subject)


def _refused(state: domain.LoginSession) -> LoginResult:
    reason = state.reason or "failed"
    return LoginResult(
        OrderStatus.COMPLETE, refused=Refused(code=reason, guidance=domain.guidance(reason))
    )
