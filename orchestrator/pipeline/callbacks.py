"""Upstream callbacks: a provider's report about one job, found by the unguessable token in its URL.

A callback goes through the same `tracking.apply_update` as a poll, so duplicates, stale and
out-of-order reports change nothing backwards, and one for an ended job is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from orchestrator.errors import InvalidRequestError, NotFoundError
from orchestrator.lifecycle import Transition
from orchestrator.models import Job
from orchestrator.pipeline import tracking
from orchestrator.settings import Settings
from workers.providers import PROVIDERS
from workers.providers.errors import InvalidCallbackError


class InvalidCallbackBodyError(InvalidRequestError):
    code = "invalid_callback"
    http_status = 400


def handshake(session: Session, provider: str, token: str, body: bytes) -> Mapping[str, Any] | None:
    """The answer to a callback that only verifies its endpoint (MiniMax echoes a `challenge`), for a
    job that waits at this address; None when the callback is a report."""
    adapter = PROVIDERS.get(provider)
    answer = adapter.handshake(body) if adapter is not None else None
    if answer is not None:
        _waiting_job(session, provider, token)
    return answer


def _waiting_job(session: Session, provider: str, token: str) -> Row[uuid.UUID, str | None]:
    job = session.execute(
        select(Job.job_id, Job.external_id).where(Job.callback_token == token, Job.provider == provider)
    ).one_or_none()
    if provider not in PROVIDERS or job is None:
        raise NotFoundError("no job waits for a callback at this address")
    return job


def receive(
    session: Session, settings: Settings, provider: str, token: str, body: bytes
) -> Transition | None:
    """Apply a callback to the job whose token it carries; the transition it caused, if any."""
    job = _waiting_job(session, provider, token)
    adapter = PROVIDERS[provider]
    try:
        report = adapter.parse_callback(body)
    except InvalidCallbackError as exc:
        raise InvalidCallbackBodyError(str(exc)) from exc
    if report.external_id and job.external_id and report.external_id != job.external_id:
        return None  # a report about some other upstream task: never let it move this job
    return tracking.apply_update(session, settings, job.job_id, report, via_callback=True)
