"""The shared OpenAI-shaped `/v1/videos` routes: one family over every provider that declares video
models for it — list, delete, `/content` variants, the model that picks the provider, Sora's
shutdown — and OpenAI's own Python SDK, unchanged, against a running genrelay."""

from __future__ import annotations

import base64
import re
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.db import Database
from orchestrator.models import Job, JobOutput
from orchestrator.ops import audit
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage, build_storage
from tests.conftest import CREDITS
from tests.driving import drive
from tests.factories import Tenant, kling_request
from tests.stack import Stack
from workers.providers import PROVIDERS
from workers.providers.veo.schemas import EXAMPLE_PNG
from workers.simulator import Simulator

VIDEOS = "/v1/videos"
PNG = base64.b64decode(EXAMPLE_PNG.split(",", 1)[1])
PNG_URL = "https://example.com/first.png"
PRICE = 1_200_000  # veo3-fast: 0.15 credits a second, 8-second clips


def create(api: TestClient, tenant: Tenant, **form: str) -> dict[str, Any]:
    response = api.post(VIDEOS, data={"prompt": "a paper boat", **form}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_videos_list_pages_the_callers_videos_newest_first(
    api: TestClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    made = [create(api, tenant)["id"] for _ in range(3)]
    api.post("/v1/jobs", json=kling_request(), headers=tenant.headers)  # not a /v1/videos job
    create(api, make_tenant(name="other"))  # another tenant's

    first = api.get(VIDEOS, params={"limit": 2}, headers=tenant.headers).json()
    assert first["object"] == "list"
    assert [v["id"] for v in first["data"]] == made[::-1][:2]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (made[2], made[1], True)
    rest = api.get(VIDEOS, params={"limit": 2, "after": first["last_id"]}, headers=tenant.headers).json()
    assert ([v["id"] for v in rest["data"]], rest["has_more"]) == ([made[0]], False)
    oldest = api.get(VIDEOS, params={"order": "asc"}, headers=tenant.headers).json()
    assert [v["id"] for v in oldest["data"]] == made
    assert all(v["object"] == "video" and v["status"] == "queued" for v in oldest["data"])

    for params, param in (({"limit": 0}, "limit"), ({"order": "up"}, "order"), ({"after": "x"}, "after")):
        error = error_of(api.get(VIDEOS, params=params, headers=tenant.headers), 400)
        assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_videos_delete_removes_a_finished_videos_files_but_never_its_money(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    video_id = create(api, tenant)["id"]
    running = error_of(api.delete(f"{VIDEOS}/{video_id}", headers=tenant.headers), 409)
    assert running["code"] == "job_not_finished"
    assert "does not cancel" in running["message"]

    drive(db, settings, video_id)
    assert api.get(f"{VIDEOS}/{video_id}", headers=tenant.headers).json()["status"] == "completed"
    with db.transaction() as session:
        keys = session.execute(select(JobOutput.storage_key).where(JobOutput.job_id == uuid.UUID(video_id)))
        files = [storage_path(settings, key) for key in keys.scalars()]
    assert files
    assert all(path.exists() for path in files)

    deleted = api.delete(f"{VIDEOS}/{video_id}", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert not any(path.exists() for path in files)
    for path in (f"{VIDEOS}/{video_id}", f"{VIDEOS}/{video_id}/content"):
        assert error_of(api.get(path, headers=tenant.headers), 404)["code"] == "task_not_exist"
    assert (
        error_of(api.delete(f"{VIDEOS}/{video_id}", headers=tenant.headers), 404)["code"] == "task_not_exist"
    )
    assert api.get(VIDEOS, headers=tenant.headers).json()["data"] == []
    job = api.get(f"/v1/jobs/{video_id}", headers=tenant.headers).json()  # the job and its charge stay
    assert (job["status"], job["charged"], job["outputs"]) == ("succeeded", PRICE, [])
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - PRICE, 0)
    with db.transaction() as session:
        assert session.get(Job, uuid.UUID(video_id)) is not None
        assert audit.find_breaches(session) == []


def storage_path(settings: Settings, key: str) -> Any:
    storage = build_storage(settings)
    assert isinstance(storage, LocalStorage)
    return storage.path_for(key)


def test_videos_content_serves_only_the_variants_a_model_has(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    video_id = create(api, tenant)["id"]
    not_ready = error_of(api.get(f"{VIDEOS}/{video_id}/content", headers=tenant.headers), 409)
    assert (not_ready["code"], not_ready["message"].split(" (")[0]) == (
        "video_not_ready",
        f"video {video_id} is queued",
    )
    drive(db, make_settings(), video_id)
    content = api.get(f"{VIDEOS}/{video_id}/content", params={"variant": "video"}, headers=tenant.headers)
    assert (content.status_code, content.headers["content-type"]) == (200, "video/mp4")
    for variant in ("thumbnail", "spritesheet", "poster"):
        missing = api.get(f"{VIDEOS}/{video_id}/content", params={"variant": variant}, headers=tenant.headers)
        error = error_of(missing, 400)
        assert error["param"] == "variant"
        assert "veo3-fast" in error["message"]


def test_videos_the_model_picks_the_provider_and_sora_says_why_it_is_gone(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    for model in ("sora-2", "sora-2-pro", "sora-2-2025-12-08"):
        gone = error_of(api.post(VIDEOS, data={"prompt": "x", "model": model}, headers=tenant.headers), 400)
        assert (gone["code"], gone["param"]) == ("model_not_available", "model")
        assert "shut the Sora 2 video API down on 2026-09-24" in gone["message"]
    unknown = error_of(api.post(VIDEOS, data={"prompt": "x", "model": "nope"}, headers=tenant.headers), 400)
    assert unknown["param"] == "model"
    assert "veo3-fast" in unknown["message"]  # it names what is served
    # A valid remix body for a video whose model cannot remix conflicts with that video.
    remix = error_of(
        api.post(f"{VIDEOS}/{create(api, tenant)['id']}/remix", json={"prompt": "x"}, headers=tenant.headers),
        409,
    )
    assert remix["code"] == "remix_not_supported"
    assert "remix" in remix["message"]

    # Every provider the default channel serves there (Sora's models need a channel of their own).
    served = {
        name
        for name, provider in PROVIDERS.items()
        if provider.videos is not None and provider.videos.unserved is None
    }
    assert set(ONE_MODEL_EACH.values()) == served


# One model of each provider on /v1/videos, and the provider it must reach.
ONE_MODEL_EACH = {
    "veo3-fast": "veo",
    "kling-v2-6": "kling",
    "minimax-hailuo-02": "hailuo",
    "doubao-seedance-2-0-fast": "seedance",
}


@pytest.mark.parametrize("model", sorted(ONE_MODEL_EACH))
def test_videos_every_provider_runs_to_a_completed_video_object(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
    model: str,
) -> None:
    video = create(api, tenant, model=model)
    assert (video["object"], video["status"], video["progress"]) == ("video", "queued", 0)
    assert video["model"].lower().startswith(model.lower())  # as its provider spells it, or dated
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(video["id"]))
        assert job is not None
        assert (job.provider, job.api_format) == (ONE_MODEL_EACH[model], "videos")
    drive(db, make_settings(), video["id"])
    done = api.get(f"{VIDEOS}/{video['id']}", headers=tenant.headers)
    assert "openai-poll-after-ms" not in done.headers  # only while it runs
    body = done.json()
    assert (body["status"], body["progress"], body.get("error")) == ("completed", 100, None)
    assert body["seconds"]
    assert body["size"]
    content = api.get(f"{VIDEOS}/{video['id']}/content", headers=tenant.headers)
    assert (content.status_code, len(content.content)) == (200, simulator.config.file_size)


@pytest.mark.parametrize(
    ("form", "refs", "expected"),
    [
        (
            {"model": "kling-v1-6", "seconds": "10", "size": "720x1280"},
            0,
            ("kling", "text2video", {"duration": "10", "aspect_ratio": "9:16"}),
        ),
        ({"model": "kling-v1-6", "mode": "pro"}, 2, ("kling", "image2video", {"mode": "pro"})),
        (
            {"model": "MiniMax-Hailuo-02", "seconds": "10", "size": "768P"},
            2,
            ("hailuo", "image2video", {"duration": 10, "resolution": "768P"}),
        ),
        ({"model": "T2V-01", "size": "1280x720"}, 0, ("hailuo", "text2video", {"resolution": "720P"})),
        ({"model": "veo3", "seconds": "8", "size": "9x16"}, 1, ("veo", "image_to_video", {"size": "9x16"})),
        (
            {"model": "doubao-seedance-2-0", "seconds": "12", "size": "21:9", "resolution": "480p"},
            0,
            ("seedance", "text2video", {"duration": 12, "ratio": "21:9", "resolution": "480p"}),
        ),
        (
            {"model": "seedance-1-0-pro-250528", "size": "1920x1080", "seed": "7"},
            0,
            ("seedance", "text2video", {"ratio": "16:9", "seed": 7}),
        ),
    ],
)
def test_videos_a_create_becomes_the_models_own_job(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    form: dict[str, str],
    refs: int,
    expected: tuple[str, str, dict[str, Any]],
) -> None:
    files = [("input_reference", (f"{n}.png", PNG, "image/png")) for n in range(refs)]
    response = api.post(
        VIDEOS, data={"prompt": "a paper boat", **form}, files=files or None, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    provider, operation, fields = expected
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(response.json()["id"]))
        assert job is not None
        assert (job.provider, job.operation) == (provider, operation)
        assert job.model.startswith(form["model"])  # CometAPI's short Seedance names run as dated models
        assert {name: job.input.get(name) for name in fields} == fields
        images = [value for value in job.input.values() if value == EXAMPLE_PNG]
        assert len(images) == refs  # each upload became a data URI of itself


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"model": "kling-v1-6", "size": "wide"}, "size"),
        ({"model": "kling-v1-6", "seconds": "7"}, "seconds"),
        ({"model": "MiniMax-Hailuo-02", "size": "big"}, "size"),
        ({"model": "MiniMax-Hailuo-02", "seconds": "8"}, "seconds"),
        ({"model": "T2V-01", "quality": "hd"}, "quality"),
        ({"model": "doubao-seedance-1-5-pro", "seconds": "3"}, "seconds"),
        ({"model": "doubao-seedance-2-0", "size": "2:1"}, "size"),
    ],
)
def test_videos_each_models_refusals_name_the_clients_field(
    api: TestClient, tenant: Tenant, form: dict[str, str], param: str
) -> None:
    error = error_of(api.post(VIDEOS, data={"prompt": "x", **form}, headers=tenant.headers), 400)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert "input." not in error["message"]


def test_videos_seedance_references_are_subjects_and_only_its_2_0_models_take_them(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    """As on CometAPI: `input_reference` asks Seedance for reference-to-video, which 1.x refuses."""
    files = [("input_reference", (f"{n}.png", PNG, "image/png")) for n in range(2)]
    form = {"prompt": "the boat from the pictures", "model": "doubao-seedance-2-0"}
    response = api.post(VIDEOS, data=form, files=files, headers=tenant.headers)
    assert response.status_code == 200, response.text
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(response.json()["id"]))
        assert job is not None
        assert (job.operation, job.input["reference_images"]) == ("reference2video", [EXAMPLE_PNG] * 2)
    older = {**form, "model": "doubao-seedance-1-5-pro"}
    refused = error_of(api.post(VIDEOS, data=older, files=files, headers=tenant.headers), 400)
    assert refused["param"] == "input_reference"
    assert "takes no reference images" in refused["message"]


def test_videos_json_takes_openais_object_reference(api: TestClient, tenant: Tenant, db: Database) -> None:
    body = {"prompt": "the boat drifts", "model": "veo3-fast", "input_reference": {"image_url": EXAMPLE_PNG}}
    response = api.post(VIDEOS, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(response.json()["id"]))
        assert job is not None
        assert (job.operation, job.input["image"]) == ("image_to_video", EXAMPLE_PNG)


# --- end to end: OpenAI's SDK, unchanged --------------------------------------------------------------


@pytest.mark.e2e
def test_videos_e2e_openai_sdk_creates_polls_downloads_lists_and_deletes(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    openai = pytest.importorskip("openai", reason="the openai SDK is not installed (dev dependency)")
    simulator.configure(speed=0.01)
    stack = start_stack()
    client = openai.OpenAI(
        api_key=tenant.api_key, base_url=f"{stack.settings.public_base_url}/v1", max_retries=0
    )
    with warnings.catch_warnings():
        # The SDK marks its video methods deprecated (OpenAI's own Sora API is gone); the shape lives on.
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create_and_poll(prompt="a paper boat", model="veo3-fast", poll_interval_ms=50)
        assert (video.status, video.progress, video.model) == ("completed", 100, "veo3-fast")
        content = client.videos.download_content(video.id)
        listed = [v.id for v in client.videos.list()]
        deleted = client.videos.delete(video.id)
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(video.id)
    job = stack.api.get(f"/v1/jobs/{video.id}", headers=tenant.headers).json()
    assert job["charged"] == job["price"] == PRICE
    assert len(content.content) == simulator.config.file_size
    assert content.content.startswith(b"\x00\x00\x00")  # an MP4 box
    assert listed == [video.id]
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - PRICE, 0)


# --- the API document ------------------------------------------------------------------------------


def test_videos_document_states_each_providers_create_and_the_answers(
    api: TestClient, tenant: Tenant
) -> None:
    spec = api.get("/openapi.json").json()
    post = spec["paths"][VIDEOS]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    models = [variant["properties"]["model"] for variant in body["anyOf"]]
    # The default provider's model may be left out, or sent as null.
    served = {
        model for prop in models for option in prop.get("anyOf", [prop]) for model in option.get("enum", [])
    }
    assert "veo3-fast" in served
    assert not any(model.startswith("sora") for model in served)  # only with a sora channel
    allowed = {"prompt": "a boat", "seconds": 8, "size": "9:16", "input_reference": [PNG_URL]}
    jsonschema.validate(allowed, body)
    created = api.post(VIDEOS, json=allowed, headers=tenant.headers)
    assert created.status_code == 200, created.text
    answer = post["responses"]["200"]
    jsonschema.validate(created.json(), answer["content"]["application/json"]["schema"])
    assert {link["parameters"]["video_id"] for link in answer["links"].values()} == {"$response.body#/id"}
    for refused in (
        {"prompt": " "},
        {"prompt": "a boat", "seconds": "5"},
        {"prompt": "a boat", "seconds": "4", "input_reference": [PNG_URL, PNG_URL]},  # a last frame: 8 s
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(refused, body)
        error = error_of(api.post(VIDEOS, json=refused, headers=tenant.headers), 400)
        jsonschema.validate({"error": error}, {**spec["components"]["schemas"]["OpenAIError"], **spec})
    listed = spec["paths"][VIDEOS]["get"]
    page = api.get(VIDEOS, params={"limit": "", "order": "", "after": ""}, headers=tenant.headers)
    jsonschema.validate(page.json(), listed["responses"]["200"]["content"]["application/json"]["schema"])
    limit = next(p for p in listed["parameters"] if p["name"] == "limit")["schema"]["pattern"]
    assert [bool(re.search(limit, v)) for v in ("", "1", "100", "0", "101", "x")] == [True] * 3 + [False] * 3


def test_videos_an_empty_form_field_is_a_field_not_sent(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    form = {
        "model": "MiniMax-Hailuo-02",
        "prompt_optimizer": "",
        "seconds": "",
        "size": "",
        "callback_url": "",
    }
    spec = api.get("/openapi.json").json()
    body = spec["paths"][VIDEOS]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    jsonschema.validate({"prompt": "a paper boat", **form}, body)
    video = create(api, tenant, **form)
    assert video["size"] == "768P"  # the model's default
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(video["id"]))
        assert job is not None
        assert (job.input, job.callback_url) == ({"prompt": "a paper boat", "duration": 6}, None)
    # An empty prompt is still no prompt.
    assert error_of(api.post(VIDEOS, data={"prompt": ""}, headers=tenant.headers), 400)["param"] == "prompt"


@pytest.mark.parametrize(
    ("fields", "accepted"),
    [
        ({"model": "MiniMax-Hailuo-02", "seconds": "10", "size": "768P", "prompt_optimizer": True}, True),
        ({"model": "MiniMax-Hailuo-02", "seconds": "10", "size": "1080p"}, False),  # no 10 s at 1080P
        ({"model": "MiniMax-Hailuo-02", "prompt_optimizer": "maybe"}, False),
        ({"model": "MiniMax-Hailuo-02", "seconds": "7"}, False),
        ({"model": "I2V-01"}, False),  # it animates an image
        ({"model": "T2V-01", "input_reference": [PNG_URL]}, False),  # it takes none
        ({"model": "T2V-01", "seconds": "10"}, False),  # the 01 series makes 6 s
        ({"model": "I2V-01", "input_reference": [PNG_URL], "size": "720P"}, True),
        ({"model": "kling-v1-6", "seconds": "10", "size": "1280x720", "mode": "pro"}, True),
        ({"model": "kling-v1-6", "size": "4:3"}, False),
        ({"model": "kling-v1-6", "mode": "fast"}, False),
        ({"model": "kling-v1", "mode": None, "negative_prompt": None, "seconds": None, "size": ""}, True),
        ({"model": "doubao-seedance-2-0", "seconds": "15", "generate_audio": True, "seed": 7}, True),
        ({"model": "doubao-seedance-2-0", "input_reference": [PNG_URL], "size": "21:9"}, True),
        ({"model": "doubao-seedance-1-0-pro", "seconds": "15"}, False),  # 1.0 makes 2-12 s
        ({"model": "doubao-seedance-1-0-pro", "generate_audio": True}, False),  # and silent clips
        ({"model": "doubao-seedance-1-0-pro", "input_reference": [PNG_URL]}, False),  # no references
        ({"model": "doubao-seedance-1-5-pro", "resolution": "1080p"}, False),
        ({"model": "doubao-seedance-1-0-lite-i2v-250428"}, False),  # references, not a prompt alone
        ({"model": "doubao-seedance-2-0", "prompt": "a boat --rs 1080p"}, False),  # no --flags
        ({"model": "doubao-seedance-2-0", "seed": -2}, False),
    ],
)
def test_videos_document_states_what_each_providers_create_refuses(
    api: TestClient, tenant: Tenant, fields: dict[str, Any], accepted: bool
) -> None:
    spec = api.get("/openapi.json").json()
    body = spec["paths"][VIDEOS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request = {"prompt": "a paper boat", **fields}
    valid = jsonschema.Draft202012Validator(body).is_valid(request)
    response = api.post(VIDEOS, json=request, headers=tenant.headers)
    assert (valid, response.status_code == 200) == (accepted, accepted), response.text
