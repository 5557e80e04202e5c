"""Command-line work beside the server: ingest files and URLs, evaluate retrieval."""

from __future__ import annotations

import hashlib
import mimetypes
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec

from generated import documents

from . import store
from .answers import Question
from .app import open_state
from .rag.ingest import describe
from .settings import Settings

__all__ = ["EvalQuestion", "evaluate", "ingest", "load_questions"]

INGESTIBLE = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in INGESTIBLE:
                yield child
    elif path.is_file():
        yield path
    else:
        raise SystemExit(f"no such file or directory: {path}")


def _progress(done: int, total: int, line: str) -> None:
    width = 24
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} {line[:60]:<60}")
    sys.stderr.flush()


async def ingest(settings: Settings, sources: list[str], *, owner: uuid.UUID | None) -> int:
    """Record each file (directories recursively) or URL as a document, then ingest the new
    ones here, with a progress bar. Returns the number of documents that failed."""
    async with open_state(settings) as state:
        db, ingestor = state["db"], state["ingestor"]
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
            for path in _files(Path(source)):
                content = path.read_bytes()
                result = await store.create_document(
                    db,
                    owner,
                    checksum=hashlib.sha256(content).digest(),
                    filename=path.name,
                    title=path.stem.replace("-", " ").replace("_", " "),
                    content_type=mimetypes.guess_type(path.name)[0],
                    byte_size=len(content),
                    content=content,
                )
                if result.created:
                    created.append(result.document.id)
        failed = 0
        for done, document_id in enumerate(created):
            try:
                document = await store.start_document(db, document_id, worker=ingestor.worker)
            except store.Conflict:
                continue  # a running service's worker took it first
            _progress(done, len(created), f"ingesting {describe(document)}")
            finished = await ingestor.ingest(document)
            failed += finished.status == "failed"
            _progress(done + 1, len(created), describe(finished))
        if created:
            sys.stderr.write("\n")
        print(f"{len(created)} new document(s) ingested, {failed} failed", file=sys.stderr)
        return failed


class EvalQuestion(msgspec.Struct, frozen=True):
    question: str
    document: str  # the file name of the document that answers it


def load_questions(path: Path) -> list[EvalQuestion]:
    return msgspec.json.decode(path.read_bytes(), type=list[EvalQuestion])


async def evaluate(
    settings: Settings, questions: list[EvalQuestion], *, k: int = 3
) -> tuple[float, float]:
    """Recall@k and mean reciprocal rank of retrieval over the shared corpus, printed."""
    async with open_state(settings) as state:
        answerer = state["answerer"]
        retrieve = getattr(answerer, "retrieve", None)
        if retrieve is None:
            raise SystemExit("the configured answerer does not retrieve")
        hits_at_k = 0
        reciprocal_ranks = 0.0
        for item in questions:
            passages = await retrieve(Question(text=item.question, user_id=None, session_id=None))
            ranked: list[str] = []
            for passage in passages:
                name = await _filename(state["db"], passage.document_id)
                if name not in ranked:
                    ranked.append(name)
            rank = ranked.index(item.document) + 1 if item.document in ranked else None
            hits_at_k += rank is not None and rank <= k
            reciprocal_ranks += 0.0 if rank is None else 1.0 / rank
            mark = f"rank {rank}" if rank else "missed"
            print(f"{mark:<8} {item.document:<28} {item.question}")
    recall = hits_at_k / len(questions)
    mrr = reciprocal_ranks / len(questions)
    print(f"\n{len(questions)} questions: recall@{k} = {recall:.3f}, MRR = {mrr:.3f}")
    return recall, mrr


async def _filename(db: store.Pool, document_id: uuid.UUID) -> str:
    document = await store.exec_statement(
        db, lambda conn: documents.get_document_for_worker(conn, document_id=document_id)
    )
    return "?" if document is None or document.filename is None else document.filename
