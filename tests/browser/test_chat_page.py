"""The chat page (/) and the API reference (/docs) in a real browser: Debian's chromium,
driven by Playwright, against the app served on loopback.

Each test is a new visitor (a browser context of its own, no cookie); the ``browsing``
fixture fails it when the page asks for anything off its origin or logs an error (a
Content-Security-Policy violation included).
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import FilePayload, Page, expect

from service.endpoints.pages import CHAT_PAGE_CSP, DOCS_CSP
from service.routes import OPERATIONS
from tests.browser.conftest import (
    COOKIE,
    CORPUS_TITLE,
    Browsing,
    Served,
    api,
    ask,
    open_chat,
    output_path,
    record_latency,
    report,
    sessions,
    token,
)

# --- the pages as HTTP serves them ----------------------------------------------------------


def test_the_pages_carry_a_strict_policy_and_cache_headers(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        page = http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CHAT_PAGE_CSP
        assert "unsafe" not in CHAT_PAGE_CSP
        assert "default-src 'self'" in CHAT_PAGE_CSP
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["x-content-type-options"] == "nosniff"
        again = http.get("/", headers={"If-None-Match": page.headers["etag"]})
        assert again.status_code == 304
        # No inline script or style: everything the page runs or applies is a file of its own.
        html = page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert "<style" not in html
        assert " style=" not in html
        for asset, media_type in [
            ("/static/app.js", "text/javascript"),
            ("/static/style.css", "text/css"),
            ("/static/favicon.svg", "image/svg+xml"),
        ]:
            response = http.get(asset)
            assert response.status_code == 200, asset
            assert response.headers["content-type"].startswith(media_type)
            assert response.headers["cache-control"] == "no-cache"
            assert "etag" in response.headers
            if asset.endswith((".js", ".css")):
                assert not re.search(r"https?://", response.text), f"{asset} names another site"
        # Pages are served at their own paths only.
        assert http.get("/static/index.html").status_code == 404
        assert http.get("/static/docs.html").status_code == 404

        docs = http.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-security-policy"] == DOCS_CSP
        assets = re.findall(r'(?:src|href)="(/docs/swagger-ui-[^"]+)"', docs.text)
        assert len(assets) == 2, docs.text
        for asset in assets:
            response = http.get(asset)
            assert response.status_code == 200, asset
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        prefix = assets[0].rsplit("/", 1)[0]
        assert http.get(f"{prefix}/index.html").status_code == 404  # only what /docs uses
        # The pages are not API operations: the description lists none of them.
        paths = http.get("/openapi.json").json()["paths"]
        assert "/" not in paths
        assert "/docs" not in paths


# --- the chat page in the browser -----------------------------------------------------------


def test_a_first_question_is_answered_with_citations_and_a_second_turn_follows(
    browsing: Browsing,
) -> None:
    page = open_chat(browsing)
    assert browsing.cookie(COOKIE) is None
    expect(page.locator("#logout")).to_be_hidden()
    expect(page.locator("#upload-file")).to_be_disabled()

    first = ask(browsing, "When is the Brightwater lighthouse lamp lit?")

    # Streamed in, then the citations: the shared document's title and a snippet.
    expect(first.locator(".message__body")).to_contain_text("dusk")
    sources = first.locator(".sources .source")
    expect(sources).to_have_count(1)
    expect(sources.first.locator(".source__title")).to_have_text(CORPUS_TITLE)
    expect(sources.first.locator(".source__snippet")).to_contain_text("lit at dusk")
    marker = first.locator(".message__body a.marker").first
    expect(marker).to_have_text("[1]")
    marker.click()
    expect(sources.first).to_be_focused()
    # The first answer made this browser an anonymous user: an HttpOnly cookie.
    cookie = browsing.cookie(COOKIE)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    expect(page.locator("#logout")).to_be_visible()
    expect(sessions(page)).to_have_count(1)
    expect(sessions(page).first.locator(".session__title")).to_have_text(
        "When is the Brightwater lighthouse lamp lit?"
    )

    # Shift+Enter adds a line; Enter sends: a second turn, in the same session.
    box = page.locator("#composer-input")
    box.fill("How often does the keeper trim the lamp wick?")
    box.press("Shift+Enter")
    box.type("And when is the weather logged?")
    assert box.input_value() == (
        "How often does the keeper trim the lamp wick?\nAnd when is the weather logged?"
    )
    answers = page.locator(".message--assistant")
    box.press("Enter")
    second = answers.nth(1)
    expect(second).to_have_attribute("data-status", "complete")
    record_latency(browsing, second)
    expect(second.locator(".sources .source")).to_have_count(1)
    expect(page.locator(".message--user .message__body").nth(1)).to_have_text(
        re.compile(r"wick\?\s+And when")
    )
    expect(sessions(page)).to_have_count(1)
    expect(sessions(page).first.locator(".session__meta")).to_contain_text("4 messages")

    listed = api(browsing, "GET", "/sessions").json()["sessions"]
    assert len(listed) == 1
    messages = api(browsing, "GET", f"/sessions/{listed[0]['id']}/messages").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["sources"][0]["document_title"] == CORPUS_TITLE
    assert page.evaluate("location.hash") == f"#{listed[0]['id']}"

    screenshot = output_path("answered-chat.png")
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot of the answered chat: {screenshot}")
    report("first and second turn", browsing)


def test_sessions_are_listed_switched_renamed_and_deleted(browsing: Browsing) -> None:
    page = open_chat(browsing)
    ask(browsing, "How often does the keeper trim the lamp wick?")
    page.locator("#new-chat").click()
    expect(page.locator("#chat-title")).to_have_text("New chat")
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#composer-input")).to_be_focused()
    ask(browsing, "When is the Brightwater lighthouse lamp lit?")
    report("two sessions", browsing)

    # Newest activity first; the chat on screen is marked.
    expect(sessions(page)).to_have_count(2)
    titles = sessions(page).locator(".session__title")
    expect(titles).to_have_text(
        [
            "When is the Brightwater lighthouse lamp lit?",
            "How often does the keeper trim the lamp wick?",
        ]
    )
    expect(sessions(page).nth(0).locator(".session__open")).to_have_attribute(
        "aria-current", "true"
    )

    # Switch to the older chat: its history comes back, citations included.
    sessions(page).nth(1).locator(".session__open").click()
    expect(page.locator("#chat-title")).to_have_text(
        "How often does the keeper trim the lamp wick?"
    )
    expect(page.locator(".message--user .message__body")).to_have_text(
        ["How often does the keeper trim the lamp wick?"]
    )
    expect(page.locator(".message--assistant .source__title")).to_have_text([CORPUS_TITLE])
    expect(sessions(page).nth(1).locator(".session__open")).to_have_attribute(
        "aria-current", "true"
    )

    # Rename it in place; Escape would cancel, Enter saves.
    sessions(page).nth(1).get_by_role("button", name=re.compile("^Rename")).click()
    field = page.get_by_label("New title")
    expect(field).to_be_focused()
    field.fill("Lamp wick questions")
    field.press("Enter")
    expect(titles.nth(1)).to_have_text("Lamp wick questions")
    expect(page.locator("#chat-title")).to_have_text("Lamp wick questions")
    wick_id = sessions(page).nth(1).get_attribute("data-id")
    assert api(browsing, "GET", f"/sessions/{wick_id}").json()["title"] == "Lamp wick questions"

    # A reload shows the same chat (its id is in the address).
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#chat-title")).to_have_text("Lamp wick questions")
    expect(page.locator(".message")).to_have_count(2)

    # Delete the other one, confirming the dialog.
    page.once("dialog", lambda dialog: dialog.accept())
    sessions(page).nth(0).get_by_role("button", name=re.compile("^Delete")).click()
    expect(sessions(page)).to_have_count(1)
    expect(titles).to_have_text(["Lamp wick questions"])
    listed = api(browsing, "GET", "/sessions").json()["sessions"]
    assert [s["title"] for s in listed] == ["Lamp wick questions"]

    # Deleting the chat on screen leaves a new chat.
    page.once("dialog", lambda dialog: dialog.accept())
    sessions(page).nth(0).get_by_role("button", name=re.compile("^Delete")).click()
    expect(sessions(page)).to_have_count(0)
    expect(page.locator("#chat-title")).to_have_text("New chat")
    expect(page.locator("#sessions-empty")).to_be_visible()


def test_the_session_list_pages_through_more_chats(browsing: Browsing) -> None:
    page = open_chat(browsing)
    ask(browsing, "When is the weather logged?")
    for n in range(22):  # 23 chats in all: a page of 20, then 3 more
        created = api(browsing, "POST", "/sessions", json={"title": f"Old chat {n:02}"})
        assert created.status_code == 201, created.text
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(sessions(page)).to_have_count(20)
    more = page.locator("#more-sessions")
    expect(more).to_be_visible()
    more.click()
    expect(sessions(page)).to_have_count(23)
    expect(more).to_be_hidden()
    ids = [sessions(page).nth(n).get_attribute("data-id") for n in range(23)]
    assert len(set(ids)) == 23


def test_an_uploaded_document_is_ingested_then_cited(browsing: Browsing) -> None:
    page = open_chat(browsing)
    expect(page.locator("#upload-hint")).to_be_visible()
    ask(browsing, "When does the keeper log the weather?")
    expect(page.locator("#upload-file")).to_be_enabled()

    orchids = FilePayload(
        name="orchids.md",
        mimeType="text/markdown",
        buffer=(
            b"# Moonflower orchid care\n\n"
            b"Water the moonflower orchid every ninth day with collected rain water, "
            b"and keep it out of direct afternoon sun.\n"
        ),
    )
    page.locator("#upload-file").set_input_files(files=orchids)
    page.locator("#upload-button").click()
    item = page.locator("#documents .document")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-status", "completed")
    expect(item.locator(".document__title")).to_have_text("Moonflower orchid care")
    expect(item.locator(".document__status")).to_contain_text("ready")
    expect(page.locator("#status")).to_contain_text("ready")

    answer = ask(browsing, "How often should the moonflower orchid be watered?")
    expect(answer.locator(".message__body")).to_contain_text("ninth day")
    expect(answer.locator(".source__title").first).to_have_text("Moonflower orchid care")
    report("upload then ask", browsing)

    # A reload lists the document with its status.
    page.reload()
    expect(page.locator("#documents .document")).to_have_attribute("data-status", "completed")


def test_logout_revokes_the_credential_and_a_new_question_starts_afresh(
    browsing: Browsing,
) -> None:
    page = open_chat(browsing)
    ask(browsing, "When is the lighthouse lamp lit?")
    old_token = token(browsing)
    expect(sessions(page)).to_have_count(1)

    page.locator("#logout").click()
    expect(page.locator("#logout")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("Logged out")
    expect(sessions(page)).to_have_count(0)
    expect(page.locator("#chat-title")).to_have_text("New chat")
    assert browsing.cookie(COOKIE) is None
    revoked = httpx.get(
        browsing.base_url + "/sessions",
        headers={"Authorization": f"Bearer {old_token}"},
        timeout=30,
    )
    assert revoked.status_code == 401

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#logout")).to_be_hidden()
    ask(browsing, "When does the keeper log the weather?")
    assert token(browsing) != old_token
    expect(sessions(page)).to_have_count(1)
    expect(sessions(page).first.locator(".session__title")).to_have_text(
        "When does the keeper log the weather?"
    )


def test_the_page_fits_a_phone_sized_screen(browsing: Browsing) -> None:
    page = browsing.page
    page.set_viewport_size({"width": 390, "height": 844})
    open_chat(browsing)
    sidebar, toggle = page.locator("#sidebar"), page.locator("#sidebar-toggle")
    expect(sidebar).to_be_hidden()
    expect(page.locator("#composer-input")).to_be_in_viewport()
    answer = ask(browsing, "When is the Brightwater lighthouse lamp lit?")
    expect(answer.locator(".source__title")).to_have_text([CORPUS_TITLE])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_visible()
    expect(page.locator("#new-chat")).to_be_focused()
    expect(sessions(page)).to_have_count(1)
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_focused()

    screenshot = output_path("phone.png")
    page.screenshot(path=str(screenshot))
    print(f"screenshot on a phone-sized screen: {screenshot}")


def test_the_api_reference_renders_from_the_services_own_assets(browsing: Browsing) -> None:
    page = browsing.page
    requested = record_requests(page)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("chathistory")
    operations = {(op.method, op.path) for op in OPERATIONS}
    expect(page.locator(".opblock")).to_have_count(len(operations))
    # One operation opens, with its request body and responses.
    chat = page.locator(".opblock-post", has=page.locator('[data-path="/chat"]'))
    chat.locator(".opblock-summary-control").click()
    expect(chat.locator(".responses-wrapper")).to_be_visible()
    assert_same_origin(browsing, requested)
    screenshot = output_path("api-reference.png")
    page.screenshot(path=str(screenshot))
    print(f"screenshot of /docs: {screenshot}")


def test_the_chat_page_loads_nothing_from_another_origin(browsing: Browsing) -> None:
    """Every request of the page is to its own origin (the fixture refuses and records any
    other), and the browser reports no policy violation (the fixture fails the test)."""
    requested = record_requests(browsing.page)
    open_chat(browsing)
    ask(browsing, "When is the Brightwater lighthouse lamp lit?")
    assert_same_origin(browsing, requested)


def record_requests(page: Page) -> list[str]:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    return requested


def assert_same_origin(browsing: Browsing, requested: list[str]) -> None:
    assert requested, "the page made no request"
    assert all(url.startswith(browsing.base_url + "/") for url in requested), requested
    assert browsing.off_origin == []
