"""kill -9 of PostgreSQL under concurrent chat clients: no acknowledged turn is lost, no
turn stays pending, and a retry of every turn ends with exactly one question and one
complete answer (README, "A retry with the same client_message_id ...")."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest

from service.app import create_app
from tests.faults.conftest import crash
from tests.pgserver import TempServer
from tests.service.conftest import app_settings, serve

CLIENTS = 32  # as in the run (24-32)
CRASH_AFTER = 1.5  # seconds of traffic before the kill
DOWN_FOR = 1.0  # seconds before PostgreSQL starts again
TRAFFIC_FOR = 5.0  # seconds each client keeps asking
LEASE = 1.0  # TURN_LEASE_SECONDS: short, so that abandoned turns are found within the test
RETRIES_WITHIN = 30.0  # seconds for every unacknowledged turn to be answered by retries


@dataclass
class Client:
    headers: dict[str, str]
    acknowledged: dict[str, str] = field(default_factory=dict)  # client id -> answer
    unacknowledged: list[str] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)


@pytest.fixture(scope="module")
def served(own_server: tuple[TempServer, str]) -> Iterator[str]:
    _, url = own_server
    settings = app_settings(
        url,
        db_pool_max_size=10,
        ingest_worker=True,  # the sweep runs in the worker
        turn_lease_seconds=LEASE,
        turn_sweep_seconds=0.5,
    )
    with serve(create_app(settings)) as base_url:
        yield base_url


def sign_up(base_url: str) -> dict[str, str]:
    """A new user (their first turn), authenticated by header from then on."""
    with httpx.Client(base_url=base_url, timeout=10) as http:
        first = http.post("/chat", json={"message": "hello"})
    assert first.status_code == 200, first.text
    return {"Authorization": f"Bearer {first.json()['token']}"}


def ask(http: httpx.Client, client: Client, client_message_id: str) -> int | None:
    body = {"message": f"question {client_message_id}", "client_message_id": client_message_id}
    try:
        response = http.post("/chat", json=body, headers=client.headers)
    except httpx.HTTPError:
        return None
    if response.status_code == 200 and response.json()["saved"]:
        client.acknowledged[client_message_id] = response.json()["answer"]
    return response.status_code


def keep_asking(base_url: str, client: Client, until: float) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        while time.monotonic() < until:
            client_message_id = uuid.uuid4().hex
            status = ask(http, client, client_message_id)
            client.statuses.append(status)
            if client_message_id not in client.acknowledged:
                client.unacknowledged.append(client_message_id)


def retry_until_answered(base_url: str, client: Client, deadline: float) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        for client_message_id in client.unacknowledged:
            while client_message_id not in client.acknowledged:
                status = ask(http, client, client_message_id)
                client.statuses.append(status)
                assert time.monotonic() < deadline, f"{client_message_id}: last status {status}"
                if client_message_id not in client.acknowledged:
                    time.sleep(0.2)  # 409 within the lease, 503 while recovering


def test_after_a_crash_every_turn_ends_once_and_complete_and_none_stays_pending(
    own_server: tuple[TempServer, str], served: str
) -> None:
    server, url = own_server
    clients = [Client(sign_up(served)) for _ in range(CLIENTS)]
    until = time.monotonic() + TRAFFIC_FOR
    threads = [
        threading.Thread(target=keep_asking, args=(served, client, until)) for client in clients
    ]
    for thread in threads:
        thread.start()
    time.sleep(CRASH_AFTER)
    crash(server)
    time.sleep(DOWN_FOR)
    server.start()
    for thread in threads:
        thread.join(timeout=TRAFFIC_FOR + 30)

    deadline = time.monotonic() + RETRIES_WITHIN
    retries = [
        threading.Thread(target=retry_until_answered, args=(served, client, deadline))
        for client in clients
    ]
    for thread in retries:
        thread.start()
    for thread in retries:
        thread.join(timeout=RETRIES_WITHIN + 10)
    time.sleep(LEASE + 1)  # past the lease and a sweep: nothing may stay pending

    statuses = [status for client in clients for status in client.statuses]
    print(  # the figures behind the test, shown with -s
        f"{sum(len(c.acknowledged) for c in clients)} turns, "
        f"{sum(len(c.unacknowledged) for c in clients)} unacknowledged at first, statuses "
        f"{ {status: statuses.count(status) for status in set(statuses)} }"
    )
    assert 500 not in statuses
    assert sum(len(client.unacknowledged) for client in clients) > 0, "the crash hit no turn"
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        [pending] = conn.execute(
            "SELECT count(*) FROM chat_messages WHERE status = 'pending'"
        ).fetchone() or (None,)
        rows = conn.execute(
            """
            SELECT question.client_message_id, question.user_id,
                   count(answer.id) AS answers,
                   count(answer.id) FILTER (WHERE answer.status = 'complete') AS complete,
                   min(answer.content) AS content
            FROM chat_messages AS question
            LEFT JOIN chat_messages AS answer ON answer.reply_to_id = question.id
            WHERE question.role = 'user' AND question.client_message_id IS NOT NULL
            GROUP BY question.client_message_id, question.user_id
            """
        ).fetchall()
    assert pending == 0
    stored: dict[str, list[tuple[object, ...]]] = {}
    for row in rows:
        stored.setdefault(row[0], []).append(row)
    for client in clients:
        # Every turn was acknowledged in the end (the retries), each stored once, complete,
        # with the answer its client was given.
        assert not set(client.unacknowledged) - set(client.acknowledged)
        for client_message_id, answer in client.acknowledged.items():
            matches = stored.get(client_message_id, [])
            assert len(matches) == 1, f"{client_message_id} stored {len(matches)} times"
            _, _, answers, complete, content = matches[0]
            assert (answers, complete) == (1, 1), matches[0]
            assert content == answer
