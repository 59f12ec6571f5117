"""The queue and sync protocol as fal speaks it: codes, shapes, positions, the stream, cancel, auth."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from harness.client import ssl_context
from harness.contracts import get_contract, validate_output
from harness.emulator import Emulator

from .helpers import Factory, client, scenario_input, submit, wait_completed

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


def test_submit_answers_like_fal_with_app_root_urls(http: httpx.Client, fal_emulator: Emulator) -> None:
    response = http.post(f"{fal_emulator.queue_url}/fal-ai/instantid/lcm",
                         json=scenario_input(get_contract("fal-ai/instantid/lcm")))
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"status", "request_id", "response_url", "status_url", "cancel_url", "queue_position", "logs",
                         "metrics"}
    assert (body["status"], body["logs"], body["metrics"]) == ("IN_QUEUE", None, {})
    assert response.headers["x-fal-request-id"] == body["request_id"]
    base = f"{fal_emulator.queue_url}/fal-ai/instantid/requests/{body['request_id']}"
    assert (body["response_url"], body["status_url"], body["cancel_url"]) == (base, base + "/status",
                                                                             base + "/cancel")


def test_status_is_202_until_complete_then_200_with_metrics(http: httpx.Client, fal_emulator: Emulator) -> None:
    handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "codes"})
    first = http.get(handle["status_url"])
    assert first.status_code in (200, 202)
    assert first.headers["x-fal-request-id"] == handle["request_id"]
    done = wait_completed(http, handle["status_url"])
    assert done["metrics"]["inference_time"] > 0
    assert "error" not in done


@pytest.mark.parametrize(("value", "has_logs"), [("true", True), ("1", True), ("false", False), ("0", False),
                                                 (None, False)])
@pytest.mark.parametrize("slash", ["", "/"])
def test_logs_parameter_forms_and_trailing_slash(http: httpx.Client, fal_emulator: Emulator, value: str | None,
                                                 has_logs: bool, slash: str) -> None:
    handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "logs"})
    wait_completed(http, handle["status_url"])
    params = {"logs": value} if value is not None else {}
    response = http.get(handle["status_url"] + slash, params=params)
    assert response.status_code == 200
    logs = response.json()["logs"]
    assert (isinstance(logs, list) and len(logs) > 0) if has_logs else logs is None


def test_unreadable_logs_flag_is_a_422(http: httpx.Client, fal_emulator: Emulator) -> None:
    handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "logs"})
    response = http.get(handle["status_url"], params={"logs": "maybe"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "logs"]


def test_queue_position_is_real_with_one_runner(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 1, "endpoints": {
        "fal-ai/flux-pro": {"runners": 1, "queue_wait": 0, "run_time": 0.25, "log_lines": 0}}})
    with client(emulator) as http:
        handles = [submit(http, emulator, "fal-ai/flux-pro", {"prompt": f"p{i}"}) for i in range(4)]
        assert [h["queue_position"] for h in handles] == [0, 0, 1, 2]
        positions = []
        while True:
            body = http.get(handles[-1]["status_url"]).json()
            if body["status"] != "IN_QUEUE":
                break
            positions.append(body["queue_position"])
            time.sleep(0.01)
    assert positions[0] == 2
    assert positions == sorted(positions, reverse=True)
    assert positions[-1] == 0


def test_status_stream_sends_each_change_keeps_alive_and_closes(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 1, "keepalive_seconds": 0.05, "endpoints": {
        "fal-ai/flux-pro": {"runners": 1, "queue_wait": 0, "run_time": 0.3, "log_lines": 3}}})
    with client(emulator) as http:
        running = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "first"})
        queued = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "second"})
        events, comments = [], 0
        with http.stream("GET", queued["status_url"] + "/stream", params={"logs": "1"}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(httpx.Response(200, content=line[5:].strip()).json())
                elif line.startswith(":"):
                    comments += 1
        assert running["request_id"] != queued["request_id"]
    statuses = [e["status"] for e in events]
    assert statuses[0] == "IN_QUEUE" and statuses[-1] == "COMPLETED"
    assert statuses.count("COMPLETED") == 1
    assert "IN_PROGRESS" in statuses
    in_progress_logs = [len(e["logs"]) for e in events if e["status"] == "IN_PROGRESS"]
    assert in_progress_logs == sorted(in_progress_logs) and len(in_progress_logs) >= 2  # a log line is a change
    assert all(a != b for a, b in itertools.pairwise(events))
    assert comments >= 1


@pytest.fixture
def slow(fal_emulator_factory: Factory) -> Emulator:
    return fal_emulator_factory({"time_scale": 1, "endpoints": {
        "fal-ai/flux-pro": {"runners": 1, "queue_wait": 0, "run_time": 0.5, "log_lines": 1}}})


def test_cancel_in_each_state(slow: Emulator) -> None:
    with client(slow) as http:
        running = submit(http, slow, "fal-ai/flux-pro", {"prompt": "running"})
        queued = submit(http, slow, "fal-ai/flux-pro", {"prompt": "queued"})
        behind = submit(http, slow, "fal-ai/flux-pro", {"prompt": "behind"})
        while http.get(running["status_url"]).json()["status"] != "IN_PROGRESS":
            time.sleep(0.005)

        cancel_queued = http.put(queued["cancel_url"])
        assert (cancel_queued.status_code, cancel_queued.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
        assert http.get(behind["status_url"]).json()["queue_position"] == 0  # removed from the line

        cancel_running = http.put(running["cancel_url"])
        assert (cancel_running.status_code, cancel_running.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
        for handle in (queued, running):
            status = wait_completed(http, handle["status_url"])
            assert status["error_type"] == "client_cancelled"
            result = http.get(handle["response_url"])
            assert result.status_code == 499
            assert result.json()["error_type"] == "client_cancelled"
        assert slow.timeline(queued["request_id"])["started_ns"] is None

        wait_completed(http, behind["status_url"])
        again = http.put(behind["cancel_url"])
        assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})
        unknown = http.put(f"{slow.queue_url}/fal-ai/flux-pro/requests/00000000-0000-0000-0000-000000000000/cancel")
        assert (unknown.status_code, unknown.json()) == (404, {"status": "NOT_FOUND"})


def test_result_before_completion_is_a_clear_error(slow: Emulator) -> None:
    with client(slow) as http:
        handle = submit(http, slow, "fal-ai/flux-pro", {"prompt": "wait"})
        early = http.get(handle["response_url"])
        assert early.status_code == 400
        assert early.json() == {"detail": "Request is still in progress"}
        assert early.headers["x-fal-request-id"] == handle["request_id"]


@pytest.mark.parametrize("header", [None, "Key wrong-key", "Bearer emulator-key-id:emulator-key-secret", "Key"])
def test_missing_or_wrong_key_is_401(fal_emulator: Emulator, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for url in (f"{fal_emulator.queue_url}/fal-ai/flux-pro", f"{fal_emulator.run_url}/fal-ai/flux-pro",
                f"{fal_emulator.queue_url}/storage/auth/token?storage_type=fal-cdn-v3"):
        response = httpx.post(url, json={"prompt": "x"}, headers=headers, trust_env=False, verify=TLS)
        assert response.status_code == 401
        assert isinstance(response.json()["detail"], str)


def test_any_key_is_accepted_when_no_keys_are_configured(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"keys": []})
    response = httpx.post(f"{emulator.run_url}/fal-ai/flux-pro", json={"prompt": "x"},
                          headers={"Authorization": "Key any-id:any-secret"}, trust_env=False, verify=TLS)
    assert response.status_code == 200


def test_unknown_endpoint_and_request_are_404(http: httpx.Client, fal_emulator: Emulator) -> None:
    assert http.post(f"{fal_emulator.queue_url}/fal-ai/nope", json={}).json() == {
        "detail": "Application 'fal-ai/nope' not found"}
    assert http.post(f"{fal_emulator.queue_url}/fal-ai/instantid", json={}).status_code == 404
    assert http.post(f"{fal_emulator.run_url}/fal-ai/nope", json={}).status_code == 404
    unknown = http.get(f"{fal_emulator.queue_url}/fal-ai/flux-pro/requests/nope/status")
    assert unknown.status_code == 404


def test_a_request_action_asked_with_the_wrong_method_is_405(http: httpx.Client, fal_emulator: Emulator) -> None:
    handle = http.post(f"{fal_emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "method"}).json()
    for method, url in (("POST", handle["status_url"]), ("POST", handle["cancel_url"]),
                        ("POST", handle["response_url"]), ("PUT", handle["status_url"]),
                        ("GET", handle["cancel_url"]), ("POST", f"{handle['status_url']}/stream")):
        answer = http.request(method, url, json={})
        assert (answer.status_code, answer.json()["detail"]) == (405, "Method Not Allowed"), (method, url)
    assert http.post(f"{fal_emulator.queue_url}/fal-ai/flux-pro/requests/x/nope", json={}).status_code == 404


def test_sync_run_lives_on_the_run_address_only(http: httpx.Client, fal_emulator: Emulator) -> None:
    ran = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro", json={"prompt": "sync"})
    assert ran.status_code == 200
    assert validate_output(get_contract("fal-ai/flux-pro"), ran.json()) == []
    assert ran.headers["x-fal-billable-units"] == "1"
    request_id = ran.headers["x-fal-request-id"]
    assert fal_emulator.timeline(request_id)["mode"] == "sync"
    # The run address has no queue API, and the queue address never runs synchronously.
    assert http.get(f"{fal_emulator.run_url}/fal-ai/flux-pro/requests/{request_id}").status_code == 405
    queued = http.post(f"{fal_emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "sync"})
    assert queued.json()["status"] == "IN_QUEUE"


def test_host_header_selects_the_api(http: httpx.Client, fal_emulator: Emulator) -> None:
    ran = http.post(f"{fal_emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "host"}, headers={"Host": "fal.run"})
    assert "images" in ran.json()
    queued = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro", json={"prompt": "host"},
                       headers={"Host": "queue.fal.run"})
    assert queued.json()["status"] == "IN_QUEUE"


def test_invalid_input_completes_and_its_result_is_the_422(http: httpx.Client, fal_emulator: Emulator) -> None:
    handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "x", "num_images": 9})
    status = wait_completed(http, handle["status_url"])
    assert status["error_type"] == "less_than_equal"
    result = http.get(handle["response_url"])
    assert result.status_code == 422
    assert result.headers["x-fal-billable-units"] == "0"
    assert result.json()["detail"][0]["loc"] == ["body", "num_images"]


def test_invalid_json_is_a_422(http: httpx.Client, fal_emulator: Emulator) -> None:
    response = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro", content=b"{nope",
                         headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_file_urls_off_this_machine_are_refused_without_a_network_call(http: httpx.Client,
                                                                      fal_emulator: Emulator) -> None:
    response = http.post(f"{fal_emulator.run_url}/fal-ai/instantid/lcm",
                         json={"prompt": "man", "face_image_url": "https://example.com/face.png"})
    assert response.status_code == 422
    entry = response.json()["detail"][0]
    assert (entry["loc"], entry["type"]) == (["body", "face_image_url"], "file_download_error")


@pytest.mark.parametrize(("field", "file", "kind"), [
    ("face_image_url", "not-an-image.txt", "image_load_error"),
    ("image_archive_url", "face.png", "invalid_archive"),
])
def test_files_must_be_what_their_field_says(http: httpx.Client, fal_emulator: Emulator, field: str, file: str,
                                             kind: str) -> None:
    from .helpers import data_uri

    endpoint = "fal-ai/instantid/lcm" if field == "face_image_url" else "fal-ai/photomaker"
    payload = {"prompt": "x", field: data_uri(file)}
    response = http.post(f"{fal_emulator.run_url}/{endpoint}", json=payload)
    assert response.status_code == 422
    assert (response.json()["detail"][0]["loc"], response.json()["detail"][0]["type"]) == (["body", field], kind)


def test_the_page_example_urls_run_verbatim(http: httpx.Client, fal_emulator: Emulator) -> None:
    example = get_contract("fal-ai/photomaker").examples[0].input
    assert example is not None and example["image_archive_url"].startswith("https://storage.googleapis.com/")
    response = http.post(f"{fal_emulator.run_url}/fal-ai/photomaker", json=dict(example))
    assert response.status_code == 200
    assert response.json()["seed"] == 42


def test_loopback_file_urls_are_fetched(http: httpx.Client, fal_emulator: Emulator) -> None:
    # A served output image is a loopback URL like any other local file server's.
    first = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro", json={"prompt": "face"}).json()
    url = first["images"][0]["url"].replace("127.0.0.1", "localhost")
    response = http.post(f"{fal_emulator.run_url}/fal-ai/instantid/lcm", json={"prompt": "x", "face_image_url": url})
    assert response.status_code == 200


def test_timeline_is_the_ground_truth(http: httpx.Client, fal_emulator: Emulator) -> None:
    before = time.monotonic_ns()
    handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "truth"})
    wait_completed(http, handle["status_url"])
    http.get(handle["response_url"])
    truth = http.get(f"{fal_emulator.queue_url}/_emulator/requests/{handle['request_id']}",
                     headers=fal_emulator.admin_headers).json()
    assert truth == fal_emulator.timeline(handle["request_id"])
    assert before <= truth["received_ns"] <= truth["dispatched_ns"] <= truth["started_ns"] <= truth["completed_ns"]
    assert truth["completed_ns"] <= truth["result_served_ns"][0] <= time.monotonic_ns()
    sampled = truth["sampled"]
    assert truth["started_ns"] - truth["received_ns"] >= sampled["queue_wait_s"] * 1e9
    assert truth["completed_ns"] - truth["started_ns"] >= sampled["run_time_s"] * 1e9
    assert truth["status_polls"] >= 1
    listed = http.get(f"{fal_emulator.queue_url}/_emulator/requests", headers=fal_emulator.admin_headers).json()[
        "requests"]
    assert handle["request_id"] in [t["request_id"] for t in listed]
