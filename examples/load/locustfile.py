"""Sustained load on fal's queue API with Locust, using the harness's contracts for the inputs.

Locust scales out across machines (``--master`` / ``--worker``) and keeps its own statistics;
this file only teaches it fal's queue protocol. Each simulated user submits a scenario's input,
follows the status to COMPLETED and fetches the result, and reports three extra rows besides
the HTTP requests: ``queue wait``, ``run`` and ``lifecycle`` (submit to result).

    # against a local emulator (fal-harness emulator --port 8470 in another shell)
    FAL_KEY=emulator-key-id:emulator-key-secret \\
      locust -f examples/load/locustfile.py --host http://127.0.0.1:8470 --headless -u 20 -r 5 -t 1m

    # against fal itself (this spends money: every lifecycle is a billed request)
    FAL_KEY=... locust -f examples/load/locustfile.py --host https://queue.fal.run --headless -u 5 -r 1 -t 5m

Settings (environment): ``FAL_KEY`` (required), ``FAL_HARNESS_ENDPOINT`` (default
``fal-ai/flux-pro``), ``FAL_HARNESS_SCENARIO`` (default: the contract's first scenario without
file inputs), ``FAL_HARNESS_POLL_INTERVAL`` (seconds, default 0.5).
"""

from __future__ import annotations

import os
import time
from typing import Any

from locust import FastHttpUser, between, events, task

from harness import get_contract
from harness.contracts import Contract, Scenario

ENDPOINT = os.environ.get("FAL_HARNESS_ENDPOINT", "fal-ai/flux-pro")
POLL_INTERVAL = float(os.environ.get("FAL_HARNESS_POLL_INTERVAL", "0.5"))


def _scenario(contract: Contract) -> Scenario:
    wanted = os.environ.get("FAL_HARNESS_SCENARIO")
    if wanted:
        return contract.scenario(wanted)
    usable = [s for s in contract.scenarios if not s.files and s.expect_status == 200]
    if not usable:
        raise SystemExit(f"{contract.endpoint} has no scenario without file inputs; set FAL_HARNESS_SCENARIO")
    return usable[0]


CONTRACT = get_contract(ENDPOINT)
SCENARIO = _scenario(CONTRACT)
PAYLOAD: dict[str, Any] = dict(SCENARIO.input)


@events.init.add_listener
def _require_key(environment: Any, **_: Any) -> None:
    if not os.environ.get("FAL_KEY"):
        raise SystemExit("set FAL_KEY (for a local emulator: emulator-key-id:emulator-key-secret)")


class QueueUser(FastHttpUser):  # type: ignore[misc]
    """One caller: submit, follow the status until COMPLETED, fetch the result."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Key {os.environ['FAL_KEY']}"}

    def _report(self, name: str, started: float, error: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="fal", name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=error, context={},
        )

    @task
    def lifecycle(self) -> None:
        began = time.perf_counter()
        with self.client.post(f"/{ENDPOINT}", json=PAYLOAD, headers=self.auth, name="submit",
                              catch_response=True) as submitted:
            if submitted.status_code != 200:
                submitted.failure(f"submit answered {submitted.status_code}")
                return
            ticket = submitted.json()
        waiting = time.perf_counter()
        running: float | None = None
        while True:
            with self.client.get(ticket["status_url"], params={"logs": "0"}, headers=self.auth, name="status",
                                 catch_response=True) as polled:
                if polled.status_code not in (200, 202):
                    polled.failure(f"status answered {polled.status_code}")
                    self._report("lifecycle", began, RuntimeError("status failed"))
                    return
                status = polled.json()
            if status.get("status") == "IN_PROGRESS" and running is None:
                self._report("queue wait", waiting)
                running = time.perf_counter()
            if status.get("status") == "COMPLETED":
                if running is None:  # never seen in progress: the whole wait counts as queue wait
                    self._report("queue wait", waiting)
                    running = time.perf_counter()
                self._report("run", running, RuntimeError(status["error"]) if status.get("error") else None)
                break
            time.sleep(POLL_INTERVAL)
        with self.client.get(ticket["response_url"], headers=self.auth, name="result",
                             catch_response=True) as result:
            if result.status_code != 200:
                result.failure(f"result answered {result.status_code}")
                self._report("lifecycle", began, RuntimeError(f"result {result.status_code}"))
                return
        self._report("lifecycle", began)
