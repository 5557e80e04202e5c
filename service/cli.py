"""Command-line work beside the server: ingest files and URLs, reindex, evaluate retrieval.

The embedded vector engine admits one process. When a running service owns it, ``ingest``
records the documents as jobs for that service's worker and follows their progress in
PostgreSQL, ``eval`` searches a copy of the engine's directory, and ``reindex`` asks for
the service to be stopped first.
"""

from __future__ import annotations

import asyncio
import datetime
import fnmatch
import hashlib
import mimetypes
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import msgspec

from . import store
from .app import State, open_state
from .connections import open_pool
from .domain import Question
from .rag.edge import EngineBusy
from .rag.vectors import LayoutMismatch, VectorStore
from .settings import Settings
from .usecases.ingestion import describe
from .usecases.retention import Retention, RetentionCounts

__all__ = [
    "EvalQuestion",
    "evaluate",
    "ingest",
    "load_questions",
    "preflight",
    "reindex",
    "retention",
]

INGESTIBLE = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}
# Documents in flight at once: one is extracted while others wait on PostgreSQL or the engine.
CONCURRENCY = 3
FOLLOW_INTERVAL = 0.5  # seconds between progress reads of queued jobs


def _files(path: Path, include: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """(file, name to record): a directory's ingestible files by their path inside it, only
    those whose name matches an ``include`` pattern when any are given."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if not child.is_file() or child.suffix.lower() not in INGESTIBLE:
                continue
            if include and not any(fnmatch.fnmatch(child.name, pattern) for pattern in include):
                continue
            yield child, child.relative_to(path).as_posix()
    elif path.is_file():
        yield path, path.name
    else:
        raise SystemExit(f"no such file or directory: {path}")


class _Progress:
    """A progress bar on stderr: done / total and the latest document."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0

    def show(self, line: str) -> None:
        width = 24
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {line[:60]:<60}")
        sys.stderr.flush()

    def finish(self, what: str) -> None:
        if self.total:
            sys.stderr.write("\n")
        print(f"{self.total} {what}, {self.failed} failed", file=sys.stderr)


async def _record(
    db: store.Pool, sources: list[str], owner: uuid.UUID | None, include: Sequence[str]
) -> list[uuid.UUID]:
    """Record each file (directories recursively) or URL as a pending document; the new ones."""
    created: list[uuid.UUID] = []
    for source in sources:
        if source.startswith(("http://", "https://")):
            result = await store.create_document(
                db, owner, checksum=hashlib.sha256(b"url:" + source.encode()).digest(),
                source_url=source,
            )  # fmt: skip
            if result.created:
                created.append(result.document.id)
            continue
        for path, name in _files(Path(source), include):
            content = path.read_bytes()
            result = await store.create_document(
                db,
                owner,
                checksum=hashlib.sha256(content).digest(),
                filename=name,
                content_type=mimetypes.guess_type(path.name)[0],
                byte_size=len(content),
                content=content,
            )
            if result.created:
                created.append(result.document.id)
    return created


async def ingest(
    settings: Settings,
    sources: list[str],
    *,
    owner: uuid.UUID | None,
    include: Sequence[str] = (),
) -> int:
    """Record the sources as documents, then ingest the new ones here, or follow a running
    service's worker ingesting them. Returns the number of documents that failed."""
    try:
        async with open_state(settings) as state:
            created = await _record(state["db"], sources, owner, include)
            return await _ingest_here(state, created)
    except EngineBusy as busy:
        pool = await open_pool(settings)
        try:
            created = await _record(pool, sources, owner, include)
            print(f"{busy}: its ingestion worker takes the new documents", file=sys.stderr)
            return await _follow(pool, created, settings)
        finally:
            await pool.close()


async def _ingest_here(state: State, created: list[uuid.UUID]) -> int:
    db, ingestor = state["db"], state["ingestor"]
    progress = _Progress(len(created))
    queue = iter(created)

    async def work() -> None:
        for document_id in queue:  # one shared iterator: each document goes to one task
            try:
                document = await store.start_document(db, document_id, worker=ingestor.worker)
            except store.Conflict:
                progress.done += 1  # a running service's worker took it first
                continue
            progress.show(describe(document))
            finished = await ingestor.ingest(document)
            progress.done += 1
            progress.failed += finished.status == "failed"
            progress.show(describe(finished))

    await asyncio.gather(*(work() for _ in range(CONCURRENCY)))
    progress.finish("new document(s) ingested")
    return progress.failed


async def _follow(db: store.Pool, created: list[uuid.UUID], settings: Settings) -> int:
    """Show the queued documents' progress until each is completed or failed.

    Gives up when nothing moves for longer than a stale claim lasts (the worker is gone).
    """
    progress = _Progress(len(created))
    waiting = set(created)
    patience = settings.ingest_stale_seconds + settings.ingest_poll_seconds
    last_change = time.monotonic()
    while waiting:
        statuses = await store.document_statuses(db, list(waiting))
        for document_id in list(waiting):
            status, error = statuses.get(document_id, ("deleted", None))
            if status in ("completed", "failed", "deleted"):
                waiting.discard(document_id)
                progress.done += 1
                progress.failed += status == "failed"
                last_change = time.monotonic()
                progress.show(f"{status:<9} {document_id}" + (f" ({error})" if error else ""))
        if waiting and time.monotonic() - last_change > patience:
            progress.finish("document(s) queued")
            print(f"no progress for {patience:g} s: is the service running?", file=sys.stderr)
            return progress.failed + len(waiting)
        if waiting:
            progress.show(f"waiting for {len(waiting)} document(s)")
            await asyncio.sleep(FOLLOW_INTERVAL)
    progress.finish("document(s) ingested by the service")
    return progress.failed


async def reindex(settings: Settings, *, if_stale: bool = False) -> int:
    """Rebuild every completed document's chunks and vectors into a new generation of the
    collection, then switch to it. Returns the number of documents that failed (then the
    current generation is kept)."""
    try:
        async with open_state(settings):
            layout_matches = True
    except LayoutMismatch:
        layout_matches = False
    except EngineBusy as busy:
        if not if_stale:
            raise
        # The running service checked its vectors when it started.
        print(f"{busy}: not checked for stale vectors", file=sys.stderr)
        return 0
    async with open_state(settings, check_layout=False) as state:
        db, ingestor, vectors = state["db"], state["ingestor"], state["vectors"]
        stale = await store.count_stale_documents(
            db, embedding_model=ingestor.embedding_model, collection=vectors.collection
        )
        if if_stale and layout_matches and not stale:
            return 0
        generation = await vectors.begin_generation()
        rebuilt: set[uuid.UUID] = set()
        failures: list[str] = []
        progress = _Progress(0)

        async def one(document: store.Document, target: VectorStore) -> None:
            try:
                await ingestor.rebuild(document, target)
                rebuilt.add(document.id)
            except Exception as error:
                progress.failed += 1
                failures.append(f"{describe(document)}: {type(error).__name__}: {error}")
            progress.done += 1
            progress.show(describe(document))

        async def rebuild_all(target: VectorStore) -> None:
            after = uuid.UUID(int=0)
            while page := await store.list_completed_documents(db, after_id=after, page_size=100):
                after = page[-1].id
                todo = [document for document in page if document.id not in rebuilt]
                progress.total += len(todo)
                for start in range(0, len(todo), CONCURRENCY):
                    batch = todo[start : start + CONCURRENCY]
                    await asyncio.gather(*(one(document, target) for document in batch))

        await rebuild_all(generation)
        if failures:
            await vectors.discard(generation)
            progress.finish("document(s) reindexed")
            print("\n".join(failures), file=sys.stderr)
            print("the current vectors were kept", file=sys.stderr)
            return len(failures)
        await vectors.switch_to(generation)
        # Documents completed by a running service's worker meanwhile went into the previous
        # generation: rebuild them into the new one.
        await rebuild_all(vectors)
        progress.finish("document(s) reindexed")
        return len(failures)


async def preflight(settings: Settings) -> None:
    """What serving needs and would otherwise fail on at startup, checked with a clear line:
    the engine is free and its layout current (EngineBusy, LayoutMismatch); documents whose
    vectors are stale are reported."""
    async with open_state(settings) as state:
        stale = await store.count_stale_documents(
            state["db"],
            embedding_model=state["ingestor"].embedding_model,
            collection=state["vectors"].collection,
        )
    if stale:
        print(
            f"warning: {stale} document(s) have vectors made another way or kept elsewhere: "
            "run `python -m service reindex`",
            file=sys.stderr,
        )


async def retention(settings: Settings, *, inactive_days: int, dry_run: bool) -> RetentionCounts:
    """List (dry run: the sessions by id, and the counts) or purge what retention removes for
    sessions inactive for more than ``inactive_days``; the counts are printed either way.
    Needs PostgreSQL only, so it runs beside a service that owns the embedded engine."""
    pool = await open_pool(settings)
    try:
        planner = Retention(pool, settings)
        cutoff = planner.cutoff(inactive_days)
        mode = "dry run, nothing is deleted" if dry_run else "purge"
        print(f"retention ({mode}): sessions inactive since {_when(cutoff)} ({inactive_days} days)")
        if dry_run:
            async for session in planner.inactive_sessions(cutoff):
                print(
                    f"  session {session.id}  user {session.user_id}  "
                    f"last active {_when(session.last_activity_at)}  "
                    f"{session.message_count} message(s)"
                )
            counts = await planner.count(cutoff)
        else:
            counts = await planner.purge(cutoff, request_id=f"retention-{uuid.uuid4().hex[:12]}")
    finally:
        await pool.close()
    print("would purge:" if dry_run else "purged:")
    contents = (
        "off (set RETENTION_DROP_DOCUMENT_CONTENT=true to purge them)"
        if counts.document_contents is None
        else f"{counts.document_contents} ({counts.document_content_bytes} bytes)"
    )
    for label, value in (
        ("sessions", counts.sessions),
        ("messages", counts.messages),
        ("expired credentials", counts.credentials),
        ("document contents", contents),
    ):
        print(f"  {label:<21}{value}")
    return counts


def _when(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class EvalQuestion(msgspec.Struct, frozen=True):
    question: str
    document: str  # the recorded file name (path inside the ingested directory)


def load_questions(path: Path) -> list[EvalQuestion]:
    return msgspec.json.decode(path.read_bytes(), type=list[EvalQuestion])


async def evaluate(
    settings: Settings, questions: list[EvalQuestion], *, k: int = 3, verbose: bool = True
) -> tuple[float, float]:
    """Recall@k and mean reciprocal rank of retrieval over the shared corpus, printed
    (with each question's rank when ``verbose``)."""
    async with _readable_state(settings) as state:
        answerer = state["answerer"]
        retrieve = getattr(answerer, "retrieve", None)
        if retrieve is None:
            raise SystemExit("the configured answerer does not retrieve")
        names: dict[uuid.UUID, str] = {}
        hits_at_k = 0
        reciprocal_ranks = 0.0
        for item in questions:
            passages = await retrieve(Question(text=item.question, user_id=None, session_id=None))
            ranked: list[str] = []
            for passage in passages:
                if passage.document_id not in names:
                    names[passage.document_id] = await _filename(state["db"], passage.document_id)
                if names[passage.document_id] not in ranked:
                    ranked.append(names[passage.document_id])
            rank = ranked.index(item.document) + 1 if item.document in ranked else None
            hits_at_k += rank is not None and rank <= k
            reciprocal_ranks += 0.0 if rank is None else 1.0 / rank
            if verbose:
                mark = f"rank {rank}" if rank else "missed"
                print(f"{mark:<8} {item.document:<28} {item.question}")
    recall = hits_at_k / len(questions)
    mrr = reciprocal_ranks / len(questions)
    if verbose:
        print(f"\n{len(questions)} questions: recall@{k} = {recall:.3f}, MRR = {mrr:.3f}")
    return recall, mrr


@asynccontextmanager
async def _readable_state(settings: Settings) -> AsyncIterator[State]:
    """The state, or, when a running service owns the embedded engine, the state over a
    private copy of the engine's directory (searches only need a consistent snapshot)."""
    async with AsyncExitStack() as stack:
        try:
            state = await stack.enter_async_context(open_state(settings))
        except EngineBusy as busy:
            print(f"{busy}: searching a copy of it", file=sys.stderr)
            copy = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "engine"
            shutil.copytree(settings.qdrant_path, copy, ignore=shutil.ignore_patterns("owner.lock"))
            copied = msgspec.structs.replace(settings, qdrant_path=str(copy))
            state = await stack.enter_async_context(open_state(copied))
        yield state


async def _filename(db: store.Pool, document_id: uuid.UUID) -> str:
    document = await store.get_document_for_worker(db, document_id)
    return "?" if document is None or document.filename is None else document.filename
