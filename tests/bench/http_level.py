"""Level 2: the service over HTTP, served by uvicorn, loaded from a separate process.

Each scenario starts its server processes, waits until they answer, runs the load
generator (``tests.bench.loadgen``: 32 keep-alive connections over loopback, a fixed
duration, every request bounded by a timeout) and stops the server. The bare Starlette
route is the framework's ceiling; the FastAPI + SQLAlchemy ORM service is the peer.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.rag.chunking import chunk_text
from service.rag.edge import EdgeVectorStore
from service.rag.sparse import Lexical
from service.rag.vectors import Layout
from service.settings import Settings

from .dataset import Dataset
from .retrieval import synthetic_points

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "questions.json"


@dataclass(frozen=True)
class Scenario:
    label: str
    app: str  # uvicorn factory
    requests: list[dict[str, Any]]
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)  # over the service's environment
    one_worker_only: bool = False


@dataclass(frozen=True)
class Outcome:
    label: str
    workers: int
    result: dict[str, Any]  # the load generator's JSON


def scenarios(data: Dataset, big_engine: Path, big_chunks: int) -> list[Scenario]:
    def auth(user: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {data.tokens[user]}"}

    history = [
        {"method": "GET", "path": f"/sessions/{session}/messages?limit=10", "headers": auth(user)}
        for user, session in data.sessions
    ]
    questions = [q["question"] for q in json.loads(QUESTIONS.read_text())]
    chat = [
        {
            "method": "POST",
            "path": "/chat",
            "headers": auth(user),
            "body": {"message": questions[n % len(questions)], "session_id": str(session)},
        }
        for n, (user, session) in enumerate(data.sessions)
    ]
    bare = [{"method": "GET", "path": "/json", "headers": {}}]
    return [
        Scenario("bare Starlette JSON route (ceiling)", "tests.bench.apps:bare_app", bare, "/json"),
        Scenario(
            "GET /sessions/{id}/messages?limit=10, this service",
            "tests.bench.apps:real_app",
            history,
            "/health",
        ),
        Scenario(
            "GET /sessions/{id}/messages?limit=10, FastAPI + SQLAlchemy ORM",
            "tests.bench.peer_service:create_app",
            history,
            "/docs",
        ),
        Scenario(
            "POST /chat (offline retrieval and answer), this service",
            "tests.bench.apps:real_app",
            chat,
            "/health",
        ),
        Scenario(
            f"POST /chat, {big_chunks:,} more chunks loaded, this service",
            "tests.bench.apps:real_app",
            chat,
            "/health",
            env={"QDRANT_PATH": str(big_engine)},
            one_worker_only=True,
        ),
    ]


def run(
    url: str,
    data: Dataset,
    *,
    workers: Sequence[int],
    seconds: float,
    warmup: float,
    big_chunks: int,
    connections: int = 32,
) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as scratch:
        env = _service_env(url, Path(scratch))
        _ingest_corpus(env)
        big_engine = Path(scratch) / "qdrant-big"
        asyncio.run(_grow_copy(Path(env["QDRANT_PATH"]), big_engine, big_chunks))
        for count in workers:
            for scenario in scenarios(data, big_engine, big_chunks):
                if scenario.one_worker_only and count != 1:
                    continue
                with _serving(scenario, env | scenario.env, count, Path(scratch)) as port:
                    spec = Path(scratch) / "requests.json"
                    spec.write_text(
                        json.dumps(
                            {"host": "127.0.0.1", "port": port, "requests": scenario.requests}
                        )
                    )
                    result = _load(spec, connections, seconds, warmup)
                outcomes.append(Outcome(scenario.label, count, result))
    return outcomes


def _service_env(url: str, scratch: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "QDRANT_PATH": str(scratch / "qdrant"),
        "INGEST_WORKER": "false",
        "DB_POOL_MIN_SIZE": "10",
        "DB_POOL_MAX_SIZE": "10",
        # Load from one address and 200 users: the limits are counted (their cost is in the
        # numbers) but set far above what a run reaches, so nothing is throttled.
        "ANON_USERS_PER_ADDRESS_PER_HOUR": "1000000",
        "CHAT_TURNS_PER_USER_PER_MINUTE": "1000000",
    }


async def _grow_copy(engine: Path, copy: Path, chunks: int) -> None:
    """A copy of the ingested engine with ``chunks`` more points (sample corpus texts, half
    of them shared, so they compete with the real chunks in every search)."""
    shutil.copytree(engine, copy)
    lexical = Lexical.configured(Settings())  # as the served app has it
    store = EdgeVectorStore(copy, "chunks", layout=Layout(sparse_model=lexical.name))
    await store.open()
    try:
        texts = [
            chunk.text
            for path in sorted((ROOT / "docs").glob("*.md"))
            for chunk in chunk_text(path.read_text())
        ]
        await store.upsert(synthetic_points(lexical, texts, chunks, seed=7))
    finally:
        await store.close()


def _ingest_corpus(env: dict[str, str]) -> None:
    """The sample corpus in the shared collection, so /chat retrieves and cites real passages."""
    subprocess.run(
        [sys.executable, "-m", "service", "ingest", "docs", "--shared"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


@contextmanager
def _serving(scenario: Scenario, env: dict[str, str], workers: int, scratch: Path) -> Iterator[int]:
    port = _free_port()
    log = (scratch / f"server-{port}.log").open("wb")
    command = [
        sys.executable, "-m", "tests.bench.serve", scenario.app,
        "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait_ready(port, scenario.ready_path, server)
        yield port
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(port: int, path: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {path} within 60 s")


def _load(spec: Path, connections: int, seconds: float, warmup: float) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "tests.bench.loadgen", "--requests", str(spec),
        "--connections", str(connections), "--duration", str(seconds), "--warmup", str(warmup),
        "--timeout", "5",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        check=True, timeout=warmup + seconds + 60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def report(outcomes: Sequence[Outcome]) -> str:
    out = []
    for workers in sorted({o.workers for o in outcomes}):
        group = [o for o in outcomes if o.workers == workers]
        ceiling = group[0].result["rps"]
        peer = next(o.result["rps"] for o in group if "FastAPI" in o.label)
        lines = [
            f"#### {workers} worker process{'es' if workers > 1 else ''}, 32 connections",
            "",
            "| endpoint | req/s | p50 ms | p95 ms | p99 ms | vs ceiling | vs ORM peer "
            "| non-2xx | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for o in group:
            r, latency = o.result, o.result["latency_ms"]
            bad = sum(n for status, n in r["status"].items() if not status.startswith("2"))
            vs_peer = f"{r['rps'] / peer:.2f}x" if "messages" in o.label else ""
            lines.append(
                f"| {o.label} | {r['rps']:,.0f} | {_ms(latency['p50'])} | {_ms(latency['p95'])} "
                f"| {_ms(latency['p99'])} | {r['rps'] / ceiling:.2f}x | {vs_peer} | {bad} "
                f"| {sum(r['errors'].values())} |"
            )
        out.append("\n".join(lines) + "\n")
    out.append(_verdict(outcomes))
    return "\n".join(out)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _verdict(outcomes: Sequence[Outcome]) -> str:
    ones = [o for o in outcomes if o.workers == 1]
    ours = next(o.result for o in ones if "this service" in o.label and "messages" in o.label)
    peer = next(o.result for o in ones if "FastAPI" in o.label)
    times = ours["rps"] / peer["rps"]
    p95 = ours["latency_ms"]["p95"]
    chat = [o for o in ones if o.label.startswith("POST /chat")]
    lines = [
        "Targets, 1 worker:",
        f"- history: {times:.2f}x the FastAPI + SQLAlchemy ORM req/s (target >= 4x: "
        f"{'met' if times >= 4 else 'MISSED'})",
        f"- history: p95 {_ms(p95)} ms (target < 15 ms: {_met(p95, 15)})",
    ]
    for outcome, target in zip(chat, (50, 100), strict=False):
        chat_p95 = outcome.result["latency_ms"]["p95"]
        lines.append(
            f"- {outcome.label}: p95 {_ms(chat_p95)} ms (target < {target} ms: "
            f"{_met(chat_p95, target)})"
        )
    return "\n".join(lines) + "\n"


def _met(value: float | None, below: float) -> str:
    return "met" if value is not None and value < below else "MISSED"
