"""Chat's settings (environment variables prefixed CAREFLOW_)."""

from careflow.kit.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    service_name: str = "chat"
    http_port: int = 8004
