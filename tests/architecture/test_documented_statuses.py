"""Every status a service answered anywhere in this test run is in its OpenAPI document.

The root conftest sets ``CAREFLOW_RECORD_RESPONSES`` for the whole run, so every
service app (in-process or a subprocess of an end-to-end test) appends (service,
method, route template, status) per answer. This test runs last and holds the
record against each service's own OpenAPI document.
"""

from __future__ import annotations

import importlib
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from careflow.kit.problems import documented_statuses

pytestmark = [pytest.mark.architecture, pytest.mark.integration]

SERVICES = ("identity", "triage", "queue", "chat", "journal", "notify", "web")


def _recorded() -> dict[str, set[tuple[str, str, int]]]:
    path = Path(os.environ["CAREFLOW_RECORD_RESPONSES"])
    answers: dict[str, set[tuple[str, str, int]]] = defaultdict(set)
    if path.exists():
        for line in path.read_text().splitlines():
            a = json.loads(line)
            answers[a["service"]].add((a["method"], a["path"], int(a["status"])))
    return answers


def test_every_status_answered_in_the_test_run_is_documented() -> None:
    answers = _recorded()
    assert answers, "no answers were recorded: run it with the tests that call services"
    undocumented: list[str] = []
    checked = 0
    for service in SERVICES:
        if not answers.get(service):
            continue
        _, app = importlib.import_module(f"careflow.{service}.app").build()
        documented = documented_statuses(app)
        for method, path, status in sorted(answers[service]):
            checked += 1
            listed = documented.get((method, path))
            if listed is None:
                undocumented.append(f"{service} {method} {path}: not in the document at all")
            elif status not in listed:
                undocumented.append(
                    f"{service} {method} {path}: answered {status}, documents {sorted(listed)}"
                )
    print(f"checked {checked} (operation, status) pairs of {len(answers)} services")
    assert not undocumented, "\n".join(undocumented)
