"""Exports: GET /me/export streams everything the caller owns as one JSON document, page by
page (a 10,000-message history exported with a bounded peak of memory), and
GET /sessions/{id}/export gives one session as JSON or a Markdown transcript; another user's
session is a 404."""

from __future__ import annotations

import json
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import serve, sign_up, user_id_of


def ingested(client: TestClient, headers: dict[str, str], text: str, title: str) -> str:
    """A document of the user's, once ingestion has completed: its id."""
    created = client.post("/documents", json={"text": text, "title": title}, headers=headers)
    assert created.status_code == 202, created.text
    document_id: str = created.json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/documents/{document_id}", headers=headers).json()["status"] != "completed":
        assert time.monotonic() < deadline, "ingestion did not complete"
        time.sleep(0.05)
    return document_id


def fill_history(
    postgresql: psycopg.Connection[Any], user_id: uuid.UUID, *, sessions: int, per_session: int
) -> None:
    """``sessions`` sessions of ``per_session`` messages each (alternating user/assistant,
    each assistant message citing one passage), written in bulk by SQL."""
    postgresql.execute(
        """
        WITH made AS (
            INSERT INTO chat_sessions (user_id, title, last_seq)
            SELECT %(user)s, 'bulk session ' || n, %(per)s FROM generate_series(1, %(sessions)s) AS n
            RETURNING id
        ), messages AS (
            INSERT INTO chat_messages (session_id, user_id, seq, role, content)
            SELECT made.id, %(user)s, seq,
                   CASE WHEN seq %% 2 = 1 THEN 'user' ELSE 'assistant' END,
                   'bulk message ' || seq || ' ' || repeat('lorem ipsum ', 20)
            FROM made CROSS JOIN generate_series(1, %(per)s) AS seq
            RETURNING id, role
        )
        INSERT INTO message_citations (message_id, user_id, rank, snippet, document_title)
        SELECT id, %(user)s, 1, 'a cited passage', 'bulk source' FROM messages
        WHERE role = 'assistant'
        """,
        {"user": user_id, "per": per_session, "sessions": sessions},
    )
    postgresql.commit()


def test_a_user_with_10000_messages_is_exported_whole_with_bounded_memory(
    settings: Settings, postgresql: psycopg.Connection[Any], tmp_path: Path
) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        headers = sign_up(client)  # one chat turn: two messages
        session_id = client.get("/sessions", headers=headers).json()["sessions"][0]["id"]
        user_id = user_id_of(postgresql, session_id)
        ingested(client, headers, "# Notes\n\nKeyset pagination pages by position.", "notes")
        # 150 sessions (two pages of sessions) and one of 2,198 messages (five pages of them).
        fill_history(postgresql, user_id, sessions=150, per_session=52)
        fill_history(postgresql, user_id, sessions=1, per_session=2198)
        other = sign_up(client)
        client.post("/chat", json={"message": "someone else's secret zebra-quokka"}, headers=other)

    exported = tmp_path / "export.json"
    with serve(create_app(settings)) as url:
        # Once untraced: what any first request costs (connections, prepared statements,
        # lazy imports) is not the export's.
        with httpx.stream("GET", f"{url}/me/export", headers=headers, timeout=120) as warm_up:
            for _ in warm_up.iter_raw():
                pass
        tracemalloc.start()
        tracemalloc.reset_peak()
        with (
            httpx.stream("GET", f"{url}/me/export", headers=headers, timeout=120) as response,
            exported.open("wb") as file,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            chunks = 0
            for chunk in response.iter_raw():
                file.write(chunk)
                chunks += 1
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    size = exported.stat().st_size
    body = json.loads(exported.read_bytes())
    print(f"\nexport: {size} bytes in {chunks} chunks; peak traced memory {peak} bytes")
    assert body["format"] == "chathistory-export/1"
    assert body["user"]["id"] == str(user_id)
    sessions = body["sessions"]
    assert len(sessions) == 1 + 150 + 1
    assert [s["id"] for s in sessions] == sorted(s["id"] for s in sessions)  # creation order
    messages = [m for s in sessions for m in s["messages"]]
    assert len(messages) == 2 + 150 * 52 + 2198 == 10_000
    for session in sessions:
        assert [m["seq"] for m in session["messages"]] == list(
            range(1, len(session["messages"]) + 1)
        )
        assert all(m["session_id"] == session["id"] for m in session["messages"])
    bulk = [m for m in messages if m["content"].startswith("bulk")]
    assert all(
        [c["snippet"] for c in m["citations"]]
        == (["a cited passage"] if m["role"] == "assistant" else [])
        for m in bulk
    )
    assert [d["title"] for d in body["documents"]] == ["notes"]
    assert "zebra-quokka" not in exported.read_text()
    # The whole document never was in memory: its bytes alone would be ``size``, the rows and
    # objects behind them several times that. Pages of 200 messages are read, encoded and
    # sent before the next is read (measured: about 2 MB for a 7.5 MB export).
    assert peak < size / 2, (peak, size)


def test_a_session_exports_as_json_and_as_a_markdown_transcript_with_its_sources(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    ingested(
        client,
        headers,
        "# Keyset pagination\n\nKeyset pagination remembers the last row's position and asks "
        "for the rows after it, so deep pages stay fast.",
        "Paging guide",
    )
    asked = client.post(
        "/chat", json={"message": "How does keyset pagination work?"}, headers=headers
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["sources"], "the answer cites the guide"
    session_id = asked.json()["session_id"]
    client.patch(f"/sessions/{session_id}", json={"title": "Paging"}, headers=headers)

    as_json = client.get(f"/sessions/{session_id}/export", headers=headers)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-disposition"] == (
        f'attachment; filename="session-{session_id}.json"'
    )
    exported = as_json.json()
    assert exported["session"]["id"] == session_id
    assert exported["session"]["title"] == "Paging"
    question, answer = exported["session"]["messages"]
    assert (question["role"], question["content"]) == ("user", "How does keyset pagination work?")
    assert answer["role"] == "assistant"
    assert answer["citations"][0]["document_title"] == "Paging guide"

    as_md = client.get(f"/sessions/{session_id}/export?format=md", headers=headers)
    assert as_md.status_code == 200, as_md.text
    assert as_md.headers["content-type"] == "text/markdown; charset=utf-8"
    text = as_md.text
    assert text.startswith("# Paging\n")
    assert "\n## User, " in text
    assert "How does keyset pagination work?" in text
    assert "\n## Assistant, " in text
    assert answer["content"].strip() in text
    assert "Sources:\n\n1. Paging guide" in text
    assert " UTC\n" in text  # each message with its time


def test_another_users_session_is_not_found_and_a_bad_format_is_refused(
    client: TestClient,
) -> None:
    alice, bob = sign_up(client), sign_up(client)
    bobs = client.get("/sessions", headers=bob).json()["sessions"][0]["id"]

    for path in (f"/sessions/{bobs}/export", f"/sessions/{bobs}/export?format=md"):
        response = client.get(path, headers=alice)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert "hello" not in response.text
    refused = client.get(f"/sessions/{bobs}/export?format=pdf", headers=bob)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "format"
    for path in ("/me/export", f"/sessions/{bobs}/export"):
        assert client.get(path).status_code == 401
    mine = client.get("/me/export", headers=alice).json()
    assert [s["id"] for s in mine["sessions"]] != [bobs]
    assert all(s["id"] != bobs for s in mine["sessions"])
