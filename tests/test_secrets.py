"""The secrets guard through its public behaviour: which forms of a key are found and redacted (each
made here with the standard library, the way a log, a URL, a JSON body or a base64 blob would hold
it), what is too short to be a key, keys from the environment, what a refused write says and leaves
behind, and how written URLs lose their tokens and passwords."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from harness._errors import ConfigError
from harness._secrets import (
    REDACTED,
    SecretLeak,
    Secrets,
    ensure_clean,
    find_secrets,
    redact,
    redact_url,
    write_scrubbed,
)

# a secret with every kind of character an encoding treats apart: reserved, space, quote, non-ASCII
# (and "~~~???", whose base64 holds + and /, the characters URL-safe base64 writes as - and _)
KEY_ID, SECRET = "5f3e2a1b-key", 's3cr/t v@"lue+=é~~~???'

KEY = f"{KEY_ID}:{SECRET}"


@pytest.fixture(autouse=True)
def _no_environment_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_KEY_SECRET", raising=False)


def _lower_escapes(encoded: str) -> str:
    """Percent-encoding with lower-case hex digits, as some clients write it."""
    head, *rest = encoded.split("%")
    return "%".join([head, *(part[:2].lower() + part[2:] for part in rest)])


def encodings(value: str) -> dict[str, str]:
    """``value`` as each kind of written text holds it."""
    once = quote(value, safe="")
    return {
        "plain": value,
        "url-encoded": once,
        "url-encoded (lower-case)": _lower_escapes(once),
        "url-encoded (path)": quote(value),
        "form-encoded": quote_plus(value),
        "url-encoded twice": quote(once, safe=""),
        "url-encoded twice (lower-case)": quote(_lower_escapes(once), safe=""),
        "form-encoded twice": quote_plus(quote_plus(value)),
        "json-escaped": json.dumps(value)[1:-1],
        "hex": value.encode().hex(),
        "hex (upper-case)": value.encode().hex().upper(),
    }


@pytest.mark.parametrize("form", list(encodings(SECRET)))
def test_each_textual_form_of_a_key_is_found_and_redacted(form: str) -> None:
    secrets = Secrets([KEY])
    text = encodings(SECRET)[form]
    written = f"before {text} after"
    assert form in secrets.find(written)
    assert secrets.redact(written) == f"before {REDACTED} after"
    assert secrets.redact_bytes(written.encode()) == f"before {REDACTED} after".encode()


def test_the_whole_key_with_its_id_is_redacted_as_one() -> None:
    secrets = Secrets([KEY])
    assert secrets.redact(f"Authorization: Key {KEY}") == f"Authorization: Key {REDACTED}"
    assert secrets.redact(f"id {KEY_ID} alone") == f"id {KEY_ID} alone"  # the id part is no secret
    assert secrets.find(KEY) == ["plain"]


@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz", b"wxyz", b"\xff\x00\x7f"],
                         ids=["start", "after-1", "after-2", "after-3", "after-4", "after-binary"])
@pytest.mark.parametrize("after", [b"", b"!", b"\x00\xff", b"tail end"],
                         ids=["end", "then-1", "then-binary", "then-text"])
def test_a_key_inside_base64_is_found_wherever_it_sits(before: bytes, after: bytes) -> None:
    secrets = Secrets([KEY])
    blob = before + SECRET.encode() + after
    assert base64.b64encode(blob) != base64.urlsafe_b64encode(blob)
    for encoded in (base64.b64encode(blob), base64.urlsafe_b64encode(blob)):
        assert "base64" in secrets.find(encoded), (before, after)
        redacted = secrets.redact_bytes(encoded)
        assert REDACTED.encode() in redacted and "base64" not in secrets.find(redacted)


def test_an_authorization_header_in_base64_is_redacted_as_one_run() -> None:
    secrets = Secrets([KEY])
    header = base64.b64encode(f"Key {SECRET}".encode()).decode()
    redacted = secrets.redact(f"[{header}]")
    # of the encoding only the last character (it mixes in what follows) and the padding are left
    assert redacted.startswith(f"[{REDACTED}") and len(redacted) <= len(f"[{REDACTED}]") + 3


def test_values_shorter_than_eight_characters_are_no_secrets() -> None:
    assert not Secrets(["", None, "short", "1234567"])  # type: ignore[list-item]
    assert Secrets(["12345678"]).find("x12345678x") == ["plain"]
    # an id:secret key whose secret part is short registers only the whole key
    secrets = Secrets(["a-long-key-id:abc"])
    assert secrets.find("abc only") == [] and secrets.find("a-long-key-id:abc") == ["plain"]


def test_the_secret_part_is_everything_after_the_first_colon() -> None:
    secrets = Secrets(["key-id:secret:with-colons"])
    assert secrets.redact("x secret:with-colons y") == f"x {REDACTED} y"


def test_a_key_whose_whole_is_already_known_still_registers_its_secret_part() -> None:
    secrets = Secrets(["outer-id:inner-id:the-secret-part"])  # registers "inner-id:the-secret-part" too
    secrets.register("inner-id:the-secret-part")
    assert secrets.redact("x the-secret-part y") == f"x {REDACTED} y"


def test_the_process_wide_registry_holds_what_targets_register() -> None:
    from harness._secrets import register_secret

    value = f"registered-{os.getpid()}-{id(object())}"
    assert find_secrets(value) == []
    register_secret(value)
    assert find_secrets(f"a {value} b") == ["plain"] and redact(f"a {value} b") == f"a {REDACTED} b"


def test_registering_a_key_twice_adds_no_form() -> None:
    secrets = Secrets([KEY])
    before = secrets.forms()
    secrets.register(KEY)
    secrets.register(SECRET)
    assert secrets.forms() == before
    assert len({data for _, data in before}) == len(before)


def test_forms_are_tried_longest_first() -> None:
    lengths = [len(data) for _, data in Secrets([KEY]).forms()]
    assert lengths == sorted(lengths, reverse=True)


def test_a_key_that_needs_no_encoding_has_one_form_for_all_the_url_encodings() -> None:
    names = [name for name, _ in Secrets(["plainkeyvalue"]).forms()]
    assert names.count("plain") == 1 and "url-encoded" not in names and "form-encoded" not in names
    assert {"plain", "hex", "hex (upper-case)", "base64"} <= set(names)


def test_the_environment_keys_count_whether_registered_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = Secrets(["registered-key-1"])
    assert registered.with_environment() is registered  # nothing in the environment: the same set
    monkeypatch.setenv("FAL_KEY", "environment-key-1")
    monkeypatch.setenv("FAL_KEY_SECRET", "environment-key-2")
    merged = registered.with_environment()
    assert merged.find("registered-key-1 environment-key-1 environment-key-2") == ["plain"]
    assert registered.find("environment-key-1") == []  # the registry itself is unchanged
    assert find_secrets("environment-key-2 here", registered) == ["plain"]
    assert redact("a environment-key-1 b", registered) == f"a {REDACTED} b"


def test_a_write_holding_a_key_names_the_file_and_the_forms_and_writes_nothing(tmp_path: Path) -> None:
    secrets = Secrets([KEY])
    with pytest.raises(SecretLeak) as raised:
        ensure_clean(f"{SECRET} {quote(SECRET, safe='')}", tmp_path / "x.json", secrets)
    assert str(raised.value) == (f"refusing to write {tmp_path / 'x.json'}: it would contain a secret "
                                 "(plain, url-encoded form); nothing was written")
    ensure_clean("nothing secret", tmp_path / "x.json", secrets)


def test_text_is_redacted_then_written(tmp_path: Path) -> None:
    secrets = Secrets([KEY])
    path = tmp_path / "deep" / "deeper" / "report.md"
    assert write_scrubbed(path, f"key {SECRET} and {quote(SECRET, safe='')}", secrets) == path.resolve()
    assert path.read_text() == f"key {REDACTED} and {REDACTED}"
    write_scrubbed(path, b"bytes too: " + SECRET.encode(), secrets)
    assert path.read_bytes() == b"bytes too: " + REDACTED.encode()
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]  # no temporary file left


def test_binary_data_holding_a_key_is_refused_and_the_old_file_kept(tmp_path: Path) -> None:
    secrets = Secrets([KEY])
    path = tmp_path / "image.png"
    path.write_bytes(b"old picture")
    with pytest.raises(SecretLeak, match=r"^refusing to write .*image\.png: it would contain a secret \(plain form\)"):
        write_scrubbed(path, b"\x89PNG\xff\xfe" + SECRET.encode(), secrets)
    assert path.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["image.png"]
    write_scrubbed(path, b"\x89PNG\xff\xfe clean", secrets)  # binary without a key is written as it is
    assert path.read_bytes() == b"\x89PNG\xff\xfe clean"


def test_a_rewritten_file_keeps_its_permissions_and_a_symlink_its_link(tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert write_scrubbed(link, "new", Secrets()) == target.resolve()
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_folder_or_fifo_is_never_replaced(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        write_scrubbed(tmp_path, "x", Secrets())
    assert str(raised.value) == (f"cannot write {tmp_path}: it is a folder, and only regular files are written "
                                 "(nothing was replaced)")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="it is a FIFO, and only regular files are written"):
        write_scrubbed(fifo, "x", Secrets())
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_device_or_socket_is_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    # A device of our own, never a real one: a mutated guard would replace it. The file system is
    # asked about it as about a character device.
    device = tmp_path / "device"
    device.write_text("")
    real_stat = os.stat
    names = {str(device), os.path.realpath(device)}

    def stat_of(path: object, *args: object, **kwargs: object) -> os.stat_result:
        found = real_stat(path, *args, **kwargs)  # type: ignore[arg-type]
        if str(path) in names:
            return os.stat_result((stat.S_IFCHR | 0o666, *tuple(found)[1:]))
        return found

    monkeypatch.setattr(os, "stat", stat_of)
    with pytest.raises(ConfigError) as raised:
        write_scrubbed(device, "x", Secrets())
    assert str(raised.value) == (f"cannot write {device}: it is a device, and only regular files are written "
                                 "(nothing was replaced)")
    monkeypatch.undo()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(ConfigError) as raised:
            write_scrubbed(tmp_path / "sock", "x", Secrets())
    assert str(raised.value) == (f"cannot write {tmp_path / 'sock'}: it is not a regular file, and only regular "
                                 "files are written (nothing was replaced)")


def test_a_failed_write_names_the_path_as_given_and_leaves_nothing(tmp_path: Path) -> None:
    # a link to a name too long for a temporary file beside it: the write fails where it lands
    target = tmp_path / ("n" * 250)
    link = tmp_path / "short.txt"
    link.symlink_to(target)
    with pytest.raises(ConfigError) as raised:
        write_scrubbed(link, "x", Secrets())
    assert str(raised.value) == f"cannot write {link}: File name too long"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.txt"]


def test_an_interrupted_write_is_not_hidden_by_its_cleanup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "mkdir", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_scrubbed(tmp_path / "new" / "out.json", "{}", Secrets())


def test_a_write_the_system_refuses_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError) as raised:
        write_scrubbed(tmp_path / "a-file" / "out.json", "{}", Secrets())
    assert str(raised.value) == f"cannot write {tmp_path / 'a-file' / 'out.json'}: Not a directory"


@pytest.mark.parametrize(("url", "written"), [
    ("https://v3.fal.media/files/a.png", "https://v3.fal.media/files/a.png"),
    ("https://x/a.png?token=abc&logs=1&storage_type=gcs", f"https://x/a.png?token={REDACTED}&logs=1&storage_type=gcs"),
    ("https://x/a.png?X-Goog-Signature=abc&Expires=9", f"https://x/a.png?X-Goog-Signature={REDACTED}&Expires={REDACTED}"),
    ("https://x/hook?logs=1", "https://x/hook?logs=1"),
    (f"https://x/a?sig={REDACTED}", f"https://x/a?sig={REDACTED}"),  # already redacted: left as it is
    ("https://x/a?empty=", f"https://x/a?empty={REDACTED}"),
    ("https://user:pass@proxy:8080/p?logs=1#frag", f"https://user:{REDACTED}@proxy:8080/p?logs=1#frag"),
    ("https://token@proxy/p", f"https://{REDACTED}@proxy/p"),
    ("https://user:p@ss:w@rd@proxy/p", f"https://user:{REDACTED}@proxy/p"),  # a password holding @ and :
    ("https://x/a?logs=a%20b&storage_type=gcs", "https://x/a?logs=a%20b&storage_type=gcs"),  # nothing to redact
])
def test_a_written_url_loses_its_tokens_and_passwords(url: str, written: str) -> None:
    assert redact_url(url) == written


def test_a_url_that_does_not_parse_is_still_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", "environment-key-1")
    assert redact_url("http://[::1/x?environment-key-1") == f"http://[::1/x?{REDACTED}"
