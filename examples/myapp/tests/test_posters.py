"""The poster service's fal calls, tested offline: against the emulator, from recordings, and
under the failures fal has in store (all through fal-harness's ``fal_sandbox``)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from myapp import ENDPOINT, PosterError, make_poster
from PIL import Image

PORTRAIT = Path(__file__).with_name("portrait.png")
PROMPT = "a lighthouse keeper, watercolour"
#: the app's waits, shortened for tests (the emulator's delays are scaled down already)
QUICK = {"poll_interval": 0.01, "backoff": 0.01}
RUNNER_LOST = {"fault": "completed_with_error", "endpoint": ENDPOINT, "error_type": "runner_disconnected"}


def _picture(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


def test_a_poster_is_the_picture_fal_rendered(fal_sandbox):
    poster = make_poster(PROMPT, PORTRAIT, seed=7, **QUICK)
    assert _picture(poster.image) == ("PNG", (poster.width, poster.height))
    assert poster.attempts == 1
    # The emulator's own record of the request: one run, of the uploaded portrait.
    truth = fal_sandbox.emulator.timeline(poster.request_id)
    assert truth["endpoint"] == ENDPOINT


@pytest.mark.fal_sandbox(cassette=True)
def test_a_recorded_poster_replays_with_nothing_sent(fal_sandbox):
    poster = make_poster(PROMPT, PORTRAIT, seed=7, **QUICK)
    assert _picture(poster.image) == ("PNG", (960, 1280))
    assert fal_sandbox.mode in ("replay", "record")


@pytest.mark.fal_sandbox(emulator={"faults": [{**RUNNER_LOST, "requests": [0]}]})
def test_a_run_that_lost_its_runner_is_submitted_again():
    poster = make_poster(PROMPT, PORTRAIT, seed=7, **QUICK)
    assert poster.attempts == 2


@pytest.mark.fal_sandbox(cassette=True, emulator={"faults": [{"fault": "http_500", "requests": [0], "on": ["submit"]}]})
def test_a_500_on_submit_is_tried_again_as_recorded():
    poster = make_poster(PROMPT, PORTRAIT, seed=7, **QUICK)
    assert poster.attempts == 2


@pytest.mark.fal_sandbox(cassette=True, emulator={"faults": [{**RUNNER_LOST, "rate": 1.0}]})
def test_the_app_gives_up_after_its_attempts_as_recorded():
    with pytest.raises(PosterError, match="after 2 attempt"):
        make_poster(PROMPT, PORTRAIT, attempts=2, **QUICK)
