"""Helpers for the emulator tests: inputs with files, an authorised HTTP client, protocol shortcuts."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from harness._resources import fixture
from harness._tls import ssl_context
from harness.contracts import Contract
from harness.emulator import Emulator

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

#: the ``fal_emulator_factory`` fixture: start(config data or EmulatorConfig) -> Emulator
Factory = Callable[..., Emulator]

ENDPOINTS = ("fal-ai/flux-pro", "fal-ai/instantid/lcm", "fal-ai/photomaker", "fal-ai/sd-loras")

_MIME = {"png": "image/png", "zip": "application/zip", "jpg": "image/jpeg", "txt": "text/plain"}


def data_uri(name: str) -> str:
    mime = _MIME[name.rsplit(".", 1)[-1]]
    return f"data:{mime};base64," + base64.b64encode(fixture(name).read_bytes()).decode()


def scenario_input(contract: Contract, name: str | None = None) -> dict[str, Any]:
    """A scenario's input with its files as data URIs (the first 200-expecting scenario by default)."""
    scenario = (contract.scenario(name) if name else
                next(s for s in contract.scenarios if s.expect_status == 200))
    payload = dict(scenario.input)
    for field, file_name in scenario.files.items():
        payload[field] = data_uri(file_name)
    return payload


def client(emulator: Emulator) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Key {emulator.key}"}, trust_env=False, timeout=30,
                        verify=TLS)


def wait_completed(http: httpx.Client, status_url: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(status_url)
        body: dict[str, Any] = response.json()
        if body["status"] == "COMPLETED":
            assert response.status_code == 200
            return body
        assert response.status_code == 202
        assert time.monotonic() < deadline, f"still {body['status']} after {timeout}s"
        time.sleep(0.005)


def submit(http: httpx.Client, emulator: Emulator, endpoint: str, payload: Mapping[str, Any],
           **kwargs: Any) -> dict[str, Any]:
    response = http.post(f"{emulator.queue_url}/{endpoint}", json=dict(payload), **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
