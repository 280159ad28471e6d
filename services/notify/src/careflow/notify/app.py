"""Notify's composition root."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from careflow.contracts import topic_for_service
from careflow.kit.logging import get_logger
from careflow.kit.runtime import ServiceRuntime
from careflow.notify import consumers, http
from careflow.notify.channels import Channel, SmsGateway, SmtpMailer, WebPush
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings

log = get_logger(__name__)


def build_channels(settings: NotifySettings) -> dict[str, Channel]:
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
        )
    if settings.vapid_private_key:
        channels["push"] = WebPush(
            settings.vapid_private_key.get_secret_value(),
            settings.vapid_subject,
            timeout,
            settings.push_ttl_seconds,
        )
    return channels


class NotifyRuntime(ServiceRuntime):
    """The kit's runtime plus the sender loop, started after and stopped before the rest."""

    def __init__(self, settings: NotifySettings, migrations: Path | None = None) -> None:
        super().__init__(settings, migrations)
        self.sender = Sender(self.db, settings, build_channels(settings))
        self._sender_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._sender_task = asyncio.create_task(self.sender.run(), name="notify-sender")
        log.info("notify_sender_started", channels=sorted(self.sender.channels))

    async def stop(self) -> None:
        # The sender first: it needs the database, which the kit's stop closes.
        self.sender.stop()
        if self._sender_task is not None:
            try:
                await asyncio.wait_for(self._sender_task, self.settings.shutdown_grace_seconds)
            except TimeoutError:
                self._sender_task.cancel()
            self._sender_task = None
        await super().stop()

    async def ready(self) -> dict[str, bool]:
        checks = await super().ready()
        checks["sender"] = self.sender.running
        return checks


def build(settings: NotifySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or NotifySettings()
    runtime = NotifyRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume(
        "turns",
        [topic_for_service("triage"), topic_for_service("queue")],
        consumers.turn_handlers(settings),
    )
    runtime.consume("chat", [topic_for_service("chat")], consumers.chat_handlers(settings))
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api,
        title="careflow notify",
        description="Tell the patient: their turn, a new message, advice ready.",
    )
    return runtime, app
