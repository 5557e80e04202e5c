"""Lexical sparse vectors: Qdrant's BM25 under the project's configuration."""

from __future__ import annotations

import itertools

import pytest

from service.rag.sparse import Lexical, SparseVector

LEXICAL = Lexical(language="english", avg_len=90)


def weight(vector: SparseVector, word: str) -> float:
    (index,) = LEXICAL.terms(word)
    return vector.values[vector.indices.index(index)]


def test_a_query_weighs_each_distinct_term_one_and_repeats_count_once() -> None:
    query = LEXICAL.query("otters otters sleep")
    assert len(query.indices) == 2
    assert query.values == [1.0, 1.0]


def test_vectors_are_sorted_by_index_with_one_value_per_term() -> None:
    vector = LEXICAL.document("Sea otters hold hands while they sleep so they do not drift apart.")
    assert vector.indices
    assert all(a < b for a, b in itertools.pairwise(vector.indices))
    assert len(vector.values) == len(vector.indices)
    assert all(value > 0 for value in vector.values)


def test_inflections_of_a_word_meet_on_one_term() -> None:
    assert LEXICAL.terms("documents") == LEXICAL.terms("document")
    assert LEXICAL.terms("running") == LEXICAL.terms("runs")
    assert LEXICAL.terms("Indexing") == LEXICAL.terms("indexes")


def test_stopwords_and_empty_text_give_no_terms() -> None:
    assert LEXICAL.terms("the of and a is") == frozenset()
    assert LEXICAL.query("") == SparseVector(indices=[], values=[])
    assert LEXICAL.document("   ") == SparseVector(indices=[], values=[])


def test_a_query_and_a_passage_share_exactly_their_common_terms() -> None:
    question = LEXICAL.terms("How are tokens stored?")
    passage = LEXICAL.terms("Tokens are stored only as SHA-256 hashes.")
    assert question <= passage


def test_bm25_weight_grows_with_repeats_but_less_than_linearly() -> None:
    once = weight(LEXICAL.document("otter river bank"), "otter")
    twice = weight(LEXICAL.document("otter otter river"), "otter")
    assert once < twice < 2 * once


def test_the_same_count_weighs_less_in_a_longer_document() -> None:
    short = weight(LEXICAL.document("otter river"), "otter")
    long = weight(LEXICAL.document("otter " + " ".join(f"word{n}" for n in range(300))), "otter")
    assert long < short


def test_vectors_are_stable_across_instances_of_one_configuration() -> None:
    text = "Qdrant computes the inverse document frequency at search time."
    again = Lexical(language="english", avg_len=90)
    assert again.document(text) == LEXICAL.document(text)
    assert again.query(text) == LEXICAL.query(text)


def test_the_model_name_spells_out_the_configuration() -> None:
    assert Lexical(language="english", avg_len=100).name == "qdrant-bm25-english-avg100"
    assert Lexical(language="english", avg_len=72.5).name != LEXICAL.name
    assert Lexical(language="german", avg_len=90).name != LEXICAL.name


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)language"):
        Lexical(language="klingon", avg_len=90)
