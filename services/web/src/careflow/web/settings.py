"""The web front end's settings (environment variables, prefix ``CAREFLOW_``)."""

from __future__ import annotations

from pydantic import Field

from careflow.kit.settings import Environment, ServiceSettings


class WebSettings(ServiceSettings):
    """Where the other services answer, and how long a browser session lasts."""

    service_name: str = "web"
    identity_url: str = Field(default="http://127.0.0.1:8001", description="identity's base URL")
    triage_url: str = "http://127.0.0.1:8002"
    queue_url: str = "http://127.0.0.1:8003"
    chat_url: str = "http://127.0.0.1:8004"
    journal_url: str = "http://127.0.0.1:8005"
    notify_url: str = "http://127.0.0.1:8006"
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    live_poll_seconds: float = Field(default=1.0, gt=0, le=30)
    upstream_timeout_seconds: float = 10.0

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` wherever the site is served over TLS (all but dev/test)."""
        return self.environment not in (Environment.DEV, Environment.TEST)

    @property
    def test_eid(self) -> bool:
        """The test e-ID app page exists only where identity runs the test e-ID."""
        return self.environment in (Environment.DEV, Environment.TEST)
