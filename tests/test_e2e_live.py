"""End to end, through a real worker and beat: a job's event stream and the events its client chose,
a start-by deadline the sweep enforces on a job held back by a channel's cap, the queue position of
the job next in line, and the estimated finish the sweep learns from the jobs that ended."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import services
from tests.factories import Tenant, kling_request
from tests.receivers import running_receiver
from tests.stack import Stack
from tests.test_capacity import channels
from workers.simulator import Outcome, Simulator

pytestmark = pytest.mark.e2e
PRICE = 200_000


def streamed_events(stack: Stack, tenant: Tenant, job_id: str) -> list[str]:
    """The event types of the job's stream, read until the stream closes after the job's end."""
    events = []
    path = f"/v1/jobs/{job_id}/stream"
    with stack.api.stream("GET", path, headers=tenant.headers, timeout=httpx.Timeout(90)) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
    return events


def test_e2e_live_a_jobs_stream_and_its_chosen_webhooks_follow_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        every = stack.create(tenant, kling_request(callback_url=receiver.url))
        ending = stack.create(
            tenant, kling_request(callback_url=receiver.url, webhook_events=["job.succeeded"])
        )
        events = streamed_events(stack, tenant, every)
        assert streamed_events(stack, tenant, ending) == ["job.succeeded"]
        assert stack.wait_for_end(tenant, ending)["status"] == "succeeded"

        def delivered(job_id: str) -> list[dict[str, Any]] | None:
            answer = stack.api.get(f"/v1/jobs/{job_id}/deliveries", headers=tenant.headers).json()
            found: list[dict[str, Any]] = answer["data"]
            return found if found and {d["state"] for d in found} == {"delivered"} else None

        chosen = services.wait_until(lambda: delivered(ending), timeout=30, message="its webhook")
        everything = services.wait_until(lambda: delivered(every), timeout=30, message="its webhooks")
    assert (events[0], events[-1]) == ("job.queued", "job.succeeded")
    assert [d["type"] for d in chosen] == ["job.succeeded"]  # only what the job asked for was ever made
    assert everything[0]["type"] == "job.queued"


def test_e2e_live_the_sweep_expires_a_job_held_back_past_its_start_deadline(
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)  # read by the worker from its environment
    simulator.script("kling", [Outcome(result="succeed", processing_s=600)])
    stack = start_stack(channels_file=channels(tmp_path, simulator_url, ("only", "SIM_KEY", 1)))
    holding = stack.create(tenant, kling_request())

    def status() -> str:
        return str(stack.api.get(f"/v1/jobs/{holding}", headers=tenant.headers).json()["status"])

    services.wait_until(
        lambda: status() in {"submitted", "running"},
        timeout=30,
        message=lambda: f"the first job takes the channel's only slot (it is {status()})",
    )
    late = stack.wait_for_end(tenant, stack.create(tenant, kling_request(start_deadline_s=2)), timeout=60)
    assert late["status"] == "expired"
    assert (late["error"]["code"], late["error"]["retryable"]) == ("start_deadline_exceeded", True)
    assert late["charged"] == 0
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert account["held"] == PRICE  # the first job's hold alone: the expired one's went back
    assert simulator.stats()["kling"].creates == 1  # never sent
    queued = stack.create(tenant, kling_request("next in line"))

    def placed() -> dict[str, Any] | None:
        job: dict[str, Any] = stack.api.get(f"/v1/jobs/{queued}", headers=tenant.headers).json()
        return job if job["queue_position"] is not None else None

    job = services.wait_until(placed, timeout=30, message="the next job waits for the slot, first in line")
    assert (job["status"], job["queue_position"]) == ("queued", 1)


def test_e2e_live_a_running_job_shows_the_finish_its_models_recent_jobs_predict(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="succeed")] * 3 + [Outcome(result="succeed", processing_s=600)])
    stack = start_stack()
    for n in range(3):
        assert (
            stack.wait_for_end(tenant, stack.create(tenant, kling_request(f"shot {n}")))["status"]
            == "succeeded"
        )
    running = stack.create(tenant, kling_request("the long one"))

    def estimated() -> dict[str, Any] | None:
        job: dict[str, Any] = stack.api.get(f"/v1/jobs/{running}", headers=tenant.headers).json()
        return job if job["estimated_finish_at"] is not None else None

    job = services.wait_until(estimated, timeout=60, message="the sweep learns the model's durations")
    assert job["status"] in {"queued", "submitting", "submitted", "running"}
    assert job["queue_position"] is None
