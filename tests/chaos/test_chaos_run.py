"""The short chaos run (issue 16): whole cases through the HTTP APIs while services,
Kafka and PostgreSQL are killed and restarted, a consumer is paused past its session
timeout and notify's gateways are slow; then every invariant ``careflow chaos`` checks.

It starts its own broker, database and services (``careflow.cli.chaos.stage``), on ports
and in a folder apart from every other test's. ``make chaos`` is the long run."""

from __future__ import annotations

import json
import os

import pytest

from careflow.cli.chaos.faults import INFRA_KINDS, plan
from careflow.cli.chaos.run import run
from careflow.cli.platform import SERVICES

#: The short run's size: small enough for the suite's time budget on a 2-core machine.
CASES = int(os.environ.get("CAREFLOW_CHAOS_CASES", "40"))
FAULTS = int(os.environ.get("CAREFLOW_CHAOS_FAULTS", "4"))
SEED = int(os.environ.get("CAREFLOW_CHAOS_SEED", "16"))


@pytest.mark.chaos
@pytest.mark.unit
def test_the_fault_plan_follows_its_seed_and_covers_every_kind_before_repeating() -> None:
    assert plan(7, 30) == plan(7, 30)
    assert plan(7, 30) != plan(8, 30)
    ten = plan(7, 10)
    kinds = {(f.kind, f.target if f.kind == "kill_service" else None) for f in ten}
    assert kinds == {("kill_service", s) for s in SERVICES} | {(k, None) for k in INFRA_KINDS}
    paused = [f for f in plan(7, 30) if f.kind == "pause_consumer"]
    assert paused and all(f.target != "triage" and f.hold_s > 10 for f in paused)


@pytest.mark.chaos
@pytest.mark.e2e
@pytest.mark.integration
# Minutes on a quiet machine; a machine shared with other work may need far longer.
@pytest.mark.timeout(3600)
@pytest.mark.long
def test_a_short_chaos_run_keeps_every_invariant() -> None:
    report = run(CASES, FAULTS, SEED, in_flight=4, out=None)
    failed = [c for c in report["checks"] if not c["holds"]]
    assert not failed, json.dumps(failed, indent=2, default=str)[:6000]
    assert len(report["faults"]) == FAULTS
    assert all(f["error"] is None for f in report["faults"])
    assert report["cases_opened"] >= CASES
    # The load generator never gave up on a login or an open (it would hide a case).
    assert not report["failed_before_open"], report["failed_before_open"]
    # The restarts were the supervisor's: every killed service came back through it.
    killed = {f["target"] for f in report["faults"] if f["kind"] == "kill_service"}
    assert all(report["restarts_by_supervisor"][s] >= 1 for s in killed)
