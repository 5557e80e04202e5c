"""RAG integration fixtures and helpers: the real app (PostgreSQL 18, in-memory Qdrant, the
ingestion worker polling fast), a fake OpenAI-compatible provider on loopback, and ways to
look inside the running app's Qdrant and the test database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import psycopg
import pytest
from starlette.testclient import TestClient

from service.app import State
from service.rag.extractive import Passage
from service.rag.sparse import Lexical
from service.settings import Settings
from tests.rag.fake_openai import FakeOpenAI, serve_fake_openai
from tests.service.conftest import app_settings

# The service fixtures, re-exported: the app's client, on the embedded PostgreSQL 18 only.
from tests.service.conftest import client as client
from tests.service.conftest import pg_kind as pg_kind

T = TypeVar("T")
Headers = dict[str, str]

__all__ = [
    "LEXICAL",
    "QUESTION",
    "REFUNDS",
    "SHIPPING",
    "WEATHER",
    "Headers",
    "chat",
    "chunk_rows",
    "client",
    "fake_openai",
    "fake_openai_server",
    "in_app",
    "minimal_pdf",
    "passage",
    "pg_kind",
    "post_text",
    "qdrant_payloads",
    "qdrant_point_ids",
    "rag_settings",
    "session_messages",
    "settings",
    "upload_file",
    "vector_engine",
    "wait_for_document",
]

DOCUMENT_WAIT_SECONDS = 30.0  # a bound on waiting for ingestion, not a performance target
ENGINES = ["edge", "server"]


@pytest.fixture(params=ENGINES)
def vector_engine(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The settings that choose a vector engine; every test using it runs on each:
    Qdrant Edge in this test's own directory, and the server adapter over qdrant-client's
    in-memory stand-in for a Qdrant server."""
    if request.param == "edge":
        return {"qdrant_url": None, "qdrant_path": str(tmp_path / "qdrant-edge")}
    return {"qdrant_url": ":memory:"}


def rag_settings(database_url: str, vector_engine: dict[str, Any], **overrides: Any) -> Settings:
    """Test app settings on the given engine, with the ingestion worker polling every 0.1 s."""
    return app_settings(database_url, **({"ingest_poll_seconds": 0.1} | vector_engine | overrides))


@pytest.fixture
def settings(database_url: str, vector_engine: dict[str, Any]) -> Settings:
    """The ``client`` fixture's settings: offline embeddings and answers, a fast worker."""
    return rag_settings(database_url, vector_engine)


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    with serve_fake_openai() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The fake provider, answering normally and with no requests recorded yet."""
    fake_openai_server.reset()
    return fake_openai_server


# --- the running app ----------------------------------------------------------------------


def in_app(client: TestClient, work: Callable[[State], Awaitable[T]]) -> T:
    """Run ``work`` on the app's event loop with its lifespan state (pool, Qdrant, ingestor)."""
    portal = client.portal
    assert portal is not None, "the TestClient must be entered, so that its lifespan runs"
    state = cast(State, client.app_state)

    async def call() -> T:
        return await work(state)

    return portal.call(call)


def qdrant_payloads(client: TestClient, document_id: uuid.UUID | str) -> dict[uuid.UUID, Any]:
    """The points the app's vector store holds for a document: id -> payload."""

    async def work(state: State) -> dict[uuid.UUID, Any]:
        return await state["vectors"].document_points(uuid.UUID(str(document_id)))

    return in_app(client, work)


def qdrant_point_ids(client: TestClient, document_id: uuid.UUID | str) -> set[uuid.UUID]:
    """The ids of the points the app's Qdrant holds for a document."""
    return set(qdrant_payloads(client, document_id))


# --- documents over HTTP ------------------------------------------------------------------


def post_text(client: TestClient, headers: Headers, text: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/documents", json={"text": text, **fields}, headers=headers)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def upload_file(
    client: TestClient, headers: Headers, filename: str, content: bytes, content_type: str
) -> dict[str, Any]:
    response = client.post(
        "/documents", files={"file": (filename, content, content_type)}, headers=headers
    )
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_for_document(client: TestClient, headers: Headers, document_id: str) -> dict[str, Any]:
    """Poll GET /documents/{id} until ingestion has completed or failed (bounded)."""
    deadline = time.monotonic() + DOCUMENT_WAIT_SECONDS
    while True:
        response = client.get(f"/documents/{document_id}", headers=headers)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        if document["status"] in ("completed", "failed"):
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"ingestion did not finish: {document}")
        time.sleep(0.05)


# --- the database -------------------------------------------------------------------------


def chunk_rows(
    postgresql: psycopg.Connection[Any], document_id: uuid.UUID | str
) -> list[tuple[int, uuid.UUID, uuid.UUID, str]]:
    """(chunk_index, id, point_id, content) of a document's chunk rows, in order."""
    rows = postgresql.execute(
        "SELECT chunk_index, id, point_id, content FROM document_chunks"
        " WHERE document_id = %s ORDER BY chunk_index",
        (str(document_id),),
    ).fetchall()
    postgresql.commit()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


# --- documents to upload ------------------------------------------------------------------


def minimal_pdf(*page_texts: str, title: str | None = None) -> bytes:
    """A hand-written PDF, one Helvetica line per page, with a correct cross-reference table."""
    page_count = len(page_texts)
    font_number = 3 + 2 * page_count
    kids = " ".join(f"{3 + 2 * page} 0 R" for page in range(page_count))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {page_count} >>",
    ]
    for page, page_text in enumerate(page_texts):
        stream = f"BT /F1 12 Tf 72 712 Td ({page_text}) Tj ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_number} 0 R >> >> /Contents {4 + 2 * page} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = ""
    if title is not None:
        objects.append(f"<< /Title ({title}) >>")
        info = f" /Info {len(objects)} 0 R"

    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref_offset = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010d} 00000 n \n".encode()  # each entry is exactly 20 bytes
    pdf += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n"
        f"startxref\n{xref_offset}\n%%EOF\n"
    ).encode()
    return bytes(pdf)


# --- passages for answer tests ------------------------------------------------------------

LEXICAL = Lexical.configured(Settings())

REFUNDS = (
    "Our office is in Berlin. Annual plans can be refunded within 30 days of purchase. "
    "Monthly plans renew automatically."
)
SHIPPING = "Orders ship from Hamburg. Shipping to Europe takes three business days."
WEATHER = "The weather in Berlin is mild. Summers are warm."
QUESTION = "Can annual plans be refunded?"


def passage(text: str, score: float, number: int, *, title: str | None = None) -> Passage:
    return Passage(
        document_id=uuid.UUID(int=number),
        chunk_id=uuid.UUID(int=1000 + number),
        point_id=uuid.UUID(int=2000 + number),
        score=score,
        text=text,
        document_title=title if title is not None else f"Document {number}",
        document_url=f"https://docs.example/{number}",
        heading=None,
    )


# --- chat ---------------------------------------------------------------------------------


def chat(client: TestClient, headers: Headers, message: str, **fields: Any) -> dict[str, Any]:
    """A /chat answer (JSON), asserting it was answered and saved."""
    response = client.post("/chat", json={"message": message, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["saved"] is True
    return body


def session_messages(client: TestClient, headers: Headers, session_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/sessions/{session_id}/messages", headers=headers)
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages
