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

from generated import documents, messages, sessions
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
                    conn, last_messages, session_id, HEAVY_USER, None, PAGE + 1
                ),
                "older messages": await explain(
                    conn, last_messages, session_id, HEAVY_USER, 81, PAGE + 1
                ),
                "first sessions": await explain(conn, list_sessions, HEAVY_USER, None, None, 21),
                "next sessions": await explain(
                    conn, list_sessions, HEAVY_USER, after["last_activity_at"], after["id"], 21
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
    for name in ("last messages", "older messages"):
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
