"""Triage's settings (environment variables prefixed CAREFLOW_)."""

from pathlib import Path

from careflow.kit.settings import ServiceSettings
from careflow.triage.questionnaire.reader import DEFAULT_DIRECTORY


class TriageSettings(ServiceSettings):
    service_name: str = "triage"
    http_port: int = 8002
    #: Where the questionnaires (YAML) are read from at start.
    questionnaire_dir: Path = DEFAULT_DIRECTORY
    #: A triage nobody answers for this long is abandoned.
    abandon_after_minutes: float = 60.0
    #: Which regions take patients from other regions (TOML); empty: the file shipped.
    region_choice_file: str = ""
    #: How often the service looks for abandoned triages.
    expiry_sweep_seconds: float = 60.0
