"""The emulator's app driven in this process through httpx.ASGITransport: no socket, the same protocol."""

from __future__ import annotations

import asyncio

import httpx

from harness.emulator import IN_PROCESS_URLS, InProcessEmulator

ENDPOINT = "fal-ai/fast-lcm-diffusion"


async def _lifecycle() -> tuple[dict[str, object], dict[str, object], list[dict[str, object]], int]:
    async with InProcessEmulator({"time_scale": 0}) as emulator:
        async with emulator.client() as client:
            submitted = (await client.post(f"/{ENDPOINT}", json={"prompt": "a lighthouse"})).json()
            # the transport hands over a response once it is whole: the status stream ends at COMPLETED
            stream = await client.get(f"{submitted['status_url']}/stream")
            assert '"COMPLETED"' in stream.text, stream.text
            result = (await client.get(submitted["response_url"])).json()
            url = str(result["images"][0]["url"])  # type: ignore[index]
            image = await client.get(url) if url.startswith("http") else httpx.Response(200, content=url.encode())
            unauthorised = await client.post(f"/{ENDPOINT}", json={"prompt": "x"}, headers={"Authorization": "Key no"})
        return submitted, result, emulator.timelines(), unauthorised.status_code if image.status_code == 200 else -1


def test_an_in_process_emulator_serves_a_whole_request_through_the_asgi_transport() -> None:
    submitted, result, timelines, unauthorised = asyncio.run(_lifecycle())
    assert str(submitted["status_url"]).startswith(IN_PROCESS_URLS[0])
    assert result["images"], result
    assert [t["request_id"] for t in timelines] == [submitted["request_id"]]
    assert unauthorised == 401


def test_an_in_process_emulator_opens_no_socket() -> None:
    async def go() -> None:
        async with InProcessEmulator({"time_scale": 0}) as emulator, httpx.AsyncClient() as plain:
            try:
                await plain.get(f"{emulator.queue_url}/")
            except httpx.ConnectError:
                return
            raise AssertionError("the in-process address answered over a real connection")

    asyncio.run(go())
