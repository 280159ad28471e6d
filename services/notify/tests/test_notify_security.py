"""Attacks on notify (issue 13): Web Push endpoints aimed inside (finding 12), and answers
with case or contact data kept by a cache (Low list).

Name resolution is stubbed where a test needs a push service's name to resolve to a
chosen address: ``build(..., resolve=...)`` for the HTTP API, ``PushEndpoints(resolve=...)``
for the channel. Sends go over real sockets to a local server (``notify_testkit.Gateway``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from notify_testkit import Gateway, case_opened
from py_vapid import Vapid, b64urlencode
from sqlalchemy import select

from careflow.kit.auth import Principal, issue_token
from careflow.kit.cases import record_case_opened
from careflow.kit.migrations import upgrade
from careflow.notify import adapters as notify_adapters
from careflow.notify import app as notify_app
from careflow.notify import domain
from careflow.notify.channels import Outgoing, PermanentFailure, PushEndpoints, WebPush
from careflow.notify.settings import NotifySettings

pytestmark = [pytest.mark.notify, pytest.mark.integration]

SECRET = "notify-security-test-secret-at-least-32-bytes"
KEYS = {
    "p256dh": (
        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    ),
    "auth": "tBHItJI5svbpez7KI4CCXg",
}

#: What the stubbed resolver answers, per host; a host not here does not resolve.
DNS: dict[str, list[str]] = {
    "fcm.googleapis.com": ["142.250.74.10"],
    "loopback.push.apple.com": ["127.0.0.1"],
    "web.push.apple.com": ["10.0.0.7"],
    "updates.push.services.mozilla.com": ["169.254.169.254"],
    "wns2-par02p.notify.windows.com": ["52.114.6.1", "127.0.0.1"],
    "mapped.push.apple.com": ["::ffff:10.1.2.3"],
    "v6.push.apple.com": ["::1"],
}


async def stub_resolve(host: str, port: int) -> Sequence[str]:
    if host not in DNS:
        raise OSError("no such host")
    return DNS[host]


class Notify:
    """Notify's HTTP API on a fresh schema, in-process over ASGI, with stubbed resolution."""

    def __init__(self, settings: NotifySettings) -> None:
        self.runtime, self.app = notify_app.build(settings, resolve=stub_resolve)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://notify"
        )

    async def call(self, method: str, path: str, who: Principal, **kw: Any) -> httpx.Response:
        token = issue_token(SECRET, who)
        return await self.http.request(
            method, f"/notify{path}", headers={"Authorization": f"Bearer {token}"}, **kw
        )


@pytest.fixture(scope="module")
async def notify(infra) -> AsyncIterator[Notify]:  # type: ignore[no-untyped-def]
    settings = NotifySettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        db_schema=f"notify_sec_{uuid.uuid4().hex[:10]}",
        token_secret=SECRET,
        environment="test",
    )
    migrations = Path(notify_app.__file__).with_name("migrations")
    await asyncio.to_thread(upgrade, migrations, infra.database_url, settings.db_schema)
    running = Notify(settings)
    yield running
    await running.http.aclose()
    await running.runtime.db.dispose()


def patient() -> Principal:
    return Principal(subject_id=f"sub_{uuid.uuid4().hex[:12]}", role="patient", region="Uppsala")


def push_preferences(endpoint: str) -> dict[str, Any]:
    return {"channels": ["push"], "push_subscription": {"endpoint": endpoint, "keys": KEYS}}


@pytest.mark.security
@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://fcm.googleapis.com/fcm/send/a", "must be an https URL"),
        ("https://push.evil.example/a", "not on a known push service"),
        ("https://evilfcm.googleapis.com/a", "not on a known push service"),
        ("https://fcm.googleapis.com.evil.example/a", "not on a known push service"),
        ("https://fcm.googleapis.com@evil.example/a", "must not carry credentials"),
        ("https://169.254.169.254/latest/meta-data/", "not on a known push service"),
        ("https://[::1]/a", "not on a known push service"),
        ("https://loopback.push.apple.com/a", "resolves to a loopback address"),
        ("https://web.push.apple.com/a", "resolves to a private address"),
        ("https://updates.push.services.mozilla.com/wpush/v2/a", "a link-local address"),
        ("https://wns2-par02p.notify.windows.com/w/?token=a", "a loopback address"),
        ("https://mapped.push.apple.com/a", "resolves to a private address"),
        ("https://v6.push.apple.com/a", "resolves to a loopback address"),
        ("https://nowhere.push.apple.com/a", "does not resolve"),
    ],
)
async def test_finding_12_a_push_subscription_aimed_inside_is_refused(
    notify: Notify, endpoint: str, reason: str
) -> None:
    """An http endpoint, an unknown host, and a known name resolving to 127.0.0.1, 10.x,
    169.254.169.254 (every resolved address is checked) are refused with 422 and a reason."""
    who = patient()
    r = await notify.call("PUT", "/preferences", who, json=push_preferences(endpoint))
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"]
    stored = await notify.call("GET", "/preferences", who)
    assert stored.json()["push_subscription"] is None
    accepted = await notify.call(
        "PUT", "/preferences", who, json=push_preferences("https://fcm.googleapis.com/fcm/send/a")
    )
    assert accepted.status_code == 200, accepted.text


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    running = Gateway()
    running.start()
    yield running
    running.stop()


def vapid_private_key() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return str(b64urlencode(raw))


def outgoing(endpoint: str) -> Outgoing:
    return Outgoing(
        address={"subscription": {"endpoint": endpoint, "keys": KEYS}},
        content=domain.render("your_turn", "en", "https://careflow.example/login"),
        idempotency_key=f"{uuid.uuid4()}:your_turn:sub_1:push",
        language="en",
    )


@pytest.mark.security
async def test_finding_12_a_send_checks_the_address_again_and_follows_no_redirect(
    gateway: Gateway,
) -> None:
    """At send time a subscription saved earlier is checked again: its name now resolves to
    127.0.0.1 (DNS rebinding, stubbed), where a real local push service listens, and nothing
    reaches it. A push service that answers 307 is not followed: the redirect's target (the
    same local server) receives nothing. The plain-http loopback service is allowed for the
    redirect half only (``PushEndpoints`` test seams), so the redirect is what is refused."""

    async def rebound(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    key = vapid_private_key()
    rebinding = PushEndpoints(resolve=rebound)
    push = WebPush(key, "mailto:ops@careflow.example", 5.0, 600, endpoints=rebinding)
    with pytest.raises(PermanentFailure, match="loopback address"):
        await push.send(outgoing(f"https://fcm.googleapis.com:{gateway.port}/push/a"))
    assert gateway.requests == [] and gateway.pushes == []

    local = PushEndpoints(
        services=("127.0.0.1",), resolve=rebound, schemes=("http",), address_refusal=lambda _: None
    )
    push = WebPush(key, "mailto:ops@careflow.example", 5.0, 600, endpoints=local)
    with pytest.raises(PermanentFailure, match="redirected"):
        await push.send(outgoing(gateway.redirecting_endpoint("b")))
    assert [r.status for r in gateway.requests] == [307]
    assert gateway.pushes == []  # the redirect was not followed


@pytest.mark.security
async def test_notify_answers_with_case_or_contact_data_are_marked_no_store(
    notify: Notify,
) -> None:
    """Low finding: health data and contact details must not be kept by a cache."""
    who = patient()
    case_id = uuid.uuid4()
    async with notify.runtime.db.transaction() as conn:
        await record_case_opened(conn, case_opened(case_id, who.subject_id))
    for method, path, body in [
        ("GET", f"/cases/{case_id}/notifications", None),
        ("GET", f"/cases/{case_id}/deliveries", None),
        ("GET", "/preferences", None),
        ("PUT", "/preferences", {"channels": ["sms"], "phone": "+46701234567"}),
    ]:
        r = await notify.call(method, path, who, json=body)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store", (method, path)


@pytest.mark.security
async def test_finding_3_every_staff_read_of_health_data_is_logged_in_notify(
    notify: Notify,
) -> None:
    """What a case's patient was told (and when) is health data: a nurse's and an auditor's
    reads are each written to notify's access log; the patient's own reads are not."""
    who = patient()
    case_id = uuid.uuid4()
    async with notify.runtime.db.transaction() as conn:
        await record_case_opened(conn, case_opened(case_id, who.subject_id))
    nurse = Principal(
        subject_id="SE2321000032-E0042",
        role="staff",
        region="Uppsala",
        name="Nora Nurse",
        title="nurse",
        care_unit="1177 direkt Uppsala",
    )
    auditor = Principal(subject_id="audit-7", role="auditor", region="Uppsala")
    before = datetime.now(UTC)
    for reader in (who, nurse, auditor):
        for path in (f"/cases/{case_id}/notifications", f"/cases/{case_id}/deliveries"):
            r = await notify.call("GET", path, reader)
            assert r.status_code == 200, r.text
    async with notify.runtime.db.transaction() as conn:
        table = notify_adapters.access_log
        rows = await conn.execute(
            select(table).where(table.c.case_id == case_id).order_by(table.c.id)
        )
        logged = [dict(r._mapping) for r in rows]
    assert [(e["reader_id"], e["reader_role"], e["what"]) for e in logged] == [
        (nurse.subject_id, "staff", "notifications"),
        (nurse.subject_id, "staff", "deliveries"),
        (auditor.subject_id, "auditor", "notifications"),
        (auditor.subject_id, "auditor", "deliveries"),
    ]
    assert (logged[0]["reader_name"], logged[0]["reader_title"], logged[0]["care_unit"]) == (
        nurse.name,
        nurse.title,
        nurse.care_unit,
    )
    assert logged[-1]["basis"] == "audit"
    assert all(e["purpose"] and before <= e["at"] <= datetime.now(UTC) for e in logged)
    # The region's auditor reads the log over HTTP; staff may not.
    shown = await notify.call("GET", f"/cases/{case_id}/access-log", auditor)
    assert shown.status_code == 200, shown.text
    assert [e["what"] for e in shown.json()] == [e["what"] for e in logged]
    assert (await notify.call("GET", f"/cases/{case_id}/access-log", nurse)).status_code == 403
    elsewhere = Principal(subject_id="audit-8", role="auditor", region="Gotland")
    assert (await notify.call("GET", f"/cases/{case_id}/access-log", elsewhere)).status_code == 404
