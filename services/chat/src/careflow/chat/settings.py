"""Chat's settings (environment variables prefixed CAREFLOW_)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import tempfile
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator

from careflow.kit.settings import Environment, ServiceSettings


class ChatSettings(ServiceSettings):
    service_name: str = "chat"
    http_port: int = 8004
    attachments_store: Literal["postgres", "s3", "local"] = Field(
        default="postgres",
        description="Where attachment bytes live: chat's own schema (default; shared by every "
        "replica), an S3-compatible bucket, or local disk (one machine: dev and test only).",
    )
    attachments_dir: Path = Field(
        default=Path(tempfile.gettempdir()) / "careflow-chat-attachments",
        description="The local disk store's folder (CAREFLOW_ATTACHMENTS_STORE=local).",
    )
    attachments_s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint, e.g. https://minio.example:9000; unset: AWS S3.",
    )
    attachments_s3_bucket: str | None = None
    attachments_s3_region: str | None = None
    attachments_s3_access_key_id: str | None = None
    attachments_s3_secret_access_key: SecretStr | None = None
    attachments_s3_prefix: str = Field(
        default="attachments/", description="Key prefix; an object's key is <prefix><sha256>."
    )
    max_attachment_bytes: int = 10 * 1024 * 1024
    stun_urls: list[str] = Field(
        default_factory=list,
        description='STUN servers for clients, e.g. ["stun:stun.example:3478"].',
    )
    turn_urls: list[str] = Field(default_factory=list, description="TURN servers for clients.")
    turn_secret: SecretStr | None = Field(
        default=None,
        description="coturn's static-auth-secret: clients get short-lived TURN logins.",
    )
    turn_ttl_seconds: int = 3600
    ws_auth_timeout_seconds: float = 5.0
    ws_max_frame_bytes: int = Field(
        default=32 * 1024,
        description="A live socket's largest client frame (a 4000-character message escaped "
        "as JSON fits); a larger one closes the socket with 1009.",
    )
    ws_frames_per_second: float = Field(
        default=10.0, description="Client frames a live socket may send per second, sustained."
    )
    ws_frame_burst: int = Field(
        default=30,
        description="Client frames a live socket may send at once; beyond the rate each is "
        "refused (429), and a client refused more often than this is closed with 1008.",
    )

    @model_validator(mode="after")
    def _local_store_only_in_development(self) -> Self:
        # A folder is neither shared by replicas nor kept across a pod's restart.
        if self.attachments_store == "local" and self.environment not in (
            Environment.DEV,
            Environment.TEST,
        ):
            raise ValueError(
                "CAREFLOW_ATTACHMENTS_STORE=local keeps attachments on one machine: use "
                "postgres (the default) or s3 outside dev and test"
            )
        return self

    @model_validator(mode="after")
    def _s3_store_is_complete(self) -> Self:
        if self.attachments_store != "s3":
            return self
        missing = [
            f"CAREFLOW_{name.upper()}"
            for name in (
                "attachments_s3_bucket",
                "attachments_s3_region",
                "attachments_s3_access_key_id",
                "attachments_s3_secret_access_key",
            )
            if not _filled(getattr(self, name))
        ]
        if missing:
            raise ValueError(f"CAREFLOW_ATTACHMENTS_STORE=s3 also needs {', '.join(missing)}")
        return self


def _filled(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value and value.strip())


def ice_servers(
    settings: ChatSettings, subject_id: str, now: float, relay: bool = True
) -> list[dict[str, Any]]:
    """The RTCIceServer list a client needs, TURN logins valid ``turn_ttl_seconds``
    (only with ``relay``: for a video participant while the video runs).

    The TURN login follows coturn's REST scheme (``use-auth-secret``): user name
    ``<expiry>:<subject>``, password base64(HMAC-SHA1(secret, user name)), so the
    TURN server checks it without asking careflow.
    """
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if relay and settings.turn_urls and settings.turn_secret is not None:
        username = f"{int(now) + settings.turn_ttl_seconds}:{subject_id}"
        digest = hmac.new(
            settings.turn_secret.get_secret_value().encode(), username.encode(), hashlib.sha1
        ).digest()
        servers.append(
            {
                "urls": list(settings.turn_urls),
                "username": username,
                "credential": base64.b64encode(digest).decode(),
            }
        )
    return servers
