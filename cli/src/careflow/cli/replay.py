"""Read one case's history back from the Kafka topics, in causal order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition

from careflow.contracts import ContractError, Event, event_topics, parse_event


@dataclass(frozen=True)
class TimelineItem:
    topic: str
    partition: int
    offset: int
    event: Event


async def read_case(
    bootstrap_servers: str, case_id: UUID, timeout_s: float = 30.0
) -> list[TimelineItem]:
    """Every event of one case on every careflow topic, from the first offset to the end."""
    key = str(case_id).encode()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    found: list[TimelineItem] = []
    try:
        await consumer._client.force_metadata_update()  # learn every topic's partitions
        partitions = [
            TopicPartition(topic, p)
            for topic in event_topics()
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while remaining and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if record.key == key:
                        try:
                            event = parse_event(record.value or b"")
                        except ContractError:
                            continue
                        found.append(TimelineItem(tp.topic, tp.partition, record.offset, event))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return causal_order(found)


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
