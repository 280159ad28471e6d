"""Queue's settings (environment variables prefixed CAREFLOW_)."""

from careflow.kit.settings import ServiceSettings


class QueueSettings(ServiceSettings):
    service_name: str = "queue"
    http_port: int = 8003
