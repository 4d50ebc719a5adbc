"""Midjourney: the inputs and action kinds, the adapter against the simulator over real HTTP (imagine's
buttons, an upsample action, the MODAL pause and its continuation, describe's text, callbacks per
progress tick, lookup by state, vendor mode) and its mapping of business codes and HTTP errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from orchestrator.pricing import load_price_table
from tests.services import free_port, serving, wait_until
from workers.providers import PROVIDERS
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.midjourney.adapter import Midjourney
from workers.providers.midjourney.schemas import (
    PNG_1X1,
    MidjourneyActionInput,
    MidjourneyBlendInput,
    MidjourneyModalInput,
    MidjourneyTask,
    action_kind,
)
from workers.providers.midjourney.wire import parse_progress, submit_call
from workers.simulator import Outcome, SimConfig, Simulator, create_app

API_KEY = "sk-test-midjourney"
MJ = Midjourney()
MODEL = "midjourney-v6.1"
TICKS = [("SUBMITTED", "0%"), ("IN_PROGRESS", "15%"), ("IN_PROGRESS", "46%"), ("IN_PROGRESS", "78%")]
DONE = frozenset({UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED})
MOCK = Channel("mock", "http://mj", api_key="k")  # for a scripted upstream (httpx.MockTransport)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(speed=0.0, seed=5, api_key=API_KEY, not_found_polls=0))


@pytest.fixture
def base_url(sim: Simulator) -> Iterator[str]:
    with serving(create_app(sim)) as server:
        yield server.url


@pytest.fixture
def channel(base_url: str) -> Channel:
    return Channel("mj-sim", base_url, api_key=API_KEY)


def job(
    operation: str,
    job_id: str = "job-1",
    *,
    parent: str | None = None,
    callback_url: str | None = None,
    model: str = MODEL,
    **fields: Any,
) -> SubmitRequest:
    job_input = MJ.operations[operation].model_validate(fields).model_dump(mode="json", exclude_none=True)
    return SubmitRequest(job_id, operation, model, job_input, callback_url, parent_external_id=parent)


def finished(
    http: httpx.Client,
    channel: Channel,
    task_id: str,
    until: frozenset[UpstreamStatus] = DONE,
) -> ProviderUpdate:
    ref = TaskRef(job_id="-", operation="-", external_id=task_id)

    def probe() -> ProviderUpdate | None:
        update = MJ.poll(http, channel, ref)
        return update if update.status in until else None

    result: ProviderUpdate = wait_until(probe, timeout=10)
    return result


def custom_id(update: ProviderUpdate, label: str) -> str:
    assert update.result is not None
    return next(str(b["customId"]) for b in update.result["buttons"] if b["label"] == label)


def imagined(http: httpx.Client, channel: Channel, job_id: str = "job-parent") -> tuple[str, ProviderUpdate]:
    task_id = MJ.submit(http, channel, job("imagine", job_id, prompt="a paper boat on a lake"))
    return task_id, finished(http, channel, task_id)


def press(
    http: httpx.Client,
    channel: Channel,
    parent_id: str,
    parent: ProviderUpdate,
    label: str,
    job_id: str,
    **extra: Any,
) -> str:
    request = job(
        "action",
        job_id,
        parent=parent_id,
        parent_job_id="parent",
        custom_id=custom_id(parent, label),
        **extra,
    )
    return MJ.submit(http, channel, request)


# --- Inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("custom", "kind"),
    [
        ("MJ::JOB::upsample::1::9b5c6b54", "upsample"),
        ("MJ::JOB::upsample_v6_2x_subtle::1::9b5c::SOLO", "upscale"),
        ("MJ::JOB::variation::3::9b5c", "variation"),
        ("MJ::JOB::high_variation::1::9b5c::SOLO", "variation"),
        ("MJ::JOB::reroll::0::9b5c::SOLO", "reroll"),
        ("MJ::Outpaint::50::1::9b5c::SOLO", "zoom"),
        ("MJ::CustomZoom::9b5c", "custom_zoom"),
        ("MJ::JOB::pan_left::1::9b5c::SOLO", "pan"),
        ("MJ::Inpaint::1::9b5c::SOLO", "inpaint"),
        ("MJ::JOB::animate_high::1::9b5c::SOLO", "animate"),
        ("MJ::Job::PicReader::2", "imagine"),
        ("MJ::Picread::Retry", "describe"),
        ("MJ::BOOKMARK::9b5c", "other"),
    ],
)
def test_midjourney_action_kind_from_custom_id(custom: str, kind: str) -> None:
    assert action_kind(custom) == kind
    parsed = MidjourneyActionInput.model_validate({"parent_job_id": "p", "custom_id": custom})
    assert parsed.action == kind
    stored = parsed.model_dump(mode="json", exclude_none=True)
    assert MidjourneyActionInput.model_validate(stored) == parsed  # the stored input validates again


def test_midjourney_action_refuses_a_contradicting_kind() -> None:
    with pytest.raises(ValidationError, match="does not match custom_id"):
        MidjourneyActionInput.model_validate(
            {"parent_job_id": "p", "custom_id": "MJ::JOB::upsample::1::x", "action": "variation"}
        )


def test_midjourney_inputs_check_images_and_modal_needs_something() -> None:
    with pytest.raises(ValidationError, match="data URL"):
        MidjourneyBlendInput.model_validate({"base64Array": ["https://example.com/a.png", PNG_1X1]})
    with pytest.raises(ValidationError):
        MidjourneyBlendInput.model_validate({"base64Array": [PNG_1X1]})  # at least two
    with pytest.raises(ValidationError, match="prompt, a maskBase64"):
        MidjourneyModalInput.model_validate({})
    assert MidjourneyModalInput.model_validate({"maskBase64": PNG_1X1}).prompt is None


def test_midjourney_prices_differ_per_action_kind() -> None:
    prices = load_price_table()

    def action(custom: str) -> int:
        parsed = MidjourneyActionInput.model_validate({"parent_job_id": "p", "custom_id": custom})
        return prices.list_price("midjourney", "action", MODEL, parsed.model_dump(exclude_none=True))

    upsample = action("MJ::JOB::upsample::1::h")
    others = {
        action(c)
        for c in (
            "MJ::JOB::variation::1::h",
            "MJ::JOB::reroll::0::h::SOLO",
            "MJ::Outpaint::50::1::h::SOLO",
            "MJ::JOB::pan_up::1::h::SOLO",
        )
    }
    assert others == {60_000}
    assert upsample == 30_000 < min(others)
    assert action("MJ::BOOKMARK::h") == 60_000  # an unknown button costs a new grid
    for model in ("midjourney-v6.1", "midjourney-v7", "niji-6"):
        assert prices.list_price("midjourney", "imagine", model, {"prompt": "x"}) == 60_000


# --- Requests --------------------------------------------------------------------------------------


def test_midjourney_model_adds_its_version_unless_the_prompt_names_one() -> None:
    path, body = submit_call(
        job("imagine", "job-9", prompt="a cat", model="midjourney-v7", callback_url="http://h/cb")
    )
    assert path == "/mj/submit/imagine"
    assert body == {
        "prompt": "a cat --v 7",
        "botType": "MID_JOURNEY",
        "state": "job-9",
        "notifyHook": "http://h/cb",
    }
    for prompt in ("a cat --v 7", "a cat --version 7 --ar 16:9"):
        assert submit_call(job("imagine", prompt=prompt, model="midjourney-v7"))[1]["prompt"] == prompt
    niji = submit_call(job("imagine", prompt="a cat --niji", model="niji-6"))[1]
    assert (niji["prompt"], niji["botType"]) == ("a cat --niji", "NIJI_JOURNEY")
    with pytest.raises(ProviderRejectedError, match=r"--v 6\.1") as refused:
        submit_call(job("imagine", prompt="a cat --v 6.1", model="midjourney-v7"))
    assert refused.value.code == "invalid_input"
    unknown = submit_call(job("imagine", prompt="a cat", model="any"))[1]
    assert unknown["prompt"] == "a cat"
    assert "botType" not in unknown


def test_midjourney_action_and_modal_calls() -> None:
    custom = "MJ::JOB::variation::2::h"
    request = job(
        "action", "job-a", parent="1773314942177684", parent_job_id="p", custom_id=custom, enableRemix=True
    )
    assert submit_call(request) == (
        "/mj/submit/action",
        {"taskId": "1773314942177684", "customId": custom, "state": "job-a", "enableRemix": True},
    )
    continued = SubmitRequest(
        "job-a",
        "action",
        MODEL,
        {**request.input, "modal": {"prompt": "x --zoom 2"}},
        parent_external_id="177",
    )
    assert submit_call(continued) == ("/mj/submit/modal", {"taskId": "177", "prompt": "x --zoom 2"})
    orphan = SubmitRequest("job-b", "action", MODEL, request.input)
    with pytest.raises(ProviderRejectedError, match="upstream task id"):
        submit_call(orphan)


# --- Against the simulator -------------------------------------------------------------------------


def test_midjourney_imagine_returns_a_grid_and_nine_buttons(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    task_id, done = imagined(http, channel, "job-imagine")
    assert task_id.isdigit()
    assert done.status is UpstreamStatus.SUCCEEDED
    assert (done.raw_status, done.progress, done.external_id) == ("SUCCESS", 100, task_id)
    (image,) = done.outputs
    assert (image.label, image.content_type, image.authenticated) == ("image", "image/png", False)
    assert http.get(image.url).raise_for_status().content.startswith(b"\x89PNG")
    assert done.result is not None
    assert done.result["action"] == "IMAGINE"
    assert done.result["finalPrompt"] == "a paper boat on a lake --v 6.1"
    labels = [b["label"] for b in done.result["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    assert all(set(b) == {"customId", "label", "emoji", "type", "style"} for b in done.result["buttons"])
    hashes = {str(b["customId"]).split("::")[4] for b in done.result["buttons"]}
    assert len(hashes) == 1  # every customId embeds the task's hash
    task = sim.task_by_external_id("job-imagine", provider="midjourney")
    assert task is not None
    assert task.task_id == task_id


def test_midjourney_upsample_action_yields_one_image(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    parent_id, parent = imagined(http, channel)
    child_id = press(http, channel, parent_id, parent, "U1", "job-u1")
    assert child_id != parent_id
    sent = sim.task(child_id)
    assert sent is not None
    assert sent.params["taskId"] == parent_id
    assert sent.params["customId"] == custom_id(parent, "U1")
    assert sent.params["state"] == "job-u1"
    done = finished(http, channel, child_id)
    assert done.status is UpstreamStatus.SUCCEEDED
    (image,) = done.outputs
    assert image.label == "image"
    assert done.result is not None
    assert done.result["action"] == "UPSCALE"
    labels = [b["label"] for b in done.result["buttons"]]
    assert "Custom Zoom" in labels
    assert "Vary (Region)" in labels
    assert "U1" not in labels


def test_midjourney_repeated_action_answers_21_with_the_existing_task(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    parent_id, parent = imagined(http, channel)
    first = press(http, channel, parent_id, parent, "U2", "job-u2")
    creates = sim.stats()["midjourney"].creates
    raw = http.post(
        f"{channel.base_url}/mj/submit/action",
        json={"taskId": parent_id, "customId": custom_id(parent, "U2")},
        headers={"Authorization": f"Bearer {API_KEY}"},
    ).json()
    assert (raw["code"], raw["result"], raw["properties"]["status"]) == (21, first, "SUCCESS")
    assert press(http, channel, parent_id, parent, "U2", "job-u2-again") == first
    assert sim.stats()["midjourney"].creates == creates


def test_midjourney_modal_pause_and_continuation(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    parent_id, parent = imagined(http, channel)
    upsampled_id = press(http, channel, parent_id, parent, "U1", "job-u1")
    upsampled = finished(http, channel, upsampled_id)
    request = job(
        "action",
        "job-zoom",
        parent=upsampled_id,
        callback_url=url,
        parent_job_id="job-u1",
        custom_id=custom_id(upsampled, "Custom Zoom"),
    )
    assert request.input["action"] == "custom_zoom"
    task_id = MJ.submit(http, channel, request)
    paused = finished(http, channel, task_id, until=frozenset({UpstreamStatus.ACTION_REQUIRED}))
    assert paused.raw_status == "MODAL"
    assert paused.outputs == ()
    for _ in range(3):  # no timeline moves it on: it waits for the modal step
        assert MJ.poll(http, channel, TaskRef("job-zoom", "action", task_id)).raw_status == "MODAL"

    continuation = SubmitRequest(
        "job-zoom",
        "action",
        MODEL,
        {**request.input, "modal": {"prompt": "a paper boat --zoom 2"}},
        callback_url=url,
        parent_external_id=task_id,
    )
    assert MJ.submit(http, channel, continuation) == task_id  # the same task continues
    done = finished(http, channel, task_id)
    assert done.status is UpstreamStatus.SUCCEEDED
    assert done.result is not None
    assert done.result["finalPrompt"] == "a paper boat --zoom 2"
    assert [b["label"] for b in done.result["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
    with pytest.raises(ProviderRejectedError, match="not waiting in MODAL"):
        MJ.submit(http, channel, continuation)

    wait_until(lambda: len(bodies) == 7, timeout=10)
    statuses = [b["status"] for b in bodies]  # at speed 0 the ticks of one segment fall due together
    assert sorted(statuses[:2]) == ["MODAL", "SUBMITTED"]
    assert sorted(statuses[2:]) == ["IN_PROGRESS"] * 3 + ["SUBMITTED", "SUCCESS"]
    modal = next(b for b in bodies if b["status"] == "MODAL")
    assert MJ.parse_callback(json.dumps(modal).encode()).status is UpstreamStatus.ACTION_REQUIRED


def test_midjourney_vary_region_needs_a_mask(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    parent_id, parent = imagined(http, channel)
    upsampled_id = press(http, channel, parent_id, parent, "U3", "job-u3")
    upsampled = finished(http, channel, upsampled_id)
    task_id = press(http, channel, upsampled_id, upsampled, "Vary (Region)", "job-region")
    finished(http, channel, task_id, until=frozenset({UpstreamStatus.ACTION_REQUIRED}))
    inputs = {"parent_job_id": "job-u3", "custom_id": custom_id(upsampled, "Vary (Region)")}
    base = MidjourneyActionInput.model_validate(inputs).model_dump(exclude_none=True)
    without_mask = SubmitRequest(
        "job-region", "action", MODEL, {**base, "modal": {"prompt": "a red sail"}}, parent_external_id=task_id
    )
    with pytest.raises(ProviderRejectedError, match="maskBase64 is required") as refused:
        MJ.submit(http, channel, without_mask)
    assert refused.value.code == "invalid_input"
    with_mask = SubmitRequest(
        "job-region",
        "action",
        MODEL,
        {**base, "modal": {"prompt": "a red sail", "maskBase64": PNG_1X1}},
        parent_external_id=task_id,
    )
    assert MJ.submit(http, channel, with_mask) == task_id
    assert finished(http, channel, task_id).status is UpstreamStatus.SUCCEEDED


def test_midjourney_describe_hands_its_prompts_over_as_text(http: httpx.Client, channel: Channel) -> None:
    task_id = MJ.submit(http, channel, job("describe", "job-describe", base64=PNG_1X1))
    done = finished(http, channel, task_id)
    (text,) = done.outputs
    assert (text.label, text.content_type) == ("prompts", "text/plain")
    header, _, data = text.url.partition(",")
    assert header == "data:text/plain;charset=utf-8;base64"
    prompts = base64.b64decode(data).decode()
    assert prompts.count("--ar 1:1") == 4
    assert done.result is not None
    assert done.result["finalPrompt"] == prompts
    assert done.result["action"] == "DESCRIBE"
    assert [b["label"] for b in done.result["buttons"]] == ["1", "2", "3", "4", ""]


def test_midjourney_blend_and_animate(http: httpx.Client, channel: Channel) -> None:
    blend_id = MJ.submit(http, channel, job("blend", "job-blend", base64Array=[PNG_1X1, PNG_1X1]))
    blended = finished(http, channel, blend_id)
    assert [o.label for o in blended.outputs] == ["image"]
    upsampled_id = press(http, channel, blend_id, blended, "U4", "job-u4")
    upsampled = finished(http, channel, upsampled_id)
    video_id = press(http, channel, upsampled_id, upsampled, "Animate (High motion)", "job-video")
    video = finished(http, channel, video_id)
    assert [o.label for o in video.outputs] == ["image", "video-0", "video-1", "video-2", "video-3"]
    assert {o.content_type for o in video.outputs[1:]} == {"video/mp4"}


@pytest.mark.parametrize(
    ("fate", "code", "reason"),
    [("fail", "upstream_failed", "任务超时"), ("moderation", "moderation_blocked", "Banned prompt")],
)
def test_midjourney_failure_carries_the_fail_reason(
    sim: Simulator, http: httpx.Client, channel: Channel, fate: str, code: str, reason: str
) -> None:
    sim.script("midjourney", [Outcome(result=fate)])
    task_id = MJ.submit(http, channel, job("imagine", prompt="a paper boat"))
    failed = finished(http, channel, task_id)
    assert (failed.status, failed.raw_status, failed.error_code) == (UpstreamStatus.FAILED, "FAILURE", code)
    assert failed.error_message is not None
    assert reason in failed.error_message
    assert failed.progress is None  # progress "" on FAILURE
    assert failed.outputs == ()


def test_midjourney_business_codes_at_submit(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    with pytest.raises(ProviderRejectedError) as banned:
        MJ.submit(http, channel, job("imagine", prompt="a gore scene"))
    assert banned.value.code == "moderation_blocked"
    assert "gore" in banned.value.message

    sim.configure(rate_limit_rate=1.0)
    with pytest.raises(ProviderUnavailableError):  # 23: queue full
        MJ.submit(http, channel, job("imagine", prompt="a boat"))
    sim.configure(rate_limit_rate=0.0, submit_error_rate=1.0)
    with pytest.raises(ProviderUnavailableError):  # 9: system error
        MJ.submit(http, channel, job("imagine", prompt="a boat"))
    sim.configure(submit_error_rate=0.0)

    unknown_parent = job(
        "action", parent="1773314942177684", parent_job_id="p", custom_id="MJ::JOB::upsample::1::h"
    )
    with pytest.raises(ProviderRejectedError, match="unknown upstream or expired") as missing:
        MJ.submit(http, channel, unknown_parent)
    assert missing.value.code == "invalid_input"
    parent_id, _ = imagined(http, channel)
    not_a_button = job(
        "action", parent=parent_id, parent_job_id="p", custom_id="MJ::JOB::upsample::1::forged"
    )
    with pytest.raises(ProviderRejectedError, match="code 4") as invalid:
        MJ.submit(http, channel, not_a_button)
    assert invalid.value.code == "invalid_input"
    assert sim.stats()["midjourney"].creates == 1
    assert sim.stats()["midjourney"].rejected == {
        "banned_prompt": 1,
        "rate_limited": 1,
        "unavailable": 1,
        "parent_not_found": 1,
        "invalid_params": 1,
    }


def test_midjourney_queued_answer_22_is_accepted(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    sim.script("midjourney", [Outcome(result="succeed", submitted_s=0.0, processing_s=60.0)] * 3)
    for n in range(3):
        MJ.submit(http, channel, job("imagine", f"job-busy-{n}", prompt="a boat"))
    raw = http.post(
        f"{channel.base_url}/mj/submit/imagine",
        json={"prompt": "a boat"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    ).json()
    assert raw["code"] == 22
    assert raw["properties"]["numberOfQueues"] == 1
    queued = MJ.submit(http, channel, job("imagine", "job-queued", prompt="a boat"))
    assert sim.task(queued) is not None


def test_midjourney_read_timeout_leaves_a_task_carrying_our_state(sim: Simulator, channel: Channel) -> None:
    sim.configure(read_timeout_rate=1.0, stall_s=5.0)
    with httpx.Client(timeout=0.3) as slow, pytest.raises(SubmitOutcomeUnknownError):
        MJ.submit(slow, channel, job("imagine", "job-stall", prompt="a boat"))
    task = sim.task_by_external_id("job-stall", provider="midjourney")
    assert task is not None
    assert task.params["state"] == "job-stall"


def test_midjourney_unreachable_upstream_is_unavailable(http: httpx.Client) -> None:
    closed = Channel("closed", f"http://127.0.0.1:{free_port()}", api_key=API_KEY)
    with pytest.raises(ProviderUnavailableError):
        MJ.submit(http, closed, job("imagine", prompt="a boat"))
    with pytest.raises(ProviderUnavailableError):
        MJ.poll(http, closed, TaskRef("job-1", "imagine", "1"))


def test_midjourney_fresh_task_is_briefly_unknown(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    sim.configure(not_found_polls=1)
    task_id = MJ.submit(http, channel, job("imagine", prompt="a boat"))
    first = MJ.poll(http, channel, TaskRef("job-1", "imagine", task_id))
    assert (first.status, first.raw_status) == (UpstreamStatus.UNKNOWN, "task_not_exist")
    assert finished(http, channel, task_id).status is UpstreamStatus.SUCCEEDED


def test_midjourney_find_by_state(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    assert MJ.finds_by_job_id is False  # CometAPI's list-by-condition reads only `ids`
    task_id = MJ.submit(http, channel, job("imagine", "job-find", prompt="a boat"))
    found = MJ.find(http, channel, "job-find", "imagine")
    assert found is not None
    assert (found.external_id, found.status) == (task_id, UpstreamStatus.SUCCEEDED)
    assert MJ.find(http, channel, "job-never-sent", "imagine") is None
    listed = http.post(
        f"{channel.base_url}/mj/task/list-by-condition",
        json={"ids": [task_id, "404"]},
        headers={"Authorization": f"Bearer {API_KEY}"},
    ).json()
    assert [task["id"] for task in listed] == [task_id]


def test_midjourney_find_ignores_tasks_of_other_states() -> None:
    others = [{"id": "1", "status": "SUCCESS", "state": "someone-else"}, {"id": "2", "status": "SUCCESS"}]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=others))
    with httpx.Client(transport=transport) as http:
        assert MJ.find(http, MOCK, "job-1", "imagine") is None


def test_midjourney_vendor_mode_sends_mj_api_secret(sim: Simulator, base_url: str) -> None:
    sent: list[httpx.Headers] = []
    vendor = Channel("proxy", base_url, api_key=API_KEY, mode="vendor")
    with httpx.Client(
        timeout=5, event_hooks={"request": [lambda request: sent.append(request.headers)]}
    ) as http:
        task_id = MJ.submit(http, vendor, job("imagine", prompt="a boat"))
        assert finished(http, vendor, task_id).status is UpstreamStatus.SUCCEEDED
        forged = Channel("proxy", base_url, api_key="not-the-secret", mode="vendor")
        with pytest.raises(ProviderUnavailableError, match="HTTP 401"):
            MJ.submit(http, forged, job("imagine", prompt="a boat"))
        with pytest.raises(ProviderUnavailableError):
            MJ.poll(http, forged, TaskRef("job-1", "imagine", task_id))
        relax = Channel("relax", f"{base_url}/mj-relax", api_key=API_KEY)  # a mode prefix in the base URL
        assert MJ.submit(http, relax, job("imagine", "job-relax", prompt="a boat")).isdigit()
    assert sent[0]["mj-api-secret"] == API_KEY
    assert "authorization" not in sent[0]
    assert sent[-1]["authorization"] == f"Bearer {API_KEY}"
    assert sim.stats()["midjourney"].creates == 2


# --- Callbacks -------------------------------------------------------------------------------------


def parsed(bodies: list[dict[str, Any]]) -> list[tuple[UpstreamStatus, int | None]]:
    updates = [MJ.parse_callback(json.dumps(body).encode()) for body in bodies]
    return [(update.status, update.progress) for update in updates]


def test_midjourney_callback_per_progress_tick(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(speed=0.01)
    task_id = MJ.submit(http, channel, job("imagine", "job-hook", callback_url=url, prompt="a boat"))
    wait_until(lambda: sim.stats()["midjourney"].callbacks_sent == 5, timeout=10)
    assert [(b["status"], b["progress"]) for b in bodies] == [*TICKS, ("SUCCESS", "100%")]
    assert all(b["id"] == task_id and b["state"] == "job-hook" for b in bodies)
    assert parsed(bodies) == [
        (UpstreamStatus.PENDING, 0),
        (UpstreamStatus.RUNNING, 15),
        (UpstreamStatus.RUNNING, 46),
        (UpstreamStatus.RUNNING, 78),
        (UpstreamStatus.SUCCEEDED, 100),
    ]
    last = MJ.parse_callback(json.dumps(bodies[-1]).encode())
    assert last.external_id == task_id
    assert [o.label for o in last.outputs] == ["image"]
    assert last.result is not None
    assert len(last.result["buttons"]) == 9
    assert bodies[1]["startTime"] > 0
    assert bodies[-1]["finishTime"] >= bodies[1]["startTime"] >= bodies[0]["submitTime"] > 1_600_000_000_000


def test_midjourney_duplicate_and_reordered_callbacks(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(speed=0.01, duplicate_callback_rate=1.0, reorder_callbacks=True)
    MJ.submit(http, channel, job("imagine", "job-hook", callback_url=url, prompt="a boat"))
    wait_until(lambda: sim.stats()["midjourney"].callbacks_sent == 10, timeout=10)
    seen = [(b["status"], b["progress"]) for b in bodies]
    assert sorted(seen) == sorted([*TICKS, ("SUCCESS", "100%")] * 2)
    assert seen[:2] == [("SUCCESS", "100%")] * 2  # the terminal state first, then stale ones
    assert seen[2:] == [tick for tick in reversed(TICKS) for _ in range(2)]
    updates = parsed(bodies)
    assert (
        updates[0] == updates[1] == (UpstreamStatus.SUCCEEDED, 100)
    )  # parsing is pure: same body, same update
    assert [progress for _, progress in updates[2:]] == [78, 78, 46, 46, 15, 15, 0, 0]


def test_midjourney_failure_and_dropped_callbacks(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.script("midjourney", [Outcome(result="fail", message="[Invalid parameter] Invalid value")])
    MJ.submit(http, channel, job("imagine", "job-fail", callback_url=url, prompt="a boat"))
    wait_until(lambda: sim.stats()["midjourney"].callbacks_sent == 5, timeout=10)
    assert (bodies[-1]["status"], bodies[-1]["progress"]) == ("FAILURE", "")
    failed = MJ.parse_callback(json.dumps(bodies[-1]).encode())
    assert (failed.status, failed.progress, failed.error_code) == (
        UpstreamStatus.FAILED,
        None,
        "upstream_failed",
    )
    assert failed.error_message == "[Invalid parameter] Invalid value"

    sim.configure(drop_callbacks=True)
    MJ.submit(http, channel, job("imagine", "job-dropped", callback_url=url, prompt="a boat"))
    wait_until(lambda: sim.stats()["midjourney"].callbacks_dropped == 5, timeout=10)
    assert len(bodies) == 5


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"status": "SUCCESS"}', b'{"id": "1"}', b'{"id": "1", "buttons": 3}']
)
def test_midjourney_garbage_callback_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidCallbackError):
        MJ.parse_callback(body)


def test_midjourney_statuses_and_progress() -> None:
    assert isinstance(PROVIDERS["midjourney"], Midjourney)
    assert MJ.status_map["CANCEL"] is UpstreamStatus.FAILED
    unknown = MJ.parse_callback(b'{"id": "1", "status": "SOMETHING_NEW", "progress": "12%"}')
    assert (unknown.status, unknown.raw_status, unknown.progress) == (
        UpstreamStatus.UNKNOWN,
        "SOMETHING_NEW",
        12,
    )
    assert [parse_progress(v) for v in ("58%", " 7 % ", "", None, "n/a", "140%")] == [
        58,
        7,
        None,
        None,
        None,
        100,
    ]
    numeric = MidjourneyTask.model_validate({"id": 1773314942177684, "status": "IN_PROGRESS", "progress": 40})
    assert (numeric.id, numeric.progress) == ("1773314942177684", "40")


# --- Error mapping (a scripted upstream: answers the simulator never gives) ------------------------


def scripted(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return answer


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, {"error": {"message": "rate limited"}}, ProviderUnavailableError),
        (503, "", ProviderUnavailableError),
        (401, {"error": {"message": "invalid token"}}, ProviderUnavailableError),
        (500, "", SubmitOutcomeUnknownError),
        (502, "<html>bad gateway</html>", SubmitOutcomeUnknownError),
        (504, "", SubmitOutcomeUnknownError),
        (524, "", SubmitOutcomeUnknownError),
        (200, "<html>", SubmitOutcomeUnknownError),
        (200, {"code": 1, "description": "提交成功", "result": None}, SubmitOutcomeUnknownError),
        (200, {"code": 5, "description": "unknown error"}, ProviderUnavailableError),
        (500, {"code": 9, "description": "系统异常"}, ProviderUnavailableError),
        (200, {"code": 23, "description": "队列已满"}, ProviderUnavailableError),
        (400, {"code": 4, "description": "prompt 不能为空", "type": "upstream_error"}, ProviderRejectedError),
        (404, {"code": 3, "description": "关联任务不存在或已失效"}, ProviderRejectedError),
        (
            400,
            {"code": 24, "description": "可能包含敏感词", "properties": {"bannedWord": "gore"}},
            ProviderRejectedError,
        ),
        (200, {"code": 77, "description": "?"}, ProviderRejectedError),
        (502, {"code": 77, "description": "?"}, SubmitOutcomeUnknownError),
        (400, "bad request", ProviderRejectedError),
    ],
)
def test_midjourney_submit_error_mapping(status: int, body: Any, error: type[Exception]) -> None:
    transport = httpx.MockTransport(scripted(status, body, {"Retry-After": "7"}))
    with httpx.Client(transport=transport) as http, pytest.raises(error) as caught:
        MJ.submit(http, MOCK, job("imagine", prompt="a boat"))
    if isinstance(caught.value, ProviderUnavailableError) and status == 429:
        assert caught.value.retry_after == 7.0
    if isinstance(caught.value, ProviderRejectedError):
        assert caught.value.code == (
            "moderation_blocked" if '"code": 24' in json.dumps(body) else "invalid_input"
        )


@pytest.mark.parametrize(
    "answer",
    [
        {"code": 1, "description": "提交成功", "result": "1773314942177684"},
        {
            "code": 21,
            "description": "任务已存在",
            "result": 1773314942177684,
            "properties": {"status": "SUCCESS"},
        },
        {
            "code": 22,
            "description": "排队中",
            "result": "1773314942177684",
            "properties": {"numberOfQueues": 2},
        },
    ],
)
def test_midjourney_accepted_codes(answer: dict[str, Any]) -> None:
    with httpx.Client(transport=httpx.MockTransport(scripted(200, answer))) as http:
        assert MJ.submit(http, MOCK, job("imagine", prompt="a")) == "1773314942177684"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, ""),
        (200, "null"),
        (200, ""),
        (400, {"code": 4, "description": "task_no_found", "type": "upstream_error"}),
    ],
)
def test_midjourney_unknown_task_keeps_waiting(status: int, body: Any) -> None:
    with httpx.Client(transport=httpx.MockTransport(scripted(status, body))) as http:
        update = MJ.poll(http, MOCK, TaskRef("job-1", "imagine", "1"))
    assert (update.status, update.raw_status) == (UpstreamStatus.UNKNOWN, "task_not_exist")


@pytest.mark.parametrize(
    ("status", "body"), [(500, ""), (429, ""), (401, {"error": {}}), (200, "<html>"), (200, {"code": 9})]
)
def test_midjourney_query_errors_are_retryable(status: int, body: Any) -> None:
    transport = httpx.MockTransport(scripted(status, body))
    with httpx.Client(transport=transport) as http, pytest.raises(ProviderUnavailableError):
        MJ.poll(http, MOCK, TaskRef("job-1", "imagine", "1"))


def test_midjourney_query_timeout_is_retryable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with httpx.Client(transport=httpx.MockTransport(timeout)) as http:
        with pytest.raises(ProviderUnavailableError):
            MJ.poll(http, MOCK, TaskRef("job-1", "imagine", "1"))
        with pytest.raises(ProviderUnavailableError):
            MJ.find(http, MOCK, "job-1", "imagine")
