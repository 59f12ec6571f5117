"""The emulator's self-benchmark runs end to end and reports figures that add up (it times nothing);
it refuses an unknown endpoint up front and counts a refused submit as a failure."""

from __future__ import annotations

import asyncio

import pytest

from harness._errors import ConfigError
from harness.cli import main
from harness.emulator import _bench
from harness.emulator._bench import run_bench

from .helpers import Factory


def test_bench_reports_lifecycles_and_added_time() -> None:
    result = run_bench(requests=40, concurrency=4, in_process=True)
    assert (result.requests, result.concurrency, result.failures) == (40, 4, 0)
    assert result.lifecycles_per_second > 0
    assert 0 <= result.added_p50_ms <= result.added_p99_ms
    assert 0 < result.client_p50_ms <= result.client_p99_ms


def test_an_unknown_endpoint_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("started something for an unknown endpoint")

    monkeypatch.setattr(_bench, "start_emulator", never)
    monkeypatch.setattr(_bench, "EmulatorProcess", never)
    for in_process in (True, False):
        with pytest.raises(ConfigError, match=r"unknown endpoint 'nope/x' \(known: .*fal-ai/flux-pro"):
            run_bench(requests=2, concurrency=1, endpoint="nope/x", in_process=in_process)


def test_cli_unknown_endpoint_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "bench", "--endpoint", "nope/x", "--requests", "2", "--concurrency", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fal-harness: error: unknown endpoint 'nope/x'")


@pytest.mark.parametrize("fault", ["http_500", "ingress_503", "malformed_json", "http_429"])
def test_a_submit_without_a_queue_handle_is_a_failed_request(fault: str, fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 0, "faults": [{"fault": fault, "rate": 1, "on": ["submit"]}]})
    result = asyncio.run(_bench._drive(emulator.queue_url, emulator.key, "fal-ai/flux-pro",
                                       dict(_bench.DEFAULT_INPUT), 6, 2))
    assert (result.requests, result.failures) == (6, 6)
