"""The CI recipes and the load-test recipe in examples/ stay true to the harness they drive."""

from __future__ import annotations

import py_compile
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from harness.cli import cli

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))
_INVOCATION = re.compile(r"fal-harness\s[^|;&)\n]*")


_SUBSHELL = re.compile(r"\$\(([^()]*)\)")


def _run_scripts(workflow: dict[str, object]) -> list[str]:
    """Every run step, with each ``$(...)`` both a script of its own and a placeholder in its host."""
    scripts = []
    for job in workflow["jobs"].values():  # type: ignore[attr-defined]
        for step in job["steps"]:
            if "run" in step:
                script = step["run"].replace("\\\n", " ")
                while _SUBSHELL.search(script):
                    scripts += _SUBSHELL.findall(script)
                    script = _SUBSHELL.sub("SUBSHELL", script)
                scripts.append(script)
    return scripts


def _resolve(tokens: list[str]) -> tuple[click.Command, list[str], str]:
    command: click.Command = cli
    path = "fal-harness"
    rest = tokens
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            break
        command, path, rest = sub, f"{path} {rest[0]}", rest[1:]
    return command, rest, path


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflow_is_well_formed(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert True in workflow or "on" in workflow  # YAML 1.1 reads a bare `on` key as true
    assert workflow["jobs"]
    for name, job in workflow["jobs"].items():
        assert job["runs-on"], name
        assert job["steps"], name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (name, step)


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_every_fal_harness_command_in_a_workflow_exists_with_its_options(path: Path) -> None:
    invocations = [m.group(0) for script in _run_scripts(yaml.safe_load(path.read_text()))
                   for m in _INVOCATION.finditer(script)]
    assert invocations, f"{path.name} runs no fal-harness command"
    for text in invocations:
        tokens = shlex.split(text.replace("$", "_"))[1:]
        command, rest, shown = _resolve(tokens)
        assert not isinstance(command, click.Group) or command.invoke_without_command, f"{shown}: not a command"
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        for token in rest:
            if token.startswith("--"):
                assert token.split("=")[0] in known, f"{path.name}: `{shown}` has no option {token}"


def test_locustfile_compiles_and_runs_the_harness_user() -> None:
    # Compiled, not imported: importing Locust patches this interpreter with gevent. The run itself
    # is tested in tests/load through the same user class.
    for locustfile in (ROOT / "examples" / "load" / "locustfile.py", ROOT / "harness" / "load" / "locustfile.py"):
        py_compile.compile(str(locustfile), doraise=True)
        text = locustfile.read_text()
        assert "from harness.load.user import FalQueueUser" in text and "(FalQueueUser):" in text, locustfile
