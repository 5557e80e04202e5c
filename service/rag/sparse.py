"""Lexical (BM25) sparse vectors, computed in the service by Qdrant's own BM25 model.

``qdrant_edge.Bm25`` is the tokenizer, stopword list and stemmer that Qdrant's server-side
inference uses, with the same configuration shape; we compute the vectors here, so the
embedded engine and a Qdrant server receive the same ones. The collection's sparse vector
uses Qdrant's IDF modifier: a document carries BM25's term-frequency part only, a query
weighs each distinct term 1.0, and Qdrant multiplies in each term's inverse document
frequency at search time over the whole collection.

The model name written on every document (``Lexical.name``) spells out the configuration:
vectors made under another configuration do not meet this one's, so a change means
``python -m service reindex``.
"""

from __future__ import annotations

import functools
import itertools

import msgspec
from qdrant_edge import Bm25, Bm25Config
from qdrant_edge import SparseVector as EngineVector

from ..settings import Settings

__all__ = ["Lexical", "SparseVector"]

FAMILY = "qdrant-bm25"  # vectors from qdrant_edge.Bm25


class SparseVector(msgspec.Struct, frozen=True, kw_only=True):
    """Qdrant's sparse vector: strictly increasing indices, one value each."""

    indices: list[int]
    values: list[float]


class Lexical:
    """Qdrant's BM25 under one configuration: document vectors, query vectors, term sets.

    ``avg_len`` is the average document length in terms that BM25's length normalization
    assumes; it should be near the corpus's real average chunk length (see the README).
    """

    def __init__(self, *, language: str, avg_len: float) -> None:
        self._model = Bm25(Bm25Config(language=language, avg_len=avg_len))
        self.name = f"{FAMILY}-{language}-avg{avg_len:g}"
        # The extractive answer asks for the terms of the same passage sentences again and
        # again (popular passages): remember them.
        self.terms = functools.lru_cache(maxsize=16_384)(self._terms)

    @classmethod
    def configured(cls, settings: Settings) -> Lexical:
        """The model BM25_LANGUAGE and BM25_AVG_LEN ask for."""
        return cls(language=settings.bm25_language, avg_len=settings.bm25_avg_len)

    def document(self, text: str) -> SparseVector:
        """BM25 term-frequency weights (k=1.2, b=0.75) of the text's terms."""
        return _sorted(self._model.embed_document(text))

    def query(self, text: str) -> SparseVector:
        """Weight 1.0 for each distinct term: Qdrant multiplies it by the term's IDF."""
        return _sorted(self._model.embed_query(text))

    def _terms(self, text: str) -> frozenset[int]:
        """The text's distinct terms (as their indices): what a query and a passage share."""
        return frozenset(self._model.embed_query(text).indices)


def _sorted(vector: EngineVector) -> SparseVector:
    indices, values = vector.indices, vector.values
    if all(a < b for a, b in itertools.pairwise(indices)):
        return SparseVector(indices=indices, values=values)
    ordered = sorted(zip(indices, values, strict=True))
    return SparseVector(indices=[i for i, _ in ordered], values=[v for _, v in ordered])
