"""Ingestion end to end: POST /documents, the worker, chunk rows in PostgreSQL, points in Qdrant.

Every format goes through the API and the app's own ingestion worker; failures leave the
document failed with its error and without points; a dead worker's claim is taken over;
identical content is one document; deleting a document removes its rows and points.
"""

from __future__ import annotations

import datetime
import socket
import time
import uuid
from typing import Any

import msgspec
import psycopg
import pytest
from starlette.testclient import TestClient

from generated import models
from service import store
from service.app import create_app
from service.settings import Settings
from service.usecases.ingestion import INTERNAL_FAILURE, Ingestor, point_id
from tests.rag.conftest import (
    Headers,
    chat,
    chunk_rows,
    in_app,
    minimal_pdf,
    post_text,
    qdrant_payloads,
    qdrant_point_ids,
    rag_settings,
    upload_file,
    wait_for_document,
)
from tests.rag.fake_openai import FakeOpenAI
from tests.service.conftest import sign_up

PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
)


async def _name(name: str) -> str:
    return name


def assert_ingested(
    client: TestClient,
    headers: Headers,
    postgresql: psycopg.Connection[Any],
    created: dict[str, Any],
) -> list[str]:
    """The document went pending -> completed, with chunk rows whose points are in Qdrant.

    Returns the chunk texts.
    """
    assert created["status"] == "pending"
    document = wait_for_document(client, headers, created["id"])
    assert document["status"] == "completed", document
    assert document["error"] is None
    assert document["chunk_count"] > 0
    assert document["attempts"] == 1
    assert document["embedding_model"] == in_app(
        client, lambda state: _name(state["ingestor"].lexical.name)
    )
    rows = chunk_rows(postgresql, created["id"])
    assert [row[0] for row in rows] == list(range(document["chunk_count"]))
    payloads = qdrant_payloads(client, created["id"])
    assert set(payloads) == {row[2] for row in rows}
    for _, _, point, content in rows:
        assert payloads[point]["text"] == content
        assert payloads[point]["document_id"] == created["id"]
    return [row[3] for row in rows]


def test_text_posted_as_json_is_ingested_into_chunk_rows_and_qdrant_points(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    text = "Lighthouse keepers log the weather every four hours.\n\nThe lamp is lit at dusk."
    created = post_text(client, headers, text, title="Lighthouse log")

    chunks = assert_ingested(client, headers, postgresql, created)

    assert "Lighthouse keepers log the weather every four hours." in "\n".join(chunks)
    assert "The lamp is lit at dusk." in "\n".join(chunks)


def test_markdown_upload_is_ingested_with_its_text(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    markdown = (
        b"# Beekeeping guide\n\nInspect the hive every ten days in summer.\n\n"
        b"## Winter\n\nLeave enough honey for the colony to survive the cold.\n"
    )
    created = upload_file(client, headers, "bees.md", markdown, "text/markdown")
    assert created["filename"] == "bees.md"

    chunks = "\n".join(assert_ingested(client, headers, postgresql, created))

    assert "Inspect the hive every ten days in summer." in chunks
    assert "Leave enough honey for the colony to survive the cold." in chunks


def test_html_upload_keeps_scripts_and_styles_out_of_every_chunk(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    html = b"""<!doctype html>
<html><head><title>Ferry timetable</title>
<style>.banner { color: crimson; }</style>
<script>window.trackingPixel = "beaconValue";</script></head>
<body><h1>Ferry timetable</h1>
<p>The morning ferry leaves the harbour at seven.</p>
<script>document.write("injectedScriptText");</script>
<style>p { font-family: mysteryfont; }</style>
<p>The evening ferry returns at nine.</p></body></html>"""
    created = upload_file(client, headers, "ferry.html", html, "text/html")

    chunks = assert_ingested(client, headers, postgresql, created)

    joined = "\n".join(chunks)
    assert "The morning ferry leaves the harbour at seven." in joined
    assert "The evening ferry returns at nine." in joined
    for hidden in ("crimson", "trackingPixel", "beaconValue", "injectedScriptText", "mysteryfont"):
        assert all(hidden not in chunk for chunk in chunks), hidden
    assert all(
        hidden not in str(payload)
        for payload in qdrant_payloads(client, created["id"]).values()
        for hidden in ("crimson", "trackingPixel", "injectedScriptText")
    )


def test_pdf_upload_is_ingested_with_the_page_text(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    created = upload_file(client, headers, "hello.pdf", minimal_pdf("Hello PDF"), "application/pdf")
    assert created["content_type"] == "application/pdf"

    chunks = assert_ingested(client, headers, postgresql, created)

    assert chunks == ["Hello PDF"]


def test_a_pdf_is_cited_by_its_metadata_title_and_the_page_the_passage_starts_on(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    lighthouses = "Lighthouse keepers trim the lamp wicks every evening at dusk. " * 25
    otters = "Sea otters wrap themselves in kelp so the tide cannot carry them off. " * 25
    pdf = minimal_pdf(lighthouses, otters, title="Coastal Field Notes")
    created = upload_file(client, headers, "scan-0042.pdf", pdf, "application/pdf")
    assert wait_for_document(client, headers, created["id"])["status"] == "completed"

    answer = chat(client, headers, "Why do sea otters wrap themselves in kelp?")

    assert answer["sources"]
    assert {source["document_title"] for source in answer["sources"]} == {"Coastal Field Notes"}
    assert answer["sources"][0]["page"] == 2


def test_failing_embedder_leaves_the_document_failed_with_its_error_and_no_points(
    database_url: str,
    vector_engine: dict[str, Any],
    postgresql: psycopg.Connection[Any],
    fake_openai: FakeOpenAI,
) -> None:
    settings = rag_settings(database_url, vector_engine, embedding_base_url=fake_openai.url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        # A first document while the embedder works: the collection exists, with points.
        good = post_text(client, headers, "Tides rise twice a day along this coast.")
        assert wait_for_document(client, headers, good["id"])["status"] == "completed"
        good_points = qdrant_point_ids(client, good["id"])
        assert good_points

        fake_openai.embeddings_status = 500
        bad = post_text(client, headers, "Glaciers carve valleys over thousands of years.")
        document = wait_for_document(client, headers, bad["id"])

        assert document["status"] == "failed"
        assert document["error"] == "the embedding model was unavailable"  # the log has its words
        assert document["chunk_count"] == 0
        assert chunk_rows(postgresql, bad["id"]) == []
        assert qdrant_point_ids(client, bad["id"]) == set()
        assert qdrant_point_ids(client, good["id"]) == good_points
        # The embedder was asked: the failure is the provider's, not a skipped step.
        assert "Glaciers carve valleys over thousands of years." in fake_openai.embedded_texts()


def test_qdrant_error_leaves_the_document_failed_not_completed(
    database_url: str, postgresql: psycopg.Connection[Any]
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = rag_settings(database_url, {}, qdrant_url=f"http://127.0.0.1:{port}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        # With Qdrant down /chat answers 503, but still hands the new user their token.
        first = client.post("/chat", json={"message": "hello"})
        headers = {"Authorization": f"Bearer {first.json()['error']['details']['token']}"}
        client.cookies.clear()
        created = post_text(client, headers, "Harbour seals rest on sandbanks at low tide.")
        document = wait_for_document(client, headers, created["id"])

    assert document["status"] == "failed"
    assert document["error"] == INTERNAL_FAILURE  # qdrant-client's words are in the log
    assert document["chunk_count"] == 0
    assert chunk_rows(postgresql, created["id"]) == []


@pytest.mark.parametrize(
    ("filename", "content_type", "error"),
    [
        ("photo.png", "image/png", "unsupported content type image/png"),
        (
            "photo.png",
            "application/octet-stream",
            "unsupported binary content (photo.png): expected text, Markdown, HTML or PDF",
        ),
    ],
    ids=["declared-image", "undeclared-binary"],
)
def test_an_unreadable_file_type_is_refused_at_upload_with_415_and_nothing_recorded(
    client: TestClient,
    postgresql: psycopg.Connection[Any],
    filename: str,
    content_type: str,
    error: str,
) -> None:
    headers = sign_up(client)
    response = client.post(
        "/documents", files={"file": (filename, PNG_BYTES, content_type)}, headers=headers
    )

    assert response.status_code == 415, response.text
    assert response.json()["error"] == {"code": "unsupported_media_type", "message": error}
    assert client.get("/documents", headers=headers).json()["documents"] == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/admin", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"],
)
def test_a_url_into_a_private_network_is_refused_at_once_with_422(
    client: TestClient, url: str
) -> None:
    headers = sign_up(client)
    response = client.post("/documents", json={"url": url}, headers=headers)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"] == {"location": "body", "field": "url"}
    assert "non-public address" in error["message"]
    assert client.get("/documents", headers=headers).json()["documents"] == []


def test_killed_workers_claim_is_taken_over_once_stale_and_completed(
    database_url: str, vector_engine: dict[str, Any], postgresql: psycopg.Connection[Any]
) -> None:
    settings = rag_settings(database_url, vector_engine, ingest_worker=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        created = post_text(client, headers, "Kites fly best in steady coastal wind.")

        claimed = in_app(
            client,
            lambda state: store.claim_document(
                state["db"],
                worker="dead-worker",
                stale_after=datetime.timedelta(seconds=300),
                max_attempts=3,
            ),
        )
        assert claimed is not None
        assert str(claimed.id) == created["id"]
        assert (claimed.status, claimed.claimed_by, claimed.attempts) == (
            "processing",
            "dead-worker",
            1,
        )
        # "dead-worker" dies here. A worker that considers the claim fresh leaves it alone.
        patient = in_app(
            client,
            lambda state: Ingestor(
                state["db"],
                state["vectors"],
                settings,
                lexical=state["ingestor"].lexical,
                worker="patient",
            ).run_once(),
        )
        assert patient is None

        stale = msgspec.structs.replace(settings, ingest_stale_seconds=0.05)
        rescued = _run_until_claimed(client, stale, worker="rescuer")

        assert str(rescued.id) == created["id"]
        assert rescued.status == "completed"
        assert rescued.attempts == 2
        assert rescued.claimed_by == "rescuer"
        document = wait_for_document(client, headers, created["id"])
        assert (document["status"], document["attempts"]) == ("completed", 2)
        rows = chunk_rows(postgresql, created["id"])
        assert len(rows) == document["chunk_count"] > 0
        assert qdrant_point_ids(client, created["id"]) == {row[2] for row in rows}

        # The dead worker, were it to come back, can no longer record anything.
        with pytest.raises(store.Conflict):
            in_app(
                client,
                lambda state: store.fail_document(
                    state["db"], claimed.id, worker="dead-worker", error="late"
                ),
            )
        assert wait_for_document(client, headers, created["id"])["status"] == "completed"


def test_claim_abandoned_on_its_last_attempt_is_failed_instead_of_left_processing(
    database_url: str, vector_engine: dict[str, Any], postgresql: psycopg.Connection[Any]
) -> None:
    settings = rag_settings(
        database_url,
        vector_engine,
        ingest_worker=False,
        ingest_max_attempts=1,
        ingest_stale_seconds=0.05,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        created = post_text(client, headers, "Snails carry their homes on their backs.")
        claimed = in_app(
            client,
            lambda state: store.claim_document(
                state["db"],
                worker="dead-worker",
                stale_after=datetime.timedelta(seconds=300),
                max_attempts=1,
            ),
        )
        assert claimed is not None
        assert claimed.attempts == 1  # its only attempt; "dead-worker" dies here

        deadline = time.monotonic() + 30
        while (document := get_document(client, headers, created["id"]))["status"] == "processing":
            assert time.monotonic() < deadline, "the abandoned claim stayed processing"
            time.sleep(0.05)
            nothing = in_app(
                client,
                lambda state: Ingestor(
                    state["db"],
                    state["vectors"],
                    settings,
                    lexical=state["ingestor"].lexical,
                    worker="rescuer",
                ).run_once(),
            )
            assert nothing is None  # never retried past ingest_max_attempts

        assert document["status"] == "failed"
        assert document["attempts"] == 1
        assert "interrupted" in document["error"]
        assert "giving up" in document["error"]
        assert chunk_rows(postgresql, created["id"]) == []
        assert qdrant_point_ids(client, created["id"]) == set()


def get_document(client: TestClient, headers: Headers, document_id: str) -> dict[str, Any]:
    response = client.get(f"/documents/{document_id}", headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _run_until_claimed(client: TestClient, settings: Settings, *, worker: str) -> models.Document:
    """Run an ingestor's run_once until it claims a document (the claim must first go stale)."""
    deadline = time.monotonic() + 30
    while True:
        done = in_app(
            client,
            lambda state: Ingestor(
                state["db"],
                state["vectors"],
                settings,
                lexical=state["ingestor"].lexical,
                worker=worker,
            ).run_once(),
        )
        if done is not None:
            return done
        assert time.monotonic() < deadline, "the stale claim was never taken over"
        time.sleep(0.05)


def test_identical_text_posted_again_is_the_same_document_with_one_set_of_chunks(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    text = "Sourdough needs a starter fed with flour and water every day."
    first = post_text(client, headers, text)
    again = client.post("/documents", json={"text": text}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]

    document = wait_for_document(client, headers, first["id"])
    after = client.post("/documents", json={"text": text}, headers=headers)

    assert after.status_code == 200, after.text
    assert after.headers["location"] == f"/documents/{first['id']}"
    assert after.json()["id"] == first["id"]
    assert after.json()["status"] == "completed"
    assert document["attempts"] == 1
    rows = chunk_rows(postgresql, first["id"])
    assert len(rows) == document["chunk_count"] > 0
    assert qdrant_point_ids(client, first["id"]) == {row[2] for row in rows}
    count = postgresql.execute(
        "SELECT count(*) FROM documents WHERE owner_id = (SELECT owner_id FROM documents"
        " WHERE id = %s)",
        (first["id"],),
    ).fetchone()
    postgresql.commit()
    assert count == (1,)
    listed = client.get("/documents", headers=headers).json()["documents"]
    assert [item["id"] for item in listed] == [first["id"]]


def test_delete_removes_the_document_rows_and_its_qdrant_points(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    keep = post_text(client, headers, "Owls hunt at night using their hearing.")
    doomed = post_text(client, headers, "Crows remember faces for years.")
    assert wait_for_document(client, headers, keep["id"])["status"] == "completed"
    assert wait_for_document(client, headers, doomed["id"])["status"] == "completed"
    assert qdrant_point_ids(client, doomed["id"])
    kept_points = qdrant_point_ids(client, keep["id"])

    response = client.delete(f"/documents/{doomed['id']}", headers=headers)

    assert response.status_code == 204, response.text
    assert client.get(f"/documents/{doomed['id']}", headers=headers).status_code == 404
    assert chunk_rows(postgresql, doomed["id"]) == []
    left = postgresql.execute(
        "SELECT (SELECT count(*) FROM documents WHERE id = %(id)s),"
        " (SELECT count(*) FROM document_sources WHERE document_id = %(id)s)",
        {"id": doomed["id"]},
    ).fetchone()
    postgresql.commit()
    assert left == (0, 0)
    assert qdrant_point_ids(client, doomed["id"]) == set()
    assert qdrant_point_ids(client, keep["id"]) == kept_points
    assert client.delete(f"/documents/{doomed['id']}", headers=headers).status_code == 404


def test_point_ids_are_derived_from_the_document_and_the_chunk_index(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    created = post_text(client, headers, "Comets grow tails as they near the sun.")
    assert wait_for_document(client, headers, created["id"])["status"] == "completed"

    rows = chunk_rows(postgresql, created["id"])

    document_id = uuid.UUID(created["id"])
    assert [row[2] for row in rows] == [point_id(document_id, row[0]) for row in rows]
