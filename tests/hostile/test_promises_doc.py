"""docs/promises.md names a test for every promise: each one it names exists."""

from __future__ import annotations

import ast
import re

from hostile_helpers import REPO


def test_every_test_the_promises_name_exists() -> None:
    text = (REPO / "docs/promises.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(named) >= 30
    missing = []
    for path, name in named:
        tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if name not in defined:
            missing.append(f"{path}::{name}")
    assert missing == []
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| promise")
            and not line.startswith("| ---")]
    assert all("`tests/" in row for row in rows), [r for r in rows if "`tests/" not in r]
