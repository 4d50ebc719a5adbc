"""Tenant webhooks: Standard-Webhooks signatures verified by the `standardwebhooks` package itself,
retries on a schedule kept in the database, the delivery log, redelivery, 410, and the SSRF guard."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import OutboxEvent, WebhookSecret
from orchestrator.pipeline import webhook_secrets, webhooks
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from tests.conftest import Tenant
from tests.factories import kling_request
from tests.receivers import Receiver, running_receiver

FAST_RETRIES = [0.0] * 7


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(webhook_allowlist=["127.0.0.1"], webhook_retry_delays_s=FAST_RETRIES)


@pytest.fixture
def client(settings: Settings, db: Database, broker: object) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def first_event(db: Database, job_id: str) -> OutboxEvent:
    with db.transaction() as session:
        event = (
            session.execute(
                select(OutboxEvent)
                .where(OutboxEvent.job_id == uuid.UUID(job_id))
                .order_by(OutboxEvent.sequence)
            )
            .scalars()
            .first()
        )
    assert event is not None
    return event


def deliver(db: Database, settings: Settings, event_id: uuid.UUID) -> str | None:
    with httpx.Client() as http:
        return webhooks.deliver(db, http, build_storage(settings), settings, event_id)


def secret_of(client: TestClient, tenant: Tenant) -> list[str]:
    return [
        row["secret"] for row in client.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"]
    ]


def test_webhooks_retried_until_accepted_with_one_id_and_verifiable_signatures(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.script(*(Response("boom", status_code=500) for _ in range(3)))
    job = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    event = first_event(db, job["job_id"])
    states = [deliver(db, settings, event.event_id) for _ in range(4)]
    assert states == ["pending", "pending", "pending", "delivered"]
    assert deliver(db, settings, event.event_id) is None  # delivered: nothing more to send
    assert len(receiver.received) == 4
    [secret] = secret_of(client, tenant)
    for attempt in receiver.received:
        assert attempt.headers["webhook-id"] == str(event.event_id)
        payload = Webhook(secret).verify(attempt.body, attempt.headers)  # raises if the signature is wrong
        assert payload["type"] == "job.queued"
        assert payload["data"]["job_id"] == job["job_id"]
        assert payload["sequence"] == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(receiver.received[0].body + b" ", receiver.received[0].headers)
    log = client.get(f"/v1/jobs/{job['job_id']}/deliveries", headers=tenant.headers).json()["data"]
    assert [(d["type"], d["state"]) for d in log] == [("job.queued", "delivered")]
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 500, 500, 200]
    assert log[0]["attempts"][0]["response_excerpt"] == "boom"


def test_webhooks_dead_lettered_after_the_schedule(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.script(*(Response(status_code=503) for _ in range(20)))
    job = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    event = first_event(db, job["job_id"])
    states = [deliver(db, settings, event.event_id) for _ in range(len(FAST_RETRIES) + 1)]
    assert states[-1] == "dead"
    assert states[:-1] == ["pending"] * len(FAST_RETRIES)
    redelivered = client.post(f"/v1/webhooks/{event.event_id}/redeliver", headers=tenant.headers)
    assert redelivered.status_code == 202
    assert redelivered.json()["state"] == "pending"
    receiver.answers.clear()
    assert deliver(db, settings, event.event_id) == "delivered"
    assert {r.headers["webhook-id"] for r in receiver.received} == {str(event.event_id)}


def test_webhooks_retry_after_is_honoured_and_redirects_never_followed(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.script(
        Response(status_code=302, headers={"Location": "http://169.254.169.254/"}),
        Response(status_code=429, headers={"Retry-After": "120"}),
    )
    job = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    event = first_event(db, job["job_id"])
    assert deliver(db, settings, event.event_id) == "pending"  # the 302 is a failure, not followed
    assert deliver(db, settings, event.event_id) == "pending"
    with db.transaction() as session:
        stored = session.get(OutboxEvent, event.event_id)
        assert stored is not None
        assert (stored.next_attempt_at - datetime.now(UTC)).total_seconds() > 100
    assert len(receiver.received) == 2


def test_webhooks_410_disables_the_endpoint(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.script(Response(status_code=410))
    job = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    assert deliver(db, settings, first_event(db, job["job_id"]).event_id) == "disabled"
    later = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    assert deliver(db, settings, first_event(db, later["job_id"]).event_id) == "disabled"
    assert len(receiver.received) == 1  # nothing more was sent there


def test_webhooks_rotation_signs_with_both_secrets(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, receiver: Receiver
) -> None:
    [old] = secret_of(client, tenant)
    rotated = client.post("/v1/webhooks/secrets/rotate", headers=tenant.headers).json()["data"]
    assert [row["secret"] for row in rotated][1] == old
    assert rotated[1]["expires_at"] is not None
    new = rotated[0]["secret"]
    job = client.post(
        "/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers
    ).json()
    deliver(db, settings, first_event(db, job["job_id"]).event_id)
    [attempt] = receiver.received
    assert len(attempt.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(attempt.body, attempt.headers)


def test_webhooks_a_first_secret_asked_for_at_once_twice_is_made_once(db: Database, tenant: Tenant) -> None:
    """A worker signing the first webhook and the tenant reading the secret, at the same moment, must
    get the same secret: two would leave every webhook signed with the one the tenant did not get."""
    barrier = threading.Barrier(4)
    seen: list[str] = []

    def first_use() -> None:
        with db.transaction() as session:
            barrier.wait()
            seen.extend(row.secret for row in webhook_secrets.live_secrets(session, tenant.account_id))

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4
    assert len(set(seen)) == 1
    with db.transaction() as session:
        count = session.execute(
            select(func.count())
            .select_from(WebhookSecret)
            .where(WebhookSecret.account_id == tenant.account_id)
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost:8080/hook",
        "http://100.64.0.7/hook",
        "http://[::ffff:192.168.1.1]/hook",
        "ftp://example.com/hook",
        "http://user:pass@203.0.113.5/hook",
    ],
)
def test_webhooks_internal_callback_urls_are_refused_at_creation(
    api: TestClient, tenant: Tenant, url: str
) -> None:
    response = api.post("/v1/jobs", json=kling_request(callback_url=url), headers=tenant.headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "callback_url"


def test_webhooks_a_name_is_resolved_at_each_send_not_at_creation(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings
) -> None:
    # `.invalid` never resolves (RFC 2606): a name's answer may change before the webhook goes, so only
    # the send decides, and records why it could not go.
    url = "https://hooks.example.invalid/genrelay"
    job = client.post("/v1/jobs", json=kling_request(callback_url=url), headers=tenant.headers)
    assert job.status_code == 202, job.text
    event = first_event(db, job.json()["job_id"])
    assert deliver(db, settings, event.event_id) == "pending"
    log = client.get(f"/v1/jobs/{job.json()['job_id']}/deliveries", headers=tenant.headers).json()["data"]
    assert log[0]["attempts"][0]["error"].startswith("refused:")
    assert "does not resolve" in log[0]["attempts"][0]["error"]


def test_webhooks_allowlisted_internal_receiver_is_accepted_and_rechecked_at_send(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, receiver: Receiver
) -> None:
    job = client.post("/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers)
    assert job.status_code == 202
    event = first_event(db, job.json()["job_id"])
    strict = settings.model_copy(update={"webhook_allowlist": []})  # as if the name now pointed inside
    assert deliver(db, strict, event.event_id) == "pending"
    assert receiver.received == []
    log = client.get(f"/v1/jobs/{job.json()['job_id']}/deliveries", headers=tenant.headers).json()["data"]
    assert log[0]["attempts"][0]["error"].startswith("refused:")


def test_webhooks_deliveries_and_redelivery_are_per_tenant(
    client: TestClient, make_tenant: Callable[..., Tenant], db: Database, receiver: Receiver
) -> None:
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    job = client.post("/v1/jobs", json=kling_request(callback_url=receiver.url), headers=owner.headers).json()
    event = first_event(db, job["job_id"])
    assert client.get(f"/v1/jobs/{job['job_id']}/deliveries", headers=other.headers).status_code == 404
    assert client.post(f"/v1/webhooks/{event.event_id}/redeliver", headers=other.headers).status_code == 404
    assert secret_of(client, owner) != secret_of(client, other)


def test_webhooks_cli_verifies_a_signed_body(client: TestClient, tenant: Tenant, tmp_path: object) -> None:
    from click.testing import CliRunner

    from orchestrator.cli import main

    [secret] = secret_of(client, tenant)
    body = json.dumps({"type": "job.succeeded"})
    now = datetime.now(UTC)
    signature = Webhook(secret).sign("evt-1", now, body)
    args = [
        "webhook",
        "verify",
        "--secret",
        secret,
        "--id",
        "evt-1",
        "--timestamp",
        str(int(now.timestamp())),
    ]
    good = CliRunner().invoke(main, [*args, "--signature", signature], input=body)
    assert good.exit_code == 0, good.output
    bad = CliRunner().invoke(main, [*args, "--signature", signature], input=body + " ")
    assert bad.exit_code == 1


def test_webhooks_of_a_compatible_family_show_the_job_as_the_event_recorded_it(
    client: TestClient, db: Database, settings: Settings, tenant: Tenant, receiver: Receiver
) -> None:
    """A `job.queued` event delivered after the job ended still says the task was submitted, in the
    provider's own shape, with no result: a late delivery never reports a later state."""
    from orchestrator import lifecycle
    from schemas.jobs import JobStatus as S

    body = {"model_name": "kling-v1-6", "prompt": "a paper boat", "callback_url": receiver.url}
    created = client.post("/kling/v1/videos/text2video", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    job_id = created.json()["data"]["task_id"]
    with db.transaction() as session:
        job = uuid.UUID(job_id)
        for before, after in ((S.QUEUED, S.SUBMITTING), (S.SUBMITTING, S.FAILED)):
            assert lifecycle.advance(session, job, before, lifecycle.Change(after)) is not None
    assert deliver(db, settings, first_event(db, job_id).event_id) == "delivered"
    [delivered] = receiver.received
    task = json.loads(delivered.body)
    assert (task["task_id"], task["task_status"], task["task_status_msg"]) == (job_id, "submitted", "")
    assert "task_result" not in task
