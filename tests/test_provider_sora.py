"""OpenAI Sora's adapter against the simulated Videos API: each operation's request on the wire, the
statuses (OpenAI's four and the gateways' cancelled/expired), moderation, a model the upstream no longer
serves refused for good, the files from `/content` with the channel's key, and the inputs' bounds."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from orchestrator.db import Database
from orchestrator.models import Job, JobOutput
from orchestrator.ops import audit
from orchestrator.settings import Settings
from tests.factories import Tenant, create_job
from tests.test_contract import run
from workers.providers import PROVIDERS
from workers.providers.base import Channel, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderRejectedError, ProviderUnavailableError
from workers.providers.sora import wire
from workers.providers.sora.schemas import SoraVideo
from workers.providers.veo.schemas import EXAMPLE_PNG
from workers.simulator import Outcome, Simulator

SORA = PROVIDERS["sora"]


@pytest.fixture
def channel(simulator: Simulator, simulator_url: str) -> Channel:
    return Channel("sora", simulator_url, api_key=simulator.config.api_key)


def submit(http: httpx.Client, channel: Channel, operation: str, model: str = "sora-2", **fields: Any) -> str:
    job_input = {"prompt": "a paper boat", **fields}
    return SORA.submit(http, channel, SubmitRequest(str(uuid.uuid4()), operation, model, job_input))


def poll_to_end(http: httpx.Client, channel: Channel, video_id: str, operation: str = "text_to_video") -> Any:
    for _ in range(10):
        update = SORA.poll(http, channel, TaskRef("job", operation, video_id))
        if update.status not in (UpstreamStatus.UNKNOWN, UpstreamStatus.PENDING, UpstreamStatus.RUNNING):
            return update
    pytest.fail("the video never ended")


def test_sora_text_and_image_to_video_send_openais_form_and_end_with_three_files(
    http: httpx.Client, channel: Channel, simulator: Simulator, simulator_url: str
) -> None:
    video_id = submit(http, channel, "text_to_video", "sora-2-pro", seconds="8", size="1920x1080")
    assert video_id.startswith("video_")
    task = simulator.task(video_id.removeprefix("video_"))
    assert task is not None
    assert (task.provider, task.params["model"], task.params["seconds"], task.params["size"]) == (
        "sora",
        "sora-2-pro",
        "8",
        "1920x1080",
    )
    done = poll_to_end(http, channel, video_id)
    assert (done.status, done.progress) == (UpstreamStatus.SUCCEEDED, 100)
    assert done.result == {"video_id": video_id, "model": "sora-2-pro", "seconds": "8", "size": "1920x1080"}
    assert [(o.label, o.content_type, o.authenticated) for o in done.outputs] == [
        ("video", "video/mp4", True),
        ("thumbnail", "image/webp", True),
        ("spritesheet", "image/jpeg", True),
    ]
    content = f"{simulator_url}/v1/videos/{video_id}/content"
    assert [o.url for o in done.outputs] == [
        content,
        f"{content}?variant=thumbnail",
        f"{content}?variant=spritesheet",
    ]
    for output in done.outputs:  # each with the channel's key, refused without it
        assert http.get(output.url).status_code == 401
        got = http.get(output.url, headers=dict(SORA.download_headers(channel)))
        assert (got.status_code, got.headers["content-type"]) == (200, output.content_type)
        assert len(got.content) == simulator.config.file_size

    for reference in (EXAMPLE_PNG, "https://example.com/boat.png"):  # a file, or OpenAI's {image_url}
        image_id = submit(http, channel, "image_to_video", input_reference=reference)
        image_task = simulator.task(image_id.removeprefix("video_"))
        assert image_task is not None
        assert image_task.operation == "image_to_video"


def test_sora_content_is_refused_until_the_video_is_completed(
    http: httpx.Client, channel: Channel, simulator: Simulator, simulator_url: str
) -> None:
    simulator.script("sora", [Outcome(result="succeed", held=True)])
    video_id = submit(http, channel, "text_to_video")
    headers = dict(SORA.download_headers(channel))
    early = http.get(f"{simulator_url}/v1/videos/{video_id}/content", headers=headers)
    assert early.status_code == 400
    assert early.json()["error"]["code"] == "video_not_ready"
    fresh = http.get(f"{simulator_url}/v1/videos/{video_id}", headers=headers)
    assert fresh.status_code == 404  # a fresh video is not visible at once, as on gateways
    running = http.get(f"{simulator_url}/v1/videos/{video_id}", headers=headers)
    assert running.json()["status"] in {"queued", "in_progress"}
    assert running.headers["openai-poll-after-ms"] == "5000"
    simulator.release("sora")
    assert http.get(f"{simulator_url}/v1/videos/{video_id}/content", headers=headers).status_code == 200
    deleted = http.delete(f"{simulator_url}/v1/videos/{video_id}", headers=headers)
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert http.get(f"{simulator_url}/v1/videos/{video_id}/content", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_sora_a_failed_video_is_told_apart_by_its_error(
    http: httpx.Client, channel: Channel, simulator: Simulator, fate: str, code: str
) -> None:
    simulator.script("sora", [Outcome(result=fate)])
    done = poll_to_end(http, channel, submit(http, channel, "text_to_video"))
    assert (done.status, done.raw_status, done.error_code) == (UpstreamStatus.FAILED, "failed", code)
    assert done.error_message


def test_sora_reads_every_status_and_unknown_error_codes() -> None:
    statuses = {
        "queued": UpstreamStatus.PENDING,
        "in_progress": UpstreamStatus.RUNNING,
        "completed": UpstreamStatus.SUCCEEDED,
        "failed": UpstreamStatus.FAILED,
        "cancelled": UpstreamStatus.CANCELLED,
        "expired": UpstreamStatus.EXPIRED,
        "something_new": UpstreamStatus.UNKNOWN,
    }
    for raw, expected in statuses.items():
        assert wire.update(SoraVideo(id="video_1", status=raw), "https://up").status is expected, raw
    odd = SoraVideo.model_validate({"id": "v", "status": "failed", "error": {"code": 42, "message": "boom"}})
    assert (wire.update(odd, "https://up").error_code, odd.error and odd.error.code) == (
        "upstream_failed",
        "42",
    )
    flat = SoraVideo.model_validate({"id": "v", "status": "failed", "error": "content policy violation"})
    assert wire.update(flat, "https://up").error_code == "moderation_blocked"
    gateway = SoraVideo.model_validate({"id": "v", "status": "in_progress", "progress": "58%"})
    assert wire.update(gateway, "https://up").progress == 58


def test_sora_a_retired_model_is_refused_for_good_and_never_retried(
    http: httpx.Client, channel: Channel, simulator: Simulator
) -> None:
    simulator.configure(retired_models=("sora-*",))
    with pytest.raises(ProviderRejectedError) as refused:
        submit(http, channel, "text_to_video", "sora-2-pro")
    assert refused.value.code == "model_not_available"
    assert "does not exist" in refused.value.message
    assert simulator.stats()["sora"].creates == 0
    wrong_key = Channel("sora", channel.base_url, api_key="sk-revoked")
    with pytest.raises(ProviderUnavailableError):  # a key refused: another channel may take it
        submit(http, wrong_key, "text_to_video")


def test_sora_the_simulator_refuses_what_openai_does(
    http: httpx.Client, channel: Channel, simulator_url: str
) -> None:
    headers = {"Authorization": f"Bearer {channel.api_key}"}
    url = f"{simulator_url}/v1/videos"
    bad = [
        ({"model": "sora-2", "prompt": "x", "seconds": "5"}, "seconds"),
        ({"model": "sora-2", "prompt": "x", "size": "1920x1080"}, "size"),
        ({"model": "sora-2", "prompt": ""}, "prompt"),
        (
            {"model": "sora-2", "prompt": "x", "input_reference": {"image_url": "u", "file_id": "f"}},
            "input_reference",
        ),
    ]
    for body, param in bad:
        refused = http.post(url, json=body, headers=headers)
        assert (refused.status_code, refused.json()["error"]["param"]) == (400, param), body
    # JSON (older SDKs) and multipart with bracketed keys (current SDK) both create.
    as_json = http.post(
        url,
        json={"model": "sora-2", "prompt": "x", "input_reference": {"image_url": "https://e/x.png"}},
        headers=headers,
    )
    form = {"model": "sora-2", "prompt": "x", "input_reference[image_url]": "https://e/x.png"}
    as_form = http.post(url, files={k: (None, v) for k, v in form.items()}, headers=headers)
    for created in (as_json, as_form):
        assert created.status_code == 200, created.text
        assert (created.json()["object"], created.json()["id"][:6]) == ("video", "video_")
        assert created.headers["openai-poll-after-ms"] == "5000"
    # Veo's CometAPI face keeps its own creates on the same route.
    veo = http.post(
        url,
        files={"prompt": (None, "x"), "model": (None, "veo3-fast"), "size": (None, "16x9")},
        headers=headers,
    )
    assert veo.json()["id"].startswith("task_")


def test_sora_follow_ups_name_the_parents_video(
    http: httpx.Client, channel: Channel, simulator: Simulator
) -> None:
    parent = submit(http, channel, "text_to_video", seconds="8", size="1280x720")
    poll_to_end(http, channel, parent)
    parent_result = {"video_id": parent, "model": "sora-2", "seconds": "8", "size": "1280x720"}

    def follow(operation: str, **fields: str) -> Any:
        job_input = {"prompt": "again", "parent_job_id": "j", "size": "1280x720", **fields}
        request = SubmitRequest(
            "job", operation, "sora-2", job_input, parent_external_id=parent, parent_result=parent_result
        )
        made = SORA.submit(http, channel, request)
        task = simulator.task(made.removeprefix("video_"))
        assert task is not None
        return task

    remix = follow("remix", seconds="8")
    assert (remix.operation, remix.params["remixed_from"], remix.params["seconds"]) == ("remix", parent, "8")
    extended = follow("extend", seconds="4")
    assert (extended.operation, extended.params["seconds"]) == ("extend", "12")
    edited = follow("edit", seconds="8")
    assert (edited.operation, edited.params["parent"]) == ("edit", parent.removeprefix("video_"))
    with pytest.raises(ProviderRejectedError, match="as long as its parent"):
        follow("remix", seconds="4")  # priced at 4 s for an 8 s parent: refused before sending
    with pytest.raises(ProviderRejectedError, match="parent's size"):
        follow("edit", seconds="8", size="720x1280")


def test_sora_inputs_and_prices(db: Database, tenant: Tenant, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    prices = {
        ("sora-2", "4", "720x1280"): 400_000,
        ("sora-2-pro", "8", "1280x720"): 2_400_000,
        ("sora-2-pro", "12", "1792x1024"): 6_000_000,
        ("sora-2-pro-2025-10-06", "20", "1080x1920"): 10_000_000,
    }
    for (model, seconds, size), price in prices.items():
        job_input = {"prompt": "x", "seconds": seconds, "size": size}
        job_id = create_job(
            db, tenant, settings, provider="sora", operation="text_to_video", model=model, input=job_input
        )
        with db.transaction() as session:
            job = session.get(Job, job_id)
            assert job is not None
            assert job.price == price, (model, seconds, size)
    schema = SORA.operations["text_to_video"]
    with pytest.raises(ValueError, match="needs sora-2-pro"):
        schema.model_validate({"prompt": "x", "size": "1920x1080"}, context={"model": "sora-2"})
    with pytest.raises(ValueError, match="seconds"):
        schema.model_validate({"prompt": "x", "seconds": "6"})
    assert schema.model_validate({"prompt": "x", "seconds": 8}).model_dump()["seconds"] == "8"


def test_sora_a_job_stores_the_video_and_its_variants_charged_once(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    job_input = {"prompt": "a paper boat", "seconds": "4", "size": "1280x720"}
    job_id = create_job(
        db, tenant, settings, provider="sora", operation="text_to_video", model="sora-2", input=job_input
    )
    job = run(db, http, settings, job_id)
    with db.transaction() as session:
        labels = sorted(str(o.label) for o in session.query(JobOutput).filter(JobOutput.job_id == job_id))
        assert audit.find_breaches(session) == []
    assert (job.state, job.charged, job.price) == ("succeeded", 400_000, 400_000)
    assert labels == ["spritesheet", "thumbnail", "video"]
    assert job.result is not None
    assert job.result["video_id"] == job.external_id
    assert json.dumps(job.result)
