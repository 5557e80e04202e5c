"""Boilerplate: the part of a parsed HTML page that is its text, without the page's chrome.

The main content is the page's ``<main>`` (or ``role=main``, or Sphinx's ``div.body``, or its
only ``<article>``), else its ``<body>``. Removed from it: navigation (``<nav>``, ARIA
navigation, banner, contentinfo and search landmarks, Sphinx's related bars, sidebars and
header links, DocBook's navigation header and footer), footers, skip links and cookie banners;
and, outside a main content or article, the page's ``<header>`` and ``<aside>``.
"""

from __future__ import annotations

from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["main_content"]

_MAIN_CONTENT: Final = ("main, [role=main]", "div.body")
_NAMED_FOR_COOKIES: Final = ", ".join(
    f"[{attribute}*={word} i]" for attribute in ("id", "class") for word in ("cookie", "consent")
)
# fmt: off
_BOILERPLATE: Final = ", ".join([
    "nav", "footer",
    "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[role=search]",
    "div.related", "div.sphinxsidebar", "div.footer", "a.headerlink",  # Sphinx
    "div.navheader", "div.navfooter",  # DocBook's Prev / Up / Home / Next tables
    'a[href^="#"]:lexbor-contains("skip to" i)',
    # Inside an article or the main content, a header holds the title and an aside the
    # footnotes and side notes (docutils writes those as <aside>): both are text there.
    "header:not(main *, [role=main] *, article *)",
    "aside:not(main *, [role=main] *, article *)",
    # The http.cookies docs name sections and API entries after cookies too: a banner is
    # a container that does not start a section with a heading of its own.
    f":is(div, aside, dialog, form, section):is({_NAMED_FOR_COOKIES})"
    ":not(:has(> h1, > h2, > h3, > h4, > h5, > h6))",
])
# fmt: on


def main_content(page: LexborHTMLParser) -> LexborNode | None:
    """The page's main content, its boilerplate removed (from ``page`` itself)."""
    content = _main_element(page)
    if content is None:
        return None
    for boilerplate in content.css(_BOILERPLATE):
        boilerplate.decompose()
    return content


def _main_element(page: LexborHTMLParser) -> LexborNode | None:
    for selector in _MAIN_CONTENT:
        if (main := page.css_first(selector)) is not None:
            return main
    articles = page.css("article")
    return articles[0] if len(articles) == 1 else page.body
