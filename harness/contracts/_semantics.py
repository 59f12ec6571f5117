"""What a contract's semantics promise for a given input: image count, pixel size and format.

The emulator produces outputs from these answers and the checks hold real outputs to them, so
both read the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.contracts._model import Contract

__all__ = ["FAL_IMAGE_SIZE_PRESETS", "MEDIA_TYPES", "expected_count", "expected_format", "expected_size"]

#: fal toolkit presets (fal-protocol.md, "Image sizes"): name to (width, height)
FAL_IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}

#: output format names to media types
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


def expected_count(contract: Contract, effective: Mapping[str, Any]) -> int | None:
    """How many images the output must hold (``None`` when the contract has no images)."""
    images = contract.semantics.images
    if images is None:
        return None
    if images.count is None:
        return 1
    value = effective.get(images.count)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def expected_size(contract: Contract, effective: Mapping[str, Any]) -> tuple[int, int] | None:
    """(width, height) each image must have when the input decides it, else ``None``."""
    images = contract.semantics.images
    if images is None or images.size is None:
        return None
    value = effective.get(images.size)
    if isinstance(value, str):
        presets = images.presets or FAL_IMAGE_SIZE_PRESETS
        return presets.get(value)
    if isinstance(value, Mapping):
        width, height = value.get("width"), value.get("height")
        spec = contract.input.get(images.size)
        size_type = contract.types.get(next(iter(spec.refs()), "")) if spec else None
        if size_type is not None:  # a custom size may omit a side and take the type's default
            if width is None and (w := size_type.get("width")) is not None and w.has_default:
                width = w.default
            if height is None and (h := size_type.get("height")) is not None and h.has_default:
                height = h.default
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return None


def default_size(contract: Contract) -> tuple[int, int] | None:
    """The size an endpoint produces when its input cannot say (the emulator uses it)."""
    images = contract.semantics.images
    return images.default_size if images else None


def expected_format(contract: Contract, effective: Mapping[str, Any]) -> str | None:
    """The format name the input asks for (``png``, ``jpeg``...), or ``None`` when it cannot ask."""
    images = contract.semantics.images
    if images is None or images.format is None:
        return None
    value = effective.get(images.format)
    return value if isinstance(value, str) else None
