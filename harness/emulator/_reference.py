"""The floor the emulator's self-benchmark is held to: the queue's routes (submit, status, status
stream, result) answered with constant JSON by a bare Starlette app under the same uvicorn settings
(httptools, the asyncio loop). What the emulator spends beyond this is its own work.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from harness._serve import ServedApp, bind

__all__ = ["ReferenceServer", "reference_app"]

_ID = "00000000-0000-4000-8000-000000000000"


def reference_app(base: str) -> Starlette:
    """Constant answers: every submit is accepted and every status is COMPLETED."""
    root = f"{base}/fal-ai/reference/requests/{_ID}"
    handle = {"status": "IN_QUEUE", "request_id": _ID, "response_url": root, "status_url": f"{root}/status",
              "cancel_url": f"{root}/cancel", "queue_position": 0}
    done: dict[str, object] = {"status": "COMPLETED", "request_id": _ID, "response_url": root,
                               "status_url": f"{root}/status", "logs": None, "metrics": {}}
    output = {"images": [{"url": f"{base}/files/x.jpg", "content_type": "image/jpeg"}], "seed": 1}
    handle_b, done_b, output_b = orjson.dumps(handle), orjson.dumps(done), orjson.dumps(output)

    async def submit(request: Request) -> Response:
        await request.body()
        return Response(handle_b, media_type="application/json")

    async def status(request: Request) -> Response:
        return Response(done_b, media_type="application/json")

    async def stream(request: Request) -> Response:
        async def events() -> Any:
            yield b"data: " + done_b + b"\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    async def result(request: Request) -> Response:
        return Response(output_b, media_type="application/json")

    return Starlette(routes=[
        Route("/{owner}/{app}/requests/{rid}/status/stream", stream, methods=["GET"]),
        Route("/{owner}/{app}/requests/{rid}/status", status, methods=["GET"]),
        Route("/{owner}/{app}/requests/{rid}", result, methods=["GET"]),
        Route("/{path:path}", submit, methods=["POST"]),
    ])


class ReferenceServer:
    """The reference app served on a loopback port, hosted as the emulator is (httptools)."""

    def __init__(self) -> None:
        sock = bind("127.0.0.1", 0)
        self.queue_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._served = ServedApp(reference_app(self.queue_url), [sock], name="reference",
                                 http="httptools")

    def start(self) -> ReferenceServer:
        """Serve; returns once it accepts requests."""
        self._served.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._served.stop()
