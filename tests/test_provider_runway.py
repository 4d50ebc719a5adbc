"""Runway (official format): the adapter against the simulator over real HTTP, the simulator's wire
shapes (version header, THROTTLED overflow, new-api envelope, cancel, expiring links), and the input."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.services import wait_until
from workers.providers import PROVIDERS
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.runway.adapter import Runway
from workers.providers.runway.schemas import RUNWAY_VERSION, RunwayImageToVideoInput, RunwayTextToImageInput
from workers.providers.runway.simulation import RunwaySettings, state_for
from workers.providers.runway.wire import percent, read_update
from workers.simulator import Outcome, Simulator

I2V = "image_to_video"
T2I = "text_to_image"
IMAGE = "https://example.com/lighthouse.png"


@pytest.fixture
def runway(simulator: Simulator) -> Iterator[Simulator]:
    """The shared simulator, with Runway's own knobs back at their defaults afterwards."""
    yield simulator
    state_for(simulator).configure(**RunwaySettings().model_dump())


@pytest.fixture
def channel(runway: Simulator, simulator_url: str) -> Channel:
    return Channel("runway-sim", simulator_url, api_key=runway.config.api_key)


@pytest.fixture
def raw(runway: Simulator, simulator_url: str) -> Iterator[httpx.Client]:
    """A client speaking the wire format directly, with the key and version header."""
    headers = {"Authorization": f"Bearer {runway.config.api_key}", "X-Runway-Version": RUNWAY_VERSION}
    with httpx.Client(base_url=simulator_url, headers=headers, timeout=5) as client:
        yield client


def video(**fields: Any) -> SubmitRequest:
    return SubmitRequest("job-1", I2V, "gen4_turbo", {"promptImage": IMAGE, **fields})


def ref(task_id: str, operation: str = I2V) -> TaskRef:
    return TaskRef("job-1", operation, task_id)


def poll_until(
    http: httpx.Client, channel: Channel, task: TaskRef, done: Callable[[ProviderUpdate], bool]
) -> list[ProviderUpdate]:
    """Every update whose raw status differs from the one before, until `done` holds for one."""
    seen: list[ProviderUpdate] = []

    def finished() -> bool:
        update = Runway().poll(http, channel, task)
        if not seen or seen[-1].raw_status != update.raw_status:
            seen.append(update)
        return done(update)

    wait_until(finished)
    return seen


def ended(update: ProviderUpdate) -> bool:
    return update.status in (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED)


# --- the simulator's wire format ---------------------------------------------------------------


def test_runway_create_requires_the_version_header(runway: Simulator, raw: httpx.Client) -> None:
    body = {"model": "gen4_turbo", "promptImage": IMAGE}
    missing = raw.post("/runwayml/v1/image_to_video", json=body, headers={"X-Runway-Version": ""})
    raw.headers.pop("X-Runway-Version")
    absent = raw.post("/runwayml/v1/image_to_video", json=body)
    wrong = raw.post("/runwayml/v1/image_to_video", json=body, headers={"X-Runway-Version": "2024-09-13"})
    for response in (missing, absent, wrong):
        assert response.status_code == 400
        assert set(response.json()) == {"error"}
        assert "X-Runway-Version" in response.json()["error"]
    assert runway.stats()["runway"].creates == 0
    assert runway.stats()["runway"].rejected == {"bad_version": 3}

    created = raw.post("/runwayml/v1/image_to_video", json=body, headers={"X-Runway-Version": RUNWAY_VERSION})
    assert created.status_code == 200
    assert set(created.json()) == {"id"}
    uuid.UUID(created.json()["id"])
    assert raw.get(f"/runwayml/v1/tasks/{created.json()['id']}").status_code == 404  # task_not_exist
    assert raw.get(f"/runwayml/v1/tasks/{created.json()['id']}").status_code == 200  # query needs no version


def test_runway_repeated_header_counts_its_first_value(
    runway: Simulator, http: httpx.Client, simulator_url: str
) -> None:
    url, key = f"{simulator_url}/v1/image_to_video", f"Bearer {runway.config.api_key}"
    body = {"model": "gen4_turbo", "promptImage": IMAGE}
    version = [("X-Runway-Version", RUNWAY_VERSION)]
    first_right = [("Authorization", key), ("Authorization", "Bearer wrong"), *version]
    first_wrong = [("Authorization", "Bearer wrong"), ("Authorization", key), *version]
    late_version = [("Authorization", key), ("X-Runway-Version", "2024-09-13"), *version]
    assert http.post(url, json=body, headers=first_right).status_code == 200
    assert http.post(url, json=body, headers=first_wrong).status_code == 401
    assert http.post(url, json=body, headers=late_version).status_code == 400
    assert runway.stats()["runway"].rejected == {"unauthorized": 1, "bad_version": 1}


def test_runway_task_moves_pending_running_succeeded(runway: Simulator, raw: httpx.Client) -> None:
    runway.configure(not_found_polls=0)
    runway.script("runway", [Outcome(result="succeed", submitted_s=0.1, processing_s=0.5)])
    task_id = raw.post(
        "/runwayml/v1/image_to_video", json={"model": "gen4_turbo", "promptImage": IMAGE}
    ).json()["id"]
    seen: list[dict[str, Any]] = []

    def succeeded() -> bool:
        body = raw.get(f"/runwayml/v1/tasks/{task_id}").json()
        seen.append(body)
        return body["status"] == "SUCCEEDED"

    wait_until(succeeded)
    statuses = [body["status"] for body in seen]
    assert statuses == sorted(statuses, key=["PENDING", "RUNNING", "SUCCEEDED"].index)
    assert {"PENDING", "RUNNING", "SUCCEEDED"} == set(statuses)
    progress = [body["progress"] for body in seen if body["status"] == "RUNNING"]
    assert all(0 <= p < 1 for p in progress)
    assert progress == sorted(progress)
    assert all("progress" not in body for body in seen if body["status"] != "RUNNING")
    final = seen[-1]
    assert final["id"] == task_id
    assert datetime.fromisoformat(final["createdAt"]).tzinfo is not None
    (url,) = final["output"]
    download = httpx.get(url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"


def test_runway_overflow_goes_throttled_then_runs(
    runway: Simulator, raw: httpx.Client, simulator_url: str
) -> None:
    runway.configure(not_found_polls=0)
    assert (
        httpx.post(f"{simulator_url}/_sim/runway/config", json={"concurrency": 2}).json()["concurrency"] == 2
    )
    runway.script("runway", [Outcome(result="succeed", submitted_s=0.2, processing_s=0.3)] * 4)
    body = {"model": "gen4_turbo", "promptImage": IMAGE}
    created = [raw.post("/runwayml/v1/image_to_video", json=body) for _ in range(4)]
    assert [response.status_code for response in created] == [200] * 4  # overflow is never a 429
    task_ids = [response.json()["id"] for response in created]
    history: dict[str, list[str]] = {task_id: [] for task_id in task_ids}
    most_active = 0

    def all_done() -> bool:
        nonlocal most_active
        for task_id in task_ids:
            status = raw.get(f"/runwayml/v1/tasks/{task_id}").json()["status"]
            if not history[task_id] or history[task_id][-1] != status:
                history[task_id].append(status)
        most_active = max(most_active, httpx.get(f"{simulator_url}/_sim/runway/config").json()["active_now"])
        return all(h[-1] == "SUCCEEDED" for h in history.values())

    wait_until(all_done)
    assert [history[t][0] for t in task_ids] == ["PENDING", "PENDING", "THROTTLED", "THROTTLED"]
    # Each status is seen in Runway's order (polls may fall between two short phases, never reorder them).
    order = ["THROTTLED", "PENDING", "RUNNING", "SUCCEEDED"]
    for task_id in task_ids[2:]:
        seen = history[task_id]
        assert (seen[0], seen[-1]) == ("THROTTLED", "SUCCEEDED")
        assert seen == sorted(seen, key=order.index)
    assert most_active <= 2


def test_runway_throttled_maps_to_pending_in_the_adapter(
    runway: Simulator, http: httpx.Client, channel: Channel
) -> None:
    runway.configure(not_found_polls=0)
    state_for(runway).configure(concurrency=1)
    runway.script("runway", [Outcome(result="succeed", processing_s=30.0), Outcome(result="succeed")])
    Runway().submit(http, channel, video())
    throttled = Runway().poll(http, channel, ref(Runway().submit(http, channel, video())))
    assert (throttled.status, throttled.raw_status, throttled.progress) == (
        UpstreamStatus.PENDING,
        "THROTTLED",
        0,
    )


def test_runway_reset_frees_the_org_slots(runway: Simulator, http: httpx.Client, channel: Channel) -> None:
    runway.configure(not_found_polls=0)
    state_for(runway).configure(concurrency=1)
    runway.script("runway", [Outcome(result="succeed", processing_s=30.0)])
    Runway().submit(http, channel, video())
    runway.reset()  # the long task is forgotten, and so is the slot it held
    runway.script("runway", [Outcome(result="succeed", submitted_s=30.0)])
    assert Runway().poll(http, channel, ref(Runway().submit(http, channel, video()))).raw_status == "PENDING"


def test_runway_wrapped_envelope_is_served_and_parsed(
    runway: Simulator, raw: httpx.Client, http: httpx.Client, channel: Channel
) -> None:
    runway.configure(not_found_polls=0)
    state_for(runway).configure(wrapped=True)
    runway.script("runway", [Outcome(result="succeed", submitted_s=30.0), Outcome(result="succeed")])
    queued_id = Runway().submit(http, channel, video())
    envelope = raw.get(f"/runwayml/v1/tasks/{queued_id}").json()
    assert (envelope["code"], envelope["message"]) == ("success", "")
    data = envelope["data"]
    assert (data["task_id"], data["action"], data["status"], data["progress"]) == (
        queued_id,
        "IMAGE_TO_VIDEO",
        "QUEUED",
        "0%",
    )
    assert data["submit_time"] < 10**11  # seconds, not ms
    assert data["data"]["status"] == "PENDING"
    assert Runway().poll(http, channel, ref(queued_id)).raw_status == "PENDING"  # the inner object wins

    done_id = Runway().submit(http, channel, video())
    done = poll_until(http, channel, ref(done_id), ended)[-1]
    assert done.status is UpstreamStatus.SUCCEEDED
    assert done.external_id == done_id
    assert [o.label for o in done.outputs] == ["video-0"]
    assert raw.get(f"/runwayml/v1/tasks/{done_id}").json()["data"]["status"] == "SUCCESS"
    assert raw.get(f"/v1/tasks/{done_id}").json()["status"] == "SUCCEEDED"  # the vendor host never wraps


def test_runway_envelope_without_the_inner_object() -> None:
    def envelope(**data: Any) -> dict[str, Any]:
        return {
            "code": "success",
            "message": "",
            "data": {"task_id": "t-1", "action": "IMAGE_TO_VIDEO", **data},
        }

    queued = read_update(envelope(status="QUEUED", progress="0%", data=None), I2V)
    assert (queued.status, queued.progress, queued.external_id) == (UpstreamStatus.PENDING, 0, "t-1")
    running = read_update(envelope(status="IN_PROGRESS", progress="30%", data={}), I2V)
    assert (running.status, running.progress) == (UpstreamStatus.RUNNING, 30)
    failed = read_update(envelope(status="FAILURE", fail_reason="content flagged by safety filter"), I2V)
    assert (failed.status, failed.error_code) == (UpstreamStatus.FAILED, "moderation_blocked")
    assert failed.error_message == "content flagged by safety filter"
    parked = read_update(envelope(status="SUCCESS", fail_reason="https://cdn.example/v.mp4"), I2V)
    assert [o.url for o in parked.outputs] == ["https://cdn.example/v.mp4"]
    # A success that names no file keeps the job waiting for a fuller answer.
    assert read_update(envelope(status="SUCCESS", data="{}"), I2V).status is UpstreamStatus.UNKNOWN
    with pytest.raises(ValueError, match="no task"):
        read_update({"code": "error", "message": "boom"}, I2V)


def test_runway_unknown_status_keeps_waiting() -> None:
    update = read_update({"id": "t-1", "status": "ARCHIVED", "createdAt": "2026-01-01T00:00:00Z"}, I2V)
    assert (update.status, update.raw_status) == (UpstreamStatus.UNKNOWN, "ARCHIVED")
    assert read_update(envelope_of("SOMETHING_NEW"), I2V).status is UpstreamStatus.UNKNOWN


def envelope_of(status: str) -> dict[str, Any]:
    return {"code": "success", "data": {"task_id": "t-1", "status": status}}


def test_runway_progress_forms() -> None:
    assert [percent(v) for v in (0.0, 0.42, 1.0, "0.5", "30%", "100%", 55, None, "?")] == [
        0,
        42,
        100,
        50,
        30,
        100,
        55,
        None,
        None,
    ]


# --- the adapter against the simulator ---------------------------------------------------------


def test_runway_adapter_submit_poll_download(runway: Simulator, http: httpx.Client, channel: Channel) -> None:
    runway.script("runway", [Outcome(result="succeed", submitted_s=0.2, processing_s=0.3)])
    task_id = Runway().submit(http, channel, video(promptText="waves"))
    params = runway.task_by_external_id(task_id, provider="runway")
    assert params is not None
    assert params.params == {
        "promptImage": IMAGE,
        "promptText": "waves",
        "model": "gen4_turbo",
        "ratio": "1280:720",
    }
    updates = poll_until(http, channel, ref(task_id), ended)
    assert [u.raw_status for u in updates] == ["task_not_exist", "PENDING", "RUNNING", "SUCCEEDED"]
    assert updates[0].status is UpstreamStatus.UNKNOWN
    running = updates[2]
    assert running.status is UpstreamStatus.RUNNING
    assert running.progress is not None
    assert 0 <= running.progress <= 100
    done = updates[-1]
    assert (done.progress, done.external_id, done.error_code) == (100, task_id, None)
    (output,) = done.outputs
    assert (output.content_type, output.label, output.authenticated) == ("video/mp4", "video-0", False)
    assert http.get(output.url).status_code == 200


def test_runway_adapter_text_to_image(runway: Simulator, http: httpx.Client, channel: Channel) -> None:
    request = SubmitRequest("job-img", T2I, "gen4_image", {"promptText": "a lighthouse"})
    task_id = Runway().submit(http, channel, request)
    task = runway.task_by_external_id(task_id, provider="runway")
    assert task is not None
    assert task.params["ratio"] == "1024:1024"  # a default every image model takes
    done = poll_until(http, channel, ref(task_id, T2I), ended)[-1]
    (output,) = done.outputs
    assert (output.content_type, output.label) == ("image/png", "image-0")
    assert http.get(output.url).headers["content-type"] == "image/png"


def test_runway_gen3a_turbo_gets_its_own_default_ratio(
    runway: Simulator, http: httpx.Client, channel: Channel
) -> None:
    request = SubmitRequest("job-g3", I2V, "gen3a_turbo", {"promptImage": IMAGE})
    task = runway.task_by_external_id(Runway().submit(http, channel, request), provider="runway")
    assert task is not None
    assert task.params["ratio"] == "1280:768"


@pytest.mark.parametrize(
    ("outcome", "code", "failure_code", "message"),
    [
        (Outcome(result="moderation"), "moderation_blocked", "SAFETY.INPUT.TEXT", "flagged"),
        (
            Outcome(result="fail", message="SAFETY.OUTPUT.VIDEO: the output was flagged"),
            "moderation_blocked",
            "SAFETY.OUTPUT.VIDEO",
            "the output was flagged",
        ),
        (
            Outcome(result="fail", message="INPUT_PREPROCESSING.SAFETY.TEXT"),
            "moderation_blocked",
            "INPUT_PREPROCESSING.SAFETY.TEXT",
            "moderation",
        ),
        (Outcome(result="fail"), "upstream_failed", "INTERNAL.BAD_OUTPUT.CODE01", "unexpected error"),
        (
            Outcome(result="fail", message="ASSET.INVALID: the prompt image could not be read"),
            "invalid_input",
            "ASSET.INVALID",
            "could not be read",
        ),
    ],
)
def test_runway_failures_are_classified_by_failure_code(
    runway: Simulator,
    http: httpx.Client,
    channel: Channel,
    outcome: Outcome,
    code: str,
    failure_code: str,
    message: str,
) -> None:
    runway.script("runway", [outcome])
    done = poll_until(http, channel, ref(Runway().submit(http, channel, video())), ended)[-1]
    assert (done.status, done.raw_status, done.error_code) == (UpstreamStatus.FAILED, "FAILED", code)
    assert done.error_message is not None
    assert message in done.error_message
    assert done.result == {"failure_code": failure_code}
    assert done.outputs == ()


def test_runway_cancel_marks_the_task_cancelled(
    runway: Simulator, raw: httpx.Client, http: httpx.Client, channel: Channel
) -> None:
    runway.configure(not_found_polls=0)
    runway.script("runway", [Outcome(result="succeed", processing_s=30.0), Outcome(result="succeed")])
    adapter = Runway()
    task_id = adapter.submit(http, channel, video())
    assert adapter.poll(http, channel, ref(task_id)).raw_status == "RUNNING"
    adapter.cancel(http, channel, ref(task_id))
    adapter.cancel(http, channel, ref(task_id))  # a retried cancel is harmless
    for _ in range(2):
        update = adapter.poll(http, channel, ref(task_id))
        assert (update.status, update.raw_status, update.error_code) == (
            UpstreamStatus.FAILED,
            "CANCELLED",
            "upstream_cancelled",
        )
    assert raw.get(f"/runwayml/v1/tasks/{task_id}").json()["status"] == "CANCELLED"

    finished = adapter.submit(http, channel, video())
    assert poll_until(http, channel, ref(finished), ended)[-1].status is UpstreamStatus.SUCCEEDED
    assert raw.delete(f"/runwayml/v1/tasks/{finished}").status_code == 204  # a finished task is deleted
    assert raw.get(f"/runwayml/v1/tasks/{finished}").status_code == 404
    adapter.cancel(http, channel, ref(finished))  # already gone: nothing to do
    adapter.cancel(http, channel, ref(str(uuid.uuid4())))


def test_runway_field_error_is_rejected(runway: Simulator, http: httpx.Client, channel: Channel) -> None:
    for bad, field in (({"promptImage": "http://plain.example/a.png"}, "promptImage"), ({}, "promptImage")):
        request = SubmitRequest("job-bad", I2V, "gen4_turbo", bad)
        with pytest.raises(ProviderRejectedError) as caught:
            Runway().submit(http, channel, request)
        assert caught.value.code == "invalid_input"
        assert field in caught.value.message
    assert runway.stats()["runway"].creates == 0


def test_runway_rate_limit_is_unavailable_with_retry_after(
    runway: Simulator, http: httpx.Client, channel: Channel
) -> None:
    runway.configure(rate_limit_rate=1.0)
    with pytest.raises(ProviderUnavailableError) as caught:
        Runway().submit(http, channel, video())
    assert caught.value.retry_after == 1.0
    runway.configure(rate_limit_rate=0.0, submit_error_rate=1.0)
    with pytest.raises(ProviderUnavailableError):
        Runway().submit(http, channel, video())
    assert runway.stats()["runway"].creates == 0


def test_runway_bad_key_is_unavailable(runway: Simulator, http: httpx.Client, simulator_url: str) -> None:
    wrong = Channel("runway-sim", simulator_url, api_key="sk-wrong")
    with pytest.raises(ProviderUnavailableError):
        Runway().submit(http, wrong, video())
    with pytest.raises(ProviderUnavailableError):
        Runway().poll(http, wrong, ref(str(uuid.uuid4())))


def test_runway_read_timeout_on_submit_is_ambiguous(runway: Simulator, channel: Channel) -> None:
    runway.configure(read_timeout_rate=1.0, stall_s=3.0)
    with httpx.Client(timeout=0.3) as http, pytest.raises(SubmitOutcomeUnknownError):
        Runway().submit(http, channel, video())
    assert runway.stats()["runway"].creates == 1  # the answer was lost, the task was not


def gateway(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client whose every request gets one canned answer, as a gateway in front of Runway gives."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (502, {"error": "bad gateway"}, SubmitOutcomeUnknownError),
        (504, {"error": "overloaded"}, SubmitOutcomeUnknownError),
        (503, {"error": "load shedding"}, ProviderUnavailableError),
        (429, {"error": "daily task limit reached"}, ProviderUnavailableError),
        (400, {"error": "promptText: too long"}, ProviderRejectedError),
        (400, {"error": "Your prompt did not pass content moderation"}, ProviderRejectedError),
        (200, {"code": "insufficient_user_quota", "message": "quota exhausted"}, ProviderUnavailableError),
        (200, {"unexpected": True}, SubmitOutcomeUnknownError),
    ],
)
def test_runway_submit_error_classes(status: int, body: Any, error: type[Exception]) -> None:
    channel = Channel("gw", "https://api.cometapi.test", api_key="sk")
    with gateway(status, body, {"Retry-After": "7"}) as http, pytest.raises(error) as caught:
        Runway().submit(http, channel, video())
    if status == 429:
        assert isinstance(caught.value, ProviderUnavailableError)
        assert caught.value.retry_after == 7.0
    if isinstance(caught.value, ProviderRejectedError):
        expected = "moderation_blocked" if "moderation" in body["error"] else "invalid_input"
        assert caught.value.code == expected


def test_runway_submit_accepts_a_gateway_envelope_id() -> None:
    channel = Channel("gw", "https://api.cometapi.test", api_key="sk")
    with gateway(200, {"code": "success", "data": {"task_id": "t-9"}}) as http:
        assert Runway().submit(http, channel, video()) == "t-9"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_runway_query_errors_are_retryable(status: int) -> None:
    channel = Channel("gw", "https://api.cometapi.test", api_key="sk")
    with gateway(status, {"error": "later"}) as http, pytest.raises(ProviderUnavailableError):
        Runway().poll(http, channel, ref("t-1"))
    with gateway(status, {"error": "later"}) as http, pytest.raises(ProviderUnavailableError):
        Runway().cancel(http, channel, ref("t-1"))


def test_runway_task_not_exist_bodies_are_not_found() -> None:
    channel = Channel("gw", "https://api.cometapi.test", api_key="sk")
    for status, body in (
        (404, {"error": "Task not found"}),
        (400, {"code": "task_not_exist", "message": ""}),
    ):
        with gateway(status, body) as http:
            assert Runway().poll(http, channel, ref("t-1")).status is UpstreamStatus.UNKNOWN


def test_runway_fresh_links_on_repoll_after_expiry(
    runway: Simulator, http: httpx.Client, channel: Channel
) -> None:
    runway.configure(url_ttl_s=-10)
    task_id = Runway().submit(http, channel, video())
    stale = poll_until(http, channel, ref(task_id), ended)[-1].outputs[0].url
    assert http.get(stale).status_code == 403
    runway.configure(url_ttl_s=3600)
    fresh = Runway().poll(http, channel, ref(task_id))  # what the store step does on a 403
    assert fresh.status is UpstreamStatus.SUCCEEDED
    assert fresh.outputs[0].url != stale
    assert http.get(fresh.outputs[0].url).status_code == 200


def test_runway_vendor_mode_uses_the_unprefixed_paths(runway: Simulator, simulator_url: str) -> None:
    runway.configure(not_found_polls=0)
    state_for(runway).configure(wrapped=True)  # CometAPI's envelope: never on Runway's own host
    runway.script("runway", [Outcome(result="succeed", processing_s=30.0), Outcome(result="succeed")])
    paths: list[str] = []
    vendor = Channel("runway-direct", simulator_url, api_key=runway.config.api_key, mode="vendor")
    hooks = {"request": [lambda request: paths.append(f"{request.method} {request.url.path}")]}
    with httpx.Client(timeout=5, event_hooks=hooks) as http:
        running = Runway().submit(http, vendor, video())
        Runway().cancel(http, vendor, ref(running))
        assert Runway().poll(http, vendor, ref(running)).raw_status == "CANCELLED"
        done = Runway().submit(http, vendor, video())
        assert poll_until(http, vendor, ref(done), ended)[-1].status is UpstreamStatus.SUCCEEDED
    assert paths[:3] == ["POST /v1/image_to_video", f"DELETE /v1/tasks/{running}", f"GET /v1/tasks/{running}"]
    assert all(not path.split()[1].startswith("/runwayml") for path in paths)


def test_runway_has_no_callbacks_and_no_lookup_by_job_id(http: httpx.Client, channel: Channel) -> None:
    adapter = PROVIDERS["runway"]
    assert (adapter.sends_callbacks, adapter.finds_by_job_id, adapter.supports_cancel) == (False, False, True)
    with pytest.raises(InvalidCallbackError):
        adapter.parse_callback(b'{"id": "t-1", "status": "SUCCEEDED"}')
    with pytest.raises(ProviderRejectedError):
        adapter.find(http, channel, "job-1", I2V)
    assert adapter.download_headers(channel) == {}


# --- the job input ------------------------------------------------------------------------------


def test_runway_inputs_keep_runway_names_and_limits() -> None:
    parsed = RunwayImageToVideoInput.model_validate(
        {
            "promptImage": [{"uri": IMAGE}, {"uri": "data:image/png;base64,AAAA", "position": "last"}],
            "duration": "10",
            "seed": 4_294_967_295,
            "contentModeration": {"publicFigureThreshold": "low"},
        }
    )
    assert parsed.model_dump(mode="json", exclude_none=True) == {
        "promptImage": [
            {"uri": IMAGE, "position": "first"},
            {"uri": "data:image/png;base64,AAAA", "position": "last"},
        ],
        "duration": 10,
        "seed": 4_294_967_295,
        "contentModeration": {"publicFigureThreshold": "low"},
    }
    refused: list[tuple[type[Any], dict[str, Any]]] = [
        (RunwayImageToVideoInput, {"promptImage": "http://example.com/a.png"}),
        (RunwayImageToVideoInput, {"promptImage": [{"uri": IMAGE}, {"uri": IMAGE}]}),
        (RunwayImageToVideoInput, {"promptImage": IMAGE, "promptText": "x" * 1001}),
        (RunwayImageToVideoInput, {"promptImage": IMAGE, "duration": 7}),
        (RunwayImageToVideoInput, {"promptImage": IMAGE, "ratio": "16:9"}),
        (RunwayImageToVideoInput, {"promptImage": IMAGE, "seed": 4_294_967_296}),
        (RunwayImageToVideoInput, {"prompt_image": IMAGE}),
        (RunwayTextToImageInput, {"ratio": "1920:1080"}),
        (RunwayTextToImageInput, {"promptText": "x", "ratio": "wide"}),
        (RunwayTextToImageInput, {"promptText": "x", "model": "gen4_image"}),
    ]
    for model, body in refused:
        with pytest.raises(ValidationError):
            model.model_validate(body)
    image = RunwayTextToImageInput.model_validate(
        {"promptText": "x", "ratio": "2112:912", "referenceImages": [{"uri": IMAGE, "tag": "boat"}]}
    )
    assert image.model_dump(mode="json", exclude_none=True)["referenceImages"] == [
        {"uri": IMAGE, "tag": "boat"}
    ]


# --- the official SDK against the simulator -----------------------------------------------------


def test_runway_official_sdk_waits_for_output(
    runway: Simulator, simulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runwayml = pytest.importorskip("runwayml", reason="the runwayml SDK is not installed (dev dependency)")
    polling = pytest.importorskip("runwayml.lib.polling")
    monkeypatch.setattr(polling, "POLL_TIME", 0.05)  # the SDK sleeps 6 s +- 1.5 s between polls
    monkeypatch.setattr(polling, "POLL_JITTER", 0.0)
    runway.configure(not_found_polls=0)  # the SDK treats a 404 as an error, not "not yet"
    runway.script("runway", [Outcome(result="succeed", submitted_s=0.05, processing_s=0.2)])
    client = runwayml.RunwayML(
        api_key=runway.config.api_key, base_url=f"{simulator_url}/runwayml", max_retries=0
    )
    created = client.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, prompt_text="waves", ratio="1280:720", duration=5
    )
    task = created.wait_for_task_output(timeout=10)
    assert task.status == "SUCCEEDED"
    assert httpx.get(task.output[0]).status_code == 200
