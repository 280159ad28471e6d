"""Prometheus metrics of the kit's event path, exposed at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter(
    "careflow_events_appended_total",
    "Events appended to the service's event store.",
    ["event_type"],
)
EVENTS_PUBLISHED = Counter(
    "careflow_events_published_total", "Outbox events published to Kafka by the relay.", ["topic"]
)
OUTBOX_BACKLOG = Gauge(
    "careflow_outbox_backlog", "Unpublished outbox rows seen by the relay's last poll."
)
RELAY_ERRORS = Counter("careflow_relay_errors_total", "Relay iterations that failed.")
EVENTS_CONSUMED = Counter(
    "careflow_events_consumed_total",
    "Events read by an idempotent consumer, by outcome (applied, duplicate, ignored).",
    ["consumer", "outcome"],
)
DEAD_LETTERS = Counter(
    "careflow_dead_letters_total", "Messages sent to a dead-letter topic.", ["consumer", "reason"]
)
CONSUMER_BATCH_FAILURES = Counter(
    "careflow_consumer_batch_failures_total",
    "Batches rolled back and retried after an infrastructure error.",
    ["consumer"],
)
EVENT_LAG = Histogram(
    "careflow_event_lag_seconds",
    "From an event's occurred_at to its effect committed by a consumer.",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTBOX_OLDEST_AGE = Gauge(
    "careflow_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row at the relay's last poll (0 when none waits).",
)
CONSUMER_LAG = Gauge(
    "careflow_consumer_lag_messages",
    "Messages on a partition not yet read by the consumer (high watermark minus position).",
    ["consumer", "topic", "partition"],
)
