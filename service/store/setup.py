"""What every new connection of the service's pool is set up with (``init=init_connection``)."""

from __future__ import annotations

from typing import Any

import asyncpg

from generated import db as generated_db

__all__ = ["DEAD_CLIENT_CHECK", "init_connection"]

# How often PostgreSQL (14 and later) checks, while it runs a statement, whether the client is
# still there. A request past its deadline closes its connection under a running statement
# (``tx._attempt``); without the check the server would finish that statement for nobody,
# holding its locks and its connection slot meanwhile.
DEAD_CLIENT_CHECK = "1s"


async def init_connection(conn: asyncpg.Connection[Any]) -> None:
    """The generated code's codecs, and the dead-client check where the server has it."""
    await generated_db.init_connection(conn)
    if conn.get_server_version().major >= 14:
        # A session setting, kept: the pool's reset (connections.keep_session_state) does
        # not RESET ALL. Behind a pooler in transaction mode it lands on whichever server
        # connection ran it, which is harmless: the check only ends work nobody awaits.
        await conn.execute(f"SET client_connection_check_interval = '{DEAD_CLIENT_CHECK}'")
