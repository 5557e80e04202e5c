"""Sessions as chat widgets name them: by one of the caller's session ids, or by a key of the
client's own choosing (``POST /chat``'s ``session_id``, ``GET /history/{session_id}``).

A name that reads as a UUID and is one of the caller's sessions is that session. Any other
name (another user's session id included) is the caller's own key: the first chat turn with
it starts the session it names (``store.keyed_session``), later turns and history reads find
it. Keys belong to their user: the same key from two users names two sessions.
"""

from __future__ import annotations

import uuid

import msgspec

from .. import store

__all__ = ["named_messages", "session_uuid"]


def session_uuid(name: str) -> uuid.UUID | None:
    """The session id a name reads as (a UUID: 36 characters with hyphens or 32 hex digits,
    in any case), None when it reads as none."""
    if len(name) not in (32, 36):
        return None
    try:
        return msgspec.convert(name, uuid.UUID)
    except msgspec.ValidationError:
        return None


async def named_messages(
    db: store.Pool,
    user_id: uuid.UUID,
    name: str,
    *,
    limit: int,
    before: str | None,
    all_answers: bool = False,
) -> store.MessagePage:
    """A page of the messages of the user's session so named (``store.list_messages``);
    NotFound when the name is neither one of the user's session ids nor a key that started a
    session of theirs."""
    session_id = session_uuid(name)
    if session_id is not None:
        try:
            return await store.list_messages(
                db, user_id, session_id, limit=limit, before=before, all_answers=all_answers
            )
        except store.NotFound:
            pass  # not one of the user's sessions: the name is a key
    keyed = await store.find_keyed_session(db, user_id, name)
    if keyed is None:
        raise store.NotFound("session not found")
    return await store.list_messages(
        db, user_id, keyed.id, limit=limit, before=before, all_answers=all_answers
    )
