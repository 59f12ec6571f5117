"""The cassette file: a round trip keeps every body, and a corrupt or hand-edited file is one line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml
from cassette_helpers import SHIPPED

from harness import DataFileError
from harness.cassettes import Cassette, body_refs, new_request, new_response, read_cassette, write_cassette
from harness.cli import main


def _edit(path: Path, change: Callable[[dict], object]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=10**9))


def _body(path: Path) -> Path:
    return path.parents[2] / "_bodies" / sorted(body_refs(path))[0]


def _remove_endpoint(data: dict) -> None:
    del data["header"]["endpoint"]


def _version_2(data: dict) -> None:
    data["format"] = "fal-harness/cassette@2"


def _status_text(data: dict) -> None:
    data["interactions"][2]["response"]["status"] = "OK"


def _variant_without_fault(data: dict) -> None:
    del data["header"]["variant"]["fault"]


def _variant_file_mode(data: dict) -> None:
    data["header"]["variant"]["file_mode"] = "ftp"


def _header_extra_key(data: dict) -> None:
    data["header"]["recorder"] = "me"


def _no_cdn_url(data: dict) -> None:
    del data["header"]["base_urls"]["cdn"]


def _unknown_body_kind(data: dict) -> None:
    data["interactions"][0]["request"]["body"] = {"yaml": "prompt: x"}


# (what is broken, how, the key path and problem the one line must name)
EDITS: list[tuple[str, Callable[[Path], None], str]] = [
    ("bad YAML", lambda p: p.write_text(p.read_text().replace("interactions:", "interactions: [", 1)),
     ": line "),
    ("missing header key", lambda p: _edit(p, _remove_endpoint), ": header.endpoint: missing"),
    ("wrong format version", lambda p: _edit(p, _version_2),
     ": format: 'fal-harness/cassette@2' is not supported (this harness reads fal-harness/cassette@1)"),
    ("status not a number", lambda p: _edit(p, _status_text),
     ": interactions[2].response.status: expected an integer, got a string"),
    ("unknown body kind", lambda p: _edit(p, _unknown_body_kind),
     ": interactions[0].request.body: expected exactly one of json, text or file"),
    ("variant key left out", lambda p: _edit(p, _variant_without_fault), ": header.variant.fault: missing"),
    ("unknown file mode", lambda p: _edit(p, _variant_file_mode),
     ": header.variant.file_mode: must be 'upload', 'data-uri' or 'url', got 'ftp'"),
    ("unknown header key", lambda p: _edit(p, _header_extra_key), ": header.recorder: unknown key (allowed: target,"),
    ("base URL left out", lambda p: _edit(p, _no_cdn_url), ": header.base_urls.cdn: missing"),
    ("missing body file", lambda p: _body(p).unlink(), "body file _bodies/"),
    ("body edited", lambda p: _body(p).write_bytes(_body(p).read_bytes() + b"\0"),
     "does not match its sha256 (edited or corrupt)"),
    ("not a cassette", lambda p: p.write_text("just: a mapping\n"), ": format: missing: not a fal-harness cassette"),
]


@pytest.mark.parametrize(("broken", "edit", "words"), EDITS, ids=[e[0] for e in EDITS])
def test_a_corrupt_or_hand_edited_cassette_is_one_line_naming_the_file_and_the_problem(
        copy_cassette: Callable[[str], Path], broken: str, edit: Callable[[Path], None], words: str) -> None:
    path = copy_cassette("fal-ai/flux-pro/defaults.yaml")
    edit(path)
    with pytest.raises(DataFileError) as caught:
        read_cassette(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize(("broken", "edit", "words"), EDITS[:3], ids=[e[0] for e in EDITS[:3]])
def test_cassettes_verify_reports_a_corrupt_cassette_in_one_line_and_exits_2(
        copy_cassette: Callable[[str], Path], capsys: pytest.CaptureFixture[str], broken: str,
        edit: Callable[[Path], None], words: str) -> None:
    path = copy_cassette("fal-ai/flux-pro/defaults.yaml")
    edit(path)
    assert main(["cassettes", "verify", str(path.parents[2])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"fal-harness: error: {path}")
    assert words in err
    assert len(err.splitlines()) == 1



def _submit(data: dict) -> dict:
    return data["interactions"][0]["request"]["body"]["json"]


def _archive(data: dict) -> dict:
    return _submit(data)["image_archive_url"]["$data-uri"]


# (what is broken in a cassette whose submit sends files inline, how, the exact key path and problem)
INLINE_EDITS: list[tuple[str, Callable[[dict], object], str]] = [
    ("inline file of another size", lambda d: _archive(d).__setitem__("size", 5),
     ": interactions[0].request.body.json.image_archive_url.$data-uri.size: says 5 bytes, the body file has 12630"),
    ("inline file without its media type", lambda d: _archive(d).pop("media_type"),
     ": interactions[0].request.body.json.image_archive_url.$data-uri.media_type: missing"),
    ("inline file not found", lambda d: _archive(d).__setitem__("file", "_bodies/" + "0" * 64 + ".zip"),
     ": interactions[0].request.body.json.image_archive_url.$data-uri.file: body file _bodies/000"),
    ("inline file beside another key", lambda d: _submit(d)["image_archive_url"].__setitem__("note", "x"),
     ": interactions[0].request.body.json.image_archive_url: a $data-uri reference stands alone"),
    ("a date in a JSON body", lambda d: _submit(d).__setitem__("when", date(2026, 1, 1)),
     ": interactions[0].request.body.json.when: expected JSON data, got date"),
    ("a number as a JSON key", lambda d: _submit(d).__setitem__(7, "x"),
     ": interactions[0].request.body.json.7: expected a string key, got an integer"),
    ("unknown request key", lambda d: d["interactions"][1]["request"].__setitem__("note", "x"),
     ": interactions[1].request.note: unknown key (allowed: method, uri, headers, body)"),
    ("unknown body key", lambda d: d["interactions"][0]["response"]["body"].__setitem__("size", 3),
     ": interactions[0].response.body.size: unknown key (allowed: json)"),
]


@pytest.mark.parametrize(("broken", "edit", "words"), INLINE_EDITS, ids=[e[0] for e in INLINE_EDITS])
def test_a_mistake_inside_a_body_is_named_at_its_exact_key(
        copy_cassette: Callable[[str], Path], broken: str, edit: Callable[[dict], object], words: str) -> None:
    path = copy_cassette("fal-ai/photomaker/image-to-image.yaml")
    _edit(path, edit)
    with pytest.raises(DataFileError) as caught:
        read_cassette(path)
    assert str(caught.value).startswith(f"{path}{words}")
    assert "\n" not in str(caught.value)

def test_a_cassette_round_trips_with_binary_bodies_beside_it_and_json_bodies_as_data(tmp_path: Path) -> None:
    original = read_cassette(SHIPPED / "fal-ai/photomaker/image-to-image.upload.yaml")
    copy = tmp_path / "c" / "x.yaml"
    write_cassette(original, copy, bodies_dir=tmp_path / "_bodies")
    again = read_cassette(copy)
    assert again.header == original.header
    assert len(again) == len(original)
    for a, b in zip(again.requests, original.requests, strict=True):
        assert a.uri == b.uri and (a.body == b.body or json.loads(a.body) == json.loads(b.body))
    for x, y in zip(again.responses, original.responses, strict=True):
        assert (x["status"], x["headers"]) == (y["status"], y["headers"])
        assert x["body"] == y["body"] or json.loads(x["body"]["string"]) == json.loads(y["body"]["string"])
    # Each image and each uploaded file is stored once, named by its hash, beside the cassettes.
    for f in (tmp_path / "_bodies").iterdir():
        assert f.name.startswith(hashlib.sha256(f.read_bytes()).hexdigest())


def test_a_file_sent_inline_is_stored_beside_the_cassette_and_restored_byte_for_byte(tmp_path: Path) -> None:
    original = read_cassette(SHIPPED / "fal-ai/photomaker/image-to-image.yaml")
    submit = original.requests[0]
    assert b"data:application/zip;base64," in submit.body
    text = (SHIPPED / "fal-ai/photomaker/image-to-image.yaml").read_text()
    assert "$data-uri" in text and "base64," not in text
    assert max(len(line) for line in text.splitlines()) < 2000  # no walls of base64
    copy = tmp_path / "a" / "b.yaml"
    write_cassette(original, copy, bodies_dir=tmp_path / "_bodies")
    assert json.loads(read_cassette(copy).requests[0].body) == json.loads(submit.body)


def test_a_cassette_is_read_with_the_safe_loader(copy_cassette: Callable[[str], Path]) -> None:
    path = copy_cassette("fal-ai/flux-pro/defaults.yaml")
    path.write_text(path.read_text().replace("target: emulator", "target: !!python/object/apply:os.getcwd []"))
    with pytest.raises(DataFileError, match="invalid YAML"):
        read_cassette(path)


def test_text_bodies_are_readable_blocks_in_the_file(tmp_path: Path) -> None:
    stream = b'data: {"status":"IN_QUEUE"}\n\ndata: {"status":"COMPLETED"}\n\n'
    base = read_cassette(SHIPPED / "fal-ai/flux-pro/defaults.yaml")
    cassette = Cassette(base.header, [new_request("GET", "http://queue.emulator.invalid/x/status/stream?logs=0")],
                        [new_response(200, "OK", {"content-type": ["text/event-stream"]}, stream)])
    path = write_cassette(cassette, tmp_path / "s.yaml")
    assert '      text: |+\n        data: {"status":"IN_QUEUE"}\n' in path.read_text()
    assert read_cassette(path).responses[0]["body"]["string"] == stream


def test_a_cassette_written_by_hand_without_request_headers_still_replays(tmp_path: Path) -> None:
    from harness.cassettes import replay_recorded

    original = read_cassette(SHIPPED / "fal-ai/flux-pro/defaults.yaml")
    for request in original.requests:
        request.headers = {k: v for k, v in request.headers.items() if k == "content-type"}
    path = write_cassette(original, tmp_path / "hand.yaml", bodies_dir=tmp_path / "_bodies")
    obs = replay_recorded(path)
    assert obs.error is None and obs.output["prompt"] == "a bowl of ramen, studio lighting"
