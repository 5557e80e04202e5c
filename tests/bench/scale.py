"""Level 3: read latency as the messages table grows (10^4, 10^5, 10^6 messages).

Data grows the way a service's does: more users, each with the same shape of history
(10 sessions of 20 messages), bulk-loaded through the generated :copyfrom queries.
Reads pick random sessions over the whole table, so the larger sizes do not fit in
shared_buffers and pay for it as production would.
"""

from __future__ import annotations

import random
import uuid

from service import store
from service.connections import open_pool
from service.settings import Settings
from service.store import Pool

from .database import empty
from .dataset import Dataset, load
from .stats import Operation, Row, Sample, measure, table

SESSIONS_PER_USER = 10
MESSAGES_PER_SESSION = 20
MESSAGES_PER_USER = SESSIONS_PER_USER * MESSAGES_PER_SESSION


async def run(url: str, sizes: tuple[int, ...], seconds: float, warmup: float) -> str:
    await empty(url)
    pool = await open_pool(Settings(database_url=url, db_pool_min_size=10, db_pool_max_size=10))
    data = Dataset()
    results: dict[tuple[str, int, int], Sample] = {}
    try:
        for seed, size in enumerate(sizes, start=100):
            more = await load(
                pool,
                users_count=(size - data.messages) // MESSAGES_PER_USER,
                sessions_per_user=SESSIONS_PER_USER,
                messages_per_session=MESSAGES_PER_SESSION,
                seed=seed,
            )
            data.sessions += more.sessions
            data.messages += more.messages
            rng = random.Random(seed)
            picks = [rng.choice(data.sessions) for _ in range(4096)]

            for name, operation in _operations(pool, picks).items():
                for concurrency in (1, 32):
                    await measure(operation, concurrency=concurrency, seconds=warmup)
                    results[(name, concurrency, size)] = await measure(
                        operation, concurrency=concurrency, seconds=seconds
                    )
    finally:
        await pool.close()
    return report(results, sizes)


def _operations(pool: Pool, picks: list[tuple[uuid.UUID, uuid.UUID]]) -> dict[str, Operation]:
    async def last10(n: int) -> object:
        user_id, session_id = picks[n % len(picks)]
        return await store.list_messages(pool, user_id, session_id, limit=10)

    async def list_sessions(n: int) -> object:
        return await store.list_sessions(pool, picks[n % len(picks)][0], limit=20)

    return {"last10": last10, "sessions": list_sessions}


def report(results: dict[tuple[str, int, int], Sample], sizes: tuple[int, ...]) -> str:
    titles = {
        "last10": "last 10 messages of a session (store.list_messages)",
        "sessions": "a user's 20 most recent sessions (store.list_sessions)",
    }
    out = []
    verdict = ["Target: last-10 p50 at the largest size within 1.5x of the smallest."]
    for name, title in titles.items():
        for concurrency in (1, 32):
            smallest = results[(name, concurrency, sizes[0])]
            rows = [
                Row(
                    f"{size:,} messages", results[(name, concurrency, size)], {"smallest": smallest}
                )
                for size in sizes
            ]
            out.append(table(f"{title}, concurrency {concurrency}", rows))
            largest = results[(name, concurrency, sizes[-1])]
            growth = largest.percentile_ms(0.5) / smallest.percentile_ms(0.5)
            growth95 = largest.percentile_ms(0.95) / smallest.percentile_ms(0.95)
            met = "met" if growth <= 1.5 else "MISSED"
            note = f" (target: {met})" if name == "last10" else ""
            verdict.append(
                f"- {name}, concurrency {concurrency}: p50 largest/smallest {growth:.2f}x, "
                f"p95 {growth95:.2f}x{note}"
            )
    return "\n".join(out) + "\n" + "\n".join(verdict) + "\n"
