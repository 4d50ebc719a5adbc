"""Copying a succeeded job's outputs into our storage, then settling it: succeeded and charged.

Each output is streamed from the provider into storage under its deterministic key, so a repeated
run overwrites rather than duplicates; only when every output is recorded does the job succeed.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job, JobOutput
from orchestrator.schedule import after, retry_delay
from orchestrator.settings import Settings
from orchestrator.storage import Storage, StoredObject, output_key
from schemas.jobs import JobStatus

log = logging.getLogger(__name__)
S = JobStatus
CHUNK = 1 << 20
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}


class DownloadError(Exception):
    """The provider's result file could not be fetched this time."""


def store(
    db: Database, http: httpx.Client, storage: Storage, settings: Settings, job_id: uuid.UUID
) -> JobStatus | None:
    """Store every output of a `storing` job; returns its state afterwards, None if it was not storing."""
    with db.transaction() as session:
        job = _claim(session, settings, job_id)
    if job is None:
        return None
    with db.transaction() as session:
        done = set(
            session.execute(select(JobOutput.output_index).where(JobOutput.job_id == job_id)).scalars()
        )
    try:
        for index, ref in enumerate(job.pending_outputs or []):
            if index not in done:
                stored = _copy(http, storage, settings, job_id, index, ref)
                with db.transaction() as session:
                    _record(session, job_id, index, stored)
    except (DownloadError, OSError) as exc:
        return _retry_or_fail(db, settings, job, exc)
    with db.transaction() as session:
        advance(
            session,
            job_id,
            S.STORING,
            Change(S.SUCCEEDED, progress=100, columns={"pending_outputs": None}),
        )
    return S.SUCCEEDED


def _claim(session: Session, settings: Settings, job_id: uuid.UUID) -> Job | None:
    lease = after(datetime.now(UTC), settings.store_lease_s)
    return session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.state == S.STORING.value)
        .values(store_attempts=Job.store_attempts + 1, next_check_at=lease)
        .returning(Job)
    ).scalar_one_or_none()


def _copy(
    http: httpx.Client,
    storage: Storage,
    settings: Settings,
    job_id: uuid.UUID,
    index: int,
    ref: dict[str, Any],
) -> StoredObject:
    try:
        with http.stream(
            "GET", ref["url"], timeout=settings.download_timeout_s, follow_redirects=True
        ) as response:
            if response.status_code != 200:
                raise DownloadError(f"result file answered HTTP {response.status_code}")
            content_type = _content_type(response, ref)
            return storage.put_stream(
                output_key(job_id, index, content_type), response.iter_bytes(CHUNK), content_type
            )
    except httpx.HTTPError as exc:
        raise DownloadError(f"result file download failed: {type(exc).__name__}: {exc}") from exc


def _content_type(response: httpx.Response, ref: dict[str, Any]) -> str:
    header = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
    if header not in GENERIC_TYPES:
        return header
    hinted = ref.get("content_type") or mimetypes.guess_type(str(response.url.path))[0]
    return str(hinted or "application/octet-stream")


def _record(session: Session, job_id: uuid.UUID, index: int, stored: StoredObject) -> None:
    values = {
        "storage_key": stored.key,
        "content_type": stored.content_type,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
    }
    session.execute(
        insert(JobOutput)
        .values(job_id=job_id, output_index=index, **values)
        .on_conflict_do_update(index_elements=[JobOutput.job_id, JobOutput.output_index], set_=values)
    )


def _retry_or_fail(db: Database, settings: Settings, job: Job, exc: Exception) -> JobStatus:
    with db.transaction() as session:
        if job.store_attempts >= settings.max_store_attempts:
            change = Change(
                S.FAILED, columns={"error_code": "storage_failed", "error_message": str(exc)[:500]}
            )
            advance(session, job.job_id, S.STORING, change)
            return S.FAILED
        log.warning(
            "storing job %s failed (attempt %s), will retry: %s",
            job.job_id,
            job.store_attempts,
            exc,
        )
        when = after(datetime.now(UTC), retry_delay(job.store_attempts))
        session.execute(update(Job).where(Job.job_id == job.job_id).values(next_check_at=when))
    return S.STORING
