"""With an emulator fault switched on, the check that should notice it fails with a clear message.

One test per fault class proves the checks can fail: a suite that passes against a broken API
would be worthless.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from harness import ContractViolation
from harness._suite import ScenarioCase, expectation
from harness.checks import assert_checks, run_checks
from harness.client import AsyncQueueClient, Observation, RetryPolicy, emulator_target
from harness.contracts import load_contracts
from harness.emulator import Emulator

FLUX = load_contracts("contracts")["fal-ai/flux-pro"]
CASE = ScenarioCase(FLUX, FLUX.scenario("custom-size"))
# Quick retries so persistent faults exhaust them fast; the retry policy itself is tested elsewhere.
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, rng=random.Random(0))

# fault rule, how to detect completion, the check that must fail, words its message must hold
FAULTS: list[tuple[dict[str, Any], str, str, str]] = [
    ({"fault": "http_429", "on": ["submit"]}, "stream", "run.completed-without-error", "status=429"),
    ({"fault": "http_500", "on": ["result"]}, "stream", "result.available", "HTTP 500"),
    ({"fault": "ingress_502", "on": ["status"]}, "poll", "run.completed-without-error", "502 Bad Gateway (HTML page)"),
    ({"fault": "ingress_503", "on": ["submit"]}, "stream", "run.completed-without-error",
     "503 Service Temporarily Unavailable (HTML page)"),
    ({"fault": "ingress_504", "on": ["result"]}, "stream", "result.available", "HTTP 504"),
    ({"fault": "timeout_504_user", "on": ["submit"]}, "stream", "run.completed-without-error",
     "error_type=request_timeout"),
    ({"fault": "connection_reset", "on": ["result"]}, "stream", "run.completed-without-error", "transport error"),
    ({"fault": "slow_headers", "on": ["submit"], "seconds": 100}, "stream", "run.completed-without-error",
     "timed out"),
    ({"fault": "malformed_json", "on": ["result"]}, "stream", "result.available", "not a JSON object"),
    ({"fault": "completed_with_error"}, "stream", "run.completed-without-error",
     "vendor failure: the run COMPLETED with error_type='runner_disconnected'"),
    ({"fault": "result_expired"}, "stream", "result.available", "HTTP 404"),
    ({"fault": "stuck_queue"}, "stream", "run.completed-without-error", "not completed within"),
]


def _run(emulator: Emulator, detect: str, *, timeout: float = 2.0, http_timeout: float = 0.5) -> Observation:
    async def go() -> Observation:
        # An HTTP timeout below the slow headers' delay (100 s, scaled to 1 s) turns them into a timeout;
        # ``timeout`` bounds a stuck queue, which can never complete however long it is given.
        async with AsyncQueueClient(emulator_target(emulator), retry=FAST, timeout=http_timeout) as client:
            return await client.lifecycle(CASE.contract.endpoint, dict(CASE.scenario.input), detect=detect,
                                          scenario=CASE.scenario.name, timeout=timeout)

    return asyncio.run(go())


@pytest.mark.parametrize(("rule", "detect", "check_id", "words"), FAULTS, ids=[f[0]["fault"] for f in FAULTS])
def test_fault_fails_its_check_with_a_clear_message(
    fal_emulator_factory: Callable[..., Emulator], rule: dict[str, Any], detect: str, check_id: str, words: str
) -> None:
    emulator = fal_emulator_factory({"time_scale": 0.01, "faults": [{**rule, "rate": 1.0}]})
    obs = _run(emulator, detect, timeout=0.5 if rule["fault"] == "stuck_queue" else 2.0,
               http_timeout=0.2 if rule["fault"] == "slow_headers" else 0.5)
    results = run_checks(obs, FLUX, expect=expectation(FLUX, CASE.scenario))
    failed = {r.check: r for r in results if r.failed}
    assert check_id in failed, f"{rule['fault']}: {sorted(failed)}"
    message = " ".join(failed[check_id].messages)
    assert words in message
    assert "\n" not in message and "\r" not in message
    with pytest.raises(ContractViolation) as raised:
        assert_checks(results, obs, target_url=emulator.queue_url)
    assert f"[{check_id}]" in str(raised.value)


def test_the_same_scenario_passes_without_faults(fal_emulator_factory: Callable[..., Emulator]) -> None:
    obs = _run(fal_emulator_factory({}), "stream")
    assert [r.check for r in run_checks(obs, FLUX) if r.failed] == []


def test_one_transient_fault_is_retried_and_recorded_not_failed(fal_emulator_factory: Callable[..., Emulator]) -> None:
    emulator = fal_emulator_factory({"faults": [{"fault": "ingress_503", "on": ["submit"], "requests": [0]}]})
    obs = _run(emulator, "stream")
    assert [r.check for r in run_checks(obs, FLUX) if r.failed] == []
    assert obs.retries == 1
    assert [e.status for e in obs.exchanges if e.phase == "submit"] == [503, 200]


def test_a_broken_stream_falls_back_to_polling_and_still_passes(fal_emulator_factory: Callable[..., Emulator]) -> None:
    emulator = fal_emulator_factory({"faults": [{"fault": "connection_reset", "on": ["stream"], "rate": 1.0}]})
    obs = _run(emulator, "stream")
    assert obs.tags["stream_fallback"].startswith("stream failed to open")
    assert [r.check for r in run_checks(obs, FLUX) if r.failed] == []
    assert obs.statuses[-1].via == "poll"
