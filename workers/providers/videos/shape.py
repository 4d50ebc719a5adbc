"""The seam of the shared OpenAI-shaped `/v1/videos` routes: what a provider declares to serve its
video models there — which model ids, how a create becomes its unified job, how its job reads as a
video object — so that one route family serves every video model an operator routes this way."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.jobs import JobCreate
from workers.providers.compat import JobView, invalid

# The fields OpenAI's create takes (plus genrelay's `callback_url`); a provider names its own extras.
OPENAI_FIELDS = ("prompt", "model", "seconds", "size", "input_reference", "callback_url")


@dataclass(frozen=True)
class VideoRequest:
    """A create as the client sent it, from JSON or multipart: `references` are the
    `input_reference` images as data URIs or URLs, in order; `extra` the provider's own fields."""

    prompt: str
    model: str
    seconds: str | None
    size: str | None
    references: tuple[str, ...]
    callback_url: str | None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoModels:
    """A provider's models on `/v1/videos`.

    `job` builds the unified job a create asks for (raising `CompatError` for what the client got
    wrong); `seconds` and `size` read a job back in the video object's words. `params` maps a
    unified input field to the create field a client sent it as (an error's `param`), `extra_fields`
    are create fields beyond OpenAI's that `job` reads, and `variants` the `/content` variants its
    stored outputs include (by label prefix). `remix` builds the follow-up job that remixes a finished
    video of these models with a prompt (None: they cannot be remixed). `unserved` says why the models
    are not available unless an operator's channel file names a channel of their provider (None: the
    default channel serves them)."""

    models: tuple[str, ...]
    job: Callable[[VideoRequest], JobCreate]
    seconds: Callable[[JobView], str]
    size: Callable[[JobView], str]
    params: Mapping[str, str | None] = field(default_factory=dict)
    words: tuple[tuple[str, str], ...] = ()  # unified input words in a client's, for messages
    extra_fields: tuple[str, ...] = ()
    max_references: int = 2
    variants: tuple[str, ...] = ("video",)
    remix: Callable[[JobView, str], JobCreate] | None = None
    unserved: str | None = None
    # For the API document: the JSON schema of each create field as these models take it (`seconds`,
    # `size`, `prompt`, the extra fields; one not named is documented as any string), and rules across
    # fields (JSON schema keywords, e.g. an `if`/`then`) a create of these models must follow.
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rules: Mapping[str, Any] = field(default_factory=dict)
    # A field as a multipart form writes it, where that differs from its JSON schema in `fields`
    # (a boolean or a number is text in a form).
    form_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def unified_job(
    provider: str, operation: str, request: VideoRequest, job_input: Mapping[str, Any]
) -> JobCreate:
    """The unified job for a create, its envelope checked here (the input is checked at intake)."""
    try:
        return JobCreate(
            provider=provider,
            operation=operation,
            model=request.model,
            input=dict(job_input),
            callback_url=request.callback_url,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise invalid(f"{field}: {error['msg']}", field) from None


_DIMENSIONS = re.compile(r"^(\d{2,5})[x*](\d{2,5})$")


def aspect_of(size: str) -> str | None:
    """`16:9`, `9:16` or `1:1` for a size written as a ratio or as width x height (`1280x720`)."""
    if size in {"16:9", "9:16", "1:1"}:
        return size
    found = _DIMENSIONS.match(size)
    if found is None:
        return None
    width, height = int(found[1]), int(found[2])
    return "16:9" if width > height else "9:16" if width < height else "1:1"
