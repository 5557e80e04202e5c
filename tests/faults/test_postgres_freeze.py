"""PostgreSQL frozen (SIGSTOP of the postmaster and every backend) under chat and history
traffic (issue 12, item 3): each request's database work has one budget
(DB_REQUEST_BUDGET, ``store.deadline``), so while nothing answers, history reads get a 503
with Retry-After once the budget is spent, and chat turns are answered unsaved; once the
server continues, requests succeed again at once, and no turn caught by the freeze stays
pending.

The bounds asserted are twice the issue's targets (history p99 2.5 s, recovery 1 s): this
shared 2-core machine is noisy, and the figures themselves are printed (``pytest -s``).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from service.app import create_app
from tests.faults.conftest import frozen, signed_up
from tests.pgserver import TempServer
from tests.service.conftest import app_settings, serve

CLIENTS = 16
BUDGET = 2.0  # DB_REQUEST_BUDGET, the default
BEFORE = 1.0  # seconds of traffic before the freeze
FROZEN_FOR = 20.0  # seconds, as in the run
AFTER = 3.0  # seconds of traffic after the server continues
LEASE = 1.0  # TURN_LEASE_SECONDS: short, so that a turn cut by the freeze is swept in the test
HISTORY_WITHIN = 2 * 2.5  # seconds: twice the target p99 of a history read while frozen
CHAT_WITHIN = 2 * 2.5  # seconds, plus the (offline, fast) answer: the same for /chat
RECOVERED_WITHIN = 2 * 1.0  # seconds after SIGCONT from which every request succeeds
CLIENT_TIMEOUT = 30.0  # seconds: a hanging request fails the test, not the run


@dataclass(frozen=True)
class Reply:
    what: str  # "chat" or "history"
    started: float  # time.monotonic()
    took: float  # seconds
    status: int | None  # None: no response
    saved: bool | None  # a chat turn's `saved`
    retry_after: str | None


@pytest.fixture(scope="module")
def served(own_server: tuple[TempServer, str]) -> Iterator[str]:
    _, url = own_server
    settings = app_settings(
        url,
        db_pool_max_size=10,
        db_request_budget=BUDGET,
        ingest_worker=True,  # the turn sweep runs in the worker
        turn_lease_seconds=LEASE,
        turn_sweep_seconds=0.5,
    )
    with serve(create_app(settings)) as base_url:
        yield base_url


def keep_asking(
    base_url: str, auth: dict[str, str], session_id: str, stop: threading.Event, out: list[Reply]
) -> None:
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT, headers=auth) as http:
        while not stop.is_set():
            body = {
                "message": "and what do beavers eat?",
                "session_id": session_id,
                "client_message_id": uuid.uuid4().hex,
            }
            out.append(send(http, "chat", http.build_request("POST", "/chat", json=body)))
            history = http.build_request("GET", f"/sessions/{session_id}/messages")
            out.append(send(http, "history", history))


def send(http: httpx.Client, what: str, request: httpx.Request) -> Reply:
    started = time.monotonic()
    try:
        response = http.send(request)
    except httpx.HTTPError:
        return Reply(what, started, time.monotonic() - started, None, None, None)
    took = time.monotonic() - started
    saved = response.json().get("saved") if what == "chat" and response.is_success else None
    retry_after = response.headers.get("retry-after")
    return Reply(what, started, took, response.status_code, saved, retry_after)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else max(values)


def test_while_postgres_is_frozen_requests_end_within_the_budget_and_recover_at_once(
    own_server: tuple[TempServer, str], served: str
) -> None:
    server, url = own_server
    users = [signed_up(served) for _ in range(CLIENTS)]
    replies: list[Reply] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=keep_asking, args=(served, auth, session_id, stop, replies))
        for auth, session_id in users
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(BEFORE)
        with frozen(server):
            frozen_at = time.monotonic()
            time.sleep(FROZEN_FOR)
        thawed_at = time.monotonic()
        time.sleep(AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 5)

    # Requests begun and ended while nothing answered.
    during = [r for r in replies if r.started > frozen_at and r.started + r.took < thawed_at]
    history = [r for r in during if r.what == "history"]
    chats = [r for r in during if r.what == "chat"]
    late = [r for r in replies if r.started > thawed_at]
    failed_late = [r.started - thawed_at for r in late if r.status != 200 or r.saved is False]
    print(  # the figures behind the test, shown with -s
        f"\nfrozen {FROZEN_FOR:g} s: {len(history)} history reads, p99 "
        f"{p99([r.took for r in history]):.2f} s, max {max(r.took for r in history):.2f} s; "
        f"{len(chats)} chat turns, p99 {p99([r.took for r in chats]):.2f} s; "
        f"last failure {max(failed_late, default=0.0):.2f} s after SIGCONT; "
        f"statuses { {s: [r.status for r in replies].count(s) for s in {r.status for r in replies}} }"
    )
    assert all(r.status in (200, 503) for r in replies), [
        r for r in replies if r.status not in (200, 503)
    ][:5]
    assert history, "no history read ran during the freeze"
    assert chats, "no chat turn ran during the freeze"
    assert all(r.status == 503 and r.retry_after for r in history), history[:5]
    assert max(r.took for r in history) < HISTORY_WITHIN
    # A turn asked while the credential cannot be checked is answered, and says unsaved.
    assert all(r.status == 200 and r.saved is False for r in chats), chats[:5]
    assert max(r.took for r in chats) < CHAT_WITHIN
    assert any(r.started > thawed_at + RECOVERED_WITHIN for r in late)
    assert max(failed_late, default=0.0) < RECOVERED_WITHIN

    # A turn the freeze caught between its question and its answer is not left pending:
    # past its lease the worker's sweep fails it, retryably.
    time.sleep(LEASE + 1)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM chat_messages WHERE status = 'pending'")
        assert row.fetchone() == (0,)
