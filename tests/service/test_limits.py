"""Abuse limits: new anonymous users per client address, chat turns and uploads per user.

Counted in PostgreSQL in fixed windows, so two app instances over one database share them;
exceeding one answers 429 with Retry-After and the limit in the error's details.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import app_settings, serve, sign_up

BURST = 100


def wait_for_a_fresh_window(seconds: int, *, at_least: float = 10.0) -> None:
    """Fixed windows are aligned to the epoch: start a test's requests with at least
    ``at_least`` seconds of the current window left, so they all fall into one window."""
    left = seconds - time.time() % seconds
    if left < at_least:
        time.sleep(left + 0.1)


def assert_rate_limited(response: Any, *, limit: int, window_seconds: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window_seconds
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"] == {"limit": limit, "window_seconds": window_seconds}
    assert str(limit) in error["message"]
    assert f"retry in {retry_after} seconds" in error["message"]


def count_users(postgresql: psycopg.Connection[Any]) -> int:
    row = postgresql.execute("SELECT count(*) FROM users").fetchone()
    postgresql.commit()
    assert row is not None
    return int(row[0])


async def first_turns(urls: list[str], count: int) -> list[httpx.Response]:
    """``count`` first chat turns without credentials, all at once, spread over ``urls``."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None)) as http:
        return await asyncio.gather(
            *(
                http.post(f"{urls[n % len(urls)]}/chat", json={"message": f"question {n}"})
                for n in range(count)
            )
        )


@pytest.fixture
def limited(database_url: str) -> Iterator[tuple[TestClient, Settings]]:
    """An app whose per-user limits are small: 3 turns a minute, 2 uploads and 100 bytes a day."""
    settings = app_settings(
        database_url,
        chat_turns_per_user_per_minute=3,
        uploads_per_user_per_day=2,
        upload_bytes_per_user_per_day=100,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, settings


# --- new anonymous users per client address ------------------------------------------------


def test_a_burst_of_anonymous_first_turns_from_one_address_admits_exactly_the_limit(
    database_url: str, postgresql: psycopg.Connection[Any]
) -> None:
    settings = app_settings(database_url, anon_users_per_address_per_hour=7)
    wait_for_a_fresh_window(3600)
    with serve(create_app(settings)) as url:
        responses = asyncio.run(first_turns([url], BURST))

    admitted = [response for response in responses if response.status_code == 200]
    refused = [response for response in responses if response.status_code != 200]
    assert len(admitted) == 7
    assert all(response.json()["token"] for response in admitted)
    for response in refused:
        assert_rate_limited(response, limit=7, window_seconds=3600)
    assert count_users(postgresql) == 7  # a refused request created nobody


def test_two_app_instances_over_one_database_share_the_limit(
    database_url: str, postgresql: psycopg.Connection[Any]
) -> None:
    settings = app_settings(database_url, anon_users_per_address_per_hour=5)
    wait_for_a_fresh_window(3600)
    with serve(create_app(settings)) as first, serve(create_app(settings)) as second:
        responses = asyncio.run(first_turns([first, second], 40))

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 35
    # Each instance alone would have admitted 5: both refused, counting in the database.
    assert 429 in statuses[0::2]
    assert 429 in statuses[1::2]
    assert count_users(postgresql) == 5


def test_clients_with_a_credential_are_not_counted_as_new_anonymous_users(
    database_url: str,
) -> None:
    settings = app_settings(database_url, anon_users_per_address_per_hour=1)
    wait_for_a_fresh_window(3600)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        for n in range(3):
            asked = client.post("/chat", json={"message": f"again {n}"}, headers=headers)
            assert asked.status_code == 200, asked.text
        assert_rate_limited(
            client.post("/chat", json={"message": "a second new user"}),
            limit=1,
            window_seconds=3600,
        )


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    database_url: str,
) -> None:
    settings = app_settings(
        database_url, anon_users_per_address_per_hour=1, trusted_proxies="10.0.0.0/8"
    )
    wait_for_a_fresh_window(3600)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False, client=("10.1.2.3", 4000)) as proxy:

        def first_turn(forwarded_for: str) -> int:
            headers = {"X-Forwarded-For": forwarded_for}
            response = proxy.post("/chat", json={"message": "hello"}, headers=headers)
            proxy.cookies.clear()
            return response.status_code

        assert first_turn("198.51.100.1") == 200
        assert first_turn("198.51.100.2") == 200
        assert first_turn("198.51.100.1") == 429
        # The client cannot pick its address: hops are read from the right, up to the first
        # one that is not a trusted proxy (here 198.51.100.2, which the last proxy saw).
        assert first_turn("203.0.113.77, 198.51.100.2, 10.9.9.9") == 429


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(database_url: str) -> None:
    settings = app_settings(
        database_url, anon_users_per_address_per_hour=1, trusted_proxies="10.0.0.0/8"
    )
    wait_for_a_fresh_window(3600)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False, client=("192.0.2.10", 4000)) as client:
        first = client.post(
            "/chat", json={"message": "one"}, headers={"X-Forwarded-For": "1.1.1.1"}
        )
        client.cookies.clear()
        second = client.post(
            "/chat", json={"message": "two"}, headers={"X-Forwarded-For": "2.2.2.2"}
        )

    assert first.status_code == 200
    assert_rate_limited(second, limit=1, window_seconds=3600)


def test_ipv6_clients_are_counted_per_64_network(database_url: str) -> None:
    settings = app_settings(database_url, anon_users_per_address_per_hour=1)
    wait_for_a_fresh_window(3600)
    app = create_app(settings)
    with ExitStack() as stack:
        one, same_network, other_network = (
            stack.enter_context(
                TestClient(app, raise_server_exceptions=False, client=(address, 4000))
            )
            for address in ("2001:db8:0:1::1", "2001:db8:0:1:ffff::2", "2001:db8:0:2::1")
        )
        assert one.post("/chat", json={"message": "hi"}).status_code == 200
        assert same_network.post("/chat", json={"message": "hi"}).status_code == 429
        assert other_network.post("/chat", json={"message": "hi"}).status_code == 200


def test_with_anonymous_access_off_chat_needs_a_credential(
    database_url: str, postgresql: psycopg.Connection[Any]
) -> None:
    with TestClient(create_app(app_settings(database_url))) as open_app:
        headers = sign_up(open_app)  # a user made while anonymous access was on
    before = count_users(postgresql)
    closed = app_settings(database_url, anonymous_access=False)
    with TestClient(create_app(closed), raise_server_exceptions=False) as client:
        refused = client.post("/chat", json={"message": "who am I?"})
        signed_in = client.post("/chat", json={"message": "who am I?"}, headers=headers)

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"]["code"] == "unauthorized"
    assert "anonymous access is off" in refused.json()["error"]["message"]
    assert "set-cookie" not in refused.headers
    assert signed_in.status_code == 200, signed_in.text
    assert count_users(postgresql) == before


# --- chat turns per user ---------------------------------------------------------------------


def test_a_users_chat_turns_are_limited_per_minute(
    limited: tuple[TestClient, Settings],
) -> None:
    client, _ = limited
    wait_for_a_fresh_window(60)
    alice, bob = sign_up(client), sign_up(client)  # a first turn makes the user: not counted
    turns = [client.post("/chat", json={"message": f"turn {n}"}, headers=alice) for n in range(4)]

    assert [turn.status_code for turn in turns[:3]] == [200, 200, 200]
    assert_rate_limited(turns[3], limit=3, window_seconds=60)
    # Another user has a limit of their own.
    assert client.post("/chat", json={"message": "hi"}, headers=bob).status_code == 200
    # A refused turn stored nothing.
    session_id = turns[0].json()["session_id"]
    messages = client.get(f"/sessions/{session_id}/messages", headers=alice).json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["turn 0"]


def test_the_next_window_admits_again_and_ended_windows_are_purged(
    limited: tuple[TestClient, Settings], postgresql: psycopg.Connection[Any]
) -> None:
    client, _ = limited
    wait_for_a_fresh_window(60)
    alice = sign_up(client)
    for n in range(3):
        assert client.post("/chat", json={"message": f"{n}"}, headers=alice).status_code == 200
    assert client.post("/chat", json={"message": "4th"}, headers=alice).status_code == 429

    # As if the minute had passed: the stored window is an ended one.
    postgresql.execute(
        "UPDATE rate_limits SET window_start = window_start - interval '1 hour',"
        " expires_at = expires_at - interval '1 hour' WHERE bucket = 'chat_turns'"
    )
    postgresql.commit()
    assert client.post("/chat", json={"message": "later"}, headers=alice).status_code == 200

    limits = client.app_state["limits"]
    assert client.portal is not None
    assert client.portal.call(limits.purge_expired) == 1
    rows = postgresql.execute("SELECT bucket, count FROM rate_limits ORDER BY bucket").fetchall()
    postgresql.commit()
    assert ("chat_turns", 1) in rows  # the current window is kept; the ended one is gone
    assert len([row for row in rows if row[0] == "chat_turns"]) == 1


def test_a_stream_is_limited_like_a_json_answer(limited: tuple[TestClient, Settings]) -> None:
    client, _ = limited
    wait_for_a_fresh_window(60)
    alice = sign_up(client)
    for n in range(3):
        client.post("/chat", json={"message": f"{n}", "stream": True}, headers=alice)
    refused = client.post("/chat", json={"message": "more", "stream": True}, headers=alice)

    assert_rate_limited(refused, limit=3, window_seconds=60)
    assert refused.headers["content-type"] == "application/json"


# --- uploads per user ------------------------------------------------------------------------


def test_a_users_uploads_are_limited_in_number_per_day(
    limited: tuple[TestClient, Settings], postgresql: psycopg.Connection[Any]
) -> None:
    client, _ = limited
    alice, bob = sign_up(client), sign_up(client)
    first = client.post("/documents", json={"text": "one"}, headers=alice)
    second = client.post(
        "/documents", files={"file": ("two.txt", b"two", "text/plain")}, headers=alice
    )
    third = client.post("/documents", json={"url": "https://example.invalid/x"}, headers=alice)

    assert (first.status_code, second.status_code) == (202, 202)
    assert_rate_limited(third, limit=2, window_seconds=86_400)
    assert client.post("/documents", json={"text": "b"}, headers=bob).status_code == 202
    row = postgresql.execute("SELECT count(*) FROM documents").fetchone()
    postgresql.commit()
    assert row == (3,)


def test_a_users_uploaded_bytes_are_limited_per_day(
    limited: tuple[TestClient, Settings],
) -> None:
    client, _ = limited
    alice = sign_up(client)
    sixty = client.post(
        "/documents", files={"file": ("a.txt", b"a" * 60, "text/plain")}, headers=alice
    )
    too_many = client.post(
        "/documents", files={"file": ("b.txt", b"b" * 60, "text/plain")}, headers=alice
    )
    # What was refused was not counted: 40 bytes are left.
    forty = client.post("/documents", json={"text": "c" * 40}, headers=alice)

    assert sixty.status_code == 202, sixty.text
    assert_rate_limited(too_many, limit=100, window_seconds=86_400)
    assert "bytes uploaded" in too_many.json()["error"]["message"]
    assert forty.status_code == 202, forty.text


def test_an_upload_refused_for_its_type_does_not_use_the_quota(
    limited: tuple[TestClient, Settings],
) -> None:
    client, _ = limited
    alice = sign_up(client)
    for _ in range(3):
        unreadable = client.post(
            "/documents",
            files={"file": ("x.bin", b"\x00\x01\x02" * 4, "application/octet-stream")},
            headers=alice,
        )
        assert unreadable.status_code == 415, unreadable.text
    assert client.post("/documents", json={"text": "fine"}, headers=alice).status_code == 202


def test_limits_of_zero_are_off(database_url: str) -> None:
    settings = app_settings(
        database_url, anon_users_per_address_per_hour=0, chat_turns_per_user_per_minute=0
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        assert all(
            client.post("/chat", json={"message": str(n)}, headers=headers).status_code == 200
            for n in range(5)
        )
        assert sign_up(client)


def test_the_defaults_are_generous_but_on() -> None:
    defaults = Settings()
    assert defaults.anonymous_access is True
    assert defaults.anon_users_per_address_per_hour == 60
    assert defaults.chat_turns_per_user_per_minute == 30
    assert defaults.uploads_per_user_per_day == 100
    assert defaults.upload_bytes_per_user_per_day == 100 * 1024 * 1024
    assert defaults.upload_bytes_per_user_per_day >= defaults.max_upload_bytes


def test_each_counter_is_one_row_per_bucket_key_and_window(
    limited: tuple[TestClient, Settings], postgresql: psycopg.Connection[Any]
) -> None:
    client, _ = limited
    wait_for_a_fresh_window(60)
    alice = sign_up(client)
    client.post("/chat", json={"message": "a"}, headers=alice)
    client.post("/chat", json={"message": "b"}, headers=alice)
    rows = postgresql.execute(
        "SELECT key, count, expires_at - window_start FROM rate_limits WHERE bucket = 'chat_turns'"
    ).fetchall()
    postgresql.commit()
    assert len(rows) == 1
    key, count, length = rows[0]
    assert uuid.UUID(key)  # the user's id
    assert count == 2
    assert length.total_seconds() == 60
