"""The chat page's search box, thumbs up/down and Regenerate in a real browser (Debian's
chromium driven by Playwright) against the app served on loopback.

Each test is a new visitor; the ``browsing`` fixture fails it when the page asks for anything
off its origin or logs an error (a Content-Security-Policy violation or a failed request
included). What the page shows is checked against what the API says the server stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import WAIT_MS, Browsing, api, ask, open_chat, output_path, sessions

expect.set_options(timeout=WAIT_MS)

LAMP_QUESTION = "When is the Brightwater lighthouse lamp lit?"
# Characters HTML escapes, in a question: a search snippet of it must show them as typed.
# (Tag-like text would not do: ts_headline leaves tags out of its fragments.)
WICK_QUESTION = 'How often is the wick of the lamp trimmed: every "4 & 8" hours, or < 2 hours?'


def search(page: Page, words: str) -> Locator:
    """Search from the sidebar's box; the results once the summary says the search is over."""
    page.locator("#search-input").fill(words)
    page.locator("#search-input").press("Enter")
    expect(page.locator("#search-summary")).to_have_text(re.compile("match"))
    return page.locator("#results .result")


def message_contents(browsing: Browsing, session_id: str) -> dict[str, str]:
    """Every message of the session, answers that regenerated ones replaced too: id -> text."""
    listed = api(browsing, "GET", f"/sessions/{session_id}/messages?answers=all")
    assert listed.status_code == 200, listed.text
    return {message["id"]: message["content"] for message in listed.json()["messages"]}


def rated_answers(browsing: Browsing) -> list[dict[str, Any]]:
    exported = api(browsing, "GET", "/feedback/export")
    assert exported.status_code == 200, exported.text
    return [json.loads(line) for line in exported.text.splitlines() if line]


def test_search_finds_a_message_of_an_earlier_chat_and_opens_it(browsing: Browsing) -> None:
    page = open_chat(browsing)
    ask(browsing, WICK_QUESTION)
    wick_session = page.evaluate("location.hash.slice(1)")
    page.locator("#new-chat").click()
    ask(browsing, LAMP_QUESTION)
    page.locator("#new-chat").click()
    expect(page.locator(".message")).to_have_count(0)

    results = search(page, "wick")
    expect(results.first).to_be_visible()
    for n in range(results.count()):
        assert results.nth(n).get_attribute("data-session-id") == wick_session
    expect(results.locator(".result__title").first).to_have_text(WICK_QUESTION)
    # The snippet highlights the match and shows the question's & and < as typed.
    question = results.filter(has=page.locator(".result__meta", has_text=re.compile("^You")))
    expect(question).to_have_count(1)
    expect(question.locator(".result__snippet mark").first).to_have_text(re.compile("wick", re.I))
    expect(question.locator(".result__snippet")).to_contain_text('every "4 & 8" hours, or < 2')
    expect(question.locator(".result__snippet mark")).to_have_count(1)

    # Opening it shows that chat, scrolled to the message, marked and focused.
    message_id = question.get_attribute("data-message-id")
    question.locator("button").click()
    expect(page.locator("#chat-title")).to_have_text(WICK_QUESTION)
    found = page.locator(".message--found")
    expect(found).to_have_count(1)
    expect(found).to_have_attribute("data-id", str(message_id))
    expect(found).to_be_focused()
    expect(found).to_be_in_viewport()
    expect(found.locator(".message__body")).to_have_text(WICK_QUESTION)
    assert page.evaluate("location.hash") == f"#{wick_session}"
    expect(
        sessions(page).filter(has_text="wick of the lamp").locator(".session__open")
    ).to_have_attribute("aria-current", "true")

    # A -word leaves out every message holding it: the lamp question stays, the wick chat goes.
    everything = search(page, "lamp")
    expect(everything.first).to_be_visible()
    assert any(
        everything.nth(n).get_attribute("data-session-id") == wick_session
        for n in range(everything.count())
    )
    without_wick = search(page, "lamp -wick")
    expect(without_wick.first).to_be_visible()
    lamp_session = without_wick.first.get_attribute("data-session-id")
    assert lamp_session is not None
    contents = message_contents(browsing, wick_session) | message_contents(browsing, lamp_session)
    found_ids = [
        without_wick.nth(n).get_attribute("data-message-id") for n in range(without_wick.count())
    ]
    assert all(message_id in contents for message_id in found_ids)
    assert not any("wick" in contents[str(message_id)].lower() for message_id in found_ids)
    assert LAMP_QUESTION in {contents[str(message_id)] for message_id in found_ids}

    # A search nothing matches says so; Clear search empties the results.
    search(page, "zeppelin")
    expect(page.locator("#search-summary")).to_have_text("No message matches “zeppelin”.")
    expect(page.locator("#results .result")).to_have_count(0)
    page.locator("#clear-search").click()
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#search-input")).to_be_focused()


def test_search_results_page_through_more_matches(browsing: Browsing) -> None:
    page = open_chat(browsing)
    ask(browsing, "When does the lighthouse foghorn sound?")
    session_id = page.evaluate("location.hash.slice(1)")
    # More questions than a page of results holds (RESULTS_PAGE, 20), asked through the API.
    for n in range(21):
        turn = api(
            browsing,
            "POST",
            "/chat",
            json={
                "message": f"Question {n}: how often does the foghorn sound?",
                "session_id": session_id,
            },
        )
        assert turn.status_code == 200, turn.text

    results = search(page, "foghorn")
    expect(results).to_have_count(20)
    more = page.locator("#more-results")
    expect(more).to_be_visible()
    more.click()
    expect(page.locator("#search-summary")).to_have_text(re.compile(r"^\d+ matches of"))
    expect(more).to_be_hidden()
    total = results.count()
    assert total >= 22
    ids = [results.nth(n).get_attribute("data-message-id") for n in range(total)]
    assert len(set(ids)) == total
    # The first of the added results has the focus, so the keyboard carries on from there.
    expect(results.nth(20).locator("button")).to_be_focused()


def test_thumbs_up_then_down_then_removed_are_stored(browsing: Browsing) -> None:
    page = open_chat(browsing)
    answer = ask(browsing, LAMP_QUESTION)
    answer_id = answer.get_attribute("data-id")
    assert answer_id is not None
    good = answer.get_by_role("button", name="Good answer")
    bad = answer.get_by_role("button", name="Bad answer")
    expect(good).to_have_attribute("aria-pressed", "false")
    expect(bad).to_have_attribute("aria-pressed", "false")

    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(bad).to_have_attribute("aria-pressed", "false")
    [rated] = rated_answers(browsing)
    assert (rated["message_id"], rated["rating"]) == (answer_id, "up")
    assert rated["question"] == LAMP_QUESTION

    # From the keyboard: the other thumb replaces the rating.
    bad.focus()
    page.keyboard.press("Enter")
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")
    expect(bad).to_be_focused()
    [rated] = rated_answers(browsing)
    assert (rated["message_id"], rated["rating"]) == (answer_id, "down")

    screenshot = output_path("rated-answer.png")
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot of a rated answer: {screenshot}")

    # A reload reads the rating back from the history.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    answer = page.locator(f'[data-id="{answer_id}"]')
    good = answer.get_by_role("button", name="Good answer")
    bad = answer.get_by_role("button", name="Bad answer")
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")

    # The pressed one again takes the rating back.
    bad.click()
    expect(bad).to_have_attribute("aria-pressed", "false")
    expect(good).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#status")).to_have_text("Rating removed.")
    assert rated_answers(browsing) == []


def test_regenerate_replaces_the_latest_answer_and_the_history_shows_the_new_one(
    browsing: Browsing,
) -> None:
    page = open_chat(browsing)
    ask(browsing, LAMP_QUESTION)
    latest = ask(browsing, "How often does the keeper trim the lamp wick?")
    answers = page.locator(".message--assistant")
    regenerate = page.locator(".message__regenerate")
    # Only the latest answer offers it.
    expect(regenerate).to_have_count(1)
    expect(latest.locator(".message__regenerate")).to_have_count(1)
    earlier_id = latest.get_attribute("data-id")
    assert earlier_id is not None
    latest.get_by_role("button", name="Good answer").click()
    expect(latest.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "true"
    )

    regenerate.click()
    expect(latest).not_to_have_attribute("data-id", earlier_id)
    expect(latest).to_have_attribute("data-status", "complete")
    new_id = latest.get_attribute("data-id")
    assert new_id is not None
    # In place: still two questions and two answers, the new one unrated, Regenerate on it.
    expect(answers).to_have_count(2)
    expect(page.locator(".message--user")).to_have_count(2)
    expect(latest.locator(".message__body")).to_contain_text("wick")
    expect(latest.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(latest.locator(".message__regenerate")).to_be_focused()
    expect(latest.locator(".message__regenerate")).to_have_attribute("aria-disabled", "false")
    expect(page.locator("#status")).to_have_text("A new answer replaced the earlier one.")

    session_id = page.evaluate("location.hash.slice(1)")
    shown = api(browsing, "GET", f"/sessions/{session_id}/messages").json()["messages"]
    assert [m["role"] for m in shown] == ["user", "assistant", "user", "assistant"]
    assert shown[-1]["id"] == new_id
    assert shown[-1]["reply_to_id"] == shown[-2]["id"]
    every = api(browsing, "GET", f"/sessions/{session_id}/messages?answers=all").json()
    superseded = [m for m in every["messages"] if m["superseded_at"] is not None]
    assert [m["id"] for m in superseded] == [earlier_id]

    # A reload reads the history: the new answer, in the earlier one's place.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(answers).to_have_count(2)
    expect(answers.nth(1)).to_have_attribute("data-id", new_id)
    expect(answers.nth(1).locator(".message__regenerate")).to_be_visible()
    expect(page.locator(".message__regenerate")).to_have_count(1)


def test_search_works_on_a_phone_sized_screen(browsing: Browsing) -> None:
    page = browsing.page
    page.set_viewport_size({"width": 390, "height": 844})
    open_chat(browsing)
    answer = ask(browsing, LAMP_QUESTION)
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    expect(answer.locator(".message__regenerate")).to_be_visible()
    page.locator("#sidebar-toggle").click()
    expect(page.locator("#search-input")).to_be_visible()
    results = search(page, "dusk")
    expect(results.first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot = output_path("phone-search.png")
    page.screenshot(path=str(screenshot))
    print(f"screenshot of search on a phone-sized screen: {screenshot}")

    results.first.locator("button").click()
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(page.locator(".message--found")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
