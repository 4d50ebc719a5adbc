"""Admin control of upstream channels: list them with load and breaker state, change them, and see
admission obey the change at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.pipeline import submission
from orchestrator.settings import Settings
from tests.factories import Tenant, create_job
from workers.simulator import Simulator

ADMIN_TOKEN = "admin-" + "y" * 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    path = tmp_path / "channels.toml"
    path.write_text(
        f'[[channel]]\nprovider = "kling"\nname = "main"\nbase_url = "{simulator_url}"\n'
        'api_key_env = "SIM_KEY"\n'
    )
    return make_settings(admin_token=ADMIN_TOKEN, channels_file=path)


@pytest.fixture
def client(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_admin_channels_list_shows_every_provider_with_load_and_breaker(client: TestClient) -> None:
    channels = client.get("/admin/v1/channels", headers=ADMIN).json()
    by_key = {(c["provider"], c["name"]): c for c in channels}
    assert by_key[("kling", "main")]["max_concurrency"] is None
    assert by_key[("suno", "default")]["mode"] == "cometapi"  # not in the file: the settings' channel
    assert all(c["breaker"]["consecutive_failures"] == 0 for c in channels)
    assert "api_key" not in str(channels)


def test_admin_channels_disable_then_cap_then_reenable_steer_admission(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, simulator: Simulator
) -> None:
    off = client.patch("/admin/v1/channels/kling/main", json={"enabled": False}, headers=ADMIN)
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    with httpx.Client() as http:
        waiting = create_job(db, tenant, settings)
        assert submission.submit(db, http, settings, waiting) is None  # no enabled channel: it waits
        on = client.patch(
            "/admin/v1/channels/kling/main", json={"enabled": True, "max_concurrency": 1}, headers=ADMIN
        )
        assert on.json()["max_concurrency"] == 1
        assert submission.admit_waiting(db, http, settings, "kling") == 1
        assert client.get("/admin/v1/channels", headers=ADMIN).json()[0]["active_jobs"] in {0, 1}
        second = create_job(db, tenant, settings)
        assert submission.submit(db, http, settings, second) is None  # the cap of 1 is taken
        cleared = client.patch("/admin/v1/channels/kling/main", json={"max_concurrency": None}, headers=ADMIN)
        assert cleared.json()["max_concurrency"] is None
        assert submission.admit_waiting(db, http, settings, "kling") == 1
    assert simulator.stats()["kling"].creates == 2


def test_admin_channels_unknown_channel_or_tenant_key_is_refused(client: TestClient, tenant: Tenant) -> None:
    assert (
        client.patch("/admin/v1/channels/kling/nope", json={"enabled": False}, headers=ADMIN).status_code
        == 404
    )
    assert client.patch("/admin/v1/channels/kling/main", json={"weight": 0}, headers=ADMIN).status_code == 422
    assert client.get("/admin/v1/channels", headers=tenant.headers).status_code == 401
