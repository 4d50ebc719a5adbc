"""Midjourney's video (and its extension) and editor: the adapter against the simulator over real HTTP
(the bodies sent, four stored videos, an extension of one of them, an edit's grid and buttons, a
video's U1-U4), the simulator's refusals in the proxy's codes, the inputs and the prices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from orchestrator.pricing import load_price_table
from tests.services import serving, wait_until
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderRejectedError
from workers.providers.midjourney.adapter import Midjourney
from workers.providers.midjourney.schemas import PNG_1X1, action_kind
from workers.providers.midjourney.schemas_video_edits import MidjourneyEditsInput, MidjourneyVideoInput
from workers.simulator import Outcome, SimConfig, Simulator, create_app

API_KEY = "sk-test-midjourney"
MJ = Midjourney()
MODEL = "midjourney-v7"
FRAME = "https://example.com/boat.png"
VIDEO_LABELS = ["image", "video-0", "video-1", "video-2", "video-3"]


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(speed=0.0, seed=11, api_key=API_KEY, not_found_polls=0))


@pytest.fixture
def channel(sim: Simulator) -> Iterator[Channel]:
    with serving(create_app(sim)) as server:
        yield Channel("mj-sim", server.url, api_key=API_KEY)


@pytest.fixture
def raw(channel: Channel) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=channel.base_url, headers=headers, timeout=5) as client:
        yield client


def job(
    operation: str, job_id: str = "job-1", *, parent: ProviderUpdate | None = None, **fields: Any
) -> SubmitRequest:
    """A job as the core hands it over; a follow-up's parent as the core read it from its stored job."""
    stored = MJ.operations[operation].model_validate(fields).model_dump(mode="json", exclude_none=True)
    if parent is None:
        return SubmitRequest(job_id, operation, MODEL, stored)
    return SubmitRequest(
        job_id, operation, MODEL, stored, parent_external_id=parent.external_id, parent_result=parent.result
    )


def finished(http: httpx.Client, channel: Channel, task_id: str) -> ProviderUpdate:
    ref = TaskRef("-", "-", task_id)

    def ended() -> ProviderUpdate | None:
        update = MJ.poll(http, channel, ref)
        return update if update.status in (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED) else None

    result: ProviderUpdate = wait_until(ended, timeout=10)
    return result


def run(http: httpx.Client, channel: Channel, request: SubmitRequest) -> ProviderUpdate:
    done = finished(http, channel, MJ.submit(http, channel, request))
    assert done.status is UpstreamStatus.SUCCEEDED, done.error_message
    return done


def sent(sim: Simulator, task_id: str | None) -> dict[str, Any]:
    task = sim.task(str(task_id))
    assert task is not None
    return dict(task.params)


def labels(update: ProviderUpdate) -> list[str]:
    assert update.result is not None
    return [str(button["label"]) for button in update.result["buttons"]]


def press(http: httpx.Client, channel: Channel, parent: ProviderUpdate, label: str) -> ProviderUpdate:
    assert parent.result is not None
    custom_id = next(str(b["customId"]) for b in parent.result["buttons"] if b["label"] == label)
    return run(
        http, channel, job("action", f"job-{label}", parent=parent, parent_job_id="p", custom_id=custom_id)
    )


# --- video ---------------------------------------------------------------------------------------


def test_midjourney_video_makes_four_stored_videos(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    video = run(http, channel, job("video", "job-video", motion="low", image=FRAME, prompt="the boat drifts"))
    assert sent(sim, video.external_id) == {
        "motion": "low",
        "image": FRAME,
        "prompt": "the boat drifts",
        "state": "job-video",
    }
    assert [o.label for o in video.outputs] == VIDEO_LABELS
    assert {o.content_type for o in video.outputs[1:]} == {"video/mp4"}
    for output in video.outputs:
        assert http.get(output.url).status_code == 200
    assert video.result is not None
    assert (video.result["action"], video.result["videos"]) == ("VIDEO", 4)
    assert labels(video) == ["U1", "U2", "U3", "U4"]


def test_midjourney_video_extension_continues_one_of_the_parents_videos(
    sim: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    parent = run(http, channel, job("video", "job-parent", motion="low", image=PNG_1X1))
    assert sent(sim, parent.external_id)["image"] == PNG_1X1  # a data URL goes as it is
    extended = run(
        http, channel, job("video", "job-extend", parent=parent, parent_job_id="p", index=2, motion="high")
    )
    assert sent(sim, extended.external_id) == {
        "motion": "high",
        "action": "extend",
        "taskId": parent.external_id,
        "index": 2,
        "state": "job-extend",
    }
    assert [o.label for o in extended.outputs] == VIDEO_LABELS
    # The peers' spellings of the same call: `task_id`, a string index.
    peer = raw.post(
        "/mj/submit/video",
        json={"action": "extend", "task_id": parent.external_id, "index": "3", "motion": "low"},
    )
    assert peer.json()["code"] == 1


def test_midjourney_video_extension_index_is_checked_before_sending(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    parent = run(http, channel, job("video", "job-parent", motion="low", image=FRAME))
    assert parent.result is not None
    one_video = ProviderUpdate(
        parent.status,
        parent.raw_status,
        external_id=parent.external_id,
        result={**parent.result, "videos": 1},
    )
    creates = sim.stats()["midjourney"].creates
    with pytest.raises(
        ProviderRejectedError, match=r"index 1: the parent made 1 videos \(0 to 0\)"
    ) as caught:
        MJ.submit(http, channel, job("video", parent=one_video, parent_job_id="p", index=1, motion="low"))
    assert caught.value.code == "invalid_input"
    assert sim.stats()["midjourney"].creates == creates


def test_midjourney_simulator_refuses_bad_video_submits(
    sim: Simulator, http: httpx.Client, channel: Channel, raw: httpx.Client
) -> None:
    image = run(http, channel, job("imagine", "job-grid", prompt="a boat"))
    video = run(http, channel, job("video", "job-video", motion="low", image=FRAME))

    def answer(body: dict[str, Any]) -> tuple[int, int, str]:
        response = raw.post("/mj/submit/video", json=body)
        envelope = response.json()
        return response.status_code, envelope["code"], envelope["description"]

    extend = {"action": "extend", "motion": "low", "index": 0}
    assert answer({"motion": "medium", "image": FRAME})[:2] == (400, 4)
    assert answer({"motion": "low"}) == (
        400,
        4,
        "参数错误: image is required: a link or a data URL of the first frame",
    )
    assert answer({**extend, "taskId": "1773314942177684"})[:2] == (404, 3)
    assert answer(extend)[2] == "参数错误: an extension needs taskId, the video task it extends"
    assert "not a finished video task" in answer({**extend, "taskId": image.external_id})[2]
    assert "0 to 3" in answer({**extend, "taskId": video.external_id, "index": 4})[2]
    assert "0 to 3" in answer({**extend, "taskId": video.external_id, "index": True})[2]
    banned = raw.post("/mj/submit/video", json={"motion": "low", "image": FRAME, "prompt": "a gore scene"})
    assert (banned.status_code, banned.json()["code"], banned.json()["properties"]["bannedWord"]) == (
        200,
        24,
        "gore",
    )
    with pytest.raises(ProviderRejectedError) as moderated:
        MJ.submit(http, channel, job("video", motion="low", image=FRAME, prompt="nsfw"))
    assert moderated.value.code == "moderation_blocked"
    gone = ProviderUpdate(
        UpstreamStatus.SUCCEEDED, "SUCCESS", external_id="1773314942177684", result={"videos": 4}
    )
    with pytest.raises(ProviderRejectedError, match="unknown upstream or expired"):
        MJ.submit(http, channel, job("video", parent=gone, parent_job_id="p", index=0, motion="low"))
    assert sim.stats()["midjourney"].creates == 2


def test_midjourney_video_u1_is_one_hd_video_that_extends(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    video = run(http, channel, job("video", "job-video", motion="high", image=FRAME))
    upscaled = press(http, channel, video, "U1")
    assert [o.label for o in upscaled.outputs] == ["image", "video-0"]
    assert upscaled.result is not None
    assert (upscaled.result["action"], upscaled.result["videos"]) == ("UPSCALE", 1)
    assert labels(upscaled) == ["Extend (High motion)", "Extend (Low motion)"]
    assert action_kind(str(upscaled.result["buttons"][0]["customId"])) == "animate"


# --- edits ---------------------------------------------------------------------------------------


def test_midjourney_edits_send_the_image_by_its_kind_and_return_a_grid(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    linked = run(
        http, channel, job("edits", "job-edit", prompt="the boat in a storm", image=FRAME, remix=False)
    )
    assert sent(sim, linked.external_id) == {
        "action": "EDITS",
        "prompt": "the boat in a storm",
        "image": FRAME,
        "remix": False,
        "state": "job-edit",
    }
    inline = run(
        http, channel, job("edits", "job-masked", prompt="a red sail", image=PNG_1X1, maskBase64=PNG_1X1)
    )
    body = sent(sim, inline.external_id)
    assert (body["base64Array"], body["maskBase64"], "image" in body) == ([PNG_1X1], PNG_1X1, False)
    for done in (linked, inline):
        assert [o.label for o in done.outputs] == ["image"]
        assert done.result is not None
        assert done.result["action"] == "EDITS"
        assert labels(done) == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    upsampled = press(http, channel, inline, "U3")  # an action acts on an edit's grid
    assert [o.label for o in upsampled.outputs] == ["image"]


def test_midjourney_simulator_refuses_bad_edits(raw: httpx.Client) -> None:
    def answer(body: dict[str, Any]) -> tuple[int, str]:
        envelope = raw.post("/mj/submit/edits", json=body).json()
        return envelope["code"], envelope["description"]

    assert answer({"base64Array": [PNG_1X1]}) == (4, "参数错误: prompt is required")
    assert answer({"prompt": "x"}) == (4, "参数错误: base64Array (or image) is required: the image to edit")
    assert answer({"prompt": "x", "image": FRAME, "maskBase64": "https://example.com/m.png"})[0] == 4
    assert answer({"prompt": "bloodbath", "image": FRAME})[0] == 24
    assert answer({"prompt": "x", "image": FRAME, "action": "EDITS"})[0] == 1


@pytest.mark.parametrize("operation", ["video", "edits"])
@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_midjourney_video_and_edits_failures(
    operation: str, fate: str, code: str, sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    sim.script("midjourney", [Outcome(result=fate)])  # type: ignore[arg-type]
    fields = {"motion": "low", "image": FRAME} if operation == "video" else {"prompt": "x", "image": FRAME}
    failed = finished(http, channel, MJ.submit(http, channel, job(operation, **fields)))
    assert (failed.status, failed.error_code, failed.outputs) == (UpstreamStatus.FAILED, code, ())


# --- inputs and prices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"image": FRAME},
        {"motion": "medium", "image": FRAME},
        {"motion": "low"},
        {"motion": "low", "image": FRAME, "parent_job_id": "p", "index": 0},
        {"motion": "low", "image": FRAME, "index": 0},
        {"motion": "low", "parent_job_id": "p"},
        {"motion": "low", "parent_job_id": "p", "index": 4},
        {"motion": "low", "image": "http://example.com/boat.png"},
        {"motion": "low", "image": "data:text/plain;base64,aGVsbG8gd29ybGQ="},
        {"motion": "low", "image": FRAME, "prompt": ""},
    ],
)
def test_midjourney_video_input_refuses(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MidjourneyVideoInput.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"image": FRAME},
        {"prompt": "x"},
        {"prompt": "x", "image": FRAME, "maskBase64": "https://example.com/m.png"},
        {"prompt": "x", "image": FRAME, "base64Array": [PNG_1X1]},
    ],
)
def test_midjourney_edits_input_refuses(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MidjourneyEditsInput.model_validate(fields)


def test_midjourney_video_and_edits_prices() -> None:
    prices = load_price_table()
    for model in ("midjourney-v6.1", "midjourney-v7", "niji-6"):
        assert prices.list_price("midjourney", "video", model, {"motion": "low", "image": FRAME}) == 400_000
        extension = {"motion": "low", "parent_job_id": "p", "index": 1}
        assert prices.list_price("midjourney", "video", model, extension) == 400_000
        assert prices.list_price("midjourney", "edits", model, {"prompt": "x", "image": FRAME}) == 60_000
        u1 = {
            "parent_job_id": "p",
            "custom_id": "MJ::JOB::video_virtual_upscale::1::h",
            "action": "video_upscale",
        }
        assert prices.list_price("midjourney", "action", model, u1) == 200_000
