"""The RAG answerer: retrieve the caller's readable chunks from Qdrant, then answer from them:
extractively offline, or with an OpenAI-compatible chat model when one is configured.

Either way an answer cites only the passages its text marks, numbered [1], [2], ... in order
of first mention, and its confidence comes from what those passages show (see
``extractive.confidence``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator

from generated import chunks as chunk_queries

from .. import store
from ..answers import Answer, Question, RetrievalUnavailable, estimate_tokens
from ..errors import DATABASE_UNAVAILABLE
from ..schemas import Usage
from ..settings import Settings
from .extractive import NOT_FOUND, Passage, build_extractive_answer, confidence
from .providers import ChatCompletions, Completion, Embeddings, ProviderError
from .sparse import Lexical
from .vectors import Hit, VectorStore

__all__ = ["RagAnswerer", "cite_marked"]

log = logging.getLogger("service.rag")

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. Cite each passage you "
    "use by its number in square brackets, such as [1] or [1, 2], after the sentences that "
    "use it; cite no passage you did not use. If the passages do not contain the answer, "
    f'reply exactly: "{NOT_FOUND}"'
)

# A citation marker: passage numbers and ranges in brackets, "[1]", "[1, 3]", "[2-4]" ("[1][2]"
# is two markers), with the horizontal space before it, which goes if the marker does. A number
# has at most nine digits (int() refuses huge ones): a longer one in brackets is plain text.
_NUMBERS = r"\d{1,9}(?:\s*[-\u2013]\s*\d{1,9})?"
_MARKER = re.compile(rf"([^\S\n]*)\[(\s*{_NUMBERS}(?:\s*,\s*{_NUMBERS})*\s*)\]")


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
        self.fused = dense is not None
        self.min_score = 0.0 if self.fused else settings.retrieval_min_score

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
            rows = await store.exec_statement(
                self.db,
                lambda conn: chunk_queries.list_chunks_by_point_ids(
                    conn, point_ids=[hit.point_id for hit in hits], user_id=user_id
                ),
                attempts=1,
            )
        except DATABASE_UNAVAILABLE:
            return None  # cite by point id alone; the answer matters more
        return {row.point_id: row.id for row in rows}

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        passages = await self.retrieve(question)
        if self.llm is None:
            answer = build_extractive_answer(
                question.text,
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
        """The model's text as it streams, then the Answer, whose text is authoritative.

        The streamed pieces carry the model's own passage numbers; the Answer's text has its
        markers rewritten by ``cite_marked`` to agree with its sources, and it is what is
        stored and sent in the final "done" event.
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


def cite_marked(text: str, passages: list[Passage]) -> tuple[str, list[Passage]]:
    """The text with its citation markers renumbered, and the passages they name, in order.

    A marker is a bracketed list of passage numbers and ranges: "[1]", "[1, 3]", "[2-4]" (an
    en dash too); "[1][2]" is two markers. The passages named are numbered 1, 2, ... in order
    of first mention, and each marker is rewritten with the new numbers, ranges spelled out
    ("[2-3]" may become "[1, 2]"). Numbers naming no passage are dropped; a marker left empty
    goes, with the space before it. A text without markers cites nothing.
    """
    numbers: dict[int, int] = {}  # position in passages -> new number

    def rewrite(marker: re.Match[str]) -> str:
        renumbered: list[int] = []
        for part in marker.group(2).replace("\u2013", "-").split(","):
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            for number in range(max(low, 1), min(high, len(passages)) + 1):
                new = numbers.setdefault(number - 1, len(numbers) + 1)
                if new not in renumbered:
                    renumbered.append(new)
        if not renumbered:
            return ""
        return f"{marker.group(1)}[{', '.join(map(str, renumbered))}]"

    return _MARKER.sub(rewrite, text), [passages[index] for index in numbers]
