"""Replicate-compatible routes (`/v1/models/{owner}/{name}/predictions`, `/v1/predictions…`, the webhook
secret, and the same under CometAPI's `/replicate/v1`): Replicate's bodies in, its prediction object and
RFC 7807 problems out, `Prefer: wait` answered as Replicate's own; and the official `replicate` client
against a real API server and worker."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
import replicate
from fastapi.testclient import TestClient
from replicate.helpers import FileOutput
from replicate.prediction import Prediction
from replicate.webhook import Webhooks, WebhookSigningSecret

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests import services
from tests.conftest import CREDITS
from tests.factories import Tenant
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.providers.replicate.catalog import SDXL_VERSION
from workers.simulator import Simulator

SCHNELL = "black-forest-labs/flux-schnell"
CREATE = f"/v1/models/{SCHNELL}/predictions"
PROMPT = {"prompt": "a paper boat on a lake at dawn"}
PROBLEM = {"title", "status", "detail"}


def create(
    api: TestClient, tenant: Tenant, body: dict[str, Any] | None = None, path: str = CREATE
) -> dict[str, Any]:
    response = api.post(path, json=body or {"input": PROMPT}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    prediction: dict[str, Any] = response.json()
    Prediction.parse_obj(prediction)  # the official client's own (pydantic v1) model of it
    return prediction


def problem(response: httpx.Response) -> tuple[int, str]:
    assert set(response.json()) == PROBLEM, response.text
    assert response.json()["status"] == response.status_code
    return response.status_code, str(response.json()["detail"])


def end(db: Database, job_id: str, to: JobStatus = JobStatus.CANCELLED) -> None:
    """End a queued job as the pipeline would (lifecycle.advance, the only place states change)."""
    with db.transaction() as session:
        assert advance(session, uuid.UUID(job_id), JobStatus.QUEUED, Change(to)) is not None


def test_compat_replicate_create_answers_a_starting_prediction(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    prediction = create(api, tenant, {"input": {**PROMPT, "num_outputs": 2}})
    assert prediction["status"] == "starting"
    assert (prediction["model"], prediction["version"]) == (SCHNELL, "hidden")
    assert prediction["input"] == {**PROMPT, "num_outputs": 2}
    assert (prediction["output"], prediction["error"], prediction["logs"], prediction["data_removed"]) == (
        None,
        None,
        "",
        False,
    )
    assert prediction["urls"]["get"].endswith(f"/v1/predictions/{prediction['id']}")
    assert prediction["created_at"].endswith("Z")
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(prediction["id"]))
        assert job is not None
        assert (job.provider, job.operation, job.model, job.price) == ("replicate", "predict", SCHNELL, 6_000)
    fetched = api.get(f"/v1/predictions/{prediction['id']}", headers=tenant.headers).json()
    assert fetched["id"] == prediction["id"]


def test_compat_replicate_refusals_are_problems(api: TestClient, tenant: Tenant) -> None:
    status, detail = problem(
        api.post("/v1/models/someone/unknown/predictions", json={"input": PROMPT}, headers=tenant.headers)
    )
    assert status == 404
    assert SCHNELL in detail  # the offered models are listed
    assert problem(api.post(CREATE, json={"prompt": "x"}, headers=tenant.headers))[0] == 422
    filtered = api.post(
        CREATE, json={"input": PROMPT, "webhook_events_filter": ["done"]}, headers=tenant.headers
    )
    assert problem(filtered)[0] == 422
    unknown = api.post("/v1/predictions", json={"version": "0" * 64, "input": PROMPT}, headers=tenant.headers)
    status, detail = problem(unknown)
    assert status == 422
    assert SDXL_VERSION in detail
    sdxl = api.post(
        "/v1/models/stability-ai/sdxl/predictions", json={"input": PROMPT}, headers=tenant.headers
    )
    assert problem(sdxl)[0] == 404
    assert problem(api.get(f"/v1/predictions/{uuid.uuid4()}", headers=tenant.headers))[0] == 404
    assert problem(api.get("/v1/predictions/abc", headers={"Authorization": "Bearer nope"}))[0] == 401
    bad_wait = api.post(CREATE, json={"input": PROMPT}, headers={**tenant.headers, "Prefer": "wait=61"})
    assert problem(bad_wait)[0] == 422


def test_compat_replicate_a_known_version_runs_its_model(api: TestClient, tenant: Tenant) -> None:
    prediction = create(api, tenant, {"version": SDXL_VERSION, "input": PROMPT}, "/v1/predictions")
    assert (prediction["model"], prediction["version"]) == ("stability-ai/sdxl", SDXL_VERSION)
    record = api.get(f"/v1/models/stability-ai/sdxl/versions/{SDXL_VERSION}", headers=tenant.headers)
    assert record.json()["id"] == SDXL_VERSION
    assert problem(api.get(f"/v1/models/{SCHNELL}/versions/{SDXL_VERSION}", headers=tenant.headers))[0] == 404


def test_compat_replicate_cancel_list_and_secret(
    api: TestClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    first, second = create(api, tenant), create(api, tenant, path=f"/replicate{CREATE}")  # CometAPI's prefix
    cancelled = api.post(f"/v1/predictions/{first['id']}/cancel", headers=tenant.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "canceled"
    assert cancelled.json()["completed_at"]
    again = api.post(f"/replicate/v1/predictions/{first['id']}/cancel", headers=tenant.headers)
    assert again.json()["status"] == "canceled"  # an ended one is answered as it is
    page = api.get("/v1/predictions", headers=tenant.headers).json()
    assert set(page) == {"next", "previous", "results"}
    assert [p["id"] for p in page["results"]] == [second["id"], first["id"]]
    assert page["next"] is None
    other = make_tenant(name="other")
    assert api.get("/v1/predictions", headers=other.headers).json()["results"] == []
    assert problem(api.get(f"/v1/predictions/{first['id']}", headers=other.headers))[0] == 404
    secret = api.get("/v1/webhooks/default/secret", headers=tenant.headers).json()
    listed = api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]
    assert secret == {"key": listed}
    assert secret["key"].startswith("whsec_")
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert account["held"] == 3_000  # the cancelled one released, the other still held


def test_compat_replicate_rate_limit_detail_is_replicates(
    make_settings: Callable[..., Settings], tenant: Tenant, db: Database
) -> None:
    with TestClient(create_app(make_settings(rate_limit_rps=1)), raise_server_exceptions=False) as api:
        answers = [api.get("/v1/predictions", headers=tenant.headers) for _ in range(5)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited
    _, detail = problem(limited[0])
    assert detail.startswith("Request was throttled. Your rate limit resets in ~")
    assert limited[0].headers["retry-after"]


def test_compat_replicate_prefer_wait_answers_when_the_job_ends(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    waited = api.post(CREATE, json={"input": PROMPT}, headers={**tenant.headers, "Prefer": "wait=1"})
    assert waited.status_code == 201
    assert waited.headers["preference-applied"] == "wait=1"
    assert waited.json()["status"] == "starting"  # not ended in time: as Replicate's own answer
    job_id = waited.json()["id"]
    end(db, job_id, JobStatus.FAILED)
    failed = api.get(f"/v1/predictions/{job_id}", headers=tenant.headers).json()
    assert (failed["status"], failed["completed_at"] is not None) == ("failed", True)


def test_compat_replicate_expired_is_canceled_never_aborted(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    prediction = create(api, tenant)
    end(db, prediction["id"], JobStatus.EXPIRED)
    shown = api.get(f"/v1/predictions/{prediction['id']}", headers=tenant.headers).json()
    assert shown["status"] == "canceled"
    Prediction.parse_obj(shown)


# --- the official client, a real API server and a real worker ---------------------------------------------


@pytest.mark.e2e
def test_compat_replicate_e2e_official_client_runs_creates_waits_and_verifies_webhooks(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, request: pytest.FixtureRequest
) -> None:
    simulator.configure(speed=0.02)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        client = replicate.Client(api_token=tenant.api_key, base_url=stack.settings.public_base_url)
        request.addfinalizer(client._client.close)  # the client has no public close
        outputs = client.run(SCHNELL, input={**PROMPT, "num_outputs": 2})
        # The client makes FileOutputs of https: links only; this server is plain http, so its links come
        # back as strings, read here through the client's own session as a FileOutput reads them.
        assert isinstance(outputs, list)
        assert len(outputs) == 2
        assert all(str(url).startswith(stack.settings.public_base_url) for url in outputs)
        files = [FileOutput(str(url), client).read() for url in outputs]
        assert all(data.startswith(b"\x89PNG") for data in files)
        one = client.run("black-forest-labs/flux-1.1-pro", input=PROMPT)
        assert isinstance(one, str)  # a single URL string, as the model returns one file

        prediction = client.predictions.create(
            model="minimax/video-01", input=PROMPT, webhook=receiver.url, webhook_events_filter=["completed"]
        )
        prediction.wait()
        assert prediction.status == "succeeded"
        job = stack.api.get(f"/v1/jobs/{prediction.id}", headers=tenant.headers).json()
        assert job["charged"] == job["price"] == 500_000
        stored = httpx.get(job["outputs"][0]["url"]).content
        assert hashlib.sha256(stored).hexdigest() == job["outputs"][0]["sha256"]
        assert FileOutput(str(prediction.output), client).read() == stored

        secret = client.webhooks.default.secret()
        received = services.wait_until(lambda: list(receiver.received) or None, timeout=30)
        for delivery in received:
            Webhooks.validate(
                headers=delivery.headers,
                body=delivery.body.decode(),
                secret=WebhookSigningSecret(key=secret.key),
            )
        bodies = [Prediction.parse_raw(delivery.body) for delivery in received]
        assert [body.status for body in bodies] == ["succeeded"]  # only completed, as asked
        assert bodies[0].id == prediction.id
    balance = stack.api.get("/v1/account", headers=tenant.headers).json()["balance"]
    assert balance == 100 * CREDITS - 2 * 3_000 - 40_000 - 500_000


# --- the API document ------------------------------------------------------------------------------


def test_compat_replicate_document_states_what_the_routes_take_and_answer(
    api: TestClient, tenant: Tenant
) -> None:
    spec = api.get("/openapi.json").json()
    for prefix in ("/v1", "/replicate/v1"):
        post = spec["paths"][f"{prefix}/predictions"]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        accepted = {"version": SDXL_VERSION, "input": {**PROMPT, "num_outputs": 2}, "webhook": ""}
        jsonschema.validate(accepted, {**body, "components": spec["components"]})  # its `$ref`s resolve
        created = api.post(f"{prefix}/predictions", json=accepted, headers=tenant.headers)
        assert created.status_code == 201, created.text
        answer = post["responses"]["201"]
        jsonschema.validate(created.json(), answer["content"]["application/json"]["schema"])
        assert {link["parameters"]["prediction_id"] for link in answer["links"].values()} == {
            "$response.body#/id"
        }
        assert post["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ReplicateProblem"
        }
        listed = spec["paths"][f"{prefix}/predictions"]["get"]
        (cursor,) = [p for p in listed["parameters"] if p["name"] == "cursor"]
        assert re.search(cursor["schema"]["pattern"], created.json()["id"])
        assert re.search(cursor["schema"]["pattern"], "")
        assert not re.search(cursor["schema"]["pattern"], "abc")
        page = api.get(f"{prefix}/predictions", params={"cursor": ""}, headers=tenant.headers)
        jsonschema.validate(page.json(), listed["responses"]["200"]["content"]["application/json"]["schema"])
        (prefer,) = [p for p in post["parameters"] if p["name"] == "Prefer"]
        for value, allowed in [("wait", True), ("wait=60, respond-async", True), ("wait=61", False)]:
            assert bool(re.search(prefer["schema"]["pattern"], value)) is allowed
        refused = api.post(CREATE, json={"input": PROMPT}, headers={**tenant.headers, "Prefer": "wait=061"})
        assert problem(refused)[0] == 422


def test_compat_replicate_refuses_malformed_fields_as_problems(api: TestClient, tenant: Tenant) -> None:
    filtered = api.post(
        CREATE, json={"input": PROMPT, "webhook_events_filter": [{"start": 1}]}, headers=tenant.headers
    )
    assert problem(filtered)[0] == 422
    for field in ("webhook", "webhook_completed"):
        assert problem(api.post(CREATE, json={"input": PROMPT, field: 7}, headers=tenant.headers))[0] == 422
    long_name = api.post(
        f"/v1/models/owner/{'n' * 64}/predictions", json={"input": PROMPT}, headers=tenant.headers
    )
    assert problem(long_name)[0] == 404
    odd_name = api.post("/v1/models/own er/x/predictions", json={"input": PROMPT}, headers=tenant.headers)
    assert problem(odd_name)[0] == 404
