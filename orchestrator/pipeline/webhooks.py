"""Delivering tenant webhooks from the outbox: Standard-Webhooks-signed POSTs, every attempt
recorded, retries scheduled in the database (no worker waits), 410 disables the endpoint.

An event is sent at least once: the same `webhook-id` on every attempt lets receivers dedupe.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from orchestrator import egress
from orchestrator.db import CommitHook, Database
from orchestrator.messaging import DELIVER_TASK, Dispatcher
from orchestrator.models import DisabledEndpoint, Job, JobOutput, OutboxEvent, WebhookAttempt
from orchestrator.outbox import DISPATCH_LEASE, NEW_EVENTS
from orchestrator.pipeline import webhook_secrets
from orchestrator.projections import as_of, family_of
from orchestrator.settings import Settings
from orchestrator.storage import Storage
from orchestrator.views import output_views, provider_view

log = logging.getLogger(__name__)
EXCERPT = 512
USER_AGENT = "genrelay-webhooks/0.1"


@dataclass(frozen=True)
class Sent:
    """What one attempt came to."""

    status_code: int | None
    latency_ms: int
    excerpt: str | None = None
    error: str | None = None
    retry_after: float | None = None
    abort: bool = False  # the receiver asked us to stop (`webhook-delivery: abort-message`)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def commit_hook(dispatcher: Dispatcher) -> CommitHook:
    """Send the events a transaction recorded as soon as it commits."""

    def dispatch(notes: dict[str, Any]) -> None:
        if notes.get(NEW_EVENTS):
            dispatcher.send(DELIVER_TASK, notes[NEW_EVENTS])

    return dispatch


def deliver(
    db: Database, http: httpx.Client, storage: Storage, settings: Settings, event_id: uuid.UUID
) -> str | None:
    """One delivery attempt of a pending event; returns the event's state afterwards."""
    with db.transaction() as session:
        event = session.execute(
            select(OutboxEvent).where(OutboxEvent.event_id == event_id, OutboxEvent.state == "pending")
        ).scalar()
        if event is None:
            return None
        if _endpoint_disabled(session, event):
            session.execute(
                update(OutboxEvent).where(OutboxEvent.event_id == event_id).values(state="disabled")
            )
            return "disabled"
        body = json.dumps(render(session, event, storage, settings), separators=(",", ":"))
        secrets = [row.secret for row in webhook_secrets.live_secrets(session, event.account_id)]
    sent = send(http, settings, event, body, secrets)
    with db.transaction() as session:
        return _settle(session, settings, event, sent)


def render(session: Session, event: OutboxEvent, storage: Storage, settings: Settings) -> dict[str, Any]:
    """The body: the job as it was at the event (in its route family's shape), with fresh links; a
    batch's event carries the batch as it ended."""
    if event.job_id is None:
        return _envelope(event, event.snapshot)
    job = session.get(Job, event.job_id)
    assert job is not None  # the event cascades with its job
    outputs = session.execute(select(JobOutput).where(JobOutput.job_id == job.job_id)).scalars().all()
    links = (
        output_views(outputs, storage, settings.download_url_ttl_s)
        if event.event_type == "job.succeeded"
        else []
    )
    family = family_of(job.api_format)
    if family is not None:
        urls = {link.label or str(link.index): link.url for link in links}
        view = provider_view(job, urls, settings.public_base_url)
        return family.project(as_of(view, event.snapshot))
    return _envelope(event, {**event.snapshot, "outputs": [link.model_dump(mode="json") for link in links]})


def _envelope(event: OutboxEvent, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event.event_type,
        "timestamp": event.created_at.isoformat(),
        "event_id": str(event.event_id),
        "sequence": event.sequence,
        "data": data,
    }


def send(http: httpx.Client, settings: Settings, event: OutboxEvent, body: str, secrets: list[str]) -> Sent:
    """POST the signed body to the event's URL, connecting only to a vetted public address."""
    started = time.monotonic()
    try:
        destination = egress.resolve(event.url, settings.webhook_allowlist)
    except egress.EgressRefusedError as exc:
        return Sent(None, 0, error=f"refused: {exc.message}")
    message_id, now = str(event.event_id), datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": destination.host_header,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(message_id, now, body) for secret in secrets),
    }
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    try:
        response = http.post(
            destination.pinned_url,
            content=body.encode(),
            headers=headers,
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,  # a 3xx is a failure, never followed (it could point inside)
            extensions=extensions,
        )
    except httpx.HTTPError as exc:
        return Sent(None, _ms_since(started), error=f"{type(exc).__name__}: {exc}"[:EXCERPT])
    return Sent(
        response.status_code,
        _ms_since(started),
        excerpt=response.text[:EXCERPT] or None,
        retry_after=_retry_after(response),
        abort=response.headers.get("webhook-delivery", "").lower() == "abort-message",
    )


def _settle(session: Session, settings: Settings, event: OutboxEvent, sent: Sent) -> str:
    attempt = event.attempts + 1
    session.execute(
        insert(WebhookAttempt).values(
            event_id=event.event_id,
            attempt=attempt,
            status_code=sent.status_code,
            latency_ms=sent.latency_ms,
            response_excerpt=sent.excerpt,
            error=sent.error,
        )
    )
    state, next_attempt = _next(settings, attempt, sent)
    if state == "disabled":
        session.execute(
            pg_insert(DisabledEndpoint)
            .values(account_id=event.account_id, url=event.url)
            .on_conflict_do_nothing()
        )
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_id == event.event_id, OutboxEvent.state == "pending")
        .values(
            state=state,
            attempts=OutboxEvent.attempts + 1,
            next_attempt_at=next_attempt,
            last_error=None if sent.ok else (sent.error or f"HTTP {sent.status_code}"),
            delivered_at=func.now() if sent.ok else None,
        )
    )
    return state


def _next(settings: Settings, attempt: int, sent: Sent) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    if sent.ok:
        return "delivered", now
    if sent.status_code == 410:
        return "disabled", now
    delays = settings.webhook_retry_delays_s
    if sent.abort or attempt > len(delays):
        return "dead", now
    delay = delays[attempt - 1] * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security
    return "pending", now + timedelta(seconds=max(delay, sent.retry_after or 0.0))


def _endpoint_disabled(session: Session, event: OutboxEvent) -> bool:
    found = session.execute(
        select(DisabledEndpoint.url).where(
            DisabledEndpoint.account_id == event.account_id, DisabledEndpoint.url == event.url
        )
    ).first()
    return found is not None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def redeliver(session: Session, account_id: uuid.UUID, event_id: uuid.UUID) -> OutboxEvent | None:
    """Send an event again (whatever became of it), with the same webhook-id; None if not the tenant's."""
    event = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_id == event_id, OutboxEvent.account_id == account_id)
        .values(state="pending", next_attempt_at=func.now() + DISPATCH_LEASE, last_error=None)
        .returning(OutboxEvent)
    ).scalar_one_or_none()
    if event is not None:
        # Asking for a redelivery re-enables an endpoint that had answered 410.
        session.execute(
            delete(DisabledEndpoint).where(
                DisabledEndpoint.account_id == account_id, DisabledEndpoint.url == event.url
            )
        )
        session.info.setdefault(NEW_EVENTS, []).append(str(event_id))
    return event
