"""What starting the command loads: ``fal-harness --help`` (and every command's ``--help``) reads
only click and the harness's light modules, so a CI step that runs a command pays for what it uses."""

from __future__ import annotations

import json
import subprocess
import sys

#: what no command's help may load: each is tens to hundreds of milliseconds of start
HEAVY = ("httpx", "httpcore", "jsonschema", "numpy", "matplotlib", "PIL", "yaml", "rich", "starlette", "uvicorn",
         "vcr", "hypothesis", "av", "pydantic", "harness.emulator", "harness.drift", "harness.contracts",
         "harness.client", "harness.checks", "harness.bench", "harness.cassettes", "harness.reports")

_WALK = """
import io, json, sys, contextlib
import click
from harness.cli import cli, main

def paths(group, prefix):
    for name, command in group.commands.items():
        yield [*prefix, name]
        if isinstance(command, click.Group):
            yield from paths(command, [*prefix, name])

shown = [[]] + list(paths(cli, []))
codes = []
with contextlib.redirect_stdout(io.StringIO()):
    for path in shown:
        codes.append(main([*path, "--help"]))
print(json.dumps({"commands": [" ".join(p) for p in shown], "codes": codes, "modules": sorted(sys.modules)}))
"""


def _loaded(code: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    found: dict[str, list[str]] = json.loads(out.splitlines()[-1])
    return found


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_every_commands_help_loads_only_click_and_the_light_modules() -> None:
    found = _loaded(_WALK)
    assert {"run", "bench", "cassettes verify", "contracts import-openapi", "emulator", "drift"} <= set(
        found["commands"])  # the walk reached the commands it is meant to judge
    assert set(found["codes"]) == {0}
    assert _heavy(found["modules"]) == []


def test_importing_harness_loads_neither_click_nor_any_heavy_part() -> None:
    found = _loaded("import json, sys, harness; print(json.dumps({'modules': sorted(sys.modules)}))")
    assert _heavy(found["modules"]) == [] and "click" not in found["modules"]
