"""The OpenAI-shaped `/v1/videos` route family, shared by every provider that declares video models
for it (`shape.VideoModels`): create (multipart or JSON, `input_reference` uploads), retrieve, list,
delete and `/content`, with OpenAI's error envelope; the model a create names picks the provider."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatRequest,
    Jobs,
    JobView,
    StoredOutput,
    invalid,
)
from workers.providers.videos.projection import STATUS, variant_label, video_object
from workers.providers.videos.shape import OPENAI_FIELDS, VideoModels, VideoRequest
from workers.providers.videos.uploads import data_uri

PREFERRED_DEFAULT = "veo3-fast"  # what a create without a model has always run
VARIANTS = ("video", "thumbnail", "spritesheet")
REFERENCE = "input_reference"
REQUIRED = ("prompt", "model")  # an empty one is refused, not taken for absent
SORA_SHUTDOWN = "2026-09-24"
MAX_PAGE = 100
# A client that polls without its own interval waits this long between polls (OpenAI's SDK reads it).
POLL_AFTER_MS = "5000"


class Served:
    """The video models on `/v1/videos`, by model id, as the providers declare them."""

    def __init__(self, declared: Mapping[str, VideoModels]) -> None:
        self.by_provider = dict(declared)
        self.by_model = {model: models for models in declared.values() for model in models.models}
        self.provider_of = {model: name for name, models in declared.items() for model in models.models}
        self._spelling = {model.lower(): model for model in self.by_model}
        self.default = PREFERRED_DEFAULT if PREFERRED_DEFAULT in self.by_model else next(iter(self.by_model))

    def models_for(self, model: str, jobs: Jobs) -> tuple[str, VideoModels]:
        """The model as its provider spells it (gateways also write `minimax-hailuo-02`), and its
        provider's declaration. A model whose provider is served only by a channel of its own (Sora)
        is not available without one."""
        spelled = model if model in self.by_model else self._spelling.get(model.lower())
        if spelled is not None:
            models = self.by_model[spelled]
            if models.unserved is None or jobs.has_channel(self.provider_of[spelled]):
                return spelled, models
            raise self._not_available(model, models.unserved, jobs)
        if model.lower().startswith("sora"):
            reason = f"OpenAI shut the Sora 2 video API down on {SORA_SHUTDOWN} and no channel here serves it"
            raise self._not_available(model, reason, jobs)
        raise invalid(
            f"model {model!r} is not served on /v1/videos; choose one of {', '.join(self.available(jobs))}",
            "model",
        )

    def available(self, jobs: Jobs) -> list[str]:
        """The models a create may name now: those served by default, and those a channel serves."""
        return sorted(
            model
            for model, models in self.by_model.items()
            if models.unserved is None or jobs.has_channel(self.provider_of[model])
        )

    def _not_available(self, model: str, reason: str, jobs: Jobs) -> CompatError:
        choices = ", ".join(self.available(jobs))
        return CompatError(
            400,
            "model_not_available",
            f"{model} is not available: {reason}; choose one of {choices}",
            "model",
        )

    def variants(self) -> list[str]:
        """The `/content` variants of the models served without a channel of their own."""
        offered = {
            v for models in self.by_provider.values() if models.unserved is None for v in models.variants
        }
        return [variant for variant in VARIANTS if variant in offered]

    def project(self, job: JobView) -> dict[str, Any]:
        return video_object(job, self.by_provider[job.provider])


ServedHandler = Callable[["Served", CompatRequest, Jobs], CompatAnswer]


def create_video(served: Served, request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = create_fields(request)
    model, models = served.models_for(_text(fields, "model") or served.default, jobs)
    unknown = next((name for name in fields if name not in (*OPENAI_FIELDS, *models.extra_fields)), None)
    if unknown is not None:
        raise invalid(f"unknown parameter: {unknown!r}", unknown)
    prompt = _text(fields, "prompt")
    if not prompt or not prompt.strip():
        raise invalid("prompt is required", "prompt")
    refs = fields["input_reference"]
    if len(refs) > models.max_references or not all(isinstance(ref, str) and ref for ref in refs):
        raise invalid(
            f"{model} takes at most {models.max_references} input_reference images", "input_reference"
        )
    video = VideoRequest(
        prompt=prompt,
        model=model,
        seconds=_text(fields, "seconds") or None,
        size=_text(fields, "size") or None,
        references=tuple(refs),
        callback_url=_text(fields, "callback_url") or None,
        extra={
            name: _from_form(models, name, fields[name]) if request.form is not None else fields[name]
            for name in models.extra_fields
            if fields.get(name) is not None  # JSON's null is a field not sent
        },
    )

    return jobs.create(models.job(video), functools.partial(_created, served))


def _created(served: Served, job: JobView) -> CompatAnswer:
    """A create's answer: the video object (without the gateways' `task_id`), and when to poll it."""
    created = {key: value for key, value in served.project(job).items() if key != "task_id"}
    return CompatAnswer(200, created, {"openai-poll-after-ms": POLL_AFTER_MS})


def get_video(served: Served, request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    job = jobs.get(request.path_params["video_id"])
    video = served.project(job)
    unfinished = video["status"] in {"queued", "in_progress"}
    return CompatAnswer(200, video, {"openai-poll-after-ms": POLL_AFTER_MS} if unfinished else {})


def list_videos(served: Served, request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    limit_text = request.query.get("limit") or "20"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise invalid(f"limit must be a whole number from 1 to {MAX_PAGE}", "limit")
    order = request.query.get("order") or "desc"
    if order not in {"asc", "desc"}:
        raise invalid("order must be 'asc' or 'desc'", "order")
    page = jobs.page(
        after=request.query.get("after") or None, limit=int(limit_text), newest_first=order == "desc"
    )
    data = [served.project(job) for job in page.jobs]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    body = {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": page.has_more}
    return CompatAnswer(200, body)


def delete_video(served: Served, request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    job = jobs.delete_outputs(request.path_params["video_id"])
    return CompatAnswer(200, {"id": job.job_id, "object": "video.deleted", "deleted": True})


def get_video_content(served: Served, request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    video_id = request.path_params["video_id"]
    job = jobs.get(video_id)
    variant = request.query.get("variant") or "video"
    offered = served.by_provider[job.provider].variants
    if variant not in VARIANTS or variant not in offered:
        raise invalid(
            f"variant {variant!r} is not available for {job.model}; it has {', '.join(offered)}", "variant"
        )
    if job.status != JobStatus.SUCCEEDED:
        # OpenAI's protocol names no status for this; the video's state is what conflicts (409).
        status = STATUS[JobStatus(job.status)]
        reason = f": {job.error_message}" if status == "failed" and job.error_message else ""
        raise CompatError(409, "video_not_ready", f"video {video_id} is {status}{reason}")
    label = variant_label(job.outputs, variant)
    if label is None:
        raise CompatError(404, "not_found", f"video {video_id} has no stored {variant}")
    return CompatAnswer(output=StoredOutput(job.job_id, label))


def remix_video(served: Served, request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """A remix of a finished video, as its provider's follow-up job (Sora's). A valid body may still
    ask what the video cannot give, a remix of a model without one or of a video not completed yet:
    that conflicts with the video (409)."""
    parent = jobs.get(request.path_params["video_id"])
    body = request.body if isinstance(request.body, dict) else {}
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt is required", "prompt")
    unknown = next((name for name in body if name not in ("prompt", "callback_url")), None)
    if unknown is not None:
        raise invalid(f"unknown parameter: {unknown!r}", unknown)
    remix = served.by_provider[parent.provider].remix
    if remix is None:
        raise CompatError(
            409, "remix_not_supported", f"{parent.model} cannot remix a video; remix is a Sora feature"
        )
    if parent.status != JobStatus.SUCCEEDED:
        status = STATUS[JobStatus(parent.status)]
        raise CompatError(
            409, "video_not_ready", f"video {parent.job_id} is {status}: only a completed video is remixed"
        )
    job = remix(parent, prompt)
    callback_url = _text(body, "callback_url")
    if callback_url:
        job = JobCreate.model_validate({**job.model_dump(), "callback_url": callback_url})
    return jobs.create(job, functools.partial(_created, served))


# --- reading a create -------------------------------------------------------------------------------


def create_fields(request: CompatRequest) -> dict[str, Any]:
    """The create's fields from a multipart form or a JSON object; `input_reference` as a list."""
    if request.form is None:
        fields = dict(request.body or {})
        refs = fields.get("input_reference")
        refs = [] if refs is None else refs if isinstance(refs, list) else [refs]
        fields["input_reference"] = [_reference(ref) for ref in refs]
        return fields
    # A field sent twice counts once, with its last value; the images, all of them, in order. An
    # object reference comes as bracketed keys (`input_reference[image_url]`), as OpenAI's SDK sends it.
    # An optional field left empty counts as not sent.
    form = {
        name: values[-1]
        for name, values in request.form.items()
        if not name.startswith(REFERENCE) and (values[-1] != "" or name in REQUIRED)
    }
    refs = [item for name, values in request.form.items() if name.startswith(REFERENCE) for item in values]
    return {**form, "input_reference": [data_uri(item) for item in refs]}


def _from_form(models: VideoModels, name: str, value: Any) -> Any:
    """A provider's own field from a form as its job input takes it: `true` or `false` for a boolean."""
    if models.fields.get(name, {}).get("type") == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _reference(ref: Any) -> Any:
    """A JSON reference: a URL or data URI, or OpenAI's object form `{"image_url": ...}`."""
    if isinstance(ref, dict) and set(ref) == {"image_url"}:
        return ref["image_url"]
    return ref


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and name == "seconds":
        return str(value)  # JSON clients send 8 as readily as "8"
    raise invalid(f"{name} must be a string", name)
