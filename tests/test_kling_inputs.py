"""Kling's newer operations without a network: what each input accepts and refuses, how a job's input
becomes Kling's body, and how tolerantly the task object's results are read (their shapes for audio,
avatar and try-on tasks are undocumented)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from workers.providers.base import SubmitRequest, UpstreamStatus
from workers.providers.kling import Kling, creates, wire
from workers.providers.kling.schemas import (
    KlingImage2VideoInput,
    KlingImageInput,
    KlingTask,
    KlingText2VideoInput,
    KlingVirtualTryOnInput,
)
from workers.providers.kling.schemas_audio import KlingTextToAudioInput, KlingVideoToAudioInput
from workers.providers.kling.schemas_video import (
    KlingAvatarInput,
    KlingEffectsInput,
    KlingLipSyncInput,
    KlingMultiImage2VideoInput,
)

IMAGE = "https://example.com/a.png"
PARENT = "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13"


def refused(model: type[BaseModel], fields: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(fields)
    return str(caught.value)


def test_every_example_of_every_operation_is_valid() -> None:
    for operation, model in Kling.operations.items():
        examples = (model.model_config.get("json_schema_extra") or {}).get("examples")  # type: ignore[union-attr]
        assert examples, operation
        for example in examples:
            model.model_validate(example)


def test_multi_image_takes_two_to_four_images() -> None:
    images = [{"image": IMAGE}] * 5
    assert "at least 2" in refused(KlingMultiImage2VideoInput, {"image_list": images[:1]})
    assert "at most 4" in refused(KlingMultiImage2VideoInput, {"image_list": images})
    assert "500" in refused(KlingMultiImage2VideoInput, {"image_list": images[:2], "prompt": "x" * 501})
    ok = KlingMultiImage2VideoInput.model_validate({"image_list": images[:4], "duration": 10})
    assert ok.duration == "10"  # Kling wants the string


def test_a_data_uri_is_sent_as_the_raw_base64_kling_takes() -> None:
    ok = KlingMultiImage2VideoInput.model_validate(
        {"image_list": [{"image": "data:image/png;base64,iVBORw0KGgo="}, {"image": "iVBORw0KGgo="}]}
    )
    assert [item.image for item in ok.image_list] == ["iVBORw0KGgo=", "iVBORw0KGgo="]
    try_on = KlingVirtualTryOnInput.model_validate(
        {"human_image": "data:image/jpeg;base64,/9j/", "cloth_image": IMAGE}
    )
    assert try_on.human_image == "/9j/"


def test_effects_take_one_image_or_two_for_two_person_scenes() -> None:
    assert "two-person scene" in refused(KlingEffectsInput, {"effect_scene": "kiss", "image": IMAGE})
    assert "exactly one" in refused(
        KlingEffectsInput, {"effect_scene": "squish", "image": IMAGE, "images": [IMAGE] * 2}
    )
    assert "exactly one" in refused(KlingEffectsInput, {"effect_scene": "squish"})
    assert "at least 2" in refused(KlingEffectsInput, {"effect_scene": "hug", "images": [IMAGE]})
    assert "pattern" in refused(KlingEffectsInput, {"effect_scene": "Hug me!", "image": IMAGE})
    # Scenes come and go upstream: one not known here passes in either shape, for Kling to judge.
    KlingEffectsInput.model_validate({"effect_scene": "new_scene_2027", "image": IMAGE})
    KlingEffectsInput.model_validate({"effect_scene": "new_duo_2027", "images": [IMAGE, IMAGE]})


def test_an_avatar_speaks_exactly_one_audio() -> None:
    assert "exactly one" in refused(KlingAvatarInput, {"image": IMAGE})
    both = {"image": IMAGE, "audio_id": "a1", "sound_file": "https://example.com/a.mp3"}
    assert "exactly one" in refused(KlingAvatarInput, both)
    KlingAvatarInput.model_validate({"image": IMAGE, "audio_id": "a1", "mode": "pro"})


def test_lip_sync_takes_one_video_and_the_fields_of_its_mode() -> None:
    text = {"mode": "text2video", "text": "hello", "voice_id": "v1"}
    assert "exactly one of parent_job_id" in refused(KlingLipSyncInput, text)
    both = {**text, "parent_job_id": PARENT, "video_url": "https://example.com/v.mp4"}
    assert "exactly one of parent_job_id" in refused(KlingLipSyncInput, both)
    assert "text and voice_id" in refused(KlingLipSyncInput, {"parent_job_id": PARENT, "mode": "text2video"})
    assert "120" in refused(KlingLipSyncInput, {**text, "parent_job_id": PARENT, "text": "x" * 121})
    assert "2" in refused(KlingLipSyncInput, {**text, "parent_job_id": PARENT, "voice_speed": 2.5})
    stray = {**text, "parent_job_id": PARENT, "audio_url": "https://example.com/a.mp3"}
    assert "belong to the other mode" in refused(KlingLipSyncInput, stray)
    audio = {"parent_job_id": PARENT, "mode": "audio2video"}
    assert "exactly one of audio_url" in refused(KlingLipSyncInput, audio)
    mismatched = {**audio, "audio_type": "file", "audio_url": "https://example.com/a.mp3"}
    assert "does not match" in refused(KlingLipSyncInput, mismatched)
    inferred = KlingLipSyncInput.model_validate({**audio, "audio_file": "SUQzBA=="})
    assert inferred.audio_type == "file"  # Kling wants it; it follows from the audio given


def test_audio_inputs_keep_to_klings_bounds() -> None:
    assert "3" in refused(KlingTextToAudioInput, {"prompt": "rain", "duration": 2.9})
    assert "one decimal" in refused(KlingTextToAudioInput, {"prompt": "rain", "duration": 5.25})
    assert "200" in refused(KlingTextToAudioInput, {"prompt": "x" * 201, "duration": 5})
    assert KlingTextToAudioInput.model_validate({"prompt": "rain", "duration": 7.5}).duration == 7.5
    assert "exactly one" in refused(KlingVideoToAudioInput, {"bgm_prompt": "piano"})


def test_text_to_audio_durations_the_schema_lists_are_those_taken() -> None:
    """The tenths from 3.0 to 10.0, each a `const`: exact, where `multipleOf: 0.1` is not with floats."""
    rule = KlingTextToAudioInput.model_json_schema()["properties"]["duration"]["anyOf"]
    listed = [option["const"] for option in rule]
    assert (listed[0], listed[-1]) == (3.0, 10.0)
    assert len(listed) == 71
    for duration in [*listed, 3, 10]:
        KlingTextToAudioInput.model_validate({"prompt": "rain", "duration": duration})
    for duration in (9.726365033821661, 3.05, 10.1):
        assert duration not in listed
        refused(KlingTextToAudioInput, {"prompt": "rain", "duration": duration})


def submit(
    operation: str, fields: dict[str, Any], parent_result: dict[str, Any] | None = None
) -> SubmitRequest:
    return SubmitRequest(
        job_id="job-1",
        operation=operation,
        model="kling-v1-6",
        input=fields,
        callback_url="https://relay.example/callbacks/kling/t",
        parent_external_id="877" if parent_result else None,
        parent_result=parent_result,
    )


def test_bodies_take_klings_shape() -> None:
    parent = {"videos": [{"id": "vid-1", "duration": "5"}]}
    lip = creates.body(
        submit("lip_sync", {"parent_job_id": PARENT, "mode": "text2video", "text": "hi"}, parent)
    )
    assert lip == {
        "input": {"video_id": "vid-1", "mode": "text2video", "text": "hi"},
        "external_task_id": "job-1",
        "callback_url": "https://relay.example/callbacks/kling/t",
    }
    effects = creates.body(
        submit("video_effects", {"effect_scene": "hug", "images": [IMAGE, IMAGE], "mode": "std"})
    )
    assert effects["effect_scene"] == "hug"
    assert effects["input"] == {"model_name": "kling-v1-6", "images": [IMAGE, IMAGE], "mode": "std"}
    extend = creates.body(submit("video_extend", {"parent_job_id": PARENT, "prompt": "on"}, parent))
    assert (extend["video_id"], "model_name" in extend, "parent_job_id" in extend) == ("vid-1", False, False)
    by_url = creates.body(submit("video_to_audio", {"video_url": "https://example.com/v.mp4"}))
    assert "video_id" not in by_url
    assert creates.body(submit("avatar", {"image": IMAGE, "audio_id": "a"})).keys() == {
        "image",
        "audio_id",
        "external_task_id",
        "callback_url",
    }
    assert creates.path("avatar") == "videos/avatar/image2video"
    assert creates.path("virtual_try_on") == "images/kolors-virtual-try-on"


def test_every_follow_up_acts_on_a_video_making_operation() -> None:
    assert set(Kling.parent_operations) == {"video_extend", "lip_sync", "video_to_audio"}
    for follow_up, parents in Kling.parent_operations.items():
        assert parents <= set(Kling.operations), follow_up
        assert "image_generation" not in parents
        assert "text_to_audio" not in parents


def task(result: dict[str, Any], **info: Any) -> KlingTask:
    return KlingTask.model_validate(
        {
            "task_id": "877",
            "task_status": "succeed",
            "task_info": {"external_task_id": "j", **info},
            "task_result": result,
        }
    )


def test_audio_results_are_read_in_every_spelling_seen() -> None:
    update = wire.update_from_task(
        task(
            {
                "audios": [
                    {
                        "id": "a0",
                        "url_mp3": "https://cdn/a.mp3",
                        "url_wav": "https://cdn/a.wav",
                        "duration_mp3": "5.0",
                    },
                    {"mp3_url": "https://cdn/b.mp3", "duration": 4},
                    {"url": "https://cdn/c"},
                ]
            }
        )
    )
    assert update.status is UpstreamStatus.SUCCEEDED
    assert [(o.label, o.content_type, o.url) for o in update.outputs] == [
        ("audio-0.mp3", "audio/mpeg", "https://cdn/a.mp3"),
        ("audio-0.wav", "audio/wav", "https://cdn/a.wav"),
        ("audio-1.mp3", "audio/mpeg", "https://cdn/b.mp3"),
        ("audio-2", None, "https://cdn/c"),
    ]
    assert update.result == {
        "audios": [
            {"id": "a0", "duration": "5.0"},
            {"id": None, "duration": "4"},
            {"id": None, "duration": None},
        ]
    }


def test_video_ids_and_the_extended_video_are_kept_as_the_result() -> None:
    update = wire.update_from_task(
        task(
            {
                "videos": [{"id": "v2", "url": "https://cdn/v2.mp4", "duration": "9.6"}],
                "images": [],
                "extra": 1,
            },
            parent_video={"id": "v1", "duration": "5.1"},  # no url: read as it comes
        )
    )
    assert update.result == {
        "videos": [{"id": "v2", "duration": "9.6"}],
        "parent_video": {"id": "v1", "duration": "5.1"},
    }
    assert wire.update_from_task(task({"images": [{"index": 0, "url": "https://cdn/i.png"}]})).result is None


def test_inputs_take_no_value_of_another_json_type() -> None:
    """The document's types are the rule: a boolean is no number, a number no boolean, text neither."""
    image = "https://example.com/a.png"
    mask = {"mask": image, "trajectories": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]}
    for model, fields in (
        (KlingText2VideoInput, {"prompt": "x", "cfg_scale": False}),
        (KlingText2VideoInput, {"prompt": "x", "cfg_scale": "0.5"}),
        (KlingText2VideoInput, {"prompt": "x", "watermark_info": {"enabled": 0}}),
        (KlingText2VideoInput, {"prompt": "x", "watermark_info": {"enabled": "true"}}),
        (KlingImageInput, {"prompt": "x", "human_fidelity": False}),
        (KlingImageInput, {"prompt": "x", "n": "2"}),
        (
            KlingImage2VideoInput,
            {"image": image, "dynamic_masks": [{**mask, "trajectories": [{"x": False}] * 2}]},
        ),
        (KlingTextToAudioInput, {"prompt": "rain", "duration": "5"}),
    ):
        refused(model, fields)
    assert KlingImageInput.model_validate({"prompt": "x", "n": 2.0, "human_fidelity": 1}).n == 2
    assert KlingImage2VideoInput.model_validate({"image": image, "dynamic_masks": [mask]}).dynamic_masks
