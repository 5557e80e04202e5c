"""Retrieval through /chat: private documents stay private, the shared corpus is everyone's,
answers cite their sources by number and the citations are stored (and outlive the cited
document), and an unreachable Qdrant is a 503 while the history keeps working.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import psycopg
from starlette.testclient import TestClient

from generated import citations as citation_queries
from service import store
from service.app import State, create_app
from service.domain import Question
from service.rag.extractive import NOT_FOUND, Passage
from service.usecases.answering import RagAnswerer
from tests.conftest import free_port, sse_events
from tests.rag.conftest import (
    Headers,
    chat,
    chunk_rows,
    in_app,
    post_text,
    qdrant_point_ids,
    rag_settings,
    session_messages,
    wait_for_document,
)
from tests.service.conftest import sign_up

ZEBRA = (
    "The zebra migration festival happens in Quokkaville every April, "
    "with drums, lanterns and striped kites."
)
MARKER = re.compile(r"\[(\d+)\]")


def owner_of(postgresql: psycopg.Connection[Any], document_id: str) -> uuid.UUID:
    row = postgresql.execute("SELECT owner_id FROM documents WHERE id = %s", (document_id,))
    owner = row.fetchone()
    postgresql.commit()
    assert owner is not None
    assert isinstance(owner[0], uuid.UUID)
    return owner[0]


def retrieve(client: TestClient, text: str, user_id: uuid.UUID) -> list[Passage]:
    """Retrieval alone (no score threshold) for a user, over the app's pool and Qdrant."""

    async def work(state: State) -> list[Passage]:
        answerer = RagAnswerer(
            state["db"], state["vectors"], state["settings"], lexical=state["ingestor"].lexical
        )
        return await answerer.retrieve(Question(text=text, user_id=user_id, session_id=None))

    return in_app(client, work)


def ingested(client: TestClient, headers: Headers, text: str, **fields: Any) -> str:
    created = post_text(client, headers, text, **fields)
    document = wait_for_document(client, headers, created["id"])
    assert document["status"] == "completed", document
    document_id: str = created["id"]
    return document_id


def test_private_document_never_appears_in_another_users_sources(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    alice, bob = sign_up(client), sign_up(client)
    zebra_id = ingested(client, alice, ZEBRA)
    bob_id = ingested(client, bob, "Bob keeps notes about repairing bicycles and chains.")

    own = chat(client, alice, ZEBRA)
    other = chat(client, bob, ZEBRA)

    assert zebra_id in {source["document_id"] for source in own["sources"]}
    assert other["answer"] == NOT_FOUND
    assert other["sources"] == []
    # Not even a low-scoring hit: retrieval itself never returns the other user's chunks.
    bob_user = owner_of(postgresql, bob_id)
    passages = retrieve(client, ZEBRA, bob_user)
    assert all(str(passage.document_id) != zebra_id for passage in passages)
    streamed = client.post("/chat", json={"message": ZEBRA, "stream": True}, headers=bob)
    done = dict(sse_events(streamed.text))["done"]
    assert done["answer"] == NOT_FOUND
    assert done["sources"] == []
    assert client.get(f"/documents/{zebra_id}", headers=bob).status_code == 404


def test_shared_corpus_document_is_retrieved_for_every_user(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    alice, bob = sign_up(client), sign_up(client)
    text = "The shared handbook says the office library opens at nine on weekdays."
    content = text.encode()

    created = in_app(
        client,
        lambda state: store.create_document(
            state["db"],
            None,
            checksum=hashlib.sha256(content).digest(),
            title="Shared handbook",
            content=content,
            content_type="text/plain; charset=utf-8",
        ),
    )
    shared_id = str(created.document.id)
    document = wait_for_document(client, alice, shared_id)  # the app's own worker ingests it

    assert document["status"] == "completed"
    assert document["shared"] is True
    [(_, chunk_id, point_id, _)] = chunk_rows(postgresql, shared_id)
    for headers in (alice, bob):
        answer = chat(client, headers, "When does the office library open on weekdays?")
        assert [source["document_id"] for source in answer["sources"]] == [shared_id]
        source = answer["sources"][0]
        assert source["document_title"] == "Shared handbook"
        assert (source["chunk_id"], source["point_id"]) == (str(chunk_id), str(point_id))
        assert "[1]" in answer["answer"]


def test_chat_cites_numbered_sources_and_stores_the_citations(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    alice = sign_up(client)
    otters = ingested(
        client,
        alice,
        "Sea otters hold hands while they sleep so they do not drift apart.",
        title="Otter facts",
    )
    ingested(client, alice, "Penguins huddle together to keep warm in the Antarctic winter.")
    rows = chunk_rows(postgresql, otters)

    answer = chat(client, alice, "Why do sea otters hold hands while they sleep?")

    assert answer["sources"], answer
    markers = {int(number) for number in MARKER.findall(answer["answer"])}
    assert markers == {source["rank"] for source in answer["sources"]}
    assert [source["rank"] for source in answer["sources"]] == list(
        range(1, len(answer["sources"]) + 1)
    )
    first = answer["sources"][0]
    assert first["document_id"] == otters
    assert first["document_title"] == "Otter facts"
    assert (uuid.UUID(first["chunk_id"]), uuid.UUID(first["point_id"])) in {
        (row[1], row[2]) for row in rows
    }
    assert first["snippet"] in rows[0][3]
    assert "Sea otters hold hands while they sleep" in answer["answer"]

    # The history shows the assistant message with its sources.
    messages = session_messages(client, alice, answer["session_id"])
    assistant = next(m for m in messages if m["id"] == answer["assistant_message_id"])
    assert (assistant["status"], assistant["content"]) == ("complete", answer["answer"])
    assert assistant["sources"] == answer["sources"]
    # And the citations are rows of their own.
    cited = postgresql.execute(
        "SELECT rank, document_id, chunk_id, point_id, document_title, snippet"
        " FROM message_citations WHERE message_id = %s ORDER BY rank",
        (answer["assistant_message_id"],),
    ).fetchall()
    postgresql.commit()
    assert [(row[0], str(row[1]), str(row[2]), str(row[3])) for row in cited] == [
        (s["rank"], s["document_id"], s["chunk_id"], s["point_id"]) for s in answer["sources"]
    ]
    assert cited[0][4:] == ("Otter facts", first["snippet"])


def test_citations_stay_readable_after_the_cited_document_is_deleted(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    alice = sign_up(client)
    otters = ingested(
        client,
        alice,
        "Sea otters hold hands while they sleep so they do not drift apart.",
        title="Otter facts",
    )
    answer = chat(client, alice, "Why do sea otters hold hands while they sleep?")
    first = answer["sources"][0]
    assert first["document_id"] == otters

    assert client.delete(f"/documents/{otters}", headers=alice).status_code == 204

    cited = postgresql.execute(
        "SELECT rank, document_id, chunk_id, point_id, document_title, snippet"
        " FROM message_citations WHERE message_id = %s ORDER BY rank",
        (answer["assistant_message_id"],),
    ).fetchall()
    postgresql.commit()
    assert cited == [(1, None, None, uuid.UUID(first["point_id"]), "Otter facts", first["snippet"])]
    user_id = owner_of_message(postgresql, answer["assistant_message_id"])
    listed = in_app(
        client,
        lambda state: store.exec_tx(
            state["db"],
            lambda conn: citation_queries.list_message_citations(
                conn, message_ids=[uuid.UUID(answer["assistant_message_id"])], user_id=user_id
            ),
        ),
    )
    assert [(c.rank, c.document_title, c.snippet, c.source_deleted) for c in listed] == [
        (1, "Otter facts", first["snippet"], True)
    ]
    messages = session_messages(client, alice, answer["session_id"])
    assistant = next(m for m in messages if m["id"] == answer["assistant_message_id"])
    assert assistant["sources"] == answer["sources"]
    # The deleted document is no longer retrieved.
    again = chat(client, alice, "Why do sea otters hold hands while they sleep?")
    assert again["answer"] == NOT_FOUND
    assert again["sources"] == []


def owner_of_message(postgresql: psycopg.Connection[Any], message_id: str) -> uuid.UUID:
    row = postgresql.execute("SELECT user_id FROM chat_messages WHERE id = %s", (message_id,))
    owner = row.fetchone()
    postgresql.commit()
    assert owner is not None
    assert isinstance(owner[0], uuid.UUID)
    return owner[0]


def test_unreachable_qdrant_gives_503_retrieval_unavailable_while_history_works(
    database_url: str,
) -> None:
    settings = rag_settings(
        database_url, {}, qdrant_url=f"http://127.0.0.1:{free_port()}", ingest_worker=False
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        first = client.post("/chat", json={"message": "Where are the otters?"})

        assert first.status_code == 503, first.text
        assert first.headers["retry-after"] == str(settings.retry_after_seconds)
        error = first.json()["error"]
        assert error["code"] == "retrieval_unavailable"
        assert error["details"]["saved"] is True
        # The new anonymous user still gets their credential, so they can continue.
        headers = {"Authorization": f"Bearer {error['details']['token']}"}
        client.cookies.clear()
        session_id = error["details"]["session_id"]

        again = client.post(
            "/chat", json={"message": "Any news?", "session_id": session_id}, headers=headers
        )
        assert again.status_code == 503, again.text
        assert again.json()["error"]["code"] == "retrieval_unavailable"
        streamed = client.post(
            "/chat",
            json={"message": "Still there?", "session_id": session_id, "stream": True},
            headers=headers,
        )
        events = sse_events(streamed.text)
        assert [name for name, _ in events] == ["start", "error"]
        assert events[1][1]["error"]["code"] == "retrieval_unavailable"

        # History endpoints keep working.
        sessions = client.get("/sessions", headers=headers)
        assert sessions.status_code == 200, sessions.text
        assert [s["id"] for s in sessions.json()["sessions"]] == [session_id]
        messages = session_messages(client, headers, session_id)
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "complete"),
            ("assistant", "failed"),
        ] * 3
        assert [m["content"] for m in messages if m["role"] == "user"] == [
            "Where are the otters?",
            "Any news?",
            "Still there?",
        ]
        assert all(
            m["error"] == "the document index could not be searched"
            for m in messages
            if m["role"] == "assistant"
        )
        legacy = client.get(f"/history/{session_id}", headers=headers)
        assert legacy.status_code == 200, legacy.text
        assert client.post("/sessions", json={}, headers=headers).status_code == 201
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["qdrant"] != "ok"


def test_a_stray_point_whose_document_is_gone_is_never_cited_and_never_fails_a_turn(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    alice = sign_up(client)
    gone_id = ingested(client, alice, ZEBRA)
    kept_id = ingested(client, alice, "Zebras in the valley graze at dawn near the river.")
    # The rows go but the points stay, as when deleting them from the engine failed.
    postgresql.execute("DELETE FROM documents WHERE id = %s", (gone_id,))
    postgresql.commit()
    assert qdrant_point_ids(client, gone_id)

    answer = chat(client, alice, ZEBRA)

    assert {source["document_id"] for source in answer["sources"]} <= {kept_id}
    rows = postgresql.execute(
        "SELECT document_id FROM message_citations WHERE message_id = %s",
        (answer["assistant_message_id"],),
    ).fetchall()
    postgresql.commit()
    assert {str(row[0]) for row in rows} <= {kept_id}
