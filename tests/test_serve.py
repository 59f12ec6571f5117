"""The one way a local server is hosted: an ASGI app served by uvicorn on loopback, up when start()
returns, gone when stop() returns, and a start that fails says so in one line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from harness import ConfigError
from harness._serve import ServedApp, bind, serve_loopback
from harness.cassettes._record import _webhook_receiver
from harness.client import FileInput, LocalFileHost, emulator_target, ssl_context
from harness.emulator import Emulator

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"{request.method} {request.url.path} {len(await request.body())}")


def test_a_served_app_answers_once_started_and_its_port_is_closed_once_stopped() -> None:
    served = serve_loopback(Starlette(routes=[Route("/{p:path}", _echo, methods=["GET", "POST"])]), name="echo")
    url = f"http://127.0.0.1:{served.ports[0]}"
    with httpx.Client(trust_env=False, verify=TLS) as http:
        assert http.post(f"{url}/a/b", content=b"12345").text == "POST /a/b 5"
        served.stop()
        served.stop()  # twice is fine
        with pytest.raises(httpx.ConnectError):
            http.get(f"{url}/a")


def test_an_app_whose_startup_fails_is_a_one_line_error_not_a_hang() -> None:
    @asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    served = ServedApp(Starlette(lifespan=broken), [bind("127.0.0.1", 0)], name="broken", lifespan="on")
    with pytest.raises(ConfigError, match="the broken server did not start") as caught:
        served.start()
    assert "\n" not in str(caught.value)


def test_a_port_in_use_is_a_one_line_error_naming_it() -> None:
    with bind("127.0.0.1", 0) as taken:
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)


def test_the_local_file_host_serves_each_registered_file_and_nothing_else() -> None:
    host = LocalFileHost()
    try:
        url = host.url_for(FileInput(b"\x89PNG-bytes", "image/png", "face.png"))
        with httpx.Client(trust_env=False, verify=TLS) as http:
            got = http.get(url)
            assert (got.status_code, got.content, got.headers["content-type"]) == (200, b"\x89PNG-bytes", "image/png")
            assert http.get(f"{host.base_url}/not/registered.png").status_code == 404
    finally:
        host.close()


def test_the_recorders_webhook_receiver_takes_posts_on_a_loopback_target(fal_emulator: Emulator) -> None:
    with _webhook_receiver(None, emulator_target(fal_emulator), needed=True) as url:
        assert url is not None and url.startswith("http://127.0.0.1:")
        assert httpx.post(url, content=b"{}" * 1000, trust_env=False, verify=TLS).status_code == 200
