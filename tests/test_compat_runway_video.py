"""Runway-compatible video routes (`/runwayml/v1/text_to_video`, `video_to_video`, `video_upscale`,
`character_performance`): Runway's bodies in, its task object out, `parentTaskId` naming one of the
caller's own earlier tasks; one chain end to end through a real worker."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.settings import Settings
from tests import services
from tests.conftest import CREDITS
from tests.factories import Tenant
from tests.stack import Stack
from tests.test_compat_runway import BASE, VERSION, account, create, drive, external_id_of, fetch, headers
from workers.simulator import Outcome, Simulator

T2V = {"model": "veo3.1_fast", "promptText": "a paper boat at dawn", "ratio": "720:1280", "duration": 4}
PERFORMANCE = {"type": "video", "uri": "https://example.com/performance.mp4"}
# workers/providers/runway/prices.toml, in micro-credits: veo3.1_fast 4 s with audio, then Aleph.
PRICE_T2V, PRICE_ALEPH, PRICE_UPSCALE = 600_000, 750_000, 200_000


def upstream_body(db: Database, simulator: Simulator, task_id: str) -> dict[str, Any]:
    task = simulator.task_by_external_id(external_id_of(db, task_id), provider="runway")
    assert task is not None
    return dict(task.params)


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str)
    return body


def test_compat_runway_text_to_video_then_aleph_on_its_output(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    parent_id = create(api, tenant, T2V, "text_to_video")
    drive(db, settings, parent_id)
    parent = fetch(api, tenant, parent_id)
    assert (parent["status"], parent["cost"]) == ("SUCCEEDED", {"credits": PRICE_T2V})
    # `audio` is sent as its default, as it decides the price.
    assert upstream_body(db, simulator, parent_id) == {**T2V, "audio": True}
    job = api.get(f"/v1/jobs/{parent_id}", headers=tenant.headers).json()
    assert job["result"] == {"media": "video"}

    restyle = {"model": "gen4_aleph", "parentTaskId": parent_id, "promptText": "make it snow"}
    task_id = create(api, tenant, restyle, "video_to_video")
    follow_up = api.get(f"/v1/jobs/{task_id}", headers=tenant.headers).json()
    assert (follow_up["operation"], follow_up["parent_job_id"]) == ("video_to_video", parent_id)
    drive(db, settings, task_id)
    body = upstream_body(db, simulator, task_id)
    parent_task = simulator.task_by_external_id(external_id_of(db, parent_id), provider="runway")
    assert parent_task is not None
    assert f"/_sim/files/{parent_task.task_id}/0.mp4?" in body["videoUri"]  # Runway's own link, not ours
    assert set(body) == {"videoUri", "promptText", "model", "ratio"}
    done = fetch(api, tenant, task_id)
    assert (done["status"], done["cost"]) == ("SUCCEEDED", {"credits": PRICE_ALEPH})
    (url,) = done["output"]
    assert url.startswith(f"{settings.public_base_url}/v1/files/")
    assert api.get(url.removeprefix(settings.public_base_url)).headers["content-type"] == "video/mp4"
    assert account(api, tenant) == (100 * CREDITS - PRICE_T2V - PRICE_ALEPH, 0)


def test_compat_runway_act_two_and_upscale_through_the_unified_api(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    still = create(api, tenant, {"model": "gen4_image", "promptText": "a lighthouse keeper"}, "text_to_image")
    drive(db, settings, still)
    act_two = {"model": "act_two", "parentTaskId": still, "reference": PERFORMANCE, "expressionIntensity": 5}
    performed = create(api, tenant, act_two, "character_performance")
    drive(db, settings, performed)
    character = upstream_body(db, simulator, performed)["character"]
    assert character["type"] == "image"
    assert character["uri"].split("?")[0].endswith("/0.png")
    assert fetch(api, tenant, performed)["status"] == "SUCCEEDED"

    created = api.post(
        "/v1/jobs",
        json={
            "provider": "runway",
            "operation": "video_upscale",
            "model": "upscale_v1",
            "input": {"parent_job_id": performed},
        },
        headers=tenant.headers,
    )
    assert created.status_code == 202, created.text
    upscaled = created.json()["job_id"]
    assert created.json()["price"] == PRICE_UPSCALE
    drive(db, settings, upscaled)
    assert upstream_body(db, simulator, upscaled)["videoUri"].split("?")[0].endswith("/0.mp4")
    job = api.get(f"/v1/jobs/{upscaled}", headers=tenant.headers).json()
    assert (job["status"], job["charged"], [o["label"] for o in job["outputs"]]) == (
        "succeeded",
        PRICE_UPSCALE,
        ["video-0"],
    )


def test_compat_runway_follow_up_refusals_in_runways_envelope(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    owner, stranger = make_tenant(name="owner"), make_tenant(name="stranger")
    image = create(api, owner, {"model": "gen4_image", "promptText": "a keeper"}, "text_to_image")
    drive(db, settings, image)
    upscale = f"{BASE}/video_upscale"

    def refused(
        tenant: Tenant, body: dict[str, Any], status: int = 400, path: str = upscale
    ) -> dict[str, Any]:
        return error(api.post(path, json=body, headers=headers(tenant)), status)

    foreign = refused(stranger, {"model": "upscale_v1", "parentTaskId": image}, 404)
    assert (foreign["code"], foreign["issues"][0]["path"]) == ("job_not_found", ["parentTaskId"])
    unknown = refused(owner, {"model": "upscale_v1", "parentTaskId": str(uuid.uuid4())}, 404)
    assert unknown["code"] == "job_not_found"
    wrong_kind = refused(owner, {"model": "upscale_v1", "parentTaskId": image})
    assert wrong_kind["issues"][0]["path"] == ["parentTaskId"]
    assert "text_to_image" in wrong_kind["error"]
    assert "parent_job_id" not in wrong_kind["error"]  # the client's name for it
    both = refused(
        owner, {"model": "upscale_v1", "parentTaskId": image, "videoUri": "https://example.com/a.mp4"}
    )
    assert "exactly one of videoUri and parentTaskId" in both["error"]
    t2v = refused(owner, {**T2V, "parentTaskId": image}, path=f"{BASE}/text_to_video")
    assert t2v["error"] == "parentTaskId: text_to_video takes no earlier task"
    assert refused(owner, {"model": "upscale_v1", "parentTaskId": 7})["issues"][0]["path"] == ["parentTaskId"]

    simulator.script("runway", [Outcome(result="succeed", processing_s=30.0)])
    running = create(api, owner, T2V, "text_to_video")
    unfinished = refused(
        owner,
        {"model": "gen4_aleph", "parentTaskId": running, "promptText": "x"},
        path=f"{BASE}/video_to_video",
    )
    assert "must be a succeeded runway job" in unfinished["error"]
    no_version = api.post(upscale, json={"model": "upscale_v1", "parentTaskId": image}, headers=owner.headers)
    assert "X-Runway-Version" in error(no_version, 400)["error"]
    no_model = refused(owner, {"videoUri": "https://example.com/a.mp4"})
    assert no_model["issues"][0]["path"] == ["model"]
    veo3 = refused(owner, {**T2V, "model": "veo3"}, path=f"{BASE}/text_to_video")
    assert (veo3["code"], "veo3" in veo3["error"]) == ("model_not_available", True)
    jobs = api.get("/v1/jobs", headers=owner.headers).json()["data"]
    assert len(jobs) == 2  # the image and the running video: no refused create left a job or a hold


def test_compat_runway_parent_gone_upstream_fails_the_follow_up_at_no_cost(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    parent_id = create(api, tenant, T2V, "text_to_video")
    drive(db, settings, parent_id)
    gone = httpx.delete(
        f"{settings.upstream_base_url}/v1/tasks/{external_id_of(db, parent_id)}",
        headers={"Authorization": f"Bearer {simulator.config.api_key}", **VERSION},
    )
    assert gone.status_code == 204  # Runway deleted the finished task (as it does after a while)
    task_id = create(api, tenant, {"model": "upscale_v1", "parentTaskId": parent_id}, "video_upscale")
    drive(db, settings, task_id)
    failed = fetch(api, tenant, task_id)
    assert (failed["status"], failed["cost"]) == ("FAILED", {"credits": 0})
    assert "gone upstream" in failed["failure"]
    assert account(api, tenant) == (100 * CREDITS - PRICE_T2V, 0)


# --- end to end: a real API server and a real worker -----------------------------------------------


@pytest.mark.e2e
def test_compat_runway_e2e_text_to_video_then_upscale_of_its_output(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()

    def run(path: str, body: dict[str, Any]) -> dict[str, Any]:
        created = stack.api.post(f"{BASE}/{path}", json=body, headers=headers(tenant))
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]

        def ended() -> dict[str, Any] | None:
            task: dict[str, Any] = stack.api.get(f"{BASE}/tasks/{task_id}", headers=tenant.headers).json()
            return task if task["status"] in {"SUCCEEDED", "FAILED", "CANCELLED"} else None

        result: dict[str, Any] = services.wait_until(ended, timeout=60, interval=0.05, message=f"{path} ends")
        return result

    parent = run("text_to_video", T2V)
    assert parent["status"] == "SUCCEEDED", parent
    upscaled = run("video_upscale", {"model": "upscale_v1", "parentTaskId": parent["id"]})
    assert upscaled["status"] == "SUCCEEDED", upscaled
    for task, price in ((parent, PRICE_T2V), (upscaled, PRICE_UPSCALE)):
        job = stack.api.get(f"/v1/jobs/{task['id']}", headers=tenant.headers).json()
        [stored] = job["outputs"]
        (url,) = task["output"]
        download = httpx.get(url)
        assert (download.status_code, download.headers["content-type"]) == (200, "video/mp4")
        assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
        assert task["cost"] == {"credits": price}
        assert job["charged"] == job["price"] == price  # charged once, what was held
    assert account(stack.api, tenant) == (100 * CREDITS - PRICE_T2V - PRICE_UPSCALE, 0)
