"""Closed-loop HTTP/1.1 load generator for benchmarking the service over the network.

It runs as its own process so that making the load does not share an event loop (or a
core's worth of CPU) with the server under test. Each of ``--connections`` persistent
keep-alive connections keeps exactly one request in flight and cycles through the request
list, connection ``i`` starting at ``i * len(requests) // connections``. A warmup phase runs
the same load unrecorded; the measured phase records the latency of every request that
completes in it (write to end of body), the status codes, the errors by exception type
(a timeout is a ``TimeoutError``) and the reconnects: connections reopened because the
server closed them or because an error left them unusable. Requests still in flight at the
end are cancelled and not counted.

Usage::

    python -m tests.bench.loadgen --requests FILE [--connections 32] [--duration 10]
        [--warmup 2] [--timeout 5] [--cpu NAME=PID ...]

FILE holds ``{"host": "127.0.0.1", "port": 8123, "requests": [{"method": "GET", "path":
"/x?limit=10", "headers": {"authorization": "Bearer ..."}, "body": null}, ...]}``; a
non-null body is sent as JSON. One JSON object is printed to stdout::

    {"requests": N, "duration": s, "rps": N / s, "status": {"200": n}, "errors":
     {"TimeoutError": n}, "reconnects": n, "latency_ms": {"p50", "p95", "p99", "max", "mean"},
     "cpu_seconds": {"NAME": s}}

Percentiles are nearest-rank over all recorded latencies, null when nothing completed.
``cpu_seconds`` holds, for each ``--cpu NAME=PID``, the CPU time (user + system) that the
process PID and its descendants used during the measured phase, read from /proc at the
instants the clock starts and stops (``stats.process_tree_cpu_seconds``): what the server
spent on the requests counted.
``run_load`` is the same run as a coroutine, for tests.

Plain asyncio streams rather than an HTTP client library: the libraries spend so much CPU
per request that on a 2-core machine the client, not the server, would be the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

from .stats import process_tree_cpu_seconds

# Without a pause, a refused connect fails in microseconds and the workers would spin the
# CPU that the (restarting or dying) server needs; the attempts still count as errors.
CONNECT_RETRY_DELAY = 0.05

_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_PERCENTILES = (50, 95, 99)


class ProtocolError(Exception):
    """The server's response is not HTTP/1.x as this client understands it."""


class Latency(TypedDict):
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None


class LoadResult(TypedDict):
    requests: int
    duration: float
    rps: float
    status: dict[str, int]
    errors: dict[str, int]
    reconnects: int
    latency_ms: Latency
    cpu_seconds: dict[str, float]


class EncodedRequest(NamedTuple):
    data: bytes
    # A response to HEAD has headers that describe a body it does not send.
    bodyless: bool


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    requests: Sequence[EncodedRequest]
    timeout: float


class _Connection(NamedTuple):
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@dataclass
class _Recorder:
    """What the measured phase saw; the workers feed it only while ``recording``."""

    recording: bool = False
    latencies: list[float] = field(default_factory=list)
    status: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0

    def completed(self, status: int, seconds: float) -> None:
        if self.recording:
            self.latencies.append(seconds)
            self.status[status] = self.status.get(status, 0) + 1

    def failed(self, exc: BaseException) -> None:
        if self.recording:
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1

    def reconnected(self) -> None:
        if self.recording:
            self.reconnects += 1


# --- requests ---------------------------------------------------------------------------


def encode_request(host: str, port: int, request: dict[str, Any]) -> EncodedRequest:
    """One request of the spec as the exact bytes to write, built once before the run."""
    method = str(request.get("method", "GET")).upper()
    path = str(request["path"])
    headers = {"host": f"{host}:{port}"}
    for name, value in (request.get("headers") or {}).items():
        headers[str(name).lower()] = str(value)
    body = request.get("body")
    payload = b""
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers.setdefault("content-type", "application/json")
        headers["content-length"] = str(len(payload))
    elif method in _METHODS_WITH_BODY:
        # Some servers answer 411 to a POST without a length, even an empty one.
        headers["content-length"] = "0"
    lines = [f"{method} {path} HTTP/1.1", *(f"{n}: {v}" for n, v in headers.items())]
    if any(c in line for line in lines for c in "\r\n"):
        raise ValueError(f"line break in the request line or a header of {method} {path!r}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return EncodedRequest(head.encode("latin-1") + payload, bodyless=method == "HEAD")


def _target(spec: dict[str, Any], timeout: float) -> _Target:
    host, port, requests = spec.get("host"), spec.get("port"), spec.get("requests")
    if not isinstance(host, str) or not isinstance(port, int):
        raise ValueError("spec needs a string 'host' and an integer 'port'")
    if not isinstance(requests, list) or not requests:
        raise ValueError("spec needs a non-empty 'requests' list")
    encoded = [encode_request(host, port, r) for r in requests]
    return _Target(host, port, encoded, timeout)


# --- responses --------------------------------------------------------------------------


def _parse_head(head: bytes) -> tuple[bytes, int, dict[bytes, bytes]]:
    """Version, status and lower-cased headers of a response head (ending in a blank line)."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise ProtocolError(f"bad status line {lines[0][:80]!r}") from None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return parts[0], status, headers


def _keeps_alive(version: bytes, headers: dict[bytes, bytes]) -> bool:
    tokens = headers.get(b"connection", b"").lower()
    if version == b"HTTP/1.0":
        return b"keep-alive" in tokens
    return b"close" not in tokens


def _content_length(value: bytes) -> int:
    if not value.isdigit():
        raise ProtocolError(f"bad content-length {value[:80]!r}")
    return int(value)


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line {line[:80]!r}") from None
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
    # Trailer fields, if any, up to the blank line that ends the message.
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass


async def _read_to_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def read_response(
    reader: asyncio.StreamReader, *, bodyless: bool = False
) -> tuple[int, bool]:
    """Read one whole response, body discarded: its status and whether the connection lives on."""
    while True:
        version, status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        # 1xx are interim (100 Continue, 103 Early Hints): the real answer follows.
        if not 100 <= status < 200 or status == 101:
            break
    keep_alive = _keeps_alive(version, headers) and status != 101
    if bodyless or status in (101, 204, 304):
        return status, keep_alive
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        await _read_chunked(reader)
    elif (length := headers.get(b"content-length")) is not None:
        await reader.readexactly(_content_length(length))
    else:
        # Neither length nor chunking: the body is everything until the server closes.
        await _read_to_eof(reader)
        keep_alive = False
    return status, keep_alive


# --- load -------------------------------------------------------------------------------


async def _open(target: _Target, recorder: _Recorder) -> _Connection | None:
    try:
        async with asyncio.timeout(target.timeout):
            reader, writer = await asyncio.open_connection(target.host, target.port)
    except Exception as exc:
        recorder.failed(exc)
        return None
    return _Connection(reader, writer)


async def _exchange(
    conn: _Connection, request: EncodedRequest, limit: float, recorder: _Recorder
) -> bool:
    """Send one request and read its response; False when the connection must be replaced."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            conn.writer.write(request.data)
            await conn.writer.drain()
            status, keep_alive = await read_response(conn.reader, bodyless=request.bodyless)
    except Exception as exc:
        # Whatever state the connection is in (half a response unread), it is unusable.
        recorder.failed(exc)
        return False
    recorder.completed(status, time.perf_counter() - start)
    return keep_alive


async def _worker(target: _Target, first: int, recorder: _Recorder) -> None:
    """One connection's closed loop; runs until cancelled."""
    index = first
    conn: _Connection | None = None
    had_connection = False
    try:
        while True:
            # A server that closed an idle connection without saying so shows up as EOF
            # already buffered: replace it rather than send into it and count an error.
            if conn is not None and conn.reader.at_eof():
                conn.writer.close()
                conn = None
            if conn is None:
                conn = await _open(target, recorder)
                if conn is None:
                    await asyncio.sleep(CONNECT_RETRY_DELAY)
                    continue
                if had_connection:
                    recorder.reconnected()
                had_connection = True
            request = target.requests[index]
            index = (index + 1) % len(target.requests)
            if not await _exchange(conn, request, target.timeout, recorder):
                conn.writer.close()
                conn = None
    finally:
        if conn is not None:
            conn.writer.close()


async def _stop(tasks: Sequence[asyncio.Task[None]], grace: float) -> None:
    for task in tasks:
        task.cancel()
    done, _ = await asyncio.wait(tasks, timeout=grace)
    # A worker only ends by cancellation; anything else is a bug here, not a server error.
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc


def _nearest_rank(ordered: Sequence[float], percent: int) -> float:
    rank = max(1, math.ceil(percent * len(ordered) / 100))
    return ordered[rank - 1]


def _latency_ms(latencies: list[float]) -> Latency:
    if not latencies:
        return Latency(p50=None, p95=None, p99=None, max=None, mean=None)
    ordered = sorted(latencies)

    def ms(seconds: float) -> float:
        return round(seconds * 1000, 3)

    p50, p95, p99 = (ms(_nearest_rank(ordered, p)) for p in _PERCENTILES)
    mean = ms(math.fsum(ordered) / len(ordered))
    return Latency(p50=p50, p95=p95, p99=p99, max=ms(ordered[-1]), mean=mean)


def _result(recorder: _Recorder, elapsed: float, cpu_seconds: dict[str, float]) -> LoadResult:
    completed = len(recorder.latencies)
    return LoadResult(
        requests=completed,
        duration=round(elapsed, 6),
        rps=round(completed / elapsed, 1) if elapsed > 0 else 0.0,
        status={str(code): n for code, n in sorted(recorder.status.items())},
        errors=dict(sorted(recorder.errors.items())),
        reconnects=recorder.reconnects,
        latency_ms=_latency_ms(recorder.latencies),
        cpu_seconds=cpu_seconds,
    )


# ``timeout`` is the per-request limit of the CLI's --timeout, not a deadline on this call.
async def run_load(
    spec: dict[str, Any],
    connections: int,
    duration: float,
    warmup: float,
    timeout: float,  # noqa: ASYNC109
    cpu_pids: Mapping[str, int] | None = None,
) -> LoadResult:
    """Run the load described by ``spec`` and return what the measured phase recorded,
    with the CPU time each process tree of ``cpu_pids`` (name -> root pid) used in it.

    Ends at ``warmup + duration + timeout`` at the latest: in-flight requests are
    cancelled when the measured phase ends, and the workers get ``timeout`` to wind down.
    """
    if connections < 1 or duration <= 0 or warmup < 0 or timeout <= 0:
        raise ValueError("need connections >= 1, duration > 0, warmup >= 0, timeout > 0")
    target = _target(spec, timeout)
    recorder = _Recorder()
    count = len(target.requests)
    tasks = [
        asyncio.create_task(_worker(target, i * count // connections, recorder))
        for i in range(connections)
    ]
    try:
        await asyncio.sleep(warmup)
        cpu_before = _cpu(cpu_pids or {})
        recorder.recording = True
        started = time.perf_counter()
        await asyncio.sleep(duration)
        recorder.recording = False
        elapsed = time.perf_counter() - started
        cpu_after = _cpu(cpu_pids or {})
    finally:
        await _stop(tasks, timeout)
    used = {name: round(cpu_after[name] - cpu_before[name], 3) for name in cpu_before}
    return _result(recorder, elapsed, used)


def _cpu(pids: Mapping[str, int]) -> dict[str, float]:
    return {name: process_tree_cpu_seconds(pid) for name, pid in pids.items()}


# --- command line -----------------------------------------------------------------------


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (it is not a dependency), else asyncio's own."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.loadgen",
        description="Closed-loop HTTP/1.1 load generator; prints one JSON object.",
    )
    parser.add_argument("--requests", type=Path, required=True, help="JSON request spec")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds first")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    parser.add_argument(
        "--cpu",
        action="append",
        default=[],
        type=_named_pid,
        metavar="NAME=PID",
        help="report the CPU time process PID and its descendants use in the measured phase",
    )
    return parser.parse_args(argv)


def _named_pid(text: str) -> tuple[str, int]:
    name, equals, pid = text.partition("=")
    if not name or not equals or not pid.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=PID, got {text!r}")
    return name, int(pid)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    spec = json.loads(args.requests.read_text(encoding="utf-8"))
    load = run_load(
        spec, args.connections, args.duration, args.warmup, args.timeout, dict(args.cpu)
    )
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        result = runner.run(load)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
