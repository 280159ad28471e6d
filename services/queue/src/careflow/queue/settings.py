"""Queue's settings (environment variables prefixed CAREFLOW_)."""

from careflow.kit.settings import ServiceSettings


class QueueSettings(ServiceSettings):
    service_name: str = "queue"
    http_port: int = 8003
    #: How long a patient has to answer after their turn before staff may requeue or close.
    queue_answer_within_seconds: float = 300.0
    #: The window of recent turns that estimated waits are computed from.
    queue_throughput_window_seconds: float = 3600.0
    #: A waiting case this close to a care-guarantee limit is flagged in the staff view.
    queue_guarantee_warning_seconds: float = 3600.0
    #: A case this close to its 3-day assessment limit raises an alert in the worklist.
    queue_assessment_warning_seconds: float = 12 * 3600.0
    #: The regions' opening hours (TOML); empty: the file shipped with the service.
    queue_regions_file: str = ""
