"""A 10 MB document ingesting in the serving process: /health and history reads keep answering.

The app runs as `make run` runs it (the ingestion worker in the serving process, the embedded
Qdrant Edge engine) on a PostgreSQL of this module's own. While the upload is received and
ingested, client threads in a process of their own poll /health and a session's history, and
a task inside the server's event loop records how late a short sleep wakes (the loop's lag).
The assertions are correctness bounds only; the latency figures are printed (pytest -s) to
be quoted. On a machine busy with other work they include its scheduling delays too.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Protocol

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from service.app import create_app
from tests.pgserver import TempServer
from tests.service.conftest import app_settings, serve

DOCUMENT_BYTES = 10 * 1024 * 1024
POLLERS = 2  # client threads per endpoint
POLL_PAUSE = 0.01  # seconds between one poller's requests
PROBE_INTERVAL = 0.005  # seconds the lag probe sleeps
# Correctness bounds, far above the figures this test prints: a stalled loop fails, noise not.
SLOWEST_ANSWER = 2.0  # seconds for any one /health or history read
INGESTED_WITHIN = 60.0  # seconds for the document to be completed


class EventLike(Protocol):
    """threading.Event or multiprocessing's Event."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


@dataclass
class Timings:
    """Latencies (seconds) and statuses of one endpoint's polls."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)


class LagProbe:
    """ASGI middleware: while the app's lifespan runs, a task in its event loop sleeps
    PROBE_INTERVAL again and again, and records how much later than asked it woke."""

    def __init__(self, app: ASGIApp, *, lags: list[float], recording: threading.Event) -> None:
        self.app, self.lags, self.recording = app, lags, recording

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        probe = asyncio.create_task(self._probe())
        try:
            await self.app(scope, receive, send)
        finally:
            probe.cancel()

    async def _probe(self) -> None:
        while True:
            asleep = time.perf_counter()
            await asyncio.sleep(PROBE_INTERVAL)
            if self.recording.is_set():
                self.lags.append(time.perf_counter() - asleep - PROBE_INTERVAL)


@dataclass
class Served:
    """The running app: its URL, and the lag probe's measurements while recording is set."""

    base_url: str
    lags: list[float]
    recording: threading.Event


@pytest.fixture(scope="module")
def served(
    own_server: tuple[TempServer, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    _, url = own_server
    settings = app_settings(
        url,
        qdrant_url=None,  # the embedded engine, as make run has it
        qdrant_path=str(tmp_path_factory.mktemp("qdrant-edge")),
        ingest_worker=True,
        db_pool_max_size=10,
        max_upload_bytes=2 * DOCUMENT_BYTES,
        # Storing a 10 MB upload can take longer than the default budget of a request's
        # database work (2 s) when the machine is busy: this test is about what follows.
        db_request_budget=30.0,
    )
    app = create_app(settings)
    lags: list[float] = []
    recording = threading.Event()
    app.add_middleware(LagProbe, lags=lags, recording=recording)
    with serve(app) as base_url:
        yield Served(base_url, lags, recording)


def prose(size: int, seed: int = 12) -> bytes:
    """About ``size`` bytes of varied English-like text: a few thousand made-up words drawn
    with a skewed frequency and common short words, in sentences, paragraphs and sections."""
    rng = random.Random(seed)
    syllables = [a + b for a in "bcdfghklmnprstvwz" for b in ("a", "e", "i", "o", "u", "ai", "ou")]
    made_up = sorted({"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(6_000)})
    rng.shuffle(made_up)
    vocabulary = ["the", "of", "and", "to", "in", "is", "that", "for", "with", "as", *made_up]
    # Zipf-like frequencies by rank, summed once (choices() would sum them on every call).
    cumulative = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(vocabulary))))
    parts: list[str] = []
    written = section = 0
    while written < size:
        section += 1
        heading = " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(2, 5)))
        paragraphs = [f"## {section}. {heading.title()}"]
        for _ in range(rng.randint(2, 9)):
            sentences = []
            for _ in range(rng.randint(1, 8)):
                words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(4, 28))
                sentences.append(" ".join(words).capitalize() + rng.choice(".....?!"))
            paragraphs.append(" ".join(sentences))
        part = "\n\n".join(paragraphs) + "\n\n"
        parts.append(part)
        written += len(part)
    return "".join(parts).encode()[:size]


def poll(base_url: str, path: str, headers: dict[str, str], stop: EventLike) -> Timings:
    """GET ``path`` again and again until ``stop`` is set."""
    timings = Timings()
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                status: int | None = http.get(path).status_code
            except httpx.HTTPError:
                status = None
            timings.latencies.append(time.perf_counter() - started)
            timings.statuses.append(status)
            time.sleep(POLL_PAUSE)
    return timings


def poll_all(
    base_url: str,
    paths: dict[str, str],
    headers: dict[str, str],
    started: EventLike,
    stop: EventLike,
    results: Connection,
) -> None:
    """In a process of its own, POLLERS threads per path until ``stop``; sends name ->
    Timings. (Client threads in the server's process would take the GIL from it, and their
    own latency would be counted as the server's.)"""
    polled: dict[str, list[Timings]] = {name: [] for name in paths}

    def run(name: str) -> None:
        polled[name].append(poll(base_url, paths[name], headers, stop))

    threads = [threading.Thread(target=run, args=(name,)) for name in paths for _ in range(POLLERS)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()
    merged = {name: Timings() for name in paths}
    for name, timings in polled.items():
        for one in timings:
            merged[name].latencies += one.latencies
            merged[name].statuses += one.statuses
    results.send(merged)


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{len(values)} samples"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms ({len(values)} samples)"
    )


def test_health_and_history_keep_answering_while_a_10_mb_document_is_ingested(
    served: Served,
) -> None:
    document = prose(DOCUMENT_BYTES)
    with httpx.Client(base_url=served.base_url, timeout=30) as http:
        first = http.post("/chat", json={"message": "hello"})
        assert first.status_code == 200, first.text
        headers = {"Authorization": f"Bearer {first.json()['token']}"}
        paths = {
            "/health": "/health",
            "history": f"/sessions/{first.json()['session_id']}/messages",
        }

        spawn = multiprocessing.get_context("spawn")
        polling, stop = spawn.Event(), spawn.Event()
        receive, send = spawn.Pipe(duplex=False)
        poller = spawn.Process(
            target=poll_all, args=(served.base_url, paths, headers, polling, stop, send)
        )
        poller.start()
        try:
            assert polling.wait(timeout=30), "the pollers did not start"
            served.recording.set()
            started = time.monotonic()
            upload = http.post(
                "/documents",
                files={"file": ("large.txt", document, "text/plain")},
                headers=headers,
            )
            assert upload.status_code == 202, upload.text
            uploaded = time.monotonic()
            while True:
                status = http.get(f"/documents/{upload.json()['id']}", headers=headers).json()
                if status["status"] in ("completed", "failed"):
                    break
                assert time.monotonic() < started + INGESTED_WITHIN, status
                time.sleep(0.1)
            ingested = time.monotonic()
        finally:
            served.recording.clear()
            stop.set()
            results: dict[str, Timings] = receive.recv() if receive.poll(timeout=30) else {}
            poller.join(timeout=10)
            if poller.is_alive():
                poller.kill()
                poller.join()
            receive.close()
            send.close()

    assert results, "the pollers sent no results"
    print(  # the figures behind the test, shown with -s
        f"\n{len(document) / 2**20:.0f} MiB, {status['chunk_count']} chunks: uploaded in "
        f"{uploaded - started:.1f} s, ingested {ingested - uploaded:.1f} s later"
        f"\n/health  {percentiles(results['/health'].latencies)}"
        f"\nhistory  {percentiles(results['history'].latencies)}"
        f"\nloop lag {percentiles(served.lags)}"
    )
    assert status["status"] == "completed", status
    for name in paths:
        timings = results[name]
        assert timings.latencies, f"{name} was never polled"
        assert set(timings.statuses) == {200}, (name, timings.statuses)
        assert max(timings.latencies) < SLOWEST_ANSWER, (name, max(timings.latencies))
