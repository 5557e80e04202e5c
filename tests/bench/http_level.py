"""Level 2: the service over HTTP, served by uvicorn, loaded from a separate process.

Each scenario starts its server processes, waits until they answer and have finished
starting (every worker), runs the load generator (``tests.bench.loadgen``: 32 keep-alive
connections over loopback, a fixed duration, every request bounded by a timeout) and stops
the server. The bare Starlette route is the framework's ceiling. The history endpoint has
two peers: the same read written by hand on Starlette + asyncpg with nothing else
(``tests.bench.starlette_peer``, no authentication: the ceiling for that endpoint) and a
FastAPI + SQLAlchemy ORM service written as a seed project would (``tests.bench.peer_service``).
Every server is started by ``tests.bench.serve``, as ``python -m service serve`` starts the
service, with the same worker count and pool size. The history endpoint and its
hand-written peer are measured in turns, several rounds each (``INTERLEAVED``), so that their
ratio does not depend on when each ran.

Besides req/s and latency, each scenario reports the CPU time per request that the server's
processes (and the database's, when it runs on this machine) used during the measured phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from service.rag.chunking import chunk_text
from service.rag.edge import EdgeVectorStore
from service.rag.sparse import Lexical
from service.rag.vectors import Layout
from service.settings import Settings

from .dataset import Dataset
from .retrieval import synthetic_points
from .stats import parent_pid, process_tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "questions.json"
HANDWRITTEN = "hand-written Starlette + asyncpg, no auth"
ORM = "FastAPI + SQLAlchemy ORM"


@dataclass(frozen=True)
class Scenario:
    key: str  # what the report looks it up by: ceiling, history, history-peer, history-orm, chat
    label: str
    app: str  # uvicorn factory
    requests: list[dict[str, Any]]
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)  # over the service's environment
    one_worker_only: bool = False


@dataclass(frozen=True)
class Outcome:
    key: str
    label: str
    workers: int
    result: dict[str, Any]  # the load generator's JSON, with cpu_seconds "server", "database"

    def cpu_us_per_request(self, side: str) -> float | None:
        """CPU microseconds per request served that ``side`` (server, database) used."""
        used = self.result["cpu_seconds"].get(side)
        requests: int = self.result["requests"]
        if used is None or not requests:
            return None
        return float(used) / requests * 1e6


def scenarios(data: Dataset, big_engine: Path, big_chunks: int) -> list[Scenario]:
    def auth(user: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {data.tokens[user]}"}

    history = [
        {"method": "GET", "path": f"/sessions/{session}/messages?limit=10", "headers": auth(user)}
        for user, session in data.sessions
    ]
    # The hand-written peer has no authentication: the user comes as a plain header instead.
    history_unauthenticated = [
        {
            "method": "GET",
            "path": f"/sessions/{session}/messages?limit=10",
            "headers": {"x-user-id": str(user)},
        }
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
        Scenario(
            "ceiling",
            "bare Starlette JSON route (ceiling)",
            "tests.bench.apps:bare_app",
            bare,
            "/json",
        ),
        Scenario(
            "history",
            "GET /sessions/{id}/messages?limit=10, this service",
            "tests.bench.apps:real_app",
            history,
            "/health",
        ),
        Scenario(
            "history-peer",
            f"GET /sessions/{{id}}/messages?limit=10, {HANDWRITTEN}",
            "tests.bench.starlette_peer:create_app",
            history_unauthenticated,
            "/sessions/00000000-0000-0000-0000-000000000000/messages",  # 400: no x-user-id
        ),
        Scenario(
            "history-orm",
            f"GET /sessions/{{id}}/messages?limit=10, {ORM}",
            "tests.bench.peer_service:create_app",
            history,
            "/docs",
        ),
        Scenario(
            "chat",
            "POST /chat (offline retrieval and answer), this service",
            "tests.bench.apps:real_app",
            chat,
            "/health",
        ),
        Scenario(
            "chat",
            f"POST /chat, {big_chunks:,} more chunks loaded, this service",
            "tests.bench.apps:real_app",
            chat,
            "/health",
            env={"QDRANT_PATH": str(big_engine)},
            one_worker_only=True,
        ),
    ]


# Measured in turns, service then peer, ``rounds`` times: on a shared machine the speed of
# the whole box drifts by tens of percent within a minute, and a ratio of two runs minutes
# apart measures the drift as much as the code.
INTERLEAVED = ("history", "history-peer")


def run(
    url: str,
    data: Dataset,
    *,
    workers: Sequence[int],
    seconds: float,
    warmup: float,
    big_chunks: int,
    rounds: int = 1,
    connections: int = 32,
) -> list[Outcome]:
    """Every scenario with each worker count; those of INTERLEAVED in ``rounds`` turns of
    ``seconds`` each, their outcome the rounds together (``merged``)."""
    outcomes = []
    database = asyncio.run(_database_pid(url))
    with tempfile.TemporaryDirectory(prefix="bench-http-") as scratch:
        env = _service_env(url, Path(scratch))
        _ingest_corpus(env)
        big_engine = Path(scratch) / "qdrant-big"
        asyncio.run(_grow_copy(Path(env["QDRANT_PATH"]), big_engine, big_chunks))

        def measure(scenario: Scenario, count: int) -> dict[str, Any]:
            with _serving(scenario, env | scenario.env, count, Path(scratch)) as (port, pid):
                spec = Path(scratch) / "requests.json"
                spec.write_text(
                    json.dumps({"host": "127.0.0.1", "port": port, "requests": scenario.requests})
                )
                cpu = {"server": pid} | ({} if database is None else {"database": database})
                return _load(spec, connections, seconds, warmup, cpu)

        for count in workers:
            chosen = [
                scenario
                for scenario in scenarios(data, big_engine, big_chunks)
                if count == 1 or not scenario.one_worker_only
            ]
            turns = [scenario for scenario in chosen if scenario.key in INTERLEAVED]
            taken: dict[str, list[dict[str, Any]]] = {scenario.key: [] for scenario in turns}
            for _ in range(rounds):
                for scenario in turns:
                    taken[scenario.key].append(measure(scenario, count))
            for scenario in chosen:
                result = (
                    merged(taken[scenario.key])
                    if scenario.key in taken
                    else measure(scenario, count)
                )
                outcomes.append(Outcome(scenario.key, scenario.label, count, result))
    return outcomes


def merged(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one scenario as one result: requests, time, statuses, errors and CPU summed
    (req/s and CPU per request over all of them), each latency percentile the median of the
    rounds', and ``rounds_rps`` the rounds' own req/s."""
    if len(results) == 1:
        return results[0]
    requests = sum(result["requests"] for result in results)
    duration = sum(result["duration"] for result in results)
    total: dict[str, Any] = {
        "requests": requests,
        "duration": duration,
        "rps": requests / duration if duration else 0.0,
        "rounds_rps": [result["rps"] for result in results],
        "status": {},
        "errors": {},
        "latency_ms": {},
        "cpu_seconds": {},
    }
    for result in results:
        for key in ("status", "errors", "cpu_seconds"):
            for name, value in result[key].items():
                total[key][name] = total[key].get(name, 0) + value
    for name in results[0]["latency_ms"]:
        values = [r["latency_ms"][name] for r in results if r["latency_ms"][name] is not None]
        total["latency_ms"][name] = statistics.median(values) if values else None
    return total


async def _database_pid(url: str) -> int | None:
    """PostgreSQL's main process, whose descendants are the backends serving the pools, when
    the server runs on this machine (the embedded one); else None, and no database CPU."""
    conn = await asyncpg.connect(url)
    try:
        return _local_postmaster(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.close()


def _local_postmaster(backend: int) -> int | None:
    """The parent of a live backend, if it is a PostgreSQL server process of this machine."""
    try:
        postmaster = parent_pid(backend)
        name = Path(f"/proc/{postmaster}/comm").read_text().strip()
    except OSError:  # another machine's (or container's) process id
        return None
    return postmaster if name in ("postgres", "postmaster") else None


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
    command = [sys.executable, "-m", "service", "ingest", "docs", "--shared"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command[1:])} exited with {done.returncode}:\n{tail}")


@contextmanager
def _serving(
    scenario: Scenario, env: dict[str, str], workers: int, scratch: Path
) -> Iterator[tuple[int, int]]:
    """Serve the scenario's app; yields the port and the process id of the server, whose
    descendants are its workers."""
    port = _free_port()
    log_path = scratch / f"server-{port}.log"
    log = log_path.open("wb")
    command = [
        sys.executable, "-m", "tests.bench.serve", scenario.app,
        "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        try:
            _wait_ready(port, scenario.ready_path, server)
        except RuntimeError as error:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{scenario.label}: {error}; its output ends:\n{tail}") from None
        if workers > 1:
            _wait_settled(server.pid)
        yield port, server.pid
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
        except urllib.error.HTTPError as error:
            if error.code < 500:  # the app refused the request: it is up
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {path} within 60 s")


def _wait_settled(pid: int, interval: float = 0.3, idle: float = 0.02) -> None:
    """Wait until the server's processes use at most ``idle`` CPU seconds in ``interval``.

    The first worker to answer says nothing of the others: a worker still importing would
    join the load late and have its start-up charged to the requests measured. Gives up
    (and the load starts) after 60 s of activity.
    """
    deadline = time.monotonic() + 60
    used = process_tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = process_tree_cpu_seconds(pid)
        if now - used <= idle:
            return
        used = now


def _load(
    spec: Path, connections: int, seconds: float, warmup: float, cpu: dict[str, int]
) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "tests.bench.loadgen", "--requests", str(spec),
        "--connections", str(connections), "--duration", str(seconds), "--warmup", str(warmup),
        "--timeout", "5", *(f"--cpu={name}={pid}" for name, pid in cpu.items()),
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
        ceiling, peer, orm = (
            _find(group, key) for key in ("ceiling", "history-peer", "history-orm")
        )
        lines = [
            f"#### {workers} worker process{'es' if workers > 1 else ''}, 32 connections",
            "",
            "| endpoint | req/s | p50 ms | p95 ms | p99 ms | server CPU µs/req "
            "| database CPU µs/req | vs ceiling | vs hand-written peer | vs ORM peer "
            "| non-2xx | errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for o in group:
            r, latency = o.result, o.result["latency_ms"]
            bad = sum(n for status, n in r["status"].items() if not status.startswith("2"))
            history = o.key.startswith("history")
            lines.append(
                f"| {o.label} | {r['rps']:,.0f} | {_ms(latency['p50'])} | {_ms(latency['p95'])} "
                f"| {_ms(latency['p99'])} | {_us(o.cpu_us_per_request('server'))} "
                f"| {_us(o.cpu_us_per_request('database'))} | {_times(r['rps'], ceiling['rps'])} "
                f"| {_times(r['rps'], peer['rps']) if history else ''} "
                f"| {_times(r['rps'], orm['rps']) if history else ''} | {bad} "
                f"| {sum(r['errors'].values())} |"
            )
        out.append("\n".join(lines) + "\n")
        out.append(_against_peers(group))
    out.append(_verdict(outcomes))
    return "\n".join(out)


def _against_peers(group: Sequence[Outcome]) -> str:
    """This service's history endpoint divided by each peer's, measure by measure."""
    ours = next(o for o in group if o.key == "history")
    lines = [
        "History, this service / each peer (req/s: higher is better; latency and CPU: lower):",
        "",
        "| peer | req/s | p50 | p95 | p99 | server CPU per request | database CPU per request |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, name in (("history-peer", HANDWRITTEN), ("history-orm", ORM)):
        peer = next(o for o in group if o.key == key)
        latency = [
            _times(ours.result["latency_ms"][p], peer.result["latency_ms"][p])
            for p in ("p50", "p95", "p99")
        ]
        cpu = [
            _times(ours.cpu_us_per_request(side), peer.cpu_us_per_request(side))
            for side in ("server", "database")
        ]
        cells = [name, _times(ours.result["rps"], peer.result["rps"]), *latency, *cpu]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _find(group: Sequence[Outcome], key: str) -> dict[str, Any]:
    return next(o.result for o in group if o.key == key)


def _times(value: float | None, base: float | None) -> str:
    return "n/a" if value is None or not base else f"{value / base:.2f}x"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _verdict(outcomes: Sequence[Outcome]) -> str:
    ones = [o for o in outcomes if o.workers == 1]
    ours = next(o for o in ones if o.key == "history")
    peer = next(o for o in ones if o.key == "history-peer")
    orm = next(o for o in ones if o.key == "history-orm")
    to_peer = ours.result["rps"] / peer.result["rps"] if peer.result["rps"] else 0.0
    to_orm = ours.result["rps"] / orm.result["rps"] if orm.result["rps"] else 0.0
    p95 = ours.result["latency_ms"]["p95"]
    cpu = ", ".join(
        f"{name} {_us(o.cpu_us_per_request('server'))} µs"
        for name, o in (("this service", ours), ("hand-written", peer), ("ORM", orm))
    )
    turns = ""
    if "rounds_rps" in ours.result and "rounds_rps" in peer.result:
        each = zip(ours.result["rounds_rps"], peer.result["rounds_rps"], strict=True)
        turns = "; round by round " + ", ".join(f"{a / b:.2f}x" for a, b in each if b)
    lines = [
        "Targets, 1 worker:",
        f"- history: {to_peer:.2f}x the {HANDWRITTEN} req/s (target >= 0.9x: "
        f"{'met' if to_peer >= 0.9 else 'MISSED'}{turns})",
        f"- history: {to_orm:.2f}x the {ORM} req/s (target >= 4x: "
        f"{'met' if to_orm >= 4 else 'MISSED'})",
        f"- history: p95 {_ms(p95)} ms (target < 15 ms: {_met(p95, 15)})",
        f"- history, server CPU per request: {cpu}",
    ]
    chat = [o for o in ones if o.key == "chat"]
    for outcome, target in zip(chat, (50, 100), strict=False):
        chat_p95 = outcome.result["latency_ms"]["p95"]
        lines.append(
            f"- {outcome.label}: p95 {_ms(chat_p95)} ms (target < {target} ms: "
            f"{_met(chat_p95, target)})"
        )
    return "\n".join(lines) + "\n"


def _met(value: float | None, below: float) -> str:
    return "met" if value is not None and value < below else "MISSED"
