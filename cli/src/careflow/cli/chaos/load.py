"""The load generator of a chaos run: whole cases through the HTTP APIs, each step sent
again until it holds, as a patient's app and a nurse's desk would.

A step that changes something is made safe to send again: chat's messages carry an
``Idempotency-Key``; a take or a close whose answer was lost is checked by reading the case
(409 "already taken/closed" then means ours went through). Opening a case has no such key:
an open whose answer was lost is counted (``uncertain_opens``) and left to triage's sweep,
which abandons an unanswered triage (a defined end).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from careflow.cli.flow import DEMO_FEVER_ANSWERS
from careflow.cli.loadclient import LoadClient

T = TypeVar("T")

#: A chat message's text never leaves the test; three go back and forth in each case.
MESSAGES = 3


class Retry(Exception):
    """Not yet: send the step again."""


@dataclass
class CaseRecord:
    """What the load generator knows of one case."""

    case_id: str
    pin: str
    region: str
    phone: str
    email: str
    step: str = "opened"
    closed: bool = False
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Load:
    """Figures of the load generator."""

    cases: list[CaseRecord] = field(default_factory=list)
    uncertain_opens: int = 0
    step_retries: int = 0
    failed_before_open: list[str] = field(default_factory=list)


class ChaosDriver(LoadClient):
    """Drives one case per ``case`` call; ``step_within`` bounds each step's retries."""

    def __init__(self, url: Callable[[str], str], step_within: float = 300.0) -> None:
        super().__init__(url, poll_s=0.25, timeout=20.0)
        self.step_within = step_within
        self.load = Load()
        self.nurse_tokens: dict[str, str] = {}

    async def step(self, what: str, action: Callable[[], Awaitable[T]]) -> T:
        """``action`` until it returns; a dropped connection, a timeout, a 5xx or ``Retry``
        means send again (bounded by ``step_within``)."""
        deadline = time.monotonic() + self.step_within
        tries = 0
        while True:
            try:
                return await action()
            except (httpx.TransportError, Retry) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code < 500:
                    raise
                reason = f"{exc.response.status_code}"
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what}: still failing after {self.step_within:.0f}s ({reason})"
                )
            self.load.step_retries += 1
            tries += 1
            # Backoff, so a long outage is not also a storm of requests from this client.
            await asyncio.sleep(min(5.0, self.poll_s * 1.5 ** min(tries, 12)))

    async def nurse(self, region: str) -> str:
        if region not in self.nurse_tokens:
            self.nurse_tokens[region] = await self.step(
                "a nurse's token", lambda: self.staff_token(region)
            )
        return self.nurse_tokens[region]

    async def case(self, patient: dict[str, Any], n: int) -> None:
        started = time.monotonic()
        record: CaseRecord | None = None
        try:
            async with self.browser() as browser:
                record = await self._case(browser, patient, n)
        except Exception as exc:  # the case is checked afterwards, like every other
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            if record is None:
                self.load.failed_before_open.append(reason)
        finally:
            if record is not None:
                record.seconds = round(time.monotonic() - started, 2)

    async def _case(
        self, browser: httpx.AsyncClient, patient: dict[str, Any], n: int
    ) -> CaseRecord:
        pin, region = patient["pin"], patient["region"]

        async def login() -> str:
            token = await self.login(browser, pin)
            if token is None:
                raise RuntimeError("login refused")
            return token

        token = await self.step("login", login)
        auth = {"Authorization": f"Bearer {token}"}
        phone, email = f"+4670{int(pin[-7:]):07d}", f"chaos-{pin}@example.org"
        prefs = {"language": "sv", "channels": ["sms", "email"], "phone": phone, "email": email}

        async def preferences() -> None:
            r = await self.http.put(self.url("notify", "/preferences"), json=prefs, headers=auth)
            r.raise_for_status()

        await self.step("preferences", preferences)

        async def open_case() -> dict[str, Any]:
            try:
                r = await self.http.post(
                    self.url("triage", "/cases"),
                    json={"questionnaire_id": "fever", "language": "sv"},
                    headers=auth,
                )
            except httpx.TransportError:
                self.load.uncertain_opens += 1  # it may have been opened: triage abandons it
                raise
            if r.status_code >= 500:
                self.load.uncertain_opens += 1
            r.raise_for_status()
            opened: dict[str, Any] = r.json()
            return opened

        opened = await self.step("open a case", open_case)
        case_id = opened["case_id"]
        record = CaseRecord(case_id, pin, region, phone, email)
        self.load.cases.append(record)
        try:
            await self._through(record, opened["step"], auth)
        except Exception as exc:
            record.error = f"{record.step}: {type(exc).__name__}: {str(exc)[:200]}"
        return record

    async def _through(
        self, record: CaseRecord, step: dict[str, Any], auth: dict[str, str]
    ) -> None:
        case_id = record.case_id
        record.step = "triage"

        async def answer(current: dict[str, Any]) -> dict[str, Any]:
            question = current["question"]["id"]
            r = await self.http.post(
                self.url("triage", f"/cases/{case_id}/triage/answers"),
                json={"question_id": question, "value": DEMO_FEVER_ANSWERS[question]},
                headers=auth,
            )
            if r.status_code == 409:  # answered already (the answer to the first was lost)
                r = await self.http.get(
                    self.url("triage", f"/cases/{case_id}/triage"), headers=auth
                )
            r.raise_for_status()
            nxt: dict[str, Any] = r.json()
            return nxt

        while step["status"] == "in_progress":
            step = await self.step("an answer", functools.partial(answer, step))
        if step["status"] != "completed":
            raise RuntimeError(f"triage ended {step['status']}")

        record.step = "queued"

        async def queued() -> None:
            r = await self.http.get(self.url("queue", f"/cases/{case_id}"), headers=auth)
            if r.status_code == 404 or (r.status_code == 200 and r.json()["status"] != "waiting"):
                raise Retry("not queued yet")
            r.raise_for_status()

        await self.step("the case to be queued", queued)
        nurse = {"Authorization": f"Bearer {await self.nurse(record.region)}"}

        record.step = "take"

        async def take() -> None:
            r = await self.http.post(self.url("queue", f"/cases/{case_id}/take"), headers=nurse)
            if r.status_code == 409:  # taken already: ours, if the answer was lost
                r = await self.http.get(self.url("queue", f"/cases/{case_id}"), headers=nurse)
                r.raise_for_status()
                if r.json()["status"] != "in_contact":
                    raise RuntimeError(f"take refused: case is {r.json()['status']}")
                return
            r.raise_for_status()

        await self.step("the nurse's take", take)

        record.step = "your_turn"

        async def your_turn() -> None:
            r = await self.http.get(
                self.url("notify", f"/cases/{case_id}/notifications"), headers=auth
            )
            if r.status_code == 404:
                raise Retry("no notifications yet")
            r.raise_for_status()
            if not any(n["kind"] == "your_turn" for n in r.json()):
                raise Retry("no your-turn yet")

        await self.step('"your turn"', your_turn)

        record.step = "chat"
        for i in range(MESSAGES):
            sender = nurse if i % 2 == 0 else auth
            key = f"{case_id}-{i}"

            async def send(sender: dict[str, str] = sender, key: str = key, i: int = i) -> None:
                r = await self.http.post(
                    self.url("chat", f"/cases/{case_id}/messages"),
                    json={"text": f"meddelande {i}"},
                    headers={**sender, "Idempotency-Key": key},
                )
                if r.status_code in (404, 409) and i == 0:
                    raise Retry("chat does not know the turn yet")
                r.raise_for_status()

            await self.step("a chat message", send)

        record.step = "close"

        async def close() -> None:
            r = await self.http.post(
                self.url("chat", f"/cases/{case_id}/close"),
                json={
                    "outcome": "self_care_advice",
                    "advice": "Vila, drick mycket. Ring 1177 om du blir sämre.",
                    "documentation_note": "Feber 4 dagar utan andningsbesvär. Egenvårdsråd.",
                },
                headers=nurse,
            )
            if r.status_code == 409:  # closed already: ours, if the answer was lost
                r = await self.http.get(self.url("chat", f"/cases/{case_id}"), headers=nurse)
                r.raise_for_status()
                if not _closed(r.json()):
                    raise RuntimeError(f"close refused: {r.text[:200]}")
                return
            r.raise_for_status()

        await self.step("the close", close)
        record.closed = True

        record.step = "journal"

        async def journal() -> None:
            r = await self.http.get(self.url("journal", f"/cases/{case_id}/entries"), headers=nurse)
            if r.status_code == 404:
                raise Retry("no journal yet")
            r.raise_for_status()
            # triage, the contact, the messages, the note
            if len(r.json()) < 3 + MESSAGES:
                raise Retry("journal not complete yet")

        await self.step("the journal entries", journal)
        record.step = "done"


def _closed(summary: dict[str, Any]) -> bool:
    return summary.get("closed_at") is not None


async def drive(
    driver: ChaosDriver,
    patients: list[dict[str, Any]],
    cases: int,
    in_flight: int,
    keep_going: Callable[[], bool],
) -> None:
    """At least ``cases`` cases, ``in_flight`` at a time (each patient in one at a time),
    and on while ``keep_going()`` says so (faults still to come)."""
    free: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for p in patients:
        free.put_nowait(p)
    started = 0

    async def worker() -> None:
        nonlocal started
        while started < cases or keep_going():
            started += 1
            n = started
            patient = await free.get()
            try:
                await driver.case(patient, n)
            finally:
                free.put_nowait(patient)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
