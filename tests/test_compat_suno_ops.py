"""Suno-compatible routes for clips: uploads, concat and stems as TaskDtos; persona/create and
act/{kind}/{clip_id} answered once their job has ended (a bounded wait) or repeated for the stored
outcome without a second charge; every follow-up finding its parent by Suno's clip id, only among the
tenant's own, and refused in Suno's envelope when it cannot act on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.settings import Settings
from tests.conftest import CREDITS
from tests.factories import Tenant
from tests.services import wait_until
from tests.stack import Stack
from tests.test_compat_suno import CUSTOM, MUSIC, PRICE_V4, account, clips_of, drive, fetch, submit
from workers.simulator import Outcome, Simulator

UPLOAD, CONCAT, PERSONA = "/suno/uploads/audio-url", "/suno/submit/concat", "/suno/persona/create"
AT_ONCE = {"Prefer": "respond-async"}
PRICES = {"upload": 20_000, "concat": 20_000, "stems": 100_000, "persona": 20_000, "timing": 10_000}


def song(api: TestClient, tenant: Tenant, db: Database, settings: Settings) -> tuple[str, list[str]]:
    """A finished song of `tenant`: our task id and Suno's ids of its two clips."""
    task_id = submit(api, tenant, MUSIC, CUSTOM)
    drive(db, settings, task_id)
    return task_id, [clip.id for clip in clips_of(fetch(api, tenant, task_id))]


def job_of(db: Database, job_id: str) -> Job:
    with db.transaction() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        session.expunge(job)
        return job


def jobs_of(db: Database, operation: str) -> int:
    with db.transaction() as session:
        return session.query(Job).filter(Job.operation == operation).count()


def refused(response: Any, field: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["data"]) == ("invalid_request", None)
    message: str = body["message"]
    assert message.startswith(f"{field}:"), message
    return message


def test_compat_suno_ops_upload_concat_and_stems_are_tasks_of_their_parents(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    upload_id = submit(api, tenant, UPLOAD, {"url": "https://cdn.example.com/songs/demo.mp3"})
    drive(db, settings, upload_id)
    uploaded = fetch(api, tenant, upload_id)
    assert (uploaded.action, uploaded.status) == ("MUSIC", "SUCCESS")
    [clip] = clips_of(uploaded)
    assert clip.audio_url is not None
    assert clip.audio_url.startswith(f"{settings.public_base_url}/v1/files/")

    song_id, clips = song(api, tenant, db, settings)
    concat_id = submit(api, tenant, CONCAT, {"clip_id": clips[1], "is_infill": False})
    assert (job_of(db, concat_id).input, job_of(db, concat_id).parent_job_id) == (
        {"parent_job_id": song_id, "clip_id": clips[1], "is_infill": False},
        uuid.UUID(song_id),
    )
    drive(db, settings, concat_id)
    [whole] = clips_of(fetch(api, tenant, concat_id))
    assert whole.metadata is not None
    assert (whole.status, (whole.metadata.model_extra or {})["type"]) == ("complete", "concat")

    # The music route's gen_stem body, as CometAPI documents it, with our task id or Suno's.
    stem_body = {
        "task": "gen_stem",
        "generation_type": "TEXT",
        "title": "Neon Rain",
        "mv": "chirp-auk",
        "prompt": "",
        "make_instrumental": True,
        "task_id": song_id,
        "continue_clip_id": clips[0],
        "stem_type_id": 91,
        "stem_type_group_name": "Two",
        "stem_task": "two",
    }
    stems_id = submit(api, tenant, MUSIC, stem_body)
    drive(db, settings, stems_id)
    stems = clips_of(fetch(api, tenant, stems_id))
    assert [(s.model_name, (s.model_extra or {})["stem_from_id"]) for s in stems] == [
        ("chirp-stem", clips[0])
    ] * 2
    twelve = {**stem_body, "stem_task": None, "stem_type_group_name": "Twelve"}
    twelve_id = submit(api, tenant, MUSIC, {**twelve, "task_id": job_of(db, song_id).external_id})
    assert (job_of(db, twelve_id).input["stem_task"], job_of(db, twelve_id).price) == ("twelve", 300_000)
    refused(api.post(MUSIC, json={**stem_body, "colour": "red"}, headers=tenant.headers), "colour")

    spent = PRICES["upload"] + PRICE_V4 + PRICES["concat"] + PRICES["stems"]
    assert (account(api, tenant)["balance"], account(api, tenant)["held"]) == (100 * CREDITS - spent, 300_000)


def test_compat_suno_ops_follow_ups_refused_for_a_clip_they_cannot_act_on(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    tenant, other = make_tenant(name="mine"), make_tenant(name="other")
    settings = make_settings()
    song_id, clips = song(api, tenant, db, settings)
    upload_id = submit(api, tenant, UPLOAD, {"url": "https://cdn.example.com/a.mp3"})
    drive(db, settings, upload_id)
    [uploaded] = clips_of(fetch(api, tenant, upload_id))
    unfinished_id = submit(api, tenant, MUSIC, CUSTOM)

    assert "no clip" in refused(
        api.post(CONCAT, json={"clip_id": clips[0]}, headers=other.headers), "clip_id"
    )
    assert "no clip" in refused(api.post(CONCAT, json={"clip_id": "nope"}, headers=tenant.headers), "clip_id")
    on_upload = api.post(CONCAT, json={"clip_id": uploaded.id}, headers=tenant.headers)
    assert "concat works on a clip of music; " in refused(on_upload, "clip_id")
    persona_of_upload = api.post(
        PERSONA, json={"root_clip_id": uploaded.id, "name": "n"}, headers=tenant.headers
    )
    assert "is an upload" in refused(persona_of_upload, "root_clip_id")
    strangers = {"root_clip_id": clips[0], "name": "n", "clips": [clips[0], uploaded.id]}
    refused(api.post(PERSONA, json=strangers, headers=tenant.headers), "clips")
    refused(api.post(PERSONA, json={**strangers, "clips": clips[0]}, headers=tenant.headers), "clips")
    assert "no clip" in refused(api.get(f"/suno/act/wav/{clips[0]}", headers=other.headers), "clip_id")
    refused(api.get(f"/suno/act/flac/{clips[0]}", headers=tenant.headers), "kind")
    stems = {"task": "gen_stem", "task_id": unfinished_id, "continue_clip_id": clips[0]}
    assert "has no clip" in refused(api.post(MUSIC, json=stems, headers=tenant.headers), "continue_clip_id")
    foreign = api.post(MUSIC, json={**stems, "task_id": song_id}, headers=other.headers)
    assert "no task" in refused(foreign, "task_id")
    assert "clip_id" in refused(api.post(CONCAT, json={}, headers=tenant.headers), "clip_id")
    assert jobs_of(db, "concat") + jobs_of(db, "persona") + jobs_of(db, "wav") + jobs_of(db, "stems") == 0
    assert account(api, other)["held"] == 0


def test_compat_suno_ops_persona_answered_once_done_and_again_without_a_charge(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    _, clips = song(api, tenant, db, settings)
    body = {
        "root_clip_id": clips[0],
        "name": "Night Singer",
        "description": "",
        "clips": [clips[0]],
        "is_public": True,
    }
    first = api.post(PERSONA, json=body, headers={**tenant.headers, **AT_ONCE})
    assert first.status_code == 202, first.text
    task_id = first.json()["task_id"]
    assert first.json() == {"state": "running", "task_id": task_id}
    again = api.post(PERSONA, json=body, headers={**tenant.headers, **AT_ONCE})
    assert again.json()["task_id"] == task_id  # the same call joins the same job
    assert account(api, tenant)["held"] == PRICES["persona"]

    with ThreadPoolExecutor(1) as pool:  # a caller waiting while the job runs gets the persona at its end
        waiting = pool.submit(api.post, PERSONA, json=body, headers={**tenant.headers, "Prefer": "wait=30"})
        drive(db, settings, task_id)
        answered = waiting.result(timeout=30)
    assert answered.status_code == 200, answered.text
    persona = answered.json()
    assert persona["id"] == job_of(db, task_id).external_id  # Suno's persona id, to generate with
    assert (persona["name"], persona["root_clip_id"], persona["is_public"]) == (
        "Night Singer",
        clips[0],
        True,
    )
    assert persona["persona_clips"] == [{"clip": {"id": clips[0]}}]
    assert api.post(PERSONA, json=body, headers=tenant.headers).json() == persona  # stored, at once
    fetched = api.get(f"/suno/fetch/{task_id}", headers=tenant.headers).json()["data"]
    assert (fetched["action"], fetched["status"], fetched["data"]) == ("PERSONA", "SUCCESS", persona)
    assert jobs_of(db, "persona") == 1
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - PRICE_V4 - PRICES["persona"], 0)

    sung = {**CUSTOM, "task": "artist_consistency", "persona_id": persona["id"], "artist_clip_id": clips[0]}
    sung_id = submit(api, tenant, MUSIC, sung)
    drive(db, settings, sung_id)
    assert fetch(api, tenant, sung_id).status == "SUCCESS"


def test_compat_suno_ops_act_answers_each_conversion_in_sunos_shape(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    _, clips = song(api, tenant, db, settings)
    started = {}
    for kind in ("wav", "mp4", "midi", "timing"):
        answer = api.get(f"/suno/act/{kind}/{clips[1]}", headers={**tenant.headers, **AT_ONCE})
        assert answer.status_code == (200 if kind == "midi" else 202)  # MIDI runs a while upstream too
        assert answer.json()["state"] == "running"
        started[kind] = answer.json()["task_id"]
        drive(db, settings, started[kind])
    answers = {kind: api.get(f"/suno/act/{kind}/{clips[1]}", headers=tenant.headers) for kind in started}
    assert {kind: answer.status_code for kind, answer in answers.items()} == dict.fromkeys(started, 200)
    public = settings.public_base_url
    for kind, name, media in (("wav", "wav_file_url", "wav"), ("mp4", "video_url", "video/mp4")):
        link = answers[kind].json()[name]
        assert link.startswith(f"{public}/v1/files/")
        assert media in api.get(link.removeprefix(public)).headers["content-type"]  # audio/x-wav by its name
    midi = answers["midi"].json()
    assert (midi["state"], [i["name"] for i in midi["instruments"]]) == (
        "complete",
        ["Piano", "Bass", "Drums"],
    )
    timing = answers["timing"].json()
    assert [w["word"] for w in timing["aligned_words"]] == ["Neon", "rain", "on", "the", "avenue"]
    assert {"waveform_data", "hoot_cer", "is_streamed"} <= set(timing)
    fetched = api.get(f"/suno/fetch/{started['timing']}", headers=tenant.headers).json()["data"]
    assert (fetched["action"], fetched["status"], fetched["data"]) == ("TIMING", "SUCCESS", timing)
    assert sum(jobs_of(db, kind) for kind in started) == 4  # asking again made no new job


def test_compat_suno_ops_a_failed_conversion_is_answered_then_tried_anew(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    _, clips = song(api, tenant, db, settings)
    simulator.script("suno", [Outcome(result="moderation")])
    path = f"/suno/act/timing/{clips[0]}"
    first_id = api.get(path, headers={**tenant.headers, **AT_ONCE}).json()["task_id"]
    drive(db, settings, first_id)
    failed = api.get(path, headers={**tenant.headers, "Prefer": "wait=0"})
    assert failed.status_code == 400
    assert (failed.json()["code"], failed.json()["data"]) == ("moderation_blocked", None)
    assert "content policy" in failed.json()["message"]
    assert api.get(path, headers={**tenant.headers, **AT_ONCE}).json() == failed.json()  # still the answer
    with db.transaction() as session:  # a minute on, the same call is a new attempt (a new job)
        session.execute(
            update(Job)
            .where(Job.job_id == uuid.UUID(first_id))
            .values(finished_at=Job.finished_at - timedelta(minutes=2))
        )
    retry = api.get(path, headers={**tenant.headers, **AT_ONCE}).json()["task_id"]
    assert retry != first_id
    drive(db, settings, retry)
    assert api.get(path, headers={**tenant.headers, **AT_ONCE}).status_code == 200
    money = account(api, tenant)
    assert (money["balance"], money["held"]) == (100 * CREDITS - PRICE_V4 - PRICES["timing"], 0)


@pytest.mark.parametrize(
    ("prefer", "seconds"), [("wait=5", 5.0), ("respond-async", 0.0), ("wait=900", 60.0), ("", 20.0)]
)
def test_compat_suno_ops_prefer_bounds_the_wait(prefer: str, seconds: float) -> None:
    from workers.providers.compat import CompatRequest
    from workers.providers.suno.routes_ops import wait_s

    assert wait_s(CompatRequest({}, {}, {"prefer": prefer} if prefer else {})) == seconds


def test_compat_suno_ops_only_a_result_operation_succeeds_without_a_file(
    api: TestClient,
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    from orchestrator.lifecycle import Change, advance
    from orchestrator.pipeline import tracking
    from schemas.jobs import JobStatus
    from tests.factories import create_job
    from workers.providers.base import ProviderUpdate, UpstreamStatus

    settings = make_settings()
    song_id, _ = song(api, tenant, db, settings)
    persona = {
        "operation": "persona",
        "model": "suno_persona",
        "input": {"parent_job_id": song_id, "name": "n"},
    }
    music = {"operation": "music", "model": "chirp-v4", "input": {"prompt": "[Verse] la", "tags": "pop"}}
    cases = [
        (persona, {"persona_id": "p-1", "refs": ["p-1"]}, JobStatus.STORING),  # its id is its outcome
        (persona, None, JobStatus.FAILED),
        (music, {"task_id": "t", "clips": []}, JobStatus.FAILED),  # a song without files is no song
    ]
    for fields, result, expected in cases:
        job_id = create_job(db, tenant, settings, provider="suno", **fields)
        with db.transaction() as session:
            advance(session, job_id, JobStatus.QUEUED, Change(JobStatus.SUBMITTING))
            advance(session, job_id, JobStatus.SUBMITTING, Change(JobStatus.RUNNING))
            report = ProviderUpdate(UpstreamStatus.SUCCEEDED, "done", 100, result=result)
            transition = tracking.apply_update(session, settings, job_id, report)
        assert transition is not None
        assert transition.to_state is expected
        if expected is JobStatus.FAILED:
            assert job_of(db, str(job_id)).error_code == "upstream_no_output"


def test_compat_suno_ops_unified_follow_ups_check_the_parent_and_its_clip(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    song_id, clips = song(api, tenant, db, settings)
    upload_id = submit(api, tenant, UPLOAD, {"url": "https://cdn.example.com/a.mp3"})
    drive(db, settings, upload_id)

    def create(operation: str, job_input: dict[str, Any]) -> Any:
        body = {"provider": "suno", "operation": operation, "model": f"suno_{operation}", "input": job_input}
        return api.post("/v1/jobs", json=body, headers=tenant.headers)

    wrong_kind = create("persona", {"parent_job_id": upload_id, "name": "n"})
    assert wrong_kind.status_code == 422
    assert "acts on a job of concat, music" in wrong_kind.json()["error"]["message"]
    # A clip the parent never reported is refused when the job is sent upstream: failed, at no cost.
    stray = create("timing", {"parent_job_id": song_id, "clip_id": "not-" + clips[0]})
    assert stray.status_code == 202, stray.text
    drive(db, settings, stray.json()["job_id"])
    failed = job_of(db, stray.json()["job_id"])
    assert (failed.state, failed.error_code, failed.charged) == ("failed", "invalid_input", 0)
    assert failed.error_message is not None
    assert "is not one of the parent job's clips" in failed.error_message
    first_clip = create("timing", {"parent_job_id": song_id})  # no clip named: the parent's first
    drive(db, settings, first_clip.json()["job_id"])
    done = job_of(db, first_clip.json()["job_id"])
    assert (done.state, done.result) == ("succeeded", {**(done.result or {}), "clip_id": clips[0]})


@pytest.mark.e2e
def test_e2e_compat_suno_ops_song_stems_and_wav_through_a_real_worker(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    """A CometAPI client's chain: a song, its stems (gen_stem on our task id), the vocal stem as WAV
    answered at once, and a persona of the song answered at once; each stored and charged once."""
    simulator.configure(speed=0.01)
    stack = start_stack()
    headers = tenant.headers

    def finished(task_id: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            task: dict[str, Any] = stack.api.get(f"/suno/fetch/{task_id}", headers=headers).json()["data"]
            return task if task["status"] in ("SUCCESS", "FAILURE") else None

        task: dict[str, Any] = wait_until(ended, timeout=60, interval=0.05, message=f"task {task_id} ends")
        assert task["status"] == "SUCCESS", task["fail_reason"]
        return task

    song_id = stack.api.post(MUSIC, json=CUSTOM, headers=headers).json()["data"]
    song_clips = finished(song_id)["data"]
    stem_body = {
        "task": "gen_stem",
        "task_id": song_id,
        "continue_clip_id": song_clips[0]["id"],
        "stem_task": "two",
    }
    stems_id = stack.api.post(MUSIC, json=stem_body, headers=headers).json()["data"]
    vocals = finished(stems_id)["data"][0]
    assert (vocals["title"], vocals["stem_from_id"]) == ("Neon Rain (Vocals)", song_clips[0]["id"])

    wav = stack.api.get(f"/suno/act/wav/{vocals['id']}", headers=headers, timeout=30)
    assert wav.status_code == 200, wav.text  # the real worker ended the job within the answer's wait
    link = wav.json()["wav_file_url"]
    assert link.startswith(stack.settings.public_base_url)
    assert httpx.get(link).content.startswith(b"RIFF")
    again = stack.api.get(f"/suno/act/wav/{vocals['id']}", headers=headers, timeout=30)
    assert again.status_code == 200
    persona = stack.api.post(
        PERSONA, json={"root_clip_id": song_clips[1]["id"], "name": "Neon Voice"}, headers=headers, timeout=30
    )
    assert persona.status_code == 200, persona.text
    assert (persona.json()["name"], persona.json()["root_clip_id"]) == ("Neon Voice", song_clips[1]["id"])
    for clip in (*song_clips, vocals):
        assert httpx.get(clip["audio_url"]).content.startswith(b"ID3")

    spent = PRICE_V4 + PRICES["stems"] + 10_000 + PRICES["persona"]  # the second WAV call: no charge
    money = stack.api.get("/v1/account", headers=headers).json()
    assert (money["balance"], money["held"]) == (100 * CREDITS - spent, 0)
