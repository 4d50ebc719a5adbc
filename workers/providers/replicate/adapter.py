"""Replicate: predictions of the models `catalog` offers, created on the official-model route
(`POST /v1/models/{owner}/{name}/predictions`) or, for a model that runs by version, `POST /v1/predictions`;
followed by `GET /v1/predictions/{id}` and the prediction webhook; cancelled by `POST …/cancel`. The same
paths under CometAPI's `/replicate` prefix; a bearer key on both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from workers.providers.base import (
    Channel,
    OutputRef,
    PollHint,
    ProviderPlugin,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
)
from workers.providers.errors import ProviderRejectedError
from workers.providers.replicate import wire
from workers.providers.replicate.catalog import MODELS
from workers.providers.replicate.routes import FAMILY
from workers.providers.replicate.schemas import ReplicatePredictInput
from workers.providers.replicate.simulation import SIMULATION
from workers.providers.transport import Phase, translate_transport_errors

PREFIXES = {"cometapi": "/replicate", "vendor": ""}
# Replicate's shortest `Cancel-After` [M: 5 s assumed], and how much sooner than genrelay it gives up.
MIN_CANCEL_AFTER_S, CANCEL_MARGIN_S = 5, 60


class Replicate(ProviderPlugin):
    name = "replicate"
    title = "Replicate"
    operations = {"predict": ReplicatePredictInput}
    status_map = wire.STATUS_MAP
    # Images take seconds, videos minutes (§4.8); a cold boot adds more while `starting`.
    deadline_s = 1800.0
    poll_hint = PollHint(initial_s=2.0, factor=1.5, max_s=15.0)
    queue_group = "image-music"
    sends_callbacks = True
    # Replicate echoes no id of ours, and its list shows no webhook URL we could match [M]: a lost create
    # answer keeps the job's hold until its deadline (or until the prediction's first webhook, to the
    # job's own address, names it). Never sent again.
    finds_by_job_id = False
    supports_cancel = True  # starting and processing predictions alike
    compat = FAMILY
    simulation = SIMULATION

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        offer = MODELS.get(request.model)
        if offer is None:
            raise ProviderRejectedError(
                "unknown_model", f"genrelay does not offer {request.model} on Replicate"
            )
        body = create_body(request)
        if offer.version is not None:
            url, body = f"{base(channel)}/v1/predictions", {"version": offer.version, **body}
        else:
            url = f"{base(channel)}/v1/models/{request.model}/predictions"
        # Never `Prefer: wait`: a worker does not hold a request open while the model runs.
        headers = _auth(channel) | cancel_after(request.deadline_at)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(url, json=body, headers=headers)
        return wire.created_id(response)

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(prediction_url(channel, task.external_id), headers=_auth(channel))
        return wire.read_query(response)

    def cancel(self, http: httpx.Client, channel: Channel, task: TaskRef) -> None:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.post(
                f"{prediction_url(channel, task.external_id)}/cancel", headers=_auth(channel)
            )
        wire.cancel_answer(response)

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        return wire.parse_callback(body)

    def download_headers(self, channel: Channel) -> dict[str, str]:
        return _auth(channel)  # only a JSON output (the prediction object) is fetched authenticated

    def resolve_output(self, http: httpx.Client, channel: Channel, output: OutputRef) -> OutputRef:
        """A JSON output is stored as the prediction object, fetched from its GET route."""
        prediction_id = output.url.removeprefix(wire.JSON_OUTPUT)
        url = prediction_url(channel, prediction_id)
        return OutputRef(url, output.content_type, output.label, authenticated=True)


def base(channel: Channel) -> str:
    """The channel's root for `/v1/...` (a base URL given with CometAPI's prefix already is taken as is)."""
    prefix = PREFIXES["vendor" if channel.mode == "vendor" else "cometapi"]
    return f"{channel.base_url.rstrip('/').removesuffix(prefix)}{prefix}"


def prediction_url(channel: Channel, prediction_id: str) -> str:
    return f"{base(channel)}/v1/predictions/{prediction_id}"


def create_body(request: SubmitRequest) -> dict[str, Any]:
    """The model's inputs, and our callback as the webhook, told only of the end (polls see the rest)."""
    body: dict[str, Any] = {"input": dict(request.input.get("input") or {})}
    if request.callback_url:
        body |= {"webhook": request.callback_url, "webhook_events_filter": ["completed"]}
    return body


def cancel_after(deadline_at: datetime | None, now: datetime | None = None) -> dict[str, str]:
    """`Cancel-After` shortly before genrelay gives the job up, so Replicate never runs (and bills) a
    prediction nobody waits for; a prediction not started by then is `aborted`, unbilled (§4.1)."""
    if deadline_at is None:
        return {}
    left = int((deadline_at - (now or datetime.now(UTC))).total_seconds()) - CANCEL_MARGIN_S
    return {"Cancel-After": f"{max(MIN_CANCEL_AFTER_S, left)}s"}


def _auth(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.api_key}"}
