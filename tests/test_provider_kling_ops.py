"""Kling's newer operations: the adapter against the simulator over real HTTP — each operation sent in
Kling's shape, followed to its files (videos, images, each audio's MP3 and WAV), failed and moderated;
follow-ups naming their parent's video, refused for a video of another account, an unfinished one or
one older than 30 days; and image expansion answering as CometAPI does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.services import wait_until
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderRejectedError
from workers.providers.kling import Kling
from workers.providers.kling.adapter import auth_headers
from workers.providers.kling.simulation.videos import video_id_of
from workers.simulator import Outcome, SimConfig, Simulator

KLING = Kling()
FOLLOW_UPS = ("video_extend", "lip_sync", "video_to_audio")
NEW_OPERATIONS = (
    "multi_image2video",
    "video_effects",
    "avatar",
    "text_to_audio",
    "virtual_try_on",
    *FOLLOW_UPS,
)
MODELS = {"video_effects": "kling-v1-6", "virtual_try_on": "kolors-virtual-try-on-v1-5"}
# What each operation's task leaves: output labels and their content types.
FILES = {
    "text_to_audio": {"audio-0.mp3": "audio/mpeg", "audio-0.wav": "audio/wav"},
    "video_to_audio": {"video-0": "video/mp4", "audio-0.mp3": "audio/mpeg", "audio-0.wav": "audio/wav"},
    "virtual_try_on": {"image-0": None},
}


@pytest.fixture
def channel(simulator: Simulator, simulator_url: str) -> Channel:
    return Channel("kling-sim", simulator_url, api_key=simulator.config.api_key)


@pytest.fixture
def raw(simulator: Simulator, simulator_url: str) -> Iterator[httpx.Client]:
    """A client speaking Kling's wire format directly, with the simulator's key."""
    auth = {"Authorization": f"Bearer {simulator.config.api_key}"}
    with httpx.Client(base_url=simulator_url, headers=auth, timeout=10) as client:
        yield client


def request(
    operation: str, parent: ProviderUpdate | None = None, sample: int = 0, **input_: Any
) -> SubmitRequest:
    """A request for `operation` from its example (the `sample`-th), with `input_` over it."""
    examples = KLING.operations[operation].model_json_schema()["examples"]
    fields = {**examples[sample], **input_}
    if parent is not None:
        fields["parent_job_id"] = str(uuid.uuid4())  # ours; the adapter sends the parent's video id
    return SubmitRequest(
        job_id=str(uuid.uuid4()),
        operation=operation,
        model=MODELS.get(operation, "kling-v1-6"),
        input=KLING.operations[operation].model_validate(fields).model_dump(mode="json", exclude_none=True),
        parent_external_id=parent.external_id if parent else None,
        parent_result=parent.result if parent else None,
    )


def run(http: httpx.Client, channel: Channel, submit: SubmitRequest) -> ProviderUpdate:
    """Submit, then poll until the task ends."""
    task_id = KLING.submit(http, channel, submit)
    ref = TaskRef(job_id=submit.job_id, operation=submit.operation, external_id=task_id)

    def ended() -> ProviderUpdate | None:
        update = KLING.poll(http, channel, ref)
        return update if update.status in {UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED} else None

    update: ProviderUpdate = wait_until(ended)
    return update


def a_video(http: httpx.Client, channel: Channel) -> ProviderUpdate:
    done = run(http, channel, request("text2video", prompt="a paper boat"))
    assert done.status is UpstreamStatus.SUCCEEDED
    return done


@pytest.mark.parametrize("operation", NEW_OPERATIONS)
def test_each_operation_is_followed_to_its_files(
    operation: str, simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    parent = a_video(http, channel) if operation in FOLLOW_UPS else None
    done = run(http, channel, request(operation, parent))
    assert done.status is UpstreamStatus.SUCCEEDED, done.error_message
    expected = FILES.get(operation, {"video-0": "video/mp4"})
    assert {output.label: output.content_type for output in done.outputs} == expected
    for output in done.outputs:
        download = http.get(output.url)
        assert download.status_code == 200
        if output.content_type:
            assert download.headers["content-type"] == output.content_type
    assert done.result is not None or operation == "virtual_try_on"
    if "video-0" in expected:  # a video a further follow-up can name
        assert done.result is not None
        [video] = done.result["videos"]
        assert video["id"]
        assert video["duration"]
    if operation in {"text_to_audio", "video_to_audio"}:
        assert done.result is not None
        [audio] = done.result["audios"]
        assert audio["id"]


@pytest.mark.parametrize("operation", NEW_OPERATIONS)
@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_each_operation_fails_and_is_moderated_as_klings_are(
    operation: str, fate: str, code: str, simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    parent = a_video(http, channel) if operation in FOLLOW_UPS else None
    simulator.script("kling", [Outcome(result=fate)])  # type: ignore[arg-type]
    done = run(http, channel, request(operation, parent))
    assert (done.status, done.error_code, done.outputs) == (UpstreamStatus.FAILED, code, ())
    assert done.error_message


def test_each_body_goes_upstream_in_klings_shape(
    simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    parent = a_video(http, channel)
    assert parent.result is not None
    video_id = parent.result["videos"][0]["id"]
    sent = {}
    for operation in NEW_OPERATIONS:
        submit = request(operation, parent if operation in FOLLOW_UPS else None)
        task = simulator.task(KLING.submit(http, channel, submit))
        assert task is not None
        sent[operation] = dict(task.params)
        assert "parent_job_id" not in task.params
    assert sent["video_extend"]["video_id"] == sent["lip_sync"]["video_id"] == video_id
    assert sent["video_to_audio"]["video_id"] == video_id
    assert sent["lip_sync"]["mode"] == "text2video"  # from Kling's nested `input`
    assert sent["video_effects"]["effect_scene"] == "hug"
    assert len(sent["video_effects"]["images"]) == 2
    assert sent["multi_image2video"]["image_list"][0] == {"image": "https://example.com/astronaut.png"}
    assert sent["text_to_audio"]["duration"] == 5.0


def test_an_extension_reports_the_video_it_extended(channel: Channel, http: httpx.Client) -> None:
    parent = a_video(http, channel)
    assert parent.result is not None
    done = run(http, channel, request("video_extend", parent))
    assert done.result is not None
    assert done.result["parent_video"]["id"] == parent.result["videos"][0]["id"]
    assert done.result["videos"][0]["id"] != parent.result["videos"][0]["id"]
    assert int(done.result["videos"][0]["duration"]) > int(parent.result["videos"][0]["duration"])


def test_a_follow_up_on_a_video_of_another_account_is_refused(
    simulator: Simulator, simulator_url: str, channel: Channel, http: httpx.Client
) -> None:
    parent = a_video(http, channel)
    simulator.configure(api_key="sk-another-account")
    other = Channel("kling-other", simulator_url, api_key="sk-another-account")
    for operation in FOLLOW_UPS:
        with pytest.raises(ProviderRejectedError, match="no such video on this account") as refused:
            KLING.submit(http, other, request(operation, parent))
        assert refused.value.code == "invalid_input"
    assert simulator.stats()["kling"].creates == 1  # the parent alone


def test_a_follow_up_on_a_video_older_than_30_days_is_refused(
    simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    parent = a_video(http, channel)
    simulator.configure(asset_ttl_s=-1)  # every video is past its 30 days
    with pytest.raises(ProviderRejectedError, match="expired"):
        KLING.submit(http, channel, request("lip_sync", parent))
    simulator.configure(asset_ttl_s=SimConfig().asset_ttl_s)
    assert run(http, channel, request("lip_sync", parent)).status is UpstreamStatus.SUCCEEDED


def test_a_follow_up_on_an_unfinished_video_is_refused(
    simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    simulator.configure(not_found_polls=0)
    simulator.script("kling", [Outcome(result="succeed", held=True)])
    task_id = KLING.submit(http, channel, request("text2video", prompt="slow"))
    running = ProviderUpdate(
        UpstreamStatus.RUNNING, "processing", result={"videos": [{"id": video_id_of(task_id)}]}
    )
    with pytest.raises(ProviderRejectedError, match="not ready"):
        KLING.submit(http, channel, request("video_to_audio", running))
    simulator.release("kling")


def test_a_follow_up_whose_parent_recorded_no_video_fails_before_sending(
    simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    no_video = ProviderUpdate(UpstreamStatus.SUCCEEDED, "succeed", external_id="123456789012345678")
    with pytest.raises(ProviderRejectedError, match="names no Kling video id"):
        KLING.submit(http, channel, request("video_extend", no_video))
    assert simulator.stats()["kling"].create_attempts == 0


@pytest.mark.parametrize("operation", ["lip_sync", "video_to_audio"])
def test_lip_sync_and_video_to_audio_take_any_video_by_url(
    operation: str, simulator: Simulator, channel: Channel, http: httpx.Client
) -> None:
    submit = request(operation, sample=1)
    assert "parent_job_id" not in submit.input
    done = run(http, channel, submit)
    assert done.status is UpstreamStatus.SUCCEEDED
    task = simulator.task(done.external_id or "")
    assert task is not None
    assert task.params["video_url"] == submit.input["video_url"]
    assert "video_id" not in task.params


def test_an_effect_scene_kling_does_not_offer_is_refused_for_good(
    channel: Channel, http: httpx.Client
) -> None:
    submit = request("video_effects", effect_scene="moonwalk", image="https://example.com/a.png", images=None)
    with pytest.raises(ProviderRejectedError, match="moonwalk") as refused:
        KLING.submit(http, channel, submit)
    assert refused.value.code == "invalid_input"


def test_the_simulator_refuses_what_kling_refuses(raw: httpx.Client) -> None:
    for path, body, word in [
        (
            "/kling/v1/videos/lip-sync",
            {"input": {"mode": "text2video", "text": "hi", "voice_id": "v1"}},
            "video_id",
        ),
        ("/kling/v1/videos/lip-sync", {"mode": "text2video"}, "input"),
        (
            "/kling/v1/videos/multi-image2video",
            {"image_list": [{"image": "https://e.x/a.png"}]},
            "image_list",
        ),
        ("/kling/v1/videos/video-extend", {"video_id": "no-such-video"}, "no such video"),
        ("/kling/v1/videos/avatar/image2video", {"image": "https://e.x/a.png"}, "audio_id or sound_file"),
        ("/kling/v1/audio/text-to-audio", {"prompt": "rain", "duration": 11}, "duration"),
        ("/kling/v1/images/kolors-virtual-try-on", {"human_image": "https://e.x/a.png"}, "cloth_image"),
    ]:
        refused = raw.post(path, json=body)
        assert refused.status_code == 400, (path, refused.text)
        assert refused.json()["code"] == 1201
        assert word in refused.json()["message"], (path, refused.json())


def test_image_expansion_answers_as_cometapi_does(simulator: Simulator, raw: httpx.Client) -> None:
    expand = raw.post("/kling/v1/images/editing/expand", json={"image": "https://e.x/a.png"})
    assert (expand.status_code, expand.json()) == (404, {"code": None, "message": "404"})
    assert simulator.stats()["kling"].creates == 0


def test_the_avatar_family_is_served_on_both_hosts(
    simulator: Simulator, simulator_url: str, channel: Channel, http: httpx.Client
) -> None:
    vendor = Channel(
        "kling-vendor",
        simulator_url,
        api_key=simulator.config.api_key,
        mode="vendor",
        secret_key=SimConfig().secret_key,
    )
    for route in (channel, vendor):
        done = run(http, route, request("avatar"))
        assert done.status is UpstreamStatus.SUCCEEDED
    task_id = done.external_id
    answer = http.get(f"{simulator_url}/v1/videos/avatar/image2video/{task_id}", headers=auth_headers(vendor))
    assert answer.json()["data"]["task_result"]["videos"][0]["url"]
    elsewhere = http.get(f"{simulator_url}/v1/videos/image2video/{task_id}", headers=auth_headers(vendor))
    assert elsewhere.json()["code"] == 1203
