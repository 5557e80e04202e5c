"""The hot queries read their indexes in order: no Sort node, no Seq Scan on the big tables.

One heavy user owns 500 sessions holding 50,000 messages, beside 50 users with 10 sessions
each, and 5,000 documents (half the heavy user's, half shared); after ANALYZE,
``EXPLAIN (FORMAT JSON)`` of the generated SQL constants with realistic parameter values
(bound like the generated code binds them) is walked as a tree.

``make vet`` (sqlc.yaml's rules) proves that an index can serve every hot query, on a nearly
empty database; this module proves what it cannot: which index the planner picks once the
tables are large, and the plans of the queries that vet can only plan with a NULL parameter
(sqlc has no sample value for bytea), listed in sqlc.yaml's hot-query-plans-no-scan rule.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from generated import documents, feedback, messages, search, sessions
from generated.db import init_connection
from tests.conftest import Cluster

pytestmark = pytest.mark.anyio

HEAVY_USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
LOAD = """
INSERT INTO users (id) SELECT gen_random_uuid() FROM generate_series(1, 50);
INSERT INTO users (id) VALUES ('{heavy}');
INSERT INTO chat_sessions (user_id, title, last_activity_at)
SELECT users.id, 'light ' || n, now() - n * interval '1 hour'
FROM users, generate_series(1, 10) AS n
WHERE users.id <> '{heavy}';
INSERT INTO chat_sessions (user_id, title, last_activity_at, last_seq)
SELECT '{heavy}', 'heavy ' || n, now() - n * interval '1 minute', 100
FROM generate_series(1, 500) AS n;
INSERT INTO chat_messages (session_id, user_id, seq, role, content)
SELECT chat_sessions.id, chat_sessions.user_id, n,
       CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END, repeat('message text ', 20)
FROM generate_series(1, 100) AS n, chat_sessions
WHERE chat_sessions.user_id = '{heavy}';
INSERT INTO documents (owner_id, title, checksum)
SELECT CASE WHEN n % 2 = 1 THEN '{heavy}'::uuid END, 'document ' || n, sha256(n::text::bytea)
FROM generate_series(1, 5000) AS n;
ANALYZE;
"""
# Words to search for: one in 50 of the heavy user's messages mentions an overdue invoice, and
# so does a message in each other user's session (postings a search must never read).
SEARCHABLE = """
UPDATE chat_messages SET content = content || ' the invoice is overdue' WHERE seq % 50 = 0;
INSERT INTO chat_messages (session_id, user_id, seq, role, content)
SELECT id, user_id, 1, 'user', 'my invoice is overdue again' FROM chat_sessions
WHERE user_id <> '{heavy}';
ANALYZE chat_messages, chat_message_search;
"""
# The heavy user rated one answer in two (12,500 ratings), each citing three passages.
RATED = """
INSERT INTO message_feedback (user_id, message_id, rating)
SELECT user_id, id, CASE WHEN seq % 8 = 0 THEN 'up' ELSE 'down' END FROM chat_messages
WHERE user_id = '{heavy}' AND role = 'assistant' AND seq % 4 = 0;
INSERT INTO message_citations (message_id, user_id, rank, score, snippet)
SELECT message_id, user_id, rank, 1.0 / rank, 'a cited passage'
FROM message_feedback, generate_series(1, 3) AS rank;
ANALYZE message_feedback, message_citations;
"""
PAGE = 20  # the store asks for one row more than a page, to know whether another follows

Plan = list[dict[str, Any]]


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, depth first."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


async def explain(conn: asyncpg.Connection[Any], sql: str, *args: object) -> Plan:
    document = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    return list(plan_nodes(document[0]["Plan"]))


@pytest.fixture(scope="module")
async def plans(pg_cluster: Cluster) -> dict[str, Plan]:
    """Plans of ListLastMessages and ListSessions for the heavy user, first and later pages,
    and of GetDocumentByChecksum.

    The tests only read the plans: the module loads one database of its own once.
    """
    with pg_cluster.clone() as database_url:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(database_url)
        try:
            await init_connection(conn)
            await conn.execute(LOAD.format(heavy=HEAVY_USER))
            assert await conn.fetchval("SELECT count(*) FROM chat_messages") == 50_000
            await conn.execute(SEARCHABLE.format(heavy=HEAVY_USER))
            await conn.execute(RATED.format(heavy=HEAVY_USER))
            rated_after = await conn.fetchval(
                "SELECT message_id FROM message_feedback WHERE user_id = $1"
                " ORDER BY message_id OFFSET 5000 LIMIT 1",
                HEAVY_USER,
            )
            session_id = await conn.fetchval(
                "SELECT id FROM chat_sessions WHERE user_id = $1"
                " ORDER BY last_activity_at DESC, id DESC OFFSET 250 LIMIT 1",
                HEAVY_USER,
            )
            after = await conn.fetchrow(
                "SELECT last_activity_at, id FROM chat_sessions WHERE user_id = $1"
                " ORDER BY last_activity_at DESC, id DESC OFFSET $2 LIMIT 1",
                HEAVY_USER,
                PAGE - 1,
            )
            assert session_id is not None
            assert after is not None
            last_messages = messages.LIST_LAST_MESSAGES
            list_sessions = sessions.LIST_SESSIONS
            return {
                "last messages": await explain(
                    conn, last_messages, session_id, HEAVY_USER, None, False, PAGE + 1
                ),
                "older messages": await explain(
                    conn, last_messages, session_id, HEAVY_USER, 81, False, PAGE + 1
                ),
                # ?answers=all: superseded (regenerated) answers too.
                "all answers": await explain(
                    conn, last_messages, session_id, HEAVY_USER, None, True, PAGE + 1
                ),
                "first sessions": await explain(conn, list_sessions, HEAVY_USER, None, None, 21),
                # GET /search (config, user, query, session, after rank and id, limit).
                "search": await explain(
                    conn,
                    search.SEARCH_MESSAGES,
                    "english",
                    HEAVY_USER,
                    "overdue invoices",
                    None,
                    None,
                    None,
                    PAGE + 1,
                ),
                "search next page": await explain(
                    conn,
                    search.SEARCH_MESSAGES,
                    "english",
                    HEAVY_USER,
                    "overdue invoices",
                    None,
                    0.1,
                    HEAVY_USER,
                    PAGE + 1,
                ),
                "search in a session": await explain(
                    conn,
                    search.SEARCH_MESSAGES,
                    "english",
                    HEAVY_USER,
                    "overdue invoices",
                    session_id,
                    None,
                    None,
                    PAGE + 1,
                ),
                # GET /sessions?q= (user, after activity and id, config, query, limit).
                "sessions matching": await explain(
                    conn,
                    search.LIST_SESSIONS_MATCHING,
                    HEAVY_USER,
                    None,
                    None,
                    "english",
                    "overdue invoices",
                    21,
                ),
                "next sessions": await explain(
                    conn, list_sessions, HEAVY_USER, after["last_activity_at"], after["id"], 21
                ),
                # GET /feedback/export, first and a later page (user, after id, limit).
                "rated answers": await explain(
                    conn, feedback.LIST_RATED_ANSWERS, HEAVY_USER, None, PAGE + 1
                ),
                "more rated answers": await explain(
                    conn, feedback.LIST_RATED_ANSWERS, HEAVY_USER, rated_after, PAGE + 1
                ),
                # Document 43 is the heavy user's: sha256 of its number, as loaded.
                "document by checksum": await explain(
                    conn,
                    documents.GET_DOCUMENT_BY_CHECKSUM,
                    hashlib.sha256(b"43").digest(),
                    HEAVY_USER,
                ),
            }
        finally:
            await conn.close()


def assert_ordered_index_scan(plan: Plan, table: str, index: str) -> None:
    kinds = [node["Node Type"] for node in plan]
    assert not {"Sort", "Incremental Sort", "Seq Scan"} & set(kinds), kinds
    scans = [n for n in plan if n.get("Relation Name") == table]
    assert [(n["Node Type"], n["Index Name"]) for n in scans] == [("Index Scan", index)], kinds


async def test_last_messages_of_a_session_read_the_session_seq_index_backwards(
    plans: dict[str, Plan],
) -> None:
    for name in ("last messages", "older messages", "all answers"):
        assert_ordered_index_scan(plans[name], "chat_messages", "chat_messages_session_id_seq_key")
        # The statement also touches chat_sessions (last_accessed_at): pick the message scan.
        scan = next(n for n in plans[name] if n.get("Relation Name") == "chat_messages")
        assert scan["Scan Direction"] == "Backward", name


async def test_sessions_by_last_activity_read_the_user_activity_index(
    plans: dict[str, Plan],
) -> None:
    for name in ("first sessions", "next sessions"):
        assert_ordered_index_scan(
            plans[name], "chat_sessions", "chat_sessions_user_id_last_activity_at_idx"
        )


async def test_a_document_is_found_by_checksum_through_the_unique_key(
    plans: dict[str, Plan],
) -> None:
    plan = plans["document by checksum"]
    kinds = [node["Node Type"] for node in plan]
    assert "Seq Scan" not in kinds, kinds
    scans = [n for n in plan if n.get("Relation Name") == "documents"]
    assert [n.get("Index Name") for n in scans] == ["documents_checksum_owner_id_key"], kinds


async def test_a_search_reads_only_the_callers_postings_in_the_search_index(
    plans: dict[str, Plan],
) -> None:
    """The GIN index over chat_message_search's (user_id, search_vector) answers both
    conditions at once: a search never reads other users' postings, nor scans the caller's
    messages or their vectors. (chat_sessions, 5,500 rows here, may be read whole for
    GET /sessions?q=: the planner's choice at this size; make vet proves that an index can
    serve it.)"""
    for name in ("search", "search next page", "search in a session", "sessions matching"):
        plan = plans[name]
        scans = [(n["Node Type"], n.get("Relation Name")) for n in plan]
        assert ("Seq Scan", "chat_messages") not in scans, (name, scans)
        assert ("Seq Scan", "chat_message_search") not in scans, (name, scans)
        index = "chat_message_search_user_id_search_vector_idx"
        [index_scan] = [n for n in plan if n.get("Index Name") == index]
        assert index_scan["Node Type"] == "Bitmap Index Scan", name
        condition = index_scan["Index Cond"]
        assert "user_id" in condition, (name, condition)
        assert "search_vector @@" in condition, (name, condition)


async def test_the_feedback_export_reads_the_callers_ratings_in_key_order(
    plans: dict[str, Plan],
) -> None:
    """A page of the export is a range of the rating key (user, message id), in its order; each
    answer, question and citation is found by its key. (The one Sort orders an answer's few
    citations by rank; document_chunks, empty here, may be read whole: make vet proves that
    its key can serve the join.)"""
    for name in ("rated answers", "more rated answers"):
        plan = plans[name]
        citations = [n for n in plan if n.get("Parent Relationship") == "SubPlan"]
        in_subplan = {id(n) for root in citations for n in plan_nodes(root)}
        outer = [n for n in plan if id(n) not in in_subplan]
        kinds = [node["Node Type"] for node in outer]
        assert not {"Sort", "Incremental Sort", "Seq Scan"} & set(kinds), (name, kinds)
        scans = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in plan]
        for table in ("message_feedback", "chat_messages", "message_citations"):
            assert ("Seq Scan", table, None) not in scans, (name, scans)
        assert ("Index Scan", "message_feedback", "message_feedback_pkey") in scans, scans
        assert ("Index Scan", "chat_messages", "chat_messages_pkey") in scans, scans
        assert "message_citations_pkey" in {index for _, _, index in scans}, scans
