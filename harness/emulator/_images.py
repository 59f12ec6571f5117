"""Deterministic stand-in images: real pictures drawn with Pillow from a digest of the request.

The same digest, size and format always give the same bytes (fixed encoder settings).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from PIL import Image, ImageDraw

from harness.contracts import MEDIA_TYPES

__all__ = ["FORMATS", "ImageFile", "picture", "probe", "render"]

#: format name in an input -> (Pillow format, file extension); media types are the contracts'
FORMATS: dict[str, tuple[str, str]] = {
    "png": ("PNG", "png"),
    "jpeg": ("JPEG", "jpg"),
    "jpg": ("JPEG", "jpg"),
    "webp": ("WEBP", "webp"),
}

# Fixed encoder settings: any change here changes every image's bytes.
_SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "PNG": {"compress_level": 1},
    "JPEG": {"quality": 90, "subsampling": 2, "optimize": False, "progressive": False},
    "WEBP": {"quality": 80, "method": 0},
}


@dataclass(frozen=True)
class ImageFile:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def render(digest: bytes, width: int, height: int, fmt: str) -> ImageFile:
    """Draw a width x height picture whose look is fixed by ``digest`` (at least 32 bytes)."""
    name = fmt.lower() if fmt.lower() in FORMATS else "png"
    pil_format, extension = FORMATS[name]
    img = picture(digest, width, height)
    return ImageFile(_encode(img, pil_format), MEDIA_TYPES[name], extension, width, height)


def _encode(img: Image.Image, pil_format: str) -> bytes:
    """The picture's file bytes. Pillow lets go of the interpreter lock while it encodes into a
    file descriptor, not while it encodes into a buffer (a megapixel JPEG holds it 2 ms at a time):
    so on a worker thread a picture is encoded into an in-memory file, and the emulator's event
    loop keeps writing status events meanwhile."""
    options = _SAVE_OPTIONS[pil_format]
    if pil_format == "JPEG" and hasattr(os, "memfd_create"):
        with open(os.memfd_create("fal-harness-picture"), "w+b") as file:
            img.save(file, format=pil_format, **options)
            file.seek(0)
            return file.read()
    buf = io.BytesIO()
    img.save(buf, format=pil_format, **options)
    return buf.getvalue()


def picture(digest: bytes, width: int, height: int) -> Image.Image:
    """The RGB picture ``render`` encodes (video frames and textures draw the same)."""
    # A 3x3 colour field scaled up gives a digest-specific background of nine flat blocks: cheap to
    # draw, and cheap to encode, since flat areas filter to zeros (a smooth gradient made a megapixel
    # PNG cost three times as much to draw, encode and decode).
    field = Image.frombytes("RGB", (3, 3), digest[:27])
    img = field.resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    for i in range(4):
        b = digest[27 + i % 5:] + digest
        x0, y0 = b[0] * width // 256, b[1] * height // 256
        x1, y1 = x0 + max(1, b[2] * width // 512), y0 + max(1, b[3] * height // 512)
        colour = (b[4], b[5], b[6])
        if i % 2:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=max(1, min(width, height) // 64))
    return img


def probe(data: bytes, max_pixels: int | None = None) -> tuple[str, int, int] | None:
    """(format, width, height) of encoded image bytes, or None when Pillow cannot decode them.

    Pictures above ``max_pixels`` are judged by their header alone, so a hostile upload cannot
    make the emulator decode a giant bitmap."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if max_pixels is None or img.width * img.height <= max_pixels:
                img.load()
            return str(img.format), img.width, img.height
    except Exception:  # Pillow raises many kinds for undecodable input
        return None
