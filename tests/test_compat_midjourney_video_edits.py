"""Midjourney-compatible `/mj/submit/video` (and its extension) and `/mj/submit/edits`: the proxy's
bodies in (CometAPI's spellings and the peers'), its envelope and task objects out, our stored files,
the parent named by `taskId` among the caller's own tasks."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.settings import Settings
from tests.conftest import CREDITS
from tests.factories import Tenant
from tests.test_compat_midjourney import (
    ACTION,
    IMAGINE,
    PRICE_GRID,
    account,
    button,
    downloads,
    drive,
    error,
    submit,
)
from workers.providers.midjourney.schemas import PNG_1X1
from workers.simulator import Simulator

VIDEO, EDITS = "/mj/submit/video", "/mj/submit/edits"
FRAME = "https://example.com/boat.png"
# workers/providers/midjourney/prices.toml, in micro-credits.
PRICE_VIDEO, PRICE_EDITS = 400_000, 60_000


def upstream(db: Database, simulator: Simulator, task_id: str) -> dict[str, object]:
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        task = simulator.task(str(job.external_id))
    assert task is not None
    return dict(task.params)


def test_compat_midjourney_video_then_its_extension(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    video_id = submit(
        api, tenant.headers, VIDEO, {"motion": "low", "image": FRAME, "prompt": "it drifts", "state": "s-1"}
    )
    video = drive(db, settings, api, tenant, video_id)
    assert (video["action"], video["status"], video["state"], video["prompt"]) == (
        "VIDEO",
        "SUCCESS",
        "s-1",
        "it drifts",
    )
    assert len(video["videoUrls"]) == 4
    assert video["videoUrl"] == video["videoUrls"][0]["url"]
    for entry in video["videoUrls"]:
        downloads(api, settings, entry["url"], "video/mp4")
    downloads(api, settings, video["imageUrl"], "image/png")
    assert [b["label"] for b in video["buttons"]] == ["U1", "U2", "U3", "U4"]

    # The extension as CometAPI documents it, then as the peers write it (task_id, a string index).
    extend = {"action": "extend", "taskId": video_id, "index": 1, "motion": "high", "image": FRAME}
    extended_id = submit(api, tenant.headers, VIDEO, extend)
    job = api.get(f"/v1/jobs/{extended_id}", headers=tenant.headers).json()
    assert (job["operation"], job["parent_job_id"], job["model"]) == ("video", video_id, "midjourney-v7")
    extended = drive(db, settings, api, tenant, extended_id)
    assert (extended["action"], extended["status"], len(extended["videoUrls"])) == ("VIDEO", "SUCCESS", 4)
    parent_upstream = upstream(db, simulator, video_id)
    sent = upstream(db, simulator, extended_id)
    assert (sent["action"], sent["index"], sent["motion"], "image" in sent) == ("extend", 1, "high", False)
    assert sent["taskId"] != video_id  # the parent's upstream id, not ours
    assert sent["state"] == extended_id
    assert parent_upstream["image"] == FRAME
    peer_id = submit(
        api, tenant.headers, VIDEO, {"action": "extend", "task_id": video_id, "index": "3", "motion": "low"}
    )
    assert drive(db, settings, api, tenant, peer_id)["status"] == "SUCCESS"
    assert upstream(db, simulator, peer_id)["index"] == 3  # ours, as CometAPI spells it
    # 2.0 is the JSON integer 2 (JSON Schema's `integer`); a fraction is no video's index.
    integral_id = submit(api, tenant.headers, VIDEO, {"taskId": video_id, "index": 2.0, "motion": "low"})
    assert drive(db, settings, api, tenant, integral_id)["status"] == "SUCCESS"
    assert upstream(db, simulator, integral_id)["index"] == 2
    halfway = {"taskId": video_id, "index": 2.5, "motion": "low"}
    fraction = api.post(VIDEO, json=halfway, headers=tenant.headers)
    assert error(fraction, 400, 4).startswith("index:")
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - 4 * PRICE_VIDEO, 0)

    u2 = submit(api, tenant.headers, ACTION, {"taskId": video_id, "customId": button(video, "U2")})
    upscaled = drive(db, settings, api, tenant, u2)
    assert (upscaled["status"], upscaled["action"], len(upscaled["videoUrls"])) == ("SUCCESS", "UPSCALE", 1)


def test_compat_midjourney_edits_then_an_action_on_its_grid(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    body = {"action": "EDITS", "prompt": "a red sail", "base64Array": [PNG_1X1], "maskBase64": PNG_1X1}
    edit_id = submit(api, tenant.headers, EDITS, body)
    edited = drive(db, settings, api, tenant, edit_id)
    assert (edited["action"], edited["status"], edited["prompt"]) == ("EDITS", "SUCCESS", "a red sail")
    downloads(api, settings, edited["imageUrl"], "image/png")
    sent = upstream(db, simulator, edit_id)
    assert (sent["action"], sent["base64Array"], sent["maskBase64"]) == ("EDITS", [PNG_1X1], PNG_1X1)
    linked = submit(api, tenant.headers, EDITS, {"prompt": "a storm", "image": FRAME})
    drive(db, settings, api, tenant, linked)
    assert upstream(db, simulator, linked)["image"] == FRAME
    upsampled = submit(api, tenant.headers, ACTION, {"taskId": edit_id, "customId": button(edited, "U1")})
    assert drive(db, settings, api, tenant, upsampled)["action"] == "UPSCALE"
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - 2 * PRICE_EDITS - 30_000, 0)


def test_compat_midjourney_video_and_edits_refusals_in_the_proxys_envelope(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    owner, stranger = make_tenant(name="owner"), make_tenant(name="stranger")
    video_id = submit(api, owner.headers, VIDEO, {"motion": "low", "image": FRAME})
    drive(db, settings, api, owner, video_id)
    grid_id = submit(api, owner.headers, IMAGINE, {"prompt": "a boat"})
    drive(db, settings, api, owner, grid_id)
    extend = {"action": "extend", "motion": "low", "index": 0}

    def refused(tenant: Tenant, path: str, body: dict[str, object], status: int = 400, code: int = 4) -> str:
        return error(api.post(path, json=body, headers=tenant.headers), status, code)

    assert refused(stranger, VIDEO, {**extend, "taskId": video_id}, 404, 3).startswith("taskId:")
    assert refused(owner, VIDEO, {**extend, "taskId": str(uuid.uuid4())}, 404, 3).startswith("taskId:")
    assert refused(owner, VIDEO, extend).startswith("taskId:")
    wrong_kind = refused(owner, VIDEO, {**extend, "taskId": grid_id})
    assert wrong_kind.startswith("taskId:")
    assert "imagine" in wrong_kind
    assert refused(owner, VIDEO, {**extend, "taskId": video_id, "index": 4}).startswith("index: task")
    assert refused(owner, VIDEO, {**extend, "taskId": video_id, "index": "first"}).startswith("index:")
    assert refused(owner, VIDEO, {"image": FRAME}).startswith("motion:")
    assert "exactly one of image" in refused(owner, VIDEO, {"motion": "low"})
    assert refused(owner, VIDEO, {"motion": "low", "image": "ftp://example.com/a.png"}).startswith("image:")
    assert refused(owner, EDITS, {"prompt": "x", "base64Array": [PNG_1X1, PNG_1X1]}).startswith(
        "base64Array:"
    )
    assert refused(owner, EDITS, {"base64Array": [PNG_1X1]}).startswith("prompt:")
    assert refused(owner, EDITS, {"prompt": "x"}).startswith("image:")
    assert len(api.get("/v1/jobs", headers=owner.headers).json()["data"]) == 2  # no refusal left a job
    money = account(api, owner)
    assert (money["balance"], money["held"]) == (100 * CREDITS - PRICE_VIDEO - PRICE_GRID, 0)
