"""Result storage: local directory and S3 through moto's server, streamed, hashed, served by URL."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.settings import Settings
from orchestrator.storage import (
    MAX_PRESIGN_S,
    LocalStorage,
    S3Storage,
    StorageUnavailableError,
    build_storage,
    output_key,
)

PAYLOAD = [bytes([n % 251]) * 70_000 for n in range(40)]  # 2.8 MB in 40 chunks
DIGEST = hashlib.sha256(b"".join(PAYLOAD)).hexdigest()


def chunks() -> Iterator[bytes]:
    yield from PAYLOAD


def test_storage_keys_are_per_job_and_typed() -> None:
    job_id = uuid.UUID("01937c2e-0000-7000-8000-000000000000")
    assert output_key(job_id, 0, "video/mp4") == f"jobs/{job_id}/0.mp4"
    assert output_key(job_id, 1, "audio/mpeg") == f"jobs/{job_id}/1.mp3"
    assert output_key(job_id, 2, "application/x-unknown") == f"jobs/{job_id}/2.bin"


def test_storage_local_streams_hashes_and_signs(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, "http://api.test", b"k")
    stored = storage.put_stream("jobs/j/0.mp4", chunks(), "video/mp4")
    assert stored.size_bytes == sum(map(len, PAYLOAD))
    assert stored.sha256 == DIGEST
    assert hashlib.sha256(storage.path_for("jobs/j/0.mp4").read_bytes()).hexdigest() == DIGEST
    assert not list(tmp_path.rglob("*.partial"))
    query = parse_qs(urlparse(storage.download_url("jobs/j/0.mp4", expires_in=60)).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    assert storage.verify("jobs/j/0.mp4", expires, signature)
    assert not storage.verify("jobs/j/1.mp4", expires, signature)
    assert not storage.verify("jobs/j/0.mp4", expires - 3600, signature)
    with pytest.raises(ValueError, match="escapes"):
        storage.path_for("../outside")


def test_storage_local_files_are_served_by_the_api_only_with_a_valid_link(
    make_settings: Callable[..., Settings], api: TestClient
) -> None:
    storage = build_storage(make_settings())
    assert isinstance(storage, LocalStorage)
    storage.put_stream("jobs/j/0.mp4", chunks(), "video/mp4")
    url = urlparse(storage.download_url("jobs/j/0.mp4", expires_in=60))
    good = api.get(f"{url.path}?{url.query}")
    assert good.status_code == 200
    assert hashlib.sha256(good.content).hexdigest() == DIGEST
    forged = api.get(url.path, params={"expires": 9_999_999_999, "signature": "00"})
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "unauthenticated"


@pytest.fixture
def s3_settings(make_settings: Callable[..., Settings], s3_endpoint: str) -> Settings:
    return make_settings(
        storage_backend="s3",
        s3_bucket=f"results-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_addressing_style="path",
    )


def test_storage_s3_streams_through_moto_and_presigns(s3_settings: Settings) -> None:
    storage = build_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    storage.ensure_bucket()
    stored = storage.put_stream("jobs/j/0.mp4", chunks(), "video/mp4")
    assert stored.sha256 == DIGEST
    url = storage.download_url("jobs/j/0.mp4", expires_in=10 * MAX_PRESIGN_S)
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == [str(MAX_PRESIGN_S)]  # capped at 7 days
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert hashlib.sha256(response.content).hexdigest() == DIGEST
    storage.check()


def test_storage_delete_removes_objects_and_tolerates_gone_ones(
    s3_settings: Settings, tmp_path: Path
) -> None:
    s3 = build_storage(s3_settings)
    assert isinstance(s3, S3Storage)
    s3.ensure_bucket()
    local = LocalStorage(tmp_path, "http://api.test", b"k")
    for storage in (s3, local):
        keys = [f"jobs/j/{n}.mp4" for n in range(3)]
        for key in keys:
            storage.put_stream(key, chunks(), "video/mp4")
        storage.delete([*keys[:2], "jobs/j/never-stored.mp4"])
        storage.delete(keys[:1])  # again: already gone
        if storage is local:
            assert [local.path_for(key).exists() for key in keys] == [False, False, True]
        else:
            gone = [httpx.get(s3.download_url(key, expires_in=60)).status_code for key in keys]
            assert gone == [404, 404, 200]


@pytest.mark.parametrize(
    "url", ["http://\x00/file.mp4", "http://exa\nmple.com/file.mp4", "http://[not-a-host/x"]
)
def test_storage_a_malformed_result_link_is_a_download_failure(
    url: str, make_settings: Callable[..., Settings]
) -> None:
    """A provider's malformed link fails the download (retried, then the job fails and is released)
    rather than the store task itself."""
    from orchestrator.pipeline.storing import DownloadError, copy_output

    settings = make_settings()
    with httpx.Client() as http, pytest.raises(DownloadError, match="download failed"):
        copy_output(http, build_storage(settings), settings, uuid.uuid4(), 0, {"url": url}, {})


@pytest.mark.parametrize("size", [1000, 20 << 20], ids=["one part", "multipart"])
def test_storage_s3_a_download_broken_midway_stays_a_download_error(s3_settings: Settings, size: int) -> None:
    """The provider's stream failing while it is uploaded surfaces as its own error, which a store
    counts against the job's attempts, not as an outage of our bucket, which it would not."""
    storage = build_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    storage.ensure_bucket()

    def broken() -> Iterator[bytes]:
        yield b"x" * size
        raise httpx.ReadError("the provider's server went away")

    with pytest.raises(httpx.ReadError):
        storage.put_stream("jobs/j/0.mp4", broken(), "video/mp4")


def test_storage_s3_an_unreachable_bucket_is_an_outage_of_ours(s3_settings: Settings) -> None:
    settings = s3_settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9"})  # refused
    with pytest.raises(StorageUnavailableError, match=s3_settings.s3_bucket):
        build_storage(settings).put_stream("jobs/j/0.mp4", chunks(), "video/mp4")
