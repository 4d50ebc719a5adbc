"""Kling-compatible routes: Kling's own bodies and envelopes in, Kling task objects out."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import jsonschema
import pytest
from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.settings import Settings
from tests.conftest import Tenant
from tests.driving import drive
from workers.providers.kling.schemas import KlingEnvelope, KlingTask
from workers.simulator import Outcome, Simulator

T2V = "/kling/v1/videos/text2video"


def test_compat_kling_create_and_fetch_in_klings_shape(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    body = {
        "model_name": "kling-v1-6",
        "prompt": "a paper boat",
        "duration": "5",
        "external_task_id": "order-77",
    }
    created = api.post(T2V, json=body, headers=tenant.headers)
    assert created.status_code == 200
    envelope = KlingEnvelope.model_validate(created.json())
    assert (envelope.code, envelope.message) == (0, "SUCCEED")
    assert envelope.data is not None
    task = KlingTask.model_validate(envelope.data)
    assert task.task_status == "submitted"
    assert task.task_info is not None
    assert task.task_info.external_task_id == "order-77"
    assert isinstance(envelope.data["created_at"], int)
    assert envelope.data["created_at"] > 1_700_000_000_000  # milliseconds, as Kling sends them

    drive(db, make_settings(), uuid.UUID(task.task_id))
    for reference in (task.task_id, "order-77"):
        fetched = api.get(f"{T2V}/{reference}", headers=tenant.headers).json()
        done = KlingTask.model_validate(fetched["data"])
        assert done.task_status == "succeed"
        assert done.task_result is not None
        [video] = done.task_result.videos
        public = make_settings().public_base_url
        assert video.url.startswith(f"{public}/v1/files/")  # ours, not the upstream's
        download = api.get(video.url.removeprefix(public))
        assert download.status_code == 200
        assert download.headers["content-type"] == "video/mp4"
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0


def test_compat_kling_failure_reads_like_klings(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("kling", [Outcome(result="moderation")])
    created = api.post(T2V, json={"prompt": "something", "model_name": "kling-v1-6"}, headers=tenant.headers)
    task_id = created.json()["data"]["task_id"]
    drive(db, make_settings(), uuid.UUID(task_id))
    failed = api.get(f"{T2V}/{task_id}", headers=tenant.headers).json()["data"]
    assert failed["task_status"] == "failed"
    assert "risk control" in failed["task_status_msg"]
    assert "task_result" not in failed
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0


def test_compat_kling_images_generations(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    created = api.post(
        "/kling/v1/images/generations",
        json={"model_name": "kling-v1", "prompt": "a fox", "n": 2},
        headers=tenant.headers,
    )
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    drive(db, make_settings(), uuid.UUID(task_id))
    done = api.get(f"/kling/v1/images/generations/{task_id}", headers=tenant.headers).json()["data"]
    assert [image["index"] for image in done["task_result"]["images"]] == [0, 1]
    assert api.get(f"{T2V}/{task_id}", headers=tenant.headers).status_code == 404  # not a video task


def test_compat_kling_errors_come_in_klings_envelope(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)
    missing = api.post(T2V, json={"model_name": "kling-v1-6"}, headers=rich.headers)
    assert missing.status_code == 422
    assert missing.json()["code"] == 1201
    assert missing.json()["message"].startswith("prompt:")
    unauthenticated = api.post(T2V, json={"prompt": "x"})
    assert (unauthenticated.status_code, unauthenticated.json()["code"]) == (401, 1000)
    broke = api.post(T2V, json={"prompt": "x", "model_name": "kling-v1-6"}, headers=poor.headers)
    assert (broke.status_code, broke.json()["code"]) == (402, 1101)
    task_id = api.post(T2V, json={"prompt": "x", "model_name": "kling-v1-6"}, headers=rich.headers).json()[
        "data"
    ]["task_id"]
    foreign = api.get(f"{T2V}/{task_id}", headers=poor.headers)
    assert (foreign.status_code, foreign.json()["code"]) == (404, 1203)


def test_compat_kling_task_fields_must_be_strings_and_bodies_must_parse(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    sent = (("callback_url", {}), ("external_task_id", 77), ("callback_url", False), ("model_name", {}))
    for field, value in sent:
        refused = api.post(T2V, json={"prompt": "x", field: value}, headers=tenant.headers)
        assert (refused.status_code, refused.json()["code"]) == (422, 1201), field
        assert refused.json()["message"] == f"{field}: {field} must be a string"
    nul = api.post(T2V, json={"prompt": "x", "external_task_id": "a\x00b"}, headers=tenant.headers)
    assert (nul.status_code, nul.json()["message"]) == (
        422,
        "external_task_id: text cannot hold the NUL character (\\u0000)",
    )
    unsent = api.post(
        T2V, json={"prompt": "x", "callback_url": None, "external_task_id": ""}, headers=tenant.headers
    )
    assert unsent.status_code == 200, unsent.text
    garbled = api.post(
        T2V, content=b"\x03\xff,", headers={**tenant.headers, "content-type": "application/json"}
    )
    assert (garbled.status_code, garbled.json()["code"]) == (400, 1201)  # Kling's envelope, not ours
    assert api.get(f"{T2V}/a%00b", headers=tenant.headers).json()["code"] == 1203


def test_compat_kling_document_states_each_create_body_and_answer(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    text2video = paths[T2V]["post"]
    body = text2video["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["prompt"]
    assert body["additionalProperties"] is False
    assert "kling-v1-6" in body["properties"]["model_name"]["anyOf"][0]["enum"]
    answer = text2video["responses"]["200"]
    assert answer["links"]["GetTask"]["parameters"] == {
        "kind": "videos",
        "action": "text2video",
        "task_id": "$response.body#/data/task_id",
    }
    callback_url = body["properties"]["callback_url"]["anyOf"][0]
    assert "format" not in callback_url  # the pattern is the rule; `uri` would forbid an IRI's text
    assert set(text2video["responses"]) >= {"200", "401", "402", "403", "409", "422", "429"}
    lip_sync = paths["/kling/v1/videos/lip-sync"]["post"]
    assert "404" in lip_sync["responses"]  # a video_id that names no video
    inner = lip_sync["requestBody"]["content"]["application/json"]["schema"]["properties"]["input"]
    assert "video_id" in inner["properties"]
    assert "parent_job_id" not in inner["properties"]
    error = paths["/kling/v1/images/editing/expand"]["post"]["responses"]["404"]["content"]
    assert error["application/json"]["schema"]["$ref"].endswith("/KlingErrorBody")


def test_compat_kling_allow_names_the_methods_the_document_lists(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    """A create path of three segments is that create's, though the query's template (a family and a
    task id) spells it too: its `Allow` names POST alone, as the document lists."""
    for path in ("/kling/v1/images/editing/expand", "/kling/v1/videos/avatar/image2video", T2V):
        for method in ("OPTIONS", "PUT", "DELETE"):
            refused = api.request(method, path, headers=tenant.headers)
            assert (refused.status_code, refused.headers["allow"]) == (405, "POST"), (method, path)


def test_compat_kling_callback_url_is_any_http_url_its_pattern_admits(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    body = paths[T2V]["post"]["requestBody"]["content"]["application/json"]["schema"]
    url = "https://example.com:8443/hooks?to=caf\u00e9#\u00acw"  # an IRI: text past ASCII
    jsonschema.validate({"prompt": "x", "callback_url": url}, body)
    created = api.post(T2V, json={"prompt": "x", "callback_url": url}, headers=tenant.headers)
    assert created.status_code == 200, created.text
    for refused in ("ftp://example.com/hooks", "https://example.com:70000/hooks"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"prompt": "x", "callback_url": refused}, body)
        answer = api.post(T2V, json={"prompt": "x", "callback_url": refused}, headers=tenant.headers)
        assert (answer.status_code, answer.json()["code"]) == (422, 1201), refused
