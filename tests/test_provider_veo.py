"""Veo: the adapter against the simulator over real HTTP in both flavours (CometAPI's multipart
`/v1/videos`, Gemini's predictLongRunning operations, also through a proxy's flattened shape), the
error mapping, the pure answer readers and the unified input."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.services import serving, wait_until
from workers.providers import PROVIDERS
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.kling.adapter import auth_headers as kling_auth_headers
from workers.providers.veo.adapter import Veo
from workers.providers.veo.schemas import (
    EXAMPLE_PNG,
    CometVideo,
    GeminiOperation,
    VeoImageToVideoInput,
    VeoTextToVideoInput,
)
from workers.providers.veo.wire import comet_update, gemini_update
from workers.simulator import Outcome, SimConfig, Simulator, create_app

API_KEY = "sk-test-veo"
PNG = base64.b64decode(EXAMPLE_PNG.split(",", 1)[1])
JPEG = b"\xff\xd8\xff\xe0" + b"last frame" * 8
JPEG_URI = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
IMAGES_HOST = "https://images.example"
SLOW = Outcome(result="succeed", submitted_s=0.3, processing_s=0.6)
veo = Veo()


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(speed=0.001, seed=11, api_key=API_KEY, not_found_polls=0))


@pytest.fixture
def base_url(sim: Simulator) -> Iterator[str]:
    with serving(create_app(sim)) as server:
        yield server.url


def image_host(request: httpx.Request) -> httpx.Response:
    """A stand-in for a tenant's image host (only reachable through the client's mount)."""
    if request.url.path == "/boat.png":
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    if request.url.path == "/moved.png":
        return httpx.Response(302, headers={"location": "/boat.png"})
    if request.url.path == "/sneaky.png":
        return httpx.Response(302, headers={"location": "https://10.0.0.1/boat.png"})
    if request.url.path == "/busy.png":
        return httpx.Response(503)
    if request.url.path == "/page.html":
        return httpx.Response(200, content=b"<html></html>", headers={"content-type": "text/html"})
    return httpx.Response(404)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, mounts={IMAGES_HOST: httpx.MockTransport(image_host)}) as client:
        yield client


@pytest.fixture
def comet(base_url: str) -> Channel:
    return Channel("veo-comet", base_url, api_key=API_KEY)


@pytest.fixture
def gemini(base_url: str) -> Channel:
    return Channel("veo-gemini", base_url, api_key=API_KEY, mode="vendor")


def request(operation: str = "text_to_video", model: str = "veo3-fast", **fields: Any) -> SubmitRequest:
    return SubmitRequest("job-veo", operation, model, {"prompt": "a paper boat", "size": "16x9", **fields})


def ref(external_id: str, operation: str = "text_to_video") -> TaskRef:
    return TaskRef("job-veo", operation, external_id)


def poll_until_terminal(http: httpx.Client, channel: Channel, task: TaskRef) -> list[ProviderUpdate]:
    """Every update whose status differs from the one before, the terminal one last."""
    seen: list[ProviderUpdate] = []

    def terminal() -> bool:
        update = veo.poll(http, channel, task)
        if not seen or seen[-1].status is not update.status:
            seen.append(update)
        return update.status in (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED)

    wait_until(terminal, timeout=10, interval=0.01)
    return seen


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- CometAPI: create --------------------------------------------------------------------------------


def test_veo_cometapi_create_sends_zero_one_or_two_input_references(
    sim: Simulator, http: httpx.Client, comet: Channel
) -> None:
    text = veo.submit(http, comet, request())
    image = veo.submit(http, comet, request("image_to_video", image=EXAMPLE_PNG))
    frames = veo.submit(
        http, comet, request("image_to_video", "veo3.1", image=EXAMPLE_PNG, lastFrame=JPEG_URI)
    )
    tasks = [sim.task(task_id.removeprefix("task_")) for task_id in (text, image, frames)]
    assert all(task_id.startswith("task_") for task_id in (text, image, frames))
    assert [t.operation if t else None for t in tasks] == [
        "text_to_video",
        "image_to_video",
        "image_to_video",
    ]
    assert [t.params["references"] if t else None for t in tasks] == [[], [sha(PNG)], [sha(PNG), sha(JPEG)]]
    assert [t.params["model"] if t else None for t in tasks] == ["veo3-fast", "veo3-fast", "veo3.1"]


def test_veo_cometapi_create_answers_a_queued_video_object(base_url: str) -> None:
    form = {"prompt": (None, "a paper boat"), "model": (None, "veo3"), "size": (None, "9x16")}
    with httpx.Client(base_url=base_url, timeout=5) as client:
        created = client.post("/v1/videos", files=form, headers={"Authorization": f"Bearer {API_KEY}"})
        not_multipart = client.post(
            "/v1/videos", data={"prompt": "x"}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        anonymous = client.post("/v1/videos", files=form)
    assert created.status_code == 200
    body = created.json()
    assert body["id"].startswith("task_")
    assert (body["object"], body["model"], body["status"], body["progress"]) == ("video", "veo3", "queued", 0)
    assert (body["seconds"], body["size"]) == ("", "9x16")
    assert 1_600_000_000 < body["created_at"] < 10_000_000_000  # seconds, not milliseconds
    assert not_multipart.status_code == 400
    assert not_multipart.json()["error"]["message"] == "Content-Type must be multipart/form-data"
    assert anonymous.status_code == 401


@pytest.mark.parametrize("path", ["/boat.png", "/moved.png"])
def test_veo_url_images_are_fetched_and_sent_as_files(
    path: str, sim: Simulator, http: httpx.Client, comet: Channel
) -> None:
    task_id = veo.submit(http, comet, request("image_to_video", image=f"{IMAGES_HOST}{path}"))
    task = sim.task(task_id.removeprefix("task_"))
    assert task is not None
    assert task.params["references"] == [sha(PNG)]


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (f"{IMAGES_HOST}/missing.png", ProviderRejectedError),
        (f"{IMAGES_HOST}/page.html", ProviderRejectedError),
        (f"{IMAGES_HOST}/busy.png", ProviderUnavailableError),
        ("https://127.0.0.1/internal.png", ProviderRejectedError),
        (f"{IMAGES_HOST}/sneaky.png", ProviderRejectedError),  # a redirect to an internal address
        ("http://images.example/boat.png", ProviderRejectedError),
        ("data:image/png;base64,not base64!", ProviderRejectedError),
    ],
)
def test_veo_unusable_images_create_nothing(
    image: str, error: type[Exception], sim: Simulator, http: httpx.Client, comet: Channel
) -> None:
    with pytest.raises(error) as raised:
        veo.submit(http, comet, request("image_to_video", image=image))
    if isinstance(raised.value, ProviderRejectedError):
        assert raised.value.code == "invalid_input"
    assert sim.stats()["veo"].create_attempts == 0


@pytest.mark.parametrize(
    "option", [{"negativePrompt": "blur"}, {"resolution": "1080p"}, {"durationSeconds": 4}]
)
def test_veo_cometapi_refuses_options_it_has_no_field_for(
    option: dict[str, Any], sim: Simulator, http: httpx.Client, comet: Channel
) -> None:
    with pytest.raises(ProviderRejectedError) as raised:
        veo.submit(http, comet, request(**option))
    assert raised.value.code == "invalid_input"
    assert next(iter(option)) in raised.value.message
    assert sim.stats()["veo"].create_attempts == 0


# --- CometAPI: poll and download ---------------------------------------------------------------------


def test_veo_cometapi_poll_queued_in_progress_completed_then_authenticated_download(
    sim: Simulator, http: httpx.Client, comet: Channel, base_url: str
) -> None:
    sim.configure(not_found_polls=1)
    sim.script("veo", [SLOW])
    task_id = veo.submit(http, comet, request())
    first = veo.poll(http, comet, ref(task_id))
    assert (first.status, first.raw_status) == (UpstreamStatus.UNKNOWN, "task_not_exist")
    not_ready = http.get(f"{base_url}/v1/videos/{task_id}/content", headers=dict(veo.download_headers(comet)))
    assert not_ready.status_code == 400
    assert not_ready.json()["error"]["code"] == "video_not_ready"

    seen = poll_until_terminal(http, comet, ref(task_id))
    assert [u.raw_status for u in seen] == ["queued", "in_progress", "completed"]
    assert [u.status for u in seen] == [
        UpstreamStatus.PENDING,
        UpstreamStatus.RUNNING,
        UpstreamStatus.SUCCEEDED,
    ]
    assert seen[0].progress == 0
    assert seen[1].progress is not None
    assert 1 <= seen[1].progress <= 99
    done = seen[-1]
    assert (done.progress, done.external_id) == (100, task_id)
    assert done.result == {"model": "veo3-fast", "seconds": "8", "size": "16x9"}
    (output,) = done.outputs
    assert output.url == f"{base_url}/v1/videos/{task_id}/content"
    assert (output.content_type, output.label, output.authenticated) == ("video/mp4", "video-0", True)

    downloaded = http.get(output.url, headers=dict(veo.download_headers(comet)))
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "video/mp4"
    assert len(downloaded.content) == sim.config.file_size
    assert downloaded.content[4:8] == b"ftyp"
    assert http.get(output.url).status_code == 401
    assert http.get(output.url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_veo_cometapi_progress_rises_while_in_progress(
    sim: Simulator, http: httpx.Client, comet: Channel
) -> None:
    sim.script("veo", [Outcome(result="succeed", submitted_s=0.0, processing_s=1.0)])
    task_id = veo.submit(http, comet, request())
    readings: list[int] = []

    def finished() -> bool:
        update = veo.poll(http, comet, ref(task_id))
        if update.status is UpstreamStatus.RUNNING and update.progress is not None:
            readings.append(update.progress)
        return update.status is UpstreamStatus.SUCCEEDED

    wait_until(finished, timeout=10, interval=0.05)
    assert len(set(readings)) > 2
    assert readings == sorted(readings)


@pytest.mark.parametrize(
    ("outcome", "code", "message"),
    [
        (
            Outcome(result="fail", message="the render farm caught fire"),
            "upstream_failed",
            "the render farm caught fire",
        ),
        (Outcome(result="fail"), "upstream_failed", "internal generation error"),
        (Outcome(result="moderation"), "moderation_blocked", "safety system"),
    ],
)
def test_veo_cometapi_failed_and_moderated_tasks(
    outcome: Outcome,
    code: str,
    message: str,
    sim: Simulator,
    http: httpx.Client,
    comet: Channel,
    base_url: str,
) -> None:
    sim.script("veo", [outcome])
    task_id = veo.submit(http, comet, request())
    final = poll_until_terminal(http, comet, ref(task_id))[-1]
    assert (final.status, final.raw_status, final.error_code) == (UpstreamStatus.FAILED, "failed", code)
    assert final.error_message is not None
    assert message in final.error_message
    assert final.outputs == ()
    content = http.get(f"{base_url}/v1/videos/{task_id}/content", headers=dict(veo.download_headers(comet)))
    assert content.status_code == 400


def test_veo_cometapi_unknown_task_is_not_found_not_failed(http: httpx.Client, comet: Channel) -> None:
    update = veo.poll(http, comet, ref("task_does_not_exist"))
    assert (update.status, update.raw_status) == (UpstreamStatus.UNKNOWN, "task_not_exist")


# --- Gemini (vendor mode) --------------------------------------------------------------------------


def test_veo_gemini_end_to_end_with_the_wrapper_and_done_absent(
    sim: Simulator, http: httpx.Client, gemini: Channel, base_url: str
) -> None:
    sim.script("veo", [SLOW])
    name = veo.submit(
        http, gemini, request(model="veo3", negativePrompt="blur", personGeneration="allow_adult")
    )
    assert name.startswith("models/veo-3.0-generate-001/operations/")  # the alias, translated
    task = sim.task(name.rsplit("/", 1)[1])
    assert task is not None
    assert task.params["aspectRatio"] == "16:9"
    assert (task.params["durationSeconds"], task.params["negativePrompt"]) == (8, "blur")

    headers = dict(veo.download_headers(gemini))
    assert headers == {"x-goog-api-key": API_KEY}
    raw = http.get(f"{base_url}/v1beta/{name}", headers=headers).json()
    assert raw == {"name": name}  # queued: `done` is absent
    seen = poll_until_terminal(http, gemini, ref(name))
    assert [u.status for u in seen] == [UpstreamStatus.RUNNING, UpstreamStatus.SUCCEEDED]
    assert seen[0].progress is None  # Google reports none: the orchestrator shows stage progress
    done = seen[-1]
    raw = http.get(f"{base_url}/v1beta/{name}", headers=headers).json()
    assert raw["done"] is True
    assert "generatedSamples" in raw["response"]["generateVideoResponse"]
    (output,) = done.outputs
    assert output.url.startswith(f"{base_url}/v1beta/files/")
    assert output.url.endswith(":download?alt=media")
    assert (output.label, output.authenticated, done.external_id) == ("video-0", True, name)

    video = http.get(output.url, headers=headers, follow_redirects=True)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert len(video.content) == sim.config.file_size
    assert http.get(output.url, follow_redirects=True).status_code == 403


def test_veo_gemini_through_a_proxy_without_the_wrapper(
    sim: Simulator, http: httpx.Client, base_url: str
) -> None:
    proxy = Channel("veo-proxy", f"{base_url}/gemini-proxy", api_key=API_KEY, mode="vendor")
    sim.script("veo", [Outcome(result="succeed", submitted_s=0.0, processing_s=0.6)])
    name = veo.submit(http, proxy, request(model="veo-3.1-fast-generate-preview"))
    assert name.startswith("operations/")
    headers = dict(veo.download_headers(proxy))
    running = http.get(f"{proxy.base_url}/v1beta/{name}", headers=headers).json()
    assert running["done"] is False
    seen = poll_until_terminal(http, proxy, ref(name))
    assert seen[0].status is UpstreamStatus.RUNNING
    assert seen[0].progress is not None  # the proxy's metadata.progressPercent
    raw = http.get(f"{proxy.base_url}/v1beta/{name}", headers=headers).json()
    assert "generateVideoResponse" not in raw["response"]
    assert raw["response"]["generatedSamples"]
    (output,) = seen[-1].outputs
    assert output.authenticated
    assert http.get(output.url, headers=headers, follow_redirects=True).status_code == 200


def test_veo_gemini_first_and_last_frame(sim: Simulator, http: httpx.Client, gemini: Channel) -> None:
    submitted = request("image_to_video", model="veo3.1", size="9x16", image=EXAMPLE_PNG, lastFrame=JPEG_URI)
    name = veo.submit(http, gemini, submitted)
    task = sim.task(name.rsplit("/", 1)[1])
    assert task is not None
    assert task.operation == "image_to_video"
    assert task.params["references"] == [sha(PNG), sha(JPEG)]
    assert (task.params["aspectRatio"], task.params["durationSeconds"]) == ("9:16", 8)
    assert task.params["model"] == "veo-3.1-generate-preview"


def test_veo_gemini_moderation_and_failure(sim: Simulator, http: httpx.Client, gemini: Channel) -> None:
    sim.script("veo", [Outcome(result="moderation"), Outcome(result="fail", message="deadline exceeded")])
    moderated = poll_until_terminal(http, gemini, ref(veo.submit(http, gemini, request())))[-1]
    failed = poll_until_terminal(http, gemini, ref(veo.submit(http, gemini, request())))[-1]
    assert (moderated.status, moderated.error_code) == (UpstreamStatus.FAILED, "moderation_blocked")
    assert moderated.error_message is not None
    assert "Responsible AI" in moderated.error_message
    assert (failed.status, failed.error_code) == (UpstreamStatus.FAILED, "upstream_failed")
    assert failed.error_message == "deadline exceeded"


def test_veo_gemini_refusals(sim: Simulator, http: httpx.Client, gemini: Channel, base_url: str) -> None:
    with pytest.raises(ProviderRejectedError) as unknown_model:
        veo.submit(http, gemini, request(model="veo-9"))
    with pytest.raises(ProviderRejectedError) as bad_duration:
        veo.submit(http, gemini, request(model="veo-2.0-generate-001", durationSeconds=4))
    wrong_key = Channel("veo-gemini", base_url, api_key="not-the-key", mode="vendor")
    with pytest.raises(ProviderUnavailableError):  # our channel's problem, not the tenant's
        veo.submit(http, wrong_key, request())
    assert unknown_model.value.code == bad_duration.value.code == "invalid_input"
    assert "durationSeconds" in bad_duration.value.message
    assert sim.stats()["veo"].creates == 0
    assert veo.poll(http, gemini, ref("models/veo3/operations/404")).status is UpstreamStatus.UNKNOWN


# --- submit faults, both flavours --------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["comet", "gemini"])
def test_veo_rate_limit_is_retryable(
    flavour: str, sim: Simulator, http: httpx.Client, request_channel: Callable[[str], Channel], base_url: str
) -> None:
    sim.configure(rate_limit_rate=1.0)
    channel = request_channel(flavour)
    with pytest.raises(ProviderUnavailableError) as raised:
        veo.submit(http, channel, request(model="veo3"))
    assert raised.value.retry_after == 1.0
    assert sim.stats()["veo"].creates == 0
    if flavour == "gemini":
        answer = http.post(
            f"{base_url}/v1beta/models/veo-3.0-generate-001:predictLongRunning",
            json={"instances": [{"prompt": "x"}]},
            headers={"x-goog-api-key": API_KEY},
        )
        assert answer.status_code == 429
        assert answer.json()["error"] == {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }


@pytest.mark.parametrize("flavour", ["comet", "gemini"])
def test_veo_overload_and_lost_answers(
    flavour: str, sim: Simulator, request_channel: Callable[[str], Channel]
) -> None:
    channel = request_channel(flavour)
    sim.configure(submit_error_rate=1.0)
    with httpx.Client(timeout=0.5) as http, pytest.raises(ProviderUnavailableError):
        veo.submit(http, channel, request())
    sim.configure(submit_error_rate=0.0, read_timeout_rate=1.0, stall_s=3.0)
    with httpx.Client(timeout=0.3) as http, pytest.raises(SubmitOutcomeUnknownError):
        veo.submit(http, channel, request())
    assert sim.stats()["veo"].creates == 1  # the answer was lost, the task was not


@pytest.fixture
def request_channel(comet: Channel, gemini: Channel) -> Callable[[str], Channel]:
    return {"comet": comet, "gemini": gemini}.__getitem__


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            httpx.Response(429, json={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
            ProviderUnavailableError,
        ),
        (httpx.Response(503, text="upstream overloaded"), ProviderUnavailableError),
        (httpx.Response(200, text="<html>not json</html>"), ProviderUnavailableError),
    ],
)
def test_veo_query_errors_are_retryable(answer: httpx.Response, error: type[Exception]) -> None:
    channel = Channel("veo", "https://veo.example", api_key=API_KEY)
    with httpx.Client(transport=httpx.MockTransport(lambda _: answer)) as http, pytest.raises(error):
        veo.poll(http, channel, ref("task_1"))


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            400,
            {"error": {"message": "prompt violates the content policy"}},
            ProviderRejectedError,
            "moderation_blocked",
        ),
        (
            400,
            {"error": {"message": "size must be 16x9", "code": "invalid_request"}},
            ProviderRejectedError,
            "invalid_input",
        ),
        (
            500,
            {"error": {"message": "model name is required", "code": "invalid_request"}},
            ProviderRejectedError,
            "invalid_input",
        ),
        (502, {}, SubmitOutcomeUnknownError, None),
        (200, {"object": "video"}, SubmitOutcomeUnknownError, None),  # created, but its id is lost
        (401, {"error": {"message": "Invalid token"}}, ProviderUnavailableError, None),
    ],
)
def test_veo_submit_errors_by_status(
    status: int, body: dict[str, Any], error: type[Exception], code: str | None
) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json=body))
    channel = Channel("veo", "https://veo.example", api_key=API_KEY)
    with httpx.Client(transport=transport) as http, pytest.raises(error) as raised:
        veo.submit(http, channel, request())
    assert getattr(raised.value, "code", None) == code


# --- pure readers -----------------------------------------------------------------------------------


def test_veo_unknown_status_keeps_waiting() -> None:
    update = comet_update(CometVideo.model_validate({"id": "task_1", "status": "rendering"}), "https://c")
    assert (update.status, update.raw_status, update.outputs) == (UpstreamStatus.UNKNOWN, "rendering", ())
    assert veo.status_map["queued"] is UpstreamStatus.PENDING
    assert veo.status_map.get("something_new", UpstreamStatus.UNKNOWN) is UpstreamStatus.UNKNOWN


def test_veo_cometapi_result_links_and_progress_are_read_tolerantly() -> None:
    base = "https://api.cometapi.com"
    public = comet_update(
        CometVideo.model_validate(
            {"id": "task_1", "status": "completed", "metadata": {"url": "https://cdn.example/v.mp4"}}
        ),
        base,
    )
    (output,) = public.outputs
    assert (output.url, output.authenticated) == ("https://cdn.example/v.mp4", False)  # never send our key
    proxied = comet_update(
        CometVideo.model_validate({"id": "task_2", "status": "completed", "video_url": f"{base}/v/2.mp4"}),
        base,
    )
    assert proxied.outputs[0].authenticated
    running = comet_update(
        CometVideo.model_validate({"id": "task_3", "status": "in_progress", "progress": "58%"}), base
    )
    assert running.progress == 58


def test_veo_gemini_operation_shapes() -> None:
    base = "https://generativelanguage.googleapis.com"
    uri = f"{base}/v1beta/files/abc:download?alt=media"
    wrapped = {
        "done": True,
        "response": {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}},
    }
    flat = {"done": True, "response": {"generatedSamples": [{"video": {"uri": uri}}]}}
    vertex = {
        "done": True,
        "response": {
            "videos": [
                {"gcsUri": "gs://bucket/v.mp4", "mimeType": "video/mp4"},
                {"bytesBase64Encoded": "AAAA"},
            ]
        },
    }
    for body in (wrapped, flat):
        (output,) = gemini_update(
            GeminiOperation.model_validate({"name": "operations/1", **body}), base
        ).outputs
        assert (output.url, output.authenticated) == (uri, True)
    first, second = gemini_update(GeminiOperation.model_validate(vertex), base).outputs
    assert (first.url, first.authenticated) == ("https://storage.googleapis.com/bucket/v.mp4", False)
    assert second.url == "data:video/mp4;base64,AAAA"
    assert (
        gemini_update(GeminiOperation.model_validate({"name": "operations/1"}), base).status
        is UpstreamStatus.RUNNING
    )
    progress = gemini_update(GeminiOperation.model_validate({"metadata": {"progressPercent": 40}}), base)
    assert progress.progress == 40
    rai = {
        "done": True,
        "response": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["celebrity likeness"]},
    }
    blocked = gemini_update(GeminiOperation.model_validate(rai), base)
    assert (blocked.error_code, blocked.error_message) == ("moderation_blocked", "celebrity likeness")
    error = {"done": True, "error": {"code": 3, "message": "bad image", "status": "INVALID_ARGUMENT"}}
    failed = gemini_update(GeminiOperation.model_validate(error), base)
    assert (failed.status, failed.error_code, failed.error_message) == (
        UpstreamStatus.FAILED,
        "upstream_failed",
        "bad image",
    )
    empty = gemini_update(GeminiOperation.model_validate({"done": True, "response": {}}), base)
    assert (empty.status, empty.error_code) == (UpstreamStatus.FAILED, "upstream_failed")


def test_veo_has_no_callbacks_lookup_or_cancel(http: httpx.Client, comet: Channel) -> None:
    assert PROVIDERS["veo"].sends_callbacks is False
    assert PROVIDERS["veo"].finds_by_job_id is False
    with pytest.raises(InvalidCallbackError):
        veo.parse_callback(b'{"id": "task_1", "status": "completed"}')
    with pytest.raises(ProviderRejectedError):
        veo.find(http, comet, "job-veo", "text_to_video")
    with pytest.raises(ProviderRejectedError):
        veo.cancel(http, comet, ref("task_1"))


def test_veo_routes_leave_klings_vendor_routes_alone(
    sim: Simulator, http: httpx.Client, base_url: str
) -> None:
    vendor = Channel("kling", base_url, api_key=API_KEY, mode="vendor", secret_key=SimConfig().secret_key)
    answer = http.get(
        f"{base_url}/v1/videos/text2video/123456789012345678", headers=kling_auth_headers(vendor)
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == 1203  # Kling's envelope, not Veo's


# --- the unified input --------------------------------------------------------------------------------


def test_veo_input_normalises_and_checks() -> None:
    text = VeoTextToVideoInput.model_validate({"prompt": "x", "aspectRatio": "9:16", "durationSeconds": "6"})
    assert (text.size, text.durationSeconds) == ("9x16", 6)
    assert VeoTextToVideoInput.model_validate({"prompt": "x", "size": "16:9"}).size == "16x9"
    frames = VeoImageToVideoInput.model_validate(
        {"prompt": "x", "image": EXAMPLE_PNG, "last_frame": JPEG_URI}
    )
    assert frames.lastFrame == JPEG_URI
    assert frames.model_dump(exclude_none=True)["durationSeconds"] == 8  # always there to price by
    bad = [
        {"prompt": "x", "image": EXAMPLE_PNG, "lastFrame": JPEG_URI, "durationSeconds": 6},
        {"prompt": "x", "image": "http://example.com/a.png"},
        {"prompt": "x", "image": "data:image/png;base64,!!!"},
        {"prompt": "x", "image": "data:text/plain;base64,AAAA"},
        {"prompt": "x", "image": EXAMPLE_PNG, "durationSeconds": 5},
        {"prompt": "", "image": EXAMPLE_PNG},
        {"prompt": "x", "image": EXAMPLE_PNG, "model": "veo3"},
    ]
    for raw in bad:
        with pytest.raises(ValidationError):
            VeoImageToVideoInput.model_validate(raw)
