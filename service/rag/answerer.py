"""The RAG answerer: retrieve the caller's readable chunks from Qdrant, then answer from them:
extractively offline, or with an OpenAI-compatible chat model when one is configured.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from generated import chunks as chunk_queries

from .. import store
from ..answers import Answer, Question, RetrievalUnavailable, estimate_tokens
from ..errors import DATABASE_UNAVAILABLE
from ..schemas import Citation, Usage
from ..settings import Settings
from .extractive import NOT_FOUND, Passage, build_extractive_answer
from .providers import ChatCompletions, Completion, Embeddings, ProviderError
from .sparse import Lexical
from .vectors import Hit, VectorStore

__all__ = ["RagAnswerer"]

log = logging.getLogger("service.rag")

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. Cite the passages you "
    "use as [1], [2], ... after the sentences that use them. If the passages do not contain "
    f'the answer, reply exactly: "{NOT_FOUND}"'
)


# The session is gone or the database is down: answer without the conversation so far.
_NO_HISTORY: tuple[type[Exception], ...] = (store.StoreError, *DATABASE_UNAVAILABLE)


class RagAnswerer:
    def __init__(
        self,
        db: store.Pool,
        vectors: VectorStore,
        settings: Settings,
        *,
        lexical: Lexical,
        dense: Embeddings | None = None,
        llm: ChatCompletions | None = None,
    ) -> None:
        self.db = db
        self.vectors = vectors
        self.settings = settings
        self.lexical = lexical
        self.dense = dense
        self.llm = llm
        # Fused (RRF) scores are ranks, not similarities: the threshold is for BM25 scores.
        self.min_score = settings.retrieval_min_score if dense is None else 0.0

    async def retrieve(self, question: Question) -> list[Passage]:
        """The best passages the caller may read, with their chunk ids when the database answers."""
        try:
            dense = None if self.dense is None else (await self.dense.embed([question.text]))[0]
            hits = await self.vectors.search(
                sparse=self.lexical.query(question.text),
                dense=dense,
                user_id=question.user_id,
                limit=self.settings.retrieval_top_k,
            )
        except Exception as error:
            raise RetrievalUnavailable(f"{type(error).__name__}: {error}") from error
        chunk_ids = await self._chunk_ids(question.user_id, hits)
        return [
            Passage(
                document_id=uuid.UUID(hit.payload["document_id"]),
                chunk_id=chunk_ids.get(hit.point_id),
                point_id=hit.point_id,
                score=hit.score,
                text=str(hit.payload.get("text", "")),
                document_title=hit.payload.get("title"),
                document_url=hit.payload.get("url"),
                heading=hit.payload.get("heading"),
            )
            for hit in hits
        ]

    async def _chunk_ids(
        self, user_id: uuid.UUID | None, hits: list[Hit]
    ) -> dict[uuid.UUID, uuid.UUID]:
        if user_id is None or not hits:
            return {}
        try:
            rows = await store.exec_statement(
                self.db,
                lambda conn: chunk_queries.list_chunks_by_point_ids(
                    conn, point_ids=[hit.point_id for hit in hits], user_id=user_id
                ),
                attempts=1,
            )
        except DATABASE_UNAVAILABLE:
            return {}  # cite by point id alone; the answer matters more
        return {row.point_id: row.id for row in rows}

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        passages = await self.retrieve(question)
        if self.llm is None:
            answer = build_extractive_answer(
                question.text, passages, min_score=self.min_score, lexical=self.lexical
            )
            words = answer.text.split(" ")
            for index, word in enumerate(words):
                yield word if index == 0 else " " + word
            yield answer
            return
        async for item in self._generate(question, passages):
            yield item

    async def _generate(
        self, question: Question, passages: list[Passage]
    ) -> AsyncIterator[str | Answer]:
        assert self.llm is not None
        relevant = [passage for passage in passages if passage.score >= self.min_score]
        if not relevant:  # nothing to answer from: say so, without asking the model to guess
            answer = build_extractive_answer(
                question.text, [], min_score=self.min_score, lexical=self.lexical
            )
            yield answer.text
            yield answer
            return
        context = "\n\n".join(
            f"[{rank}] {passage.document_title or 'untitled'}\n{passage.text}"
            for rank, passage in enumerate(relevant, start=1)
        )
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            *await self._history(question),
            {"role": "user", "content": f"Passages:\n\n{context}\n\nQuestion: {question.text}"},
        ]
        pieces: list[str] = []
        completion = Completion(None, None)
        async for item in self.llm.stream(messages):
            if isinstance(item, Completion):
                completion = item
            else:
                pieces.append(item)
                yield item
        text = "".join(pieces)
        if not text.strip():
            raise ProviderError("the chat completions endpoint returned an empty answer")
        prompt_estimate = estimate_tokens("".join(str(m["content"]) for m in messages))
        reported = completion.prompt_tokens is not None and completion.completion_tokens is not None
        prompt_tokens = completion.prompt_tokens or prompt_estimate
        completion_tokens = completion.completion_tokens or estimate_tokens(text)
        top = max((passage.score for passage in relevant), default=0.0)
        yield Answer(
            text=text,
            sources=[_citation(rank, passage) for rank, passage in enumerate(relevant, start=1)],
            confidence=0.0
            if not relevant or text.strip() == NOT_FOUND
            else round(top / (top + 1.0), 3),
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
                estimated=not reported,
            ),
        )

    async def _history(self, question: Question) -> list[dict[str, str]]:
        """The session's recent complete messages, chosen newest first within the token budget."""
        if question.user_id is None or question.session_id is None:
            return []
        try:
            page = await store.list_messages(
                self.db, question.user_id, question.session_id, limit=50
            )
        except _NO_HISTORY:
            return []
        chosen: list[dict[str, str]] = []
        budget = self.settings.llm_context_tokens
        for message in reversed(page.messages):
            if message.status != "complete" or message.role not in ("user", "assistant"):
                continue
            if message.role == "user" and message.content == question.text and not chosen:
                continue  # the question being answered, stored just before
            cost = estimate_tokens(message.content)
            if cost > budget:
                break
            budget -= cost
            chosen.append({"role": message.role, "content": message.content})
        return chosen[::-1]


def _citation(rank: int, passage: Passage) -> Citation:
    return Citation(
        rank=rank,
        document_id=passage.document_id,
        chunk_id=passage.chunk_id,
        point_id=passage.point_id,
        score=passage.score,
        document_title=passage.document_title,
        document_url=passage.document_url,
        snippet=passage.text[:300],
    )
