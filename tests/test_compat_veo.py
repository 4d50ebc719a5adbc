"""Veo-compatible routes (`/v1/videos`): CometAPI's multipart create in, the OpenAI-style video object
and error envelope out, results served from our storage; fast tests and end to end."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.projections import projection_for
from orchestrator.settings import Settings
from orchestrator.storage import S3Storage, build_storage
from orchestrator.views import provider_view
from schemas.jobs import JobStatus
from tests import services
from tests.conftest import CREDITS
from tests.driving import drive
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.veo.schemas import EXAMPLE_PNG, MAX_IMAGE_BYTES, CometVideo
from workers.providers.veo.videos import VIDEOS as VEO_MODELS
from workers.providers.videos import projection as videos
from workers.simulator import Outcome, Simulator

VIDEOS = "/v1/videos"
PRICE = 1_200_000  # veo3-fast: 0.15 credits a second, 8-second clips
PNG = base64.b64decode(EXAMPLE_PNG.split(",", 1)[1])
JPEG = b"\xff\xd8\xff\xe0" + b"last frame" * 8
CREATED_KEYS = {"id", "object", "model", "status", "progress", "seconds", "size", "created_at"}


def job_row(db: Database, video_id: str) -> Job:
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(video_id))
        assert job is not None
        session.expunge(job)
    return job


def create(api: TestClient | httpx.Client, tenant: Tenant, **form: str) -> dict[str, Any]:
    response = api.post(VIDEOS, data={"prompt": "a paper boat", **form}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class Answer(Protocol):
    """An HTTP answer, from httpx or from the TestClient's own copy of it."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def error_of(response: Answer, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


# --- create and fetch ------------------------------------------------------------------------------


def test_compat_veo_text_to_video_reads_like_cometapis_video_object(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    created = create(api, tenant, model="veo3-fast", size="9x16")
    assert set(created) == CREATED_KEYS
    video = CometVideo.model_validate(created)
    assert (video.object, video.model, video.status, video.progress) == ("video", "veo3-fast", "queued", 0)
    assert (video.seconds, video.size) == ("", "9x16")
    assert video.created_at is not None
    assert abs(video.created_at - time.time()) < 60
    job = job_row(db, video.id)
    assert (job.operation, job.model, job.api_format) == ("text_to_video", "veo3-fast", "videos")
    assert job.price == PRICE

    drive(db, make_settings(), video.id)
    done = CometVideo.model_validate(api.get(f"{VIDEOS}/{video.id}", headers=tenant.headers).json())
    assert (done.status, done.progress, done.seconds, done.error) == ("completed", 100, "8", None)
    assert done.model_extra is not None
    assert done.model_extra["task_id"] == video.id
    assert done.completed_at is not None
    assert done.completed_at >= video.created_at
    ttl = make_settings().download_url_ttl_s
    assert done.expires_at is not None
    assert abs(done.expires_at - (time.time() + ttl)) < 60
    assert done.metadata is not None
    public = make_settings().public_base_url
    url = done.metadata["url"]
    assert url.startswith(f"{public}/v1/files/")  # ours, never the upstream's
    download = api.get(url.removeprefix(public))
    assert (download.status_code, download.headers["content-type"]) == (200, "video/mp4")
    content = api.get(f"{VIDEOS}/{video.id}/content", headers=tenant.headers)
    assert (content.status_code, content.headers["content-type"]) == (200, "video/mp4")
    assert content.content == download.content
    assert len(content.content) == simulator.config.file_size
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - PRICE, 0)


def test_compat_veo_two_uploads_are_first_and_last_frame(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    files = [
        ("input_reference", ("first.png", PNG, "image/png")),
        ("input_reference", ("last.jpg", JPEG, "application/octet-stream")),  # typed by its bytes
    ]
    response = api.post(
        VIDEOS, data={"prompt": "the boat drifts", "model": "veo3.1"}, files=files, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]
    job = job_row(db, video_id)
    assert job.operation == "image_to_video"
    assert job.input["image"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert job.input["lastFrame"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()

    drive(db, make_settings(), video_id)
    assert api.get(f"{VIDEOS}/{video_id}", headers=tenant.headers).json()["status"] == "completed"
    task = simulator.task(str(job_row(db, video_id).external_id).removeprefix("task_"))
    assert task is not None  # the upstream got both frames, in order
    assert task.params["references"] == [hashlib.sha256(PNG).hexdigest(), hashlib.sha256(JPEG).hexdigest()]


def test_compat_veo_accepts_the_same_fields_as_json(api: TestClient, tenant: Tenant, db: Database) -> None:
    body = {"prompt": "a fox", "seconds": "8", "input_reference": EXAMPLE_PNG}
    response = api.post(VIDEOS, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    job = job_row(db, response.json()["id"])
    assert (job.operation, job.model, job.input["image"]) == ("image_to_video", "veo3-fast", EXAMPLE_PNG)
    assert job.input["durationSeconds"] == 8


def test_compat_veo_failure_names_moderation_and_releases_the_hold(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("veo", [Outcome(result="moderation")])
    video_id = create(api, tenant)["id"]
    not_yet = api.get(f"{VIDEOS}/{video_id}/content", headers=tenant.headers)
    assert error_of(not_yet, 409)["code"] == "video_not_ready"
    drive(db, make_settings(), video_id)
    failed = CometVideo.model_validate(api.get(f"{VIDEOS}/{video_id}", headers=tenant.headers).json())
    assert (failed.status, failed.progress, failed.metadata) == ("failed", 100, None)
    assert failed.error is not None
    assert failed.error.code == "content_policy_violation"
    assert failed.error.message is not None
    assert "safety" in failed.error.message
    content = api.get(f"{VIDEOS}/{video_id}/content", headers=tenant.headers)
    error = error_of(content, 409)
    assert error["code"] == "video_not_ready"
    assert "failed" in error["message"]
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS, 0)


def test_compat_veo_idempotency_key_replays_the_first_answer(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "order-1"}
    first = api.post(VIDEOS, data={"prompt": "a boat"}, headers=headers)
    again = api.post(VIDEOS, data={"prompt": "a boat"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == PRICE  # one job, one hold
    other = api.post(VIDEOS, data={"prompt": "a ship"}, headers=headers)
    assert error_of(other, 400)["code"] == "idempotency_key_reused"


# --- errors -----------------------------------------------------------------------------------------


def test_compat_veo_errors_come_in_the_openai_envelope(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)
    unauthenticated = error_of(api.post(VIDEOS, data={"prompt": "x"}), 401)
    assert (unauthenticated["type"], unauthenticated["code"]) == ("invalid_request_error", "invalid_api_key")
    assert "request id:" in unauthenticated["message"]
    broke = error_of(api.post(VIDEOS, data={"prompt": "x"}, headers=poor.headers), 402)
    assert (broke["type"], broke["code"]) == ("insufficient_quota", "insufficient_quota")
    video_id = create(api, rich)["id"]
    for path in (f"{VIDEOS}/{video_id}", f"{VIDEOS}/{video_id}/content", f"{VIDEOS}/task_nope"):
        foreign = error_of(api.get(path, headers=poor.headers), 404)
        assert (foreign["type"], foreign["code"]) == ("invalid_request_error", "task_not_exist")


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"size": "16x9"}, "prompt"),
        ({"prompt": "x", "size": "square"}, "size"),
        ({"prompt": "x", "seconds": "5"}, "seconds"),
        ({"prompt": "x", "model": "sora-2"}, "model"),
        ({"prompt": "x", "quality": "high"}, "quality"),
        ({"prompt": "x", "callback_url": "ftp://example.com"}, "callback_url"),
    ],
)
def test_compat_veo_validation_errors_name_the_field(
    api: TestClient, tenant: Tenant, form: dict[str, str], param: str
) -> None:
    error = error_of(api.post(VIDEOS, data=form, headers=tenant.headers), 400)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert "input." not in error["message"]  # in the client's words, not the unified input's
    assert "durationSeconds" not in error["message"]


def test_compat_veo_refuses_oversized_and_surplus_uploads(api: TestClient, tenant: Tenant) -> None:
    big = [("input_reference", ("big.png", b"\x89PNG" + bytes(MAX_IMAGE_BYTES), "image/png"))]
    too_big = error_of(api.post(VIDEOS, data={"prompt": "x"}, files=big, headers=tenant.headers), 413)
    assert (too_big["code"], too_big["param"]) == ("file_too_large", "input_reference")
    assert "20 MB" in too_big["message"]
    three = [("input_reference", (f"{n}.png", PNG, "image/png")) for n in range(3)]
    surplus = error_of(api.post(VIDEOS, data={"prompt": "x"}, files=three, headers=tenant.headers), 400)
    assert surplus["param"] == "input_reference"
    text = [("input_reference", ("notes.txt", b"hello", "text/plain"))]
    not_image = error_of(api.post(VIDEOS, data={"prompt": "x"}, files=text, headers=tenant.headers), 400)
    assert not_image["param"] == "input_reference"
    assert "not an image" in not_image["message"]
    bad_json = api.post(VIDEOS, content=b"{", headers={**tenant.headers, "content-type": "application/json"})
    assert error_of(bad_json, 400)["param"] is None


def test_compat_veo_routes_leave_genrelays_own_alone(api: TestClient, tenant: Tenant) -> None:
    assert api.get("/v1/account", headers=tenant.headers).status_code == 200
    assert api.get("/v1/jobs", headers=tenant.headers).json()["data"] == []
    assert "error" in api.get("/v1/files/jobs/x.mp4").json()  # the files route answers, in its own envelope
    assert api.get(f"{VIDEOS}/task_x", headers=tenant.headers).json()["error"]["code"] == "task_not_exist"


# --- storage and the projection ---------------------------------------------------------------------


def test_compat_veo_content_redirects_to_a_presigned_s3_link(
    make_settings: Callable[..., Settings],
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    s3_endpoint: str,
) -> None:
    settings = make_settings(
        storage_backend="s3",
        s3_bucket="veo-compat",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_addressing_style="path",
    )
    storage = build_storage(settings)
    assert isinstance(storage, S3Storage)
    storage.ensure_bucket()
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        video_id = create(api, tenant)["id"]
        drive(db, settings, video_id)
        done = api.get(f"{VIDEOS}/{video_id}", headers=tenant.headers).json()
        assert done["metadata"]["url"].startswith(s3_endpoint)
        assert abs(done["expires_at"] - (time.time() + settings.download_url_ttl_s)) < 60
        content = api.get(f"{VIDEOS}/{video_id}/content", headers=tenant.headers, follow_redirects=False)
    assert content.status_code == 307
    assert content.headers["location"].startswith(s3_endpoint)
    assert len(httpx.get(content.headers["location"]).content) == simulator.config.file_size


def test_compat_veo_projection_maps_every_status_and_is_registered() -> None:
    assert set(videos.STATUS) == set(JobStatus)
    assert set(videos.STATUS.values()) == {"queued", "in_progress", "completed", "failed"}
    registered = projection_for("videos")
    assert registered is not None
    now = datetime.now(UTC)
    for state in JobStatus:
        job = Job(
            job_id=uuid.uuid4(),
            provider="veo",
            model="veo3",
            state=state.value,
            progress=100 if state is JobStatus.STORING else 40,
            input={"prompt": "x", "size": "16x9"},
            created_at=now,
            updated_at=now,
            finished_at=now,
        )
        urls = {"video-0": "https://ours/v.mp4"}
        projected = registered(job, urls)  # what the job's webhooks carry
        assert projected == videos.video_object(provider_view(job, urls), VEO_MODELS)
        video = CometVideo.model_validate(projected)
        assert isinstance(video.progress, int)
        assert 0 <= video.progress <= 100
        assert (video.progress == 100) == (video.status in {"completed", "failed"})
        assert (video.error is not None) == (video.status == "failed")


def test_compat_veo_link_expiry_reads_local_and_presigned_links() -> None:
    assert videos.link_expiry("http://a/v1/files/k.mp4?expires=1700000000&signature=x") == 1_700_000_000
    sigv4 = "https://s3/b/k.mp4?X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-Signature=s"
    assert videos.link_expiry(sigv4) == int(datetime(2024, 1, 1, 1, tzinfo=UTC).timestamp())
    assert videos.link_expiry("https://cdn/k.mp4") is None


# --- end to end -------------------------------------------------------------------------------------


def wait_for_video(stack: Stack, tenant: Tenant, video_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        body: dict[str, Any] = stack.api.get(f"{VIDEOS}/{video_id}", headers=tenant.headers).json()
        return body if body["status"] in {"completed", "failed"} else None

    video: dict[str, Any] = services.wait_until(ended, timeout=60, interval=0.05, message=f"{video_id} ends")
    return video


@pytest.mark.e2e
def test_compat_veo_e2e_through_a_real_worker_charges_once_and_webhooks_the_video(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        files = [("input_reference", ("first.png", PNG, "image/png"))]
        form = {"prompt": "a paper boat", "callback_url": receiver.url}
        response = stack.api.post(VIDEOS, data=form, files=files, headers=tenant.headers)
        assert response.status_code == 200, response.text
        video = wait_for_video(stack, tenant, response.json()["id"])
        secret = stack.api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]

        def completed_webhook() -> dict[str, Any] | None:
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in list(receiver.received)]
            return next((b for b in bodies if b.get("status") == "completed"), None)

        hooked = services.wait_until(completed_webhook, timeout=30)
    assert CometVideo.model_validate(video).status == "completed"
    assert (video["progress"], video["seconds"]) == (100, "8")
    url = video["metadata"]["url"]
    assert url.startswith(stack.settings.public_base_url)
    download = httpx.get(url)
    content = stack.api.get(f"{VIDEOS}/{video['id']}/content", headers=tenant.headers)
    assert download.status_code == content.status_code == 200
    assert download.content == content.content
    assert len(download.content) == simulator.config.file_size
    assert (hooked["id"], hooked["object"]) == (video["id"], "video")  # webhooks speak the video object
    assert httpx.get(hooked["metadata"]["url"]).content == download.content
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - PRICE, 0)


@pytest.mark.e2e
def test_compat_veo_e2e_failure_releases_the_hold(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("veo", [Outcome(result="fail", message="GPU fell over")])
    stack = start_stack()
    response = stack.api.post(VIDEOS, data={"prompt": "a paper boat"}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    video = wait_for_video(stack, tenant, response.json()["id"])
    assert video["status"] == "failed"
    assert video["error"] == {"code": "upstream_failed", "message": "GPU fell over"}
    assert "metadata" not in video
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS, 0)
