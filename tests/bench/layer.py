"""What every data layer under benchmark implements: the two operations of level 1.

Each implementation does the same work with the same guarantees as the service's store:

- ``last10``: the last 10 messages of the user's own session, oldest first, recording the
  read in ``chat_sessions.last_accessed_at`` at most once a minute.
- ``turn``: the persistence of a chat turn: the user message at the session's next sequence
  number (``last_seq + 1``, stored back in ``chat_sessions.last_seq``, ``last_activity_at``
  bumped, only in the user's own session, idempotent on ``client_message_id``), the last 10
  messages read as context, then the assistant's answer (complete, with its citations
  mirrored in ``sources``) and one ``message_citations`` row per citation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from service.store import Citation


class ChatLayer(Protocol):
    """A data layer under benchmark, bound to one database (its own pool or engine)."""

    name: str

    async def last10(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Sequence[object]:
        """Returns the messages, oldest first."""
        ...

    async def turn(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        question: str,
        client_message_id: str,
        answer: str,
        confidence: float,
        citations: Sequence[Citation],
    ) -> object:
        """Returns the completed assistant message."""
        ...

    async def close(self) -> None: ...
