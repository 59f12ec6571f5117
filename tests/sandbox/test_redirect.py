"""``patch_fal_client`` reaches every client the official package makes: the module functions and
each ``SyncClient`` / ``AsyncClient``, made before the patch (even used before it) or inside it;
and on exit each goes back to what it had."""

from __future__ import annotations

import asyncio

import fal_client
import fal_client.client as fal
import httpx
import pytest

from harness.client import Target, emulator_target, ssl_context
from harness.emulator import Emulator
from harness.sandbox import fal_client_urls, patch_fal_client

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

IMAGE = "fal-ai/flux-pro"
SMALL = {"prompt": "a lighthouse", "image_size": {"width": 64, "height": 48}}
BEFORE_KEY = "before-key-id:before-key-secret-5e1"


def test_a_sync_client_used_before_the_patch_reaches_the_emulator_then_gets_its_own_state_back(
        fal_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", BEFORE_KEY)
    client = fal_client.SyncClient()
    cached = (client._auth, client._client, client._token_manager)  # used before: its state is cached
    assert cached[0].header_value == f"Key {BEFORE_KEY}" and cached[2]._url.startswith("https://rest.fal.ai/")
    with patch_fal_client(fal_emulator):
        output = client.run(IMAGE, SMALL)
        uploaded = client.upload(b"made inside", "text/plain")
        made_inside = fal_client.SyncClient()
        assert made_inside.run(IMAGE, SMALL)["images"][0]["width"] == 64
        assert client._auth.header_value == f"Key {fal_emulator.key}"
    assert output["images"][0]["width"] == 64
    assert httpx.get(uploaded, trust_env=False, verify=TLS).content == b"made inside"
    assert (client._auth, client._client, client._token_manager) == cached
    assert made_inside._token_manager._url.startswith("https://rest.fal.ai/")  # nothing built inside outlives it
    assert fal.QUEUE_URL_FORMAT == "https://queue.fal.run/" and fal.CDN_URL == "https://v3.fal.media"


def test_an_async_client_made_before_the_patch_reaches_the_emulator(fal_emulator: Emulator) -> None:
    client = fal_client.AsyncClient(key=fal_emulator.key)

    async def run() -> tuple[dict[str, object], str]:
        output = await client.run(IMAGE, SMALL)
        return output, await client.upload(b"async upload", "text/plain")

    with patch_fal_client(fal_emulator):
        output, url = asyncio.run(run())
    assert output["images"][0]["height"] == 48  # type: ignore[index]
    assert url.startswith(fal_emulator.queue_url)
    assert not [k for k in vars(client) if k.startswith("_fal_harness_redirect")]


def test_a_target_names_its_own_rest_and_cdn_addresses(fal_emulator: Emulator) -> None:
    target = Target(name="elsewhere", queue_url="https://q.example.invalid", run_url="https://r.example.invalid",
                    rest_url="https://rest.example.invalid", cdn_url="https://cdn.example.invalid")
    assert fal_client_urls(target) == {
        "QUEUE_URL_FORMAT": "https://q.example.invalid/", "RUN_URL_FORMAT": "https://r.example.invalid/",
        "REALTIME_URL_FORMAT": "wss://r.example.invalid/", "REST_URL": "https://rest.example.invalid",
        "CDN_URL": "https://cdn.example.invalid"}
    assert fal_client_urls(emulator_target(fal_emulator)) == fal_client_urls(fal_emulator)


def test_nested_patches_unwind_in_order(fal_emulator: Emulator, fal_emulator_factory: object) -> None:
    other = fal_emulator_factory()  # type: ignore[operator]
    client = fal_client.SyncClient()
    with patch_fal_client(fal_emulator):
        outer = client._client
        with patch_fal_client(other):
            assert client.run(IMAGE, SMALL)["images"][0]["width"] == 64
            assert other.queue_url + "/" == fal.QUEUE_URL_FORMAT
        assert client._client is outer and fal_emulator.queue_url + "/" == fal.QUEUE_URL_FORMAT
