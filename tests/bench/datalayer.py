"""Levels 1 and 4: the data layers side by side, and the statements each operation sends.

Every side gets its own pool of the same size on the same server; sides run in a shuffled
order each round, so drift (autovacuum, a growing table) does not favour one of them.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import asyncpg

from generated.db import init_connection
from service.connections import open_pool
from service.settings import Settings

from .dataset import Dataset, answer, question
from .handwritten import HandwrittenLayer
from .layer import ChatLayer
from .orm_layer import OrmLayer
from .stats import Operation, Row, Sample, measure, table
from .store_layer import StoreLayer

POOL_SIZE = 10  # the service's default DB_POOL_MAX_SIZE
OPERATIONS = ("last10", "turn")
TITLES = {
    "last10": "read the last 10 messages, oldest first",
    "turn": "chat-turn persistence (question, read context, answer + 3 citations)",
}
RESET_STATEMENTS = ("SELECT pg_advisory_unlock_all()", "CLOSE ALL", "UNLISTEN *", "RESET ALL")


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float  # per side, operation and concurrency, in each round
    warmup: float
    concurrencies: tuple[int, ...] = (1, 32)
    counted_calls: int = 50  # level 4


async def open_layers(url: str) -> list[ChatLayer]:
    settings = Settings(database_url=url, db_pool_min_size=POOL_SIZE, db_pool_max_size=POOL_SIZE)
    default_reset = await asyncpg.create_pool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, init=init_connection
    )
    by_hand = await asyncpg.create_pool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, init=init_connection
    )
    assert default_reset is not None
    assert by_hand is not None
    return [
        StoreLayer(await open_pool(settings)),
        StoreLayer(default_reset, "store, asyncpg's reset on release"),
        HandwrittenLayer(by_hand),
        OrmLayer(url, POOL_SIZE),
    ]


def operations(layer: ChatLayer, data: Dataset, tag: str) -> dict[str, Operation]:
    """One callable per operation; call n targets a session spread over the data set."""
    rng = random.Random(7)
    questions = [question(rng) for _ in range(512)]
    answers = [answer(rng) for _ in range(512)]
    targets = data.sessions
    stride = 7919  # prime: consecutive calls land on unrelated sessions

    def target(n: int) -> tuple[uuid.UUID, uuid.UUID]:
        return targets[(n * stride) % len(targets)]

    async def last10(n: int) -> object:
        return await layer.last10(*target(n))

    async def turn(n: int) -> object:
        user_id, session_id = target(n)
        return await layer.turn(
            user_id,
            session_id,
            question=questions[n % 512],
            client_message_id=f"{tag}-t{n}",
            answer=answers[n % 512],
            confidence=0.8,
            citations=data.citations,
        )

    return {"last10": last10, "turn": turn}


async def run(
    layers: Sequence[ChatLayer], data: Dataset, plan: Plan
) -> dict[tuple[str, int, str], Sample]:
    """Samples keyed by (operation, concurrency, layer name)."""
    samples: dict[tuple[str, int, str], Sample] = {}
    run_tag = uuid.uuid4().hex[:8]  # call numbers restart with each run of the bench
    calls = {layer.name: operations(layer, data, run_tag) for layer in layers}
    order = list(layers)
    shuffle = random.Random(11).shuffle
    for name in OPERATIONS:
        for concurrency in plan.concurrencies:
            for _ in range(plan.rounds):
                shuffle(order)
                for layer in order:
                    operation = calls[layer.name][name]
                    await measure(operation, concurrency=concurrency, seconds=plan.warmup)
                    sample = await measure(operation, concurrency=concurrency, seconds=plan.seconds)
                    samples.setdefault((name, concurrency, layer.name), Sample()).add(sample)
    return samples


async def count_statements(
    url: str, layers: Sequence[ChatLayer], data: Dataset, calls: int
) -> dict[tuple[str, str], str]:
    """Statements per call of each operation, from pg_stat_statements (top level only)."""
    conn = await asyncpg.connect(url)
    counts: dict[tuple[str, str], str] = {}
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for layer in layers:
            ops = operations(layer, data, f"count-{uuid.uuid4().hex[:8]}")
            for name in OPERATIONS:
                for n in range(3):  # warm the statement caches first
                    await ops[name](10**6 + n)
                await conn.execute("SELECT pg_stat_statements_reset()")
                for n in range(calls):
                    await ops[name](n)
                rows = await conn.fetch(
                    "SELECT query, calls FROM pg_stat_statements "
                    "WHERE query NOT LIKE '%pg_stat_statements%'"
                )
                counts[(name, layer.name)] = _breakdown(rows, calls)
    except asyncpg.PostgresError as error:
        return {(name, layer.name): f"n/a ({error})" for name in OPERATIONS for layer in layers}
    finally:
        await conn.close()
    return counts


@dataclass(frozen=True)
class Wal:
    bytes_per_call: float
    full_page_images_per_call: float


async def measure_wal(
    url: str, layers: Sequence[ChatLayer], data: Dataset, calls: int, concurrency: int = 32
) -> dict[str, Wal]:
    """WAL written per chat turn by each layer: ``calls`` turns from ``concurrency`` tasks,
    each layer after a vacuum and a checkpoint (so that every page first touched is written
    whole, as in production between checkpoints), by the WAL position and pg_stat_wal."""
    conn = await asyncpg.connect(url)
    found: dict[str, Wal] = {}
    try:
        for layer in layers:
            turn = operations(layer, data, f"wal-{uuid.uuid4().hex[:8]}")["turn"]
            numbers = iter(range(calls))
            # Rows written before (the timed runs, the layer measured before) are settled
            # first: with data checksums, setting their hint bits after the checkpoint would
            # write their pages whole, charged to whichever layer reads them first.
            await conn.execute("VACUUM")
            await conn.execute("CHECKPOINT")
            await conn.execute("SELECT pg_stat_reset_shared('wal')")
            before = await conn.fetchval("SELECT pg_current_wal_lsn()")

            async def worker(call: Operation = turn, left: Iterator[int] = numbers) -> None:
                for n in left:
                    await call(n)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            written = await conn.fetchval(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", before
            )
            # Backends report their WAL statistics when idle, within a second or so.
            await asyncio.sleep(2)
            images = await conn.fetchval("SELECT wal_fpi FROM pg_stat_wal")
            found[layer.name] = Wal(float(written) / calls, images / calls)
    finally:
        await conn.close()
    return found


def wal_report(wal: dict[str, Wal], calls: int) -> str:
    by_hand = wal[HandwrittenLayer.name]
    lines = [
        f"#### WAL per chat turn ({calls} turns from 32 tasks, each layer after a checkpoint)",
        "",
        "| layer | KiB per turn | full-page images per turn | WAL vs hand-written |",
        "|---|---|---|---|",
    ]
    for name, measured in wal.items():
        lines.append(
            f"| {name} | {measured.bytes_per_call / 1024:.1f} "
            f"| {measured.full_page_images_per_call:.2f} "
            f"| {measured.bytes_per_call / max(by_hand.bytes_per_call, 1):.2f}x |"
        )
    lines.append("")
    lines.append("Target: WAL per turn at most 1.5x hand-written.")
    return "\n".join(lines) + "\n"


def _breakdown(rows: Sequence[asyncpg.Record], calls: int) -> str:
    resets = 0.0
    kinds: Counter[str] = Counter()
    for row in rows:
        query: str = row["query"].strip()
        per_call = row["calls"] / calls
        if query.startswith(RESET_STATEMENTS):
            resets += per_call / len(RESET_STATEMENTS)
            continue
        kinds[_kind(query)] += per_call
    total = sum(kinds.values())
    parts = ", ".join(f"{kind} {count:g}" for kind, count in sorted(kinds.items()))
    text = f"{total:g} ({parts})"
    if resets:
        text += f" + {resets:g} pool reset"
    return text


def _kind(query: str) -> str:
    first = query.split(None, 1)[0].upper()
    if first in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
        return first
    return {"WITH": "CTE", "COPY": "COPY"}.get(first, first)


def report(
    layers: Sequence[ChatLayer],
    samples: dict[tuple[str, int, str], Sample],
    statements: dict[tuple[str, str], str],
    plan: Plan,
) -> str:
    """Level 1 tables (ratio to the ORM and to hand-written asyncpg) with level 4 beside them."""
    ours, orm, by_hand = layers[0].name, OrmLayer.name, HandwrittenLayer.name
    out = []
    for name in OPERATIONS:
        for concurrency in plan.concurrencies:

            def cell(layer: str, n: str = name, c: int = concurrency) -> Sample:
                return samples[(n, c, layer)]

            rows = [
                Row(
                    layer.name,
                    cell(layer.name),
                    {"ORM": cell(orm), "hand-written": cell(by_hand)},
                    statements.get((name, layer.name), ""),
                )
                for layer in layers
            ]
            out.append(
                table(
                    f"{TITLES[name]}, concurrency {concurrency}",
                    rows,
                    extra="statements per call",
                )
            )
    out.append(_verdict(samples, plan, ours, orm, by_hand))
    return "\n".join(out)


def _verdict(
    samples: dict[tuple[str, int, str], Sample], plan: Plan, ours: str, orm: str, by_hand: str
) -> str:
    top = max(plan.concurrencies)
    lines = ["Targets at concurrency 32:"]
    for name in ("turn",):
        mine = samples[(name, top, ours)].ops_per_second
        vs_orm = mine / max(samples[(name, top, orm)].ops_per_second, 1e-9)
        vs_hand = mine / max(samples[(name, top, by_hand)].ops_per_second, 1e-9)
        lines.append(
            f"- {name}: {vs_orm:.2f}x the ORM (target >= 5x: {_met(vs_orm >= 5)}), "
            f"{vs_hand:.2f}x hand-written (target >= 1x: {_met(vs_hand >= 1)})"
        )
    return "\n".join(lines) + "\n"


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"
