"""Chunk statistics of document corpora, as ingestion would chunk them.

    python -m tools.chunkstats [--verbose] PATH...

For each PATH (a file, or a directory walked for .html, .htm, .md, .markdown, .txt and .pdf
files, skipping folders named "_*" or ".*" such as Sphinx's _sources and _static) it prints
the documents, the chunks (``chunk_text`` at its defaults on ``extract_text(...).text``), the
share of chunks holding navigation boilerplate (a NAVIGATION_LINE), the share shorter than
SHORT_CHARS, the mean chunk length, and the extraction and chunking time per document.
``--verbose`` also lists the navigation lines found most often.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from service.rag.chunking import SHORT_CHARS, chunk_text
from service.rag.extract import UnsupportedDocument, extract_text

_EXTENSIONS: Final = frozenset({".html", ".htm", ".md", ".markdown", ".txt", ".pdf"})

# A whole line (without its heading '#'s) that only page chrome writes: Sphinx's sidebars,
# related bars ("index modules | next |", "Python » 3.11 Documentation »") and footers,
# DocBook's navigation tables, skip links and cookie banners.
# fmt: off
NAVIGATION_LINE: Final = re.compile(
    r"(?i:previous topic|next topic|this page|show source|navigation|quick search"
    r"|table of contents|report a bug|theme auto light dark|skip to (?:main )?content"
    r"|modules \||next \||previous \||prev(?: up)?(?: home)? next|prev|next|up|home"
    r"|.* \u00bb|\u00a9 .*|copyright \u00a9 .*|created using sphinx.*|last updated on .*"
    r"|found a bug\?|(?:accept|reject|allow) (?:all )?cookies|we use cookies.*)"
    r"|index|\u00ab|\u00bb|\|",  # Sphinx's lowercase "index" link: the page "Index" is text
)
# fmt: on


def navigation_lines(text: str) -> list[str]:
    """The lines of ``text`` that are navigation boilerplate."""
    lines = (line.lstrip("#").strip() for line in text.split("\n"))
    return [line for line in lines if NAVIGATION_LINE.fullmatch(line)]


def corpus_files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir() and not child.name.startswith(("_", ".")):
            yield from corpus_files(child)
        elif child.is_file() and child.suffix.lower() in _EXTENSIONS:
            yield child


def report(path: Path, *, verbose: bool) -> None:
    documents = chunks = with_navigation = short = total_length = 0
    extract_seconds = chunk_seconds = 0.0
    found: Counter[str] = Counter()
    for file in corpus_files(path):
        content = file.read_bytes()
        started = time.perf_counter()
        try:
            text = extract_text(content, content_type=None, filename=file.name).text
        except UnsupportedDocument:
            continue
        extracted = time.perf_counter()
        document_chunks = chunk_text(text)
        chunk_seconds += time.perf_counter() - extracted
        extract_seconds += extracted - started
        documents += 1
        for chunk in document_chunks:
            lines = navigation_lines(chunk.text)
            found.update(lines)
            with_navigation += bool(lines)
            short += len(chunk.text) < SHORT_CHARS
            total_length += len(chunk.text)
        chunks += len(document_chunks)
    per_document = 1000 / max(documents, 1)
    print(
        f"{path}: {documents} documents, {chunks} chunks, "
        f"navigation in {_share(with_navigation, chunks)}, "
        f"under {SHORT_CHARS} chars {_share(short, chunks)}, "
        f"mean {total_length / max(chunks, 1):.0f} chars, "
        f"extract {extract_seconds * per_document:.2f} ms/doc, "
        f"chunk {chunk_seconds * per_document:.2f} ms/doc"
    )
    if verbose:
        for line, count in found.most_common(15):
            print(f"  {count:6d}  {line[:80]}")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / max(whole, 1):.1f}% ({part})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.chunkstats",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--verbose", action="store_true", help="list the navigation found")
    arguments = parser.parse_args(argv)
    for path in arguments.paths:
        report(path, verbose=arguments.verbose)


if __name__ == "__main__":
    main()
