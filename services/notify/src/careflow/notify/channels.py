"""The outside channels behind one interface: SMS over an HTTP gateway, e-mail over SMTP,
Web Push with VAPID.

A channel either returns (the provider accepted the notification) or raises
``PermanentFailure`` (this number, address or subscription will never work: do not
retry), ``TransientFailure`` (the provider is away or overloaded: retry later) or
``UncertainDelivery`` (the provider got it all but never answered, and a retry could
deliver it twice). E-mail lives in ``careflow.notify.mail``.
Every send carries the delivery's dedupe key as the provider's idempotency key, so a
retry after a crash is recognised by a provider that honours it. Failure texts are
shown to staff and logged: they never carry the number, address or message text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from careflow.kit.domain import Invalid
from careflow.notify import domain
from careflow.notify.domain import ChannelName, Rendered


class PermanentFailure(Exception):
    """The provider refused the recipient for good; ``detail`` is safe to show and log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TransientFailure(Exception):
    """The provider failed this time; ``detail`` is safe to show and log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UncertainDelivery(Exception):
    """The whole notification reached the provider but its answer did not come back, and
    the provider cannot recognise a repeat: sending again could deliver it twice, so it
    is not retried. ``detail`` is safe to show and log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Outgoing:
    """One notification ready to leave: where to, what it says, and its idempotency key."""

    address: Mapping[str, Any]
    content: Rendered
    idempotency_key: str
    language: str
    #: Called by a channel whose provider cannot recognise a repeat (SMTP) just before the
    #: step that cannot be taken back; when it raises, nothing is handed over.
    handing_over: Callable[[], Awaitable[None]] | None = None


class Channel(Protocol):
    """One way of reaching a person."""

    name: ChannelName
    #: The longest one send may take before the sender gives up on it.
    longest_send_seconds: float

    async def send(self, message: Outgoing) -> None:
        """Hand the notification to the provider; raise Permanent/TransientFailure otherwise."""
        ...


def short_key(idempotency_key: str) -> str:
    """A compact, URL-safe form of a dedupe key (for headers with a length limit)."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class SmsGateway:
    """SMS through a generic JSON gateway: ``POST {url}`` with ``to``, ``from`` and ``text``.

    ``Idempotency-Key`` carries the dedupe key. 2xx and 409 (the gateway already has that
    key) count as accepted; 400, 404 and 422 as a refused number; anything else, and no
    answer at all, as a failure worth retrying.
    """

    name: ChannelName = "sms"

    def __init__(self, url: str, token: str | None, sender: str, timeout: float) -> None:
        self.url = url
        self.token = token
        self.sender = sender
        self.timeout = timeout
        self.longest_send_seconds = timeout
        # One pooled client: creating one per send costs an SSL context and a connection.
        self._client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, message: Outgoing) -> None:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"to": message.address["phone"], "from": self.sender, "text": message.content.text}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientFailure(f"SMS gateway unreachable ({type(exc).__name__})") from None
        status = response.status_code
        if 200 <= status < 300 or status == 409:
            return
        if status in (400, 404, 422):
            raise PermanentFailure(f"SMS gateway refused the number ({status})")
        raise TransientFailure(f"SMS gateway answered {status}")


#: Resolves a host name to its IP addresses (every one of them), for a port.
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class PushTarget:
    """A push endpoint that passed the checks: its host, port and the checked addresses."""

    endpoint: str
    host: str
    port: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class PushEndpoints:
    """Where Web Push may go, so that a subscription cannot aim notify at an inside address.

    An endpoint must be https on a known push service (``services``, matched by suffix,
    ``CAREFLOW_PUSH_SERVICES``), and every address its host resolves to must be public.
    ``check`` runs when a subscription is saved and again before every send, and the
    send connects only to the addresses that were checked (no second lookup), so a name
    that later resolves elsewhere (DNS rebinding) is refused rather than followed.

    ``resolve``, ``schemes`` and ``address_refusal`` are seams for tests: the tests that
    push to a real local server over plain http pass their own; the service never does.
    """

    services: tuple[str, ...] = domain.DEFAULT_PUSH_SERVICES
    resolve: Resolve = resolve_host
    schemes: tuple[str, ...] = ("https",)
    address_refusal: Callable[[str], str | None] = domain.address_refusal

    async def check(self, endpoint: str) -> PushTarget:
        """The endpoint's checked target; ``Invalid`` with a reason safe to show and log."""
        host, port = domain.push_target(endpoint, self.services, self.schemes)
        try:
            found = tuple(await self.resolve(host, port))
        except (OSError, UnicodeError):
            found = ()
        if not found:
            raise Invalid("push_subscription.endpoint's host does not resolve")
        for address in found:
            reason = self.address_refusal(address)
            if reason is not None:
                raise Invalid(
                    f"push_subscription.endpoint resolves to {reason}; "
                    "only public push services are reached"
                )
        return PushTarget(endpoint, host, port, found)


class _PinnedResolver(AbstractResolver):
    """Answers for the checked push host only, with exactly the addresses that were checked."""

    def __init__(self, target: PushTarget) -> None:
        self.target = target

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host.rstrip(".").lower() != self.target.host.lower():
            raise OSError("only the checked push host is reached")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.target.addresses
        ]

    async def close(self) -> None:
        return None


class WebPush:
    """Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (pywebpush).

    ``Topic`` (derived from the dedupe key) makes the push service replace an undelivered
    copy of the same notification instead of showing it twice. 404 and 410 mean the
    subscription is gone (permanent); 429 and 5xx are retried. The endpoint is checked
    again before every send (``PushEndpoints``), the connection goes only to the checked
    addresses, and a redirect is never followed: it fails the delivery.
    """

    name: ChannelName = "push"

    def __init__(
        self,
        vapid_private_key: str,
        subject: str,
        timeout: float,
        ttl: int,
        endpoints: PushEndpoints | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        key = vapid_private_key.strip()
        self.vapid = (
            Vapid.from_pem(key.encode())
            if key.startswith("-----BEGIN")
            else Vapid.from_string(private_key=key)
        )
        self.subject = subject
        self.timeout = timeout
        self.longest_send_seconds = timeout
        self.ttl = ttl
        self.endpoints = endpoints or PushEndpoints()
        self.ssl_context = ssl_context

    @property
    def public_key(self) -> str:
        """The VAPID public key browsers subscribe with (``applicationServerKey``): the
        uncompressed P-256 point, base64url without padding."""
        point = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(point).rstrip(b"=").decode()

    def headers(self, endpoint: str, topic_key: str) -> dict[str, str]:
        """VAPID authorisation plus Topic and Urgency for one push to ``endpoint``."""
        origin = httpx.URL(endpoint)
        claims: dict[str, str | int] = {
            "sub": self.subject,
            "aud": f"{origin.scheme}://{origin.netloc.decode()}",
        }
        headers = {k: str(v) for k, v in self.vapid.sign(claims).items()}
        headers["Topic"] = short_key(topic_key)[:32]
        headers["Urgency"] = "high"
        return headers

    async def send(self, message: Outgoing) -> None:
        subscription = dict(message.address["subscription"])
        try:
            target = await self.endpoints.check(str(subscription.get("endpoint", "")))
        except Invalid as exc:
            raise PermanentFailure(f"push endpoint refused: {exc.reason}") from None
        payload = json.dumps(
            {
                "title": message.content.subject,
                "body": message.content.text,
                "lang": message.language,
            }
        )
        headers = self.headers(target.endpoint, message.idempotency_key)
        try:
            # pywebpush encrypts; the request is ours, so that redirects stay unfollowed.
            body = WebPusher(subscription).encode(payload.encode(), "aes128gcm")["body"]
        except (WebPushException, ValueError, TypeError, KeyError) as exc:
            raise PermanentFailure(f"push subscription unusable ({type(exc).__name__})") from None
        headers.update({"Content-Encoding": "aes128gcm", "TTL": str(self.ttl)})
        connector = aiohttp.TCPConnector(
            resolver=_PinnedResolver(target),
            use_dns_cache=False,
            ssl=self.ssl_context if self.ssl_context is not None else True,
        )
        try:
            async with (
                aiohttp.ClientSession(connector=connector, trust_env=False) as session,
                session.post(
                    target.endpoint,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as response,
            ):
                status = int(response.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientFailure(f"push service unreachable ({type(exc).__name__})") from None
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            raise PermanentFailure(f"push service redirected ({status}); not followed")
        if status in (400, 403, 404, 410, 413):
            raise PermanentFailure(f"push service refused the subscription ({status})")
        raise TransientFailure(f"push service answered {status}")
