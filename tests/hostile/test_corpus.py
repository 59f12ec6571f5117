"""The hostile-input corpus: every command that reads a file, fed every kind of bad file. Each case
ends in one line naming what and where, exit 2, no traceback, no hang, and no unbounded memory."""

from __future__ import annotations

import json
import os
import shutil
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_helpers import MEMORY_BOUND_MB, REPO, SHIPPED, Outcome, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness
import harness._data

# -- bad files ---------------------------------------------------------------------------------------

_LEVELS = "".join(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]\n" for i in range(1, 9))
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + _LEVELS.replace("*`", "*a")
#: a 9**9-value bomb in YAML's flow style
assert ALIAS_BOMB.count("&") == 9


def _write(text: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(text.encode() if isinstance(text, str) else text)

    return make


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _folder(path: Path) -> None:
    path.mkdir()


def _huge(path: Path) -> None:
    path.write_text("# padding\n" * 20_000)  # 200 KB, over the limit the test sets


SHAPES: dict[str, Callable[[Path], None]] = {
    "malformed": _write("{: [\n  - ]]]\n"),
    "alias-bomb": _write(ALIAS_BOMB),
    "self-alias": _write("&a [*a, 1]\n"),
    "deep-flow": _write("[" * 5000 + "]" * 5000),
    "deep-json": _write("[" * 500 + "]" * 500),
    "deep-block": _write("".join("  " * i + "k:\n" for i in range(400)) + "  " * 400 + "v\n"),
    "huge-integer-yaml": _write("format_version: " + "9" * 5000 + "\n"),
    "huge-integer-json": _write('{"format": ' + "9" * 5000 + "}"),
    "non-utf8": _write(b"format: \xff\xfe\xfa\n"),
    "nul-bytes": _write(b"\0" * 64),
    "fifo": _fifo,
    "dev-zero-symlink": _dev_zero,
    "folder": _folder,
    "huge-file": _huge,
    "not-a-mapping": _write("- 1\n- 2\n"),
    "empty": _write(""),
}


def _summary_folder(path: Path, make: Callable[[Path], None]) -> Path:
    folder = path.parent / "run"
    folder.mkdir()
    make(folder / "summary.json")
    return folder


# command name -> (file name, argv builder given the bad file and a scratch folder)
COMMANDS: dict[str, tuple[str, Callable[[Path, Path], list[object]]]] = {
    "contracts validate": ("c.yaml", lambda f, t: ["contracts", "validate", f]),
    "contracts list": ("fal-ai/x.yaml", lambda f, t: ["contracts", "list", "--contracts-dir", f.parent.parent]),
    "contracts import-openapi": ("doc.json", lambda f, t: ["contracts", "import-openapi", f]),
    "cassettes verify": ("c.yaml", lambda f, t: ["cassettes", "verify", f]),
    "cassettes list": ("c.yaml", lambda f, t: ["cassettes", "list", f]),
    "cassettes mutate": ("c.yaml", lambda f, t: ["cassettes", "mutate", f, "--kind", "body-truncated",
                                                 "--out", t / "m"]),
    "run --emulator-config": ("e.yaml", lambda f, t: ["run", "--emulator-config", f, "--out", t / "r"]),
    "emulator smoke --config": ("e.yaml", lambda f, t: ["emulator", "smoke", "--config", f]),
    "bench --input": ("i.yaml", lambda f, t: ["bench", "--scenario", "queue", "--input", f, "--out", t / "b"]),
    "drift --against yaml": ("d.yaml", lambda f, t: ["drift", "fal-ai/flux-pro", "--against", f]),
    "drift --against jsonl": ("d.jsonl", lambda f, t: ["drift", "fal-ai/flux-pro", "--against", f]),
    "drift --ignore": ("ignore.yaml", lambda f, t: ["drift", "fal-ai/flux-pro", "--against", "fal-ai/flux-pro",
                                                    "--ignore", f]),
    "record --contracts-dir": ("fal-ai/x.yaml", lambda f, t: ["record", "--contracts-dir", f.parent.parent,
                                                              "--out", t / "rec"]),
}
#: a run folder's summary.json, read by compare, report and export
RUN_COMMANDS: dict[str, Callable[[Path, Path], list[object]]] = {
    "bench compare": lambda run, t: ["bench", "compare", run, run],
    "report": lambda run, t: ["report", run],
    "bench export": lambda run, t: ["bench", "export", run],
}
#: an empty file is a valid (default) emulator config or ignore list, and an empty JSONL file no traffic
#: at all, which drift reports as such; those cases are judged by their own tests
VALID_WHEN_EMPTY = {"run --emulator-config", "emulator smoke --config", "drift --ignore"}


#: checkers whose verdict on the very file they were asked to check is a finding (exit 1, as linters do);
#: a usage mistake, such as a folder with nothing to check, is still exit 2
FINDINGS = {"contracts validate"}


def _assert_refused(done: Outcome, code: int = 2) -> None:
    assert done.code == code, (done.code, done.out[-500:], done.err[-500:])
    assert len(done.error_lines) == 1, done.err
    assert done.error_lines[0].startswith("fal-harness: error: ") and "Traceback" not in done.err + done.out
    assert done.grew_mb < MEMORY_BOUND_MB, f"peak memory grew by {done.grew_mb:.0f} MB"


@pytest.fixture(autouse=True)
def _small_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness._data, "MAX_FILE_BYTES", 100_000, raising=False)


@pytest.mark.parametrize(("command", "shape"), [(c, s) for c in COMMANDS for s in SHAPES
                                                if not (s == "empty" and c in VALID_WHEN_EMPTY)])
def test_every_command_refuses_every_bad_file_in_one_line(command: str, shape: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    name, argv = COMMANDS[command]
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True)
    SHAPES[shape](path)
    _assert_refused(run_cli(argv(path, tmp_path), capsys), 1 if command in FINDINGS and shape != "folder" else 2)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_every_run_folder_command_refuses_a_bad_summary_in_one_line(command: str, shape: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = _summary_folder(tmp_path / "x", SHAPES[shape]) if shape != "folder" else tmp_path / "run"
    if shape == "folder":
        (folder / "summary.json").mkdir(parents=True)
    _assert_refused(run_cli(RUN_COMMANDS[command](folder, tmp_path), capsys))


_YAMLISH = st.text(alphabet=string.printable + "&*!|>-:[]{}#%@`'\"\\\u00e9\u2028", max_size=200)


def _read_emulator_config(path: Path) -> None:
    from harness.emulator import load_emulator_config

    load_emulator_config(path)


def _read_bench_input(path: Path) -> None:
    from harness.cli._bench import _read_input

    _read_input(path)


#: readers whose command would go on to start an emulator or a benchmark on a valid file: called directly
READERS: dict[str, Callable[[Path], None]] = {"emulator config": _read_emulator_config,
                                               "bench input": _read_bench_input}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_YAMLISH, kind=st.sampled_from(["contracts validate", "cassettes verify", "cassettes list",
                                            "drift --against yaml", "contracts import-openapi"]))
def test_any_text_in_any_data_file_is_judged_in_one_line(text: str, kind: str, tmp_path_factory: pytest.TempPathFactory
                                                         ) -> None:
    scratch = tmp_path_factory.mktemp("prop")
    name, argv = COMMANDS[kind]
    path = scratch / "in" / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    _assert_refused(run_cli(argv(path, scratch)), 1 if kind in FINDINGS else 2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_YAMLISH, reader=st.sampled_from(sorted(READERS)))
def test_any_text_in_a_config_or_input_is_accepted_or_refused_as_one_config_error(
        text: str, reader: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("prop") / "f.yaml"
    path.write_text(text)
    problem = None
    try:
        READERS[reader](path)
    except harness.ConfigError as exc:
        problem = str(exc)
    assert problem is None or (problem and "\n" not in problem.strip())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=4000), junk=st.binary(max_size=40))
def test_a_cassette_cut_or_corrupted_anywhere_is_refused_in_one_line(
        cut: int, junk: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    scratch = tmp_path_factory.mktemp("cut")
    original = (SHIPPED / "fal-ai/flux-pro/defaults.yaml").read_bytes()
    path = scratch / "c.yaml"
    path.write_bytes(original[:cut] + junk)
    shutil.copytree(SHIPPED / "_bodies", scratch / "_bodies")
    done = run_cli(["cassettes", "verify", path])
    if done.code in (0, 1):  # a cut that leaves a readable cassette is judged by its checks
        return
    _assert_refused(done)


def test_the_corpus_covers_every_command_that_reads_a_data_file() -> None:
    # A reminder with teeth: a command added later that reads a file belongs in the table above.
    covered = {c.split(" --")[0] for c in COMMANDS} | set(RUN_COMMANDS)
    assert {"contracts validate", "cassettes verify", "cassettes list", "cassettes mutate", "run", "bench",
            "drift", "report", "bench compare", "bench export", "record", "emulator smoke"} <= covered
    assert json.loads(json.dumps(sorted(covered)))
    assert REPO.is_dir()
