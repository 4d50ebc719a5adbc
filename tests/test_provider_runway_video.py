"""Runway's video operations (text_to_video, video_to_video, video_upscale, character_performance): the
adapter against the simulator over real HTTP, follow-ups that take an earlier task's output (read afresh
from Runway), the simulator's refusals (version header, veo3's one length, an expired asset link), and
the inputs and prices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from orchestrator.errors import UnpricedModelError
from orchestrator.pricing import load_price_table
from tests.services import wait_until
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderRejectedError
from workers.providers.runway.adapter import Runway
from workers.providers.runway.followup import media_of
from workers.providers.runway.schemas import RUNWAY_VERSION
from workers.providers.runway.schemas_video import (
    RunwayCharacterPerformanceInput,
    RunwayTextToVideoInput,
    RunwayVideoToVideoInput,
    RunwayVideoUpscaleInput,
)
from workers.simulator import Outcome, Simulator

RUNWAY = Runway()
VIDEO = "https://example.com/boat.mp4"
PERFORMANCE = {"type": "video", "uri": "https://example.com/performance.mp4"}
# Each operation, a model it runs, its input, and what the simulator must receive besides it.
OPERATIONS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "text_to_video": ("veo3.1_fast", {"promptText": "a paper boat", "duration": 4}, {"ratio": "1280:720"}),
    "video_to_video": (
        "gen4_aleph",
        {"videoUri": VIDEO, "promptText": "make it snow"},
        {"ratio": "1280:720"},
    ),
    "video_upscale": ("upscale_v1", {"videoUri": VIDEO}, {}),
    "character_performance": (
        "act_two",
        {"character": {"type": "image", "uri": "https://example.com/keeper.png"}, "reference": PERFORMANCE},
        {},
    ),
}


@pytest.fixture
def channel(simulator: Simulator, simulator_url: str) -> Channel:
    return Channel("runway-sim", simulator_url, api_key=simulator.config.api_key)


@pytest.fixture
def raw(simulator: Simulator, simulator_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {simulator.config.api_key}", "X-Runway-Version": RUNWAY_VERSION}
    with httpx.Client(base_url=simulator_url, headers=headers, timeout=5) as client:
        yield client


def request(operation: str, job_input: dict[str, Any], model: str, **parent: Any) -> SubmitRequest:
    parsed = RUNWAY.operations[operation].model_validate(job_input)
    stored = parsed.model_dump(mode="json", exclude_none=True)  # as the core keeps a job's input
    return SubmitRequest(f"job-{operation}", operation, model, stored, **parent)


def finished(http: httpx.Client, channel: Channel, task_id: str, operation: str) -> ProviderUpdate:
    ref = TaskRef("job", operation, task_id)

    def ended() -> ProviderUpdate | None:
        update = RUNWAY.poll(http, channel, ref)
        return update if update.status in (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED) else None

    result: ProviderUpdate = wait_until(ended)
    return result


def made(http: httpx.Client, channel: Channel, operation: str) -> tuple[str, ProviderUpdate]:
    """A succeeded task of `operation` (text_to_image included), and its last update."""
    model, job_input, _ = OPERATIONS.get(operation) or ("gen4_image", {"promptText": "a keeper"}, {})
    task_id = RUNWAY.submit(http, channel, request(operation, job_input, model))
    done = finished(http, channel, task_id, operation)
    assert done.status is UpstreamStatus.SUCCEEDED
    return task_id, done


def sent(simulator: Simulator, task_id: str) -> dict[str, Any]:
    task = simulator.task_by_external_id(task_id, provider="runway")
    assert task is not None
    return dict(task.params)


def file_of(url: str) -> str:
    """`<task id>/<index>.<kind>` of a simulator file link."""
    return httpx.URL(url).path.removeprefix("/_sim/files/")


# --- each operation against the simulator -----------------------------------------------------


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_runway_video_operation_submits_and_polls_to_a_stored_video(
    operation: str, simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    model, job_input, defaults = OPERATIONS[operation]
    task_id = RUNWAY.submit(http, channel, request(operation, job_input, model))
    expected = request(operation, job_input, model).input
    assert sent(simulator, task_id) == {**expected, "model": model, **defaults}
    done = finished(http, channel, task_id, operation)
    assert (done.status, done.raw_status, done.progress, done.external_id) == (
        UpstreamStatus.SUCCEEDED,
        "SUCCEEDED",
        100,
        task_id,
    )
    (output,) = done.outputs
    assert (output.content_type, output.label) == ("video/mp4", "video-0")
    assert done.result == {"media": "video"}  # what a follow-up reads of its parent
    download = http.get(output.url)
    assert (download.status_code, download.headers["content-type"]) == (200, "video/mp4")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(
    ("outcome", "code", "failure_code"),
    [
        (Outcome(result="moderation"), "moderation_blocked", "SAFETY.INPUT.TEXT"),
        (Outcome(result="fail", message="SAFETY.INPUT.VIDEO: a public figure"), "moderation_blocked", None),
        (Outcome(result="fail"), "upstream_failed", "INTERNAL.BAD_OUTPUT.CODE01"),
    ],
)
def test_runway_video_operation_failures(
    operation: str,
    outcome: Outcome,
    code: str,
    failure_code: str | None,
    simulator: Simulator,
    http: httpx.Client,
    channel: Channel,
) -> None:
    simulator.script("runway", [outcome])
    model, job_input, _ = OPERATIONS[operation]
    done = finished(
        http, channel, RUNWAY.submit(http, channel, request(operation, job_input, model)), operation
    )
    assert (done.status, done.error_code, done.outputs) == (UpstreamStatus.FAILED, code, ())
    assert done.result == {"failure_code": failure_code or "SAFETY.INPUT.VIDEO"}
    assert done.error_message


# --- follow-ups ----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["video_to_video", "video_upscale"])
def test_runway_follow_up_sends_a_fresh_link_of_the_parents_video(
    operation: str, simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.configure(url_ttl_s=-10)  # every link the parent's task hands out has already expired
    parent_id, parent = made(http, channel, "text_to_video")
    stale = parent.outputs[0].url
    simulator.configure(url_ttl_s=3600)
    model, job_input, _ = OPERATIONS[operation]
    follow_up = {k: v for k, v in job_input.items() if k != "videoUri"} | {"parent_job_id": "job-parent"}
    parent_ref = {"parent_external_id": parent_id, "parent_result": parent.result}
    task_id = RUNWAY.submit(http, channel, request(operation, follow_up, model, **parent_ref))
    body = sent(simulator, task_id)
    assert "parent_job_id" not in body  # ours alone, never sent upstream
    assert body["videoUri"] != stale
    assert file_of(body["videoUri"]) == file_of(stale) == f"{sent_task_id(simulator, parent_id)}/0.mp4"
    assert http.get(body["videoUri"]).status_code == 200
    assert finished(http, channel, task_id, operation).status is UpstreamStatus.SUCCEEDED


def sent_task_id(simulator: Simulator, external_id: str) -> str:
    task = simulator.task_by_external_id(external_id, provider="runway")
    assert task is not None
    return task.task_id


def test_runway_simulator_refuses_an_expired_link_of_its_own(
    simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    simulator.configure(url_ttl_s=-10)
    _, parent = made(http, channel, "text_to_video")
    stale = parent.outputs[0].url
    # As a client's input never could (ours takes HTTPS only), but the stale link of a stored parent would.
    job_input = {"videoUri": stale, "promptText": "make it snow"}
    with pytest.raises(ProviderRejectedError) as caught:
        RUNWAY.submit(http, channel, SubmitRequest("job-v2v", "video_to_video", "gen4_aleph", job_input))
    assert caught.value.code == "invalid_input"
    assert "videoUri: the asset could not be fetched (the link expired)" in caught.value.message
    forged = stale.replace("sig=", "sig=0")
    with pytest.raises(ProviderRejectedError, match="signature"):
        RUNWAY.submit(
            http, channel, SubmitRequest("job-up", "video_upscale", "upscale_v1", {"videoUri": forged})
        )
    assert simulator.stats()["runway"].rejected == {"invalid_params": 2}


@pytest.mark.parametrize(
    ("parent_operation", "media", "kind"),
    [("text_to_image", "image", "png"), ("video_upscale", "video", "mp4")],
)
def test_runway_act_two_takes_the_parents_output_as_its_character(
    parent_operation: str, media: str, kind: str, simulator: Simulator, http: httpx.Client, channel: Channel
) -> None:
    parent_id, parent = made(http, channel, parent_operation)
    follow_up = {"parent_job_id": "job-parent", "reference": PERFORMANCE, "bodyControl": True}
    parent_ref = {"parent_external_id": parent_id, "parent_result": parent.result}
    task_id = RUNWAY.submit(
        http, channel, request("character_performance", follow_up, "act_two", **parent_ref)
    )
    body = sent(simulator, task_id)
    assert body["character"]["type"] == media
    assert file_of(body["character"]["uri"]) == f"{sent_task_id(simulator, parent_id)}/0.{kind}"
    assert (body["reference"], body["bodyControl"], body["model"]) == (PERFORMANCE, True, "act_two")
    assert finished(http, channel, task_id, "character_performance").status is UpstreamStatus.SUCCEEDED


def test_runway_follow_up_refusals(
    simulator: Simulator, raw: httpx.Client, http: httpx.Client, channel: Channel
) -> None:
    image_id, image = made(http, channel, "text_to_image")
    upscale = {"parent_job_id": "job-parent"}
    with pytest.raises(ProviderRejectedError, match="needs a video; the parent made an image") as caught:
        RUNWAY.submit(
            http,
            channel,
            request(
                "video_upscale",
                upscale,
                "upscale_v1",
                parent_external_id=image_id,
                parent_result=image.result,
            ),
        )
    assert caught.value.code == "invalid_input"

    video_id, video = made(http, channel, "text_to_video")
    assert raw.delete(f"/runwayml/v1/tasks/{video_id}").status_code == 204  # Runway deletes a finished task
    with pytest.raises(ProviderRejectedError, match="gone upstream"):
        RUNWAY.submit(
            http,
            channel,
            request(
                "video_upscale",
                upscale,
                "upscale_v1",
                parent_external_id=video_id,
                parent_result=video.result,
            ),
        )
    with pytest.raises(ProviderRejectedError, match="upstream task id"):
        RUNWAY.submit(http, channel, request("video_upscale", upscale, "upscale_v1"))
    creates = simulator.stats()["runway"].creates
    assert creates == 2  # the two parents; no follow-up reached Runway


def test_runway_parent_media_from_the_result_or_the_link() -> None:
    assert media_of("https://cdn.example/x.mp4", {"media": "image"}) == "image"  # the result decides
    assert media_of("https://cdn.example/x.PNG?_jwt=1", None) == "image"  # a job older than `media`
    assert media_of("https://cdn.example/x.jpeg", {}) == "image"
    assert media_of("https://cdn.example/x?format=png", None) == "video"  # the path decides, not the query
    assert media_of("https://cdn.example/x.mp4", {"failure_code": "X"}) == "video"


# --- the simulator's wire rules ------------------------------------------------------------------


def test_runway_simulator_video_routes_require_the_version_header(
    simulator: Simulator, raw: httpx.Client
) -> None:
    for operation, (model, job_input, _) in OPERATIONS.items():
        body = {**request(operation, job_input, model).input, "model": model}
        refused = raw.post(f"/runwayml/v1/{operation}", json=body, headers={"X-Runway-Version": ""})
        assert (refused.status_code, refused.json()) == (
            400,
            {"error": "X-Runway-Version header must be 2024-11-06, not ''"},
        )
        accepted = raw.post(f"/runwayml/v1/{operation}", json=body)
        assert accepted.status_code == 200, accepted.text
        assert set(accepted.json()) == {"id"}
        assert raw.post(f"/v1/{operation}", json=body).status_code == 200  # Runway's own host
    assert simulator.stats()["runway"].rejected == {"bad_version": 4}


def test_runway_simulator_video_bodies_are_checked(simulator: Simulator, raw: httpx.Client) -> None:
    def error(path: str, body: dict[str, Any]) -> str:
        response = raw.post(f"/runwayml/v1/{path}", json=body)
        assert response.status_code == 400, response.text
        message: str = response.json()["error"]
        return message

    assert error("text_to_video", {"model": "veo3", "promptText": "x", "duration": 4}) == (
        "duration: veo3 makes 8-second videos only"
    )
    assert (
        raw.post(
            "/runwayml/v1/text_to_video", json={"model": "veo3.1", "promptText": "x", "duration": 4}
        ).status_code
        == 200
    )
    assert error("video_to_video", {"model": "gen4_aleph", "promptText": "x"}) == "videoUri: Required"
    assert error("video_upscale", {"model": "upscale_v1", "parent_job_id": "x"}).startswith(
        "videoUri: Required"
    )
    assert error("video_upscale", {"videoUri": VIDEO}) == "model: Required"
    act_two = {"model": "act_two", "character": {"type": "audio", "uri": VIDEO}, "reference": PERFORMANCE}
    assert error("character_performance", act_two).startswith("character:")


# --- inputs and prices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (RunwayTextToVideoInput, {"promptText": "x", "duration": 5}),
        (RunwayTextToVideoInput, {"promptText": "x", "ratio": "1280:768"}),
        (RunwayTextToVideoInput, {"promptText": "x" * 1001}),
        (RunwayTextToVideoInput, {"duration": 8}),
        (RunwayVideoToVideoInput, {"promptText": "x"}),
        (RunwayVideoToVideoInput, {"videoUri": VIDEO, "parent_job_id": "j", "promptText": "x"}),
        (RunwayVideoToVideoInput, {"videoUri": "http://example.com/a.mp4", "promptText": "x"}),
        (RunwayVideoToVideoInput, {"videoUri": "data:image/png;base64,AAAA", "promptText": "x"}),
        (RunwayVideoToVideoInput, {"videoUri": VIDEO}),
        (RunwayVideoToVideoInput, {"videoUri": VIDEO, "promptText": "x", "seed": -1}),
        (RunwayVideoToVideoInput, {"videoUri": VIDEO, "promptText": "x", "parentJobId": "j"}),
        (RunwayVideoUpscaleInput, {}),
        (RunwayVideoUpscaleInput, {"parent_job_id": ""}),
        (RunwayCharacterPerformanceInput, {"reference": PERFORMANCE}),
        (RunwayCharacterPerformanceInput, {"character": {"type": "image", "uri": VIDEO}}),
        (
            RunwayCharacterPerformanceInput,
            {"parent_job_id": "j", "reference": PERFORMANCE, "expressionIntensity": 6},
        ),
        (
            RunwayCharacterPerformanceInput,
            {"character": {"type": "video", "uri": VIDEO}, "parent_job_id": "j", "reference": PERFORMANCE},
        ),
    ],
)
def test_runway_video_inputs_refuse(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_runway_video_inputs_keep_runway_names() -> None:
    video = RunwayVideoToVideoInput.model_validate(
        {
            "parent_job_id": "j",
            "promptText": "x",
            "references": [{"uri": "https://example.com/a.png"}],
            "contentModeration": {"publicFigureThreshold": "low"},
        }
    )
    assert video.model_dump(mode="json", exclude_none=True) == {
        "promptText": "x",
        "references": [{"type": "image", "uri": "https://example.com/a.png"}],
        "contentModeration": {"publicFigureThreshold": "low"},
        "parent_job_id": "j",
    }
    veo = RunwayTextToVideoInput.model_validate({"promptText": "x", "duration": "6", "audio": False})
    assert veo.model_dump(mode="json", exclude_none=True) == {
        "promptText": "x",
        "duration": 6,
        "audio": False,
    }


def test_runway_video_prices() -> None:
    prices = load_price_table()

    def listed(operation: str, model: str, job_input: dict[str, Any]) -> str:
        parsed = (
            RUNWAY.operations[operation].model_validate(job_input).model_dump(mode="json", exclude_none=True)
        )
        micros = prices.list_price("runway", operation, model, parsed)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}".rstrip("0")

    assert listed("text_to_video", "veo3", {"promptText": "x"}) == "3.2"
    assert listed("text_to_video", "veo3.1", {"promptText": "x", "duration": 6}) == "2.4"
    assert listed("text_to_video", "veo3.1", {"promptText": "x", "duration": 6, "audio": False}) == "1.2"
    assert listed("text_to_video", "veo3.1_fast", {"promptText": "x", "duration": 4}) == "0.6"
    assert listed("text_to_video", "veo3.1_fast", {"promptText": "x", "audio": False}) == "0.8"
    assert listed("video_to_video", "gen4_aleph", {"videoUri": VIDEO, "promptText": "x"}) == "0.75"
    assert listed("video_upscale", "upscale_v1", {"parent_job_id": "j"}) == "0.2"
    assert (
        listed("character_performance", "act_two", {"parent_job_id": "j", "reference": PERFORMANCE}) == "0.5"
    )
    with pytest.raises(UnpricedModelError, match="no price for runway text_to_video veo3"):
        listed("text_to_video", "veo3", {"promptText": "x", "duration": 4})
