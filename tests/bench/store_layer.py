"""The level-1 operations through the service's store (over the generated code): the real
calls the endpoints make, so the benchmark measures what production runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from service import store
from service.store import Pool


class StoreLayer:
    def __init__(self, pool: Pool, name: str = "store (generated)") -> None:
        self.pool = pool
        self.name = name

    async def last10(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Sequence[object]:
        page = await store.list_messages(self.pool, user_id, session_id, limit=10)
        return page.messages

    async def turn(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        question: str,
        client_message_id: str,
        answer: str,
        confidence: float,
        citations: Sequence[store.Citation],
    ) -> object:
        # The order /chat follows: store the question, read the context, store the answer.
        started = await store.start_chat_turn(
            self.pool, user_id, session_id, content=question, client_message_id=client_message_id
        )
        await store.list_messages(self.pool, user_id, session_id, limit=10)
        return await store.complete_chat_turn(
            self.pool,
            user_id,
            started.assistant_message.id,
            content=answer,
            confidence=confidence,
            citations_used=citations,
        )

    async def close(self) -> None:
        await self.pool.close()
