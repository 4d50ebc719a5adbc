"""Sora on the shared `/v1/videos` routes: served only where the operator's channel file names a `sora`
channel (otherwise `model_not_available` with OpenAI's shutdown), a create to a stored video with its
thumbnail and spritesheet as `/content` variants, remix as a follow-up on the parent's channel, and
OpenAI's own Python SDK, unchanged, against it (through the API, and through a real worker)."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.ops import audit
from orchestrator.settings import Settings
from tests.conftest import CREDITS
from tests.factories import Tenant
from tests.stack import Stack
from tests.test_compat_videos import VIDEOS, drive, error_of
from workers.simulator import Simulator

PRICE = 400_000  # sora-2: 0.10 credits a second, 4-second clips


def sora_channels(tmp_path: Path, url: str) -> Path:
    path = tmp_path / f"channels-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(
        f'[[channel]]\nprovider = "sora"\nname = "aggregator"\nbase_url = "{url}"\napi_key_env = "SORA_KEY"\n'
    )
    return path


@pytest.fixture
def sora_settings(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    simulator: Simulator,
    simulator_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("SORA_KEY", simulator.config.api_key)
    return make_settings(channels_file=sora_channels(tmp_path, simulator_url))


@pytest.fixture
def sora_api(sora_settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(sora_settings), raise_server_exceptions=False) as client:
        yield client


def test_sora_without_a_sora_channel_is_not_available(api: TestClient, tenant: Tenant) -> None:
    """The default channel (CometAPI's, or the simulator here) does not count as serving Sora."""
    for model in ("sora-2", "sora-2-pro", "SORA-2-2025-12-08"):
        gone = error_of(api.post(VIDEOS, data={"prompt": "x", "model": model}, headers=tenant.headers), 400)
        assert (gone["code"], gone["param"]) == ("model_not_available", "model")
        assert "shut the Sora 2 video API down on 2026-09-24" in gone["message"]
        assert "veo3-fast" in gone["message"]  # what it may choose instead
        assert "sora-2-pro," not in gone["message"]
    unknown = error_of(api.post(VIDEOS, data={"prompt": "x", "model": "nope"}, headers=tenant.headers), 400)
    assert "sora-2" not in unknown["message"]


def test_sora_with_a_channel_creates_stores_and_serves_its_variants(
    sora_api: TestClient, sora_settings: Settings, tenant: Tenant, db: Database, simulator: Simulator
) -> None:
    form = {"prompt": "a paper boat", "model": "sora-2", "seconds": "4", "size": "1280x720"}
    created = sora_api.post(VIDEOS, data=form, headers=tenant.headers)
    assert created.status_code == 200, created.text
    video = created.json()
    assert (video["model"], video["status"], video["size"]) == ("sora-2", "queued", "1280x720")
    assert created.headers["openai-poll-after-ms"] == "5000"
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(video["id"]))
        assert job is not None
        assert (job.provider, job.operation, job.price) == ("sora", "text_to_video", PRICE)
    drive(db, sora_settings, video["id"])
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(video["id"]))
        assert job is not None
        assert job.channel == "aggregator"
    done = sora_api.get(f"{VIDEOS}/{video['id']}", headers=tenant.headers).json()
    assert (done["status"], done["seconds"], done["size"]) == ("completed", "4", "1280x720")
    for variant, kind in (("video", "video/mp4"), ("thumbnail", "image/webp"), ("spritesheet", "image/jpeg")):
        content = sora_api.get(
            f"{VIDEOS}/{video['id']}/content", params={"variant": variant}, headers=tenant.headers
        )
        assert (content.status_code, content.headers["content-type"]) == (200, kind), variant
        assert len(content.content) == simulator.config.file_size
    bad = [
        ({"model": "sora-2", "seconds": "5"}, "seconds"),
        ({"model": "sora-2", "size": "1920x1080"}, "size"),
    ]
    for fields, param in bad:
        refused = error_of(sora_api.post(VIDEOS, data={"prompt": "x", **fields}, headers=tenant.headers), 400)
        assert refused["param"] == param, fields


def test_sora_remix_is_a_follow_up_of_a_finished_video(
    sora_api: TestClient,
    sora_settings: Settings,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_tenant: Callable[..., Tenant],
) -> None:
    form = {"prompt": "a paper boat", "model": "sora-2-pro", "seconds": "8", "size": "1792x1024"}
    parent = sora_api.post(VIDEOS, data=form, headers=tenant.headers).json()
    early = error_of(
        sora_api.post(f"{VIDEOS}/{parent['id']}/remix", json={"prompt": "x"}, headers=tenant.headers), 409
    )
    assert early["code"] == "video_not_ready"
    drive(db, sora_settings, parent["id"])
    other = make_tenant(name="other")
    stranger = sora_api.post(f"{VIDEOS}/{parent['id']}/remix", json={"prompt": "x"}, headers=other.headers)
    assert error_of(stranger, 404)["code"] == "task_not_exist"
    assert (
        error_of(sora_api.post(f"{VIDEOS}/{parent['id']}/remix", json={}, headers=tenant.headers), 400)[
            "param"
        ]
        == "prompt"
    )

    remix = sora_api.post(
        f"{VIDEOS}/{parent['id']}/remix", json={"prompt": "at night"}, headers=tenant.headers
    )
    assert remix.status_code == 200, remix.text
    body = remix.json()
    assert (body["model"], body["remixed_from_video_id"], body["size"]) == (
        "sora-2-pro",
        parent["id"],
        "1792x1024",
    )
    drive(db, sora_settings, body["id"])
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(body["id"]))
        assert job is not None
        assert (job.operation, str(job.parent_job_id), job.state) == ("remix", parent["id"], "succeeded")
        assert job.charged == job.price == 4_000_000  # 8 s at 0.50 (1024p on sora-2-pro)
        assert audit.find_breaches(session) == []
    task = simulator.task(str(job.external_id).removeprefix("video_"))
    assert task is not None
    assert task.params["remixed_from"] == f"video_{task.params['parent']}"  # the parent's upstream video


def test_sora_openais_sdk_creates_remixes_and_downloads_variants(
    sora_api: TestClient, sora_settings: Settings, tenant: Tenant, db: Database, simulator: Simulator
) -> None:
    openai = pytest.importorskip("openai", reason="the openai SDK is not installed (dev dependency)")
    client = openai.OpenAI(
        api_key=tenant.api_key, base_url="http://testserver/v1", http_client=sora_api, max_retries=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK marks Sora's methods deprecated
        video = client.videos.create(prompt="a paper boat", model="sora-2", seconds="8", size="720x1280")
        assert (video.status, video.model) == ("queued", "sora-2")
        drive(db, sora_settings, video.id)
        done = client.videos.retrieve(video.id)
        remix = client.videos.remix(video.id, prompt="the same boat, at night")
        drive(db, sora_settings, remix.id)
        remixed = client.videos.retrieve(remix.id)
        thumbnail = client.videos.download_content(remix.id, variant="thumbnail")
        clip = client.videos.download_content(remix.id)
    assert (done.status, done.seconds, done.progress) == ("completed", "8", 100)
    assert (remixed.status, remixed.remixed_from_video_id, remixed.seconds) == ("completed", video.id, "8")
    assert thumbnail.content.startswith(b"RIFF")
    assert clip.content.startswith(b"\x00\x00\x00")
    account = sora_api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - 2 * 800_000, 0)


def test_sora_a_channel_whose_upstream_shut_sora_down_fails_the_job_at_no_cost(
    sora_api: TestClient, sora_settings: Settings, tenant: Tenant, db: Database, simulator: Simulator
) -> None:
    simulator.configure(retired_models=("sora-*",))
    video = sora_api.post(VIDEOS, data={"prompt": "x", "model": "sora-2"}, headers=tenant.headers).json()
    drive(db, sora_settings, video["id"])
    failed = sora_api.get(f"{VIDEOS}/{video['id']}", headers=tenant.headers).json()
    assert (failed["status"], failed["error"]["code"]) == ("failed", "model_not_available")
    assert simulator.stats()["sora"].create_attempts == 1  # refused once, never sent again
    account = sora_api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS, 0)


@pytest.mark.e2e
def test_sora_e2e_openai_sdk_create_and_poll_through_a_real_worker(
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openai = pytest.importorskip("openai", reason="the openai SDK is not installed (dev dependency)")
    monkeypatch.setenv("SORA_KEY", simulator.config.api_key)
    simulator.configure(speed=0.01)
    stack = start_stack(channels_file=sora_channels(tmp_path, simulator_url))
    client = openai.OpenAI(
        api_key=tenant.api_key, base_url=f"{stack.settings.public_base_url}/v1", max_retries=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create_and_poll(prompt="a paper boat", model="sora-2", poll_interval_ms=50)
        remix = client.videos.remix(video.id, prompt="at night")
        remixed = client.videos.poll(remix.id, poll_interval_ms=50)
        spritesheet = client.videos.download_content(remixed.id, variant="spritesheet")
    assert (video.status, video.seconds, remixed.status) == ("completed", "4", "completed")
    assert spritesheet.content.startswith(b"\xff\xd8\xff")
    for job_id in (video.id, remix.id):
        job = stack.api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()
        assert job["charged"] == job["price"] == PRICE
        assert len(job["outputs"]) == 3
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - 2 * PRICE, 0)
