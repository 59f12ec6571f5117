"""The check registry as a user of ``run_checks`` and ``assert_checks`` meets it: registering a check,
choosing checks by id, what each result carries, the failure text pytest shows and the curl command
that reproduces a request."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from harness import ConfigError, ContractViolation
from harness.checks import (
    CHECKS,
    CheckContext,
    CheckResult,
    Failure,
    NotApplicable,
    assert_checks,
    check,
    failed_result,
    failure_context,
    failure_line,
    reproduction,
    run_checks,
)
from harness.client import Exchange, Observation
from harness.contracts import get_contract

FLUX = get_contract("fal-ai/flux-pro")


def observation(**fields: object) -> Observation:
    base: dict[str, object] = {"endpoint": "fal-ai/flux-pro", "target": "test", "request_id": "r1",
                               "scenario": "custom-size", "input": {"prompt": "a lighthouse", "seed": 7},
                               "result_status": 200, "output": {"seed": 8}}
    return Observation(**{**base, **fields})  # type: ignore[arg-type]


@pytest.fixture
def scratch_checks() -> Iterator[list[str]]:
    """Ids registered by the test, removed afterwards."""
    added: list[str] = []
    yield added
    for check_id in added:
        CHECKS.pop(check_id, None)


def test_a_check_registers_by_decorator_or_call_with_its_docstring_and_severity(scratch_checks: list[str]) -> None:
    @check("scratch.decorated")
    def decorated(ctx: CheckContext) -> Iterator[str]:
        """Says hello.

        More words that are not the description."""
        yield "hello"

    def called(ctx: CheckContext) -> Iterator[str]:
        raise NotApplicable("nothing to see")

    def bare(ctx: CheckContext) -> Iterator[str]:
        return iter(())

    assert check("scratch.called", severity="warning")(called) is called
    check("scratch.bare")(bare)
    scratch_checks += ["scratch.decorated", "scratch.called", "scratch.bare"]
    spec = CHECKS["scratch.decorated"]
    assert (spec.id, spec.severity, spec.description, spec.func) == ("scratch.decorated", "error", "Says hello.",
                                                                     decorated)
    assert (CHECKS["scratch.called"].severity, CHECKS["scratch.called"].func) == ("warning", called)
    assert CHECKS["scratch.bare"].description == "scratch.bare"  # no docstring: the id describes it
    assert list(CHECKS)[-3:] == scratch_checks  # in registration order, after the built-in ones
    with pytest.raises(ValueError, match=r"^check 'scratch\.bare' is registered twice$"):
        check("scratch.bare")(bare)

    results = run_checks(observation(), FLUX, only=scratch_checks)
    assert [r.to_dict() for r in results] == [
        {"check": "scratch.decorated", "severity": "error", "outcome": "failed", "endpoint": "fal-ai/flux-pro",
         "request_id": "r1", "messages": ["hello"],
         "failures": [{"check": "scratch.decorated", "severity": "error", "message": "hello", "path": None,
                       "expected": None, "got": None}]},
        {"check": "scratch.called", "severity": "warning", "outcome": "skipped", "endpoint": "fal-ai/flux-pro",
         "request_id": "r1", "messages": ["not applicable: nothing to see"], "failures": []},
        {"check": "scratch.bare", "severity": "error", "outcome": "passed", "endpoint": "fal-ai/flux-pro",
         "request_id": "r1", "messages": [], "failures": []},
    ]


def test_only_the_chosen_checks_run_in_registry_order() -> None:
    chosen = {"output.seed-echoed", "submit.response-shape", "result.available"}
    results = run_checks(observation(), FLUX, only=chosen)
    assert [r.check for r in results] == [c for c in CHECKS if c in chosen]
    assert [r.check for r in run_checks(observation(), FLUX)] == list(CHECKS)
    assert run_checks(observation(), FLUX, only=()) == []


def test_an_unknown_check_id_is_one_line_naming_each() -> None:
    with pytest.raises(ConfigError) as raised:
        run_checks(observation(), FLUX, only=["output.seed-echoed", "zz.nope", "aa.nope"])
    assert str(raised.value) == "unknown check id(s): aa.nope, zz.nope (see 'fal-harness checks list')"


def test_every_result_names_the_endpoint_and_request() -> None:
    results = run_checks(observation(), FLUX)
    assert {r.outcome for r in results} == {"passed", "failed", "skipped"}
    assert {(r.endpoint, r.request_id) for r in results} == {("fal-ai/flux-pro", "r1")}


def test_output_checks_judge_only_runs_meant_to_succeed_that_did() -> None:
    from harness.checks import Expectation
    from harness.client import ErrorInfo

    seed = "output.seed-echoed"
    assert run_checks(observation(), FLUX, only=[seed])[0].outcome == "failed"
    for obs, expect in ((observation(error=ErrorInfo("model", "boom")), None),
                        (observation(), Expectation(status=422)),
                        (observation(output="not json"), None)):
        (result,) = run_checks(obs, FLUX, expect=expect, only=[seed])
        assert (result.outcome, result.messages) == ("skipped", ("not applicable: no successful output",))


def test_the_failure_text_names_every_message_the_endpoint_request_scenario_and_a_reproduction() -> None:
    obs = observation(output={"seed": 8, "prompt": "another"})
    results = run_checks(obs, FLUX, only=["output.seed-echoed", "output.echo", "response.request-id"])
    with pytest.raises(ContractViolation) as raised:
        assert_checks(results, obs, target_url="http://127.0.0.1:9/")
    assert (raised.value.check, raised.value.severity) == ("output.seed-echoed", "error")
    assert str(raised.value) == (
        "[output.seed-echoed] 2 contract violation(s) on fal-ai/flux-pro (request r1, scenario custom-size):\n"
        "  [output.seed-echoed] seed sent 7, output says 8\n"
        "  [output.echo] prompt is 'another', input prompt was 'a lighthouse'\n"
        f"reproduce: {reproduction(obs, 'http://127.0.0.1:9')}")


def test_a_request_never_assigned_an_id_or_scenario_says_so() -> None:
    obs = observation(request_id=None, scenario=None)
    with pytest.raises(ContractViolation, match=r"on fal-ai/flux-pro \(request not assigned, scenario -\):"):
        assert_checks(run_checks(obs, FLUX, only=["output.seed-echoed"]), obs)


def test_warnings_fail_only_when_asked_to() -> None:
    warning = failed_result("submit.urls-use-app-root", "fal-ai/flux-pro", "r1", "off root", severity="warning")
    assert_checks([warning], observation())  # errors only, by default
    with pytest.raises(ContractViolation) as raised:
        assert_checks([warning], observation(), severities=("error", "warning"))
    assert (raised.value.check, raised.value.severity) == ("submit.urls-use-app-root", "warning")
    passed = CheckResult("output.schema", "error", "passed", "fal-ai/flux-pro", "r1")
    assert_checks([passed], observation())


def test_the_reproduction_is_a_curl_of_the_same_input_with_the_key_left_in_the_environment() -> None:
    obs = observation(input={"prompt": "it's", "image_url": "data:image/png;base64,<1024 bytes>", "n": 2})
    command = reproduction(obs, "http://127.0.0.1:9/")
    assert command == (
        "curl -sS -X POST http://127.0.0.1:9/fal-ai/flux-pro -H \"Authorization: Key $FAL_KEY\" "
        "-H 'Content-Type: application/json' -d "
        + shlex.quote('{"prompt":"it\'s","image_url":"<file: pass a URL or data URI>","n":2}'))
    assert shlex.split(command)[-1] == '{"prompt":"it\'s","image_url":"<file: pass a URL or data URI>","n":2}'
    # fal's queue by default; a URL kept whole when it is not a shortened file
    assert reproduction(observation(input={"image_url": "https://x/a.png"})) == (
        "curl -sS -X POST https://queue.fal.run/fal-ai/flux-pro -H \"Authorization: Key $FAL_KEY\" "
        "-H 'Content-Type: application/json' -d '{\"image_url\":\"https://x/a.png\"}'")


def test_the_reproduction_goes_where_the_observed_submit_went() -> None:
    def sent(url: str, phase: str = "submit") -> Observation:
        return observation(exchanges=[Exchange(phase, "POST", url, 1, 0)])

    assert " http://127.0.0.1:8123/fal-ai/flux-pro " in reproduction(sent("http://127.0.0.1:8123/fal-ai/flux-pro"))
    assert " http://127.0.0.1:8123/fal-ai/flux-pro " in reproduction(
        sent("http://127.0.0.1:8123/fal-ai/flux-pro?fal_webhook=x"))
    assert " http://run.test/fal-ai/flux-pro " in reproduction(sent("http://run.test/fal-ai/flux-pro", "run"))
    # a URL that does not end in the endpoint, or a given base, leaves the guess alone
    assert " https://queue.fal.run/fal-ai/flux-pro " in reproduction(sent("http://127.0.0.1:8123/other"))
    assert " http://given/fal-ai/flux-pro " in reproduction(sent("http://127.0.0.1:8123/fal-ai/flux-pro"),
                                                            "http://given")


def test_a_failure_carries_its_check_severity_path_and_what_was_expected_and_got() -> None:
    obs = observation(output={"seed": 8, "prompt": "a lighthouse"})
    (result,) = run_checks(obs, FLUX, only=["output.seed-echoed"])
    (failure,) = result.failures
    assert failure == Failure("seed sent 7, output says 8", "seed", 7, 8, "output.seed-echoed", "error")
    assert result.messages == ("seed sent 7, output says 8",)
    assert failure_line(failure) == "[output.seed-echoed] seed sent 7, output says 8"
    assert failure_context(failure) == "at seed: expected 7, got 8"
    assert failure_context(Failure("m")) is None
    assert failure_context(Failure("m", expected=[640, 480], got=[512, 480])) == "expected [640,480], got [512,480]"


def test_a_message_yielded_as_text_becomes_a_failure_of_its_check(scratch_checks: list[str]) -> None:
    def plain(ctx: CheckContext) -> Iterator[str | Failure]:
        yield "just words"
        yield Failure("with a place", path="images[1]", check="ignored.id", severity="warning")

    check("scratch.plain", severity="warning")(plain)
    scratch_checks.append("scratch.plain")
    (result,) = run_checks(observation(), FLUX, only=["scratch.plain"])
    assert [(f.check, f.severity, f.message, f.path) for f in result.failures] == [
        ("scratch.plain", "warning", "just words", None), ("scratch.plain", "warning", "with a place", "images[1]")]
    with pytest.raises(ContractViolation) as raised:
        assert_checks([result], observation(), severities=("warning",))
    assert raised.value.failures == result.failures


def test_a_result_made_outside_a_check_fails_with_its_messages() -> None:
    made = failed_result("cassette.recorded", "fal-ai/flux-pro", None, "no cassette", "record it")
    assert (made.outcome, made.severity, made.messages) == ("failed", "error", ("no cassette", "record it"))
    assert {f.check for f in made.failures} == {"cassette.recorded"}
    assert CheckResult("x", "error", "skipped", "e", None, reason="not applicable: n/a").messages == (
        "not applicable: n/a",)
