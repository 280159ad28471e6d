"""``careflow backup`` and ``careflow restore`` on the real stack.

Cases run through the six real services (Kafka, PostgreSQL), the journal signs checkpoints;
the platform stops, everything is backed up with pg_dump, restored with pg_restore into a
fresh database, and the auditor's commands (`journal verify`, `journal completeness`) pass
against the restored database and the restored checkpoint files.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

from careflow.cli.flow import run_case
from careflow.cli.main import app as cli
from careflow.cli.platform import Platform
from careflow.journal.checkpoints import signing_key
from careflow.journal.domain import public_key_hex
from careflow.journal.settings import DEV_SIGNING_KEY

pytestmark = [
    pytest.mark.long,
    pytest.mark.ops,
    pytest.mark.e2e,
    # Six services, two cases, a dump and a restore: minutes on a busy machine.
    pytest.mark.timeout(1200),
]


def _other_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _sql(url: str, statement: str, autocommit: bool = False) -> object:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT" if autocommit else None)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


def test_a_backup_restores_into_a_fresh_database_and_verifies(  # type: ignore[no-untyped-def]
    infra, service_ports, tmp_path: Path, unique: str
) -> None:
    checkpoints = tmp_path / "checkpoints"
    with Platform.running(
        service_ports,
        infra.bootstrap_servers,
        infra.database_url,
        str(tmp_path / "logs"),
        {
            "CAREFLOW_JOURNAL_CHECKPOINT_DIR": str(checkpoints),
            "CAREFLOW_JOURNAL_CHECKPOINT_INTERVAL_SECONDS": "0.5",
        },
    ) as platform:
        cases = [run_case(platform.url).case_id for _ in range(2)]
        count = "SELECT count(*) FROM journal.journal_entries"
        deadline = time.monotonic() + 30
        covered = False
        while time.monotonic() < deadline and not covered:
            entries = asyncio.run(_sql(infra.database_url, count))
            files = sorted((checkpoints / "journal").glob("checkpoint-*.json"))
            covered = bool(files) and json.loads(files[-1].read_text())["entries"] == entries
            time.sleep(0.5)
        assert covered, "no checkpoint covers every journal entry"
    assert entries and int(str(entries)) >= len(cases)

    runner = CliRunner()
    source_env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": infra.database_url,
    }
    out = tmp_path / "backup"
    made = runner.invoke(
        cli, ["backup", "--out", str(out), "--checkpoints", str(checkpoints)], env=source_env
    )
    assert made.exit_code == 0, made.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"identity", "triage", "queue", "chat", "journal", "notify"} <= set(manifest["schemas"])
    assert any(name.startswith("checkpoints/journal/") for name in manifest["files"])

    fresh = f"restored_{unique}"
    asyncio.run(_sql(infra.database_url, f"CREATE DATABASE {fresh}", autocommit=True))
    restored_url = _other_database(infra.database_url, fresh)
    restored_env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": restored_url,
        "CAREFLOW_JOURNAL_PUBLIC_KEY": public_key_hex(signing_key(DEV_SIGNING_KEY)),
    }
    restored_checkpoints = tmp_path / "restored-checkpoints"
    done = runner.invoke(
        cli,
        ["restore", "--from", str(out), "--checkpoints", str(restored_checkpoints)],
        env=restored_env,
    )
    assert done.exit_code == 0, done.output
    assert asyncio.run(_sql(restored_url, count)) == entries
    case_count = "SELECT count(DISTINCT case_id) FROM journal.journal_entries"
    assert int(str(asyncio.run(_sql(restored_url, case_count)))) >= len(cases)

    folder = str(restored_checkpoints / "journal")
    verified = runner.invoke(cli, ["journal", "verify", "--checkpoints", folder], env=restored_env)
    assert verified.exit_code == 0, verified.output
    assert "valid" in verified.output and f"from file {folder}" in verified.output
    complete = runner.invoke(cli, ["journal", "completeness", "--timeout", "120"], env=restored_env)
    assert complete.exit_code == 0, complete.output
    assert "complete:" in complete.output

    # The restore refuses a database that already has the schemas, and a changed backup.
    again = runner.invoke(cli, ["restore", "--from", str(out)], env=restored_env)
    assert again.exit_code == 1 and "restore into a fresh database" in again.output
    dump = out / "journal.dump"
    dump.write_bytes(dump.read_bytes() + b"\0")
    other = _other_database(infra.database_url, f"tampered_{unique}")
    asyncio.run(_sql(infra.database_url, f"CREATE DATABASE tampered_{unique}", autocommit=True))
    refused = runner.invoke(
        cli, ["restore", "--from", str(out)], env={**restored_env, "DATABASE_URL": other}
    )
    assert refused.exit_code == 1 and "changed since the backup" in refused.output
