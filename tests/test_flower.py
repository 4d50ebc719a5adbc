"""Flower through `genrelay flower`: basic auth from settings, the broker's key prefix honoured (queue
lengths), and tasks shown by name with ids as their only arguments, read back from Flower's HTTP API."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from orchestrator import messaging
from orchestrator.ops.console import cookie_secret, flower_argv, flower_env
from orchestrator.settings import Settings
from tests import services
from tests.conftest import BROKER_PREFIX, Tenant
from tests.factories import kling_request
from tests.processes import settings_env
from tests.stack import Stack
from workers.providers import PROVIDERS

PASSWORD = "flower-test-password"
PROMPT = "a-private-prompt-that-must-not-reach-flower"


def is_our_task(name: str) -> bool:
    """`store`, `deliver`, `sweep`, or `<provider>.<action>` (`kling.submit`, `kling.poll`, ...)."""
    provider, dot, action = name.partition(".")
    if dot:
        return provider in PROVIDERS and action.isidentifier()
    return name in {messaging.STORE_TASK, messaging.DELIVER_TASK, messaging.SWEEP_TASK}


@contextmanager
def running_flower(settings: Settings, log_path: Path) -> Iterator[httpx.Client]:
    """`genrelay flower` in a subprocess; yields a client authenticated as the configured user."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GENRELAY_", "S3_", "FLOWER_")) and name not in {"DATABASE_URL", "BROKER_URL"}
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "flower"],
            env={**inherited, **settings_env(settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{settings.flower_port}"
    client = httpx.Client(base_url=base_url, auth=("ops", PASSWORD), timeout=10)
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"flower exited:\n{log_path.read_text()[-4000:]}")
            try:
                return client.get("/healthcheck").status_code == 200
            except httpx.TransportError:
                return False

        services.wait_until(healthy, timeout=30, interval=0.1, message="flower answers /healthcheck")
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def flower_settings() -> dict[str, Any]:
    return {
        "flower_port": services.free_port(),
        "flower_user": "ops",
        "flower_password": PASSWORD,
        "flower_max_tasks": 500,
    }


@pytest.mark.e2e
def test_flower_demands_its_password_and_reads_queue_lengths_under_the_key_prefix(
    make_settings: Callable[..., Settings],
    broker: redis.Redis,
    flower_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = make_settings(**flower_settings)
    # Three messages on the sweep queue and no worker to take them (the broker fixture clears them).
    dispatcher = messaging.Dispatcher(settings.require_broker_url(), settings.broker_key_prefix)
    for _ in range(3):
        assert dispatcher.send(messaging.SWEEP_TASK, [str(uuid.uuid4())])
    dispatcher.close()
    assert broker.llen(f"{BROKER_PREFIX}{messaging.SWEEP_TASK}") == 3  # what KEDA's listName names
    with running_flower(settings, tmp_path / "flower.log") as flower:
        assert httpx.get(f"{flower.base_url}/api/workers").status_code == 401
        wrong = httpx.get(f"{flower.base_url}/api/queues/length", auth=("ops", "guess"))
        assert wrong.status_code == 401
        lengths = flower.get("/api/queues/length")
        assert lengths.status_code == 200, lengths.text
        assert {"name": messaging.SWEEP_TASK, "messages": 3} in lengths.json()["active_queues"]


def ids_only(args_repr: str) -> list[str]:
    """Every leaf of Flower's rendering of a task's arguments: each must be an id (a UUID, or the
    registry name of a provider for per-provider tasks), never an input, key or URL."""
    leaves: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, list | tuple):
            for item in value:
                walk(item)
        else:
            assert isinstance(value, str), f"argument {value!r} is not an id"
            if value not in PROVIDERS:
                uuid.UUID(value)
            leaves.append(value)

    walk(ast.literal_eval(args_repr))
    return leaves


@pytest.mark.e2e
@pytest.mark.deployments
def test_flower_shows_tasks_by_name_with_ids_as_their_only_arguments(
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    flower_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    stack = start_stack(**flower_settings)
    with running_flower(stack.settings, tmp_path / "flower.log") as flower:
        # Flower knows only the events it saw: wait until the worker's heartbeats reach it.
        services.wait_until(
            lambda: 'flower_worker_online{worker="test-' in flower.get("/metrics").text,
            timeout=30,
            message="flower sees the worker online",
        )
        job_id = stack.create(tenant, kling_request(prompt=PROMPT))
        assert stack.wait_for_end(tenant, job_id)["status"] == "succeeded"

        def tasks_with_the_job() -> dict[str, Any] | None:
            tasks: dict[str, Any] = flower.get("/api/tasks").json()
            names = {task["name"] for task in tasks.values() if job_id in (task.get("args") or "")}
            # The callback can move the job to storing (and the store task run) while the submit task is
            # still finishing: wait for Flower to have seen a submit of this job succeed, too.
            submitted = any(
                task["name"] == "kling.submit" and task["state"] == "SUCCESS"
                for task in tasks.values()
                if job_id in (task.get("args") or "")
            )
            return tasks if {"kling.submit", "store"} <= names and submitted else None

        tasks = services.wait_until(tasks_with_the_job, timeout=30, message="flower lists the job's tasks")
        for task in tasks.values():
            if task["name"] is None:  # received before Flower listened: it saw only later events
                assert task["args"] is None
                continue
            assert is_our_task(task["name"]), task["name"]
            ids_only(task["args"])
            assert task["kwargs"] == "{}"
        shown = json.dumps(tasks)
        for secret in (PROMPT, tenant.api_key, stack.settings.upstream_api_key.get_secret_value()):
            assert secret not in shown
        assert stack.settings.upstream_base_url not in shown
        # One, or two when the sweep re-dispatched the queued job before the first was taken (harmless).
        submit_id = next(
            task_id
            for task_id, task in tasks.items()
            if task["name"] == "kling.submit"
            and job_id in (task["args"] or "")
            and task["state"] == "SUCCESS"
        )
        info = flower.get(f"/api/task/info/{submit_id}")
        assert info.status_code == 200
        assert info.json()["name"] == "kling.submit"
        assert ids_only(info.json()["args"]) == [job_id]
        assert info.json()["state"] == "SUCCESS"


def test_flower_credentials_stay_off_the_command_line_and_memory_is_bounded(
    make_settings: Callable[..., Settings],
) -> None:
    management = "http://ops:management-password@rabbitmq:15672/api/"
    settings = make_settings(flower_user="ops", flower_password=PASSWORD, flower_broker_api=management)
    argv = flower_argv(settings)
    assert argv[argv.index("-A") + 1] == "workers.celery_app"  # the workers' own app: same broker options
    assert "--max_tasks=10000" in argv
    assert "--persistent=False" in argv
    assert not any(PASSWORD in arg or "management-password" in arg for arg in argv)
    env = flower_env(settings)
    assert env["FLOWER_BASIC_AUTH"] == f"ops:{PASSWORD}"
    assert env["FLOWER_BROKER_API"] == management  # RabbitMQ's queue lengths, through the environment
    # The cookie secret survives restarts and is the same on every replica.
    assert (
        env["FLOWER_COOKIE_SECRET"]
        == cookie_secret(make_settings())
        != settings.url_signing_key.get_secret_value()
    )
    assert cookie_secret(make_settings(flower_cookie_secret="set")) == "set"


def test_flower_refuses_to_start_without_a_password_outside_dev(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ValueError, match="GENRELAY_FLOWER_PASSWORD"):
        flower_env(make_settings(environment="prod", url_signing_key="k" * 32))
    with pytest.raises(ValueError, match="comma"):
        flower_env(make_settings(flower_password="a,b"))
    assert "FLOWER_BASIC_AUTH" not in flower_env(make_settings(environment="dev"))
