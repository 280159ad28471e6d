"""Journal's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from careflow.journal import checkpoints, consumers, http
from careflow.journal.domain import public_key_hex
from careflow.journal.settings import JournalSettings
from careflow.kit.clock import Clock
from careflow.kit.runtime import ServiceRuntime

#: The journal's Alembic scripts.
MIGRATIONS = Path(__file__).with_name("migrations")


def build(
    settings: JournalSettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """The journal's runtime (projector, checkpointer, relay) and its HTTP app."""
    settings = settings or JournalSettings()
    # The record is append-only: the journal runs with a role that can only read and append.
    runtime = ServiceRuntime(settings, MIGRATIONS, clock, restricted_role=True)
    runtime.consume(
        settings.journal_projector_name,
        projection=consumers.PROJECTION,
        event_types=consumers.EVENT_TYPES,
        # Tests and benchmarks feed their own topics; otherwise SUBSCRIPTIONS decides.
        topics=settings.journal_source_topics or None,
    )
    key = checkpoints.signing_key(settings.journal_signing_key.get_secret_value())
    app = runtime.create_app(
        http.router(
            runtime.db,
            runtime.clock,
            public_key_hex(key),
            timedelta(seconds=settings.journal_unsigned_flag_after_seconds),
        ),
        title="careflow journal",
        description="The append-only, hash-chained, signed record of every contact.",
    )
    if settings.journal_checkpoint_interval_seconds > 0:
        checkpointer = checkpoints.Checkpointer(
            runtime.db,
            key,
            Path(settings.journal_checkpoint_dir) / settings.journal_schema,
            settings.journal_checkpoint_interval_seconds,
            runtime.clock,
        )
        runtime.task("checkpoints", checkpointer.run, checkpointer.stop)
    return runtime, app
