"""Write the committed JSON Schemas and AsyncAPI documents, or check that they are current.

See the package docstring for what is generated; ``main`` is the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import careflow.contracts
from careflow.contracts.registry import EVENT_TYPES, SERVICES
from careflow.contracts.upcasting import UPCASTERS

from .compat import breaking_changes
from .documents import (
    asyncapi_document,
    envelope_schema,
    event_schema,
    render,
    schema_filename,
    schema_version_of,
)

BUMP_ADVICE = "bump schema_version and add an upcaster"
REGENERATE = "uv run python -m careflow.schemagen"


def default_root() -> Path:
    """The contracts project directory, found from the installed ``careflow.contracts``.

    The workspace installs contracts editable, so its package lives at
    ``contracts/src/careflow/contracts``; the project is three levels up.
    """
    return Path(careflow.contracts.__file__).resolve().parents[3]


def generated_files(root: Path) -> dict[Path, str]:
    """Every file the generator owns under ``root``, with its expected text."""
    files: dict[Path, str] = {}
    schemas_dir = root / "schemas"
    for event_type in sorted(EVENT_TYPES):
        model = EVENT_TYPES[event_type]
        name = schema_filename(event_type, schema_version_of(model))
        files[schemas_dir / name] = render(event_schema(model))
    files[schemas_dir / "envelope.json"] = render(envelope_schema())
    for service in SERVICES:
        files[root / "asyncapi" / f"{service}.json"] = render(asyncapi_document(service))
    return files


def missing_upcasters() -> list[str]:
    """Every older schema version of a current event that nothing can lift."""
    problems = []
    for event_type in sorted(EVENT_TYPES):
        for version in range(1, schema_version_of(EVENT_TYPES[event_type])):
            if (event_type, version) not in UPCASTERS:
                problems.append(f"{event_type}: no upcaster from schema_version {version}")
    return problems


@dataclass
class Plan:
    """What generating would do under one root."""

    root: Path
    files: dict[Path, str]
    missing: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    breaking: dict[Path, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def to_write(self) -> list[Path]:
        return [*self.missing, *self.stale]


def plan(root: Path) -> Plan:
    """Compare the generated files with those committed under ``root``."""
    result = Plan(root=root, files=generated_files(root))
    schemas_dir = root / "schemas"
    for path, text in result.files.items():
        if not path.exists():
            result.missing.append(path)
            continue
        committed = path.read_text(encoding="utf-8")
        if committed == text:
            continue
        result.stale.append(path)
        if path.parent != schemas_dir:
            continue
        try:
            old = json.loads(committed)
        except json.JSONDecodeError as exc:
            result.errors.append(
                f"{path}: committed file is not JSON ({exc}); delete it and regenerate"
            )
            continue
        changes = breaking_changes(old, json.loads(text))
        if changes:
            result.breaking[path] = changes
    result.errors.extend(missing_upcasters())
    return result


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def run(root: Path, *, check: bool = False, out: TextIO | None = None) -> int:
    """Generate (or with ``check`` only verify) under ``root``; returns the exit code."""
    out = out if out is not None else sys.stdout
    result = plan(root)
    failed = False
    for path, changes in result.breaking.items():
        failed = True
        print(f"BREAKING {_display(path, root)}:", file=out)
        for change in changes:
            print(f"  - {change}", file=out)
    if result.breaking:
        print(
            f"refusing to overwrite a committed schema with a breaking change: {BUMP_ADVICE}.",
            file=out,
        )
    for error in result.errors:
        failed = True
        print(f"ERROR {error}", file=out)
    if check:
        for path in result.missing:
            failed = True
            print(f"MISSING {_display(path, root)}", file=out)
        for path in result.stale:
            if path not in result.breaking:
                failed = True
                print(f"STALE {_display(path, root)}", file=out)
        if failed:
            print(f"contracts are not up to date; run: {REGENERATE}", file=out)
            return 1
        print(f"contracts up to date ({len(result.files)} files)", file=out)
        return 0
    if failed:
        print("nothing written", file=out)
        return 1
    for path in result.to_write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.files[path], encoding="utf-8")
        print(f"wrote {_display(path, root)}", file=out)
    print(f"contracts up to date ({len(result.files)} files)", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m careflow.schemagen",
        description="Generate careflow's event JSON Schemas and AsyncAPI documents.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail if a file is stale or missing or a change is breaking",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the contracts project directory (default: found from careflow.contracts)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root if args.root is not None else default_root()
    if args.root is None and not (root / "pyproject.toml").is_file():
        parser.error(f"cannot find the contracts project at {root}; pass --root")
    return run(root.resolve(), check=args.check)
