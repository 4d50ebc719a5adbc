"""The Celery tasks: thin wrappers that take job ids and call one use-case each.

Task names say what they do (`kling.submit`, `kling.poll`, `store`, `sweep`); their arguments are
job ids only, never inputs or secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from orchestrator import messaging
from orchestrator.db import DATABASE_OUTAGES
from orchestrator.pipeline import (
    batching,
    reconciliation,
    retention,
    storing,
    submission,
    sweeping,
    tracking,
    webhooks,
)
from workers.celery_app import app
from workers.providers import PROVIDERS
from workers.providers.errors import ProviderUnavailableError
from workers.runtime import runtime

# A task cut off by a database outage runs again seconds later, then up to half a minute apart: each of
# its transactions rolled back whole and every task is safe to run twice, so its jobs go on as soon as
# PostgreSQL is back rather than when their lease runs out (up to minutes for a store). After the last
# retry the lease still brings each job back through the sweep.
OUTAGE_RETRIES: dict[str, Any] = {
    "autoretry_for": DATABASE_OUTAGES,
    "max_retries": 20,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
}


def _uuids(job_ids: list[str]) -> list[uuid.UUID]:
    return [uuid.UUID(job_id) for job_id in job_ids]


def submit_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    for job_id in _uuids(job_ids):
        submission.submit(rt.db, rt.http, rt.settings, job_id)


def admit_jobs(providers: list[str]) -> None:
    """Let in jobs that waited for capacity (an admission tick of the sweep)."""
    rt = runtime()
    for provider in providers:
        submission.admit_waiting(rt.db, rt.http, rt.settings, provider)


def reconcile_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    for job_id in _uuids(job_ids):
        reconciliation.reconcile(rt.db, rt.http, rt.settings, job_id)


def cancel_jobs(job_ids: list[str]) -> None:
    """Best effort: the job is already cancelled and released; this only stops the upstream work."""
    rt = runtime()
    for job_id in _uuids(job_ids):
        submission.cancel_upstream(rt.db, rt.http, rt.settings, job_id)


def poll_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    to_store = tracking.poll(rt.db, rt.http, rt.settings, _uuids(job_ids))
    if to_store:
        rt.dispatcher.send(messaging.STORE_TASK, [str(job_id) for job_id in to_store])


@app.task(name=messaging.STORE_TASK, **OUTAGE_RETRIES)
def store_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    for job_id in _uuids(job_ids):
        storing.store(rt.db, rt.http, rt.storage, rt.settings, job_id)


@app.task(name=messaging.DELIVER_TASK, **OUTAGE_RETRIES)
def deliver_events(event_ids: list[str]) -> None:
    rt = runtime()
    for event_id in _uuids(event_ids):
        webhooks.deliver(rt.db, rt.http, rt.storage, rt.settings, event_id)


@app.task(name=messaging.EXPAND_BATCHES_TASK, **OUTAGE_RETRIES)
def expand_batches(batch_ids: list[str]) -> None:
    rt = runtime()
    for batch_id in _uuids(batch_ids):
        batching.expand(rt.db, rt.dispatcher, rt.settings, rt.prices, batch_id)


@app.task(name=messaging.SWEEP_TASK)
def sweep() -> None:
    rt = runtime()
    sweeping.sweep(rt.db, rt.dispatcher, rt.settings)
    retention.expire_outputs(rt.db, rt.storage, rt.settings)
    retention.clear_inputs(rt.db, rt.settings)


def _register(name: str, body: Callable[[list[str]], None], **options: Any) -> None:
    app.task(name=name, **options)(body)


for _provider in PROVIDERS:
    _register(messaging.submit_task(_provider), submit_jobs, **OUTAGE_RETRIES)
    _register(messaging.reconcile_task(_provider), reconcile_jobs, **OUTAGE_RETRIES)
    _register(messaging.admit_task(_provider), admit_jobs, **OUTAGE_RETRIES)
    _register(messaging.poll_task(_provider), poll_jobs, **OUTAGE_RETRIES)
    # A refused or unreachable upstream cancel is retried a few times, minutes apart at most.
    _register(
        messaging.cancel_task(_provider),
        cancel_jobs,
        autoretry_for=(ProviderUnavailableError, *DATABASE_OUTAGES),
        max_retries=3,
        retry_backoff=5,
        retry_backoff_max=120,
    )
