"""ByteDance Seedance: text2video, image2video and reference2video on Ark's one task route, through
CometAPI's pass-through (`/volc/v3/contents/generations/tasks`) or Ark itself, Volcengine's or BytePlus's
(`/api/v3/contents/generations/tasks`); a bearer key on all three."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx

from workers.providers.base import (
    Channel,
    PollHint,
    ProviderPlugin,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
    UpstreamStatus,
)
from workers.providers.errors import ProviderRejectedError, ProviderUnavailableError
from workers.providers.seedance import wire
from workers.providers.seedance.content import content_items
from workers.providers.seedance.offers import CN_PREFIX, family, model_problem
from workers.providers.seedance.routes import FAMILY
from workers.providers.seedance.schemas import (
    DEFAULT_RESOLUTION,
    PARAMS,
    SeedanceImage2VideoInput,
    SeedanceReference2VideoInput,
    SeedanceText2VideoInput,
)
from workers.providers.seedance.simulation import SIMULATION
from workers.providers.seedance.videos import VIDEOS
from workers.providers.transport import Phase, translate_transport_errors

TASKS = "/contents/generations/tasks"
PREFIXES = {"cometapi": "/volc/v3", "vendor": "/api/v3"}
# Ark's bounds on execution_expires_after (§2.1), and how much sooner than genrelay the upstream gives up.
MIN_EXPIRY_S, MAX_EXPIRY_S, EXPIRY_MARGIN_S = 3600, 259200, 60


class Seedance(ProviderPlugin):
    name = "seedance"
    title = "ByteDance Seedance"
    # Ark's shortest execution_expires_after (1 h) and a margin: the upstream gives a task up first.
    deadline_s = 3900.0
    poll_hint = PollHint(initial_s=10.0, factor=1.5, max_s=20.0)  # CometAPI: every 10-20 s (§2.7)
    queue_group = "video"
    operations = {
        "text2video": SeedanceText2VideoInput,
        "image2video": SeedanceImage2VideoInput,
        "reference2video": SeedanceReference2VideoInput,
    }
    status_map = wire.STATUS_MAP
    sends_callbacks = True
    # Ark echoes no id of ours, so a lost submit answer cannot be looked up: the job keeps its hold until
    # its deadline (or until the task's first callback, to the job's own address, names it).
    finds_by_job_id = False
    supports_cancel = True  # DELETE, while the task is queued
    cancels_running = False
    compat = FAMILY
    simulation = SIMULATION
    videos = VIDEOS  # its models on the shared /v1/videos routes too

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        problem = model_problem(request.model, request.operation, request.input)
        if problem is not None:
            raise ProviderRejectedError("invalid_input", problem)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(
                tasks_url(channel), json=create_body(channel, request), headers=_auth(channel)
            )
        return wire.created_task_id(response)

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(f"{tasks_url(channel)}/{task.external_id}", headers=_auth(channel))
        return wire.read_query(response)

    def cancel(self, http: httpx.Client, channel: Channel, task: TaskRef) -> None:
        """DELETE a task that is still queued. Ark refuses a running one, and deletes the record (and the
        video) of a finished one: so the task is looked at first, and only a queued one is deleted."""
        found = self.poll(http, channel, task)
        if found.status is UpstreamStatus.CANCELLED:
            return
        if found.status is UpstreamStatus.UNKNOWN:
            raise ProviderUnavailableError("seedance: the task is not visible yet, so not known to be queued")
        if found.status is not UpstreamStatus.PENDING:
            raise ProviderRejectedError(
                "cancel_refused",
                f"the task is {found.raw_status}: Seedance stops a task only while it is queued",
            )
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.delete(f"{tasks_url(channel)}/{task.external_id}", headers=_auth(channel))
        wire.cancel_answer(response)

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        return wire.parse_callback(body)


def tasks_url(channel: Channel) -> str:
    """The task route of the channel's flavour (a base URL given with the prefix already is taken as is)."""
    prefix = PREFIXES["vendor" if channel.mode == "vendor" else "cometapi"]
    return f"{channel.base_url.rstrip('/').removesuffix(prefix)}{prefix}{TASKS}"


def channel_model(channel: Channel, model: str) -> str:
    """The model's id as the channel writes it: CometAPI and Volcengine `doubao-seedance-…`, BytePlus
    `seedance-…`; any other id (an Ark endpoint `ep-…`) goes as it is."""
    name = family(model)
    if not name.startswith("seedance-"):
        return model
    byteplus = channel.mode == "vendor" and "byteplus" in (urlparse(channel.base_url).hostname or "")
    return name if byteplus else f"{CN_PREFIX}{name}"


def create_body(channel: Channel, request: SubmitRequest, now: datetime | None = None) -> dict[str, Any]:
    """Ark's create body: `content[]`, then the output parameters as top-level fields (never as --flags)."""
    job_input = request.input
    body: dict[str, Any] = {
        "model": channel_model(channel, request.model),
        "content": content_items(job_input),
        **{name: job_input[name] for name in PARAMS if job_input.get(name) is not None},
    }
    body.setdefault("resolution", DEFAULT_RESOLUTION)
    expires = expires_after(job_input.get("execution_expires_after"), request.deadline_at, now)
    if expires is not None:
        body["execution_expires_after"] = expires
    if request.callback_url:
        body["callback_url"] = request.callback_url
    return body


def expires_after(
    requested: int | None, deadline_at: datetime | None, now: datetime | None = None
) -> int | None:
    """The task's execution_expires_after: the client's, or Ark's longest, no later than shortly before
    genrelay gives the job up, so the upstream never runs (and bills) a task we no longer wait for;
    within Ark's bounds, so a job submitted late may still outlive its deadline upstream by a little."""
    if deadline_at is None:
        return requested
    left = int((deadline_at - (now or datetime.now(UTC))).total_seconds()) - EXPIRY_MARGIN_S
    return max(MIN_EXPIRY_S, min(requested or MAX_EXPIRY_S, left, MAX_EXPIRY_S))


def _auth(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.api_key}"}
