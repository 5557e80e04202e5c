"""Level 2's rounds (tests/bench/http_level.py): the turns of one scenario merged into one
result, and the verdict's ratio round by round. The benchmarks themselves are not collected;
CI's bench-quick runs one round, so the merge is checked here."""

from __future__ import annotations

from typing import Any

from tests.bench.http_level import Outcome, merged, report


def _round(requests: int, duration: float, p95: float, server: float) -> dict[str, Any]:
    return {
        "requests": requests,
        "duration": duration,
        "rps": requests / duration,
        "status": {"200": requests - 1, "503": 1},
        "errors": {"TimeoutError": 1},
        "reconnects": 0,
        "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 2, "max": None, "mean": 1.0},
        "cpu_seconds": {"server": server, "database": server / 2},
    }


def test_rounds_merge_into_totals_and_median_percentiles() -> None:
    rounds = [
        _round(1000, 10.0, 30.0, 6.0),
        _round(2000, 10.0, 10.0, 8.0),
        _round(900, 9.0, 50.0, 5.0),
    ]
    total = merged(rounds)
    assert total["requests"] == 3900
    assert total["rps"] == 3900 / 29.0  # over all the time measured, not a mean of rates
    assert total["rounds_rps"] == [100.0, 200.0, 100.0]
    assert total["status"] == {"200": 3897, "503": 3}
    assert total["errors"] == {"TimeoutError": 3}
    assert total["cpu_seconds"] == {"server": 19.0, "database": 9.5}
    assert total["latency_ms"]["p95"] == 30.0  # the median round's
    assert total["latency_ms"]["max"] is None
    assert Outcome("history", "", 1, total).cpu_us_per_request("server") == 19.0 / 3900 * 1e6
    assert merged(rounds[:1]) is rounds[0]


def test_the_verdict_gives_the_ratio_round_by_round() -> None:
    ours = merged([_round(900, 10.0, 40.0, 5.0), _round(1100, 10.0, 40.0, 5.0)])
    peer = merged([_round(1000, 10.0, 40.0, 5.0), _round(1000, 10.0, 40.0, 5.0)])
    once = _round(100, 10.0, 40.0, 5.0)
    outcomes = [
        Outcome(key, key, 1, result)
        for key, result in (
            ("ceiling", once),
            ("history", ours),
            ("history-peer", peer),
            ("history-orm", once),
        )
    ]
    text = report(outcomes)
    assert "1.00x the hand-written" in text
    assert "round by round 0.90x, 1.10x" in text
