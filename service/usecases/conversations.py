"""Conversations that clients resend whole each turn (OpenAI's chat completions), mapped onto
sessions, each turn stored once.

Which session a request continues:
1. the one it names (``X-Session-Id``: one of the caller's session ids);
2. else the one its front end names (``X-OpenWebUI-Chat-Id``: a session keyed by that chat
   id, per user, started the first time);
3. else the one where the conversation it resends was stored: every question stored this
   way gets, as its client message id, a digest of the conversation up to and including it
   (user and assistant messages, in order; system messages do not count). A request whose
   earlier messages end with a question stored so goes on in that question's session;
   otherwise it starts a session.

The new question's client message id is the digest of the whole conversation: the same
request again (a retry) replays the stored turn instead of storing it twice. So does a
front end's "regenerate", which resends the same messages: the stored answer comes back.
Two conversations the same user starts with the same words are one conversation until
they differ, and then go on in the same session; naming the session (1 or 2) keeps them
apart.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Literal

import msgspec

from .. import store
from ..domain import Sampling
from .accounts import Principal, Unidentified
from .chat import Ask

__all__ = ["Conversations", "Said", "conversation_digest"]

# How a client message id made here starts: apart from ids clients choose on POST /chat.
DIGEST_PREFIX = "conversation:"
OPENWEBUI_CHAT = "openwebui-chat:"  # session keys of Open WebUI's chat ids


class Said(msgspec.Struct, frozen=True):
    """One message of a resent conversation, as far as sessions go: who said what."""

    role: Literal["user", "assistant"]
    text: str


def conversation_digest(messages: Sequence[Said]) -> str:
    """The client message id of the last message of ``messages``: a digest of them all."""
    digest = hashlib.sha256()
    for message in messages:
        for part in (message.role, message.text):
            encoded = part.encode()
            digest.update(len(encoded).to_bytes(8, "big"))  # no two sequences read the same
            digest.update(encoded)
    return DIGEST_PREFIX + digest.hexdigest()


class Conversations:
    def __init__(self, db: store.Pool) -> None:
        self._db = db

    async def ask(
        self,
        caller: Principal | Unidentified,
        conversation: Sequence[Said],
        *,
        session_id: uuid.UUID | None = None,
        chat_id: str | None = None,
        sampling: Sampling | None = None,
    ) -> Ask:
        """The chat turn of the conversation's last message (a question) in its session."""
        question = conversation[-1]
        assert question.role == "user"
        ask = Ask(
            text=question.text,
            session_id=session_id,
            client_message_id=conversation_digest(conversation),
            sampling=sampling or Sampling(),
        )
        if session_id is not None or isinstance(caller, Unidentified):
            return ask
        if chat_id is not None:
            return msgspec.structs.replace(ask, session_key=OPENWEBUI_CHAT + chat_id)
        earlier = _through_last_question(conversation[:-1])
        if earlier:
            digest = conversation_digest(earlier)
            found = await store.session_of_client_message(self._db, caller.user_id, digest)
            if found is not None:
                return msgspec.structs.replace(ask, session_id=found)
        return ask


def _through_last_question(messages: Sequence[Said]) -> Sequence[Said]:
    """``messages`` up to and including the last question (empty without one)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return messages[: index + 1]
    return ()
