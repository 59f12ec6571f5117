"""Every seed page's example input and output validate against the contract built from it."""

from __future__ import annotations

import pytest

from harness.contracts import Contract, Example, load_contracts, validate_input, validate_output

# The five endpoint pages the contracts were written from, and the endpoint each documents.
SEED_PAGES = {
    "000_e914fc5e54efefb1.txt": "fal-ai/photomaker",
    "001_dd956abf9e702869.txt": "fal-ai/flux-pro",
    "002_cc985147d6d4e614.txt": "fal-ai/sd-loras",
    "003_90b852e9debbafb1.txt": "fal-ai/photomaker",
    "004_71ff73577eba1b09.txt": "fal-ai/instantid/lcm",
}


@pytest.fixture(scope="module")
def contracts() -> dict[str, Contract]:
    return load_contracts("contracts")


def _example(contract: Contract, seed: str) -> Example:
    found = [e for e in contract.examples if e.seed == seed]
    assert found, f"{contract.endpoint} has no example taken from {seed}"
    return found[0]


@pytest.mark.parametrize("seed", sorted(SEED_PAGES))
def test_seed_page_example_input_validates(contracts: dict[str, Contract], seed: str) -> None:
    contract = contracts[SEED_PAGES[seed]]
    example = _example(contract, seed)
    assert example.input, f"{seed}: the page shows an example input"
    assert validate_input(contract, example.input) == []


@pytest.mark.parametrize("seed", sorted(SEED_PAGES))
def test_seed_page_example_output_validates(contracts: dict[str, Contract], seed: str) -> None:
    contract = contracts[SEED_PAGES[seed]]
    example = _example(contract, seed)
    assert example.output, f"{seed}: the page shows an example output"
    assert validate_output(contract, example.output, allow_missing=example.output_omits) == []
    # The allowance is exact: it names precisely the required fields the page's example leaves out.
    missing = {name for name in contract.output.required if name not in example.output}
    assert set(example.output_omits) == missing


@pytest.mark.parametrize("seed", sorted(SEED_PAGES))
def test_seed_page_is_named_in_provenance(contracts: dict[str, Contract], seed: str) -> None:
    contract = contracts[SEED_PAGES[seed]]
    pages = {p.seed: p for p in contract.provenance.pages}
    assert seed in pages
    assert pages[seed].client_package in ("@fal-ai/client", "@fal-ai/serverless-client")


def test_page_example_with_a_wrong_value_is_caught(contracts: dict[str, Contract]) -> None:
    # The examples pass because they are right, not because validation is lax.
    contract = contracts["fal-ai/photomaker"]
    example = _example(contract, "003_90b852e9debbafb1.txt")
    broken = {**example.input, "style_strength": 70, "style": "Oil"}
    rules = sorted((v.path, v.rule) for v in validate_input(contract, broken))
    assert rules == [("$.style", "enum"), ("$.style_strength", "maximum")]


def test_every_contract_written_from_a_page_names_it(contracts: dict[str, Contract]) -> None:
    # The rest come from fal's OpenAPI schemas or generated client types, and say so in their notes.
    assert set(SEED_PAGES.values()) == {e for e, c in contracts.items() if c.provenance.pages}
    assert all(c.provenance.notes for c in contracts.values() if not c.provenance.pages)


def test_fields_inferred_where_the_page_lost_type_lines(contracts: dict[str, Contract]) -> None:
    # Seed 004 lost every type line: each of its input fields says why its type was inferred.
    instantid = contracts["fal-ai/instantid/lcm"]
    assert all(f.inferred for f in instantid.input.fields)
    # Seed 003 kept its type lines: photomaker's input types are declared, not inferred.
    assert not any(f.inferred for f in contracts["fal-ai/photomaker"].input.fields)


def test_facts_from_the_protocol_reference_carry_their_source(contracts: dict[str, Contract]) -> None:
    num_images = contracts["fal-ai/flux-pro"].input.field("num_images")
    assert (num_images.minimum, num_images.maximum) == (1, 4)
    assert set(num_images.sources) == {"minimum", "maximum"}
    assert all("fal-protocol.md" in s for s in num_images.sources.values())
