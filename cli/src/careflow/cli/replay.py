"""Read one case's history back from the Kafka topics, in causal order."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition

from careflow.contracts import ContractError, Event, event_topics, parse_event
from careflow.kit.kafka import KafkaTarget, client_options
from careflow.kit.settings import ServiceSettings


def operator_kafka(bootstrap_servers: str) -> ServiceSettings:
    """The servers an operator's command reads, with the security the same environment
    variables give a service (CAREFLOW_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_CAFILE, ...)."""
    return ServiceSettings(kafka_bootstrap_servers=bootstrap_servers)


@dataclass(frozen=True)
class TimelineItem:
    topic: str
    partition: int
    offset: int
    event: Event


async def read_case(
    kafka: KafkaTarget,
    case_id: UUID,
    timeout_s: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[TimelineItem]:
    """Every event of one case on every careflow topic, from the first offset to the end."""
    if progress is None and sys.stderr.isatty():
        with ProgressBar("reading the topics") as bar:
            found = await read_log(kafka, None, case_id, timeout_s, bar.update)
    else:
        found = await read_log(kafka, None, case_id, timeout_s, progress)
    return causal_order(found)


class ProgressBar:
    """A progress bar on stderr for long reads: ``update(done, total)``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._shown = 0

    def __enter__(self) -> ProgressBar:
        return self

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            import click

            self._bar = click.progressbar(length=max(total, 1), label=self.label, file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


async def read_log(
    kafka: KafkaTarget,
    topics: Sequence[str] | None = None,
    case_id: UUID | None = None,
    timeout_s: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[TimelineItem]:
    """Every event on ``topics`` (default: every careflow event topic), from the first offset
    to the end as it was when reading began; only one case's when ``case_id`` is given.

    ``progress(done, total)`` is called as records are read (for a progress bar).
    """
    key = str(case_id).encode() if case_id is not None else None
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    await consumer.start()
    found: list[TimelineItem] = []
    try:
        await consumer._client.force_metadata_update()  # learn every topic's partitions
        partitions = [
            TopicPartition(topic, p)
            for topic in (topics or event_topics())
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        done = 0
        remaining = {tp for tp, end in ends.items() if end > starts[tp]}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while remaining and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    done += 1
                    if key is None or record.key == key:
                        try:
                            event = parse_event(record.value or b"")
                        except ContractError:
                            continue
                        found.append(TimelineItem(tp.topic, tp.partition, record.offset, event))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
            if progress is not None:
                progress(done, total)
    finally:
        await consumer.stop()
    return found


def causal_order(items: list[TimelineItem]) -> list[TimelineItem]:
    """Order by time, but never before the event that caused it; duplicates shown once."""
    unique: dict[UUID, TimelineItem] = {}
    for item in items:
        unique.setdefault(item.event.event_id, item)
    by_time = sorted(unique.values(), key=lambda i: (i.event.occurred_at, str(i.event.event_id)))
    placed: list[TimelineItem] = []
    seen: set[UUID] = set()
    waiting = list(by_time)
    while waiting:
        for i, item in enumerate(waiting):
            cause = item.event.causation_id
            if cause is None or cause in seen or cause not in unique:
                placed.append(item)
                seen.add(item.event.event_id)
                del waiting[i]
                break
        else:  # a cycle cannot happen with real events; keep going regardless
            placed.extend(waiting)
            break
    return placed


def describe(event: Event, with_content: bool = False) -> str:
    """One line about an event, without personal data unless asked for."""
    data: dict[str, Any] = event.model_dump(mode="json")
    parts: list[str] = []
    match event.event_type:
        case "CaseOpened":
            parts.append(f"region={data['region']}")
        case "TriageCompleted":
            parts.append(
                f"urgency={data['urgency']} -> {data['recommendation']}"
                f" rules={','.join(data['rules_fired'])}"
            )
        case "CaseQueued":
            parts.append(
                f"queue={data['queue']['region']}/{data['queue']['skill']}"
                f" urgency={data['urgency']}"
            )
        case "TurnReached":
            parts.append(
                f"by {data['professional']['title']} {data['professional']['staff_id']}"
                f" after {data['waited_seconds']:.1f}s"
            )
        case "PatientNotified":
            parts.append(f"{data['kind']} via {data['channel']}")
        case "MessageSent":
            text = data["text"] if with_content else f"<{len(data['text'])} chars>"
            parts.append(f"#{data['sequence']} {data['sender_role']}: {text}")
        case "CaseClosed":
            parts.append(f"outcome={data['outcome']}")
        case _:
            pass
    return " ".join(parts)


#: Where the operator's identity comes from when ``--operator`` is not given.
OPERATOR_ENV = "CAREFLOW_OPERATOR"


def require_operator(operator: str | None, purpose: str | None) -> tuple[str, str]:
    """The operator and purpose of a read of health data from the command line; exits 2
    with the reason (before anything is read) when either is missing."""
    import typer

    from careflow.journal import domain
    from careflow.kit.domain import Invalid

    try:
        return domain.require_operator(operator, purpose)
    except Invalid as refused:
        typer.echo(f"refusing to read the case: {refused}", err=True)
        raise typer.Exit(2) from None


def log_operator_read(
    database: str,
    schema: str,
    operator: str,
    purpose: str,
    case_id: UUID,
    events: Sequence[Event],
    actions: Sequence[str],
) -> None:
    """Write the read to the journal's access log (in the patient's extract) before it is
    shown, like the HTTP reads; a read that cannot be logged does not happen."""
    import getpass

    from careflow.contracts import CaseOpened
    from careflow.journal import service
    from careflow.kit.db import Database

    patient = next((e.patient_id for e in events if isinstance(e, CaseOpened)), None)
    try:
        os_user: str | None = getpass.getuser()
    except (KeyError, OSError):
        os_user = None

    async def write() -> None:
        db = Database(database, schema, pool_size=1)
        try:
            await service.log_operator_read(
                db, operator, os_user, case_id, patient, actions, purpose
            )
        finally:
            await db.dispose()

    asyncio.run(write())


def print_case(
    bootstrap_servers: str,
    database: str,
    schema: str,
    case_id: UUID,
    with_content: bool,
    operator: str | None,
    purpose: str | None,
) -> None:
    """``careflow replay``: a case's timeline from the topics, read by a named operator for a
    stated purpose, logged in the journal's access log before it is printed."""
    import typer

    who, why = require_operator(operator, purpose)
    items = asyncio.run(read_case(operator_kafka(bootstrap_servers), case_id))
    if not items:
        typer.echo(f"no events for case {case_id}", err=True)
        raise typer.Exit(1)
    actions = ["cli_replay_content" if with_content else "cli_replay"]
    log_operator_read(database, schema, who, why, case_id, [i.event for i in items], actions)
    typer.echo(f"timeline of case {case_id} ({len(items)} events, from the Kafka topics)")
    for item in items:
        e = item.event
        typer.echo(
            f"{e.occurred_at.isoformat(timespec='milliseconds')}  {e.producer:8} "
            f"{e.event_type:20} {e.actor.role.value:8} {describe(e, with_content)}"
        )
