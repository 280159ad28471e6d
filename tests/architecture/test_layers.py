"""The layers hold: import-linter's contracts (``[tool.importlinter]`` in pyproject.toml).

The contracts: a domain imports no I/O library, no part of its service around it and nothing
of the kit but its domain errors and clock; no service imports another; the contracts import
nothing of ours and their modules import one another without cycles; the kit imports no
service and no CLI; the schema generator reads the contracts only.

The first test runs ``lint-imports`` as ``make lint`` does. The second proves the contracts
bite: it copies the whole tree under another namespace, plants one forbidden import per
contract, and expects each of them reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.architecture, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
#: Where each workspace member keeps its part of the ``careflow`` namespace package.
SOURCES = ["contracts/src", "kit/src", "cli/src", "services/*/src", "tools/*/src"]
COPY = "cfcopy"

#: contract id -> (module of the copy, a forbidden import planted in it, what the report names)
VIOLATIONS = {
    "pure-domains": (
        "chat/domain.py",
        "import sqlalchemy",
        "cfcopy.chat.domain -> sqlalchemy",
    ),
    "independent-services": (
        "triage/http.py",
        "from cfcopy.queue import domain as queue_domain",
        "cfcopy.triage.http -> cfcopy.queue.domain",
    ),
    "contracts-stand-alone": (
        "contracts/vocabulary.py",
        "from cfcopy.kit import settings",
        "cfcopy.contracts.vocabulary -> cfcopy.kit.settings",
    ),
    "contracts-acyclic": (
        "contracts/registry.py",
        "from . import parsing",
        "No cycles are allowed in cfcopy.contracts",
    ),
    "kit-serves-services": (
        "kit/relay.py",
        "import cfcopy.journal.adapters",
        "cfcopy.kit.relay -> cfcopy.journal.adapters",
    ),
    "pure-kit-core": (
        "kit/clock.py",
        "import os",
        "cfcopy.kit.clock -> os",
    ),
    "schemagen-reads-contracts": (
        "schemagen/generate.py",
        "import cfcopy.kit.db",
        "cfcopy.schemagen.generate -> cfcopy.kit.db",
    ),
}


def lint_imports(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the import-linter CLI of this environment; returns its exit code and output."""
    command = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(command), "--no-logo", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "400", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def contract_names(config: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Contract id -> contract name, as configured in ``config``."""
    contracts = tomllib.loads(config.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c["name"] for c in contracts["contracts"]}


def broken_sections(output: str, names: dict[str, str]) -> dict[str, str]:
    """Contract id -> what the report says under that broken contract's heading."""
    report = output.partition("Broken contracts")[2]
    starts = sorted((report.find(name), cid) for cid, name in names.items() if name in report)
    ends = [start for start, _ in starts[1:]] + [len(report)]
    return {cid: report[start:end] for (start, cid), end in zip(starts, ends, strict=True)}


def importlinter_config() -> str:
    """The ``[tool.importlinter]`` tables of pyproject.toml, as text."""
    tables = re.split(r"(?m)^(?=\[)", (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return "".join(
        t for t in tables if t.startswith(("[tool.importlinter]", "[[tool.importlinter."))
    )


def copy_tree(target: Path) -> Path:
    """Every careflow module, under the namespace ``cfcopy`` and importing ``cfcopy.*``."""
    package = target / COPY
    for pattern in SOURCES:
        for source in ROOT.glob(f"{pattern}/careflow"):
            for path in source.rglob("*.py"):
                out = package / path.relative_to(source)
                out.parent.mkdir(parents=True, exist_ok=True)
                text = path.read_text(encoding="utf-8")
                out.write_text(re.sub(r"\bcareflow\b", COPY, text), encoding="utf-8")
    config = re.sub(r"\bcareflow\b", COPY, importlinter_config())
    (target / "importlinter.toml").write_text(config, encoding="utf-8")
    return package


def test_the_import_contracts_hold() -> None:
    code, output = lint_imports("--no-cache", cwd=ROOT)
    assert code == 0, output
    assert re.search(rf"Contracts: {len(contract_names())} kept, 0 broken", output), output


def test_every_contract_catches_a_forbidden_import(tmp_path: Path) -> None:
    package = copy_tree(tmp_path)
    names = contract_names(tmp_path / "importlinter.toml")
    assert set(VIOLATIONS) == set(names), "plant a violation for every contract"
    env = {"PYTHONPATH": str(tmp_path)}

    # The copy is faithful: as it is, it keeps every contract, as the real tree does.
    code, output = lint_imports("importlinter.toml", "--no-cache", cwd=tmp_path, env=env)
    assert code == 0, output

    for module, line, _ in VIOLATIONS.values():
        path = package / module
        path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    code, output = lint_imports("importlinter.toml", "--no-cache", cwd=tmp_path, env=env)
    assert code == 1, output
    assert re.search(rf"Contracts: 0 kept, {len(names)} broken", output), output
    sections = broken_sections(output, names)
    for contract, (_, _, reported) in VIOLATIONS.items():
        assert reported in sections[contract], f"{contract} did not report {reported!r}:\n{output}"
