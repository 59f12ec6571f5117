"""The drift rules: every kind of change the comparison can report, registered by a stable id.

A rule's level says how badly the change can hurt a caller; ``docs/drift.md`` shows each with an example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DIRECTIONS", "LEVELS", "RULES", "Direction", "Level", "Rule", "level_rank", "rule"]

Level = Literal["ERR", "WARN", "INFO"]
Direction = Literal["request", "response", "endpoint", "protocol"]

#: levels from the least to the most severe
LEVELS: tuple[Level, ...] = ("INFO", "WARN", "ERR")
DIRECTIONS: tuple[Direction, ...] = ("request", "response", "endpoint", "protocol")


def level_rank(level: str) -> int:
    """0 for INFO up to 2 for ERR; a ValueError for anything else."""
    return LEVELS.index(level)


@dataclass(frozen=True)
class Rule:
    """One kind of change: its id, how breaking it is, on which side, and one example."""

    id: str
    level: Level
    directions: tuple[Direction, ...]
    meaning: str
    example: str


RULES: dict[str, Rule] = {}


def rule(id: str, level: Level, direction: Direction | tuple[Direction, ...], meaning: str, example: str) -> Rule:
    """Register a rule; ids are stable, so ignore files and dashboards can name them."""
    if id in RULES:
        raise ValueError(f"drift rule {id!r} is registered twice")
    directions = direction if isinstance(direction, tuple) else (direction,)
    RULES[id] = Rule(id, level, directions, meaning, example)
    return RULES[id]


# -- properties -------------------------------------------------------------------------------
# A request field is something callers send; a response field is something callers read. Each
# level follows from what a caller that worked yesterday sees today.

rule("request-property-added", "INFO", "request",
     "a new optional input field; callers that do not send it get its default",
     "`input.prompt_weighting` appears, not required")
rule("request-required-property-added", "ERR", "request",
     "a new input field callers must send; every existing call now fails validation",
     "`input.model_id` appears and is required")
rule("request-property-removed", "WARN", "request",
     "an input field disappeared; a value callers still send is ignored (or rejected where unknown keys are "
     "forbidden)",
     "`input.clip_skip` is gone")
rule("request-property-became-required", "ERR", "request",
     "an optional input field is now required; calls that omit it fail",
     "`input.seed` joins `required`")
rule("request-property-became-optional", "INFO", "request",
     "a required input field is now optional",
     "`input.model_name` leaves `required`")
rule("response-property-added", "INFO", "response",
     "a new output field",
     "`output.debug_latents` appears")
rule("response-property-removed", "ERR", "response",
     "an output field disappeared; callers that read it break",
     "`output.has_nsfw_concepts` is gone")
rule("response-property-became-optional", "WARN", "response",
     "a required output field may now be missing; callers that read it unconditionally may break",
     "`output.seed` leaves `required`")
rule("response-property-became-required", "INFO", "response",
     "an optional output field is now always present",
     "`output.timings` joins `required`")

# -- types ------------------------------------------------------------------------------------

rule("request-property-type-changed", "ERR", "request",
     "an input field's type no longer accepts every value it accepted",
     "`input.num_images`: `float` -> `integer`")
rule("request-property-type-widened", "INFO", "request",
     "an input field's type accepts everything it did and more",
     "`input.image_size`: `string` -> `ImageSize | string`")
rule("response-property-type-changed", "ERR", "response",
     "an output field may hold values of a type it could not hold before",
     "`output.seed`: `integer` -> `string`")
rule("response-property-type-narrowed", "INFO", "response",
     "an output field holds a subset of the types it held",
     "`output.seed`: `float` -> `integer`")

# -- enums ------------------------------------------------------------------------------------

rule("request-enum-value-removed", "ERR", "request",
     "an input enum lost a value; callers that send it are rejected",
     "`input.scheduler` loses `LCM`")
rule("request-enum-value-added", "INFO", "request",
     "an input enum gained a value",
     "`input.scheduler` gains `DDIM`")
rule("request-enum-added", "ERR", "request",
     "a free input field is now limited to a list of values",
     "`input.model_architecture` becomes enum `sd`, `sdxl`")
rule("request-enum-removed", "INFO", "request",
     "an input field's value list was dropped; any value of its type is accepted",
     "`input.model_architecture` loses its enum")
rule("response-enum-value-added", "WARN", "response",
     "an output enum gained a value; strict consumers (exhaustive switches, generated enums) may break",
     "`output.images[].content_type` gains `image/webp`")
rule("response-enum-value-removed", "INFO", "response",
     "an output enum lost a value; it no longer comes back",
     "`output.images[].content_type` loses `image/jpeg`")
rule("response-enum-added", "INFO", "response",
     "a free output field is now limited to a list of values",
     "`output.finish_reason` becomes enum `stop`, `length`")
rule("response-enum-removed", "WARN", "response",
     "an output field's value list was dropped; any value of its type may come back",
     "`output.finish_reason` loses its enum")

# -- defaults (request only: a default on an output field changes nothing a caller sees) ----------

rule("request-default-added", "WARN", "request",
     "an input field gained a default; callers that omit it get a behaviour they did not choose",
     "`input.num_inference_steps` gets default `30`")
rule("request-default-removed", "WARN", "request",
     "an input field lost its default; what the model does when it is omitted is no longer stated",
     "`input.guidance_scale` loses default `7.5`")
rule("request-default-changed", "WARN", "request",
     "an input field's default changed; callers that omit it get different results",
     "`input.image_format` default `png` -> `jpeg`")

# -- bounds ------------------------------------------------------------------------------------
# One pair per side and per bound kind. A bound appearing counts as a tightening, one
# disappearing as a widening; on integers an exclusive bound is the inclusive one next to it.


def _bound_rules(suffix: str, what: str, lo: str, hi: str, field: str, low: tuple[int, int],
                 high: tuple[int, int]) -> None:
    """The eight rules of one bound kind; ``low`` and ``high`` are (smaller, larger) example values."""
    out = field.replace("input.", "output.")
    (a, b), (c, d) = low, high
    rule(f"request-min{suffix}-increased", "ERR", "request",
         f"an input's lowest allowed {what} went up (or a {lo} appeared); callers below it are rejected",
         f"`{field}` {lo} `{a}` -> `{b}`")
    rule(f"request-min{suffix}-decreased", "INFO", "request",
         f"an input's lowest allowed {what} went down (or its {lo} was dropped)",
         f"`{field}` {lo} `{b}` -> `{a}`")
    rule(f"request-max{suffix}-decreased", "ERR", "request",
         f"an input's highest allowed {what} went down (or a {hi} appeared); callers above it are rejected",
         f"`{field}` {hi} `{d}` -> `{c}`")
    rule(f"request-max{suffix}-increased", "INFO", "request",
         f"an input's highest allowed {what} went up (or its {hi} was dropped)",
         f"`{field}` {hi} `{c}` -> `{d}`")
    rule(f"response-min{suffix}-decreased", "WARN", "response",
         f"an output's lowest possible {what} went down (or its {lo} was dropped); consumers may see values "
         "they never saw",
         f"`{out}` {lo} `{b}` -> `{a}`")
    rule(f"response-min{suffix}-increased", "INFO", "response",
         f"an output's lowest possible {what} went up (or a {lo} appeared)",
         f"`{out}` {lo} `{a}` -> `{b}`")
    rule(f"response-max{suffix}-increased", "WARN", "response",
         f"an output's highest possible {what} went up (or its {hi} was dropped); consumers may see values "
         "they never saw",
         f"`{out}` {hi} `{c}` -> `{d}`")
    rule(f"response-max{suffix}-decreased", "INFO", "response",
         f"an output's highest possible {what} went down (or a {hi} appeared)",
         f"`{out}` {hi} `{d}` -> `{c}`")


_bound_rules("", "value", "minimum", "maximum", "input.num_images", (1, 2), (2, 4))
_bound_rules("-length", "length", "min_length", "max_length", "input.prompt", (0, 3), (1000, 2000))
_bound_rules("-items", "item count", "min_items", "max_items", "input.loras", (0, 1), (3, 5))

# -- nullability ------------------------------------------------------------------------------

rule("request-became-non-nullable", "ERR", "request",
     "an input field no longer accepts null; callers that send null are rejected",
     "`input.seed`: nullable -> not nullable")
rule("request-became-nullable", "INFO", "request",
     "an input field now also accepts null",
     "`input.seed`: not nullable -> nullable")
rule("response-became-nullable", "WARN", "response",
     "an output field may now be null; consumers that do not expect null may break",
     "`output.seed`: not nullable -> nullable")
rule("response-became-non-nullable", "INFO", "response",
     "an output field is never null any more",
     "`output.seed`: nullable -> not nullable")

rule("property-deprecated", "WARN", ("request", "response"),
     "a field is now marked deprecated: it still works, but the vendor says callers should stop using it",
     "`input.image_size` gains `deprecated: true`")
rule("property-no-longer-deprecated", "INFO", ("request", "response"),
     "a field is no longer marked deprecated",
     "`input.image_size` loses `deprecated: true`")

# -- documentation ----------------------------------------------------------------------------

rule("description-changed", "INFO", ("request", "response"),
     "a field's or object's description changed (whitespace and wrapping aside; compared only when both "
     "sides have one)",
     "`input.prompt`: \"The prompt.\" -> \"The prompt to use.\"")

# -- the endpoint -----------------------------------------------------------------------------

rule("endpoint-id-changed", "ERR", "endpoint",
     "the endpoint id changed; callers submit to an id that is not this endpoint",
     "`fal-ai/sd-loras` -> `fal-ai/lora`")
rule("app-root-changed", "WARN", "endpoint",
     "status, result and cancel URLs live under another app root; clients that build them (the JS client) "
     "break, clients that follow the returned URLs do not",
     "app root `fal-ai/sd-loras` -> `fal-ai/lora`")

# -- the queue protocol -----------------------------------------------------------------------

rule("protocol-status-value-added", "WARN", "protocol",
     "the queue status gained a value; clients that switch over the known ones may not handle it",
     "`status` gains `FAILED`")
rule("protocol-status-value-removed", "WARN", "protocol",
     "the queue status lost a value; clients that wait for it may wait for ever",
     "`status` loses `IN_PROGRESS`")
rule("protocol-submit-key-removed", "ERR", "protocol",
     "the submit response no longer declares a key; clients that read it (the Python client needs the "
     "id and the three URLs) break",
     "submit response loses `status_url`")
rule("protocol-submit-key-added", "INFO", "protocol",
     "the submit response declares a new key",
     "submit response gains `gateway_request_id`")

# -- observed traffic against a declaration ------------------------------------------------------

rule("response-property-missing", "ERR", "response",
     "observed outputs lack a field the declaration requires",
     "`output.seed` is required but absent from 3 of 3 outputs")
rule("response-property-unexpected", "WARN", "response",
     "observed outputs carry a field the declaration does not have",
     "`output.nsfw_score` seen in 2 of 3 outputs")
rule("response-property-type-mismatch", "ERR", "response",
     "observed outputs hold a value of a type the declaration does not allow",
     "`output.seed` declared `integer`, seen `string`")
rule("response-enum-value-unexpected", "WARN", "response",
     "observed outputs hold a value outside the declared enum",
     "`output.images[].content_type` seen `image/webp`")
rule("protocol-status-value-unexpected", "WARN", "protocol",
     "an observed queue status is not a declared status value",
     "status `CANCELLED` seen")
rule("protocol-submit-key-missing", "ERR", "protocol",
     "observed submit responses lack a key the declaration requires",
     "`request_id` absent from 1 of 4 submit responses")
