"""A legacy chat widget embedded in a page of another origin (a second loopback port), in a
real browser: Debian's chromium driven by Playwright (the ``browser`` fixture skips, saying
why, without it).

The widget is what the seed's clients are: plain JavaScript that makes up its own string
session id, keeps it in localStorage, sends ``{"query", "session_id", "context"}`` to
``POST /chat`` and reloads ``GET /history/{session_id}`` (the legacy shape, with
``timestamp``). The service allows the widget's origin (ALLOWED_ORIGINS: CORS, credentials
included) and token-less legacy sessions (LEGACY_TOKENLESS_SESSIONS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from service.app import create_app
from tests.browser.conftest import WAIT_MS, output_path
from tests.conftest import Cluster
from tests.service.conftest import app_settings, serve

expect.set_options(timeout=WAIT_MS)

COOKIE = "chat_token"

WIDGET_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Lighthouse docs, with a chat widget</title></head>
<body>
<main><p id="article">The keeper trims the lamp wick every four hours through the night.</p></main>
<section id="widget">
  <ol id="messages"></ol>
  <label>Selected text <textarea id="context"></textarea></label>
  <label>Question <input id="question"></label>
  <button id="send" type="button">Send</button>
  <p id="status"></p>
</section>
<script src="/widget.js"></script>
</body>
</html>
"""

# The widget: its own session id (never a token), the legacy body, the legacy history.
# ?credentials=omit sends no cookie; ?signin=1 first asks without a session id, so that the
# service makes the browser a user (its HttpOnly cookie), then goes on with the key.
WIDGET_SCRIPT = """
const params = new URLSearchParams(location.search);
const api = params.get("api");
const credentials = params.get("credentials") || "include";
const storageKey = "legacy-widget-session";
let sessionId = localStorage.getItem(storageKey);
if (!sessionId) {
  sessionId = "widget-" + crypto.randomUUID().replaceAll("-", "");
  localStorage.setItem(storageKey, sessionId);
}
document.body.dataset.sessionId = sessionId;
const list = document.getElementById("messages");

function show(role, content, timestamp) {
  const item = document.createElement("li");
  item.className = "message message--" + role;
  item.dataset.timestamp = timestamp || "";
  item.textContent = content;
  list.appendChild(item);
}

function report(error) {
  document.getElementById("status").textContent = String(error);
  document.body.dataset.error = String(error);
}

async function post(body) {
  const response = await fetch(`${api}/chat`, {
    method: "POST",
    credentials,
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(`chat: ${response.status} ${data.error.message}`);
  return data;
}

async function signIn() {
  if (params.get("signin") && !localStorage.getItem("signed-in")) {
    await post({query: "hello"});
    localStorage.setItem("signed-in", "yes");
  }
}

async function loadHistory() {
  const url = `${api}/history/${encodeURIComponent(sessionId)}?limit=50`;
  const response = await fetch(url, {credentials});
  if (response.status === 404) return;  // the key has started no session yet
  if (!response.ok) throw new Error(`history: ${response.status}`);
  const data = await response.json();
  if (data.session_id !== sessionId) throw new Error("history of another session");
  for (const message of data.messages) show(message.role, message.content, message.timestamp);
}

async function send() {
  const question = document.getElementById("question").value;
  const context = document.getElementById("context").value;
  const body = {query: question, session_id: sessionId};
  if (context) body.context = context;
  show("user", question, "");
  const data = await post(body);
  if (data.session_id !== sessionId) throw new Error("answered in another session");
  show("assistant", data.answer, "");
  document.body.dataset.turns = String(Number(document.body.dataset.turns || 0) + 1);
}

document.getElementById("send").addEventListener("click", () => send().catch(report));
signIn().then(loadHistory).catch(report).finally(() => {
  document.body.dataset.ready = "true";
});
"""


async def _page(request: Request) -> Response:
    return HTMLResponse(WIDGET_PAGE)


async def _script(request: Request) -> Response:
    return Response(WIDGET_SCRIPT, media_type="text/javascript")


WIDGET_SITE = Starlette(routes=[Route("/", _page), Route("/widget.js", _script)])


@dataclass(frozen=True)
class Sites:
    api: str  # the service
    widget: str  # a documentation site the service allows (ALLOWED_ORIGINS)
    stranger: str  # another site, the same widget, not allowed


@pytest.fixture(scope="module")
def sites(pg_cluster: Cluster) -> Iterator[Sites]:
    with (
        serve(WIDGET_SITE) as widget,
        serve(WIDGET_SITE) as stranger,
        pg_cluster.clone() as database_url,
    ):
        settings = app_settings(
            database_url, allowed_origins=widget, legacy_tokenless_sessions=True
        )
        with serve(create_app(settings)) as api:
            yield Sites(api=api, widget=widget, stranger=stranger)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A new visitor: no cookie, empty localStorage."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context
    finally:
        context.close()


def open_widget(page: Page, site: str, api: str, **params: str) -> str:
    """Open the page with the widget, wait until it has loaded its history: its session id."""
    query = "&".join(f"{name}={quote(value)}" for name, value in {"api": api, **params}.items())
    page.goto(f"{site}/?{query}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    session_id = page.locator("body").get_attribute("data-session-id")
    assert session_id is not None
    return session_id


def ask(page: Page, question: str, selected: str = "") -> None:
    body = page.locator("body")
    turns = int(body.get_attribute("data-turns") or 0)
    page.locator("#context").fill(selected)
    page.locator("#question").fill(question)
    page.locator("#send").click()
    expect(body).to_have_attribute("data-turns", str(turns + 1))
    assert body.get_attribute("data-error") is None, body.get_attribute("data-error")


def shown(page: Page) -> list[tuple[str, str, str]]:
    """The messages the widget shows: (role class, text, timestamp)."""
    items = page.locator("#messages li")
    return [
        (
            str(items.nth(index).get_attribute("class")).removeprefix("message message--"),
            items.nth(index).inner_text(),
            str(items.nth(index).get_attribute("data-timestamp")),
        )
        for index in range(items.count())
    ]


def test_a_widget_on_another_origin_chats_by_its_own_session_id_and_reloads_its_history(
    context: BrowserContext, sites: Sites
) -> None:
    """The issue's "done when": the widget never holds a token; its string session id is the
    capability (token-less mode), across turns and a reload."""
    page = context.new_page()
    cors_errors: list[str] = []
    page.on("console", lambda m: cors_errors.append(m.text) if "CORS" in m.text else None)
    session_id = open_widget(page, sites.widget, sites.api, credentials="omit")
    assert session_id.startswith("widget-")
    assert shown(page) == []

    ask(page, "How often is the wick trimmed?")
    ask(page, "What does this mean?", selected="trims the lamp wick every four hours")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")

    messages = shown(page)
    assert [role for role, _, _ in messages] == ["user", "assistant", "user", "assistant"]
    assert [text for role, text, _ in messages if role == "user"] == [
        "How often is the wick trimmed?",
        "What does this mean?",
    ]
    assert all(timestamp for _, _, timestamp in messages)
    assert page.locator("body").get_attribute("data-session-id") == session_id
    assert context.cookies() == []  # no credential was ever issued
    assert cors_errors == []
    page.screenshot(path=output_path("widget-cross-origin.png"))
    # What the service holds, by the key alone: the same conversation, the selection recorded.
    read = httpx.get(f"{sites.api}/history/{quote(session_id, safe='')}", timeout=30)
    assert read.status_code == 200, read.text
    assert read.json()["session_id"] == session_id
    assert read.json()["messages"][2]["metadata"] == {
        "context": "trims the lamp wick every four hours"
    }


def test_a_widget_holding_the_cookie_continues_its_key_with_credentials(
    context: BrowserContext, sites: Sites
) -> None:
    """With ``credentials: "include"``: the cookie set by a cross-origin answer is kept and
    sent back (CORS names the origin and allows credentials; the origin check passes for an
    allowed origin), so the key is the signed-in user's, not a token-less one."""
    page = context.new_page()
    session_id = open_widget(page, sites.widget, sites.api, signin="1")
    cookie = next((c for c in context.cookies() if c.get("name") == COOKIE), None)
    assert cookie is not None, "the browser did not keep the cross-origin cookie"
    assert cookie.get("httpOnly") is True

    ask(page, "Who lights the lamp?")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")

    assert [text for role, text, _ in shown(page) if role == "user"] == ["Who lights the lamp?"]
    token = {"Authorization": f"Bearer {cookie.get('value')}"}
    key = quote(session_id, safe="")
    as_user = httpx.get(f"{sites.api}/history/{key}", headers=token, timeout=30)
    without = httpx.get(f"{sites.api}/history/{key}", timeout=30)
    assert as_user.status_code == 200, as_user.text
    assert without.status_code == 404  # the same key without the cookie: another session


def test_a_widget_on_an_origin_not_allowed_cannot_call_the_service(
    context: BrowserContext, sites: Sites
) -> None:
    page = context.new_page()
    session_id = open_widget(page, sites.stranger, sites.api, credentials="omit")

    assert "Failed to fetch" in str(page.locator("body").get_attribute("data-error"))
    page.locator("#question").fill("Can I ask from here?")
    page.locator("#send").click()
    expect(page.locator("#status")).to_contain_text("Failed to fetch")
    # Nothing was stored: the browser's preflight was refused, so the question never left.
    stored = httpx.get(f"{sites.api}/history/{quote(session_id, safe='')}", timeout=30)
    assert stored.status_code == 404
