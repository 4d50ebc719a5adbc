"""Ark-compatible routes for Seedance (`/volc/v3` and `/api/v3` `…/contents/generations/tasks`): Ark's
create body in (fields or `--flags`, images by role), its task object and `{"error": ...}` envelope out,
a DELETE that cancels only a queued task, our stored copy behind `content.video_url`; and a real worker
running Seedance jobs made through the unified API and through these routes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.pipeline import submission
from orchestrator.settings import Settings
from tests import services
from tests.conftest import CREDITS
from tests.driving import drive
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.compat import CompatError
from workers.providers.seedance.routes import render_error
from workers.providers.seedance.schemas import ArkError, SeedanceTask
from workers.simulator import Outcome, Simulator

VOLC, ARK = "/volc/v3/contents/generations/tasks", "/api/v3/contents/generations/tasks"
PRO = "doubao-seedance-1-0-pro-250528"
IMAGE = "https://example.com/boat.png"
TEXT = {"type": "text", "text": "a paper boat drifts on a lake at dawn"}
T2V = {"model": PRO, "content": [TEXT]}


def image(url: str = IMAGE, role: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    return item | ({"role": role} if role else {})


def create(
    api: TestClient | httpx.Client, tenant: Tenant, body: dict[str, Any] = T2V, base: str = VOLC
) -> str:
    response = api.post(base, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id"}  # bare, as Ark's
    return str(response.json()["id"])


def get(api: TestClient | httpx.Client, tenant: Tenant, task_id: str, base: str = VOLC) -> dict[str, Any]:
    response = api.get(f"{base}/{task_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    SeedanceTask.model_validate(body)
    return body


def job_row(db: Database, task_id: str) -> Job:
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        session.expunge(job)
        return job


def refusal(response: httpx.Response) -> tuple[int, str]:
    """(HTTP status, Ark code) of an error answer, which holds nothing but `error`."""
    assert set(response.json()) == {"error"}, response.text
    error = ArkError.model_validate(response.json()["error"])
    assert error.type
    assert error.message
    return response.status_code, error.code


@pytest.mark.parametrize("base", [VOLC, ARK])
def test_compat_seedance_create_and_get_in_arks_shape(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
    base: str,
) -> None:
    task_id = create(api, tenant, {**T2V, "resolution": "1080p", "duration": 10, "seed": 11}, base)
    queued = get(api, tenant, task_id, base)
    assert {k: queued[k] for k in ("id", "model", "status", "error", "resolution", "duration", "seed")} == {
        "id": task_id,
        "model": PRO,
        "status": "queued",
        "error": None,
        "resolution": "1080p",
        "duration": 10,
        "seed": 11,
    }
    assert isinstance(queued["created_at"], int)
    assert queued["created_at"] < 10**10  # seconds
    assert "content" not in queued
    job = job_row(db, task_id)
    assert (job.operation, job.price) == ("text2video", 1_220_000)  # 10 s at 1080p

    drive(db, make_settings(), task_id)
    done = get(api, tenant, task_id, base)
    assert (done["status"], done["error"], done["seed"]) == ("succeeded", None, 11)
    assert done["usage"]["total_tokens"] == 48600 * 10  # as the upstream counted it
    public = make_settings().public_base_url
    video = done["content"]["video_url"]
    assert video.startswith(f"{public}/v1/files/")  # our stored copy, never the upstream's
    download = api.get(video.removeprefix(public))
    assert (download.status_code, download.headers["content-type"]) == (200, "video/mp4")
    [stored] = api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()["outputs"]
    assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0


def test_compat_seedance_flags_images_and_roles_become_the_jobs_input(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    flagged = {
        "model": PRO,
        "content": [{"type": "text", "text": "a boat --rs 480p --dur 6 --wm false --cf true"}],
    }
    job = job_row(db, create(api, tenant, flagged))
    assert job.input == {
        "prompt": "a boat",
        "resolution": "480p",
        "duration": 6,
        "watermark": False,
        "camera_fixed": True,
    }
    assert job.price == 6 * 25_000
    frames = {"model": PRO, "content": [TEXT, image(), image("data:image/png;base64,AAAA", "last_frame")]}
    framed = job_row(db, create(api, tenant, frames))
    assert (framed.operation, framed.input["first_frame_image"], framed.input["last_frame_image"]) == (
        "image2video",
        IMAGE,
        "data:image/png;base64,AAAA",
    )
    references = {"model": "seedance-2-0-260128", "content": [TEXT, *[image(role="reference_image")] * 3]}
    referenced = job_row(db, create(api, tenant, references, ARK))
    assert (referenced.operation, referenced.input["reference_images"]) == ("reference2video", [IMAGE] * 3)
    drive(db, make_settings(), str(referenced.job_id))
    task = simulator.task((job_row(db, str(referenced.job_id)).external_id or "").removeprefix("cgt-"))
    assert task is not None
    assert task.params["model"] == "doubao-seedance-2-0-260128"  # as CometAPI writes it
    assert [item.get("role") for item in task.params["content"]] == [None, *["reference_image"] * 3]


def test_compat_seedance_failure_reads_like_arks(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("seedance", [Outcome(result="moderation", submitted_s=0, processing_s=0)])
    task_id = create(api, tenant)
    drive(db, make_settings(), task_id)
    failed = get(api, tenant, task_id)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "OutputVideoSensitiveContentDetected"
    assert "sensitive" in failed["error"]["message"]
    assert "content" not in failed
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS, 0)


def test_compat_seedance_errors_come_in_arks_envelope(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)
    r2v_15 = {"model": "doubao-seedance-1-5-pro-251215", "content": [TEXT, image(role="reference_image")]}
    cases: list[tuple[dict[str, Any], Tenant | None, tuple[int, str], str]] = [
        ({"content": [TEXT]}, rich, (400, "MissingParameter"), "model"),
        ({"model": PRO}, rich, (400, "MissingParameter"), "content"),
        (
            {**T2V, "model": "doubao-seedance-9-9"},
            rich,
            (404, "InvalidEndpoint.NotFound"),
            "doubao-seedance-9-9",
        ),
        ({**T2V, "duration": 15}, rich, (400, "InvalidParameter"), "2 to 12 seconds"),
        (r2v_15, rich, (400, "InvalidParameter"), "takes no reference images"),
        (
            {**T2V, "content": [TEXT, image(role="reference_image"), image(role="first_frame")]},
            rich,
            (400, "InvalidParameter"),
            "mix",
        ),
        (
            {**T2V, "content": [TEXT, {"type": "video_url", "video_url": {"url": IMAGE}}]},
            rich,
            (400, "InvalidParameter"),
            "video_url",
        ),
        (
            {**T2V, "content": [{"type": "text", "text": "x --rs 480p"}], "resolution": "720p"},
            rich,
            (400, "InvalidParameter"),
            "both",
        ),
        ({**T2V, "draft": True}, rich, (400, "InvalidParameter"), "draft"),
        ({**T2V, "callback_url": "ftp://x"}, rich, (400, "InvalidParameter"), "callback_url"),
        (T2V, None, (401, "AuthenticationError"), ""),
        (T2V, poor, (403, "AccountOverdueError"), ""),
    ]
    for body, tenant, expected, words in cases:
        response = api.post(VOLC, json=body, headers=tenant.headers if tenant else {})
        assert refusal(response) == expected, (body, response.text)
        message = response.json()["error"]["message"]
        assert words in message
        assert "Request ID: " in message  # as Ark ends its messages
    for task_id in ("cgt-123", str(uuid.uuid4())):
        assert refusal(api.get(f"{VOLC}/{task_id}", headers=rich.headers)) == (404, "ResourceNotFound")
        assert refusal(api.delete(f"{VOLC}/{task_id}", headers=rich.headers)) == (404, "ResourceNotFound")
    assert refusal(api.get(f"{VOLC}/{uuid.uuid4()}")) == (401, "AuthenticationError")
    assert simulator.stats()["seedance"].create_attempts == 0


def test_compat_seedance_delete_cancels_only_a_queued_task(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(upstream_callbacks=False)
    simulator.configure(not_found_polls=0)
    simulator.script(
        "seedance",
        [
            Outcome(result="succeed", submitted_s=60, processing_s=60),
            Outcome(result="succeed", submitted_s=0, processing_s=60),
            Outcome(result="succeed", submitted_s=0, processing_s=0),
        ],
    )
    waiting, queued, running, done = (create(api, tenant) for _ in range(4))
    for task_id in (queued, running, done):
        drive(db, settings, task_id, rounds=2)
    assert [get(api, tenant, t)["status"] for t in (waiting, queued, running, done)] == [
        "queued",  # not even submitted yet
        "queued",
        "running",
        "succeeded",
    ]
    for task_id in (waiting, queued):
        cancelled = api.delete(f"{VOLC}/{task_id}", headers=tenant.headers)
        assert (cancelled.status_code, cancelled.json()) == (200, {})
        assert get(api, tenant, task_id)["status"] == "cancelled"
    again = api.delete(f"{VOLC}/{queued}", headers=tenant.headers)
    assert refusal(again) == (409, "TaskNotCancellable")
    refused = api.delete(f"{ARK}/{running}", headers=tenant.headers)
    assert refusal(refused) == (409, "TaskNotCancellable")
    assert "running" in refused.json()["error"]["message"]
    finished = api.delete(f"{VOLC}/{done}", headers=tenant.headers)
    assert refusal(finished) == (409, "TaskNotCancellable")
    assert get(api, tenant, done)["content"]["video_url"]  # the record is kept, with its video
    account = api.get("/v1/account", headers=tenant.headers).json()
    price = job_row(db, running).price
    assert (account["balance"], account["held"]) == (
        100 * CREDITS - price,
        price,
    )  # done charged, running held
    # The queued task was stopped upstream too (the cancel task's work, done here).
    with httpx.Client() as http:
        assert submission.cancel_upstream(db, http, settings, uuid.UUID(queued))
    task = simulator.task((job_row(db, queued).external_id or "").removeprefix("cgt-"))
    assert task is not None
    assert task.result == "cancelled"


def test_compat_seedance_rate_limit_is_arks_429_with_retry_after(
    make_settings: Callable[..., Settings], db: Database, broker: object, tenant: Tenant
) -> None:
    with TestClient(create_app(make_settings(rate_limit_rps=1)), raise_server_exceptions=False) as api:
        answers = [api.get(f"{VOLC}/cgt-1", headers=tenant.headers) for _ in range(5)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited, [answer.text for answer in answers]
    assert refusal(limited[0]) == (429, "RateLimitExceeded.EndpointRPMExceeded")
    assert int(limited[0].headers["retry-after"]) >= 1


def test_compat_seedance_another_tenants_task_is_unknown(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    task_id = create(api, owner)
    for response in (
        api.get(f"{VOLC}/{task_id}", headers=other.headers),
        api.delete(f"{VOLC}/{task_id}", headers=other.headers),
    ):
        assert refusal(response) == (404, "ResourceNotFound")
        assert "queued" not in response.text
    assert get(api, owner, task_id)["status"] == "queued"  # the stranger's DELETE cancelled nothing
    # A Kling job of the same owner is no Seedance task either.
    kling = api.post(
        "/v1/jobs",
        json={
            "provider": "kling",
            "operation": "text2video",
            "model": "kling-v1-6",
            "input": {"prompt": "x"},
        },
        headers=owner.headers,
    )
    assert refusal(api.get(f"{VOLC}/{kling.json()['job_id']}", headers=owner.headers)) == (
        404,
        "ResourceNotFound",
    )


@pytest.mark.e2e
def test_compat_seedance_e2e_unified_and_ark_jobs_through_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, db: Database
) -> None:
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        unified = stack.create(
            tenant,
            {
                "provider": "seedance",
                "operation": "image2video",
                "model": "seedance-1-0-lite-i2v-250428",
                "input": {"first_frame_image": IMAGE, "return_last_frame": True},
            },
        )
        compat = create(stack.api, tenant, {**T2V, "callback_url": receiver.url})
        jobs = [stack.wait_for_end(tenant, job_id) for job_id in (unified, compat)]
        for job in jobs:
            assert job["status"] == "succeeded", job
            assert job["charged"] == job["price"] > 0
            video = job["outputs"][0]
            download = httpx.get(video["url"])
            assert download.status_code == 200
            assert download.content[4:8] == b"ftyp"  # an MP4
            assert hashlib.sha256(download.content).hexdigest() == video["sha256"]
            # The upstream was given our callback address, and called it.
            task = simulator.task((job_row(db, job["job_id"]).external_id or "").removeprefix("cgt-"))
            assert task is not None
            assert (task.callback_url or "").startswith(
                f"{stack.settings.public_base_url}/callbacks/seedance/"
            )
        assert [output["label"] for output in jobs[0]["outputs"]] == ["video", "last_frame"]
        stats = simulator.stats()["seedance"]
        assert (stats.creates, stats.callbacks_failed) == (2, 0)
        assert stats.callbacks_sent >= 2
        balance, held = (
            stack.api.get("/v1/account", headers=tenant.headers).json()[k] for k in ("balance", "held")
        )
        assert (balance, held) == (100 * CREDITS - sum(job["price"] for job in jobs), 0)  # each charged once
        done = get(stack.api, tenant, compat)
        assert (
            httpx.get(done["content"]["video_url"]).content == httpx.get(jobs[1]["outputs"][0]["url"]).content
        )
        secret = stack.api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]

        def success_delivered() -> list[dict[str, Any]] | None:
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in list(receiver.received)]
            return bodies if any(body["status"] == "succeeded" for body in bodies) else None

        bodies = services.wait_until(success_delivered, timeout=30)
    for body in bodies:  # an Ark-format job's webhooks carry the task object
        SeedanceTask.model_validate(body)
        assert body["id"] == compat
    [final] = [body for body in bodies if body["status"] == "succeeded"]
    assert final["content"]["video_url"]


def test_compat_seedance_document_states_what_a_create_takes(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    """A body the API document admits is created; one it does not admit is refused."""
    document = api.get("/openapi.json").json()
    schema = document["paths"][VOLC]["post"]["requestBody"]["content"]["application/json"]["schema"]
    admits = jsonschema.Draft202012Validator({**schema, "components": document["components"]}).is_valid
    lite_i2v = "doubao-seedance-1-0-lite-i2v-250428"
    good: list[dict[str, Any]] = [
        T2V,
        {**T2V, "duration": "10", "resolution": "1080p", "seed": -1, "callback_url": None},
        {"model": PRO, "content": [image(role="first_frame")]},
        {"model": PRO, "content": [TEXT, image(), image(role="last_frame")]},
        {"model": PRO, "content": [TEXT, {**image(), "role": None}]},
        {**T2V, "seed": 7.0, "execution_expires_after": 3600.0, "watermark": True},
        {"model": lite_i2v, "content": [TEXT, image(role="reference_image"), image(role="reference_image")]},
        {"model": "seedance-2-0-260128", "content": [TEXT], "generate_audio": True, "duration": 15},
    ]
    bad: list[dict[str, Any]] = [
        {"content": [TEXT]},
        {"model": PRO},
        {**T2V, "duration": 15},
        {**T2V, "resolution": "1080p", "model": "doubao-seedance-1-5-pro-251215"},
        {**T2V, "generate_audio": True},
        {"model": "doubao-seedance-1-5-pro-251215", "content": [TEXT, image(role="reference_image")]},
        {"model": lite_i2v, "content": [TEXT]},
        {**T2V, "content": [TEXT, image(role="reference_image"), image(role="first_frame")]},
        {**T2V, "content": [TEXT, {"type": "video_url", "video_url": {"url": IMAGE}}]},
        {**T2V, "content": [TEXT, TEXT]},
        {**T2V, "content": [TEXT, image(url="ftp://x")]},
        {"model": PRO, "content": [TEXT, {**image(), "role": {}}]},
        {"model": PRO, "content": [TEXT, {**image(), "role": ""}]},
        {"model": PRO, "content": [{"type": "text", "text": " \n"}, image()]},
        {**T2V, "watermark": 0},
        {**T2V, "camera_fixed": "true"},
        {**T2V, "seed": "7"},
        {**T2V, "callback_url": {}},
        {**T2V, "callback_url": False},
        {**T2V, "draft": True},
        {**T2V, "duration": None},
        {**T2V, "model": "doubao-seedance-9-9"},
    ]
    for body in good:
        assert admits(body), body
        response = api.post(VOLC, json=body, headers=tenant.headers)
        assert response.status_code == 200, (body, response.text)
    for body in bad:
        assert not admits(body), body
        response = api.post(VOLC, json=body, headers=tenant.headers)
        assert response.status_code in {400, 404}, (body, response.text)
    created = document["paths"][VOLC]["post"]["responses"]
    assert created["200"]["links"]["GetTask"]["parameters"] == {"task_id": "$response.body#/id"}
    assert "409" in created  # the same Idempotency-Key's first request still running
    assert "409" in document["paths"][f"{VOLC}/{{task_id}}"]["delete"]["responses"]


def test_compat_seedance_conflicts_answer_409_and_allow_names_each_method(
    api: TestClient, tenant: Tenant
) -> None:
    in_flight = render_error(CompatError(409, "idempotency_key_in_flight", "still running"), "r-1")
    assert (in_flight.status, in_flight.body["error"]["code"]) == (409, "IdempotencyKeyInFlight")
    refused = api.put(f"{ARK}/{uuid.uuid4()}", headers=tenant.headers)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "DELETE, GET"
