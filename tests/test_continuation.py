"""Follow-ups and the modal step through the unified API: Midjourney imagine -> U1 -> Custom Zoom,
which waits in action_required until the client continues it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from tests.conftest import Tenant
from workers.providers import PROVIDERS
from workers.providers.base import example_input
from workers.simulator import Simulator

MODEL = "midjourney-v6.1"


def drive(
    db: Database, settings: Settings, job_id: str, until: set[str], api: TestClient, tenant: Tenant
) -> dict[str, Any]:
    """Work the job as the workers would until it reaches one of `until`."""
    with httpx.Client() as http:
        submission.submit(db, http, settings, uuid.UUID(job_id))
        for _ in range(200):
            for stored in tracking.poll(db, http, settings, [uuid.UUID(job_id)]):
                storing.store(db, http, build_storage(settings), settings, stored)
            job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()
            if job["status"] in until:
                return job
    raise AssertionError(f"job {job_id} never reached {until}")


def button(job: dict[str, Any], label: str) -> str:
    return next(b["customId"] for b in job["result"]["buttons"] if b["label"] == label)


def test_continuation_imagine_upscale_then_custom_zoom_through_the_modal_step(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    imagine = api.post(
        "/v1/jobs",
        json={
            "provider": "midjourney",
            "operation": "imagine",
            "model": MODEL,
            "input": {"prompt": "a paper boat"},
        },
        headers=tenant.headers,
    ).json()
    grid = drive(db, settings, imagine["job_id"], {"succeeded"}, api, tenant)
    assert [o["label"] for o in grid["outputs"]] == ["image"]

    action = {"parent_job_id": grid["job_id"], "custom_id": button(grid, "U1")}
    upscale = api.post(
        "/v1/jobs",
        json={"provider": "midjourney", "operation": "action", "model": MODEL, "input": action},
        headers=tenant.headers,
    ).json()
    assert upscale["parent_job_id"] == grid["job_id"]
    upscaled = drive(db, settings, upscale["job_id"], {"succeeded"}, api, tenant)

    zoom_action = {"parent_job_id": upscaled["job_id"], "custom_id": button(upscaled, "Custom Zoom")}
    zoom = api.post(
        "/v1/jobs",
        json={"provider": "midjourney", "operation": "action", "model": MODEL, "input": zoom_action},
        headers=tenant.headers,
    ).json()
    waiting = drive(db, settings, zoom["job_id"], {"action_required", "failed"}, api, tenant)
    assert waiting["status"] == "action_required"
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == zoom["price"]  # still held

    bad = api.post(
        f"/v1/jobs/{zoom['job_id']}/continue", json={"input": {"bogus": 1}}, headers=tenant.headers
    )
    assert bad.status_code == 422
    continued = api.post(
        f"/v1/jobs/{zoom['job_id']}/continue",
        json={"input": {"prompt": "a paper boat --zoom 2"}},
        headers=tenant.headers,
    )
    assert continued.status_code == 200, continued.text
    assert continued.json()["status"] == "queued"
    again = api.post(
        f"/v1/jobs/{zoom['job_id']}/continue", json={"input": {"prompt": "x"}}, headers=tenant.headers
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "job_not_continuable")

    done = drive(db, settings, zoom["job_id"], {"succeeded", "failed"}, api, tenant)
    assert done["status"] == "succeeded", done["error"]
    assert done["charged"] == zoom["price"]
    events = api.get(f"/v1/jobs/{zoom['job_id']}/events", headers=tenant.headers).json()["data"]
    assert ("action_required", "queued") in [(e["from_status"], e["to_status"]) for e in events]


def test_continuation_follow_up_needs_the_tenants_own_succeeded_parent(
    api: TestClient, make_tenant: Callable[..., Tenant], db: Database, simulator: Simulator
) -> None:
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    imagine = api.post(
        "/v1/jobs",
        json={"provider": "midjourney", "operation": "imagine", "model": MODEL, "input": {"prompt": "a fox"}},
        headers=owner.headers,
    ).json()
    action = {"parent_job_id": imagine["job_id"], "custom_id": "MJ::JOB::upsample::1::abc"}
    body = {"provider": "midjourney", "operation": "action", "model": MODEL, "input": action}
    not_yet = api.post("/v1/jobs", json=body, headers=owner.headers)
    assert (not_yet.status_code, not_yet.json()["error"]["code"]) == (409, "parent_job_not_succeeded")
    assert "must be a succeeded" in not_yet.json()["error"]["message"]
    foreign = api.post("/v1/jobs", json=body, headers=other.headers)
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "parent_job_not_found")
    assert foreign.json()["error"]["fields"][0]["field"] == "input.parent_job_id"
    kling_job = api.post(
        "/v1/jobs",
        json={
            "provider": "kling",
            "operation": "text2video",
            "model": "kling-v1-6",
            "input": {"prompt": "x"},
        },
        headers=owner.headers,
    ).json()
    refused = api.post(f"/v1/jobs/{kling_job['job_id']}/continue", json={"input": {}}, headers=owner.headers)
    assert refused.status_code == 409


def test_continuation_follow_up_refuses_a_parent_it_cannot_act_on(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    """A describe answers with text and no buttons: no action can press anything on it."""
    describe = api.post(
        "/v1/jobs",
        json={
            "provider": "midjourney",
            "operation": "describe",
            "model": MODEL,
            "input": example_input(PROVIDERS["midjourney"].operations["describe"]),
        },
        headers=tenant.headers,
    ).json()
    done = drive(db, make_settings(), describe["job_id"], {"succeeded", "failed"}, api, tenant)
    assert done["status"] == "succeeded", done["error"]
    action = {"parent_job_id": describe["job_id"], "custom_id": "MJ::JOB::upsample::1::abc"}
    body = {"provider": "midjourney", "operation": "action", "model": MODEL, "input": action}
    refused = api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["fields"][0]["field"] == "input.parent_job_id"
    assert "action, blend, edits, imagine, video" in error["message"]
    assert "describe" in error["message"]
