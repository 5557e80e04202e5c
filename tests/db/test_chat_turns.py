"""The chat turn as a use case, without HTTP: what /chat and any other front end call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from service import store
from service.domain import Answer, Citation, Question, RetrievalUnavailable, Usage
from service.settings import Settings
from service.usecases.accounts import Accounts, Unidentified
from service.usecases.chat import (
    Ask,
    ChatTurns,
    CredentialRequired,
    Started,
    TurnFailed,
    TurnInProgress,
    TurnResult,
)

pytestmark = pytest.mark.anyio


class Scripted:
    """An answerer that says one thing (or fails as told) and counts the questions it got."""

    def __init__(self, text: str = "Paris is the capital.", error: Exception | None = None):
        self.text = text
        self.error = error
        self.questions: list[Question] = []

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        self.questions.append(question)
        yield self.text.split(" ")[0]
        if self.error is not None:
            raise self.error
        yield Answer(
            text=self.text,
            sources=[Citation(rank=1, document_title="Atlas", score=2.5)],
            confidence=0.9,
            usage=Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8, estimated=True),
        )


def chat_turns(pool: store.Pool, answerer: Scripted) -> ChatTurns:
    return ChatTurns(pool, Accounts(pool, Settings()), answerer)


async def stored_turn(pool: store.Pool, result: TurnResult) -> list[store.ChatMessage]:
    assert result.session_id is not None
    token = result.token
    assert token is not None
    caller = await Accounts(pool, Settings()).authenticate(token)
    page = await store.list_messages(pool, caller.user_id, result.session_id, limit=10)
    return page.messages


async def test_a_first_turn_without_a_caller_stores_a_new_users_question_and_answer(
    pool: store.Pool,
) -> None:
    answerer = Scripted()
    turns = chat_turns(pool, answerer)

    turn = await turns.begin(None, Ask(text="Capital of France?"), request_id="r-1")
    result = await turns.answer(turn)

    assert turn.new_user is not None
    assert result.token == turn.new_user.token
    assert (result.saved, result.replayed) == (True, False)
    assert result.answer.text == "Paris is the capital."
    question, answer = await stored_turn(pool, result)
    assert (question.role, question.content) == ("user", "Capital of France?")
    assert (answer.status, answer.content, answer.reply_to_id) == (
        "complete",
        "Paris is the capital.",
        question.id,
    )
    assert answer.sources == [msgspec.to_builtins(source) for source in result.answer.sources]
    assert answerer.questions == [turn.question]


async def test_a_retried_turn_replays_the_stored_answer_without_answering_again(
    pool: store.Pool,
) -> None:
    answerer = Scripted()
    turns = chat_turns(pool, answerer)
    ask = Ask(text="Capital of France?", client_message_id="c-1")
    first = await turns.answer(await turns.begin(None, ask, request_id=None))
    caller = await Accounts(pool, Settings()).authenticate(first.token or "")

    retry = await turns.begin(caller, ask, request_id=None)
    replayed = await turns.answer(retry)

    assert replayed.replayed is True
    assert (replayed.session_id, replayed.assistant_message_id) == (
        first.session_id,
        first.assistant_message_id,
    )
    assert replayed.answer.text == first.answer.text
    assert replayed.answer.sources == first.answer.sources
    assert len(answerer.questions) == 1


async def test_a_failed_answer_is_a_visible_failed_turn_and_its_retry_replays_the_failure(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Scripted(error=RuntimeError("model down")))
    ask = Ask(text="Capital of France?", client_message_id="c-2")
    turn = await turns.begin(None, ask, request_id=None)

    with pytest.raises(TurnFailed) as failed:
        await turns.answer(turn)

    assert failed.value.saved is True
    assert failed.value.retrieval is False
    assert "model down" in failed.value.reason
    assert turn.new_user is not None
    assert failed.value.token == turn.new_user.token
    assert turn.stored is not None
    message = turn.stored.assistant_message
    page = await store.list_messages(pool, message.user_id, message.session_id, limit=10)
    assert [(m.status, m.error) for m in page.messages] == [
        ("complete", None),
        ("failed", "RuntimeError: model down"),
    ]
    retry = await turns.begin(turn.new_user.principal, ask, request_id=None)
    with pytest.raises(TurnFailed, match="model down"):
        await turns.answer(retry)


async def test_an_unsearchable_index_is_a_failure_worth_retrying(pool: store.Pool) -> None:
    turns = chat_turns(pool, Scripted(error=RetrievalUnavailable("qdrant is down")))
    turn = await turns.begin(None, Ask(text="Capital of France?"), request_id=None)

    with pytest.raises(TurnFailed) as failed:
        await turns.answer(turn)

    assert failed.value.retrieval is True


async def test_a_retry_while_the_first_request_is_answering_is_told_so(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Scripted())
    ask = Ask(text="Capital of France?", client_message_id="c-3")
    first = await turns.begin(None, ask, request_id=None)
    assert first.new_user is not None

    retry = await turns.begin(first.new_user.principal, ask, request_id=None)

    with pytest.raises(TurnInProgress):
        await turns.answer(retry)
    with pytest.raises(TurnInProgress):
        await turns.stream(retry)


async def test_a_streamed_turn_sends_its_ids_then_text_then_the_stored_result(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Scripted())
    turn = await turns.begin(None, Ask(text="Capital of France?"), request_id=None)

    events = [event async for event in await turns.stream(turn)]

    started, piece, result = events
    assert isinstance(started, Started)
    assert started.ids == turn.ids()
    assert started.saved
    assert piece == "Paris"
    assert isinstance(result, TurnResult)
    assert result.saved
    _, answer = await stored_turn(pool, result)
    assert answer.status == "complete"


async def test_a_stream_abandoned_before_its_answer_fails_the_turn(pool: store.Pool) -> None:
    turns = chat_turns(pool, Scripted())
    turn = await turns.begin(None, Ask(text="Capital of France?"), request_id=None)
    events = await turns.stream(turn)

    assert isinstance(await anext(events), Started)
    assert await anext(events) == "Paris"
    await events.aclose()  # the client went away

    assert turn.stored is not None
    message = turn.stored.assistant_message
    page = await store.list_messages(pool, message.user_id, message.session_id, limit=10)
    assert page.messages[-1].status == "failed"
    assert page.messages[-1].error == "the stream was interrupted"


async def test_naming_a_session_needs_a_caller(pool: store.Pool) -> None:
    turns = chat_turns(pool, Scripted())
    session = await store.create_session(pool, (await store.create_anonymous_user(pool)).id)

    with pytest.raises(CredentialRequired):
        await turns.begin(None, Ask(text="hi", session_id=session.id), request_id=None)


async def test_a_caller_the_database_could_not_check_is_answered_without_saving(
    pool: store.Pool,
) -> None:
    answerer = Scripted()
    turns = chat_turns(pool, answerer)

    turn = await turns.begin(Unidentified(), Ask(text="Capital of France?"), request_id=None)
    result = await turns.answer(turn)

    assert turn.stored is None
    assert (result.saved, result.session_id, result.token) == (False, None, None)
    assert result.answer.text == "Paris is the capital."
    assert answerer.questions[0].user_id is None
