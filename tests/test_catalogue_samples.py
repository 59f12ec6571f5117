"""fal's published schemas, end to end: each of 24 documents (image, video, audio, speech, 3D, vision,
text, LLM) imports, validates, is served by the emulator and passes ``fal-harness run`` with the
scenarios generated at import; every file the run downloaded is decoded here by a decoder that
did not make it.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import wave
import zipfile
from pathlib import Path
from typing import Any

import av
import mutagen
import pytest
from PIL import Image

from harness import _mainjob
from harness.cli import main
from harness.contracts import expected_media, export_openapi, import_openapi, load_contracts, load_openapi

SAMPLES = Path(__file__).parent / "data" / "fal-openapi-samples"
DOCUMENTS = sorted(SAMPLES.glob("*.json"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("contracts")
    assert main(["contracts", "import-openapi", str(SAMPLES), "--into", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def run(imported: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Any, Path]:
    """``fal-harness run`` over the imported contracts, on a zero-latency emulator, keeping the
    job's result (with the downloaded bytes) as the command saw it."""
    out = tmp_path_factory.mktemp("run") / "run"
    config = out.parent / "emulator.yaml"
    config.write_text("time_scale: 0\n", encoding="utf-8")
    kept: list[Any] = []
    original = _mainjob.MainJob.run

    def keep(job: _mainjob.MainJob) -> Any:
        job.keep_downloads = True
        result = original(job)
        kept.append(result)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_mainjob.MainJob, "run", keep)
        code = main(["run", "--contracts-dir", str(imported), "--bench-requests", "0",
                     "--emulator-config", str(config), "--out", str(out)])
    return code, kept[0], out


def test_there_are_24_samples_across_the_modalities() -> None:
    categories = {json.loads(p.read_text())["info"]["x-fal-metadata"]["category"] for p in DOCUMENTS}
    assert len(DOCUMENTS) == 24
    assert categories == {"image", "video", "audio", "speech", "3d", "vision", "text", "llm"}


def test_every_sample_imports_validates_and_round_trips(imported: Path) -> None:
    contracts = load_contracts(imported)
    assert len(contracts) == 24
    assert main(["contracts", "validate", str(imported)]) == 0
    for path in DOCUMENTS:
        contract = import_openapi(load_openapi(path), source=str(path))
        assert contracts[contract.endpoint] == contract
        assert import_openapi(json.loads(json.dumps(export_openapi(contract)))) == contract
        assert contract.scenarios, contract.endpoint
        assert any(s.expect_status == 200 for s in contract.scenarios)


def test_the_inferred_semantics_name_each_media_kind(imported: Path) -> None:
    c = load_contracts(imported)
    wan = c["fal-ai/wan-t2v"].semantics.media["video"]
    assert (wan.kind, wan.frames, wan.fps, wan.resolution, wan.aspect_ratio) == (
        "video", "num_frames", "frames_per_second", "resolution", "aspect_ratio")
    pixverse = c["fal-ai/pixverse/extend"].semantics.media["video"]
    assert (pixverse.duration, pixverse.resolution) == ("duration", "resolution")
    assert c["fal-ai/pixverse/extend"].input.field("video_url").file == "video"
    assert c["fal-ai/kling-video/v1/tts"].semantics.media["audio"].kind == "audio"
    to_audio = c["fal-ai/kling-video/video-to-audio"].semantics.media
    assert (to_audio["audio"].kind, to_audio["video"].kind) == ("audio", "video")
    rodin = c["fal-ai/hyper3d/rodin/v2"].semantics
    assert (rodin.media["model_mesh"].kind, rodin.media["model_mesh"].format) == ("mesh", "geometry_file_format")
    imagen = c["fal-ai/imagen4/preview/ultra"].semantics.images
    assert imagen is not None
    assert (imagen.count, imagen.aspect_ratio, imagen.resolution, imagen.format) == (
        "num_images", "aspect_ratio", "resolution", "output_format")
    assert c["fal-ai/speech-to-text/turbo"].semantics.text == ("output",)
    assert c["fal-ai/speech-to-text/turbo"].input.field("audio_url").file == "audio"
    assert c["fal-ai/nano-banana/edit"].input.field("image_urls").file == "image"
    # bria's canvas_size is a [width, height] pair: it says the pixels of the expanded image
    bria = c["fal-ai/bria/expand"]
    assert bria.semantics.images is not None and bria.semantics.images.size == "canvas_size"
    asked = {"image_url": "https://x/a.png", "canvas_size": [1200, 800]}
    assert expected_media(bria, bria.semantics.images, asked).size == (1200, 800)
    assert expected_media(bria, bria.semantics.images, {**asked, "canvas_size": [1200]}).size is None


def test_fal_harness_run_passes_every_sample_with_generated_scenarios(run: tuple[int, Any, Path]) -> None:
    code, result, out = run
    summary = json.loads((out / "run.json").read_text())
    assert [s for s in summary["scenarios"] if not s["ok"]] == []
    assert code == 0 and summary["ok"] and summary["untested"] == []
    endpoints = {s["endpoint"] for s in summary["scenarios"]}
    assert len(endpoints) == 24
    # Each endpoint had its output judged by more than the schema, or promises no files or text.
    judged = {s["endpoint"] for s in summary["scenarios"]
              if set(s["passed"]) - {"output.schema", "result.available", "run.completed-without-error"} & {
                  c for c in s["passed"] if c.startswith("output.")}}
    assert endpoints - judged <= {"fal-ai/qwen-3-guard"}
    assert result.suite


def _glb(data: bytes) -> int:
    """Vertices in a binary glTF, read from its own header and JSON chunk."""
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    chunk_length, chunk_type = struct.unpack_from("<I4s", data, 12)
    assert chunk_type == b"JSON"
    document = json.loads(data[20:20 + chunk_length])
    position = document["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    return int(document["accessors"][position]["count"])


def _decode(kind: str, data: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("image/"):
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return {"width": img.width, "height": img.height}
    if content_type.startswith("video/"):
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(video=0))
            out = {"width": stream.codec_context.width, "height": stream.codec_context.height, "num_frames": frames,
                   "fps": float(stream.average_rate), "duration": container.duration / 1e6}
        if content_type == "video/mp4":  # the container's own length, read without FFmpeg
            assert abs(mutagen.File(io.BytesIO(data)).info.length - out["duration"]) < 0.05
        return out
    if content_type in ("audio/wav", "audio/x-wav"):
        with wave.open(io.BytesIO(data)) as w:
            return {"sample_rate": w.getframerate(), "duration": w.getnframes() / w.getframerate()}
    if content_type.startswith("audio/"):
        info = mutagen.File(io.BytesIO(data)).info
        return {"sample_rate": info.sample_rate, "duration": info.length}
    if content_type == "model/gltf-binary":
        assert _glb(data) > 0
        return {}
    if content_type == "application/zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None and archive.namelist()
        return {}
    raise AssertionError(f"no decoder for {content_type} ({kind})")


def test_every_downloaded_file_decodes_as_its_object_declares(run: tuple[int, Any, Path]) -> None:
    _, result, _ = run
    decoded_kinds: set[str] = set()
    for scenario_run in result.suite:
        obs = scenario_run.observation
        if scenario_run.case.scenario.expect_status != 200:
            continue
        assert obs.error is None, (scenario_run.case.id, obs.error)
        objects = {}
        stack = [obs.output]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if isinstance(value.get("url"), str) and "content_type" in value:
                    objects[value["url"]] = value
                stack += list(value.values())
            elif isinstance(value, list):
                stack += value
        assert len(obs.downloads) == len(objects), scenario_run.case.id
        for url, obj in objects.items():
            inline = base64.b64decode(url.partition(",")[2]) if url.startswith("data:") else None
            download = next(d for d in obs.downloads if d.url == url.split("?")[0] or (
                inline is not None and d.data == inline))
            assert download.data is not None and len(download.data) == obj.get("file_size", len(download.data))
            found = _decode(scenario_run.case.contract.endpoint, download.data, obj["content_type"])
            decoded_kinds.add(obj["content_type"].split("/")[0])
            for key, value in found.items():
                if key in obj:
                    assert obj[key] == pytest.approx(value, abs=0.06), (scenario_run.case.id, key)
    assert decoded_kinds >= {"image", "video", "audio", "model"}
