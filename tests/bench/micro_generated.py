"""Micro-benchmark: generated query functions vs the same asyncpg calls written by hand.

Times a ``:one`` (get a user) and a 10-row ``:many`` (last 10 messages of a session)
through ``generated/`` and through hand-written ``pool.fetchrow`` / ``pool.fetch`` with
the same SQL, on the same connection, interleaved in rounds so drift affects both
equally. The hand-written side returns asyncpg Records (no model objects), so the ratio
is the whole cost of the generated layer: argument passing and building typed models.

Usage: python -m tests.bench.micro_generated [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from generated import db, messages, users
from tests.conftest import dbmate
from tests.pgserver import embedded_server

Call = Callable[[], Awaitable[object]]


async def _time_block(call: Call, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


async def compare(name: str, generated: Call, by_hand: Call, calls: int, rounds: int) -> None:
    for _ in range(calls):  # warm up: prepared-statement cache, codecs
        await generated()
        await by_hand()
    gen_times: list[float] = []
    hand_times: list[float] = []
    for _ in range(rounds):
        gen_times.append(await _time_block(generated, calls))
        hand_times.append(await _time_block(by_hand, calls))
    gen, hand = statistics.median(gen_times), statistics.median(hand_times)
    print(
        f"{name:<22} generated {gen * 1e6:8.1f} us   by hand {hand * 1e6:8.1f} us   "
        f"ratio {gen / hand:5.3f}  ({(gen / hand - 1) * 100:+.1f}%)"
    )


async def run(url: str, calls: int, rounds: int) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1, init=db.init_connection)
    try:
        async with pool.acquire() as conn:
            user_id: uuid.UUID = await conn.fetchval(
                "INSERT INTO users (name) VALUES ('bench') RETURNING id"
            )
            session_id: uuid.UUID = await conn.fetchval(
                "INSERT INTO chat_sessions (user_id, title) VALUES ($1, 'bench') RETURNING id",
                user_id,
            )
            await conn.execute(
                """
                INSERT INTO chat_messages (session_id, user_id, seq, role, content)
                SELECT $1, $2, g, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END,
                       repeat('a realistic chat message body ', 8)
                FROM generate_series(1, 50) AS g
                """,
                session_id,
                user_id,
            )
            await conn.execute("ANALYZE")

            async def gen_one() -> object:
                return await users.get_user(conn, user_id=user_id)

            async def hand_one() -> object:
                return await conn.fetchrow(users.GET_USER, user_id)

            async def gen_many() -> object:
                return await messages.list_last_messages(
                    conn, session_id=session_id, user_id=user_id, limit=10
                )

            async def hand_many() -> object:
                return await conn.fetch(messages.LIST_LAST_MESSAGES, session_id, user_id, None, 10)

            version = await conn.fetchval("SHOW server_version")
            print(
                f"python {platform.python_version()}, asyncpg {asyncpg.__version__}, "
                f"PostgreSQL {version}, {calls} calls x {rounds} rounds, median per call"
            )
            await compare(":one get_user", gen_one, hand_one, calls, rounds)
            await compare(":many last 10 msgs", gen_many, hand_many, calls, rounds)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    server = embedded_server()
    try:
        url = server.url("postgres")
        dbmate(url, "up")
        asyncio.run(run(url, args.calls, args.rounds))
    finally:
        server.stop()
        server.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
