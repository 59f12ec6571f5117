"""Deterministic stand-in media beyond still images: video (H.264 in MP4 or MOV, VP9 in WebM), audio
(WAV, MP3, FLAC, Ogg Vorbis, AAC in M4A), 3D meshes (binary glTF, OBJ, PLY, STL) and other files
(zip, JSON, text, subtitles, safetensors weights), each made from a digest of the request.

The same plan always gives the same bytes: fixed encoder settings, one encoder thread, no clock in
any header. Containers state the truth (duration, frame size, frame rate, sample rate); frames are
still pictures, so a clip encodes in milliseconds. Each encoder (PyAV, trimesh, safetensors) is
imported when its kind is first made: an emulator serving images never loads FFmpeg.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import threading
import wave
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from cachetools import LRUCache

from harness.contracts import media_type
from harness.emulator._images import picture, render
from harness.emulator._storage import etag_of

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

__all__ = ["MEDIA_CACHE_BYTES", "MediaFile", "MediaPlan", "make_media", "sentence"]

#: what the cache of made files may hold: a repeated input (a test's scenario, a benchmark's
#: fixed seed) is drawn once, and memory stays bounded however many distinct plans come
MEDIA_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class MediaPlan:
    """One file to make: its kind, format and the properties the container must state."""

    kind: str
    format: str
    digest: bytes
    width: int = 0
    height: int = 0
    frames: int = 0
    fps: float = 0.0
    duration: float = 0.0
    sample_rate: int = 0
    hint: str = ""
    """The output field's name, for generic files whose format nothing names."""


@dataclass(frozen=True)
class MediaFile:
    data: bytes
    content_type: str
    extension: str
    properties: dict[str, Any] = field(default_factory=dict)
    """What a file object may say of it: width, height, duration, fps, num_frames, sample_rate, channels."""

    @functools.cached_property
    def file_name(self) -> str:
        """Its name: a digest of its bytes and its extension (worked out once per file)."""
        return f"{hashlib.blake2b(self.data, digest_size=16).hexdigest()}.{self.extension}"

    @functools.cached_property
    def etag(self) -> str:
        """The ETag it is served with (worked out once per file, off the event loop where it is made)."""
        return etag_of(self.data)


def make_media(plan: MediaPlan) -> MediaFile:
    """The file a plan describes: made once, then served from a bounded cache while it stays in
    it (the same plan always gives the same bytes). Safe from any thread."""
    with _LOCK:
        made = _CACHE.get(plan)
    if made is None:
        made = _MAKERS[plan.kind](plan)  # outside the lock: threads draw different plans at once
        if _size(made) <= _CACHE.maxsize:  # a file bigger than the whole cache is not kept
            with _LOCK:
                _CACHE[plan] = made
    return made


def _size(made: MediaFile) -> int:
    return len(made.data)


_CACHE: LRUCache[MediaPlan, MediaFile] = LRUCache(maxsize=MEDIA_CACHE_BYTES, getsizeof=_size)
_LOCK = threading.Lock()


# -- images and video ---------------------------------------------------------------------------


def _image(plan: MediaPlan) -> MediaFile:
    image = render(plan.digest, plan.width, plan.height, plan.format)
    return MediaFile(image.data, image.content_type, image.extension, {"width": image.width, "height": image.height})


_VIDEO_CODECS = {
    # A fixed quantiser keeps the still frames' updates to a few bytes each and the encoder quick.
    "mp4": ("mp4", "libx264", {"preset": "ultrafast", "threads": "1", "qp": "40"}),
    "mov": ("mov", "libx264", {"preset": "ultrafast", "threads": "1", "qp": "40"}),
    "webm": ("webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "threads": "1", "lag-in-frames": "0"}),
}


def _video(plan: MediaPlan) -> MediaFile:
    import av
    from av.codec.context import Flags

    container_format, codec, options = _VIDEO_CODECS[plan.format]
    rate = Fraction(plan.fps).limit_denominator(1001)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_format, options={"fflags": "+bitexact"}) as container:
        stream = cast("VideoStream", container.add_stream(codec, rate=rate))
        stream.width, stream.height, stream.pix_fmt = plan.width, plan.height, "yuv420p"
        stream.options = dict(options)
        stream.codec_context.flags |= int(Flags.bitexact)
        rgb = np.asarray(picture(plan.digest, plan.width, plan.height))
        base = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        for index in range(plan.frames):
            base.pts = index
            container.mux(stream.encode(base))
        container.mux(stream.encode(None))
    props = {"width": plan.width, "height": plan.height, "fps": float(rate), "num_frames": plan.frames,
             "duration": round(plan.frames / float(rate), 6)}
    return MediaFile(buf.getvalue(), media_type("video", plan.format), plan.format, props)


# -- audio ---------------------------------------------------------------------------------------


def _tone(plan: MediaPlan) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A quiet tone whose pitch comes from the digest (mono, -1..1)."""
    samples = max(1, round(plan.duration * plan.sample_rate))
    pitch = 180.0 + plan.digest[0] * 2.5
    t = np.arange(samples, dtype=np.float64) / plan.sample_rate
    return (0.2 * np.sin(2 * math.pi * pitch * t)).astype(np.float32)


_AUDIO_CODECS = {
    "mp3": ("mp3", "libmp3lame", "mono", {}),
    "flac": ("flac", "flac", "mono", {}),
    "ogg": ("ogg", "vorbis", "stereo", {"strict": "experimental"}),  # FFmpeg's own Vorbis encoder is stereo only
    "m4a": ("ipod", "aac", "mono", {}),
}


def _audio(plan: MediaPlan) -> MediaFile:
    tone = _tone(plan)
    props = {"duration": round(len(tone) / plan.sample_rate, 6), "sample_rate": plan.sample_rate, "channels": 1}
    if plan.format == "wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(plan.sample_rate)
            out.writeframes((tone * 32767).astype("<i2").tobytes())
        return MediaFile(buf.getvalue(), media_type("audio", "wav"), "wav", props)
    import av
    from av.codec.context import Flags

    container_format, codec, layout, options = _AUDIO_CODECS[plan.format]
    channels = 2 if layout == "stereo" else 1
    props["channels"] = channels
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_format, options={"fflags": "+bitexact"}) as container:
        stream = cast("AudioStream", container.add_stream(codec, rate=plan.sample_rate, layout=layout))
        stream.options = dict(options)
        stream.codec_context.flags |= int(Flags.bitexact)
        sample_format = str(stream.codec_context.format.name)
        step = stream.codec_context.frame_size or 1024
        for start in range(0, len(tone), step):
            chunk = tone[start:start + step]
            planes = np.stack([chunk] * channels)
            frame = av.AudioFrame.from_ndarray(_samples(planes, sample_format), format=sample_format, layout=layout)
            frame.sample_rate, frame.pts = plan.sample_rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return MediaFile(buf.getvalue(), media_type("audio", plan.format), plan.format, props)


def _samples(planes: np.ndarray[Any, Any], sample_format: str) -> np.ndarray[Any, Any]:
    """Samples laid out as the encoder takes them (planar or packed; float, 16 or 32 bit)."""
    if sample_format.startswith("s16"):
        data = (planes * 32767).astype(np.int16)
    elif sample_format.startswith("s32"):
        data = (planes * 2147483000).astype(np.int32)
    else:
        data = planes.astype(np.float32)
    if not sample_format.endswith("p"):
        data = data.T.reshape(1, -1)  # packed: one row, channels interleaved
    return data


# -- 3D ------------------------------------------------------------------------------------------


def _mesh(plan: MediaPlan) -> MediaFile:
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.5 + plan.digest[1] / 255)
    mesh.apply_scale((1.0 + plan.digest[2] / 255, 1.0, 1.0 + plan.digest[3] / 255))
    mesh.visual.face_colors = [plan.digest[4], plan.digest[5], plan.digest[6], 255]
    data = mesh.export(file_type=plan.format)
    raw = data.encode() if isinstance(data, str) else bytes(data)
    props = {"vertices": len(mesh.vertices), "faces": len(mesh.faces)}
    return MediaFile(raw, media_type("mesh", plan.format), plan.format, props)


# -- other files ---------------------------------------------------------------------------------

_WORDS = ("amber", "harbour", "quiet", "lighthouse", "river", "copper", "meadow", "signal", "lantern", "orbit",
          "granite", "willow", "morning", "violet", "engine", "garden", "silver", "canyon", "paper", "ember")


def sentence(digest: bytes, words: int = 8) -> str:
    """A short deterministic sentence (text outputs, captions, transcripts)."""
    chosen = [_WORDS[b % len(_WORDS)] for b in digest[8:8 + words]]
    return " ".join(chosen).capitalize() + "."


def _file(plan: MediaPlan) -> MediaFile:
    fmt = plan.format
    text = sentence(plan.digest)
    if fmt == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
            image = render(plan.digest, 64, 64, "png")
            for name, data in (("result.png", image.data), ("result.txt", text.encode())):
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                archive.writestr(info, data)
        data = buf.getvalue()
    elif fmt == "json":
        data = json.dumps({"id": plan.digest[:8].hex(), "text": text}, sort_keys=True).encode()
    elif fmt == "txt":
        data = (text + "\n").encode()
    elif fmt == "srt":
        data = f"1\n00:00:00,000 --> 00:00:02,000\n{text}\n".encode()
    elif fmt == "safetensors":
        import safetensors.numpy

        weights = np.frombuffer(plan.digest[:32], dtype=np.uint8).astype(np.float32).reshape(4, 8) / 255
        data = safetensors.numpy.save({"lora_A.weight": weights, "lora_B.weight": weights.T.copy()})
    else:
        data = plan.digest * 16
    return MediaFile(data, media_type("file", fmt), fmt)


_MAKERS = {"image": _image, "video": _video, "audio": _audio, "mesh": _mesh, "file": _file}
