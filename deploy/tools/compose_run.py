"""Run deploy/compose/compose.yaml with podman alone (``make compose-test``).

podman-compose gives services their names through a DNS plugin that Debian's podman 4.3 here
lacks, and podman 4.3 runs healthchecks from systemd timers, which a machine without systemd
never fires, so ``depends_on: condition: service_healthy`` would wait forever. This runner
reads the same file and runs each service as a podman container on a private network of its
own: a fixed address per service, every service's name in every container's hosts file, the
file's ``depends_on`` conditions honoured (started, healthy, completed successfully), each
healthcheck command run by the runner through ``podman exec`` at the file's interval, and
``stop_grace_period`` as the stop timeout. Images, commands, environment, entry points and
volumes are the file's, after the ``${VAR:-default}`` interpolation compose does.

    python deploy/tools/compose_run.py up      # prints the seconds from start to all ready
    python deploy/tools/compose_run.py down    # SIGTERM to every container, then removes them
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "compose" / "compose.yaml"
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """``${VAR:-default}`` and ``${VAR}`` as compose reads them; ``$$`` is a literal ``$``."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            found = env.get(match.group(1))
            return found if found else (match.group(2) or "")

        return _VARIABLE.sub(one, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def _seconds(text: str | int | None, default: float) -> float:
    if text is None:
        return default
    if isinstance(text, int):
        return float(text)
    match = re.fullmatch(r"(\d+)(ms|s|m)?", text)
    if not match:
        raise ValueError(f"cannot read the duration {text!r}")
    return int(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match.group(2)]


class _Probe(subprocess.Popen[bytes]):
    """A healthcheck command under way, and when it began."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started = time.monotonic()


class ComposeError(RuntimeError):
    """A service failed to start, to pass its healthcheck or to complete."""


@dataclass
class Compose:
    """One run of the compose file as project ``project`` on subnet ``10.89.<net>.0/24``."""

    project: str
    net: int
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    file: Path = COMPOSE_FILE
    engine: str = "podman"
    log: Any = print
    services: dict[str, dict[str, Any]] = field(init=False)
    addresses: dict[str, str] = field(init=False)
    #: When the first container started and when every service was ready (time.monotonic).
    started_at: float = 0.0
    ready_at: float = 0.0
    _probes: dict[str, _Probe] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        spec = interpolate(yaml.safe_load(self.file.read_text()), self.env)
        self.services = spec["services"]
        self.addresses = {
            name: f"10.89.{self.net}.{10 + i}" for i, name in enumerate(self.services)
        }

    # --- naming ------------------------------------------------------------------------------

    @property
    def network(self) -> str:
        return f"{self.project}-net"

    def container(self, service: str) -> str:
        return f"{self.project}-{service}"

    def url(self, service: str, port: int = 8000) -> str:
        """A service's HTTP address as seen from this machine (the network is routed to it)."""
        return f"http://{self.addresses[service]}:{port}"

    def _podman(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        result = subprocess.run(
            [self.engine, *args], capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise ComposeError(f"{self.engine} {' '.join(args[:3])}: {result.stderr.strip()}")
        return result.stdout

    # --- up ----------------------------------------------------------------------------------

    def up(self, timeout: float = 600) -> float:
        """Start every service in the file's order of dependencies; seconds until all ready."""
        self.down(quiet=True)
        self._podman("network", "create", "--subnet", f"10.89.{self.net}.0/24", self.network)
        self.started_at = time.monotonic()
        pending = dict(self.services)
        satisfied: dict[str, str] = {}  # service -> "started" | "healthy" | "completed"
        last_check: dict[str, float] = {}
        deadline = self.started_at + timeout
        while pending or not all(self._done(s, satisfied.get(s)) for s in self.services):
            for name, spec in list(pending.items()):
                needs = spec.get("depends_on", {})
                if all(self._meets(satisfied.get(d), c["condition"]) for d, c in needs.items()):
                    self._run(name, spec)
                    satisfied.pop(name, None)
                    del pending[name]
            for name in self.services:
                if name in pending or satisfied.get(name) in ("healthy", "completed"):
                    continue
                satisfied[name] = self._state(name, last_check)
            if time.monotonic() > deadline:
                waiting = sorted(set(self.services) - set(satisfied))
                raise ComposeError(f"not ready after {timeout:.0f} s: {waiting}")
            time.sleep(1)
        self.ready_at = time.monotonic()
        return self.ready_at - self.started_at

    def _done(self, name: str, state: str | None) -> bool:
        """Ready: a one-shot job completed, a service with a healthcheck healthy."""
        spec = self.services[name]
        if spec.get("restart") == "no":
            return state == "completed"
        if spec.get("healthcheck"):
            return state == "healthy"
        return state is not None

    @staticmethod
    def _meets(state: str | None, condition: str) -> bool:
        return {
            "service_started": state in ("started", "healthy", "completed"),
            "service_healthy": state == "healthy",
            "service_completed_successfully": state == "completed",
        }[condition]

    def _run(self, name: str, spec: dict[str, Any]) -> None:
        args = ["run", "-d", "--name", self.container(name), "--network", self.network]
        args += ["--ip", self.addresses[name], "--hostname", name]
        for other, address in self.addresses.items():
            if other != name:
                args += ["--add-host", f"{other}:{address}"]
        for key, value in (spec.get("environment") or {}).items():
            args += ["-e", f"{key}={value}"]
        for volume in spec.get("volumes", []):
            source, _, target = volume.partition(":")
            args += ["-v", f"{self.project}-{source}:{target}"]
        grace = _seconds(spec.get("stop_grace_period"), 10)
        args += ["--stop-timeout", str(int(grace))]
        entrypoint = spec.get("entrypoint")
        if entrypoint is not None:
            args += ["--entrypoint", json.dumps(entrypoint)]
        args.append(spec["image"])
        args += spec.get("command") or []
        self._podman(*args)
        self.log(f"started {name} ({spec['image']})")

    def _state(self, name: str, last_check: dict[str, float]) -> str:
        spec = self.services[name]
        status, code = self._podman(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.container(name)
        ).split()
        one_shot = spec.get("restart") == "no"
        if status == "exited":
            if one_shot and code == "0":
                self.log(f"{name} completed")
                return "completed"
            raise ComposeError(f"{name} exited with {code}:\n{self.logs(name)[-3000:]}")
        check = spec.get("healthcheck")
        if one_shot or not check:
            return "started"
        # Probes run side by side (Kafka's starts a JVM): one at a time per service.
        now = time.monotonic()
        probe = self._probes.get(name)
        if probe is not None:
            result = probe.poll()
            if result is None and now - probe.started < _seconds(check.get("timeout"), 30) + 10:
                return "started"
            self._probes.pop(name)
            if result is None:
                probe.kill()  # over its timeout: as compose counts it, not healthy yet
                probe.wait()
            elif result == 0:
                self.log(f"{name} healthy after {now - self.started_at:.0f} s")
                return "healthy"
        if now - last_check.get(name, 0.0) < _seconds(check.get("interval"), 10) / 2:
            return "started"
        last_check[name] = now
        test = check["test"]
        argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        self._probes[name] = _Probe(
            [self.engine, "exec", self.container(name), *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return "started"

    # --- use and stop ------------------------------------------------------------------------

    def logs(self, service: str) -> str:
        result = subprocess.run(
            [self.engine, "logs", self.container(service)], capture_output=True, text=True
        )
        return result.stdout + result.stderr

    def run_once(self, image: str, *argv: str, timeout: float = 300) -> str:
        """A throw-away container on the project's network, every service's name known."""
        hosts = [f"--add-host={name}:{address}" for name, address in self.addresses.items()]
        return self._podman(
            "run", "--rm", "--network", self.network, *hosts, image, *argv, timeout=timeout
        )

    def exec(self, service: str, *argv: str, timeout: float = 120) -> str:
        return self._podman("exec", self.container(service), *argv, timeout=timeout)

    def stop(self, *services: str) -> dict[str, int]:
        """SIGTERM (each image's stop signal), SIGKILL only after the grace period; exit codes."""
        names = services or tuple(reversed(list(self.services)))
        codes = {}
        for name in names:
            self._podman("stop", self.container(name), check=False, timeout=90)
            code = self._podman(
                "inspect", "--format", "{{.State.ExitCode}}", self.container(name), check=False
            ).strip()
            codes[name] = int(code) if code.lstrip("-").isdigit() else -1
        return codes

    def start(self, service: str, timeout: float = 180) -> None:
        """Start a stopped service again and wait for its healthcheck."""
        self._podman("start", self.container(service))
        last: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while self._state(service, last) != "healthy":
            if time.monotonic() > deadline:
                raise ComposeError(f"{service} not healthy again after {timeout:.0f} s")
            time.sleep(1)

    def down(self, quiet: bool = False) -> None:
        """Remove the containers, the volumes and the network (stopping whatever still runs)."""
        names = [self.container(s) for s in reversed(list(self.services))]
        # -v: the images' anonymous volumes (the one-shot jobs' VOLUME folders) go too.
        self._podman("rm", "-f", "-v", "-t", "30", *names, check=False, timeout=300)
        volumes = {
            v.partition(":")[0] for s in self.services.values() for v in s.get("volumes", [])
        }
        for volume in volumes:
            self._podman("volume", "rm", "-f", f"{self.project}-{volume}", check=False)
        self._podman("network", "rm", "-f", self.network, check=False)
        if not quiet:
            self.log(f"removed {self.project}")


def main(argv: list[str]) -> int:
    slot = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
    compose = Compose(f"careflow-compose-{slot}", net=100 + slot)
    if argv == ["up"]:
        print(f"all ready {compose.up():.0f} s after the first container started")
        for service in compose.services:
            print(f"  {service}: {compose.addresses[service]}")
        return 0
    if argv == ["down"]:
        print(json.dumps(compose.stop()))
        compose.down()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
