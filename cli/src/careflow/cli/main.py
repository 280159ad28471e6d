"""``careflow``: the operator's command line."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from uuid import UUID

import typer

from careflow.cli.infra import Infra, InfraError

app = typer.Typer(help="careflow: run, inspect and replay the platform.", no_args_is_help=True)
infra_app = typer.Typer(
    help="Local Kafka (KRaft) and PostgreSQL, without Docker.", no_args_is_help=True
)
app.add_typer(infra_app, name="infra")
app.add_typer(__import__("careflow.cli.journal_cmd").cli.journal_cmd.journal_app, name="journal")
app.add_typer(__import__("careflow.cli.triage_cmd").cli.triage_cmd.triage_app, name="triage")


def _infra(profile: str) -> Infra:
    return Infra.profile(profile)


def _endpoints(profile: str = "dev") -> tuple[str, str]:
    """External infrastructure when both variables are set; the local one otherwise."""
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        return kafka, database
    local = _infra(profile)
    return local.bootstrap_servers, local.database_url()


@infra_app.command("up")
def infra_up(profile: str = typer.Option("dev", help="dev or test")) -> None:
    """Start Kafka and PostgreSQL (idempotent); returns when both are ready."""
    local = _infra(profile)
    try:
        local.up()
    except InfraError as exc:
        typer.echo(f"infra up failed: {exc}", err=True)
        raise typer.Exit(1) from None
    for name, state in local.status().items():
        typer.echo(f"{name:9} {state}")


@infra_app.command("down")
def infra_down(
    profile: str = typer.Option("dev"),
    destroy: bool = typer.Option(False, help="Also delete the data."),
) -> None:
    """Stop Kafka and PostgreSQL; nothing is left running."""
    local = _infra(profile)
    local.destroy() if destroy else local.down()
    typer.echo("stopped")


@infra_app.command("status")
def infra_status(profile: str = typer.Option("dev")) -> None:
    """Say what runs and where."""
    for name, state in _infra(profile).status().items():
        typer.echo(f"{name:9} {state}")


@app.command()
def migrate(
    services: list[str] | None = typer.Argument(None, help="Services to migrate; default: all."),
) -> None:
    """Bring services' schemas to their newest migration, as the schemas' owner:
    CAREFLOW_MIGRATION_DATABASE_URL, else DATABASE_URL, else the local database. Each
    service's runtime role (CAREFLOW_DB_RUNTIME_ROLE; locally, one made here) gets its rights."""
    from pathlib import Path

    from careflow.cli.platform import WITH_WEB
    from careflow.cli.roles import runtime_env
    from careflow.kit.migrations import upgrade

    unknown = sorted(set(services or ()) - set(WITH_WEB))
    if unknown:
        typer.echo(f"unknown services: {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    owner = os.environ.get("CAREFLOW_MIGRATION_DATABASE_URL") or os.environ.get("DATABASE_URL")
    for service in services or WITH_WEB:
        if owner:
            url, role = owner, os.environ.get("CAREFLOW_DB_RUNTIME_ROLE")
        else:
            url = _endpoints()[1]
            role = runtime_env(url, service).get("CAREFLOW_DB_RUNTIME_ROLE")
        module = __import__(f"careflow.{service}", fromlist=["__file__"])
        assert module.__file__ is not None
        upgrade(Path(module.__file__).with_name("migrations"), url, service, runtime_role=role)
        typer.echo(f"{service}: migrated")


@app.command()
def backup(
    out: Path = typer.Option(..., "--out", help="A new folder for the backup."),
    checkpoints: Path | None = typer.Option(
        None, help="The journal's checkpoint folder (default: CAREFLOW_JOURNAL_CHECKPOINT_DIR)."
    ),
) -> None:
    """pg_dump of every service schema, plus the journal's signed checkpoint files, into one
    folder with a manifest of SHA-256 sums. DATABASE_URL (as the schemas' owner), else the
    local database."""
    from careflow.cli import backup as b
    from careflow.cli.platform import WITH_WEB

    root = checkpoints or _checkpoint_root()
    try:
        done = b.backup(_endpoints()[1], WITH_WEB, {"journal": root / "journal"}, out)
    except b.BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backed up {', '.join(done.schemas)} and {done.checkpoints} checkpoint files")
    typer.echo(f"into {done.folder}")


@app.command()
def restore(
    source: Path = typer.Option(..., "--from", help="A folder made by `careflow backup`."),
    checkpoints: Path | None = typer.Option(
        None, help="Where the journal reads checkpoints (default: CAREFLOW_JOURNAL_CHECKPOINT_DIR)."
    ),
    keep_owners: bool = typer.Option(
        True, help="Restore owners and grants (the runtime roles must exist in the cluster)."
    ),
) -> None:
    """Check the backup's manifest, then pg_restore every schema into DATABASE_URL's database,
    which must not have them yet, and put back the checkpoint files. Then run `careflow journal
    verify` and `careflow journal completeness` against the restored database."""
    from careflow.cli import backup as b

    try:
        schemas = b.restore(source, _endpoints()[1], checkpoints or _checkpoint_root(), keep_owners)
    except b.BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored {', '.join(schemas)}")


def _checkpoint_root() -> Path:
    from careflow.journal.settings import JournalSettings

    return Path(JournalSettings().journal_checkpoint_dir)


@app.command()
def dev() -> None:
    """Infrastructure, migrations, the six services and the web front end in the foreground;
    Ctrl-C stops all."""
    from careflow.cli.platform import DEV_PORTS, WITH_WEB, Platform
    from careflow.cli.supervise import Supervisor

    external = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"))
    local = _infra("dev")
    if not external:
        typer.echo("starting Kafka and PostgreSQL ...")
        local.up()
    kafka, database = _endpoints()
    platform = Platform(dict(DEV_PORTS), WITH_WEB)
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        typer.echo("starting services ...")
        platform.start(kafka, database, {"CAREFLOW_ENVIRONMENT": "dev"})
        typer.echo(f"careflow is running: open {platform.url('web')}/ in a browser")
        typer.echo("(`make demo` drives a case through it; APIs at /<service>/docs. Ctrl-C stops.)")
        # A crashed service comes back after a growing pause, as in Kubernetes.
        supervisor = Supervisor(platform.processes, platform.spawn, say=typer.echo)
        while not stop:
            supervisor.poll()
            time.sleep(0.5)
    finally:
        typer.echo("stopping services ...")
        platform.stop()
        if not external:
            typer.echo("stopping Kafka and PostgreSQL ...")
            local.down()


@app.command()
def chaos(
    cases: int = typer.Option(1000, help="Cases to drive (at least; more while faults remain)."),
    faults: int = typer.Option(30, help="Faults to inject, one after another."),
    seed: int | None = typer.Option(None, help="The fault plan's seed (printed; default: random)."),
    in_flight: int = typer.Option(8, help="Cases driven at the same time."),
    out: str | None = typer.Option(
        None,
        help="Write the JSON report here (default run: bench/results/chaos-<date>.json; "
        "other runs: nowhere unless given).",
    ),
) -> None:
    """Whole cases through the HTTP APIs while services, Kafka and PostgreSQL are killed and
    restarted, a consumer is paused past its session timeout and notify's gateways are slow;
    then the invariants. Its own infrastructure and services; exit code 1 if one fails."""
    import random
    from datetime import UTC, datetime
    from pathlib import Path

    from careflow.cli.chaos.run import run
    from careflow.cli.infra import project_root

    seed = seed if seed is not None else random.randrange(1_000_000)
    typer.echo(f"chaos seed {seed} (run again with --seed {seed})")
    target = Path(out) if out else None
    if target is None and (cases, faults) == (1000, 30):
        target = project_root() / "bench" / "results" / f"chaos-{datetime.now(UTC):%Y-%m-%d}.json"
    report = run(cases, faults, seed, in_flight, target, say=lambda s: typer.echo(s))
    raise typer.Exit(0 if report["all_hold"] else 1)


@app.command()
def soak(
    minutes: float = typer.Option(30.0, help="Minutes of steady load."),
    in_flight: int = typer.Option(4, help="Cases driven at the same time."),
    out: str | None = typer.Option(
        None,
        help="Write the JSON figures here (default for 30 minutes: "
        "bench/results/soak-<date>.json; shorter runs: nowhere unless given).",
    ),
) -> None:
    """Steady load on its own infrastructure and services; per service, memory growth after
    the warm-up (< 10%), file descriptors and sockets (flat), and lag (bounded)."""
    from datetime import UTC, datetime
    from pathlib import Path

    from careflow.cli.chaos.soak import run
    from careflow.cli.infra import project_root

    target = Path(out) if out else None
    if target is None and minutes >= 30:
        target = project_root() / "bench" / "results" / f"soak-{datetime.now(UTC):%Y-%m-%d}.json"
    report = run(minutes, in_flight, target, say=lambda s: typer.echo(s))
    raise typer.Exit(0 if report["holds"] else 1)


@app.command()
def demo(region: str = typer.Option("Västmanland")) -> None:
    """Drive one case through a running platform (``make dev``) and print its timeline."""
    from careflow.cli.flow import run_case
    from careflow.cli.platform import DEV_PORTS

    def url(service: str) -> str:
        return os.environ.get(
            f"CAREFLOW_{service.upper()}_URL", f"http://127.0.0.1:{DEV_PORTS[service]}"
        )

    result = run_case(url, region=region, say=lambda s: typer.echo(f"- {s}"))
    typer.echo("")
    _print_timeline(result.case_id, with_content=False)


@app.command()
def replay(
    case: UUID = typer.Option(..., "--case", help="The case id."),
    content: bool = typer.Option(False, help="Show message text (personal data)."),
    operator: str | None = typer.Option(
        None, envvar="CAREFLOW_OPERATOR", help="Who reads (logged). Required."
    ),
    purpose: str | None = typer.Option(None, help="Why (logged; 10 characters or more)."),
    schema: str = typer.Option("journal", help="The journal's schema (its access log)."),
) -> None:
    """Print a case's timeline, read from the Kafka topics from the first offset; the read is
    logged in the journal's access log with the operator and purpose, both required."""
    from careflow.cli.replay import print_case

    kafka, database = _endpoints()
    print_case(kafka, database, schema, case, content, operator, purpose)


def _print_timeline(case_id: str, with_content: bool) -> None:
    from careflow.cli.replay import describe, operator_kafka, read_case

    kafka, _ = _endpoints()
    items = asyncio.run(read_case(operator_kafka(kafka), UUID(case_id)))
    if not items:
        typer.echo(f"no events for case {case_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"timeline of case {case_id} ({len(items)} events, from the Kafka topics)")
    for item in items:
        e = item.event
        typer.echo(
            f"{e.occurred_at.isoformat(timespec='milliseconds')}  {e.producer:8} "
            f"{e.event_type:20} {e.actor.role.value:8} {describe(e, with_content)}"
        )
