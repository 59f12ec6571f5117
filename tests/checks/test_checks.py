"""Each registered check passes a correct observation and fails the mutation it exists to catch."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable

import pytest
from PIL import Image

from harness import ContractViolation
from harness.checks import CHECKS, Expectation, assert_checks, reproduction, run_checks
from harness.client import Download, ErrorInfo, Exchange, Observation, StatusSeen
from harness.contracts import Contract, load_contracts

CONTRACTS = load_contracts("contracts")
#: tested in test_media_checks.py (nothing to judge in an image-only run)
MEDIA_CHECKS = {"output.media-count", "output.media-truthful", "output.media-as-asked", "output.text-nonempty",
                "output.media-sync-mode", "output.file-downloads"}
FLUX = CONTRACTS["fal-ai/flux-pro"]
ROOT = "http://127.0.0.1:9/fal-ai/flux-pro/requests/r1"


def jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def good() -> Observation:
    """A correct flux-pro run: two 640x480 JPEGs, seed echoed, polled then streamed statuses."""
    data = [jpeg(640, 480), jpeg(640, 480)]
    images = [{"url": f"http://127.0.0.1:9/files/{i}.jpeg", "content_type": "image/jpeg", "file_name": f"{i}.jpeg",
               "file_size": len(d), "width": 640, "height": 480} for i, d in enumerate(data)]
    ex = [Exchange("submit", "POST", "x", 1, 1, 3, 200, request_id="r1"),
          Exchange("status", "GET", "x", 1, 4, 6, 202, request_id="r1"),
          Exchange("result", "GET", "x", 1, 10, 12, 200, request_id="r1")]
    return Observation(
        endpoint="fal-ai/flux-pro", target="test", scenario="custom-size", detection="poll",
        input={"prompt": "a lighthouse", "image_size": {"width": 640, "height": 480}, "num_images": 2, "seed": 1234},
        request_id="r1", submit_sent_ns=1, submit_ack_ns=3,
        submit_response={"status": "IN_QUEUE", "request_id": "r1", "response_url": ROOT,
                         "status_url": ROOT + "/status", "cancel_url": ROOT + "/cancel", "queue_position": 0},
        statuses=[StatusSeen("IN_QUEUE", 5, "poll", 1, 202), StatusSeen("IN_QUEUE", 6, "poll", 0, 202),
                  StatusSeen("IN_PROGRESS", 7, "poll", None, 202), StatusSeen("COMPLETED", 9, "poll", None, 200)],
        result_received_ns=12, result_status=200,
        output={"images": images, "timings": {"inference": 0.1}, "seed": 1234,
                "has_nsfw_concepts": [False, False], "prompt": "a lighthouse"},
        downloads=[Download(img["url"], 13, 14, 200, len(d), "image/jpeg", d) for img, d in zip(images, data,
                                                                                                  strict=True)],
        exchanges=ex,
    )


def failed(obs: Observation, contract: Contract = FLUX, expect: Expectation | None = None) -> set[str]:
    return {r.check for r in run_checks(obs, contract, expect=expect) if r.failed}


def test_a_correct_run_passes_every_check() -> None:
    results = run_checks(good(), FLUX)
    assert [r.check for r in results if r.failed] == []
    # Most checks have something to judge here; the rest are the 422 and default-specific ones.
    skipped = {r.check for r in results if r.outcome == "skipped"}
    assert skipped == {"validation.rejected", "validation.billable-units", "output.content-type",
                       "output.defaults-applied", "stream.events-json", "stream.final-output", "stream.progression",
                       *MEDIA_CHECKS}


def _set(path: str, value: object) -> Callable[[Observation], None]:
    def mutate(obs: Observation) -> None:
        target = obs.output
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return mutate


def _obs(**changes: object) -> Callable[[Observation], None]:
    def mutate(obs: Observation) -> None:
        for k, v in changes.items():
            setattr(obs, k, v)
    return mutate


def _drop_submit_key(obs: Observation) -> None:
    assert obs.submit_response is not None
    del obs.submit_response["cancel_url"]


def _foreign_urls(obs: Observation) -> None:
    assert obs.submit_response is not None
    obs.submit_response["status_url"] = "http://127.0.0.1:9/other/app/requests/r1/status"


def _go_back(obs: Observation) -> None:
    obs.statuses.append(StatusSeen("IN_QUEUE", 10, "poll", 0, 202))


def _running_after_done(obs: Observation) -> None:
    obs.statuses.append(StatusSeen("IN_PROGRESS", 10, "poll", None, 202))


def _position_missing(obs: Observation) -> None:
    obs.statuses[0].queue_position = None


def _position_negative(obs: Observation) -> None:
    obs.statuses[1].queue_position = -1


def _completed_polled_202(obs: Observation) -> None:
    obs.statuses[-1].http_status = 202


def _unknown_status(obs: Observation) -> None:
    obs.statuses.insert(2, StatusSeen("RUNNING", 7, "poll", None, 202))


def _result_not_json(obs: Observation) -> None:
    obs.output = "<html>oops</html>"


def _result_id_missing(obs: Observation) -> None:
    obs.exchanges[-1].request_id = None


def _position_up(obs: Observation) -> None:
    obs.statuses[1].queue_position = 3


def _poll_200_while_queued(obs: Observation) -> None:
    obs.statuses[0].http_status = 200


def _no_request_id(obs: Observation) -> None:
    for e in obs.exchanges:
        e.request_id = None


def _png_bytes(obs: Observation) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480)).save(buf, format="PNG")
    d = obs.downloads[0]
    d.data, d.size = buf.getvalue(), len(buf.getvalue())
    obs.output["images"][0]["file_size"] = d.size


def _truthful_wrong_size(width: int, height: int) -> Callable[[Observation], None]:
    """The first image really is ``width`` x ``height`` and says so; 640x480 was asked for."""
    def mutate(obs: Observation) -> None:
        data = jpeg(width, height)
        d = obs.downloads[0]
        d.data, d.size = data, len(data)
        obs.output["images"][0].update(width=width, height=height, file_size=len(data))
    return mutate


def _extra_image(obs: Observation) -> None:
    data = jpeg(640, 480)
    image = {**obs.output["images"][0], "url": "http://127.0.0.1:9/files/2.jpeg", "file_size": len(data)}
    obs.output["images"].append(image)
    obs.output["has_nsfw_concepts"].append(False)
    obs.downloads.append(Download(image["url"], 13, 14, 200, len(data), "image/jpeg", data))


def _file_size(change: int) -> Callable[[Observation], None]:
    def mutate(obs: Observation) -> None:
        obs.output["images"][0]["file_size"] += change
    return mutate


def _model_failure(obs: Observation) -> None:
    obs.error = ErrorInfo("model", "Runner disconnected", status=500, error_type="runner_disconnected")


#: mutation name -> (the check that must catch it, the mutation); each check that compares two things
#: is broken in both directions
MUTATIONS: dict[str, tuple[str, Callable[[Observation], None]]] = {
    "submit-key-missing": ("submit.response-shape", _drop_submit_key),
    "status-url-of-another-app": ("submit.urls-use-app-root", _foreign_urls),
    "status-goes-back": ("status.sequence", _go_back),
    "running-after-completed": ("status.sequence", _running_after_done),
    "unknown-status": ("status.sequence", _unknown_status),
    "queue-position-grows": ("status.queue-position", _position_up),
    "queue-position-missing": ("status.queue-position", _position_missing),
    "queue-position-negative": ("status.queue-position", _position_negative),
    "queued-poll-answers-200": ("status.http-codes", _poll_200_while_queued),
    "completed-poll-answers-202": ("status.http-codes", _completed_polled_202),
    "result-not-ready": ("result.available", _obs(result_status=202)),
    "result-not-json": ("result.available", _result_not_json),
    "model-failed": ("run.completed-without-error", _model_failure),
    "no-request-id": ("response.request-id", _no_request_id),
    "no-request-id-on-the-result": ("response.request-id", _result_id_missing),
    "timings-not-an-object": ("output.schema", _set("timings", "fast")),
    "other-seed": ("output.seed-echoed", _set("seed", 99)),
    "one-image-too-few": ("output.image-count", _set("images.1", KeyError)),
    "one-image-too-many": ("output.image-count", _extra_image),
    "narrower-image": ("output.image-size", _truthful_wrong_size(512, 480)),
    "shorter-image": ("output.image-size", _truthful_wrong_size(640, 360)),
    "too-few-nsfw-flags": ("output.nsfw-flags", _set("has_nsfw_concepts", [False])),
    "too-many-nsfw-flags": ("output.nsfw-flags", _set("has_nsfw_concepts", [False, False, False])),
    "prompt-not-echoed": ("output.echo", _set("prompt", "something else")),
    "file-size-above-the-bytes": ("output.file-size", _file_size(+1)),
    "file-size-below-the-bytes": ("output.file-size", _file_size(-1)),
    "png-bytes-declared-jpeg": ("output.image-truthful", _png_bytes),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_check_catches_its_mutation(mutation: str) -> None:
    check_id, mutate = MUTATIONS[mutation]
    obs = good()
    mutate(obs)
    found = failed(obs)
    assert check_id in found
    # one image too few also breaks has_nsfw_concepts' one-per-image; everything else is caught alone.
    extra = found - {check_id}
    assert extra <= ({"output.nsfw-flags"} if mutation == "one-image-too-few" else set()), extra


def test_a_truthful_image_of_another_size_is_caught_by_the_size_check_not_the_decoder() -> None:
    for width, height in ((512, 480), (640, 360)):
        obs = good()
        _truthful_wrong_size(width, height)(obs)
        (message,) = next(r for r in run_checks(obs, FLUX) if r.check == "output.image-size").messages
        assert message == f"image 0 is {width}x{height}, 640x480 asked for"


def test_content_type_and_defaults_are_judged_where_the_input_decides() -> None:
    sd = CONTRACTS["fal-ai/sd-loras"]
    data = [Image.new("RGB", (1024, 1024))]
    buf = io.BytesIO()
    data[0].save(buf, format="PNG")
    png = buf.getvalue()
    obs = Observation(
        endpoint="fal-ai/sd-loras", target="test", input={"model_name": "m", "prompt": "p"},
        request_id="r2", result_status=200,
        output={"images": [{"url": "http://x/a.png", "content_type": "image/png", "width": 1024, "height": 1024,
                            "file_size": len(png)}], "seed": 5},
        downloads=[Download("http://x/a.png", 1, 2, 200, len(png), "image/png", png)],
    )
    assert failed(obs, sd) == set()
    results = {r.check: r.outcome for r in run_checks(obs, sd)}
    assert results["output.defaults-applied"] == "passed"
    assert results["output.content-type"] == "passed"

    wrong = copy.deepcopy(obs)
    wrong.output["images"][0]["content_type"] = "image/jpeg"  # png is sd-loras' default format
    assert {"output.content-type", "output.defaults-applied", "output.image-truthful"} <= failed(wrong, sd)


def test_validation_checks_judge_invalid_inputs() -> None:
    obs = Observation(endpoint="fal-ai/flux-pro", target="test", input={"prompt": "x", "num_images": 9},
                      exchanges=[Exchange("submit", "POST", "x", 1, 1, 3, 422,
                                          headers={"x-fal-billable-units": "0"})],
                      error=ErrorInfo("validation", "rejected", status=422, fields=["num_images"]))
    expect = Expectation(status=422, invalid_loc=("num_images",), rule="maximum")
    assert failed(obs, expect=expect) == set()

    named_wrong = copy.deepcopy(obs)
    assert named_wrong.error is not None
    named_wrong.error.fields = ["prompt"]
    assert failed(named_wrong, expect=expect) == {"validation.rejected"}

    accepted = copy.deepcopy(obs)
    accepted.error = None
    assert "validation.rejected" in failed(accepted, expect=expect)

    charged = copy.deepcopy(obs)
    charged.exchanges[0].headers["x-fal-billable-units"] = "1"
    assert failed(charged, expect=expect) == {"validation.billable-units"}


def test_every_registered_check_has_a_test() -> None:
    covered = {check_id for check_id, _ in MUTATIONS.values()} | {
        "output.content-type", "output.defaults-applied", "validation.rejected", "validation.billable-units",
        # tests/checks/test_stream_checks.py
        "stream.events-json", "stream.final-output", "stream.progression", "output.sync-mode", *MEDIA_CHECKS}
    assert covered == set(CHECKS)


def test_failure_message_names_check_endpoint_request_and_reproduction() -> None:
    obs = good()
    obs.output["seed"] = 7
    with pytest.raises(ContractViolation) as raised:
        assert_checks(run_checks(obs, FLUX), obs, target_url="http://127.0.0.1:9")
    text = str(raised.value)
    assert raised.value.check == "output.seed-echoed"
    assert "fal-ai/flux-pro" in text and "request r1" in text
    assert "curl -sS -X POST http://127.0.0.1:9/fal-ai/flux-pro" in text
    assert '"Authorization: Key $FAL_KEY"' in text


def test_reproduction_never_holds_a_key() -> None:
    command = reproduction(good())
    assert "$FAL_KEY" in command and "Key k" not in command
