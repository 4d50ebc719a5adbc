"""Runway-compatible routes: Runway's official bodies, version header and `{"error"}` bodies in, the
task object the official SDK reads out; the SDK itself against a running genrelay."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from runwayml.types.task_retrieve_response import TaskRetrieveResponse
from standardwebhooks import Webhook

from orchestrator import models
from orchestrator.db import Database
from orchestrator.pipeline import submission
from orchestrator.projections import projection_for
from orchestrator.settings import Settings
from orchestrator.views import provider_view
from schemas.jobs import JobStatus
from tests import services
from tests.conftest import BROKER_PREFIX, CREDITS
from tests.driving import drive
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.runway import projection
from workers.providers.runway.schemas import RUNWAY_VERSION, RunwayTask
from workers.simulator import Outcome, Simulator

BASE = "/runwayml/v1"
IMAGE = "https://example.com/lighthouse.png"
VIDEO = {"model": "gen4_turbo", "promptImage": IMAGE, "promptText": "waves", "ratio": "1280:720"}
VERSION = {"X-Runway-Version": RUNWAY_VERSION}
TASK = TypeAdapter[Any](TaskRetrieveResponse)  # the official SDK's own model of a task


def headers(tenant: Tenant, **extra: str) -> dict[str, str]:
    return {**tenant.headers, **VERSION, **extra}


def create(
    api: TestClient, tenant: Tenant, body: dict[str, Any] = VIDEO, path: str = "image_to_video"
) -> str:
    response = api.post(f"{BASE}/{path}", json=body, headers=headers(tenant))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id", "estimatedCost"}
    return str(response.json()["id"])


def fetch(api: TestClient, tenant: Tenant, task_id: str) -> dict[str, Any]:
    response = api.get(f"{BASE}/tasks/{task_id}", headers=tenant.headers)  # the version is optional here
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    TASK.validate_python(task)
    RunwayTask.model_validate(task)
    return task


def external_id_of(db: Database, task_id: str) -> str:
    with db.transaction() as session:
        job = session.get(models.Job, uuid.UUID(task_id))
        assert job is not None
        assert job.external_id is not None
        return job.external_id


def account(api: TestClient | httpx.Client, tenant: Tenant) -> tuple[int, int]:
    body = api.get("/v1/account", headers=tenant.headers).json()
    return body["balance"], body["held"]


def price_of(api: TestClient | httpx.Client, tenant: Tenant, task_id: str) -> int:
    return int(api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()["price"])


# --- fast: the API in-process, the job driven through the use-cases --------------------------------


def test_compat_runway_create_and_fetch_in_runways_shape(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = create(api, tenant)
    uuid.UUID(task_id)  # our job id
    price = price_of(api, tenant, task_id)
    pending = fetch(api, tenant, task_id)
    assert set(pending) == {"id", "createdAt", "status", "estimatedCost"}
    assert (pending["id"], pending["status"], pending["estimatedCost"]) == (
        task_id,
        "PENDING",
        {"credits": price},
    )
    created_at = datetime.fromisoformat(pending["createdAt"])
    assert pending["createdAt"].endswith("Z")
    assert abs((datetime.now(UTC) - created_at).total_seconds()) < 60
    assert account(api, tenant) == (100 * CREDITS, price)

    drive(db, make_settings(), task_id)
    done = fetch(api, tenant, task_id)
    assert (done["status"], done["cost"], done["createdAt"]) == (
        "SUCCEEDED",
        {"credits": price},
        pending["createdAt"],
    )
    assert "progress" not in done
    (url,) = done["output"]
    public = make_settings().public_base_url
    assert url.startswith(f"{public}/v1/files/")  # ours, never the upstream's
    download = api.get(url.removeprefix(public))
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert account(api, tenant) == (100 * CREDITS - price, 0)


def test_compat_runway_text_to_image(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    body = {"model": "gen4_image", "promptText": "a lighthouse at dusk", "ratio": "1920:1080"}
    task_id = create(api, tenant, body, "text_to_image")
    job = api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()
    assert (job["provider"], job["operation"], job["model"]) == ("runway", "text_to_image", "gen4_image")
    drive(db, make_settings(), task_id)
    upstream = simulator.task_by_external_id(external_id_of(db, task_id), provider="runway")
    assert upstream is not None
    assert upstream.params == body  # Runway's own body went upstream as it came
    (url,) = fetch(api, tenant, task_id)["output"]
    download = api.get(url.removeprefix(make_settings().public_base_url))
    assert download.headers["content-type"] == "image/png"


def test_compat_runway_running_progress_then_delete_cancels(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    broker: redis.Redis,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.configure(not_found_polls=0)
    simulator.script("runway", [Outcome(result="succeed", submitted_s=0.0, processing_s=30.0)])
    settings = make_settings()
    task_id = create(api, tenant)
    drive(db, settings, task_id, rounds=2)
    running = fetch(api, tenant, task_id)
    assert running["status"] == "RUNNING"
    assert isinstance(running["progress"], float)
    assert 0 <= running["progress"] < 1

    assert api.delete(f"{BASE}/tasks/{task_id}", headers=tenant.headers).status_code == 204
    cancelled = fetch(api, tenant, task_id)
    assert set(cancelled) == {"id", "createdAt", "status", "cost"}
    assert (cancelled["status"], cancelled["cost"]) == ("CANCELLED", {"credits": 0})
    assert account(api, tenant) == (100 * CREDITS, 0)
    queued = [json.loads(m)["headers"] for m in broker.lrange(f"{BROKER_PREFIX}runway.submit", 0, -1)]
    assert [(m["task"], m["argsrepr"]) for m in queued if m["task"] == "runway.cancel"] == [
        ("runway.cancel", repr([[task_id]]))
    ]
    with httpx.Client() as http:  # what the cancel task does: Runway's own task stops too
        assert submission.cancel_upstream(db, http, settings, uuid.UUID(task_id))
    upstream = httpx.get(
        f"{settings.upstream_base_url}/v1/tasks/{external_id_of(db, task_id)}",
        headers={"Authorization": f"Bearer {simulator.config.api_key}"},
    )
    assert upstream.json()["status"] == "CANCELLED"
    assert api.delete(f"{BASE}/tasks/{task_id}", headers=tenant.headers).status_code == 204  # again: no-op


def test_compat_runway_delete_of_a_finished_task_changes_nothing(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = create(api, tenant)
    drive(db, make_settings(), task_id)
    before = fetch(api, tenant, task_id)
    assert api.delete(f"{BASE}/tasks/{task_id}", headers=headers(tenant)).status_code == 204
    after = fetch(api, tenant, task_id)
    assert (after["status"], after["cost"]) == ("SUCCEEDED", before["cost"])  # kept, and still charged


def test_compat_runway_moderation_failure_reads_like_runways(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("runway", [Outcome(result="moderation")])
    task_id = create(api, tenant)
    drive(db, make_settings(), task_id)
    failed = fetch(api, tenant, task_id)
    assert (failed["status"], failed["failureCode"], failed["cost"]) == (
        "FAILED",
        "SAFETY.INPUT.TEXT",
        {"credits": 0},
    )
    assert "flagged" in failed["failure"]
    assert "output" not in failed
    assert account(api, tenant) == (100 * CREDITS, 0)


def test_compat_runway_failure_keeps_the_upstream_failure_code(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("runway", [Outcome(result="fail", message="INTERNAL.BAD_OUTPUT.CODE01: overlaid text")])
    task_id = create(api, tenant)
    drive(db, make_settings(), task_id)
    failed = fetch(api, tenant, task_id)
    assert (failed["failureCode"], failed["failure"]) == ("INTERNAL.BAD_OUTPUT.CODE01", "overlaid text")


def test_compat_runway_errors_come_in_runways_envelope(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)
    i2v = f"{BASE}/image_to_video"

    def error(response: Any, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        assert isinstance(body["error"], str)
        return body

    no_version = error(api.post(i2v, json=VIDEO, headers=rich.headers), 400)
    assert "X-Runway-Version header is required" in no_version["error"]
    wrong = error(api.post(i2v, json=VIDEO, headers=headers(rich, **{"X-Runway-Version": "2024-09-13"})), 400)
    assert "must be 2024-11-06" in wrong["error"]
    assert error(api.post(i2v, json=VIDEO, headers=VERSION), 401)["code"] == "unauthenticated"
    bad_key = {"Authorization": "Bearer gr_nope", **VERSION}
    assert error(api.post(i2v, json=VIDEO, headers=bad_key), 401)["code"] == "unauthenticated"

    missing = error(api.post(i2v, json={"model": "gen4_turbo"}, headers=headers(rich)), 400)
    assert missing["issues"][0]["path"] == ["promptImage"]
    assert "promptImage" in missing["error"]
    assert "input." not in missing["error"]
    ratio = error(api.post(i2v, json={**VIDEO, "ratio": "16:9"}, headers=headers(rich)), 400)
    assert ratio["issues"][0]["path"] == ["ratio"]
    no_model = error(api.post(f"{BASE}/text_to_image", json={"promptText": "x"}, headers=headers(rich)), 400)
    assert no_model["issues"][0]["path"] == ["model"]
    unpriced = error(api.post(i2v, json={**VIDEO, "model": "gen9"}, headers=headers(rich)), 400)
    assert unpriced["code"] == "model_not_available"
    not_json = api.post(i2v, content=b"{", headers={**headers(rich), "Content-Type": "application/json"})
    assert error(not_json, 400)["code"] == "invalid_json"

    assert error(api.post(i2v, json=VIDEO, headers=headers(poor)), 402)["code"] == "insufficient_credits"
    task_id = create(api, rich)
    for method in ("GET", "DELETE"):
        foreign = error(api.request(method, f"{BASE}/tasks/{task_id}", headers=poor.headers), 404)
        assert foreign["code"] == "job_not_found"
    assert error(api.get(f"{BASE}/tasks/not-a-uuid", headers=rich.headers), 404)["code"] == "job_not_found"
    assert (
        error(api.get(f"{BASE}/tasks/{uuid.uuid4()}", headers=rich.headers), 404)["code"] == "job_not_found"
    )
    assert account(api, poor) == (1, 0)


def test_compat_runway_model_defaults_to_cometapis(api: TestClient, tenant: Tenant) -> None:
    task_id = create(api, tenant, {"promptImage": IMAGE})
    assert api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()["model"] == "gen3a_turbo"


def test_compat_runway_idempotency_key_replays_the_create(api: TestClient, tenant: Tenant) -> None:
    keyed = headers(tenant, **{"Idempotency-Key": "order-42"})
    first = api.post(f"{BASE}/image_to_video", json=VIDEO, headers=keyed)
    again = api.post(f"{BASE}/image_to_video", json=VIDEO, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.get("/v1/jobs", headers=tenant.headers).json()["data"]) == 1
    other = api.post(f"{BASE}/image_to_video", json={**VIDEO, "promptText": "fog"}, headers=keyed)
    assert (other.status_code, other.json()["code"]) == (400, "idempotency_key_reused")


def test_compat_runway_projection_covers_every_status() -> None:
    webhook_projection = projection_for("runway")
    assert webhook_projection is not None
    assert set(projection.STATUS) == set(JobStatus)

    def job(state: JobStatus, **columns: Any) -> models.Job:
        values: dict[str, Any] = {
            "job_id": uuid.uuid4(),
            "state": state.value,
            "progress": 42,
            "price": 250_000,
            "charged": 0,
            "created_at": datetime(2026, 3, 13, 1, 52, 46, 123456, tzinfo=UTC),
            **columns,
        }
        return models.Job(**values)

    def task_object(job: models.Job, urls: Mapping[str, str]) -> dict[str, Any]:
        task = projection.task_object(provider_view(job, urls))
        assert webhook_projection(job, urls) == task  # a Runway-format job's webhooks carry its task object
        return task

    for state in JobStatus:
        task = task_object(job(state, error_message="boom"), {"video-0": "https://ours/v"})
        TASK.validate_python(task)
        assert task["createdAt"] == "2026-03-13T01:52:46.123Z"
    running = task_object(job(JobStatus.STORING), {})
    assert (running["status"], running["progress"]) == ("RUNNING", 0.42)
    blocked = job(JobStatus.FAILED, error_code="moderation_blocked", error_message="refused")
    assert task_object(blocked, {})["failureCode"] == "SAFETY.INPUT.TEXT"  # refused at create
    expired = job(JobStatus.EXPIRED, error_code="deadline_exceeded", error_message="too slow")
    assert task_object(expired, {})["failureCode"] == "INTERNAL"
    refused = task_object(job(JobStatus.FAILED, error_code="invalid_input"), {})
    assert "failureCode" not in refused
    assert refused["failure"] == "The task failed."


# --- end to end: a real API server and a real worker -----------------------------------------------


@pytest.mark.e2e
def test_compat_runway_e2e_official_sdk_gets_our_stored_output(
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    simulator: Simulator,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runwayml = pytest.importorskip("runwayml", reason="the runwayml SDK is not installed (dev dependency)")
    polling = pytest.importorskip("runwayml.lib.polling")
    monkeypatch.setattr(polling, "POLL_TIME", 0.05)  # the SDK sleeps 6 s +- 1.5 s between polls
    monkeypatch.setattr(polling, "POLL_JITTER", 0.0)
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        with runwayml.RunwayML(
            api_key=tenant.api_key,
            base_url=f"{stack.settings.public_base_url}/runwayml",
            max_retries=0,
            _strict_response_validation=True,  # every answer must parse as the SDK's own models
        ) as client:
            created = client.image_to_video.create(
                model="gen4_turbo",
                prompt_image=IMAGE,
                prompt_text="waves roll in",
                ratio="1280:720",
                duration=5,
                extra_body={"callback_url": receiver.url},  # genrelay's extension: Runway has no webhooks
            )
            task = created.wait_for_task_output(timeout=60)
        assert (task.id, task.status) == (created.id, "SUCCEEDED")
        job = stack.api.get(f"/v1/jobs/{created.id}", headers=tenant.headers).json()
        [stored] = job["outputs"]
        (url,) = task.output
        assert url.startswith(stack.settings.public_base_url)  # ours, never the upstream's
        download = httpx.get(url)
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
        assert task.cost.credits == job["price"] == job["charged"]
        assert account(stack.api, tenant) == (100 * CREDITS - job["price"], 0)
        secret = stack.api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]

        def succeeded_delivered() -> list[dict[str, Any]] | None:
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in list(receiver.received)]
            return bodies if any(b["status"] == "SUCCEEDED" for b in bodies) else None

        bodies = services.wait_until(succeeded_delivered, timeout=30)
    for body in bodies:  # webhooks of a Runway-format job carry the bare task object
        TASK.validate_python(body)
        assert body["id"] == created.id
    [final] = [body for body in bodies if body["status"] == "SUCCEEDED"]
    assert httpx.get(final["output"][0]).status_code == 200


@pytest.mark.e2e
def test_compat_runway_e2e_failure_releases_the_hold(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, db: Database
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("runway", [Outcome(result="fail", message="ASSET.INVALID: the image could not be read")])
    stack = start_stack()
    created = stack.api.post(f"{BASE}/image_to_video", json=VIDEO, headers=headers(tenant))
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]

    def ended() -> dict[str, Any] | None:
        task: dict[str, Any] = stack.api.get(f"{BASE}/tasks/{task_id}", headers=headers(tenant)).json()
        return task if task["status"] in {"SUCCEEDED", "FAILED", "CANCELLED"} else None

    task = services.wait_until(ended, timeout=60, interval=0.05, message=f"task {task_id} ends")
    TASK.validate_python(task)
    assert (task["status"], task["failureCode"], task["failure"]) == (
        "FAILED",
        "ASSET.INVALID",
        "the image could not be read",
    )
    assert task["cost"] == {"credits": 0}
    assert "output" not in task
    assert account(stack.api, tenant) == (100 * CREDITS, 0)
