"""Citations are the passages an answer marks, and confidence is the evidence they show.

``cite_marked`` turns a model's answer into the stored one: markers renumbered from [1] in
order of first mention, markers naming no passage dropped. ``confidence`` is the formula
both the extractive and the model's answers use. (The app-level behaviour is in
test_openai_compatible.py and test_extractive.py.)
"""

from __future__ import annotations

import itertools

import hypothesis
from hypothesis import strategies as st

from service.rag.citations import CitationMarkers, cite_marked
from service.rag.extractive import confidence
from tests.rag.conftest import LEXICAL, QUESTION, REFUNDS, SHIPPING, WEATHER, passage

FIRST, SECOND, THIRD = (
    passage(text, 1.0, n) for n, text in enumerate([REFUNDS, SHIPPING, WEATHER])
)
PASSAGES = [FIRST, SECOND, THIRD]


# --- which passages are cited, and how the text is rewritten -------------------------------


def test_an_answer_marking_only_the_second_passage_cites_it_as_the_first() -> None:
    assert cite_marked("Orders ship from Hamburg [2].", PASSAGES) == (
        "Orders ship from Hamburg [1].",
        [SECOND],
    )


def test_passages_are_numbered_in_order_of_first_mention() -> None:
    text, cited = cite_marked("Berlin is mild [3]. Refunds [1]. Mild again [3].", PASSAGES)
    assert text == "Berlin is mild [1]. Refunds [2]. Mild again [1]."
    assert cited == [THIRD, FIRST]


def test_lists_ranges_and_adjacent_markers_are_understood_and_rewritten() -> None:
    text, cited = cite_marked("A [1, 3]. B [2-3]. C [3][1]. D [1\u20132]. E [ 2 ,2 ].", PASSAGES)
    assert text == "A [1, 2]. B [3, 2]. C [2][1]. D [1, 3]. E [3]."
    assert cited == [FIRST, THIRD, SECOND]


def test_markers_naming_no_passage_are_dropped_from_the_text() -> None:
    text, cited = cite_marked("Refunds [0]. Shipping [9]. Both [1, 7]. Some [2-99].", PASSAGES)
    assert text == "Refunds. Shipping. Both [1]. Some [2, 3]."
    assert cited == [FIRST, SECOND, THIRD]


def test_an_answer_without_markers_cites_nothing() -> None:
    assert cite_marked("Annual plans can be refunded.", PASSAGES) == (
        "Annual plans can be refunded.",
        [],
    )


def test_other_brackets_are_left_as_they_are() -> None:
    text = "See [the FAQ], [a, b], [1.5] and [12345678901].\n[1] starts a line."
    assert cite_marked(text, PASSAGES) == (
        "See [the FAQ], [a, b], [1.5] and [12345678901].\n[1] starts a line.",
        [FIRST],
    )


# --- confidence ---------------------------------------------------------------------------

QUESTION_TERMS = LEXICAL.terms(QUESTION)  # annual, plan, refund
ANSWERING = LEXICAL.terms(REFUNDS)
UNRELATED = LEXICAL.terms(WEATHER)


def test_nothing_cited_means_no_confidence() -> None:
    assert confidence(QUESTION_TERMS, [], min_score=1.0, fused=False) == 0.0
    assert confidence(QUESTION_TERMS, [], min_score=0.0, fused=True) == 0.0


def test_a_cited_passage_sharing_no_question_term_means_no_confidence() -> None:
    assert confidence(QUESTION_TERMS, [(50.0, UNRELATED)], min_score=1.0, fused=False) == 0.0
    assert confidence(QUESTION_TERMS, [(0.033, UNRELATED)], min_score=0.0, fused=True) == 0.0


def test_citing_an_irrelevant_passage_too_never_raises_confidence() -> None:
    for min_score, fused in ((1.0, False), (0.0, True)):
        alone = confidence(QUESTION_TERMS, [(1.5, ANSWERING)], min_score=min_score, fused=fused)
        both = confidence(
            QUESTION_TERMS,
            [(1.5, ANSWERING), (50.0, UNRELATED)],
            min_score=min_score,
            fused=fused,
        )
        assert 0.0 < alone == both


def test_with_bm25_scores_a_stronger_best_passage_means_more_confidence() -> None:
    weak = confidence(QUESTION_TERMS, [(1.0, ANSWERING)], min_score=1.0, fused=False)
    strong = confidence(QUESTION_TERMS, [(9.0, ANSWERING)], min_score=1.0, fused=False)
    assert (weak, strong) == (0.5, 0.9)  # coverage 1.0 * score / (score + min_score)


def test_fused_scores_give_coverage_alone() -> None:
    partial = frozenset(list(QUESTION_TERMS)[:1])
    assert confidence(QUESTION_TERMS, [(0.016, ANSWERING)], min_score=0.0, fused=True) == 1.0
    assert confidence(QUESTION_TERMS, [(0.5, partial)], min_score=0.0, fused=True) == 0.333


# --- streamed: the same result, however the text is cut into pieces ---------------------------

MARKER_ISH = st.text(alphabet="ab [1]2,3-\u2013 \n\t9", max_size=60)


@hypothesis.settings(max_examples=500, deadline=None, derandomize=True, database=None)
@hypothesis.given(text=MARKER_ISH, cuts=st.lists(st.integers(min_value=0, max_value=60)))
def test_markers_streamed_in_pieces_join_into_what_the_whole_text_gives(
    text: str, cuts: list[int]
) -> None:
    bounds = sorted({min(cut, len(text)) for cut in cuts} | {0, len(text)})
    pieces = [text[start:end] for start, end in itertools.pairwise(bounds)]
    markers = CitationMarkers(PASSAGES)
    streamed = "".join(markers.feed(piece) for piece in pieces) + markers.finish()
    assert (streamed, markers.cited()) == cite_marked(text, PASSAGES)


def test_a_marker_split_between_pieces_is_held_back_until_it_is_whole() -> None:
    markers = CitationMarkers(PASSAGES)
    assert markers.feed("Hamburg") == "Hamburg"
    assert markers.feed(" [") == ""
    assert markers.feed("3") == ""
    assert markers.feed("]. Then") == " [1]. Then"
    assert markers.feed(" [9") == ""  # names no passage: it goes, with its space
    assert markers.feed("] done") == " done"
    assert markers.finish() == ""
    assert markers.cited() == [PASSAGES[2]]
