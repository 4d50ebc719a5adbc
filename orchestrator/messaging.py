"""How genrelay talks to the broker: task and queue names, the shared Celery settings, and the
`Dispatcher` that publishes work by name.

A publish that fails only delays work: the job row is the record, and the sweep re-dispatches any
job whose `next_check_at` passes, so the broker being down never loses a job.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from celery import Celery

log = logging.getLogger(__name__)

STORE_TASK = "store"
SWEEP_TASK = "sweep"
DELIVER_TASK = "deliver"
EXPAND_BATCHES_TASK = "batches.expand"
MAX_IDS_PER_MESSAGE = 50


def submit_task(provider: str) -> str:
    return f"{provider}.submit"


def reconcile_task(provider: str) -> str:
    return f"{provider}.reconcile"


def poll_task(provider: str) -> str:
    return f"{provider}.poll"


def cancel_task(provider: str) -> str:
    return f"{provider}.cancel"


def admit_task(provider: str) -> str:
    return f"{provider}.admit"


def queue_of(task_name: str) -> str:
    """Reconciling, cancelling and admitting share the provider's submit queue; expanding batches (rare,
    and paced by the database) rides the sweep's; other tasks have their own."""
    if task_name == EXPAND_BATCHES_TASK:
        return SWEEP_TASK
    provider, _, action = task_name.partition(".")
    return f"{provider}.submit" if action in {"reconcile", "cancel", "admit"} else task_name


def celery_settings(broker_url: str, key_prefix: str = "") -> dict[str, Any]:
    """Settings every Celery app on this broker must share (the shortest visibility timeout wins)."""
    transport: dict[str, Any] = {"visibility_timeout": 300}
    if key_prefix:
        transport["global_keyprefix"] = key_prefix
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_pool_acquire_timeout": 5.0,
        # Tasks are seconds long; an unacked message comes back after this if its worker vanished.
        "broker_transport_options": transport,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
    }


def batches(ids: Sequence[str], size: int = MAX_IDS_PER_MESSAGE) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


class Dispatcher:
    """Publishes id lists to named tasks. Never raises: a lost publish is recovered by the sweep."""

    def __init__(self, broker_url: str, key_prefix: str = "") -> None:
        self._app = Celery("genrelay-dispatch", set_as_current=False)
        self._app.conf.update(celery_settings(broker_url, key_prefix))

    def send(self, task_name: str, ids: Sequence[str]) -> bool:
        sent = True
        for chunk in batches(ids):
            try:
                self._app.send_task(task_name, args=[chunk], queue=queue_of(task_name))
            except Exception as exc:  # noqa: BLE001 - any broker failure means "the sweep will retry"
                log.warning("publish of %s failed, the sweep will re-dispatch: %s", task_name, exc)
                sent = False
        return sent

    def send_submits(self, jobs: Iterable[tuple[str, str]]) -> None:
        """Publish the submit of each new (provider, job id), a message per provider's batch of them.
        If one is lost, the sweep dispatches the job when its next_check_at comes."""
        by_provider: dict[str, list[str]] = defaultdict(list)
        for provider, job_id in jobs:
            by_provider[provider].append(job_id)
        for provider, job_ids in by_provider.items():
            self.send(submit_task(provider), job_ids)

    def close(self) -> None:
        self._app.close()

    def ping(self) -> bool:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception:  # noqa: BLE001 - a probe answers yes or no
            return False
        return True
