"""What the Suno operation tests share: a channel to the simulator, the adapter, and a real parent song
made by that simulator for the follow-ups to act on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.services import wait_until
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.suno.adapter import Suno
from workers.simulator import Simulator

SUNO = Suno()
CUSTOM = {"prompt": "[Verse]\nNeon rain on the avenue", "tags": "synthwave", "title": "Neon Rain"}
ENDS = (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED)


def upstream(simulator: Simulator, url: str) -> Channel:
    """A channel to the test session's simulator."""
    return Channel("suno-sim", url, api_key=simulator.config.api_key)


def auth(simulator: Simulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {simulator.config.api_key}"}


def request(operation: str, job_input: dict[str, Any], parent: ProviderUpdate | None = None) -> SubmitRequest:
    return SubmitRequest(
        job_id=f"job-{operation}",
        operation=operation,
        model=f"suno_{operation}" if operation != "music" else "chirp-v4",
        input=job_input,
        parent_external_id=parent.external_id if parent else None,
        parent_result=parent.result if parent else None,
    )


def follow_up(operation: str, parent: ProviderUpdate, **fields: Any) -> SubmitRequest:
    return request(operation, {"parent_job_id": "parent-job", **fields}, parent)


def run(http: httpx.Client, channel: Channel, submit: SubmitRequest) -> list[ProviderUpdate]:
    """Submit, then every update polled until a terminal one, which comes last."""
    task = TaskRef(submit.job_id, submit.operation, SUNO.submit(http, channel, submit))
    seen: list[ProviderUpdate] = []

    def ended() -> bool:
        seen.append(SUNO.poll(http, channel, task))
        return seen[-1].status in ENDS

    wait_until(ended, timeout=20)
    return seen


def song(http: httpx.Client, channel: Channel, **fields: Any) -> ProviderUpdate:
    """A finished two-clip song of this simulator: what a follow-up's parent reported."""
    done = run(http, channel, request("music", {**CUSTOM, **fields}))[-1]
    assert done.status is UpstreamStatus.SUCCEEDED, done.error_message
    return done


def clip_ids(update: ProviderUpdate) -> list[str]:
    assert update.result is not None
    return [str(clip["clip_id"]) for clip in update.result["clips"]]
