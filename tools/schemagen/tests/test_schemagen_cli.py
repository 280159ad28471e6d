"""The generator as ``make schemas`` and ``make test`` run it: a command in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.foundation, pytest.mark.integration]


def test_check_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "careflow.schemagen", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_the_generator_needs_only_the_contracts_and_the_standard_library() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        before = set(sys.modules)
        import careflow.schemagen
        careflow.schemagen.asyncapi_document("journal")
        loaded = set(sys.modules) - before
        ours = sorted({m.split(".")[1] for m in loaded if m.startswith("careflow.")})
        print(json.dumps(ours))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == ["contracts", "schemagen"]
