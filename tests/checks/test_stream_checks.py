"""The stream checks and output.sync-mode, on made-up observations that are right and wrong in
one way each (no server can be asked to stream wrongly on demand)."""

from __future__ import annotations

from typing import Any

import pybase64
import pytest

from harness._resources import fixture
from harness.checks import Expectation, run_checks
from harness.client import Download, Observation, StreamEvent
from harness.contracts import get_contract

ROUTER = get_contract("openrouter/router")
GOOD = [{"output": "A", "partial": True}, {"output": "A b", "partial": True}, {"output": "A b c.", "partial": False}]


def _outcomes(events: list[Any]) -> dict[str, str]:
    obs = Observation(endpoint=ROUTER.endpoint, target="emulator", mode="stream", request_id="r",
                      input={"prompt": "p", "model": "m"}, output=events[-1] if events else None,
                      result_status=200,
                      events=[StreamEvent(i, 10, e, None) if not isinstance(e, bytes) else
                              StreamEvent(i, len(e), None, "not JSON") for i, e in enumerate(events)])
    return {r.check: r.outcome for r in run_checks(obs, ROUTER, expect=Expectation(status=200))
            if r.check.startswith("stream.")}


def test_a_good_partial_stream_passes_every_stream_check() -> None:
    assert _outcomes(GOOD) == {"stream.events-json": "passed", "stream.final-output": "passed",
                               "stream.progression": "passed"}


@pytest.mark.parametrize(("events", "failing"), [
    ([b"not json", *GOOD[1:]], "stream.events-json"),
    ([*GOOD[:2], {"partial": False}], "stream.final-output"),
    ([GOOD[1], GOOD[0], GOOD[2]], "stream.progression"),
    ([*GOOD[:2], {"output": "A b c.", "partial": True}], "stream.progression"),
])
def test_each_stream_check_catches_its_own_fault(events: list[Any], failing: str) -> None:
    assert _outcomes(events)[failing] == "failed"


def _image_obs(url: str, content_type: str, sync: bool) -> Observation:
    data = fixture("face.png").read_bytes()
    flux = get_contract("fal-ai/flux-pro")
    output = {"images": [{"url": url, "content_type": content_type, "width": 1, "height": 1}], "seed": 1,
              "has_nsfw_concepts": [False], "prompt": "p", "timings": {}}
    return Observation(endpoint=flux.endpoint, target="emulator", mode="sync", input={"prompt": "p", "sync_mode": sync},
                       output=output, result_status=200,
                       downloads=[Download(url.partition(",")[0] + ",...", 0, 0, None, len(data), content_type, data)])


@pytest.mark.parametrize(("url", "content_type", "sync", "outcome"), [
    ("data:image/png;base64," + pybase64.b64encode(fixture("face.png").read_bytes()).decode(), "image/png", True,
     "passed"),
    ("data:image/jpeg;base64," + pybase64.b64encode(fixture("face.png").read_bytes()).decode(), "image/jpeg", True,
     "failed"),  # the bytes are a PNG
    ("http://cdn.invalid/files/a.png", "image/png", True, "failed"),  # not inline although asked
    ("http://cdn.invalid/files/a.png", "image/png", False, "passed"),
])
def test_sync_mode_is_held_to_inline_files_of_the_right_type(url: str, content_type: str, sync: bool,
                                                             outcome: str) -> None:
    flux = get_contract("fal-ai/flux-pro")
    results = {r.check: r.outcome for r in run_checks(_image_obs(url, content_type, sync), flux,
                                                        expect=Expectation(status=200))}
    assert results["output.sync-mode"] == outcome
