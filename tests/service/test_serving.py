"""Serving from several worker processes: the shared socket and its configuration checks."""

from __future__ import annotations

import asyncio
import socket

import pytest

from service import serving
from service.__main__ import main


def test_connections_accepted_from_the_shared_socket_send_without_delay() -> None:
    # Without TCP_NODELAY a response's second write waits for the client's delayed ACK.
    async def nodelay_of_accepted_connection() -> int:
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
                return await asyncio.wait_for(accepted, 5)
            finally:
                writer.close()

    assert asyncio.run(nodelay_of_accepted_connection()) != 0


def test_several_workers_need_a_qdrant_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://unused@localhost/x")
    assert main(["serve", "--workers", "2"]) == 2
    assert "set QDRANT_URL to serve from several workers" in capsys.readouterr().err
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
