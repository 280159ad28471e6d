"""Triage's composition root: settings, runtime, clock, questionnaires, routes and the sweep."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from careflow.kit.clock import Clock
from careflow.kit.runtime import ServiceRuntime
from careflow.triage import adapters, consumers, http, service
from careflow.triage.expiry import sweep_forever
from careflow.triage.lint import lint_directory
from careflow.triage.questionnaire import Catalogue, QuestionnaireError, catalogue_of
from careflow.triage.settings import TriageSettings


def load_catalogue(directory: Path) -> Catalogue:
    """The questionnaires in ``directory``; refuses to serve any if one fails lint."""
    sound, problems = lint_directory(directory)
    if problems:
        raise QuestionnaireError(
            "questionnaires fail lint:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return catalogue_of(sound)


def build(
    settings: TriageSettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """The triage service; ``clock`` replaces the system clock (tests)."""
    settings = settings or TriageSettings()
    runtime = ServiceRuntime(
        settings, Path(__file__).with_name("migrations"), clock=clock, restricted_role=True
    )
    ctx = service.Context(
        db=runtime.db,
        clock=runtime.clock,
        catalogue=load_catalogue(settings.questionnaire_dir),
        abandon_after=timedelta(minutes=settings.abandon_after_minutes),
        regions=adapters.load_region_choice(
            Path(settings.region_choice_file)
            if settings.region_choice_file
            else adapters.REGION_CHOICE_FILE
        ),
    )
    runtime.consume("contacts", consumers.HANDLERS)
    app = runtime.create_app(
        http.router(ctx),
        title="careflow triage",
        description="Open a case and triage the patient's symptoms.",
    )
    runtime.task("expiry", lambda: sweep_forever(ctx, settings.expiry_sweep_seconds))
    return runtime, app
