"""The emulator's self-benchmark runs end to end and reports figures that add up (it times nothing);
it refuses an unknown endpoint up front and counts a refused submit as a failure."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from harness._errors import ConfigError
from harness.cli import main
from harness.client import ssl_context
from harness.emulator import _bench
from harness.emulator._bench import run_bench
from harness.emulator._process import ReferenceProcess

from .helpers import Factory

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


def test_bench_reports_lifecycles_and_added_time_beside_the_reference() -> None:
    result = run_bench(requests=40, concurrency=4, in_process=True)
    assert (result.requests, result.concurrency, result.failures, result.rounds) == (40, 4, 0, 1)
    assert result.lifecycles_per_second > 0
    assert 0 <= result.added_p50_ms <= result.added_p99_ms
    assert 0 < result.client_p50_ms <= result.client_p99_ms
    ref = result.reference_lifecycles_per_second
    assert ref is not None and ref > 0 and result.reference_client_p99_ms is not None
    assert result.throughput_ratio == pytest.approx(result.lifecycles_per_second / ref)
    assert result.added_p99_vs_reference_ms == pytest.approx(result.client_p99_ms - result.reference_client_p99_ms)
    assert result.cpu_ms_per_lifecycle is None  # in process, the client's CPU would be counted too
    data = result.as_dict()
    assert data["throughput_ratio"] == result.throughput_ratio and data["cpu_ratio"] is None


def _result(lps: float, p99: float, cpu: float | None = None) -> _bench.BenchResult:
    return _bench.BenchResult(10, 2, "e", 1.0, lps, p99 / 2, p99, 0.1, 0.2, 0, cpu_ms_per_lifecycle=cpu)


def test_rounds_are_combined_by_median_with_the_reference_beside_them() -> None:
    own = [_result(100, 30, 0.5), _result(300, 10, 0.7), _result(200, 20, 0.6)]
    floor = [_result(1000, 4, 0.1), _result(400, 8, 0.2), _result(500, 6, 0.3)]
    combined = _bench._combine(own, floor)
    assert (combined.rounds, combined.lifecycles_per_second, combined.client_p99_ms) == (3, 200, 20)
    assert (combined.reference_lifecycles_per_second, combined.reference_client_p99_ms) == (500, 6)
    assert combined.throughput_ratio == pytest.approx(0.4) and combined.added_p99_vs_reference_ms == 14
    assert combined.cpu_ms_per_lifecycle == pytest.approx(0.6)
    assert combined.cpu_ratio == pytest.approx(0.2 / 0.6)
    alone = _bench._combine(own, [])
    assert alone.reference_lifecycles_per_second is None and alone.throughput_ratio is None


def test_a_child_server_reports_the_cpu_it_has_used() -> None:
    with ReferenceProcess() as child:
        first = child.cpu_seconds()
        httpx.get(f"{child.queue_url}/fal-ai/x/requests/1/status", trust_env=False, verify=TLS)
        assert 0 < first <= child.cpu_seconds()


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
