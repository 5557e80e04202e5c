"""Answering a question with RAG: retrieve the caller's readable chunks from Qdrant, then answer from them:
extractively offline, or with an OpenAI-compatible chat model when one is configured.

Either way an answer cites only the passages its text marks, numbered [1], [2], ... in order
of first mention, and its confidence comes from what those passages show (see
``extractive.confidence``). A question asked with the reader's selected text (``context``) is
searched for with it; the extractive answer chooses its sentences for both, and the language
model is shown the selection beside the question.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from .. import store
from ..domain import Answer, Question, RetrievalUnavailable, Usage, estimate_tokens
from ..rag.citations import CitationMarkers, cite_marked
from ..rag.extractive import NOT_FOUND, Passage, build_extractive_answer, confidence
from ..rag.providers import ChatCompletions, Completion, Embeddings, ProviderError
from ..rag.sparse import Lexical
from ..rag.vectors import Hit, VectorStore
from ..settings import Settings

__all__ = ["SYSTEM_PROMPT", "RagAnswerer"]

log = logging.getLogger("service.rag")

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. Cite each passage you "
    "use by its number in square brackets, such as [1] or [1, 2], after the sentences that "
    "use it; cite no passage you did not use. If the passages do not contain the answer, "
    f'reply exactly: "{NOT_FOUND}"'
)


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
        self.fused = dense is not None
        self.min_score = 0.0 if self.fused else settings.retrieval_min_score

    async def retrieve(self, question: Question) -> list[Passage]:
        """The best passages the caller may read, with their chunk ids when the database answers."""
        try:
            searched = question.search_text  # with the reader's selection, if any
            dense = None if self.dense is None else (await self.dense.embed([searched]))[0]
            hits = await self.vectors.search(
                sparse=self.lexical.query(searched),
                dense=dense,
                user_id=question.user_id,
                limit=self.settings.retrieval_top_k,
            )
        except Exception as error:
            raise RetrievalUnavailable(f"{type(error).__name__}: {error}") from error
        chunk_ids = await self._chunk_ids(question.user_id, hits)
        if chunk_ids is not None:
            # A point without a chunk row is stale (its document was deleted, or is still
            # being ingested): nothing to cite.
            hits = [hit for hit in hits if hit.point_id in chunk_ids]
        return [
            Passage(
                document_id=uuid.UUID(hit.payload["document_id"]),
                chunk_id=None if chunk_ids is None else chunk_ids[hit.point_id],
                point_id=hit.point_id,
                score=hit.score,
                text=str(hit.payload.get("text", "")),
                document_title=hit.payload.get("title"),
                document_url=hit.payload.get("url"),
                heading=hit.payload.get("heading"),
                page=hit.payload.get("page"),
            )
            for hit in hits
        ]

    async def _chunk_ids(
        self, user_id: uuid.UUID | None, hits: list[Hit]
    ) -> dict[uuid.UUID, uuid.UUID] | None:
        """point id -> chunk id of the hits the user may read; None when not known (no user,
        or the database is unavailable)."""
        if user_id is None:
            return None
        if not hits:
            return {}
        try:
            with store.deadline(self.settings.db_request_budget):
                return await store.readable_chunk_ids(
                    self.db, user_id, [hit.point_id for hit in hits], attempts=1
                )
        except store.UNAVAILABLE:
            return None  # cite by point id alone; the answer matters more

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        passages = await self.retrieve(question)
        if self.llm is None:
            answer = build_extractive_answer(
                question.search_text,  # the sentences that answer the selection too
                passages,
                min_score=self.min_score,
                lexical=self.lexical,
                fused=self.fused,
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
        """The model's text as it streams, then the Answer.

        The pieces have their citation markers renumbered as they stream (``CitationMarkers``,
        a marker split between pieces held back until whole), so they join into exactly the
        Answer's text, whose markers agree with its sources: a client that only keeps the
        streamed text (an OpenAI client) reads the same numbers as the citations.
        """
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
        selected = ""
        if question.context:  # what the reader selected in the page they ask from
            selected = f"Text the reader selected:\n{question.context}\n\n"
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            *await self._history(question),
            {
                "role": "user",
                "content": f"Passages:\n\n{context}\n\n{selected}Question: {question.text}",
            },
        ]
        pieces: list[str] = []
        markers = CitationMarkers(relevant)
        completion = Completion(None, None)
        sampling = question.sampling
        async for item in self.llm.stream(
            messages,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
        ):
            if isinstance(item, Completion):
                completion = item
            else:
                pieces.append(item)
                if renumbered := markers.feed(item):
                    yield renumbered
        if rest := markers.finish():
            yield rest
        reply = "".join(pieces)
        text, cited = cite_marked(reply, relevant)
        if not text.strip():  # nothing, or only markers naming no passage
            raise ProviderError("the chat completions endpoint returned an empty answer")
        prompt_estimate = estimate_tokens("".join(str(m["content"]) for m in messages))
        reported = completion.prompt_tokens is not None and completion.completion_tokens is not None
        prompt_tokens = completion.prompt_tokens or prompt_estimate
        completion_tokens = completion.completion_tokens or estimate_tokens(reply)
        evidence = [(passage.score, self.lexical.terms(passage.text)) for passage in cited]
        yield Answer(
            text=text,
            sources=[
                passage.cite(rank, passage.text[:300])
                for rank, passage in enumerate(cited, start=1)
            ],
            confidence=confidence(
                self.lexical.terms(question.text),
                evidence,
                min_score=self.min_score,
                fused=self.fused,
            ),
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
            with store.deadline(self.settings.db_request_budget):
                recent = await store.recent_messages(
                    self.db, question.user_id, question.session_id, limit=50
                )
        except store.UNAVAILABLE:
            return []  # answer without the conversation so far
        chosen: list[dict[str, str]] = []
        budget = self.settings.llm_context_tokens
        for message in recent:
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
