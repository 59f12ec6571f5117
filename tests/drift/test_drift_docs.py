"""docs/drift.md lists every rule with its registered level and sides; formats.md documents the report."""

from __future__ import annotations

import re
from pathlib import Path

from harness.drift import REPORT_FORMAT, RULES, SET_FORMAT

DOCS = Path(__file__).parent.parent.parent / "docs"


def test_the_rule_table_matches_the_registry() -> None:
    rows = re.findall(r"^\| `([a-z-]+)` \| (ERR|WARN|INFO) \| ([a-z /]+) \| (.+) \| (.+) \|$",
                      (DOCS / "drift.md").read_text(encoding="utf-8"), re.MULTILINE)
    documented = {rule: (level, tuple(sides.split(" / "))) for rule, level, sides, _meaning, _example in rows}
    assert documented == {r.id: (r.level, r.directions) for r in RULES.values()}
    assert all(example.strip() for *_, example in rows)


def test_the_report_formats_are_documented() -> None:
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Drift report\n"):]
    assert REPORT_FORMAT in section and SET_FORMAT in section


def test_the_documented_example_report_matches_the_schema() -> None:
    import json

    from jsonschema import Draft202012Validator

    from harness.drift import REPORT_SCHEMA

    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Drift report\n"):]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(example)) == []
