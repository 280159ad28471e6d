"""The Grafana dashboard and the Prometheus alert rules in deploy/monitoring.

The rules are checked and unit-tested by ``promtool`` itself (built from its Go module by
``deploy/monitoring/install-promtool.sh``), and every metric the rules and the dashboard use is
one the services really register with their /metrics endpoint.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.ops, pytest.mark.integration]

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
#: The modules that define careflow's Prometheus metrics.
METRIC_MODULES = (
    "careflow.kit.metrics",
    "careflow.journal.service",
    "careflow.queue.views",
    "careflow.notify.service",
    "careflow.notify.sender",
)
INSTALL = "deploy/monitoring/install-promtool.sh"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = subprocess.run(
        ["bash", str(MONITORING / "install-promtool.sh")], capture_output=True, text=True
    )
    if found.returncode != 0:
        if shutil.which("go") is None:
            pytest.skip(
                "promtool is built from its Go module and Go is missing: install Go "
                f"(as root: apt-get install -y golang-go), then run {INSTALL}"
            )
        pytest.fail(f"{INSTALL} failed:\n{found.stderr[-3000:]}")
    return found.stdout.strip().splitlines()[-1]


def test_promtool_checks_the_alert_rules(promtool: str) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", "alerts.yaml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout + checked.stderr


def test_promtool_unit_tests_fire_each_alert_and_only_then(promtool: str) -> None:
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yaml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())
    fired = {
        case["alertname"]
        for t in tests["tests"]
        for case in t["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == alerts  # every alert has a test where it fires


def _exported() -> set[str]:
    from prometheus_client import REGISTRY

    for module in METRIC_MODULES:
        importlib.import_module(module)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = set()
    for family in REGISTRY.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def test_rules_and_dashboard_use_only_metrics_the_services_export() -> None:
    exported = _exported()
    rules = (MONITORING / "alerts.yaml").read_text()
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set(re.findall(r"\bcareflow_[a-z_]+\b", rules + "\n".join(exprs)))
    assert used, "no careflow metric found"
    assert used <= exported, f"not exported by any service: {sorted(used - exported)}"
    wanted = {
        "careflow_consumer_lag_messages",
        "careflow_dead_letters_total",
        "careflow_outbox_oldest_age_seconds",
        "careflow_journal_verification_failures_total",
        "careflow_notify_deliveries_total",
        "careflow_queue_guarantee_overdue_cases",
    }
    assert wanted <= used
