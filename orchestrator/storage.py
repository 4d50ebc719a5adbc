"""Result storage: S3/R2-compatible buckets or a local directory, the one function that names keys,
and the URLs clients download from (presigned, or signed links the API serves)."""

from __future__ import annotations

import hashlib
import hmac
import io
import mimetypes
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, urlencode

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MAX_PRESIGN_S = 604_800  # SigV4's limit: 7 days
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
EXTENSIONS = {
    "video/mp4": ".mp4",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "text/plain": ".txt",
    "application/json": ".json",
}


class StorageUnavailableError(Exception):
    """genrelay's own bucket could not be reached or refused a write: nothing is wrong with the job,
    so it is retried without spending one of its attempts."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    sha256: str
    content_type: str


class Storage(Protocol):
    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject: ...

    def download_url(self, key: str, *, expires_in: int) -> str: ...

    def delete(self, keys: Sequence[str]) -> None:
        """Remove these objects; one already gone is not an error."""

    def check(self) -> None:
        """Raise when the storage cannot be reached."""
        ...


def output_key(job_id: uuid.UUID, index: int, content_type: str) -> str:
    """The storage key of a job's output: the only place keys are made."""
    extension = EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"
    return f"jobs/{job_id}/{index}{extension}"


class HashingReader(io.RawIOBase):
    """A file-like view of a chunk stream that counts and hashes what passes through."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self.sha256.update(self._pending[:count])
        self.size += count
        self._pending = self._pending[count:]
        return count


class LocalStorage:
    """Files under a directory, served by the API at `/v1/files/{key}` behind an HMAC-signed link."""

    def __init__(self, root: Path, public_base_url: str, signing_key: bytes) -> None:
        self.root = root.resolve()
        self.public_base_url = public_base_url.rstrip("/")
        self._signing_key = signing_key

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        reader = HashingReader(chunks)
        try:
            with partial.open("wb") as sink:
                while block := reader.read(1 << 20):
                    sink.write(block)
            os.replace(partial, path)  # readers never see a half-written file
        finally:
            partial.unlink(missing_ok=True)
        return StoredObject(key, reader.size, reader.sha256.hexdigest(), content_type)

    def download_url(self, key: str, *, expires_in: int) -> str:
        expires = int(time.time()) + min(expires_in, MAX_PRESIGN_S)
        query = urlencode({"expires": expires, "signature": self._sign(key, expires)})
        return f"{self.public_base_url}/v1/files/{quote(key)}?{query}"

    def verify(self, key: str, expires: int, signature: str) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII text, and a link's signature is user input.
        return expires >= time.time() and hmac.compare_digest(
            self._sign(key, expires).encode(), signature.encode()
        )

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.path_for(key).unlink(missing_ok=True)

    def path_for(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} escapes the storage root")
        return path

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise OSError(f"storage directory {self.root} is not writable")

    def _sign(self, key: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()


class S3Storage:
    """Any S3-compatible bucket: AWS S3, Cloudflare R2, MinIO."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        reader = HashingReader(chunks)
        try:
            # upload_fileobj streams in parts, so a large video is never whole in memory.
            self._client.upload_fileobj(
                io.BufferedReader(reader), self.bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except (BotoCoreError, ClientError) as exc:  # after boto3's own retries
            raise StorageUnavailableError(f"bucket {self.bucket}: {type(exc).__name__}: {exc}") from exc
        return StoredObject(key, reader.size, reader.sha256.hexdigest(), content_type)

    def download_url(self, key: str, *, expires_in: int) -> str:
        return self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=min(expires_in, MAX_PRESIGN_S),
        )

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), S3_DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in keys[start : start + S3_DELETE_BATCH]
            ]
            answer = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise OSError(f"could not delete {first.get('Key')}: {first.get('Message')}")

    def check(self) -> None:
        self._client.head_bucket(Bucket=self.bucket)

    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self.bucket)


def s3_client(settings: Settings) -> S3Client:
    config = BotoConfig(
        s3={"addressing_style": settings.s3_addressing_style},
        signature_version="s3v4",  # R2 and modern S3 accept only SigV4 presigned URLs
        # R2 rejects the aws-chunked checksum trailers boto3 >= 1.36 adds by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
    )
    key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )


def build_storage(settings: Settings) -> LocalStorage | S3Storage:
    if settings.storage_backend == "s3":
        assert settings.s3_bucket is not None  # checked by Settings
        return S3Storage(s3_client(settings), settings.s3_bucket)
    return LocalStorage(
        settings.local_storage_dir,
        settings.public_base_url,
        settings.url_signing_key.get_secret_value().encode(),
    )
