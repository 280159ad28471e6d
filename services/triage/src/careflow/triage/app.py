"""Triage's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from careflow.kit.runtime import ServiceRuntime
from careflow.triage import http
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


def build(settings: TriageSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or TriageSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    abandon_after = timedelta(minutes=settings.abandon_after_minutes)
    catalogue = load_catalogue(settings.questionnaire_dir)
    api = http.router(
        runtime.db, settings.token_secret.get_secret_value(), catalogue, abandon_after
    )
    app = runtime.create_app(
        api, title="careflow triage", description="Open a case and triage the patient's symptoms."
    )
    runtime.task(
        "expiry", lambda: sweep_forever(runtime.db, abandon_after, settings.expiry_sweep_seconds)
    )
    return runtime, app
