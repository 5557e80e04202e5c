"""Extraction: plain text, Markdown, HTML and PDF bytes become clean text, a title and a format."""

from __future__ import annotations

import io

import pypdf
import pytest

from service.rag.chunking import chunk_text
from service.rag.extract import (
    ExtractedText,
    UnsupportedDocument,
    clean_text,
    extract_text,
    page_of,
)
from tests.rag.conftest import minimal_pdf


def written_pdf(*, title: str | None = None, user_password: str | None = None) -> bytes:
    """A one blank page PDF written by pypdf, optionally titled and encrypted (RC4)."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    if title is not None:
        writer.add_metadata({"/Title": title})
    if user_password is not None:
        writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


# Plain text and Markdown


def test_plain_text_is_decoded_as_utf8() -> None:
    extracted = extract_text("Grüße, 世界\n".encode(), content_type="text/plain", filename=None)
    assert extracted == ExtractedText("Grüße, 世界", title=None, format="text")


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    content = "\ufeffhello".encode()
    assert extract_text(content, content_type=None, filename="a.txt").text == "hello"


def test_a_utf16_byte_order_mark_decodes_utf16() -> None:
    content = "\ufeffhello wörld".encode("utf-16-le")
    extracted = extract_text(content, content_type=None, filename=None)
    assert (extracted.text, extracted.format) == ("hello wörld", "text")


def test_the_charset_parameter_is_honoured() -> None:
    content = "Café crème à la carte".encode("latin-1")
    extracted = extract_text(
        content, content_type='text/plain; charset="ISO-8859-1"', filename=None
    )
    assert extracted.text == "Café crème à la carte"


def test_an_unknown_charset_falls_back_to_utf8() -> None:
    content = "naïve".encode()
    assert extract_text(content, content_type="text/plain; charset=nope", filename=None).text == (
        "naïve"
    )


def test_invalid_utf8_is_replaced_never_fatal() -> None:
    extracted = extract_text(b"ok \xff\xfe bytes \xc3", content_type="text/plain", filename=None)
    assert extracted.text == "ok \ufffd\ufffd bytes \ufffd"


def test_nul_bytes_and_control_characters_are_removed_tabs_kept() -> None:
    content = b"a\x00b\x01c\x1bd\te\x7f"
    assert extract_text(content, content_type="text/plain", filename=None).text == "abcd\te\x7f"


def test_line_ends_blank_lines_and_trailing_spaces_are_normalized() -> None:
    content = b"\n\none  \r\ntwo\rthree\t\r\n\r\n\r\n\r\n   \n\nfour\x0cfive\n\n\n"
    text = extract_text(content, content_type="text/plain", filename=None).text
    assert text == "one\ntwo\nthree\n\nfour\nfive"


def test_lone_surrogates_are_replaced() -> None:
    assert clean_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"


def test_markdown_is_kept_as_is_and_titled_by_its_first_heading() -> None:
    markdown = "Intro line.\n\n```sh\n# not a title\n```\n\n## Getting *started* ##\n\n- item\n"
    extracted = extract_text(markdown.encode(), content_type="text/markdown", filename=None)
    assert extracted == ExtractedText(
        markdown.rstrip("\n"), title="Getting *started*", format="markdown"
    )


def test_text_without_a_heading_has_no_title() -> None:
    assert extract_text(b"#hashtag\n", content_type="text/plain", filename=None).title is None


# Format detection


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain", "text"),
        ("text/markdown", "markdown"),
        ("text/x-markdown; charset=utf-8", "markdown"),
        ("TEXT/HTML; charset=UTF-8", "html"),
        ("application/xhtml+xml", "html"),
    ],
)
def test_the_content_type_decides_the_format(content_type: str, expected: str) -> None:
    extracted = extract_text(b"some words", content_type=content_type, filename="notes.pdf")
    assert extracted.format == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("notes.txt", "text"),
        ("README.md", "markdown"),
        ("guide.MARKDOWN", "markdown"),
        ("page.html", "html"),
        ("page.htm", "html"),
    ],
)
def test_without_a_content_type_the_extension_decides(filename: str, expected: str) -> None:
    for content_type in (None, "application/octet-stream"):
        extracted = extract_text(b"some words", content_type=content_type, filename=filename)
        assert extracted.format == expected


def test_without_type_or_extension_the_bytes_decide() -> None:
    html = b"\n  <!DOCTYPE html><html><body><p>Hi</p></body></html>"
    assert extract_text(html, content_type=None, filename=None).format == "html"
    assert extract_text(minimal_pdf("x"), content_type=None, filename="scan").format == "pdf"
    assert extract_text(b"just words", content_type=None, filename="data.csv").format == "text"


def test_another_text_content_type_is_read_as_text() -> None:
    extracted = extract_text(b"a,b\n1,2\n", content_type="text/csv", filename=None)
    assert (extracted.text, extracted.format) == ("a,b\n1,2", "text")


def test_an_unsupported_content_type_is_rejected() -> None:
    with pytest.raises(UnsupportedDocument, match="unsupported content type image/png"):
        extract_text(b"\x89PNG\r\n\x1a\n\x00\x00", content_type="image/png", filename="a.txt")


def test_unknown_binary_content_is_rejected() -> None:
    zip_header = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"
    with pytest.raises(UnsupportedDocument, match=r"unsupported binary content \(report\.docx\)"):
        extract_text(zip_header, content_type=None, filename="report.docx")
    with pytest.raises(UnsupportedDocument, match="unsupported binary content"):
        extract_text(zip_header, content_type="application/octet-stream", filename=None)


# HTML


def test_html_keeps_visible_text_as_paragraphs_and_takes_the_title() -> None:
    html = b"""<!doctype html>
    <html><head><title>  The
      Title </title><meta charset="utf-8"><style>p { color: red }</style>
    <script>document.write("hidden")</script></head>
    <body>
      <p>First   paragraph
         spans lines.</p><div>Second<br>line two</div>
      <noscript>Enable JS</noscript><template><p>Template</p></template>
      <svg><title>icon</title><text>vector</text></svg>
      <ul><li>one</li><li>two</li></ul>
      <table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
    </body></html>"""
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert extracted == ExtractedText(
        "First paragraph spans lines.\n\nSecond\nline two\n\none\n\ntwo\n\na b\n\nc d",
        title="The Title",
        format="html",
    )


def test_html_headings_become_markdown_headings() -> None:
    html = b"<h1>Guide</h1><p>Intro.</p><h2>Set<br>up <em>now</em></h2><p>Steps.</p><h6>Notes"
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert extracted.text == "# Guide\n\nIntro.\n\n## Set up now\n\nSteps.\n\n###### Notes"
    assert extracted.title == "Guide"  # no <title>: the first heading


def test_html_entities_are_unescaped() -> None:
    html = b"<p>Fish &amp; chips &lt;3 &eacute;t&eacute; &#8364;5 &#x263A;&nbsp;ok</p>"
    text = extract_text(html, content_type="text/html", filename=None).text
    assert text == "Fish & chips <3 été €5 ☺\xa0ok"


def test_html_without_closing_head_keeps_the_body() -> None:
    html = b"<html><head><title>T</title><p>Body text"
    assert extract_text(html, content_type="text/html", filename=None) == ExtractedText(
        "Body text", title="T", format="html"
    )


def test_html_preformatted_text_keeps_its_lines() -> None:
    html = b"<p>Run:</p><pre>make\n  install</pre>"
    text = extract_text(html, content_type="text/html", filename=None).text
    assert text == "Run:\n\nmake\n  install"


def test_a_data_table_keeps_rows_on_lines_and_a_layout_table_keeps_its_blocks() -> None:
    html = b"""<table><tr><th><p>Name</p></th><th><p>Value</p></th></tr>
    <tr><td><p>SEEK_SET</p></td><td>0</td></tr></table>
    <table><tr><td><a href="/">Home</a></td><td><h1>Ferries</h1><p>One.</p><p>Two.</p>
    <ul><li>Three.</li></ul></td></tr></table>"""
    text = extract_text(html, content_type="text/html", filename=None).text
    assert text == "Name Value\n\nSEEK_SET 0\n\nHome\n\n# Ferries\n\nOne.\n\nTwo.\n\nThree."


def test_html_meta_charset_is_honoured_without_a_charset_parameter() -> None:
    html = '<html><head><meta charset="windows-1252"></head><p>“Quoted” café</p>'
    extracted = extract_text(html.encode("cp1252"), content_type="text/html", filename=None)
    assert extracted.text == "“Quoted” café"


# HTML pages: the main content without the page's chrome

SPHINX_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8" />
<title>os \u2014 Miscellaneous operating system interfaces &#8212; Python 3.11.2 documentation</title>
</head><body>
<div class="mobile-nav"><nav class="nav-content" role="navigation">
  <form role="search" class="search"><input type="text" aria-label="Quick search"/></form>
</nav></div>
<div class="related" role="navigation" aria-label="related navigation"><h3>Navigation</h3><ul>
  <li class="right"><a href="../genindex.html" title="General Index">index</a></li>
  <li class="right"><a href="../py-modindex.html">modules</a> |</li>
  <li class="right"><a href="io.html">next</a> |</li>
  <li><a href="https://www.python.org/">Python</a> &#187;</li>
  <li class="nav-item"><a href="allos.html">Generic Operating System Services</a> &#187;</li>
</ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
  <section id="module-os">
  <h1><code class="xref py py-mod docutils literal notranslate"><span class="pre">os</span></code>
    \u2014 Miscellaneous operating system interfaces<a class="headerlink" href="#module-os"
    title="Permalink to this heading">\u00b6</a></h1>
  <p><strong>Source code:</strong> <a href="os.py">Lib/os.py</a></p>
  <p>This module provides a portable way of using operating system dependent functionality.</p>
  <section id="process-parameters"><h2>Process Parameters<a class="headerlink"
    href="#process-parameters">\u00b6</a></h2>
  <div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="n">os</span><span class="o">.</span><span class="n">getpid</span><span class="p">()</span>
<span class="go">4242</span>
</pre></div></div>
  <table class="docutils align-default"><thead><tr><th><p>Name</p></th><th><p>Value</p></th></tr></thead>
  <tbody><tr><td><p>SEEK_SET</p></td><td><p>0</p></td></tr></tbody></table>
  <aside class="footnote brackets" id="id2" role="note"><p>Footnote text stays.</p></aside>
  </section></section>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><div class="sphinxsidebarwrapper">
  <div><h3><a href="../contents.html">Table of Contents</a></h3><ul><li><a href="#">os</a></li></ul></div>
  <div><h4>Previous topic</h4><p class="topless"><a href="allos.html">Generic Operating System Services</a></p></div>
  <div><h4>Next topic</h4><p class="topless"><a href="io.html">io \u2014 Core tools for working with streams</a></p></div>
  <div role="note" aria-label="source link"><h3>This Page</h3><ul class="this-page-menu">
    <li><a href="../bugs.html">Report a Bug</a></li><li><a href="../_sources/library/os.rst.txt">Show Source</a></li>
  </ul></div>
</div></div>
<div class="clearer"></div></div>
<div class="related" role="navigation" aria-label="related navigation"><h3>Navigation</h3>
  <ul><li class="right"><a href="../genindex.html">index</a></li></ul></div>
<div class="footer">&copy; <a href="../copyright.html">Copyright</a> 2001-2023, Python Software Foundation.
  <br />Last updated on Feb 12, 2023. <a href="/bugs.html">Found a bug</a>?</div>
</body></html>"""

DOCBOOK_PAGE = """<html><head><title>Chapter 2. Installing</title></head><body>
<div class="navheader"><table width="100%" summary="Navigation header">
  <tr><th colspan="3" align="center">Chapter 2. Installing</th></tr>
  <tr><td width="20%" align="left"><a accesskey="p" href="ch01.html">Prev</a> </td>
  <th width="60%" align="center"> </th>
  <td width="20%" align="right"> <a accesskey="n" href="ch02s02.html">Next</a></td></tr>
</table><hr></div>
<div class="chapter"><div class="titlepage"><div><div><h2 class="title"><a name="install"></a>Chapter 2. Installing</h2></div></div></div>
<p>Unpack the archive, then build it.</p>
<pre class="programlisting">./configure --prefix=/usr
make &amp;&amp; make install</pre>
</div>
<div class="navfooter"><hr><table width="100%" summary="Navigation footer">
  <tr><td width="40%" align="left"><a accesskey="p" href="ch01.html">Prev</a> </td>
  <td width="20%" align="center"><a accesskey="u" href="index.html">Up</a></td>
  <td width="40%" align="right"> <a accesskey="n" href="ch02s02.html">Next</a></td></tr>
  <tr><td width="40%" align="left" valign="top">Chapter 1. Introduction </td>
  <td width="20%" align="center"><a accesskey="h" href="index.html">Home</a></td>
  <td width="40%" align="right" valign="top"> Configuring</td></tr>
</table></div>
</body></html>"""


def test_a_sphinx_page_keeps_its_body_text_headings_code_and_tables_only() -> None:
    extracted = extract_text(SPHINX_PAGE.encode(), content_type="text/html", filename=None)
    assert extracted.text == (
        "# os \u2014 Miscellaneous operating system interfaces\n\n"
        "Source code: Lib/os.py\n\n"
        "This module provides a portable way of using operating system dependent functionality.\n\n"
        "## Process Parameters\n\n"
        ">>> os.getpid()\n4242\n\n"
        "Name Value\n\nSEEK_SET 0\n\n"
        "Footnote text stays."
    )


def test_a_sphinx_page_is_titled_by_its_h1_without_the_site_suffix() -> None:
    extracted = extract_text(SPHINX_PAGE.encode(), content_type="text/html", filename=None)
    assert extracted.title == "os \u2014 Miscellaneous operating system interfaces"


def test_a_docbook_page_loses_its_prev_up_home_next_tables() -> None:
    extracted = extract_text(DOCBOOK_PAGE.encode(), content_type="text/html", filename=None)
    assert extracted == ExtractedText(
        "## Chapter 2. Installing\n\n"
        "Unpack the archive, then build it.\n\n"
        "./configure --prefix=/usr\nmake && make install",
        title="Chapter 2. Installing",
        format="html",
    )


def test_a_page_without_main_content_loses_its_header_aside_footer_and_skip_link() -> None:
    html = b"""<body><a class="skip" href="#content">Skip to main content</a>
    <header><a href="/">Example Blog</a><nav><a href="/about">About</a></nav></header>
    <div class="layout"><aside><h2>Popular posts</h2><p>Other post</p></aside>
    <article><header><h1>Tide tables</h1><p>By Ana</p></header><p>High tide is at noon.</p>
    <footer>Tags: sea</footer></article>
    <article><header><h2>Ferries</h2></header><p>The ferry leaves at seven.</p></article>
    <div role="search"><input aria-label="Search"><button>Search</button></div></div>
    <footer role="contentinfo"><p>&copy; 2024 Example</p></footer></body>"""
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert extracted.text == (
        "# Tide tables\n\nBy Ana\n\nHigh tide is at noon.\n\n"
        "## Ferries\n\nThe ferry leaves at seven."
    )


def test_a_pages_only_article_is_its_main_content() -> None:
    html = b"""<body><div class="menu">Home | Blog</div>
    <article><h1>Tide tables</h1><p>High tide is at noon.</p></article>
    <div class="related">Read next: Ferries</div></body>"""
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert extracted.text == "# Tide tables\n\nHigh tide is at noon."


def test_only_the_main_element_is_read_when_there_is_one() -> None:
    html = b"""<body><div class="topbar">Sign in | Register</div>
    <main><h1>Ferries</h1><p>The ferry leaves at seven.</p>
    <aside class="footnote"><p>Except on Sundays.</p></aside></main>
    <div class="legal">Terms and privacy</div></body>"""
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert extracted.text == "# Ferries\n\nThe ferry leaves at seven.\n\nExcept on Sundays."


def test_a_cookie_banner_is_dropped_but_a_section_about_cookies_is_kept() -> None:
    html = b"""<body>
    <div id="cookie-banner" class="fixed-bottom"><p>We use cookies to improve your visit.</p>
      <button>Accept all cookies</button> <a href="/privacy">Cookie settings</a></div>
    <div class="cc-window" aria-label="cookieconsent"><span>This site uses cookies.</span></div>
    <section id="cookie-objects"><h2>Cookie Objects</h2>
      <p>A cookie is a name and a value sent with every request.</p></section></body>"""
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert extracted.text == (
        "## Cookie Objects\n\nA cookie is a name and a value sent with every request."
    )


def test_a_trailing_pilcrow_is_not_part_of_a_heading() -> None:
    html = "<h1>Usage<a href='#usage'>\u00b6</a></h1><p>Run it.</p>".encode()
    extracted = extract_text(html, content_type="text/html", filename=None)
    assert (extracted.text, extracted.title) == ("# Usage\n\nRun it.", "Usage")


@pytest.mark.parametrize(
    ("title", "h1", "expected"),
    [
        ("Ferries | Harbour Guide", "Ferries", "Ferries"),
        ("Harbour Guide \u00bb Ferries", "Ferries", "Ferries"),
        ("Ferries - Harbour Guide", "Ferries", "Ferries"),
        ("Harbour Guide", "Ferries", "Harbour Guide"),  # not the h1 and a site name
        ("Ferries to the islands", "Ferries", "Ferries to the islands"),
    ],
)
def test_the_h1_titles_a_page_whose_title_adds_the_site_name(
    title: str, h1: str, expected: str
) -> None:
    html = f"<title>{title}</title><h1>{h1}</h1><p>Text.</p>".encode()
    assert extract_text(html, content_type="text/html", filename=None).title == expected


def test_deeply_nested_html_is_read_as_text() -> None:
    nested = "<div>" * 5000 + "<p>deep <b>text</b></p>" + "</div>" * 5000
    html = f"{nested}<table><tr><td>{nested}</td></tr></table><h2>{nested}</h2>".encode()
    text = extract_text(html, content_type="text/html", filename=None).text
    assert text == "deep text\n\ndeep text\n\n## deep text"


# PDF


def test_pdf_text_is_extracted_from_every_page() -> None:
    pdf = minimal_pdf("Hello PDF", "Second page", title="Greeting")
    extracted = extract_text(pdf, content_type="application/pdf", filename="hello.pdf")
    assert extracted == ExtractedText(
        "Hello PDF\n\nSecond page", title="Greeting", format="pdf", page_starts=(0, 11)
    )


def test_a_blank_pdf_page_gives_empty_text_and_the_metadata_title() -> None:
    extracted = extract_text(written_pdf(title="Blank"), content_type=None, filename="blank.pdf")
    assert extracted == ExtractedText("", title="Blank", format="pdf", page_starts=(0,))


def test_a_pdf_without_a_title_takes_none() -> None:
    assert extract_text(minimal_pdf("Hello PDF"), content_type=None, filename=None).title is None


def test_a_password_protected_pdf_is_rejected() -> None:
    pdf = written_pdf(user_password="secret")
    with pytest.raises(UnsupportedDocument, match="encrypted PDF"):
        extract_text(pdf, content_type="application/pdf", filename=None)


def test_a_pdf_encrypted_with_an_empty_user_password_is_read() -> None:
    pdf = written_pdf(title="Restricted", user_password="")
    extracted = extract_text(pdf, content_type="application/pdf", filename=None)
    assert extracted == ExtractedText("", title="Restricted", format="pdf", page_starts=(0,))


def test_pdf_page_starts_map_offsets_to_pages() -> None:
    pdf = minimal_pdf("First page", "", "Third page")  # the second page is blank
    extracted = extract_text(pdf, content_type="application/pdf", filename=None)
    assert extracted.text == "First page\n\nThird page"
    assert extracted.page_starts == (0, 10, 12)
    pages = [page_of(extracted.page_starts, offset) for offset in (0, 9, 12, 21)]
    assert pages == [1, 1, 3, 3]
    chunks = chunk_text("\n\n".join([extracted.text] * 2))  # pages do not say how to chunk
    assert page_of(extracted.page_starts, chunks[0].char_start) == 1


def test_documents_other_than_pdf_have_no_pages() -> None:
    extracted = extract_text(b"# Notes\n\nText.", content_type="text/markdown", filename=None)
    assert extracted.page_starts == ()
    assert page_of(extracted.page_starts, 3) is None


@pytest.mark.parametrize(
    "content",
    [b"", b"not a pdf at all", b"%PDF-1.7\n1 0 obj << /Type /Catalog", b"%PDF-1.4\n\x00\xff" * 50],
)
def test_a_broken_pdf_is_rejected(content: bytes) -> None:
    with pytest.raises(UnsupportedDocument, match=r"^unreadable PDF: \S"):
        extract_text(content, content_type="application/pdf", filename="broken.pdf")
