"""Suno: the music/lyrics inputs, the adapter against the simulator over real HTTP (two clips, files
only at SUCCESS, lyrics as text, failures, batch fetch, vendor mode, callbacks) and its error mapping."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from orchestrator.pricing import load_price_table
from tests.services import serving, wait_until
from workers.providers import PROVIDERS
from workers.providers.base import Channel, ProviderUpdate, SubmitRequest, TaskRef, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.suno.adapter import Suno
from workers.providers.suno.schemas import SunoLyricsInput, SunoMusicInput, task_status_from_clips
from workers.providers.suno.wire import task_from_data, update_from_task
from workers.simulator import Outcome, SimConfig, Simulator, create_app

API_KEY = "sk-test-suno"
SUNO = Suno()
CUSTOM = {"prompt": "[Verse]\nNeon rain on the avenue", "tags": "synthwave", "title": "Neon Rain"}
INSPIRATION = {"gpt_description_prompt": "a calm lo-fi song about rain"}


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(speed=0.0, seed=11, api_key=API_KEY, not_found_polls=0))


@pytest.fixture
def base_url(sim: Simulator) -> Iterator[str]:
    with serving(create_app(sim)) as server:
        yield server.url


@pytest.fixture
def channel(base_url: str) -> Channel:
    return Channel("suno-sim", base_url, api_key=API_KEY)


def music(job_id: str = "job-1", model: str = "chirp-v4", **fields: Any) -> SubmitRequest:
    job_input = SunoMusicInput.model_validate(fields or CUSTOM).model_dump(mode="json", exclude_none=True)
    return SubmitRequest(job_id=job_id, operation="music", model=model, input=job_input)


def lyrics(prompt: str = "a sea shanty about a lighthouse keeper") -> SubmitRequest:
    return SubmitRequest(
        job_id="job-lyrics", operation="lyrics", model="suno_lyrics", input={"prompt": prompt}
    )


def ref(external_id: str, operation: str = "music") -> TaskRef:
    return TaskRef(job_id="job", operation=operation, external_id=external_id)


def poll_until_done(http: httpx.Client, channel: Channel, task: TaskRef) -> list[ProviderUpdate]:
    """Every update polled until a terminal one, which comes last."""
    seen: list[ProviderUpdate] = []

    def done() -> bool:
        seen.append(SUNO.poll(http, channel, task))
        return seen[-1].status in (UpstreamStatus.SUCCEEDED, UpstreamStatus.FAILED)

    wait_until(done, timeout=20)
    return seen


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


MOCK = Channel("mock", "https://api.example.test", api_key=API_KEY)


# --- inputs ---------------------------------------------------------------------------------------


def test_suno_music_input_three_modes_are_told_apart() -> None:
    inspiration = SunoMusicInput.model_validate({**INSPIRATION, "make_instrumental": True})
    custom = SunoMusicInput.model_validate({**CUSTOM, "negative_tags": "metal"})
    continuation = SunoMusicInput.model_validate(
        {
            **CUSTOM,
            "continue_clip_id": "clip-1",
            "continue_at": 42.5,
            "task_id": "task-1",
            "infill_start_s": 3,
        }
    )
    instrumental = SunoMusicInput.model_validate({"tags": "ambient", "make_instrumental": True})
    assert [m.mode for m in (inspiration, custom, continuation, instrumental)] == [
        "inspiration",
        "custom",
        "continuation",
        "custom",
    ]
    # The derived mode is kept with the job input (prices can match on it) and accepted back.
    dumped = custom.model_dump(mode="json", exclude_none=True)
    assert dumped["mode"] == "custom"
    assert SunoMusicInput.model_validate(dumped) == custom


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({**INSPIRATION, "prompt": "[Verse] x"}, "cannot be combined"),
        ({**INSPIRATION, "continue_clip_id": "c", "task_id": "t", "continue_at": 1}, "cannot be combined"),
        ({**CUSTOM, "continue_clip_id": "c", "continue_at": 10}, "task_id"),
        ({**CUSTOM, "task_id": "t"}, "continue_clip_id"),
        ({"tags": "pop"}, "needs prompt"),
        ({"prompt": "   "}, "needs prompt"),
        ({**CUSTOM, "mode": "inspiration"}, "does not match"),
        ({**CUSTOM, "infill_start_s": 10, "infill_end_s": 5}, "infill_end_s"),
        ({**CUSTOM, "mv": "chirp-v4"}, "Extra inputs"),
        ({**CUSTOM, "continue_at": -1, "continue_clip_id": "c", "task_id": "t"}, "greater than or equal"),
    ],
)
def test_suno_music_input_refuses_incoherent_combinations(fields: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SunoMusicInput.model_validate(fields)


@pytest.mark.parametrize("prompt", ["", "   "])
def test_suno_lyrics_input_needs_a_prompt(prompt: str) -> None:
    with pytest.raises(ValidationError):
        SunoLyricsInput.model_validate({"prompt": prompt})


def test_suno_prices_music_per_model_and_lyrics() -> None:
    prices = load_price_table()
    job_input = music().input
    assert prices.list_price("suno", "music", "chirp-v4", job_input) == 120_000
    assert prices.list_price("suno", "music", "chirp-v3-0", music(**INSPIRATION).input) == 100_000
    assert prices.list_price("suno", "lyrics", "suno_lyrics", {"prompt": "x"}) == 10_000


# --- task status from clips -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clips", "status"),
    [
        (["submitted", "submitted"], "SUBMITTED"),
        (["queued", "queued"], "QUEUED"),
        (["streaming", "streaming"], "IN_PROGRESS"),
        (["complete", "streaming"], "IN_PROGRESS"),
        (["streaming", "complete"], "IN_PROGRESS"),
        (["complete", "complete"], "SUCCESS"),
        (["complete", "error"], "FAILURE"),
        (["error", "error"], "FAILURE"),
        (["submitted", "queued"], "SUBMITTED"),
        (["complete"], "SUCCESS"),
        ([], "NOT_START"),
        (["remixing", "complete"], "UNKNOWN"),
    ],
)
def test_suno_task_status_is_derived_from_clips(clips: list[str], status: str) -> None:
    assert task_status_from_clips(clips) == status


def clip(n: int, status: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"clip-{n}", "status": status, "title": "T", **extra}


def test_suno_one_complete_clip_and_one_streaming_is_running_without_files() -> None:
    task = {
        "task_id": "t-1",
        "action": "MUSIC",
        "status": "IN_PROGRESS",
        "progress": "62%",
        "data": [
            clip(0, "complete", audio_url="https://cdn1.suno.ai/clip-0.mp3", metadata={"duration": 120.5}),
            clip(1, "streaming", audio_url="https://audiopipe.suno.ai/?item_id=clip-1"),
        ],
    }
    update = SUNO.parse_callback(json.dumps(task).encode())
    assert (update.status, update.raw_status, update.progress) == (UpstreamStatus.RUNNING, "IN_PROGRESS", 62)
    assert update.outputs == ()
    assert update.result is not None
    assert [c["clip_id"] for c in update.result["clips"]] == ["clip-0", "clip-1"]
    # Without a task status (the proxy's bare clips) the clips decide, the same way.
    bare = update_from_task(task_from_data(task["data"], "t-1"))
    assert (bare.status, bare.raw_status, bare.external_id) == (UpstreamStatus.RUNNING, "IN_PROGRESS", "t-1")


def test_suno_failure_reason_comes_from_the_first_clip_error_message() -> None:
    task = {
        "task_id": "t-2",
        "status": "FAILURE",
        "fail_reason": "",
        "data": [
            clip(0, "error", audio_url="https://cdn1.suno.ai/None.mp3", metadata={"error_message": "boom"}),
            clip(1, "error", metadata={"error_type": "moderation", "error_message": "second"}),
        ],
    }
    update = SUNO.parse_callback(json.dumps(task).encode())
    assert (update.status, update.error_message, update.outputs) == (UpstreamStatus.FAILED, "boom", ())
    assert update.error_code == "moderation_blocked"  # a clip's error_type says moderation
    task["data"] = [clip(0, "error", metadata={"error_type": "internal", "error_message": 500})]
    update = SUNO.parse_callback(json.dumps(task).encode())
    assert (update.error_code, update.error_message) == ("upstream_failed", "500")


@pytest.mark.parametrize("status", ["MYSTERY", "UNKNOWN", ""])
def test_suno_unknown_status_is_unknown(status: str) -> None:
    body = {"task_id": "t-3", "status": status, "data": [clip(0, "rendering"), clip(1, "rendering")]}
    update = SUNO.parse_callback(json.dumps(body).encode())
    assert update.status is UpstreamStatus.UNKNOWN
    assert update.outputs == ()
    assert update.error_code is None


# --- music and lyrics through the simulator ------------------------------------------------------


def test_suno_music_yields_both_clips_files_only_at_success(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    # Clip 0 completes 85% into processing: a window where one clip is complete and one streams.
    sim.script("suno", [Outcome(result="succeed", submitted_s=0.6, processing_s=3.0)])
    task_id = SUNO.submit(http, channel, music())
    assert len(task_id) == 36  # a UUID
    seen = poll_until_done(http, channel, ref(task_id))
    raws = [u.raw_status for u in seen]
    assert raws[0] == "SUBMITTED"
    assert {"QUEUED", "IN_PROGRESS"} <= set(raws)
    assert raws[-1] == "SUCCESS"
    assert all(u.outputs == () for u in seen[:-1])  # never a streaming link
    done = seen[-1]
    labels = [o.label for o in done.outputs]
    assert labels == [f"clip-{n}.{kind}" for n in (0, 1) for kind in ("audio", "image", "video")]
    assert [o.content_type for o in done.outputs[:3]] == ["audio/mpeg", "image/jpeg", "video/mp4"]
    assert not any("audiopipe" in o.url for o in done.outputs)
    assert http.get(done.outputs[0].url).raise_for_status().content.startswith(b"ID3")
    assert done.result is not None
    assert done.result["task_id"] == task_id
    clips = done.result["clips"]
    assert [c["model_name"] for c in clips] == ["chirp-v4", "chirp-v4"]
    assert all(c["title"] == "Neon Rain" and c["tags"] == "synthwave" and c["duration"] > 0 for c in clips)
    assert clips[0]["clip_id"] != clips[1]["clip_id"]


def test_suno_wire_while_one_clip_is_complete_and_the_other_streams(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    sim.script("suno", [Outcome(result="succeed", submitted_s=0.0, processing_s=3.0)])
    task_id = SUNO.submit(http, channel, music())
    headers = {"Authorization": f"Bearer {API_KEY}"}

    def mixed() -> dict[str, Any] | None:
        data = http.get(f"{channel.base_url}/suno/fetch/{task_id}", headers=headers).json()["data"]
        return data if [c["status"] for c in data["data"]] == ["complete", "streaming"] else None

    data = wait_until(mixed)
    assert data["status"] == "IN_PROGRESS"
    assert data["finish_time"] == 0 < data["submit_time"] <= data["start_time"]
    assert data["progress"].endswith("%")
    complete, streaming = data["data"]
    assert complete["audio_url"].split("?")[0].endswith(".mp3")
    assert complete["metadata"]["duration"] > 0
    assert "audiopipe" in streaming["audio_url"]
    assert streaming["video_url"] == ""
    assert streaming["metadata"]["duration"] is None
    update = update_from_task(task_from_data(data, task_id))
    assert (update.status, update.outputs) == (UpstreamStatus.RUNNING, ())


def test_suno_lyrics_hand_over_text(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    task_id = SUNO.submit(http, channel, lyrics())
    done = poll_until_done(http, channel, ref(task_id, "lyrics"))[-1]
    assert done.status is UpstreamStatus.SUCCEEDED
    (output,) = done.outputs
    assert (output.label, output.content_type) == ("lyrics", "text/plain")
    assert output.url.startswith("data:text/plain;charset=utf-8;base64,")
    text = base64.b64decode(output.url.split(",", 1)[1]).decode()
    assert done.result == {"title": "A Sea Shanty About", "text": text}
    assert text.startswith("[Verse]")


def test_suno_failure_and_moderation(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    sim.script(
        "suno",
        [
            Outcome(result="fail"),
            Outcome(result="moderation"),
            Outcome(result="fail", message="lyrics contain restricted content"),
            Outcome(result="moderation"),
        ],
    )
    updates = [poll_until_done(http, channel, ref(SUNO.submit(http, channel, music())))[-1] for _ in range(3)]
    updates.append(poll_until_done(http, channel, ref(SUNO.submit(http, channel, lyrics()), "lyrics"))[-1])
    assert [u.status for u in updates] == [UpstreamStatus.FAILED] * 4
    assert [u.error_code for u in updates] == [
        "upstream_failed",
        "moderation_blocked",
        "moderation_blocked",
        "moderation_blocked",
    ]
    assert updates[0].error_message == "Audio generation failed: internal error"
    assert updates[2].error_message == "lyrics contain restricted content"
    assert all(u.outputs == () for u in updates)  # "None.mp3" is no file


def test_suno_failure_wire_shape(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    sim.script("suno", [Outcome(result="moderation")])
    task_id = SUNO.submit(http, channel, music())
    body = http.get(
        f"{channel.base_url}/suno/fetch/{task_id}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    data = body.json()["data"]
    assert (data["status"], data["progress"]) == ("FAILURE", "100%")
    assert data["fail_reason"] == data["data"][0]["metadata"]["error_message"]
    assert data["data"][0]["metadata"]["error_type"] == "moderation"
    assert data["data"][0]["audio_url"].endswith("None.mp3")


def test_suno_continuation_needs_a_real_parent_clip(
    sim: Simulator, http: httpx.Client, channel: Channel
) -> None:
    parent = SUNO.submit(http, channel, music())
    done = poll_until_done(http, channel, ref(parent))[-1]
    assert done.result is not None
    clip_id = done.result["clips"][1]["clip_id"]
    extend = {**CUSTOM, "continue_clip_id": clip_id, "continue_at": 30, "task_id": parent}
    child = SUNO.submit(http, channel, music(**extend))
    assert poll_until_done(http, channel, ref(child))[-1].status is UpstreamStatus.SUCCEEDED
    with pytest.raises(ProviderRejectedError) as refused:
        SUNO.submit(http, channel, music(**{**extend, "continue_clip_id": "not-a-clip"}))
    assert refused.value.code == "invalid_input"


def test_suno_result_links_expire(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    sim.configure(url_ttl_s=-5)
    task_id = SUNO.submit(http, channel, music())
    done = poll_until_done(http, channel, ref(task_id))[-1]
    assert http.get(done.outputs[0].url).status_code == 403


# --- queries ---------------------------------------------------------------------------------------


def test_suno_task_not_exist_polls_as_unknown(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    sim.configure(not_found_polls=1)
    task_id = SUNO.submit(http, channel, music())
    first = SUNO.poll(http, channel, ref(task_id))
    assert (first.status, first.raw_status, first.external_id) == (
        UpstreamStatus.UNKNOWN,
        "task_not_exist",
        task_id,
    )
    assert SUNO.poll(http, channel, ref(task_id)).status is UpstreamStatus.SUCCEEDED
    wire = http.get(
        f"{channel.base_url}/suno/fetch/no-such-task", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert wire.status_code == 400
    assert wire.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    assert SUNO.poll(http, channel, ref("no-such-task")).status is UpstreamStatus.UNKNOWN


def test_suno_batch_fetch(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    songs = [SUNO.submit(http, channel, music(job_id=f"job-{n}")) for n in range(2)]
    words = SUNO.submit(http, channel, lyrics())
    found = SUNO.fetch_many(http, channel, "music", [*songs, words, "no-such-task"])
    assert set(found) == set(songs)  # the lyrics task is another action; unknown ids are left out
    assert all(u.status is UpstreamStatus.SUCCEEDED and len(u.outputs) == 6 for u in found.values())
    assert set(SUNO.fetch_many(http, channel, "lyrics", [*songs, words])) == {words}
    wire = http.post(
        f"{channel.base_url}/suno/fetch",
        json={"ids": songs, "action": "MUSIC"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    ).json()
    assert wire["code"] == "success"
    assert sorted(item["task_id"] for item in wire["data"]) == sorted(songs)
    assert all(item["action"] == "MUSIC" and len(item["data"]) == 2 for item in wire["data"])


def test_suno_vendor_mode_polls_through_the_batch_fetch(
    sim: Simulator, http: httpx.Client, base_url: str
) -> None:
    vendor = Channel("suno-proxy", base_url, api_key=API_KEY, mode="vendor")
    task_id = SUNO.submit(http, vendor, music())
    done = poll_until_done(http, vendor, ref(task_id))[-1]
    assert (done.status, len(done.outputs)) == (UpstreamStatus.SUCCEEDED, 6)
    assert SUNO.poll(http, vendor, ref("no-such-task")).status is UpstreamStatus.UNKNOWN
    paths: list[str] = []

    def proxy(request: httpx.Request) -> httpx.Response:
        paths.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json={"code": "success", "message": "", "data": []})

    with mock_client(proxy) as client:
        SUNO.poll(client, Channel("p", "https://proxy.test", api_key="k", mode="vendor"), ref("t"))
    assert paths == ["POST /suno/fetch"]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, {"code": "rate_limit", "message": "slow down"}, ProviderUnavailableError),
        (503, {"code": "service_unavailable", "message": "busy"}, ProviderUnavailableError),
        (502, "<html>bad gateway</html>", ProviderUnavailableError),
        (200, {"code": "internal_error", "message": "db down"}, ProviderUnavailableError),
        (200, "not json", ProviderUnavailableError),
    ],
)
def test_suno_query_errors_are_retryable(status: int, body: Any, error: type[Exception]) -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return (
            httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
        )

    with mock_client(answer) as client, pytest.raises(error):
        SUNO.poll(client, MOCK, ref("t"))


def test_suno_query_timeout_is_retryable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with mock_client(timeout) as client, pytest.raises(ProviderUnavailableError):
        SUNO.poll(client, MOCK, ref("t"))


# --- submits ---------------------------------------------------------------------------------------


def test_suno_submit_sends_mv_and_notify_hook_but_not_mode() -> None:
    sent: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"code": "success", "message": "", "data": "uuid-1"})

    request = SubmitRequest("job-1", "music", "chirp-auk", music().input, callback_url="https://us/cb/tok")
    with mock_client(accept) as client:
        assert SUNO.submit(client, MOCK, request) == "uuid-1"
        assert SUNO.submit(client, MOCK, lyrics()) == "uuid-1"
    song, words = (json.loads(r.content) for r in sent)
    assert song == {**CUSTOM, "mv": "chirp-auk", "notify_hook": "https://us/cb/tok"}
    assert words == {"prompt": "a sea shanty about a lighthouse keeper"}
    assert [r.url.path for r in sent] == ["/suno/submit/music", "/suno/submit/lyrics"]
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in sent)


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (400, {"code": "invalid_request", "message": "prompt_empty"}, ProviderRejectedError, "invalid_input"),
        (
            400,
            {"code": "invalid_request", "message": "task id is empty"},
            ProviderRejectedError,
            "invalid_input",
        ),
        (
            400,
            {"code": "invalid_request", "message": "Tags contained artist name: Adele"},
            ProviderRejectedError,
            "moderation_blocked",
        ),
        (
            200,
            {"code": "fail", "message": "lyrics violate our content policy"},
            ProviderRejectedError,
            "moderation_blocked",
        ),
        (200, {"code": 1, "message": "unexpected"}, ProviderRejectedError, "invalid_input"),
        (
            403,
            {"error": {"message": "model not allowed", "code": ""}},
            ProviderRejectedError,
            "invalid_input",
        ),
        (402, {"code": "insufficient_credits", "message": "no credits"}, ProviderUnavailableError, None),
        (
            401,
            {"error": {"message": "Invalid token", "type": "comet_api_error"}},
            ProviderUnavailableError,
            None,
        ),
        (400, {"code": "quota_exceeded", "message": "account quota"}, ProviderUnavailableError, None),
        (429, {"code": "rate_limit", "message": "slow down"}, ProviderUnavailableError, None),
        (503, {"code": "service_unavailable", "message": "busy"}, ProviderUnavailableError, None),
        (500, {"code": "internal_error", "message": "oops"}, SubmitOutcomeUnknownError, None),
        (502, {"code": "bad_gateway", "message": ""}, SubmitOutcomeUnknownError, None),
        (504, {"code": "timeout", "message": ""}, SubmitOutcomeUnknownError, None),
        (200, {"code": "success", "message": "", "data": ""}, SubmitOutcomeUnknownError, None),
    ],
)
def test_suno_submit_answers_are_mapped(
    status: int, body: dict[str, Any], error: type[Exception], code: str | None
) -> None:
    with mock_client(lambda _: httpx.Response(status, json=body)) as client, pytest.raises(error) as raised:
        SUNO.submit(client, MOCK, music())
    if isinstance(raised.value, ProviderRejectedError):
        assert raised.value.code == code


@pytest.mark.parametrize(
    ("exception", "error"),
    [(httpx.ConnectError, ProviderUnavailableError), (httpx.ReadTimeout, SubmitOutcomeUnknownError)],
)
def test_suno_submit_transport_errors(exception: type[httpx.TransportError], error: type[Exception]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exception("down", request=request)

    with mock_client(fail) as client, pytest.raises(error):
        SUNO.submit(client, MOCK, music())


def test_suno_simulator_refusals_on_the_wire(sim: Simulator, http: httpx.Client, channel: Channel) -> None:
    url, headers = f"{channel.base_url}/suno/submit", {"Authorization": f"Bearer {API_KEY}"}
    empty = http.post(f"{url}/lyrics", json={"prompt": ""}, headers=headers)
    assert (empty.status_code, empty.json()) == (
        400,
        {"code": "invalid_request", "message": "prompt_empty", "data": None},
    )
    assert http.post(f"{url}/video", json={}, headers=headers).json()["message"] == "invalid_action"
    anonymous = http.post(f"{url}/music", json=CUSTOM)
    assert (anonymous.status_code, anonymous.json()["error"]["type"]) == (401, "comet_api_error")
    sim.configure(rate_limit_rate=1.0)
    limited = http.post(f"{url}/music", json=CUSTOM, headers=headers)
    assert (limited.status_code, limited.json()["code"], limited.headers["retry-after"]) == (
        429,
        "rate_limit",
        "1",
    )
    stats = sim.stats()["suno"]
    assert (stats.creates, stats.create_attempts) == (0, 4)
    assert stats.rejected == {"invalid_request": 1, "invalid_action": 1, "unauthorized": 1, "rate_limited": 1}


@pytest.mark.parametrize(
    ("knob", "key"),
    [("rate_limit_rate", API_KEY), ("submit_error_rate", API_KEY), ("failure_rate", "sk-wrong")],
)
def test_suno_simulator_refusals_are_retryable(
    sim: Simulator, http: httpx.Client, base_url: str, knob: str, key: str
) -> None:
    sim.configure(**{knob: 1.0})
    channel = Channel("sim", base_url, api_key=key)
    with pytest.raises(ProviderUnavailableError):  # a wrong key: CometAPI's 401, in OpenAI's shape
        SUNO.submit(http, channel, music())
    assert sim.stats()["suno"].creates == 0


def test_suno_read_timeout_leaves_a_created_task_and_find_refuses(sim: Simulator, channel: Channel) -> None:
    sim.configure(read_timeout_rate=1.0, stall_s=20.0)
    with httpx.Client(timeout=0.3) as http, pytest.raises(SubmitOutcomeUnknownError):
        SUNO.submit(http, channel, music())
    assert sim.stats()["suno"].creates == 1
    assert PROVIDERS["suno"].finds_by_job_id is False
    with httpx.Client(timeout=1) as http, pytest.raises(ProviderRejectedError):
        SUNO.find(http, channel, "job-1", "music")


# --- callbacks -------------------------------------------------------------------------------------


def test_suno_notify_hook_posts_task_objects(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(speed=0.001)
    request = SubmitRequest("job-cb", "music", "chirp-v4", music().input, callback_url=url)
    task_id = SUNO.submit(http, channel, request)
    wait_until(lambda: sim.stats()["suno"].callbacks_sent == 3)
    assert [b["status"] for b in bodies] == ["SUBMITTED", "IN_PROGRESS", "SUCCESS"]
    assert all(b["task_id"] == task_id and b["notify_hook"] == url and "code" not in b for b in bodies)
    updates = [SUNO.parse_callback(json.dumps(b).encode()) for b in bodies]
    assert [u.status for u in updates] == [
        UpstreamStatus.PENDING,
        UpstreamStatus.RUNNING,
        UpstreamStatus.SUCCEEDED,
    ]
    assert [len(u.outputs) for u in updates] == [0, 0, 6]
    wrapped = json.dumps({"code": "success", "message": "", "data": bodies[-1]}).encode()
    assert SUNO.parse_callback(wrapped) == updates[-1]


def test_suno_duplicate_and_reordered_callbacks_all_parse(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    sim.configure(speed=0.001, duplicate_callback_rate=1.0, reorder_callbacks=True)
    SUNO.submit(http, channel, SubmitRequest("job-dup", "music", "chirp-v4", music().input, callback_url=url))
    wait_until(lambda: sim.stats()["suno"].callbacks_sent == 6)
    statuses = [SUNO.parse_callback(json.dumps(b).encode()).status for b in bodies]
    # Callbacks falling due together are sent concurrently, like a real provider's: only the multiset
    # of what arrives is certain, not its order.
    assert sorted(statuses) == sorted(
        [UpstreamStatus.PENDING, UpstreamStatus.RUNNING, UpstreamStatus.SUCCEEDED] * 2
    )


def test_suno_lyrics_send_no_callbacks(
    sim: Simulator, http: httpx.Client, channel: Channel, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    request = SubmitRequest("job-l", "lyrics", "suno_lyrics", {"prompt": "rain"}, callback_url=url)
    task_id = SUNO.submit(http, channel, request)
    assert SUNO.poll(http, channel, ref(task_id, "lyrics")).status is UpstreamStatus.SUCCEEDED
    stats = sim.stats()["suno"]
    assert (stats.callbacks_sent, stats.callbacks_failed, bodies) == (0, 0, [])


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"status": "SUCCESS"}', b'{"task_id": "t", "data": "clips"}', b"null"]
)
def test_suno_garbage_callbacks_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidCallbackError):
        SUNO.parse_callback(body)
