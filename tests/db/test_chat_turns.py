"""The chat turn as a use case, without HTTP: what /chat and any other front end call."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator

import msgspec
import pytest

from service import store
from service.domain import Answer, Citation, Question, RetrievalUnavailable, Usage
from service.rag.providers import ProviderError
from service.settings import Settings
from service.usecases.accounts import Accounts, Unidentified
from service.usecases.chat import (
    ABANDONED,
    Ask,
    ChatTurns,
    CredentialRequired,
    Started,
    Turn,
    TurnFailed,
    TurnInProgress,
    TurnResult,
)

pytestmark = pytest.mark.anyio


class Scripted:
    """An answerer that says one thing (after failing as told, once per error) and counts the
    questions it got."""

    def __init__(self, text: str = "Paris is the capital.", *errors: Exception):
        self.text = text
        self.errors = list(errors)
        self.questions: list[Question] = []

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        self.questions.append(question)
        yield self.text.split(" ")[0]
        if self.errors:
            raise self.errors.pop(0)
        yield Answer(
            text=self.text,
            sources=[Citation(rank=1, document_title="Atlas", score=2.5)],
            confidence=0.9,
            usage=Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8, estimated=True),
        )


LEASE = datetime.timedelta(milliseconds=300)


def chat_turns(
    pool: store.Pool, answerer: Scripted, lease: datetime.timedelta = LEASE * 1000
) -> ChatTurns:
    return ChatTurns(pool, Accounts(pool, Settings()), answerer, lease=lease)


async def messages_of(pool: store.Pool, turn: Turn) -> list[store.ChatMessage]:
    assert turn.stored is not None
    message = turn.stored.assistant_message
    page = await store.list_messages(pool, message.user_id, message.session_id, limit=10)
    return page.messages


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
    turns = chat_turns(pool, Scripted("Paris is the capital.", RuntimeError("model down")))
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
        ("failed", "the answer could not be generated (an internal error)"),
    ]  # the error's own text went to the log
    retry = await turns.begin(turn.new_user.principal, ask, request_id=None)
    with pytest.raises(TurnFailed, match="internal error"):
        await turns.answer(retry)


async def test_an_unsearchable_index_is_a_failure_worth_retrying(pool: store.Pool) -> None:
    turns = chat_turns(
        pool, Scripted("Paris is the capital.", RetrievalUnavailable("qdrant is down"))
    )
    turn = await turns.begin(None, Ask(text="Capital of France?"), request_id=None)

    with pytest.raises(TurnFailed) as failed:
        await turns.answer(turn)

    assert failed.value.retrieval is True
    assert failed.value.transient is True


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


async def test_a_retry_answers_again_in_place_a_turn_that_failed_for_a_transient_reason(
    pool: store.Pool,
) -> None:
    answerer = Scripted("Paris is the capital.", ProviderError("the model timed out"))
    turns = chat_turns(pool, answerer)
    ask = Ask(text="Capital of France?", client_message_id="c-t")
    first = await turns.begin(None, ask, request_id=None)
    with pytest.raises(TurnFailed) as failed:
        await turns.answer(first)
    assert failed.value.transient is True
    assert first.new_user is not None

    retry = await turns.begin(first.new_user.principal, ask, request_id=None)
    result = await turns.answer(retry)

    assert retry.ids() == first.ids()
    assert result.replayed is False
    assert result.answer.text == "Paris is the capital."
    assert [(m.status, m.error) for m in await messages_of(pool, retry)] == [
        ("complete", None),
        ("complete", None),
    ]
    assert len(answerer.questions) == 2


async def test_a_turn_whose_request_died_is_answered_again_by_a_retry_after_its_lease(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Scripted(), lease=LEASE)
    ask = Ask(text="Capital of France?", client_message_id="c-d")
    died = await turns.begin(None, ask, request_id=None)  # and never answered
    assert died.new_user is not None
    caller = died.new_user.principal

    with pytest.raises(TurnInProgress):  # within the lease the first request may still answer
        await turns.answer(await turns.begin(caller, ask, request_id=None))
    await asyncio.sleep(LEASE.total_seconds() * 1.5)
    retry = await turns.begin(caller, ask, request_id=None)
    result = await turns.answer(retry)

    assert retry.ids() == died.ids()
    assert result.saved is True
    assert [m.status for m in await messages_of(pool, retry)] == ["complete", "complete"]


async def test_the_sweep_fails_abandoned_answers_and_a_retry_still_answers_them(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Scripted(), lease=LEASE)
    ask = Ask(text="Capital of France?", client_message_id="c-s")
    died = await turns.begin(None, ask, request_id=None)
    assert died.new_user is not None
    fresh = await turns.begin(None, Ask(text="still answering"), request_id=None)
    await asyncio.sleep(LEASE.total_seconds() * 1.5)
    answering = await turns.begin(None, Ask(text="just asked"), request_id=None)

    assert await turns.fail_abandoned() == 2  # the two older turns, not the one just begun

    assert [(m.status, m.error) for m in await messages_of(pool, died)][-1] == (
        "failed",
        ABANDONED,
    )
    assert (await messages_of(pool, answering))[-1].status == "pending"
    assert (await messages_of(pool, fresh))[-1].status == "failed"
    retry = await turns.begin(died.new_user.principal, ask, request_id=None)
    assert (await turns.answer(retry)).answer.text == "Paris is the capital."


async def test_an_answer_arriving_after_a_retry_took_over_is_not_an_error(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Scripted(), lease=LEASE)
    ask = Ask(text="Capital of France?", client_message_id="c-l")
    slow = await turns.begin(None, ask, request_id=None)
    assert slow.new_user is not None
    await asyncio.sleep(LEASE.total_seconds() * 1.5)
    retry = await turns.begin(slow.new_user.principal, ask, request_id=None)
    await turns.answer(retry)

    late = await turns.answer(slow)

    assert late.saved is True
    assert [m.status for m in await messages_of(pool, slow)] == ["complete", "complete"]
