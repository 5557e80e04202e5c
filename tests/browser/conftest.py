"""Browser fixtures: the app served on loopback over a database of this module's own, and
Debian's ``chromium`` driven by Playwright (Playwright's own browser download is not
available here; ``.ci/run`` installs the package).

Playwright runs here through its plain sync API, started and stopped by a module-scoped
fixture, not pytest-playwright's session-long one: while the sync API is started, its
event loop counts as the thread's running loop, so ``asyncio.run`` in any later test of the
same pytest process would fail.

Screenshots and the latencies the browser saw go to ``test-output/browser/`` (ignored by git).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Route,
    expect,
    sync_playwright,
)

from service import store
from service.app import create_app
from service.connections import open_pool
from service.settings import Settings
from tests.conftest import ROOT, Cluster
from tests.service.conftest import app_settings, serve

# The service fixtures' server kind: the embedded PostgreSQL 18 only.
from tests.service.conftest import pg_kind as pg_kind

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package
OUTPUT = ROOT / "test-output" / "browser"
WAIT_MS = 30_000  # a bound on waiting for the page, not a performance target
DOCUMENT_WAIT_SECONDS = 30.0

# The shared corpus: one document every user's questions can cite.
CORPUS_TITLE = "Brightwater lighthouse handbook"
CORPUS_TEXT = (
    "The Brightwater lighthouse lamp is lit at dusk by the keeper on duty. "
    "The keeper trims the lamp wick every four hours through the night and logs the "
    "weather at midnight. The lighthouse foghorn sounds twice a minute in fog."
)


@dataclass(frozen=True)
class Served:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def served(pg_cluster: Cluster) -> Iterator[Served]:
    """The app on a loopback port, over a database of this module's own, its ingestion
    worker polling every 0.1 s; the shared corpus holds CORPUS_TEXT, ingested."""
    with pg_cluster.clone() as database_url:
        settings = app_settings(database_url, ingest_poll_seconds=0.1)
        with serve(create_app(settings)) as url:
            _add_shared_document(settings, database_url)
            yield Served(url, settings)


def _add_shared_document(settings: Settings, database_url: str) -> None:
    """Record CORPUS_TEXT as a shared document (the served app's worker ingests it), then
    wait until it is ingested."""

    async def record() -> str:
        pool = await open_pool(settings)
        try:
            content = CORPUS_TEXT.encode()
            created = await store.create_document(
                pool,
                None,
                checksum=hashlib.sha256(content).digest(),
                title=CORPUS_TITLE,
                content=content,
                content_type="text/plain; charset=utf-8",
                byte_size=len(content),
            )
            return str(created.document.id)
        finally:
            await pool.close()

    # On a thread of its own: asyncio.run needs a thread without a running event loop.
    with ThreadPoolExecutor(max_workers=1) as thread:
        document_id = thread.submit(asyncio.run, record()).result()
    deadline = time.monotonic() + DOCUMENT_WAIT_SECONDS
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT status, error FROM documents WHERE id = %s", (document_id,)
            ).fetchone()
            assert row is not None
            if row[0] == "completed":
                return
            assert row[0] != "failed", row[1]
            assert time.monotonic() < deadline, f"the shared document is still {row[0]}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's chromium is not installed ({CHROMIUM}); .ci/run installs it with "
            "apt-get where it can"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Browsing:
    """A page in a context of its own (a new visitor: no cookie), with what it did wrong:
    requests to another origin (refused, so nothing off-origin ever loads) and errors
    (uncaught exceptions, Content-Security-Policy violations)."""

    page: Page
    context: BrowserContext
    base_url: str
    off_origin: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    latencies: list[int] = field(default_factory=list)  # ms from sending to done, per turn

    def cookie(self, name: str) -> dict[str, Any] | None:
        for cookie in self.context.cookies():
            if cookie.get("name") == name:
                return dict(cookie)
        return None


# The one console error the page causes on purpose: a first visit asks GET /sessions to find
# out whether the browser holds a credential (the cookie is HttpOnly), and hears 401.
_EXPECTED_CONSOLE = "the server responded with a status of 401"


@pytest.fixture
def browsing(browser: Browser, served: Served) -> Iterator[Browsing]:
    context = browser.new_context(base_url=served.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    browsing = Browsing(context.new_page(), context, served.url)

    def guard(route: Route) -> None:
        url = route.request.url
        if url == served.url or url.startswith(served.url + "/"):
            route.continue_()
        else:
            browsing.off_origin.append(url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and _EXPECTED_CONSOLE not in message.text:
            browsing.errors.append(message.text)

    context.route("**/*", guard)
    browsing.page.on("console", console)
    browsing.page.on("pageerror", lambda error: browsing.errors.append(str(error)))
    try:
        yield browsing
    finally:
        context.close()
    assert browsing.off_origin == [], "the page asked for resources of another origin"
    assert browsing.errors == [], "the page logged errors"


def output_path(name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT / name


expect.set_options(timeout=WAIT_MS)

COOKIE = "chat_token"


# --- helpers of the tests: the page as its user sees it ------------------------------------


def open_chat(browsing: Browsing, path: str = "/") -> Page:
    page = browsing.page
    page.goto(path)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def ask(browsing: Browsing, question: str) -> Locator:
    """Type the question, press Enter, wait for the streamed answer to be done: its node.
    The time the page measured from sending to the done event joins ``browsing.latencies``."""
    page = browsing.page
    answers = page.locator(".message--assistant")
    before = answers.count()
    page.locator("#composer-input").fill(question)
    page.locator("#composer-input").press("Enter")
    answer = answers.nth(before)
    expect(answer).to_have_attribute("data-status", re.compile("complete|failed"))
    assert answer.get_attribute("data-status") == "complete", answer.inner_text()
    record_latency(browsing, answer)
    return answer


def record_latency(browsing: Browsing, answer: Locator) -> None:
    value = answer.get_attribute("data-elapsed-ms")
    assert value is not None
    assert value.isdigit()
    browsing.latencies.append(int(value))


def report(test: str, browsing: Browsing) -> None:
    line = f"{test}: per-turn latency in the browser (send -> done event): " + ", ".join(
        f"turn {n} {ms} ms" for n, ms in enumerate(browsing.latencies, 1)
    )
    print(line)
    with output_path("latency.txt").open("a") as log:
        log.write(line + "\n")


def token(browsing: Browsing) -> str:
    cookie = browsing.cookie(COOKIE)
    assert cookie is not None, "no credential cookie"
    return str(cookie["value"])


def api(browsing: Browsing, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The API, as the page's user (their cookie's token, as a bearer token)."""
    headers = {"Authorization": f"Bearer {token(browsing)}"}
    return httpx.request(method, browsing.base_url + path, headers=headers, timeout=30, **kwargs)


def sessions(page: Page) -> Locator:
    return page.locator("#sessions .session")
