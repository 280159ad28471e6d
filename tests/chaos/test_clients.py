"""The repository's own clients wait out a 503, honouring Retry-After, and give up in time."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from careflow.cli.flow import NotYet, eventually, wait_for
from careflow.cli.retry import CAP, AsyncRetryOn503, RetryOn503, retry_delay

pytestmark = [pytest.mark.chaos, pytest.mark.unit]


def _server(answers: list[int], retry_after: str | None = "2") -> httpx.MockTransport:
    seen: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        status = answers.pop(0) if answers else 200
        headers = {"Retry-After": retry_after} if status == 503 and retry_after else {}
        return httpx.Response(status, headers=headers, json={"n": len(seen)})

    transport = httpx.MockTransport(handle)
    transport.seen = seen  # type: ignore[attr-defined]
    return transport


def test_a_503_is_retried_after_the_servers_retry_after_and_the_body_is_sent_again() -> None:
    server = _server([503, 503])
    slept: list[float] = []
    client = httpx.Client(transport=RetryOn503(server, sleep=slept.append))
    answer = client.post("http://svc/triage/cases", json={"questionnaire_id": "fever"})
    assert answer.status_code == 200 and answer.json() == {"n": 3}
    assert slept == [2.0, 2.0]
    assert server.seen == [b'{"questionnaire_id":"fever"}'] * 3  # type: ignore[attr-defined]


def test_without_retry_after_the_backoff_grows_with_jitter_and_is_capped() -> None:
    answer = httpx.Response(503)
    for attempt in range(1, 12):
        assert 0 <= retry_delay(answer, attempt) <= min(CAP, 0.25 * 2 ** (attempt - 1))
    assert retry_delay(httpx.Response(503, headers={"Retry-After": "3600"}), 1) == CAP


def test_retries_are_bounded_in_count_and_in_total_wait() -> None:
    slept: list[float] = []
    client = httpx.Client(transport=RetryOn503(_server([503] * 50), 4, sleep=slept.append))
    assert client.get("http://svc/x").status_code == 503
    assert len(slept) == 3
    slept.clear()
    waits = RetryOn503(_server([503] * 50), 50, max_total_wait=7, sleep=slept.append)
    assert httpx.Client(transport=waits).get("http://svc/x").status_code == 503
    assert sum(slept) <= 7


def test_other_errors_are_not_retried() -> None:
    slept: list[float] = []
    client = httpx.Client(transport=RetryOn503(_server([500, 404]), sleep=slept.append))
    assert client.get("http://svc/x").status_code == 500
    assert slept == []


def test_the_async_client_retries_as_well() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def go() -> int:
        transport = AsyncRetryOn503(_server([503], retry_after="1"), sleep=sleep)
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.get("http://svc/x")).status_code

    assert asyncio.run(go()) == 200 and slept == [1.0]


def test_wait_for_polls_through_not_yet_and_stops_at_never() -> None:
    answers = iter([404, 404, 200])

    def journal(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json={"detail": "no journal for this case"})

    client = httpx.Client(transport=httpx.MockTransport(journal))
    got = wait_for("the journal", lambda: eventually(client.get("http://j/journal/cases/1")))
    assert got.status_code == 200

    def forbidden() -> None:
        raise RuntimeError("GET /journal/cases/1: 403")

    with pytest.raises(RuntimeError, match="403"):
        wait_for("the journal", forbidden)  # "never" ends the wait at once

    def still_missing() -> None:
        raise NotYet("404 no journal for this case")

    with pytest.raises(TimeoutError, match="no journal for this case"):
        wait_for("the journal", still_missing, timeout=0.5)
