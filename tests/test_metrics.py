"""`GET /metrics`: every number read from PostgreSQL at scrape time, as Prometheus parses it."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from orchestrator import lifecycle, messaging
from orchestrator.api import create_app, create_metrics_app
from orchestrator.db import Database
from orchestrator.models import OutboxEvent
from orchestrator.pipeline import sweeping, webhooks
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests.conftest import Tenant
from tests.factories import create_job, kling_request
from tests.receivers import Receiver, running_receiver

S = JobStatus
KLING = {"provider": "kling", "operation": "text2video"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # A spent retry schedule: the first failed delivery dead-letters the event.
    return make_settings(webhook_allowlist=["127.0.0.1"], webhook_retry_delays_s=[])


@pytest.fixture
def client(settings: Settings, db: Database, broker: object) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def advance(db: Database, job_id: uuid.UUID, expected: JobStatus, change: lifecycle.Change) -> None:
    with db.transaction() as session:
        assert lifecycle.advance(session, job_id, expected, change) is not None


def test_metrics_report_jobs_lag_backlog_and_holds_from_the_database(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    settings: Settings,
    receiver: Receiver,
) -> None:
    create_job(db, tenant, settings)  # stays queued
    overdue = create_job(db, tenant, settings)
    failed = create_job(db, tenant, settings)
    # Submitted on channel "cn", then due again 30 s ago: the sweep is that late for kling.
    advance(db, overdue, S.QUEUED, lifecycle.Change(S.SUBMITTING, columns={"channel": "cn"}))
    late = datetime.now(UTC) - timedelta(seconds=30)
    advance(db, overdue, S.SUBMITTING, lifecycle.Change(S.SUBMITTED, columns={"next_check_at": late}))
    advance(db, failed, S.QUEUED, lifecycle.Change(S.SUBMITTING, columns={"channel": "cn"}))
    advance(db, failed, S.SUBMITTING, lifecycle.Change(S.FAILED, columns={"error_code": "upstream_failed"}))
    receiver.script(Response(status_code=503))
    hooked = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    with db.transaction() as session:
        [event_id] = session.execute(
            select(OutboxEvent.event_id).where(OutboxEvent.job_id == uuid.UUID(hooked["job_id"]))
        ).scalars()
    with httpx.Client() as http:
        assert webhooks.deliver(db, http, build_storage(settings), settings, event_id) == "dead"
    hooked_id = uuid.UUID(hooked["job_id"])
    advance(db, hooked_id, S.QUEUED, lifecycle.Change(S.SUBMITTING))
    advance(db, hooked_id, S.SUBMITTING, lifecycle.Change(S.RUNNING))  # job.running: a pending event

    samples = scrape(client)

    assert sample(samples, "genrelay_jobs_active", **KLING, state="queued") == 1
    assert sample(samples, "genrelay_jobs_active", **KLING, state="submitted") == 1
    assert sample(samples, "genrelay_jobs_active", **KLING, state="running") == 1
    assert sample(samples, "genrelay_jobs_created_recent", **KLING) == 4
    assert sample(samples, "genrelay_jobs_finished_recent", **KLING, state="failed") == 1
    assert sample(samples, "genrelay_job_duration_seconds_bucket", **KLING, state="failed", le="+Inf") == 1
    assert sample(samples, "genrelay_job_duration_seconds_bucket", **KLING, state="failed", le="10.0") == 1
    outcome = {"provider": "kling", "channel": "cn", "state": "failed", "error_code": "upstream_failed"}
    assert sample(samples, "genrelay_channel_jobs_finished_recent", **outcome) == 1
    assert 30 <= sample(samples, "genrelay_poll_lag_seconds", provider="kling") < 300
    assert sample(samples, "genrelay_poll_lag_seconds", provider="suno") == 0
    assert sample(samples, "genrelay_webhook_events_dead") == 1
    assert sample(samples, "genrelay_webhook_events_pending") == 1
    account = client.get("/v1/account", headers=tenant.headers).json()
    assert sample(samples, "genrelay_holds_open") == 3  # all but the failed job, whose hold was released
    assert sample(samples, "genrelay_credits_held_micros") == account["held"] > 0
    assert sample(samples, "genrelay_metrics_window_seconds") == settings.metrics_window_s


def test_metrics_last_sweep_age(client: TestClient, db: Database, settings: Settings) -> None:
    assert sample(scrape(client), "genrelay_last_sweep_age_seconds") == math.inf  # never swept
    dispatcher = messaging.Dispatcher(settings.require_broker_url(), settings.broker_key_prefix)
    sweeping.sweep(db, dispatcher, settings)
    dispatcher.close()
    assert 0 <= sample(scrape(client), "genrelay_last_sweep_age_seconds") < 5
    with db.transaction() as session:
        session.execute(text("UPDATE sweep_state SET last_swept_at = now() - interval '90 seconds'"))
    assert 90 <= sample(scrape(client), "genrelay_last_sweep_age_seconds") < 95


def test_metrics_window_leaves_out_older_jobs(
    make_settings: Callable[..., Settings], db: Database, tenant: Tenant, broker: object
) -> None:
    settings = make_settings(metrics_window_s=0.001)
    job_id = create_job(db, tenant, settings)
    advance(db, job_id, S.QUEUED, lifecycle.Change(S.CANCELLED))
    with TestClient(create_app(settings)) as client:
        samples = scrape(client)
    names = {name for name, _ in samples}
    assert "genrelay_jobs_finished_recent" not in names
    assert "genrelay_jobs_created_recent" not in names
    assert sample(samples, "genrelay_holds_open") == 0


def test_metrics_speak_openmetrics_when_asked(api: TestClient) -> None:
    response = api.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert "# TYPE genrelay_job_duration_seconds gaugehistogram" in response.text
    assert response.text.rstrip().endswith("# EOF")


METRICS_TOKEN = "scrape-" + "m" * 24


def test_metrics_answer_only_the_metrics_token_when_one_is_set(
    make_settings: Callable[..., Settings], db: Database, broker: object, tenant: Tenant
) -> None:
    with TestClient(create_app(make_settings(metrics_token=METRICS_TOKEN))) as client:
        for sent in [{}, {"Authorization": "Bearer wrong"}, tenant.headers, {"Authorization": METRICS_TOKEN}]:
            refused = client.get("/metrics", headers=sent)
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"]["code"] == "unauthenticated"
            assert "GENRELAY_METRICS_TOKEN" in refused.json()["error"]["message"]
        taken = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert taken.status_code == 200
        assert "genrelay_jobs_active" in taken.text
        stated = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
        assert stated["security"] == [{"MetricsToken": []}]
        assert "401" in stated["responses"]


def test_metrics_off_the_api_port_are_served_alone_on_their_own(
    make_settings: Callable[..., Settings], db: Database, broker: object, tenant: Tenant
) -> None:
    """Production's layout: the API's port does not serve /metrics; `genrelay metrics` serves it, and
    nothing of the API."""
    settings = make_settings(metrics_on_api=False, metrics_token=METRICS_TOKEN)
    with TestClient(create_app(settings)) as api:
        assert api.get("/metrics").status_code == 404
        assert "security" not in create_app(make_settings()).openapi()["paths"]["/metrics"]["get"]
        assert "/metrics" not in api.get("/openapi.json").json()["paths"]
        create_job(db, tenant, settings)
    with TestClient(create_metrics_app(settings)) as alone:
        scraped = alone.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(scraped.text)
            for sample in family.samples
        }
        assert sample(samples, "genrelay_jobs_active", **KLING, state="queued") == 1
        assert alone.get("/metrics").status_code == 401
        for elsewhere in ["/v1/jobs", "/openapi.json", "/docs", "/healthz"]:
            assert alone.get(elsewhere, headers=tenant.headers).status_code == 404
