"""Regenerating an answer as a use case, without HTTP: a new answer to the same question, with
the session's next sequence number, superseding the earlier one, under the chat turn's rules."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from service import store
from service.domain import Answer, Question, Usage
from service.rag.providers import ProviderError
from service.settings import Settings
from service.usecases.accounts import Accounts, Principal
from service.usecases.chat import (
    Ask,
    ChatTurns,
    Started,
    Turn,
    TurnFailed,
    TurnInProgress,
    TurnResult,
)

pytestmark = pytest.mark.anyio


class Numbered:
    """An answerer whose every answer says how many it has given ("answer 1", "answer 2"...),
    failing instead with the errors it is given, one per question, first."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.questions: list[Question] = []

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        self.questions.append(question)
        yield "answer"
        if self.errors:
            raise self.errors.pop(0)
        text = f"answer {len(self.questions)}"
        usage = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3, estimated=True)
        yield Answer(text=text, sources=[], confidence=0.5, usage=usage)


def chat_turns(pool: store.Pool, answerer: Numbered) -> ChatTurns:
    return ChatTurns(pool, Accounts(pool, Settings()), answerer)


async def first_turn(
    turns: ChatTurns,
    pool: store.Pool,
    *,
    client_message_id: str | None = None,
    context: str | None = None,
) -> tuple[Principal, TurnResult]:
    """A new user's first question, "Capital of France?", answered: the user, the result."""
    caller = Principal((await store.create_anonymous_user(pool)).id, None)
    ask = Ask(text="Capital of France?", client_message_id=client_message_id, context=context)
    result = await turns.answer(await turns.begin(caller, ask, request_id=None))
    return caller, result


async def history(
    pool: store.Pool, caller: Principal, session_id: uuid.UUID | None, *, all_answers: bool = False
) -> list[store.ChatMessage]:
    assert session_id is not None
    page = await store.list_messages(
        pool, caller.user_id, session_id, limit=100, all_answers=all_answers
    )
    return page.messages


def answer_id(result: TurnResult) -> uuid.UUID:
    assert result.assistant_message_id is not None
    return result.assistant_message_id


async def test_a_regenerated_answer_replies_to_the_same_question_with_the_next_seq(
    pool: store.Pool,
) -> None:
    answerer = Numbered()
    turns = chat_turns(pool, answerer)
    caller, first = await first_turn(turns, pool)

    turn = await turns.regenerate(caller, answer_id(first), client_message_id=None)
    result = await turns.answer(turn)

    question, earlier, newer = await history(pool, caller, first.session_id, all_answers=True)
    assert [(m.seq, m.role, m.status) for m in (question, earlier, newer)] == [
        (1, "user", "complete"),
        (2, "assistant", "complete"),
        (3, "assistant", "complete"),
    ]
    assert newer.id == result.assistant_message_id != earlier.id
    assert result.user_message_id == question.id == newer.reply_to_id == earlier.reply_to_id
    assert result.session_id == first.session_id
    assert (earlier.content, newer.content) == ("answer 1", "answer 2")
    assert earlier.superseded_at is not None
    assert newer.superseded_at is None
    assert answerer.questions[1].text == "Capital of France?"
    session = await store.get_session(pool, caller.user_id, question.session_id)
    assert session.last_seq == 3


async def test_the_history_shows_the_newest_answer_unless_all_answers_are_asked_for(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    second = await turns.answer(
        await turns.begin(
            caller, Ask(text="And of Spain?", session_id=first.session_id), request_id=None
        )
    )

    regenerated = await turns.answer(
        await turns.regenerate(caller, answer_id(first), client_message_id=None)
    )

    assert [(m.seq, m.content) for m in await history(pool, caller, first.session_id)] == [
        (1, "Capital of France?"),
        (3, "And of Spain?"),
        (4, "answer 2"),
        (5, "answer 3"),
    ]
    every = await history(pool, caller, first.session_id, all_answers=True)
    assert [m.seq for m in every] == [1, 2, 3, 4, 5]
    assert every[-1].id == regenerated.assistant_message_id
    assert every[-1].reply_to_id == every[0].id
    assert second.assistant_message_id == every[3].id


async def test_paging_back_skips_superseded_answers_without_gaps(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    for _ in range(3):
        current = (await history(pool, caller, first.session_id))[-1]
        await turns.answer(await turns.regenerate(caller, current.id, client_message_id=None))
    assert first.session_id is not None

    newest = await store.list_messages(pool, caller.user_id, first.session_id, limit=1)
    older = await store.list_messages(
        pool, caller.user_id, first.session_id, limit=1, before=newest.next_cursor
    )

    assert [m.content for m in newest.messages] == ["answer 4"]
    assert [m.content for m in older.messages] == ["Capital of France?"]
    assert older.next_cursor is None


async def test_the_same_client_message_id_returns_the_same_new_answer_and_stores_one(
    pool: store.Pool,
) -> None:
    answerer = Numbered()
    turns = chat_turns(pool, answerer)
    caller, first = await first_turn(turns, pool)

    once = await turns.answer(
        await turns.regenerate(caller, answer_id(first), client_message_id="r-1")
    )
    again = await turns.answer(
        await turns.regenerate(caller, answer_id(first), client_message_id="r-1")
    )

    assert (once.replayed, again.replayed) == (False, True)
    assert again.assistant_message_id == once.assistant_message_id
    assert again.answer.text == once.answer.text == "answer 2"
    assert len(answerer.questions) == 2  # the retry was not answered again
    assert len(await history(pool, caller, first.session_id, all_answers=True)) == 3


async def test_concurrent_regenerations_with_one_client_message_id_store_one_answer(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)

    started = await asyncio.gather(
        *(
            store.start_regenerated_turn(
                pool, caller.user_id, answer_id(first), client_message_id="same"
            )
            for _ in range(6)
        )
    )

    assert len({turn.assistant_message.id for turn in started}) == 1
    assert sorted(turn.replayed for turn in started) == [False] + [True] * 5
    assert len(await history(pool, caller, first.session_id, all_answers=True)) == 3


async def test_of_concurrent_regenerations_with_different_ids_one_wins_the_others_conflict(
    pool: store.Pool,
) -> None:
    """One answer is regenerated once, however many requests race for it: the first to lock
    it stores the new answer, and every other finds it superseded (409), naming the winner."""
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)

    outcomes = await asyncio.gather(
        *(
            store.start_regenerated_turn(
                pool, caller.user_id, answer_id(first), client_message_id=f"r-{n}"
            )
            for n in range(6)
        ),
        return_exceptions=True,
    )

    won = [outcome for outcome in outcomes if isinstance(outcome, store.ChatTurn)]
    lost = [outcome for outcome in outcomes if isinstance(outcome, store.AnswerSuperseded)]
    assert (len(won), len(lost)) == (1, 5), outcomes
    assert {error.current_answer_id for error in lost} == {won[0].assistant_message.id}
    every = await history(pool, caller, first.session_id, all_answers=True)
    assert [(m.seq, m.status) for m in every] == [(1, "complete"), (2, "complete"), (3, "pending")]
    assert [m.id for m in every if m.superseded_at is None][1:] == [won[0].assistant_message.id]


async def test_concurrent_regenerations_and_turns_keep_the_session_gap_free(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    answers = [answer_id(first)]
    for n in range(4):
        result = await turns.answer(
            await turns.begin(
                caller, Ask(text=f"question {n}", session_id=first.session_id), request_id=None
            )
        )
        answers.append(answer_id(result))

    session_id = first.session_id
    assert session_id is not None

    await asyncio.gather(
        *(
            store.start_regenerated_turn(pool, caller.user_id, answer, client_message_id=None)
            for answer in answers
        ),
        *(
            store.start_chat_turn(pool, caller.user_id, session_id, content=f"more {n}")
            for n in range(4)
        ),
    )

    every = await history(pool, caller, first.session_id, all_answers=True)
    assert [m.seq for m in every] == list(range(1, 10 + 5 + 8 + 1))
    current = await history(pool, caller, first.session_id)
    assert len(current) == len(every) - 5
    by_question: dict[uuid.UUID | None, int] = {}
    for message in current:
        if message.role == "assistant":
            by_question[message.reply_to_id] = by_question.get(message.reply_to_id, 0) + 1
    assert set(by_question.values()) == {1}  # one current answer per question


async def test_a_superseded_answer_is_not_regenerated_again(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    newer = await turns.answer(
        await turns.regenerate(caller, answer_id(first), client_message_id=None)
    )

    with pytest.raises(store.AnswerSuperseded) as superseded:
        await turns.regenerate(caller, answer_id(first), client_message_id=None)

    assert superseded.value.current_answer_id == newer.assistant_message_id
    assert len(await history(pool, caller, first.session_id, all_answers=True)) == 3


async def test_an_answer_still_being_written_is_not_regenerated(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    caller = Principal((await store.create_anonymous_user(pool)).id, None)
    pending = await turns.begin(caller, Ask(text="Capital of France?"), request_id=None)
    assert pending.stored is not None

    with pytest.raises(TurnInProgress) as in_progress:
        await turns.regenerate(caller, pending.stored.assistant_message.id, client_message_id="r-p")

    assert in_progress.value.ids == pending.ids()
    assert len(await history(pool, caller, pending.question.session_id, all_answers=True)) == 2


async def test_a_question_is_not_regenerated(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    assert first.user_message_id is not None

    with pytest.raises(store.NotRegenerable):
        await turns.regenerate(caller, first.user_message_id, client_message_id=None)


async def test_another_users_answer_is_not_found(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    _, first = await first_turn(turns, pool)
    intruder = Principal((await store.create_anonymous_user(pool)).id, None)

    for message_id in (answer_id(first), uuid.uuid4()):
        with pytest.raises(store.NotFound):
            await turns.regenerate(intruder, message_id, client_message_id=None)


async def test_a_client_message_id_used_by_another_message_of_the_session_conflicts(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool, client_message_id="asked")

    with pytest.raises(store.Conflict, match="client_message_id"):
        await turns.regenerate(caller, answer_id(first), client_message_id="asked")

    every = await history(pool, caller, first.session_id, all_answers=True)
    assert [m.superseded_at for m in every] == [None, None]  # nothing changed


async def test_a_failed_regeneration_leaves_a_failed_answer_and_can_be_regenerated(
    pool: store.Pool,
) -> None:
    answerer = Numbered()
    turns = chat_turns(pool, answerer)
    caller, first = await first_turn(turns, pool)
    answerer.errors.append(RuntimeError("model exploded"))

    with pytest.raises(TurnFailed) as failed:
        await turns.answer(await turns.regenerate(caller, answer_id(first), client_message_id="f"))

    assert failed.value.saved is True
    assert failed.value.transient is False
    question, failure = await history(pool, caller, first.session_id)
    assert (failure.status, failure.reply_to_id) == ("failed", question.id)
    assert failure.error == "the answer could not be generated (an internal error)"
    # The failed answer is the current one: it can itself be regenerated.
    result = await turns.answer(await turns.regenerate(caller, failure.id, client_message_id=None))
    assert [m.content for m in await history(pool, caller, first.session_id)] == [
        "Capital of France?",
        result.answer.text,
    ]


async def test_a_retried_regeneration_that_failed_transiently_is_answered_again_in_place(
    pool: store.Pool,
) -> None:
    answerer = Numbered()
    turns = chat_turns(pool, answerer)
    caller, first = await first_turn(turns, pool)
    answerer.errors.append(ProviderError("the model timed out"))
    turn = await turns.regenerate(caller, answer_id(first), client_message_id="t")
    with pytest.raises(TurnFailed):
        await turns.answer(turn)

    retry = await turns.regenerate(caller, answer_id(first), client_message_id="t")
    result = await turns.answer(retry)

    assert retry.ids() == turn.ids()
    assert result.replayed is False
    every = await history(pool, caller, first.session_id, all_answers=True)
    assert [(m.status, m.superseded_at is None) for m in every] == [
        ("complete", True),
        ("complete", False),
        ("complete", True),
    ]


async def test_a_streamed_regeneration_sends_its_ids_then_text_then_the_stored_result(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    turn = await turns.regenerate(caller, answer_id(first), client_message_id=None)

    events = [event async for event in await turns.stream(turn)]

    started, piece, result = events
    assert isinstance(started, Started)
    assert started.ids == turn.ids()
    assert started.ids["user_message_id"] == str(first.user_message_id)
    assert piece == "answer"
    assert isinstance(result, TurnResult)
    newest = (await history(pool, caller, first.session_id))[-1]
    assert (newest.id, newest.status, newest.content) == (
        result.assistant_message_id,
        "complete",
        "answer 2",
    )


async def test_an_abandoned_streamed_regeneration_is_failed_not_left_pending(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    events = await turns.stream(
        await turns.regenerate(caller, answer_id(first), client_message_id=None)
    )
    assert isinstance(await anext(events), Started)

    await events.aclose()  # the client went away

    newest = (await history(pool, caller, first.session_id))[-1]
    assert (newest.status, newest.error) == ("failed", "the stream was interrupted")


async def test_an_abandoned_regeneration_is_failed_by_the_sweep(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool)
    turn = await turns.regenerate(caller, answer_id(first), client_message_id=None)
    sweeping = ChatTurns(pool, Accounts(pool, Settings()), Numbered(), lease=datetime.timedelta(0))

    assert await sweeping.fail_abandoned() == 1

    newest = (await history(pool, caller, first.session_id))[-1]
    assert (str(newest.id), newest.status) == (turn.ids()["assistant_message_id"], "failed")


async def test_a_retried_chat_turn_replays_its_newest_answer(pool: store.Pool) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool, client_message_id="asked")
    newer = await turns.answer(
        await turns.regenerate(caller, answer_id(first), client_message_id=None)
    )

    retry = await turns.begin(
        caller,
        Ask(text="Capital of France?", session_id=first.session_id, client_message_id="asked"),
        request_id=None,
    )
    replayed = await turns.answer(retry)

    assert replayed.replayed is True
    assert replayed.assistant_message_id == newer.assistant_message_id
    assert replayed.answer.text == "answer 2"


async def test_the_regenerated_answer_is_written_without_the_answer_it_replaces(
    pool: store.Pool,
) -> None:
    turns = chat_turns(pool, Numbered())
    caller, first = await first_turn(turns, pool, context="the selected text")
    assert first.session_id is not None
    turn = await turns.regenerate(caller, answer_id(first), client_message_id=None)

    recent = await store.recent_messages(pool, caller.user_id, first.session_id, limit=10)

    assert turn.question.context == "the selected text"
    assert [m.seq for m in recent] == [3, 1]  # the pending new answer, the question


async def test_the_database_refuses_to_supersede_a_pending_answer_or_a_question(
    pool: store.Pool, database_url: str
) -> None:
    turns = chat_turns(pool, Numbered())
    caller = Principal((await store.create_anonymous_user(pool)).id, None)
    pending: Turn = await turns.begin(caller, Ask(text="Capital of France?"), request_id=None)
    assert pending.stored is not None
    conn = await asyncpg.connect(database_url)
    try:
        for message in (pending.stored.user_message, pending.stored.assistant_message):
            with pytest.raises(asyncpg.CheckViolationError, match="superseded_at"):
                await conn.execute(
                    "UPDATE chat_messages SET superseded_at = now() WHERE id = $1", message.id
                )
    finally:
        await conn.close()
