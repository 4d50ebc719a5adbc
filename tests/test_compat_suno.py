"""Suno-compatible routes: CometAPI's `/suno/...` bodies and `{code, message, data}` envelopes in,
TaskDtos (two clips with our URLs, or lyrics) out; end to end through a real worker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.projections import projection_for
from orchestrator.settings import Settings
from orchestrator.views import provider_view
from schemas.jobs import JobStatus
from tests import services
from tests.conftest import CREDITS
from tests.driving import drive
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.suno import projection
from workers.providers.suno.schemas import SunoClip, SunoEnvelope, SunoLyrics, SunoTask
from workers.simulator import Outcome, Simulator

MUSIC = "/suno/submit/music"
LYRICS = "/suno/submit/lyrics"
CUSTOM = {
    "prompt": "[Verse]\nNeon rain on the avenue",
    "tags": "synthwave",
    "title": "Neon Rain",
    "mv": "chirp-v4",
}
PRICE_V4 = 120_000  # workers/providers/suno/prices.toml: chirp-v4 music, 0.12 credits
SUCCESS = {"code": "success", "message": ""}


def submit(api: TestClient, tenant: Tenant, path: str, body: dict[str, Any]) -> str:
    created = api.post(path, json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    envelope = SunoEnvelope.model_validate(created.json())
    assert envelope.ok
    assert envelope.message == ""
    assert isinstance(envelope.data, str)
    return envelope.data


def fetch(api: TestClient, tenant: Tenant, task_id: str) -> SunoTask:
    answer = api.get(f"/suno/fetch/{task_id}", headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    assert {key: answer.json()[key] for key in ("code", "message")} == SUCCESS
    return SunoTask.model_validate(answer.json()["data"])


def account(api: TestClient, tenant: Tenant) -> dict[str, Any]:
    body: dict[str, Any] = api.get("/v1/account", headers=tenant.headers).json()
    return body


def clips_of(task: SunoTask) -> list[SunoClip]:
    assert isinstance(task.data, list)
    return task.data


def test_compat_suno_music_created_and_fetched_in_sunos_shape(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = submit(api, tenant, MUSIC, CUSTOM)
    assert uuid.UUID(task_id)  # our job id
    fresh = fetch(api, tenant, task_id)
    assert (fresh.task_id, fresh.action, fresh.status, fresh.progress) == (
        task_id,
        "MUSIC",
        "SUBMITTED",
        "0%",
    )
    assert (fresh.notify_hook, fresh.fail_reason, fresh.data, fresh.finish_time) == ("", "", [], 0)
    assert isinstance(fresh.submit_time, int)
    assert 1_700_000_000 < fresh.submit_time < 10_000_000_000

    drive(db, make_settings(), task_id)
    done = fetch(api, tenant, task_id)
    assert (done.status, done.progress, done.fail_reason) == ("SUCCESS", "100%", "")
    assert isinstance(done.finish_time, int)
    assert isinstance(done.submit_time, int)
    assert done.finish_time >= done.submit_time > 0
    clips = clips_of(done)
    assert len(clips) == 2
    public = make_settings().public_base_url
    for clip in clips:
        assert (clip.status, clip.title, clip.model_name) == ("complete", "Neon Rain", "chirp-v4")
        assert clip.metadata is not None
        assert clip.metadata.tags == "synthwave"
        assert clip.metadata.duration is not None
        assert clip.metadata.duration > 0
        files = {clip.audio_url: "audio/mpeg", clip.image_url: "image/jpeg", clip.video_url: "video/mp4"}
        for url, content_type in files.items():
            assert url is not None
            assert url.startswith(f"{public}/v1/files/")
            download = api.get(url.removeprefix(public))
            assert (download.status_code, download.headers["content-type"]) == (200, content_type)
    assert len({clip.id for clip in clips}) == 2
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - PRICE_V4, 0)


def test_compat_suno_default_mv_and_notify_hook_reach_the_job(
    api: TestClient, tenant: Tenant, db: Database, simulator: Simulator
) -> None:
    task_id = submit(
        api, tenant, MUSIC, {"gpt_description_prompt": "lo-fi rain", "make_instrumental": True, "mv": ""}
    )
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        assert (job.model, job.api_format, job.input["mode"]) == ("chirp-v3-0", "suno", "inspiration")
        assert "mv" not in job.input
    refused = api.post(
        MUSIC, json={**CUSTOM, "notify_hook": "http://127.0.0.1:9/hook"}, headers=tenant.headers
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_request"
    assert refused.json()["message"].startswith("notify_hook:")  # internal targets are refused


def test_compat_suno_lyrics(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = submit(api, tenant, LYRICS, {"prompt": "a sea shanty about a lighthouse keeper"})
    drive(db, make_settings(), task_id)
    done = fetch(api, tenant, task_id)
    assert (done.action, done.status, done.progress) == ("LYRICS", "SUCCESS", "100%")
    assert isinstance(done.data, SunoLyrics)
    assert (done.data.id, done.data.status) == (task_id, "complete")
    assert done.data.title
    assert done.data.text
    assert "[Verse]" in done.data.text
    assert account(api, tenant)["held"] == 0


def test_compat_suno_failure_reads_like_sunos_and_releases_the_hold(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("suno", [Outcome(result="moderation")])
    task_id = submit(api, tenant, MUSIC, CUSTOM)
    drive(db, make_settings(), task_id)
    failed = fetch(api, tenant, task_id)
    assert (failed.status, failed.progress) == ("FAILURE", "100%")
    assert failed.fail_reason is not None
    assert "content policy" in failed.fail_reason
    for clip in clips_of(failed):
        assert clip.status == "error"
        assert (clip.audio_url, clip.video_url, clip.image_url) == ("", "", "")  # never upstream's links
        assert clip.metadata is not None
        assert clip.metadata.error_type == "moderation_blocked"
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS, 0)


def test_compat_suno_continuation_takes_our_task_id(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    tenant, other = make_tenant(name="mine"), make_tenant(name="other")
    parent_id = submit(api, tenant, MUSIC, CUSTOM)
    drive(db, make_settings(), parent_id)
    clip = clips_of(fetch(api, tenant, parent_id))[0]
    with db.transaction() as session:
        parent = session.get(Job, uuid.UUID(parent_id))
        assert parent is not None
        assert parent.external_id is not None
        upstream_id = parent.external_id
    extend = {**CUSTOM, "continue_clip_id": clip.id, "continue_at": 30}
    for reference in (parent_id, upstream_id):  # our id, or Suno's id of the tenant's own task
        child_id = submit(api, tenant, MUSIC, {**extend, "task_id": reference})
        with db.transaction() as session:
            child = session.get(Job, uuid.UUID(child_id))
            assert child is not None
            assert (child.input["task_id"], child.input["mode"]) == (upstream_id, "continuation")
    drive(db, make_settings(), child_id)  # the simulator checks the clip is that task's
    assert fetch(api, tenant, child_id).status == "SUCCESS"

    for who, reference in ((other, parent_id), (other, upstream_id), (tenant, str(uuid.uuid4()))):
        refused = api.post(MUSIC, json={**extend, "task_id": reference}, headers=who.headers)
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_request")
        assert refused.json()["message"].startswith("task_id:")
    wrong_clip = api.post(
        MUSIC, json={**extend, "task_id": parent_id, "continue_clip_id": "x"}, headers=tenant.headers
    )
    assert wrong_clip.json()["message"].startswith("continue_clip_id:")
    missing = api.post(
        MUSIC, json={**CUSTOM, "continue_clip_id": clip.id, "continue_at": 3}, headers=tenant.headers
    )
    assert (missing.status_code, missing.json()["code"]) == (400, "invalid_request")
    assert "task_id" in missing.json()["message"]


def test_compat_suno_errors_come_in_sunos_envelope(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)

    def error(response: Any, status: int, code: str) -> str:
        assert response.status_code == status, response.text
        body = response.json()
        assert (body["code"], body["data"]) == (code, None)
        message: str = body["message"]
        return message

    assert error(api.post(MUSIC, json=CUSTOM), 401, "unauthorized")
    assert error(api.get("/suno/fetch/x", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    blank = api.post(LYRICS, json={"prompt": " "}, headers=rich.headers)
    assert error(blank, 400, "invalid_request").startswith("prompt:")
    stray = api.post(MUSIC, json={**CUSTOM, "colour": "blue"}, headers=rich.headers)
    assert error(stray, 400, "invalid_request").startswith("colour:")
    unknown_model = api.post(MUSIC, json={**CUSTOM, "mv": "chirp-v9"}, headers=rich.headers)
    assert error(unknown_model, 400, "invalid_request").startswith("mv:")
    not_json = api.post(MUSIC, content=b"{", headers={**rich.headers, "content-type": "application/json"})
    assert error(not_json, 400, "invalid_request")
    assert error(api.post(MUSIC, json=CUSTOM, headers=poor.headers), 402, "quota_not_enough")

    task_id = submit(api, rich, MUSIC, CUSTOM)
    for who, reference in ((poor, task_id), (rich, str(uuid.uuid4())), (rich, "not-an-id")):
        missing = api.get(f"/suno/fetch/{reference}", headers=who.headers)
        assert error(missing, 400, "task_not_exist") == "task_not_exist"  # as CometAPI answers


def test_compat_suno_batch_fetch_only_the_tenants_own(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    tenant, other = make_tenant(name="mine"), make_tenant(name="other")
    music = [submit(api, tenant, MUSIC, CUSTOM) for _ in range(2)]
    lyrics = submit(api, tenant, LYRICS, {"prompt": "a lullaby"})
    foreign = submit(api, other, MUSIC, CUSTOM)
    ids = [music[1], foreign, "garbage", str(uuid.uuid4()), lyrics, music[0]]
    expectations = {
        "MUSIC": [music[1], music[0]],
        "lyrics": [lyrics],
        None: [music[1], lyrics, music[0]],  # in the order asked
    }
    for action, expected in expectations.items():
        body = {"ids": ids, "action": action} if action else {"ids": ids}
        answer = api.post("/suno/fetch", json=body, headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        tasks = [SunoTask.model_validate(item) for item in answer.json()["data"]]
        assert [task.task_id for task in tasks] == expected
    bad = api.post("/suno/fetch", json={"ids": "x"}, headers=tenant.headers)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_request")
    assert bad.json()["message"].startswith("ids:")


def test_compat_suno_idempotency_replays_the_first_answer(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "song-42"}
    first = api.post(MUSIC, json=CUSTOM, headers=headers)
    again = api.post(MUSIC, json=CUSTOM, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert account(api, tenant)["held"] == PRICE_V4  # one job, one hold
    changed = api.post(MUSIC, json={**CUSTOM, "title": "Other"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    assert changed.json()["data"] is None


def test_compat_suno_every_job_status_has_a_suno_status() -> None:
    assert set(projection.STATUS) == set(JobStatus)
    assert set(projection.STATUS.values()) <= {"SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"}
    assert {projection.STATUS[s] for s in JobStatus if s.is_terminal} == {"SUCCESS", "FAILURE"}
    # Jobs created through the Suno routes send their webhooks as Suno's TaskDto, files only at SUCCESS.
    webhook = projection_for("suno")
    assert webhook is not None
    now = datetime.now(UTC)
    for state in JobStatus:
        job = Job(
            job_id=uuid.uuid4(),
            provider="suno",
            operation="music",
            model="chirp-v4",
            state=state.value,
            progress=40,
            result={"clips": [{"clip_id": "c0", "status": "complete", "title": "T"}]},
            created_at=now,
            updated_at=now,
            finished_at=now,
        )
        task = SunoTask.model_validate(webhook(job, {"clip-0.audio": "https://ours.example/a.mp3"}))
        assert (task.task_id, task.action, task.status) == (
            str(job.job_id),
            "MUSIC",
            projection.STATUS[state],
        )
        stored = "https://ours.example/a.mp3" if state is JobStatus.SUCCEEDED else ""
        assert [(clip.id, clip.audio_url) for clip in clips_of(task)] == [("c0", stored)]


@pytest.mark.e2e
def test_e2e_compat_suno_through_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        songs = [stack_submit(stack, tenant, {**CUSTOM, "notify_hook": receiver.url})]
        done = stack_wait(stack, tenant, songs[0])
        simulator.script("suno", [Outcome(result="fail", message="GPU fell over")])
        songs.append(stack_submit(stack, tenant, {**CUSTOM, "notify_hook": receiver.url}))
        failed = stack_wait(stack, tenant, songs[1])

        assert done.status == "SUCCESS"
        assert done.notify_hook == receiver.url
        for clip in clips_of(done):
            for url in (clip.audio_url, clip.image_url, clip.video_url):
                assert url is not None
                assert url.startswith(stack.settings.public_base_url)
                assert httpx.get(url).status_code == 200
        assert (failed.status, failed.fail_reason) == ("FAILURE", "GPU fell over")
        account = stack.api.get("/v1/account", headers=tenant.headers).json()
        assert (account["balance"], account["held"]) == (100 * CREDITS - PRICE_V4, 0)

        def final_hooks() -> dict[str, SunoTask] | None:
            tasks = [SunoTask.model_validate(json.loads(r.body)) for r in list(receiver.received)]
            last = {task.task_id: task for task in tasks if task.status in ("SUCCESS", "FAILURE")}
            return last if set(last) == set(songs) else None

        hooks = services.wait_until(final_hooks, timeout=30, message="terminal webhooks")
    assert hooks[songs[0]].status == "SUCCESS"
    assert len(clips_of(hooks[songs[0]])) == 2
    assert hooks[songs[1]].status == "FAILURE"


def stack_submit(stack: Stack, tenant: Tenant, body: dict[str, Any]) -> str:
    created = stack.api.post(MUSIC, json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    task_id: str = created.json()["data"]
    return task_id


def stack_wait(stack: Stack, tenant: Tenant, task_id: str) -> SunoTask:
    def ended() -> SunoTask | None:
        task = SunoTask.model_validate(
            stack.api.get(f"/suno/fetch/{task_id}", headers=tenant.headers).json()["data"]
        )
        return task if task.status in ("SUCCESS", "FAILURE") else None

    task: SunoTask = services.wait_until(ended, timeout=60, interval=0.05, message=f"task {task_id} ends")
    return task


def test_compat_suno_projection_shows_no_file_before_ours_are_stored() -> None:
    clips = [{"clip_id": "c0", "status": "complete", "title": "T"}, {"clip_id": "c1", "status": "streaming"}]
    job = Job(
        job_id=uuid.uuid4(),
        operation="music",
        model="chirp-v4",
        state=JobStatus.STORING.value,
        progress=100,
        upstream_status="SUCCESS",
        result={"task_id": "upstream-1", "clips": clips},
        created_at=datetime.now(UTC),
    )
    urls = {"clip-0.audio": "https://ours.example/a.mp3"}
    task = SunoTask.model_validate(projection.task_object(provider_view(job, urls)))
    assert (task.status, task.progress, task.finish_time) == ("IN_PROGRESS", "99%", 0)
    assert [(clip.id, clip.status, clip.audio_url) for clip in clips_of(task)] == [
        ("c0", "streaming", ""),  # complete upstream, but not yet downloadable from us
        ("c1", "streaming", ""),
    ]
    job.state = JobStatus.SUBMITTED.value
    job.upstream_status = "QUEUED"
    assert projection.task_object(provider_view(job, urls))["status"] == "QUEUED"


def test_compat_suno_refuses_what_its_document_forbids(api: TestClient, tenant: Tenant) -> None:
    """Each body's rule as the document states it: the mode's fields, JSON types (not 1 for true,
    not false for a model), a URI's characters, the conversions by name, no field of our own."""

    def refused(response: Any) -> str:
        assert response.status_code == 400, response.text
        body = response.json()
        assert (body["code"], body["data"]) == ("invalid_request", None)
        message: str = body["message"]
        return message

    def post(path: str, body: dict[str, Any]) -> Any:
        return api.post(path, json=body, headers=tenant.headers)

    assert "custom mode needs prompt" in refused(post(MUSIC, {}))
    assert refused(post(MUSIC, {"tags": "punk", "make_instrumental": 1})).startswith("make_instrumental:")
    assert refused(post(MUSIC, {**CUSTOM, "mv": False})).startswith("mv:")
    assert "infill_start_s" in refused(post(MUSIC, {**CUSTOM, "infill_start_s": 1, "infill_end_s": 2}))
    assert submit(api, tenant, MUSIC, {"tags": "punk", "make_instrumental": True, "prompt": " "})
    assert refused(post("/suno/uploads/audio-url", {"url": "https://\u00cf/a.mp3"})).startswith("url:")
    assert refused(post("/suno/uploads/audio-url", {"url": "https://a.io/\u00e9.mp3"})).startswith("url:")
    assert submit(api, tenant, "/suno/uploads/audio-url", {"url": "https://xn--h-ega.io/a.mp3"})
    assert refused(post("/suno/submit/concat", {})).startswith("clip_id:")
    assert refused(post("/suno/submit/concat", {"clip_id": "c", "parent_job_id": "p"})).startswith(
        "parent_job_id:"
    )
    assert refused(post("/suno/persona/create", {"root_clip_id": "c", "name": "n", "clip_id": "d"}))
    assert refused(api.get("/suno/act/flac/c", headers=tenant.headers)).startswith("kind:")


def test_compat_suno_document_states_each_bodys_rules(api: TestClient) -> None:
    document = api.get("/openapi.json").json()

    def schema(path: str, method: str = "post") -> dict[str, Any]:
        operation = document["paths"][path][method]
        if method == "get":
            return {p["name"]: p["schema"] for p in operation["parameters"]}
        found: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
        return found

    assert schema("/suno/act/{kind}/{clip_id}", "get")["kind"]["enum"] == ["wav", "mp4", "midi", "timing"]
    assert schema("/suno/submit/concat")["required"] == ["clip_id"]
    assert schema("/suno/persona/create")["required"] == ["root_clip_id", "name"]
    assert "format" not in schema("/suno/uploads/audio-url")["properties"]["url"]
    music = schema("/suno/submit/music")["anyOf"]
    # Custom mode: the lyrics, or tags with make_instrumental; each mode with and without a persona.
    custom = [
        branch
        for branch in music
        if branch["properties"].get("mode")
        == {"anyOf": [{"const": "custom"}, {"type": "null"}, {"const": ""}]}
    ]
    assert sorted(tuple(branch["required"]) for branch in custom) == [
        ("make_instrumental", "tags"),
        ("make_instrumental", "tags", "task", "persona_id", "artist_clip_id"),
        ("prompt",),
        ("prompt", "task", "persona_id", "artist_clip_id"),
    ]
    assert [
        branch["required"] for branch in music if branch["properties"]["task"] == {"const": "gen_stem"}
    ] == [["task", "continue_clip_id"]]
