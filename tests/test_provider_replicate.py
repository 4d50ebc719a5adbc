"""Replicate: the adapter against the simulator over real HTTP (the official-model and version creates,
statuses, the three output shapes, Cancel-After, cancel, retention, refusals, signed and filtered
webhooks), the body and headers it sends, the job input and the prices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Response
from pydantic import ValidationError
from replicate.webhook import Webhooks, WebhookSigningSecret

from orchestrator.errors import UnpricedModelError
from orchestrator.pricing import load_price_table
from tests import services
from tests.receivers import running_receiver
from workers.providers import PROVIDERS
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.replicate import Replicate
from workers.providers.replicate.adapter import base, cancel_after, create_body
from workers.providers.replicate.catalog import SDXL_VERSION, model_of_version
from workers.providers.replicate.schemas import ReplicatePredictInput
from workers.providers.replicate.simulated import prediction_id, task_id_of, webhook_secret
from workers.simulator import Outcome, Refusal, Simulator, SubmitFault

SCHNELL, PRO_11, LLAMA, VIDEO = (
    "black-forest-labs/flux-schnell",
    "black-forest-labs/flux-1.1-pro",
    "meta/meta-llama-3-8b-instruct",
    "minimax/video-01",
)
PROMPT = {"prompt": "a paper boat on a lake at dawn"}
# Every status Replicate documents (§4.3), and what each means to genrelay.
DOCUMENTED = {
    "starting": UpstreamStatus.PENDING,
    "processing": UpstreamStatus.RUNNING,
    "succeeded": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
    "canceled": UpstreamStatus.CANCELLED,
    "aborted": UpstreamStatus.EXPIRED,
}


@pytest.fixture
def channel(simulator: Simulator, simulator_url: str) -> Channel:
    return Channel("replicate-sim", simulator_url, api_key=simulator.config.api_key, mode="vendor")


@pytest.fixture
def raw(simulator: Simulator, simulator_url: str) -> Iterator[httpx.Client]:
    """A client speaking Replicate's wire format directly, with the simulator's key."""
    auth = {"Authorization": f"Bearer {simulator.config.api_key}"}
    with httpx.Client(base_url=simulator_url, headers=auth, timeout=10) as client:
        yield client


def request(model: str = SCHNELL, callback_url: str | None = None, **inputs: Any) -> SubmitRequest:
    return SubmitRequest("job-1", "predict", model, {"input": {**PROMPT, **inputs}}, callback_url)


def ref(prediction: str) -> TaskRef:
    return TaskRef("job-1", "predict", prediction)


def read(body: dict[str, Any]) -> ProviderUpdate:
    return Replicate().parse_callback(json.dumps(body).encode())


def poll_until_ended(http: httpx.Client, channel: Channel, task: TaskRef) -> list[ProviderUpdate]:
    """Every update whose raw status differs from the one before, until one ends."""
    seen: list[ProviderUpdate] = []

    def finished() -> bool:
        update = Replicate().poll(http, channel, task)
        if not seen or seen[-1].raw_status != update.raw_status:
            seen.append(update)
        return update.status not in (UpstreamStatus.UNKNOWN, UpstreamStatus.PENDING, UpstreamStatus.RUNNING)

    services.wait_until(finished, timeout=15, interval=0.01)
    return seen


# --- pure -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw_status", "meaning"), DOCUMENTED.items())
def test_replicate_every_documented_status_is_mapped(raw_status: str, meaning: UpstreamStatus) -> None:
    assert Replicate.status_map[raw_status] is meaning
    assert read({"id": "p1", "status": raw_status, "output": "https://x.test/a.png"}).status is meaning


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("NSFW content detected. Try running it again, or try a different prompt.", "moderation_blocked"),
        ("The output was flagged by the safety checker", "moderation_blocked"),
        ("Prediction failed: CUDA out of memory.", "upstream_failed"),
        (None, "upstream_failed"),
    ],
)
def test_replicate_a_failure_is_moderation_only_when_it_says_so(error: str | None, code: str) -> None:
    update = read({"id": "p1", "status": "failed", "error": error})
    assert (update.status, update.error_code) == (UpstreamStatus.FAILED, code)
    assert update.error_message


def test_replicate_outputs_in_their_three_shapes() -> None:
    one = read({"id": "p1", "status": "succeeded", "output": "https://x.test/out.webp"})
    assert [(o.url, o.label, o.content_type) for o in one.outputs] == [
        ("https://x.test/out.webp", "output", "image/webp")
    ]
    assert one.result == {"output_kind": "file"}
    many = read(
        {"id": "p1", "status": "succeeded", "output": ["https://x.test/0.png", "https://x.test/1.png"]}
    )
    assert [o.label for o in many.outputs] == ["output-0", "output-1"]
    assert many.result == {"output_kind": "files"}
    text = read({"id": "p1", "status": "succeeded", "output": ["Hello", " world"]})
    assert text.result == {"output_kind": "json", "output": ["Hello", " world"]}
    (stored,) = text.outputs
    assert (stored.label, stored.resolve, stored.authenticated) == ("output.json", True, True)
    channel = Channel("c", "https://api.replicate.com", "r8_key", mode="vendor")
    resolved = Replicate().resolve_output(httpx.Client(), channel, stored)
    assert resolved.url == "https://api.replicate.com/v1/predictions/p1"
    assert Replicate().download_headers(channel) == {"Authorization": "Bearer r8_key"}


def test_replicate_output_removed_before_it_was_copied_fails_the_job() -> None:
    update = read({"id": "p1", "status": "succeeded", "output": None, "data_removed": True})
    assert (update.status, update.error_code) == (UpstreamStatus.FAILED, "upstream_output_expired")


def test_replicate_progress_comes_from_tqdm_logs_and_bad_bodies_are_refused() -> None:
    update = read({"id": "p1", "status": "processing", "logs": "seed\n 40%|████| 2/5\n 60%|██████| 3/5\n"})
    assert (update.status, update.progress) == (UpstreamStatus.RUNNING, 60)
    assert read({"data": {"id": "p1", "status": "starting"}}).external_id == "p1"  # a gateway's wrapper
    assert read({"id": "p1", "status": "queued_somehow"}).status is UpstreamStatus.UNKNOWN
    with pytest.raises(InvalidCallbackError):
        Replicate().parse_callback(b"not json")
    with pytest.raises(InvalidCallbackError):
        Replicate().parse_callback(b'{"id": "p1"}')


def test_replicate_body_headers_and_channel_paths() -> None:
    deadline = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert cancel_after(deadline, deadline - timedelta(minutes=30)) == {"Cancel-After": "1740s"}
    assert cancel_after(deadline, deadline) == {"Cancel-After": "5s"}  # never below Replicate's least
    assert cancel_after(None) == {}
    assert create_body(request(callback_url="https://genrelay.test/callbacks/replicate/t")) == {
        "input": PROMPT,
        "webhook": "https://genrelay.test/callbacks/replicate/t",
        "webhook_events_filter": ["completed"],
    }
    assert create_body(request()) == {"input": PROMPT}
    assert base(Channel("c", "https://api.cometapi.com", "k")) == "https://api.cometapi.com/replicate"
    assert (
        base(Channel("c", "https://api.cometapi.com/replicate/", "k")) == "https://api.cometapi.com/replicate"
    )
    assert base(Channel("c", "https://api.replicate.com", "k", mode="vendor")) == "https://api.replicate.com"


def test_replicate_versions_name_known_models_only() -> None:
    assert model_of_version(SDXL_VERSION) == "stability-ai/sdxl"
    assert model_of_version(f"stability-ai/sdxl:{SDXL_VERSION}") == "stability-ai/sdxl"
    assert model_of_version(f"someone/else:{SDXL_VERSION}") is None
    assert model_of_version("0" * 64) is None
    assert task_id_of(prediction_id("123456789012345678")) == "123456789012345678"
    assert len(prediction_id("123456789012345678")) == 26


def test_replicate_input_is_a_bounded_object_with_a_counted_number_of_images() -> None:
    parsed = ReplicatePredictInput.model_validate({"input": {**PROMPT, "num_outputs": 3}})
    assert parsed.num_outputs == 3
    assert ReplicatePredictInput.model_validate({"input": PROMPT}).num_outputs == 1
    for bad in (
        {"input": "a prompt"},
        {"input": {"prompt": "x" * 70_000}},
        {"input": {"num_outputs": 9}},
        {"input": PROMPT, "webhook_events_filter": ["finished"]},
        {"input": PROMPT, "version": SDXL_VERSION},
    ):
        with pytest.raises(ValidationError):
            ReplicatePredictInput.model_validate(bad)


def test_replicate_prices_per_image_or_per_prediction_and_refuses_other_models() -> None:
    prices = load_price_table()
    assert prices.list_price("replicate", "predict", SCHNELL, {"num_outputs": 4}) == 12_000
    assert prices.list_price("replicate", "predict", PRO_11, {"num_outputs": 1}) == 40_000
    assert prices.list_price("replicate", "predict", VIDEO, {"num_outputs": 1}) == 500_000
    with pytest.raises(UnpricedModelError, match=r"offered: .*black-forest-labs/flux-schnell"):
        prices.list_price("replicate", "predict", "someone/unknown-model", {})


# --- against the simulator ------------------------------------------------------------------------------


def test_replicate_submit_and_poll_a_list_of_images(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.2, processing_s=0.3)])
    sent: list[httpx.Request] = []
    http.event_hooks["request"] = [sent.append]
    deadline = datetime.now(UTC) + timedelta(hours=1)
    prediction = Replicate().submit(http, channel, _with_deadline(request(num_outputs=2), deadline))
    assert len(prediction) == 26
    create = sent[0]
    assert create.url.path == f"/v1/models/{SCHNELL}/predictions"
    assert "prefer" not in create.headers  # a worker never holds the upstream's request open
    assert create.headers["cancel-after"].endswith("s")
    assert 3400 < int(create.headers["cancel-after"][:-1]) <= 3540
    updates = poll_until_ended(http, channel, ref(prediction))
    assert [u.raw_status for u in updates] == ["not_found", "starting", "processing", "succeeded"]
    done = updates[-1]
    assert [o.label for o in done.outputs] == ["output-0", "output-1"]
    assert all(http.get(o.url).content.startswith(b"\x89PNG") for o in done.outputs)


def _with_deadline(submit: SubmitRequest, deadline: datetime) -> SubmitRequest:
    return SubmitRequest(submit.job_id, submit.operation, submit.model, submit.input, deadline_at=deadline)


def test_replicate_a_versioned_model_is_created_by_version(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=0.1)])
    sent: list[httpx.Request] = []
    http.event_hooks["request"] = [sent.append]
    prediction = Replicate().submit(http, channel, request("stability-ai/sdxl"))
    assert sent[0].url.path == "/v1/predictions"
    assert json.loads(sent[0].content) == {"version": SDXL_VERSION, "input": PROMPT}
    done = poll_until_ended(http, channel, ref(prediction))[-1]
    assert done.status is UpstreamStatus.SUCCEEDED


def test_replicate_one_file_and_a_growing_text_output(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=0.2)])
    video = Replicate().submit(http, channel, request(VIDEO))
    done = poll_until_ended(http, channel, ref(video))[-1]
    assert [(o.label, o.content_type) for o in done.outputs] == [("output", "video/mp4")]
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=1.0)])
    text = Replicate().submit(http, channel, request(LLAMA))
    lengths: list[int] = []

    def grown() -> bool:
        body = http.get(f"{channel.base_url}/v1/predictions/{text}", headers=_auth(channel)).json()
        if body.get("output"):
            lengths.append(len(body["output"]))
        return bool(body["status"] == "succeeded")

    services.wait_until(grown, timeout=10, interval=0.02)
    assert lengths == sorted(lengths)
    assert lengths[0] < lengths[-1]  # the list grew while it ran
    done = Replicate().poll(http, channel, ref(text))
    assert done.result is not None
    assert done.result["output_kind"] == "json"
    (stored,) = done.outputs
    resolved = Replicate().resolve_output(http, channel, stored)
    fetched = http.get(resolved.url, headers=dict(Replicate().download_headers(channel)))
    assert fetched.json()["output"] == done.result["output"]


def _auth(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.api_key}"}


@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_replicate_failures(
    simulator: Simulator, http: httpx.Client, channel: Channel, fate: Any, code: str
) -> None:
    simulator.script("replicate", [Outcome(result=fate, submitted_s=0.0, processing_s=0.1)])
    prediction = Replicate().submit(http, channel, request())
    done = poll_until_ended(http, channel, ref(prediction))[-1]
    assert (done.status, done.error_code) == (UpstreamStatus.FAILED, code)


@pytest.mark.parametrize("submitted_s", [0.0, 30.0])
def test_replicate_cancel_stops_a_starting_or_processing_prediction(
    simulator: Simulator, http: httpx.Client, channel: Channel, submitted_s: float
) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=submitted_s, held=True)])
    prediction = Replicate().submit(http, channel, request())
    Replicate().cancel(http, channel, ref(prediction))
    done = poll_until_ended(http, channel, ref(prediction))[-1]
    assert (done.status, done.raw_status) == (UpstreamStatus.CANCELLED, "canceled")
    Replicate().cancel(http, channel, ref(prediction))  # an ended one: nothing to do
    Replicate().cancel(http, channel, ref("0" * 26))  # an unknown one: nothing to stop


@pytest.mark.parametrize(("submitted_s", "raw_status"), [(30.0, "aborted"), (0.0, "canceled")])
def test_replicate_cancel_after_aborts_a_waiting_prediction_and_cancels_a_running_one(
    simulator: Simulator, raw: httpx.Client, channel: Channel, submitted_s: float, raw_status: str
) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=submitted_s, held=True)])
    created = raw.post(
        f"/v1/models/{SCHNELL}/predictions", json={"input": PROMPT}, headers={"Cancel-After": "1s"}
    )
    assert created.status_code == 201
    prediction = created.json()["id"]

    def status() -> str:
        return str(raw.get(f"/v1/predictions/{prediction}").json().get("status"))

    services.wait_until(lambda: status() == raw_status, timeout=10, interval=0.05)
    meaning = Replicate.status_map[raw_status]
    assert Replicate().poll(raw, channel, ref(prediction)).status is meaning


def test_replicate_cancel_after_of_a_forgotten_prediction_spares_the_one_that_took_its_id(
    simulator: Simulator, raw: httpx.Client
) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, held=True)])
    headers = {"Cancel-After": "1s"}
    forgotten = raw.post(f"/v1/models/{SCHNELL}/predictions", json={"input": PROMPT}, headers=headers)
    simulator.configure(seed=simulator.config.seed)  # the same random stream again: the same ids
    simulator.reset()
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=2.5)])
    created = raw.post(f"/v1/models/{SCHNELL}/predictions", json={"input": PROMPT})
    prediction = created.json()["id"]
    assert prediction == forgotten.json()["id"]

    def status() -> str:
        return str(raw.get(f"/v1/predictions/{prediction}").json()["status"])

    # A new prediction's first read may be a 404 (`not_found_polls`), then it starts and runs.
    waiting = ("404", "starting", "processing")
    ended = services.wait_until(lambda: (s := status()) not in waiting and s, timeout=10)
    assert ended == "succeeded"  # the forgotten prediction's deadline is not this one's


def test_replicate_prefer_wait_holds_the_upstream_create(simulator: Simulator, raw: httpx.Client) -> None:
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=0.3)])
    done = raw.post(f"/v1/models/{PRO_11}/predictions", json={"input": PROMPT}, headers={"Prefer": "wait=30"})
    assert (done.json()["status"], done.json()["output"].split("?")[0][-4:]) == ("succeeded", ".png")
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, held=True)])
    waited = raw.post(
        f"/v1/models/{PRO_11}/predictions", json={"input": PROMPT}, headers={"Prefer": "wait=1"}
    )
    assert (waited.json()["status"], waited.json()["output"]) == ("processing", None)


def test_replicate_output_is_removed_after_the_retention_window(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.configure(url_ttl_s=-1.0)
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=0.1)])
    prediction = Replicate().submit(http, channel, request(PRO_11))
    done = poll_until_ended(http, channel, ref(prediction))[-1]
    assert (done.status, done.error_code) == (UpstreamStatus.FAILED, "upstream_output_expired")
    body = http.get(f"{channel.base_url}/v1/predictions/{prediction}", headers=_auth(channel)).json()
    assert (body["data_removed"], body["output"], body["input"]) == (True, None, {})


@pytest.mark.parametrize(
    ("fault", "error", "reason"),
    [
        (SubmitFault.RATE_LIMITED, ProviderUnavailableError, None),
        (SubmitFault.UNAVAILABLE, ProviderUnavailableError, None),
        (SubmitFault.REJECTED, ProviderRejectedError, "invalid_input"),
    ],
)
def test_replicate_refusals_in_rfc7807_problems(
    simulator: Simulator,
    http: httpx.Client,
    channel: Channel,
    fault: SubmitFault,
    error: type[Exception],
    reason: str | None,
) -> None:
    simulator.refuse("replicate", [Refusal(fault=fault)])
    with pytest.raises(error) as raised:
        Replicate().submit(http, channel, request())
    if reason is not None:
        assert getattr(raised.value, "code", None) == reason


def test_replicate_refused_keys_models_and_lost_answers(
    simulator: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    wrong = Channel("c", channel.base_url, "r8_wrong", mode="vendor")
    with pytest.raises(ProviderRejectedError, match="authentication token") as raised:
        Replicate().submit(http, wrong, request())
    assert raised.value.code == "upstream_auth"
    with pytest.raises(ProviderRejectedError) as unknown:
        Replicate().submit(http, channel, request("someone/unknown"))
    assert unknown.value.code == "unknown_model"
    throttled = raw.post("/v1/predictions", json={"version": "0" * 64, "input": PROMPT})
    assert set(throttled.json()) == {"title", "status", "detail"}
    simulator.configure(read_timeout_rate=1.0, stall_s=3.0)
    with httpx.Client(timeout=0.5) as impatient, pytest.raises(SubmitOutcomeUnknownError):
        Replicate().submit(impatient, channel, request())
    assert not Replicate.finds_by_job_id  # a lost answer keeps the job to its deadline, never resent


def test_replicate_webhooks_are_signed_and_honour_the_filter(
    simulator: Simulator, http: httpx.Client, raw: httpx.Client
) -> None:
    secret = raw.get("/v1/webhooks/default/secret").json()["key"]
    assert secret == webhook_secret(simulator)
    assert secret.startswith("whsec_")
    with running_receiver() as receiver:
        simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.1, processing_s=0.1)] * 2)
        for events in (["completed"], ["start", "completed"]):
            raw.post(
                f"/v1/models/{SCHNELL}/predictions",
                json={"input": PROMPT, "webhook": receiver.url, "webhook_events_filter": events},
            )
        services.wait_until(lambda: len(receiver.received) == 3, timeout=10)
        verifier = Webhooks(client=None)  # type: ignore[arg-type]
        statuses = []
        for received in receiver.received:
            key = WebhookSigningSecret(key=secret)
            verifier.validate(
                headers=received.headers, body=received.body.decode(), secret=key
            )  # raises if bad
            statuses.append(json.loads(received.body)["status"])
        assert sorted(statuses) == ["processing", "succeeded", "succeeded"]
        assert read(json.loads(receiver.received[-1].body)).status is UpstreamStatus.SUCCEEDED


def test_replicate_is_registered_with_its_declarations() -> None:
    provider = PROVIDERS["replicate"]
    assert (provider.title, provider.supports_cancel, provider.cancels_running) == ("Replicate", True, True)
    assert provider.sends_callbacks
    assert provider.compat is not None
    assert provider.simulation is not None


def test_replicate_a_webhook_not_taken_is_sent_again_with_its_id(
    simulator: Simulator, raw: httpx.Client
) -> None:
    with running_receiver() as receiver:
        receiver.script(Response("not now", status_code=500))
        simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.0, processing_s=0.1)])
        raw.post(
            f"/v1/models/{SCHNELL}/predictions",
            json={"input": PROMPT, "webhook": receiver.url, "webhook_events_filter": ["completed"]},
        )
        first, second = services.wait_until(lambda: len(receiver.received) == 2 and list(receiver.received))
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert simulator.stats()["replicate"].callbacks_failed == 1
