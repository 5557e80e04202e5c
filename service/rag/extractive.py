"""The offline answer: the retrieved sentences that best answer the question, each cited.

No model writes anything: the answer is made of sentences taken word for word from the
passages (only whitespace is normalized), each followed by a marker such as "[1]" naming
its source. When no passage scores at least ``min_score`` the answer says so plainly.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass

import msgspec

from ..domain import Answer, Citation, Usage, estimate_tokens
from .sparse import Lexical

__all__ = ["NOT_FOUND", "Passage", "build_extractive_answer", "confidence", "split_sentences"]

NOT_FOUND = "I could not find this in the documents."
SNIPPET_CHARS = 300  # a citation's snippet, ellipses included
SENTENCE_CHARS = 400  # a longer "sentence" (text without punctuation) is cut at a word

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_LIST_MARKER = re.compile(r"(?:[-*+\u2022]|\d{1,3}[.)]|#{1,6})\s+")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]\u2019\u201d]*\s+")
# Headings name a topic; they do not answer a question, so they are never quoted.
_HEADING_LINE = re.compile(r"^ {0,3}#{1,6}(?: .*)?$", re.MULTILINE)
_LINE_END = (".", "!", "?", ":", ";")
_ABBREVIATIONS = frozenset(
    ["dr", "e.g", "etc", "fig", "i.e", "inc", "ltd", "mr", "mrs", "ms", "prof", "sr", "st", "vs"]
)


class Passage(msgspec.Struct, frozen=True, kw_only=True):
    """A retrieved chunk and where it comes from; a higher score is a better match."""

    document_id: uuid.UUID
    chunk_id: uuid.UUID | None
    point_id: uuid.UUID
    score: float
    text: str
    document_title: str | None
    document_url: str | None
    heading: str | None
    page: int | None = None  # the PDF page the passage starts on

    def cite(self, rank: int, snippet: str) -> Citation:
        """This passage as an answer's citation number ``rank``."""
        return Citation(
            rank=rank,
            document_id=self.document_id,
            chunk_id=self.chunk_id,
            point_id=self.point_id,
            score=self.score,
            document_title=self.document_title,
            document_url=self.document_url,
            snippet=snippet,
            page=self.page,
        )


@dataclass(frozen=True)
class _Sentence:
    passage: int  # the passage's position, best first
    position: int  # the sentence's position in its passage
    text: str
    terms: frozenset[int]


def build_extractive_answer(
    question: str,
    passages: list[Passage],
    *,
    min_score: float,
    lexical: Lexical,
    fused: bool = False,
    max_sentences: int = 3,
) -> Answer:
    """An answer made of up to ``max_sentences`` passage sentences, cited, or NOT_FOUND.

    Passages scoring below ``min_score`` are ignored. Sentences are chosen greedily: each
    next one adds the most question terms not yet covered (ties: more question terms in all,
    then the better passage, then the earlier sentence); choosing stops when no sentence adds
    a term. If no sentence shares a term with the question, the first sentence of the best
    passage stands in (retrieval judged it relevant). The chosen sentences are read in
    passage order, then in their order within a passage; sources are numbered in that order.

    ``fused`` says the scores are reciprocal-rank-fusion ranks (hybrid retrieval), not BM25
    scores. The confidence is ``confidence()`` over the cited sentences (the answer's text),
    each with its passage's score.
    """
    if max_sentences < 1:
        raise ValueError("max_sentences must be at least 1")
    kept = _relevant(passages, min_score)
    question_terms = lexical.terms(question)
    sentences = [
        _Sentence(index, position, text, lexical.terms(text))
        for index, passage in enumerate(kept)
        for position, text in enumerate(_quotable_sentences(passage.text))
    ]
    chosen = _choose(sentences, question_terms, max_sentences)
    prompt_tokens = estimate_tokens("\n\n".join([question, *(p.text for p in kept)]))
    if not chosen:
        return _answer(NOT_FOUND, [], 0.0, prompt_tokens)

    ranks: dict[int, int] = {}  # passage position -> citation rank
    parts = []
    for sentence in chosen:
        rank = ranks.setdefault(sentence.passage, len(ranks) + 1)
        parts.append(f"{_shorten(sentence.text, SENTENCE_CHARS)} [{rank}]")
    sources = [
        kept[index].cite(rank, _snippet(kept[index].text, _first_cited(chosen, index)))
        for index, rank in ranks.items()
    ]
    evidence = [
        (
            kept[index].score,
            frozenset[int]().union(*(s.terms for s in chosen if s.passage == index)),
        )
        for index in ranks
    ]
    result = confidence(question_terms, evidence, min_score=min_score, fused=fused)
    return _answer(" ".join(parts), sources, result, prompt_tokens)


def confidence(
    question_terms: frozenset[int],
    cited: list[tuple[float, frozenset[int]]],
    *,
    min_score: float,
    fused: bool,
) -> float:
    """How well the cited text supports an answer: 0.0 (no evidence) to 1.0.

    ``cited`` holds one (score, terms of its cited text) pair per cited passage.

    confidence = coverage * strength, rounded to three places, where coverage is the
    fraction of the question's terms that the cited text contains, and strength is
    top / (top + scale): top is the best score among the cited passages that contain a
    question term, scale is min_score when positive, else 1.0 (a passage at the threshold
    gives 0.5). When ``fused`` the scores are ranks, which say nothing of how well a passage
    matches, so strength is 1.0 and coverage alone speaks. Nothing cited, or no question
    term covered (a question of stopwords included), gives 0.0. A passage that contains no
    question term changes neither factor: citing it never raises the confidence.
    """
    covered = frozenset[int]().union(*(terms & question_terms for _, terms in cited))
    if not covered:
        return 0.0
    coverage = len(covered) / len(question_terms)
    if fused:
        return round(coverage, 3)
    top = max(max(0.0, score) for score, terms in cited if terms & question_terms)
    scale = min_score if min_score > 0 else 1.0
    return round(coverage * top / (top + scale), 3)


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, whitespace-normalized, list markers and heading marks removed.

    Paragraphs (blank lines), list items and Markdown headings always stand apart; so does a
    line ending in ".", "!", "?", ":" or ";" (other line breaks are wrapped text). Within a
    line, a sentence ends at ".", "!" or "?" (closing quotes and brackets included) followed
    by a space and a character that is not lower case ("e.g. this" does not split), unless
    the full stop ends an initial or a common abbreviation ("Dr. Smith" does not split).
    """
    sentences = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        units: list[str] = []
        continues = False  # whether the next line may carry on the last unit
        for raw_line in paragraph.splitlines():
            line = raw_line.strip()
            if not line:
                continue
            marker = _LIST_MARKER.match(line)
            if marker is None and continues:
                units[-1] += " " + line
            else:
                units.append(line[marker.end() :] if marker else line)
            heading = marker is not None and marker.group().startswith("#")
            continues = not heading and not line.endswith(_LINE_END)
        for unit in units:
            sentences.extend(_split_unit(unit))
    return [" ".join(sentence.split()) for sentence in sentences if sentence.strip()]


# Popular passages are retrieved again and again; splitting them is most of an answer's cost.
@functools.lru_cache(maxsize=4096)
def _quotable_sentences(passage_text: str) -> tuple[str, ...]:
    """The passage's sentences, headings left out (they name a topic, not an answer)."""
    return tuple(split_sentences(_HEADING_LINE.sub("", passage_text)))


def _relevant(passages: list[Passage], min_score: float) -> list[Passage]:
    """Passages at or above the threshold, best first, each point once."""
    seen: set[uuid.UUID] = set()
    kept = []
    relevant = [passage for passage in passages if passage.score >= min_score]
    for passage in sorted(relevant, key=lambda p: -p.score):  # stable: ties keep their order
        if passage.point_id not in seen:
            seen.add(passage.point_id)
            kept.append(passage)
    return kept


def _choose(
    sentences: list[_Sentence], question_terms: frozenset[int], max_sentences: int
) -> list[_Sentence]:
    chosen: list[_Sentence] = []
    uncovered = set(question_terms)
    while uncovered and len(chosen) < max_sentences:
        best, best_key = None, (0, 0, 0, 0)
        for sentence in sentences:
            gain, overlap = len(sentence.terms & uncovered), len(sentence.terms & question_terms)
            key = (gain, overlap, -sentence.passage, -sentence.position)
            if gain and (best is None or key > best_key):
                best, best_key = sentence, key
        if best is None:
            break
        chosen.append(best)
        uncovered -= best.terms
    if not chosen and sentences:
        chosen.append(min(sentences, key=lambda s: (s.passage, s.position)))
    return sorted(chosen, key=lambda s: (s.passage, s.position))


def _split_unit(unit: str) -> list[str]:
    sentences, start = [], 0
    for end in _SENTENCE_END.finditer(unit):
        if end.end() < len(unit) and not unit[end.end()].islower() and not _abbreviated(unit, end):
            sentences.append(unit[start : end.end()])
            start = end.end()
    sentences.append(unit[start:])
    return sentences


def _abbreviated(unit: str, end: re.Match[str]) -> bool:
    """Whether the full stop at ``end`` ends an initial or a common abbreviation ("Dr.")."""
    words = unit[: end.start()].split()
    word = words[-1].casefold() if words and end.group().startswith(".") else ""
    return (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS


def _first_cited(chosen: list[_Sentence], passage: int) -> str:
    return next(sentence.text for sentence in chosen if sentence.passage == passage)


def _snippet(passage_text: str, sentence: str) -> str:
    """At most SNIPPET_CHARS of the passage, from the cited sentence on (earlier if it fits)."""
    text = " ".join(passage_text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    start = min(max(0, text.find(sentence)), len(text) - SNIPPET_CHARS)
    if start > 0 and text[start - 1] != " ":  # begin at a word
        start = text.find(" ", start) + 1
    prefix = "\u2026" if start > 0 else ""
    return prefix + _shorten(text[start:], SNIPPET_CHARS - len(prefix))


def _shorten(text: str, limit: int) -> str:
    """The text, or its first words within ``limit`` characters followed by an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def _answer(text: str, sources: list[Citation], confidence: float, prompt_tokens: int) -> Answer:
    completion_tokens = estimate_tokens(text)
    return Answer(
        text=text,
        sources=sources,
        confidence=confidence,
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            estimated=True,
        ),
    )
