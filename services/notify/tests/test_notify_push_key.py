"""The key a browser subscribes to Web Push with is the public half of notify's VAPID key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from careflow.notify.channels import WebPush

pytestmark = [pytest.mark.notify, pytest.mark.web, pytest.mark.unit]


def test_the_public_key_is_the_uncompressed_point_of_the_vapid_key_base64url() -> None:
    vapid = Vapid()
    vapid.generate_keys()
    push = WebPush(vapid.private_pem().decode(), "mailto:ops@careflow.example", 5.0, 60)
    key = base64.urlsafe_b64decode(push.public_key + "=" * (-len(push.public_key) % 4))
    assert len(key) == 65 and key[0] == 4  # what PushManager.subscribe takes
    assert "=" not in push.public_key
    assert key == vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
