"""Prometheus metrics read from PostgreSQL at scrape time: jobs per state, recent throughput and time to
terminal, poll lag, webhook backlog, open holds, the last sweep's age. Jobs change state in worker
processes, so nothing is counted in the API's memory: every number comes from the system of record, in
a few indexed queries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Float, cast, extract, func, select, text
from sqlalchemy.orm import Session

from orchestrator import messaging
from orchestrator.db import Database
from orchestrator.ids import uuid7_floor
from orchestrator.models import NON_TERMINAL_SQL, Job
from orchestrator.pipeline.sweeping import last_sweep_age_s
from workers.providers import PROVIDERS

# Time to terminal spans seconds (images) to the one-hour deadline (video).
DURATION_BUCKETS_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
QUERY_TIMEOUT_MS = 5000
JOB_LABELS = ["provider", "operation", "state"]


def render(
    db: Database, window_s: float, accept: str | None, dead_letters: int | None = None
) -> tuple[bytes, str]:
    """The exposition Prometheus asked for (OpenMetrics or text) and its content type; `dead_letters`
    is the broker's count of dead-lettered messages (RabbitMQ only)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobsCollector(db, window_s))
    if dead_letters is not None:
        registry.register(DeadLettersCollector(dead_letters))
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type


class JobsCollector:
    """A prometheus_client collector: each `collect()` is one read-only transaction."""

    def __init__(self, db: Database, window_s: float) -> None:
        self._db = db
        self._window_s = window_s

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        with self._db.transaction() as session:
            session.execute(text("SET TRANSACTION READ ONLY"))
            session.execute(text(f"SET LOCAL statement_timeout = {QUERY_TIMEOUT_MS}"))
            families = [
                _active_jobs(session),
                _created_recently(session, self._window_s),
                *_finished_recently(session, self._window_s),
                _channel_outcomes(session, self._window_s),
                _poll_lag(session),
                *_backlogs(session),
                _last_sweep(session),
            ]
        window = GaugeMetricFamily(
            "genrelay_metrics_window_seconds", "Window of the *_recent metrics and of the duration histogram."
        )
        window.add_metric([], self._window_s)
        took = GaugeMetricFamily("genrelay_metrics_query_seconds", "Time this scrape spent in PostgreSQL.")
        took.add_metric([], time.perf_counter() - started)
        yield from [*families, window, took]


class DeadLettersCollector:
    """The messages RabbitMQ took out of circulation after their delivery limit."""

    def __init__(self, count: int) -> None:
        self._count = count

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "genrelay_broker_dead_lettered_messages",
            "Messages in the genrelay.dead queue: handed to workers that died or gave them back "
            f"{messaging.DELIVERY_LIMIT} times. Their jobs are re-dispatched by the sweep.",
        )
        family.add_metric([], self._count)
        yield family


def _gauge(
    name: str, documentation: str, labels: list[str], rows: Sequence[Sequence[Any]]
) -> GaugeMetricFamily:
    """One sample per row: the row's leading columns are the label values, its last the value."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for row in rows:
        family.add_metric([str(value or "") for value in row[:-1]], float(row[-1] or 0))
    return family


def _active_jobs(session: Session) -> GaugeMetricFamily:
    # The predicate is the partial index's own, so this reads only unfinished jobs.
    rows = session.execute(
        select(Job.provider, Job.operation, Job.state, func.count())
        .where(text(NON_TERMINAL_SQL))
        .group_by(Job.provider, Job.operation, Job.state)
    ).all()
    return _gauge(
        "genrelay_jobs_active", "Unfinished jobs now, by state (queued: not yet submitted).", JOB_LABELS, rows
    )


def _created_recently(session: Session, window_s: float) -> GaugeMetricFamily:
    # Job ids are UUIDv7, ordered by creation time: the primary key finds the recent ones.
    floor = uuid7_floor(time.time() - window_s)
    rows = session.execute(
        select(Job.provider, Job.operation, func.count())
        .where(Job.job_id >= floor)
        .group_by(Job.provider, Job.operation)
    ).all()
    return _gauge(
        "genrelay_jobs_created_recent", "Jobs accepted within the window.", ["provider", "operation"], rows
    )


def _finished_recently(session: Session, window_s: float) -> list[Metric]:
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    took = extract("epoch", Job.finished_at - Job.created_at)
    rows = session.execute(
        select(
            Job.provider,
            Job.operation,
            Job.state,
            func.count(),
            cast(func.coalesce(func.sum(took), 0), Float),
            *(func.count().filter(took <= bound) for bound in DURATION_BUCKETS_S),
        )
        .where(Job.finished_at >= since)
        .group_by(Job.provider, Job.operation, Job.state)
    ).all()
    finished = GaugeMetricFamily(
        "genrelay_jobs_finished_recent", "Jobs that ended within the window.", labels=JOB_LABELS
    )
    durations = GaugeHistogramMetricFamily(
        "genrelay_job_duration_seconds",
        "Time from acceptance to final state of the jobs finished within the window.",
        labels=JOB_LABELS,
    )
    for provider, operation, state, count, total_s, *cumulative in rows:
        labels = [provider, operation, state]
        finished.add_metric(labels, count)
        buckets = [(str(bound), float(n)) for bound, n in zip(DURATION_BUCKETS_S, cumulative, strict=True)]
        durations.add_metric(labels, [*buckets, ("+Inf", float(count))], float(total_s))
    return [finished, durations]


def _channel_outcomes(session: Session, window_s: float) -> GaugeMetricFamily:
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    rows = session.execute(
        select(Job.provider, Job.channel, Job.state, Job.error_code, func.count())
        .where(Job.finished_at >= since)
        .group_by(Job.provider, Job.channel, Job.state, Job.error_code)
    ).all()
    return _gauge(
        "genrelay_channel_jobs_finished_recent",
        "Jobs finished within the window per upstream channel, by final state and error code "
        "(failed/total per channel is its upstream failure rate).",
        ["provider", "channel", "state", "error_code"],
        rows,
    )


def _poll_lag(session: Session) -> GaugeMetricFamily:
    rows = session.execute(
        select(Job.provider, extract("epoch", func.now() - func.min(Job.next_check_at)))
        .where(text(NON_TERMINAL_SQL), Job.next_check_at <= func.now())
        .group_by(Job.provider)
    ).all()
    lag = {provider: float(seconds) for provider, seconds in rows}
    family = GaugeMetricFamily(
        "genrelay_poll_lag_seconds",
        "How overdue the oldest due check (poll, re-dispatch, lease) of an unfinished job is; 0 = on time.",
        labels=["provider"],
    )
    for provider in sorted(set(PROVIDERS) | set(lag)):
        family.add_metric([provider], max(lag.get(provider, 0.0), 0.0))
    return family


def _last_sweep(session: Session) -> GaugeMetricFamily:
    age = last_sweep_age_s(session)
    family = GaugeMetricFamily(
        "genrelay_last_sweep_age_seconds",
        "Seconds since the sweep last ran (beat sends it, a sweep-queue worker runs it); +Inf: never.",
    )
    family.add_metric([], float("inf") if age is None else age)
    return family


_BACKLOGS = text(
    """
    SELECT
      (SELECT count(*) FROM outbox WHERE state = 'pending') AS webhooks_pending,
      (SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0)
         FROM outbox WHERE state = 'pending' AND next_attempt_at <= now()) AS webhook_lag_s,
      (SELECT count(*) FROM outbox WHERE state = 'dead') AS webhooks_dead,
      (SELECT count(*) FROM holds WHERE state = 'open') AS holds_open,
      (SELECT coalesce(sum(amount), 0) FROM holds WHERE state = 'open') AS held_micros
    """
)


def _backlogs(session: Session) -> list[Metric]:
    row = session.execute(_BACKLOGS).one()
    values = [
        ("genrelay_webhook_events_pending", "Tenant webhook events not yet delivered.", row.webhooks_pending),
        (
            "genrelay_webhook_delivery_lag_seconds",
            "Overdue time of the oldest due webhook.",
            row.webhook_lag_s,
        ),
        ("genrelay_webhook_events_dead", "Webhook events whose retries are spent.", row.webhooks_dead),
        ("genrelay_holds_open", "Credit holds of unfinished jobs.", row.holds_open),
        ("genrelay_credits_held_micros", "Micro-credits held by open holds.", row.held_micros),
    ]
    families: list[Metric] = []
    for name, documentation, value in values:
        family = GaugeMetricFamily(name, documentation)
        family.add_metric([], float(value))
        families.append(family)
    return families
