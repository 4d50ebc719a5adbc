"""A client generated from the published `openapi.json` (openapi-python-client, as a client team would
build theirs) creates a job on a running genrelay, waits for it with `Prefer: wait`, and downloads its
output, with the document's own models parsing every answer."""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import Tenant, kling_request
from tests.stack import Stack
from workers.simulator import Simulator

pytestmark = pytest.mark.e2e
PUBLISHED = Path(__file__).resolve().parent.parent / "openapi.json"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "genrelay_client"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    """The client package generated from the published document; yields an importer of its modules."""
    config = tmp_path / "generator.yml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(PUBLISHED),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [module for module in sys.modules if module.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_generated_client_creates_waits_for_and_downloads_a_job(
    generated: Callable[[str], ModuleType],
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    simulator: Simulator,
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()
    client_class: Any = generated("client").AuthenticatedClient
    base_url = str(stack.api.base_url).rstrip("/")
    with client_class(base_url=base_url, token=tenant.api_key, timeout=90) as client:
        models = generated("models")
        create_job = generated("api.jobs.create_job_v1_jobs_post")
        get_job = generated("api.jobs.get_job_v1_jobs_job_id_get")
        download = generated("api.files.download_v1_files_key_get")

        created = create_job.sync(
            client=client,
            body=models.KlingText2video.from_dict(kling_request(input={"prompt": "a boat", "duration": "5"})),
        )
        assert isinstance(created, models.Job), created
        job = created
        for _ in range(10):  # each answer comes when the job ends, or after 60 s
            if job.status.value in {"succeeded", "failed", "cancelled", "expired"}:
                break
            job = get_job.sync(job_id=str(job.job_id), client=client, prefer="wait=60")
            assert isinstance(job, models.Job), job
        assert job.status.value == "succeeded"
        assert job.charged == job.price > 0
        [output] = job.outputs
        link = urlsplit(output.url)
        query = {name: values[0] for name, values in parse_qs(link.query).items()}
        fetched = download.sync_detailed(
            key=link.path.removeprefix("/v1/files/"),
            client=client,
            expires=int(query["expires"]),
            signature=query["signature"],
        )
        assert fetched.status_code == 200
        assert hashlib.sha256(fetched.content).hexdigest() == output.sha256
        assert len(fetched.content) == output.size_bytes
