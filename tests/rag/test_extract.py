"""Extraction: plain text, Markdown, HTML and PDF bytes become clean text, a title and a format."""

from __future__ import annotations

import io

import pypdf
import pytest

from service.rag.extract import ExtractedText, UnsupportedDocument, clean_text, extract_text


def minimal_pdf(*page_texts: str, title: str | None = None) -> bytes:
    """A hand-written PDF, one Helvetica line per page, with a correct cross-reference table."""
    page_count = len(page_texts)
    font_number = 3 + 2 * page_count
    kids = " ".join(f"{3 + 2 * page} 0 R" for page in range(page_count))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {page_count} >>",
    ]
    for page, page_text in enumerate(page_texts):
        stream = f"BT /F1 12 Tf 72 712 Td ({page_text}) Tj ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_number} 0 R >> >> /Contents {4 + 2 * page} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = ""
    if title is not None:
        objects.append(f"<< /Title ({title}) >>")
        info = f" /Info {len(objects)} 0 R"

    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref_offset = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010d} 00000 n \n".encode()  # each entry is exactly 20 bytes
    pdf += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n"
        f"startxref\n{xref_offset}\n%%EOF\n"
    ).encode()
    return bytes(pdf)


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


def test_html_meta_charset_is_honoured_without_a_charset_parameter() -> None:
    html = '<html><head><meta charset="windows-1252"></head><p>“Quoted” café</p>'
    extracted = extract_text(html.encode("cp1252"), content_type="text/html", filename=None)
    assert extracted.text == "“Quoted” café"


# PDF


def test_pdf_text_is_extracted_from_every_page() -> None:
    pdf = minimal_pdf("Hello PDF", "Second page", title="Greeting")
    extracted = extract_text(pdf, content_type="application/pdf", filename="hello.pdf")
    assert extracted == ExtractedText("Hello PDF\n\nSecond page", title="Greeting", format="pdf")


def test_a_blank_pdf_page_gives_empty_text_and_the_metadata_title() -> None:
    extracted = extract_text(written_pdf(title="Blank"), content_type=None, filename="blank.pdf")
    assert extracted == ExtractedText("", title="Blank", format="pdf")


def test_a_pdf_without_a_title_takes_none() -> None:
    assert extract_text(minimal_pdf("Hello PDF"), content_type=None, filename=None).title is None


def test_a_password_protected_pdf_is_rejected() -> None:
    pdf = written_pdf(user_password="secret")
    with pytest.raises(UnsupportedDocument, match="encrypted PDF"):
        extract_text(pdf, content_type="application/pdf", filename=None)


def test_a_pdf_encrypted_with_an_empty_user_password_is_read() -> None:
    pdf = written_pdf(title="Restricted", user_password="")
    extracted = extract_text(pdf, content_type="application/pdf", filename=None)
    assert extracted == ExtractedText("", title="Restricted", format="pdf")


@pytest.mark.parametrize(
    "content",
    [b"", b"not a pdf at all", b"%PDF-1.7\n1 0 obj << /Type /Catalog", b"%PDF-1.4\n\x00\xff" * 50],
)
def test_a_broken_pdf_is_rejected(content: bytes) -> None:
    with pytest.raises(UnsupportedDocument, match=r"^unreadable PDF: \S"):
        extract_text(content, content_type="application/pdf", filename="broken.pdf")
