"""Checks on outputs: the schema, the semantics the contract declares, and the truth of files.

Each check is registered by a call after its function, not by a decorator, so that mutation testing
reaches its body (docs/testing.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from PIL import Image, UnidentifiedImageError

from harness.checks._registry import CheckContext, Failure, NotApplicable, check, json_value
from harness.client import Download
from harness.contracts import MEDIA_TYPES, expected_count, expected_format, expected_size, validate_output


def _images(ctx: CheckContext) -> list[dict[str, Any]]:
    ctx.need_success()
    sem = ctx.contract.semantics.images
    if sem is None:
        raise NotApplicable("the contract declares no images")
    value = ctx.output.get(sem.field)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    raise NotApplicable(f"output has no {sem.field}")


def _image_path(ctx: CheckContext, index: int, key: str | None = None) -> str:
    """Where image ``index`` is in the output (``images[0]``, ``images[0].width``)."""
    sem = ctx.contract.semantics.images
    where = f"{sem.field if sem is not None else 'images'}[{index}]"
    return f"{where}.{key}" if key else where


def output_schema(ctx: CheckContext) -> Iterator[Failure]:
    """The output satisfies the contract's output schema."""
    ctx.need_success()
    for v in validate_output(ctx.contract, ctx.output):
        yield Failure(f"{v.path}: {v.message} [{v.rule}]", v.path, json_value(v.expected), json_value(v.got))


check("output.schema")(output_schema)


def output_seed_echoed(ctx: CheckContext) -> Iterator[Failure]:
    """A seed given in the input comes back in the output."""
    ctx.need_success()
    name = ctx.contract.semantics.seed
    if name is None or name not in ctx.sent:
        raise NotApplicable("no seed was given")
    if ctx.output.get(name) != ctx.sent[name]:
        yield Failure(f"{name} sent {ctx.sent[name]!r}, output says {ctx.output.get(name)!r}", name,
                      json_value(ctx.sent[name]), json_value(ctx.output.get(name)))


check("output.seed-echoed")(output_seed_echoed)


def output_image_count(ctx: CheckContext) -> Iterator[Failure]:
    """The number of images equals the count the input asked for (its default when omitted)."""
    images = _images(ctx)
    wanted = expected_count(ctx.contract, ctx.effective)
    if wanted is None:
        raise NotApplicable("the input does not decide the count")
    if len(images) != wanted:
        sem = ctx.contract.semantics.images
        yield Failure(f"{len(images)} image(s) returned, {wanted} asked for", sem.field if sem else None, wanted,
                      len(images))


check("output.image-count")(output_image_count)


def output_image_size(ctx: CheckContext) -> Iterator[Failure]:
    """Each image's width and height match the requested size (preset or custom)."""
    images = _images(ctx)
    wanted = expected_size(ctx.contract, ctx.effective)
    if wanted is None:
        raise NotApplicable("the input does not decide the size")
    for i, img in enumerate(images):
        got = (img.get("width"), img.get("height"))
        if got != wanted:
            yield Failure(f"image {i} is {got[0]}x{got[1]}, {wanted[0]}x{wanted[1]} asked for", _image_path(ctx, i),
                          list(wanted), json_value(list(got)))


check("output.image-size")(output_image_size)


def output_content_type(ctx: CheckContext) -> Iterator[Failure]:
    """Each image's content_type matches the requested format."""
    images = _images(ctx)
    fmt = expected_format(ctx.contract, ctx.effective)
    if fmt is None:
        raise NotApplicable("the input does not decide the format")
    wanted = MEDIA_TYPES.get(fmt, f"image/{fmt}")
    for i, img in enumerate(images):
        if img.get("content_type") != wanted:
            yield Failure(f"image {i} has content_type {img.get('content_type')!r}, {wanted!r} asked for",
                          _image_path(ctx, i, "content_type"), wanted, json_value(img.get("content_type")))


check("output.content-type")(output_content_type)


def output_defaults_applied(ctx: CheckContext) -> Iterator[str]:
    """When count, size or format is omitted, the output follows the contract's default."""
    images = _images(ctx)
    sem = ctx.contract.semantics.images
    assert sem is not None
    omitted = [f for f in (sem.count, sem.size, sem.format)
               if f is not None and f not in ctx.sent and ctx.contract.input.field(f).has_default]
    if not omitted:
        raise NotApplicable("no defaulted field decides the output")
    effective = ctx.effective
    if sem.count in omitted and len(images) != expected_count(ctx.contract, effective):
        yield f"{sem.count} omitted: default {effective[sem.count]!r} not applied ({len(images)} images)"
    if sem.size in omitted and (size := expected_size(ctx.contract, effective)) is not None:
        for i, img in enumerate(images):
            if (img.get("width"), img.get("height")) != size:
                yield f"{sem.size} omitted: default {effective[sem.size]!r} not applied to image {i}"
    if sem.format in omitted and (fmt := expected_format(ctx.contract, effective)) is not None:
        wanted = MEDIA_TYPES.get(fmt, f"image/{fmt}")
        for i, img in enumerate(images):
            if img.get("content_type") != wanted:
                yield f"{sem.format} omitted: default {fmt!r} not applied to image {i}"


check("output.defaults-applied")(output_defaults_applied)


def output_nsfw_flags(ctx: CheckContext) -> Iterator[str]:
    """has_nsfw_concepts has exactly one boolean per image."""
    images = _images(ctx)
    name = ctx.contract.semantics.nsfw_flags
    if name is None or name not in ctx.output:
        raise NotApplicable("no NSFW flags in this output")
    flags = ctx.output[name]
    if not isinstance(flags, list) or len(flags) != len(images):
        yield f"{name} has {len(flags) if isinstance(flags, list) else flags!r} entries for {len(images)} images"


check("output.nsfw-flags")(output_nsfw_flags)


def output_echo(ctx: CheckContext) -> Iterator[Failure]:
    """Output fields that repeat an input field (such as prompt) repeat it exactly."""
    ctx.need_success()
    pairs = {o: i for o, i in ctx.contract.semantics.echo.items() if i in ctx.sent}
    if not pairs:
        raise NotApplicable("nothing to echo")
    for out_name, in_name in pairs.items():
        if ctx.output.get(out_name) != ctx.sent[in_name]:
            yield Failure(f"{out_name} is {ctx.output.get(out_name)!r}, input {in_name} was {ctx.sent[in_name]!r}",
                          out_name, json_value(ctx.sent[in_name]), json_value(ctx.output.get(out_name)))


check("output.echo")(output_echo)


def output_file_size(ctx: CheckContext) -> Iterator[str | Failure]:
    """Each image's file_size equals the bytes actually downloaded from its URL."""
    images = _images(ctx)
    judged = False
    for i, img in enumerate(images):
        d = _download_for(ctx, img)
        if d is None or "file_size" not in img:
            continue
        judged = True
        if d.status is not None and d.status != 200:
            yield f"image {i} download answered HTTP {d.status}"
        elif img["file_size"] != d.size:
            yield Failure(f"image {i} declares file_size {img['file_size']}, {d.size} bytes were downloaded",
                          _image_path(ctx, i, "file_size"), d.size, json_value(img["file_size"]))
    if not judged:
        raise NotApplicable("no downloaded image declares file_size")


check("output.file-size")(output_file_size)


def output_image_truthful(ctx: CheckContext) -> Iterator[str | Failure]:
    """Downloaded bytes decode as an image of the declared format, width and height."""
    images = _images(ctx)
    judged = False
    for i, img in enumerate(images):
        d = _download_for(ctx, img)
        if d is None or d.data is None or (d.status is not None and d.status != 200):
            continue
        judged = True
        try:
            with Image.open(io.BytesIO(d.data)) as decoded:
                real_format = (decoded.format or "").lower()
                real_size = decoded.size
        except UnidentifiedImageError:  # its text holds the address of an in-memory buffer: no news to a reader
            yield f"image {i} does not decode as an image"
            continue
        except OSError as exc:
            yield f"image {i} does not decode: {exc}"
            continue
        declared = img.get("content_type")
        if declared and Image.MIME.get(real_format.upper()) != declared:
            yield Failure(f"image {i} declares {declared} but its bytes are {real_format or 'unknown'}",
                          _image_path(ctx, i, "content_type"), Image.MIME.get(real_format.upper()),
                          json_value(declared))
        declared_size = (img.get("width"), img.get("height"))
        if None not in declared_size and declared_size != real_size:
            yield Failure(f"image {i} declares {declared_size[0]}x{declared_size[1]}"
                          f" but decodes as {real_size[0]}x{real_size[1]}", _image_path(ctx, i),
                          list(real_size), json_value(list(declared_size)))
    if not judged:
        raise NotApplicable("no image was downloaded")


check("output.image-truthful")(output_image_truthful)


def _download_for(ctx: CheckContext, img: dict[str, Any]) -> Download | None:
    """The download of an image's URL. Recorded URLs have their query values redacted (they may hold
    a signed token) and data URIs keep only their header, so match on what survives: URLs without
    their query, and inline images of one media type with that type's inline downloads in order."""
    url = img.get("url")
    if not isinstance(url, str):
        return None
    if url.startswith("data:"):
        key = url.partition(",")[0] + ",..."
        same = [other for other in _images(ctx) if isinstance(other.get("url"), str)
                and other["url"].partition(",")[0] + ",..." == key]
        inline = [d for d in ctx.obs.downloads if d.url == key]
        nth = next(i for i, other in enumerate(same) if other is img)  # img is one of them
        return inline[nth] if nth < len(inline) else None
    for d in ctx.obs.downloads:
        if d.url.split("?")[0] == url.split("?")[0]:
            return d
    return None


def output_sync_mode(ctx: CheckContext) -> Iterator[str]:
    """With the contract's sync_mode field true, every image comes back inline as a data URI of its
    declared type (nothing on the CDN); with it false, as a URL."""
    field = ctx.contract.semantics.sync_mode
    if field is None:
        raise NotApplicable("the contract declares no sync_mode field")
    images = _images(ctx)
    inline = ctx.effective.get(field) is True
    for i, img in enumerate(images):
        url = img.get("url")
        if not isinstance(url, str):
            continue
        if not inline:
            if url.startswith("data:"):
                yield f"image {i} came inline although {field} is false"
            continue
        if not url.startswith("data:"):
            yield f"image {i} is {url.split('?')[0]!r}, not inline: {field} is true"
            continue
        media = url[5:].partition(",")[0].split(";")[0]
        declared = img.get("content_type")
        if declared is not None and media != declared:
            yield f"image {i} is a data URI of {media!r}, its content_type says {declared!r}"
        d = _download_for(ctx, img)
        if d is not None and d.data is not None:
            try:
                with Image.open(io.BytesIO(d.data)) as decoded:
                    actual = Image.MIME.get(str(decoded.format))
            except (UnidentifiedImageError, OSError):
                yield f"image {i}'s inline bytes do not decode as an image"
                continue
            if actual is not None and actual != media:
                yield f"image {i}'s inline bytes are {actual}, the data URI says {media}"


check("output.sync-mode")(output_sync_mode)
