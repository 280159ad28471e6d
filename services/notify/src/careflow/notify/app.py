"""Notify's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from careflow.kit.access_log import access_log_router
from careflow.kit.clock import Clock
from careflow.kit.logging import get_logger
from careflow.kit.runtime import ServiceRuntime
from careflow.notify import adapters, consumers, http, service
from careflow.notify.channels import (
    Channel,
    PushEndpoints,
    Resolve,
    SmsGateway,
    WebPush,
    resolve_host,
)
from careflow.notify.mail import SmtpMailer
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings

log = get_logger(__name__)


def push_endpoints(settings: NotifySettings, resolve: Resolve | None = None) -> PushEndpoints:
    """Where Web Push may go: the configured push services, public addresses only."""
    return PushEndpoints(tuple(settings.push_services), resolve or resolve_host)


def build_channels(
    settings: NotifySettings, push: PushEndpoints | None = None
) -> dict[str, Channel]:
    """The channels this installation has settings for; the others stay off."""
    channels: dict[str, Channel] = {}
    timeout = settings.send_timeout_seconds
    if settings.sms_gateway_url:
        token = settings.sms_gateway_token
        channels["sms"] = SmsGateway(
            settings.sms_gateway_url,
            token.get_secret_value() if token else None,
            settings.sms_sender,
            timeout,
        )
    if settings.smtp_host:
        password = settings.smtp_password
        channels["email"] = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            timeout,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            start_tls=settings.smtp_start_tls,
            data_timeout=settings.smtp_data_timeout_seconds,
        )
    if settings.vapid_private_key:
        channels["push"] = WebPush(
            settings.vapid_private_key.get_secret_value(),
            settings.vapid_subject,
            timeout,
            settings.push_ttl_seconds,
            push or push_endpoints(settings),
        )
    return channels


def build(
    settings: NotifySettings | None = None,
    clock: Clock | None = None,
    resolve: Resolve | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    """Notify's process: consumers that plan, the sender that sends, the HTTP API.

    ``clock`` replaces the system clock and ``resolve`` the system's name resolver (tests).
    """
    settings = settings or NotifySettings()
    push = push_endpoints(settings, resolve)
    runtime = ServiceRuntime(
        settings, Path(__file__).with_name("migrations"), clock=clock, restricted_role=True
    )
    runtime.consume("turns", consumers.turn_handlers(settings, runtime.clock))
    runtime.consume("chat", consumers.chat_handlers(settings, runtime.clock))
    sender = Sender(runtime.db, settings, build_channels(settings, push), runtime.clock)
    # The sender stops before the kit's own parts: it needs the database, which they close.
    runtime.task("sender", sender.run, sender.stop, ready=lambda: sender.running)
    log.info("notify_channels", channels=sorted(sender.channels))
    unseen_after = timedelta(seconds=settings.unseen_after_seconds)
    runtime.task(
        "unreached",
        lambda: service.sweep_unreached_forever(
            runtime.db, runtime.clock, unseen_after, settings.unreached_sweep_seconds
        ),
    )
    web_push = sender.channels.get("push")
    public_key = web_push.public_key if isinstance(web_push, WebPush) else None
    api = http.router(runtime.db, runtime.clock, push, public_key)
    app = runtime.create_app(
        api,
        access_log_router(runtime.db, adapters.access_log, runtime.clock),
        title="careflow notify",
        description="Tell the patient: their turn, a new message, advice ready.",
    )
    app.state.sender = sender
    return runtime, app
