"""A fresh machine always works (issue 16): the local infrastructure from any checkout, as any user.

- ``careflow infra up`` never adopts a foreign server on its ports; it names the port taken.
- ``up`` then ``down`` leaves no process behind, not even a defunct one.
- A checkout in a folder only its owner may enter (as from ``mktemp -d``) starts the
  infrastructure when run as root (PostgreSQL then runs as an unprivileged user), and the
  folder stays closed to others.
- As a normal user, with no uv on PATH, ``make setup`` bootstraps uv and the test path starts
  Kafka and PostgreSQL (root runs this as a throwaway user; elsewhere it is skipped).

The checkouts are copies of this working tree's tracked files, so uncommitted changes are what
is tested.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from careflow.cli.infra import Infra, InfraError, _read_pid, project_root

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SLOT = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
CI_USER = "careflow-ci"


def _own_infra() -> Infra:
    # Under the project's .infra so the Kafka jars resolved once are shared. Ports below the
    # kernel's ephemeral range (32768 up), where no outgoing connection is handed one.
    return Infra(
        project_root() / ".infra" / f"fresh-{SLOT}",
        kafka_port=24092 + 10 * SLOT,
        controller_port=24093 + 10 * SLOT,
        pg_port=24432 + 10 * SLOT,
    )


@pytest.fixture
def listener() -> Iterator[object]:
    """Open a plain listening socket on a port (any program that is not ours)."""
    sockets: list[socket.socket] = []

    def listen(port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(8)
        sockets.append(sock)

    yield listen
    for sock in sockets:
        sock.close()


@pytest.mark.parametrize("which", ["pg_port", "kafka_port", "controller_port"])
def test_up_refuses_a_foreign_listener_and_names_the_port(listener, which: str) -> None:  # type: ignore[no-untyped-def]
    local = _own_infra()
    local.destroy()
    port = getattr(local, which)
    listener(port)
    with pytest.raises(InfraError, match=rf"port {port} .*taken by another program"):
        local.up()
    # Refused before anything started: nothing to stop, nothing adopted.
    assert not (local.pg_dir / "data" / "postmaster.pid").exists()
    assert _read_pid(local.kafka_dir / "kafka.pid") is None
    assert local.status()["postgres"].startswith("down")


def _processes() -> dict[int, tuple[str, str]]:
    """pid -> (state, command line) of every process (a zombie has an empty command line)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state = stat[stat.rindex(")") + 2 :].split()[0]
        out[int(entry.name)] = (state, cmdline)
    return out


@pytest.mark.timeout(600)
def test_up_then_down_leaves_no_process_not_even_a_defunct_one() -> None:
    local = _own_infra()
    local.destroy()
    local.up()
    try:
        lock = (local.pg_dir / "data" / "postmaster.pid").read_text()
        postmaster = int(lock.splitlines()[0])
        broker = _read_pid(local.kafka_dir / "kafka.pid")
        assert broker is not None
        assert local.status()["postgres"].startswith("up")
    finally:
        local.down()
    left = _processes()
    assert postmaster not in left, f"postgres {postmaster} left behind: {left.get(postmaster)}"
    assert broker not in left, f"kafka {broker} left behind: {left.get(broker)}"
    strays = [pid for pid, (_, cmd) in left.items() if str(local.home) in cmd]
    assert not strays, f"processes still running from {local.home}: {strays}"
    local.destroy()


def _copy_checkout(dest: Path) -> None:
    """This working tree's tracked files into ``dest`` (a clone, with uncommitted changes)."""
    root = project_root()
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = root / os.fsdecode(name)
        if not source.is_file():
            continue  # deleted in the working tree
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what ties a process to this checkout (its venv, its slot)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "CAREFLOW_ROOT")
        and not k.startswith("CAREFLOW_INFRA")
    }
    env.update(extra)
    return env


def _machine_tls() -> list[str]:
    """The machine's certificate settings (a proxy's CA, say), which any user's login has too."""
    names = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")
    return [f"{k}={os.environ[k]}" for k in names if k in os.environ]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
@pytest.mark.timeout(900)
def test_a_checkout_in_a_folder_only_root_may_enter_starts_the_infrastructure() -> None:
    top = Path(tempfile.mkdtemp(prefix="careflow-0700-"))
    assert top.stat().st_mode & 0o777 == 0o700
    clone = top / "careflow"
    _copy_checkout(clone)
    env = _clean_env(CAREFLOW_INFRA_SLOT=str(SLOT + 100))

    def careflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["uv", "run", "--quiet", "careflow", "infra", *args, "--profile", "test"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    try:
        up = careflow("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "postgres  up" in up.stdout and "kafka     up" in up.stdout, up.stdout
        # Started without opening the folder to others.
        assert top.stat().st_mode & 0o777 == 0o700
    finally:
        down = careflow("down", "--destroy")
        shutil.rmtree(top, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr


def _can_switch_user() -> str | None:
    """Why the normal-user test cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root, to run as a throwaway normal user"
    if shutil.which("runuser") is None:
        return "needs runuser (util-linux) to switch to the normal user"
    if shutil.which("useradd") is None:
        return "needs useradd to create the normal user"
    if not Path("/usr/bin/python3").exists():
        return "needs the system Python (/usr/bin/python3)"
    return None


@pytest.mark.skipif(_can_switch_user() is not None, reason=str(_can_switch_user()))
@pytest.mark.timeout(1800)
def test_a_normal_user_without_uv_runs_setup_and_the_test_path() -> None:
    try:
        home = Path(pwd.getpwnam(CI_USER).pw_dir)
    except KeyError:
        subprocess.run(["useradd", "--create-home", CI_USER], check=True)
        home = Path(pwd.getpwnam(CI_USER).pw_dir)
    clone = home / f"careflow-{SLOT}"
    shutil.rmtree(clone, ignore_errors=True)
    _copy_checkout(clone)
    subprocess.run(["chown", "-R", f"{CI_USER}:", str(clone)], check=True)
    # A login-like environment: the user's own HOME (uv's cache, Maven's ~/.m2) and a PATH
    # with the system's tools but no uv, as on a fresh Debian machine.
    env = [
        "env",
        "-i",
        f"HOME={home}",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "LANG=C.UTF-8",
        f"CAREFLOW_INFRA_SLOT={SLOT + 200}",
        *_machine_tls(),
    ]

    def as_user(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", CI_USER, "--", *env, "bash", "-c", script],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    try:
        assert as_user("command -v uv", 30).returncode != 0, "uv is on the user's PATH"
        setup = as_user("make setup", 900)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        assert (clone / ".tools" / "bin" / "uv").exists()
        # The suite's fixture starts Kafka and PostgreSQL as this user, then the test checks both.
        tests = as_user(".tools/bin/uv run pytest -q -p no:cacheprovider tests/test_infra.py", 900)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert "1 passed" in tests.stdout, tests.stdout
    finally:
        as_user(".tools/bin/uv run careflow infra down --profile test --destroy", 300)
        shutil.rmtree(clone, ignore_errors=True)
