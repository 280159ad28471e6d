"""Journal's settings (environment variables prefixed CAREFLOW_)."""

from careflow.kit.settings import ServiceSettings


class JournalSettings(ServiceSettings):
    service_name: str = "journal"
    http_port: int = 8005
