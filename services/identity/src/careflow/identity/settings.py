"""Identity's settings (environment variables prefixed CAREFLOW_)."""

from careflow.kit.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8001
