"""Helpers for the care-journey end-to-end tests (issue 18): people, cases and waits over HTTP."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from careflow.cli.flow import answer_questionnaire, wait_for
from careflow.cli.retry import RetryOn503

#: Fever for one day with ear ache: a booked visit via the nurse queue (green).
GREEN_FEVER: dict[str, Any] = {
    "breathing": False,
    "spots": False,
    "temperature": 38.0,
    "days": 1,
    "symptoms": ["ear_pain"],
}
#: Fever for four days: a nurse with priority (yellow).
YELLOW_FEVER: dict[str, Any] = {**GREEN_FEVER, "days": 4}

_serial = itertools.count(1)


def fresh_pin(year: int = 1985) -> str:
    """A valid personal identity number nobody else in the run uses (Luhn check digit)."""
    n = next(_serial)
    month, day, serial = 1 + n // 28 % 12, 1 + n % 28, 200 + n // 336 % 700
    body = f"{year % 100:02d}{month:02d}{day:02d}{serial:03d}"
    total = 0
    for i, digit in enumerate(body):
        product = int(digit) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return f"{year // 100}{body}{(10 - total % 10) % 10}"


class Journey:
    """Patients and staff calling the running services, as the web front end would."""

    def __init__(self, url: Callable[[str], str]) -> None:
        self.url = url
        self.http = httpx.Client(timeout=10.0, transport=RetryOn503())

    def call(
        self, method: str, service: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(
            method, f"{self.url(service)}/{service}{path}", headers=headers, **kwargs
        )

    def ok(self, method: str, service: str, path: str, token: str | None = None, **kw: Any) -> Any:
        response = self.call(method, service, path, token, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /{service}{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def patient(self, region: str, pin: str | None = None) -> str:
        body = {"personal_identity_number": pin or fresh_pin(), "region": region}
        token: str = self.ok("POST", "identity", "/dev/patient-tokens", json=body)["access_token"]
        return token

    def staff(
        self, region: str, name: str = "Nina Sjöberg", title: str = "nurse", unit: str = ""
    ) -> str:
        body = {
            "hsa_id": f"SE2321000131-E{uuid.uuid4().hex[:8]}",
            "name": name,
            "title": title,
            "region": region,
            "care_unit": unit or f"1177 direkt {region}",
        }
        token: str = self.ok("POST", "identity", "/dev/staff-tokens", json=body)["access_token"]
        return token

    def triaged(self, patient: str, answers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A new fever case answered with ``answers``: its id and outcome."""
        opened = self.ok(
            "POST",
            "triage",
            "/cases",
            patient,
            json={"questionnaire_id": "fever", "language": "sv"},
        )
        step = answer_questionnaire(
            self.ok_call, patient, opened["case_id"], opened["step"], answers
        )
        return opened["case_id"], step["outcome"]

    def ok_call(
        self, method: str, service: str, path: str, token: str, **kw: Any
    ) -> httpx.Response:
        response = self.call(method, service, path, token, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /{service}{path}: {response.status_code} {response.text}")
        return response

    def place(self, patient: str, case_id: str) -> dict[str, Any] | None:
        response = self.call("GET", "queue", f"/cases/{case_id}", patient)
        return response.json() if response.status_code == 200 else None

    def waiting(self, patient: str, case_id: str) -> dict[str, Any]:
        place: dict[str, Any] = wait_for(
            "the case to wait in the queue",
            lambda: p if (p := self.place(patient, case_id)) and p["status"] == "waiting" else None,
        )
        return place

    def claim(self, staff: str, case_id: str) -> dict[str, Any]:
        """``staff`` takes exactly this case (it must wait in their queues)."""
        taken: dict[str, Any] = wait_for(
            "the case to be taken",
            lambda: self.ok("POST", "queue", f"/cases/{case_id}/take", staff),
        )
        return taken

    def send(self, token: str, case_id: str, text: str) -> dict[str, Any]:
        """A message in the case's chat, once chat has opened the conversation."""
        key = str(uuid.uuid4())

        def attempt() -> dict[str, Any] | None:
            r = self.call(
                "POST",
                "chat",
                f"/cases/{case_id}/messages",
                token,
                json={"text": text},
                headers={"Idempotency-Key": key},
            )
            if r.status_code in (404, 409):
                return None  # the turn has not reached chat yet
            r.raise_for_status()
            body: dict[str, Any] = r.json()
            return body

        sent: dict[str, Any] = wait_for("the message to be sent", attempt)
        return sent

    def entries(self, staff: str, case_id: str, kinds: set[str]) -> list[dict[str, Any]]:
        """The case's journal entries once every kind in ``kinds`` is there."""

        def found() -> list[dict[str, Any]] | None:
            r = self.call("GET", "journal", f"/cases/{case_id}/entries", staff)
            if r.status_code != 200:
                return None
            rows: list[dict[str, Any]] = r.json()
            return rows if kinds <= {e["kind"] for e in rows} else None

        rows: list[dict[str, Any]] = wait_for(f"journal entries {sorted(kinds)}", found)
        return rows

    def close(self, staff: str, case_id: str, closing: dict[str, Any]) -> dict[str, Any]:
        """Close the case's contact, once chat has opened the conversation."""

        def attempt() -> dict[str, Any] | None:
            r = self.call("POST", "chat", f"/cases/{case_id}/close", staff, json=closing)
            if (r.status_code in (404, 409) and "no conversation yet" in r.text) or (
                r.status_code == 404
            ):
                return None  # the turn has not reached chat yet
            if r.status_code >= 400:
                raise RuntimeError(f"close: {r.status_code} {r.text}")
            body: dict[str, Any] = r.json()
            return body

        closed: dict[str, Any] = wait_for("the contact to close", attempt)
        return closed
