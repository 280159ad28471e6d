"""Triage's settings (environment variables prefixed CAREFLOW_)."""

from careflow.kit.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    service_name: str = "triage"
    http_port: int = 8002
