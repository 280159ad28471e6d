"""``careflow journal``: verify the record, check it against the event log, replay a case.

careflow journal verify [--case ID]     every chain, against the newest signed checkpoint
careflow journal completeness           every documented event on Kafka has its entry
careflow journal checkpoint             sign and export a checkpoint now
careflow journal replay --case ID       the case from the topics: timeline, state, JSON, FHIR
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import typer

journal_app = typer.Typer(
    help="Verify the journal, check it against Kafka, replay a case.", no_args_is_help=True
)


def _endpoints() -> tuple[str, str]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        return kafka, database
    from careflow.cli.infra import Infra

    local = Infra.profile("dev")
    return local.bootstrap_servers, local.database_url()


def _settings(schema: str) -> Any:
    from careflow.journal.settings import JournalSettings

    return JournalSettings(journal_schema=schema)


#: Where ``careflow journal verify`` finds the pinned signer when ``--public-key`` is not given.
PUBLIC_KEY_ENV = "CAREFLOW_JOURNAL_PUBLIC_KEY"


async def _verify(
    database: str, schema: str, case: UUID | None, checkpoints_dir: Path, public_key: str
) -> int:
    from careflow.cli.replay import ProgressBar
    from careflow.journal import adapters, audit, checkpoints
    from careflow.kit.db import Database

    db = Database(database, schema, pool_size=1)
    try:
        async with db.transaction() as conn:
            cp = checkpoints.latest_exported(checkpoints_dir)
            source = f"file {checkpoints_dir}"
            stored = await adapters.latest_checkpoint(conn)
            if cp is None:
                cp = stored[0] if stored else None
                source = "the database (no exported file found: weaker)"
            total = await adapters.max_entry_id(conn)
            with ProgressBar("verifying") as bar:
                seen = 0

                def tick(n: int) -> None:
                    nonlocal seen
                    seen += n
                    if sys.stderr.isatty():
                        bar.update(seen, max(total, seen))

                report = await audit.verify_database(
                    conn, cp, public_key, [case] if case else None, tick, stored
                )
    finally:
        await db.dispose()
    typer.echo(
        f"{report.entries} entries in {report.chains} chains; checkpoint "
        + (f"#{report.checkpoint} from {source}" if cp else "none")
    )
    typer.echo(f"  signer pinned: {public_key}")
    for p in report.problems:
        where = f"case {p.case_id} lane {p.lane} sequence {p.sequence}" if p.case_id else "record"
        typer.echo(f"TAMPERED  {p.kind:10} {where}: {p.detail}")
    if report.valid:
        typer.echo("valid: every chain recomputes and matches the signed checkpoint")
    return 0 if report.valid else 1


@journal_app.command("verify")
def verify(
    case: UUID | None = typer.Option(None, "--case", help="Only this case."),
    schema: str = typer.Option("journal", help="The journal's database schema."),
    checkpoints: Path | None = typer.Option(
        None, help="Folder of exported checkpoints (default: the service's)."
    ),
    public_key: str | None = typer.Option(
        None,
        help="The journal's Ed25519 public key (hex) that checkpoints must be signed with "
        f"(default: ${PUBLIC_KEY_ENV}). Required.",
    ),
) -> None:
    """Recompute every hash chain and hold it against the newest signed checkpoint.

    Names each modified, deleted, inserted, reordered or truncated entry; exit code 1 if any.
    The signer is pinned: a checkpoint is accepted only if signed with the public key given
    (never the key written inside the checkpoint, which a forger chooses); exit code 2 without.
    """
    public_key = (public_key or os.environ.get(PUBLIC_KEY_ENV) or "").strip().lower()
    try:
        if len(bytes.fromhex(public_key)) != 32:
            raise ValueError
    except ValueError:
        typer.echo(
            "refusing to verify: no pinned signer. Pass --public-key HEX or set "
            f"{PUBLIC_KEY_ENV} to the journal's Ed25519 public key (64 hex digits); the key "
            "written inside a checkpoint proves nothing, since a forger writes their own.",
            err=True,
        )
        raise typer.Exit(2) from None
    _, database = _endpoints()
    folder = checkpoints or Path(_settings(schema).journal_checkpoint_dir) / schema
    raise typer.Exit(asyncio.run(_verify(database, schema, case, folder, public_key)))


async def _completeness(kafka: str, database: str, schema: str, read_seconds: float) -> int:
    from careflow.cli.replay import ProgressBar, operator_kafka, read_log
    from careflow.journal import audit
    from careflow.kit.db import Database

    with ProgressBar("reading the topics") as bar:
        log = [
            i.event
            for i in await read_log(operator_kafka(kafka), None, None, read_seconds, bar.update)
        ]
    db = Database(database, schema, pool_size=1)
    try:
        async with db.transaction() as conn:
            report = await audit.completeness(conn, log)
    finally:
        await db.dispose()
    typer.echo(
        f"{report.events_checked} documented events on Kafka, {report.entries} journal entries"
    )
    for event_type, event_id, case_id in report.missing:
        typer.echo(f"MISSING   {event_type:20} event {event_id} case {case_id}")
    for event_id in report.parked:
        typer.echo(f"WAITING   event {event_id}: its case's CaseOpened has not arrived")
    for case_id, event_id in report.without_source:
        typer.echo(f"NO SOURCE entry for event {event_id} case {case_id}: not in the event log")
    if report.complete:
        typer.echo("complete: every documented event has its entry and every entry its event")
    return 0 if report.complete else 1


@journal_app.command("completeness")
def completeness(
    schema: str = typer.Option("journal", help="The journal's database schema."),
    timeout: float = typer.Option(300.0, help="Seconds to spend reading the topics."),
) -> None:
    """Cross-check the event log (Kafka, from the first offset) against the journal."""
    kafka, database = _endpoints()
    raise typer.Exit(asyncio.run(_completeness(kafka, database, schema, timeout)))


@journal_app.command("checkpoint")
def checkpoint(
    schema: str = typer.Option("journal", help="The journal's database schema."),
) -> None:
    """Sign, store, export and publish a checkpoint now (if the record grew)."""
    from careflow.journal.checkpoints import Checkpointer, signing_key
    from careflow.kit.clock import SystemClock
    from careflow.kit.db import Database

    _, database = _endpoints()
    settings = _settings(schema)

    async def run() -> Any:
        db = Database(database, schema, pool_size=1)
        try:
            return await Checkpointer(
                db,
                signing_key(settings.journal_signing_key.get_secret_value()),
                Path(settings.journal_checkpoint_dir) / schema,
                0,
                SystemClock(),
            ).checkpoint()
        finally:
            await db.dispose()

    cp = asyncio.run(run())
    typer.echo(f"checkpoint #{cp.number}: {cp.entries} entries" if cp else "nothing new to sign")


@journal_app.command("replay")
def replay(
    case: UUID = typer.Option(..., "--case", help="The case id."),
    at: datetime | None = typer.Option(None, help="Also show the case's state at this moment."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the timeline as JSON."),
    fhir_out: Path | None = typer.Option(None, "--fhir", help="Write a FHIR R4 Bundle."),
    content: bool = typer.Option(False, help="Show message text (personal data)."),
    operator: str | None = typer.Option(
        None,
        envvar="CAREFLOW_OPERATOR",
        help="Who reads (logged in the patient's access log). Required.",
    ),
    purpose: str | None = typer.Option(
        None, help="Why the case is read (logged; 10 characters or more). Required."
    ),
    schema: str = typer.Option("journal", help="The journal's schema (its access log)."),
) -> None:
    """A case's full timeline from the Kafka topics, in causal order, with actors.

    Health data: the operator and the purpose are required, and the read (each export
    too) is written to the journal's access log before anything is shown.
    """
    from careflow.cli.replay import (
        ProgressBar,
        describe,
        log_operator_read,
        operator_kafka,
        read_log,
        require_operator,
    )
    from careflow.contracts import CasePatientIdentified, event_topics, restricted_topics
    from careflow.journal import domain, export

    who, why = require_operator(operator, purpose)
    kafka, database = _endpoints()
    # The patient's number lives only on the restricted topic; read it for the FHIR export.
    topics = [*event_topics(), *restricted_topics()] if fhir_out is not None else None
    with ProgressBar("reading the topics") as bar:
        items = asyncio.run(read_log(operator_kafka(kafka), topics, case, 120.0, bar.update))
    patient_pin = next(
        (
            i.event.personal_identity_number
            for i in items
            if isinstance(i.event, CasePatientIdentified)
        ),
        None,
    )
    events = domain.causal_order(
        i.event for i in items if not isinstance(i.event, CasePatientIdentified)
    )
    if not events:
        typer.echo(f"no events for case {case}", err=True)
        raise typer.Exit(1)
    actions = ["cli_replay_content" if content else "cli_replay"]
    actions += ["cli_export_json"] if json_out is not None else []
    actions += ["cli_export_fhir"] if fhir_out is not None else []
    log_operator_read(database, schema, who, why, case, events, actions)
    moment = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC) if at else None
    typer.echo(f"timeline of case {case} ({len(events)} events, causal order)")
    for e in events:
        typer.echo(
            f"{e.occurred_at.isoformat(timespec='milliseconds')}  {e.producer:8} "
            f"{e.event_type:22} {e.actor.role.value:8} {e.actor.id:24} {describe(e, content)}"
        )
    body = export.timeline_json(case, events, moment)
    if moment is not None:
        typer.echo(f"state at {moment.isoformat()}:")
        for k, v in body["state_at"]["state"].items():
            typer.echo(f"  {k:16} {v}")
    if json_out is not None:
        json_out.write_text(json.dumps(body, indent=2, ensure_ascii=False))
        typer.echo(f"timeline written to {json_out}")
    if fhir_out is not None:
        fhir_out.write_text(
            json.dumps(
                export.fhir_bundle(case, events, patient_pin=patient_pin),
                indent=2,
                ensure_ascii=False,
            )
        )
        typer.echo(f"FHIR Bundle written to {fhir_out}")
