"""The application's own types, below every layer: a question, its answer, the passages it
cites, what it cost. The store, RAG, the use cases and HTTP all speak them.

An answerer streams text pieces and finishes with the complete ``Answer``; ``answer()``
collects a stream for callers that do not stream.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

import msgspec

__all__ = [
    "Answer",
    "Answerer",
    "Citation",
    "Question",
    "RetrievalUnavailable",
    "Usage",
    "answer",
    "estimate_tokens",
]


class Citation(msgspec.Struct, frozen=True, kw_only=True):
    """A chunk an answer used; ranks are 1, 2, ... in order of relevance.

    The fields but ``page`` are the columns CompleteAssistantMessage reads back out of
    ``sources``; the page (of a PDF) is in ``sources`` only, as the chunk's offsets keep it.
    """

    rank: int
    document_id: uuid.UUID | None = None
    chunk_id: uuid.UUID | None = None
    point_id: uuid.UUID | None = None
    score: float | None = None
    document_title: str | None = None
    document_url: str | None = None
    snippet: str | None = None
    page: int | None = None


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated: bool  # True: counted offline, not reported by a model provider


class RetrievalUnavailable(Exception):
    """The vector store cannot be searched: /chat answers 503 rather than guess."""


class Sampling(msgspec.Struct, frozen=True, kw_only=True):
    """What a client asked of the language model's sampling (None: the model's default)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


class Question(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    user_id: uuid.UUID | None  # None when the database is down and the caller is unknown
    session_id: uuid.UUID | None
    sampling: Sampling = Sampling()  # passed to the language model; the extractive one has none
    # Text the reader selected in the page the question is asked from (the legacy ``context``
    # of /chat): retrieval searches with it, and the language model is shown it.
    context: str | None = None

    @property
    def search_text(self) -> str:
        """What retrieval searches for: the question, and the reader's selection if any."""
        return self.text if not self.context else f"{self.text}\n\n{self.context}"


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    sources: list[Citation]
    confidence: float | None
    usage: Usage


class Answerer(Protocol):
    def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        """Text pieces as they are produced, then the complete Answer as the last item."""


async def answer(answerer: Answerer, question: Question) -> Answer:
    """The complete answer of a stream."""
    result = None
    async for item in answerer.stream(question):  # to the end, so the stream can clean up
        if isinstance(item, Answer):
            result = item
    if result is None:
        raise RuntimeError("the answerer ended without an answer")
    return result


def estimate_tokens(text: str) -> int:
    """An offline token count: about four characters per token, as most tokenizers average."""
    return max(1, (len(text) + 3) // 4) if text else 0
