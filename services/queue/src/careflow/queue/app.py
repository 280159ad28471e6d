"""Queue's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from careflow.kit.access_log import access_log_router
from careflow.kit.clock import Clock
from careflow.kit.runtime import ServiceRuntime
from careflow.queue import adapters, consumers, http, views
from careflow.queue.service import QueueConfig
from careflow.queue.settings import QueueSettings


def config_from(settings: QueueSettings) -> QueueConfig:
    """The commands' configuration from the service settings."""
    regions_file = (
        Path(settings.queue_regions_file) if settings.queue_regions_file else adapters.REGIONS_FILE
    )
    return QueueConfig(
        regions=adapters.load_regions(regions_file),
        answer_within=timedelta(seconds=settings.queue_answer_within_seconds),
        assessment_warning=timedelta(seconds=settings.queue_assessment_warning_seconds),
        read=views.ReadSettings(
            throughput_window=timedelta(seconds=settings.queue_throughput_window_seconds),
            guarantee_warning=timedelta(seconds=settings.queue_guarantee_warning_seconds),
        ),
    )


def build(
    settings: QueueSettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """The queue service: its runtime (consumers, relay) and its HTTP app."""
    settings = settings or QueueSettings()
    runtime = ServiceRuntime(
        settings, Path(__file__).with_name("migrations"), clock=clock, restricted_role=True
    )
    runtime.consume("triaged-cases", consumers.handlers(runtime.clock))
    api = http.router(runtime.db, runtime.clock, config_from(settings))
    return runtime, runtime.create_app(
        api,
        access_log_router(runtime.db, adapters.access_log, runtime.clock),
        title="careflow queue",
        description="The most urgent are helped first; staff claim turns.",
    )
