"""The emulator's self-benchmark runs end to end and reports figures that add up (it times nothing)."""

from __future__ import annotations

from harness.emulator._bench import run_bench


def test_bench_reports_lifecycles_and_added_time() -> None:
    result = run_bench(requests=40, concurrency=4, in_process=True)
    assert (result.requests, result.concurrency, result.failures) == (40, 4, 0)
    assert result.lifecycles_per_second > 0
    assert 0 <= result.added_p50_ms <= result.added_p99_ms
    assert 0 < result.client_p50_ms <= result.client_p99_ms
