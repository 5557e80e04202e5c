"""The chat turn: store the question, answer it, store the answer.

``begin`` stores the user message and a pending assistant message (starting the session,
and an anonymous user, when needed); ``answer`` or ``stream`` then completes the assistant
message with the answer, or fails it with the error. When PostgreSQL cannot be reached the
question is still answered, and the result says it was not saved.

A retry with the same client_message_id replays the stored turn, except that it answers
the turn again, in place (same message ids), when the first answer cannot arrive any more:
its failure was retryable (the database, the index or the model was unavailable, the
stream was cut), or it is still pending ``lease`` after its last touch (the request
answering it died). ``fail_abandoned`` marks such answers failed for the turn's history.

``regenerate`` starts a turn whose question is stored already: a new pending answer to the
question an earlier answer replied to, superseding that answer; it is answered, streamed,
retried and failed exactly like a ``begin`` turn.

Callers (``POST /chat``, the OpenAI-compatible API, tests) only frame what this returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import msgspec

from .. import store
from ..domain import (
    Answer,
    Answerer,
    Citation,
    Question,
    RetrievalUnavailable,
    Sampling,
    Usage,
    answer,
    estimate_tokens,
)
from ..rag.providers import ProviderError
from .accounts import Accounts, NewUser, Principal, Unidentified

__all__ = [
    "Ask",
    "ChatTurns",
    "CredentialRequired",
    "Started",
    "Turn",
    "TurnFailed",
    "TurnInProgress",
    "TurnResult",
]

log = logging.getLogger("service.chat")

# A first turn without a session gets a session id derived from the user and the
# client_message_id, so its retry finds the same session (and so the same turn).
_FIRST_TURN_SESSIONS = uuid.UUID("6b1d3c9e-8f43-4a57-9d0e-3f6c2a8b7e51")

# What a streamed turn yields: Started, text pieces, then a TurnResult or a TurnFailed.
Events = AsyncGenerator["Started | str | TurnResult | TurnFailed", None]

# Failures a later attempt may not meet: a retry of the turn answers it again.
_TRANSIENT: tuple[type[Exception], ...] = (
    RetrievalUnavailable,
    ProviderError,
    TimeoutError,
    *store.UNAVAILABLE,
)
ABANDONED = "the request answering this turn ended before its answer was stored"

# Failing an interrupted turn: it was failed already, or the database is gone.
_NOTHING_TO_ADD: tuple[type[Exception], ...] = (store.Conflict, *store.UNAVAILABLE)


class Ask(msgspec.Struct, frozen=True, kw_only=True):
    """A question as a client asks it.

    With both ``session_id`` and ``session_key`` (a legacy client's name that reads as a
    UUID), the session is the caller's session with that id, else the one the key names."""

    text: str
    session_id: uuid.UUID | None = None  # None: start a session (or the session_key's)
    session_key: str | None = None  # the client's own name for the session, per user
    client_message_id: str | None = None  # the same id again replays the turn
    sampling: Sampling = Sampling()
    context: str | None = None  # the text the reader selected (recorded in the metadata)


class Turn(msgspec.Struct, frozen=True):
    """What was stored before answering (``stored`` is None when nothing could be)."""

    question: Question
    stored: store.ChatTurn | None
    new_user: NewUser | None  # the anonymous user this turn created

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.question.user_id

    @property
    def token(self) -> str | None:
        """The credential of the anonymous user this turn created, to hand out once."""
        return None if self.new_user is None else self.new_user.token

    def ids(self) -> dict[str, Any]:
        """The turn's session and message ids (empty when it was not stored)."""
        if self.stored is None:
            return {}
        return {
            "session_id": str(self.stored.user_message.session_id),
            "user_message_id": str(self.stored.user_message.id),
            "assistant_message_id": str(self.stored.assistant_message.id),
        }


class TurnResult(msgspec.Struct, frozen=True, kw_only=True):
    answer: Answer
    session_id: uuid.UUID | None  # None only when the turn could not be saved
    user_message_id: uuid.UUID | None
    assistant_message_id: uuid.UUID | None
    saved: bool  # False: the database was unreachable; the answer is not in the history
    replayed: bool  # True: a retry with the same client_message_id
    token: str | None  # a new anonymous user's credential, shown once


class Started(msgspec.Struct, frozen=True, kw_only=True):
    """The first event of a streamed turn: what was stored, before any text."""

    ids: dict[str, Any]
    saved: bool
    replayed: bool
    token: str | None


class CredentialRequired(Exception):
    """A session was named without a credential that could own it."""


class TurnInProgress(Exception):
    """The first request with this client_message_id is still being answered (or the answer
    asked to be regenerated is still being written)."""

    def __init__(
        self,
        ids: dict[str, Any],
        message: str = "the first request with this client_message_id is still being answered",
    ) -> None:
        super().__init__(message)
        self.ids = ids


class TurnFailed(Exception):
    """The answer could not be generated; the turn is stored as failed when ``saved``."""

    def __init__(
        self,
        reason: str,
        *,
        retrieval: bool,
        transient: bool,
        ids: dict[str, Any],
        saved: bool,
        token: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retrieval = retrieval  # True: the document index could not be searched
        self.transient = transient  # True: a retry of the turn answers it again
        self.ids = ids
        self.saved = saved
        self.token = token  # a new anonymous user's credential: a retry needs it


class ChatTurns:
    def __init__(
        self,
        db: store.Pool,
        accounts: Accounts,
        answerer: Answerer,
        *,
        lease: datetime.timedelta = datetime.timedelta(minutes=3),
        budget: float | None = None,
    ) -> None:
        """``budget``: seconds for each write after the answer (DB_REQUEST_BUDGET); ``begin``
        runs within the caller's own deadline (``store.deadline``), if it set one."""
        self._db = db
        self._accounts = accounts
        self._answerer = answerer
        self._lease = lease
        self._budget = budget

    async def sweep_forever(self, interval_seconds: float) -> None:
        """The worker's loop: fail abandoned answers every ``interval_seconds``."""
        while True:
            try:
                await self.fail_abandoned()
            except store.UNAVAILABLE as error:
                log.warning("turn sweep paused, database unavailable: %s", type(error).__name__)
            except Exception:
                log.exception("turn sweep error")
            await asyncio.sleep(interval_seconds)

    async def fail_abandoned(self) -> int:
        """Mark failed (retryably) the answers pending past their lease; how many there were."""
        failed = await store.fail_abandoned_turns(self._db, lease=self._lease, error=ABANDONED)
        if failed:
            log.warning("%d abandoned chat turn(s) marked failed", failed)
        return failed

    async def begin(
        self, caller: Principal | Unidentified | None, ask: Ask, *, request_id: str | None
    ) -> Turn:
        """Store the question and a pending answer; a stored turn is replayed, not repeated.

        ``caller`` is None for a request without a credential (a new anonymous user owns the
        turn), Unidentified when the database could not check the credential.
        """
        try:
            if isinstance(caller, Unidentified):
                raise ConnectionError("the credential could not be checked")
            return await self._store(caller, ask, request_id=request_id)
        except store.UNAVAILABLE as error:
            log.warning("chat turn not saved, database unavailable: %s", type(error).__name__)
            question = Question(
                text=ask.text,
                user_id=None,
                session_id=None,
                sampling=ask.sampling,
                context=ask.context,
            )
            return Turn(question, None, None)

    async def regenerate(
        self, caller: Principal, message_id: uuid.UUID, *, client_message_id: str | None
    ) -> Turn:
        """A new pending answer to the question that answer ``message_id`` replied to, which
        it supersedes: a turn like ``begin``'s, its question already stored, for ``answer``
        or ``stream``. A retry with the same client_message_id replays (or takes over, as
        ``begin`` does) the answer the first request stored.

        TurnInProgress when that answer is still being written; store.NotFound,
        store.NotRegenerable, store.AnswerSuperseded and store.Conflict as
        ``store.start_regenerated_turn`` raises them.
        """
        try:
            stored = await store.start_regenerated_turn(
                self._db, caller.user_id, message_id, client_message_id=client_message_id
            )
        except store.AnswerPending as pending:
            answer = pending.answer
            raise TurnInProgress(
                {
                    "session_id": str(answer.session_id),
                    "user_message_id": str(answer.reply_to_id),
                    "assistant_message_id": str(answer.id),
                },
                "the answer is still being generated: regenerate it once it is complete or failed",
            ) from pending
        stored = await self._resumed(caller, stored)
        asked = stored.user_message
        context = asked.metadata.get("context") if isinstance(asked.metadata, dict) else None
        question = Question(
            text=asked.content,
            user_id=caller.user_id,
            session_id=asked.session_id,
            context=context if isinstance(context, str) else None,
        )
        return Turn(question, stored, None)

    async def answer(self, turn: Turn) -> TurnResult:
        """The turn's answer, stored; TurnFailed (or TurnInProgress for a replay) otherwise."""
        if turn.stored is not None and turn.stored.replayed:
            return _replayed(turn)
        try:
            result = await answer(self._answerer, turn.question)
        except Exception as error:
            log.exception("answer failed")
            raise await self._fail(turn, error) from error
        return await self._complete(turn, result)

    async def stream(self, turn: Turn) -> Events:
        """Started, text pieces, then the stored TurnResult, or the TurnFailed it ended with.

        A replay of a turn still pending or failed raises here, before anything is streamed.
        A stream abandoned before its answer fails the turn, so it never stays pending.
        """
        if turn.stored is not None and turn.stored.replayed:
            return _replay_events(turn, _replayed(turn))
        return self._events(turn)

    async def _events(self, turn: Turn) -> Events:
        token = turn.token
        result: Answer | None = None
        try:  # from the first event: a client may leave as soon as it has the ids
            yield Started(
                ids=turn.ids(), saved=turn.stored is not None, replayed=False, token=token
            )
            async for item in self._answerer.stream(turn.question):
                if isinstance(item, Answer):
                    result = item
                else:
                    yield item
            if result is None:
                raise RuntimeError("the answerer ended without an answer")
        except Exception as error:
            log.exception("streamed answer failed")
            yield await self._fail(turn, error)
            return
        finally:
            if result is None and turn.stored is not None:
                with anyio.CancelScope(shield=True):
                    await self._fail_quietly(turn.stored, "the stream was interrupted")
        with anyio.CancelScope(shield=True):  # a client leaving now must not cut the write short
            try:
                completed: TurnResult | TurnFailed = await self._complete(turn, result)
            except TurnFailed as failure:
                completed = failure
        yield completed

    async def _store(self, caller: Principal | None, ask: Ask, *, request_id: str | None) -> Turn:
        new_user = None
        if caller is None:
            if ask.session_id is not None or ask.session_key is not None:
                raise CredentialRequired("continuing a session needs the token returned with it")
            new_user = await self._accounts.create_anonymous(request_id=request_id)
            caller = new_user.principal
        session_id = ask.session_id
        stored: store.ChatTurn | None = None
        if session_id is not None and ask.session_key is not None:
            try:  # one of the caller's sessions, or else a key
                stored = await self._start(caller, session_id, ask)
            except store.NotFound:
                session_id = None
        if stored is None:
            if session_id is None and ask.session_key is not None:
                keyed = await store.keyed_session(self._db, caller.user_id, ask.session_key)
                session_id = keyed.id
            if session_id is None:
                if ask.client_message_id is not None:
                    name = f"{caller.user_id}:{ask.client_message_id}"
                    session_id = uuid.uuid5(_FIRST_TURN_SESSIONS, name)
                    await store.ensure_session(self._db, caller.user_id, session_id)
                else:
                    session_id = (await store.create_session(self._db, caller.user_id)).id
            stored = await self._start(caller, session_id, ask)
        stored = await self._resumed(caller, stored)
        question = Question(
            text=ask.text,
            user_id=caller.user_id,
            session_id=session_id,
            sampling=ask.sampling,
            context=ask.context,
        )
        return Turn(question, stored, new_user)

    async def _resumed(self, caller: Principal, stored: store.ChatTurn) -> store.ChatTurn:
        """A replayed turn whose first answer cannot arrive any more, taken over to be
        answered again; any other turn as it is."""
        if stored.replayed and stored.assistant_message.status != "complete":
            restarted = await store.restart_chat_turn(
                self._db, caller.user_id, stored.assistant_message.id, lease=self._lease
            )
            if restarted is not None:
                return store.ChatTurn(stored.user_message, restarted, replayed=False)
        return stored

    async def _start(self, caller: Principal, session_id: uuid.UUID, ask: Ask) -> store.ChatTurn:
        """Store the question and its pending answer in the caller's session (NotFound when
        the session is not theirs); the reader's selection goes into the message's metadata."""
        return await store.start_chat_turn(
            self._db,
            caller.user_id,
            session_id,
            content=ask.text,
            client_message_id=ask.client_message_id,
            metadata=None if ask.context is None else {"context": ask.context},
        )

    async def _complete(self, turn: Turn, result: Answer) -> TurnResult:
        """Store the answer on the pending message. When the database is gone by now, a
        transient TurnFailed: the question is stored (saved), the answer is not, and a retry
        answers the turn again once its lease has passed."""
        if turn.stored is not None:
            assistant = turn.stored.assistant_message
            try:
                with store.deadline(self._budget):  # the answer's time is not the database's
                    await store.complete_chat_turn(
                        self._db,
                        assistant.user_id,
                        assistant.id,
                        content=result.text,
                        citations_used=result.sources,
                        confidence=result.confidence,
                        token_count=result.usage.completion_tokens,
                        metadata={"usage": msgspec.to_builtins(result.usage)},
                    )
            except store.UNAVAILABLE as error:
                # The question is stored, its answer is not: the turn stays pending, and a
                # retry answers it again once its lease has passed (or the sweep failed it).
                log.warning("answer not stored, database unavailable: %s", type(error).__name__)
                raise TurnFailed(
                    "the answer could not be stored: the database is unavailable",
                    retrieval=False,
                    transient=True,
                    ids=turn.ids(),
                    saved=True,
                    token=turn.token,
                ) from error
            except store.Conflict:
                # Past its lease, a retry took the turn over (and may have answered it).
                log.warning("answer not stored: the turn was taken over by a retry")
        return _result(turn, result, saved=turn.stored is not None)

    async def _fail(self, turn: Turn, error: Exception) -> TurnFailed:
        """Record the failure on the turn (when stored) and say what failed."""
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        transient = isinstance(error, _TRANSIENT) and getattr(error, "transient", True)
        if turn.stored is not None:
            assistant = turn.stored.assistant_message
            # Gone database: the turn stays pending, and the sweep fails it retryably.
            with contextlib.suppress(*_NOTHING_TO_ADD), store.deadline(self._budget):
                await store.fail_chat_turn(
                    self._db,
                    assistant.user_id,
                    assistant.id,
                    error=_in_our_words(error, transient=transient),
                    retryable=transient,
                )
        return TurnFailed(
            reason,
            retrieval=isinstance(error, RetrievalUnavailable),
            transient=transient,
            ids=turn.ids(),
            saved=turn.stored is not None,
            token=turn.token,
        )

    async def _fail_quietly(self, stored: store.ChatTurn, reason: str) -> None:
        assistant = stored.assistant_message
        with contextlib.suppress(*_NOTHING_TO_ADD), store.deadline(self._budget):
            await store.fail_chat_turn(
                self._db, assistant.user_id, assistant.id, error=reason, retryable=True
            )


def _in_our_words(error: Exception, *, transient: bool) -> str:
    """What the history says about a failed answer. The error's own text (a provider's or
    the driver's, possibly with request details) is logged where it happened, never stored:
    the history is shown to the user."""
    if isinstance(error, RetrievalUnavailable):
        return "the document index could not be searched"
    if isinstance(error, ProviderError):
        if transient:
            return "the language model was unavailable"
        return "the language model refused the request"
    if isinstance(error, (TimeoutError, *store.UNAVAILABLE)):
        return "the database was unavailable"
    return "the answer could not be generated (an internal error)"


def _result(turn: Turn, result: Answer, *, saved: bool, replayed: bool = False) -> TurnResult:
    stored = turn.stored
    return TurnResult(
        answer=result,
        session_id=None if stored is None else stored.user_message.session_id,
        user_message_id=None if stored is None else stored.user_message.id,
        assistant_message_id=None if stored is None else stored.assistant_message.id,
        saved=saved,
        replayed=replayed,
        token=turn.token,
    )


def _replayed(turn: Turn) -> TurnResult:
    """The original outcome of a turn retried with the same client_message_id."""
    assert turn.stored is not None
    assistant = turn.stored.assistant_message
    if assistant.status == "pending":
        raise TurnInProgress(turn.ids())
    if assistant.status == "failed":
        raise TurnFailed(
            assistant.error or "unknown error",
            retrieval=False,
            transient=False,
            ids=turn.ids(),
            saved=True,
        )
    result = Answer(
        text=assistant.content,
        sources=msgspec.convert(assistant.sources, list[Citation]),
        confidence=assistant.confidence,
        usage=_stored_usage(turn.stored),
    )
    return _result(turn, result, saved=True, replayed=True)


async def _replay_events(
    turn: Turn, replay: TurnResult
) -> AsyncGenerator[Started | str | TurnResult, None]:
    yield Started(ids=turn.ids(), saved=True, replayed=True, token=None)
    yield replay.answer.text
    yield replay


def _stored_usage(stored: store.ChatTurn) -> Usage:
    metadata = stored.assistant_message.metadata
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    try:
        return msgspec.convert(usage, Usage)
    except msgspec.ValidationError:
        prompt = estimate_tokens(stored.user_message.content)
        completion = estimate_tokens(stored.assistant_message.content)
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            estimated=True,
        )
