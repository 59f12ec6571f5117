"""One load process's lifecycles, in this process and without Locust: each run through the
harness's client and recorded on its loop, whoever waits for it, and counted at the drain."""

from __future__ import annotations

import threading

import harness
from harness.client import emulator_target
from harness.contracts import load_contracts
from harness.load import LifecycleDriver, LoadSettings, load_cases


def test_every_lifecycle_is_recorded_with_its_own_id_and_counted_at_the_drain(fal_emulator: harness.Emulator) -> None:
    settings = LoadSettings()
    (case,) = load_cases(settings, load_contracts())
    driver = LifecycleDriver(emulator_target(fal_emulator), settings, [case], "w1")
    try:
        first = driver.run(case)
        # callers on other threads (Locust users are greenlets on the same loop) share the client
        other = threading.Thread(target=driver.run, args=(case,), daemon=True)
        other.start()
        other.join(timeout=60)
        drained = driver.drain(timeout=60)
        records = driver.take()
    finally:
        driver.close()
    assert (drained.started, drained.recorded, drained.unfinished) == (2, 2, 0)
    assert sorted(r.lifecycle or "" for r in records) == ["w1/0", "w1/1"]
    assert first.ok and first.request_id and first.lifecycle == "w1/0"
    assert first.series == case.endpoint and first.labels["loop"] == "locust"
    assert {"submit", "queue_wait", "run", "result", "end_to_end", "latency"} <= set(first.phases_ns)
    assert first.observation is not None and first.observation.get("detection") == "stream"
    assert driver.take() == []  # taken once
    timeline = fal_emulator.timeline(str(first.request_id))  # the emulator saw it, under the same id
    assert timeline["endpoint"] == case.endpoint
