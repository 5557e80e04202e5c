"""Fault-injection fixtures: PostgreSQL servers of a test's own, to crash, restart and put
behind PgBouncer.

The shared test clusters (tests/conftest.py) are never harmed: each destructive test module
starts its own embedded PostgreSQL 18 on a Unix socket in a temporary directory, and stops
and removes it afterwards. PgBouncer, where used, listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import dbmate, free_port
from tests.pgserver import TempServer, _unprivileged_user, embedded_server

__all__ = [
    "Bouncer",
    "crash",
    "frozen",
    "own_server",
    "pg_kind",
    "pgbouncer",
    "pgbouncer_binary",
    "restart_immediately",
    "signed_up",
]

# Bounds, so that a server that does not go away or come back fails the test, not the run.
BACKENDS_EXIT_WITHIN = 5.0  # seconds for orphaned backends to notice the postmaster is gone
LISTENING_WITHIN = 10.0  # seconds for PgBouncer to listen


def signed_up(base_url: str, *, timeout: float = 30.0) -> tuple[dict[str, str], str]:
    """A new user with one saved turn: their Authorization header and session id."""
    with httpx.Client(base_url=base_url, timeout=timeout) as http:
        first = http.post("/chat", json={"message": "what do otters eat?"})
    assert first.status_code == 200, first.text
    body = first.json()
    return {"Authorization": f"Bearer {body['token']}"}, body["session_id"]


@pytest.fixture(scope="session")
def pg_kind() -> str:
    """Overrides the parametrized server kind: fault tests use the embedded PostgreSQL 18."""
    return "pg18-embedded"


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[TempServer, str]]:
    """A PostgreSQL server for this module alone, with a migrated ``chat`` database: the
    server, and the database's URL."""
    server = embedded_server()
    try:
        url = server.url("chat") + "&sslmode=disable"
        dbmate(url, "up")  # creates the database, then migrates it
        yield server, url
    finally:
        try:
            if _postmaster_pid(server) is not None:
                server.stop()
        finally:
            server.remove()


def _postmaster_pid(server: TempServer) -> int | None:
    """The running postmaster's process id, or None."""
    try:
        pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if _alive(pid) else None


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile
        if f"\nPPid:\t{pid}\n" in status:
            children.append(int(entry.name))
    return children


def crash(server: TempServer) -> None:
    """kill -9 of the postmaster, as a crash or the OOM killer would. Returns once it and its
    backends are gone (they notice the postmaster is gone; those that have not within
    BACKENDS_EXIT_WITHIN are killed too), so that the server can be started again: until
    init reaps it, the dead postmaster's pid still holds the data directory's lock files."""
    pid = _postmaster_pid(server)
    assert pid is not None, "the server is not running"
    processes = [pid, *_children(pid)]
    os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    killed = False
    while processes := [process for process in processes if Path(f"/proc/{process}").exists()]:
        waited = time.monotonic() - started
        if waited > BACKENDS_EXIT_WITHIN and not killed:
            for process in processes:
                with suppress(ProcessLookupError):
                    os.kill(process, signal.SIGKILL)
            killed = True
        assert waited < 2 * BACKENDS_EXIT_WITHIN, f"processes {processes} outlived the postmaster"
        time.sleep(0.02)


@contextmanager
def frozen(server: TempServer) -> Iterator[None]:
    """The server's postmaster and every one of its processes stopped (SIGSTOP) for the
    block, as a hung host or a paused VM would leave them: connections stay open, nothing
    answers. They continue (SIGCONT) when the block ends, however it ends."""
    pid = _postmaster_pid(server)
    assert pid is not None, "the server is not running"
    os.kill(pid, signal.SIGSTOP)  # first, so that it forks no process we would miss
    stopped = [pid]
    try:
        for child in _children(pid):
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
        yield
    finally:
        for process in reversed(stopped):
            with suppress(ProcessLookupError):
                os.kill(process, signal.SIGCONT)


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def restart_immediately(server: TempServer) -> None:
    """``pg_ctl restart -m immediate``: every backend is told to quit at once, without a
    checkpoint (crash recovery follows); clients see their connections dropped."""
    server._run(
        str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "-w",
        "stop",
    )  # fmt: skip
    server.start()


def pgbouncer_binary() -> str | None:
    """PgBouncer, from Debian's package (`.ci/run` installs it when missing), or None."""
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


@dataclass(frozen=True)
class Bouncer:
    """A running PgBouncer: its loopback port and its log file."""

    port: int
    log_file: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"


@contextmanager
def pgbouncer(server: TempServer, *, pool_mode: str = "transaction") -> Iterator[Bouncer]:
    """PgBouncer in front of ``server``, on a free loopback port, with a temporary config;
    stopped and removed afterwards. It runs as the server's unprivileged user (it refuses
    to run as root)."""
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip("pgbouncer is not installed (Debian package pgbouncer; .ci/run installs it)")
    user = server.os_user or _unprivileged_user("embedded_postgres")
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    config = directory / "pgbouncer.ini"
    log_file = directory / "pgbouncer.log"
    (directory / "userlist.txt").write_text('"postgres" ""\n', encoding="utf-8")
    config.write_text(
        f"""\
[databases]
* = host={server.socket_dir} port={server.port} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "userlist.txt"}
pool_mode = {pool_mode}
default_pool_size = 20
max_client_conn = 500
logfile = {log_file}
""",
        encoding="utf-8",
    )
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (directory, *directory.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    process = subprocess.Popen(
        [binary, str(config)], user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_listening(process, port, log_file)
        yield Bouncer(port, log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_listening(process: subprocess.Popen[bytes], port: int, log_file: Path) -> None:
    deadline = time.monotonic() + LISTENING_WITHIN
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = log_file.read_text() if log_file.exists() else ""
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"pgbouncer did not start:\n{stderr}{log}") from None
            time.sleep(0.05)
