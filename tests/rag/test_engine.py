"""The vector engines: one owner of the embedded engine, the command line beside a running
service, layouts and reindex, generations on both engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from qdrant_client import models as qm
from starlette.testclient import TestClient

from service import cli
from service.app import create_app
from service.rag.edge import EdgeVectorStore, EngineBusy
from service.rag.qdrant_server import ServerVectorStore, open_client
from service.rag.sparse import Lexical
from service.rag.vectors import SHARED, ChunkPoint, Layout, LayoutMismatch, VectorStore
from service.settings import Settings
from tests.rag.conftest import chat, post_text, rag_settings, wait_for_document
from tests.service.conftest import sign_up

ROOT = Path(__file__).resolve().parents[2]
OTTERS = "Sea otters hold hands while they sleep so that they do not drift apart."
LEXICAL = Lexical.configured(Settings())
LAYOUT = Layout(sparse_model=LEXICAL.name)
COMMAND_TIMEOUT = 120  # seconds: a bound on a command-line run, not a performance target


def edge_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return rag_settings(
        database_url, {"qdrant_url": None, "qdrant_path": str(tmp_path / "engine")}, **overrides
    )


def run_command(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m service ARGS`` in its own process, configured like ``settings``."""
    assert settings.database_url is not None
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": settings.database_url,
        "QDRANT_PATH": settings.qdrant_path,
        "BM25_AVG_LEN": str(settings.bm25_avg_len),
        "INGEST_POLL_SECONDS": "0.1",
    }
    env.pop("QDRANT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def point(text: str, owner: str = SHARED) -> ChunkPoint:
    return ChunkPoint(
        point_id=uuid.uuid4(),
        sparse=LEXICAL.document(text),
        dense=None,
        payload={"owner": owner, "document_id": str(uuid.uuid4()), "text": text},
    )


async def texts_found(store: VectorStore, query: str) -> list[str]:
    hits = await store.search(sparse=LEXICAL.query(query), dense=None, user_id=None, limit=5)
    return [str(hit.payload["text"]) for hit in hits]


# --- one owner -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_second_owner_of_the_embedded_engine_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    first = EdgeVectorStore(tmp_path, "chunks", layout=LAYOUT)
    await first.open()
    try:
        second = EdgeVectorStore(tmp_path, "chunks", layout=LAYOUT)
        with pytest.raises(EngineBusy, match=f"in use by process {os.getpid()}"):
            await second.open()
    finally:
        await first.close()
    third = EdgeVectorStore(tmp_path, "chunks", layout=LAYOUT)  # released on close
    await third.open()
    await third.close()


def test_ingest_while_the_service_runs_queues_the_documents_for_its_worker(
    database_url: str, tmp_path: Path
) -> None:
    settings = edge_settings(database_url, tmp_path)
    source = tmp_path / "otters.md"
    source.write_text(f"# Otters\n\n{OTTERS}\n")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        done = run_command(settings, "ingest", str(source), "--shared")

        assert done.returncode == 0, done.stderr
        assert "in use by process" in done.stderr
        assert "1 document(s) ingested by the service, 0 failed" in done.stderr
        assert "Traceback" not in done.stderr
        answer = chat(client, sign_up(client), "Why do sea otters hold hands?")
        assert [source["document_title"] for source in answer["sources"]] == ["Otters"]


def test_eval_while_the_service_runs_searches_a_copy_of_the_engine(
    database_url: str, tmp_path: Path
) -> None:
    settings = edge_settings(database_url, tmp_path)
    questions = tmp_path / "questions.json"
    questions.write_text(
        json.dumps([{"question": "Why do sea otters hold hands?", "document": "otters.md"}])
    )
    source = tmp_path / "otters.md"
    source.write_text(OTTERS)
    assert run_command(settings, "ingest", str(source), "--shared").returncode == 0
    with TestClient(create_app(settings), raise_server_exceptions=False):
        done = run_command(settings, "eval", "--questions", str(questions))

    assert done.returncode == 0, done.stderr
    assert "searching a copy of it" in done.stderr
    assert "1 questions: recall@3 = 1.000, MRR = 1.000" in done.stdout


# --- layouts and reindex ---------------------------------------------------------------------


def test_settings_that_change_the_vectors_stop_startup_with_one_line_naming_reindex(
    database_url: str, tmp_path: Path
) -> None:
    settings = edge_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False):
        pass  # creates the collection under the first layout
    changed = msgspec.structs.replace(settings, bm25_avg_len=42.0)

    done = run_command(changed, "serve", "--port", "1")

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "avg42" in lines[0]
    assert "python -m service reindex" in lines[0]


@pytest.mark.anyio
async def test_reindex_rebuilds_every_document_under_the_new_settings_and_switches_to_it(
    database_url: str, tmp_path: Path, postgresql: psycopg.Connection[Any]
) -> None:
    settings = edge_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        created = post_text(client, headers, OTTERS, title="Otters")
        assert wait_for_document(client, headers, created["id"])["status"] == "completed"
    old_generations = set((tmp_path / "engine" / "chunks").iterdir())
    changed = msgspec.structs.replace(settings, bm25_avg_len=42.0)

    failed = await cli.reindex(changed)

    assert failed == 0
    model = postgresql.execute(
        "SELECT embedding_model FROM documents WHERE id = %s", (created["id"],)
    ).fetchone()
    postgresql.commit()
    assert model == (Lexical.configured(changed).name,)
    assert not old_generations & set((tmp_path / "engine" / "chunks").iterdir())
    assert await cli.reindex(changed, if_stale=True) == 0  # nothing left to do
    with TestClient(create_app(changed), raise_server_exceptions=False) as client:
        answer = chat(client, headers, "Why do sea otters hold hands?")
        assert [source["document_id"] for source in answer["sources"]] == [created["id"]]


# --- generations, on both engines ------------------------------------------------------------


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VectorStore:
    if request.param == "edge":
        return EdgeVectorStore(tmp_path, "chunks", layout=LAYOUT)
    return ServerVectorStore(open_client(":memory:", None), "chunks", layout=LAYOUT)


@pytest.mark.anyio
async def test_a_new_generation_serves_only_once_switched_and_then_alone(
    store: VectorStore,
) -> None:
    await store.open()
    try:
        await store.upsert([point("Old otters float on kelp beds.")])
        generation = await store.begin_generation()
        await generation.upsert([point("New otters crack shells on rocks.")])

        assert await texts_found(store, "otters") == ["Old otters float on kelp beds."]
        await store.switch_to(generation)
        assert await texts_found(store, "otters") == ["New otters crack shells on rocks."]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_discarded_generation_leaves_the_current_one_serving(store: VectorStore) -> None:
    await store.open()
    try:
        await store.upsert([point("Old otters float on kelp beds.")])
        generation = await store.begin_generation()
        await generation.upsert([point("New otters crack shells on rocks.")])
        await store.discard(generation)

        assert await texts_found(store, "otters") == ["Old otters float on kelp beds."]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_opening_a_collection_built_with_other_vectors_is_a_layout_mismatch(
    tmp_path: Path,
) -> None:
    built = EdgeVectorStore(tmp_path, "chunks", layout=LAYOUT)
    await built.open()
    await built.close()
    other = Layout(sparse_model=Lexical(language="english", avg_len=42.0).name)
    reopened = EdgeVectorStore(tmp_path, "chunks", layout=other)
    with pytest.raises(LayoutMismatch, match="run `python -m service reindex`"):
        await reopened.open()
    await reopened.open(check_layout=False)  # reindex opens it anyway, to replace it
    await reopened.close()


# --- engine work stays off the event loop ----------------------------------------------------


class _RecordingShard:
    """Stands in front of a real shard, noting the thread and size of each call."""

    def __init__(self, shard: Any) -> None:
        self.shard = shard
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.shard, name)

        def call(*args: Any) -> Any:
            self.calls.append((name, threading.current_thread().name))
            return method(*args)

        return call


@pytest.mark.anyio
async def test_engine_calls_run_on_the_engine_thread_in_bounded_batches(tmp_path: Path) -> None:
    store = EdgeVectorStore(tmp_path, "chunks", layout=LAYOUT)
    await store.open()
    recording = _RecordingShard(store._shard)
    store._shard = recording  # type: ignore[assignment]
    try:
        await store.upsert([point(f"Otter number {n} floats on kelp.") for n in range(300)])
        await texts_found(store, "otter kelp")
        await store.delete_document(uuid.uuid4())
    finally:
        store._shard = recording.shard
        await store.close()

    loop_thread = threading.current_thread().name
    assert [name for name, _ in recording.calls] == ["update"] * 3 + ["query", "update"]
    assert all(thread.startswith("qdrant-edge") for _, thread in recording.calls)
    assert all(thread != loop_thread for _, thread in recording.calls)


@pytest.mark.anyio
async def test_a_server_collection_made_before_aliases_is_reported_then_replaced_by_reindex() -> (
    None
):
    client = open_client(":memory:", None)
    await client.create_collection(
        "chunks",
        sparse_vectors_config={"text": qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
    )
    store = ServerVectorStore(client, "chunks", layout=LAYOUT)
    with pytest.raises(LayoutMismatch, match="made before layouts were recorded"):
        await store.open()
    await store.open(check_layout=False)
    generation = await store.begin_generation()
    await generation.upsert([point("New otters crack shells on rocks.")])
    await store.switch_to(generation)

    aliases = (await client.get_aliases()).aliases
    assert [(a.alias_name, a.collection_name.startswith("chunks-")) for a in aliases] == [
        ("chunks", True)
    ]
    assert await texts_found(store, "otters") == ["New otters crack shells on rocks."]
    reopened = ServerVectorStore(client, "chunks", layout=LAYOUT, owns_client=False)
    await reopened.open()  # the new generation carries its layout
    await store.close()
