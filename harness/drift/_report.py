"""What a comparison yields: findings, each naming a rule, and the report that holds them.

Reports are plain data; ``to_dict`` is the ``fal-harness/drift@1`` shape documented in docs/formats.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from harness._json import Json
from harness.drift._rules import LEVELS, RULES, Direction, Level, level_rank

__all__ = ["REPORT_FORMAT", "DriftReport", "Finding", "IgnoredFinding", "SourceInfo", "make_finding"]

#: the version tag of the JSON report
REPORT_FORMAT = "fal-harness/drift@1"


@dataclass(frozen=True)
class Finding:
    """One change between two schemas, judged by one rule."""

    rule: str
    """A stable rule id (``request-enum-value-removed``); see :data:`RULES`."""
    level: Level
    direction: Direction
    path: str
    """Where: ``input.image_size.width``, ``output.images[].content_type``, ``endpoint``, ``protocol.status``."""
    old: Json
    new: Json
    message: str
    location: str | None = None
    """The key path of the changed place in the old contract file (``types.Image.fields.url``), when known."""

    def to_dict(self) -> dict[str, Json]:
        out = {"rule": self.rule, "level": self.level, "direction": self.direction, "path": self.path,
               "old": self.old, "new": self.new, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out


def make_finding(rule_id: str, direction: Direction, path: str, old: Json, new: Json, message: str,
                 location: str | None = None) -> Finding:
    """A finding whose level is its rule's; the direction must be one the rule is registered for."""
    spec = RULES[rule_id]
    if direction not in spec.directions:
        raise ValueError(f"rule {rule_id} does not apply to the {direction} side")
    return Finding(rule_id, spec.level, direction, path, _plain(old), _plain(new), message, location)


def _plain(value: Json) -> Json:
    """JSON-ready data: tuples as lists, type expressions and other objects as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


@dataclass(frozen=True)
class SourceInfo:
    """Which schema a side of the comparison came from."""

    spec: str
    """The source as the user named it: a path, an endpoint id, a URL, ``git:REV:path``."""
    kind: str
    """``contract``, ``endpoint``, ``openapi``, ``git`` or ``observed``."""
    file: str | None = None
    """A local file holding it, when there is one (annotations point there)."""

    def to_dict(self) -> dict[str, Json]:
        out: dict[str, Json] = {"spec": self.spec, "kind": self.kind}
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass(frozen=True)
class IgnoredFinding:
    """A finding an ignore file set aside, with the reason it gives."""

    finding: Finding
    reason: str


@dataclass(frozen=True)
class DriftReport:
    """Every finding between an old and a new schema of one endpoint."""

    endpoint: str
    old: SourceInfo
    new: SourceInfo
    findings: tuple[Finding, ...] = ()
    ignored: tuple[IgnoredFinding, ...] = field(default=())
    """Findings an ignore file set aside, with its reason; they count for nothing."""

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {level: 0 for level in reversed(LEVELS)}
        for f in self.findings:
            counts[f.level] += 1
        return counts

    @property
    def worst(self) -> Level | None:
        return max((f.level for f in self.findings), key=level_rank, default=None)

    def at_or_above(self, level: str) -> list[Finding]:
        floor = level_rank(level)
        return [f for f in self.findings if level_rank(f.level) >= floor]

    def fails(self, fail_on: str = "ERR") -> bool:
        """Whether any finding is at or above ``fail_on``."""
        return bool(self.at_or_above(fail_on))

    def by_level(self) -> list[Finding]:
        """Findings, the most severe first, each level in the order the comparison met them."""
        return sorted(self.findings, key=lambda f: -level_rank(f.level))

    def with_findings(self, findings: Iterable[Finding], ignored: Iterable[IgnoredFinding] = ()) -> DriftReport:
        return replace(self, findings=tuple(findings), ignored=(*self.ignored, *ignored))

    def to_dict(self) -> dict[str, Json]:
        return {
            "format": REPORT_FORMAT,
            "endpoint": self.endpoint,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "findings": [f.to_dict() for f in self.by_level()],
            "counts": self.counts,
            "ignored": [{**i.finding.to_dict(), "reason": i.reason} for i in self.ignored],
        }
