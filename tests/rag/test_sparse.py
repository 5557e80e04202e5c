"""Lexical sparse vectors: terms, their stable ids, and BM25 term-frequency weights."""

from __future__ import annotations

import pytest

from service.rag.sparse import (
    MODEL_NAME,
    SparseVector,
    document_vector,
    query_vector,
    stem,
    term_id,
    tokenize,
)


def weight_of(vector: SparseVector, term: str) -> float:
    return vector.values[vector.indices.index(term_id(term))]


# --- tokenize -----------------------------------------------------------------------------


def test_tokens_are_casefolded_words_without_punctuation_or_underscores() -> None:
    assert tokenize("Qdrant, PostgreSQL & camel_hump!") == ["qdrant", "postgresql", "camel", "hump"]


def test_accents_are_stripped_so_spellings_meet() -> None:
    assert tokenize("Ångström") == ["angstrom"]
    assert tokenize("Café naïve Straße") == tokenize("cafe naive strasse")


def test_stopwords_and_single_letters_are_dropped_but_numbers_stay() -> None:
    assert tokenize("What is the cost of a plan in 2024?") == ["cost", "plan", "2024"]
    assert tokenize("x y 7 z 42") == ["7", "42"]


def test_words_with_digits_are_kept_whole() -> None:
    assert tokenize("Python3 runs on x86_64") == ["python3", "run", "x86", "64"]


def test_empty_or_stopword_only_text_has_no_terms() -> None:
    assert tokenize("") == []
    assert tokenize("  ... what is it? ") == []


@pytest.mark.parametrize(
    ("words", "term"),
    [
        (["document", "documents", "Documents"], "document"),
        (["run", "runs", "running"], "run"),
        (["policy", "policies"], "policy"),
        (["study", "studies", "studied"], "study"),
        (["class", "classes"], "class"),
        (["box", "boxes"], "box"),
        (["match", "matches"], "match"),
        (["store", "stores", "stored", "storing"], "stor"),
        (["index", "indexed", "indexing", "indexes"], "index"),
        (["embedding", "embeddings", "embedded"], "embed"),
        (["quick", "quickly"], "quick"),
        (["setting", "settings", "set"], "set"),
    ],
)
def test_inflections_share_one_stem(words: list[str], term: str) -> None:
    assert [tokenize(word) for word in words] == [[term]] * len(words)


@pytest.mark.parametrize(
    "word", ["class", "status", "analysis", "string", "thing", "speed", "apply", "using"]
)
def test_short_stems_and_lookalike_endings_are_left_alone(word: str) -> None:
    assert stem(word) == word


# --- term ids -----------------------------------------------------------------------------


def test_term_ids_are_stable_literal_31_bit_numbers() -> None:
    # These values are part of the stored data: changing them needs a new MODEL_NAME.
    assert term_id("document") == 560187430
    assert term_id("run") == 1218283866
    assert MODEL_NAME == "bm25-hashed-v1"


def test_term_ids_fit_in_31_bits_and_differ_between_terms() -> None:
    ids = {term_id(f"term{number}") for number in range(1000)}
    assert len(ids) == 1000
    assert all(0 <= index < 2**31 for index in ids)


# --- vectors ------------------------------------------------------------------------------


def test_vectors_are_sorted_by_index_with_one_value_per_term() -> None:
    text = "Zebras graze. Apples fall. Zebras run. Mangoes ripen. Apples rot."
    for vector in (document_vector(text), query_vector(text)):
        assert vector.indices == sorted(set(vector.indices))
        assert len(vector.values) == len(vector.indices)
        assert set(vector.indices) == {term_id(term) for term in tokenize(text)}


def test_inflections_of_a_word_are_one_dimension() -> None:
    vector = document_vector("Documents about documents: one document.")
    assert vector.indices == sorted([term_id("document"), term_id("one")])


def test_colliding_terms_share_a_dimension_and_their_weights_add() -> None:
    assert term_id("wordheagg") == term_id("wordjihhf") == 162760253  # found by search
    assert query_vector("wordheagg wordjihhf") == SparseVector(indices=[162760253], values=[2.0])
    apart = weight_of(document_vector("wordheagg other", b=0.0), "wordheagg")
    assert document_vector("wordheagg wordjihhf", b=0.0).values == [pytest.approx(2 * apart)]


def test_empty_text_gives_an_empty_vector() -> None:
    empty = SparseVector(indices=[], values=[])
    assert document_vector("") == empty
    assert query_vector("") == empty
    assert query_vector("what is it?") == empty


def test_a_query_weighs_each_distinct_term_one() -> None:
    vector = query_vector("refund refunds refunding policy")
    assert vector.indices == sorted([term_id("refund"), term_id("policy")])
    assert vector.values == [1.0, 1.0]


def test_bm25_weight_grows_with_repeats_but_less_than_linearly() -> None:
    filler = " ".join(f"filler{number}" for number in range(20))
    once, twice, thrice = (
        weight_of(document_vector(f"{'refund ' * count}{filler}"), "refund") for count in (1, 2, 3)
    )
    assert once < twice < thrice
    assert twice - once > thrice - twice  # each repeat adds less
    assert twice < 2 * once


def test_bm25_weight_saturates_below_k1_plus_one() -> None:
    vector = document_vector("refund " * 1000, k1=1.2)
    assert 2.0 < weight_of(vector, "refund") < 2.2


def test_the_same_count_weighs_less_in_a_longer_document() -> None:
    short = document_vector("refund policy")
    long = document_vector("refund " + " ".join(f"word{number}" for number in range(500)))
    assert weight_of(long, "refund") < weight_of(short, "refund")


def test_bm25_weight_matches_the_formula() -> None:
    # "refund" twice among 4 terms, k1=1.2, b=0.75, average length 8.
    vector = document_vector("refund refund policy plan", avg_doc_len=8.0)
    expected = 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 4 / 8))
    assert weight_of(vector, "refund") == pytest.approx(expected)


def test_without_length_normalization_length_does_not_matter() -> None:
    short = document_vector("refund policy", b=0.0)
    long = document_vector("refund " + " ".join(f"word{number}" for number in range(500)), b=0.0)
    assert weight_of(long, "refund") == pytest.approx(weight_of(short, "refund"))


def test_invalid_bm25_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="BM25"):
        document_vector("text", b=1.5)
    with pytest.raises(ValueError, match="BM25"):
        document_vector("text", avg_doc_len=0.0)
