"""Copying a succeeded job's outputs into our storage, then settling it: succeeded and charged.

Each output is streamed from the provider into storage under its deterministic key, so a repeated
run overwrites rather than duplicates; only when every output is recorded does the job succeed. A
result link that has expired is refreshed by asking the provider for the task again.
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job, JobOutput, table
from orchestrator.pipeline.channels import channel_for
from orchestrator.pipeline.failures import failure_columns, redacted
from orchestrator.pipeline.tracking import pending_outputs
from orchestrator.schedule import after, retry_delay
from orchestrator.settings import Settings
from orchestrator.storage import Storage, StorageUnavailableError, StoredObject, output_key
from schemas.jobs import JobStatus
from workers.providers import PROVIDERS, Provider
from workers.providers.base import Channel, OutputRef, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderError

log = logging.getLogger(__name__)
S = JobStatus
CHUNK = 1 << 20
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
EXPIRED_LINK_STATUSES = frozenset({401, 403, 404, 410})
# What an upstream answers for a file it never made: an optional output so answered is left out.
ABSENT_STATUSES = frozenset({400, 404, 405, 410, 415, 422})
MAX_REDIRECTS = 5
STORAGE_RETRY_S = 8.0  # the most a store waits, jittered from half of it, while our bucket is out


class DownloadError(Exception):
    """The provider's result file could not be fetched this time."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def store(
    db: Database, http: httpx.Client, storage: Storage, settings: Settings, job_id: uuid.UUID
) -> JobStatus | None:
    """Store every output of a `storing` job; returns its state afterwards, None if it was not storing."""
    with db.transaction() as session:
        claimed = _claim(session, settings, job_id)
    if claimed is None:
        return None
    job, done = claimed
    try:
        try:
            last = _copy_all(db, http, storage, settings, job, done)
        except DownloadError as exc:
            if exc.status not in EXPIRED_LINK_STATUSES or not _refresh_links(db, http, settings, job):
                raise
            last = _copy_all(db, http, storage, settings, job, done)
    except StorageUnavailableError as exc:
        return _wait_for_storage(db, settings, job, exc)
    except (DownloadError, OSError) as exc:
        return _retry_or_fail(db, settings, job, exc)
    with db.transaction() as session:
        if last is not None:
            _record(session, job.job_id, last)
        change = Change(S.SUCCEEDED, progress=100, columns={"pending_outputs": None})
        advance(session, job_id, S.STORING, change)
    return S.SUCCEEDED


@dataclass(frozen=True)
class Copied:
    index: int
    stored: StoredObject
    label: str | None


def _copy_all(
    db: Database, http: httpx.Client, storage: Storage, settings: Settings, job: Job, done: set[int]
) -> Copied | None:
    """Copy the outputs not yet in `done`, recording each as it lands (a retry resumes after it),
    except the last: that one is returned, to be recorded with the job's success."""
    provider = PROVIDERS[job.provider]
    pending = [(index, ref) for index, ref in enumerate(job.pending_outputs or []) if index not in done]
    last: Copied | None = None
    channel = channel_for(settings, job.provider, job.channel)
    for index, pending_ref in pending:
        ref = _resolved(http, provider, channel, pending_ref)
        headers = provider.download_headers(channel) if ref.get("authenticated") else {}
        if last is not None:
            with db.transaction() as session:
                _record(session, job.job_id, last)
            done.add(last.index)
        try:
            stored = copy_output(http, storage, settings, job.job_id, index, ref, headers)
        except DownloadError as exc:
            if not (ref.get("optional") and exc.status in ABSENT_STATUSES):
                raise
            log.info(
                "job %s: optional output %s is not there (%s); left out", job.job_id, ref.get("label"), exc
            )
            continue
        last = Copied(index, stored, ref.get("label"))
    return last


def _resolved(
    http: httpx.Client, provider: Provider, channel: Channel, ref: dict[str, Any]
) -> dict[str, Any]:
    """The output's download link, asked of the provider when it gave a file reference instead."""
    if not ref.get("resolve"):
        return ref
    try:
        link = provider.resolve_output(http, channel, OutputRef(**ref))
    except ProviderError as exc:
        raise DownloadError(f"the provider gave no link to the result file: {exc}") from exc
    return {**ref, "url": link.url, "authenticated": link.authenticated, "resolve": False}


def _refresh_links(db: Database, http: httpx.Client, settings: Settings, job: Job) -> bool:
    """Ask the provider for fresh result links (Runway's expire within a day or two)."""
    provider = PROVIDERS[job.provider]
    task = TaskRef(job_id=str(job.job_id), operation=job.operation, external_id=job.external_id or "")
    try:
        report = provider.poll(http, channel_for(settings, job.provider, job.channel), task)
    except ProviderError as exc:
        log.warning("could not refresh result links of job %s: %s", job.job_id, redacted(settings, str(exc)))
        return False
    if report.status is not UpstreamStatus.SUCCEEDED or not report.outputs:
        return False
    job.pending_outputs = pending_outputs(report.outputs)
    with db.transaction() as session:
        session.execute(
            update(Job).where(Job.job_id == job.job_id).values(pending_outputs=job.pending_outputs)
        )
    return True


def _claim(session: Session, settings: Settings, job_id: uuid.UUID) -> tuple[Job, set[int]] | None:
    """Lease the storing job; returns it with the indexes of the outputs an earlier run recorded."""
    lease = after(datetime.now(UTC), settings.store_lease_s)
    job = session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.state == S.STORING.value)
        .values(store_attempts=Job.store_attempts + 1, next_check_at=lease)
        .returning(Job)
    ).scalar_one_or_none()
    if job is None:
        return None
    done = session.execute(select(JobOutput.output_index).where(JobOutput.job_id == job_id)).scalars()
    return job, set(done)


def copy_output(
    http: httpx.Client,
    storage: Storage,
    settings: Settings,
    job_id: uuid.UUID,
    index: int,
    ref: dict[str, Any],
    headers: Mapping[str, str],
) -> StoredObject:
    url = str(ref["url"])
    if url.startswith("data:"):
        content_type, payload = _parse_data_url(url)
        return storage.put_stream(output_key(job_id, index, content_type), iter([payload]), content_type)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with http.stream(
                "GET", url, headers=dict(headers), timeout=settings.download_timeout_s
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    next_url = str(response.url.join(response.headers["location"]))
                    # Credentials go only to the host they are for, never along a redirect elsewhere.
                    if httpx.URL(next_url).netloc != response.url.netloc:
                        headers = {}
                    url = next_url
                    continue
                if response.status_code != 200:
                    raise DownloadError(
                        f"result file answered HTTP {response.status_code}", status=response.status_code
                    )
                content_type = _content_type(response, ref)
                chunks: Iterator[bytes] = response.iter_bytes(CHUNK)
                return storage.put_stream(output_key(job_id, index, content_type), chunks, content_type)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a malformed link is the provider's fault too
        raise DownloadError(f"result file download failed: {type(exc).__name__}: {exc}") from exc
    raise DownloadError(f"result file redirected more than {MAX_REDIRECTS} times")


def _parse_data_url(url: str) -> tuple[str, bytes]:
    """A `data:` URL (how adapters hand over text results such as lyrics) as (type, bytes)."""
    header, _, data = url[len("data:") :].partition(",")
    parts = header.split(";")
    content_type = parts[0] or "text/plain"
    try:
        payload = base64.b64decode(data, validate=True) if "base64" in parts[1:] else unquote_to_bytes(data)
    except binascii.Error as exc:
        raise DownloadError(f"inline result is not valid base64: {exc}") from exc
    return content_type, payload


def _content_type(response: httpx.Response, ref: dict[str, Any]) -> str:
    header = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
    if header not in GENERIC_TYPES:
        return header
    hinted = ref.get("content_type") or mimetypes.guess_type(str(response.url.path))[0]
    return str(hinted or "application/octet-stream")


def _record(session: Session, job_id: uuid.UUID, copied: Copied) -> None:
    stored = copied.stored
    values = {
        "storage_key": stored.key,
        "content_type": stored.content_type,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
        "label": copied.label,
    }
    session.execute(_RECORD_OUTPUT, {"job_id": job_id, "output_index": copied.index, **values})


_outputs = table(JobOutput)
_upsert = insert(_outputs)
# A repeated store overwrites the output's row, as it overwrote the object.
_RECORD_OUTPUT = _upsert.on_conflict_do_update(
    index_elements=[_outputs.c.job_id, _outputs.c.output_index],
    set_={
        name: _upsert.excluded[name]
        for name in ("storage_key", "content_type", "size_bytes", "sha256", "label")
    },
)


def _wait_for_storage(db: Database, settings: Settings, job: Job, exc: Exception) -> JobStatus:
    """Our own bucket is out: try again shortly, and give back the attempt the claim took, so an
    outage of ours never fails a job that succeeded upstream."""
    log.warning("storing job %s waits for storage: %s", job.job_id, redacted(settings, str(exc)))
    when = after(datetime.now(UTC), retry_delay(1, base_s=STORAGE_RETRY_S))
    with db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.job_id == job.job_id, Job.state == S.STORING.value)
            .values(store_attempts=Job.store_attempts - 1, next_check_at=when)
        )
    return S.STORING


def _retry_or_fail(db: Database, settings: Settings, job: Job, exc: Exception) -> JobStatus:
    with db.transaction() as session:
        if job.store_attempts >= settings.max_store_attempts:
            columns = failure_columns(settings, "storage_failed", str(exc))
            advance(session, job.job_id, S.STORING, Change(S.FAILED, columns=columns))
            return S.FAILED
        error = redacted(settings, str(exc))
        log.warning(
            "storing job %s failed (attempt %s), will retry: %s", job.job_id, job.store_attempts, error
        )
        when = after(datetime.now(UTC), retry_delay(job.store_attempts))
        session.execute(update(Job).where(Job.job_id == job.job_id).values(next_check_at=when))
    return S.STORING
