"""Web Push: the request pywebpush builds, signed with VAPID, to a real local push endpoint.

The local push service is plain http on 127.0.0.1, which notify itself never reaches: these
tests give the channel ``LOCAL``, endpoints that allow it (see ``PushEndpoints``).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from notify_testkit import Gateway
from py_vapid import Vapid, b64urlencode

from careflow.notify import domain
from careflow.notify.channels import (
    Outgoing,
    PermanentFailure,
    PushEndpoints,
    TransientFailure,
    WebPush,
)

pytestmark = [pytest.mark.notify, pytest.mark.integration]


async def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


#: The test's local push service: plain http on the loopback address.
LOCAL = PushEndpoints(
    services=("127.0.0.1",), resolve=_loopback, schemes=("http",), address_refusal=lambda _: None
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    running = Gateway()
    running.start()
    yield running
    running.stop()


def browser() -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, str]]:
    """A subscriber's key pair and auth secret, as a browser would make them."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return key, auth, {"p256dh": b64(public), "auth": b64(auth)}


def vapid_key() -> tuple[str, Vapid]:
    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return b64urlencode(raw), vapid


async def test_push_is_encrypted_and_signed_with_vapid(gateway: Gateway) -> None:
    private, vapid = vapid_key()
    push = WebPush(private, "mailto:ops@careflow.example", timeout=5.0, ttl=600, endpoints=LOCAL)
    key, auth, keys = browser()
    endpoint = gateway.push_endpoint("sub-1")
    content = domain.render("advice_ready", "en", "https://careflow.example/login")
    dedupe = f"{uuid.uuid4()}:advice_ready:sub_1:push"

    await push.send(
        Outgoing(
            address={"subscription": {"endpoint": endpoint, "keys": keys}},
            content=content,
            idempotency_key=dedupe,
            language="en",
        )
    )

    [request] = gateway.pushes
    headers = {k.lower(): v for k, v in request.headers.items()}
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(p.split("=", 1) for p in params.split(","))
    assert scheme == "vapid"
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert unb64(fields["k"]) == public
    claims = jwt.decode(
        fields["t"],
        vapid.public_key,
        algorithms=["ES256"],
        audience=f"http://127.0.0.1:{gateway.port}",
    )
    assert claims["sub"] == "mailto:ops@careflow.example"
    assert headers["content-encoding"] == "aes128gcm" and headers["ttl"] == "600"
    assert headers["urgency"] == "high" and 0 < len(headers["topic"]) <= 32
    payload = json.loads(http_ece.decrypt(request.body, private_key=key, auth_secret=auth))
    assert payload == {"title": content.subject, "body": content.text, "lang": "en"}


async def test_push_service_answers_map_to_retry_or_give_up(gateway: Gateway) -> None:
    private, _ = vapid_key()
    push = WebPush(private, "mailto:ops@careflow.example", timeout=5.0, ttl=600, endpoints=LOCAL)
    _, _, keys = browser()
    message = Outgoing(
        address={"subscription": {"endpoint": gateway.push_endpoint("x"), "keys": keys}},
        content=domain.render("your_turn", "sv", "https://careflow.example/login"),
        idempotency_key="k",
        language="sv",
    )
    gateway.down = True
    with pytest.raises(TransientFailure):
        await push.send(message)
    gone = Outgoing(
        address={
            "subscription": {"endpoint": f"http://127.0.0.1:{gateway.port}/nothing", "keys": keys}
        },
        content=message.content,
        idempotency_key="k",
        language="sv",
    )
    gateway.down = False
    with pytest.raises(PermanentFailure):
        await push.send(gone)
