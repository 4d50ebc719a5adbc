"""MiniMax-compatible routes (`/minimax/v1`): MiniMax's own bodies in, its query answer, file object and
`base_resp` errors out, our stored copy behind `download_url`; and a real worker running Hailuo jobs made
through the unified API and through these routes."""

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
from orchestrator.settings import Settings
from tests import services
from tests.conftest import CREDITS
from tests.driving import drive
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.hailuo.schemas import BaseResp, HailuoFile, HailuoTask
from workers.simulator import Outcome, Simulator

BASE = "/minimax/v1"
IMAGE = "https://example.com/boat.png"
T2V = {"model": "MiniMax-Hailuo-02", "prompt": "a paper boat on a lake", "duration": 6}


def create(api: TestClient | httpx.Client, tenant: Tenant, body: dict[str, Any] = T2V) -> str:
    response = api.post(f"{BASE}/video_generation", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"task_id", "base_resp"}
    assert response.json()["base_resp"] == {"status_code": 0, "status_msg": "success"}
    return str(response.json()["task_id"])


def job_row(db: Database, task_id: str) -> Job:
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        session.expunge(job)
        return job


def query(api: TestClient | httpx.Client, tenant: Tenant, task_id: str) -> dict[str, Any]:
    response = api.get(f"{BASE}/query/video_generation", params={"task_id": task_id}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    HailuoTask.model_validate(body)
    return body


def refusal(response: httpx.Response) -> tuple[int, int]:
    """(HTTP status, base_resp code) of an error answer, which holds nothing but `base_resp`."""
    assert set(response.json()) == {"base_resp"}, response.text
    return response.status_code, BaseResp.model_validate(response.json()["base_resp"]).status_code


def test_compat_hailuo_create_query_and_retrieve_in_minimaxs_shape(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = create(api, tenant, {**T2V, "model": "minimax-hailuo-02", "resolution": "1080P"})
    queued = query(api, tenant, task_id)
    assert queued == {
        "task_id": task_id,
        "status": "Preparing",
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    job = job_row(db, task_id)
    assert (job.model, job.operation, job.input["resolution"]) == ("MiniMax-Hailuo-02", "text2video", "1080P")

    drive(db, make_settings(), task_id)
    done = query(api, tenant, task_id)
    assert (done["status"], done["video_width"], done["video_height"]) == ("Success", 1920, 1080)
    assert done["base_resp"]["status_code"] == 0
    retrieved = api.get(f"{BASE}/files/retrieve", params={"file_id": done["file_id"]}, headers=tenant.headers)
    assert retrieved.status_code == 200
    file = HailuoFile.model_validate(retrieved.json()["file"])
    assert (file.file_id, retrieved.json()["file"]["purpose"]) == (done["file_id"], "video_generation")
    assert retrieved.json()["base_resp"]["status_code"] == 0
    public = make_settings().public_base_url
    assert file.download_url is not None
    assert file.download_url.startswith(f"{public}/v1/files/")  # our stored copy, never the upstream's
    download = api.get(file.download_url.removeprefix(public))
    assert (download.status_code, download.headers["content-type"]) == (200, "video/mp4")
    [stored] = api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()["outputs"]
    assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0


def test_compat_hailuo_a_first_frame_makes_it_image_to_video(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    body = {
        "model": "MiniMax-Hailuo-02",
        "first_frame_image": IMAGE,
        "last_frame_image": IMAGE,
        "duration": "10",
    }
    task_id = create(api, tenant, body)
    job = job_row(db, task_id)
    assert (job.operation, job.input["duration"], job.price) == ("image2video", 10, 560_000)
    drive(db, make_settings(), task_id)
    assert query(api, tenant, task_id)["status"] == "Success"
    external = simulator.task(job_row(db, task_id).external_id or "")
    assert external is not None
    assert external.operation == "image2video"
    assert external.params["last_frame_image"] == IMAGE


def test_compat_hailuo_failure_reads_like_minimaxs(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("hailuo", [Outcome(result="moderation")])
    task_id = create(api, tenant)
    drive(db, make_settings(), task_id)
    failed = query(api, tenant, task_id)
    assert (failed["status"], failed["base_resp"]["status_code"]) == ("Fail", 1027)
    assert "sensitive" in failed["base_resp"]["status_msg"]
    assert "file_id" not in failed
    no_file = api.get(f"{BASE}/files/retrieve", params={"file_id": task_id}, headers=tenant.headers)
    assert refusal(no_file) == (200, 2013)
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS, 0)


def test_compat_hailuo_errors_come_in_minimaxs_envelope(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)
    cases: list[tuple[dict[str, Any], Tenant | None, int, str]] = [
        ({"prompt": "x"}, rich, 2013, "model is required"),
        ({**T2V, "prompt": ""}, rich, 2013, "prompt"),
        ({**T2V, "model": "T2V-01", "duration": 10}, rich, 2013, "duration: T2V-01 offers 6 s"),
        ({**T2V, "resolution": "1080P", "duration": 10}, rich, 2013, "1080P"),
        ({**T2V, "model": "MiniMax-Hailuo-2.3-Fast"}, rich, 2013, "does not do text2video"),
        ({**T2V, "subject_reference": [{"type": "character", "image": [IMAGE]}]}, rich, 2013, "S2V-01"),
        ({**T2V, "model": "nonexistent-1"}, rich, 2013, "nonexistent-1"),
        ({**T2V, "callback_url": "ftp://x"}, rich, 2013, "callback_url"),
        (T2V, None, 1004, ""),
        (T2V, poor, 1008, ""),
    ]
    for body, tenant, code, words in cases:
        response = api.post(f"{BASE}/video_generation", json=body, headers=tenant.headers if tenant else {})
        assert refusal(response) == (200, code), (body, response.text)
        assert words in response.json()["base_resp"]["status_msg"]
        assert response.headers["trace-id"]
    missing = api.get(f"{BASE}/query/video_generation", headers=rich.headers)
    assert refusal(missing) == (200, 2013)
    for task_id in ("123", str(uuid.uuid4())):
        unknown = api.get(f"{BASE}/query/video_generation", params={"task_id": task_id}, headers=rich.headers)
        assert refusal(unknown) == (200, 2013)
    assert refusal(api.get(f"{BASE}/files/retrieve", headers=rich.headers)) == (200, 2013)
    assert refusal(api.get(f"{BASE}/query/video_generation", params={"task_id": "1"})) == (200, 1004)


def test_compat_hailuo_rate_limit_is_1002_with_retry_after(
    make_settings: Callable[..., Settings], db: Database, broker: object, tenant: Tenant
) -> None:
    with TestClient(create_app(make_settings(rate_limit_rps=1)), raise_server_exceptions=False) as api:
        answers = [
            api.get(f"{BASE}/query/video_generation", params={"task_id": "1"}, headers=tenant.headers)
            for _ in range(5)
        ]
    limited = [answer for answer in answers if answer.json()["base_resp"]["status_code"] == 1002]
    assert limited, [answer.text for answer in answers]
    assert refusal(limited[0]) == (200, 1002)
    assert int(limited[0].headers["retry-after"]) >= 1


def test_compat_hailuo_another_tenants_task_and_file_are_unknown(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    task_id = create(api, owner)
    drive(db, make_settings(), task_id)
    file_id = query(api, owner, task_id)["file_id"]
    foreign_task = api.get(
        f"{BASE}/query/video_generation", params={"task_id": task_id}, headers=other.headers
    )
    foreign_file = api.get(f"{BASE}/files/retrieve", params={"file_id": file_id}, headers=other.headers)
    for response in (foreign_task, foreign_file):
        assert refusal(response) == (200, 2013)
        assert "download_url" not in response.text
        assert "Success" not in response.text
    # A Kling job of the same owner is no MiniMax task either.
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
    unknown = api.get(
        f"{BASE}/query/video_generation", params={"task_id": kling.json()["job_id"]}, headers=owner.headers
    )
    assert refusal(unknown) == (200, 2013)


@pytest.mark.e2e
def test_compat_hailuo_e2e_unified_and_minimax_jobs_through_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, db: Database
) -> None:
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        unified = stack.create(
            tenant,
            {
                "provider": "hailuo",
                "operation": "image2video",
                "model": "I2V-01",
                "input": {"first_frame_image": IMAGE},
            },
        )
        compat = create(stack.api, tenant, {**T2V, "callback_url": receiver.url})
        jobs = [stack.wait_for_end(tenant, job_id) for job_id in (unified, compat)]
        for job in jobs:
            assert job["status"] == "succeeded", job
            assert job["charged"] == job["price"] > 0
            [output] = job["outputs"]
            download = httpx.get(output["url"])
            assert download.status_code == 200
            assert download.content[4:8] == b"ftyp"  # an MP4
            assert hashlib.sha256(download.content).hexdigest() == output["sha256"]
            # The upstream challenged the callback address and got its value back before it pushed anything.
            task = simulator.task(job_row(db, job["job_id"]).external_id or "")
            assert task is not None
            assert task.callback_url is not None
            assert task.callback_url.startswith(f"{stack.settings.public_base_url}/callbacks/hailuo/")
        stats = simulator.stats()["hailuo"]
        assert (stats.creates, stats.callbacks_failed) == (2, 0)
        assert stats.callbacks_sent >= 2
        balance, held = (
            stack.api.get("/v1/account", headers=tenant.headers).json()[k] for k in ("balance", "held")
        )
        assert (balance, held) == (100 * CREDITS - sum(job["price"] for job in jobs), 0)  # each charged once
        done = query(stack.api, tenant, compat)
        file = stack.api.get(
            f"{BASE}/files/retrieve", params={"file_id": done["file_id"]}, headers=tenant.headers
        )
        assert (
            httpx.get(file.json()["file"]["download_url"]).content
            == httpx.get(jobs[1]["outputs"][0]["url"]).content
        )
        secret = stack.api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]

        def success_delivered() -> list[dict[str, Any]] | None:
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in list(receiver.received)]
            return bodies if any(body["status"] == "Success" for body in bodies) else None

        bodies = services.wait_until(success_delivered, timeout=30)
    for body in bodies:  # a MiniMax-format job's webhooks carry the query-shaped body
        HailuoTask.model_validate(body)
        assert body["task_id"] == compat
    [final] = [body for body in bodies if body["status"] == "Success"]
    assert final["file_id"] == done["file_id"]


def test_compat_hailuo_document_states_what_a_create_takes_and_every_answer(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    """A body the API document admits is created; one it does not admit is refused (in `base_resp`);
    each answer, a result or a refusal, is one of the document's."""
    paths = api.get("/openapi.json").json()["paths"]
    created = paths[f"{BASE}/video_generation"]["post"]
    admits = jsonschema.Draft202012Validator(
        created["requestBody"]["content"]["application/json"]["schema"]
    ).is_valid
    answers = jsonschema.Draft202012Validator(
        created["responses"]["200"]["content"]["application/json"]["schema"]
    ).is_valid
    i2v = {"model": "I2V-01", "first_frame_image": IMAGE}
    good: list[dict[str, Any]] = [
        T2V,
        {**T2V, "duration": "10", "resolution": "768P", "fast_pretreatment": True, "callback_url": None},
        {"model": "T2V-01-Director", "prompt": "a fox [Pan left]", "resolution": "720P"},
        i2v,
        {
            "model": "MiniMax-Hailuo-02",
            "first_frame_image": IMAGE,
            "last_frame_image": IMAGE,
            "resolution": "512P",
        },
        {"model": "MiniMax-Hailuo-2.3-Fast", "first_frame_image": IMAGE, "duration": 10},
    ]
    bad: list[dict[str, Any]] = [
        {"prompt": "no model"},
        {**T2V, "duration": 10, "resolution": "1080P"},
        {**T2V, "resolution": "512P"},
        {"model": "T2V-01", "prompt": "x", "duration": 10},
        {"model": "T2V-01", "first_frame_image": IMAGE},
        {"model": "MiniMax-Hailuo-2.3-Fast", "prompt": "text only"},
        {**i2v, "last_frame_image": IMAGE},
        {**i2v, "first_frame_image": "ftp://x"},
        {"model": "MiniMax-Hailuo-2.3", "prompt": "x", "fast_pretreatment": True},
        {**T2V, "subject_reference": [{"type": "character", "image": [IMAGE]}]},
        {**T2V, "model": "MiniMax-Hailuo-9"},
    ]
    for body in good:
        assert admits(body), body
        response = api.post(f"{BASE}/video_generation", json=body, headers=tenant.headers)
        assert response.json()["base_resp"]["status_code"] == 0, (body, response.text)
        assert answers(response.json())
    for body in bad:
        assert not admits(body), body
        response = api.post(f"{BASE}/video_generation", json=body, headers=tenant.headers)
        assert refusal(response)[1] == 2013, (body, response.text)
        assert answers(response.json())
    link = created["responses"]["200"]["links"]["QueryTask"]
    assert link["parameters"] == {"task_id": "$response.body#/task_id"}
