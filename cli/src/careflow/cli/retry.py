"""Clients that wait out a 503: the services answer it (with ``Retry-After``) while a
dependency is away, and the request may be sent again once it is back.

A transport, so every request of a client retries without each call site knowing:
``httpx.Client(transport=RetryOn503())``. Retries are bounded in count and in total wait,
then the last 503 is returned for the caller to report.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime

import httpx

#: Attempts in all (the first one included) and the most a request waits overall.
ATTEMPTS = 8
MAX_TOTAL_WAIT = 60.0
#: Backoff without a ``Retry-After``: doubling from BASE, up to CAP, with full jitter.
BASE = 0.25
CAP = 10.0


def retry_delay(response: httpx.Response, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After`` if it
    gave one (seconds or an HTTP date), else exponential backoff; never more than CAP."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return min(CAP, max(0.0, float(header)))
        except ValueError:
            try:
                when = parsedate_to_datetime(header).timestamp()
                return min(CAP, max(0.0, when - time.time()))
            except (TypeError, ValueError):
                pass
    # Full jitter, so clients turned away together do not come back together.
    return (rng or random).uniform(0, min(CAP, BASE * 2 ** (attempt - 1)))


class RetryOn503(httpx.BaseTransport):
    """An ``httpx`` transport that sends a request again after a 503, with backoff."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        attempts: int = ATTEMPTS,
        max_total_wait: float = MAX_TOTAL_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[httpx.Request, float], None] | None = None,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.attempts = attempts
        self.max_total_wait = max_total_wait
        self.sleep = sleep
        self.on_retry = on_retry

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        waited = 0.0
        attempt = 1
        while True:
            response = self.inner.handle_request(request)
            if response.status_code != 503 or attempt >= self.attempts:
                return response
            delay = retry_delay(response, attempt)
            if waited + delay > self.max_total_wait:
                return response
            response.read()
            response.close()
            if self.on_retry is not None:
                self.on_retry(request, delay)
            self.sleep(delay)
            waited += delay
            attempt += 1

    def close(self) -> None:
        self.inner.close()


class AsyncRetryOn503(httpx.AsyncBaseTransport):
    """``RetryOn503`` for ``httpx.AsyncClient``."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        attempts: int = ATTEMPTS,
        max_total_wait: float = MAX_TOTAL_WAIT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.attempts = attempts
        self.max_total_wait = max_total_wait
        self.sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        waited = 0.0
        attempt = 1
        while True:
            response = await self.inner.handle_async_request(request)
            if response.status_code != 503 or attempt >= self.attempts:
                return response
            delay = retry_delay(response, attempt)
            if waited + delay > self.max_total_wait:
                return response
            await response.aread()
            await response.aclose()
            await self.sleep(delay)
            waited += delay
            attempt += 1

    async def aclose(self) -> None:
        await self.inner.aclose()
