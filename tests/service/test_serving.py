"""Serving: the socket bound before anything starts, shared by worker processes, and the
configuration checks of ``python -m service serve``."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import urllib.request
from pathlib import Path

import pytest

from service import serving
from service.__main__ import main
from tests.service.conftest import start_service


@pytest.mark.anyio
async def test_connections_accepted_from_the_shared_socket_send_without_delay() -> None:
    # Without TCP_NODELAY a response's second write waits for the client's delayed ACK.
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: socket.socket = writer.get_extra_info("socket")
        accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    listener = serving.listening_socket("127.0.0.1", 0)
    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            nodelay = await asyncio.wait_for(accepted, 5)
        finally:
            writer.close()

    assert nodelay != 0


def test_several_workers_need_a_qdrant_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://unused@localhost/x")
    assert main(["serve", "--workers", "2"]) == 2
    assert "set QDRANT_URL to serve from several workers" in capsys.readouterr().err
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_a_busy_port_is_one_line_naming_the_address_and_the_fix() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with pytest.raises(serving.CannotListen) as error:
            serving.bind("127.0.0.1", port)
    assert str(error.value) == (
        f"cannot listen on 127.0.0.1:{port}: address already in use; "
        "stop what serves there, or set PORT (or --port) to a free port"
    )


def test_serve_announces_its_address_once_it_holds_it_and_serves_there(
    database_url: str, tmp_path: Path
) -> None:
    process = start_service(database_url, tmp_path, QDRANT_PATH=str(tmp_path / "qdrant"))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until printed, or until the process ends
        match = re.fullmatch(r"Serving on http://127\.0\.0\.1:(\d+) .*\n", line)
        assert match, (line, process.stderr and process.stderr.read())
        # The address is held already: the connection waits in the backlog if need be.
        with urllib.request.urlopen(f"http://127.0.0.1:{match[1]}/health", timeout=30) as health:
            assert health.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=30)
    # Ctrl-C: uvicorn shuts down cleanly, and the command ends quietly.
    assert process.returncode == 130
    assert "Traceback" not in errors
    assert errors.splitlines()[-1].endswith(f'"Finished server process [{process.pid}]"}}')
