"""Journal's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.journal import checkpoints, consumers, http
from careflow.journal.settings import JournalSettings
from careflow.kit.runtime import ServiceRuntime


def build(settings: JournalSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or JournalSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume(
        settings.journal_projector_name,
        consumers.HANDLERS,
        projection=consumers.PROJECTION,
        topics=settings.journal_source_topics or None,
    )
    checkpointer = checkpoints.Checkpointer(
        runtime.db,
        checkpoints.signing_key(settings.journal_signing_key.get_secret_value()),
        Path(settings.journal_checkpoint_dir) / settings.journal_schema,
        settings.journal_checkpoint_interval_seconds,
    )
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api,
        title="careflow journal",
        description="The append-only, hash-chained, signed record of every contact.",
    )
    if settings.journal_checkpoint_interval_seconds > 0:
        runtime.task("checkpoints", checkpointer.run, checkpointer.stop)
    return runtime, app
