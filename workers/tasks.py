"""The Celery tasks: thin wrappers that take job ids and call one use-case each.

Task names say what they do (`kling.submit`, `kling.poll`, `store`, `sweep`); their arguments are
job ids only, never inputs or secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from orchestrator import messaging, storing, submission, sweeping, tracking
from workers.celery_app import app
from workers.providers import PROVIDERS
from workers.runtime import runtime


def _uuids(job_ids: list[str]) -> list[uuid.UUID]:
    return [uuid.UUID(job_id) for job_id in job_ids]


def submit_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    for job_id in _uuids(job_ids):
        submission.submit(rt.db, rt.http, rt.settings, job_id)


def reconcile_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    for job_id in _uuids(job_ids):
        submission.reconcile(rt.db, rt.http, rt.settings, job_id)


def poll_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    to_store = tracking.poll(rt.db, rt.http, rt.settings, _uuids(job_ids))
    if to_store:
        rt.dispatcher.send(messaging.STORE_TASK, [str(job_id) for job_id in to_store])


@app.task(name=messaging.STORE_TASK)
def store_jobs(job_ids: list[str]) -> None:
    rt = runtime()
    for job_id in _uuids(job_ids):
        storing.store(rt.db, rt.http, rt.storage, rt.settings, job_id)


@app.task(name=messaging.SWEEP_TASK)
def sweep() -> None:
    rt = runtime()
    sweeping.sweep(rt.db, rt.dispatcher, rt.settings)


def _register(name: str, body: Callable[[list[str]], None]) -> None:
    app.task(name=name)(body)


for _provider in PROVIDERS:
    _register(messaging.submit_task(_provider), submit_jobs)
    _register(messaging.reconcile_task(_provider), reconcile_jobs)
    _register(messaging.poll_task(_provider), poll_jobs)
