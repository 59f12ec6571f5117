"""Malformed contract files give one line naming the file and the key path; good ones round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness import DataFileError
from harness.cli import main
from harness.contracts import contract_to_data, dump_contract, load_contract, load_contracts, parse_contract

GOOD = """\
format_version: 1
endpoint: acme/painter
input:
  name: PainterInput
  required: [prompt]
  fields:
    prompt: {type: string}
    style: {type: string, enum: [oil, ink], default: oil}
    steps: {type: integer, minimum: 1, maximum: 50, default: 20}
    size: {type: Size | string, enum: [small, large], default: small}
output:
  name: PainterOutput
  required: [images]
  fields:
    images: {type: list<Image>}
types:
  Size:
    fields:
      width: {type: integer, exclusive_minimum: 0}
  Image:
    required: [url]
    fields:
      url: {type: string}
"""

# (name, text replacement applied to GOOD, key path expected in the message, words expected)
MALFORMED = [
    ("bad-yaml", ("prompt: {type: string}", "prompt: {type: string"), "line ", "invalid YAML"),
    ("unknown-type", ("prompt: {type: string}", "prompt: {type: strnig}"),
     "input.fields.prompt.type", "unknown type 'strnig'"),
    ("default-outside-enum", ("default: oil", "default: pastel"),
     "input.fields.style.default", "not in the enum"),
    ("default-outside-range", ("default: 20", "default: 70"),
     "input.fields.steps.default", "above the maximum 50"),
    ("required-not-a-field", ("required: [prompt]", "required: [prompt, colour]"),
     "input.required[1]", "'colour' is not among the fields"),
    ("unknown-key", ("prompt: {type: string}", "prompt: {type: string, colour: red}"),
     "input.fields.prompt.colour: ", "unknown key (allowed: type, description, title, default, enum,"),
    ("wrong-format-version", ("format_version: 1", "format_version: 7"), "format_version", "format version 1"),
    ("default-wrong-type", ("default: 20", "default: twenty"), "input.fields.steps.default", "expected integer"),
    ("union-default-outside-enum", ("default: small", "default: huge"),
     "input.fields.size.default", "not in the enum"),
    ("nested-bad-type", ("width: {type: integer, exclusive_minimum: 0}", "width: {type: list<Pixel>}"),
     "types.Size.fields.width.type", "unknown type 'Pixel'"),
    ("unclosed-list", ("images: {type: list<Image>}", "images: {type: list<Image}"),
     "output.fields.images.type", "not closed"),
    ("range-on-a-string", ("prompt: {type: string}", "prompt: {type: string, maximum: 3}"),
     "input.fields.prompt.maximum", "needs an integer or float type"),
    ("impossible-range", ("minimum: 1, maximum: 50", "minimum: 60, maximum: 50"),
     "input.fields.steps.minimum", "no value fits"),
    ("type-named-like-a-scalar", ("  Size:\n", "  string:\n"), "types.string", "not a scalar name"),
    ("type-named-by-a-number", ("  Size:\n", "  3:\n"), "types.3: ", "expected a string key, got an integer"),
    ("misspelt-key", ("output:\n", "outptu:\n"), "outptu: ", "unknown key (allowed: format_version, endpoint,"),
    ("unknown-key-in-a-branch", ("size: {type: Size | string, enum: [small, large], default: small}",
                                 "size: {type: Size | string, branches: [{}, {enum: [small], colour: red}]}"),
     "input.fields.size.branches[1].colour: ", "unknown key (allowed: description,"),
    ("scenario-file-name-not-a-string", ("output:\n", "scenarios:\n  s:\n    input: {prompt: x}\n"
                                                     "    files: {photo: [a.png, 3]}\noutput:\n"),
     "scenarios.s.files.photo[1]: ", "expected a string, got an integer"),
    ("scenario-value-not-json", ("output:\n", "scenarios:\n  dated:\n    input: {prompt: x, when: {at: [2024-01-01]}}\n"
                                             "output:\n"),
     "scenarios.dated.input.when.at[0]: ", "expected JSON data, got date"),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme" / "painter.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_good_file_loads(tmp_path: Path) -> None:
    contract = load_contract(_write(tmp_path, GOOD))
    assert contract.endpoint == "acme/painter"
    assert contract.input.field("steps").maximum == 50


@pytest.mark.parametrize(("case", "replacement", "key_path", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_gives_one_line_with_file_and_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, replacement: tuple[str, str],
    key_path: str, words: str,
) -> None:
    old, new = replacement
    assert old in GOOD, case
    path = _write(tmp_path, GOOD.replace(old, new, 1))

    with pytest.raises(DataFileError) as raised:
        load_contract(path)
    assert raised.value.file == str(path)

    code = main(["contracts", "validate", str(path)])
    err = capsys.readouterr().err
    assert code == 1  # a finding, as linters report one; 2 is kept for usage mistakes
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fal-harness: error: {path}: {key_path}")
    assert words in lines[0]
    assert "Traceback" not in err


def test_validate_of_a_missing_path_is_a_usage_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "validate", str(tmp_path / "nowhere.yaml")]) == 2
    assert capsys.readouterr().err.strip() == f"fal-harness: error: {tmp_path / 'nowhere.yaml'}: no such file or folder"


def test_show_keeps_every_constraint_nullable_included(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("    steps: {", "    styles: {type: list<string>, nullable: true, items: {enum: [anime, clay], "
                        "nullable: true}}\n    steps: {", 1)
    assert text != GOOD
    path = _write(tmp_path, text)
    assert main(["contracts", "show", load_contract(path).endpoint, "--contracts-dir", str(tmp_path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.lstrip().startswith("styles"))
    assert "nullable" in row and "items: enum anime, clay, nullable" in row


def test_show_unknown_endpoint_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "show", "fal-ai/flux-prro", "--contracts-dir", "contracts"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fal-harness: error: unknown endpoint 'fal-ai/flux-prro'; did you mean 'fal-ai/flux-pro'?"]


def test_duplicate_endpoint_in_a_folder_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    (tmp_path / "copy.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(DataFileError, match="also defined in"):
        load_contracts(tmp_path)


def test_scenario_input_is_checked_against_the_contract(tmp_path: Path) -> None:
    text = GOOD + "scenarios:\n  too-many-steps:\n    input: {prompt: x, steps: 99}\n"
    with pytest.raises(DataFileError) as raised:
        load_contract(_write(tmp_path, text))
    assert raised.value.key_path == "scenarios.too-many-steps.input.steps"


def test_a_source_must_name_a_constraint_the_field_sets(tmp_path: Path) -> None:
    field = "    note: {type: string, nullable: true, default: null, sources: {%s: page}}\n"
    sourced = GOOD.replace("    prompt: {type: string}\n", "    prompt: {type: string}\n" + field % "default", 1)
    # null is a default, so a source can name it
    assert load_contract(_write(tmp_path, sourced)).input.field("note").sources == {"default": "page"}
    unsourced = sourced.replace("sources: {default: page}", "sources: {maximum: page}")
    with pytest.raises(DataFileError) as raised:
        load_contract(_write(tmp_path, unsourced))
    assert (raised.value.key_path, raised.value.problem) == (
        "input.fields.note.sources.maximum", "names 'maximum', which this field does not set")


def test_semantics_must_name_real_fields(tmp_path: Path) -> None:
    text = GOOD + "semantics:\n  images: {field: images, count: num_images}\n"
    with pytest.raises(DataFileError) as raised:
        load_contract(_write(tmp_path, text))
    assert raised.value.key_path == "semantics.images.count"


@pytest.mark.parametrize("endpoint", sorted(load_contracts("contracts")))
def test_contract_survives_dump_and_parse(endpoint: str) -> None:
    contract = load_contracts("contracts")[endpoint]
    again = parse_contract(yaml.safe_load(dump_contract(contract)))
    assert again == contract
    assert contract_to_data(again) == contract_to_data(contract)


def test_contract_data_is_read_only_and_copies_are_editable() -> None:
    import copy

    scenario = load_contracts("contracts")["fal-ai/flux-pro"].scenario("custom-size")
    with pytest.raises(TypeError, match="read-only"):
        scenario.input["prompt"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        scenario.input["image_size"]["width"] = 1
    editable = copy.deepcopy(scenario.input)
    editable["image_size"]["width"] = 1
    assert scenario.input["image_size"]["width"] == 640


def test_validate_all_shipped_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "validate", "contracts"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == len(load_contracts("contracts"))
