"""Measurements and the tables that print them: ops/s, p50/p95/p99, ratio to a baseline,
and the CPU time a process tree has used (from Linux's /proc)."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata

Operation = Callable[[int], Awaitable[object]]

# Call numbers are unique across every measurement of a run, so operations can derive
# idempotency keys from them and never replay an earlier call by accident.
_call_numbers = itertools.count()


@dataclass
class Sample:
    """Completed operations of one measured cell (one side, one operation, one concurrency)."""

    latencies: list[float] = field(default_factory=list)  # seconds
    seconds: float = 0.0
    errors: int = 0

    def add(self, other: Sample) -> None:
        self.latencies.extend(other.latencies)
        self.seconds += other.seconds
        self.errors += other.errors

    @property
    def ops_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(fraction * len(ordered)))
        return ordered[rank - 1] * 1000


async def measure(operation: Operation, *, concurrency: int, seconds: float) -> Sample:
    """Run ``operation`` from ``concurrency`` workers back to back (closed loop) for ``seconds``.

    Each call gets a number no other call in this process got, to pick targets or keys.
    An operation that raises is counted as an error, not as a completed operation.
    """
    sample = Sample()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while (start := time.perf_counter()) < deadline:
            try:
                await operation(next(_call_numbers))
            except Exception:
                sample.errors += 1
                continue
            sample.latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sample.seconds = time.perf_counter() - began
    return sample


@dataclass
class Row:
    label: str
    sample: Sample
    baselines: dict[str, Sample]  # ratio columns: "vs <key>"
    note: str = ""


def ratio(sample: Sample, baseline: Sample) -> str:
    if sample is baseline:
        return "1 (baseline)"
    if not baseline.ops_per_second:
        return "n/a"
    return f"{sample.ops_per_second / baseline.ops_per_second:.2f}x"


def table(title: str, rows: Sequence[Row], *, extra: str = "") -> str:
    """A Markdown table, one row per measured cell, ops/s ratios against each baseline."""
    names = list(rows[0].baselines) if rows else []
    columns = ["side", "ops/s", "p50 ms", "p95 ms", "p99 ms", *(f"vs {n}" for n in names)]
    columns.append("errors")
    if extra:
        columns.append(extra)
    lines = [f"#### {title}", "", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        s = row.sample
        cells = [
            row.label,
            f"{s.ops_per_second:,.0f}",
            f"{s.percentile_ms(0.50):.2f}",
            f"{s.percentile_ms(0.95):.2f}",
            f"{s.percentile_ms(0.99):.2f}",
            *(ratio(s, row.baselines[n]) for n in names),
            str(s.errors),
        ]
        if extra:
            cells.append(row.note)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its descendants (uvicorn's worker
    processes, PostgreSQL's backends), read from /proc/<pid>/stat (Linux).

    Each process counts its own time and that of the children it has reaped, so a
    descendant that ends between two readings (an autovacuum worker) is still counted once
    its parent has waited for it. ProcessLookupError when ``pid`` is not running.
    """
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                line = stat.read()
        except OSError:  # exited since the directory was listed
            continue
        fields = _stat_fields(line)
        process = int(entry.name)
        children.setdefault(int(fields[1]), []).append(process)  # field 4: ppid
        # Fields 14 to 17: utime, stime, and cutime, cstime (of the children it reaped).
        ticks[process] = sum(int(value) for value in fields[11:15])
    if pid not in ticks:
        raise ProcessLookupError(pid)
    tree, frontier = [pid], [pid]
    while frontier:
        found = children.get(frontier.pop(), [])
        tree.extend(found)
        frontier.extend(found)
    return sum(ticks[process] for process in tree) / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int:
    """The parent of process ``pid`` (Linux /proc); ProcessLookupError when it is not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            line = stat.read()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    return int(_stat_fields(line)[1])


def _stat_fields(line: bytes) -> list[bytes]:
    """The fields of a /proc/<pid>/stat line from field 3 (state) on, at index 0: the command
    name before them (field 2) may hold spaces and parentheses."""
    return line[line.rindex(b")") + 2 :].split()


def versions(*packages: str) -> str:
    found = []
    for package in packages:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def machine(server_version: str, server_notes: str) -> str:
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"PostgreSQL {server_version} ({server_notes})"
    )
