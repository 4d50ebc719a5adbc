"""How genrelay talks to the broker: task and queue names, the shared Celery settings for Redis and
RabbitMQ, and the `Dispatcher` that publishes work by name.

A publish that fails only delays work: the job row is the record, and the sweep re-dispatches any
job whose `next_check_at` passes, so the broker being down never loses a job.

On RabbitMQ every queue is a quorum queue with a delivery limit: a message whose worker dies or gives
it back that many times (a poison message) is dead-lettered to `genrelay.dead`, where it is counted
(`genrelay_broker_dead_lettered_messages`) instead of being redelivered forever. Its job is not lost:
the sweep dispatches it again when its `next_check_at` passes, and its deadline ends it at the latest.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from celery import Celery
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from workers.providers import PROVIDERS

log = logging.getLogger(__name__)

STORE_TASK = "store"
SWEEP_TASK = "sweep"
DELIVER_TASK = "deliver"
EXPAND_BATCHES_TASK = "batches.expand"
MAX_IDS_PER_MESSAGE = 50
# RabbitMQ: where a message goes past its delivery limit, and how many dead ones are kept.
DEAD_LETTERS = "genrelay.dead"
DEAD_LETTERS_KEPT = 100_000
# Fixed, not a setting: RabbitMQ refuses to declare an existing queue with other arguments, so a
# changed limit would stop every publish until the queues were deleted.
DELIVERY_LIMIT = 10
REDIS_SCHEMES = frozenset({"redis", "rediss"})
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})


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


def all_queues() -> list[str]:
    """Every queue a genrelay worker may consume: the fixed ones, then each provider's two."""
    queues = [STORE_TASK, SWEEP_TASK, DELIVER_TASK]
    for provider in PROVIDERS:
        queues += [submit_task(provider), poll_task(provider)]
    return queues


def broker_kind(broker_url: str) -> Literal["redis", "amqp"]:
    """Which broker a URL names; ValueError for one genrelay does not run on."""
    scheme = urlsplit(broker_url).scheme.lower()
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in AMQP_SCHEMES:
        return "amqp"
    raise ValueError(
        f"BROKER_URL must be Redis (redis://, rediss://) or RabbitMQ (amqp://, amqps://), not {scheme!r}://"
    )


def dead_letter_queue() -> Queue:
    """Where RabbitMQ puts a message past its delivery limit: kept, bounded, oldest dropped first."""
    return Queue(
        DEAD_LETTERS,
        Exchange(DEAD_LETTERS, type="fanout", durable=True),
        routing_key=DEAD_LETTERS,
        durable=True,
        queue_arguments={"x-queue-type": "quorum", "x-max-length": DEAD_LETTERS_KEPT},
    )


def work_queue(name: str) -> Queue:
    """A quorum queue (replicated, durable, acknowledged per message) that dead-letters a message
    handed back unacknowledged DELIVERY_LIMIT times."""
    return Queue(
        name,
        Exchange(name, type="direct", durable=True),
        routing_key=name,
        durable=True,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_LETTERS,
        },
    )


def declare_dead_letters(connection: Connection) -> None:
    """Declare the dead-letter exchange and queue (idempotent): without the exchange, RabbitMQ would
    drop a message past its limit without a trace."""
    with connection.channel() as channel:
        dead_letter_queue().bind(channel).declare()


def count_dead_letters(connection: Connection) -> int:
    """Messages waiting in the dead-letter queue (0 when no worker has declared it yet)."""
    try:
        with connection.channel() as channel:
            _, count, _ = dead_letter_queue().bind(channel).queue_declare(passive=True)
    except connection.channel_errors:  # NOT_FOUND: nothing was ever dead-lettered here
        return 0
    return int(count)


def _transport(broker_url: str, key_prefix: str) -> dict[str, Any]:
    if broker_kind(broker_url) == "redis":
        # Tasks are seconds long; an unacked message comes back after this if its worker vanished.
        options: dict[str, Any] = {"visibility_timeout": 300}
        if key_prefix:
            options["global_keyprefix"] = key_prefix
        return {"broker_transport_options": options}
    return {
        # A publish returns only once RabbitMQ has taken the message (a nack or a lost connection
        # raises, so the sweep re-dispatches it); the prefix has no meaning here, a vhost separates
        # deployments.
        "broker_transport_options": {"confirm_publish": True},
        "task_queues": [work_queue(name) for name in all_queues()],
        "task_create_missing_queue_type": "quorum",
        # Quorum queues take no global prefetch; Celery's native delayed delivery (used for the
        # cancel task's retries) then rides quorum queues too.
        "worker_detect_quorum_queues": True,
    }


def celery_settings(broker_url: str, key_prefix: str = "") -> dict[str, Any]:
    """Settings every Celery app on this broker must share (the shortest visibility timeout wins on
    Redis; on RabbitMQ, every declaration of a queue must carry the same arguments)."""
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_pool_acquire_timeout": 5.0,
        **_transport(broker_url, key_prefix),
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
        self.kind = broker_kind(broker_url)

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

    def dead_letters(self) -> int | None:
        """Messages RabbitMQ dead-lettered and keeps; None on Redis (it has no delivery limit) or when
        the broker cannot be asked."""
        if self.kind != "amqp":
            return None
        try:
            with self._app.connection_for_write() as connection:
                return count_dead_letters(connection)
        except Exception:  # noqa: BLE001 - a probe answers a number or nothing
            return None

    def ping(self) -> bool:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception:  # noqa: BLE001 - a probe answers yes or no
            return False
        return True
