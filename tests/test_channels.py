"""Channels: the channel file is validated, vendor modes are selected by it and work end to end
against the simulator, and credentials never follow a redirect to another host."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.pipeline.channels import channel_for, load_channels
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from tests import services
from tests.conftest import Tenant
from tests.factories import create_job
from tests.test_contract import example
from workers.providers import PROVIDERS
from workers.simulator import SimConfig, Simulator

EXAMPLE_FILE = Path(__file__).parent.parent / "deploy" / "channels.example.toml"


def channel_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"channels-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(body)
    return path


def test_channels_example_file_is_valid() -> None:
    channels = load_channels(EXAMPLE_FILE)
    assert {c.provider for c in channels} == set(PROVIDERS)
    assert all(not c.api_key_env.startswith(("sk-", "key_")) for c in channels)  # names, never keys


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[channel]]\nprovider = "dalle"\nname = "x"\nbase_url = "https://a"\napi_key_env = "K"\n',
            "unknown provider",
        ),
        (
            '[[channel]]\nprovider = "kling"\nname = "x"\nbase_url = "ftp://a"\napi_key_env = "K"\n',
            "base_url",
        ),
        (
            '[[channel]]\nprovider = "kling"\nname = "x"\nbase_url = "https://a"\napi_key = "sk-1"\n',
            "api_key",
        ),
        (
            '[[channel]]\nprovider = "kling"\nname = "x"\nbase_url = "https://a"\napi_key_env = "K"\n' * 2,
            "twice",
        ),
    ],
)
def test_channels_bad_files_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_channels(channel_file(tmp_path, body))


def test_channels_weighted_pick_and_named_lookup(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY_A", "a-key")
    body = (
        '[[channel]]\nprovider = "kling"\nname = "a"\nbase_url = "https://a.test"\napi_key_env = "KEY_A"\n'
        '[[channel]]\nprovider = "kling"\nname = "off"\nbase_url = "https://b.test"\napi_key_env = "KEY_A"\n'
        "enabled = false\n"
    )
    settings = make_settings(channels_file=channel_file(tmp_path, body))
    assert {channel_for(settings, "kling").name for _ in range(20)} == {"a"}  # disabled never picked
    assert channel_for(settings, "kling", "off").base_url == "https://b.test"  # but polls still reach it
    assert channel_for(settings, "kling", "a").api_key == "a-key"
    assert channel_for(settings, "suno").name == "default"  # not in the file: CometAPI from settings


VENDORS = {
    "kling": "text2video",
    "runway": "image_to_video",
    "veo": "text_to_video",
}


@pytest.mark.parametrize(("provider", "operation"), sorted(VENDORS.items()))
def test_channels_vendor_mode_runs_a_job_end_to_end(
    provider: str,
    operation: str,
    tmp_path: Path,
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VENDOR_KEY", simulator.config.api_key)
    monkeypatch.setenv("VENDOR_SECRET", SimConfig().secret_key)
    body = (
        f'[[channel]]\nprovider = "{provider}"\nname = "direct"\nbase_url = "{simulator_url}"\n'
        'mode = "vendor"\napi_key_env = "VENDOR_KEY"\nsecret_key_env = "VENDOR_SECRET"\n'
    )
    settings = make_settings(channels_file=channel_file(tmp_path, body))
    from orchestrator.pricing import load_price_table

    model = load_price_table(settings.prices_path).models(provider, operation)[0]
    sample = example(PROVIDERS[provider].operations[operation])
    job_id = create_job(
        db, tenant, settings, provider=provider, operation=operation, model=model, input=sample
    )
    with httpx.Client(timeout=5) as http:
        assert submission.submit(db, http, settings, job_id) is not None
        for _ in range(30):
            for stored in tracking.poll(db, http, settings, [job_id]):
                storing.store(db, http, build_storage(settings), settings, stored)
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.state, job.channel) == ("succeeded", "direct"), job.error_message


@pytest.fixture
def redirecting_host() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serves /file on 127.0.0.1, which redirects to the same server named `localhost` (another host)."""
    seen: list[dict[str, str]] = []
    app = FastAPI()

    @app.get("/file")
    def file(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.url.hostname == "127.0.0.1":
            return RedirectResponse(str(request.url).replace("127.0.0.1", "localhost"), status_code=302)
        return Response(b"payload", media_type="video/mp4")

    with services.serving(app) as server:
        yield server.url, seen


def test_channels_credentials_never_follow_a_redirect_to_another_host(
    redirecting_host: tuple[str, list[dict[str, str]]], make_settings: Callable[..., Settings]
) -> None:
    url, seen = redirecting_host
    settings = make_settings()
    with httpx.Client() as http:
        stored = storing.copy_output(
            http,
            build_storage(settings),
            settings,
            uuid.uuid4(),
            0,
            {"url": f"{url}/file"},
            {"x-goog-api-key": "k"},
        )
    assert stored.size_bytes == len(b"payload")
    assert [headers.get("x-goog-api-key") for headers in seen] == ["k", None]
