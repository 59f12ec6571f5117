"""The checks on videos, audio, meshes, files and text: each passes what the emulator truly made
and fails the mutation it exists to catch; each says when it has nothing to judge."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from harness.checks import run_checks
from harness.client import Download, Observation
from harness.contracts import Contract, parse_contract
from harness.emulator._media import MediaPlan, make_media

DIGEST = hashlib.blake2b(b"checks", digest_size=64).digest()
FILE = {"fields": {"url": {"type": "string"}, "content_type": {"type": "string"}, "file_name": {"type": "string"},
                   "file_size": {"type": "integer"}, "width": {"type": "integer"}, "height": {"type": "integer"},
                   "duration": {"type": "float"}, "fps": {"type": "float"}, "sample_rate": {"type": "integer"}},
        "required": ["url"]}


def contract(**semantics: Any) -> Contract:
    return parse_contract({
        "format_version": 1, "endpoint": "fal-ai/demo",
        "input": {"required": ["prompt"], "fields": {
            "prompt": {"type": "string"}, "duration": {"type": "string", "enum": ["2", "4"]},
            "fps": {"type": "integer"}, "resolution": {"type": "string", "enum": ["360p", "720p"]},
            "output_format": {"type": "string", "enum": ["wav", "mp3"]}, "sync_mode": {"type": "boolean"}}},
        "output": {"required": ["video"], "fields": {
            "video": {"type": "File"}, "audio": {"type": "File"}, "mesh": {"type": "File"},
            "weights": {"type": "File"}, "text": {"type": "string"}}},
        "types": {"File": FILE},
        "semantics": semantics,
    })


VIDEO = contract(media={"video": {"kind": "video", "duration": "duration", "fps": "fps", "resolution": "resolution"},
                        "audio": {"kind": "audio", "format": "output_format"},
                        "mesh": {"kind": "mesh"}, "weights": {"kind": "file"}},
                 text=["text"], sync_mode="sync_mode")
ASKED = {"prompt": "x", "duration": "2", "fps": 12, "resolution": "360p", "output_format": "mp3"}


def observation(sent: dict[str, Any] | None = None) -> Observation:
    """What a correct run of VIDEO looks like for ASKED: files made as the emulator makes them."""
    files = {
        "video": make_media(MediaPlan("video", "mp4", DIGEST, 640, 360, 24, 12.0, 2.0)),
        "audio": make_media(MediaPlan("audio", "mp3", DIGEST, duration=2.0, sample_rate=44100)),
        "mesh": make_media(MediaPlan("mesh", "glb", DIGEST)),
        "weights": make_media(MediaPlan("file", "safetensors", DIGEST)),
    }
    output: dict[str, Any] = {"text": "A lighthouse."}
    downloads = []
    for name, f in files.items():
        url = f"http://127.0.0.1:9/files/{name}.{f.extension}"
        declared = {k: v for k, v in f.properties.items() if k in FILE["fields"]}
        output[name] = {"url": url, "content_type": f.content_type, "file_name": name, "file_size": len(f.data),
                        **declared}
        downloads.append(Download(url, 1, 2, 200, len(f.data), f.content_type, f.data))
    return Observation(endpoint="fal-ai/demo", target="test", input=dict(sent or ASKED), output=output,
                       result_status=200, downloads=downloads)


def outcomes(obs: Observation, c: Contract = VIDEO) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {r.check: (r.outcome, r.messages) for r in run_checks(obs, c) if r.check.startswith("output.")}


def test_true_media_pass_every_media_check() -> None:
    found = outcomes(observation())
    for check in ("output.media-count", "output.media-truthful", "output.media-as-asked", "output.text-nonempty",
                  "output.file-downloads"):
        assert found[check][0] == "passed", (check, found[check])
    assert found["output.media-sync-mode"][0] == "skipped"


def test_bytes_that_are_not_the_declared_kind_fail_truthfulness() -> None:
    obs = observation()
    obs.downloads[0].data = b"\x00" * 2000
    obs.downloads[2].data = b"not a mesh"
    messages = outcomes(obs)["output.media-truthful"][1]
    assert any(m.startswith("video[0]: does not decode as video") for m in messages)
    assert any(m.startswith("mesh[0]: does not decode as mesh") for m in messages)


def test_a_declared_property_the_bytes_contradict_fails_truthfulness() -> None:
    obs = observation()
    obs.output["video"]["width"] = 1280
    obs.output["audio"]["content_type"] = "audio/wav"
    messages = outcomes(obs)["output.media-truthful"][1]
    assert "video[0] declares width 1280, the file has 640" in messages
    assert "audio[0] declares audio/wav but its bytes are mp3 (audio/mpeg)" in messages


def test_a_file_other_than_asked_fails_as_asked() -> None:
    found = outcomes(observation({**ASKED, "duration": "4", "fps": 24, "resolution": "720p", "output_format": "wav"}))
    messages = found["output.media-as-asked"][1]
    assert "video[0] lasts 2.000 s, 4 s asked for" in messages
    assert "video[0] runs at 12.000 fps, 24 asked for" in messages
    assert "video[0] is 640x360, its short side 360 px where 720 px was asked for" in messages
    assert "audio[0] is mp3, wav asked for" in messages


def test_missing_media_empty_text_and_wrong_sizes_fail() -> None:
    obs = observation({**ASKED, "sync_mode": True})
    obs.output["text"] = "  "
    obs.output["weights"]["file_size"] += 1
    del obs.output["mesh"]
    found = outcomes(obs)
    assert found["output.text-nonempty"][1] == ("text is '  ', not text",)
    assert "mesh: no mesh in the output" in found["output.media-count"][1]
    assert found["output.file-downloads"][1][0].startswith("$.weights declares file_size")
    assert found["output.media-sync-mode"][1][0].startswith("video[0]: sync_mode asked, but the file is at")


def test_checks_with_nothing_to_judge_say_not_applicable() -> None:
    bare = contract()
    obs = copy.deepcopy(observation())
    obs.output = {"video": {"url": ""}}
    obs.downloads = []
    found = {r.check: r for r in run_checks(obs, bare)}
    for check in ("output.media-count", "output.media-truthful", "output.media-as-asked", "output.text-nonempty",
                  "output.file-downloads", "output.media-sync-mode"):
        assert found[check].outcome == "skipped"
        assert found[check].messages and found[check].messages[0].startswith("not applicable: ")


def test_an_empty_url_where_media_are_promised_fails() -> None:
    obs = observation()
    obs.output["video"] = {"url": ""}
    found = outcomes(obs)
    assert "video[0] has no URL to download" in found["output.media-count"][1]
    assert found["output.media-truthful"][0] == "failed"


@pytest.mark.parametrize(("semantics", "where", "problem"), [
    ({"images": {"field": "video", "default_format": "mp4"}}, "semantics.images.default_format",
     "'mp4' is not a image format"),
    ({"media": {"video": {"kind": "video", "size": "resolution"}}}, "semantics.media.video.size",
     "holds none of the size presets"),
    ({"media": {"audio": {"kind": "audio", "fps": "fps"}}}, "semantics.media.audio.fps", "fps does not apply to audio"),
    ({"media": {"audio": {"kind": "audio", "format": "resolution"}}}, "semantics.media.audio.format",
     "holds none of the audio formats"),
    ({"media": {"text": {"kind": "file"}}}, "semantics.media.text", "not a file object"),
    ({"media": {"video": {"kind": "video", "pitch": "fps"}}}, "semantics.media.video.pitch",
     "unknown key (allowed: kind, count,"),
    ({"text": ["video"]}, "semantics.text[0]", "not a string"),
])
def test_semantics_that_mean_nothing_are_refused(semantics: dict[str, Any], where: str, problem: str) -> None:
    from harness._errors import DataFileError

    with pytest.raises(DataFileError) as info:
        contract(**semantics)
    assert info.value.key_path == where
    assert problem in info.value.problem
