"""The smoke run: every contract's scenarios through the queue protocol against a running emulator,
the same calls fal-client makes, each result checked against its contract and its files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from harness._resources import fixture
from harness.contracts import Contract, Scenario, validate_output
from harness.contracts._semantics import MEDIA_TYPES
from harness.emulator._images import probe
from harness.emulator._server import Emulator

__all__ = ["ScenarioResult", "run_smoke"]


@dataclass(frozen=True)
class ScenarioResult:
    endpoint: str
    scenario: str
    ok: bool
    status: int | None
    problem: str | None
    seconds: float


def run_smoke(emulator: Emulator, contracts: Mapping[str, Contract], *, timeout: float = 60.0) -> list[ScenarioResult]:
    """Run each scenario once (files uploaded through the v3 storage flow) and check what comes back."""
    out: list[ScenarioResult] = []
    with httpx.Client(headers={"Authorization": f"Key {emulator.key}"}, timeout=timeout, trust_env=False) as http:
        for contract in contracts.values():
            for scenario in contract.scenarios:
                started = time.monotonic()
                try:
                    status = _run(http, emulator, contract, scenario, timeout)
                except _Failed as exc:
                    out.append(ScenarioResult(contract.endpoint, scenario.name, False, exc.status, str(exc),
                                              time.monotonic() - started))
                else:
                    out.append(ScenarioResult(contract.endpoint, scenario.name, True, status, None,
                                              time.monotonic() - started))
    return out


class _Failed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _run(http: httpx.Client, emulator: Emulator, contract: Contract, scenario: Scenario, timeout: float) -> int:
    payload: dict[str, Any] = dict(scenario.input)
    for field, name in scenario.files.items():
        payload[field] = _upload(http, emulator, name)
    submitted = http.post(f"{emulator.queue_url}/{contract.endpoint}", json=payload)
    _expect(submitted, 200, "submit")
    handle = submitted.json()
    deadline = time.monotonic() + timeout
    while True:
        polled = http.get(handle["status_url"], params={"logs": "1"})
        body = polled.json()
        _expect(polled, 200 if body.get("status") == "COMPLETED" else 202, "status")
        if body["status"] == "COMPLETED":
            break
        if time.monotonic() > deadline:
            raise _Failed(f"still {body['status']} after {timeout:g}s")
        time.sleep(0.01)
    result = http.get(handle["response_url"])
    if result.status_code != scenario.expect_status:
        raise _Failed(f"result status {result.status_code}, expected {scenario.expect_status}: "
                      f"{result.text[:200]}", result.status_code)
    if result.status_code == 200:
        violations = validate_output(contract, result.json())
        if violations:
            raise _Failed(f"output breaks the contract: {violations[0]}", 200)
        _check_images(http, contract, result.json())
    elif not isinstance(result.json().get("detail"), list):
        raise _Failed("error result without a detail list", result.status_code)
    return result.status_code


def _upload(http: httpx.Client, emulator: Emulator, name: str) -> str:
    token = http.post(f"{emulator.queue_url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={})
    _expect(token, 200, "storage token")
    grant = token.json()
    data = fixture(name).read_bytes()
    kind = {"png": "image/png", "zip": "application/zip"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    uploaded = http.post(f"{grant['base_url']}/files/upload", content=data,
                         headers={"Authorization": f"{grant['token_type']} {grant['token']}", "Content-Type": kind,
                                  "X-Fal-File-Name": name})
    _expect(uploaded, 200, "upload")
    return str(uploaded.json()["access_url"])


def _check_images(http: httpx.Client, contract: Contract, output: Mapping[str, Any]) -> None:
    semantics = contract.semantics.images
    if semantics is None:
        return
    found: Any = output.get(semantics.field)
    images: list[Any] = found if isinstance(found, list) else [found]
    for image in images:
        served = http.get(image["url"])
        _expect(served, 200, "image download")
        seen = probe(served.content)
        if seen is None:
            raise _Failed(f"{image['url']} is not a decodable image")
        fmt, width, height = seen
        declared = (image.get("width"), image.get("height"), image.get("file_size"), image.get("content_type"))
        actual = (width, height, len(served.content), MEDIA_TYPES.get(fmt.lower()))
        if declared != actual:
            raise _Failed(f"declared (width, height, file_size, content_type) {declared} but served {actual}")


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise _Failed(f"{what}: HTTP {response.status_code}, expected {status}: {response.text[:200]}",
                      response.status_code)
