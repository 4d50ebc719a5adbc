"""Suno's operations besides music and lyrics, against the simulator over real HTTP: their inputs and
prices, an upload from a URL, the full song joined from a clip, two- and twelve-track stems, what each
sends on the wire, a follow-up's clip checked against its parent's, and reading loosely shaped answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from orchestrator.cli.demo import example_input
from orchestrator.pricing import load_price_table
from tests.suno_ops import SUNO, auth, clip_ids, follow_up, request, run, song, upstream
from workers.providers.base import Channel, UpstreamStatus
from workers.providers.errors import ProviderRejectedError, SubmitOutcomeUnknownError
from workers.providers.suno.schemas import SunoMusicInput, SunoTask
from workers.providers.suno.schemas_ops import (
    PARENT_OPERATIONS,
    SunoPersonaInput,
    SunoStemsInput,
    SunoUploadInput,
)
from workers.providers.suno.wire import task_from_data, task_id_of, update_from_task
from workers.simulator import Outcome, Simulator

UPLOAD = {"url": "https://cdn.example.com/songs/demo.mp3"}


# --- inputs and prices -----------------------------------------------------------------------------


def test_suno_ops_every_follow_up_names_its_parent_kinds_and_its_example_only_a_parent() -> None:
    operations = SUNO.operations
    assert set(operations) == {"music", "lyrics", "upload", "concat", "stems", "persona"} | {
        "wav",
        "mp4",
        "midi",
        "timing",
    }
    assert set(SUNO.parent_operations) == set(operations) - {"music", "lyrics", "upload"}
    for operation, parents in PARENT_OPERATIONS.items():
        assert parents <= set(operations)
        assert operation not in parents
        sample = example_input(operations[operation])
        assert sample is not None
        # Complete apart from the parent: any real parent of the right kind will do.
        assert sample.pop("parent_job_id")
        assert "clip_id" not in sample
        operations[operation].model_validate({**sample, "parent_job_id": "p"})
    assert "upload" not in PARENT_OPERATIONS["persona"]  # Suno refuses a persona of an uploaded clip


@pytest.mark.parametrize(
    ("model", "fields", "complaint"),
    [
        (SunoUploadInput, {"url": "ftp://example.com/a.mp3"}, "URL scheme"),
        (SunoUploadInput, {"url": "https://x.example/a.mp3", "title": "t"}, "Extra inputs"),
        (SunoStemsInput, {"parent_job_id": "p", "stem_task": "four"}, "'two' or 'twelve'"),
        (SunoStemsInput, {"parent_job_id": "p", "clip_id": ""}, "at least 1 character"),
        (SunoPersonaInput, {"parent_job_id": "p", "name": "  "}, "name must not be blank"),
        (SunoPersonaInput, {"parent_job_id": "p", "name": "n", "clip_id": "a", "clips": ["b"]}, "include"),
        (SunoPersonaInput, {"parent_job_id": "p", "name": "n", "clips": []}, "at least 1 item"),
        (SunoMusicInput, {"prompt": "la", "persona_id": "x"}, "artist_consistency"),
        (SunoMusicInput, {"prompt": "la", "task": "artist_consistency", "persona_id": "x"}, "artist_clip_id"),
        (SunoMusicInput, {"prompt": "la", "task": "gen_stem"}, "artist_consistency"),
    ],
)
def test_suno_ops_inputs_refuse_what_suno_would(
    model: type[Any], fields: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        model.model_validate(fields)


def test_suno_ops_music_with_a_persona_is_a_music_input() -> None:
    sung = SunoMusicInput.model_validate(
        {
            "prompt": "[Verse] la",
            "tags": "pop",
            "task": "artist_consistency",
            "persona_id": "p",
            "artist_clip_id": "c",
        }
    )
    assert (sung.mode, sung.task, sung.persona_id) == ("custom", "artist_consistency", "p")


def test_suno_ops_are_priced_per_operation_and_stem_count() -> None:
    prices = load_price_table(None)

    def quote(operation: str, job_input: dict[str, Any]) -> int:
        model = prices.models("suno", operation)[0]
        return prices.quote("suno", operation, model, job_input, 1_000_000)

    assert quote("upload", UPLOAD) == 20_000
    assert quote("stems", {"parent_job_id": "p", "stem_task": "two"}) == 100_000
    assert quote("stems", {"parent_job_id": "p", "stem_task": "twelve"}) == 300_000
    assert [quote(kind, {"parent_job_id": "p"}) for kind in ("wav", "mp4", "midi", "timing")] == [
        10_000,
        20_000,
        20_000,
        10_000,
    ]
    assert quote("persona", {"parent_job_id": "p", "name": "n"}) == quote("concat", {"parent_job_id": "p"})


# --- upload ----------------------------------------------------------------------------------------


def test_suno_ops_upload_makes_one_clip_with_its_audio(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    seen = run(http, channel, request("upload", UPLOAD))
    done = seen[-1]
    assert done.status is UpstreamStatus.SUCCEEDED
    assert all(update.outputs == () for update in seen[:-1])
    assert [(o.label, o.content_type) for o in done.outputs] == [
        ("clip-0.audio", "audio/mpeg"),
        ("clip-0.image", "image/jpeg"),
    ]
    assert http.get(done.outputs[0].url).raise_for_status().content.startswith(b"ID3")
    assert done.result is not None
    [clip] = done.result["clips"]
    assert (clip["title"], clip["type"], clip["model_name"]) == ("demo", "upload", "chirp-upload")
    assert done.result["refs"] == [clip["clip_id"]]  # how a follow-up on a compatible route finds it


@pytest.mark.parametrize(
    ("fate", "code"), [("fail", "upstream_failed"), ("moderation", "moderation_blocked")]
)
def test_suno_ops_upload_failures(
    simulator: Simulator, simulator_url: str, http: httpx.Client, fate: str, code: str
) -> None:
    channel = upstream(simulator, simulator_url)
    simulator.script("suno", [Outcome(result=fate)])  # type: ignore[arg-type]
    done = run(http, channel, request("upload", UPLOAD))[-1]
    assert (done.status, done.error_code, done.outputs) == (UpstreamStatus.FAILED, code, ())


def test_suno_ops_upload_refused_and_lost_answers(simulator: Simulator, simulator_url: str) -> None:
    channel = upstream(simulator, simulator_url)
    with httpx.Client(timeout=5) as http:
        answer = http.post(
            f"{simulator_url}/suno/uploads/audio-url",
            json={"url": "file:///etc/passwd"},
            headers=auth(simulator),
        )
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_request")
    simulator.configure(read_timeout_rate=1.0, stall_s=20.0)
    with httpx.Client(timeout=0.3) as http, pytest.raises(SubmitOutcomeUnknownError):
        SUNO.submit(http, channel, request("upload", UPLOAD))
    assert simulator.stats()["suno"].creates == 1  # made, never sent again


# --- concat and stems ------------------------------------------------------------------------------


def test_suno_ops_concat_joins_the_named_clip_into_one_song(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    second = clip_ids(parent)[1]
    done = run(http, channel, follow_up("concat", parent, clip_id=second))[-1]
    assert done.status is UpstreamStatus.SUCCEEDED
    assert [o.label for o in done.outputs] == ["clip-0.audio", "clip-0.image", "clip-0.video"]
    assert done.result is not None
    [clip] = done.result["clips"]
    assert (clip["type"], clip["title"]) == ("concat", "Neon Rain")
    assert done.result["task_id"] not in (parent.external_id, None)  # a new task


def test_suno_ops_stems_two_and_twelve_tracks(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    two = run(http, channel, follow_up("stems", parent))[-1]
    assert two.status is UpstreamStatus.SUCCEEDED
    assert two.result is not None
    stems = two.result["clips"]
    assert [stem["title"] for stem in stems] == ["Neon Rain (Vocals)", "Neon Rain (Instrumental)"]
    assert {(s["model_name"], s["type"], s["stem_from_id"]) for s in stems} == {
        ("chirp-stem", "gen_stem", clip_ids(parent)[0])  # the first clip when none is named
    }
    assert [o.label for o in two.outputs] == [
        f"clip-{n}.{kind}" for n in (0, 1) for kind in ("audio", "image")
    ]
    twelve = run(http, channel, follow_up("stems", parent, stem_task="twelve", title="Neon"))[-1]
    assert twelve.result is not None
    assert len(twelve.result["clips"]) == len(twelve.result["refs"]) == 12
    assert twelve.result["clips"][2]["title"] == "Neon (Drums)"


def test_suno_ops_follow_up_on_a_clip_its_parent_lacks_is_refused_before_any_call(
    simulator: Simulator, simulator_url: str, http: httpx.Client
) -> None:
    channel = upstream(simulator, simulator_url)
    parent = song(http, channel)
    attempts = simulator.stats()["suno"].create_attempts
    for operation in ("concat", "stems", "persona", "wav"):
        fields = {"name": "n"} if operation == "persona" else {}
        with pytest.raises(ProviderRejectedError, match="not one of the parent job's clips") as refused:
            SUNO.submit(http, channel, follow_up(operation, parent, clip_id="someone-elses", **fields))
        assert refused.value.code == "invalid_input"
    orphan = follow_up("concat", parent)
    with pytest.raises(ProviderRejectedError, match="no clips"):
        SUNO.submit(http, channel, request("concat", dict(orphan.input)))
    assert simulator.stats()["suno"].create_attempts == attempts


def test_suno_ops_bodies_on_the_wire() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    def upstream(call: httpx.Request) -> httpx.Response:
        sent.append((call.url.path, json.loads(call.content)))
        return httpx.Response(200, json={"code": "success", "message": "", "data": {"task_id": "t-9"}})

    parent_result = {"task_id": "song-1", "clips": [{"clip_id": "c0", "title": "Song"}, {"clip_id": "c1"}]}
    mock = Channel("mock", "https://api.example.test", api_key="sk-mock")
    with httpx.Client(transport=httpx.MockTransport(upstream)) as http:
        for operation, fields in (
            ("upload", UPLOAD),
            ("concat", {"parent_job_id": "p", "clip_id": "c1"}),
            ("stems", {"parent_job_id": "p", "stem_task": "twelve"}),
        ):
            submit = request(operation, fields)
            submit = type(submit)(
                **{**vars(submit), "parent_result": parent_result, "callback_url": "https://h/cb"}
            )
            assert SUNO.submit(http, mock, submit) == "t-9"  # a task id wrapped in an object is read too
    bodies = dict(sent)
    assert bodies["/suno/uploads/audio-url"] == {**UPLOAD, "notify_hook": "https://h/cb"}
    assert bodies["/suno/submit/concat"] == {
        "clip_id": "c1",
        "is_infill": False,
        "notify_hook": "https://h/cb",
    }
    assert bodies["/suno/submit/music"] == {
        "task": "gen_stem",
        "generation_type": "TEXT",
        "title": "Song",
        "mv": "chirp-auk",
        "prompt": "",
        "make_instrumental": True,
        "task_id": "song-1",
        "continue_clip_id": "c0",
        "stem_type_id": 91,
        "stem_type_group_name": "Twelve",
        "stem_task": "twelve",
        "notify_hook": "https://h/cb",
    }


# --- reading loosely shaped answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "task_id"),
    [
        ("t-1", "t-1"),
        ({"task_id": "t-2"}, "t-2"),
        ({"id": "t-3"}, "t-3"),
        ("", None),
        ({}, None),
        (None, None),
    ],
)
def test_suno_ops_task_id_of_a_create(data: Any, task_id: str | None) -> None:
    assert task_id_of(data) == task_id


def test_suno_ops_an_upload_task_with_one_bare_clip_under_another_id_name() -> None:
    clip = {"audio_id": "up-1", "status": "complete", "audio_url": "https://cdn1.suno.ai/up-1.mp3"}
    for task in (SunoTask.model_validate({"task_id": "t", "data": clip}), task_from_data(clip, "t")):
        update = update_from_task(task)
        assert update.status is UpstreamStatus.SUCCEEDED
        assert update.result is not None
        assert (update.result["refs"], [o.label for o in update.outputs]) == (["up-1"], ["clip-0.audio"])
