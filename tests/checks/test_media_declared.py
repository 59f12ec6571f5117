"""What a file object declares about itself against what its bytes decode as: each field, in both
directions, with where, expected (the bytes) and got (the declaration)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checks import Failure
from harness.checks._media import DURATION_TOLERANCE, DURATION_TOLERANCE_S, FPS_TOLERANCE, Decoded, _declared

VIDEO = Decoded("video", format="mp4", width=640, height=360, duration=4.0, fps=24.0, frames=96)
AUDIO = Decoded("audio", format="wav", duration=2.0, sample_rate=44100, channels=1)


def _found(kind: str, obj: dict[str, Any], decoded: Decoded) -> list[Failure]:
    return list(_declared("video[0]", kind, obj, decoded))


def test_a_declaration_that_matches_the_bytes_passes() -> None:
    obj = {"content_type": "video/mp4", "width": 640, "height": 360, "duration": 4.0, "fps": 24, "num_frames": 96}
    assert _found("video", obj, VIDEO) == []
    assert _found("audio", {"content_type": "audio/x-wav", "sample_rate": 44100, "duration": 2.0}, AUDIO) == []
    assert _found("audio", {"content_type": "audio/wav; codecs=1"}, AUDIO) == []  # parameters aside
    assert _found("video", {"content_type": "VIDEO/MP4"}, VIDEO) == []  # media types are case-blind


@pytest.mark.parametrize(("key", "declared", "real", "message"), [
    ("width", 641, 640, "video[0] declares width 641, the file has 640"),
    ("height", 359, 360, "video[0] declares height 359, the file has 360"),
    ("num_frames", 95, 96, "video[0] declares num_frames 95, the file has 96"),
    ("fps", 30, 24.0, "video[0] declares fps 30, the file runs at 24.000"),
    ("duration", 5.0, 4.0, "video[0] declares duration 5.0 s, the file lasts 4.000 s"),
])
def test_each_video_field_that_disagrees_is_named_with_both_values(key: str, declared: Any, real: Any,
                                                                   message: str) -> None:
    assert _found("video", {key: declared}, VIDEO) == [Failure(message, f"video[0].{key}", real, declared)]


def test_a_sample_rate_and_a_content_type_that_disagree_are_named() -> None:
    assert _found("audio", {"sample_rate": 48000}, AUDIO) == [
        Failure("video[0] declares sample_rate 48000, the file has 44100", "video[0].sample_rate", 44100, 48000)]
    assert _found("video", {"content_type": "video/webm"}, VIDEO) == [
        Failure("video[0] declares video/webm but its bytes are mp4 (video/mp4)", "video[0].content_type",
                "video/mp4", "video/webm")]
    # a generic file has no media type to hold it to; an undecoded format says nothing either
    assert _found("file", {"content_type": "application/zip"}, Decoded("file", format="mp4")) == []
    assert _found("video", {"content_type": "video/webm"}, Decoded("video")) == []


def test_tolerances_sit_where_they_say() -> None:
    inside = VIDEO.duration + max(DURATION_TOLERANCE_S, DURATION_TOLERANCE * VIDEO.duration)  # type: ignore[operator]
    assert _found("video", {"duration": inside - 1e-9}, VIDEO) == []
    assert len(_found("video", {"duration": inside + 0.01}, VIDEO)) == 1
    assert _found("video", {"fps": 24 * (1 + FPS_TOLERANCE) - 1e-6}, VIDEO) == []
    assert len(_found("video", {"fps": 24 * (1 + FPS_TOLERANCE) + 0.05}, VIDEO)) == 1


def test_values_that_are_not_numbers_or_were_not_decoded_are_not_judged() -> None:
    assert _found("video", {"width": "640px", "num_frames": None, "duration": "4s", "fps": "fast"}, VIDEO) == []
    assert _found("video", {"width": 1, "height": 1, "num_frames": 1, "duration": 99.0, "fps": 1},
                  Decoded("video", format="mp4")) == []
    assert _found("video", {"duration": True, "fps": True}, VIDEO) == []  # a bool is no duration or frame rate
