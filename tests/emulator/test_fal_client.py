"""The official fal-client 1.0.3, unchanged, against the emulator for every endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import fal_client
import httpx
import pytest
from PIL import Image

from harness._resources import fixture
from harness.client import ssl_context
from harness.contracts import get_contract, validate_output
from harness.emulator import Emulator, patch_fal_client

from .helpers import ENDPOINTS, Factory, scenario_input

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


@pytest.fixture
def fal(fal_emulator: Emulator) -> Iterator[fal_client.SyncClient]:
    with patch_fal_client(fal_emulator):
        yield fal_client.SyncClient(key=fal_emulator.key)


def _upload_files(fal: fal_client.SyncClient, endpoint: str) -> dict[str, object]:
    """The endpoint's first scenario, its files passed the way fal-client users pass them."""
    contract = get_contract(endpoint)
    payload = scenario_input(contract)
    if endpoint == "fal-ai/instantid/lcm":
        payload["face_image_url"] = fal.upload_file(fixture("face.png"))
    if endpoint == "fal-ai/photomaker":
        payload["image_archive_url"] = fal.upload(fixture("person.zip").read_bytes(), "application/zip",
                                                  "person.zip", repository="fal")
        payload["initial_image_url"] = fal_client.encode_image(Image.open(fixture("initial.png")), format="png")
    return payload


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_subscribe_reports_queue_updates_and_logs(fal: fal_client.SyncClient, endpoint: str) -> None:
    events: list[fal_client.Status] = []
    output = fal.subscribe(endpoint, _upload_files(fal, endpoint), with_logs=True, on_queue_update=events.append)
    assert validate_output(get_contract(endpoint), output) == []
    assert all(isinstance(e, fal_client.Queued | fal_client.InProgress | fal_client.Completed) for e in events)
    last = events[-1]
    assert isinstance(last, fal_client.Completed)
    assert last.error is None
    assert last.logs and all({"message", "level", "source", "timestamp"} <= set(entry) for entry in last.logs)
    assert last.metrics["inference_time"] >= 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_submit_status_get_then_cancel_is_refused(fal: fal_client.SyncClient, endpoint: str) -> None:
    handle = fal.submit(endpoint, _upload_files(fal, endpoint))
    assert isinstance(handle.status(with_logs=True), fal_client.Queued | fal_client.InProgress | fal_client.Completed)
    output = handle.get()
    assert validate_output(get_contract(endpoint), output) == []
    status = handle.status(with_logs=True)
    assert isinstance(status, fal_client.Completed)
    assert status.logs is not None
    with pytest.raises(fal_client.FalClientHTTPError) as refused:
        handle.cancel()
    assert refused.value.status_code == 400
    assert refused.value.response.json() == {"status": "ALREADY_COMPLETED"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_run_returns_the_output_directly(fal: fal_client.SyncClient, endpoint: str) -> None:
    output = fal.run(endpoint, _upload_files(fal, endpoint))
    assert validate_output(get_contract(endpoint), output) == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_async_client_cancels_a_queued_request(fal_emulator_factory: Factory, endpoint: str) -> None:
    emulator = fal_emulator_factory({"defaults": {"queue_wait": 100}})
    payload = scenario_input(get_contract(endpoint))

    async def scenario() -> tuple[fal_client.Status, int]:
        client = fal_client.AsyncClient(key=emulator.key)
        handle = await client.submit(endpoint, payload)
        queued = await handle.status()
        await handle.cancel()
        status = await handle.status(with_logs=True)
        with pytest.raises(fal_client.FalClientHTTPError) as cancelled:
            await handle.get()
        assert isinstance(queued, fal_client.Queued)
        return status, cancelled.value.status_code

    with patch_fal_client(emulator):
        status, code = asyncio.run(scenario())
    assert isinstance(status, fal_client.Completed)
    assert status.error_type == "client_cancelled"
    assert code == 499


def test_async_subscribe_and_upload(fal_emulator: Emulator) -> None:
    async def scenario() -> tuple[dict[str, object], str]:
        client = fal_client.AsyncClient(key=fal_emulator.key)
        url = await client.upload(fixture("face.png").read_bytes(), "image/png", "face.png")
        events: list[fal_client.Status] = []
        output = await client.subscribe("fal-ai/instantid/lcm", {"prompt": "man", "face_image_url": url},
                                        with_logs=True, on_queue_update=events.append)
        assert isinstance(events[-1], fal_client.Completed)
        return output, url

    with patch_fal_client(fal_emulator):
        output, url = asyncio.run(scenario())
    assert validate_output(get_contract("fal-ai/instantid/lcm"), output) == []
    assert httpx.get(url, trust_env=False, verify=TLS).content == fixture("face.png").read_bytes()


@pytest.mark.parametrize("repository", ["fal_v3", "fal"])
def test_upload_is_served_back_with_its_content_type(fal: fal_client.SyncClient, repository: str) -> None:
    data = fixture("person.zip").read_bytes()
    url = fal.upload(data, "application/zip", "person.zip", repository=repository)  # type: ignore[arg-type]
    served = httpx.get(url, trust_env=False, verify=TLS)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == "application/zip"


def test_upload_falls_back_to_the_legacy_flow_when_v3_fails(fal_emulator_factory: Factory) -> None:
    # Storage call 0 is the v3 token, call 1 the v3 upload: failing it must send the client to
    # the legacy initiate + PUT flow, which then succeeds.
    emulator = fal_emulator_factory({"faults": [{"fault": "http_500", "requests": [1], "on": "upload"}]})
    with patch_fal_client(emulator):
        url = fal_client.SyncClient(key=emulator.key).upload(b"fallback", "text/plain", "note.txt")
    assert httpx.get(url, trust_env=False, verify=TLS).content == b"fallback"
    struck = httpx.get(f"{emulator.queue_url}/_emulator/faults", headers=emulator.admin_headers).json()["faults"]
    assert [f["stage"] for f in struck] == ["upload"]


def test_encoded_image_is_accepted_as_a_file_input(fal: fal_client.SyncClient) -> None:
    face = fal_client.encode_image(Image.open(fixture("face.png")))
    output = fal.run("fal-ai/instantid/lcm", {"prompt": "man", "face_image_url": face, "seed": 5})
    assert output["seed"] == 5
    assert output["image"]["width"] == 960


def test_module_level_functions_use_the_patched_globals(fal_emulator: Emulator) -> None:
    with patch_fal_client(fal_emulator):
        handle = fal_client.SyncClient().submit("fal-ai/flux-pro", {"prompt": "env key"})
        assert handle.status_url.startswith(fal_emulator.queue_url + "/fal-ai/flux-pro/requests/")
        assert handle.get()["prompt"] == "env key"
