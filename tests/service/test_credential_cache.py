"""Who a token names is cached per process (issue 14, item 1): an authenticated read runs one
statement, its own, and logout, expiry and user deletion still take effect, in every
process (README, "Credentials").

The cache alone (no database), then the app answering reads without asking who the token
names again, then two service processes: a logout in one is refused by the other.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.settings import Settings
from service.usecases.credential_cache import CredentialCache
from tests.service.conftest import app_settings, sign_up, start_service

REACHES_OTHERS_WITHIN = 5.0  # seconds for a revocation to reach another process (ms, usually)


def credential(
    expires_in: float = 3600.0, user_id: uuid.UUID | None = None
) -> store.UserCredential:
    now = datetime.datetime.now(datetime.UTC)
    return store.UserCredential(
        id=uuid.uuid4(),
        user_id=user_id or uuid.uuid4(),
        token_hash=b"",
        kind="session",
        label=None,
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=expires_in),
        revoked_at=None,
        last_used_at=None,
    )


def listening_cache(ttl_seconds: float = 60.0, max_entries: int = 100) -> CredentialCache:
    cache = CredentialCache(ttl_seconds=ttl_seconds, max_entries=max_entries)
    cache.listening(True)
    return cache


# --- the cache ------------------------------------------------------------------------------


def test_an_answer_is_remembered_while_the_feed_listens() -> None:
    cache = listening_cache()
    found = credential()
    cache.put("token-a", found, generation=cache.generation)
    cached = cache.get("token-a")
    assert cached is not None
    assert (cached.user_id, cached.credential_id) == (found.user_id, found.id)
    assert cache.get("token-b") is None


def test_nothing_is_cached_while_the_feed_is_down_and_its_loss_forgets_everything() -> None:
    cache = CredentialCache(ttl_seconds=60, max_entries=100)
    cache.put("token-a", credential(), generation=cache.generation)
    assert cache.get("token-a") is None  # never listened yet
    cache.listening(True)
    cache.put("token-a", credential(), generation=cache.generation)
    cache.listening(False)  # revocations may be missed from now on
    assert cache.get("token-a") is None
    cache.put("token-a", credential(), generation=cache.generation)
    assert cache.get("token-a") is None


def test_a_ttl_of_zero_caches_nothing() -> None:
    cache = listening_cache(ttl_seconds=0)
    cache.put("token-a", credential(), generation=cache.generation)
    assert cache.get("token-a") is None


def test_an_answer_lasts_no_longer_than_the_ttl_or_its_credential() -> None:
    cache = listening_cache(ttl_seconds=0.2)
    cache.put("short-ttl", credential(), generation=cache.generation)
    cache = listening_cache(ttl_seconds=60)
    cache.put("expiring", credential(expires_in=0.2), generation=cache.generation)
    cache.put("expired", credential(expires_in=-1), generation=cache.generation)
    assert cache.get("expiring") is not None
    assert cache.get("expired") is None
    time.sleep(0.3)
    assert cache.get("expiring") is None


def test_a_revocation_drops_the_credential_and_a_deletion_every_credential_of_the_user() -> None:
    cache = listening_cache()
    user = uuid.uuid4()
    first, second, other = credential(user_id=user), credential(user_id=user), credential()
    for token, found in (("first", first), ("second", second), ("other", other)):
        cache.put(token, found, generation=cache.generation)
    cache.revoked(store.Revoked(credential_id=first.id))
    assert cache.get("first") is None
    assert cache.get("second") is not None
    cache.revoked(store.Revoked(user_id=user))
    assert cache.get("second") is None
    assert cache.get("other") is not None


def test_an_answer_asked_before_a_revocation_is_not_cached_after_it() -> None:
    """The database said "valid", then the revocation arrived, then the answer would be put:
    it might be the revoked credential, so it is not remembered."""
    cache = listening_cache()
    asked_at = cache.generation
    cache.revoked(store.Revoked(credential_id=uuid.uuid4()))
    cache.put("token-a", credential(), generation=asked_at)
    assert cache.get("token-a") is None


def test_the_cache_holds_at_most_its_size_dropping_the_least_recently_used() -> None:
    cache = listening_cache(max_entries=2)
    for token in ("a", "b"):
        cache.put(token, credential(), generation=cache.generation)
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", credential(), generation=cache.generation)
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None


# --- in the app -----------------------------------------------------------------------------


@pytest.fixture
def counted_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens the database was asked about, in order."""
    asked: list[str] = []
    lookup = store.lookup_credential

    async def counting(db: store.Db, token: str) -> store.UserCredential | None:
        asked.append(token)
        return await lookup(db, token)

    monkeypatch.setattr(store, "lookup_credential", counting)
    return asked


def test_authenticated_reads_ask_who_the_token_names_once_and_logout_takes_effect(
    settings: Settings, counted_lookups: list[str]
) -> None:
    with TestClient(create_app(settings)) as client:
        headers = sign_up(client)
        token = headers["Authorization"].removeprefix("Bearer ")
        # The feed connects in the background at startup; once it listens, a read caches.
        deadline = time.monotonic() + 10
        while True:
            assert client.get("/sessions", headers=headers).status_code == 200
            asked = len(counted_lookups)
            assert client.get("/sessions", headers=headers).status_code == 200
            if len(counted_lookups) == asked:
                break
            assert time.monotonic() < deadline, "the credential was never cached"
            time.sleep(0.05)
        for _ in range(5):
            assert client.get("/sessions", headers=headers).status_code == 200
        assert len(counted_lookups) == asked
        assert set(counted_lookups) == {token}

        assert client.post("/auth/logout", headers=headers).status_code == 204
        assert client.get("/sessions", headers=headers).status_code == 401


def test_with_the_cache_off_every_request_asks(
    database_url: str, counted_lookups: list[str]
) -> None:
    settings = app_settings(database_url, credential_cache_seconds=0)
    with TestClient(create_app(settings)) as client:
        headers = sign_up(client)
        token = headers["Authorization"].removeprefix("Bearer ")
        for _ in range(3):
            assert client.get("/sessions", headers=headers).status_code == 200
        assert counted_lookups.count(token) == 3


# --- two service processes ------------------------------------------------------------------


@pytest.fixture
def two_processes(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two ``python -m service serve`` processes over one database: their base URLs."""
    processes: list[subprocess.Popen[str]] = []
    urls = []
    try:
        for name in ("a", "b"):
            process = start_service(
                database_url, tmp_path, QDRANT_URL=":memory:", LOG_LEVEL="warning"
            )
            processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+) .*\n", line)
            assert match, (name, line)
            urls.append(match[1])
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def until_refused(
    http: httpx.Client, headers: dict[str, str], within: float = REACHES_OTHERS_WITHIN
) -> float:
    """Seconds until GET /sessions with these headers answers 401 (at most ``within``)."""
    started = time.monotonic()
    while (status := http.get("/sessions", headers=headers).status_code) != 401:
        assert status == 200
        assert time.monotonic() - started < within, "still accepted"
        time.sleep(0.02)
    return time.monotonic() - started


def cached_in(http: httpx.Client, headers: dict[str, str]) -> None:
    """Reads with this credential until the process has surely cached it (its feed listens
    within a second of starting; reads meanwhile are asked of the database)."""
    for _ in range(3):
        assert http.get("/sessions", headers=headers).status_code == 200
        time.sleep(0.3)


def first_turn(http: httpx.Client) -> tuple[dict[str, str], str]:
    """A new user: their Authorization header and session id."""
    response = http.post("/chat", json={"message": "hello"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}, response.json()["session_id"]


@pytest.fixture
def clients(two_processes: tuple[str, str]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """An HTTP client of each process."""
    with (
        httpx.Client(base_url=two_processes[0], timeout=10) as a,
        httpx.Client(base_url=two_processes[1], timeout=10) as b,
    ):
        yield a, b


def test_a_logout_in_one_process_is_refused_by_the_other_at_once(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = clients
    headers, _ = first_turn(a)
    cached_in(a, headers)
    cached_in(b, headers)

    assert a.post("/auth/logout", headers=headers).status_code == 204
    assert a.get("/sessions", headers=headers).status_code == 401
    took = until_refused(b, headers)
    print(f"\nthe other process refused the revoked token {took * 1000:.0f} ms after logout")


def test_a_deleted_users_credentials_are_refused_by_every_process(
    clients: tuple[httpx.Client, httpx.Client], database_url: str
) -> None:
    a, b = clients
    headers, session_id = first_turn(a)
    cached_in(a, headers)
    cached_in(b, headers)
    asyncio.run(delete_user(database_url, session_id))
    until_refused(a, headers)
    until_refused(b, headers)


def test_an_expired_credential_is_refused_by_every_process_that_cached_it(
    clients: tuple[httpx.Client, httpx.Client], database_url: str
) -> None:
    a, b = clients
    headers, session_id = first_turn(a)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE user_credentials SET expires_at = now() + interval '4 seconds' "
            "WHERE user_id = (SELECT user_id FROM chat_sessions WHERE id = %s)",
            (session_id,),
        )
    cached_in(a, headers)
    cached_in(b, headers)
    for http in (a, b):  # the cached answers do not outlive the credential
        until_refused(http, headers, within=5.0)


async def delete_user(database_url: str, session_id: str) -> None:
    """``store.erase_user`` (what DELETE /me calls) on the owner of the session."""
    conn = await asyncpg.connect(database_url)
    try:
        owner = await conn.fetchval(
            "SELECT user_id FROM chat_sessions WHERE id = $1", uuid.UUID(session_id)
        )
        await store.erase_user(conn, owner, rate_limit_buckets=())
    finally:
        await conn.close()
