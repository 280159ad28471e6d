"""Queue's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from careflow.kit.runtime import ServiceRuntime
from careflow.queue import adapters, consumers, http
from careflow.queue.settings import QueueSettings


def config_from(settings: QueueSettings) -> http.QueueConfig:
    """The HTTP layer's configuration from the service settings."""
    regions_file = (
        Path(settings.queue_regions_file) if settings.queue_regions_file else adapters.REGIONS_FILE
    )
    return http.QueueConfig(
        token_secret=settings.token_secret.get_secret_value(),
        regions=adapters.load_regions(regions_file),
        answer_within=timedelta(seconds=settings.queue_answer_within_seconds),
        read=adapters.Settings(
            throughput_window=timedelta(seconds=settings.queue_throughput_window_seconds),
            guarantee_warning=timedelta(seconds=settings.queue_guarantee_warning_seconds),
        ),
    )


def build(settings: QueueSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or QueueSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume("triaged-cases", consumers.HANDLERS)
    api = http.router(runtime.db, config_from(settings))
    app = runtime.create_app(
        api,
        title="careflow queue",
        description="The most urgent are helped first; staff claim turns.",
    )
    return runtime, app
