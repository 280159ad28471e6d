"""Notify's settings (environment variables prefixed CAREFLOW_)."""

from pydantic import SecretStr

from careflow.kit.settings import ServiceSettings
from careflow.notify.domain import DEFAULT_PUSH_SERVICES


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
    #: Longer than any send may take, so a live worker's claim never lapses mid-send.
    send_lease_seconds: float = 60.0
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
