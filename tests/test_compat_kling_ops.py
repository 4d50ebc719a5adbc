"""Kling-compatible routes of the newer operations: Kling's bodies in (a nested `input`, a `video_id`
naming one of the caller's videos), Kling task objects out with `videos[]`, `images[]` and `audios[]`
pointing at our storage; refusals in Kling's envelope; image expansion answered as CometAPI does; and
a real worker running a follow-up chain made through these routes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.settings import Settings
from tests.conftest import CREDITS
from tests.driving import drive
from tests.factories import Tenant
from tests.stack import Stack
from workers.providers.kling.schemas import KlingEnvelope, KlingTask
from workers.simulator import Simulator

BASE = "/kling/v1"
IMAGE = "https://example.com/a.png"
LIP_SYNC_AUDIO = {"mode": "audio2video", "audio_type": "url", "audio_url": "https://example.com/speech.mp3"}


def job_row(db: Database, task_id: str) -> Job:
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        session.expunge(job)
        return job


def create(api: TestClient | httpx.Client, tenant: Tenant, path: str, body: dict[str, Any]) -> str:
    response = api.post(f"{BASE}/{path}", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    envelope = KlingEnvelope.model_validate(response.json())
    assert (envelope.code, envelope.message) == (0, "SUCCEED")
    assert envelope.data is not None
    assert envelope.data["task_status"] == "submitted"
    return str(envelope.data["task_id"])


def query(api: TestClient | httpx.Client, tenant: Tenant, path: str, task_id: str) -> dict[str, Any]:
    response = api.get(f"{BASE}/{path}/{task_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    KlingTask.model_validate(data)
    return data


def made(
    api: TestClient, tenant: Tenant, db: Database, settings: Settings, path: str, body: dict[str, Any]
) -> str:
    """A task created through `path` and run to its end."""
    task_id = create(api, tenant, path, body)
    drive(db, settings, task_id)
    return task_id


def refusal(response: httpx.Response, status: int, code: int) -> str:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.json()["request_id"]
    message: str = response.json()["message"]
    return message


STANDALONE = [
    (
        "videos/multi-image2video",
        {"model_name": "kling-v1-6", "image_list": [{"image": IMAGE}, {"image": IMAGE}], "prompt": "a walk"},
        ("multi_image2video", "kling-v1-6"),
    ),
    (
        "videos/effects",
        {
            "effect_scene": "hug",
            "input": {"model_name": "kling-v1-6", "images": [IMAGE, IMAGE], "duration": "5"},
        },
        ("video_effects", "kling-v1-6"),
    ),
    (
        "videos/avatar/image2video",
        {"image": IMAGE, "sound_file": "https://example.com/hello.mp3", "mode": "pro"},
        ("avatar", "kling-avatar"),
    ),
    (
        "audio/text-to-audio",
        {"prompt": "rain on a tin roof", "duration": 5},
        ("text_to_audio", "kling-text-to-audio"),
    ),
    (
        "images/kolors-virtual-try-on",
        {"model_name": "kolors-virtual-try-on-v1-5", "human_image": IMAGE, "cloth_image": IMAGE},
        ("virtual_try_on", "kolors-virtual-try-on-v1-5"),
    ),
]


@pytest.mark.parametrize(("path", "body", "job"), STANDALONE, ids=[route[0] for route in STANDALONE])
def test_compat_kling_operations_create_and_query_in_klings_shape(
    path: str,
    body: dict[str, Any],
    job: tuple[str, str],
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    task_id = made(api, tenant, db, settings, path, {**body, "external_task_id": f"mine-{job[0]}"})
    unified = api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()
    assert (unified["operation"], unified["model"], unified["status"]) == (*job, "succeeded")
    assert unified["charged"] == unified["price"] > 0
    done = query(api, tenant, path, f"mine-{job[0]}")  # by external_task_id too
    assert (done["task_id"], done["task_status"]) == (task_id, "succeed")
    result = done["task_result"]
    urls = [v["url"] for v in result["videos"]] + [i["url"] for i in result["images"]]
    urls += [a[key] for a in result.get("audios", []) for key in ("url_mp3", "url_wav")]
    assert urls
    for url in urls:
        assert url.startswith(f"{settings.public_base_url}/v1/files/")  # ours, not the upstream's
        assert api.get(url.removeprefix(settings.public_base_url)).status_code == 200
    if job[0] == "text_to_audio":
        [audio] = result["audios"]
        assert (audio["duration_mp3"], audio["duration_wav"]) == ("5.0", "5.0")
        mp3 = api.get(audio["url_mp3"].removeprefix(settings.public_base_url))
        assert mp3.headers["content-type"] == "audio/mpeg"
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0


def test_compat_kling_follow_up_chain_names_each_parent_by_its_video_id(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    first = made(
        api, tenant, db, settings, "videos/text2video", {"model_name": "kling-v2-6", "prompt": "a boat"}
    )
    [video] = query(api, tenant, "videos/text2video", first)["task_result"]["videos"]
    assert video["id"] == f"{first}-video-0"

    extended = made(
        api, tenant, db, settings, "videos/video-extend", {"video_id": video["id"], "prompt": "on"}
    )
    job = api.get(f"/v1/jobs/{extended}", headers=tenant.headers).json()
    assert (job["parent_job_id"], job["model"], job["status"]) == (first, "kling-v2-6", "succeeded")
    [longer] = query(api, tenant, "videos/video-extend", extended)["task_result"]["videos"]

    lip_body = {"input": {"video_id": longer["id"], **LIP_SYNC_AUDIO}}
    synced = made(api, tenant, db, settings, "videos/lip-sync", lip_body)
    assert api.get(f"/v1/jobs/{synced}", headers=tenant.headers).json()["parent_job_id"] == extended
    [spoken] = query(api, tenant, "videos/lip-sync", synced)["task_result"]["videos"]

    dubbed = made(
        api, tenant, db, settings, "audio/video-to-audio", {"video_id": spoken["id"], "bgm_prompt": "jazz"}
    )
    result = query(api, tenant, "audio/video-to-audio", dubbed)["task_result"]
    assert len(result["videos"]) == len(result["audios"]) == 1
    assert set(result["audios"][0]) >= {"url_mp3", "url_wav", "duration_mp3", "duration_wav"}

    # Upstream, each follow-up named its parent's video by Kling's own id, as the parent reported it.
    for child, parent in ((extended, first), (synced, extended), (dubbed, synced)):
        task = simulator.task(job_row(db, child).external_id or "")
        assert task is not None
        assert task.params["video_id"] == (job_row(db, parent).result or {})["videos"][0]["id"]
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0


def test_compat_kling_lip_sync_and_video_to_audio_on_a_video_url(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    url = "https://example.com/speaker.mp4"
    unused = {"video_id": None, "text": "", "voice_id": None}  # as clients built on typed structs send them
    lip_sync = {"input": {"video_url": url, **unused, **LIP_SYNC_AUDIO}, "callback_url": ""}
    synced = made(api, tenant, db, settings, "videos/lip-sync", lip_sync)
    dubbed_body = {"video_url": url, "video_id": None, "asmr_mode": True}
    dubbed = made(api, tenant, db, settings, "audio/video-to-audio", dubbed_body)
    for path, task_id in (("videos/lip-sync", synced), ("audio/video-to-audio", dubbed)):
        assert query(api, tenant, path, task_id)["task_status"] == "succeed"
        assert api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()["parent_job_id"] is None


def test_compat_kling_follow_ups_refused_for_a_foreign_missing_or_wrong_video(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    video = made(api, owner, db, settings, "videos/text2video", {"prompt": "a boat"})
    image = made(api, owner, db, settings, "images/generations", {"prompt": "a fox"})
    unfinished = create(api, owner, "videos/text2video", {"prompt": "not yet"})
    extend = f"{BASE}/videos/video-extend"

    # No such video: Kling's "resource does not exist"; one not made yet: a conflict with its state.
    foreign = api.post(extend, json={"video_id": f"{video}-video-0"}, headers=other.headers)
    assert refusal(foreign, 404, 1203).startswith("video_id: no Kling video")
    missing = api.post(extend, json={"video_id": str(uuid.uuid4())}, headers=owner.headers)
    assert refusal(missing, 404, 1203).startswith("video_id: no Kling video")
    wrong = api.post(extend, json={"video_id": image}, headers=owner.headers)
    assert "names a image_generation task" in refusal(wrong, 422, 1201)
    early = api.post(extend, json={"video_id": unfinished}, headers=owner.headers)
    assert "must be a succeeded kling job" in refusal(early, 409, 1201)
    both = {"video_id": video, "video_url": "https://example.com/v.mp4"}
    twice = api.post(f"{BASE}/audio/video-to-audio", json=both, headers=owner.headers)
    assert "exactly one of video_id" in refusal(twice, 422, 1201)
    flat = api.post(
        f"{BASE}/videos/lip-sync", json={"video_id": video, "mode": "text2video"}, headers=owner.headers
    )
    assert refusal(flat, 422, 1201).startswith("input: input is required")
    scene = {"effect_scene": "kiss", "input": {"image": IMAGE}}
    lone = api.post(f"{BASE}/videos/effects", json=scene, headers=owner.headers)
    assert "two-person scene" in refusal(lone, 422, 1201)

    assert len(api.get("/v1/jobs", headers=other.headers).json()["data"]) == 0
    assert len(api.get("/v1/jobs", headers=owner.headers).json()["data"]) == 3  # the three made above
    assert api.get("/v1/account", headers=other.headers).json()["held"] == 0


def test_compat_kling_image_expansion_is_not_offered(api: TestClient, tenant: Tenant) -> None:
    before = api.get("/v1/account", headers=tenant.headers).json()
    body = {"image": IMAGE, "up_expansion_ratio": 0.1}
    answer = api.post(f"{BASE}/images/editing/expand", json=body, headers=tenant.headers)
    assert refusal(answer, 404, 1203).startswith("404")
    assert api.get("/v1/jobs", headers=tenant.headers).json()["data"] == []
    assert api.get("/v1/account", headers=tenant.headers).json() == before
    assert api.post(f"{BASE}/images/editing/expand", json=body).status_code == 401


def test_compat_kling_query_in_another_family_is_not_found(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = made(
        api, tenant, db, make_settings(), "audio/text-to-audio", {"prompt": "rain", "duration": 3.5}
    )
    assert query(api, tenant, "audio/text-to-audio", task_id)["task_status"] == "succeed"
    for path in ("audio/video-to-audio", "videos/text2video", "videos/avatar/image2video", "audio/nothing"):
        answer = api.get(f"{BASE}/{path}/{task_id}", headers=tenant.headers)
        assert refusal(answer, 404, 1203), path


@pytest.mark.e2e
def test_e2e_compat_kling_follow_up_chain_through_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()
    first = create(stack.api, tenant, "videos/text2video", {"model_name": "kling-v1-6", "prompt": "a boat"})
    jobs = [stack.wait_for_end(tenant, first)]
    [video] = query(stack.api, tenant, "videos/text2video", first)["task_result"]["videos"]
    extended = create(stack.api, tenant, "videos/video-extend", {"video_id": video["id"], "prompt": "on"})
    jobs.append(stack.wait_for_end(tenant, extended))
    [longer] = query(stack.api, tenant, "videos/video-extend", extended)["task_result"]["videos"]
    text = {"mode": "text2video", "text": "Hello from the lake.", "voice_id": "v1", "voice_language": "en"}
    synced = create(stack.api, tenant, "videos/lip-sync", {"input": {"video_id": longer["id"], **text}})
    jobs.append(stack.wait_for_end(tenant, synced))

    for job in jobs:
        assert job["status"] == "succeeded", job
        assert job["charged"] == job["price"] > 0
        [output] = job["outputs"]
        download = httpx.get(output["url"])
        assert (download.status_code, download.content[4:8]) == (200, b"ftyp")  # an MP4, stored by us
    assert [job["parent_job_id"] for job in jobs] == [None, first, extended]
    money = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (money["balance"], money["held"]) == (100 * CREDITS - sum(job["price"] for job in jobs), 0)
    assert simulator.stats()["kling"].creates == 3  # each charged once, each created upstream once


def test_unified_follow_ups_take_a_parent_job_of_a_video_operation(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    video = made(api, tenant, db, settings, "videos/text2video", {"prompt": "a boat"})
    sound = made(api, tenant, db, settings, "audio/text-to-audio", {"prompt": "rain", "duration": 4})
    text = {"mode": "text2video", "text": "hi", "voice_id": "v1"}

    def lip_sync(parent: str) -> httpx.Response:
        body = {"provider": "kling", "operation": "lip_sync", "model": "kling-lip-sync"}
        return api.post(
            "/v1/jobs", json={**body, "input": {"parent_job_id": parent, **text}}, headers=tenant.headers
        )

    wrong = lip_sync(sound)
    assert wrong.status_code == 422
    assert [problem["field"] for problem in wrong.json()["error"]["fields"]] == ["input.parent_job_id"]
    assert "the parent is a text_to_audio job" in wrong.json()["error"]["message"]
    accepted = lip_sync(video)
    assert accepted.status_code == 202, accepted.text
    drive(db, settings, accepted.json()["job_id"])
    done = api.get(f"/v1/jobs/{accepted.json()['job_id']}", headers=tenant.headers).json()
    assert (done["status"], done["parent_job_id"]) == ("succeeded", video)
    assert done["result"]["videos"][0]["id"]  # Kling's id of the new video, for a further follow-up


DOCUMENTED: list[tuple[str, dict[str, Any], bool]] = [
    # (route, body, whether the document admits it and the route takes it)
    (
        "videos/text2video",
        {"prompt": "a boat", "duration": 10, "mode": "pro", "model_name": "kling-v2-6"},
        True,
    ),
    (
        "videos/text2video",
        {"prompt": "a boat", "negative_prompt": None, "sound": "", "callback_url": None},
        True,
    ),
    ("videos/text2video", {"prompt": ""}, False),
    ("videos/text2video", {"prompt": "a boat", "model_name": "kling-v9"}, False),
    ("videos/text2video", {"prompt": "a boat", "duration": 7}, False),
    ("videos/text2video", {"prompt": "a boat", "external_task_id": 7}, False),
    ("videos/text2video", {"prompt": "a boat", "callback_url": "ftp://x"}, False),
    ("videos/image2video", {"image": IMAGE}, True),
    ("videos/image2video", {"prompt": "no image"}, False),
    ("videos/multi-image2video", {"image_list": [{"image": IMAGE}, {"image": IMAGE}]}, True),
    ("videos/multi-image2video", {"image_list": [{"image": IMAGE}]}, False),
    ("videos/effects", {"effect_scene": "hug", "input": {"images": [IMAGE, IMAGE]}}, True),
    ("videos/effects", {"effect_scene": "bloom", "input": {"image": IMAGE, "images": None}}, True),
    ("videos/effects", {"effect_scene": "kiss", "input": {"image": IMAGE}}, False),
    ("videos/effects", {"effect_scene": "bloom", "input": {"image": IMAGE, "images": [IMAGE, IMAGE]}}, False),
    ("videos/effects", {"effect_scene": "bloom", "image": IMAGE}, False),
    ("videos/avatar/image2video", {"image": IMAGE, "audio_id": "a-1"}, True),
    ("videos/avatar/image2video", {"image": IMAGE, "audio_id": "a-1", "sound_file": IMAGE}, False),
    ("videos/avatar/image2video", {"image": IMAGE}, False),
    (
        "videos/lip-sync",
        {"input": {"video_url": IMAGE, "mode": "text2video", "text": "hi", "voice_id": "v"}},
        True,
    ),
    ("videos/lip-sync", {"input": {"video_url": IMAGE, "mode": "audio2video", "audio_file": "AAA="}}, True),
    ("videos/lip-sync", {"input": {"video_url": IMAGE, "mode": "audio2video", "text": "hi"}}, False),
    (
        "videos/lip-sync",
        {"input": {"video_url": IMAGE, "mode": "audio2video", "audio_url": IMAGE, "audio_type": "file"}},
        False,
    ),
    ("videos/lip-sync", {"input": {"mode": "text2video", "text": "hi", "voice_id": "v"}}, False),
    ("audio/text-to-audio", {"prompt": "waves", "duration": 5.5}, True),
    ("audio/text-to-audio", {"prompt": "waves", "duration": 11}, False),
    ("audio/video-to-audio", {"video_url": IMAGE, "bgm_prompt": "piano"}, True),
    ("audio/video-to-audio", {"bgm_prompt": "piano"}, False),
    ("images/generations", {"prompt": "a fox", "n": 9, "aspect_ratio": "21:9"}, True),
    ("images/generations", {"prompt": "a fox", "n": 10}, False),
    ("images/kolors-virtual-try-on", {"human_image": IMAGE, "cloth_image": IMAGE}, True),
    ("images/kolors-virtual-try-on", {"human_image": IMAGE}, False),
]


def test_compat_kling_document_states_what_each_create_takes(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for route, body, taken in DOCUMENTED:
        schema = paths[f"{BASE}/{route}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert jsonschema.Draft202012Validator(schema).is_valid(body) is taken, (route, body)
        response = api.post(f"{BASE}/{route}", json=body, headers=tenant.headers)
        assert (response.status_code == 200) is taken, (route, body, response.text)
        if not taken:
            assert (response.status_code, response.json()["code"]) == (422, 1201), response.text
