"""A provider from another installed package (`tests/plugins/genrelay_acme`, registered through the
`genrelay.providers` entry point) is listed, priced, rendered into the deploy files and runs a job end
to end through a real worker, with no line of genrelay changed for it."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from orchestrator.cli import main
from orchestrator.db import Database
from orchestrator.messaging import all_queues
from orchestrator.ops import deploy_files
from orchestrator.settings import Settings
from tests import services
from tests.factories import Tenant
from tests.stack import Stack
from workers.providers import PROVIDERS

PLUGINS = Path(__file__).parent / "plugins"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """genrelay-acme installed as a package would be: its module importable and its distribution's
    entry point visible, here and in every process the test starts."""
    site = tmp_path / "site"
    dist_info = site / "genrelay_acme-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: genrelay-acme\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[genrelay.providers]\nacme = genrelay_acme:Acme\n")
    paths = [str(site), str(PLUGINS)]
    for path in paths:
        monkeypatch.syspath_prepend(path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(PROVIDERS, "_providers", None)  # found again, as a process starting now would


class AcmeUpstream:
    """Acme's API as the test serves it: a create first checks its callback URL with a challenge the
    receiver must echo; a task advances one status per query, then offers a file by reference."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.echoes: list[Any] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/acme/tasks")
        async def create(request: Request) -> Response:
            body = await request.json()
            if request.headers.get("authorization") != "Bearer sk-simulator":
                return JSONResponse({"error": "bad key"}, status_code=401)
            task_id = uuid.uuid4().hex
            self.created.append(body)
            async with httpx.AsyncClient() as http:
                echo = await http.post(body["callback_url"], json={"challenge": task_id})
            self.echoes.append(echo.json())
            self.tasks[task_id] = {"id": task_id, "status": "queued", "progress": 0}
            return JSONResponse(self.tasks[task_id], status_code=201)

        @app.get("/acme/tasks/{task_id}")
        async def query(task_id: str, request: Request) -> Response:
            task = self.tasks[task_id]
            if task["status"] == "queued":
                task.update(status="working", progress=50)
            elif task["status"] == "working":
                task.update(status="done", progress=100, file_id=f"file-{task_id}")
            return JSONResponse(task)

        @app.get("/acme/files/{file_id}/link")
        async def link(file_id: str, request: Request) -> Response:
            return JSONResponse({"url": f"{request.base_url}acme/downloads/{file_id}.mp4"})

        @app.get("/acme/downloads/{name}")
        async def download(name: str) -> Response:
            return Response(VIDEO, media_type="video/mp4")

        return app


def test_plugin_provider_is_listed_priced_and_given_queues(acme_installed: None) -> None:
    assert "acme" in PROVIDERS
    listed = CliRunner().invoke(main, ["providers", "--json"])
    assert listed.exit_code == 0, listed.output
    offered = json.loads(listed.output)["providers"]["acme"]
    assert offered["title"] == "Acme Studio"
    assert offered["operations"]["render"]["prices"]["acme-1"] == {"from": "0.5", "to": "0.5", "per": None}
    assert {"acme.submit", "acme.poll"} <= set(all_queues())
    video = next(
        g for g in deploy_files.worker_groups(deploy_files.provider_groups(PROVIDERS)) if g.name == "video"
    )
    assert {"acme.submit", "acme.poll"} <= set(video.queues)


@pytest.mark.e2e
def test_plugin_provider_runs_a_job_end_to_end_through_a_real_worker(
    acme_installed: None, start_stack: Callable[..., Stack], tenant: Tenant
) -> None:
    upstream = AcmeUpstream()
    with services.serving(upstream.app()) as server:
        stack = start_stack(upstream_base_url=server.url)
        body = {
            "provider": "acme",
            "operation": "render",
            "model": "acme-1",
            "input": {"prompt": "a red kite"},
        }
        job_id = stack.create(tenant, body)
        job = stack.wait_for_end(tenant, job_id)
        assert job["status"] == "succeeded", job
        assert (job["price"], job["charged"], job["progress"]) == (500_000, 500_000, 100)
        [output] = job["outputs"]
        download = httpx.get(output["url"])
        assert download.content == VIDEO
        assert output["sha256"] == hashlib.sha256(VIDEO).hexdigest()
        assert [(task["reference"], task["prompt"]) for task in upstream.created] == [(job_id, "a red kite")]
        # The callback address answered the upstream's challenge with its value, and only that.
        assert upstream.echoes == [{"challenge": next(iter(upstream.tasks))}]
        account = stack.api.get("/v1/account", headers=tenant.headers).json()
        assert account["held"] == 0


def test_plugin_provider_callback_handshake_is_answered_only_for_a_waiting_job(
    acme_installed: None, make_settings: Callable[..., Settings], db: Database, broker: object, tenant: Tenant
) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from orchestrator.api import create_app
    from orchestrator.models import Job

    body = {"provider": "acme", "operation": "render", "model": "acme-1", "input": {"prompt": "a red kite"}}
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as api:
        created = api.post("/v1/jobs", json=body, headers=tenant.headers)
        assert created.status_code == 202, created.text
        with db.transaction() as session:
            token = session.execute(select(Job.callback_token)).scalar_one()
        echoed = api.post(f"/callbacks/acme/{token}", json={"challenge": "c-123"})
        assert (echoed.status_code, echoed.json()) == (200, {"challenge": "c-123"})
        stranger = api.post("/callbacks/acme/not-a-token", json={"challenge": "c-123"})
        assert stranger.status_code == 404
        assert "c-123" not in stranger.text
        assert (
            api.get(f"/v1/jobs/{created.json()['job_id']}", headers=tenant.headers).json()["status"]
            == "queued"
        )
