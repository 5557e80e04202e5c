"""Boilerplate: the part of a parsed HTML page that is its text, without the page's chrome.

The text is the page's main content: its ``<main>`` (or ``role=main``, or Sphinx's
``div.body``, or its only ``<article>``), else its ``<body>``. Removed from it: navigation
(``<nav>``, ARIA navigation, banner, contentinfo and search landmarks, Sphinx's related bars,
sidebars and header links, DocBook's navigation header and footer), footers, skip links and
cookie banners; from a whole ``<body>``, also the page's ``<header>`` and ``<aside>``.
"""

from __future__ import annotations

from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["main_content"]

# In order of preference; div.body is where Sphinx themes without ARIA roles put the text.
_MAIN_CONTENT: Final = ("main, [role=main]", "div.body")
_NAMED_FOR_COOKIES: Final = ", ".join(
    f"[{attribute}*={word} i]"
    for attribute in ("id", "class", "aria-label")
    for word in ("cookie", "consent")
)
# fmt: off
_BOILERPLATE: Final = ", ".join([
    "nav", "footer",
    "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[role=search]",
    "div.related", "div.sphinxsidebar", "div.footer", "a.headerlink",  # Sphinx
    "div.navheader", "div.navfooter",  # DocBook's Prev / Up / Home / Next tables
    'a[href^="#"]:lexbor-contains("skip to" i)',
    # The http.cookies docs name sections and API entries after cookies too: a banner is
    # a container that does not start a section with a heading of its own.
    f":is(div, aside, dialog, form, section):is({_NAMED_FOR_COOKIES})"
    ":not(:has(> h1, > h2, > h3, > h4, > h5, > h6))",
])
# fmt: on
# Only the page's own: in a main content or an article, a header holds the title and an aside
# the footnotes and side notes (docutils writes those as <aside>).
_PAGE_CHROME: Final = "header:not(article *), aside:not(article *)"


def main_content(page: LexborHTMLParser) -> LexborNode | None:
    """The page's main content, its boilerplate removed (from ``page`` itself)."""
    for selector in _MAIN_CONTENT:
        if (main := page.css_first(selector)) is not None:
            return _without(main, _BOILERPLATE)
    articles = page.css("article")
    if len(articles) == 1:
        return _without(articles[0], _BOILERPLATE)
    if page.body is None:
        return None
    return _without(page.body, f"{_BOILERPLATE}, {_PAGE_CHROME}")


def _without(content: LexborNode, boilerplate: str) -> LexborNode:
    for element in content.css(boilerplate):
        element.decompose()  # detaches it: an element inside one removed before stays valid
    return content
