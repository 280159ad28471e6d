"""Migrate one service's schema (the migration Jobs' entry point).

    python deploy/tools/migrate.py <service>

Reads the settings exactly as the service does (``CAREFLOW_ENVIRONMENT``,
``CAREFLOW_TOKEN_SECRET``, which they check outside development) and runs the service's own
Alembic scripts in its own schema as the schema's owner, ``CAREFLOW_MIGRATION_DATABASE_URL``
(else ``DATABASE_URL``). Where the service runs with a role of its own (the journal), that
role (``CAREFLOW_DB_RUNTIME_ROLE``, else ``DATABASE_URL``'s user) is granted its rights. It
does not build the service, so a service that refuses to start for reasons of its own still
gets its schema migrated.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from careflow.contracts.registry import SERVICES
from careflow.kit.logging import configure_logging, get_logger
from careflow.kit.migrations import upgrade
from careflow.kit.settings import ServiceSettings


def main(argv: list[str]) -> int:
    """Bring ``argv[0]``'s schema to its newest migration."""
    # The web front end keeps its sessions in a schema of its own too.
    migrated = (*SERVICES, "web")
    if len(argv) != 1 or argv[0] not in migrated:
        print(f"usage: migrate.py {{{','.join(migrated)}}}", file=sys.stderr)
        return 2
    service = argv[0]
    settings = ServiceSettings(service_name=service)
    configure_logging(f"{service}-migrate", settings.log_level, settings.log_json)
    package = importlib.import_module(f"careflow.{service}")
    assert package.__file__ is not None
    upgrade(
        Path(package.__file__).with_name("migrations"),
        settings.migration_url,
        settings.db_schema,
        runtime_role=settings.runtime_role,
    )
    get_logger(__name__).info("service_migrated", schema=settings.db_schema)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
