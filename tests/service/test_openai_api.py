"""The OpenAI-compatible API (/v1) with the official ``openai`` SDK, sync and async, streaming
and not, against the service served by uvicorn on loopback (issue 15, items 1-3).

A conversation the SDK resends whole lands in one session, each turn stored once; the
session can be named (X-Session-Id) or left to the service; errors come back as the SDK's
own exceptions; a front end with its key acts for the users it forwards, and the forwarded
headers without the key are refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from service.app import create_app
from tests.rag.conftest import post_text, wait_for_document
from tests.service.conftest import app_settings, serve

FRONTEND_KEY = "frontend-key-for-tests-0123456789"


@pytest.fixture
def base_url(database_url: str) -> Iterator[str]:
    settings = app_settings(database_url, frontend_api_key=FRONTEND_KEY)
    with serve(create_app(settings)) as url:
        yield url


def new_token(base_url: str) -> str:
    """A new user's bearer token (their first POST /chat)."""
    response = httpx.post(f"{base_url}/chat", json={"message": "hello"}, timeout=30)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


_OPEN: list[openai.OpenAI] = []


def client(base_url: str, token: str, **headers: str) -> openai.OpenAI:
    """An SDK client, closed when the test ends (``closed_clients``)."""
    sdk = openai.OpenAI(
        base_url=f"{base_url}/v1", api_key=token, default_headers=headers, max_retries=0
    )
    _OPEN.append(sdk)
    return sdk


@pytest.fixture(autouse=True)
def closed_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def sessions_of(base_url: str, token: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["sessions"]
    return found


def messages_of(base_url: str, token: str, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/sessions/{session_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
        params={"limit": 100},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


def with_document(base_url: str, token: str, text: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {token}"}
        created = post_text(http, headers, text)  # type: ignore[arg-type]
        assert wait_for_document(http, headers, created["id"])["status"] == "completed"  # type: ignore[arg-type]


def test_models_lists_the_one_model(base_url: str) -> None:
    models = client(base_url, new_token(base_url)).models.list()
    assert [model.id for model in models.data] == ["rag"]


def test_a_conversation_resent_whole_lands_in_one_session_each_turn_stored_once(
    base_url: str,
) -> None:
    token = new_token(base_url)
    with_document(base_url, token, "Otters hold hands while they sleep so they do not drift.")
    sdk = client(base_url, token)
    before = {session["id"] for session in sessions_of(base_url, token)}

    messages: list[Any] = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Why do otters hold hands?"},
    ]
    first = sdk.chat.completions.create(model="rag", messages=messages)
    answer = first.choices[0].message.content
    assert answer
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    extra = first.model_extra or {}
    assert extra["citations"], "the answer cites the document"
    assert extra["citations"][0]["snippet"]
    assert "[1]" in answer

    messages += [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And do they drift?"},
    ]
    second = sdk.chat.completions.create(model="rag", messages=messages)
    assert (second.model_extra or {})["session_id"] == extra["session_id"]
    # The same request again (the SDK's retry): replayed, nothing stored twice.
    again = sdk.chat.completions.create(model="rag", messages=messages)
    assert again.id == second.id
    assert again.choices[0].message.content == second.choices[0].message.content

    new_sessions = [s for s in sessions_of(base_url, token) if s["id"] not in before]
    assert [s["id"] for s in new_sessions] == [extra["session_id"]]
    stored = messages_of(base_url, token, extra["session_id"])
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Why do otters hold hands?"),
        ("assistant", answer),
        ("user", "And do they drift?"),
        ("assistant", second.choices[0].message.content),
    ]


def test_streaming_ends_with_citations_usage_and_done(base_url: str) -> None:
    token = new_token(base_url)
    with_document(base_url, token, "Beavers build dams from branches and mud.")
    sdk = client(base_url, token)
    stream = sdk.chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": "What do beavers build dams from?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finished) == 1
    assert (finished[0].model_extra or {})["citations"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    session_id = (finished[0].model_extra or {})["session_id"]
    stored = messages_of(base_url, token, session_id)
    assert stored[-1]["content"] == text
    assert {c.id for c in chunks} == {f"chatcmpl-{uuid.UUID(stored[-1]['id']).hex}"}


def test_the_async_client_and_a_named_session(base_url: str) -> None:
    token = new_token(base_url)
    created = httpx.post(
        f"{base_url}/sessions",
        json={"title": "named"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    session_id = created.json()["id"]

    async def ask() -> tuple[str, str]:
        sdk = openai.AsyncOpenAI(
            base_url=f"{base_url}/v1",
            api_key=token,
            default_headers={"X-Session-Id": session_id},
            max_retries=0,
        )
        async with sdk:
            answer = await sdk.chat.completions.create(
                model="rag", messages=[{"role": "user", "content": "hello there"}]
            )
            stream = await sdk.chat.completions.create(
                model="rag", messages=[{"role": "user", "content": "and again"}], stream=True
            )
            streamed = "".join(
                [c.choices[0].delta.content or "" async for c in stream if c.choices]
            )
        return answer.choices[0].message.content or "", streamed

    first, second = asyncio.run(ask())
    stored = messages_of(base_url, token, session_id)
    assert [m["content"] for m in stored] == ["hello there", first, "and again", second]


def test_errors_are_the_sdks_own_exceptions_in_openais_shape(base_url: str) -> None:
    token = new_token(base_url)
    sdk = client(base_url, token)
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        client(base_url, "not-a-token").chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "hi"}]
        )
    assert unauthorized.value.status_code == 401
    assert isinstance(unauthorized.value.body, dict)
    assert unauthorized.value.body["type"] == "authentication_error"

    with pytest.raises(openai.NotFoundError) as unknown_model:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert isinstance(unknown_model.value.body, dict)
    assert unknown_model.value.body["code"] == "model_not_found"
    assert unknown_model.value.body["param"] == "model"

    cases: list[tuple[Any, str | None]] = [
        ([{"role": "assistant", "content": "I speak first"}], "messages"),
        ([{"role": "user", "content": "   "}], "messages"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], None),
    ]
    for messages, param in cases:
        with pytest.raises(openai.UnprocessableEntityError) as invalid:
            sdk.chat.completions.create(model="rag", messages=messages)
        assert isinstance(invalid.value.body, dict)
        assert invalid.value.body["type"] == "invalid_request_error"
        if param is not None:
            assert invalid.value.body["param"] == param

    with pytest.raises(openai.UnprocessableEntityError):
        sdk.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "hi"}], temperature=5
        )
    other = client(base_url, new_token(base_url), **{"X-Session-Id": str(uuid.uuid4())})
    with pytest.raises(openai.NotFoundError):  # not one of the caller's sessions
        other.chat.completions.create(model="rag", messages=[{"role": "user", "content": "hi"}])


def test_a_front_end_with_its_key_acts_for_the_users_it_forwards(base_url: str) -> None:
    """Open WebUI's request sequence: its key, the forwarded user and its chat id."""
    alice = {
        "X-OpenWebUI-User-Id": "owui-user-alice",
        "X-OpenWebUI-User-Email": "alice@example.org",
        "X-OpenWebUI-User-Name": "Alice",
        "X-OpenWebUI-Chat-Id": "chat-1",
    }
    bob = alice | {"X-OpenWebUI-User-Id": "owui-user-bob", "X-OpenWebUI-Chat-Id": "chat-1"}
    as_alice, as_bob = (
        client(base_url, FRONTEND_KEY, **alice),
        client(base_url, FRONTEND_KEY, **bob),
    )
    question = [{"role": "user", "content": "what is in my history?"}]
    first = as_alice.chat.completions.create(model="rag", messages=question)  # type: ignore[arg-type]
    # Open WebUI's follow-up: the same chat id, the conversation so far resent.
    follow_up: list[Any] = [
        *question,
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "and now?"},
    ]
    second = as_alice.chat.completions.create(model="rag", messages=follow_up)
    bobs = as_bob.chat.completions.create(model="rag", messages=question)  # type: ignore[arg-type]

    alice_session = (first.model_extra or {})["session_id"]
    assert (second.model_extra or {})["session_id"] == alice_session
    # The same chat id from another user is another session, of that user.
    assert (bobs.model_extra or {})["session_id"] != alice_session
    with httpx.Client(base_url=base_url, timeout=30) as http:
        listed = http.get("/sessions", headers={"Authorization": f"Bearer {FRONTEND_KEY}"} | alice)
        assert [s["id"] for s in listed.json()["sessions"]] == [alice_session]
        bob_reads = http.get(
            f"/sessions/{alice_session}/messages",
            headers={"Authorization": f"Bearer {FRONTEND_KEY}"} | bob,
        )
        assert bob_reads.status_code == 404

        # The forwarded headers mean nothing without the front end's key.
        token = new_token(base_url)
        for headers in (
            alice,
            alice | {"Authorization": f"Bearer {token}"},
            alice | {"Authorization": "Bearer wrong-frontend-key-0123456789"},
        ):
            refused = http.get("/sessions", headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
        # The key without a forwarded user acts for no one.
        alone = http.get("/sessions", headers={"Authorization": f"Bearer {FRONTEND_KEY}"})
        assert alone.status_code == 401
