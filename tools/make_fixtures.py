"""Regenerate the small bundled fixture files in harness/fixtures/ (deterministic output).

    python tools/make_fixtures.py
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "harness" / "fixtures"


def face(width: int, height: int, skin: tuple[int, int, int], background: tuple[int, int, int]) -> Image.Image:
    """A plain drawn face: enough for a decoder to open and a person to recognise."""
    img = Image.new("RGB", (width, height), background)
    d = ImageDraw.Draw(img)
    cx, cy, rx, ry = width // 2, height // 2, width * 3 // 10, height * 3 // 8
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=skin, outline=(60, 40, 30), width=3)
    for ex in (cx - rx // 2, cx + rx // 2):
        d.ellipse((ex - 10, cy - ry // 3 - 6, ex + 10, cy - ry // 3 + 6), fill=(255, 255, 255))
        d.ellipse((ex - 4, cy - ry // 3 - 4, ex + 4, cy - ry // 3 + 4), fill=(40, 30, 20))
    d.line((cx, cy - 10, cx - 8, cy + 20, cx + 4, cy + 22), fill=(120, 80, 60), width=3)
    d.arc((cx - rx // 2, cy + ry // 4, cx + rx // 2, cy + ry * 2 // 3), 20, 160, fill=(150, 50, 50), width=4)
    return img


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "face.png").write_bytes(png(face(240, 300, (230, 190, 160), (90, 120, 160))))
    (OUT / "initial.png").write_bytes(png(face(256, 256, (200, 160, 130), (200, 210, 150))))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as z:
        for i, (skin, bg) in enumerate([((230, 190, 160), (90, 120, 160)),
                                        ((220, 180, 150), (160, 90, 90)),
                                        ((210, 170, 140), (90, 160, 110))]):
            info = zipfile.ZipInfo(f"person/{i + 1}.jpg", date_time=(2024, 1, 1, 0, 0, 0))
            z.writestr(info, jpeg(face(160, 200, skin, bg)))
    (OUT / "person.zip").write_bytes(archive.getvalue())
    (OUT / "not-an-image.txt").write_bytes(b"this file is text, not an image\n")
    mask = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(mask).ellipse((64, 64, 192, 192), fill=255)
    (OUT / "mask.png").write_bytes(png(mask))
    # A second of video, a second of a tone and a small mesh, made as the emulator makes its own.
    import hashlib

    from harness.emulator._media import MediaPlan, make_media

    digest = hashlib.blake2b(b"fal-harness fixture", digest_size=64).digest()
    (OUT / "clip.mp4").write_bytes(make_media(MediaPlan("video", "mp4", digest, 320, 240, 8, 8.0, 1.0)).data)
    (OUT / "tone.wav").write_bytes(make_media(MediaPlan("audio", "wav", digest, duration=1.0, sample_rate=16000)).data)
    (OUT / "cube.glb").write_bytes(make_media(MediaPlan("mesh", "glb", digest)).data)
    for p in sorted(OUT.iterdir()):
        print(f"{p.name:20} {p.stat().st_size:>7} bytes")


if __name__ == "__main__":
    main()
