"""Queue priorities, the stream latency model and its ground truth, progress streams, run-address
files, sync_mode and the token route."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from harness.client import QueueClient, emulator_target, ssl_context
from harness.contracts import contracts_dir
from harness.emulator import Emulator

from .helpers import Factory, client, submit, wait_completed

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


def test_normal_requests_overtake_earlier_low_ones(fal_emulator_factory: Factory) -> None:
    # One runner, held by the first request: what waits behind it is ordered by priority.
    emulator = fal_emulator_factory({"time_scale": 1, "endpoints": {"fal-ai/flux-pro": {
        "runners": 1, "queue_wait": 0, "run_time": 0.2, "log_lines": 0}}})
    with client(emulator) as http:
        blocker = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "first"})
        low = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "low"}, headers={"X-Fal-Queue-Priority": "low"})
        normal = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "normal"})
        assert http.get(low["status_url"]).json()["queue_position"] == 1
        assert http.get(normal["status_url"]).json()["queue_position"] == 0
        for handle in (blocker, low, normal):
            wait_completed(http, handle["status_url"])
        refused = http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "x"},
                            headers={"X-Fal-Queue-Priority": "urgent"})
    started = {name: emulator.timeline(h["request_id"])["started_ns"] for name, h in
               (("low", low), ("normal", normal))}
    assert started["normal"] < started["low"]
    assert emulator.timeline(low["request_id"])["priority"] == "low"
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["header", "x-fal-queue-priority"]


def test_stream_events_follow_the_latency_model_and_the_timeline_records_them(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 1, "defaults": {
        "first_event": 0.05, "event_gap": {"kind": "uniform", "low": 0.01, "high": 0.02}}})
    with QueueClient(emulator_target(emulator)) as c:
        obs = c.stream_lifecycle("openrouter/router", {"prompt": "x", "model": "m"})
    assert obs.error is None and len(obs.events) == 5
    truth = emulator.timeline(obs.request_id)
    sampled = truth["sampled"]
    assert truth["mode"] == "stream" and sampled["queue_wait_s"] == 0 and sampled["first_event_s"] == 0.05
    assert len(sampled["event_gaps_s"]) == 4 and all(0.01 <= g <= 0.02 for g in sampled["event_gaps_s"])
    # The emulator sent each event no sooner than its schedule (ground truth, not a client timing).
    events = truth["events_ns"]
    assert events[0] - truth["started_ns"] >= 0.05e9
    ends = [*events[1:], truth["completed_ns"]]
    for gap, a, b in zip(sampled["event_gaps_s"], events, ends, strict=True):
        assert b - a >= gap * 1e9
    assert {"first_event", "event_gap", "stream"} <= {k for k, v in obs.phases().items() if v is not None}


def test_a_progress_stream_moves_forward_then_answers_the_output(fal_emulator_factory: Factory,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "contracts"
    shutil.copytree(contracts_dir(), folder)
    path = folder / "fal-ai/flux-pro.yaml"
    data = yaml.safe_load(path.read_text())
    data["streaming"] = {"events": "progress", "count": 3}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    emulator = fal_emulator_factory({"time_scale": 0, "contracts_dir": str(folder)})
    with QueueClient(emulator_target(emulator)) as c:
        obs = c.stream_lifecycle("fal-ai/flux-pro", {"prompt": "x", "image_size": {"width": 64, "height": 64}})
    assert obs.error is None
    progress = [e.data for e in obs.events[:-1]]
    assert progress == [{"progress": round(i / 3, 6), "message": f"Step {i}/3"} for i in (1, 2, 3)]
    assert obs.output["images"][0]["width"] == 64
    # Sync and stream files live on the run address, so a client trusting only that origin finds them.
    assert obs.output["images"][0]["url"].startswith(emulator.run_url + "/files/")
    assert obs.downloads[0].status == 200


def test_sync_mode_answers_inline_and_stores_nothing(fal_emulator: Emulator) -> None:
    with client(fal_emulator) as http:
        before = http.get(f"{fal_emulator.queue_url}/_emulator/health").json()["stored_files"]
        ran = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro", json={
            "prompt": "x", "sync_mode": True, "num_images": 2, "image_size": {"width": 64, "height": 48}}).json()
        after = http.get(f"{fal_emulator.queue_url}/_emulator/health").json()["stored_files"]
    assert [i["url"][:23] for i in ran["images"]] == ["data:image/jpeg;base64,"] * 2
    assert after == before


@pytest.mark.parametrize(("body", "loc"), [
    ({"allowed_apps": []}, "allowed_apps"),
    ({"allowed_apps": ["fast-lcm-diffusion"], "token_expiration": 0}, "token_expiration"),
    ([], "allowed_apps"),
])
def test_a_bad_token_request_is_422_naming_the_field(fal_emulator: Emulator, body: object, loc: str) -> None:
    with client(fal_emulator) as http:
        answer = http.post(f"{fal_emulator.queue_url}/tokens/", json=body)
    assert answer.status_code == 422
    assert loc in {e["loc"][-1] for e in answer.json()["detail"]}


def test_tokens_need_a_key(fal_emulator: Emulator) -> None:
    answer = httpx.post(f"{fal_emulator.queue_url}/tokens/", json={"allowed_apps": ["x"]}, trust_env=False, verify=TLS)
    assert answer.status_code == 401
