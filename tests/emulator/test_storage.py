"""Storage: the v3 token, single and multipart uploads, the legacy flow, expiry and limits."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import fal_client.client as fal
import httpx
import pytest

from harness.client import ssl_context
from harness.emulator import Emulator, _storage, patch_fal_client
from harness.emulator._storage import BlobStore

from .helpers import Factory, client, submit, wait_completed

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


def _token(http: httpx.Client, emulator: Emulator) -> dict[str, str]:
    response = http.post(f"{emulator.queue_url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={})
    assert response.status_code == 200
    body: dict[str, str] = response.json()
    return body


def test_token_has_the_v3_shape(http: httpx.Client, fal_emulator: Emulator) -> None:
    token = _token(http, fal_emulator)
    assert set(token) == {"token", "token_type", "base_url", "expires_at"}
    assert token["base_url"] == fal_emulator.queue_url
    expires = datetime.fromisoformat(token["expires_at"])
    assert expires.tzinfo is not None and expires > datetime.now(UTC)


def test_single_upload_needs_the_token_and_is_served_back(http: httpx.Client, fal_emulator: Emulator) -> None:
    token = _token(http, fal_emulator)
    url = f"{token['base_url']}/files/upload"
    refused = httpx.post(url, content=b"x", headers={"Authorization": "Bearer forged.token"},
                         trust_env=False, verify=TLS)
    assert refused.status_code == 401
    uploaded = httpx.post(url, content=b"%PDF-1.4 bytes", trust_env=False, verify=TLS, headers={
        "Authorization": f"{token['token_type']} {token['token']}", "Content-Type": "application/pdf",
        "X-Fal-File-Name": "doc.pdf"})
    access_url = uploaded.json()["access_url"]
    assert access_url.endswith("/doc.pdf")
    served = httpx.get(access_url, trust_env=False, verify=TLS)
    assert (served.content, served.headers["content-type"]) == (b"%PDF-1.4 bytes", "application/pdf")


def test_multipart_upload_with_the_official_client_code(fal_emulator: Emulator) -> None:
    data = bytes(range(256)) * 40  # 10 KiB in three parts
    with patch_fal_client(fal_emulator), httpx.Client(trust_env=False, verify=TLS) as cdn:
        manager = fal.CDNTokenManager(fal.AuthCredentials("Key", fal_emulator.key))  # reads REST_URL now
        url = fal.MultipartUpload.save(client=cdn, token_manager=manager, file_name="blob.bin", data=data,
                                       content_type="application/octet-stream", chunk_size=4096)
    assert httpx.get(url, trust_env=False, verify=TLS).content == data


def test_multipart_parts_answer_etags_and_complete_checks_them(http: httpx.Client, fal_emulator: Emulator) -> None:
    token = _token(http, fal_emulator)
    auth = {"Authorization": f"Bearer {token['token']}"}
    created = httpx.post(f"{token['base_url']}/files/upload/multipart", trust_env=False, verify=TLS,
                         headers={**auth, "Content-Type": "text/plain", "X-Fal-File-Name": "parts.txt"}).json()
    base = f"{created['access_url']}/multipart/{created['uploadId']}"
    etags = [httpx.put(f"{base}/{n}", content=part, headers=auth, trust_env=False, verify=TLS).headers["etag"]
             for n, part in ((1, b"hello "), (2, b"world"))]
    assert etags[0] != etags[1] and all(e.startswith('"') for e in etags)
    wrong = httpx.post(f"{base}/complete", headers=auth, trust_env=False, verify=TLS,
                       json={"parts": [{"partNumber": 1, "etag": etags[1]}, {"partNumber": 2, "etag": etags[1]}]})
    assert wrong.status_code == 400
    done = httpx.post(f"{base}/complete", headers=auth, trust_env=False, verify=TLS,
                      json={"parts": [{"partNumber": 2, "etag": etags[1]}, {"partNumber": 1, "etag": etags[0]}]})
    assert done.json()["access_url"] == created["access_url"]
    assert httpx.get(created["access_url"], trust_env=False, verify=TLS).content == b"hello world"


def test_legacy_initiate_then_put(http: httpx.Client, fal_emulator: Emulator) -> None:
    grant = http.post(f"{fal_emulator.queue_url}/storage/upload/initiate", params={"storage_type": "gcs"},
                      json={"file_name": "a.txt", "content_type": "text/plain"}).json()
    assert set(grant) == {"upload_url", "file_url"}
    assert httpx.get(grant["file_url"], trust_env=False, verify=TLS).status_code == 404  # nothing there until the PUT
    forged = grant["upload_url"].split("?")[0] + "?upload_token=forged"
    assert httpx.put(forged, content=b"x", trust_env=False, verify=TLS).status_code == 403
    assert httpx.put(grant["upload_url"], content=b"legacy", headers={"Content-Type": "text/plain"},
                     trust_env=False, verify=TLS).status_code == 200
    assert httpx.get(grant["file_url"], trust_env=False, verify=TLS).content == b"legacy"
    assert httpx.put(grant["upload_url"], content=b"again", trust_env=False, verify=TLS).status_code == 403  # used up


def test_full_storage_answers_429(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"limits": {"max_stored_bytes": 5000}})
    with client(emulator) as http:
        token = _token(http, emulator)
        auth = {"Authorization": f"Bearer {token['token']}"}
        upload = f"{token['base_url']}/files/upload"
        assert httpx.post(upload, content=b"a" * 5000, headers=auth, trust_env=False, verify=TLS).status_code == 200
        assert httpx.post(upload, content=b"b", headers=auth, trust_env=False, verify=TLS).status_code == 429
        refused = http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "x"})
        assert refused.status_code == 429
        assert "max_stored_bytes" in refused.json()["detail"]


def test_files_and_results_expire(fal_emulator_factory: Factory) -> None:
    ttl = 1.0
    emulator = fal_emulator_factory({"time_scale": 1, "defaults": {"queue_wait": 0, "run_time": 0},
                                     "limits": {"result_ttl_seconds": ttl, "file_ttl_seconds": ttl}})
    with client(emulator) as http:
        handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "short lived"})
        wait_completed(http, handle["status_url"])
        # The emulator's clock is this process's: an answer that arrived before completion + ttl was
        # given before anything could expire (a busy machine may get there too late to see it).
        expiry_ns = emulator.timeline(handle["request_id"])["completed_ns"] + ttl * 1e9
        result = http.get(handle["response_url"])
        image_url = None
        if time.monotonic_ns() < expiry_ns:
            assert result.status_code == 200
            image_url = result.json()["images"][0]["url"]
            image = httpx.get(image_url, trust_env=False, verify=TLS)
            assert image.status_code == 200 or time.monotonic_ns() >= expiry_ns
        deadline = time.monotonic() + ttl + 5
        while http.get(handle["status_url"]).status_code != 404:
            assert time.monotonic() < deadline, "the result never expired"
            time.sleep(0.05)
        assert http.get(handle["response_url"]).status_code == 404
        if image_url is not None:
            assert httpx.get(image_url, trust_env=False, verify=TLS).status_code == 404
    truth = emulator.timeline(handle["request_id"])  # the truth outlives the result
    assert truth["expired_ns"] - truth["completed_ns"] >= ttl * 1e9


def test_a_flood_degrades_with_429_not_memory(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 1, "limits": {"max_live_requests": 5},
                                     "endpoints": {"fal-ai/flux-pro": {"runners": 1, "run_time": 5}}})
    with client(emulator) as http:
        codes = [http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": f"{i}"}).status_code
                 for i in range(12)]
        health = http.get(f"{emulator.queue_url}/_emulator/health").json()
    assert codes == [200] * 5 + [429] * 7
    assert health["live_requests"] == 5


@pytest.mark.parametrize("path", ["/files/nothere/x.png", "/files/upload/multipart"])
def test_unknown_files_are_404(fal_emulator: Emulator, path: str) -> None:
    assert httpx.get(fal_emulator.queue_url + path, trust_env=False, verify=TLS).status_code == 404


def test_the_etag_is_computed_once_when_stored() -> None:
    store = BlobStore(max_bytes=1 << 20, ttl_seconds=None)
    key = store.put(b"pixels", "image/png", "a.png")
    blob = store.get(key)
    assert blob is not None and blob.etag == f'"{hashlib.md5(b"pixels").hexdigest()}"'


def test_serving_a_file_does_not_hash_it_again(http: httpx.Client, fal_emulator: Emulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[int] = []
    real = _storage.etag_of

    def counting(data: bytes) -> str:
        hashed.append(len(data))
        return real(data)

    monkeypatch.setattr(_storage, "etag_of", counting)
    data = b"served many times" * 1000
    token = _token(http, fal_emulator)
    url = httpx.post(f"{token['base_url']}/files/upload", content=data, trust_env=False, verify=TLS, headers={
        "Authorization": f"Bearer {token['token']}", "Content-Type": "application/octet-stream"}).json()["access_url"]
    etags = {httpx.get(url, trust_env=False, verify=TLS).headers["etag"] for _ in range(3)}
    assert etags == {f'"{hashlib.md5(data).hexdigest()}"'}
    assert hashed == [len(data)]
