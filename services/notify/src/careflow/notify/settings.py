"""Notify's settings (environment variables prefixed CAREFLOW_)."""

from __future__ import annotations

from pydantic import SecretStr, model_validator

from careflow.kit.settings import ServiceSettings
from careflow.notify.domain import DEFAULT_PUSH_SERVICES
from careflow.notify.mail import longest_send_seconds


class NotifySettings(ServiceSettings):
    """Notify's settings; a channel without its settings (gateway URL, SMTP host, VAPID key)
    is off, and deliveries planned for it fail with a clear reason rather than wait forever."""

    service_name: str = "notify"
    http_port: int = 8006

    #: The link every notification carries; the patient logs in with e-ID there.
    login_url: str = "https://careflow.example/login"

    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_sender: str = "careflow"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "careflow <no-reply@careflow.example>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    #: How long to wait for the server's answer to the message data (RFC 5321 4.5.3.2.6:
    #: at least 10 minutes). Connecting and the commands before it use
    #: ``send_timeout_seconds``. Without an answer in time the e-mail is not sent again
    #: (see ``careflow.notify.mail``).
    smtp_data_timeout_seconds: float = 600.0

    #: The VAPID private key (PEM, or the raw key base64url-encoded) and its contact subject.
    vapid_private_key: SecretStr | None = None
    vapid_subject: str = "mailto:ops@careflow.example"
    push_ttl_seconds: int = 3600
    #: The push services a subscription's endpoint may point at, matched by host suffix
    #: (a JSON list, e.g. ``["fcm.googleapis.com", "push.apple.com"]``). Endpoints must be
    #: https and resolve to public addresses only.
    push_services: tuple[str, ...] = DEFAULT_PUSH_SERVICES

    #: The worker: how many tries, how far apart (exponential with jitter), how long a claim lasts.
    send_max_attempts: int = 8
    send_backoff_base_seconds: float = 2.0
    send_backoff_cap_seconds: float = 300.0
    send_timeout_seconds: float = 10.0
    #: How long a claim lasts: longer than any send may take, so a live worker's claim
    #: never lapses mid-send (another worker would send a second copy). Unset, it is the
    #: longest send plus a minute; a crashed worker's claims are sent again after it.
    send_lease_seconds: float | None = None
    send_batch_size: int = 50
    send_idle_poll_seconds: float = 0.2

    #: At most this many outside notifications per recipient within the window (more wait).
    rate_limit_count: int = 10
    rate_limit_window_seconds: float = 600.0
    #: "Your turn" neither seen in the app nor sent through a channel within this time puts
    #: the patient on staff's list of unreached patients (NotificationFailed), checked this often.
    unseen_after_seconds: float = 300.0
    unreached_sweep_seconds: float = 15.0
    #: At most one "new message" notification per case within this interval.
    message_notice_interval_seconds: float = 900.0

    @property
    def longest_send_seconds(self) -> float:
        """The longest one send through any configured channel may take."""
        longest = self.send_timeout_seconds
        if self.smtp_host:
            longest = max(
                longest,
                longest_send_seconds(self.send_timeout_seconds, self.smtp_data_timeout_seconds),
            )
        return longest

    @property
    def lease_seconds(self) -> float:
        """How long a claim on a delivery lasts."""
        if self.send_lease_seconds is None:
            return self.longest_send_seconds + 60.0
        return self.send_lease_seconds

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> NotifySettings:
        if (
            self.send_lease_seconds is not None
            and self.send_lease_seconds <= self.longest_send_seconds
        ):
            raise ValueError(
                f"send_lease_seconds ({self.send_lease_seconds}) must be longer than the longest "
                f"send ({self.longest_send_seconds} s), or a live send's claim lapses and a "
                "second copy goes out"
            )
        return self
