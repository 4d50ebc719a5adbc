"""ByteDance Seedance: the adapter against the simulator over real HTTP (Ark's create, query and DELETE on
CometAPI's `/volc/v3` and Ark's `/api/v3`, every status in every spelling, every error class, the queue
cap, callbacks), the body it sends, and the input each model takes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from orchestrator.errors import UnpricedModelError
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from tests import services
from workers.providers import PROVIDERS
from workers.providers.base import Channel, OutputRef, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.seedance import Seedance
from workers.providers.seedance.adapter import channel_model, create_body, expires_after, tasks_url
from workers.providers.seedance.offers import model_problem
from workers.providers.seedance.schemas import (
    SeedanceImage2VideoInput,
    SeedanceReference2VideoInput,
    SeedanceText2VideoInput,
)
from workers.providers.seedance.simulation import QUEUE_CAP
from workers.simulator import Outcome, Simulator

T2V, I2V, R2V = "text2video", "image2video", "reference2video"
PRO, PRO_15, LITE_I2V, V2 = (
    "doubao-seedance-1-0-pro-250528",
    "doubao-seedance-1-5-pro-251215",
    "doubao-seedance-1-0-lite-i2v-250428",
    "doubao-seedance-2-0-260128",
)
IMAGE = "https://example.com/boat.png"
PROMPT = {"prompt": "a paper boat drifts on a lake at dawn", "duration": 5}
TASKS = "/volc/v3/contents/generations/tasks"
# Every status Ark documents (§2.3), in the spellings a gateway may use; matched case-insensitively.
DOCUMENTED = {
    "queued": UpstreamStatus.PENDING,
    "QUEUED": UpstreamStatus.PENDING,
    "running": UpstreamStatus.RUNNING,
    "Running": UpstreamStatus.RUNNING,
    "succeeded": UpstreamStatus.SUCCEEDED,
    "SUCCEEDED": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
    "Failed": UpstreamStatus.FAILED,
    "cancelled": UpstreamStatus.CANCELLED,
    "Cancelled": UpstreamStatus.CANCELLED,
    "canceled": UpstreamStatus.CANCELLED,
    "expired": UpstreamStatus.EXPIRED,
    "EXPIRED": UpstreamStatus.EXPIRED,
}
FAKE = Channel("fake", "https://upstream.test", api_key="sk-fake")


@pytest.fixture
def channel(simulator: Simulator, simulator_url: str) -> Channel:
    return Channel("seedance-sim", simulator_url, api_key=simulator.config.api_key)


@pytest.fixture
def raw(simulator: Simulator, simulator_url: str) -> Iterator[httpx.Client]:
    """A client speaking Ark's wire format directly, with the simulator's key."""
    auth = {"Authorization": f"Bearer {simulator.config.api_key}"}
    with httpx.Client(base_url=simulator_url, headers=auth, timeout=10) as client:
        yield client


def text(model: str = PRO, **fields: Any) -> SubmitRequest:
    return SubmitRequest("job-1", T2V, model, {**PROMPT, **fields})


def ref(task_id: str) -> TaskRef:
    return TaskRef("job-1", T2V, task_id)


def client_answering(body: Any, status: int = 200) -> httpx.Client:
    """A client whose upstream answers every request with `body` (for shapes the simulator never sends)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(status, content=content)))


def callback(body: dict[str, Any]) -> ProviderUpdate:
    return Seedance().parse_callback(json.dumps(body).encode())


def poll_until(
    http: httpx.Client, channel: Channel, task: TaskRef, done: Callable[[ProviderUpdate], bool]
) -> list[ProviderUpdate]:
    """Every update whose raw status differs from the one before, until `done` holds for one."""
    seen: list[ProviderUpdate] = []

    def finished() -> bool:
        update = Seedance().poll(http, channel, task)
        if not seen or seen[-1].raw_status != update.raw_status:
            seen.append(update)
        return done(update)

    services.wait_until(finished, timeout=10, interval=0.01)
    return seen


def ended(update: ProviderUpdate) -> bool:
    return update.status not in (UpstreamStatus.UNKNOWN, UpstreamStatus.PENDING, UpstreamStatus.RUNNING)


# --- statuses and task objects, pure --------------------------------------------------------------


@pytest.mark.parametrize(("raw_status", "meaning"), DOCUMENTED.items())
def test_seedance_every_status_spelling_is_read(raw_status: str, meaning: UpstreamStatus) -> None:
    body: dict[str, Any] = {"id": "cgt-20250612", "status": raw_status, "error": None}
    if meaning is UpstreamStatus.SUCCEEDED:
        body["content"] = {"video_url": "https://cdn.test/v.mp4"}
    update = callback(body)
    assert (update.status, update.raw_status, update.external_id) == (meaning, raw_status, "cgt-20250612")
    assert Seedance.status_map[raw_status.lower()] is meaning


def test_seedance_success_gives_the_video_the_last_frame_and_what_was_made() -> None:
    body = {
        "id": "cgt-1",
        "model": PRO,
        "status": "succeeded",
        "content": {"video_url": "https://cdn.test/v.mp4", "last_frame_url": "https://cdn.test/last.png"},
        "usage": {"completion_tokens": 108900, "total_tokens": 108900},
        "seed": 78674,
        "resolution": "720p",
        "duration": 5,
        "created_at": 1773297205,
    }
    update = callback(body)
    assert update.outputs == (
        OutputRef("https://cdn.test/v.mp4", "video/mp4", label="video"),
        OutputRef("https://cdn.test/last.png", None, label="last_frame"),
    )
    assert update.progress == 100
    assert update.result == {"seed": 78674, "resolution": "720p", "duration": 5, "usage": body["usage"]}
    # A success that names no video keeps the job waiting for a fuller answer.
    bare = callback({"id": "cgt-1", "status": "succeeded", "content": {}})
    assert (bare.status, bare.outputs) == (UpstreamStatus.UNKNOWN, ())


@pytest.mark.parametrize(
    ("error", "error_code"),
    [
        (
            {
                "code": "OutputVideoSensitiveContentDetected",
                "message": "The request failed because the output video may contain sensitive information.",
            },
            "moderation_blocked",
        ),
        ({"code": "", "message": "the output video may contain sensitive information"}, "moderation_blocked"),
        ({"code": "InternalServiceError", "message": "generation failed"}, "upstream_failed"),
        ("flattened by a gateway", "upstream_failed"),
        (None, "upstream_failed"),
    ],
)
def test_seedance_failed_task_reason_comes_from_its_error(error: Any, error_code: str) -> None:
    update = callback({"id": "cgt-1", "status": "failed", "error": error})
    assert (update.status, update.error_code, update.outputs) == (UpstreamStatus.FAILED, error_code, ())
    assert update.error_message


def test_seedance_unknown_status_waits_and_bad_callbacks_are_refused() -> None:
    assert callback({"id": "cgt-1", "status": "archived"}).status is UpstreamStatus.UNKNOWN
    # A gateway's wrapper around the task object is read too [I].
    wrapped = callback({"code": 0, "data": {"id": "cgt-2", "status": "running"}})
    assert (wrapped.status, wrapped.external_id) == (UpstreamStatus.RUNNING, "cgt-2")
    for body in (b"not json", b"[1, 2]", b'{"id": "cgt-1"}', b'{"id": "cgt-1", "status": 5, "error": 7}'):
        with pytest.raises(InvalidCallbackError):
            Seedance().parse_callback(body)


# --- Ark's error codes and transport errors -------------------------------------------------------


def ark_error(code: str, message: str = "refused. Request ID: 1") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": "BadRequest"}}


@pytest.mark.parametrize(
    ("status", "code", "error", "reason"),
    [
        (400, "MissingParameter", ProviderRejectedError, "invalid_input"),
        (400, "InvalidParameter", ProviderRejectedError, "invalid_input"),
        (400, "InvalidParameter.Duration", ProviderRejectedError, "invalid_input"),
        (400, "InputTextSensitiveContentDetected", ProviderRejectedError, "moderation_blocked"),
        (
            400,
            "InputImageSensitiveContentDetected.PrivacyInformation",
            ProviderRejectedError,
            "moderation_blocked",
        ),
        (400, "SensitiveContentDetected.Violence", ProviderRejectedError, "moderation_blocked"),
        (400, "InvalidEndpoint.ClosedEndpoint", ProviderUnavailableError, None),
        (401, "AuthenticationError", ProviderRejectedError, "upstream_auth"),
        (403, "AccessDenied", ProviderRejectedError, "upstream_auth"),
        (403, "AccountOverdueError", ProviderRejectedError, "upstream_billing"),
        (404, "InvalidEndpoint.NotFound", ProviderRejectedError, "upstream_plan"),
        (429, "RateLimitExceeded.EndpointRPMExceeded", ProviderUnavailableError, None),
        (429, "RateLimitExceeded.EndpointTPMExceeded", ProviderUnavailableError, None),
        (429, "QuotaExceeded", ProviderUnavailableError, None),
        (429, "ServerOverloaded", ProviderUnavailableError, None),
        (429, "SetLimitExceeded", ProviderRejectedError, "upstream_quota"),
        (500, "InternalServiceError", ProviderUnavailableError, None),
        # Codes no one documented are judged by the HTTP status.
        (400, "SomethingNew", ProviderRejectedError, "upstream_rejected"),
        (403, "SomethingNew", ProviderRejectedError, "upstream_auth"),
        (429, "SomethingNew", ProviderUnavailableError, None),
        (503, "SomethingNew", ProviderUnavailableError, None),
        (502, "SomethingNew", SubmitOutcomeUnknownError, None),
    ],
)
def test_seedance_error_codes_at_submit(
    status: int, code: str, error: type[Exception], reason: str | None
) -> None:
    with client_answering(ark_error(code), status) as http, pytest.raises(error) as raised:
        Seedance().submit(http, FAKE, text())
    if reason is not None:
        assert isinstance(raised.value, ProviderRejectedError)
        assert raised.value.code == reason
    assert "sk-fake" not in str(raised.value)


@pytest.mark.parametrize(
    ("status", "body", "error", "reason"),
    [
        # Accepted, yet no id (or no readable body): a task may exist, and be billed.
        (200, {}, SubmitOutcomeUnknownError, None),
        (200, b"<html>ok</html>", SubmitOutcomeUnknownError, None),
        (502, b"<html>bad gateway</html>", SubmitOutcomeUnknownError, None),
        (500, {"message": "upstream error"}, SubmitOutcomeUnknownError, None),
        (429, b"slow down", ProviderUnavailableError, None),
        # A gateway's own envelope: code and message at the top, or an error that is only text.
        (401, {"code": "AuthenticationError", "message": "bad key"}, ProviderRejectedError, "upstream_auth"),
        (402, {"error": "insufficient balance"}, ProviderRejectedError, "upstream_billing"),
        (404, b"not found", ProviderRejectedError, "upstream_rejected"),
    ],
)
def test_seedance_answers_in_other_shapes_at_submit(
    status: int, body: Any, error: type[Exception], reason: str | None
) -> None:
    with client_answering(body, status) as http, pytest.raises(error) as raised:
        Seedance().submit(http, FAKE, text())
    if reason is not None:
        assert isinstance(raised.value, ProviderRejectedError)
        assert raised.value.code == reason


def test_seedance_reads_a_bare_or_wrapped_id_and_polls_leniently() -> None:
    with client_answering({"id": "021773297205999example"}) as http:
        assert Seedance().submit(http, FAKE, text()) == "021773297205999example"
    with client_answering({"code": 0, "data": {"id": 42}}) as http:
        assert Seedance().submit(http, FAKE, text()) == "42"
    with client_answering(ark_error("ResourceNotFound"), 404) as http:
        assert Seedance().poll(http, FAKE, ref("cgt-1")).raw_status == "task_not_exist"
    for status, body in ((200, b"<html>"), (503, b"busy"), (429, ark_error("ServerOverloaded"))):
        with client_answering(body, status) as http, pytest.raises(ProviderUnavailableError):
            Seedance().poll(http, FAKE, ref("cgt-1"))
    with (
        client_answering(ark_error("AuthenticationError"), 401) as http,
        pytest.raises(ProviderRejectedError),
    ):
        Seedance().poll(http, FAKE, ref("cgt-1"))


def test_seedance_simulator_refusals(
    simulator: Simulator, http: httpx.Client, channel: Channel, simulator_url: str, raw: httpx.Client
) -> None:
    wrong_key = Channel("seedance-sim", simulator_url, api_key="sk-wrong")
    with pytest.raises(ProviderRejectedError) as unauthorized:
        Seedance().submit(http, wrong_key, text())
    assert unauthorized.value.code == "upstream_auth"
    with pytest.raises(ProviderRejectedError) as sensitive:
        Seedance().submit(http, channel, text(prompt="a bloodbath on a lake"))
    assert sensitive.value.code == "moderation_blocked"
    # A model we do not know is the upstream's to judge: Ark refuses a bad body with 400.
    with pytest.raises(ProviderRejectedError) as invalid:
        Seedance().submit(
            http, channel, SubmitRequest("job-1", T2V, "ep-20250101-x", {"prompt": "x", "duration": 99})
        )
    assert invalid.value.code == "invalid_input"
    missing = raw.post(TASKS, json={"content": [{"type": "text", "text": "x"}]})
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "MissingParameter")
    assert missing.json()["error"]["type"] == "BadRequest"
    simulator.configure(rate_limit_rate=1.0)
    with pytest.raises(ProviderUnavailableError, match="RateLimitExceeded"):
        Seedance().submit(http, channel, text())
    simulator.configure(rate_limit_rate=0.0, submit_error_rate=1.0)
    with pytest.raises(ProviderUnavailableError, match="InternalServiceError"):
        Seedance().submit(http, channel, text())
    stats = simulator.stats()["seedance"]
    assert stats.creates == 0
    assert stats.rejected == {
        "unauthorized": 1,
        "sensitive": 1,
        "invalid_params": 2,
        "rate_limited": 1,
        "unavailable": 1,
    }


def test_seedance_lost_answers_and_refused_connections(simulator: Simulator, channel: Channel) -> None:
    simulator.configure(read_timeout_rate=1.0, stall_s=3.0)
    with httpx.Client(timeout=0.5) as http, pytest.raises(SubmitOutcomeUnknownError):
        Seedance().submit(http, channel, text())
    assert simulator.stats()["seedance"].creates == 1  # created, though the answer was lost
    with services.closed_port() as port, httpx.Client(timeout=1) as http:
        closed = Channel("closed", f"http://127.0.0.1:{port}", api_key="sk")
        with pytest.raises(ProviderUnavailableError):
            Seedance().submit(http, closed, text())
        with pytest.raises(ProviderUnavailableError):
            Seedance().poll(http, closed, ref("cgt-1"))
        with pytest.raises(ProviderUnavailableError):
            Seedance().cancel(http, closed, ref("cgt-1"))


def test_seedance_model_problems_are_refused_before_anything_is_sent(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    for request, words in (
        (text(PRO_15, duration=2), "duration: doubao-seedance-1-5-pro-251215 makes clips of 4 to 12 seconds"),
        (text(LITE_I2V), "does not do text2video"),
        (SubmitRequest("job-1", R2V, PRO, {"reference_images": [IMAGE]}), "takes no reference images"),
    ):
        with pytest.raises(ProviderRejectedError, match=words) as refused:
            Seedance().submit(http, channel, request)
        assert refused.value.code == "invalid_input"
    assert simulator.stats()["seedance"].create_attempts == 0


# --- what the adapter sends -----------------------------------------------------------------------


def test_seedance_sends_parameters_as_fields_and_images_with_their_roles(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    fields = {"first_frame_image": IMAGE, "last_frame_image": "data:image/png;base64,AAAA", "seed": 7}
    request = SubmitRequest("job-1", I2V, "seedance-1-0-pro-250528", {**PROMPT, **fields, "watermark": False})
    task = simulator.task(Seedance().submit(http, channel, request).removeprefix("cgt-"))
    assert task is not None
    assert dict(task.params) == {
        "model": PRO,  # CometAPI writes the CN id, whichever name the job used
        "content": [
            {"type": "text", "text": PROMPT["prompt"]},
            {"type": "image_url", "image_url": {"url": IMAGE}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": fields["last_frame_image"]}, "role": "last_frame"},
        ],
        "duration": 5,
        "seed": 7,
        "watermark": False,
        "resolution": "720p",  # sent although not asked for: the clip is the one priced
    }
    assert "--" not in json.dumps(task.params)  # never as flags
    assert task.callback_url is None  # none was asked for
    references = {"reference_images": [IMAGE, IMAGE], "generate_audio": True, "resolution": "480p"}
    task = simulator.task(
        Seedance().submit(http, channel, SubmitRequest("job-2", R2V, V2, references)).removeprefix("cgt-")
    )
    assert task is not None
    assert task.operation == R2V
    assert [item["role"] for item in task.params["content"]] == ["reference_image", "reference_image"]


def test_seedance_channel_paths_and_model_names() -> None:
    cometapi = Channel("c", "https://api.cometapi.com/", api_key="k")
    volcengine = Channel("v", "https://ark.cn-beijing.volces.com/api/v3", api_key="k", mode="vendor")
    byteplus = Channel("b", "https://ark.ap-southeast.bytepluses.com", api_key="k", mode="vendor")
    assert tasks_url(cometapi) == "https://api.cometapi.com/volc/v3/contents/generations/tasks"
    assert tasks_url(volcengine) == "https://ark.cn-beijing.volces.com/api/v3/contents/generations/tasks"
    assert tasks_url(byteplus) == "https://ark.ap-southeast.bytepluses.com/api/v3/contents/generations/tasks"
    for model in (PRO, "seedance-1-0-pro-250528"):
        assert channel_model(cometapi, model) == PRO
        assert channel_model(volcengine, model) == PRO
        assert channel_model(byteplus, model) == "seedance-1-0-pro-250528"
    assert channel_model(byteplus, "ep-20250101-abc") == "ep-20250101-abc"


def test_seedance_the_upstream_gives_up_no_later_than_the_job() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expires_after(None, None, now) is None
    assert expires_after(7200, None, now) == 7200
    assert expires_after(None, now + timedelta(seconds=3900), now) == 3840
    assert expires_after(86400, now + timedelta(seconds=7200), now) == 7140  # capped by the deadline
    assert expires_after(3600, now + timedelta(days=5), now) == 3600
    assert expires_after(None, now + timedelta(days=5), now) == 259200
    assert expires_after(None, now + timedelta(seconds=100), now) == 3600  # Ark's shortest
    request = SubmitRequest(
        "job-1", T2V, PRO, PROMPT, "https://hook.test/cb", deadline_at=now + timedelta(hours=2)
    )
    body = create_body(Channel("c", "https://api.cometapi.com", api_key="k"), request, now)
    assert (body["execution_expires_after"], body["callback_url"]) == (7140, "https://hook.test/cb")


# --- the simulator's wire format, through the adapter ---------------------------------------------


def test_seedance_submit_and_poll_through_every_status(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.script("seedance", [Outcome(result="succeed", submitted_s=0.3, processing_s=0.3)])
    task_id = Seedance().submit(http, channel, text(return_last_frame=True))
    assert task_id.startswith("cgt-")
    updates = poll_until(http, channel, ref(task_id), ended)
    assert [u.raw_status for u in updates] == ["task_not_exist", "queued", "running", "succeeded"]
    assert [u.status for u in updates] == [
        UpstreamStatus.UNKNOWN,
        UpstreamStatus.PENDING,
        UpstreamStatus.RUNNING,
        UpstreamStatus.SUCCEEDED,
    ]
    done = updates[-1]
    assert done.external_id == task_id
    assert done.result is not None
    assert (done.result["resolution"], done.result["duration"]) == ("720p", 5)
    assert done.result["usage"]["total_tokens"] == 21600 * 5
    video, last_frame = done.outputs
    assert (video.label, video.content_type, last_frame.label) == ("video", "video/mp4", "last_frame")
    assert http.get(video.url).content[4:8] == b"ftyp"
    assert http.get(last_frame.url).headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("fate", "status", "error_code"),
    [
        ("fail", UpstreamStatus.FAILED, "upstream_failed"),
        ("moderation", UpstreamStatus.FAILED, "moderation_blocked"),
        ("cancelled", UpstreamStatus.CANCELLED, None),
        ("expired", UpstreamStatus.EXPIRED, None),
    ],
)
def test_seedance_tasks_that_end_without_a_video(
    simulator: Simulator,
    http: httpx.Client,
    channel: Channel,
    raw: httpx.Client,
    fate: str,
    status: UpstreamStatus,
    error_code: str | None,
) -> None:
    simulator.configure(not_found_polls=0)
    simulator.script("seedance", [Outcome(result=fate, submitted_s=0.2, processing_s=0.2)])  # type: ignore[arg-type]
    task_id = Seedance().submit(http, channel, text())
    updates = poll_until(http, channel, ref(task_id), ended)
    # A task cancelled or expired upstream never ran: it waits queued, then ends.
    ran = UpstreamStatus.RUNNING in [u.status for u in updates]
    assert ran is (status is UpstreamStatus.FAILED)
    final = updates[-1]
    assert (final.status, final.error_code, final.outputs) == (status, error_code, ())
    answer = raw.get(f"{TASKS}/{task_id}").json()
    assert answer["status"] == ("failed" if status is UpstreamStatus.FAILED else fate)
    assert isinstance(answer["created_at"], int)
    assert answer["created_at"] < 10**10  # seconds, not milliseconds
    if fate == "moderation":
        assert answer["error"]["message"] == (
            "The request failed because the output video may contain sensitive information."
        )
    elif status is not UpstreamStatus.FAILED:
        assert answer["error"] is None
    assert "content" not in answer


def test_seedance_unknown_task_is_a_404_in_arks_envelope(
    raw: httpx.Client, http: httpx.Client, channel: Channel
) -> None:
    for task_id in ("cgt-123", "123"):
        missing = raw.get(f"{TASKS}/{task_id}")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")
        assert missing.json()["error"]["type"] == "NotFound"
        assert Seedance().poll(http, channel, ref(task_id)).raw_status == "task_not_exist"
        assert raw.delete(f"{TASKS}/{task_id}").status_code == 404
    unauthorized = httpx.get(f"{raw.base_url}{TASKS}/cgt-1")
    assert (unauthorized.status_code, unauthorized.json()["error"]["code"]) == (401, "AuthenticationError")


# --- DELETE, cancel and the queue -----------------------------------------------------------------


def submitted(simulator: Simulator, http: httpx.Client, channel: Channel, outcome: Outcome) -> str:
    simulator.configure(not_found_polls=0)
    simulator.script("seedance", [outcome])
    return Seedance().submit(http, channel, text())


def test_seedance_delete_acts_per_state(
    simulator: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    queued = submitted(simulator, http, channel, Outcome(result="succeed", submitted_s=60, processing_s=60))
    assert (raw.delete(f"{TASKS}/{queued}").status_code, raw.get(f"{TASKS}/{queued}").json()["status"]) == (
        200,
        "cancelled",
    )
    again = raw.delete(f"{TASKS}/{queued}")  # a cancelled task cannot be cancelled again
    assert (again.status_code, again.json()["error"]["code"]) == (409, "TaskNotCancellable")
    running = submitted(simulator, http, channel, Outcome(result="succeed", submitted_s=0, processing_s=60))
    refused = raw.delete(f"{TASKS}/{running}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "TaskNotCancellable")
    assert raw.get(f"{TASKS}/{running}").json()["status"] == "running"
    done = submitted(simulator, http, channel, Outcome(result="succeed", submitted_s=0, processing_s=0))
    video = raw.get(f"{TASKS}/{done}").json()["content"]["video_url"]
    assert http.get(video).status_code == 200
    # An ended task's record is deleted, and its video with it: never DELETE one before it is copied.
    assert raw.delete(f"{TASKS}/{done}").status_code == 200
    assert raw.get(f"{TASKS}/{done}").status_code == 404
    assert http.get(video).status_code == 404


def test_seedance_cancel_deletes_only_a_queued_task(
    simulator: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    queued = submitted(simulator, http, channel, Outcome(result="succeed", submitted_s=60, processing_s=60))
    Seedance().cancel(http, channel, ref(queued))
    assert Seedance().poll(http, channel, ref(queued)).status is UpstreamStatus.CANCELLED
    Seedance().cancel(http, channel, ref(queued))  # cancelled already: nothing to do
    running = submitted(simulator, http, channel, Outcome(result="succeed", submitted_s=0, processing_s=60))
    with pytest.raises(ProviderRejectedError, match="running") as refused:
        Seedance().cancel(http, channel, ref(running))
    assert refused.value.code == "cancel_refused"
    done = submitted(simulator, http, channel, Outcome(result="succeed", submitted_s=0, processing_s=0))
    with pytest.raises(ProviderRejectedError, match="succeeded"):
        Seedance().cancel(http, channel, ref(done))
    assert raw.get(f"{TASKS}/{done}").json()["status"] == "succeeded"  # its record kept
    simulator.configure(not_found_polls=1)
    simulator.script("seedance", [Outcome(result="succeed", submitted_s=60, processing_s=60)])
    fresh = Seedance().submit(http, channel, text())
    with pytest.raises(ProviderUnavailableError, match="not visible"):
        Seedance().cancel(http, channel, ref(fresh))  # retried later: it may be queued


def test_seedance_a_delete_the_upstream_refuses_is_a_refused_cancel() -> None:
    queued = {"id": "cgt-1", "status": "queued"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=queued)
        return httpx.Response(409, json=ark_error("TaskNotCancellable", "running now"))

    with httpx.Client(transport=httpx.MockTransport(answer)) as http, pytest.raises(ProviderRejectedError):
        Seedance().cancel(http, FAKE, ref("cgt-1"))
    for status, body in ((429, ark_error("RateLimitExceeded.EndpointRPMExceeded")), (503, b"busy")):

        def busy(request: httpx.Request, status: int = status, body: Any = body) -> httpx.Response:
            if request.method == "GET":
                return httpx.Response(200, json=queued)
            return httpx.Response(
                status, content=body if isinstance(body, bytes) else json.dumps(body).encode()
            )

        with (
            httpx.Client(transport=httpx.MockTransport(busy)) as http,
            pytest.raises(ProviderUnavailableError),
        ):
            Seedance().cancel(http, FAKE, ref("cgt-1"))


def test_seedance_the_account_queue_holds_120_tasks(
    simulator: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    waiting = Outcome(result="succeed", submitted_s=300, processing_s=60)
    simulator.script("seedance", [waiting] * (QUEUE_CAP + 1))
    task_ids = [Seedance().submit(http, channel, text()) for _ in range(QUEUE_CAP)]
    with pytest.raises(ProviderUnavailableError, match="QuotaExceeded"):
        Seedance().submit(http, channel, text())
    full = raw.post(TASKS, json={"model": PRO, "content": [{"type": "text", "text": "x"}]})
    assert (full.status_code, full.json()["error"]["code"]) == (429, "QuotaExceeded")
    assert raw.delete(f"{TASKS}/{task_ids[0]}").status_code == 200  # a cancelled task leaves the queue
    assert Seedance().submit(http, channel, text()).startswith("cgt-")
    assert simulator.stats()["seedance"].rejected == {"queue_full": 2}


# --- callbacks ------------------------------------------------------------------------------------


def test_seedance_callbacks_carry_the_task_object(
    simulator: Simulator,
    http: httpx.Client,
    channel: Channel,
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, bodies = hook
    simulator.script("seedance", [Outcome(result="succeed", submitted_s=0.1, processing_s=0.1)])
    task_id = Seedance().submit(http, channel, SubmitRequest("job-1", T2V, PRO, PROMPT, url))
    task = simulator.task(task_id.removeprefix("cgt-"))
    assert task is not None
    assert (task.callback_url, "callback_url" in task.params) == (url, False)
    services.wait_until(lambda: len(bodies) == 3, timeout=10)
    updates = [callback(body) for body in bodies]
    assert [u.status for u in updates] == [
        UpstreamStatus.PENDING,
        UpstreamStatus.RUNNING,
        UpstreamStatus.SUCCEEDED,
    ]
    assert {u.external_id for u in updates} == {task_id}
    assert http.get(updates[-1].outputs[0].url).status_code == 200  # signed when it left


def test_seedance_a_cancelled_task_announces_its_end_and_nothing_after(
    simulator: Simulator,
    http: httpx.Client,
    channel: Channel,
    raw: httpx.Client,
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, bodies = hook
    simulator.script("seedance", [Outcome(result="succeed", submitted_s=60, processing_s=0.1)])
    task_id = Seedance().submit(http, channel, SubmitRequest("job-1", T2V, PRO, PROMPT, url))
    services.wait_until(lambda: len(bodies) == 1, timeout=10)
    assert raw.delete(f"{TASKS}/{task_id}").status_code == 200
    services.wait_until(lambda: len(bodies) == 2, timeout=10)
    assert [body["status"] for body in bodies] == ["queued", "cancelled"]
    assert simulator.callbacks.next_delay() is None  # its running and succeeded callbacks are gone


# --- inputs and prices ----------------------------------------------------------------------------


def test_seedance_inputs() -> None:
    assert SeedanceText2VideoInput.model_validate({"prompt": "x", "duration": "10"}).duration == 10
    for bad in (
        {"prompt": ""},
        {"prompt": "x --rs 1080p"},  # output parameters go in their fields
        {"prompt": "x", "duration": 1},
        {"prompt": "x", "duration": 16},
        {"prompt": "x", "resolution": "4k"},
        {"prompt": "x", "ratio": "2:1"},
        {"prompt": "x", "seed": 2**32},
        {"prompt": "x", "service_tier": "fast"},
        {"prompt": "x", "execution_expires_after": 60},
        {"prompt": "x", "model": PRO},
    ):
        with pytest.raises(ValidationError):
            SeedanceText2VideoInput.model_validate(bad)
    assert SeedanceImage2VideoInput.model_validate({"first_frame_image": "data:image/png;base64,AAAA"})
    for bad in (
        {},
        {"first_frame_image": "boat.png"},
        {"first_frame_image": IMAGE, "last_frame_image": "ftp://x"},
    ):
        with pytest.raises(ValidationError):
            SeedanceImage2VideoInput.model_validate(bad)
    for bad in ({"reference_images": []}, {"reference_images": [IMAGE] * 5}, {"reference_images": ["x.png"]}):
        with pytest.raises(ValidationError):
            SeedanceReference2VideoInput.model_validate(bad)


@pytest.mark.parametrize(
    ("model", "operation", "fields", "problem"),
    [
        (PRO, T2V, {"resolution": "1080p", "duration": 12}, None),
        ("seedance-1-0-pro-250528", I2V, {"duration": 2}, None),  # BytePlus's name
        (
            PRO_15,
            T2V,
            {"resolution": "1080p"},
            "resolution: doubao-seedance-1-5-pro-251215 offers 480p, 720p",
        ),
        (PRO_15, T2V, {"duration": 3}, "duration"),
        (PRO_15, T2V, {"generate_audio": True}, None),
        (PRO, T2V, {"generate_audio": True}, "generate_audio"),
        (V2, R2V, {"duration": 15}, None),
        (V2, T2V, {"duration": 16}, "duration"),
        (LITE_I2V, R2V, {}, None),
        ("doubao-seedance-1-0-lite-t2v-250428", I2V, {}, "does not do image2video"),
        (PRO_15, R2V, {}, "takes no reference images (seedance-1-0-lite-i2v and 2.0 do)"),
        ("ep-20250101-abc", R2V, {"resolution": "4k"}, None),  # the upstream judges its own endpoints
    ],
)
def test_seedance_model_offers(
    model: str, operation: str, fields: dict[str, Any], problem: str | None
) -> None:
    found = model_problem(model, operation, fields)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_seedance_prices_per_second_and_resolution(make_settings: Callable[..., Settings]) -> None:
    prices = load_price_table(make_settings().prices_path)
    assert prices.list_price("seedance", T2V, PRO, {"duration": 5}) == 270_000  # 720p, sent as such
    assert prices.list_price("seedance", T2V, PRO, {"duration": 10, "resolution": "1080p"}) == 1_220_000
    assert prices.list_price("seedance", I2V, PRO, {"duration": 5, "resolution": "480p"}) == 125_000
    for operation in (T2V, I2V):  # both names of a model cost the same
        assert prices.list_price("seedance", operation, V2, {"duration": 5}) == prices.list_price(
            "seedance", operation, "seedance-2-0-260128", {"duration": 5}
        )
    with pytest.raises(UnpricedModelError, match="offered"):
        prices.list_price("seedance", R2V, PRO_15, {"duration": 5})
    assert PROVIDERS["seedance"].finds_by_job_id is False
    assert (PROVIDERS["seedance"].supports_cancel, PROVIDERS["seedance"].cancels_running) == (True, False)
