"""The offline extractive answer: cited sentences from the retrieved passages, or NOT_FOUND."""

from __future__ import annotations

import re
import uuid

import pytest

from service.domain import estimate_tokens
from service.rag.extractive import NOT_FOUND, build_extractive_answer, split_sentences
from tests.rag.conftest import LEXICAL, QUESTION, REFUNDS, SHIPPING, WEATHER, passage

_CITED = re.compile(r"(.+?) \[(\d+)\](?: |$)")


def cited_sentences(text: str) -> list[tuple[str, int]]:
    """The (sentence, marker number) pairs of an answer, checking nothing else is in it."""
    pairs = [(match.group(1), int(match.group(2))) for match in _CITED.finditer(text)]
    assert " ".join(f"{sentence} [{rank}]" for sentence, rank in pairs) == text
    return pairs


# --- nothing to answer from ---------------------------------------------------------------


def test_no_passages_means_the_honest_not_found_answer() -> None:
    answer = build_extractive_answer(QUESTION, [], lexical=LEXICAL, min_score=0.5)
    assert answer.text == NOT_FOUND == "I could not find this in the documents."
    assert answer.sources == []
    assert answer.confidence == 0.0


def test_passages_below_min_score_are_ignored() -> None:
    passages = [passage(REFUNDS, 0.4, 1), passage(SHIPPING, 0.2, 2)]
    answer = build_extractive_answer(QUESTION, passages, lexical=LEXICAL, min_score=0.5)
    assert answer.text == NOT_FOUND
    assert answer.sources == []
    assert answer.confidence == 0.0


def test_a_passage_exactly_at_min_score_counts() -> None:
    answer = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 0.5, 1)], lexical=LEXICAL, min_score=0.5
    )
    assert answer.text != NOT_FOUND
    assert [source.rank for source in answer.sources] == [1]


def test_a_weak_passage_is_ignored_even_when_it_matches_better() -> None:
    passages = [passage(WEATHER, 2.0, 1), passage(REFUNDS, 0.1, 2)]
    answer = build_extractive_answer(QUESTION, passages, lexical=LEXICAL, min_score=1.0)
    assert "refunded" not in answer.text
    assert [source.document_id for source in answer.sources] == [uuid.UUID(int=1)]


# --- what is cited ------------------------------------------------------------------------


def test_picks_the_sentence_that_answers_over_unrelated_ones() -> None:
    answer = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 2.0, 1)], lexical=LEXICAL, min_score=0.5
    )
    assert answer.text == "Annual plans can be refunded within 30 days of purchase. [1]"


def test_sentences_are_taken_verbatim_from_their_cited_passage() -> None:
    passages = [passage(REFUNDS, 2.0, 1), passage(SHIPPING, 1.5, 2), passage(WEATHER, 1.0, 3)]
    question = "How long does shipping take, and can annual plans be refunded?"
    answer = build_extractive_answer(question, passages, lexical=LEXICAL, min_score=0.5)
    pairs = cited_sentences(answer.text)
    assert len(pairs) == 2
    texts: dict[uuid.UUID | None, str] = {p.point_id: p.text for p in passages}
    cited_texts = {source.rank: texts[source.point_id] for source in answer.sources}
    for sentence, rank in pairs:
        assert sentence in cited_texts[rank]
        assert sentence in split_sentences(cited_texts[rank])


def test_cites_only_used_passages_with_consecutive_ranks_matching_the_markers() -> None:
    passages = [passage(WEATHER, 3.0, 1), passage(REFUNDS, 2.0, 2), passage(SHIPPING, 1.0, 3)]
    question = "Can annual plans be refunded, and how long does shipping take?"
    answer = build_extractive_answer(question, passages, lexical=LEXICAL, min_score=0.5)
    assert answer.text == (
        "Annual plans can be refunded within 30 days of purchase. [1] "
        "Shipping to Europe takes three business days. [2]"
    )
    assert [source.rank for source in answer.sources] == [1, 2]
    assert [source.point_id for source in answer.sources] == [
        uuid.UUID(int=2002),
        uuid.UUID(int=2003),
    ]
    markers = {rank for _, rank in cited_sentences(answer.text)}
    assert markers == {source.rank for source in answer.sources}


def test_citations_describe_their_passage() -> None:
    answer = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 2.0, 7, title="Billing FAQ")], lexical=LEXICAL, min_score=0.5
    )
    [source] = answer.sources
    assert source.rank == 1
    assert source.document_id == uuid.UUID(int=7)
    assert source.chunk_id == uuid.UUID(int=1007)
    assert source.point_id == uuid.UUID(int=2007)
    assert source.score == 2.0
    assert source.document_title == "Billing FAQ"
    assert source.document_url == "https://docs.example/7"
    assert source.snippet == REFUNDS  # short passages are quoted whole


def test_a_long_passage_is_quoted_around_the_cited_sentence() -> None:
    before = " ".join(f"Filler sentence number {number} says nothing." for number in range(20))
    after = " ".join(f"More filler number {number} follows." for number in range(20))
    text = f"{before} Annual plans can be refunded within 30 days. {after}"
    answer = build_extractive_answer(
        QUESTION, [passage(text, 2.0, 1)], lexical=LEXICAL, min_score=0.5
    )
    snippet = answer.sources[0].snippet
    assert snippet is not None
    assert len(snippet) <= 300
    assert snippet.startswith("\u2026Annual plans can be refunded within 30 days.")
    assert snippet.endswith("\u2026")


def test_sentences_of_one_passage_share_its_marker() -> None:
    text = "Annual plans can be refunded. Refunds take five business days."
    question = "Can annual plans be refunded, and how many business days does it take?"
    answer = build_extractive_answer(
        question, [passage(text, 2.0, 1)], lexical=LEXICAL, min_score=0.5
    )
    assert answer.text == "Annual plans can be refunded. [1] Refunds take five business days. [1]"
    assert len(answer.sources) == 1


def test_at_most_max_sentences_are_used() -> None:
    text = "Alpha plans exist. Beta plans exist. Gamma plans exist. Delta plans exist."
    question = "alpha beta gamma delta"
    answer = build_extractive_answer(
        question, [passage(text, 2.0, 1)], lexical=LEXICAL, min_score=0.5
    )
    assert len(cited_sentences(answer.text)) == 3
    answer = build_extractive_answer(
        question, [passage(text, 2.0, 1)], lexical=LEXICAL, min_score=0.5, max_sentences=1
    )
    assert cited_sentences(answer.text) == [("Alpha plans exist.", 1)]


def test_a_repeated_passage_is_cited_once() -> None:
    passages = [passage(REFUNDS, 2.0, 1), passage(REFUNDS, 2.0, 1)]
    answer = build_extractive_answer(QUESTION, passages, lexical=LEXICAL, min_score=0.5)
    assert len(answer.sources) == 1
    assert len(cited_sentences(answer.text)) == 1


def test_without_shared_words_the_best_passage_leads() -> None:
    # A dense retriever can find a passage that shares no word with the question.
    passages = [passage(SHIPPING, 0.7, 2), passage(WEATHER, 0.9, 1)]
    answer = build_extractive_answer(
        "Is it pleasant outside?", passages, lexical=LEXICAL, min_score=0.5
    )
    assert answer.text == "The weather in Berlin is mild. [1]"
    assert [source.document_id for source in answer.sources] == [uuid.UUID(int=1)]
    assert answer.confidence == 0.0  # nothing of the question was found: no evidence


# --- confidence, usage, determinism -------------------------------------------------------


def test_confidence_is_higher_for_a_strong_match_than_a_weak_one() -> None:
    strong = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 8.0, 1)], lexical=LEXICAL, min_score=1.0
    )
    weak = build_extractive_answer(
        "Can annual plans be refunded to a prepaid card abroad?",
        [passage(REFUNDS, 1.1, 1)],
        lexical=LEXICAL,
        min_score=1.0,
    )
    assert strong.confidence is not None
    assert weak.confidence is not None
    assert 0.0 < weak.confidence < strong.confidence <= 1.0


def test_confidence_follows_the_documented_formula() -> None:
    # coverage * strength: all question terms covered, strength 3.0 / (3.0 + 1.0) = 0.75.
    answer = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 3.0, 1)], lexical=LEXICAL, min_score=1.0
    )
    assert answer.confidence == 0.75
    # Two of four terms covered ("annual", "plan"; not "bonus", "voucher") -> 0.5 * 0.75.
    answer = build_extractive_answer(
        "annual plans bonus voucher", [passage(REFUNDS, 3.0, 1)], lexical=LEXICAL, min_score=1.0
    )
    assert answer.confidence == 0.375
    # Without a threshold the scale is 1.0: 1.0 / (1.0 + 1.0) = 0.5.
    answer = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 1.0, 1)], lexical=LEXICAL, min_score=0.0
    )
    assert answer.confidence == 0.5


def test_in_hybrid_mode_confidence_is_the_coverage_whatever_the_fused_score() -> None:
    # Fused scores are ranks (about 1/60 for a first place): their size is no evidence.
    for score in (0.016, 0.5, 30.0):
        answer = build_extractive_answer(
            QUESTION, [passage(REFUNDS, score, 1)], lexical=LEXICAL, min_score=0.0, fused=True
        )
        assert answer.confidence == 1.0
    answer = build_extractive_answer(
        "annual plans bonus voucher",
        [passage(REFUNDS, 0.016, 1)],
        lexical=LEXICAL,
        min_score=0.0,
        fused=True,
    )
    assert answer.confidence == 0.5


def test_in_hybrid_mode_a_passage_sharing_no_question_term_gives_no_confidence() -> None:
    # Dense retrieval ranks something first whatever the question: that is no evidence.
    answer = build_extractive_answer(
        "Is it pleasant outside?",
        [passage(WEATHER, 0.033, 1)],
        lexical=LEXICAL,
        min_score=0.0,
        fused=True,
    )
    assert answer.text == "The weather in Berlin is mild. [1]"
    assert answer.confidence == 0.0


def test_a_question_of_stopwords_only_gives_no_confidence() -> None:
    answer = build_extractive_answer(
        "What is it?", [passage(REFUNDS, 3.0, 1)], lexical=LEXICAL, min_score=1.0
    )
    assert len(answer.sources) == 1  # the best passage still stands in
    assert answer.confidence == 0.0


def test_confidence_stays_within_zero_and_one_for_huge_scores() -> None:
    answer = build_extractive_answer(
        QUESTION, [passage(REFUNDS, 1e12, 1)], lexical=LEXICAL, min_score=0.0
    )
    assert answer.confidence is not None
    assert 0.0 <= answer.confidence <= 1.0


def test_usage_is_an_estimate_over_question_passages_and_answer() -> None:
    passages = [passage(REFUNDS, 2.0, 1), passage(SHIPPING, 0.1, 2)]
    answer = build_extractive_answer(QUESTION, passages, lexical=LEXICAL, min_score=0.5)
    assert answer.usage.estimated is True
    assert answer.usage.prompt_tokens == estimate_tokens(f"{QUESTION}\n\n{REFUNDS}")
    assert answer.usage.completion_tokens == estimate_tokens(answer.text)
    total = answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.total_tokens == total


def test_the_same_input_gives_the_same_answer_in_any_order() -> None:
    passages = [passage(REFUNDS, 2.0, 1), passage(SHIPPING, 1.5, 2), passage(WEATHER, 1.0, 3)]
    question = "How long does shipping take, and can annual plans be refunded?"
    first = build_extractive_answer(question, passages, lexical=LEXICAL, min_score=0.5)
    assert build_extractive_answer(question, passages, lexical=LEXICAL, min_score=0.5) == first
    assert (
        build_extractive_answer(question, passages[::-1], lexical=LEXICAL, min_score=0.5) == first
    )


def test_max_sentences_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_sentences"):
        build_extractive_answer(QUESTION, [], lexical=LEXICAL, min_score=0.5, max_sentences=0)


# --- sentences ----------------------------------------------------------------------------


def test_sentences_split_at_end_punctuation_but_not_abbreviations() -> None:
    text = 'Dr. Smith wrote it, e.g. in May. Did it work? "Yes." It did!'
    assert split_sentences(text) == [
        "Dr. Smith wrote it, e.g. in May.",
        "Did it work?",
        '"Yes."',
        "It did!",
    ]


def test_wrapped_lines_join_while_paragraphs_items_and_headings_stand_apart() -> None:
    text = (
        "# Refunds\n"
        "Annual plans can be\n"
        "refunded within 30 days.\n"
        "Steps:\n"
        "- open the billing page\n"
        "- press Refund\n"
        "\n"
        "1. Wait for the email\n"
        "Contact us"
    )
    assert split_sentences(text) == [
        "Refunds",
        "Annual plans can be refunded within 30 days.",
        "Steps:",
        "open the billing page",
        "press Refund",
        "Wait for the email Contact us",
    ]
