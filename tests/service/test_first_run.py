"""What a first run can get wrong, told in one line: real processes, nothing mocked.

``python -m service`` runs in a temporary directory with a controlled environment; the
Makefile's bootstrap runs with a stand-in interpreter, into a temporary venv path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import TempServer

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED_HINT = "run make with PYTHON=/path/to/python3.11"


def service(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m service ARGS`` in ``cwd`` (no .env but one the test writes there), with
    only ``env`` set beside what any process needs."""
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),
        "QDRANT_PATH": str(cwd / "qdrant"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """stderr, asserted to be exactly one line (no traceback, no log lines)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on (and never answers)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DB_POOL_MAX_SIZE": "abc"},
            'configuration error: DB_POOL_MAX_SIZE: expected an integer >= 1, got "abc"; '
            "set it to a whole number >= 1 (default 10)",
        ),
        (
            {"LOG_LEVEL": "verbose"},
            "configuration error: LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, "
            'CRITICAL, got "verbose"; set it to one of those (default INFO)',
        ),
        (
            {"DATABASE_URL": "nonsense"},
            "configuration error: DATABASE_URL: expected "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, got a value that is not a URL; "
            "set it to such a URL (make run sets it to the embedded PostgreSQL when unset)",
        ),
        (
            {},
            "configuration error: DATABASE_URL: not set; set it to "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (make run sets it to the embedded "
            "PostgreSQL)",
        ),
        (
            {"DATABASE_URL": "postgresql://u:secret@127.0.0.1:notaport/chat"},
            "configuration error: DATABASE_URL: cannot be parsed (invalid literal for int() "
            "with base 10: 'notaport'); fix the URL",
        ),
    ],
)
def test_a_configuration_error_is_one_line_and_exit_code_2(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = service(tmp_path, "serve", **env)
    assert result.returncode == 2
    assert one_line(result) == message
    assert "Serving on" not in result.stdout


@pytest.mark.parametrize(
    "command", [["serve"], ["ingest", "--shared", "docs"], ["reindex"], ["eval"]]
)
def test_a_bad_database_url_stops_every_command_with_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    result = service(tmp_path, *command, DATABASE_URL="mysql://admin:secret@db/chat")
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("configuration error: DATABASE_URL: expected postgresql://")
    assert 'got a "mysql://" URL' in line
    assert "secret" not in line


@pytest.mark.parametrize(
    "command", [["serve"], ["ingest", "--shared", "docs"], ["reindex"], ["eval"]]
)
def test_an_unreachable_database_stops_every_command_with_one_line(
    tmp_path: Path, closed_port: int, command: list[str]
) -> None:
    (tmp_path / "docs").mkdir()
    url = f"postgresql://u:secret@127.0.0.1:{closed_port}/chat"
    result = service(tmp_path, *command, DATABASE_URL=url)
    assert result.returncode == 1
    assert one_line(result) == (
        f"error: cannot connect to PostgreSQL at 127.0.0.1:{closed_port}/chat (DATABASE_URL): "
        "connection refused; start PostgreSQL there or set DATABASE_URL to a server that "
        "is running"
    )
    assert "Serving on" not in result.stdout


def test_a_silent_database_is_given_up_after_the_connect_timeout(
    tmp_path: Path, taken_port: int
) -> None:
    url = f"postgresql://u@127.0.0.1:{taken_port}/chat?sslmode=disable"
    result = service(tmp_path, "serve", DATABASE_URL=url, DB_CONNECT_TIMEOUT="0.5")
    assert result.returncode == 1
    assert one_line(result) == (
        f"error: cannot connect to PostgreSQL at 127.0.0.1:{taken_port}/chat (DATABASE_URL): "
        "no answer within 0.5 s (DB_CONNECT_TIMEOUT); check that the server is up and reachable"
    )


def test_a_database_without_the_schema_is_one_line(tmp_path: Path, pg_server: TempServer) -> None:
    url = pg_server.url("postgres") + "&sslmode=disable"  # never migrated
    result = service(tmp_path, "serve", "--port", "0", DATABASE_URL=url)
    assert result.returncode == 1
    assert one_line(result) == (
        'error: the database\'s schema is missing or old (relation "documents" does not '
        "exist); apply the migrations: make migrate (dbmate up) with the same DATABASE_URL"
    )
    assert result.stdout == ""


def test_a_busy_port_is_one_line_and_nothing_claims_to_serve(
    tmp_path: Path, taken_port: int, closed_port: int
) -> None:
    # The port is checked first: the database is never reached (it would be refused).
    url = f"postgresql://u@127.0.0.1:{closed_port}/chat"
    result = service(tmp_path, "serve", DATABASE_URL=url, PORT=str(taken_port))
    assert result.returncode == 1
    assert one_line(result) == (
        f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use; "
        "stop what serves there, or set PORT (or --port) to a free port"
    )
    assert result.stdout == ""


def test_an_env_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"# \xff\nPORT=8001\n")
    result = service(tmp_path, "serve")
    assert result.returncode == 2
    assert one_line(result) == (
        "configuration error: .env:1: not UTF-8 text (byte 0xff); save the file as UTF-8"
    )


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=verbose  # a comment is not part of it\n")
    result = service(tmp_path, "serve", "--workers", "0", LOG_LEVEL="info")
    assert one_line(result) == "--workers must be at least 1"  # LOG_LEVEL was accepted
    result = service(tmp_path, "serve", "--workers", "0")
    assert one_line(result).startswith(
        "configuration error: LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, "
        'got "verbose" (in .env); '
    )


# The Makefile's bootstrap, with stand-in interpreters: nothing is installed.


def fake_python(directory: Path, name: str, script: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def make(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@needs_make
@pytest.mark.parametrize("target", ["install", "install-run", "run", "test", "lint"])
def test_an_old_python_is_one_line_and_no_venv_is_made(tmp_path: Path, target: str) -> None:
    python = fake_python(tmp_path, "python3", 'echo "Python 3.10.12"\n')
    venv = tmp_path / "venv"
    result = make(target, f"PYTHON={python}", f"VENV={venv}")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        f"Python 3.11+ is needed (found 3.10.12 at {python}); {SUPPORTED_HINT}"
    )
    assert not venv.exists()


@needs_make
def test_a_missing_python_is_one_line_and_no_venv_is_made(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = make("install-run", f"PYTHON={tmp_path}/python3.12", f"VENV={venv}")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        f"Python 3.11+ is needed ({tmp_path}/python3.12 was not found); {SUPPORTED_HINT}"
    )
    assert not venv.exists()


@needs_make
def test_a_failed_venv_creation_leaves_no_venv(tmp_path: Path) -> None:
    python = fake_python(
        tmp_path,
        "python3",
        'if [ "$1" = --version ]; then echo "Python 3.12.1"; exit 0; fi\n'
        'mkdir -p "$3/bin" && touch "$3/pyvenv.cfg"\n'  # python -m venv DIR, half done
        "exit 1\n",
    )
    venv = tmp_path / "venv"
    result = make("install-run", f"PYTHON={python}", f"VENV={venv}")
    assert result.returncode != 0
    assert f"creating {venv} with {python} failed: removed it" in result.stderr
    assert not venv.exists()


@needs_make
def test_a_failed_install_removes_the_half_built_venv(tmp_path: Path) -> None:
    python = fake_python(
        tmp_path,
        "python3",
        'if [ "$1" = --version ]; then echo "Python 3.12.1"; exit 0; fi\n'
        # python -m venv DIR: a venv whose python cannot install anything
        'mkdir -p "$3/bin"\n'
        "printf '#!/bin/sh\\necho no index >&2; exit 1\\n' > \"$3/bin/python\"\n"
        'chmod +x "$3/bin/python"\n',
    )
    venv = tmp_path / "venv"
    result = make("install-run", f"PYTHON={python}", f"VENV={venv}")
    assert result.returncode != 0
    assert (
        f"installing requirements.lock failed: removed {venv}, so the next run starts clean"
        in result.stderr
    )
    assert not venv.exists()
