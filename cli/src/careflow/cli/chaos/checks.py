"""The invariants a chaos run holds afterwards, each a ``Check`` with figures and the
first few violations; the run fails when any check does not hold."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from careflow.cli.chaos.gateways import Mailbox, SmsGateway
from careflow.cli.chaos.load import CaseRecord
from careflow.cli.replay import operator_kafka, read_log
from careflow.contracts import dead_letter_topic, event_topics
from careflow.kit.kafka import client_options


@dataclass
class Check:
    name: str
    holds: bool
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holds": self.holds,
            **self.figures,
            "violations": self.violations[:20],
            "violation_count": len(self.violations),
        }


def _pg(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def defined_ends(
    url: Any,
    nurse: dict[str, dict[str, str]],
    cases: list[CaseRecord],
    database: str,
    abandon_s: float,
) -> Check:
    """Every case the load generator opened is closed, withdrawn or waiting in its queue;
    a triage left open (an open whose answer was lost) is younger than triage's abandon
    time plus a margin, so its sweep will end it."""
    ends: Counter[str] = Counter()
    bad: list[str] = []
    async with httpx.AsyncClient(timeout=30.0) as http:
        for c in cases:
            auth = nurse[c.region]
            r = await http.get(f"{url('chat')}/chat/cases/{c.case_id}", headers=auth)
            if r.status_code == 200 and r.json().get("closed_at"):
                ends["closed"] += 1
                continue
            q = await http.get(f"{url('queue')}/queue/cases/{c.case_id}", headers=auth)
            status = q.json().get("status") if q.status_code == 200 else f"HTTP {q.status_code}"
            if status in ("waiting", "withdrawn"):
                ends[status] += 1
            else:
                bad.append(f"case {c.case_id}: {status} (load generator: {c.step}, {c.error})")
    conn = await asyncpg.connect(_pg(database))
    try:
        rows = await conn.fetch("SELECT case_id, last_activity_at FROM triage.open_triages")
    finally:
        await conn.close()
    limit = datetime.now(UTC) - timedelta(seconds=abandon_s + 60)
    known = {c.case_id for c in cases}
    stale = [r for r in rows if r["last_activity_at"] < limit]
    bad += [f"triage {r['case_id']} open since {r['last_activity_at']:%H:%M:%S}" for r in stale]
    return Check(
        "every case reached a defined end",
        not bad,
        {
            "cases": len(cases),
            **{f"ends_{k}": v for k, v in sorted(ends.items())},
            "open_triages_awaiting_sweep": len(rows) - len(stale),
            "of_them_known_to_the_load": sum(str(r["case_id"]) in known for r in rows),
        },
        bad,
    )


async def journal(kafka: str, database: str, checkpoints: Path, public_key: str) -> Check:
    """``careflow journal completeness`` and ``careflow journal verify``, as an operator runs
    them; their output is kept."""
    from careflow.cli.journal_cmd import _completeness, _verify

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        complete = await _completeness(kafka, database, "journal", 300.0)
        valid = await _verify(database, "journal", None, checkpoints, public_key)
    lines = out.getvalue().splitlines()
    bad = [x for x in lines if x.startswith(("MISSING", "WAITING", "NO SOURCE", "TAMPERED"))]
    return Check(
        "journal complete and verified",
        complete == 0 and valid == 0,
        {"completeness_exit": complete, "verify_exit": valid, "output": lines[:6]},
        bad,
    )


async def notifications(
    database: str, gateway: SmsGateway, mailbox: Mailbox, within: float = 180.0
) -> Check:
    """Every delivery notify planned was sent, and reached the SMS gateway (deduplicated by
    its idempotency key, as gateways do) or the SMTP server (by Message-ID) exactly once;
    nothing reached them that notify did not plan.

    One exception is allowed and counted: an e-mail whose sender was killed after it
    handed the message to the server ends as "outcome unknown" (never sent again, as SMTP
    cannot recognise a repeat); it must have reached the server at most once."""
    from careflow.notify.channels import short_key

    deadline = time.monotonic() + within
    conn = await asyncpg.connect(_pg(database))
    try:
        while True:
            rows = await conn.fetch(
                "SELECT dedupe_key, channel, status, handed_over_at FROM notify.deliveries"
            )
            pending = [r for r in rows if r["status"] == "pending"]
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
    finally:
        await conn.close()
    unknown = {
        f"<{short_key(r['dedupe_key'])}@notify.careflow>": r["dedupe_key"]
        for r in rows
        if r["channel"] == "email" and r["status"] == "failed" and r["handed_over_at"]
    }
    settled_unknown = set(unknown.values())
    bad = [
        f"delivery {r['dedupe_key']} {r['status']}"
        for r in rows
        if r["status"] != "sent" and r["dedupe_key"] not in settled_unknown
    ]
    sms = {r["dedupe_key"] for r in rows if r["channel"] == "sms" and r["status"] == "sent"}
    with gateway.lock:
        at_gateway = set(gateway.delivered)
        requests = sum(gateway.requests.values())
    bad += [f"sms {k} never reached the gateway" for k in sorted(sms - at_gateway)]
    bad += [f"sms {k} at the gateway, not planned" for k in sorted(at_gateway - sms)]
    emails = {
        f"<{short_key(r['dedupe_key'])}@notify.careflow>": r["dedupe_key"]
        for r in rows
        if r["channel"] == "email" and r["status"] == "sent"
    }
    with mailbox.lock:
        received = Counter(mid for mid, _ in mailbox.messages)
    for mid, key in emails.items():
        if received[mid] != 1:
            bad.append(f"email {key} reached the SMTP server {received[mid]} times")
    for mid, key in unknown.items():
        if received[mid] > 1:
            bad.append(f"email {key} (outcome unknown) reached the server {received[mid]} times")
    planned = emails.keys() | unknown.keys()
    bad += [
        f"email {mid} at the SMTP server, not planned" for mid in received if mid not in planned
    ]
    return Check(
        "each notification reached its gateway exactly once",
        not bad,
        {
            "deliveries": len(rows),
            "sms": len(sms),
            "sms_requests_with_retries": requests,
            "emails": len(emails),
            "emails_received": sum(received.values()),
            "emails_outcome_unknown": len(unknown),
        },
        bad,
    )


async def topics(kafka: str) -> tuple[Check, Check]:
    """Per case and topic: one partition, each event after the event that caused it, the
    opening event first and the close last; and no dead letters on any service's topic."""
    items = await read_log(operator_kafka(kafka), None, None, 300.0)
    by: dict[tuple[str, UUID], list[Any]] = defaultdict(list)
    for item in sorted(items, key=lambda i: (i.topic, i.partition, i.offset)):
        by[(item.topic, item.event.case_id)].append(item)
    bad: list[str] = []
    duplicates = 0
    for (topic, case_id), seq in by.items():
        if len({i.partition for i in seq}) != 1:
            bad.append(f"{topic} case {case_id}: on several partitions")
        seen: set[UUID] = set()
        events = []
        for i in seq:
            if i.event.event_id in seen:
                duplicates += 1  # a relay's resend after a crash; consumers drop it
                continue
            seen.add(i.event.event_id)
            events.append(i.event)
        # An event caused by another on the same topic comes after it (the relay publishes
        # in commit order); times alone are no order, concurrent commands take them early.
        position = {e.event_id: n for n, e in enumerate(events)}
        for n, e in enumerate(events):
            cause = position.get(e.causation_id) if e.causation_id else None
            if cause is not None and cause > n:
                bad.append(f"{topic} case {case_id}: {e.event_type} before its cause")
        types = [e.event_type for e in events]
        if "CaseOpened" in types and types[0] != "CaseOpened":
            bad.append(f"{topic} case {case_id}: {types[0]} before CaseOpened")
        if "CaseClosed" in types and types[-1] != "CaseClosed" and topic.endswith("chat.events"):
            bad.append(f"{topic} case {case_id}: {types[-1]} after CaseClosed")
    order = Check(
        "per-case order on every topic",
        not bad,
        {"events": len(items), "case_streams": len(by), "resent_duplicates": duplicates},
        bad,
    )
    from careflow.cli.platform import SERVICES

    consumer = AIOKafkaConsumer(**client_options(operator_kafka(kafka)))
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        dead: dict[str, int] = {}
        for service in SERVICES:
            topic = dead_letter_topic(service)
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if tps:
                begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
                dead[service] = sum(end[tp] - begin[tp] for tp in tps)
            else:
                dead[service] = 0
    finally:
        await consumer.stop()
    letters = Check(
        "no dead letters (no poison was injected)",
        not any(dead.values()),
        {"dead_letters": dead},
        [f"{s}: {n} dead letters" for s, n in dead.items() if n],
    )
    return order, letters


async def lag(kafka: str, within: float = 180.0) -> Check:
    """Every consumer group's committed offsets reach the end of the topics it reads."""
    options = client_options(operator_kafka(kafka))
    admin = AIOKafkaAdminClient(**options)
    consumer = AIOKafkaConsumer(**options)
    await admin.start()
    await consumer.start()
    careflow_topics = set(event_topics())
    deadline = time.monotonic() + within
    waited = time.monotonic()
    try:
        while True:
            groups = [g[0] for g in await admin.list_consumer_groups()]
            per: dict[str, int] = {}
            for group in groups:
                offsets = await admin.list_consumer_group_offsets(group)
                tps = [tp for tp in offsets if tp.topic in careflow_topics]
                if not tps:
                    continue
                ends = await consumer.end_offsets(tps)
                per[group] = sum(max(0, ends[tp] - offsets[tp].offset) for tp in tps)
            if not any(per.values()) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
    finally:
        await consumer.stop()
        await admin.close()
    return Check(
        "consumer lag back to zero",
        not any(per.values()),
        {"lag": per, "seconds_to_zero": round(time.monotonic() - waited, 1)},
        [f"{g}: lag {n}" for g, n in per.items() if n],
    )


def recovery(applied: list[Any]) -> Check:
    """Every fault was applied and the platform was ready again after it; p50/p99/max."""
    times = sorted(a.recovery_s for a in applied if a.recovery_s is not None)
    bad = [f"{a.fault.kind} {a.fault.target or ''}: {a.error}" for a in applied if a.error]
    bad += [
        f"{a.fault.kind} {a.fault.target or ''}: not recovered"
        for a in applied
        if a.recovery_s is None
    ]

    def pct(q: float) -> float | None:
        return times[min(len(times) - 1, int(q * len(times)))] if times else None

    return Check(
        "recovered from every fault",
        not bad,
        {
            "faults": len(applied),
            "recovery_p50_s": pct(0.5),
            "recovery_p99_s": pct(0.99),
            "recovery_max_s": times[-1] if times else None,
        },
        bad,
    )
