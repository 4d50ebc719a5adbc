"""The Celery app: queues per provider, reliability settings, and beat's sweep schedule.

Run a worker with `genrelay worker` (or `celery -A workers.celery_app worker -Q ...`).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, bootsteps
from celery.signals import setup_logging, worker_init
from celery.worker.consumer import Consumer

from orchestrator import logs, messaging
from orchestrator.db import ensure_schema_current
from orchestrator.errors import SchemaNotCurrentError
from orchestrator.settings import Settings, get_settings


def worker_settings(settings: Settings) -> dict[str, Any]:
    return {
        **messaging.celery_settings(settings.require_broker_url(), settings.broker_key_prefix),
        # A task is acknowledged only when done, and redelivered if its process dies mid-way;
        # every task is safe to run twice because each state change is a compare-and-set.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": messaging.SWEEP_TASK,
        "task_create_missing_queues": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_hijack_root_logger": False,
        # On SIGQUIT (a container's SIGTERM with REMAP_SIGTERM=SIGQUIT) running tasks get this long,
        # then unacknowledged messages go back to the broker for another worker; idle workers too, so
        # a retry waiting in memory is handed back rather than lost until Redis's visibility timeout.
        "worker_soft_shutdown_timeout": settings.worker_soft_shutdown_s,
        "worker_enable_soft_shutdown_on_idle": True,
        "beat_schedule": {
            "sweep": {
                "task": messaging.SWEEP_TASK,
                "schedule": settings.sweep_interval_s,
                "options": {
                    "queue": messaging.SWEEP_TASK,
                    "expires": max(settings.sweep_interval_s * 2, 1.0),
                },
            },
        },
        # Beat keeps its schedule in memory, not in a file under data_dir: the sweep is its only entry
        # and runs every few seconds, so a stored "last run" buys nothing across a restart, while a
        # file costs a writable, existing folder (a missing GENRELAY_DATA_DIR killed beat at start,
        # and with it every job's progress) and can be left corrupt by a crash. The jobs' own
        # schedule lives in PostgreSQL (`next_check_at`).
        "beat_scheduler": "celery.beat:Scheduler",
    }


class DeadLetters(bootsteps.StartStopStep):
    """On RabbitMQ, declares the dead-letter exchange and queue each time the worker's consumer
    (re)connects, so a broker that restarted empty still has them before a message hits its limit."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, parent: Consumer) -> None:
        if parent.connection is not None and parent.connection.transport.driver_type == "amqp":
            messaging.declare_dead_letters(parent.connection)


def create_celery() -> Celery:
    celery = Celery("genrelay")
    # Read lazily: importing this module must not need the environment to be complete yet.
    celery.add_defaults(lambda: worker_settings(get_settings()))
    celery.steps["consumer"].add(DeadLetters)
    return celery


app = create_celery()


@setup_logging.connect
def _configure_logging(loglevel: int | str | None = None, **_: Any) -> None:
    # Connected, so Celery leaves logging to us: workers and beat log like the API (JSON outside dev).
    logs.configure(get_settings(), loglevel)


@worker_init.connect
def _size_for_pool(sender: Any, **_: Any) -> None:
    from workers.runtime import size_for_pool  # noqa: PLC0415 - after settings are final

    size_for_pool(sender.pool_cls, sender.concurrency)


@worker_init.connect
def _refuse_unmigrated_database(**_: Any) -> None:
    from workers.runtime import runtime  # noqa: PLC0415 - after settings are final

    try:
        ensure_schema_current(runtime().db.engine)
    except SchemaNotCurrentError as exc:
        # Celery logs and swallows exceptions from signal handlers; SystemExit stops the worker.
        raise SystemExit(f"genrelay worker: {exc}") from exc
    finally:
        runtime().close()


import workers.tasks  # noqa: E402, F401 - registers the tasks on `app`
