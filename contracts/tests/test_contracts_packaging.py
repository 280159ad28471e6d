"""What a downstream system installs: the wire format, on pydantic alone, without tooling."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.foundation]

#: The contracts project (``contracts/``).
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

ALLOWED_TOP_LEVEL = {
    "careflow",
    "pydantic",
    "pydantic_core",
    "typing_extensions",
    "annotated_types",
    "typing_inspection",
}


@pytest.mark.integration
def test_the_package_imports_only_pydantic_and_the_standard_library() -> None:
    # A fresh interpreter, so that what other tests imported does not hide a stray import.
    script = textwrap.dedent(
        f"""
        import json, sys
        before = set(sys.modules)
        import careflow.contracts
        import careflow.contracts.upcasting
        careflow.contracts.parse_event(open({str(EXAMPLES / "CaseOpened.v1.json")!r}).read())
        loaded = set(sys.modules) - before
        allowed = set(sys.stdlib_module_names) | set({sorted(ALLOWED_TOP_LEVEL)!r})
        # sysconfig's platform data module is stdlib but has a platform-specific name.
        foreign = sorted({{m.split(".")[0] for m in loaded
                          if not m.startswith("_sysconfigdata_")}} - allowed)
        ours = sorted(m for m in loaded if m.startswith("careflow.") and
                      not m.startswith("careflow.contracts"))
        print(json.dumps({{"foreign": foreign, "ours": ours}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    report = json.loads(result.stdout)
    assert report == {"foreign": [], "ours": []}, report


@pytest.mark.unit
def test_the_package_declares_pydantic_as_its_only_dependency() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dependencies = tomllib.loads(pyproject)["project"]["dependencies"]
    assert [d.split(">")[0].split("=")[0].split("<")[0].strip() for d in dependencies] == [
        "pydantic"
    ]


@pytest.mark.unit
def test_the_package_ships_no_tooling() -> None:
    # The schema generator is development tooling: careflow.schemagen, its own project.
    assert importlib.util.find_spec("careflow.contracts.schemagen") is None
    sources = (ROOT / "src" / "careflow" / "contracts").glob("*.py")
    assert not [p.name for p in sources if "argparse" in p.read_text(encoding="utf-8")]
