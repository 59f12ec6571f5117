"""Properties over generated inputs: a broken input is a 422 naming the broken place; a valid one
is answered with a valid output, never a 5xx."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from harness.contracts import InvalidInput, get_contract, invalid_inputs, valid_inputs, validate_output
from harness.emulator import Emulator

from .helpers import ENDPOINTS, client

_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_invalid_input_gets_a_422_naming_the_broken_place(fal_emulator: Emulator, endpoint: str) -> None:
    contract = get_contract(endpoint)
    with client(fal_emulator) as http:

        @_SETTINGS
        @given(invalid_inputs(contract))
        def check(broken: InvalidInput) -> None:
            response = http.post(f"{fal_emulator.run_url}/{endpoint}", json=broken.payload)
            assert response.status_code == 422, (broken.description, response.text)
            assert response.headers["x-fal-billable-units"] == "0"
            locs = [entry["loc"] for entry in response.json()["detail"]]
            assert ["body", *broken.loc] in locs, (broken.description, locs)

        check()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_valid_inputs_never_get_a_5xx(fal_emulator: Emulator, endpoint: str) -> None:
    contract = get_contract(endpoint)
    with client(fal_emulator) as http:

        @_SETTINGS
        @given(valid_inputs(contract, size_side=(16, 256), count_range=(1, 2)))
        def check(payload: dict[str, object]) -> None:
            response = http.post(f"{fal_emulator.run_url}/{endpoint}", json=payload)
            assert response.status_code == 200, response.text
            assert validate_output(contract, response.json()) == []

        check()


def test_queue_path_reports_the_same_422_as_the_sync_path(fal_emulator: Emulator) -> None:
    payload = {"prompt": "x", "image_size": {"width": 0, "height": 64}}
    with client(fal_emulator) as http:
        sync = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro", json=payload)
        handle = http.post(f"{fal_emulator.queue_url}/fal-ai/flux-pro", json=payload).json()
        while http.get(handle["status_url"]).status_code == 202:
            pass
        queued = http.get(handle["response_url"])
    assert (sync.status_code, queued.status_code) == (422, 422)
    assert sync.json() == queued.json()
    assert sync.json()["detail"][0]["loc"] == ["body", "image_size", "width"]


def test_image_above_the_pixel_cap_is_a_model_error_not_a_5xx(http: httpx.Client, fal_emulator: Emulator) -> None:
    response = http.post(f"{fal_emulator.run_url}/fal-ai/flux-pro",
                         json={"prompt": "huge", "image_size": {"width": 14000, "height": 14000}})
    assert response.status_code == 422
    entry = response.json()["detail"][0]
    assert (entry["loc"], entry["type"]) == (["body", "image_size"], "image_too_large")
