"""A protocol check's failure says where it is, what was expected and what came: reports and run.json
carry these fields, so each is pinned, not only the message."""

from __future__ import annotations

import pytest

from harness.checks import Expectation, Failure, run_checks
from harness.client import ErrorInfo, Observation, StatusSeen
from harness.contracts import get_contract

FLUX = get_contract("fal-ai/flux-pro")
SUBMITTED = {"status": "IN_QUEUE", "request_id": "r1", "response_url": "https://q/r1",
             "status_url": "https://q/r1/status", "cancel_url": "https://q/r1/cancel"}


def _failures(check: str, expect: Expectation | None = None, **fields: object) -> list[Failure]:
    base: dict[str, object] = {"endpoint": FLUX.endpoint, "target": "test", "request_id": "r1",
                               "input": {"prompt": "x"}, "submit_response": dict(SUBMITTED)}
    obs = Observation(**{**base, **fields})  # type: ignore[arg-type]
    (result,) = run_checks(obs, FLUX, expect=expect, only=[check])
    return [Failure(f.message, f.path, f.expected, f.got) for f in result.failures]


@pytest.mark.parametrize("missing", ["request_id", "response_url", "status_url", "cancel_url"])
def test_a_submit_answer_without_a_url_or_id_names_the_key(missing: str) -> None:
    body = {k: v for k, v in SUBMITTED.items() if k != missing}
    assert _failures("submit.response-shape", submit_response=body) == [
        Failure(f"submit response has no {missing}", missing)]


def test_a_submit_answer_in_another_state_says_which_and_what_was_expected() -> None:
    assert _failures("submit.response-shape", submit_response={**SUBMITTED, "status": "COMPLETED"}) == [
        Failure("submit response status is 'COMPLETED', expected 'IN_QUEUE'", "status", "IN_QUEUE", "COMPLETED")]
    assert _failures("submit.response-shape") == []


@pytest.mark.parametrize(("status", "code", "expected"), [("IN_QUEUE", 200, 202), ("IN_PROGRESS", 500, 202),
                                                          ("COMPLETED", 202, 200)])
def test_a_polled_status_with_the_wrong_code_says_both(status: str, code: int, expected: int) -> None:
    seen = [StatusSeen(status, 1, "poll", http_status=code), StatusSeen(status, 2, "stream", http_status=code)]
    assert _failures("status.http-codes", statuses=seen) == [
        Failure(f"status {status} answered HTTP {code}, expected {expected}", "status", expected, code)]
    assert _failures("status.http-codes", statuses=[StatusSeen(status, 1, "poll", http_status=expected)]) == []


def test_a_missing_result_says_its_code_and_a_non_object_its_type() -> None:
    assert _failures("result.available", result_status=404) == [
        Failure("result answered HTTP 404", "result", 200, 404)]
    assert _failures("result.available", result_status=200, output=[1]) == [  # type: ignore[list-item]
        Failure("result is not a JSON object: list", "result")]
    assert _failures("result.available", result_status=200, output={"images": []}) == []


def test_an_accepted_invalid_input_says_what_happened_instead_of_the_422() -> None:
    bad = Expectation(status=422, invalid_loc=("num_images",), rule="maximum")
    assert _failures("validation.rejected", bad) == [
        Failure("expected 422 for an invalid input, but it was accepted", "submit", 422, None)]
    vendor = ErrorInfo("vendor", "HTTP 500", status=500)
    assert _failures("validation.rejected", bad, error=vendor) == [
        Failure("expected 422 for an invalid input, but vendor error: HTTP 500", "submit", 422, "vendor")]


def test_a_422_naming_another_field_says_which_it_named_and_which_was_broken() -> None:
    bad = Expectation(status=422, invalid_loc=("image_size", "width"), rule="maximum")
    other = ErrorInfo("validation", "422", status=422, fields=["seed"])
    assert _failures("validation.rejected", bad, error=other) == [
        Failure("422 names ['seed'], not the broken field image_size.width", "image_size.width", "image_size.width",
                ["seed"])]
    for named in (["image_size.width"], ["image_size"], ["image_size.width.x"]):  # the field, its parent, a child
        assert _failures("validation.rejected", bad, error=ErrorInfo("validation", "422", 422, fields=named)) == []
    assert _failures("validation.rejected", Expectation(status=422), error=other) == []  # no place to name
