"""Level 5: retrieval. Ingestion of a corpus this project did not write, retrieval quality on
it, and search latency as the collection grows.

- Corpus: Debian's python3-doc (the Python HTML documentation), ingested by the real
  command (``service.cli.ingest``, as ``python -m service ingest``) into a fresh embedded
  engine: documents/s and chunks/s over the whole run, the rate over the first 10% of
  documents against the whole (a rate that falls as the corpus grows is super-linear
  work), the share of short chunks and of chunks carrying page navigation, then recall@3
  and MRR on eval/python3-doc.json. Skipped, with the reason, when the package is absent.
- Latency: search (what /chat runs per question: owner filter, BM25 query) on Qdrant Edge
  at each size, with real chunk texts replicated under many owners (half shared, the rest
  spread over 1,000 users); the baseline is qdrant-client's local mode (the previous
  embedded engine) at the smallest size. Upsert throughput is measured while growing.
"""

from __future__ import annotations

import datetime
import random
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import msgspec

from service import cli
from service.rag.edge import EdgeVectorStore
from service.rag.qdrant_server import ServerVectorStore, open_client
from service.rag.sparse import Lexical
from service.rag.vectors import SHARED, ChunkPoint, Layout, VectorStore
from service.settings import Settings
from tools.chunkstats import navigation_lines

from .database import empty
from .stats import Operation, Row, Sample, measure, table

ROOT = Path(__file__).resolve().parents[2]
PYTHON_DOCS = Path("/usr/share/doc/python3/html")
QUESTIONS = ROOT / "eval" / "python3-doc.json"
OWNERS = 1_000


async def run(
    url: str, sizes: tuple[int, ...], seconds: float, warmup: float, *, section: str = ""
) -> str:
    """The level's tables; ``section`` limits the corpus to one folder (the quick run)."""
    await empty(url)
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as scratch:
        settings = Settings(
            database_url=url,
            qdrant_path=str(Path(scratch) / "corpus"),
            ingest_worker=False,
            db_pool_min_size=4,
            db_pool_max_size=10,
        )
        if _installed():
            corpus = await _corpus(settings, section)
        else:
            corpus = f"_python3-doc is not installed ({PYTHON_DOCS} missing): corpus skipped._\n"
        texts = await _chunk_texts(url)
        latency = await _latency(Path(scratch) / "growing", texts, sizes, seconds, warmup)
    return corpus + "\n" + latency


def _seconds(delta: datetime.timedelta) -> float:
    return max(delta.total_seconds(), 1e-6)


def _installed() -> bool:
    return PYTHON_DOCS.is_dir()


async def _corpus(settings: Settings, section: str) -> str:
    questions = [q for q in cli.load_questions(QUESTIONS) if q.document.startswith(section)]
    began = time.perf_counter()
    # The HTML pages only: _sources/ holds each page's reST source as .txt beside it.
    failed = await cli.ingest(
        settings, [str(PYTHON_DOCS / section)], owner=None, include=["*.html"]
    )
    wall = time.perf_counter() - began
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT claimed_at, updated_at, chunk_count FROM documents"
            " WHERE status = 'completed' ORDER BY updated_at"
        )
        sizes = await conn.fetch("SELECT length(content) AS chars, content FROM document_chunks")
    finally:
        await conn.close()
    documents = len(rows)
    chunks = sum(row["chunk_count"] for row in rows)
    start = min(row["claimed_at"] for row in rows)
    # Chunks/s over the first tenth of the documents against the whole run: pages differ in
    # size, so a falling chunk rate (not a document rate) is what super-linear work shows.
    tenth = rows[: max(1, documents // 10)]
    first_rate = sum(r["chunk_count"] for r in tenth) / _seconds(tenth[-1]["updated_at"] - start)
    whole_rate = chunks / _seconds(rows[-1]["updated_at"] - start)
    short = sum(row["chars"] < 200 for row in sizes) / max(len(sizes), 1)
    navigation = sum(bool(navigation_lines(row["content"])) for row in sizes)
    # Recorded names are paths inside the ingested folder.
    named = [
        msgspec.structs.replace(q, document=q.document.removeprefix(section).lstrip("/"))
        for q in questions
    ]
    recall, mrr = await cli.evaluate(settings, named, verbose=False)
    lines = [
        f"#### python3-doc{f' ({section}/ only)' if section else ''}: ingestion by"
        " `python -m service ingest`, retrieval quality",
        "",
        "| measure | value |",
        "|---|---|",
        f"| documents ingested (failed) | {documents} ({failed}) |",
        f"| chunks | {chunks:,} (mean {sum(r['chars'] for r in sizes) / max(len(sizes), 1):.0f}"
        " chars) |",
        f"| wall time, recording included | {wall:.1f} s |",
        f"| documents/s, chunks/s (wall) | {documents / wall:.1f}, {chunks / wall:,.0f} |",
        f"| chunks/s over the first 10% of documents vs the whole | {first_rate:,.0f} vs"
        f" {whole_rate:,.0f} ({first_rate / whole_rate:.2f}x) |",
        f"| chunks under 200 chars | {short:.1%} |",
        f"| chunks with page navigation | {navigation / max(len(sizes), 1):.1%} |",
        f"| recall@3, MRR ({QUESTIONS.name}, {len(questions)} questions)"
        f" | {recall:.3f}, {mrr:.3f} |",
        "",
    ]
    return "\n".join(lines)


async def _chunk_texts(url: str) -> list[str]:
    """Real chunk texts to grow the collection with: the ingested corpus's, else docs/."""
    conn = await asyncpg.connect(url)
    try:
        texts = [row[0] for row in await conn.fetch("SELECT content FROM document_chunks")]
    finally:
        await conn.close()
    if texts:
        return texts
    return [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]


def synthetic_points(lexical: Lexical, texts: list[str], count: int, seed: int) -> list[ChunkPoint]:
    """``count`` points over the texts: half shared, half spread over OWNERS users."""
    rng = random.Random(seed)
    vectors = {text: lexical.document(text) for text in texts}
    points = []
    for n in range(count):
        text = texts[n % len(texts)]
        owner = SHARED if n % 2 else str(uuid.UUID(int=rng.randrange(OWNERS) + 1))
        points.append(
            ChunkPoint(
                point_id=uuid.UUID(int=rng.getrandbits(128)),
                sparse=vectors[text],
                dense=None,
                payload={"owner": owner, "document_id": str(uuid.UUID(int=n // 20)), "text": text},
            )
        )
    return points


async def _latency(
    root: Path, texts: list[str], sizes: tuple[int, ...], seconds: float, warmup: float
) -> str:
    lexical = Lexical.configured(Settings())
    layout = Layout(sparse_model=lexical.name)
    questions = [q.question for q in cli.load_questions(QUESTIONS)]
    query_vectors = [lexical.query(q) for q in questions]

    def search(store: VectorStore) -> Operation:
        async def operation(n: int) -> object:
            user = uuid.UUID(int=n % OWNERS + 1)
            return await store.search(
                sparse=query_vectors[n % len(query_vectors)], dense=None, user_id=user, limit=5
            )

        return operation

    baseline = ServerVectorStore(open_client(":memory:", None), "bench", layout=layout)
    await baseline.upsert(synthetic_points(lexical, texts, sizes[0], seed=1))
    await measure(search(baseline), concurrency=1, seconds=warmup)
    local_mode = await measure(search(baseline), concurrency=1, seconds=seconds)
    await baseline.close()

    edge = EdgeVectorStore(root, "bench", layout=layout)
    await edge.open()
    rows: list[Row] = []
    upserts: list[str] = []
    loaded = 0
    try:
        for seed, size in enumerate(sizes, start=2):
            points = synthetic_points(lexical, texts, size - loaded, seed=seed)
            began = time.perf_counter()
            await edge.upsert(points)
            upserts.append(
                f"{len(points) / (time.perf_counter() - began):,.0f} points/s to {size:,}"
            )
            loaded = size
            for concurrency in (1, 32):
                await measure(search(edge), concurrency=concurrency, seconds=warmup)
                sample = await measure(search(edge), concurrency=concurrency, seconds=seconds)
                baselines: dict[str, Sample] = {"local mode": local_mode}
                rows.append(
                    Row(f"Qdrant Edge, {size:,} chunks, c={concurrency}", sample, baselines)
                )
    finally:
        await edge.close()
    label = f"qdrant-client local mode (the previous engine), {sizes[0]:,} chunks, c=1"
    rows.insert(0, Row(label, local_mode, {"local mode": local_mode}))
    return (
        table("Search (owner filter + BM25 query, top 5) as the collection grows", rows)
        + f"\nUpsert throughput while growing (batches of 128): {'; '.join(upserts)}.\n"
    )
