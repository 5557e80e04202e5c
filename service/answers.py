"""Answering a question: the interface /chat uses (service.rag.answerer implements it).

An answerer streams text pieces and finishes with the complete ``Answer``; ``answer()``
collects a stream for callers that do not stream.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

import msgspec

from .schemas import Citation, Usage

__all__ = [
    "Answer",
    "Answerer",
    "Question",
    "RetrievalUnavailable",
    "answer",
    "estimate_tokens",
]


class RetrievalUnavailable(Exception):
    """The vector store cannot be searched: /chat answers 503 rather than guess."""


class Question(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    user_id: uuid.UUID | None  # None when the database is down and the caller is unknown
    session_id: uuid.UUID | None


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
