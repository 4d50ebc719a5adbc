"""Midjourney-compatible routes: midjourney-proxy's `/mj/...` bodies and `{code, description, result}`
envelopes in, task objects (proxy statuses, buttons, our image URLs) out; end to end through a worker."""

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
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.projections import projection_for
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from orchestrator.views import provider_view
from schemas.jobs import JobStatus
from tests import services
from tests.conftest import CREDITS
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.midjourney import projection
from workers.providers.midjourney.schemas import PNG_1X1, MidjourneyAnswer, MidjourneyTask
from workers.simulator import Outcome, Simulator

IMAGINE = "/mj/submit/imagine"
ACTION = "/mj/submit/action"
MODAL = "/mj/submit/modal"
BLEND = "/mj/submit/blend"
# workers/providers/midjourney/prices.toml, in micro-credits.
PRICE_GRID, PRICE_UPSAMPLE, PRICE_DESCRIBE = 60_000, 30_000, 20_000
ENDED = frozenset({"SUCCESS", "FAILURE"})


def submit(api: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> str:
    answer = api.post(path, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    envelope = MidjourneyAnswer.model_validate(answer.json())
    assert (envelope.code, envelope.description, envelope.properties) == (1, "Submission successful", {})
    assert envelope.result is not None
    assert uuid.UUID(envelope.result)  # our job id
    return envelope.result


def fetch(api: TestClient, tenant: Tenant, task_id: str) -> dict[str, Any]:
    answer = api.get(f"/mj/task/{task_id}/fetch", headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    task: dict[str, Any] = answer.json()
    MidjourneyTask.model_validate(task)
    return task


def drive(
    db: Database,
    settings: Settings,
    api: TestClient,
    tenant: Tenant,
    task_id: str,
    until: frozenset[str] = ENDED,
) -> dict[str, Any]:
    """Work the job as the workers would until its task object shows one of `until`."""
    with httpx.Client() as http:
        submission.submit(db, http, settings, uuid.UUID(task_id))
        for _ in range(200):
            for stored in tracking.poll(db, http, settings, [uuid.UUID(task_id)]):
                storing.store(db, http, build_storage(settings), settings, stored)
            task = fetch(api, tenant, task_id)
            if task["status"] in until:
                return task
    raise AssertionError(f"task {task_id} never reached {set(until)}")


def button(task: dict[str, Any], label: str) -> str:
    custom_id: str = next(b["customId"] for b in task["buttons"] if b["label"] == label)
    return custom_id


def downloads(api: TestClient, settings: Settings, url: str, content_type: str) -> None:
    public = settings.public_base_url
    assert url.startswith(f"{public}/v1/files/")  # ours, never the upstream's
    download = api.get(url.removeprefix(public))
    assert (download.status_code, download.headers["content-type"]) == (200, content_type)


def account(api: TestClient, tenant: Tenant) -> dict[str, Any]:
    body: dict[str, Any] = api.get("/v1/account", headers=tenant.headers).json()
    return body


def error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    envelope = MidjourneyAnswer.model_validate(response.json())
    assert (envelope.code, envelope.result) == (code, None)
    assert envelope.description is not None
    return envelope.description


def test_compat_midjourney_imagine_then_u1_from_the_buttons_then_the_upscale(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    grid_id = submit(api, tenant.headers, IMAGINE, {"prompt": "a paper boat --v 6.1", "state": "order-42"})
    fresh = fetch(api, tenant, grid_id)
    assert (fresh["id"], fresh["action"], fresh["status"], fresh["progress"]) == (
        grid_id,
        "IMAGINE",
        "NOT_START",
        "0%",
    )
    assert (fresh["state"], fresh["prompt"], fresh["imageUrl"], fresh["buttons"]) == (
        "order-42",
        "a paper boat --v 6.1",
        "",
        [],
    )
    assert fresh["submitTime"] > 1_700_000_000_000  # milliseconds, as the proxy sends them
    assert fresh["finishTime"] == 0

    grid = drive(db, settings, api, tenant, grid_id)
    assert (grid["status"], grid["progress"], grid["failReason"]) == ("SUCCESS", "100%", "")
    assert grid["finishTime"] >= grid["startTime"] >= grid["submitTime"] > 0
    assert grid["properties"]["finalPrompt"].startswith("a paper boat")
    downloads(api, settings, grid["imageUrl"], "image/png")
    assert [b["label"] for b in grid["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
    assert len(grid["buttons"]) == 9

    u1 = button(grid, "U1")
    upscale_id = submit(api, tenant.headers, ACTION, {"taskId": grid_id, "customId": u1, "state": "u1"})
    upscale = fetch(api, tenant, upscale_id)
    assert (upscale["action"], upscale["customId"], upscale["state"]) == ("UPSCALE", u1, "u1")
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(upscale_id))
        assert job is not None
        assert (str(job.parent_job_id), job.model, job.operation) == (grid_id, "midjourney-v6.1", "action")

    done = drive(db, settings, api, tenant, upscale_id)
    assert (done["status"], done["action"], done["progress"]) == ("SUCCESS", "UPSCALE", "100%")
    downloads(api, settings, done["imageUrl"], "image/png")
    assert done["imageUrl"] != grid["imageUrl"]
    assert "Custom Zoom" in [b["label"] for b in done["buttons"]]  # the single image's own buttons
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - PRICE_GRID - PRICE_UPSAMPLE, 0)


def test_compat_midjourney_custom_zoom_waits_in_modal_until_submit_modal(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    grid = drive(db, settings, api, tenant, submit(api, tenant.headers, IMAGINE, {"prompt": "a paper boat"}))
    upscale_id = submit(api, tenant.headers, ACTION, {"taskId": grid["id"], "customId": button(grid, "U1")})
    single = drive(db, settings, api, tenant, upscale_id)
    zoom_id = submit(
        api, tenant.headers, ACTION, {"taskId": upscale_id, "customId": button(single, "Custom Zoom")}
    )
    assert fetch(api, tenant, zoom_id)["action"] == "CUSTOM_ZOOM"
    waiting = drive(db, settings, api, tenant, zoom_id, until=frozenset({"MODAL", *ENDED}))
    assert (waiting["status"], waiting["imageUrl"], waiting["buttons"]) == ("MODAL", "", [])
    assert account(api, tenant)["held"] == PRICE_GRID  # the zoom's price, still held

    nothing = api.post(MODAL, json={"taskId": zoom_id}, headers=tenant.headers)
    assert "prompt" in error(nothing, 400, 4)
    unknown = api.post(MODAL, json={"taskId": str(uuid.uuid4()), "prompt": "x"}, headers=tenant.headers)
    assert error(unknown, 404, 3).startswith("taskId:")
    assert (
        submit(api, tenant.headers, MODAL, {"taskId": zoom_id, "prompt": "a paper boat --zoom 2"}) == zoom_id
    )
    assert fetch(api, tenant, zoom_id)["status"] == "NOT_START"  # queued again, for the same task id
    again = api.post(MODAL, json={"taskId": zoom_id, "prompt": "x"}, headers=tenant.headers)
    assert "action_required" in error(again, 409, 4)

    done = drive(db, settings, api, tenant, zoom_id)
    assert (done["status"], done["prompt"]) == ("SUCCESS", "a paper boat --zoom 2")
    downloads(api, settings, done["imageUrl"], "image/png")
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - 2 * PRICE_GRID - PRICE_UPSAMPLE, 0)


def test_compat_midjourney_describe_text_lands_in_final_prompt(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    task_id = submit(api, tenant.headers, "/mj/submit/describe", {"base64": PNG_1X1, "notifyHook": ""})
    done = drive(db, make_settings(), api, tenant, task_id)
    assert (done["action"], done["status"], done["prompt"], done["imageUrl"]) == (
        "DESCRIBE",
        "SUCCESS",
        "",
        "",
    )
    described = done["properties"]["finalPrompt"]
    assert "paper boat" in described
    assert done["promptEn"] == described
    assert [b["label"] for b in done["buttons"]][:4] == ["1", "2", "3", "4"]  # imagine one of them
    assert account(api, tenant)["balance"] == 100 * CREDITS - PRICE_DESCRIBE


def test_compat_midjourney_blend(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    body = {"base64Array": [PNG_1X1, PNG_1X1], "dimensions": "PORTRAIT", "botType": "NIJI_JOURNEY"}
    task_id = submit(api, tenant.headers, "/mj/submit/blend", body)
    done = drive(db, make_settings(), api, tenant, task_id)
    assert (done["action"], done["status"], done["botType"]) == ("BLEND", "SUCCESS", "NIJI_JOURNEY")
    downloads(api, make_settings(), done["imageUrl"], "image/png")


def test_compat_midjourney_failure_reads_like_the_proxys_and_releases_the_hold(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("midjourney", [Outcome(result="moderation")])
    task_id = submit(api, tenant.headers, IMAGINE, {"prompt": "a paper boat"})
    failed = drive(db, make_settings(), api, tenant, task_id)
    assert (failed["status"], failed["progress"], failed["imageUrl"], failed["buttons"]) == (
        "FAILURE",
        "",
        "",
        [],
    )
    assert "Banned prompt" in failed["failReason"]
    assert failed["finishTime"] > 0
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        assert job.error_code == "moderation_blocked"
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS, 0)
    refused = api.post(
        ACTION, json={"taskId": task_id, "customId": "MJ::JOB::upsample::1::x"}, headers=tenant.headers
    )
    assert "it is a failed" in error(refused, 400, 4)  # a failed task has no buttons to press


def test_compat_midjourney_errors_come_in_the_proxys_envelope(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    rich, poor = make_tenant(name="rich"), make_tenant(name="poor", credits=1)
    prompt = {"prompt": "a fox"}
    assert error(api.post(IMAGINE, json=prompt), 401, 401).startswith("unauthorized:")
    assert error(api.post(IMAGINE, json=prompt, headers={"mj-api-secret": "nope"}), 401, 401)
    assert submit(api, {"mj-api-secret": rich.api_key}, IMAGINE, prompt)  # midjourney-proxy's header
    assert error(api.post(IMAGINE, json={}, headers=rich.headers), 400, 4).startswith("prompt:")
    old = api.post(IMAGINE, json={"prompt": "a fox --v 5"}, headers=rich.headers)
    assert error(old, 400, 4).startswith("prompt:")
    for hook in ("ftp://example.com/hook", "http://127.0.0.1:9/hook"):  # internal targets are refused
        bad_hook = api.post(IMAGINE, json={**prompt, "notifyHook": hook}, headers=rich.headers)
        assert error(bad_hook, 400, 4).startswith("notifyHook:")
    assert error(api.post(IMAGINE, json={**prompt, "state": 7}, headers=rich.headers), 400, 4).startswith(
        "state:"
    )
    for remix in (0, 1, "true", "yes"):  # a boolean, as the document says, in every submit taking one
        loose = {**prompt, "accountFilter": {"instanceId": "", "modes": [], "remix": remix}}
        assert error(api.post(IMAGINE, json=loose, headers=rich.headers), 400, 4).startswith("accountFilter")
        blend = {"base64Array": [PNG_1X1, PNG_1X1], "accountFilter": {"remix": remix}}
        assert error(api.post(BLEND, json=blend, headers=rich.headers), 400, 4).startswith("accountFilter")
    not_json = api.post(IMAGINE, content=b"{", headers={**rich.headers, "content-type": "application/json"})
    assert error(not_json, 400, 4)
    assert error(api.post(IMAGINE, json=prompt, headers=poor.headers), 402, 402).startswith(
        "quota_not_enough:"
    )

    task_id = submit(api, rich.headers, IMAGINE, prompt)
    for who, reference in ((poor, task_id), (rich, str(uuid.uuid4())), (rich, "1773314942177684")):
        missing = api.get(f"/mj/task/{reference}/fetch", headers=who.headers)
        assert error(missing, 404, 3).startswith("task_no_found:")
    unfinished = api.post(
        ACTION, json={"taskId": task_id, "customId": "MJ::JOB::upsample::1::x"}, headers=rich.headers
    )
    assert error(unfinished, 400, 4).startswith("taskId:")
    assert error(api.post(ACTION, json={"taskId": task_id}, headers=rich.headers), 400, 4).startswith(
        "customId:"
    )
    foreign = api.post(ACTION, json={"taskId": task_id, "customId": "x"}, headers=poor.headers)
    assert error(foreign, 404, 3).startswith("taskId:")
    drive(db, make_settings(), api, rich, task_id)
    not_a_button = api.post(
        ACTION, json={"taskId": task_id, "customId": "MJ::JOB::upsample::9::x"}, headers=rich.headers
    )
    assert error(not_a_button, 404, 3).startswith("customId:")
    assert "action_required" in error(
        api.post(MODAL, json={"taskId": task_id, "prompt": "x"}, headers=rich.headers), 409, 4
    )


def test_compat_midjourney_idempotency_replays_the_first_answer(
    api: TestClient, tenant: Tenant, simulator: Simulator
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "boat-42"}
    first = api.post(IMAGINE, json={"prompt": "a paper boat"}, headers=headers)
    again = api.post(IMAGINE, json={"prompt": "a paper boat"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert account(api, tenant)["held"] == PRICE_GRID  # one job, one hold
    changed = api.post(IMAGINE, json={"prompt": "a paper plane"}, headers=headers)
    assert error(changed, 422, 4)


def test_compat_midjourney_list_by_condition_only_the_tenants_own(
    api: TestClient, make_tenant: Callable[..., Tenant], simulator: Simulator
) -> None:
    tenant, other = make_tenant(name="mine"), make_tenant(name="other")
    mine = [submit(api, tenant.headers, IMAGINE, {"prompt": f"a fox {n}"}) for n in range(2)]
    foreign = submit(api, other.headers, IMAGINE, {"prompt": "a fox"})
    ids = [mine[1], foreign, "garbage", str(uuid.uuid4()), mine[0], mine[1]]
    answer = api.post("/mj/task/list-by-condition", json={"ids": ids}, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    tasks = [MidjourneyTask.model_validate(item) for item in answer.json()]
    assert [task.id for task in tasks] == [mine[1], mine[0]]  # in the order asked, once each
    assert [task.prompt for task in tasks] == ["a fox 1", "a fox 0"]
    assert api.post("/mj/task/list-by-condition", json={}, headers=tenant.headers).json() == []
    bad = api.post("/mj/task/list-by-condition", json={"ids": "x"}, headers=tenant.headers)
    assert error(bad, 400, 4).startswith("ids:")


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ({"prompt": "a fox"}, "midjourney-v7"),
        ({"prompt": "a fox --v 6.1"}, "midjourney-v6.1"),
        ({"prompt": "a fox --version 7 --ar 16:9"}, "midjourney-v7"),
        ({"prompt": "a fox --niji 6"}, "niji-6"),
        ({"prompt": "a fox", "botType": "NIJI_JOURNEY"}, "niji-6"),
    ],
)
def test_compat_midjourney_model_follows_the_prompts_version(
    api: TestClient, tenant: Tenant, db: Database, simulator: Simulator, body: dict[str, Any], model: str
) -> None:
    task_id = submit(api, tenant.headers, IMAGINE, {**body, "accountFilter": None, "unknownField": 1})
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(task_id))
        assert job is not None
        assert (job.model, job.api_format, job.client_reference) == (model, "midjourney", None)
        assert set(job.input) <= {"prompt", "botType"}  # fields the proxy ignores are not kept


def test_compat_midjourney_every_job_status_has_a_proxy_status() -> None:
    assert set(projection.STATUS) == set(JobStatus)
    proxy = {"NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "SUCCESS", "FAILURE"}
    assert set(projection.STATUS.values()) == proxy
    assert {projection.STATUS[s] for s in JobStatus if s.is_terminal} == {"SUCCESS", "FAILURE"}
    assert projection.STATUS[JobStatus.ACTION_REQUIRED] == "MODAL"
    webhook = projection_for("midjourney")  # how jobs created through `/mj/...` look in their webhooks
    assert webhook is not None
    for state in JobStatus:
        job = Job(
            job_id=uuid.uuid4(),
            provider="midjourney",
            operation="imagine",
            model="midjourney-v7",
            state=state.value,
            progress=40,
            input={"prompt": "a fox"},
            created_at=datetime.now(UTC),
        )
        urls = {"image": "https://ours.example/i.png"}
        assert webhook(job, urls) == projection.task_object(provider_view(job, urls))
        assert webhook(job, urls)["status"] == projection.STATUS[state]


def test_compat_midjourney_projection_shows_no_file_before_ours_are_stored() -> None:
    buttons = [{"customId": "MJ::JOB::upsample::1::h", "label": "U1", "emoji": None, "type": 2, "style": 2}]
    job = Job(
        job_id=uuid.uuid4(),
        operation="action",
        model="niji-6",
        state=JobStatus.STORING.value,
        progress=100,
        input={"parent_job_id": str(uuid.uuid4()), "custom_id": "MJ::JOB::high_variation::1::h::SOLO"},
        result={"buttons": buttons, "promptEn": "a fox --niji 6"},
        created_at=datetime.now(UTC),
    )
    urls = {"image": "https://ours.example/i.png", "video-0": "https://ours.example/v.mp4"}
    task = projection.task_object(provider_view(job, urls))
    assert (task["status"], task["progress"], task["imageUrl"], task["videoUrls"], task["buttons"]) == (
        "IN_PROGRESS",
        "99%",
        "",
        [],
        [],
    )
    assert (task["action"], task["botType"], task["prompt"]) == (
        "HIGH_VARIATION",
        "NIJI_JOURNEY",
        "a fox --niji 6",
    )
    job.state = JobStatus.SUCCEEDED.value
    done = projection.task_object(provider_view(job, urls))
    assert (done["imageUrl"], done["videoUrl"]) == (urls["image"], urls["video-0"])
    assert done["videoUrls"] == [{"url": urls["video-0"]}]
    assert done["buttons"] == [{**buttons[0], "emoji": ""}]


@pytest.mark.e2e
def test_e2e_compat_midjourney_through_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        body = {"prompt": "a paper boat", "notifyHook": receiver.url, "state": "boat"}
        tasks = [stack_submit(stack, tenant, body)]
        done = stack_wait(stack, tenant, tasks[0])
        simulator.script("midjourney", [Outcome(result="fail", message="GPU fell over")])
        tasks.append(stack_submit(stack, tenant, {**body, "state": "sunk"}))
        failed = stack_wait(stack, tenant, tasks[1])

        assert (done["status"], done["progress"], done["state"]) == ("SUCCESS", "100%", "boat")
        assert done["imageUrl"].startswith(stack.settings.public_base_url)
        image = httpx.get(done["imageUrl"])
        assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
        assert len(done["buttons"]) == 9
        assert (failed["status"], failed["progress"], failed["failReason"]) == (
            "FAILURE",
            "",
            "GPU fell over",
        )
        money = stack.api.get("/v1/account", headers=tenant.headers).json()
        assert (money["balance"], money["held"]) == (100 * CREDITS - PRICE_GRID, 0)

        def final_hooks() -> dict[str, dict[str, Any]] | None:
            bodies = [json.loads(r.body) for r in list(receiver.received)]
            last = {hook["id"]: hook for hook in bodies if hook.get("status") in ENDED}
            return last if set(last) == set(tasks) else None

        hooks = services.wait_until(final_hooks, timeout=30, message="terminal webhooks")
    for task_id, status, state in ((tasks[0], "SUCCESS", "boat"), (tasks[1], "FAILURE", "sunk")):
        hook = MidjourneyTask.model_validate(hooks[task_id])  # the task object, like the proxy's notifyHook
        assert (hook.status, hook.state) == (status, state)
    assert hooks[tasks[0]]["imageUrl"].startswith(stack.settings.public_base_url)


def stack_submit(stack: Stack, tenant: Tenant, body: dict[str, Any]) -> str:
    answer = stack.api.post(IMAGINE, json=body, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 1
    task_id: str = answer.json()["result"]
    return task_id


def stack_wait(stack: Stack, tenant: Tenant, task_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        task: dict[str, Any] = stack.api.get(f"/mj/task/{task_id}/fetch", headers=tenant.headers).json()
        MidjourneyTask.model_validate(task)
        return task if task["status"] in ENDED else None

    task: dict[str, Any] = services.wait_until(
        ended, timeout=60, interval=0.05, message=f"task {task_id} ends"
    )
    return task


def test_compat_midjourney_document_states_the_bodies_answers_and_envelope(
    api: TestClient, tenant: Tenant
) -> None:
    document = api.get("/openapi.json").json()
    imagine = document["paths"][IMAGINE]["post"]
    body = imagine["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][body]["required"] == ["prompt"]
    for status in ("400", "401", "402", "403", "409", "422", "429"):
        schema = imagine["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/MidjourneyError"}
    assert imagine["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Submitted")
    assert "FetchTask" in imagine["responses"]["200"]["links"]
    fetched = document["paths"]["/mj/task/{task_id}/fetch"]["get"]["responses"]
    assert fetched["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TaskObject")
    assert "404" in document["paths"][ACTION]["post"]["responses"]
    # A body that is no text at all is refused in the proxy's envelope too.
    garbled = api.post(
        IMAGINE, content=b"\xff\xfe{", headers={**tenant.headers, "content-type": "application/json"}
    )
    assert error(garbled, 400, 4)


def test_compat_midjourney_text_with_a_nul_character_is_refused_in_the_envelope(
    api: TestClient, tenant: Tenant
) -> None:
    # PostgreSQL keeps no NUL in text: the document's free text forbids it, and every body is held to it.
    answer = api.post("/mj/task/list-by-condition", json={"ids": ["a\u0000b"]}, headers=tenant.headers)
    assert 400 <= answer.status_code < 500
    assert "NUL" in answer.json()["description"]
    assert "ids.0" in answer.json()["description"]
