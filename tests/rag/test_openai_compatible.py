"""OpenAI-compatible providers: dense embeddings (hybrid retrieval) and a streamed chat model.

The provider is a real HTTP server on loopback (tests/rag/fake_openai.py) that records what
it was sent, so these tests check both what the service answers and what it asked. Its reply
is set per test (``fake_openai.reply``) to check which passages an answer cites.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from service.app import State, create_app
from service.domain import estimate_tokens
from service.rag.extractive import NOT_FOUND
from service.rag.sparse import SparseVector
from service.usecases.answering import SYSTEM_PROMPT
from tests.conftest import sse_events
from tests.rag.conftest import (
    Headers,
    chat,
    chunk_rows,
    in_app,
    post_text,
    rag_settings,
    session_messages,
    wait_for_document,
)
from tests.rag.fake_openai import COMPLETION_TOKENS, DIMENSIONS, PROMPT_TOKENS, REPLY, FakeOpenAI
from tests.rag.fake_openai import embed as fake_embed
from tests.service.conftest import sign_up

Stored = tuple[SparseVector, list[float] | None]
OTTERS = "Sea otters hold hands while they sleep so they do not drift apart."
PROVIDER_USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    "estimated": False,
}


@pytest.fixture
def provider_client(
    database_url: str, vector_engine: dict[str, Any], fake_openai: FakeOpenAI
) -> Iterator[TestClient]:
    """The app with both embeddings and answers from the fake provider."""
    settings = rag_settings(
        database_url,
        vector_engine,
        embedding_base_url=fake_openai.url,
        embedding_model="fake-embed",
        embedding_api_key="embed-key",
        llm_base_url=fake_openai.url,
        llm_model="fake-chat",
        llm_api_key="llm-key",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def ingest(client: TestClient, headers: Headers, text: str) -> dict[str, Any]:
    created = post_text(client, headers, text)
    document = wait_for_document(client, headers, created["id"])
    assert document["status"] == "completed", document
    return document


def test_ingestion_with_an_embedding_endpoint_stores_dense_and_sparse_vectors(
    provider_client: TestClient, fake_openai: FakeOpenAI, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(provider_client)

    document = ingest(provider_client, headers, OTTERS)

    assert document["embedding_model"].endswith("+fake-embed")
    rows = chunk_rows(postgresql, document["id"])
    assert [row[3] for row in rows] == [OTTERS]

    async def work(state: State) -> tuple[SparseVector, list[Stored]]:
        expected = state["ingestor"].lexical.document(OTTERS)
        stored = await state["vectors"].stored_vectors([row[2] for row in rows])
        return expected, list(stored.values())

    expected, stored = in_app(provider_client, work)
    assert len(stored) == 1
    sparse, dense = stored[0]
    assert dense == pytest.approx(fake_embed(OTTERS), abs=1e-6)
    assert len(dense or []) == DIMENSIONS
    assert sparse.indices == expected.indices
    assert sparse.values == pytest.approx(expected.values)
    embedding_requests = [r for r in fake_openai.requests if r.path == "/v1/embeddings"]
    assert embedding_requests
    assert {r.body["model"] for r in embedding_requests} == {"fake-embed"}
    assert {r.authorization for r in embedding_requests} == {"Bearer embed-key"}
    assert OTTERS in fake_openai.embedded_texts()


def test_many_chunks_are_embedded_in_batches_each_vector_with_its_own_chunk(
    database_url: str,
    vector_engine: dict[str, Any],
    fake_openai: FakeOpenAI,
    postgresql: psycopg.Connection[Any],
) -> None:
    settings = rag_settings(
        database_url,
        vector_engine,
        embedding_base_url=fake_openai.url,
        chunk_target_chars=100,
        chunk_overlap_chars=0,
    )
    paragraphs = [
        f"Paragraph {number} describes lighthouse number {number} and its keeper {number}."
        for number in range(150)
    ]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = sign_up(client)
        document = ingest(client, headers, "\n\n".join(paragraphs))
        rows = chunk_rows(postgresql, document["id"])
        assert len(rows) > 64  # more than one request to the embeddings endpoint

        async def work(state: State) -> dict[uuid.UUID, Stored]:
            return await state["vectors"].stored_vectors([row[2] for row in rows])

        points = in_app(client, work)

    assert set(points) == {row[2] for row in rows}
    for _, _, point_id, content in rows:
        _, dense = points[point_id]
        assert dense == pytest.approx(fake_embed(content), abs=1e-6), content
    chunk_texts = {row[3] for row in rows}
    batches = [
        r.body["input"]
        for r in fake_openai.requests
        if r.path == "/v1/embeddings" and set(r.body["input"]) <= chunk_texts
    ]
    assert [len(batch) for batch in batches] == [
        min(64, len(rows) - start) for start in range(0, len(rows), 64)
    ]
    assert [text for batch in batches for text in batch] == [row[3] for row in rows]


def test_hybrid_retrieval_never_returns_another_users_document(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    alice, bob = sign_up(provider_client), sign_up(provider_client)
    otters = ingest(provider_client, alice, OTTERS)
    bicycles = ingest(provider_client, bob, "Bob keeps notes about repairing bicycle chains.")

    answer = chat(provider_client, bob, OTTERS)

    # Fused ranks have no threshold: Bob's own document is passed on, Alice's never is.
    assert [source["document_id"] for source in answer["sources"]] == [bicycles["id"]]
    passages, _, question = fake_openai.chat_requests()[-1]["messages"][-1]["content"].rpartition(
        "\n\nQuestion: "
    )
    assert question == OTTERS
    assert "bicycle chains" in passages
    assert "otters" not in passages.lower()
    own = chat(provider_client, alice, OTTERS)
    assert [source["document_id"] for source in own["sources"]] == [otters["id"]]


def test_chat_answers_with_the_models_text_and_sends_the_passages_and_earlier_messages(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(provider_client)
    document = ingest(provider_client, headers, OTTERS)
    asked_before = len(fake_openai.chat_requests())

    first = chat(provider_client, headers, "Why do otters hold hands?")

    assert first["answer"] == REPLY
    assert first["usage"] == PROVIDER_USAGE
    assert [source["document_id"] for source in first["sources"]] == [document["id"]]
    assert first["sources"][0]["rank"] == 1
    request = fake_openai.chat_requests()[asked_before]
    assert request["model"] == "fake-chat"
    assert request["stream"] is True
    assert request["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert len(request["messages"]) == 2  # a new session: no earlier messages
    question = request["messages"][-1]
    assert question["role"] == "user"
    assert OTTERS in question["content"]
    assert "[1]" in question["content"]
    assert question["content"].endswith("Question: Why do otters hold hands?")

    fake_openai.reply = "They float on their backs [1]."
    second = chat(provider_client, headers, "Where do they sleep?", session_id=first["session_id"])

    assert second["answer"] == "They float on their backs [1]."
    follow_up = fake_openai.chat_requests()[asked_before + 1]
    assert follow_up["messages"][1:3] == [
        {"role": "user", "content": "Why do otters hold hands?"},
        {"role": "assistant", "content": REPLY},
    ]
    assert len(follow_up["messages"]) == 4
    assert OTTERS in follow_up["messages"][-1]["content"]
    assert follow_up["messages"][-1]["content"].endswith("Question: Where do they sleep?")
    assert {r.authorization for r in fake_openai.requests if r.path.endswith("/completions")} == {
        "Bearer llm-key"
    }
    # The stored answers carry the provider's counts.
    stored = [
        m
        for m in session_messages(provider_client, headers, first["session_id"])
        if m["role"] == "assistant"
    ]
    assert [(m["status"], m["content"]) for m in stored] == [
        ("complete", REPLY),
        ("complete", "They float on their backs [1]."),
    ]
    assert stored[0]["token_count"] == COMPLETION_TOKENS
    assert stored[0]["metadata"]["usage"] == PROVIDER_USAGE


def test_streamed_chat_sends_the_models_text_piece_by_piece(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(provider_client)
    document = ingest(provider_client, headers, OTTERS)

    response = provider_client.post(
        "/chat", json={"message": "Why do otters hold hands?", "stream": True}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names[-1] == "done"
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert names[1:-1] == ["delta"] * len(deltas)
    assert len(deltas) == len(REPLY.split())
    assert "".join(deltas) == REPLY
    done = events[-1][1]
    assert done["answer"] == REPLY
    assert done["usage"] == PROVIDER_USAGE
    assert done["saved"] is True
    assert [source["document_id"] for source in done["sources"]] == [document["id"]]
    assert OTTERS in fake_openai.chat_requests()[-1]["messages"][-1]["content"]


def test_usage_is_estimated_when_the_provider_does_not_report_it(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(provider_client)
    ingest(provider_client, headers, OTTERS)
    fake_openai.usage = None

    answer = chat(provider_client, headers, "Why do otters hold hands?")

    assert answer["answer"] == REPLY
    usage = answer["usage"]
    assert usage["estimated"] is True
    assert usage["completion_tokens"] == estimate_tokens(REPLY)
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize(
    ("provider_status", "status", "code"),
    [(500, 503, "answer_unavailable"), (400, 502, "answer_failed")],
)
def test_provider_failure_gives_an_error_and_a_failed_assistant_message(
    provider_client: TestClient,
    fake_openai: FakeOpenAI,
    provider_status: int,
    status: int,
    code: str,
) -> None:
    """A provider's 5xx may pass (503: a retry answers the turn again); its 4xx will not."""
    headers = sign_up(provider_client)
    ingest(provider_client, headers, OTTERS)
    fake_openai.chat_status = provider_status

    response = provider_client.post(
        "/chat", json={"message": "Why do otters hold hands?"}, headers=headers
    )

    assert response.status_code == status, response.text
    assert ("retry-after" in response.headers) == (status == 503)
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"]["saved"] is True
    session_id = error["details"]["session_id"]
    messages = session_messages(provider_client, headers, session_id)
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
    ]
    assistant = messages[1]
    assert assistant["id"] == error["details"]["assistant_message_id"]
    # In our words: the provider's own text goes to the log only.
    assert assistant["error"] == (
        "the language model was unavailable"
        if provider_status == 500
        else "the language model refused the request"
    )

    streamed = provider_client.post(
        "/chat",
        json={"message": "Still there?", "session_id": session_id, "stream": True},
        headers=headers,
    )
    events = sse_events(streamed.text)
    assert [name for name, _ in events] == ["start", "error"]
    assert events[1][1]["error"]["code"] == code
    statuses = [m["status"] for m in session_messages(provider_client, headers, session_id)]
    assert statuses == ["complete", "failed", "complete", "failed"]
    assert uuid.UUID(events[0][1]["assistant_message_id"])


# --- citations are the passages the answer marks; confidence is their evidence ------------

KELP = "Otters wrap themselves in kelp so that the current does not carry them off."
QUESTION = "Why do otters hold hands?"


@pytest.fixture
def chat_only_client(
    database_url: str, vector_engine: dict[str, Any], fake_openai: FakeOpenAI
) -> Iterator[TestClient]:
    """The app answering with the fake provider's chat model over BM25 retrieval alone."""
    settings = rag_settings(
        database_url,
        vector_engine,
        llm_base_url=fake_openai.url,
        llm_model="fake-chat",
        retrieval_min_score=0.1,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def numbered_passages(fake_openai: FakeOpenAI, *texts: str) -> list[str]:
    """The given passage texts in the order the last chat request numbered them: [1], [2]..."""
    prompt = fake_openai.chat_requests()[-1]["messages"][-1]["content"]
    assert all(text in prompt for text in texts)
    return sorted(texts, key=prompt.index)


def test_an_answer_marking_only_its_second_passage_cites_that_one_as_1(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(provider_client)
    ids = {text: ingest(provider_client, headers, text)["id"] for text in (OTTERS, KELP)}
    fake_openai.reply = "They do not want to drift apart [2]."

    answer = chat(provider_client, headers, QUESTION)

    _, second = numbered_passages(fake_openai, OTTERS, KELP)  # hybrid: both are passed on
    assert answer["answer"] == "They do not want to drift apart [1]."
    assert [(s["rank"], s["document_id"]) for s in answer["sources"]] == [(1, ids[second])]
    [stored] = [
        m
        for m in session_messages(provider_client, headers, answer["session_id"])
        if m["role"] == "assistant"
    ]
    assert stored["content"] == "They do not want to drift apart [1]."
    assert [source["document_id"] for source in stored["sources"]] == [ids[second]]


def test_streamed_pieces_are_renumbered_as_they_stream_and_join_into_the_answer(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    """The model's passage numbers become the citations' as the pieces stream, so a client
    that keeps only the streamed text (an OpenAI client) reads the same numbers."""
    headers = sign_up(provider_client)
    ids = {text: ingest(provider_client, headers, text)["id"] for text in (OTTERS, KELP)}
    fake_openai.reply = "They wrap in kelp [2] and hold hands [1]."

    response = provider_client.post(
        "/chat", json={"message": QUESTION, "stream": True}, headers=headers
    )

    first, second = numbered_passages(fake_openai, OTTERS, KELP)
    events = sse_events(response.text)
    assert "".join(data["text"] for name, data in events if name == "delta") == (
        "They wrap in kelp [1] and hold hands [2]."
    )
    done = events[-1][1]
    assert done["answer"] == "They wrap in kelp [1] and hold hands [2]."
    assert [(s["rank"], s["document_id"]) for s in done["sources"]] == [
        (1, ids[second]),
        (2, ids[first]),
    ]


def test_markers_naming_no_passage_are_dropped_from_the_answer(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(provider_client)
    document = ingest(provider_client, headers, OTTERS)
    fake_openai.reply = "Otters hold hands [1][4] so they stay together [7]."

    answer = chat(provider_client, headers, QUESTION)

    assert answer["answer"] == "Otters hold hands [1] so they stay together."
    assert [(s["rank"], s["document_id"]) for s in answer["sources"]] == [(1, document["id"])]


def test_an_answer_without_markers_cites_nothing_and_has_no_confidence(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(provider_client)
    ingest(provider_client, headers, OTTERS)
    for reply in ("Otters hold hands while they sleep.", NOT_FOUND):
        fake_openai.reply = reply

        answer = chat(provider_client, headers, QUESTION)

        assert answer["answer"] == reply
        assert answer["sources"] == []
        assert answer["confidence"] == 0.0


def test_in_hybrid_mode_a_cited_passage_sharing_no_question_term_gives_no_confidence(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    alice, bob = sign_up(provider_client), sign_up(provider_client)
    ingest(provider_client, alice, OTTERS)
    ingest(provider_client, bob, "Bob keeps notes about repairing bicycle chains.")

    # The model marks [1] both times: Bob's only passage is about bicycles.
    unrelated = chat(provider_client, bob, QUESTION)
    answering = chat(provider_client, alice, QUESTION)

    assert len(unrelated["sources"]) == len(answering["sources"]) == 1
    assert unrelated["confidence"] == 0.0
    assert answering["confidence"] == 1.0  # every question term is in the cited passage


def test_with_bm25_scores_confidence_is_coverage_times_the_best_passages_strength(
    chat_only_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    headers = sign_up(chat_only_client)
    otters = ingest(chat_only_client, headers, OTTERS)
    ingest(chat_only_client, headers, KELP)

    # The reply marks [1]: OTTERS, the best match, has every question term (coverage 1).
    full = chat(chat_only_client, headers, QUESTION)
    [source] = full["sources"]
    assert source["document_id"] == otters["id"]
    score = source["score"]  # BM25; strength is score / (score + the 0.1 threshold)
    assert full["confidence"] == round(score / (score + 0.1), 3)

    # "otter" and "hold" but not "umbrella": coverage 2/3.
    partial = chat(chat_only_client, headers, "Why do otters hold umbrellas?")
    [source] = partial["sources"]
    assert source["document_id"] == otters["id"]
    score = source["score"]
    assert partial["confidence"] == round(2 / 3 * score / (score + 0.1), 3)
    assert 0.0 < partial["confidence"] < full["confidence"] < 1.0


def test_sampling_asked_on_v1_reaches_the_language_model(
    provider_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    """temperature, top_p and max_tokens (or max_completion_tokens) of an OpenAI request go
    to the configured model; what the request leaves out is left out."""
    headers = sign_up(provider_client)
    ingest(provider_client, headers, OTTERS)
    fake_openai.reset()
    bodies: list[dict[str, Any]] = [
        {"temperature": 0.2, "top_p": 0.5, "max_tokens": 64.0},  # 64.0: JSON's whole number
        {"max_completion_tokens": 32},
    ]
    for n, extra in enumerate(bodies):
        question = {"role": "user", "content": f"{QUESTION} ({n})"}
        body = {"model": "rag", "messages": [question], **extra}
        response = provider_client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text

    sent = fake_openai.chat_requests()
    assert [(b.get("temperature"), b.get("top_p"), b.get("max_tokens")) for b in sent] == [
        (0.2, 0.5, 64),
        (None, None, 32),
    ]
    assert all("max_completion_tokens" not in b for b in sent)
