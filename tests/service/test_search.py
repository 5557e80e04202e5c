"""GET /search and GET /sessions?q=: full-text search over the caller's own messages.

Messages are written straight into the test's database (the search reads what the database
keeps, whoever wrote it); users and sessions come from the API.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.service.conftest import sign_up

Headers = dict[str, str]


def _json(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _session(client: TestClient, auth: Headers, title: str = "notes") -> str:
    created = _json(client.post("/sessions", json={"title": title}, headers=auth), 201)
    session_id: str = created["id"]
    return session_id


def _write(database_url: str, session_id: str, *contents: str) -> list[str]:
    """Append messages with these contents to the session (user messages, in order); their ids."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            """
            WITH session AS (
                UPDATE chat_sessions
                SET last_seq = last_seq + cardinality(%(contents)s::text[]),
                    last_activity_at = clock_timestamp()
                WHERE id = %(session_id)s
                RETURNING id, user_id, last_seq - cardinality(%(contents)s::text[]) AS seq
            )
            INSERT INTO chat_messages (session_id, user_id, seq, role, content)
            SELECT session.id, session.user_id, session.seq + n, 'user', content
            FROM session, unnest(%(contents)s::text[]) WITH ORDINALITY AS t (content, n)
            ORDER BY n
            RETURNING id
            """,
            {"session_id": session_id, "contents": list(contents)},
        ).fetchall()
    return [str(row[0]) for row in rows]


def _search(client: TestClient, auth: Headers, q: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _json(
        client.get("/search", params={"q": q, **params}, headers=auth), 200
    )["results"]
    return found


def _walk(client: TestClient, auth: Headers, path: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, page after page, following next_cursor until it is None."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(1000):
        query = params | ({} if cursor is None else {"cursor": cursor})
        page = _json(client.get(path, params=query, headers=auth), 200)
        items.extend(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ran out")


def test_a_search_finds_the_callers_messages_by_stem_with_their_session(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    session_id = _session(client, auth, title="Marathon plans")
    [runner, _] = _write(
        database_url, session_id, "She runs every morning before work", "Unrelated notes"
    )

    [result] = _search(client, auth, "running")

    assert result["message_id"] == runner
    assert result["session_id"] == session_id
    assert result["session_title"] == "Marathon plans"
    assert result["role"] == "user"
    assert result["rank"] > 0
    assert result["created_at"]
    assert "<mark>runs</mark>" in result["snippet"]


def test_a_quoted_phrase_matches_only_those_words_next_to_each_other(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    session_id = _session(client, auth)
    [phrase, _apart] = _write(
        database_url,
        session_id,
        "The connection pool was exhausted at noon",
        "A pool of water near the connection box",
    )

    phrased = _search(client, auth, '"connection pool"')
    words = _search(client, auth, "connection pool")

    assert [r["message_id"] for r in phrased] == [phrase]
    assert len(words) == 2


def test_a_minus_word_excludes_the_messages_that_hold_it(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    session_id = _session(client, auth)
    [_postgres, qdrant] = _write(
        database_url,
        session_id,
        "Which database holds vectors? Postgres with pgvector",
        "Which database holds vectors? Qdrant does",
    )

    found = _search(client, auth, "database -postgres")

    assert [r["message_id"] for r in found] == [qdrant]


def test_or_matches_either_word(client: TestClient, database_url: str) -> None:
    auth = sign_up(client)
    session_id = _session(client, auth)
    ids = _write(database_url, session_id, "apples are red", "pears are green", "plums")

    found = _search(client, auth, "apple or pear")

    assert {r["message_id"] for r in found} == set(ids[:2])


def test_only_stopwords_or_only_excluded_words_find_nothing(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    _write(database_url, _session(client, auth), "the cat is on the mat")

    assert _search(client, auth, "the is on") == []
    assert _search(client, auth, "-dog") == []


def test_the_snippet_marks_the_matches_and_escapes_the_message_text(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    text = 'Try <script>alert("x")</script> & see: the retry budget\x02 is two seconds'
    _write(database_url, _session(client, auth), text)

    [result] = _search(client, auth, "budget")

    snippet = result["snippet"]
    assert "<mark>budget</mark>" in snippet
    assert "<script>" not in snippet
    assert "\x02" not in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_a_long_message_gets_a_short_snippet_around_the_match(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    filler = " ".join(f"word{n}" for n in range(400))
    _write(database_url, _session(client, auth), f"{filler} the needle is here {filler}")

    [result] = _search(client, auth, "needle")

    assert "<mark>needle</mark>" in result["snippet"]
    assert len(result["snippet"]) < 400


def test_pages_of_results_hold_every_match_once_best_first(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    session_id = _session(client, auth)
    # Ranks vary with how often the word occurs, and many messages tie on each rank.
    contents = [" ".join(["cursor"] * (n % 5 + 1) + [f"filler{n}"] * 10) for n in range(123)]
    ids = _write(database_url, session_id, *contents)
    _write(database_url, session_id, *(f"other text {n}" for n in range(20)))

    found = _walk(client, auth, "/search", "results", q="cursor", limit=7)

    assert sorted(r["message_id"] for r in found) == sorted(ids)
    ranks = [r["rank"] for r in found]
    assert ranks == sorted(ranks, reverse=True)
    assert len(set(ranks)) == 5


def test_a_session_id_limits_the_search_to_that_session(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    first, second = _session(client, auth), _session(client, auth)
    [in_first] = _write(database_url, first, "deploy on friday")
    _write(database_url, second, "deploy on monday")

    found = _search(client, auth, "deploy", session_id=first)

    assert [r["message_id"] for r in found] == [in_first]
    missing = client.get(
        "/search", params={"q": "deploy", "session_id": str(uuid.uuid4())}, headers=auth
    )
    assert _json(missing, 404)["error"]["code"] == "not_found"


def test_another_users_matching_messages_are_never_found(
    client: TestClient, database_url: str
) -> None:
    alice, bob = sign_up(client), sign_up(client)
    alices = _session(client, alice)
    bobs = _session(client, bob, title="bob's secret plans")
    [mine] = _write(database_url, alices, "the zeppelin launch is public")
    _write(database_url, bobs, "the zeppelin launch code is 4711", "zeppelin secrets")

    found = _search(client, alice, "zeppelin")
    sessions = _json(client.get("/sessions", params={"q": "zeppelin"}, headers=alice), 200)
    bobs_session = client.get(
        "/search", params={"q": "zeppelin", "session_id": bobs}, headers=alice
    )

    assert [r["message_id"] for r in found] == [mine]
    assert [s["id"] for s in sessions["sessions"]] == [alices]
    assert _json(bobs_session, 404)["error"]["code"] == "not_found"
    for response_text in (str(found), str(sessions), bobs_session.text):
        assert "4711" not in response_text
        assert "secret" not in response_text
    assert len(_search(client, bob, "zeppelin")) == 2


def test_sessions_with_q_are_those_with_a_match_by_last_activity_in_pages(
    client: TestClient, database_url: str
) -> None:
    auth = sign_up(client)
    sessions = [_session(client, auth, title=f"session {n}") for n in range(5)]
    for n, session_id in enumerate(sessions):  # written in order: the last is the most recent
        word = "invoice" if n % 2 == 0 else "holiday"
        _write(database_url, session_id, f"a note about the {word} number {n}")

    matching = _walk(client, auth, "/sessions", "sessions", q="invoices", limit=1)
    everything = _json(client.get("/sessions", params={"limit": 100}, headers=auth), 200)

    assert [s["id"] for s in matching] == [sessions[4], sessions[2], sessions[0]]
    assert len(everything["sessions"]) == 6  # the five and the one sign_up's chat started


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/search", {}, "q"),
        ("/search", {"q": ""}, "q"),
        ("/search", {"q": "   "}, "q"),
        ("/search", {"q": "x" * 501}, "q"),
        ("/search", {"q": "ok", "cursor": "nonsense"}, "cursor"),
        ("/search", {"q": "ok", "session_id": "not-a-uuid"}, "session_id"),
        ("/search", {"q": "ok", "limit": "0"}, "limit"),
        ("/search", {"q": "ok", "page": "2"}, "page"),
        ("/sessions", {"q": ""}, "q"),
        ("/sessions", {"q": " \t"}, "q"),
        ("/sessions", {"q": "x" * 501}, "q"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bad_query_is_a_422_naming_the_field(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    auth = sign_up(client)

    error = _json(client.get(path, params=params, headers=auth), 422)["error"]

    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field
    assert f"`{field}`" in error["message"]


def test_the_longest_query_is_accepted(client: TestClient) -> None:
    auth = sign_up(client)

    assert _search(client, auth, " ".join(["word"] * 100)) == []
    assert _search(client, auth, "x" * 500) == []


def test_odd_queries_are_searched_not_refused(client: TestClient, database_url: str) -> None:
    auth = sign_up(client)
    _write(database_url, _session(client, auth), "plain text")

    for q in ['"', "-", "or", "!!", "a & b | c", "(", "'", ":*", "\\", "\u00e9t\u00e9 \U0001f600"]:
        response = client.get("/search", params={"q": q}, headers=auth)
        assert _json(response, 200)["next_cursor"] is None, q


@pytest.mark.parametrize(
    "rank",
    ["7ff0000000000001", "bff0000000000000", "4800000000000000", "c800000000000000", "0" * 16],
    ids=["nan", "negative", "beyond-a-real", "beyond-a-real-negative", "zero"],
)
def test_any_cursor_of_the_shape_is_a_position(
    client: TestClient, database_url: str, rank: str
) -> None:
    auth = sign_up(client)
    _write(database_url, _session(client, auth), "cursor shapes")

    response = client.get(
        "/search", params={"q": "cursor", "cursor": f"{rank}.{'f' * 32}"}, headers=auth
    )

    assert _json(response, 200)["next_cursor"] is None


def test_search_needs_a_credential(client: TestClient) -> None:
    response = client.get("/search", params={"q": "anything"})

    assert _json(response, 401)["error"]["code"] == "unauthorized"
