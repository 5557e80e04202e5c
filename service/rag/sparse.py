"""Lexical embeddings for Qdrant sparse vectors: hashed terms weighted like BM25, fully offline.

The collection's sparse vector uses Qdrant's IDF modifier, so Qdrant computes each term's
inverse document frequency at query time over the whole collection. A document therefore
carries only BM25's term-frequency part, and a query weighs each of its terms 1.0: the score
of a document is the sum over shared terms of idf(term) * tf_weight(term, document).

Terms come from ``tokenize``: casefolded, accents stripped, English stopwords dropped, then a
light rule-based stemmer (see ``stem``). Both sides use the same function, so its
imperfections (some words that should meet do not, a few that should not do) are
consistent. A term's index is a stable hash of its text (``term_id``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import msgspec

__all__ = [
    "MODEL_NAME",
    "STOPWORDS",
    "SparseVector",
    "document_vector",
    "query_vector",
    "stem",
    "term_id",
    "tokenize",
]

MODEL_NAME = "bm25-hashed-v1"  # the documents' embedding_model; change it when terms change

_STOPWORD_LIST = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself
    yourselves
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())

_WORD = re.compile(r"[^\W_]+")  # runs of Unicode letters and digits
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_VOWELS = frozenset("aeiouy")
_UNDOUBLED = frozenset("bcdfghjkmnpqrtvwx")  # "install", "pass", "buzz" keep theirs


class SparseVector(msgspec.Struct, frozen=True, kw_only=True):
    """Qdrant's sparse vector: strictly increasing indices, one value each."""

    indices: list[int]
    values: list[float]


def tokenize(text: str) -> list[str]:
    """The terms of a text, in order, repeats kept.

    Casefolded; NFKD-decomposed with every combining mark dropped ("Ångström" -> "angstrom"); split
    into runs of letters and digits (underscores and punctuation separate words); stopwords
    and one-letter words dropped (numbers are kept at any length); then stemmed. Scripts
    written without spaces come out as one term per run.
    """
    folded = unicodedata.normalize("NFKD", text.casefold())
    if not folded.isascii():
        folded = _NON_ASCII.sub(_drop_mark, folded)
    terms = []
    for word in _WORD.findall(folded):
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
            continue
        terms.append(stem(word))
    return terms


def stem(word: str) -> str:
    """A light English stemmer: a plural ending, then a verb or adverb ending, then a final "e".

    Words with digits stay as they are. In order:

    1. "ies" -> "y" ("policies" -> "policy"); "sses" -> "ss"; "xes", "ches", "shes" lose
       "es" ("classes" -> "class", "boxes" -> "box"); or a final "s" goes when at least three
       letters stay, except after "s", "u", "i" ("documents" -> "document"; "class",
       "status", "analysis" stay).
    2. "ied" -> "y" ("studied" -> "study"); or "ing" or "ed" goes when at least three
       letters with a vowel stay ("string", "shed" stay; so does "eed": "speed"), and a
       doubled final consonant other than l, s, z is then undoubled ("running" -> "run",
       "embeddings" -> "embed"); or "ly" goes when at least four letters stay
       ("quickly" -> "quick"; "only", "apply" stay).
    3. A final "e" goes from words of four letters or more, so that "store", "stores",
       "stored" and "storing" all become "stor".
    """
    if not word.isalpha():
        return word
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")) and len(word) >= 5:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) >= 4:
        word = word[:-1]
    if len(word) > 4 and word.endswith("ied"):
        word = word[:-3] + "y"
    elif word.endswith("ing"):
        word = _strip_verb_suffix(word, 3)
    elif word.endswith("ed") and not word.endswith("eed"):
        word = _strip_verb_suffix(word, 2)
    elif word.endswith("ly") and len(word) >= 6:
        word = word[:-2]
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    return word


def term_id(term: str) -> int:
    """The term's sparse index: the first four bytes of its BLAKE2b digest, as 31 bits.

    Stable across processes and versions (unlike ``hash``); different terms can collide,
    and their weights then add up.
    """
    digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


def document_vector(
    text: str, *, k1: float = 1.2, b: float = 0.75, avg_doc_len: float = 256.0
) -> SparseVector:
    """The BM25 term-frequency weight of each term of a document (Qdrant adds the IDF).

    weight = tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_doc_len)), where tf is
    the term's count and doc_len the number of terms: repeats weigh more, but less than
    linearly, and the same count weighs less in a longer document.
    """
    if k1 < 0 or not 0 <= b <= 1 or avg_doc_len <= 0:
        raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and avg_doc_len > 0")
    counts = Counter(tokenize(text))
    doc_len = sum(counts.values())
    norm = k1 * (1 - b + b * doc_len / avg_doc_len)
    return _vector((term, tf * (k1 + 1) / (tf + norm)) for term, tf in counts.items())


def query_vector(text: str) -> SparseVector:
    """Weight 1.0 for each distinct term of a query: Qdrant multiplies it by the term's IDF."""
    return _vector((term, 1.0) for term in dict.fromkeys(tokenize(text)))


def _vector(weights: Iterable[tuple[str, float]]) -> SparseVector:
    merged: dict[int, float] = {}
    for term, weight in weights:
        index = term_id(term)
        merged[index] = merged.get(index, 0.0) + weight
    indices = sorted(merged)
    return SparseVector(indices=indices, values=[merged[index] for index in indices])


def _strip_verb_suffix(word: str, length: int) -> str:
    stem_ = word[:-length]
    if len(stem_) < 3 or not _VOWELS.intersection(stem_):
        return word
    if len(stem_) >= 4 and stem_[-1] == stem_[-2] and stem_[-1] in _UNDOUBLED:
        stem_ = stem_[:-1]
    return stem_


def _drop_mark(match: re.Match[str]) -> str:
    return "" if unicodedata.category(match.group())[0] == "M" else match.group()
