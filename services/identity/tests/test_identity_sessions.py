"""The login session aggregate: its audit events decided in the domain, from plain data, with
the instant, today's date and the event id passed in; and identity's commands reading the
injected clock."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from careflow.contracts.identity_events import (
    ActingForChildStarted,
    LoginRefused,
    LoginSucceeded,
)
from careflow.identity import domain, service
from careflow.identity.domain import (
    ActForChild,
    FailedOrder,
    LoginMethod,
    LoginSession,
    NotAllowed,
    Outcome,
    PatientLogin,
    Person,
    Refusal,
    StaffLogin,
    StaffMember,
    parse_identity_number,
)
from careflow.identity.eid import OrderStatus, TestEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.clock import FixedClock
from careflow.kit.domain import Conflict

pytestmark = [pytest.mark.identity, pytest.mark.unit]

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
SESSION = UUID("00000000-0000-4000-8000-000000000001")
EVENT_ID = UUID("00000000-0000-4000-8000-000000000002")
ADULT = "197207099636"  # Uppsala, in the seed register
CHILD = "202003039241"  # aged 6 in 2026
NURSE = StaffMember(
    "SE-1", "197505179882", "Nina", "nurse", "Västmanland", ("1177 direkt Västmanland",)
)


def adult(protected: bool = False, children: tuple[str, ...] = ()) -> Person:
    return Person(ADULT, "Test", "Person", "Uppsala", protected, children)


def patient_login(
    person: Person | None, method: LoginMethod = LoginMethod.TEST_EID
) -> PatientLogin:
    return PatientLogin(SESSION, method, parse_identity_number(ADULT, TODAY), person, "p-adult")


def fold(events: list) -> LoginSession:  # type: ignore[type-arg]
    state = LoginSession()
    for event in events:
        state = domain.evolve(state, event)
    return state


@pytest.mark.parametrize("method", [LoginMethod.TEST_EID, LoginMethod.OIDC])
def test_a_patient_login_records_the_method_that_authenticated(method: LoginMethod) -> None:
    (event,) = domain.decide_patient_login(
        LoginSession(), patient_login(adult(), method), TODAY, NOW, EVENT_ID
    )
    assert isinstance(event, LoginSucceeded)
    assert event.method == method.value and event.realm == "patient"
    assert event.subject_id == "p-adult" and event.actor.id == "p-adult"
    assert (event.event_id, event.case_id, event.correlation_id) == (EVENT_ID, SESSION, SESSION)
    assert event.occurred_at == NOW
    state = fold([event])
    assert state.outcome is Outcome.SUCCEEDED and state.method == method.value


def test_a_refused_patient_is_recorded_with_the_refusal_code_and_no_method() -> None:
    (event,) = domain.decide_patient_login(
        LoginSession(), patient_login(adult(protected=True)), TODAY, NOW, EVENT_ID
    )
    assert isinstance(event, LoginRefused)
    assert event.reason == Refusal.PROTECTED_IDENTITY.value and event.subject_id == "p-adult"
    assert event.actor.role == "system"
    state = fold([event])
    assert state.outcome is Outcome.REFUSED and state.reason == "protected_identity"
    assert "1177" in domain.guidance(state.reason)


def test_a_finished_session_decides_no_second_login() -> None:
    decided = fold(
        domain.decide_patient_login(LoginSession(), patient_login(adult()), TODAY, NOW, EVENT_ID)
    )
    with pytest.raises(Conflict):
        domain.decide_patient_login(decided, patient_login(adult()), TODAY, NOW, EVENT_ID)
    with pytest.raises(Conflict):
        domain.decide_staff_login(
            decided, StaffLogin(SESSION, LoginMethod.OIDC, NURSE), NOW, EVENT_ID
        )


def test_staff_log_in_when_catalogued_and_are_refused_otherwise() -> None:
    (event,) = domain.decide_staff_login(
        LoginSession(), StaffLogin(SESSION, LoginMethod.OIDC, NURSE), NOW, EVENT_ID
    )
    assert isinstance(event, LoginSucceeded)
    assert (event.realm, event.subject_id, event.method) == ("staff", "SE-1", "oidc")
    assert event.actor.role == "staff"
    (refused,) = domain.decide_staff_login(
        LoginSession(), StaffLogin(SESSION, LoginMethod.OIDC, None), NOW, EVENT_ID
    )
    assert isinstance(refused, LoginRefused)
    assert (refused.realm, refused.reason, refused.subject_id) == ("staff", "not_staff", None)
    assert domain.guidance("not_staff") == "You are not in the staff catalogue."


def test_a_failed_order_is_recorded_once() -> None:
    failed = FailedOrder(SESSION, "patient", "userCancel")
    first = domain.decide_failed_order(LoginSession(), failed, NOW, EVENT_ID)
    assert [type(e) for e in first] == [LoginRefused] and first[0].reason == "userCancel"  # type: ignore[attr-defined]
    assert domain.decide_failed_order(fold(first), failed, NOW, EVENT_ID) == []
    (unexplained,) = domain.decide_failed_order(
        LoginSession(), FailedOrder(SESSION, "staff", None), NOW, EVENT_ID
    )
    assert unexplained.reason == "failed"  # type: ignore[attr-defined]


def test_a_guardian_starts_acting_for_their_child_and_not_for_others() -> None:
    child_number = parse_identity_number(CHILD, TODAY)
    child = Person(CHILD, "Barn", "Person", "Uppsala")
    acting = ActForChild(
        SESSION, adult(children=(CHILD,)), "p-guardian", child_number, child, "p-child"
    )
    (event,) = domain.decide_acting_for(LoginSession(), acting, TODAY, NOW, EVENT_ID)
    assert isinstance(event, ActingForChildStarted)
    assert (event.guardian_id, event.child_id) == ("p-guardian", "p-child")
    assert event.actor.role == "guardian" and event.actor.on_behalf_of == "p-child"
    assert fold([event]).outcome is Outcome.ACTING_FOR_CHILD
    stranger = ActForChild(SESSION, adult(), "p-guardian", child_number, child, "p-child")
    with pytest.raises(NotAllowed) as info:
        domain.decide_acting_for(LoginSession(), stranger, TODAY, NOW, EVENT_ID)
    assert info.value.refusal is Refusal.NOT_GUARDIAN


# --- identity's commands with an injected clock ------------------------------------------


def identity_at(clock: FixedClock) -> service.Identity:
    return service.Identity(
        IdentitySettings(),
        SeedRegister(),
        SeedStaffCatalogue(),
        TestEidProvider(ttl_seconds=180),
        clock,
    )


def test_an_unanswered_order_expires_on_the_injected_clock() -> None:
    clock = FixedClock(NOW)
    identity = identity_at(clock)

    async def scenario() -> tuple[service.LoginResult, service.LoginResult]:
        order = await service.start_order(identity, "patient", None, "client")
        clock.advance(timedelta(seconds=179))
        before = await service.collect(identity, order.order_ref, order.login_secret)
        clock.advance(timedelta(seconds=2))
        return before, await service.collect(identity, order.order_ref, order.login_secret)

    before, after = asyncio.run(scenario())
    assert before.status is OrderStatus.PENDING
    assert after.status is OrderStatus.FAILED and after.hint_code == "expiredTransaction"


def test_a_login_is_judged_on_the_swedish_date_of_the_injected_clock() -> None:
    from stdnum import luhn

    body = "131125981"  # born 2013-11-25: thirteen on 2026-11-25, and then logs in alone
    pin = "20" + body + luhn.calc_check_digit(body)

    class Register:
        async def lookup(self, wanted: str) -> Person | None:
            return Person(pin, "Tolv", "Åring", "Uppsala") if wanted == pin else None

    async def log_in(at: datetime) -> service.LoginResult:
        clock = FixedClock(at)
        identity = identity_at(clock)
        identity.register = Register()
        order = await service.start_order(identity, "patient", None, "client")
        await service.approve_in_test_app(identity, order.order_ref, pin)
        return await service.collect(identity, order.order_ref, order.login_secret)

    # 22:30 UTC on the 24th is 23:30 in Sweden: still twelve.
    evening = asyncio.run(log_in(datetime(2026, 11, 24, 22, 30, tzinfo=UTC)))
    assert evening.refused is not None and evening.refused.code == "child_must_be_acted_for"
    # 23:30 UTC on the 24th is already the 25th in Sweden.
    midnight = asyncio.run(log_in(datetime(2026, 11, 24, 23, 30, tzinfo=UTC)))
    assert midnight.login is not None and midnight.refused is None


# --- architecture --------------------------------------------------------------------------

DOMAIN = Path(domain.__file__).parent
FORBIDDEN_IMPORTS = {
    "sqlalchemy",
    "asyncpg",
    "aiokafka",
    "faststream",
    "fastapi",
    "httpx",
    "os",
    "starlette",
    "time",
    "secrets",
    "random",
}
CLOCK_READS = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("time", "time")}


@pytest.mark.architecture
@pytest.mark.parametrize("module", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_identity_domain_reads_no_clock_draws_no_ids_and_imports_no_io(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        assert not {n.split(".")[0] for n in names} & FORBIDDEN_IMPORTS, (module.name, names)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in CLOCK_READS, (module.name, node.attr)
        if isinstance(node, ast.Name):
            assert node.id not in {"uuid4", "uuid1"}, module.name


@pytest.mark.architecture
def test_the_same_login_decided_twice_gives_the_same_event() -> None:
    def once() -> str:
        events = domain.decide_patient_login(
            LoginSession(), patient_login(adult(), LoginMethod.OIDC), TODAY, NOW, EVENT_ID
        )
        return events[0].model_dump_json()

    assert once() == once()
