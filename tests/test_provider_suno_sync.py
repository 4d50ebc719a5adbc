"""Suno's synchronous calls fitted to submit-and-poll, against the simulator over real HTTP: a persona made
once by the submit (its failures, refusals and lost answers) and sung with; the WAV, MP4, MIDI and timing
conversions asked for by each poll (MIDI running first); and reading their loosely documented answers."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import httpx
import pytest

from tests.services import wait_until
from tests.suno_ops import SUNO, clip_ids, follow_up, request, run, song, upstream
from workers.providers.base import Channel, TaskRef, UpstreamStatus
from workers.providers.errors import (
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.suno.wire_sync import conversion_update, persona_id
from workers.simulator import Outcome, Refusal, Simulator, SubmitFault

SUNG = ["Neon", "rain", "on", "the", "avenue"]  # tests.suno_ops.CUSTOM's lyrics, without the [Verse] tag


def decoded(url: str) -> Any:
    return json.loads(base64.b64decode(url.partition(",")[2]))


# --- persona ---------------------------------------------------------------------------------------


def test_suno_sync_persona_is_made_by_the_submit_and_sung_with(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    creates = simulator.stats()["suno"].creates
    seen = run(http, channel, follow_up("persona", parent, name="Night Singer"))
    assert simulator.stats()["suno"].creates == creates + 1  # the submit's one call; polls call nothing
    done = seen[-1]
    assert (done.status, done.outputs) == (UpstreamStatus.SUCCEEDED, ())
    assert done.result is not None
    made = done.result["persona_id"]
    assert done.result["refs"] == [made]

    root = clip_ids(parent)[0]
    sung = {"prompt": "[Verse] la la", "tags": "pop", "task": "artist_consistency", "artist_clip_id": root}
    with_persona = run(http, channel, request("music", {**sung, "persona_id": made}))[-1]
    assert with_persona.status is UpstreamStatus.SUCCEEDED
    with pytest.raises(ProviderRejectedError, match="persona not-a-persona not found"):
        SUNO.submit(http, channel, request("music", {**sung, "persona_id": "not-a-persona"}))


@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_suno_sync_persona_refused_by_suno_fails_the_job(
    simulator: Simulator, simulator_url: str, http: httpx.Client, fate: str, code: str
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    simulator.script("suno", [Outcome(result=fate)])  # type: ignore[arg-type]
    with pytest.raises(ProviderRejectedError) as refused:
        SUNO.submit(http, channel, follow_up("persona", parent, name="Night Singer"))
    assert refused.value.code == code


def test_suno_sync_persona_not_now_and_lost_answers(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    persona = follow_up("persona", song(http, channel), name="Night Singer")
    creates = simulator.stats()["suno"].creates
    simulator.refuse("suno", [Refusal(fault=SubmitFault.RATE_LIMITED)])
    with pytest.raises(ProviderUnavailableError):  # nothing made: another channel or a retry may
        SUNO.submit(http, channel, persona)
    assert simulator.stats()["suno"].creates == creates
    simulator.configure(read_timeout_rate=1.0, stall_s=20.0)
    with httpx.Client(timeout=0.3) as impatient, pytest.raises(SubmitOutcomeUnknownError):
        SUNO.submit(impatient, channel, persona)
    # Made, but its id never came back: ambiguous, settled by the core (never sent again).
    assert simulator.stats()["suno"].creates == creates + 1


def test_suno_sync_persona_body_names_the_root_and_the_clips() -> None:
    sent: list[dict[str, Any]] = []

    def upstream_call(call: httpx.Request) -> httpx.Response:
        sent.append(json.loads(call.content))
        return httpx.Response(200, json={"code": "success", "message": "", "data": {"id": "persona-7"}})

    parent_result = {"task_id": "song-1", "clips": [{"clip_id": "c0"}, {"clip_id": "c1"}]}
    persona = request("persona", {"parent_job_id": "p", "name": "N", "clips": ["c1", "c0"]})
    persona = type(persona)(**{**vars(persona), "parent_result": parent_result})
    with httpx.Client(transport=httpx.MockTransport(upstream_call)) as http:
        assert SUNO.submit(http, Channel("mock", "https://x.test", api_key="k"), persona) == "persona-7"
    assert sent == [
        {"root_clip_id": "c1", "name": "N", "description": "", "clips": ["c1", "c0"], "is_public": False}
    ]


# --- conversions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "label", "content_type", "magic"),
    [("wav", "wav", "audio/wav", b"RIFF"), ("mp4", "mp4", "video/mp4", b"\x00\x00\x00\x18ftyp")],
)
def test_suno_sync_wav_and_mp4_are_files_of_the_clip(
    simulator: Simulator,
    simulator_url: str,
    http: httpx.Client,
    kind: str,
    label: str,
    content_type: str,
    magic: bytes,
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    attempts = simulator.stats()["suno"].create_attempts
    clip = clip_ids(parent)[1]
    assert SUNO.submit(http, channel, follow_up(kind, parent, clip_id=clip)) == clip
    assert simulator.stats()["suno"].create_attempts == attempts  # the submit calls nothing
    done = SUNO.poll(http, channel, TaskRef("job", kind, clip))
    assert done.status is UpstreamStatus.SUCCEEDED
    assert [(o.label, o.content_type) for o in done.outputs] == [(label, content_type)]
    assert http.get(done.outputs[0].url).raise_for_status().content.startswith(magic)
    assert done.result == {"clip_id": clip}


def test_suno_sync_midi_is_asked_again_until_complete(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    seen = run(http, channel, follow_up("midi", song(http, channel)))
    assert [update.raw_status for update in seen] == ["running", "complete"]
    assert seen[0].status is UpstreamStatus.RUNNING
    done = seen[-1]
    assert done.result is not None
    instruments = done.result["instruments"]
    assert [i["name"] for i in instruments] == ["Piano", "Bass", "Drums"]
    assert all(note["end"] > note["start"] for i in instruments for note in i["notes"])
    [notes] = done.outputs
    assert (notes.label, notes.content_type) == ("midi", "application/json")
    assert decoded(notes.url) == {"state": "complete", "instruments": instruments}


def test_suno_sync_timing_aligns_the_sung_words(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    done = run(http, channel, follow_up("timing", song(http, channel)))[-1]
    assert done.status is UpstreamStatus.SUCCEEDED
    assert done.result is not None
    words = done.result["aligned_words"]
    assert [w["word"] for w in words] == SUNG
    assert all(w["start_s"] < w["end_s"] <= next_w["start_s"] for w, next_w in itertools.pairwise(words))
    assert {"waveform_data", "hoot_cer", "is_streamed"} <= set(done.result)
    [stored] = done.outputs
    assert (stored.label, stored.content_type) == ("timing", "application/json")
    assert decoded(stored.url)["aligned_words"] == words


@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_suno_sync_conversion_refused_fails_the_job(
    simulator: Simulator, simulator_url: str, http: httpx.Client, fate: str, code: str
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    simulator.script("suno", [Outcome(result=fate)])  # type: ignore[arg-type]
    done = run(http, channel, follow_up("timing", parent))[-1]
    assert (done.status, done.error_code, done.outputs) == (UpstreamStatus.FAILED, code, ())
    assert done.error_message


def test_suno_sync_conversion_of_an_unfinished_clip_fails_and_a_bad_key_waits(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    simulator.script("suno", [Outcome(result="succeed", held=True)])
    task = TaskRef(
        "job", "music", SUNO.submit(http, channel, request("music", {"prompt": "[Verse] hold on"}))
    )
    # The clips show once the task runs; the first completes only when the test lets it.
    streaming = wait_until(lambda: SUNO.poll(http, channel, task).result, timeout=10)
    clip = str(streaming["clips"][0]["clip_id"])
    early = SUNO.poll(http, channel, TaskRef("job", "timing", clip))
    assert (early.status, early.error_code) == (UpstreamStatus.FAILED, "upstream_failed")
    assert early.error_message == f"clip {clip} is not complete"
    unknown = SUNO.poll(http, channel, TaskRef("job", "wav", "no-such-clip"))
    assert (unknown.status, unknown.error_message) == (UpstreamStatus.FAILED, "clip no-such-clip not found")
    wrong_key = Channel("sim", simulator_url, api_key="sk-wrong")
    with pytest.raises(ProviderUnavailableError):
        SUNO.poll(http, wrong_key, TaskRef("job", "wav", clip))


# --- reading loosely shaped answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "payload", "status"),
    [
        ("wav", {"wav_url": "https://cdn1.suno.ai/a.wav"}, UpstreamStatus.SUCCEEDED),
        ("wav", {"url": "https://cdn1.suno.ai/a.wav", "state": "complete"}, UpstreamStatus.SUCCEEDED),
        ("wav", {"state": "processing"}, UpstreamStatus.RUNNING),
        ("wav", {"wav_file_url": ""}, UpstreamStatus.UNKNOWN),  # nothing readable: keep asking
        ("mp4", {"mp4_url": "https://cdn1.suno.ai/a.mp4"}, UpstreamStatus.SUCCEEDED),
        ("mp4", {"status": "error", "message": "video failed"}, UpstreamStatus.FAILED),
        ("midi", {"state": "pending"}, UpstreamStatus.RUNNING),
        ("midi", {"instruments": []}, UpstreamStatus.SUCCEEDED),
        ("timing", {"aligned_words": []}, UpstreamStatus.SUCCEEDED),
        ("timing", {}, UpstreamStatus.UNKNOWN),
    ],
)
def test_suno_sync_conversion_answers_are_read_loosely(
    kind: str, payload: dict[str, Any], status: UpstreamStatus
) -> None:
    assert conversion_update(kind, "c", payload).status is status


def test_suno_sync_a_midi_file_link_is_kept_as_a_file_not_as_data() -> None:
    payload = {"state": "complete", "instruments": [], "midi_url": "https://cdn1.suno.ai/c.mid"}
    done = conversion_update("midi", "c", payload)
    assert [(o.label, o.content_type) for o in done.outputs] == [
        ("midi.mid", "audio/midi"),
        ("midi", "application/json"),
    ]
    assert done.result == {"clip_id": "c", "state": "complete", "instruments": []}  # no upstream link kept


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        ({"id": "p1", "name": "n"}, "p1"),
        ({"code": "success", "message": "", "data": {"id": "p2"}}, "p2"),
        ({"persona_id": "p3"}, "p3"),
        ({"name": "n"}, None),
        ([], None),
    ],
)
def test_suno_sync_persona_id_bare_or_enveloped(payload: Any, found: str | None) -> None:
    assert persona_id(payload) == found


def test_suno_sync_enveloped_conversion_and_refusals_over_http() -> None:
    answers = {
        "/suno/act/wav/c": httpx.Response(
            200, json={"code": "success", "data": {"wav_file_url": "https://x/a.wav"}}
        ),
        "/suno/act/mp4/c": httpx.Response(403, json={"detail": "clip belongs to another account"}),
        "/suno/act/midi/c": httpx.Response(503, json={"detail": "busy"}),
        "/suno/act/timing/c": httpx.Response(200, content=b"<html>"),
    }
    with httpx.Client(transport=httpx.MockTransport(lambda call: answers[call.url.path])) as http:
        channel = Channel("mock", "https://x.test", api_key="k")
        wav = SUNO.poll(http, channel, TaskRef("j", "wav", "c"))
        assert [o.url for o in wav.outputs] == ["https://x/a.wav"]
        mp4 = SUNO.poll(http, channel, TaskRef("j", "mp4", "c"))
        assert (mp4.status, mp4.error_message) == (UpstreamStatus.FAILED, "clip belongs to another account")
        for kind in ("midi", "timing"):
            with pytest.raises(ProviderUnavailableError):
                SUNO.poll(http, channel, TaskRef("j", kind, "c"))
