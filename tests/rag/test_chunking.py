"""Chunking: offsets always slice the source, sections never mix, sizes stay near the target."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from service.rag.chunking import SHORT_CHARS, TextChunk, chunk_text, first_heading

SENTENCE = "The quick brown fox jumps over the lazy dog again."  # 50 characters


def paragraph(sentences: int) -> str:
    return " ".join([SENTENCE] * sentences)


def assert_well_formed(text: str, chunks: list[TextChunk], target: int, overlap: int) -> None:
    """What holds for every input: offsets, order, size, overlap and full coverage."""
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert chunk.text == chunk.text.strip()
        assert 0 < len(chunk.text) <= target
    for before, after in itertools.pairwise(chunks):
        assert before.char_start < after.char_start
        assert before.char_end < after.char_end
        assert before.char_end - after.char_start <= overlap  # overlapping by at most this
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.char_start : chunk.char_end] = [True] * (chunk.char_end - chunk.char_start)
    assert all(covered[i] for i, character in enumerate(text) if not character.isspace())


def heading_starts(text: str) -> list[int]:
    """Where heading lines start, for texts without fenced code."""
    return [match.start() for match in re.finditer(r"^#{1,6} ", text, re.MULTILINE)]


def test_empty_or_blank_text_has_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\n\t \n") == []


def test_a_short_text_is_one_chunk_without_surrounding_whitespace() -> None:
    text = "\n\n  Hello there.\n\nSecond paragraph.  \n"
    assert chunk_text(text) == [TextChunk(0, "Hello there.\n\nSecond paragraph.", 4, 35, None)]


def test_offsets_slice_the_source_for_varied_inputs() -> None:
    texts = [
        paragraph(100),
        "\n\n".join(paragraph(count) for count in (1, 30, 2, 60, 5)),
        "# A\n\n" + paragraph(40) + "\n\n## B\nline one\nline two\n\n### C\n\n" + paragraph(3),
        "word " * 700,
        "ü" * 3000 + " tail",
        "\r\n\r\n".join(["Windows line ends. " * 20] * 5),
        "Tabs\tand\u00a0odd\u2003spaces everywhere. " * 80,
        "No punctuation at all just many words flowing on and on " * 60,
        "Line without end\n" * 200,
    ]
    for text in texts:
        for target, overlap in ((1200, 200), (300, 100), (100, 0), (100, 49)):
            chunks = chunk_text(text, target_chars=target, overlap_chars=overlap)
            assert chunks, text[:40]
            assert_well_formed(text, chunks, target, overlap)


def random_document(rng: random.Random) -> tuple[str, list[tuple[int, str]]]:
    """A random Markdown-ish text and its headings (start offset, heading text)."""
    pieces: list[str] = []
    headings: list[tuple[int, str]] = []
    length = 0
    for _ in range(rng.randint(0, 40)):
        kind = rng.random()
        if kind < 0.15:
            title = " ".join(rng.choice(["Intro", "Setup", "Usage", "FAQ"]) for _ in range(2))
            piece = f"{'#' * rng.randint(1, 6)} {title}"
            headings.append((length, title))
        elif kind < 0.2:
            piece = "x" * rng.randint(50, 900)  # a word that may be longer than the target
        else:
            words = [
                "".join(rng.choice("abcdefghé漢") for _ in range(rng.randint(1, 12)))
                + rng.choice(["", "", "", ",", ".", "!", "?", '."', ".)"])
                for _ in range(rng.randint(1, 150))
            ]
            piece = "".join(word + rng.choice([" ", " ", " ", "  ", "\n", "\t"]) for word in words)
        separator = rng.choice(["\n", "\n\n", "\n\n\n", "\n \n"])
        pieces.append(piece + separator)
        length += len(piece) + len(separator)
    return "".join(pieces), headings


def test_random_documents_keep_every_invariant() -> None:
    for seed in range(300):
        rng = random.Random(seed)
        text, headings = random_document(rng)
        target = rng.randint(100, 700)
        overlap = rng.randint(0, target // 2 - 1)
        chunks = chunk_text(text, target_chars=target, overlap_chars=overlap)

        assert_well_formed(text, chunks, target, overlap)
        for chunk in chunks:
            held = [
                title for start, title in headings if chunk.char_start <= start < chunk.char_end
            ]
            above = [title for start, title in headings if start <= chunk.char_start]
            assert chunk.heading == (held[0] if held else above[-1] if above else None), seed
            for start, _ in headings:
                if chunk.char_start < start < chunk.char_end:  # only short sections share
                    before, after = text[chunk.char_start : start], text[start:]
                    assert min(len(before.strip()), len(after.strip())) < SHORT_CHARS, seed


def test_sections_of_some_length_never_share_a_chunk() -> None:
    text = f"Preface. {paragraph(4)}\n\n# One\n\n{paragraph(4)}\n\n## Two\n{paragraph(4)}"
    chunks = chunk_text(text)
    assert [(chunk.text[:8], chunk.heading) for chunk in chunks] == [
        ("Preface.", None),
        ("# One\n\nT", "One"),
        ("## Two\nT", "Two"),
    ]
    starts = heading_starts(text)
    assert all(
        not chunk.char_start < start < chunk.char_end for chunk in chunks for start in starts
    )


def test_a_lone_heading_is_chunked_with_the_section_after_it() -> None:
    text = f"# Guide\n\n## Install\n\n{paragraph(30)}"
    first, *rest = chunk_text(text)
    assert first.text.startswith("# Guide\n\n## Install\n\nThe quick")
    assert (first.char_start, first.heading) == (0, "Guide")  # the first heading it holds
    assert len(first.text) > 1100
    assert [chunk.heading for chunk in rest] == ["Install"] * len(rest)


def test_short_sections_are_chunked_together_until_long_enough() -> None:
    text = f"# A\n\nOne line.\n\n## B\n\nAnother line.\n\n## C\n\n{paragraph(6)}\n\n## D\n\n{paragraph(6)}"
    chunks = chunk_text(text, target_chars=400, overlap_chars=0)
    assert [(chunk.text[:4], chunk.heading) for chunk in chunks] == [("# A\n", "A"), ("## D", "D")]
    assert len(heading_starts(chunks[0].text)) == 3  # A, B and C
    assert all(len(chunk.text) >= SHORT_CHARS for chunk in chunks)


def test_a_short_last_section_joins_the_one_before() -> None:
    text = f"# Guide\n\n{paragraph(4)}\n\n## See also\n\nThe FAQ."
    assert [(chunk.text, chunk.heading) for chunk in chunk_text(text)] == [(text, "Guide")]
    # When the chunk before is full, the last one reaches back into it, as an overlap does.
    chunks = chunk_text(text, target_chars=220, overlap_chars=100)
    assert chunks[-1].text.endswith("## See also\n\nThe FAQ.")
    assert chunks[-1].text.startswith("The quick")
    assert chunks[-1].heading == "See also"
    assert_well_formed(text, chunks, 220, 100)


def test_a_short_text_with_headings_is_one_chunk() -> None:
    text = "Preface.\n\n# One\n\nShort.\n\n## Two\n\nAlso short.\n# Three\nTight."
    assert chunk_text(text) == [TextChunk(0, text, 0, len(text), "One")]


def test_each_chunk_records_the_nearest_heading_above_it() -> None:
    text = f"# Guide ##\n\n{paragraph(30)}\n\n### Details\n\n{paragraph(30)}"
    chunks = chunk_text(text, target_chars=600, overlap_chars=100)
    assert len(chunks) >= 6
    details = text.index("### Details")
    for chunk in chunks:
        assert chunk.heading == ("Guide" if chunk.char_start < details else "Details")


def test_hashes_in_code_fences_or_without_a_space_are_not_headings() -> None:
    text = "# Real\n\n```bash\n# install it\nmake\n```\n\n#hashtag and C# text"
    assert [chunk.heading for chunk in chunk_text(text)] == ["Real"]
    assert first_heading("#x\n\n```\n# code\n```\n## C# ##") == "C#"


def test_whole_paragraphs_are_packed_up_to_the_target() -> None:
    paragraphs = [paragraph(4) for _ in range(20)]  # 203 characters each
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, target_chars=1000, overlap_chars=0)
    assert [chunk.text for chunk in chunks] == ["\n\n".join(paragraphs[:4])] * 5
    assert all(len(chunk.text) == 818 for chunk in chunks)  # a fifth paragraph would not fit


def test_sizes_stay_near_the_target() -> None:
    text = "\n\n".join(paragraph(count) for count in (3, 9, 1, 14, 6, 2, 25, 4, 8) * 3)
    chunks = chunk_text(text, target_chars=1200, overlap_chars=200)
    assert all(len(chunk.text) <= 1200 for chunk in chunks)
    assert all(len(chunk.text) >= 600 for chunk in chunks[:-1])


def test_an_oversized_paragraph_is_cut_at_sentence_ends_with_overlap() -> None:
    text = paragraph(60)  # one 3059-character paragraph
    chunks = chunk_text(text, target_chars=500, overlap_chars=120)
    assert_well_formed(text, chunks, 500, 120)
    for chunk in chunks:
        assert chunk.text.startswith("The quick")  # whole sentences only
        assert chunk.text.endswith("again.")
    for before, after in itertools.pairwise(chunks):
        repeated = text[after.char_start : before.char_end]
        assert repeated == f"{SENTENCE} {SENTENCE}"  # the last whole sentences that fit in 120


def test_an_oversized_sentence_is_cut_between_words_with_overlap() -> None:
    text = " ".join(f"word{number}" for number in range(400))  # no sentence ends
    chunks = chunk_text(text, target_chars=200, overlap_chars=40)
    assert_well_formed(text, chunks, 200, 40)
    for before, after in itertools.pairwise(chunks):
        assert text[after.char_start - 1] == " "  # starts at a word
        assert after.char_end == len(text) or text[after.char_end] == " "  # ends at a word
        assert 0 < before.char_end - after.char_start <= 40


def test_overlap_stays_inside_a_section() -> None:
    text = f"# One\n\n{paragraph(8)}\n\n# Two\n\n{paragraph(8)}"
    chunks = chunk_text(text, target_chars=300, overlap_chars=100)
    two = text.index("# Two")
    first_of_two = next(chunk for chunk in chunks if chunk.heading == "Two")
    assert first_of_two.char_start == two
    assert all(chunk.char_end <= two for chunk in chunks if chunk.heading == "One")
    # and an overlap never repeats the heading line itself
    assert [chunk.text.startswith("# ") for chunk in chunks].count(True) == 2


def test_no_overlap_when_overlap_chars_is_zero() -> None:
    chunks = chunk_text(paragraph(40), target_chars=300, overlap_chars=0)
    assert all(a.char_end <= b.char_start for a, b in itertools.pairwise(chunks))


def test_a_single_huge_word_is_still_chunked() -> None:
    text = "a" * 5000
    chunks = chunk_text(text, target_chars=1200, overlap_chars=200)
    assert [(chunk.char_start, chunk.char_end) for chunk in chunks] == [
        (0, 1200),
        (1200, 2400),
        (2400, 3600),
        (3600, 4800),
        (4800, 5000),
    ]


def test_a_huge_word_among_words_is_cut_only_where_it_must_be() -> None:
    text = f"before {'z' * 450} after"
    chunks = chunk_text(text, target_chars=200, overlap_chars=0)
    assert [chunk.text for chunk in chunks] == ["before", "z" * 200, "z" * 200, "z" * 50 + " after"]


@pytest.mark.parametrize(
    ("target_chars", "overlap_chars"),
    [(99, 0), (0, 0), (1200, -1), (1200, 600), (1200, 601), (100, 50)],
)
def test_bad_arguments_are_rejected(target_chars: int, overlap_chars: int) -> None:
    with pytest.raises(ValueError, match=r"^(target_chars|overlap_chars) must be"):
        chunk_text("text", target_chars=target_chars, overlap_chars=overlap_chars)


def test_the_smallest_valid_arguments_are_accepted() -> None:
    assert len(chunk_text("text", target_chars=100, overlap_chars=49)) == 1
