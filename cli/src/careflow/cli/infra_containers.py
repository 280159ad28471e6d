"""Kafka and PostgreSQL for the tests in containers, through testcontainers.

``CAREFLOW_INFRA=containers`` makes the test fixtures use this instead of the embedded
processes (``careflow.cli.infra``). The images are the official ones where the engine has
them, else the stand-ins ``make images`` builds from Debian's packages (``KAFKA_IMAGE`` and
``POSTGRES_IMAGE`` choose others). testcontainers speaks Docker's API: a Docker daemon's, or
podman's (``podman system service``), which is started here when podman is all there is.
Its reaper (Ryuk) comes from a registry, so it is off: ``down`` removes what ``up`` started.
Both containers use the host's network on the slot's own ports, as the embedded ones do.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careflow.cli.infra import InfraError, kafka_ready

KAFKA_IMAGES = ("apache/kafka:4.1.0", "localhost/careflow-kafka:4.4.0")
POSTGRES_IMAGES = ("postgres:18", "localhost/careflow-postgres:15")
PODMAN_SOCKET = Path("/run/podman/podman.sock")


def docker_host() -> str:
    """Where Docker's API answers: ``DOCKER_HOST``, a Docker daemon, else podman's service."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if Path("/var/run/docker.sock").exists():
        return "unix:///var/run/docker.sock"
    if shutil.which("podman") is None:
        raise InfraError("CAREFLOW_INFRA=containers needs Docker or podman; neither is here")
    socket_path = PODMAN_SOCKET
    if os.geteuid() != 0:
        runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
        socket_path = Path(runtime) / "podman" / "podman.sock"
    if not socket_path.exists():
        # Serves until the machine stops; every test run after this one reuses it.
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{socket_path}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            if time.monotonic() > deadline:
                raise InfraError(f"podman system service did not open {socket_path}")
            time.sleep(0.2)
    return f"unix://{socket_path}"


def _pick(variable: str, candidates: tuple[str, ...], client: Any) -> str:
    if os.environ.get(variable):
        return os.environ[variable]
    for image in candidates:
        try:
            client.images.get(image)
            return image
        except Exception:  # docker.errors.ImageNotFound, or an API difference: next one
            continue
    raise InfraError(f"none of {candidates} is built: run `make images`")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ContainerInfra:
    """One Kafka and one PostgreSQL container on the slot's ports."""

    kafka_port: int
    controller_port: int
    pg_port: int
    containers: list[Any] = field(default_factory=list)

    @classmethod
    def for_slot(cls, slot: int) -> ContainerInfra:
        # Beside the embedded infrastructure's ports of the same slot (29092+10*slot, ...).
        return cls(29094 + 10 * slot, 29095 + 10 * slot, 25434 + 10 * slot)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def database_url(self, database: str = "careflow") -> str:
        return f"postgresql+asyncpg://careflow:careflow@127.0.0.1:{self.pg_port}/{database}"

    def up(self, timeout: float = 600) -> None:
        """Start both containers; return when Kafka answers metadata and PostgreSQL queries."""
        os.environ["DOCKER_HOST"] = docker_host()
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        from testcontainers.core.container import DockerContainer

        kafka = DockerContainer(_pick("KAFKA_IMAGE", KAFKA_IMAGES, _client()))
        kafka.with_kwargs(network_mode="host")
        for key, value in {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": (
                f"PLAINTEXT://127.0.0.1:{self.kafka_port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{self.kafka_port}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@127.0.0.1:{self.controller_port}",
            "KAFKA_NUM_PARTITIONS": "6",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "6",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            # As the embedded broker: careflow creates its topics; a typo must not invent one.
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        }.items():
            kafka.with_env(key, value)
        postgres = DockerContainer(_pick("POSTGRES_IMAGE", POSTGRES_IMAGES, _client()))
        postgres.with_kwargs(network_mode="host")
        postgres.with_env("POSTGRES_USER", "careflow")
        postgres.with_env("POSTGRES_PASSWORD", "careflow")
        postgres.with_env("POSTGRES_DB", "careflow")
        postgres.with_command(f"postgres -c port={self.pg_port} -c max_connections=300")
        for container in (postgres, kafka):
            container.start()
            self.containers.append(container)
        deadline = time.monotonic() + timeout
        client = {"bootstrap_servers": self.bootstrap_servers}
        while not (_port_open(self.pg_port) and self._pg_ready() and kafka_ready(client)):
            if time.monotonic() > deadline:
                self.down()
                raise InfraError(f"containers not ready after {timeout:.0f} s")
            time.sleep(2)

    def _pg_ready(self) -> bool:
        import asyncpg

        async def probe() -> bool:
            try:
                conn = await asyncpg.connect(self.database_url().replace("+asyncpg", ""))
            except (OSError, asyncpg.PostgresError):
                return False
            await conn.close()
            return True

        return asyncio.run(probe())

    def down(self) -> None:
        """Stop and remove both containers (SIGTERM first, as the engine does)."""
        for container in reversed(self.containers):
            container.stop()
        self.containers.clear()


def _client() -> Any:
    import docker

    return docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
