"""Every mutation class is caught: a faulty copy of a recording fails the check that claims to catch it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cassette_helpers import SHIPPED

from harness.cassettes import MUTATIONS, mutate, read_cassette, verify_cassette
from harness.cli import main
from harness.contracts import Contract

# mutation class, its options, the cassette it is applied to, the check that must catch it
CAUGHT_BY: list[tuple[str, dict[str, Any], str, str]] = [
    ("status-swapped", {}, "fal-ai/flux-pro/defaults.yaml", "result.available"),
    ("status-swapped", {"where": "poll"}, "fal-ai/flux-pro/defaults.poll.yaml", "status.http-codes"),
    ("status-swapped", {}, "fal-ai/flux-pro/invalid-num-images.yaml", "validation.rejected"),
    ("body-truncated", {}, "fal-ai/sd-loras/text-to-image.yaml", "result.available"),
    ("field-removed", {}, "fal-ai/photomaker/text-to-image.yaml", "output.schema"),
    ("field-removed", {"field": "has_nsfw_concepts"}, "fal-ai/flux-pro/custom-size.yaml", "output.schema"),
    ("field-type-changed", {}, "fal-ai/flux-pro/custom-size.yaml", "output.seed-echoed"),
    ("field-type-changed", {"field": "images.0.width"}, "fal-ai/sd-loras/custom-size.yaml", "output.image-size"),
    ("field-type-changed", {"field": "image.content_type"}, "fal-ai/instantid/lcm/controlnet-canny.yaml",
     "output.schema"),
]


def test_the_table_covers_every_mutation_class() -> None:
    assert {kind for kind, *_ in CAUGHT_BY} == set(MUTATIONS)


@pytest.mark.parametrize(("kind", "options", "cassette", "check"), CAUGHT_BY,
                         ids=[f"{k}-{c.rsplit('/', 1)[-1]}-{v}" for k, _, c, v in CAUGHT_BY])
def test_each_mutation_class_is_caught_by_its_check(contracts: dict[str, Contract], kind: str,
                                                    options: dict[str, Any], cassette: str, check: str) -> None:
    original = read_cassette(SHIPPED / cassette)
    assert verify_cassette(original, contracts).ok  # the control: the recording itself passes
    verdict = verify_cassette(mutate(original, kind, **options), contracts)
    assert verdict.problem is None
    assert check in verdict.failed
    assert verify_cassette(original, contracts).ok  # the original was left as it was


def test_a_mutated_cassette_written_by_the_cli_fails_verify_with_the_check_id(
        tmp_path: Path, copy_cassette: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_cassette("fal-ai/flux-pro/custom-size.yaml")
    out = tmp_path / "mutants"
    assert main(["cassettes", "mutate", str(path), "--kind", "field-type-changed", "--field", "seed",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["cassettes", "verify", str(out)]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("FAIL"))
    assert line.endswith("custom-size.yaml  output.schema, output.seed-echoed")


def test_a_mutation_that_has_nothing_to_change_says_so(contracts: dict[str, Contract]) -> None:
    from harness import ConfigError

    with pytest.raises(ConfigError, match=re.escape("no pending status poll was recorded")):
        mutate(read_cassette(SHIPPED / "fal-ai/flux-pro/defaults.yaml"), "status-swapped", where="poll")
    with pytest.raises(ConfigError, match=re.escape("the recorded output has no images.9.width")):
        mutate(read_cassette(SHIPPED / "fal-ai/flux-pro/defaults.yaml"), "field-removed", field="images.9.width")
