"""Secrets stay secret: tenant keys, upstream keys, webhook secrets and callback tokens appear in no
log line, task argument or answer, and an upstream that echoes our key never shows it to a tenant."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import PollPolicy, Settings
from orchestrator.storage import build_storage
from tests import services
from tests.factories import Tenant, create_job, kling_request
from tests.processes import celery_worker, settings_env
from tests.receivers import running_receiver
from workers.simulator import Outcome, Simulator


def test_secrets_an_upstream_echoing_our_key_is_redacted_before_the_tenant_sees_it(
    db: Database, tenant: Tenant, simulator: Simulator, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    key = settings.upstream_api_key.get_secret_value()
    simulator.script("kling", [Outcome(result="fail", message=f"token {key} is over quota")])
    job_id = create_job(db, tenant, settings)
    with httpx.Client() as http:
        submission.submit(db, http, settings, job_id)
        for _ in range(20):
            for stored in tracking.poll(db, http, settings, [job_id]):
                storing.store(db, http, build_storage(settings), settings, stored)
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.state == "failed"
        assert job.error_message == "token [redacted] is over quota"


@pytest.mark.e2e
def test_secrets_never_in_logs_task_arguments_or_answers(
    make_settings: Callable[..., Settings],
    db: Database,
    broker: redis.Redis,
    tenant: Tenant,
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    upstream_key = "sk-upstream-" + secrets.token_hex(12)
    simulator.configure(speed=0.01, api_key=upstream_key)
    simulator.script("kling", [Outcome(result="succeed"), Outcome(result="fail", message="GPU on fire")])
    port = services.free_port()
    settings = make_settings(
        api_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        upstream_api_key=upstream_key,
        webhook_allowlist=["127.0.0.1"],
        log_format="json",
        poll={"default": PollPolicy(initial_s=0.2, factor=1.0, max_s=0.2)},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENRELAY_")} | settings_env(settings)
    api_log = tmp_path / "api.log"
    with (
        running_receiver() as receiver,
        api_log.open("wb") as log,
        subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
        ) as api_process,
    ):
        try:
            with (
                celery_worker(settings, tmp_path / "worker.log") as worker,
                httpx.Client(base_url=settings.public_base_url, timeout=10) as api,
            ):
                services.wait_until(lambda: _ready(api), timeout=30)
                answers = _run_two_jobs(api, tenant, receiver.url)
                worker_log = worker.log
        finally:
            api_process.terminate()
            api_process.wait(timeout=20)
    with db.transaction() as session:
        tokens = list(session.execute(select(Job.callback_token)).scalars())
    webhook_secret = next(a for a in answers if a.startswith('{"data":[{"secret"'))
    secret_values = [tenant.api_key, upstream_key, *tokens]
    haystacks = {
        "api log": api_log.read_text(),
        "worker log": worker_log,
        "answers": "\n".join(a for a in answers if a is not webhook_secret),
        "webhook bodies": "\n".join(r.body.decode() for r in receiver.received),
    }
    assert "callbacks/kling/" in haystacks["api log"]  # the callback ingress was used and logged...
    for name, text in haystacks.items():
        for value in secret_values:
            assert value not in text, f"a secret appears in the {name}"
        assert "whsec_" not in text, f"a webhook secret appears in the {name}"


def _ready(api: httpx.Client) -> bool:
    try:
        return api.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _run_two_jobs(api: httpx.Client, tenant: Tenant, hook: str) -> list[str]:
    answers: list[str] = []
    job_ids = []
    for n in range(2):
        created = api.post(
            "/v1/jobs", json=kling_request(prompt=f"shot {n}", callback_url=hook), headers=tenant.headers
        )
        answers.append(created.text)
        job_ids.append(created.json()["job_id"])
    for job_id in job_ids:
        services.wait_until(
            lambda job_id=job_id: (
                api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()["status"]
                in {"succeeded", "failed"}
            ),
            timeout=60,
        )
        for path in ("", "/events", "/deliveries"):
            answers.append(api.get(f"/v1/jobs/{job_id}{path}", headers=tenant.headers).text)
    answers.append(api.get("/v1/jobs", headers=tenant.headers).text)
    answers.append(api.get("/v1/account", headers=tenant.headers).text)
    answers.append(
        api.get("/v1/jobs", headers={"Authorization": "Bearer gr_forged_" + uuid.uuid4().hex}).text
    )
    answers.append(api.get("/v1/webhooks/secrets", headers=tenant.headers).text)
    return answers
