"""Micro-benchmark: generated query functions vs the same asyncpg calls written by hand.

Times a ``:one`` (get a user) and a 10-row ``:many`` (last 10 messages of a session)
through ``generated/`` and through hand-written ``pool.fetchrow`` / ``pool.fetch`` with
the same SQL, on the same connection, interleaved in rounds so drift affects all sides
equally. Two hand-written baselines: one returns asyncpg Records (no model objects), so
its ratio is the whole cost of the generated layer, typed models included; the other
builds the same msgspec models by hand, so its ratio is the cost of the generated
function itself.

Usage: python -m tests.bench.micro_generated [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from generated import db, messages, models, users
from tests.conftest import dbmate
from tests.pgserver import embedded_server

Call = Callable[[], Awaitable[object]]


async def _time_block(call: Call, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


async def compare(name: str, sides: dict[str, Call], calls: int, rounds: int) -> None:
    for call in sides.values():  # warm up: prepared-statement cache, codecs
        for _ in range(calls):
            await call()
    times: dict[str, list[float]] = {label: [] for label in sides}
    order = list(sides)
    for _ in range(rounds):
        random.shuffle(order)  # no side always runs first (cold) or last (after garbage piles up)
        for label in order:
            gc.collect()
            times[label].append(await _time_block(sides[label], calls))
    medians = {label: statistics.median(values) for label, values in times.items()}
    generated = medians.pop("generated")
    print(f"{name:<20} generated {generated * 1e6:7.1f} us")
    for label, median in medians.items():
        print(
            f"{'':<20} {label:<22} {median * 1e6:7.1f} us   generated/this {generated / median:5.3f}"
            f"  ({(generated / median - 1) * 100:+.1f}%)"
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

            async def hand_one_model() -> object:
                row = await conn.fetchrow(users.GET_USER, user_id)
                return None if row is None else models.User(*row)

            async def gen_many() -> object:
                return await messages.list_last_messages(
                    conn, session_id=session_id, user_id=user_id, all_answers=False, limit=10
                )

            async def hand_many() -> object:
                return await conn.fetch(
                    messages.LIST_LAST_MESSAGES, session_id, user_id, None, False, 10
                )

            async def hand_many_models() -> object:
                rows = await conn.fetch(
                    messages.LIST_LAST_MESSAGES, session_id, user_id, None, False, 10
                )
                return [
                    messages.ListLastMessagesRow(models.ChatMessage(*row[:-1]), row[-1])
                    for row in rows
                ]

            version = await conn.fetchval("SHOW server_version")
            print(
                f"python {platform.python_version()}, asyncpg {asyncpg.__version__}, "
                f"PostgreSQL {version}, {calls} calls x {rounds} rounds, median per call"
            )
            await compare(
                ":one get_user",
                {
                    "generated": gen_one,
                    "by hand, Record": hand_one,
                    "by hand, same model": hand_one_model,
                },
                calls,
                rounds,
            )
            await compare(
                ":many last 10",
                {
                    "generated": gen_many,
                    "by hand, Records": hand_many,
                    "by hand, same models": hand_many_models,
                },
                calls,
                rounds,
            )
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=31)
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
