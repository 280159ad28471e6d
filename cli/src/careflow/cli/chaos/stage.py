"""The stage of a chaos or soak run: its own Kafka and PostgreSQL, notify's outside
providers, and the six services supervised as ``careflow dev`` supervises them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from careflow.cli.chaos.gateways import Mailbox, SmsGateway
from careflow.cli.infra import Infra, project_root
from careflow.cli.platform import SERVICES, Platform
from careflow.cli.supervise import Backoff, Supervisor

SLOT = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
#: Triage abandons an unanswered triage after this long (an open whose answer was lost).
ABANDON_SECONDS = 120.0


@dataclass
class Stage:
    infra: Infra
    platform: Platform
    gateway: SmsGateway
    mailbox: Mailbox
    supervisor: Supervisor
    checkpoints: Path
    logs: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def stage(name: str, say: Callable[[str], None]) -> Iterator[Stage]:
    """Start everything (fresh data, ports of its own per ``CAREFLOW_INFRA_SLOT`` and per
    ``name``, so a soak and a chaos run may share a machine); stop and delete it all at the
    end."""
    shift = 5 if name == "soak" else 0
    infra = Infra(
        # Not "chaos-<slot>": the outage tests own that folder.
        project_root() / ".infra" / f"{name}-run-{SLOT}",
        kafka_port=27092 + 10 * SLOT + shift,
        controller_port=27093 + 10 * SLOT + shift,
        pg_port=27432 + 10 * SLOT + shift,
    )
    work = Path(tempfile.mkdtemp(prefix=f"careflow-{name}-"))
    say(f"starting Kafka and PostgreSQL ({infra.home}) ...")
    infra.destroy()
    infra.up()
    gateway, mailbox = SmsGateway(), Mailbox(_free_port())
    gateway.start()
    mailbox.start()
    # Below the ephemeral range (32768 up): a service restarted on its port must find it free,
    # not handed to an outgoing connection meanwhile.
    base = 26001 + 20 * SLOT + 2 * shift
    platform = Platform({s: base + i for i, s in enumerate(SERVICES)})
    env = {
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        "CAREFLOW_LOG_LEVEL": "WARNING",
        "CAREFLOW_TRUSTED_PROXIES": '["127.0.0.1/32"]',
        "CAREFLOW_SMS_GATEWAY_URL": gateway.url,
        "CAREFLOW_SMTP_HOST": "127.0.0.1",
        "CAREFLOW_SMTP_PORT": str(mailbox.port),
        # Twenty times the slow-gateway fault's delay, yet short enough that the claims of
        # a notify killed mid-send lapse (data timeout + command timeout + a minute) within
        # the notification check's wait.
        "CAREFLOW_SMTP_DATA_TIMEOUT_SECONDS": "60",
        "CAREFLOW_JOURNAL_CHECKPOINT_DIR": str(work / "checkpoints"),
        "CAREFLOW_ABANDON_AFTER_MINUTES": str(ABANDON_SECONDS / 60),
        "CAREFLOW_EXPIRY_SWEEP_SECONDS": "5",
        # Patients come back for case after case: the per-recipient limit would hold their
        # notifications back past the end of the run.
        "CAREFLOW_RATE_LIMIT_COUNT": "100000",
        "CAREFLOW_CONSUMER_RETRY_BACKOFF_SECONDS": "0.5",
    }
    stop = threading.Event()
    supervisor = Supervisor(
        platform.processes, platform.spawn, say, Backoff(initial=0.5, cap=8.0, reset_after=30.0)
    )

    def supervise() -> None:
        while not stop.wait(0.2):
            supervisor.poll()

    watcher = threading.Thread(target=supervise, name="supervisor", daemon=True)
    # SIGTERM (a timeout, a CI runner stopping) unwinds like Ctrl-C: nothing is left running.
    before = signal.signal(signal.SIGTERM, _interrupt)
    try:
        say(f"starting the six services (logs in {work / 'logs'}) ...")
        # A machine busy with other work may take minutes to start six services.
        platform.start(
            infra.bootstrap_servers, infra.database_url(), env, str(work / "logs"), 900.0
        )
        watcher.start()
        yield Stage(
            infra, platform, gateway, mailbox, supervisor, work / "checkpoints", work / "logs"
        )
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(5)
        for proc in platform.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused one must hear the SIGTERM
        platform.stop()
        gateway.stop()
        mailbox.stop()
        infra.destroy()
        signal.signal(signal.SIGTERM, before)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout

    dirty = git("status", "--porcelain", "--", "services", "kit", "cli").strip()
    return (git("rev-parse", "HEAD").strip() or "unknown") + ("+uncommitted" if dirty else "")
