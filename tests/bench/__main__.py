"""``python -m tests.bench [--quick] [--levels 1,2,3]``: every benchmark level, as Markdown.

Starts its own PostgreSQL (or uses BENCH_DATABASE_URL), loads 200 users x 10 sessions x
20 messages, then prints: level 1 (data layers side by side) with level 4 (statements per
call) beside it, level 2 (HTTP), level 5 (retrieval), level 3 (scale) and level 6 (full-text
search). ``--quick`` runs every level briefly, to show it works (make bench-quick, in CI);
its numbers are not worth quoting.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from service.connections import open_pool
from service.settings import Settings

from . import datalayer, http_level, micro_generated, retrieval, scale, search
from .database import bench_database, server_version
from .dataset import Dataset, load
from .stats import machine, versions


@dataclass(frozen=True)
class Profile:
    layers: datalayer.Plan
    http_seconds: float
    http_rounds: int  # turns of the history endpoint and its hand-written peer (http_level)
    http_warmup: float
    scale_sizes: tuple[int, ...]
    scale_seconds: float
    micro_calls_rounds: tuple[int, int]
    retrieval_sizes: tuple[int, ...]
    retrieval_seconds: float
    retrieval_section: str  # "" for the whole python3-doc corpus
    search_total: int  # messages in the table
    search_heavy: int  # of which the searching user's
    search_seconds: float


FULL = Profile(
    layers=datalayer.Plan(rounds=3, seconds=3.0, warmup=0.5),
    http_seconds=10.0,
    http_rounds=3,
    http_warmup=2.0,
    scale_sizes=(10**4, 10**5, 10**6),
    scale_seconds=4.0,
    micro_calls_rounds=(2000, 15),
    retrieval_sizes=(10**4, 10**5),
    retrieval_seconds=4.0,
    retrieval_section="",
    search_total=10**6,
    search_heavy=10**4,
    search_seconds=5.0,
)
QUICK = Profile(
    layers=datalayer.Plan(rounds=1, seconds=0.7, warmup=0.2, counted_calls=10),
    http_seconds=2.0,
    http_rounds=1,
    http_warmup=0.5,
    scale_sizes=(10**3, 10**4),
    scale_seconds=0.5,
    micro_calls_rounds=(100, 3),
    retrieval_sizes=(10**3, 10**4),
    retrieval_seconds=0.5,
    retrieval_section="tutorial",
    search_total=2 * 10**4,
    search_heavy=10**3,
    search_seconds=0.5,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--quick", action="store_true", help="every level, briefly (smoke test)")
    parser.add_argument(
        "--levels",
        default="1,2,3,5,6",
        help="comma-separated: 1 (with 4), 2, 3, 5 (retrieval), 6 (full-text search)",
    )
    args = parser.parse_args(argv)
    levels = set(args.levels.split(","))
    profile = QUICK if args.quick else FULL
    began = time.monotonic()
    with bench_database() as database:
        print(f"# Benchmarks{' (quick: smoke test only)' if args.quick else ''}\n")
        print(f"- command: `{' '.join(['python -m tests.bench', *(argv or sys.argv[1:])])}`")
        version = asyncio.run(server_version(database.url))
        print(f"- machine: {machine(version, database.notes)}")
        print(
            "- libraries: "
            + versions(
                "asyncpg",
                "msgspec",
                "starlette",
                "uvicorn",
                "uvloop",
                "httptools",
                "sqlalchemy",
                "fastapi",
                "pydantic",
            )
        )
        data = asyncio.run(_load(database.url))
        print(f"- data set: {len(data.sessions) // 10} users x 10 sessions x 20 messages")
        print(f"  = {data.messages:,} messages; level 1 ops pick sessions across all of it\n")
        sys.stdout.flush()
        if "1" in levels:
            print("## Level 1: data layer (with level 4: statements per call)\n")
            print(asyncio.run(_layers(database.url, data, profile.layers)), flush=True)
            print("### Generated code vs the same SQL called by hand (median per call)\n")
            print("```", flush=True)
            asyncio.run(micro_generated.run(database.url, *profile.micro_calls_rounds))
            print("```\n", flush=True)
        if "2" in levels:
            print("## Level 2: HTTP (uvicorn, load from a separate process)\n")
            outcomes = http_level.run(
                database.url,
                data,
                workers=(1, 2),
                seconds=profile.http_seconds,
                rounds=profile.http_rounds,
                warmup=profile.http_warmup,
                big_chunks=profile.retrieval_sizes[-1],
            )
            print(http_level.report(outcomes), flush=True)
        if "5" in levels:  # before level 3, whose 10^6 rows keep autovacuum busy for minutes
            print("## Level 5: retrieval (ingestion, quality, search latency)\n")
            print(
                asyncio.run(
                    retrieval.run(
                        database.url,
                        profile.retrieval_sizes,
                        profile.retrieval_seconds,
                        profile.retrieval_seconds / 4,
                        section=profile.retrieval_section,
                    )
                ),
                flush=True,
            )
        if "3" in levels:
            print("## Level 3: scale\n")
            print(
                asyncio.run(
                    scale.run(
                        database.url,
                        profile.scale_sizes,
                        profile.scale_seconds,
                        warmup=profile.scale_seconds / 4,
                    )
                ),
                flush=True,
            )
        if "6" in levels:
            print("## Level 6: full-text search\n")
            print(
                asyncio.run(
                    search.run(
                        database.url,
                        profile.search_total,
                        profile.search_heavy,
                        profile.search_seconds,
                        warmup=profile.search_seconds / 4,
                    )
                ),
                flush=True,
            )
    print(f"_Total time: {time.monotonic() - began:.0f} s._")
    return 0


async def _load(url: str) -> Dataset:
    pool = await open_pool(Settings(database_url=url))
    try:
        return await load(
            pool, users_count=200, sessions_per_user=10, messages_per_session=20, tokens=True
        )
    finally:
        await pool.close()


async def _layers(url: str, data: Dataset, plan: datalayer.Plan) -> str:
    layers = await datalayer.open_layers(url)
    try:
        samples = await datalayer.run(layers, data, plan)
        statements = await datalayer.count_statements(url, layers, data, plan.counted_calls)
        wal_calls = plan.counted_calls * 40
        wal = await datalayer.measure_wal(url, layers, data, wal_calls)
        return (
            datalayer.report(layers, samples, statements, plan)
            + "\n"
            + datalayer.wal_report(wal, wal_calls)
        )
    finally:
        for layer in layers:
            await layer.close()


if __name__ == "__main__":
    raise SystemExit(main())
